//go:build !arm64

package pcall

// The general call's register image on amd64 (callframe_amd64.S).
const (
	// GatherRegs is the number of register words of a GatherMove's Dst:
	// rdi..r9, then xmm0..xmm7; from here on Dst is a stack word.
	GatherRegs = 14
	// sretInArgReg: a result in memory has its address in rdi, the first
	// integer argument register.
	sretInArgReg = true
	// maxGatherConv: SysV passes nothing by reference, so the amd64
	// thunk takes no GatherStackAddr move.
	maxGatherConv = GatherF32F64
	// GatherVec is the Dst of the first vector register, xmm0.
	GatherVec = 6
	// vecResults: a result comes back in at most xmm0 and xmm1.
	vecResults = 2
	// vecHiResults: no result comes back in a register's high half (a
	// long double comes back in st0).
	vecHiResults = 0
	// cbMoreWords: the words a callback entry saves beyond Args (none: Args holds every argument register).
	cbMoreWords = 0
	// cbVecHighs: none (a long double never travels in xmm registers).
	cbVecHighs = 0
)
