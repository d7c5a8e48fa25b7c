//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/childrt"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestChildNamespaces: the child's constructor (sandbox's, asked through
// sandbox.EnvEarlyNamespaces, the host forking without CLONE_NEWUSER)
// puts it in user, mount, IPC and UTS namespaces other than the host's,
// maps its uid and gid to the host's with setgroups denied, and in the
// shared network namespace or one of its own as the policy says; the
// Report names exactly those.
func TestChildNamespaces(t *testing.T) {
	own := func(pid int, ns string) string {
		t.Helper()
		path := "/proc/self/ns/" + ns
		if pid != 0 {
			path = fmt.Sprintf("/proc/%d/ns/%s", pid, ns)
		}
		s, err := os.Readlink(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return s
	}
	read := func(pid int, file string) string {
		t.Helper()
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(string(b)), " ")
	}
	for _, tt := range []struct {
		name string
		pol  isolate.Policy
		net  string
	}{
		{"default", isolate.Policy{}, "net-shared"},
		{"sockets", isolate.Policy{Allow: []string{"socket"}}, "net"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, iso := newLoader(t, loader.Options{}, isolate.Options{Policy: tt.pol})
			pid := pluginProc(t, pidOf(t, load(t, l, "isolate_faults")))
			rep := iso.Report()
			want := []string{"user", tt.net, "mount", "ipc", "uts", "pid"}
			if os.Geteuid() == 0 {
				want = want[1:] // a uid of its own instead (TestChildCredentials)
			}
			missing := slices.DeleteFunc(rep.Missing, func(m string) bool { return strings.HasPrefix(m, "cgroup: ") }) // TestChildCgroup's
			if !slices.Equal(rep.Namespaces, want) || len(missing) > 0 {
				// The kernel's refusal (unprivileged user namespaces
				// disabled, or none left) is TestNamespacesRefused's
				// case; any other error (EINVAL: the constructor did not
				// run single-threaded) fails.
				if m := fmt.Sprint(rep.Missing); strings.Contains(m, "unshare: operation not permitted") || strings.Contains(m, "unshare: no space left") {
					testenv.Skipf(t, "namespaces not available here: %+v", rep)
				}
				t.Fatalf("report %+v, want namespaces %v", rep, want)
			}
			env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			if err != nil || !bytes.Contains(env, []byte(childrt.EnvEarlyNamespaces+"=")) {
				t.Fatalf("child not asked for early namespaces (%v)", err)
			}
			for _, ns := range []string{"user", "mnt", "ipc", "uts", "net", "pid"} {
				if ns == "user" && os.Geteuid() == 0 {
					continue
				}
				if mine, its := own(0, ns), own(pid, ns); mine == its {
					t.Errorf("child shares the host's %s namespace %s", ns, its)
				}
			}
			if tt.net == "net-shared" {
				if other := pluginProc(t, pidOf(t, load(t, l, "isolate_faults"))); own(other, "net") != own(pid, "net") {
					t.Errorf("children of a socketless policy in network namespaces %s and %s", own(pid, "net"), own(other, "net"))
				}
			}
			uid, gid := os.Getuid(), os.Getgid()
			if uid == 0 {
				return
			}
			for file, want := range map[string]string{
				"uid_map":   fmt.Sprintf("%d %d 1", uid, uid),
				"gid_map":   fmt.Sprintf("%d %d 1", gid, gid),
				"setgroups": "deny",
			} {
				if got := read(pid, file); got != want {
					t.Errorf("child's %s = %q, want %q", file, got, want)
				}
			}
		})
	}
}

// TestNamespacesRefused: where the kernel refuses the child a user
// namespace (here: its host runs in a user namespace that maps no uid,
// so unshare(CLONE_NEWUSER) fails with EPERM, as where unprivileged user
// namespaces are disabled), the plugin still runs, and the Report says
// which namespaces are missing and why, rather than naming them; with
// Policy.NamespaceFallback only: without it, the load fails and says
// what is missing and what the fallback would lose.
func TestNamespacesRefused(t *testing.T) {
	needKernel(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	plugin := plugintest.Build(t, "isolate_faults")
	strict := exec.Command(exe, "-test.run=^$")
	strict.Env = append(os.Environ(), envTestHost+"="+plugin)
	strict.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	if out, err := strict.Output(); err == nil || !bytes.Contains(out, []byte("namespaces not available")) || !bytes.Contains(out, []byte("Policy.NamespaceFallback")) {
		t.Errorf("host without the fallback: %v, said %q; want the load refused with ErrNoNamespaces", err, out)
	}
	host := exec.Command(exe, "-test.run=^$")
	host.Env = append(os.Environ(), envTestHost+"="+plugin, envTestReport+"=1", envTestFallback+"=1")
	host.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER} // and no uid or gid map
	stdin, _ := host.StdinPipe()
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		testenv.Skipf(t, "no user namespace for the host: %v", err)
	}
	defer func() {
		stdin.Close() // the host exits; its child gets its parent-death signal
		host.Wait()
	}()
	r := bufio.NewReader(out)
	line, _ := r.ReadString('\n')
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("host said %q", line)
	}
	line, _ = r.ReadString('\n')
	rep, err := strconv.Unquote(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("host said %q", line)
	}
	t.Logf("child %d, report %s", pid, rep)
	// The shared network namespace is the host's to make (its spawner
	// thread's unshare), so it may be there or not; the rest is refused.
	missing := "user, net, mount, ipc, uts, pid namespaces: "
	if strings.Contains(rep, "Namespaces:[net-shared]") {
		missing = "user, mount, ipc, uts, pid namespaces: "
	} else if !strings.Contains(rep, "Namespaces:[]") {
		t.Errorf("report %s names namespaces the child did not get", rep)
	}
	for _, want := range []string{"Missing:[" + missing, "unshare: operation not permitted"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report %s lacks %q", rep, want)
		}
	}
	for _, ns := range []string{"user", "mnt", "net"} {
		hostNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", host.Process.Pid, ns))
		childNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if shared := ns == "net" && strings.Contains(rep, "net-shared"); (childNS == hostNS) == shared {
			t.Errorf("child in %s namespace %s, its host in %s; report %s", ns, childNS, hostNS, rep)
		}
	}
}

