// runplug.rs: runplug's RUNPLUG_STATE for Rust plugins (see plugins/runplug.h
// and docs/STATE.md), for a single-file cdylib built by plain rustc:
//
//	include!("runplug.rs");
//	#[repr(C)]
//	pub struct Counter { calls: AtomicU64 }
//	runplug_state!(Counter, state, 1);   // TYPE, NAME, VERSION
//	#[no_mangle]
//	pub extern "C" fn bump() -> u64 { state().calls.fetch_add(1, Ordering::Relaxed) + 1 }
//
// The macro emits what the C macro does: runplug_state, a page-aligned
// static of whole pages in section .runplug_state (writable, zero-filled:
// no relocation touches it), and runplug_state_desc, a read-only
// {magic 0x54535052, VERSION, size_of::<TYPE>()}; and fn NAME() ->
// &'static TYPE, the state as runplug mapped it from the state file.
// TYPE must be #[repr(C)] (another build, or a C plugin, reads the same
// bytes), valid when all zero (a new file is zero-filled), at most
// page-aligned, and change through interior mutability (atomics): every
// instance and process mapping the file shares it. A layout change takes
// a new VERSION and a runplug_state_migrate, as in C:
//
//	#[no_mangle]
//	pub extern "C" fn runplug_state_migrate(from: u32, old: *const u8, old_size: usize,
//	    state: *mut u8, size: usize) -> i32 { ... 0 }
//
// Written for rustc 1.63 (Debian 12) and later: no crates, no newer
// features.

/// The page a state region is made of.
pub const RUNPLUG_STATE_PAGE: usize = 4096;

/// runplug_state_desc's layout: {magic, version, size}.
#[repr(C)]
pub struct RunplugStateDesc {
    pub magic: u32,
    pub version: u32,
    pub size: u64,
}

/// The region: N bytes (whole pages), page-aligned.
#[repr(C, align(4096))]
pub struct RunplugStatePages<const N: usize>(pub [u8; N]);

#[macro_export]
macro_rules! runplug_state {
    ($t:ty, $name:ident, $version:expr) => {
        /// The region's size: size_of::<TYPE>() rounded up to whole pages.
        const RUNPLUG_STATE_SIZE: usize = (core::mem::size_of::<$t>() + $crate::RUNPLUG_STATE_PAGE - 1)
            / $crate::RUNPLUG_STATE_PAGE
            * $crate::RUNPLUG_STATE_PAGE;

        #[no_mangle]
        #[link_section = ".runplug_state"]
        pub static mut runplug_state: $crate::RunplugStatePages<{ RUNPLUG_STATE_SIZE }> =
            $crate::RunplugStatePages([0; RUNPLUG_STATE_SIZE]);

        #[no_mangle]
        pub static runplug_state_desc: $crate::RunplugStateDesc = $crate::RunplugStateDesc {
            magic: 0x54535052,
            version: $version,
            size: core::mem::size_of::<$t>() as u64,
        };

        // TYPE must fit the page alignment of the region.
        const _: () = assert!(core::mem::align_of::<$t>() <= $crate::RUNPLUG_STATE_PAGE);

        /// The plugin's persistent state (runplug_state!).
        #[allow(dead_code)]
        fn $name() -> &'static $t {
            // The region is mapped before any code of the plugin runs,
            // holds size_of::<TYPE>() bytes at its start, page-aligned,
            // and TYPE is valid all zero; it changes only through
            // TYPE's interior mutability.
            unsafe { &*(core::ptr::addr_of!(runplug_state) as *const $t) }
        }
    };
}
