//! A counting global allocator: `System`, plus a running count of live heap bytes and of
//! allocation calls, so memory figures are "live bytes after minus live bytes before".

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Wraps [`System`] and counts what passes through it.
pub struct Counting;

/// Bytes ever allocated (including the new size of every `realloc`).
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
/// Bytes ever freed (including the old size of every `realloc`).
static FREED: AtomicU64 = AtomicU64::new(0);
/// Calls to `alloc`, `alloc_zeroed` and `realloc`.
static CALLS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counters are side effects only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size() as u64, Relaxed);
            CALLS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size() as u64, Relaxed);
            CALLS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        FREED.fetch_add(layout.size() as u64, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            FREED.fetch_add(layout.size() as u64, Relaxed);
            ALLOCATED.fetch_add(new_size as u64, Relaxed);
            CALLS.fetch_add(1, Relaxed);
        }
        p
    }
}

/// Heap bytes currently live (requested sizes; the allocator's own overhead is not counted).
pub fn live_bytes() -> i64 {
    ALLOCATED.load(Relaxed) as i64 - FREED.load(Relaxed) as i64
}

/// Allocation calls since start.
pub fn alloc_calls() -> u64 {
    CALLS.load(Relaxed)
}
