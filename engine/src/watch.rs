//! Watch records, their slab, and the watch lifecycle (attach, remove, deliver).
//!
//! Every watch of every instance is one 32-byte [`Watch`] in one slab. It is reachable two
//! ways: by (instance, wd) through the instance's wd table, and by inode through the
//! [`InodeIndex`](crate::index::InodeIndex) chain. Both tables store only the 4-byte slab
//! index.

use alloc::vec::Vec;

use inotify_abi::consts::{IN_ALL_EVENTS, IN_DELETE_SELF, IN_EXCL_UNLINK, IN_IGNORED, IN_ONESHOT};
use inotify_abi::feed::Interest;

use crate::instance::wd_hash;
use crate::queue::Pushed;
use crate::{Engine, FsId, InodeKey, InterestChange};

/// "No watch": the end of a chain or of the free list.
pub(crate) const NIL: u32 = u32::MAX;
/// `Watch::inst` of a free slab record.
pub(crate) const FREE: u32 = u32::MAX;

/// Whether watch `w` must skip an event because of IN_EXCL_UNLINK.
#[inline]
fn excluded(w: &Watch, excl: Excl) -> bool {
    excl == Excl::Detached && w.mask & IN_EXCL_UNLINK != 0
}

/// Mask bits a watch keeps from `inotify_add_watch` (events and the two sticky flags);
/// `IN_ISDIR` is added when the watched inode is a directory.
pub(crate) const KEPT_BITS: u32 = IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK;

/// A 64-bit mixer (the splitmix64 finaliser): good high bits for hashbrown's tags and good
/// low bits for its bucket index.
#[inline]
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

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
    /// [`KEPT_BITS`] of the requested mask, plus `IN_ISDIR` for a directory.
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
    fn alloc(&mut self, w: Watch) -> Option<u32> {
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
}

/// Whether watches with `IN_EXCL_UNLINK` must stay silent for an event: Linux's check of
/// `d_unlinked()` on the path of the open file an event comes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Excl {
    /// Every watch asking for the event gets it.
    No,
    /// The event comes through an open file whose name was removed: IN_EXCL_UNLINK watches
    /// skip it.
    Detached,
}

impl Engine {
    /// The watch of instance `slot` on `key`, if any.
    pub(crate) fn find_watch(&self, slot: u32, key: InodeKey) -> Option<u32> {
        let mut i = self.inodes.head(&self.watches.recs, key);
        while i != NIL {
            let w = &self.watches.recs[i as usize];
            if w.inst == slot {
                return Some(i);
            }
            i = w.next;
        }
        None
    }

    /// Creates watch `wd` of instance `slot` on `key`: slab record, wd table, inode chain
    /// (announcing the inode when it is its first watch), user count.
    pub(crate) fn attach_watch(
        &mut self,
        slot: u32,
        wd: i32,
        key: InodeKey,
        mask: u32,
    ) -> Option<u32> {
        let uid = self.instances.get(slot)?.uid;
        let head = self.inodes.head(&self.watches.recs, key);
        let w = Watch {
            ino: key.ino,
            fs: key.fs,
            inst: slot,
            wd,
            mask,
            next: head,
        };
        let i = self.watches.alloc(w)?;
        let recs = &self.watches.recs;
        if head == NIL {
            self.inodes.insert(recs, i);
            self.interest.push(InterestChange {
                fs: key.fs,
                change: Interest::Add(key.ino),
            });
        } else {
            self.inodes.set_head(recs, key, i);
        }
        if let Some(inst) = self.instances.get_mut(slot) {
            inst.wds
                .insert_unique(wd_hash(wd), i, |&j| wd_hash(recs[j as usize].wd));
        }
        self.users.entry(uid).or_default().watches += 1;
        Some(i)
    }

    /// Removes watch `i` after queueing IN_IGNORED on it (through the queue limit, like any
    /// event: observed, an rm_watch on a full queue yields IN_Q_OVERFLOW and still removes).
    pub(crate) fn remove_watch(&mut self, i: u32) {
        let w = self.watches.recs[i as usize];
        debug_assert_ne!(w.inst, FREE);
        self.queue_event(w.inst, w.wd, IN_IGNORED, 0, &[]);
        if let Some(inst) = self.instances.get_mut(w.inst) {
            if let Ok(entry) = inst.wds.find_entry(wd_hash(w.wd), |&j| j == i) {
                entry.remove();
            }
            let uid = inst.uid;
            self.uncount_watch(uid);
        }
        self.unchain(i);
        self.watches.release(i);
    }

