//go:build linux && amd64 && cgo

package isolate_test

import (
	"fmt"

	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
	"github.com/runplug/runplug/sandbox"
)

// Example loads the system's libz in a confined child process and calls
// crc32 with a buffer that crosses through shared memory.
func Example() {
	const libz = "/lib/x86_64-linux-gnu/libz.so.1" // .ci/run installs zlib1g
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{})})
	defer l.Close()
	p, err := l.Load(libz)
	if err != nil {
		fmt.Println(err)
		return
	}
	crc32, err := p.Func("crc32")
	if err != nil {
		fmt.Println(err)
		return
	}
	data := []byte("hello")
	// crc32(0, data, len(data)): the buffer's address in the child goes
	// in register 1.
	r, err := crc32.CallBuffers(nil, &sandbox.Args{Int: [6]uint64{0, 0, uint64(len(data))}},
		loader.Buffer{Slot: 1, Data: data})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Int)
	// Output: 907060870
}
