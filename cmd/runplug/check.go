package main

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/loader"
)

// `runplug check` loads and closes each shared object in a child process
// of its own (this binary, re-run in the hidden mode checkChildCmd), so
// that a crash or a hang is the child's, reported, and the next object
// starts clean. The child writes its verdict as one JSON line to file
// descriptor 3: what libraries print on stdout cannot be taken for it.

// checkChildCmd is the hidden subcommand a child runs:
// `runplug __check-child runplug|dlopen PATH`.
const checkChildCmd = "__check-child"

// Outcomes of one load.
const (
	outOK      = "ok"
	outRefused = "refused"
	outCrashed = "crashed"
	outTimeout = "timeout"
	outExited  = "exited" // the child exited without a verdict (a library's constructor called exit)
)

// childVerdict is what a child reports on fd 3.
type childVerdict struct {
	OK    bool   `json:"ok"`
	Kind  string `json:"kind,omitempty"` // the refusal's kind (refusalKind)
	Error string `json:"error,omitempty"`
}

// LoadResult is the outcome of one load of one object, by one loader.
type LoadResult struct {
	Outcome string `json:"outcome"`          // ok, refused, crashed, timeout or exited
	Kind    string `json:"kind,omitempty"`   // refused: the reason's kind; crashed: the signal
	Reason  string `json:"reason,omitempty"` // refused: the error
}

// CheckResult is one object's line of the report.
type CheckResult struct {
	Path    string      `json:"path"`
	Runplug LoadResult  `json:"runplug"`
	Dlopen  *LoadResult `json:"dlopen,omitempty"` // --against-dlopen only
	// Mismatch: glibc's dlopen loads it and runplug does not.
	Mismatch bool `json:"mismatch,omitempty"`
}

// CheckSummary counts the report.
type CheckSummary struct {
	Objects     int            `json:"objects"`
	SkippedELF  int            `json:"skipped_not_elf"`
	SkippedType int            `json:"skipped_not_shared_object"`
	Runplug     map[string]int `json:"runplug"`          // by outcome
	Refusals    map[string]int `json:"runplug_refusals"` // by kind
	Dlopen      map[string]int `json:"dlopen,omitempty"` // by outcome
	DlopenOK    int            `json:"dlopen_ok,omitempty"`
	BothOK      int            `json:"both_ok,omitempty"` // of DlopenOK, how many runplug loads
	Mismatches  int            `json:"mismatches,omitempty"`
	// MismatchKinds counts the mismatches by runplug's refusal kind.
	MismatchKinds map[string]int `json:"mismatch_kinds,omitempty"`
}

// CheckReport is `runplug check --json`'s output.
type CheckReport struct {
	Results []CheckResult `json:"results"`
	Summary CheckSummary  `json:"summary"`
}

// checkOptions configure a check run.
type checkOptions struct {
	againstDlopen bool
	timeout       time.Duration
	workers       int
	exe           string // the binary to re-run as a child
	childArgs     []string
	// progress, when not nil, gets a count of the objects done, one
	// carriage-return-separated update per object (a terminal: see
	// progressWriter).
	progress io.Writer
}

// runCheck is `runplug check`.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs, level := newFlagSet("check")
	asJSON := fs.Bool("json", false, "print one JSON object")
	against := fs.Bool("against-dlopen", false, "also dlopen each object (in a child) and compare")
	timeout := fs.Duration("timeout", 10*time.Second, "time allowed to each child, a `DURATION` (10s, 1m)")
	if _, err := parseFlags(fs, level, args, stdout, stderr); err != nil {
		return flagExit(err)
	}
	if fs.NArg() == 0 {
		return usageError(stderr, "check", "want at least one PATH")
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(stderr, fmt.Errorf("check: %w", err))
	}
	opt := checkOptions{againstDlopen: *against, timeout: *timeout, workers: runtime.GOMAXPROCS(0), exe: exe, progress: progressWriter(stderr)}
	rep, err := check(fs.Args(), opt)
	if err != nil {
		return fail(stderr, fmt.Errorf("check: %w", err))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail(stderr, fmt.Errorf("check: %w", err))
		}
	} else {
		printCheck(stdout, rep, opt.againstDlopen)
	}
	return checkStatus(rep, opt.againstDlopen)
}

// checkStatus is 0 when every object loads under runplug (with
// --against-dlopen: every object glibc's dlopen loads), else 1.
func checkStatus(rep *CheckReport, against bool) int {
	for _, r := range rep.Results {
		if against && r.Mismatch || !against && r.Runplug.Outcome != outOK {
			return exitError
		}
	}
	return exitOK
}

