package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// systemLibs are real distribution libraries inspect must agree with
// readelf and nm on. .ci/run installs them.
var systemLibs = []string{
	testenv.SystemLibPath("libz.so.1"),
	testenv.SystemLibPath("libsqlite3.so.0"),
	testenv.SystemLibPath("libgmp.so.10"),
	// glibc itself: IRELATIVE relocations, DT_RELR, TLS.
	testenv.SystemLibPath("libc.so.6"),
}

// runCmd runs the command in-process and returns its exit status and
// output.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// inspectJSON runs `inspect --json path` and decodes the report.
func inspectJSON(t *testing.T, path string) *Report {
	t.Helper()
	code, out, errs := runCmd(t, "inspect", "--json", path)
	if code != exitOK {
		t.Fatalf("inspect --json %s: exit %d, stderr %q", path, code, errs)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("inspect --json %s: %v", path, err)
	}
	return &rep
}

// tool runs an external program and returns its standard output.
func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	testenv.LookPath(t, name, "apt-get install binutils")
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}

// inspectTargets returns the objects the agreement tests run on.
func inspectTargets(t *testing.T) []string {
	targets := []string{plugintest.Build(t, "basic"), plugintest.Build(t, "demo"), plugintest.Build(t, "tls_basic")}
	for _, lib := range systemLibs {
		if _, err := os.Stat(lib); err != nil {
			t.Logf("skipping %s: %v", lib, err)
			continue
		}
		targets = append(targets, lib)
	}
	return targets
}

// readelfSegments parses the program header table of `readelf -lW`.
func readelfSegments(t *testing.T, text string) []Segment {
	t.Helper()
	var segs []Segment
	in := false
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Program Headers:"):
			in = true
			continue
		case !in:
			continue
		case len(f) == 0:
			return segs
		case f[0] == "Type" || strings.HasPrefix(f[0], "["):
			continue
		}
		if len(f) < 8 {
			t.Fatalf("readelf line %q: too few fields", line)
		}
		num := func(s string) uint64 {
			v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
			if err != nil {
				t.Fatalf("readelf line %q: %v", line, err)
			}
			return v
		}
		// The flags column holds letters separated by blanks ("R E"):
		// everything between MemSiz and Align.
		flags := []byte("---")
		for _, c := range strings.Join(f[6:len(f)-1], "") {
			switch c {
			case 'R':
				flags[0] = 'R'
			case 'W':
				flags[1] = 'W'
			case 'E':
				flags[2] = 'X'
			}
		}
		segs = append(segs, Segment{
			Type: f[0], Offset: num(f[1]), Vaddr: num(f[2]), Filesz: num(f[4]), Memsz: num(f[5]),
			Align: num(f[len(f)-1]), Flags: string(flags),
		})
	}
	return segs
}

// readelfRelocs counts the relocations `readelf -rW` lists, by type; the
// offsets of a .relr.dyn section ("  1198 offsets") count as "RELR".
func readelfRelocs(text string) map[string]int {
	counts := map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[1] == "offsets" {
			if n, err := strconv.Atoi(f[0]); err == nil {
				counts["RELR"] += n
			}
			continue
		}
		if len(f) >= 3 && strings.HasPrefix(f[2], "R_") {
			if _, err := strconv.ParseUint(f[0], 16, 64); err == nil {
				counts[f[2]]++
			}
		}
	}
	return counts
}

// nmSym is one symbol as nm -D prints it.
type nmSym struct {
	name, version string
	hidden, weak  bool
}

// nmSymbols parses `nm -D` output: "VALUE T name@@VER" or "  U name@VER".
// Local symbols (lower-case type letters other than weak and unique) are
// left out, as inspect leaves them out of the exports.
func nmSymbols(text string) []nmSym {
	var syms []nmSym
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		typ, name := f[len(f)-2], f[len(f)-1]
		if strings.ContainsAny(typ, "tdbrgsn") {
			continue
		}
		s := nmSym{weak: typ == "w" || typ == "v" || typ == "W" || typ == "V"}
		if n, v, ok := strings.Cut(name, "@@"); ok {
			s.name, s.version = n, v
		} else if n, v, ok := strings.Cut(name, "@"); ok {
			s.name, s.version, s.hidden = n, v, true
		} else {
			s.name = name
		}
		syms = append(syms, s)
	}
	return syms
}

