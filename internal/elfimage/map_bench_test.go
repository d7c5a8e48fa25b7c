package elfimage

import (
	"os"
	"testing"
)

// BenchmarkMapFile measures MapFile followed by Unmap (parsing and
// planning excluded) for a small plugin and a large real library.
func BenchmarkMapFile(b *testing.B) {
	for _, obj := range benchMapObjects(b) {
		b.Run(obj.name, func(b *testing.B) {
			p, err := NewPlan(obj.file, PlanOptions{})
			if err != nil {
				b.Fatal(err)
			}
			fh, err := os.Open(obj.path)
			if err != nil {
				b.Fatal(err)
			}
			defer fh.Close()
			b.ReportAllocs()
			for b.Loop() {
				im, err := MapFile(p, fh)
				if err != nil {
					b.Fatal(err)
				}
				if err := im.Unmap(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMapBytes is BenchmarkMapFile for an image copied from memory.
func BenchmarkMapBytes(b *testing.B) {
	for _, obj := range benchMapObjects(b) {
		b.Run(obj.name, func(b *testing.B) {
			p, err := NewPlan(obj.file, PlanOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(obj.data)))
			for b.Loop() {
				im, err := MapBytes(p, obj.data)
				if err != nil {
					b.Fatal(err)
				}
				if err := im.Unmap(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNewPlan measures planning alone.
func BenchmarkNewPlan(b *testing.B) {
	for _, obj := range benchMapObjects(b) {
		b.Run(obj.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewPlan(obj.file, PlanOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchMapObjects returns basic.so and libsqlite3 (when installed).
func benchMapObjects(b *testing.B) []mapObject {
	var objs []mapObject
	for _, obj := range mapObjects(b) {
		if obj.name == "basic.so" || obj.name == "libsqlite3.so.0" {
			objs = append(objs, obj)
		}
	}
	return objs
}
