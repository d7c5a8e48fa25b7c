//go:build linux && amd64 && cgo

package isolate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/loader"
)

// A hostile child: this test binary, started as a child with envHostile
// set, runs the real child with childHook rewriting the shared memory at
// each message it sends (the tests below say how), as a plugin could from
// a thread or a constructor of its own.
const envHostile = "RUNPLUG_TEST_HOSTILE"

// The hook is installed by a variable's initializer, which runs before
// child.go's init starts the child.
var _ = installHostileChild()

func installHostileChild() bool {
	v := os.Getenv(envHostile)
	if v == "" || os.Getenv(envChild) == "" {
		return false
	}
	mode, seed, _ := strings.Cut(v, ":")
	n, _ := strconv.ParseUint(seed, 10, 64)
	skipRunPhase = mode == "nomarker"
	childHook = hostileHook(mode, rand.New(rand.NewPCG(n, 1)))
	return true
}

// hostileHook returns the hook of a mode.
func hostileHook(mode string, rng *rand.Rand) func(hookStep, *child, *childChan) {
	var mu sync.Mutex
	var scribbling atomic.Bool
	var flipping sync.WaitGroup
	return func(step hookStep, c *child, ch *childChan) {
		mu.Lock()
		defer mu.Unlock()
		h := c.hdr
		switch {
		case step == hookLoadReply:
			switch mode {
			case "replyOff":
				h.replyOff = 0x7ffff000
			case "slotsOff":
				h.slotsOff, h.cfgOff = 0xfffff000, 0xfffff000
			case "replyLen":
				h.replyLen = 0x7ffff000
			case "layout":
				h.replyOff, h.slotsOff, h.nslots, h.slotSize, h.cfgOff = rng.Uint32(), rng.Uint32(), rng.Uint32(), rng.Uint32(), rng.Uint32()
			case "state":
				// A state that is neither ready nor failed, and the
				// child never says more.
				atomic.StoreUint32(&h.state, 7)
				futexWake(&h.state)
				select {}
			}
		case mode == "repeat" && step == hookReply:
			post(&ch.h.toHost, &ch.h.hostWaiting) // one reply, posted twice
		case mode == "nul" && step == hookHostCall:
			// A thread of the plugin's own rewrites the host-call area
			// (strings and their NULs) with 'A' while the host runs the
			// function, until the call's reply.
			scribbling.Store(true)
			area := ch.data[ch.hostArea:]
			go func() {
				for scribbling.Load() {
					for i := range area {
						area[i] = 'A'
					}
				}
			}()
		case mode == "nul" && step == hookReply:
			scribbling.Store(false)
		case mode == "flip" && step == hookHostCall:
			// The handle flips between its own value and one far out of
			// range while the host reads it, until the call's reply.
			scribbling.Store(true)
			handle := ch.h.handle
			flipping.Add(1)
			go func() {
				defer flipping.Done()
				for scribbling.Load() {
					atomic.StoreUint32(&ch.h.handle, 0xffff)
					atomic.StoreUint32(&ch.h.handle, handle)
				}
			}()
		case mode == "flip" && step == hookReply:
			scribbling.Store(false)
			flipping.Wait() // its last store is done before the reply
		case mode == "memlen" && step == hookReply && ch.kind == opMemRead:
			ch.h.resInt = ch.h.ints[1] + 100 // more than was asked for
		case mode == "memshort" && step == hookReply && ch.kind == opMemRead:
			ch.h.resInt = 0 // nothing, and no NUL: asked again forever unless refused
		case mode == "symcount" && step == hookReply && ch.kind == opSymbols:
			ch.h.resInt = maxSymbols + 1
		case mode == "symlen" && step == hookReply && ch.kind == opSymbols:
			ch.h.msgLen = uint32(len(ch.data) + 64)
		case mode == "symdata" && step == hookReply && ch.kind == opSymbols:
			for i := 0; i < int(ch.h.msgLen); i++ {
				ch.data[i] = 0xff // lengths of 4 GiB
			}
		case strings.HasPrefix(mode, "err") && step == hookReply && ch.h.status == statusError:
			// The error the child's loader returned, rewritten (errwire.go).
			switch mode {
			case "errkind":
				ch.data[0] = 200
			case "errlen":
				ch.h.msgLen = uint32(copy(ch.data, []byte{kindText, 0xff, 0xff, 0xff, 0xff, 'x'}))
			case "errmsglen":
				ch.h.msgLen = uint32(len(ch.data))
			case "errsentinel":
				ch.h.msgLen = uint32(copy(ch.data, []byte{kindSentinel, 0xff, 0xff}))
			}
		case mode == "fuzz":
			scribble(rng, ch)
		}
	}
}

