package plugintest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRustc writes a rustc that prints libdir for --print target-libdir.
func fakeRustc(t *testing.T, libdir string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rustc")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho "+libdir+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// The rule that picks the rustc for arm64 plugins (the package doc):
// $RUSTC_ARM64, else /usr/bin/rustc, checked for an aarch64 standard
// library, and called with the target and the C compiler as linker; a
// missing one is ErrNoCompiler (a skip naming the packages, a failure
// under RUNPLUG_REQUIRE_ALL=1).
func TestRustCommandRule(t *testing.T) {
	withStd := t.TempDir()
	if err := os.WriteFile(filepath.Join(withStd, "libstd-0123.rlib"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	good := fakeRustc(t, withStd)
	for _, c := range []struct {
		name, goarch, env string
		wantRustc         string
		wantErr           error
		errHas            string
	}{
		{"arm64 from RUSTC_ARM64", "arm64", good, good, nil, ""},
		{"arm64 rustc missing", "arm64", "/nonexistent/rustc", "", ErrNoCompiler, "/nonexistent/rustc"},
		{"arm64 without std", "arm64", fakeRustc(t, t.TempDir()), "", ErrNoCompiler, "no standard library for aarch64-unknown-linux-gnu"},
		{"no rule for riscv64", "riscv64", good, "", errRustNotPorted, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("RUSTC_ARM64", c.env)
			rustc, pre, err := rustCommandFor(c.goarch)
			if !errors.Is(err, c.wantErr) || (err != nil && !strings.Contains(err.Error(), c.errHas)) {
				t.Fatalf("error %v, want %v containing %q", err, c.wantErr, c.errHas)
			}
			if err != nil {
				return
			}
			if rustc != c.wantRustc {
				t.Errorf("rustc %s, want %s", rustc, c.wantRustc)
			}
			if len(pre) != 4 || pre[0] != "--target" || pre[1] != "aarch64-unknown-linux-gnu" || pre[2] != "-C" || !strings.HasPrefix(pre[3], "linker=") {
				t.Errorf("arguments %q, want --target aarch64-unknown-linux-gnu -C linker=CC", pre)
			}
		})
	}
	// Without $RUSTC_ARM64 the rule names Debian's rustc.
	t.Setenv("RUSTC_ARM64", "")
	rustc, _, err := rustCommandFor("arm64")
	if err == nil && rustc != "/usr/bin/rustc" || err != nil && !strings.Contains(err.Error(), "/usr/bin/rustc") {
		t.Errorf("without RUSTC_ARM64: %s, %v; want /usr/bin/rustc", rustc, err)
	}
}
