package pcall

// The general call's register image on arm64 (callframe_arm64.S).
const (
	// GatherRegs is the number of register words of a GatherMove's Dst:
	// x0..x7, then d0..d7; from here on Dst is a stack word.
	GatherRegs = 16
	// sretInArgReg: a result in memory has its address in x8, not in an
	// argument register.
	sretInArgReg = false
	// GatherVec is the Dst of the first vector register, d0 (words 6 and 7 before it are x6 and x7).
	GatherVec = 8
	// maxGatherConv: the arm64 thunk takes GatherStackAddr and
	// GatherHigh moves.
	maxGatherConv = GatherHigh
	// vecResults: an HFA result comes back in v0..v3.
	vecResults = 4
	// vecHiResults: with QuadRegs, the high halves of v0..v3 come back
	// too (long doubles, IEEE binary128).
	vecHiResults = 4
	// cbMoreWords: the words a callback entry saves beyond Args (x6, x7, x8 and a word that keeps the frame 16-byte aligned, then the high halves of v0-v7).
	cbMoreWords = 4 + cbVecHighs
	// cbVecHighs: the high halves of v0-v7 a callback entry saves.
	cbVecHighs = 8
)
