package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// TestMain lets the test binary serve as `runplug check`'s child: check
// re-runs os.Executable(), which under `go test` is this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == checkChildCmd {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// expectedMismatch is THE ONE PLACE that says which objects glibc's dlopen
// may load and runplug may refuse, on a corpus of real libraries: none.
// (Objects with static TLS were the last such; they load since runplug
// takes their room from glibc's static TLS surplus.)
func expectedMismatch(r CheckResult) bool { return false }

func testCheckOptions(t *testing.T, against bool, timeout time.Duration) checkOptions {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return checkOptions{againstDlopen: against, timeout: timeout, workers: 2, exe: exe}
}

// TestCheckOutcomes: one object of each outcome, the files skipped, and
// the exit status.
func TestCheckOutcomes(t *testing.T) {
	testenv.NeedNative(t, "check's verdicts within 2 s per object (qemu-user is too slow)")
	dir := t.TempDir()
	link := func(name string) string {
		p := filepath.Join(dir, name+".so")
		if err := os.Symlink(plugintest.Build(t, name), p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	basic := link("basic")
	hang := link("check_hang")
	textrel := link("reloc_textrel")
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not ELF"), 0o644)
	os.Symlink(basic, filepath.Join(dir, "zz-again.so")) // the same file: counted once, by its first name
	rep, err := check([]string{dir}, testCheckOptions(t, true, 2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]CheckResult{}
	for _, r := range rep.Results {
		got[r.Path] = r
	}
	if len(rep.Results) != 3 || rep.Summary.SkippedELF != 1 {
		t.Fatalf("results %+v, summary %+v", rep.Results, rep.Summary)
	}
	want := map[string][2]string{
		basic:   {outOK, outOK},
		hang:    {outTimeout, outTimeout},
		textrel: {outRefused, outOK}, // glibc applies text relocations
	}
	for p, w := range want {
		r := got[p]
		if r.Runplug.Outcome != w[0] || r.Dlopen == nil || r.Dlopen.Outcome != w[1] {
			t.Errorf("%s: runplug %+v, dlopen %+v; want %s, %s", filepath.Base(p), r.Runplug, r.Dlopen, w[0], w[1])
		}
	}
	if r := got[textrel]; !r.Mismatch || r.Runplug.Kind != "unsupported" || !strings.Contains(r.Runplug.Reason, "DT_TEXTREL") {
		t.Errorf("textrel: %+v", r)
	}
	if checkStatus(rep, true) != exitError {
		t.Error("exit status 0 with a mismatch")
	}
	var out bytes.Buffer
	printCheck(&out, rep, true)
	if !strings.Contains(out.String(), "3 shared objects (skipped: 1 not ELF") || !strings.Contains(out.String(), "1 mismatches") {
		t.Errorf("report:\n%s", out.String())
	}
}

// TestCheckCommand runs the command itself (flags, JSON, exit status) on
// one good plugin.
func TestCheckCommand(t *testing.T) {
	testenv.NeedNative(t, "check's verdicts within 2 s per object (qemu-user is too slow)")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check", "--json", "--against-dlopen", plugintest.Build(t, "basic")}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep CheckReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Objects != 1 || rep.Summary.BothOK != 1 {
		t.Errorf("summary %+v", rep.Summary)
	}
}

// TestCheckSystemLibraries is the regression net against real libraries:
// every shared object under /lib/x86_64-linux-gnu (plugin directories
// included), each loaded in a child by runplug and by glibc's dlopen. No
// crash, no hang, and runplug loads everything dlopen loads but the
// expectedMismatch objects. Under -short or -race a bounded sample.
func TestCheckSystemLibraries(t *testing.T) {
	testenv.NeedNative(t, "check's verdicts within 2 s per object (qemu-user is too slow)")
	const root = "/lib/x86_64-linux-gnu"
	testenv.NeedFile(t, root, "libc6")
	objs, _, err := findObjects([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	if n := sampleSize(); n < len(objs) {
		step := len(objs) / n
		var s []string
		for i := 0; i < len(objs); i += step {
			s = append(s, objs[i])
		}
		objs = s
	}
	start := time.Now()
	rep, err := check(objs, testCheckOptions(t, true, 20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Summary
	t.Logf("%d objects in %v: runplug %v, refusals %v; dlopen %v; runplug loads %d of the %d dlopen loads; mismatches %v",
		s.Objects, time.Since(start).Round(time.Millisecond), s.Runplug, s.Refusals, s.Dlopen, s.BothOK, s.DlopenOK, s.MismatchKinds)
	for _, r := range rep.Results {
		switch {
		case abnormal(r.Runplug) && !(r.Dlopen != nil && r.Dlopen.Outcome == r.Runplug.Outcome):
			// A crash, a hang, or a child that died without a verdict
			// (a Go panic), unless glibc's loader met the same (a
			// constructor that calls exit, say).
			t.Errorf("%s: runplug %s %s %s", r.Path, r.Runplug.Outcome, r.Runplug.Kind, r.Runplug.Reason)
		case r.Mismatch && !expectedMismatch(r):
			t.Errorf("MISMATCH %s: dlopen loads it, runplug: %s [%s] %s", r.Path, r.Runplug.Outcome, r.Runplug.Kind, r.Runplug.Reason)
		case r.Mismatch:
			t.Logf("expected mismatch %s: %s", r.Path, r.Runplug.Kind)
		}
	}
	if s.DlopenOK == 0 || s.BothOK == 0 {
		t.Errorf("nothing loaded: %+v", s)
	}
}

// abnormal reports a load that neither succeeded nor was refused.
func abnormal(r LoadResult) bool {
	return r.Outcome == outCrashed || r.Outcome == outTimeout || r.Outcome == outExited
}

// fullSurveyEnv, set to 1, makes TestCheckSystemLibraries check every
// object of the corpus (.ci/run sets it for the plain test run): the whole
// corpus takes minutes on a loaded machine, too long for every go test.
const fullSurveyEnv = "RUNPLUG_FULL_SURVEY"

// sampleSize bounds the corpus of TestCheckSystemLibraries: an even sample
// by default and under -short, everything with RUNPLUG_FULL_SURVEY=1, and
// a smaller sample under -race, whose children (this test binary, built
// with the race detector) take about a second each to start and load.
func sampleSize() int {
	switch {
	case raceEnabled:
		return 16
	case os.Getenv(fullSurveyEnv) == "1" && !testing.Short():
		return 1 << 30
	}
	return 60
}

// TestCheckProgress: on a terminal check counts the objects done on
// standard error, ending at the total; to a pipe it writes the report
// alone (runCmd's stderr is a buffer: no terminal).
func TestCheckProgress(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"basic", "ctor_only"} {
		if err := os.Symlink(plugintest.Build(t, name), filepath.Join(dir, name+".so")); err != nil {
			t.Fatal(err)
		}
	}
	var prog bytes.Buffer
	opt := testCheckOptions(t, false, time.Minute)
	opt.progress = &prog
	if _, err := check([]string{dir}, opt); err != nil {
		t.Fatal(err)
	}
	if got := prog.String(); !strings.Contains(got, "\rcheck: 1/2 objects") || !strings.Contains(got, "\rcheck: 2/2 objects") {
		t.Errorf("progress %q, want counts up to 2/2", got)
	}
	// The verdicts do not matter here (a loaded machine may time a child
	// out): only that a pipe gets no progress.
	_, out, errs := runCmd(t, "check", "--timeout", "1m", dir)
	if errs != "" || !strings.Contains(out, "2 shared objects") {
		t.Errorf("check to a pipe: stdout %q, stderr %q, want the report alone", out, errs)
	}
}
