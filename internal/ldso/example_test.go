package ldso_test

import (
	"fmt"

	"github.com/runplug/runplug/internal/ldso"
)

func ExampleIsGlibc() {
	for _, n := range []string{"libm.so.6", "/usr/lib/x86_64-linux-gnu/libresolv.so.2", "libcrypt.so.1", "libz.so.1"} {
		fmt.Println(n, ldso.IsGlibc(n))
	}
	// Output:
	// libm.so.6 true
	// /usr/lib/x86_64-linux-gnu/libresolv.so.2 true
	// libcrypt.so.1 false
	// libz.so.1 false
}

func ExampleSearch_Candidates() {
	s := &ldso.Search{
		LibraryPath: ldso.SplitPath("/opt/app/lib"),
		CachePath:   "none", // no ld.so cache, for a fixed output
		Hwcaps:      []string{"x86-64-v2"},
		Dirs:        []string{"/usr/lib"},
	}
	plugin := &ldso.Needer{Runpath: []string{"$ORIGIN/deps"}, Origin: "/srv/plugins"}
	for _, c := range s.Candidates("libfoo.so.1", plugin) {
		fmt.Printf("%-17s %s\n", c.From, c.Path)
	}
	// Output:
	// LD_LIBRARY_PATH   /opt/app/lib/glibc-hwcaps/x86-64-v2/libfoo.so.1
	// LD_LIBRARY_PATH   /opt/app/lib/libfoo.so.1
	// DT_RUNPATH        /srv/plugins/deps/glibc-hwcaps/x86-64-v2/libfoo.so.1
	// DT_RUNPATH        /srv/plugins/deps/libfoo.so.1
	// default directory /usr/lib/glibc-hwcaps/x86-64-v2/libfoo.so.1
	// default directory /usr/lib/libfoo.so.1
}
