package elfmap_test

import (
	"fmt"
	"slices"

	"github.com/runplug/runplug/elfmap"
)

// List what a shared object needs and defines, as a tool would before
// loading it.
func Example() {
	f, err := elfmap.Open("/lib/x86_64-linux-gnu/libm.so.6")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	fmt.Println("soname", f.SOName(), "needs", f.Needed())
	syms := f.Symbols()
	i := slices.IndexFunc(syms, func(s elfmap.Symbol) bool { return s.Name == "frexp" && !s.Hidden })
	if i < 0 {
		fmt.Println("no frexp")
		return
	}
	fmt.Println(syms[i].Name, syms[i].Version, syms[i].Type, syms[i].Bind)
	// Output:
	// soname libm.so.6 needs [libc.so.6 ld-linux-x86-64.so.2]
	// frexp GLIBC_2.2.5 STT_FUNC STB_WEAK
}
