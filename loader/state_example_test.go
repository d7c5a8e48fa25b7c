//go:build linux && amd64

// The example runs an isolated plugin: amd64 only, since the arm64 job
// runs under qemu-user, which has no seccomp or user namespaces, and an
// example cannot skip.

package loader_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// Read an isolated plugin's persistent state without a call: the host
// maps the same pages of the state file as the plugin's child process.
func ExamplePlugin_ReadState() {
	path, err := buildPlugin("state_counter")
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "runplug-state-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{})})
	defer l.Close(ctx)
	p, err := l.LoadWith(ctx, path, loader.LoadOptions{StateFile: filepath.Join(dir, "counter.state")})
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := p.Func("counter_bump")
	if err != nil {
		fmt.Println(err)
		return
	}
	bump, err := loader.Bind0[int64](f)
	if err != nil {
		fmt.Println(err)
		return
	}
	bump(ctx)
	bump(ctx)
	var calls [8]byte // struct counter's first field, uint64_t calls
	if err := p.ReadState(0, calls[:]); err != nil {
		fmt.Println(err)
		return
	}
	info, _ := p.State()
	fmt.Printf("%d calls counted, layout %d (%d bytes), isolated %v\n", binary.LittleEndian.Uint64(calls[:]), info.Version, info.TypeSize, p.Isolated())
	// Output: 2 calls counted, layout 1 (16 bytes), isolated true
}
