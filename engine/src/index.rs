//! The inode index: from an inode to the watches on it.
//!
//! The table holds one `u32` per watched inode: the slab index of the first watch in that
//! inode's chain (the other watches follow through [`Watch::next`], one per instance
//! watching the inode). Finding the chain head is one hash probe (expected constant time);
//! finding one instance's watch on the inode then walks the chain, so it costs one step per
//! instance watching that inode. Hash and equality read the inode key from the watch record
//! itself, so an entry costs 4 bytes plus hashbrown's control byte instead of a copy of the
//! 12-byte key.
//!
//! Facts about one inode come in runs (a file is created, opened, written, closed, each fact
//! also naming its directory), so [`InodeIndex::lookup`] first checks the two most recent
//! answers, misses ("not watched") included. Every change to the table forgets them.

use hashbrown::HashTable;

use crate::hash::inode_hash;
use crate::types::{FsId, InodeKey};
use crate::watch::{Watch, NIL};

/// One remembered lookup.
#[derive(Debug, Default, Clone, Copy)]
struct Recent {
    /// Inode number looked up.
    ino: u64,
    /// Its filesystem.
    fs: FsId,
    /// The answer: first watch, or [`NIL`].
    head: u32,
    /// The entry holds a lookup (a change to the table clears it).
    live: bool,
}

impl Recent {
    /// Whether this entry answers a lookup of `key`.
    #[inline]
    fn answers(&self, key: InodeKey) -> bool {
        self.live && self.ino == key.ino && self.fs == key.fs
    }
}

/// Watched inodes, each pointing at its first watch.
#[derive(Debug, Default)]
pub(crate) struct InodeIndex {
    /// Chain heads (watch slab indices), keyed by the head's inode.
    heads: HashTable<u32>,
    /// The two most recent lookups, newest first.
    recent: [Recent; 2],
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

    /// The first watch on `key`, or [`NIL`], answered from the recent lookups when it can be
    /// (for the hot path: one lookup per event and watched inode).
    #[inline(always)]
    pub(crate) fn lookup(&mut self, watches: &[Watch], key: InodeKey) -> u32 {
        let head = if self.recent[0].answers(key) {
            self.recent[0].head
        } else if self.recent[1].answers(key) {
            self.recent.swap(0, 1);
            self.recent[0].head
        } else {
            let head = self.head(watches, key);
            self.recent[1] = self.recent[0];
            self.recent[0] = Recent {
                ino: key.ino,
                fs: key.fs,
                head,
                live: true,
            };
            head
        };
        debug_assert_eq!(head, self.head(watches, key), "stale lookup");
        head
    }

    /// Forgets the remembered lookups (the table is about to change).
    #[inline]
    fn forget_recent(&mut self) {
        self.recent = [Recent::default(); 2];
    }

    /// Records `first` as the only watch of an inode not yet in the index.
    pub(crate) fn insert(&mut self, watches: &[Watch], first: u32) {
        self.forget_recent();
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
        self.forget_recent();
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
