package loader

import (
	"testing"
)

// AArch64's traditional dynamic model (-mtls-dialect=trad: a call to
// __tls_get_addr with the GOT pair that R_AARCH64_TLS_DTPMOD64 and
// TLS_DTPREL64 fill) reaches runplug's __tls_get_addr, with a block per
// thread initialised from the template.
func TestTLSTraditionalDialect(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "tls_trad")
	if _, ok := p.obj.tls.StaticOffset(); ok {
		t.Error("tls_trad's module is in static TLS; want dynamic")
	}
	release := make(chan struct{})
	defer close(release)
	for i := 0; i < 2; i++ {
		onThread(t, release, func() {
			if got := callErr(t, p, "tt_get"); got != 7 {
				t.Errorf("thread %d: tt_get = %d, want the template's 7", i, got)
			}
			for k := uint64(1); k <= 3; k++ {
				if got := callErr(t, p, "tt_bump"); got != 5+k {
					t.Errorf("thread %d: bump %d = %d, want %d (a block of its own)", i, k, got, 5+k)
				}
			}
		})
	}
}

// A TLS descriptor call in plugin code keeps every register but x0 and
// x30, on a thread's first access (the dynamic resolver's slow path
// allocates the block) and after; on another thread too. (internal/tlsrt
// TestTLSDescriptorRegisters also overwrites every call-clobbered register
// on the slow path.)
func TestTLSDescriptorsAArch64(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "tls_desc_a64")
	if _, ok := p.obj.tls.StaticOffset(); ok {
		t.Error("tls_desc_a64's module is in static TLS; want dynamic (it has no initial-exec code)")
	}
	release := make(chan struct{})
	defer close(release)
	for i := 0; i < 2; i++ {
		onThread(t, release, func() {
			for k := 0; k < 2; k++ { // slow path, then fast path
				if got := callErr(t, p, "tls_a64_regs_ok"); got != 1 {
					t.Errorf("thread %d, access %d: tls_a64_regs_ok = %d, want 1", i, k, got)
				}
			}
			for k := uint64(1); k <= 3; k++ {
				if got := callErr(t, p, "tls_a64_bump"); got != k {
					t.Errorf("thread %d: bump %d = %d", i, k, got)
				}
			}
		})
	}
}
