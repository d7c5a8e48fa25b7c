package loader

import (
	"testing"
)

// header returns a header page with records a and b (nil: left zero).
func header(a, b []byte) []byte {
	h := make([]byte, stateHeaderSize)
	copy(h[stateRecordOff[0]:], a)
	copy(h[stateRecordOff[1]:], b)
	return h
}

func TestActiveRecord(t *testing.T) {
	r1 := stateRecord{Gen: 1, Version: 1, TypeSize: 16, Off: 4096, Slot: 4096}
	r2 := stateRecord{Gen: 2, Version: 2, TypeSize: 32, Off: 8192, Slot: 4096}
	torn := r2.marshal()
	torn[20] ^= 1 // a write cut short: the checksum fails
	tests := []struct {
		name  string
		hdr   []byte
		size  int64
		want  stateRecord
		which int
		ok    bool
	}{
		{"first only", header(r1.marshal(), nil), 8192, r1, 0, true},
		{"second newer", header(r1.marshal(), r2.marshal()), 12288, r2, 1, true},
		{"first newer", header(r2.marshal(), r1.marshal()), 12288, r2, 0, true},
		{"torn new record keeps the old", header(r1.marshal(), torn), 12288, r1, 0, true},
		{"new slot past the end keeps the old", header(r1.marshal(), r2.marshal()), 8192, r1, 0, true},
		{"none", header(nil, nil), 8192, stateRecord{}, 0, false},
		{"short", []byte("RPSTATE1"), 8192, stateRecord{}, 0, false},
	}
	for _, tt := range tests {
		got, which, why, ok := activeRecord(tt.hdr, tt.size)
		if ok != tt.ok || got != tt.want || which != tt.which {
			t.Errorf("%s: %+v %d %v (%s), want %+v %d %v", tt.name, got, which, ok, why, tt.want, tt.which, tt.ok)
		}
	}
}

func TestNextSlotOff(t *testing.T) {
	tests := []struct {
		active stateRecord
		n      uint64
		want   uint64
	}{
		{stateRecord{Off: 4096, Slot: 4096}, 4096, 8192},
		{stateRecord{Off: 8192, Slot: 4096}, 4096, 4096},
		{stateRecord{Off: 8192, Slot: 4096}, 8192, 12288},
	}
	for _, tt := range tests {
		if got := nextSlotOff(tt.active, tt.n); got != tt.want {
			t.Errorf("nextSlotOff(%+v, %d) = %d, want %d", tt.active, tt.n, got, tt.want)
		}
		if got := nextSlotOff(tt.active, tt.n); got < tt.active.Off+tt.active.Slot && got+tt.n > tt.active.Off {
			t.Errorf("new slot [%d,+%d) overlaps the active one", got, tt.n)
		}
	}
}

// FuzzStateHeader feeds header pages (as a hostile process could write
// them) to activeRecord: never a panic, and a record it accepts always
// describes a slot inside the file, after the header, of whole pages.
func FuzzStateHeader(f *testing.F) {
	r1 := stateRecord{Gen: 1, Version: 1, TypeSize: 16, Off: 4096, Slot: 4096}
	r2 := stateRecord{Gen: 7, Version: 3, TypeSize: 5000, Off: 8192, Slot: 8192}
	f.Add(header(r1.marshal(), nil), int64(8192))
	f.Add(header(r1.marshal(), r2.marshal()), int64(16384))
	f.Add(header(nil, r2.marshal()), int64(4096))
	f.Add([]byte("RPSTATE1"), int64(0))
	f.Fuzz(func(t *testing.T, hdr []byte, size int64) {
		rec, which, _, ok := activeRecord(hdr, size)
		if !ok {
			return
		}
		end := rec.Off + rec.Slot
		if which < 0 || which > 1 || rec.Gen == 0 || rec.Off < stateHeaderSize || rec.Off%stateHeaderSize != 0 ||
			rec.Slot == 0 || rec.Slot%stateHeaderSize != 0 || rec.Slot > maxStateRegion ||
			rec.TypeSize == 0 || rec.TypeSize > rec.Slot || end < rec.Off || end > uint64(size) {
			t.Fatalf("accepted %+v (record %d) for a file of %d bytes", rec, which, size)
		}
	})
}
