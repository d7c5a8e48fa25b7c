package loader_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/loader"
)

// Bind a plugin function to a typed Go function: arguments and results are
// converted by type, the signature is checked once, here.
func ExampleBind2() {
	path, err := buildPlugin("host_types")
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
	mulf, err := loader.Bind2[float32, float32, float32](p, "mulf") // float mulf(float, float)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(mulf(1.5, -4))

	strCmp, err := loader.Bind2[string, string, int32](p, "str_cmp") // int32_t str_cmp(const char *, const char *)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := strCmp("runplug", "runplug")
	fmt.Println(c, err)

	// An unsupported signature is refused at bind time.
	_, err = loader.Bind1[[]byte, int32](p, "str_len")
	fmt.Println(errors.Is(err, loader.ErrSignature))

	// A fault in the plugin is the call's error.
	crash, _ := loader.Bind1[int32, int32](p, "crash_null")
	_, err = crash(1)
	var fe *pcall.FaultError
	fmt.Println(errors.As(err, &fe), fe.Symbol[:len("crash_null")])
	// Output:
	// -6 <nil>
	// 0 <nil>
	// true
	// true crash_null
}

// Bind with reflect, for any mix of up to 6 integer and 8 float arguments.
func ExampleBind() {
	path, err := buildPlugin("host_types")
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
	var store func(int64) error
	var load func() (int64, error)
	if err := loader.Bind(p, "store", &store); err != nil {
		fmt.Println(err)
		return
	}
	if err := loader.Bind(p, "load", &load); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(store(-7))
	fmt.Println(load())
	// Output:
	// <nil>
	// -7 <nil>
}