// scribble rewrites a few of the fields of the channel's header that the
// host reads (never the futex words, which would only hang the exchange
// until the context ends), or bytes of its data area, or posts twice.
func scribble(rng *rand.Rand, ch *childChan) {
	if rng.IntN(3) != 0 {
		return // most messages pass: later exchanges get their turn
	}
	h := ch.h
	hdr := unsafe.Slice((*byte)(unsafe.Pointer(h)), unsafe.Sizeof(*h))
	const fields = 128 // past toChild, childWaiting, toHost and hostWaiting
	for range rng.IntN(4) {
		switch rng.IntN(6) {
		case 0, 1:
			i := fields + rng.IntN(len(hdr)-fields)
			hdr[i] = byte(rng.Uint32())
		case 2:
			*(*uint32)(unsafe.Pointer(&hdr[fields+4*rng.IntN(8)])) = rng.Uint32() // kind .. inLen
		case 3:
			ch.data[rng.IntN(len(ch.data))] = byte(rng.Uint32())
		case 4:
			h.msgLen = rng.Uint32N(uint32(len(ch.data) + 64))
		case 5:
			if rng.IntN(4) == 0 {
				post(&h.toHost, &h.hostWaiting)
			}
		}
	}
}

// hostileLoader starts isolate_host's children in mode (a test of this
// package runs alone: testChildEnv is the package's).
func hostileLoader(t *testing.T, mode string, opts Options) (*loader.Loader, *atomic.Int64) {
	t.Helper()
	testChildEnv = []string{envHostile + "=" + mode}
	t.Cleanup(func() { testChildEnv = nil })
	iso := New(opts)
	t.Cleanup(func() { iso.Close(context.Background()) })
	l := loader.New(loader.Options{Isolation: iso, KeepAfterFault: true})
	t.Cleanup(func() { l.Close(context.Background()) })
	var longest atomic.Int64
	reg := map[string]any{
		"host_add": func(a, b int64) int64 { return a + b },
		"host_strlen": func(s string) int32 {
			if int64(len(s)) > longest.Load() {
				longest.Store(int64(len(s)))
			}
			return int32(len(s))
		},
		"host_inside":  func() int64 { return 0 },
		"host_panic":   func(x int64) int64 { panic(fmt.Sprintf("host panic %d", x)) },
		"host_reenter": func(x int64) int64 { return x },
	}
	for name, f := range reg {
		if _, err := l.RegisterHostFunc(name, f); err != nil {
			t.Fatal(err)
		}
	}
	return l, &longest
}

// TestHostileNoMarker: a child that loads its plugin (constructors and
// all) without announcing its run phase, so that the host would still
// let the load's calls through, is refused with a protocol error, with
// and without a spare.
func TestHostileNoMarker(t *testing.T) {
	path := plugintest.Build(t, "isolate_host")
	for _, spare := range []bool{false, true} {
		l, _ := hostileLoader(t, "nomarker", Options{Spare: spare})
		_, err := l.Load(context.Background(), path)
		if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "without entering its run phase") {
			t.Errorf("spare=%v: load = %v; want a protocol error about the run phase", spare, err)
		}
	}
}

// TestHostileLoadReply: a child that rewrites the header of the shared
// memory around its load reply (where the reply is, where the channels
// are, the reply's length, its state; with a spare child too) never
// crashes the host: the fields the host owns are never read back, and a
// length or state it cannot accept is a protocol error that names it.
func TestHostileLoadReply(t *testing.T) {
	tests := []struct {
		mode string
		want string // "" : the load works, the rewrite had no effect
	}{
		{"replyOff", ""},
		{"slotsOff", ""},
		{"replyLen", "load reply of 2147479552 bytes"},
		{"layout", ""},
		{"state", "child state 7 after its load reply"},
	}
	path := plugintest.Build(t, "isolate_host")
	for _, tt := range tests {
		for _, spare := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/spare=%v", tt.mode, spare), func(t *testing.T) {
				l, _ := hostileLoader(t, tt.mode+":1", Options{Spare: spare})
				p, err := l.Load(context.Background(), path)
				if tt.want != "" {
					if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tt.want) {
						t.Fatalf("load: %v, want ErrProtocol saying %q", err, tt.want)
					}
					return
				}
				if err != nil {
					t.Fatalf("load: %v, want the rewrite to have no effect", err)
				}
				f, err := p.Func("call_add")
				if err != nil {
					t.Fatal(err)
				}
				if r, err := f.Call(context.Background(), 2, 3); err != nil || r != 6 {
					t.Fatalf("call_add(2, 3) = %d, %v; want 6", r, err)
				}
			})
		}
	}
}

