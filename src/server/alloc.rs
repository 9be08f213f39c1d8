//! The process's allocator: the system allocator (or mimalloc, built with the `mimalloc`
//! feature; docs/benchmarks.md compares them), counting the bytes in use so INFO can report
//! `used_memory` as Redis does from its allocator.
//!
//! Each thread keeps its own running delta and folds it into the shared counter once it
//! passes [`FLUSH_BYTES`], so an allocation costs a thread-local add, not a shared atomic;
//! the shared counter is exact to within that many bytes per thread.

#[cfg(not(feature = "mimalloc"))]
use std::alloc::System as Inner;
use std::alloc::{GlobalAlloc, Layout};

#[cfg(feature = "mimalloc")]
use mimalloc::MiMalloc as Inner;
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

const FLUSH_BYTES: isize = 8 * 1024;

static USED: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static PENDING: Cell<isize> = const { Cell::new(0) };
}

fn account(delta: isize) {
    // During thread teardown the thread-local may be gone: count directly then.
    let folded = PENDING.try_with(|pending| {
        let total = pending.get() + delta;
        if total.abs() >= FLUSH_BYTES {
            USED.fetch_add(total, Ordering::Relaxed);
            pending.set(0);
        } else {
            pending.set(total);
        }
    });
    if folded.is_err() {
        USED.fetch_add(delta, Ordering::Relaxed);
    }
}

/// Bytes currently allocated by the process through Rust's allocator (requested sizes).
pub fn used_bytes() -> u64 {
    USED.load(Ordering::Relaxed).max(0) as u64
}

/// [`used_bytes`] plus what this thread has allocated or freed and not folded in yet: exact
/// for the calling thread's own changes, so eviction can measure what one deletion freed.
pub fn used_bytes_here() -> u64 {
    let pending = PENDING.try_with(|p| p.get()).unwrap_or(0);
    (USED.load(Ordering::Relaxed) + pending).max(0) as u64
}

pub struct CountingAllocator;

// SAFETY: every method forwards to the inner allocator with the caller's arguments unchanged; the
// counting has no effect on the memory returned.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        let ptr = unsafe { Inner.alloc(layout) };
        if !ptr.is_null() {
            account(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        let ptr = unsafe { Inner.alloc_zeroed(layout) };
        if !ptr.is_null() {
            account(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { Inner.dealloc(ptr, layout) };
        account(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as received.
        let new = unsafe { Inner.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;
