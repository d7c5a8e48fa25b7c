package main

import (
	"errors"
	"io"
)

// runCall is `runplug call`. It needs runplug's loader, which has not
// landed yet: until then it says so and fails rather than pretend.
func runCall(args []string, stdout, stderr io.Writer) int {
	fs, level := newFlagSet("call")
	if _, err := parseFlags(fs, level, args, stdout, stderr); err != nil {
		return flagExit(err)
	}
	if fs.NArg() < 2 {
		return usageError(stderr, "call", "want FILE SYMBOL [ARG...]")
	}
	return fail(stderr, errors.New("call: not implemented yet (runplug's loader has not landed)"))
}
