// Package ldso describes what the system's dynamic linker (glibc's ld.so)
// does when it looks for a shared library, so that runplug's loader, its
// sandbox and its command all follow one policy:
//
//   - [IsGlibc] and [GlibcLibraries]: the one list of glibc's own libraries,
//     which runplug never loads itself (the host process's copies are used,
//     through glibc);
//   - [ParseCache] and [ReadCache]: /etc/ld.so.cache, both the
//     "glibc-ld.so.cache1.1" format and the old "ld.so-1.7.0" one, parsed
//     as hostile input (every index and length is checked; a bad file gets
//     a [*CacheError]);
//   - [Search]: the order in which ld.so tries the places a DT_NEEDED name
//     may be (elf/dl-load.c, _dl_map_object, glibc 2.36): DT_RPATH when there
//     is no DT_RUNPATH, LD_LIBRARY_PATH, DT_RUNPATH, the cache, the default
//     directories; with $ORIGIN and the glibc-hwcaps subdirectories
//     (x86-64-v4, -v3, -v2, as the CPU supports them, see [HwcapsSubdirs]).
//
// The package is pure Go, with no cgo and no unsafe, and builds on every
// GOOS and GOARCH; outside linux/amd64 [HwcapsSubdirs] is empty.
//
// Not followed, with the reason:
//
//   - Legacy hwcaps subdirectories (tls, x86_64, haswell, avx512_1):
//     deprecated in glibc 2.33 and removed in 2.37; no Debian or Ubuntu
//     package installs libraries there.
//   - Dynamic string tokens other than $ORIGIN ($LIB, $PLATFORM): an entry
//     using one is skipped.
//   - Empty path entries, which ld.so takes as the current directory: they
//     are skipped (a plugin's search should not depend on the host's
//     working directory).
//   - The executable's own DT_RPATH: the host is a Go program, which has
//     none.
//   - Secure (setuid) mode, which ignores LD_LIBRARY_PATH: the host decides
//     what it passes as [Search].LibraryPath.
package ldso
