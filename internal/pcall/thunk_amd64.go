package pcall

import "encoding/binary"

// encodeThunk writes a callback thunk for id into t (thunkSize bytes);
// its entry cell lies cell bytes after the thunk's start:
//
//	41 bb ID(4)     movl $ID, %r11d
//	ff 25 DISP(4)   jmp *cell(%rip)
//	cc...           int3 up to 32 bytes
//
// r11 is a scratch register that no argument uses (callback_amd64.S).
func encodeThunk(t []byte, id uint32, cell int) {
	t[0], t[1] = 0x41, 0xbb
	binary.LittleEndian.PutUint32(t[2:], id)
	t[6], t[7] = 0xff, 0x25
	binary.LittleEndian.PutUint32(t[8:], uint32(cell-12))
	for j := 12; j < thunkSize; j++ {
		t[j] = 0xcc
	}
}
