// cxx_dep: the C++ dependency of cxx_exc. It defines an exception type
// whose typeinfo lives here (the key function what() is out of line), a
// function that throws it, and one that calls back into its caller, so
// that an unwinder or a backtrace walks plugin -> dependency -> plugin
// frames.
//
// Build: c++ -shared -fPIC -O2 -Wall -fno-omit-frame-pointer -Wl,-soname,libcxx_dep.so -o libcxx_dep.so cxx_dep.cpp

#include "cxx_dep.h"

DepError::DepError(long code) : std::runtime_error("dep error"), code_(code) {}
const char *DepError::what() const noexcept { return "DepError from libcxx_dep"; }

// Not inlined, so that its frame is on the stack when it throws.
__attribute__((noinline)) void dep_throw(long code) { throw DepError(code); }

const std::type_info &dep_error_type() { return typeid(DepError); }

__attribute__((noinline)) long dep_call(long (*fn)(long), long arg) {
	long r = fn(arg);
	asm volatile("" ::: "memory"); // not a tail call: keep this frame
	return r + 1;
}
