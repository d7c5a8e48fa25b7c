//go:build linux && (amd64 || arm64) && cgo

package isolate

import "time"

// SparePid returns the pid of the spare child waiting for a plugin (0:
// none), for the tests that check a load took it.
func SparePid(iso *Isolator) int {
	iso.mu.Lock()
	defer iso.mu.Unlock()
	if iso.spare == nil {
		return 0
	}
	return iso.spare.pid
}

// SetLoadedHook makes f see each child's pid once it has loaded its
// plugin, before it is raised from idle priority; the returned function
// removes it.
func SetLoadedHook(f func(pid int)) func() {
	loadedHook = f
	return func() { loadedHook = nil }
}

// SetNotifHook makes f see the name (and an open's path) of each call a
// child's filter sends to the host's listener; the returned function
// removes it. Set it before the Isolator starts a child.
func SetNotifHook(f func(name, path string)) func() {
	notifHook = f
	return func() { notifHook = nil }
}

// IdleStarts is idleStarts.
func IdleStarts() bool { return idleStarts() }

// SetBackgroundGrace sets how long a background start may run idle; the
// returned function restores it.
func SetBackgroundGrace(d time.Duration) func() {
	old := backgroundGrace
	backgroundGrace = d
	return func() { backgroundGrace = old }
}

// ChildUID is the uid and gid a root host's child of pid drops to.
var ChildUID = childUID

// SetIdleStarts makes idleStarts answer v (as a host without
// CAP_SYS_NICE when false); the returned function restores it.
func SetIdleStarts(v bool) func() {
	old := idleStarts
	idleStarts = func() bool { return v }
	return func() { idleStarts = old }
}
