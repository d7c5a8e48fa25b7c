package loader

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"sync"
)

// The state file (docs/STATE.md): a header page, then the slots that hold
// the state itself. The header holds two records, at offsets 0 and 512
// (separate disk sectors); each names one slot, and the valid record with
// the higher generation is the active one. A migration writes the new
// layout into a slot that does not overlap the active one, syncs it, then
// writes the other record with the next generation and syncs again: a
// crash at any point leaves either the old or the new layout active, never
// a mix (a torn record fails its checksum and the other one stands).
//
//	offset size field
//	0      8    magic "RPSTATE1"
//	8      8    generation (higher wins; 0 is never written)
//	16     4    layout version (RUNPLUG_STATE's VERSION)
//	20     4    zero
//	24     8    type size (sizeof TYPE)
//	32     8    slot offset in the file (page-aligned, >= 4096)
//	40     8    slot size (whole pages, >= type size)
//	48     4    CRC-32C of bytes [0, 48)
//	52     12   zero

const (
	stateHeaderSize = 4096
	stateRecordSize = 64
	// maxStateRegion bounds a state region (and so a slot): larger is
	// refused rather than mapped.
	maxStateRegion = 1 << 30
)

// stateRecordOff is where each of the two header records lives.
var stateRecordOff = [2]int64{0, 512}

var stateMagic = [8]byte{'R', 'P', 'S', 'T', 'A', 'T', 'E', '1'}

// castagnoli returns the CRC-32C table of the header records, made at the
// first state file rather than at every process's start.
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// stateRecord is one header record: the layout of the state and where
// its slot is.
type stateRecord struct {
	Gen      uint64
	Version  uint32
	TypeSize uint64
	Off      uint64
	Slot     uint64
}

// marshal encodes r with its checksum.
func (r stateRecord) marshal() []byte {
	b := make([]byte, stateRecordSize)
	copy(b, stateMagic[:])
	binary.LittleEndian.PutUint64(b[8:], r.Gen)
	binary.LittleEndian.PutUint32(b[16:], r.Version)
	binary.LittleEndian.PutUint64(b[24:], r.TypeSize)
	binary.LittleEndian.PutUint64(b[32:], r.Off)
	binary.LittleEndian.PutUint64(b[40:], r.Slot)
	binary.LittleEndian.PutUint32(b[48:], crc32.Checksum(b[:48], castagnoli()))
	return b
}

// parseStateRecord decodes a record from b (a copy: the file may change
// under us) and checks it against a file of fileSize bytes. It returns
// why it is not usable ("" when it is).
func parseStateRecord(b []byte, fileSize int64) (stateRecord, string) {
	var r stateRecord
	if len(b) < stateRecordSize {
		return r, "short record"
	}
	if !bytes.Equal(b[:8], stateMagic[:]) {
		return r, "bad magic"
	}
	if crc32.Checksum(b[:48], castagnoli()) != binary.LittleEndian.Uint32(b[48:]) {
		return r, "bad checksum"
	}
	r.Gen = binary.LittleEndian.Uint64(b[8:])
	r.Version = binary.LittleEndian.Uint32(b[16:])
	r.TypeSize = binary.LittleEndian.Uint64(b[24:])
	r.Off = binary.LittleEndian.Uint64(b[32:])
	r.Slot = binary.LittleEndian.Uint64(b[40:])
	switch {
	case r.Gen == 0:
		return r, "generation 0"
	case r.Slot == 0 || r.Slot > maxStateRegion || r.Slot%stateHeaderSize != 0:
		return r, "slot size is not a whole number of pages up to 1 GiB"
	case r.TypeSize == 0 || r.TypeSize > r.Slot:
		return r, "type size is 0 or larger than the slot"
	case r.Off < stateHeaderSize || r.Off%stateHeaderSize != 0 || r.Off > maxStateRegion*4:
		return r, "slot offset is not a page after the header"
	case fileSize < 0 || r.Off+r.Slot > uint64(fileSize):
		return r, "slot extends past the end of the file"
	}
	return r, ""
}

// activeRecord returns the active record of a header page (a copy), and
// which of the two it is. ok is false when neither record is valid; why
// then says what is wrong with the first one.
func activeRecord(hdr []byte, fileSize int64) (rec stateRecord, which int, why string, ok bool) {
	var rs [2]stateRecord
	var whys [2]string
	for i, off := range stateRecordOff {
		if int(off)+stateRecordSize <= len(hdr) {
			rs[i], whys[i] = parseStateRecord(hdr[off:off+stateRecordSize], fileSize)
		} else {
			whys[i] = "short header"
		}
	}
	switch {
	case whys[0] == "" && (whys[1] != "" || rs[0].Gen >= rs[1].Gen):
		return rs[0], 0, "", true
	case whys[1] == "":
		return rs[1], 1, "", true
	}
	return stateRecord{}, 0, whys[0], false
}

// nextSlotOff returns where a migration writes a slot of size n beside
// the active one (off, size): before it when it fits between the header
// and it, else right after it.
func nextSlotOff(active stateRecord, n uint64) uint64 {
	if stateHeaderSize+n <= active.Off {
		return stateHeaderSize
	}
	return active.Off + active.Slot
}
