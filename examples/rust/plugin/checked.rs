// checked: the Rust plugin of the rust example, a cdylib built by plain
// rustc (no crates; rustc 1.63, Debian 12's, builds it). Its extern "C"
// functions run code that may panic inside std::panic::catch_unwind, so a
// panic becomes an error code instead of crossing the C boundary (runplug
// serves the unwinder what it needs to find the plugin's unwind tables).
// A panic that is not caught aborts, which runplug turns into the call's
// error (and quarantines the plugin).
//
// Build: rustc --edition 2021 --crate-type cdylib -O -o libchecked.so checked.rs

use std::ffi::CStr;
use std::os::raw::c_char;
use std::panic;

/// The sum of the comma-separated integers in list, or -1 when one of
/// them does not parse (parse().unwrap() panics; the panic is caught
/// here).
///
/// # Safety
/// list must be a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn sum_list(list: *const c_char) -> i64 {
    let s = CStr::from_ptr(list).to_string_lossy().into_owned();
    panic::set_hook(Box::new(|_| {})); // no message on stderr for caught panics
    let r = panic::catch_unwind(|| {
        s.split(',')
            .map(|w| w.trim().parse::<i64>().unwrap())
            .sum::<i64>()
    });
    let _ = panic::take_hook();
    r.unwrap_or(-1)
}

/// a / b, or i64::MIN when b is 0 (the division panics; caught here).
#[no_mangle]
pub extern "C" fn checked_div(a: i64, b: i64) -> i64 {
    panic::set_hook(Box::new(|_| {}));
    let r = panic::catch_unwind(|| a / b);
    let _ = panic::take_hook();
    r.unwrap_or(i64::MIN)
}

/// Panics and does not catch it: the call fails, the host goes on.
#[no_mangle]
pub extern "C" fn always_panics() -> i64 {
    panic!("not caught")
}
