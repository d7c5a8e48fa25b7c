package pcall

import "encoding/binary"

// encodeThunk writes a callback thunk for id into t (thunkSize bytes);
// its entry cell lies cell bytes after the thunk's start (less than 1 MiB,
// the reach of a literal load):
//
//	movz w17, #(ID & 0xffff)
//	movk w17, #(ID >> 16), lsl #16
//	ldr  x16, cell
//	br   x16
//	brk  #0 up to 32 bytes
//
// x16 and x17 (IP0, IP1) are the intra-procedure-call scratch registers,
// which no argument uses (callback_arm64.S); the entry begins with a BTI
// landing pad that admits a br through x16.
func encodeThunk(t []byte, id uint32, cell int) {
	put := func(i int, w uint32) { binary.LittleEndian.PutUint32(t[4*i:], w) }
	put(0, 0x52800011|(id&0xffff)<<5)                // movz w17, #lo
	put(1, 0x72a00011|(id>>16)<<5)                   // movk w17, #hi, lsl #16
	put(2, 0x58000010|uint32((cell-8)/4)&0x7ffff<<5) // ldr x16, [pc + cell - 8]
	put(3, 0xd61f0200)                               // br x16
	for i := 4; i < thunkSize/4; i++ {
		put(i, 0xd4200000) // brk #0
	}
}
