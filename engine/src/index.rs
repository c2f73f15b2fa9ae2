//! The inode index: from an inode to the watches on it, in O(1).
//!
//! The table holds one `u32` per watched inode: the slab index of the first watch in that
//! inode's chain (the other watches follow through [`Watch::next`]). Hash and equality read
//! the inode key from the watch record itself, so an entry costs 4 bytes plus hashbrown's
//! control byte instead of a copy of the 12-byte key.

use hashbrown::HashTable;

use crate::watch::{mix, Watch, NIL};
use crate::{FsId, InodeKey};

/// Hash of an inode key: the key folded into 64 bits, then mixed.
#[inline]
pub(crate) fn inode_hash(fs: FsId, ino: u64) -> u64 {
    mix(ino ^ (fs as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Watched inodes, each pointing at its first watch.
#[derive(Debug, Default)]
pub(crate) struct InodeIndex {
    /// Chain heads (watch slab indices), keyed by the head's inode.
    heads: HashTable<u32>,
}

impl InodeIndex {
    /// Number of watched inodes.
    pub(crate) fn len(&self) -> usize {
        self.heads.len()
    }

    /// Heap bytes held by the table.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.heads.allocation_size()
    }

    /// The first watch on `key`, or [`NIL`].
    #[inline]
    pub(crate) fn head(&self, watches: &[Watch], key: InodeKey) -> u32 {
        self.heads
            .find(inode_hash(key.fs, key.ino), |&i| {
                watches[i as usize].is(key)
            })
            .copied()
            .unwrap_or(NIL)
    }

    /// Records `first` as the only watch of an inode not yet in the index.
    pub(crate) fn insert(&mut self, watches: &[Watch], first: u32) {
        let w = &watches[first as usize];
        debug_assert_eq!(self.head(watches, w.key()), NIL);
        self.heads
            .insert_unique(inode_hash(w.fs, w.ino), first, |&i| {
                let w = &watches[i as usize];
                inode_hash(w.fs, w.ino)
            });
    }

    /// Makes `head` (a watch on `key`, or [`NIL`] to drop the inode) the chain head of `key`.
    pub(crate) fn set_head(&mut self, watches: &[Watch], key: InodeKey, head: u32) {
        let hash = inode_hash(key.fs, key.ino);
        if let Ok(entry) = self
            .heads
            .find_entry(hash, |&i| watches[i as usize].is(key))
        {
            if head == NIL {
                entry.remove();
            } else {
                debug_assert!(watches[head as usize].is(key));
                *entry.into_mut() = head;
            }
        } else {
            debug_assert!(false, "set_head on an inode not in the index");
        }
    }
}
