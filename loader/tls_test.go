package loader

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/runplug/runplug/internal/elfbuild"
	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/internal/tlsrt"
)

// onThread runs fn on a goroutine locked to an OS thread of its own and
// waits for it. The thread stays locked (its TLS blocks kept) until
// release is closed, so that two such threads are never the same.
func onThread(t *testing.T, release <-chan struct{}, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		fn()
		close(done)
		<-release
	}()
	<-done
}

// callErr is call for goroutines other than the test's: it reports with
// t.Error and returns 0.
func callErr(t *testing.T, p *Plugin, fn string, args ...uint64) uint64 {
	f, err := p.Func(fn)
	if err != nil {
		t.Errorf("%s: %v", fn, err)
		return 0
	}
	r, err := f.Call(context.Background(), args...)
	if err != nil {
		t.Errorf("call %s: %v", fn, err)
	}
	return r
}

func TestTLSPerThread(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "tls_basic")
	release := make(chan struct{})
	defer close(release)
	counts := []int{5, 9}
	last := make([]uint64, len(counts))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, n := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			onThread(t, release, func() {
				<-start // both threads bump at the same time
				for k := 0; k < n; k++ {
					last[i] = callErr(t, p, "tls_bump")
				}
			})
		}()
	}
	close(start)
	wg.Wait()
	for i, n := range counts {
		if last[i] != uint64(n) {
			t.Errorf("thread %d: counter %d after %d bumps, want %d (threads must not share it)", i, last[i], n, n)
		}
	}
	var third uint64
	onThread(t, release, func() { third = callErr(t, p, "tls_bump") })
	if third != 1 {
		t.Errorf("a third thread's first bump = %d, want 1", third)
	}
}

func TestTLSVariables(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "tls_basic")
	hello := binary.LittleEndian.Uint64([]byte("hello\x00\x00\x00"))
	release := make(chan struct{})
	defer close(release)
	// In order, on one fresh thread.
	steps := []struct {
		fn   string
		args []uint64
		want uint64
		what string
	}{
		{"tls_counter", nil, 0, ".tbss counter starts at zero"},
		{"tls_greeting", nil, hello, ".tdata template copied"},
		{"tls_big_misalign", nil, 0, "aligned(64) variable's address % 64"},
		{"tls_big_value", nil, 0, "aligned variable zero"},
		{"tls_pointer_ok", nil, 1, ".tdata pointer relocated before the template is copied"},
		{"tls_ld_add", []uint64{5}, 105 + 1, "local-dynamic: initialised and zero variables"},
		{"tls_ld_add", []uint64{1}, 106 + 2, "local-dynamic: second call"},
		{"tls_ld_b", nil, 2, "local-dynamic variable read by another function"},
		{"tls_scratch_sum", []uint64{7}, 7, "256 KiB .tbss past the image, zero but its last byte"},
		{"tls_greeting_set", []uint64{'J'}, 0, "write this thread's greeting"},
		{"tls_greeting", nil, hello&^0xff | 'J', "this thread's greeting changed"},
	}
	onThread(t, release, func() {
		for _, s := range steps {
			got := callErr(t, p, s.fn, s.args...)
			if s.fn == "tls_greeting_set" {
				continue // void
			}
			if got != s.want {
				t.Errorf("%s%v (%s) = %#x, want %#x", s.fn, s.args, s.what, got, s.want)
			}
		}
	})
	var other, scratch uint64
	onThread(t, release, func() {
		other = callErr(t, p, "tls_greeting")
		scratch = callErr(t, p, "tls_scratch_sum", 3)
	})
	if other != hello {
		t.Errorf("another thread's greeting = %#x, want the template's %#x", other, hello)
	}
	if scratch != 3 {
		t.Errorf("another thread's scratch sum = %d, want 3 (a zeroed block of its own)", scratch)
	}
}

