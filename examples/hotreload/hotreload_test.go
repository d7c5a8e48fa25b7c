package main

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
)

// TestHotReload runs the example host on a pipe: it greets with build 1,
// reloads by itself when build 2 is renamed over the plugin file, greets
// with build 2 and the count carried over; a second run continues the
// count from the state file.
func TestHotReload(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	for _, f := range []string{filepath.Join("plugin", "greeter.c"), filepath.Join(plugintest.Dir(), "runplug.h")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(src, filepath.Base(f)), b, 0o644)
	}
	build := func(greeting string) string {
		c := filepath.Join(src, "greeter.c")
		b, _ := os.ReadFile(c)
		os.WriteFile(c, []byte(strings.Replace(string(b), `#define GREETING "hello"`, `#define GREETING "`+greeting+`"`, 1)), 0o644)
		out := filepath.Join(dir, greeting)
		os.MkdirAll(out, 0o755)
		return plugintest.BuildSource(t, c, out)
	}
	v1, v2 := build("hello"), build("bonjour")
	plugin, state := filepath.Join(dir, "greeter.so"), filepath.Join(dir, "greeter.state")
	install := func(so string) {
		b, err := os.ReadFile(so)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(plugin+".new", b, 0o755)
		if err := os.Rename(plugin+".new", plugin); err != nil {
			t.Fatal(err)
		}
	}
	install(v1)

	session := func(steps func(send func(), expect func(string))) {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() { done <- run(plugin, state, inR, outW); outW.Close() }()
		lines := bufio.NewScanner(outR)
		send := func() { inW.Write([]byte("\n")) }
		expect := func(want string) {
			t.Helper()
			if !lines.Scan() {
				t.Fatalf("output ended, want %q (run: %v)", want, <-done)
			}
			if got := lines.Text(); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
		steps(send, expect)
		inW.Close()
		for lines.Scan() {
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	session(func(send func(), expect func(string)) {
		send()
		expect("hello #1")
		install(v2) // the watcher reloads
		expect("reloaded: generation 2")
		send()
		expect("bonjour #2")
	})
	session(func(send func(), expect func(string)) {
		send()
		expect("bonjour #3") // the count came from the state file
	})
}
