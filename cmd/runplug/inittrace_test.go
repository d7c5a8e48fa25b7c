package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// TestInitAllocates: the command's start builds no tables for work it may
// never do (docs/FIRSTLOAD.md, "Start like a Go program"). The test binary
// is re-run with GODEBUG=inittrace=1, which reports what each package's
// init allocated; a table built again at init (a map, a regexp) in one of
// these packages exceeds its bound.
func TestInitAllocates(t *testing.T) {
	bounds := map[string]int{ // bytes an init may allocate
		"github.com/runplug/runplug/abi":            0,   // C keyword tables are switches
		"github.com/runplug/runplug/internal/ldso":  256, // glibc soname index on first use
		"github.com/runplug/runplug/internal/pcall": 768, // si_code names are static arrays
		"github.com/runplug/runplug/isolate":        768, // seccomp arch tables on first use
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	line := regexp.MustCompile(`(?m)^init (\S+) @.* (\d+) bytes, \d+ allocs$`)
	seen := map[string]bool{}
	for _, m := range line.FindAllSubmatch(out, -1) {
		pkg := string(m[1])
		bound, ok := bounds[pkg]
		if !ok {
			continue
		}
		seen[pkg] = true
		if n, _ := strconv.Atoi(string(m[2])); n > bound {
			t.Errorf("init of %s allocates %d bytes, want at most %d", pkg, n, bound)
		}
	}
	for pkg := range bounds {
		if !seen[pkg] {
			t.Errorf("no inittrace line for %s in:\n%s", pkg, out)
		}
	}
}
