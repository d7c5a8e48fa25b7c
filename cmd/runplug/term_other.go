//go:build !linux

package main

import "os"

// isTerminal is false off Linux: check's progress count is for Linux
// terminals, where the command runs plugins.
func isTerminal(*os.File) bool { return false }
