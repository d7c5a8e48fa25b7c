//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/runplug/runplug/internal/testenv"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/runplug/runplug/elfmap"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/tlsrt"
	"github.com/runplug/runplug/loader"
)

// wireErrors are errors as a child's loader returns them: each typed
// error of runplug with every field set, nested as loads nest them, and
// the sentinels, errno values and path errors under them.
func wireErrors() []struct {
	name string
	err  error
} {
	format := &elfmap.FormatError{Off: -1, Field: "DT_FLAGS_1", Value: 0x8000000, Msg: "has DF_1_PIE", Err: elfmap.ErrUnsupported}
	fault := &pcall.FaultError{Signal: syscall.SIGSEGV, Code: 1, Addr: 0, PC: 0x7f0012345678,
		Plugin: "faults.so", Symbol: "crash_null+0x4", Object: "", Where: "not mapped"}
	return []struct {
		name string
		err  error
	}{
		{"fault", fmt.Errorf("loader: call crash_null in faults.so: %w", fault)},
		{"deadline in process", &pcall.DeadlineError{PC: 0x7f00aa, Plugin: "hang.so", Symbol: "spin+0x10", Cause: context.DeadlineExceeded}},
		{"deadline killed", &pcall.DeadlineError{Plugin: "hang.so", Pid: 4242, Cause: context.Canceled}},
		{"host panic error", &pcall.HostPanicError{Func: "cb", Value: pcall.ErrCallbackFreed}},
		{"host panic value", &pcall.HostPanicError{Func: "cb", Value: "index out of range [3] with length 2"}},
		{"abort", &pcall.AbortError{Code: -7, PC: 0x1234}},
		{"static tls", fmt.Errorf("loader: load big.so: %w", &tlsrt.StaticTLSError{Size: 4096, Align: 64, Held: 1000, Modules: 3,
			Pending: 16, Tunables: "glibc.rtld.optional_static_tls=512", Glibc: "cannot allocate memory in static TLS block"})},
		{"not found", fmt.Errorf("loader: load x.so: %w", &loader.NotFoundError{Name: "libnope.so", Needer: "x.so",
			Tried: []string{"/a/libnope.so", "/b/libnope.so"},
			Err:   &fs.PathError{Op: "open", Path: "/b/libnope.so", Err: syscall.EACCES}})},
		{"not found plain", &loader.NotFoundError{Name: "/no/such.so"}},
		{"undefined", fmt.Errorf("loader: load u.so: %w", &loader.UndefinedSymbolError{Object: "u.so", Symbol: "missing", Version: "V2"})},
		{"reloc", fmt.Errorf("loader: load r.so: %w", &loader.RelocError{Object: "r.so", Table: "DT_RELA", Index: 3, Type: 2,
			Off: 0x3fd8, Sym: 7, Msg: "unsupported relocation type", Err: loader.ErrUnsupported})},
		{"refused executable", fmt.Errorf("loader: load pie: %w", &loader.RefusedError{Path: "/bin/pie",
			Err: &elfmap.ExecutableError{FormatError: format}})},
		{"refused tls", &loader.RefusedError{Path: "/lib/t.so", Err: fmt.Errorf("thread-local symbol x: %w", loader.ErrTLS)}},
		{"signature", &loader.SignatureError{Symbol: "f", Index: -1, Reason: "a string result is not supported"}},
		{"state file", fmt.Errorf("loader: load s.so: %w", &loader.StateFileError{Path: "s.bin", Msg: "bad magic"})},
		{"migration", &loader.MigrationError{Path: "s.bin", From: 1, To: 2, FromSize: 16, ToSize: 24, Result: 3}},
		{"migration fault", &loader.MigrationError{Path: "s.bin", From: 1, To: 2, FromSize: 16, ToSize: 24, Err: fault}},
		{"errno", fmt.Errorf("isolate: confine: landlock: %w", syscall.EPERM)},
		{"sentinels joined", errors.Join(loader.ErrClosed, loader.ErrQuarantined, ErrBufferTooLarge)},
		{"text", errors.New("isolate: bad request: truncated or malformed")},
	}
}

// TestErrWireRoundTrip: every typed error and sentinel crosses intact:
// the same message, the same errors.Is answers for every sentinel, the
// same types with the same fields through errors.As; and every prefix of
// the encoding, or one more byte, is refused.
func TestErrWireRoundTrip(t *testing.T) {
	for _, tt := range wireErrors() {
		b := encodeError(tt.err, math.MaxInt)
		got, why := decodeError(b)
		if why != nil {
			t.Errorf("%s: decode: %v", tt.name, why)
			continue
		}
		if got.Error() != tt.err.Error() {
			t.Errorf("%s: message\n%q, want\n%q", tt.name, got.Error(), tt.err.Error())
		}
		sameAnswers(t, tt.name, got, tt.err)
		for n := range len(b) {
			if _, why := decodeError(b[:n]); why == nil {
				t.Errorf("%s: %d of %d bytes accepted", tt.name, n, len(b))
			}
		}
		if _, why := decodeError(append(bytes.Clone(b), 0)); why == nil {
			t.Errorf("%s: a trailing byte accepted", tt.name)
		}
	}
}

