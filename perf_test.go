package runplug_test

// Memory figures of the performance work: what 1,000 live instances of a
// tiny plugin cost, and that two processes loading one plugin file share
// its clean text pages through the page cache.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/sysmaps"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/loader"
)

// procUsage returns the process's mapping count and resident set size.
func procUsage(tb testing.TB) (maps int, rss int64) {
	tb.Helper()
	ms, err := sysmaps.Read()
	if err != nil {
		tb.Fatal(err)
	}
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		tb.Fatal(err)
	}
	pages, err := strconv.ParseInt(strings.Fields(string(statm))[1], 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return len(ms), pages * int64(os.Getpagesize())
}

// loadLive loads n live instances of the tiny plugin with l and calls each
// once (touching its text and data), returning them.
func loadLive(tb testing.TB, l *loader.Loader, path string, n int) []*loader.Plugin {
	tb.Helper()
	pls := make([]*loader.Plugin, 0, n)
	for i := 0; i < n; i++ {
		p, err := l.Load(context.Background(), path)
		if err != nil {
			tb.Fatal(err)
		}
		f, err := p.Func("tiny_add")
		if err != nil {
			tb.Fatal(err)
		}
		if got, err := f.Call(context.Background(), uint64(i), 1); err != nil || got != uint64(i)+2 {
			tb.Fatalf("instance %d: tiny_add(%d, 1) = %d, %v; want %d", i, i, got, err, i+2)
		}
		pls = append(pls, p)
	}
	return pls
}

// TestLiveInstancesCost loads 200 live instances of the tiny plugin: each
// must cost a bounded number of mappings (its guards and segment pieces)
// and a bounded amount of resident memory (its private data pages, not a
// copy of its text).
func TestLiveInstancesCost(t *testing.T) {
	const n = 200
	path := plugintest.Build(t, "bench_tiny")
	l := newLoader(t, loader.Options{})
	maps0, rss0 := procUsage(t)
	pls := loadLive(t, l, path, n)
	maps1, rss1 := procUsage(t)
	perMaps := float64(maps1-maps0) / n
	perRSS := float64(rss1-rss0) / n
	t.Logf("%d live instances: %.2f mappings and %.0f bytes of RSS each", n, perMaps, perRSS)
	// bench_tiny has 4 PT_LOADs; with RELRO split off and two guards an
	// instance is at most 7 mappings.
	if perMaps > 7 {
		t.Errorf("%.2f mappings per instance, want at most 7", perMaps)
	}
	// Private pages: the two data pages written by relocation, plus Go
	// bookkeeping; a copied text or file would be far more.
	if limit := float64(8 * os.Getpagesize()); perRSS > limit {
		t.Errorf("%.0f bytes of RSS per instance, want at most %.0f", perRSS, limit)
	}
	for _, p := range pls {
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkLiveInstances loads 1,000 live instances of the tiny plugin,
// reports what they cost (mappings, resident memory, per instance) and
// closes them again.
func BenchmarkLiveInstances(b *testing.B) {
	const n = 1000
	path := plugintest.Build(b, "bench_tiny")
	var dMaps int
	var dRSS int64
	for b.Loop() {
		l := loader.New(loader.Options{})
		maps0, rss0 := procUsage(b)
		pls := loadLive(b, l, path, n)
		maps1, rss1 := procUsage(b)
		dMaps, dRSS = maps1-maps0, rss1-rss0
		for _, p := range pls {
			if err := p.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(dMaps), "mappings/1000")
	b.ReportMetric(float64(dRSS)/1024, "RSS-KiB/1000")
	b.ReportMetric(float64(dRSS)/n, "RSS-B/instance")
}

// smapsEntry is one mapping of /proc/PID/smaps with the fields the sharing
// test reads (in kB).
type smapsEntry struct {
	header                    string
	perms, path               string
	sharedClean, privateClean int64
	sharedDirty, privateDirty int64
}

func readSmaps(pid int) ([]smapsEntry, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []smapsEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") { // a mapping header
			e := smapsEntry{header: line, perms: fields[1]}
			if len(fields) >= 6 {
				e.path = fields[5]
			}
			out = append(out, e)
			continue
		}
		if len(out) == 0 || len(fields) < 2 {
			continue
		}
		v, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		e := &out[len(out)-1]
		switch fields[0] {
		case "Shared_Clean:":
			e.sharedClean = v
		case "Private_Clean:":
			e.privateClean = v
		case "Shared_Dirty:":
			e.sharedDirty = v
		case "Private_Dirty:":
			e.privateDirty = v
		}
	}
	return out, sc.Err()
}

// textMapping returns the r-x mapping of path in pid's smaps.
func textMapping(pid int, path string) (smapsEntry, error) {
	es, err := readSmaps(pid)
	if err != nil {
		return smapsEntry{}, err
	}
	for _, e := range es {
		if e.path == path && e.perms == "r-xp" {
			return e, nil
		}
	}
	return smapsEntry{}, fmt.Errorf("no r-xp mapping of %s in /proc/%d/smaps", path, pid)
}

const shareChildEnv = "RUNPLUG_SHARE_CHILD"

// TestTextSharedAcrossProcesses loads the tiny plugin here and in a second
// process (this test binary again) and checks that its text pages are
// clean and shared by both: Shared_Clean in each process's r-x mapping of
// the file, nothing dirty.
func TestTextSharedAcrossProcesses(t *testing.T) {
	// qemu-user maps a guest's code as it likes (not r-xp in smaps).
	testenv.NeedNative(t, "the kernel's own mappings of plugin text")
	if path := os.Getenv(shareChildEnv); path != "" {
		shareChild(t, path)
		return
	}
	path := plugintest.Build(t, "bench_tiny")
	l := newLoader(t, loader.Options{})
	loadLive(t, l, path, 1)
	before, err := textMapping(os.Getpid(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("before the second process: %s Shared_Clean %d kB, Private_Clean %d kB", before.perms, before.sharedClean, before.privateClean)

	cmd := exec.Command(os.Args[0], "-test.run=^TestTextSharedAcrossProcesses$")
	cmd.Env = append(os.Environ(), shareChildEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("second process: %v", err)
		}
	}()
	// The child prints "ready" once its instance is loaded and called.
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if sc.Text() == "ready" {
			ready = true
			break
		}
	}
	if !ready {
		t.Fatal("second process did not get ready")
	}
	for _, pid := range []int{os.Getpid(), cmd.Process.Pid} {
		e, err := textMapping(pid, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("pid %d: %s Shared_Clean %d kB, Private_Clean %d kB, dirty %d kB", pid, e.header, e.sharedClean, e.privateClean, e.sharedDirty+e.privateDirty)
		if e.sharedClean == 0 {
			t.Errorf("pid %d: the plugin's text is not shared (Shared_Clean 0 kB)", pid)
		}
		if e.sharedDirty+e.privateDirty != 0 {
			t.Errorf("pid %d: the plugin's text has %d kB of dirty pages", pid, e.sharedDirty+e.privateDirty)
		}
	}
}

// shareChild is the second process: load, call, say ready, wait for the
// parent to close stdin.
func shareChild(t *testing.T, path string) {
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	loadLive(t, l, path, 1)
	fmt.Println("ready")
	buf := make([]byte, 1)
	os.Stdin.Read(buf)
}
