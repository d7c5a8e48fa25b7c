// Command hotreload is the example host of runplug's hot reload: it keeps
// a plugin live, reloads it whenever its file changes (inotify, debounced)
// while calls go on, and keeps the plugin's RUNPLUG_STATE in a state file,
// so the plugin's count survives reloads and runs of the program.
//
// Usage:
//
//	hotreload PLUGIN.so STATEFILE
//
// Each line read on standard input calls the plugin's greet() and prints
// its answer; each reload prints "reloaded: generation N" or "reload
// failed: ERROR" (the previous build keeps serving). End of input ends it.
// Try it with plugin/greeter.c: rebuild it with another GREETING while the
// program runs.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/runplug/runplug/loader"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: hotreload PLUGIN.so STATEFILE")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hotreload:", err)
		os.Exit(1)
	}
}

// run serves in line by line until it ends: see the package doc.
func run(plugin, state string, in io.Reader, out io.Writer) error {
	ctx := context.Background()
	var mu sync.Mutex // the reload events and the answers share out
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	lv, err := l.LoadLive(ctx, plugin, loader.LiveOptions{
		StateFile: state,
		Watch:     true,
		Debounce:  50 * time.Millisecond,
		OnReload: func(e loader.ReloadEvent) {
			if e.Err != nil {
				say("reload failed: %v", e.Err)
				return
			}
			say("reloaded: generation %d", e.Generation)
		},
	})
	if err != nil {
		return err
	}
	defer lv.Close(ctx)
	f, err := lv.Func("greet")
	if err != nil {
		return err
	}
	greet, err := loader.Bind0[uintptr](f)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		p, err := greet(ctx)
		if err != nil {
			return err
		}
		s, err := lv.Plugin().ReadString(p, -1) // the greeting is in the serving version
		if err != nil {
			return err
		}
		say("%s", s)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return lv.SyncState(ctx)
}