func TestInspectAgreesWithReadelf(t *testing.T) {
	for _, path := range inspectTargets(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			rep := inspectJSON(t, path)
			want := readelfSegments(t, tool(t, "readelf", "-lW", path))
			if len(want) == 0 {
				t.Fatal("no program headers parsed from readelf")
			}
			if len(rep.Segments) != len(want) {
				t.Fatalf("%d segments, readelf shows %d", len(rep.Segments), len(want))
			}
			for i := range want {
				if rep.Segments[i] != want[i] {
					t.Errorf("segment %d = %+v, readelf %+v", i, rep.Segments[i], want[i])
				}
			}
			tls := false
			for _, s := range want {
				tls = tls || s.Type == "TLS"
			}
			if rep.TLS != tls {
				t.Errorf("tls %v, readelf's program headers say %v", rep.TLS, tls)
			}
			wantRel := readelfRelocs(tool(t, "readelf", "-rW", path))
			if len(wantRel) == 0 {
				t.Fatal("no relocations parsed from readelf")
			}
			if !equalCounts(rep.Relocations, wantRel) {
				t.Errorf("relocations %v, readelf %v", rep.Relocations, wantRel)
			}
		})
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestInspectAgreesWithNm(t *testing.T) {
	for _, path := range inspectTargets(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			rep := inspectJSON(t, path)

			var got, want []string
			for _, e := range rep.Exports {
				got = append(got, nmName(e.Name, e.Version, e.Hidden))
			}
			for _, s := range nmSymbols(tool(t, "nm", "-D", "--defined-only", path)) {
				want = append(want, nmName(s.name, s.version, s.hidden))
			}
			compareSets(t, "exports", got, want)

			got, want = nil, nil
			for _, im := range rep.Imports {
				got = append(got, importKey(im.Name, im.Version, im.Weak))
			}
			for _, s := range nmSymbols(tool(t, "nm", "-D", "--undefined-only", path)) {
				want = append(want, importKey(s.name, s.version, s.weak))
			}
			compareSets(t, "imports", got, want)
		})
	}
}

// nmName spells a definition as nm -D does. nm prints a version
// definition's own symbol (an absolute symbol named like its version, such
// as ZLIB_1.2.0) without the version.
func nmName(name, version string, hidden bool) string {
	switch {
	case version == "" || version == name:
		return name
	case hidden:
		return name + "@" + version
	}
	return name + "@@" + version
}

func importKey(name, version string, weak bool) string {
	k := name
	if version != "" {
		k += "@" + version
	}
	if weak {
		k += " (weak)"
	}
	return k
}

// compareSets fails the test unless got and want hold the same strings.
func compareSets(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: nm listed nothing", what)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return
	}
	g := map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	w := map[string]bool{}
	for _, s := range want {
		w[s] = true
	}
	var missing, extra []string
	for s := range w {
		if !g[s] {
			missing = append(missing, s)
		}
	}
	for s := range g {
		if !w[s] {
			extra = append(extra, s)
		}
	}
	t.Errorf("%s differ from nm (%d vs %d): missing %q, extra %q", what, len(got), len(want), missing, extra)
}

// TestInspectInitFini checks the constructor and destructor counts against
// readelf -d: INIT counts 1, INIT_ARRAYSZ one per 8 bytes.
func TestInspectInitFini(t *testing.T) {
	for _, path := range inspectTargets(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			rep := inspectJSON(t, path)
			init, fini := 0, 0
			for _, line := range strings.Split(tool(t, "readelf", "-dW", path), "\n") {
				f := strings.Fields(line)
				if len(f) < 3 {
					continue
				}
				n, _ := strconv.Atoi(f[2])
				switch f[1] {
				case "(INIT)":
					init++
				case "(FINI)":
					fini++
				case "(INIT_ARRAYSZ)":
					init += n / 8
				case "(FINI_ARRAYSZ)":
					fini += n / 8
				}
			}
			if rep.Init != init || rep.Fini != fini {
				t.Errorf("init %d fini %d, readelf -d gives %d and %d", rep.Init, rep.Fini, init, fini)
			}
			if rep.Init == 0 {
				t.Errorf("no constructor counted: every gcc-built object has one")
			}
		})
	}
}

// TestInspectJSONShape checks the keys and types the issue asks for.
func TestInspectJSONShape(t *testing.T) {
	path := plugintest.Build(t, "basic")
	code, out, errs := runCmd(t, "inspect", "--json", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"segments", "mapping", "needed", "soname", "runpath", "exports", "imports", "relocations", "init", "fini", "tls"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing", k)
		}
	}
	seg := m["segments"].([]any)[0].(map[string]any)
	for _, k := range []string{"type", "offset", "vaddr", "filesz", "memsz", "align", "flags"} {
		if _, ok := seg[k]; !ok {
			t.Errorf("segments[0].%s missing", k)
		}
	}
	if _, ok := seg["vaddr"].(float64); !ok {
		t.Errorf("segments[0].vaddr is %T, want a JSON number", seg["vaddr"])
	}
	mp := m["mapping"].([]any)
	first, last := mp[0].(map[string]any), mp[len(mp)-1].(map[string]any)
	if first["kind"] != "guard" || last["kind"] != "guard" {
		t.Errorf("mapping starts with %v and ends with %v, want guards", first["kind"], last["kind"])
	}
	if first["prot"] != "---" {
		t.Errorf("guard prot %v, want ---", first["prot"])
	}
	if _, ok := m["tls"].(bool); !ok {
		t.Errorf("tls is %T, want bool", m["tls"])
	}

	rep := inspectJSON(t, path)
	exp := map[string]Export{}
	for _, e := range rep.Exports {
		exp[e.Name] = e
	}
	if e := exp["add"]; e.Kind != "func" || e.Size == 0 {
		t.Errorf("add exported as %+v, want a func with a size", e)
	}
	if e := exp["basic_zeroes"]; e.Kind != "object" || e.Size != 1<<20 {
		t.Errorf("basic_zeroes exported as %+v, want a 1 MiB object", e)
	}
	var zero bool
	for _, r := range rep.Mapping {
		zero = zero || r.Kind == "zero"
	}
	if !zero {
		t.Errorf("basic's 1 MiB .bss gives no zero region: %+v", rep.Mapping)
	}
}

