// rs_state: a Rust cdylib with persistent state declared by runplug_state!
// (plugins/rust/runplug.rs): layout 1 of plugins/state_counter.c (two
// uint64: calls, constructor runs), so that a C build and this one can
// reload over each other on one state file. Written for rustc 1.63
// (Debian 12) and later.
//
// Build: rustc --edition 2021 --crate-type cdylib -O -o librs_state.so rs_state.rs

use std::sync::atomic::{AtomicU64, Ordering};

include!("runplug.rs");

#[repr(C)]
pub struct Counter {
    calls: AtomicU64,
    ctor_runs: AtomicU64,
}

runplug_state!(Counter, state, 1);

/// Adds 1 to the counter and returns the new value.
#[no_mangle]
pub extern "C" fn counter_bump() -> i64 {
    (state().calls.fetch_add(1, Ordering::Relaxed) + 1) as i64
}

/// Returns the counter.
#[no_mangle]
pub extern "C" fn counter_get() -> i64 {
    state().calls.load(Ordering::Relaxed) as i64
}

/// Returns how many times a constructor (of a C build) ran on this state.
#[no_mangle]
pub extern "C" fn counter_ctor_runs() -> i64 {
    state().ctor_runs.load(Ordering::Relaxed) as i64
}

/// Returns the address of the state, to compare with the host's view.
#[no_mangle]
pub extern "C" fn counter_addr() -> usize {
    state() as *const Counter as usize
}

/// Returns 0x525 ("RS"): which build serves.
#[no_mangle]
pub extern "C" fn counter_lang() -> i64 {
    0x525
}
