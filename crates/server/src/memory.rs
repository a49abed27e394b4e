//! Memory accounting: the bytes kv has allocated, for INFO's `used_memory` and `maxmemory`.
//!
//! Redis counts every allocation through its `zmalloc` wrapper; kv does the same with a
//! global allocator, [`CountingAllocator`], that passes each call to the system allocator and
//! keeps the running total of requested bytes. The binary installs it (`main.rs`); a program
//! that embeds the server library without it reads the resident set size instead.
//!
//! Counting must cost next to nothing, as every allocation pays it: each thread adds its
//! changes to a counter of its own and moves them to the shared total once they pass
//! [`FLUSH_AT`] bytes either way, so the shared total is off by at most that much per thread,
//! except for the thread reading it, whose own changes [`used`] adds in. An eviction loop
//! frees memory on its own thread, so it sees each deletion at once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// Bytes a thread may allocate or free before it updates the shared total.
const FLUSH_AT: i64 = 16 * 1024;

/// Bytes allocated, as of each thread's last flush.
static TOTAL: AtomicI64 = AtomicI64::new(0);

/// Whether the counting allocator is the global one (set by its first allocation).
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's changes not yet added to [`TOTAL`]. A `Cell` with a constant initializer
    /// and no destructor: reading it never allocates, and it stays usable while the thread
    /// exits, as an allocator's state must.
    static PENDING: Cell<i64> = const { Cell::new(0) };
}

/// Adds `delta` bytes to the count.
fn note(delta: i64) {
    let flushed = PENDING.try_with(|pending| {
        let sum = pending.get() + delta;
        if sum.abs() >= FLUSH_AT {
            TOTAL.fetch_add(sum, Ordering::Relaxed);
            pending.set(0);
        } else {
            pending.set(sum);
        }
    });
    if flushed.is_err() {
        TOTAL.fetch_add(delta, Ordering::Relaxed);
    }
}

/// The system allocator, counting the bytes it hands out.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments, so `System`'s
// guarantees are ours; the counting beside it neither allocates nor touches the memory.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged (see the impl).
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            note(layout.size() as i64);
        }
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged (see the impl).
        let block = unsafe { System.alloc_zeroed(layout) };
        if !block.is_null() {
            note(layout.size() as i64);
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.dealloc(block, layout) };
        note(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged (see the impl).
        let moved = unsafe { System.realloc(block, layout, new_size) };
        if !moved.is_null() {
            note(new_size as i64 - layout.size() as i64);
        }
        moved
    }
}

/// Marks the counting allocator as installed: the binary calls it first thing, so a count of
/// zero is never mistaken for one that is not kept.
pub fn mark_installed() {
    INSTALLED.store(true, Ordering::Relaxed);
}

/// Bytes in use: the allocator's count where it is installed, else the resident set size.
pub fn used() -> u64 {
    if !INSTALLED.load(Ordering::Relaxed) {
        return rss();
    }
    let own = PENDING.try_with(Cell::get).unwrap_or(0);
    u64::try_from(TOTAL.load(Ordering::Relaxed) + own).unwrap_or(0)
}

/// Resident memory in bytes, from /proc (0 where it is not available).
pub fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}
