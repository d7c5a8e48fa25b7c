package pcall

import (
	"testing"

	"github.com/runplug/runplug/internal/testenv"
)

// needCallbacks skips a test of host callbacks where the port has not
// reached them (issue 24: arm64).
func needCallbacks(t *testing.T) {
	t.Helper()
	testenv.NeedPort(t, CallbacksSupported, "callbacks into Go (thunks in AArch64 code)")
}

// needCallFrame skips a test of the general call where the port has not
// reached it (issue 24: arm64).
func needCallFrame(t *testing.T) {
	t.Helper()
	testenv.NeedPort(t, FramesSupported, "general calls (CallFrame, CallGather: the AAPCS64 frame thunk)")
}
