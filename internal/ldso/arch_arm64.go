package ldso

// What glibc's ld.so is called and where it looks on Debian's AArch64
// (multiarch triplet aarch64-linux-gnu).
const (
	// Multiarch is Debian's multiarch triplet: libraries live in
	// /lib/Multiarch and /usr/lib/Multiarch.
	Multiarch = "aarch64-linux-gnu"
	// Interp is the dynamic linker's path (PT_INTERP of executables).
	Interp = "/lib/ld-linux-aarch64.so.1"
	// CacheFlags is the flags value of an ld.so.cache entry ld.so accepts
	// on this architecture.
	CacheFlags = CacheFlagsAArch64
)
