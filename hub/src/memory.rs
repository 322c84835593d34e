//! The allocator's settings, and handing memory the hub no longer uses back to the
//! operating system.

/// mimalloc 3's `mi_option_purge_delay` (libmimalloc-sys names only mimalloc 2's options).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long mimalloc keeps freed memory before returning it to the OS. Its default,
/// 1 s, let bursts of ingest leave their buffers resident: the pipeline benchmark's
/// peak RSS was 185-200 MiB with it and 165-185 MiB with 100 ms, at the same CPU per
/// message (10 ms cost 5% more CPU).
const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// Applies the hub's allocator settings; call before the hub starts its work.
pub fn configure_allocator() {
    // SAFETY: mi_option_set only stores a value the allocator reads when it purges; it
    // is safe to call from any thread, and harmless when mimalloc is not the global
    // allocator.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

/// Returns memory that was freed but is still held by the allocator.
///
/// mimalloc keeps freed pages for a while in case they are wanted again, and gives
/// them back only when the thread that freed them allocates later. Compiling a plugin
/// allocates tens of MiB on threads that then go idle, so without this that memory
/// stayed resident for the hub's whole life (about 80 MiB for the example config).
pub fn return_freed_memory() {
    // SAFETY: mi_collect only walks the allocator's own bookkeeping; it is safe to call
    // from any thread at any time, and harmless when mimalloc is not the global
    // allocator.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_mimalloc_3_defaults_to_one_second() {
        // Guards the option number against a mimalloc upgrade that renumbers options:
        // of mimalloc 3's options only purge_delay defaults to 1000.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            panic!("unset MIMALLOC_PURGE_DELAY to run this test: it reads the default");
        }
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(default, 1000);
    }
}
