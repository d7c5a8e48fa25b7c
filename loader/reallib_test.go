package loader

import (
	"bytes"
	"compress/zlib"
	"context"
	"hash/crc32"
	"io"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/runplug/runplug/internal/testenv"
)

// systemLib returns the path of a distribution library, skipping the test
// when it is not installed.
func systemLib(t testing.TB, name string) string {
	t.Helper()
	for _, dir := range systemDirs {
		p := dir + "/" + name
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	testenv.Skipf(t, "%s is not installed (.ci/run installs it: zlib1g, libsqlite3-0, libgmp10)", name)
	return ""
}

func TestLibz(t *testing.T) {
	l := newLoader(t, Options{})
	p, err := l.Load(context.Background(), systemLib(t, "libz.so.1"))
	if err != nil {
		t.Fatal(err)
	}
	crc, err := p.Func("crc32")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range [][]byte{[]byte("hello"), []byte(""), bytes.Repeat([]byte("runplug "), 1000)} {
		got, err := crc.Call(0, uint64(addrOf(in)), uint64(len(in)))
		keep(in)
		if err != nil {
			t.Fatal(err)
		}
		if want := crc32.ChecksumIEEE(in); uint32(got) != want {
			t.Errorf("crc32(%.10q...) = %d, want %d", in, uint32(got), want)
		}
	}

	compress2, err := p.Func("compress2")
	if err != nil {
		t.Fatal(err)
	}
	bound, err := p.Func("compressBound")
	if err != nil {
		t.Fatal(err)
	}
	in := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog. "), 200)
	n, err := bound.Call(uint64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, n)
	outLen := n
	rc, err := compress2.Call(uint64(addrOf(out)), uint64(addrOfU64(&outLen)), uint64(addrOf(in)), uint64(len(in)), 9)
	keep(out, in, &outLen)
	if err != nil || rc != 0 {
		t.Fatalf("compress2 = %d, %v", int32(rc), err)
	}
	if outLen == 0 || outLen >= uint64(len(in)) {
		t.Fatalf("compress2 wrote %d bytes for %d", outLen, len(in))
	}
	zr, err := zlib.NewReader(bytes.NewReader(out[:outLen]))
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("inflate compress2's output with compress/zlib: %v", err)
	}
	if !bytes.Equal(back, in) {
		t.Errorf("round trip through compress2 and compress/zlib changed the data")
	}

	ver, err := p.Func("zlibVersion")
	if err != nil {
		t.Fatal(err)
	}
	v, err := ver.Call()
	if err != nil {
		t.Fatal(err)
	}
	if s := cString(uintptr(v)); !regexp.MustCompile(`^1\.\d+(\.\d+)*`).MatchString(s) {
		t.Errorf("zlibVersion() = %q", s)
	}
}

func TestLibsqlite3(t *testing.T) {
	l := newLoader(t, Options{})
	p, err := l.Load(context.Background(), systemLib(t, "libsqlite3.so.0"))
	if err != nil {
		t.Fatal(err)
	}
	fn := func(name string) *Func {
		f, err := p.Func(name)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	must := func(name string, args ...uint64) uint64 {
		r, err := fn(name).Call(args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return r
	}
	version := cString(uintptr(must("sqlite3_libversion")))
	m := regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`).FindStringSubmatch(version)
	if m == nil {
		t.Fatalf("sqlite3_libversion() = %q", version)
	}
	maj, _ := strconv.Atoi(m[1])
	min, _ := strconv.Atoi(m[2])
	pat, _ := strconv.Atoi(m[3])
	if got, want := int(int32(must("sqlite3_libversion_number"))), maj*1000000+min*1000+pat; got != want {
		t.Errorf("sqlite3_libversion_number() = %d, want %d for %q", got, want, version)
	}
	// Run a query: SQLite computes 1+2 and reports its own version, which
	// exercises malloc, the parser and the virtual machine.
	var db, stmt uint64
	name := []byte(":memory:\x00")
	if rc := must("sqlite3_open", uint64(addrOf(name)), uint64(addrOfU64(&db))); rc != 0 {
		t.Fatalf("sqlite3_open = %d", rc)
	}
	sql := []byte("select 1+2, sqlite_version(), upper('runplug')\x00")
	if rc := must("sqlite3_prepare_v2", db, uint64(addrOf(sql)), ^uint64(0), uint64(addrOfU64(&stmt)), 0); rc != 0 {
		t.Fatalf("sqlite3_prepare_v2 = %d", rc)
	}
	keep(name, sql, &db, &stmt)
	if rc := must("sqlite3_step", stmt); rc != 100 { // SQLITE_ROW
		t.Fatalf("sqlite3_step = %d, want SQLITE_ROW", rc)
	}
	if got := must("sqlite3_column_int", stmt, 0); got != 3 {
		t.Errorf("select 1+2 = %d", got)
	}
	if got := cString(uintptr(must("sqlite3_column_text", stmt, 1))); got != version {
		t.Errorf("sqlite_version() = %q, sqlite3_libversion() = %q", got, version)
	}
	if got := cString(uintptr(must("sqlite3_column_text", stmt, 2))); got != "RUNPLUG" {
		t.Errorf("upper('runplug') = %q", got)
	}
	must("sqlite3_finalize", stmt)
	if rc := must("sqlite3_close", db); rc != 0 {
		t.Errorf("sqlite3_close = %d", rc)
	}
}

func TestLibgmp(t *testing.T) {
	l := newLoader(t, Options{})
	p, err := l.Load(context.Background(), systemLib(t, "libgmp.so.10"))
	if err != nil {
		t.Fatal(err)
	}
	v := lookup(t, p, "__gmp_version")
	if s := cString(uintptr(peek64(v))); !regexp.MustCompile(`^\d+\.\d+`).MatchString(s) {
		t.Errorf("__gmp_version = %q", s)
	}
	// 2^100 with mpz: 31 decimal digits.
	var z [2]uint64 // mpz_t: int alloc, int size, limb pointer
	init2, pow, sizeinbase, clear := mustFunc(t, p, "__gmpz_init"), mustFunc(t, p, "__gmpz_ui_pow_ui"), mustFunc(t, p, "__gmpz_sizeinbase"), mustFunc(t, p, "__gmpz_clear")
	zp := uint64(addrOfU64(&z[0]))
	for _, step := range []struct {
		f    *Func
		args []uint64
	}{{init2, []uint64{zp}}, {pow, []uint64{zp, 2, 100}}} {
		if _, err := step.f.Call(step.args...); err != nil {
			t.Fatal(err)
		}
	}
	n, err := sizeinbase.Call(zp, 10)
	if err != nil || n != 31 {
		t.Errorf("mpz_sizeinbase(2^100, 10) = %d, %v; want 31", n, err)
	}
	if _, err := clear.Call(zp); err != nil {
		t.Fatal(err)
	}
	keep(&z)
}

func mustFunc(t testing.TB, p *Plugin, name string) *Func {
	t.Helper()
	f, err := p.Func(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
