//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A background start (priority.go) on a host without CAP_SYS_NICE, which
// could not raise threads it started SCHED_IDLE, runs in a cgroup marked
// idle instead (cgroup v2's cpu.idle, Linux 5.15+): the child's own
// cgroup, with cpu.idle 1 from its clone (CLONE_INTO_CGROUP) until raise
// writes 0, which needs only write access to the file. cpu.idle ranks a
// cgroup against its siblings only, so this one goes beside the host's
// cgroup, where the callers' threads are, not below the Isolator's (there
// it would yield to the serving child alone); it is named after the
// Isolator's, so a dead host's is removed with it (removeStale). Where
// the parent has no cpu controller to give (or an older kernel has no
// cpu.idle), the child goes where any other does and starts at normal
// priority; the Report says why. A host with neither CAP_SYS_NICE nor a
// delegated cgroup starts every child at normal priority.

// newIdleChild makes an idle child's cgroup beside the Isolator's
// cgroup iso, with the policy's limits and cpu.idle 1.
func (cg *cgroups) newIdleChild(iso string, pol Policy) (*childCgroup, error) {
	parent := filepath.Dir(iso)
	if err := enableCPU(parent); err != nil {
		return nil, err
	}
	c, err := cg.makeChild(iso, fmt.Sprintf("%s-idle-%d", iso, cg.seq.Add(1)), pol)
	if err != nil {
		return nil, err
	}
	if err := c.setIdle(true); err != nil {
		c.started()
		os.Remove(c.dir)
		return nil, err
	}
	c.idleMade = true
	return c, nil
}

// enableCPU enables the cpu controller for dir's children, unless it is.
func enableCPU(dir string) error {
	avail, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return err
	}
	if !slices.Contains(strings.Fields(string(avail)), "cpu") {
		return fmt.Errorf("%s: no cpu controller (cgroup.controllers: %q)", dir, strings.TrimSpace(string(avail)))
	}
	file := filepath.Join(dir, "cgroup.subtree_control")
	on, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if slices.Contains(strings.Fields(string(on)), "cpu") {
		return nil
	}
	if err := writeCgroupFile(file, "+cpu"); err != nil {
		return fmt.Errorf("enable +cpu: %w", err)
	}
	return nil
}

// setIdle writes the cgroup's cpu.idle.
func (c *childCgroup) setIdle(idle bool) error {
	v := "0"
	if idle {
		v = "1"
	}
	if err := writeCgroupFile(filepath.Join(c.dir, "cpu.idle"), v); err != nil {
		return fmt.Errorf("cpu.idle: %w", err)
	}
	c.idle.Store(idle)
	return nil
}

// noIdleCgroup notes, once, why background starts run at normal
// priority on this host.
func (iso *Isolator) noIdleCgroup(err error) {
	iso.mu.Lock()
	defer iso.mu.Unlock()
	if iso.idleOff == nil {
		iso.idleOff = err
		iso.log.Warn("background starts at normal priority", "error", err)
	}
}

// idleCgroupOff says why background starts are not put in idle cgroups
// (nil: they are, where the host has cgroups).
func (iso *Isolator) idleCgroupOff() error {
	iso.mu.Lock()
	defer iso.mu.Unlock()
	return iso.idleOff
}

// idleLoses is what a background start without an idle cgroup or
// CAP_SYS_NICE loses.
const idleLoses = "a reload's child starts at normal priority, competing with the serving version's callers for the CPU"
