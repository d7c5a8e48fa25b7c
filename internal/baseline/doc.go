// Package baseline is what runplug's benchmarks compare against: glibc's
// own dlopen, dlsym and dlclose ([DlopenNow], also an oracle in tests and
// the command's check), plain cgo calls with no protection
// ([CallUnprotected2], [CallUnprotectedS24], [LoopUnprotected]), cgo
// //export calls ([LoopExport], [LoopExportHandle], [LoopExportRecover],
// [ExportAddAddr]) and the kernel's own fault round trip ([FaultLoop]).
//
// The boundary: nothing here protects anything or is used to run a plugin;
// it exists so that a benchmark can measure runplug and its alternative
// side by side in one run. It depends on no other runplug package, so
// every package's tests may use it.
package baseline
