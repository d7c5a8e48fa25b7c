//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCgroup lays out a cgroup directory as cgroupfs shows it: its
// control files exist (a write to one that does not fails, as there).
func fakeCgroup(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIsolatorCgroup: the Isolator's cgroup goes beside the host's own
// (below it when the host is in the root cgroup), with memory and pids
// enabled where they were not; a parent without either controller, or
// where a directory cannot be made, gives an error that names it (the
// Report's Missing), never a cgroup.
func TestIsolatorCgroup(t *testing.T) {
	for _, tt := range []struct {
		name     string
		self     string
		avail    string // the parent's cgroup.controllers
		enabled  string // its cgroup.subtree_control
		blocked  bool   // a file where the new directory would go
		wantDir  string // relative to the root; "" for an error
		wantErr  string
		wantCtrl string // what was written to the parent's subtree_control
	}{
		{name: "beside the host's", self: "/system.slice/host.service", avail: "cpu memory pids", enabled: "memory pids",
			wantDir: "system.slice/runplug-1-1", wantCtrl: "memory pids"},
		{name: "controllers enabled", self: "/a/b", avail: "memory pids io", enabled: "io",
			wantDir: "a/runplug-1-1", wantCtrl: "+memory +pids"},
		{name: "host in the root cgroup", self: "/", avail: "memory pids", enabled: "",
			wantDir: "runplug-1-1", wantCtrl: "+memory +pids"},
		{name: "no pids controller", self: "/a/b", avail: "cpu memory", wantErr: "no pids controller"},
		{name: "no directory", self: "/a/b", avail: "memory pids", enabled: "memory pids", blocked: true, wantErr: "runplug-1-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			parent := filepath.Join(root, tt.self)
			if tt.self != "/" {
				parent = filepath.Dir(parent)
			}
			fakeCgroup(t, parent, map[string]string{"cgroup.controllers": tt.avail + "\n", "cgroup.subtree_control": tt.enabled + "\n"})
			if tt.blocked {
				os.WriteFile(filepath.Join(parent, "runplug-1-1"), nil, 0o644)
			}
			// A made directory is cgroupfs's with its files: this test
			// writes them for the kernel.
			cgroupMade = func(d string) { fakeCgroup(t, d, map[string]string{"cgroup.subtree_control": ""}) }
			defer func() { cgroupMade = nil }()
			dir, err := makeIsolatorCgroup(root, tt.self, "runplug-1-1")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || dir != "" {
					t.Fatalf("dir %q, error %v; want an error naming %q", dir, err, tt.wantErr)
				}
				return
			}
			if err != nil || dir != filepath.Join(root, tt.wantDir) {
				t.Fatalf("dir %q, %v; want %s", dir, err, tt.wantDir)
			}
			if b, _ := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control")); strings.TrimSpace(string(b)) != tt.wantCtrl {
				t.Errorf("parent's subtree_control %q, want %q", b, tt.wantCtrl)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control")); string(b) != "+memory +pids" {
				t.Errorf("its subtree_control %q, want the controllers for its children", b)
			}
		})
	}
}

// TestChildCgroupLimits: a child's cgroup gets memory.max = Memory (the
// default when 0), pids.max = Threads and the two waiters, and no swap;
// an OOM kill is read back from memory.events; removal
// kills what is left and removes the directory.
func TestChildCgroupLimits(t *testing.T) {
	dir := t.TempDir()
	var cg cgroups
	next := filepath.Join(dir, "child-1")
	cgroupMade = func(d string) {
		fakeCgroup(t, d, map[string]string{"memory.max": "", "memory.swap.max": "", "pids.max": "",
			"cgroup.kill": "", "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n", "cgroup.events": "populated 0\nfrozen 0\n"})
	}
	defer func() { cgroupMade = nil }()
	c, err := cg.newChild(dir, Policy{Memory: 2 << 30, Threads: 64})
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"memory.max": "2147483648", "memory.swap.max": "0", "pids.max": "66"} {
		if b, _ := os.ReadFile(filepath.Join(next, file)); string(b) != want {
			t.Errorf("%s = %q, want %q", file, b, want)
		}
	}
	if c.fd < 0 {
		t.Error("no directory descriptor for CLONE_INTO_CGROUP")
	}
	if n := c.oomKills(); n != 1 {
		t.Errorf("oomKills = %d, want 1", n)
	}
	// A plain directory with files is not empty, so rmdir fails with
	// ENOTEMPTY, not EBUSY: the error names the cgroup.
	if err := c.remove(context.Background()); err == nil || !strings.Contains(err.Error(), next) {
		t.Errorf("remove: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(next, "cgroup.kill")); string(b) != "1" {
		t.Errorf("cgroup.kill = %q, want 1", b)
	}
	if c.fd != -1 {
		t.Error("directory descriptor left open")
	}
	if _, err := cg.newChild(filepath.Join(dir, "missing"), Policy{}); err == nil {
		t.Error("a child cgroup in a missing directory")
	}
}