func TestInspectText(t *testing.T) {
	path := plugintest.Build(t, "basic")
	code, out, errs := runCmd(t, "inspect", path)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{"program headers", "LOAD", "GNU_STACK", "mapping plan", "guard (before)", "guard (after)",
		"exports", "basic_counter", "imports", "relocations", relativeName, "tls:"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q", want)
		}
	}
}

// TestInspectMalformed feeds hostile and broken files: each must exit 1
// with exactly one line on stderr (and not panic, which would end the
// test binary).
func TestInspectMalformed(t *testing.T) {
	good, err := os.ReadFile(plugintest.Build(t, "basic"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	patch := func(off int, val []byte) []byte {
		b := bytes.Clone(good)
		copy(b[off:], val)
		return b
	}
	u64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	u16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	garbage := make([]byte, 8192)
	rand.New(rand.NewSource(1)).Read(garbage)
	elfGarbage := append([]byte("\x7fELF\x02\x01\x01"), garbage[7:]...)
	files := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated-header", good[:40]},
		{"truncated-phdrs", good[:64+56]},
		{"garbage", garbage},
		{"elf-magic-garbage", elfGarbage},
		{"phoff-huge", patch(32, u64(1<<62))}, // e_phoff
		{"phoff-past-end", patch(32, u64(uint64(len(good))))},
		{"phnum-huge", patch(56, u16(0xffff))},          // e_phnum
		{"phentsize-wrong", patch(54, u16(32))},         // e_phentsize
		{"type-exec", patch(16, u16(2))},                // e_type ET_EXEC
		{"machine-other", patch(18, u16(otherMachine))}, // e_machine of another architecture
		{"class-32", patch(4, []byte{1})},               // EI_CLASS
		{"big-endian", patch(5, []byte{2})},             // EI_DATA
		{"truncated-half", good[:len(good)/2]},
	}
	paths := map[string]string{
		"directory": dir,
		"missing":   filepath.Join(dir, "no-such-file.so"),
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name+".so")
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[f.name] = p
	}
	for name, p := range paths {
		for _, args := range [][]string{{"inspect", p}, {"inspect", "--json", p}} {
			t.Run(name+"/"+strings.Join(args[:len(args)-1], "_"), func(t *testing.T) {
				code, out, errs := runCmd(t, args...)
				if code != exitError {
					t.Errorf("exit %d, want %d; stdout %q", code, exitError, out)
				}
				if out != "" {
					t.Errorf("stdout %q, want nothing", out)
				}
				if strings.Count(errs, "\n") != 1 || !strings.HasSuffix(errs, "\n") {
					t.Errorf("stderr %q, want exactly one line", errs)
				}
				// A file that is no ELF shared object at all says so
				// first; a broken one names the command and the file.
				if !strings.HasPrefix(errs, "runplug: inspect "+p+": ") && !strings.HasPrefix(errs, "runplug: not an ELF shared object: "+p+": ") {
					t.Errorf("stderr %q, want it to start with %q or say it is not an ELF shared object", errs, "runplug: inspect "+p+": ")
				}
			})
		}
	}
}

func TestUsageErrors(t *testing.T) {
	basic := plugintest.Build(t, "basic")
	for _, args := range [][]string{
		{"inspect"},
		{"inspect", basic, basic},
		{"inspect", "--no-such-flag", basic},
		{"inspect", "--log-level", "loud", basic},
		{"no-such-command"},
		{"demo", "extra"},
		{"call"},
	} {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			code, out, errs := runCmd(t, args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if strings.Count(errs, "\n") != 1 {
				t.Errorf("stderr %q, want one line", errs)
			}
		})
	}
}

func TestLogLevel(t *testing.T) {
	basic := plugintest.Build(t, "basic")
	code, _, errs := runCmd(t, "inspect", "--log-level", "debug", basic)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "[DEBUG]") || !strings.Contains(errs, basic) {
		t.Errorf("--log-level debug logged %q, want debug lines naming the file", errs)
	}
	code, _, errs = runCmd(t, "inspect", basic)
	if code != exitOK || errs != "" {
		t.Errorf("default level: exit %d, stderr %q, want silence", code, errs)
	}
}

// relativeName and otherMachine: this architecture's RELATIVE relocation
// as inspect names it, and another architecture's e_machine.
var (
	relativeName = map[string]string{"amd64": "R_X86_64_RELATIVE", "arm64": "R_AARCH64_RELATIVE"}[runtime.GOARCH]
	otherMachine = map[string]uint16{"amd64": 183, "arm64": 62}[runtime.GOARCH] // EM_AARCH64, EM_X86_64
)
