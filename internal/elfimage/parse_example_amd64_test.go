package elfimage_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/runplug/runplug/internal/elfimage"
)

// libc is the C library of a Debian or Ubuntu x86-64 system: a real object
// with versioned symbols.
const libc = "/lib/x86_64-linux-gnu/libc.so.6"

// Parse an object and look up its symbols the way the dynamic linker
// binds imports: unversioned, at an exact version, or at a version the
// object does not define (which falls back to an unversioned definition).
func ExampleDynamic_Lookup() {
	f, err := elfimage.ParseFile(libc)
	if err != nil {
		fmt.Println(err)
		return
	}
	d := f.Dynamic
	fmt.Println("soname", d.Soname, "needs", d.Needed)
	for _, q := range []struct{ name, version string }{
		{"memcpy", ""}, {"memcpy", "GLIBC_2.2.5"}, {"memcpy", "GLIBC_2.14"}, {"memcpy", "GLIBC_9.99"}, {"no_such_function", ""},
	} {
		i, ok := d.Lookup(q.name, q.version)
		if !ok {
			fmt.Printf("%s@%q: not defined here\n", q.name, q.version)
			continue
		}
		s := d.Symbols[i]
		fmt.Printf("%s@%q: version %q, hidden %v\n", q.name, q.version, s.Version, s.Hidden)
	}
	// Output:
	// soname libc.so.6 needs [ld-linux-x86-64.so.2]
	// memcpy@"": version "GLIBC_2.14", hidden false
	// memcpy@"GLIBC_2.2.5": version "GLIBC_2.2.5", hidden true
	// memcpy@"GLIBC_2.14": version "GLIBC_2.14", hidden false
	// memcpy@"GLIBC_9.99": not defined here
	// no_such_function@"": not defined here
}

// A refusal names the field, its file offset and its value, and wraps
// ErrMalformed or ErrUnsupported.
func ExampleFormatError() {
	b, err := os.ReadFile(libc)
	if err != nil {
		fmt.Println(err)
		return
	}
	b[18] = 183 // e_machine = EM_AARCH64
	_, err = elfimage.Parse(bytes.NewReader(b), int64(len(b)))
	fmt.Println(err)
	var fe *elfimage.FormatError
	if errors.As(err, &fe) {
		fmt.Println(fe.Field, fe.Off, fe.Value, errors.Is(err, elfimage.ErrUnsupported))
	}

	b[18] = 62 // EM_X86_64 again; cut the file short
	_, err = elfimage.Parse(bytes.NewReader(b[:200]), 200)
	if errors.As(err, &fe) {
		fmt.Println(fe.Field, errors.Is(err, elfimage.ErrMalformed))
	}
	// Output:
	// elfmap: e_machine = 0xb7 at offset 0x12: is EM_AARCH64, this host runs EM_X86_64
	// e_machine 18 183 true
	// e_phoff true
}