func TestTLSInstances(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l := newLoader(t, Options{TombstoneBudget: 1}) // closed images are unmapped at once
	p1 := load(t, l, "tls_basic")
	p2 := load(t, l, "tls_basic")
	if p1.obj.tls == nil || p2.obj.tls == nil || p1.obj.tls.ID() == p2.obj.tls.ID() {
		t.Fatalf("two instances must have TLS modules of their own")
	}
	for i := 0; i < 3; i++ {
		call(t, p1, "tls_bump")
	}
	call(t, p1, "tls_greeting_set", 'J')
	if got := call(t, p2, "tls_bump"); got != 1 {
		t.Errorf("second instance's first bump = %d, want 1 (its own counter)", got)
	}
	id, gen := p1.obj.tls.ID(), p1.obj.tls.Generation()
	blocks := tlsrt.TLSThreadBlocks()
	if err := p1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p3 := load(t, l, "tls_basic")
	if p3.obj.tls.ID() != id {
		t.Fatalf("the new instance got module %d, want the freed %d reused", p3.obj.tls.ID(), id)
	}
	if p3.obj.tls.Generation() == gen {
		t.Errorf("module %d reused with the old generation %d", id, gen)
	}
	// This thread's block of p1 is stale: p3 starts fresh.
	if got := call(t, p3, "tls_bump"); got != 1 {
		t.Errorf("reloaded instance's first bump = %d, want 1", got)
	}
	if got, want := call(t, p3, "tls_greeting"), binary.LittleEndian.Uint64([]byte("hello\x00\x00\x00")); got != want {
		t.Errorf("reloaded instance's greeting = %#x, want the template's %#x", got, want)
	}
	if got := tlsrt.TLSThreadBlocks(); got != blocks {
		t.Errorf("thread holds %d blocks, want %d (the stale block replaced, not added)", got, blocks)
	}
	if got := call(t, p2, "tls_bump"); got != 2 {
		t.Errorf("second instance's counter after the first closed = %d, want 2", got)
	}
}

func TestTLSDependency(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "tls_user")
	q := load(t, l, "tls_user") // a second instance sharing tls_dep
	release := make(chan struct{})
	defer close(release)
	var got [4]uint64
	onThread(t, release, func() {
		got[0] = callErr(t, p, "tls_user_get")
		got[1] = callErr(t, p, "tls_user_bump")
		got[2] = callErr(t, p, "tls_dep_get")
		got[3] = callErr(t, q, "tls_user_get")
	})
	want := [4]uint64{7, 8, 8, 8}
	if got != want {
		t.Errorf("tls_user_get, tls_user_bump, tls_dep_get, second instance's tls_user_get = %v, want %v", got, want)
	}
	var fresh uint64
	onThread(t, release, func() { fresh = callErr(t, p, "tls_user_get") })
	if fresh != 7 {
		t.Errorf("another thread sees tls_shared = %d, want the template's 7", fresh)
	}
}

func TestTLSLookupRefused(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "tls_basic")
	_, err := p.Lookup("counter")
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "per OS thread") {
		t.Errorf("Lookup(counter): %v, want ErrTLS saying an address per OS thread", err)
	}
}

// tlsObject returns a synthetic object with a PT_TLS segment, changed by
// edit.
func tlsObject(t *testing.T, spec elfbuild.Spec, edit func(*elfbuild.Object)) []byte {
	t.Helper()
	o, err := elfbuild.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(o)
	}
	return o.Data
}

