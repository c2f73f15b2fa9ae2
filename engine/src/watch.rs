//! Watch records and their slab.
//!
//! Every watch of every instance is one 32-byte [`Watch`] in one slab. It is reachable two
//! ways: by (instance, wd) through the instance's wd table, and by inode through its chain
//! in the inode index (`index`). Both tables store only the 4-byte slab index. This module
//! holds the data only; attaching and detaching a watch (which touches all three tables) is
//! in `engine`.

use alloc::vec::Vec;

use inotify_abi::consts::{IN_ALL_EVENTS, IN_EXCL_UNLINK, IN_ONESHOT, IN_SUBTREE};

use crate::types::{FsId, InodeKey};

/// "No watch": the end of a chain or of the free list.
pub(crate) const NIL: u32 = u32::MAX;
/// `Watch::inst` of a free slab record.
pub(crate) const FREE: u32 = u32::MAX;

/// Mask bits a watch keeps from `inotify_add_watch` (events, the two sticky flags and the
/// `IN_SUBTREE` extension); `IN_ISDIR` is added when the watched inode is a directory.
pub(crate) const KEPT_BITS: u32 = IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK | IN_SUBTREE;

/// A `Watch::mask` bit (unused by inotify) marking a watch that lost events since its
/// instance's last loss report.
pub(crate) const LOST_MARK: u32 = 0x0000_1000;

/// One watch: 32 bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Watch {
    /// Inode number of the watched inode.
    pub(crate) ino: u64,
    /// Filesystem of the watched inode.
    pub(crate) fs: FsId,
    /// Slot of the owning instance; [`FREE`] for an unused record.
    pub(crate) inst: u32,
    /// Watch descriptor within the instance.
    pub(crate) wd: i32,
    /// [`KEPT_BITS`] of the requested mask, plus `IN_ISDIR` for a directory, plus
    /// [`LOST_MARK`].
    pub(crate) mask: u32,
    /// Next watch on the same inode, or next free record; [`NIL`] ends either list.
    pub(crate) next: u32,
}

const _: () = assert!(core::mem::size_of::<Watch>() == 32);

impl Watch {
    /// The watched inode.
    #[inline]
    pub(crate) fn key(&self) -> InodeKey {
        InodeKey {
            fs: self.fs,
            ino: self.ino,
        }
    }

    /// Whether this watch is on `key`.
    #[inline]
    pub(crate) fn is(&self, key: InodeKey) -> bool {
        self.ino == key.ino && self.fs == key.fs
    }
}

/// The slab of watch records with an intrusive free list.
#[derive(Debug)]
pub(crate) struct WatchSlab {
    /// Records, live and free.
    pub(crate) recs: Vec<Watch>,
    /// First free record, or [`NIL`].
    free: u32,
    /// Live records.
    live: usize,
}

impl Default for WatchSlab {
    fn default() -> Self {
        WatchSlab {
            recs: Vec::new(),
            free: NIL,
            live: 0,
        }
    }
}

impl WatchSlab {
    /// Live watches.
    #[inline]
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Heap bytes held by the slab.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.recs.capacity() * core::mem::size_of::<Watch>()
    }

    /// Stores `w`, reusing a free record when there is one; `None` past `u32` indices.
    pub(crate) fn alloc(&mut self, w: Watch) -> Option<u32> {
        let i = if self.free != NIL {
            let i = self.free;
            debug_assert_eq!(self.recs[i as usize].inst, FREE);
            self.free = self.recs[i as usize].next;
            self.recs[i as usize] = w;
            i
        } else {
            let i = u32::try_from(self.recs.len()).ok().filter(|&i| i != NIL)?;
            self.recs.push(w);
            i
        };
        self.live += 1;
        Some(i)
    }

    /// Returns record `i` to the free list.
    pub(crate) fn release(&mut self, i: u32) {
        let r = &mut self.recs[i as usize];
        debug_assert_ne!(r.inst, FREE);
        r.inst = FREE;
        r.next = self.free;
        self.free = i;
        self.live -= 1;
    }

    /// Slab indices of every live watch on filesystem `fs`, into `out`, in slab order.
    pub(crate) fn on_fs(&self, fs: FsId, out: &mut Vec<u32>) {
        out.extend(
            self.recs
                .iter()
                .enumerate()
                .filter(|(_, w)| w.inst != FREE && w.fs == fs)
                .map(|(i, _)| i as u32),
        );
    }
}