// check finds the objects under paths and checks each.
func check(paths []string, opt checkOptions) (*CheckReport, error) {
	objs, sum, err := findObjects(paths)
	if err != nil {
		return nil, err
	}
	rep := &CheckReport{Results: make([]CheckResult, len(objs)), Summary: sum}
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex // guards done and the progress writer
	done := 0
	tick := func() {
		if opt.progress == nil {
			return
		}
		mu.Lock()
		done++
		fmt.Fprintf(opt.progress, "\rcheck: %d/%d objects", done, len(objs))
		if done == len(objs) {
			fmt.Fprint(opt.progress, "\r\033[K") // the count gives way to the report
		}
		mu.Unlock()
	}
	for i := 0; i < max(opt.workers, 1); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				r := &rep.Results[j]
				r.Path = objs[j]
				r.Runplug = runChild(opt, "runplug", objs[j])
				if opt.againstDlopen {
					d := runChild(opt, "dlopen", objs[j])
					r.Dlopen = &d
					r.Mismatch = d.Outcome == outOK && r.Runplug.Outcome != outOK
				}
				tick()
			}
		}()
	}
	for j := range objs {
		work <- j
	}
	close(work)
	wg.Wait()
	summarize(rep)
	return rep, nil
}

// progressWriter returns w when it is a terminal (check's count is for a
// person watching), else nil: a pipe or a file gets the report alone.
func progressWriter(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		return w
	}
	return nil
}

// findObjects walks paths (files or directories, recursively; symbolic
// links to files are followed, to directories not) and returns each
// distinct ELF shared object once (by device and inode), sorted, counting
// the files skipped.
func findObjects(paths []string) ([]string, CheckSummary, error) {
	var sum CheckSummary
	type fileID struct{ dev, ino uint64 }
	seen := map[fileID]bool{}
	var out []string
	consider := func(p string) {
		st, err := os.Stat(p) // follows a link to a file
		if err != nil || !st.Mode().IsRegular() {
			return
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			id := fileID{uint64(sys.Dev), uint64(sys.Ino)}
			if seen[id] {
				return
			}
			seen[id] = true
		}
		switch elfType(p) {
		case -1:
			sum.SkippedELF++
		case int(elf.ET_DYN):
			out = append(out, p)
		default:
			sum.SkippedType++
		}
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, sum, err
		}
		if !st.IsDir() {
			consider(root)
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // an unreadable directory: skip it
			}
			if !d.IsDir() {
				consider(p)
			}
			return nil
		})
		if err != nil {
			return nil, sum, err
		}
	}
	sort.Strings(out)
	sum.Objects = len(out)
	return out, sum, nil
}

// elfType returns the e_type of an ELFCLASS64 file, -1 when p is not ELF.
func elfType(p string) int {
	f, err := os.Open(p)
	if err != nil {
		return -1
	}
	defer f.Close()
	var h [18]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:4]) != elf.ELFMAG {
		return -1
	}
	if h[elf.EI_CLASS] != byte(elf.ELFCLASS64) || h[elf.EI_DATA] != byte(elf.ELFDATA2LSB) {
		return 0 // another class: not one of ours, counted with the other types
	}
	return int(h[16]) | int(h[17])<<8
}

// runChild runs one child (mode "runplug" or "dlopen") on path.
func runChild(opt checkOptions, mode, path string) LoadResult {
	ctx, cancel := context.WithTimeout(context.Background(), opt.timeout)
	defer cancel()
	pr, pw, err := os.Pipe()
	if err != nil {
		return LoadResult{Outcome: outRefused, Kind: "check", Reason: err.Error()}
	}
	defer pr.Close()
	args := append(append([]string(nil), opt.childArgs...), checkChildCmd, mode, path)
	cmd := exec.CommandContext(ctx, opt.exe, args...)
	cmd.ExtraFiles = []*os.File{pw}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a signal to the terminal is not theirs
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		pw.Close()
		return LoadResult{Outcome: outRefused, Kind: "check", Reason: err.Error()}
	}
	pw.Close()
	out, _ := io.ReadAll(io.LimitReader(pr, 64<<10))
	werr := cmd.Wait()
	if ctx.Err() != nil {
		return LoadResult{Outcome: outTimeout, Reason: fmt.Sprintf("no verdict within %v", opt.timeout)}
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return LoadResult{Outcome: outCrashed, Kind: pcall.SignalName(ws.Signal())}
	}
	var v childVerdict
	line, _, _ := bytes.Cut(out, []byte("\n"))
	if err := json.Unmarshal(line, &v); err != nil {
		return LoadResult{Outcome: outExited, Reason: fmt.Sprintf("the child ended (%v) without a verdict", werr)}
	}
	if v.OK {
		return LoadResult{Outcome: outOK}
	}
	return LoadResult{Outcome: outRefused, Kind: v.Kind, Reason: v.Error}
}

