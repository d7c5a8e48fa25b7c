// Package dlsvc serves the dynamic linker's services to the objects runplug
// loads, and gives runplug the host's own glibc libraries.
//
// The objects runplug maps are invisible to glibc, so their imports of
// _dl_find_object, dl_iterate_phdr, dladdr, dladdr1, dlinfo, dlopen,
// dlsym, dlerror, __cxa_atexit, __cxa_finalize, __cxa_thread_atexit_impl,
// pthread_key_create and the backtrace family bind to C functions here
// ([DLSymbols], dl.c), which answer from a table of those objects
// ([AddDLObject]) that unwinders and dladdr read from C without a lock.
//
// The host half: [OpenHostLibrary] gives one of glibc's own libraries as
// the process has it (dlopen with RTLD_NOLOAD, dlsym and dlvsym through
// [HostLibrary.Lookup], its own definitions through
// [HostLibrary.LookupOwn]), [DLSymHost] is the one host dlsym (on a
// HostLibrary's handle or one [DLOpenHost] returned, with the fallback
// ld.so's own handle needs), and [ProcessArgs] gives the argc, argv and
// envp that ld.so would pass constructors.
//
// The boundary: these are what plugin code calls as if glibc's ld.so had
// loaded it, and what the loader asks of glibc; the protected-call core
// (package pcall) knows nothing of objects. It must be cgo: glibc's
// dynamic linker is reached only through C.
package dlsvc
