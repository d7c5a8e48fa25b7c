package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/loader"
)

// demoStateSO is plugins/demo_state.c, built like demoSO.
//
//go:generate go run ./demo/gen.go -src demo_state.c -o demo/demo_state.so
//go:embed demo/demo_state.so
var demoStateSO []byte

// demoReload writes the demo's reload step to w: a live plugin whose
// persistent state survives a reload while its ordinary data starts
// afresh. ctx bounds every step (the demo's --timeout): the load, the
// calls, the reload and the closes. Any step that does not behave as shown
// is an error.
func demoReload(ctx context.Context, w io.Writer, logger hclog.Logger) error {
	dir, err := os.MkdirTemp("", "runplug-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "demo_state.so")
	install := func() error {
		tmp := path + ".new"
		if err := os.WriteFile(tmp, demoStateSO, 0o755); err != nil {
			return err
		}
		return os.Rename(tmp, path) // as a build system installs a file
	}
	if err := install(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nhot reload with persistent state: plugins/demo_state.c, loaded live from %s\n", path)
	l := loader.New(loader.Options{Logger: logger})
	defer l.Close(ctx)
	var swap time.Duration
	lv, err := l.LoadLive(ctx, path, loader.LiveOptions{OnReload: func(e loader.ReloadEvent) { swap = e.Swap }})
	if err != nil {
		return err
	}
	defer lv.Close(ctx)
	f, err := lv.Func("demo_visit")
	if err != nil {
		return err
	}
	visit, err := loader.Bind0[int64](f)
	if err != nil {
		return err
	}
	f, err = lv.Func("demo_visits_here")
	if err != nil {
		return err
	}
	here, err := loader.Bind0[int64](f)
	if err != nil {
		return err
	}
	check := func(what string, want int64, f func(context.Context) (int64, error)) (int64, error) {
		got, err := f(ctx)
		if err == nil && got != want {
			err = fmt.Errorf("%s = %d, want %d", what, got, want)
		}
		return got, err
	}
	for i := int64(1); i <= 3; i++ {
		if _, err := check("demo_visit()", i, visit); err != nil {
			return err
		}
	}
	info, _ := lv.State()
	fmt.Fprintf(w, "  demo_visit() x3          = 1, 2, 3   (state region: %d bytes at %#x, version %d, an anonymous memfd)\n", info.TypeSize, info.Addr, info.Version)
	if err := install(); err != nil {
		return err
	}
	if err := lv.Reload(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "  file replaced, Reload    -> generation %d serving after %v; the old version drained and closed\n", lv.Generation(), swap.Round(time.Microsecond))
	n, err := check("demo_visit() after the reload", 4, visit)
	if err != nil {
		return err
	}
	h, err := check("demo_visits_here()", 1, here)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  demo_visit()             = %d         (the state region carried over)\n", n)
	fmt.Fprintf(w, "  demo_visits_here()       = %d         (its .bss counter started afresh)\n", h)
	return nil
}
