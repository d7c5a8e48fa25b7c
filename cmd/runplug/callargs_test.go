package main

import (
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func ints(vs ...uint64) []callArg {
	out := make([]callArg, len(vs))
	for i, v := range vs {
		out[i] = callArg{Kind: 'i', Int: v}
	}
	return out
}

func TestParseCallArgs(t *testing.T) {
	tests := []struct {
		args    []string
		want    callArgs
		wantErr string
	}{
		{args: nil, want: callArgs{NFixed: -1}},
		{args: []string{"42", "-5", "0x1f", "18446744073709551615", "-9223372036854775808", "-0x10", "0XFF"},
			want: callArgs{Args: ints(42, math.MaxUint64-4, 31, math.MaxUint64, 1<<63, math.MaxUint64-15, 255), NFixed: -1}},
		{args: []string{"d:1.5", "7", "f:-2e3", "s:hello"},
			want: callArgs{Args: []callArg{{Kind: 'd', Float: 1.5}, {Kind: 'i', Int: 7}, {Kind: 'f', Float: -2000}, {Kind: 's', Text: "hello"}}, NFixed: -1}},
		{args: []string{"s:", "s:a b"},
			want: callArgs{Args: []callArg{{Kind: 's'}, {Kind: 's', Text: "a b"}}, NFixed: -1}},
		{args: []string{"s:%d %f", "...", "1", "d:2"},
			want: callArgs{Args: []callArg{{Kind: 's', Text: "%d %f"}, {Kind: 'i', Int: 1}, {Kind: 'd', Float: 2}}, NFixed: 1}},
		{args: []string{"..."}, want: callArgs{NFixed: 0}},
		{args: []string{"1", "...", "2", "..."}, wantErr: "a second"},
		{args: []string{"12abc"}, wantErr: "not a 64-bit integer"},
		{args: []string{"018446744073709551616"}, wantErr: "not a 64-bit integer"},
		{args: []string{"-9223372036854775809"}, wantErr: "below -2^63"},
		{args: []string{"--5"}, wantErr: "not an integer"},
		{args: []string{"0x"}, wantErr: "not an integer"},
		{args: []string{"-"}, wantErr: "not an integer"},
		{args: []string{"1_000"}, wantErr: "not an integer"},
		{args: []string{"d:x"}, wantErr: "not a double"},
		{args: []string{"f:1e99"}, wantErr: "not a float"},
		{args: []string{"x:1"}, wantErr: "want an integer"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := parseCallArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

// TestCallArgsSignature checks the C signature a call's ARGs make: 64-bit
// integers, doubles, floats and pointers, variadic from the marker on.
func TestCallArgsSignature(t *testing.T) {
	ca, err := parseCallArgs([]string{"s:x", "f:1.5", "...", "2", "d:3"})
	if err != nil {
		t.Fatal(err)
	}
	sig, vals, err := ca.signature("double", []uint64{0x1000})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sig.String(), "double (void *, float, ... int64_t, double)"; got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	if !reflect.DeepEqual(vals, []any{uintptr(0x1000), float32(1.5), uint64(2), 3.0}) {
		t.Errorf("values %v", vals)
	}
}

func TestFormatResult(t *testing.T) {
	cs, addrs, err := newCStrings([]string{"zlib 1.2.13", ""})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.free()
	tests := []struct {
		kind string
		ri   uint64
		rf   float64
		want string
	}{
		{"int", math.MaxUint64, 0, "-1"},
		{"uint", math.MaxUint64, 0, "18446744073709551615"},
		{"uint", 907060870, 0, "907060870"},
		{"hex", 255, 0, "0xff"},
		{"double", 0, 2.5, "2.5"},
		{"double", 0, math.Inf(-1), "-Inf"},
		{"double", 0, 1e300, "1e+300"},
		{"str", 0, 0, "(null)"},
		{"str", addrs[0], 0, "zlib 1.2.13"},
		{"str", addrs[1], 0, ""},
		{"void", 1234, 5, ""},
	}
	for _, tt := range tests {
		got, err := formatResult(tt.kind, tt.ri, tt.rf)
		if err != nil || got != tt.want {
			t.Errorf("formatResult(%s, %#x, %v) = %q, %v; want %q", tt.kind, tt.ri, tt.rf, got, err, tt.want)
		}
	}
	// Wild pointers are errors, not crashes: one in the zero page, one
	// past the user address space, and one to memory just unmapped.
	page, err := unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	page[0] = 'x'
	gone := addrOf(page)
	if err := unix.Munmap(page); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []uint64{8, 1 << 63, gone} {
		if got, err := formatResult("str", addr, 0); err == nil {
			t.Errorf("str at %#x = %q, want an error", addr, got)
		}
	}
	if got, err := formatResult("float", 0, float64(float32(0.1))); err != nil || got != "0.1" {
		t.Errorf("float 0.1 = %q, %v", got, err)
	}
	if _, err := formatResult("quad", 0, 0); err == nil {
		t.Error("unknown kind accepted")
	}
}
