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
	ctx := context.Background()
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	libm, err := l.Load(ctx, "libm.so.6")
	if err != nil {
		log.Fatal(err)
	}
	f, err := libm.Func("cos")
	if err != nil {
		log.Fatal(err)
	}
	cos, err := loader.Bind1[float64, float64](f)
	if err != nil {
		log.Fatal(err)
	}
	v, err := cos(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(libm.Name(), v)
	// Output: libm.so.6 1
}

// Dependencies shows how a library and everything it needs would be
// found, without loading anything (what `runplug ldd` prints).
func ExampleLoader_Dependencies() {
	ctx := context.Background()
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	root, err := l.Dependencies("libm.so.6")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(root.Name, root.From)
	// Output: libm.so.6 host
}
