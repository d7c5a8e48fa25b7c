//go:build linux

// Command nsstart measures what each new namespace adds to starting a
// process with os/exec, as isolate starts its children (docs/PERFORMANCE.md,
// Isolated, Start):
//
//	go run ./isolate/testdata/nsstart [-n 60] [-heap 0] [-gap 0] [program]
//
// For each set of CLONE_NEW* flags it starts program (/bin/true) n times,
// one after the other, and prints the median time of exec.Cmd.Start
// (until the exec succeeded) and of Start and Wait. -heap touches that
// many MiB of Go heap first: with CLONE_NEWUSER os/exec cannot use
// vfork, and the fork copies the host's page tables. -gap waits between
// starts (a network namespace is torn down by a kernel worker after its
// last process exits).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

var ballast [][]byte // the -heap MiB, kept alive

func main() {
	n := flag.Int("n", 60, "starts per set of flags")
	heap := flag.Int("heap", 0, "MiB of Go heap to touch first")
	gap := flag.Duration("gap", 0, "pause between starts")
	flag.Parse()
	prog := "/bin/true"
	if flag.NArg() > 0 {
		prog = flag.Arg(0)
	}
	for range *heap {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		ballast = append(ballast, b)
	}
	const user = syscall.CLONE_NEWUSER
	sets := []struct {
		name  string
		flags uintptr
		nomap bool // CLONE_NEWUSER without uid/gid maps (no handshake)
	}{
		{"none", 0, false},
		{"user, no maps", user, true},
		{"user", user, false},
		{"user+net", user | syscall.CLONE_NEWNET, false},
		{"user+mount", user | syscall.CLONE_NEWNS, false},
		{"user+ipc", user | syscall.CLONE_NEWIPC, false},
		{"user+uts", user | syscall.CLONE_NEWUTS, false},
		{"all", user | syscall.CLONE_NEWNET | syscall.CLONE_NEWNS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS, false},
		{"all but net", user | syscall.CLONE_NEWNS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS, false},
	}
	for _, s := range sets {
		var start, total []time.Duration
		for range *n {
			cmd := exec.Command(prog)
			a := &syscall.SysProcAttr{Setpgid: true, Cloneflags: s.flags}
			if s.flags&user != 0 && !s.nomap {
				a.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}}
				a.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}}
			}
			cmd.SysProcAttr = a
			t0 := time.Now()
			if err := cmd.Start(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", s.name, err)
				break
			}
			t1 := time.Now()
			cmd.Wait()
			start, total = append(start, t1.Sub(t0)), append(total, time.Since(t0))
			time.Sleep(*gap)
		}
		if len(start) == 0 {
			continue
		}
		slices.Sort(start)
		slices.Sort(total)
		fmt.Printf("%-14s Start %6.0f µs   Start+Wait %6.0f µs\n", s.name,
			float64(start[len(start)/2])/1e3, float64(total[len(total)/2])/1e3)
	}
}
