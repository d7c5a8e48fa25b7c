package ldso

// What glibc's ld.so is called and where it looks on Debian's x86-64
// (multiarch triplet x86_64-linux-gnu).
const (
	// Multiarch is Debian's multiarch triplet: libraries live in
	// /lib/Multiarch and /usr/lib/Multiarch.
	Multiarch = "x86_64-linux-gnu"
	// Interp is the dynamic linker's path (PT_INTERP of executables).
	Interp = "/lib64/ld-linux-x86-64.so.2"
	// CacheFlags is the flags value of an ld.so.cache entry ld.so accepts
	// on this architecture.
	CacheFlags = CacheFlagsX8664
)
