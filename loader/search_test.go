package loader

import (
	"reflect"
	"testing"
)

func TestSearchPaths(t *testing.T) {
	sys := func(name string) []string {
		var out []string
		for _, d := range systemDirs {
			out = append(out, d+"/"+name)
		}
		return out
	}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name           string
		need           string
		runpath, rpath []string
		origin         string
		extra, ldPath  []string
		want           []string
	}{
		{"a path is the only candidate", "./lib/x.so", []string{"/r"}, nil, "/o", []string{"/e"}, nil, []string{"./lib/x.so"}},
		{"absolute path", "/opt/x.so", nil, nil, "", nil, nil, []string{"/opt/x.so"}},
		{"system dirs only", "libq.so", nil, nil, "", nil, nil, sys("libq.so")},
		{"runpath with $ORIGIN first", "libq.so", []string{"$ORIGIN", "${ORIGIN}/../lib", "/r"}, nil, "/p/plug", nil, nil,
			cat([]string{"/p/plug/libq.so", "/p/lib/libq.so", "/r/libq.so"}, sys("libq.so"))},
		{"rpath ignored when runpath present", "libq.so", []string{"/run"}, []string{"/rp"}, "", nil, nil,
			cat([]string{"/run/libq.so"}, sys("libq.so"))},
		{"rpath used without runpath", "libq.so", nil, []string{"/rp"}, "", nil, nil,
			cat([]string{"/rp/libq.so"}, sys("libq.so"))},
		{"order: runpath, search path, LD_LIBRARY_PATH, system", "libq.so", []string{"/run"}, nil, "", []string{"/extra"}, []string{"/ld"},
			cat([]string{"/run/libq.so", "/extra/libq.so", "/ld/libq.so"}, sys("libq.so"))},
		{"$ORIGIN skipped without an origin", "libq.so", []string{"$ORIGIN/x", "/r"}, nil, "", nil, nil,
			cat([]string{"/r/libq.so"}, sys("libq.so"))},
		{"other tokens skipped", "libq.so", []string{"/a/$LIB", "/b/$PLATFORM", "$ORIGINAL"}, nil, "/o", nil, nil, sys("libq.so")},
		{"empty entries and duplicates dropped", "libq.so", []string{"", "/usr/lib"}, nil, "", []string{"/usr/lib", ""}, nil,
			cat([]string{"/usr/lib/libq.so"}, sys("libq.so")[:5])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := searchPaths(tc.need, tc.runpath, tc.rpath, tc.origin, tc.extra, tc.ldPath)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("searchPaths = %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestSplitList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"/a", []string{"/a"}},
		{"/a::/b:", []string{"/a", "/b"}},
	} {
		if got := splitList(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIsHostLibrary(t *testing.T) {
	for name, want := range map[string]bool{
		"libc.so.6": true, "libm.so.6": true, "ld-linux-x86-64.so.2": true, "libpthread.so.0": true,
		"libz.so.1": false, "libc.so": false, "/lib/x86_64-linux-gnu/libc.so.6": false,
	} {
		if got := isHostLibrary(name); got != want {
			t.Errorf("isHostLibrary(%q) = %v, want %v", name, got, want)
		}
	}
}
