package main

// kv_get writes into a buffer the plugin passes: the host function gets
// its address as an unsafe.Pointer and the size the plugin says it has,
// and writes no more than that. The pointer is the plugin's memory, not
// Go's: the invariant is the C contract of kv_get, which the plugin keeps.

import "unsafe"

// kvGet returns the host function
//
//	int64_t kv_get(const char *key, char *buf, uint64_t size)
//
// which copies the value of key (NUL-terminated, truncated to size-1
// bytes) into buf and returns the value's full length, or -1 when key is
// absent.
func kvGet(st *store) func(key string, buf unsafe.Pointer, size uint64) int64 {
	return func(key string, buf unsafe.Pointer, size uint64) int64 {
		v, ok := st.get(key)
		if !ok {
			return -1
		}
		if buf != nil && size > 0 {
			dst := unsafe.Slice((*byte)(buf), size)
			n := copy(dst[:size-1], v)
			dst[n] = 0
		}
		return int64(len(v))
	}
}
