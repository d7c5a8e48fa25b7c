package loader_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/runplug/runplug/loader"
)

// Keep a plugin live, call it through a binding, replace its file with a
// new build and reload: the binding reaches the new code, and the
// plugin's RUNPLUG_STATE counter carries over.
func ExampleLoader_LoadLive() {
	a, errA := buildPlugin("live_a")
	b, errB := buildPlugin("live_b")
	if errA != nil || errB != nil {
		fmt.Println(errA, errB)
		return
	}
	dir, err := os.MkdirTemp("", "runplug-live-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "plugin.so")
	install := func(src string) error { // as a build would: write beside, rename over
		data, err := os.ReadFile(src)
		if err == nil {
			err = os.WriteFile(path+".new", data, 0o755)
		}
		if err == nil {
			err = os.Rename(path+".new", path)
		}
		return err
	}
	if err := install(a); err != nil {
		fmt.Println(err)
		return
	}

	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	ctx := context.Background()
	lv, err := l.LoadLive(ctx, path, loader.LiveOptions{StateFile: filepath.Join(dir, "plugin.state")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lv.Close(context.Background())
	call, err := loader.LiveBind1[int64, int64](lv, "live_call")
	if err != nil {
		fmt.Println(err)
		return
	}
	calls, err := loader.LiveBind0[int64](lv, "live_calls")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, _ := call(1)
	fmt.Printf("build %x\n", r>>32)

	if err := install(b); err != nil {
		fmt.Println(err)
		return
	}
	if err := lv.Reload(ctx); err != nil {
		fmt.Println(err)
		return
	}
	r, _ = call(2)
	n, _ := calls()
	fmt.Printf("build %x, generation %d, %d calls counted\n", r>>32, lv.Generation(), n)
	// Output:
	// build a
	// build b, generation 2, 2 calls counted
}
