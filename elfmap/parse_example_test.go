package elfmap_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/runplug/runplug/elfmap"
	"github.com/runplug/runplug/internal/elfbuild"
)

// versionedObject builds, in memory, a small shared object that defines
// f@V1 (hidden, the old version), f@@V2 (the default) and an unversioned
// g; a host would read a file with ParseFile instead.
func versionedObject() []byte {
	o, err := elfbuild.Build(elfbuild.Spec{
		Soname: "libexample.so",
		Needed: []string{"libc.so.6"},
		Syms: []elfbuild.Sym{
			{Name: "f", Version: "V1", Hidden: true},
			{Name: "f", Version: "V2"},
			{Name: "g"},
			{Name: "malloc", Undef: true, Version: "GLIBC_2.2.5"},
		},
	})
	if err != nil {
		panic(err)
	}
	return o.Data
}

// Parse an object and look up its symbols the way the dynamic linker
// binds imports: unversioned, at an exact version, or at a version the
// object does not define (which falls back to an unversioned definition).
func ExampleDynamic_Lookup() {
	b := versionedObject()
	f, err := elfmap.Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		fmt.Println(err)
		return
	}
	d := f.Dynamic
	fmt.Println("soname", d.Soname, "needs", d.Needed)
	for _, q := range []struct{ name, version string }{
		{"f", ""}, {"f", "V1"}, {"f", "V2"}, {"f", "V3"}, {"g", "V3"}, {"malloc", ""},
	} {
		i, ok := d.Lookup(q.name, q.version)
		if !ok {
			fmt.Printf("%s@%q: not defined here\n", q.name, q.version)
			continue
		}
		s := d.Symbols[i]
		fmt.Printf("%s@%q: symbol %d, version %q, hidden %v\n", q.name, q.version, i, s.Version, s.Hidden)
	}
	// Output:
	// soname libexample.so needs [libc.so.6]
	// f@"": symbol 3, version "V2", hidden false
	// f@"V1": symbol 2, version "V1", hidden true
	// f@"V2": symbol 3, version "V2", hidden false
	// f@"V3": not defined here
	// g@"V3": symbol 4, version "", hidden false
	// malloc@"": not defined here
}

// A refusal names the field, its file offset and its value, and wraps
// ErrMalformed or ErrUnsupported.
func ExampleFormatError() {
	b := versionedObject()
	b[18] = 183 // e_machine = EM_AARCH64
	_, err := elfmap.Parse(bytes.NewReader(b), int64(len(b)))
	fmt.Println(err)
	var fe *elfmap.FormatError
	if errors.As(err, &fe) {
		fmt.Println(fe.Field, fe.Off, fe.Value, errors.Is(err, elfmap.ErrUnsupported))
	}

	b = versionedObject()
	_, err = elfmap.Parse(bytes.NewReader(b[:200]), 200)
	fmt.Println(errors.Is(err, elfmap.ErrMalformed), err)
	// Output:
	// elfmap: e_machine = 0xb7 at offset 0x12: is EM_AARCH64, this host runs EM_X86_64
	// e_machine 18 183 true
	// true elfmap: e_phoff = 0x40 at offset 0x20: program header table of 5 entries ends beyond the file size 0xc8
}
