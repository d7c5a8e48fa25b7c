//go:build linux && amd64 && cgo

package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/runplug/runplug/sandbox"
)

// sum6 adds its six register arguments; sum8 adds two stack words too.
var (
	sum6 = []byte{
		0x48, 0x8d, 0x04, 0x37, // lea rax, [rdi+rsi]
		0x48, 0x01, 0xd0, // add rax, rdx
		0x48, 0x01, 0xc8, // add rax, rcx
		0x4c, 0x01, 0xc0, // add rax, r8
		0x4c, 0x01, 0xc8, // add rax, r9
		0xc3, // ret
	}
	sum8 = append(append([]byte{}, sum6[:len(sum6)-1]...),
		0x48, 0x03, 0x44, 0x24, 0x08, // add rax, [rsp+8]
		0x48, 0x03, 0x44, 0x24, 0x10, // add rax, [rsp+16]
		0xc3) // ret
)

func TestCall(t *testing.T) {
	s6, s8 := code(sum6...), code(sum8...)
	tests := []struct {
		name string
		fn   uintptr
		args []uint64
		want uint64
	}{
		{"none", s6, nil, 0},
		{"one", s6, []uint64{7}, 7},
		{"six", s6, []uint64{1, 2, 3, 4, 5, 6}, 21},
		{"negative", s6, []uint64{1<<64 - 5, 3}, 1<<64 - 2},
		{"stack", s8, []uint64{1, 2, 3, 4, 5, 6, 100, 1000}, 1121},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sandbox.Call(context.Background(), tc.fn, tc.args...)
			if err != nil || got != tc.want {
				t.Errorf("Call(%v) = %d, %v; want %d", tc.args, got, err, tc.want)
			}
		})
	}
}

func TestCallErrors(t *testing.T) {
	ud2 := code(0x0f, 0x0b)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		fn     uintptr
		nargs  int
		signal syscall.Signal // a *FaultError with this signal
		is     error          // or an error matching this
		text   string         // and naming this
	}{
		{"null", context.Background(), 0, 0, syscall.SIGSEGV, nil, "not mapped"},
		{"ud2", context.Background(), ud2, 0, syscall.SIGILL, nil, ""},
		{"canceled", canceled, code(sum6...), 0, 0, sandbox.ErrDeadline, "before it started"},
		{"nil context", nil, code(sum6...), 0, 0, nil, "nil context"},
		{"too many", context.Background(), code(sum6...), 6 + 1<<13 + 1, 0, nil, "arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sandbox.Call(tc.ctx, tc.fn, make([]uint64, tc.nargs)...)
			if err == nil {
				t.Fatal("no error")
			}
			var fe *sandbox.FaultError
			if tc.signal != 0 && (!errors.As(err, &fe) || fe.Signal != tc.signal) {
				t.Errorf("err = %v, want a %v *FaultError", err, tc.signal)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want one matching %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %v, want it to name %q", err, tc.text)
			}
		})
	}
}
