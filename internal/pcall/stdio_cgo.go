//go:build linux && (amd64 || arm64) && cgo

package pcall

/*
#include <stdio.h>

static void rp_flush_stdio(void) { fflush(NULL); }
*/
import "C"

// FlushCStdio flushes the output buffers of the C library's stdio streams
// in this process (fflush(NULL)): what a plugin printed and the library
// still holds, which a Go program's exit would lose (it runs no C exit
// handlers). Package isolate's child calls it before it exits.
func FlushCStdio() { C.rp_flush_stdio() }