// TestHostileErrorReply: a child that rewrites the error it sends (a
// failed lookup's: an unknown kind, a string length past the end, a length
// past the channel's area, an unknown sentinel) never has it believed: the
// host refuses it as a protocol error naming what was wrong, reads nothing
// past what the child may write, and the forged error matches none of the
// loader's sentinels.
func TestHostileErrorReply(t *testing.T) {
	for _, tt := range []struct{ mode, want string }{
		{"errkind", "unknown error kind 200"},
		{"errlen", "truncated"},
		{"errmsglen", "an error reply of"},
		{"errsentinel", "unknown sentinel code 65535"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			l, _ := hostileLoader(t, tt.mode+":1", Options{})
			p, err := l.Load(context.Background(), plugintest.Build(t, "isolate_host"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Func("no_such_function")
			if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("lookup with a forged error reply: %v, want ErrProtocol saying %q", err, tt.want)
			}
			if errors.Is(err, loader.ErrSymbolNotFound) {
				t.Errorf("the forged error was believed: %v", err)
			}
		})
	}
}

// TestHostileRepeatedReply: a reply posted twice ends the call with a
// protocol error that says so (the counter jumps by two, or the second
// post shows at the next exchange as a message with the request still in
// it); the host survives.
func TestHostileRepeatedReply(t *testing.T) {
	l, _ := hostileLoader(t, "repeat:1", Options{})
	p, err := l.Load(context.Background(), plugintest.Build(t, "isolate_host"))
	if err != nil {
		t.Fatal(err)
	}
	var perr error
	for i := 0; i < 3 && perr == nil; i++ { // the second post shows at the next exchange (the lookup is one)
		_, perr = callNamed(context.Background(), p, "leaf", pcall.Args{Int: [6]uint64{1}})
	}
	if !errors.Is(perr, ErrProtocol) || !strings.Contains(perr.Error(), "repeated or forged") {
		t.Fatalf("calls with repeated replies: %v, want ErrProtocol naming a repeated message", perr)
	}
}

// TestHostileNulRewrite: while a host function reads a string the plugin
// passed, a thread of the plugin's own rewrites the string's part of the
// channel with 'A', NUL included: the function sees a copy of exactly the
// length the child gave, never more of the channel or what follows it.
func TestHostileNulRewrite(t *testing.T) {
	l, longest := hostileLoader(t, "nul:1", Options{})
	p, err := l.Load(context.Background(), plugintest.Build(t, "isolate_host"))
	if err != nil {
		t.Fatal(err)
	}
	strlen, err := loader.Bind1[string, int32](fnOf(t, p, "call_strlen"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if n, err := strlen(context.Background(), "hello, host"); err != nil || n != 11 {
			t.Fatalf("call_strlen with the NUL rewritten = %d, %v; want 11", n, err)
		}
	}
	if n := longest.Load(); n != 11 {
		t.Fatalf("the host function saw a string of %d bytes, want 11", n)
	}
}

// TestHostileHandleFlip: a thread of the child flips a host call's
// handle between its own and 65535 while the host checks and uses it: the host
// reads it once, so every call either runs host_add or ends with a
// protocol error naming the handle, never an index out of range.
func TestHostileHandleFlip(t *testing.T) {
	l, _ := hostileLoader(t, "flip:1", Options{})
	p, err := l.Load(context.Background(), plugintest.Build(t, "isolate_host"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		r, err := callNamed(context.Background(), p, "call_add", pcall.Args{Int: [6]uint64{2, 3}})
		if errors.Is(err, ErrProtocol) && strings.Contains(err.Error(), "host function 65535") {
			return // the child is killed: the host survived and named it
		}
		if err != nil || r.Int != 6 {
			t.Fatalf("call_add with a flipping handle = %d, %v; want 6 or a protocol error naming host function 65535", r.Int, err)
		}
	}
}

// TestHostileChildFuzz: children that rewrite random fields of each
// message they send (kinds, statuses, lengths, offsets, descriptors,
// data, a second post) never crash or hang the host: each call (and each
// Symbols, Alloc, ReadString and Free) returns
// its result or an error of this package's or the loader's kinds with a
// message, and forged messages are named protocol errors.
func TestHostileChildFuzz(t *testing.T) {
	path := plugintest.Build(t, "isolate_host")
	seeds := 24
	if testing.Short() {
		seeds = 6
	}
	protocol := 0
	for seed := 1; seed <= seeds; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			l, _ := hostileLoader(t, fmt.Sprintf("fuzz:%d", seed), Options{})
			p, err := l.Load(context.Background(), path)
			if err != nil {
				t.Fatal(err) // the hook does nothing before the first call
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for i := 0; i < 30; i++ {
				var err error
				switch i % 6 {
				case 0:
					_, err = callNamed(ctx, p, "call_add", pcall.Args{Int: [6]uint64{2, 3}})
				case 1:
					_, err = callString(ctx, p, "call_strlen", "hello, host")
				case 2:
					_, err = callNamed(ctx, p, "leaf", pcall.Args{Int: [6]uint64{7}})
				case 3:
					_, err = callNamed(ctx, p, "call_panic", pcall.Args{Int: [6]uint64{1}})
				case 4:
					_, err = p.Symbols()
				case 5:
					var a uintptr
					if a, err = p.Alloc(ctx, 16); err == nil {
						if _, err = p.ReadString(a, 8); err == nil {
							err = p.Free(ctx, a)
						}
					}
				}
				if err == nil {
					continue
				}
				if !typedErr(err) {
					t.Fatalf("call %d: %T %v: not an error of a known kind", i, err, err)
				}
				if errors.Is(err, ErrProtocol) {
					protocol++
				}
				if errors.Is(err, ErrExited) || errors.Is(err, ErrProtocol) {
					return // the child is gone
				}
			}
		})
	}
	if protocol == 0 {
		t.Errorf("no forged message was named a protocol error in %d children", seeds)
	}
}