func TestTLSRefusals(t *testing.T) {
	tooBig := tlsObject(t, elfbuild.Spec{TLS: true}, func(o *elfbuild.Object) {
		o.SetPhdr(o.Phdr(elf.PT_TLS, 0), elfbuild.PMemsz, maxTLSSize+1)
	})
	unreadable := tlsObject(t, elfbuild.Spec{TLS: true}, func(o *elfbuild.Object) {
		tv := o.PhdrVal(o.Phdr(elf.PT_TLS, 0), elfbuild.PVaddr)
		for i := 0; o.Phdr(elf.PT_LOAD, i) >= 0; i++ {
			ld := o.Phdr(elf.PT_LOAD, i)
			if v := o.PhdrVal(ld, elfbuild.PVaddr); tv >= v && tv < v+o.PhdrVal(ld, elfbuild.PMemsz) {
				o.SetPhdr(ld, elfbuild.PFlags, uint64(elf.PF_W))
				return
			}
		}
		t.Fatal("no PT_LOAD holds the PT_TLS template")
	})
	hostTLS := tlsObject(t, elfbuild.Spec{
		Needed: []string{"libc.so.6"},
		Syms:   []elfbuild.Sym{{Name: "errno", Type: elf.STT_TLS, Undef: true}},
		Rela:   []elfbuild.Reloc{{Type: elf.R_X86_64(rt.DTPMod), Sym: "errno"}},
	}, nil)
	tests := []struct {
		name   string
		plugin string // a plugins/ object, or
		image  []byte // a synthetic one
		err    error
		msg    string
	}{
		{"PT_TLS over the cap", "", tooBig, elfimage.ErrUnsupported, "PT_TLS p_memsz"},
		{"PT_TLS template not readable", "", unreadable, elfimage.ErrMalformed, "not inside a readable PT_LOAD"},
		{"thread-local symbol of the host C library", "", hostTLS, ErrTLS, "host C library"},
	}
	l := newLoader(t, Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.plugin != "" {
				_, err = l.Load(context.Background(), plugintest.Build(t, tc.plugin))
			} else {
				_, err = l.LoadBytes(context.Background(), tc.name+".so", tc.image)
			}
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("load: %v; want %v mentioning %q", err, tc.err, tc.msg)
			}
		})
	}
	var fe *elfimage.FormatError
	if _, err := l.LoadBytes(context.Background(), "big.so", tooBig); !errors.As(err, &fe) || fe.Field != "PT_TLS p_memsz" || fe.Value != maxTLSSize+1 {
		t.Errorf("PT_TLS over the cap: %v, want a *FormatError naming PT_TLS p_memsz = %#x", err, maxTLSSize+1)
	}
}

// A load that fails after its TLS module was registered frees it: more
// failed loads than the module table holds leave room for a good one.
func TestTLSFailedLoadsFreeModules(t *testing.T) {
	l := newLoader(t, Options{})
	// Refused while relocating, after its module was registered.
	bad := tlsObject(t, elfbuild.Spec{
		TLS:    true,
		Needed: []string{"libc.so.6"},
		Syms:   []elfbuild.Sym{{Name: "errno", Type: elf.STT_TLS, Undef: true}},
		Rela:   []elfbuild.Reloc{{Type: elf.R_X86_64(rt.DTPMod), Sym: "errno"}},
	}, nil)
	for i := 0; i <= tlsrt.MaxTLSModules; i++ {
		if _, err := l.LoadBytes(context.Background(), "bad.so", bad); !errors.Is(err, ErrTLS) {
			t.Fatalf("load %d: %v, want ErrTLS", i, err)
		}
	}
	p := load(t, l, "tls_basic")
	if got := call(t, p, "tls_bump"); got != 1 {
		t.Errorf("tls_bump = %d, want 1", got)
	}
}

// Loading and closing a TLS plugin touched from one thread does not grow:
// the thread's block of each closed instance is freed when the next
// instance reuses the module id (and the parked image is reused too).
func TestTLSLoadCloseDoesNotLeak(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	path := plugintest.Build(t, "tls_basic")
	l := newLoader(t, Options{})
	cycle := func() {
		p, err := l.Load(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if got := call(t, p, "tls_bump"); got != 1 {
			t.Fatalf("tls_bump = %d in a fresh instance, want 1", got)
		}
		if got := call(t, p, "tls_scratch_sum", 1); got != 1 {
			t.Fatalf("tls_scratch_sum = %d in a fresh instance, want 1", got)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		cycle()
	}
	blocks0, live0, rss0 := tlsrt.TLSThreadBlocks(), tlsrt.TLSLiveBlocks(), rssKB(t)
	const n = 1000
	for i := 0; i < n; i++ {
		cycle()
	}
	blocks1, live1, rss1 := tlsrt.TLSThreadBlocks(), tlsrt.TLSLiveBlocks(), rssKB(t)
	t.Logf("%d cycles: thread blocks %d -> %d, all blocks %d -> %d, rss %d -> %d KiB", n, blocks0, blocks1, live0, live1, rss0, rss1)
	if blocks1 != blocks0 {
		t.Errorf("this thread's TLS blocks went from %d to %d over %d cycles", blocks0, blocks1, n)
	}
	// Each leaked block would be 256 KiB. Under qemu-user the RSS also
	// holds the translations of every new image's code.
	if rss1 > rss0+16<<10 && !testenv.Emulated() {
		t.Errorf("RSS grew from %d to %d KiB over %d cycles", rss0, rss1, n)
	}
}
