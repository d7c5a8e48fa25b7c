//go:build linux && cgo

// Command nsctor measures the other way for a child to get its
// namespaces (docs/PERFORMANCE.md, Isolated, Start): not CLONE_NEWUSER at the
// fork, which makes os/exec fork the whole host, but a C constructor in
// the child that runs before the Go runtime starts (the process is still
// single-threaded) and calls unshare and writes its own uid and gid maps,
// while the host starts it with a plain vfork:
//
//	go run ./isolate/testdata/nsctor          # HEAPMB=200 for a big host
//
// It starts itself 40 times in each mode (plain; the namespaces at the
// fork, as isolate did; the namespaces from the constructor, as isolate
// now does with sandbox/nsinit.c) and prints the medians of
// exec.Cmd.Start, of the whole run to exit, and of the constructor's own
// time. It is a measurement, not isolate's code.
package main

/*
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>

static int put(const char *path, const char *s) {
	int fd = open(path, O_WRONLY);
	if (fd < 0) return -1;
	int n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -1 : 0;
}

long long ctor_ns;
int ctor_err;

__attribute__((constructor)) static void nsinit(void) {
	const char *v = getenv("CTOR_NS");
	if (v == NULL) return;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	unsigned uid = getuid(), gid = getgid();
	int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
	if (v[0] == 'n') flags |= CLONE_NEWNET;
	if (unshare(flags) != 0) { ctor_err = 1; return; }
	char buf[64];
	snprintf(buf, sizeof buf, "%u %u 1\n", uid, uid);
	if (put("/proc/self/uid_map", buf)) { ctor_err = 2; return; }
	if (put("/proc/self/setgroups", "deny")) { ctor_err = 3; return; }
	snprintf(buf, sizeof buf, "%u %u 1\n", gid, gid);
	if (put("/proc/self/gid_map", buf)) { ctor_err = 4; return; }
	clock_gettime(CLOCK_MONOTONIC, &b);
	ctor_ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
}
*/
import "C"

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"
)

var ballast [][]byte

func main() {
	if os.Getenv("CTOR_NS") != "" || os.Getenv("CHILD") != "" {
		// the child: report and exit
		fmt.Printf("%d %d\n", int64(C.ctor_ns), int(C.ctor_err))
		os.Exit(0)
	}
	mb, _ := strconv.Atoi(os.Getenv("HEAPMB"))
	for range mb {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		ballast = append(ballast, b)
	}
	for _, mode := range []string{"plain", "clone-ns", "ctor-ns"} {
		var st, tot []time.Duration
		var ctor []int64
		for range 40 {
			cmd := exec.Command("/proc/self/exe")
			a := &syscall.SysProcAttr{Setpgid: true}
			cmd.Env = []string{"CHILD=1"}
			switch mode {
			case "clone-ns":
				a.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS
				a.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}}
				a.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}}
			case "ctor-ns":
				cmd.Env = []string{"CTOR_NS=y"}
			}
			cmd.SysProcAttr = a
			t0 := time.Now()
			out, err := cmd.StdoutPipe()
			if err != nil {
				panic(err)
			}
			if err := cmd.Start(); err != nil {
				panic(err)
			}
			t1 := time.Now()
			var ns int64
			var e int
			fmt.Fscan(out, &ns, &e)
			cmd.Wait()
			if e != 0 {
				panic(fmt.Sprint("ctor error ", e))
			}
			st, tot, ctor = append(st, t1.Sub(t0)), append(tot, time.Since(t0)), append(ctor, ns)
		}
		slices.Sort(st)
		slices.Sort(tot)
		slices.Sort(ctor)
		fmt.Printf("%-9s Start %5.0f µs  to exit %5.0f µs  ctor %4d µs\n", mode, float64(st[20])/1e3, float64(tot[20])/1e3, ctor[20]/1000)
	}
}