    /// Takes watch `i` off its inode's chain, dropping the inode from the index (and from
    /// the interest set) when it was the last watch.
    pub(crate) fn unchain(&mut self, i: u32) {
        let w = self.watches.recs[i as usize];
        let key = w.key();
        let head = self.inodes.head(&self.watches.recs, key);
        if head == i {
            self.inodes.set_head(&self.watches.recs, key, w.next);
            if w.next == NIL {
                self.interest.push(InterestChange {
                    fs: key.fs,
                    change: Interest::Remove(key.ino),
                });
            }
            return;
        }
        let mut prev = head;
        while prev != NIL {
            let next = self.watches.recs[prev as usize].next;
            if next == i {
                self.watches.recs[prev as usize].next = w.next;
                return;
            }
            prev = next;
        }
        debug_assert!(false, "watch not on its inode's chain");
    }

    /// Lowers `uid`'s watch count, forgetting users with nothing left.
    pub(crate) fn uncount_watch(&mut self, uid: u32) {
        if let Some(u) = self.users.get_mut(&uid) {
            debug_assert!(u.watches > 0);
            u.watches = u.watches.saturating_sub(1);
            if u.watches == 0 && u.instances == 0 {
                self.users.remove(&uid);
            }
        }
    }

    /// Queues one event on instance `slot`, counting drops and noting the empty -> non-empty
    /// edge.
    #[inline]
    pub(crate) fn queue_event(&mut self, slot: u32, wd: i32, mask: u32, cookie: u32, name: &[u8]) {
        let max = self.limits.max_queued_events;
        let Some(inst) = self.instances.get_mut(slot) else {
            debug_assert!(false, "event for a dead instance");
            return;
        };
        let was_empty = inst.queue.is_empty();
        if inst.queue.push(wd, mask, cookie, name, max) == Pushed::Dropped {
            self.drops += 1;
        }
        if was_empty && !inst.woken && !inst.queue.is_empty() {
            inst.woken = true;
            self.woken.push(inst.id);
        }
    }

    /// Queues IN_Q_OVERFLOW on instance `slot` unless one is unread there (feed loss).
    pub(crate) fn queue_overflow(&mut self, slot: u32) {
        let Some(inst) = self.instances.get_mut(slot) else {
            return;
        };
        let was_empty = inst.queue.is_empty();
        inst.queue.push_overflow();
        if was_empty && !inst.woken && !inst.queue.is_empty() {
            inst.woken = true;
            self.woken.push(inst.id);
        }
    }

    /// Sends `ev` to every watch on `key` that asks for it, in the way Linux's
    /// `fsnotify_handle_inode_event` + `inotify_handle_inode_event` do: the mask must
    /// intersect, EXCL_UNLINK filters events through a detached open file, and an IN_ONESHOT
    /// watch is removed (IN_IGNORED) after its event, even one that merged or was dropped.
    pub(crate) fn notify_inode(
        &mut self,
        key: InodeKey,
        ev: u32,
        cookie: u32,
        name: &[u8],
        excl: Excl,
    ) {
        let mut i = self.inodes.lookup(&self.watches.recs, key);
        while i != NIL {
            let w = self.watches.recs[i as usize];
            // Captured first: a one-shot removal below takes `i` off the chain.
            let next = w.next;
            if w.mask & ev & IN_ALL_EVENTS != 0 && !excluded(&w, excl) {
                self.queue_event(w.inst, w.wd, ev, cookie, name);
                if w.mask & IN_ONESHOT != 0 {
                    self.remove_watch(i);
                }
            }
            i = next;
        }
    }

    /// The inode's last link is gone and its last name is released: IN_DELETE_SELF (to
    /// watches asking for it) then IN_IGNORED on every watch of `key`, which all go away, so
    /// a later `Freed` of the same inode finds nothing and sends nothing.
    pub(crate) fn inode_freed(&mut self, key: InodeKey) {
        let mut i = self.inodes.lookup(&self.watches.recs, key);
        while i != NIL {
            let w = self.watches.recs[i as usize];
            let next = w.next;
            if w.mask & IN_DELETE_SELF != 0 {
                // Linux strips IN_ISDIR from IN_DELETE_SELF.
                self.queue_event(w.inst, w.wd, IN_DELETE_SELF, 0, &[]);
            }
            self.remove_watch(i);
            i = next;
        }
    }

    /// Slab indices of every live watch on filesystem `fs`, into `out`.
    pub(crate) fn watches_on_fs(&self, fs: FsId, out: &mut Vec<u32>) {
        let recs = &self.watches.recs;
        out.extend(
            recs.iter()
                .enumerate()
                .filter(|(_, w)| w.inst != FREE && w.fs == fs)
                .map(|(i, _)| i as u32),
        );
    }
}
