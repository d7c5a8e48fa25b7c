package loader_test

import (
	"context"
	"fmt"
	"log"

	"github.com/runplug/runplug/loader"
)

// A library named without a slash is searched for as dlopen does. One of
// glibc's own, like libm, is the host's copy, called through the sandbox.
func ExampleLoader_Load_byName() {
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	libm, err := l.Load(context.Background(), "libm.so.6")
	if err != nil {
		log.Fatal(err)
	}
	cos, err := libm.Func("cos")
	if err != nil {
		log.Fatal(err)
	}
	v, err := cos.CallFloat(nil, []float64{0})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(libm.Name(), v)
	// Output: libm.so.6 1
}

// Dependencies shows how a library and everything it needs would be
// found, without loading anything (what `runplug ldd` prints).
func ExampleLoader_Dependencies() {
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	root, err := l.Dependencies("libm.so.6")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(root.Name, root.From)
	// Output: libm.so.6 host
}
