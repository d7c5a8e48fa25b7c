package loader_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/runplug/runplug/loader"
)

// A fault in plugin code is the call's error: errors.As gives its
// evidence, and the plugin is quarantined.
func ExampleFaultError() {
	path, err := buildPlugin("faults")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	p, err := l.Load(context.Background(), path)
	if err != nil {
		fmt.Println(err)
		return
	}
	crash, _ := p.Func("fault_null_read")
	_, err = crash.Call()
	var fe *loader.FaultError
	if errors.As(err, &fe) {
		fn, _, _ := strings.Cut(fe.Symbol, "+")
		fmt.Println(fe.Signal == syscall.SIGSEGV, fe.Addr, fe.Where, fn, fe.Plugin)
	}
	ok, _ := p.Func("faults_ok")
	_, err = ok.Call(1, 2)
	fmt.Println(errors.Is(err, loader.ErrQuarantined))
	// Output:
	// true 0 not mapped fault_null_read faults.so
	// true
}

// A library that is nowhere to be found is a *NotFoundError naming it and
// the paths tried; errors.Is tells it apart with ErrNotFound.
func ExampleNotFoundError() {
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	_, err := l.Load(context.Background(), "/nonexistent/libnope.so")
	var nf *loader.NotFoundError
	if errors.As(err, &nf) {
		fmt.Println(nf.Name, nf.Tried)
	}
	fmt.Println(errors.Is(err, loader.ErrNotFound), errors.Is(err, loader.ErrSymbolNotFound))
	// Output:
	// /nonexistent/libnope.so [/nonexistent/libnope.so]
	// true false
}
