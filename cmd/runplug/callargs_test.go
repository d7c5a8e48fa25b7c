package main

import (
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseCallArgs(t *testing.T) {
	tests := []struct {
		args    []string
		want    callArgs
		wantErr string
	}{
		{args: nil, want: callArgs{}},
		{args: []string{"0", "42", "-5", "0x1f", "0XFF", "18446744073709551615", "-9223372036854775808"}, wantErr: "more than 6"},
		{args: []string{"42", "-5", "0x1f", "18446744073709551615", "-9223372036854775808", "-0x10"},
			want: callArgs{Int: []uint64{42, math.MaxUint64 - 4, 31, math.MaxUint64, 1 << 63, math.MaxUint64 - 15}}},
		{args: []string{"d:1.5", "7", "d:-2e3", "s:hello"},
			want: callArgs{Int: []uint64{7, 0}, Float: []float64{1.5, -2000}, Texts: []string{"hello"}, StrSlot: []int{1}}},
		{args: []string{"s:", "s:a b"},
			want: callArgs{Int: []uint64{0, 0}, Texts: []string{"", "a b"}, StrSlot: []int{0, 1}}},
		{args: []string{"d:1", "d:2", "d:3", "d:4", "d:5", "d:6", "d:7", "d:8"},
			want: callArgs{Float: []float64{1, 2, 3, 4, 5, 6, 7, 8}}},
		{args: []string{"d:1", "d:2", "d:3", "d:4", "d:5", "d:6", "d:7", "d:8", "d:9"}, wantErr: "more than 8"},
		{args: []string{"s:1", "s:2", "s:3", "s:4", "s:5", "s:6", "s:7"}, wantErr: "more than 6"},
		{args: []string{"12abc"}, wantErr: "not a 64-bit integer"},
		{args: []string{"018446744073709551616"}, wantErr: "not a 64-bit integer"},
		{args: []string{"-9223372036854775809"}, wantErr: "below -2^63"},
		{args: []string{"--5"}, wantErr: "not an integer"},
		{args: []string{"0x"}, wantErr: "not an integer"},
		{args: []string{"-"}, wantErr: "not an integer"},
		{args: []string{"1_000"}, wantErr: "not an integer"},
		{args: []string{"d:x"}, wantErr: "not a double"},
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
	if _, err := formatResult("float", 0, 0); err == nil {
		t.Error("unknown kind accepted")
	}
}
