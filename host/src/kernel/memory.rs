//! Memory a scheme shares with the processes that map its handles: Redox's `mmap` of a
//! scheme handle sends the scheme `MmapPrep`, and the kernel maps the pages the scheme
//! answers with (an address in its own address space) into the caller, shared. Here every
//! process is a thread of one address space, so a scheme allocates its shareable memory from
//! the kernel ([`SchemeMemory::alloc`]); the address it answers is looked up among what it
//! allocated, and the caller gets the same memory, kept alive while either side holds it
//! (as the Redox kernel keeps frames referenced). Words are atomics: both sides may write
//! at any time, with no `unsafe` anywhere.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};

use inotify_abi::ring::RingMemory;
use syscall::error::{Error, Result, EFAULT};

use super::{lock, SchemeEntry};

/// Memory shared between a scheme and the processes that mapped it.
#[derive(Clone)]
pub struct SharedPages {
    /// The words.
    words: Arc<[AtomicU64]>,
}

impl SharedPages {
    /// The address the scheme answers `MmapPrep` with.
    pub fn addr(&self) -> usize {
        self.words.as_ptr() as usize
    }

    /// Bytes.
    pub fn len(&self) -> usize {
        self.words.len() * 8
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

impl RingMemory for SharedPages {
    fn words(&self) -> &[AtomicU64] {
        &self.words
    }
}

/// What a scheme allocated to share, by address (weak: the scheme owns it).
#[derive(Default)]
pub(crate) struct PageTable {
    /// Live allocations.
    pages: Vec<Weak<[AtomicU64]>>,
}

/// A scheme's allocator of shareable memory (its "address space").
#[derive(Clone)]
pub struct SchemeMemory {
    /// The scheme.
    pub(super) entry: Arc<SchemeEntry>,
}

impl SchemeMemory {
    /// `len` bytes (rounded up to 8) of zeroed memory the scheme may answer `MmapPrep` with.
    pub fn alloc(&self, len: usize) -> SharedPages {
        let words: Arc<[AtomicU64]> = (0..len.div_ceil(8)).map(|_| AtomicU64::new(0)).collect();
        let mut table = lock(&self.entry.memory);
        table.pages.retain(|w| w.strong_count() > 0);
        table.pages.push(Arc::downgrade(&words));
        SharedPages { words }
    }
}

impl SchemeEntry {
    /// The memory at `addr` the scheme allocated, when it holds at least `len` bytes
    /// (`EFAULT` otherwise: the scheme answered an address it does not own).
    pub(crate) fn shared_at(&self, addr: usize, len: usize) -> Result<SharedPages> {
        lock(&self.memory)
            .pages
            .iter()
            .filter_map(Weak::upgrade)
            .find(|w| w.as_ptr() as usize == addr && w.len() * 8 >= len)
            .map(|words| SharedPages { words })
            .ok_or(Error::new(EFAULT))
    }
}