// TestChildCredentials: in every namespace configuration the child holds
// no capability (effective, permitted, bounding, ambient), has
// no_new_privs, and a root host's child runs as the uid the Report
// names, a uid of its own (two children, two uids), none of root's groups.
func TestChildCredentials(t *testing.T) {
	for _, tt := range []struct {
		name string
		pol  isolate.Policy
	}{
		{"default", isolate.Policy{}},
		{"no-namespaces", isolate.Policy{NoNamespaces: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, iso := newLoader(t, loader.Options{}, isolate.Options{Policy: tt.pol})
			var uids []string
			for range 2 {
				// Every process of the child: in a PID namespace, the
				// two that wait hold nothing either (pidns.c).
				var status map[string]string
				for _, pid := range childTree(t, pidOf(t, load(t, l, "isolate_faults"))) {
					status = procStatus(t, pid)
					for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
						if k == "CapBnd" && tt.pol.NoNamespaces && os.Geteuid() != 0 {
							// Emptying it needs CAP_SETPCAP, which neither the
							// host nor the child has; with no_new_privs and no
							// exec it gives nothing.
							continue
						}
						if status[k] != "0000000000000000" {
							t.Errorf("child process %d %s = %s, want none", pid, k, status[k])
						}
					}
					if status["NoNewPrivs"] != "1" {
						t.Errorf("child process %d NoNewPrivs = %s", pid, status["NoNewPrivs"])
					}
				}
				rep := iso.Report()
				if os.Geteuid() != 0 {
					continue
				}
				want := fmt.Sprintf("%d %d %d %d", rep.UID, rep.UID, rep.UID, rep.UID)
				if rep.UID == 0 || status["Uid"] != want || status["Gid"] != want || status["Groups"] != "" {
					t.Errorf("root host's child: Uid %q, Gid %q, Groups %q; report %+v", status["Uid"], status["Gid"], status["Groups"], rep)
				}
				uids = append(uids, status["Uid"])
			}
			if len(uids) == 2 && uids[0] == uids[1] {
				t.Errorf("two children share uid %s", uids[0])
			}
		})
	}
}

// procStatus returns the fields of /proc/PID/status, blanks folded.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			status[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return status
}

// TestSpareDropsGroupsFirst: a root host's spare, waiting for its plugin
// (no runplug code after its constructor has changed its credentials),
// already has no supplementary group and the gid of its own (the
// constructor dropped them while the process had one thread, so the drop
// before plugin code is the uid alone), keeps uid 0 for the load's
// opens, and of its capabilities CAP_SETUID alone. Any other host's
// spare holds no capability.
func TestSpareDropsGroupsFirst(t *testing.T) {
	needKernel(t)
	iso := isolate.New(isolate.Options{Spare: true})
	defer iso.Close(context.Background())
	if err := iso.Prestart(); err != nil {
		t.Fatal(err)
	}
	pid := isolate.SparePid(iso)
	if pid <= 0 {
		t.Fatal("no spare")
	}
	tree := childTree(t, pid)
	st := procStatus(t, tree[len(tree)-1]) // the plugin's process
	wantCap := "0000000000000000"
	if os.Geteuid() == 0 {
		wantCap = fmt.Sprintf("%016x", 1<<unix.CAP_SETUID)
		gid := fmt.Sprint(isolate.ChildUID(pid))
		if st["Uid"] != "0 0 0 0" || st["Gid"] != strings.Repeat(gid+" ", 3)+gid || st["Groups"] != "" {
			t.Errorf("waiting spare: Uid %q, Gid %q, Groups %q; want uid 0, gid %s, no group", st["Uid"], st["Gid"], st["Groups"], gid)
		}
	}
	if st["CapEff"] != wantCap || st["CapPrm"] != wantCap {
		t.Errorf("waiting spare: CapEff %s, CapPrm %s, want %s", st["CapEff"], st["CapPrm"], wantCap)
	}
}