// sameAnswers checks that got answers errors.Is as want does for every
// sentinel that crosses, and errors.As for every typed error with the same
// fields (a HostPanicError's Stack stays in the child).
func sameAnswers(t *testing.T, name string, got, want error) {
	t.Helper()
	for code, s := range sentinels {
		if s != nil && errors.Is(got, s) != errors.Is(want, s) {
			t.Errorf("%s: errors.Is(err, sentinel %d %q) = %v, want %v", name, code, s, errors.Is(got, s), !errors.Is(want, s))
		}
	}
	for _, target := range []any{new(*pcall.FaultError), new(*pcall.DeadlineError), new(*pcall.HostPanicError),
		new(*pcall.AbortError), new(*tlsrt.StaticTLSError), new(*loader.NotFoundError), new(*loader.UndefinedSymbolError),
		new(*loader.RelocError), new(*loader.RefusedError), new(*loader.SignatureError), new(*loader.StateFileError),
		new(*loader.MigrationError), new(*elfmap.FormatError), new(*elfmap.ExecutableError), new(*fs.PathError), new(syscall.Errno)} {
		wantOK := errors.As(want, target)
		wantV := reflect.ValueOf(target).Elem().Interface()
		gotOK := errors.As(got, target)
		gotV := reflect.ValueOf(target).Elem().Interface()
		if gotOK != wantOK {
			t.Errorf("%s: errors.As(%T) = %v, want %v", name, target, gotOK, wantOK)
			continue
		}
		if wantOK && fmt.Sprintf("%+v", deref(gotV)) != fmt.Sprintf("%+v", deref(wantV)) {
			t.Errorf("%s: %T crossed as\n%+v, want\n%+v", name, gotV, deref(gotV), deref(wantV))
		}
	}
}

// deref returns what a pointer points to, for printing its fields.
func deref(v any) any {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return rv.Elem().Interface()
	}
	return v
}

// TestErrWireBounds: what the encoder cannot carry whole goes flat (the
// message and the sentinels it matches, within the limit); what a child
// writes past the bounds is refused, never decoded.
func TestErrWireBounds(t *testing.T) {
	deep := error(&loader.UndefinedSymbolError{Object: "a.so", Symbol: "s"})
	for i := range maxErrDepth + 4 {
		deep = fmt.Errorf("level %d: %w", i, deep)
	}
	long := fmt.Errorf("%s: %w", strings.Repeat("x", 10000), loader.ErrClosed)
	for _, tt := range []struct {
		name  string
		err   error
		limit int
	}{
		{"deeper than the bound", deep, math.MaxInt},
		{"longer than the limit", long, 256},
		{"a limit too small for any sentinel", long, 12},
	} {
		b := encodeError(tt.err, tt.limit)
		if len(b) > tt.limit {
			t.Errorf("%s: %d bytes, limit %d", tt.name, len(b), tt.limit)
		}
		got, why := decodeError(b)
		if why != nil {
			t.Errorf("%s: decode: %v", tt.name, why)
			continue
		}
		if tt.limit >= 256 {
			for _, s := range sentinels {
				if s != nil && errors.Is(tt.err, s) && !errors.Is(got, s) {
					t.Errorf("%s: sent flat, it lost sentinel %q", tt.name, s)
				}
			}
		}
		if !strings.HasPrefix(tt.err.Error(), got.Error()) {
			t.Errorf("%s: message %.60q is not a prefix of %.60q", tt.name, got.Error(), tt.err.Error())
		}
	}

	// Hostile encodings.
	wrapN := func(n int) []byte { // n nested wraps around a sentinel
		var b []byte
		for range n {
			b = append(b, kindWrap, 1, 0, 0, 0, 'w', 1, 0, 0, 0)
		}
		return append(b, kindSentinel, 4, 0)
	}
	wide := []byte{kindWrap, 0, 0, 0, 0}
	wide = append(wide, le32(maxErrNodes)...)
	for range maxErrNodes {
		wide = append(wide, kindSentinel, 4, 0)
	}
	for _, tt := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"nil at the top", []byte{kindNil}, "required"},
		{"unknown kind", []byte{200}, "unknown error kind 200"},
		{"unknown sentinel", []byte{kindSentinel, 0xff, 0x7f}, "unknown sentinel code"},
		{"sentinel code 0", []byte{kindSentinel, 0, 0}, "unknown sentinel code 0"},
		{"a length past the end", append([]byte{kindText}, le32(math.MaxUint32)...), "truncated"},
		{"a count past the end", append([]byte{kindWrap, 0, 0, 0, 0}, le32(1<<30)...), "truncated"},
		{"a wrap of nothing", append([]byte{kindWrap, 0, 0, 0, 0}, le32(0)...), "wraps nothing"},
		{"nil where required", []byte{kindRefused, 0, 0, 0, 0, kindNil}, "required"},
		{"too deep", wrapN(maxErrDepth), "deeper"},
		{"too many", wide, "more than"},
		{"errno out of range", []byte{kindErrno, 0, 0, 0, 0, 1, 0, 0, 0}, "out of range"},
		{"executable without a format error", []byte{kindExecutable, kindSentinel, 4, 0}, "no format error"},
		{"a bool that is not one", []byte{kindHostPanic, 0, 0, 0, 0, 2}, "truncated"},
	} {
		got, why := decodeError(tt.b)
		if why == nil || got != nil {
			t.Errorf("%s: decoded %v, want a refusal", tt.name, got)
			continue
		}
		if !strings.Contains(why.Error(), tt.want) {
			t.Errorf("%s: refused with %q, want it to say %q", tt.name, why, tt.want)
		}
	}
	if _, why := decodeError(wrapN(maxErrDepth - 1)); why != nil {
		t.Errorf("a tree exactly at the depth bound refused: %v", why)
	}
}