func callNamed(ctx context.Context, p *loader.Plugin, name string, a pcall.Args) (pcall.Result, error) {
	f, err := p.Func(name)
	if err != nil {
		return pcall.Result{}, err
	}
	r, err := f.Call(ctx, a.Int[:]...)
	return pcall.Result{Int: r}, err
}

// callString calls name with a string, which travels as a buffer.
func callString(ctx context.Context, p *loader.Plugin, name, s string) (int64, error) {
	f, err := p.Func(name)
	if err != nil {
		return 0, err
	}
	fn, err := loader.Bind1[string, int64](f)
	if err != nil {
		return 0, err
	}
	return fn(ctx, s)
}

// typedErr reports whether err is one a host can tell apart, with a
// message.
func typedErr(err error) bool {
	if strings.TrimSpace(err.Error()) == "" || strings.HasSuffix(err.Error(), ": ") {
		return false
	}
	var rt *remoteText
	var rw *remoteWrap
	var fe *pcall.FaultError
	var hp *pcall.HostPanicError
	return errors.Is(err, ErrProtocol) || errors.Is(err, ErrExited) || errors.Is(err, pcall.ErrDeadline) ||
		errors.As(err, &rt) || errors.As(err, &rw) || errors.As(err, &fe) || errors.As(err, &hp) ||
		errors.Is(err, loader.ErrSymbolNotFound) || errors.Is(err, loader.ErrQuarantined)
}

// TestHostileMemoryReplies: a child that lies in its answers to the
// memory and symbol requests (more bytes than asked for, a symbol count
// past any plugin's, a reply longer than the channel, lengths that run
// past the reply) cannot make the host read beyond what it asked for or
// the channel holds: each is a protocol error that names the lie, and
// the host goes on.
func TestHostileMemoryReplies(t *testing.T) {
	tests := []struct {
		mode string
		op   func(p *loader.Plugin) error
		want string
	}{
		{"memlen", func(p *loader.Plugin) error {
			_, err := p.ReadString(greetingAddr(t, p), -1)
			return err
		}, "the child says"},
		{"memlen", func(p *loader.Plugin) error {
			return p.ReadMemory(greetingAddr(t, p), make([]byte, 8))
		}, "the child says"},
		{"memshort", func(p *loader.Plugin) error {
			_, err := p.ReadString(greetingAddr(t, p), -1)
			return err
		}, "the child gave 0 and no NUL"},
		{"symcount", func(p *loader.Plugin) error { _, err := p.Symbols(); return err }, "in all"},
		{"symlen", func(p *loader.Plugin) error { _, err := p.Symbols(); return err }, "more than the channel's"},
		{"symdata", func(p *loader.Plugin) error { _, err := p.Symbols(); return err }, "entry 0"},
	}
	path := plugintest.Build(t, "isolate_mem")
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			l, _ := hostileLoader(t, tt.mode+":1", Options{})
			p, err := l.Load(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			err = tt.op(p)
			if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s: %v, want ErrProtocol saying %q", tt.mode, err, tt.want)
			}
		})
	}
}

// greetingAddr returns isolate_mem's greeting address.
func greetingAddr(t *testing.T, p *loader.Plugin) uintptr {
	t.Helper()
	f, err := p.Func("greeting_addr")
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.Call(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return uintptr(a)
}
