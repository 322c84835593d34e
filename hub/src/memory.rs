//! Handing memory the hub no longer uses back to the operating system.

/// Returns memory that was freed but is still held by the allocator.
///
/// mimalloc (the hub's allocator) keeps freed pages for a while in case they are wanted
/// again, and gives them back only when the thread that freed them allocates later.
/// Compiling a plugin allocates tens of MiB on threads that then go idle, so without
/// this that memory stayed resident for the hub's whole life (about 80 MiB for the
/// example config's plugins).
pub fn return_freed_memory() {
    // SAFETY: mi_collect only walks the allocator's own bookkeeping; it is safe to call
    // from any thread at any time, and does nothing harmful when mimalloc is not the
    // global allocator.
    unsafe { libmimalloc_sys::mi_collect(true) };
}
