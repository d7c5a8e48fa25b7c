package main

import (
	"fmt"
	"io"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/loader"
)

// The built-in host functions of `runplug call`, declared for plugin
// authors in plugins/runplug.h, so that a plugin that logs through its
// host can be tried from the command line.

// Log levels of runplug_log (RUNPLUG_LOG_* in runplug.h).
var logLevelNames = []string{"DEBUG", "INFO", "WARN", "ERROR"}

// builtinHostFuncs returns the built-in host functions by C name; log
// lines go to w.
func builtinHostFuncs(w io.Writer) map[string]any {
	var mu sync.Mutex
	return map[string]any{
		// void runplug_log(int32_t level, const char *msg)
		"runplug_log": func(level int32, msg string) {
			name := fmt.Sprintf("LEVEL%d", level)
			if level >= 0 && int(level) < len(logLevelNames) {
				name = logLevelNames[level]
			}
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(w, "plugin: %s: %s\n", name, oneLine(msg))
		},
		// int64_t runplug_now_ns(void)
		"runplug_now_ns": func() int64 {
			var ts unix.Timespec
			if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
				return -1
			}
			return ts.Nano()
		},
	}
}

// registerBuiltins registers the built-in host functions with l.
func registerBuiltins(l *loader.Loader, w io.Writer) error {
	for name, fn := range builtinHostFuncs(w) {
		// Loader.Close releases the registrations.
		if _, err := l.RegisterHostFunc(name, fn); err != nil {
			return err
		}
	}
	return nil
}
