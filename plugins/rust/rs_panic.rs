// rs_panic: a Rust cdylib (std, no crates) whose extern "C" functions
// panic: caught by catch_unwind inside the plugin, or uncaught (the call
// ends with an error). Unwinding goes through the libgcc_s that runplug
// loads for the plugin, which finds the plugin's unwind tables through
// runplug's _dl_find_object. Written for rustc 1.63 (Debian 12) and later.
//
// Build: rustc --edition 2021 --crate-type cdylib -O -C panic=unwind -o librs_panic.so rs_panic.rs

use std::cell::Cell;
use std::panic;

fn quiet() {
    // The default hook prints the panic message to stderr.
    panic::set_hook(Box::new(|_| {}));
}

/// catch_unwind catches a panic raised in this call: 42 + n when n > 0
/// (it panicked), else n.
#[no_mangle]
pub extern "C" fn rs_catch(n: i64) -> i64 {
    quiet();
    let r = panic::catch_unwind(|| {
        if n > 0 {
            panic!("boom {}", n);
        }
        n
    });
    match r {
        Ok(v) => v,
        Err(e) => {
            let msg = e.downcast_ref::<String>().map(|s| s.as_str()).unwrap_or("");
            if msg == format!("boom {}", n) {
                42 + n
            } else {
                -1
            }
        }
    }
}

fn unwind_through(depth: i64, drops: &Cell<i64>) -> i64 {
    struct D<'a>(&'a Cell<i64>);
    impl<'a> Drop for D<'a> {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let _d = D(drops);
    if depth <= 1 {
        panic!("deep");
    }
    unwind_through(depth - 1, drops) + 1
}

/// Drop runs for every frame a caught panic unwinds: n.
#[no_mangle]
pub extern "C" fn rs_drops(n: i64) -> i64 {
    quiet();
    let drops = Cell::new(0);
    let r = panic::catch_unwind(panic::AssertUnwindSafe(|| unwind_through(n, &drops)));
    if r.is_ok() {
        return -1;
    }
    drops.get()
}

/// A panic nobody catches: with rustc >= 1.81 it cannot unwind out of an
/// extern "C" function and aborts; before, it unwinds to runplug's
/// trampoline, finds no handler and aborts. Either way the call fails.
#[no_mangle]
pub extern "C" fn rs_uncaught(n: i64) -> i64 {
    quiet();
    if n > 0 {
        panic!("uncaught {}", n);
    }
    n
}

thread_local! {
    static COUNT: Cell<i64> = Cell::new(0);
}

/// A thread-local counter (dynamic TLS through runplug's __tls_get_addr).
#[no_mangle]
pub extern "C" fn rs_tls_bump() -> i64 {
    COUNT.with(|c| {
        c.set(c.get() + 1);
        c.get()
    })
}

static DROPS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

struct Guard;
impl Drop for Guard {
    fn drop(&mut self) {
        DROPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

thread_local! {
    static GUARD: Guard = Guard;
}

/// A std::thread of the plugin's own counts n in its thread-local (from
/// zero: a new thread's block) and, at its exit, runs its thread-local's
/// destructor (registered through __cxa_thread_atexit_impl):
/// 100 * count + destructors run by the time join returns.
#[no_mangle]
pub extern "C" fn rs_thread_tls(n: i64) -> i64 {
    let before = DROPS.load(std::sync::atomic::Ordering::SeqCst);
    let count = std::thread::spawn(move || {
        GUARD.with(|_| {});
        for _ in 0..n {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        COUNT.with(|c| c.get())
    })
    .join()
    .unwrap_or(-1);
    count * 100 + (DROPS.load(std::sync::atomic::Ordering::SeqCst) - before)
}