// TestOwnCgroup: the cgroup v2 line of /proc/self/cgroup, and an error
// naming the file where there is none (cgroup v1 alone).
func TestOwnCgroup(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ content, want string }{
		{"0::/user.slice/session-1.scope\n", "/user.slice/session-1.scope"},
		{"9:name=systemd:/\n4:memory:/x\n0::/\n", "/"},
		{"4:memory:/x\n", ""},
	} {
		file := filepath.Join(dir, "cgroup")
		os.WriteFile(file, []byte(tt.content), 0o644)
		got, err := ownCgroup(file)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("%q: %q, %v; want %q", tt.content, got, err, tt.want)
		}
	}
}

// TestIdleChildCgroup: a background start's cgroup (no CAP_SYS_NICE)
// goes beside the Isolator's, with cpu enabled in their parent, the
// policy's limits and cpu.idle 1, which setIdle(false) clears; a parent
// without the cpu controller (or a kernel without cpu.idle) gives an
// error naming it and leaves no directory.
func TestIdleChildCgroup(t *testing.T) {
	for _, tt := range []struct {
		name, avail string
		cpuIdle     bool // the kernel gives cpu.idle (5.15+)
		wantErr     string
		noDir       bool // refused before making one (a made one is removed, which a fake tree's files prevent)
	}{
		{name: "delegated", avail: "cpu memory pids", cpuIdle: true},
		{name: "no cpu controller", avail: "memory pids", cpuIdle: true, wantErr: "no cpu controller", noDir: true},
		{name: "no cpu.idle", avail: "cpu memory pids", wantErr: "cpu.idle"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			fakeCgroup(t, parent, map[string]string{"cgroup.controllers": tt.avail + "\n", "cgroup.subtree_control": "\n"})
			group := filepath.Join(parent, "runplug-1-1")
			cgroupMade = func(d string) {
				files := map[string]string{"memory.max": "", "memory.swap.max": "", "pids.max": ""}
				if tt.cpuIdle {
					files["cpu.idle"] = "0"
				}
				fakeCgroup(t, d, files)
			}
			defer func() { cgroupMade = nil }()
			var cg cgroups
			c, err := cg.newIdleChild(group, Policy{Threads: 8})
			want := filepath.Join(parent, "runplug-1-1-idle-1")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tt.wantErr)
				}
				if _, err := os.Stat(want); tt.noDir && !os.IsNotExist(err) {
					t.Errorf("%s left behind: %v", want, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.started()
			if c.dir != want || c.group != group || !c.idleMade || !c.idle.Load() {
				t.Fatalf("cgroup %s of %s (idle made %v, idle %v), want %s beside the Isolator's", c.dir, c.group, c.idleMade, c.idle.Load(), want)
			}
			if b, _ := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control")); !strings.HasPrefix(string(b), "+cpu") {
				t.Errorf("parent's subtree_control %q, want +cpu", b)
			}
			for file, v := range map[string]string{"cpu.idle": "1", "pids.max": "10"} {
				if b, _ := os.ReadFile(filepath.Join(want, file)); string(b) != v {
					t.Errorf("%s = %q, want %q", file, b, v)
				}
			}
			if err := c.setIdle(false); err != nil || c.idle.Load() {
				t.Fatalf("setIdle(false): %v, idle %v", err, c.idle.Load())
			}
			if b, _ := os.ReadFile(filepath.Join(want, "cpu.idle")); string(b) != "0" {
				t.Errorf("cpu.idle = %q after raising, want 0", b)
			}
		})
	}
}
