package testenv

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB that records what Skipf asked for instead of
// stopping the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skip(args ...any)                  { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestSkipfSkipsLocallyAndFailsInCI(t *testing.T) {
	t.Setenv(RequireAllEnv, "")
	r := &recorder{TB: t}
	Skipf(r, "no %s", "gdb")
	if r.skipped != "no gdb" || r.failed != "" {
		t.Errorf("without %s: skipped %q, failed %q; want a skip", RequireAllEnv, r.skipped, r.failed)
	}
	t.Setenv(RequireAllEnv, "1")
	r = &recorder{TB: t}
	Skipf(r, "no %s", "gdb")
	if r.failed == "" { // (a real Fatalf would not return to reach the Skip)
		t.Errorf("with %s=1: skipped %q, failed %q; want a failure", RequireAllEnv, r.skipped, r.failed)
	}
}

func TestLookPathAndNeedFile(t *testing.T) {
	t.Setenv(RequireAllEnv, "1")
	r := &recorder{TB: t}
	if p := LookPath(r, "go", "the Go toolchain"); p == "" || r.failed != "" {
		t.Errorf("LookPath(go) = %q, failed %q", p, r.failed)
	}
	LookPath(r, "no-such-tool-runplug", "nothing")
	if r.failed == "" {
		t.Error("LookPath of a missing tool did not fail under RUNPLUG_REQUIRE_ALL=1")
	}
	r = &recorder{TB: t}
	NeedFile(r, "/no/such/file", "nothing")
	if r.failed == "" {
		t.Error("NeedFile of a missing file did not fail under RUNPLUG_REQUIRE_ALL=1")
	}
}
