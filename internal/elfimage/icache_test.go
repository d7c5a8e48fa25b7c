package elfimage

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestSyncICache runs the cache maintenance over ranges that start and
// end inside cache lines and pages, span pages, and are empty: it must
// touch exactly the lines of the range (a line past it would fault on the
// PROT_NONE page that follows). That it makes written code run is shown
// by every MapBytes of an executable segment that a test then calls.
func TestSyncICache(t *testing.T) {
	ps := uintptr(PageSize())
	r, err := reserve(3*ps, ps, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.release()
	if err := r.mapAnon(0, 2*ps, unix.PROT_READ|unix.PROT_WRITE, 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ off, n uintptr }{
		{0, 0}, {0, 1}, {3, 61}, {60, 8}, {ps - 4, 8}, {0, 2 * ps}, {ps + 1, ps - 1},
	} {
		if err := r.syncCode(tc.off, tc.n); err != nil {
			t.Errorf("syncCode(%#x, %#x): %v", tc.off, tc.n, err)
		}
	}
	if err := r.syncCode(ps, 3*ps); err == nil {
		t.Errorf("syncCode past the reservation succeeded")
	}
}