// runCheckChild is the hidden child mode: load and close one object, then
// write the verdict on fd 3.
func runCheckChild(args []string, _, stderr io.Writer) int {
	if len(args) != 2 {
		return usageError(stderr, checkChildCmd, "want runplug|dlopen PATH")
	}
	out := os.NewFile(3, "verdict")
	if out == nil {
		return exitUsage
	}
	var err error
	switch args[0] {
	case "runplug":
		l := loader.New(loader.Options{})
		var p *loader.Plugin
		if p, err = l.Load(context.Background(), args[1]); err == nil {
			err = p.Close(context.Background())
		}
		if cerr := l.Close(context.Background()); err == nil {
			err = cerr
		}
	case "dlopen":
		err = dlopenAndClose(args[1])
	default:
		return usageError(stderr, checkChildCmd, "want runplug|dlopen PATH")
	}
	v := childVerdict{OK: err == nil}
	if err != nil {
		v.Kind, v.Error = refusalKind(err), err.Error()
	}
	b, _ := json.Marshal(v)
	out.Write(append(b, '\n'))
	out.Close()
	return exitOK
}

// refusalKind names the kind of a load's error, for the summary.
func refusalKind(err error) string {
	var fe *loader.FaultError
	switch {
	case errors.Is(err, loader.ErrTLS) && strings.Contains(err.Error(), "static"):
		return "tls-static"
	case errors.Is(err, loader.ErrTLS):
		return "tls"
	case errors.Is(err, elfimage.ErrExecutable):
		return "executable"
	case errors.Is(err, loader.ErrNotFound):
		return "not-found"
	case errors.Is(err, loader.ErrSymbolNotFound):
		return "undefined-symbol"
	case errors.As(err, &fe):
		return "fault"
	case errors.Is(err, elfimage.ErrMalformed):
		return "malformed"
	case errors.Is(err, elfimage.ErrUnsupported):
		return "unsupported"
	case errors.Is(err, errDlopen):
		return "dlopen"
	case errors.Is(err, dlsvc.ErrNotHostLibrary):
		return "host-library" // glibc's dlopen of one of its own libraries failed
	}
	return "other"
}

// errDlopen wraps the error of glibc's dlopen in a child.
var errDlopen = errors.New("dlopen failed")

// summarize fills rep.Summary's counts.
func summarize(rep *CheckReport) {
	s := &rep.Summary
	s.Runplug, s.Refusals = map[string]int{}, map[string]int{}
	for _, r := range rep.Results {
		s.Runplug[r.Runplug.Outcome]++
		if r.Runplug.Outcome == outRefused {
			s.Refusals[r.Runplug.Kind]++
		}
		if r.Dlopen == nil {
			continue
		}
		if s.Dlopen == nil {
			s.Dlopen, s.MismatchKinds = map[string]int{}, map[string]int{}
		}
		s.Dlopen[r.Dlopen.Outcome]++
		if r.Dlopen.Outcome == outOK {
			s.DlopenOK++
			if r.Runplug.Outcome == outOK {
				s.BothOK++
			}
		}
		if r.Mismatch {
			s.Mismatches++
			k := r.Runplug.Outcome
			if r.Runplug.Kind != "" {
				k += ":" + r.Runplug.Kind
			}
			s.MismatchKinds[k]++
		}
	}
}

// printCheck prints one line per object and the summary.
func printCheck(w io.Writer, rep *CheckReport, against bool) {
	for _, r := range rep.Results {
		line := fmt.Sprintf("%-8s %s", strings.ToUpper(r.Runplug.Outcome), oneLine(r.Path))
		if r.Runplug.Kind != "" {
			line += " [" + r.Runplug.Kind + "]"
		}
		if r.Runplug.Reason != "" {
			line += ": " + oneLine(r.Runplug.Reason)
		}
		if r.Dlopen != nil {
			line += " (dlopen: " + r.Dlopen.Outcome
			if r.Dlopen.Kind != "" && r.Dlopen.Outcome != outRefused {
				line += " " + r.Dlopen.Kind
			}
			line += ")"
			if r.Mismatch {
				line += " MISMATCH"
			}
		}
		fmt.Fprintln(w, line)
	}
	s := &rep.Summary
	fmt.Fprintf(w, "%d shared objects (skipped: %d not ELF, %d not ELFCLASS64 ET_DYN); runplug: %s",
		s.Objects, s.SkippedELF, s.SkippedType, counts(s.Runplug))
	if len(s.Refusals) > 0 {
		fmt.Fprintf(w, "; refused by kind: %s", counts(s.Refusals))
	}
	fmt.Fprintln(w)
	if against {
		fmt.Fprintf(w, "dlopen: %s; runplug loads %d of the %d dlopen loads; %d mismatches", counts(s.Dlopen), s.BothOK, s.DlopenOK, s.Mismatches)
		if len(s.MismatchKinds) > 0 {
			fmt.Fprintf(w, " (%s)", counts(s.MismatchKinds))
		}
		fmt.Fprintln(w)
	}
}

// counts formats a count map as "a 3, b 1", largest first.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
