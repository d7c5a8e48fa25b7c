package plugintest

import (
	"encoding/binary"
	"os"
)

// FuzzSeedPlugins names, per fuzz target, the test plugins whose images
// seed it, cut before their section headers (WithoutSections). The fuzz
// targets add them with f.Add when they run; `go generate` in internal/elfimage and
// loader (internal/cmd/fuzzseeds) commits them under testdata/fuzz, so that
// the normal suite replays them without a compiler.
var FuzzSeedPlugins = map[string][]string{
	"FuzzParse": {"basic", "parse_hashboth"},
	"FuzzLink":  {"basic", "reloc_types", "ifunc", "ver_lib", "tls_basic"},
}

// WithoutSections returns a copy of the ELF image b cut where its section
// header table begins, with e_shoff, e_shnum and e_shstrndx zeroed: all a
// loader reads of it, and a smaller seed.
func WithoutSections(b []byte) []byte {
	b = append([]byte(nil), b...)
	if len(b) < 64 {
		return b
	}
	le := binary.LittleEndian
	if shoff := le.Uint64(b[40:]); shoff > 0 && shoff < uint64(len(b)) {
		b = b[:shoff]
		le.PutUint64(b[40:], 0)
		le.PutUint16(b[60:], 0)
		le.PutUint16(b[62:], 0)
	}
	return b
}

// SeedImage builds plugin name and returns its image WithoutSections.
func SeedImage(name string) ([]byte, error) {
	path, err := BuildErr(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return WithoutSections(b), nil
}