func le32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

// FuzzDecodeError: whatever a child writes as an error, the host decodes
// an error (with a message) or refuses it, never panics, never allocates
// beyond what the input holds, and an accepted input encodes back to
// itself (nothing the child wrote is read twice or ignored). Seeds: the
// encodings of wireErrors and of TestErrWireBounds' hostile ones
// (testdata/fuzz/FuzzDecodeError; TestErrWireSeeds keeps them current).
func FuzzDecodeError(f *testing.F) {
	for _, tt := range wireErrors() {
		f.Add(encodeError(tt.err, math.MaxInt))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err, why := decodeError(b)
		if (err == nil) == (why == nil) {
			t.Fatalf("decoded %v and refused with %v", err, why)
		}
		if why != nil {
			return
		}
		_ = err.Error()
		if got := encodeError(err, math.MaxInt); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, input %x", got, b)
		}
	})
}

// TestErrWireSeeds: the committed seeds of FuzzDecodeError are the
// encodings of wireErrors as the encoder writes them today (a changed
// wire format changes them: RUNPLUG_UPDATE_SEEDS=1 rewrites them).
func TestErrWireSeeds(t *testing.T) {
	// seed-10 holds an x86-64 relocation type's name.
	testenv.NeedPort(t, runtime.GOARCH == "amd64", "the error codec's seeds, written on amd64")
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeError")
	update := os.Getenv("RUNPLUG_UPDATE_SEEDS") == "1"
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, tt := range wireErrors() {
		name := filepath.Join(dir, "seed-"+strconv.Itoa(i))
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", encodeError(tt.err, math.MaxInt))
		if update {
			if err := os.WriteFile(name, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%s (%s): %v (RUNPLUG_UPDATE_SEEDS=1 writes it)", name, tt.name, err)
		}
		if string(got) != want {
			t.Errorf("%s (%s) is stale: RUNPLUG_UPDATE_SEEDS=1 rewrites it", name, tt.name)
		}
	}
}

// TestWithoutPrefix: the child takes off exactly its loader's context, and
// only from a plain fmt.Errorf wrapper; the rest of the message and what
// it wraps stay.
func TestWithoutPrefix(t *testing.T) {
	const pre = `loader: lookup "x" in p.so: `
	undef := &loader.UndefinedSymbolError{Object: "p.so", Symbol: "x"}
	for _, tt := range []struct {
		name string
		err  error
		want string // the message after
		is   []error
	}{
		{"the wrapper of a sentinel", fmt.Errorf("%s%w", pre, loader.ErrSymbolNotFound), "symbol not found", []error{loader.ErrSymbolNotFound}},
		{"a reason kept", fmt.Errorf("%sa thread-local variable: %w", pre, loader.ErrTLS), "a thread-local variable: unsupported use of thread-local storage", []error{loader.ErrTLS, loader.ErrUnsupported}},
		{"several wrapped", fmt.Errorf("%s%w and %w", pre, loader.ErrClosed, undef), "closed and " + undef.Error(), []error{loader.ErrClosed, loader.ErrSymbolNotFound}},
		{"another prefix", fmt.Errorf("loader: call f in p.so: %w", loader.ErrClosed), "loader: call f in p.so: closed", []error{loader.ErrClosed}},
		{"a typed error", undef, undef.Error(), []error{loader.ErrSymbolNotFound}},
	} {
		got := withoutPrefix(tt.err, pre)
		if got.Error() != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got.Error(), tt.want)
		}
		for _, s := range tt.is {
			if !errors.Is(got, s) {
				t.Errorf("%s: %v no longer matches %q", tt.name, got, s)
			}
		}
	}
}
