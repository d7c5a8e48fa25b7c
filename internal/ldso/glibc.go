package ldso

import (
	"path"
	"strings"
	"sync"
)

// glibcLibraries are the sonames of the libraries glibc itself builds and
// installs on x86-64, in a fixed order, libc first. The source: glibc's
// shlib-versions file (the libraries and their soname versions, glibc 2.36)
// and the file list of Debian 12's libc6 package (`dpkg -L libc6`), which
// ships all of them but libnss_db (glibc builds it; Debian leaves it out).
//
// Not in the list, on purpose:
//   - libcrypt.so.1: since glibc 2.36 distributions build it from
//     libxcrypt (Debian 12: package libcrypt1), not glibc; glibc 2.39
//     removed its own. It is an ordinary library runplug loads itself.
//   - libnss_* modules of other projects (libnss_systemd, libnss_mdns*,
//     libnss_sss, libnss_winbind, ...): a pattern "libnss_*" would take
//     them for glibc's; they are ordinary libraries that need libc.
//   - libgcc_s.so.1, which shlib-versions names but GCC builds.
//   - libnss_ldap.so.2 and libSegFault.so: no longer built (removed in
//     glibc 2.x and 2.35).
var glibcLibraries = []string{
	"libc.so.6",
	"libm.so.6",
	"libpthread.so.0",
	"libdl.so.2",
	"librt.so.1",
	path.Base(Interp), // ld-linux-x86-64.so.2, ld-linux-aarch64.so.1
	"libresolv.so.2",
	"libanl.so.1",
	"libutil.so.1",
	"libmvec.so.1",
	"libBrokenLocale.so.1",
	"libthread_db.so.1",
	"libc_malloc_debug.so.0",
	"libnsl.so.1",
	"libnss_files.so.2",
	"libnss_dns.so.2",
	"libnss_compat.so.2",
	"libnss_hesiod.so.2",
	"libnss_db.so.2",
	// Preloadable profiling helpers (no DT_SONAME; named by file name).
	"libmemusage.so",
	"libpcprofile.so",
}

// glibcSet indexes glibcLibraries, built on first use (not at init: a
// process that never loads a plugin never asks).
var glibcSet = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool, len(glibcLibraries))
	for _, n := range glibcLibraries {
		m[n] = true
	}
	return m
})

// GlibcLibraries returns the sonames of glibc's own libraries,
// libc.so.6 first. The slice is a copy.
func GlibcLibraries() []string {
	return append([]string(nil), glibcLibraries...)
}

// IsGlibc reports whether name, a DT_NEEDED entry, a soname or a path, names
// one of glibc's own libraries. For a path only the last element counts:
// whether the file at that path is the host's copy is the caller's
// question (see [Search.Find]).
func IsGlibc(name string) bool {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return glibcSet()[name]
}

// glibcStems are the names of glibcLibraries up to ".so" ("libresolv"),
// built on first use.
var glibcStems = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool, len(glibcLibraries))
	for _, n := range glibcLibraries {
		m[soStem(n)] = true
	}
	return m
})

// soStem returns name up to its ".so" ("libz.so.1" -> "libz").
func soStem(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.Index(name, ".so"); i >= 0 {
		return name[:i]
	}
	return name
}

// HasGlibcStem reports whether name (a path or a file name) has the stem
// of one of glibc's libraries ("libresolv.so", the development link to
// libresolv.so.2): it may be another name for it. A cheap test before
// resolving links.
func HasGlibcStem(name string) bool { return glibcStems()[soStem(name)] }
