//! The [`Engine`] struct: every table, and the operations that keep the tables consistent
//! with each other (find, attach and detach a watch; per-uid counts; the queue storage
//! budget). Nothing here queues an event: that is `deliver`, one layer up.
//!
//! A watch is in three tables at once: the watch slab (its record), its instance's wd table
//! and its inode's chain in the inode index. [`Engine::attach_watch`] and
//! [`Engine::detach_watch`] are the only places that add a watch to or take it out of all
//! three, and the only places that announce interest changes.

use alloc::vec::Vec;

use hashbrown::HashMap;
use inotify_abi::consts::IN_SUBTREE;
use inotify_abi::feed::Interest;

use crate::hash::wd_hash;
use crate::index::InodeIndex;
use crate::instance::Instances;
use crate::queue::Storage;
use crate::subtree::Subtrees;
use crate::types::{InodeKey, InstanceId, InterestChange, Limits};
use crate::watch::{Watch, WatchSlab, FREE, NIL};

/// What one uid holds.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct UserCount {
    /// Live instances created by the uid.
    pub(crate) instances: u32,
    /// Live watches in those instances.
    pub(crate) watches: u32,
    /// Directories their subtree watches cover below the roots (counted with the watches
    /// against `max_user_watches`).
    pub(crate) covered: u32,
    /// Bytes of queue storage held by those instances.
    pub(crate) queued: usize,
}

/// The storage budget of one queue: its owner's share and the engine's total, over
/// borrowed counters. Built only when a queue must grow or may release its buffer.
pub(crate) struct Budget<'a> {
    /// Per-uid counts; the owner's entry exists while it has an instance.
    pub(crate) users: &'a mut HashMap<u32, UserCount>,
    /// Queue storage of every instance.
    pub(crate) total: &'a mut usize,
    /// The queue's owner.
    pub(crate) uid: u32,
    /// `Limits::max_user_queued_bytes`.
    pub(crate) max_user: usize,
    /// `Limits::max_total_queued_bytes`.
    pub(crate) max_total: usize,
}

impl<'a> Budget<'a> {
    /// The budget of a queue owned by `uid`.
    #[inline]
    pub(crate) fn new(
        users: &'a mut HashMap<u32, UserCount>,
        total: &'a mut usize,
        limits: &Limits,
        uid: u32,
    ) -> Self {
        Budget {
            users,
            total,
            uid,
            max_user: limits.max_user_queued_bytes as usize,
            max_total: limits.max_total_queued_bytes as usize,
        }
    }
}

impl Storage for Budget<'_> {
    fn room(&self) -> usize {
        let user = self.users.get(&self.uid).map_or(0, |u| u.queued);
        self.max_user
            .saturating_sub(user)
            .min(self.max_total.saturating_sub(*self.total))
    }

    fn charge(&mut self, bytes: usize) {
        self.users.entry(self.uid).or_default().queued += bytes;
        *self.total += bytes;
    }

    fn give_back(&mut self, bytes: usize) {
        if let Some(u) = self.users.get_mut(&self.uid) {
            debug_assert!(u.queued >= bytes);
            u.queued = u.queued.saturating_sub(bytes);
        }
        debug_assert!(*self.total >= bytes);
        *self.total = self.total.saturating_sub(bytes);
    }
}

/// All instances, watches and queues.
///
/// Its public methods (the inotify calls, fact intake, reads and statistics) are in the
/// crate root; this module holds its state.
pub struct Engine {
    /// Limits in force.
    pub(crate) limits: Limits,
    /// Instances by id.
    pub(crate) instances: Instances,
    /// Every watch of every instance.
    pub(crate) watches: WatchSlab,
    /// Watched inodes -> their watches.
    pub(crate) inodes: InodeIndex,
    /// Per-uid instance and watch counts and queue storage.
    pub(crate) users: HashMap<u32, UserCount>,
    /// Queue storage of every instance, in bytes.
    pub(crate) queued_total: usize,
    /// The next rename cookie (never 0).
    pub(crate) cookie: u32,
    /// Events dropped on full queues.
    pub(crate) drops: u64,
    /// Instances whose queue went empty -> non-empty, not yet taken.
    pub(crate) woken: Vec<InstanceId>,
    /// Interest changes not yet taken, in order.
    pub(crate) interest: Vec<InterestChange>,
    /// Reused buffer for rare whole-filesystem walks (unmount, feed loss).
    pub(crate) scratch: Vec<u32>,
    /// The clock loss reports are stamped with (monotonic ns; read at the first loss of a
    /// turn only).
    pub(crate) clock: fn() -> u64,
    /// The clock's reading in this turn, once a loss needed it (see `Engine::new_turn`).
    pub(crate) now: Option<u64>,
    /// Directories covered by `IN_SUBTREE` watches.
    pub(crate) subtrees: Subtrees,
    /// Reused buffer for subtree paths.
    pub(crate) path: Vec<u8>,
    /// Reused buffer for the directories a subtree move or removal uncovers.
    pub(crate) scratch_dirs: Vec<u64>,
    /// Set by an add_watch that made a watch a subtree watch (read by `add_subtree_watch`).
    pub(crate) took_subtree: bool,
}

impl Engine {
    /// The watch of instance `slot` on `key`, if any: one index probe, then a walk of the
    /// inode's chain (one step per instance watching the inode).
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
        if mask & IN_SUBTREE != 0 {
            self.subtrees.watch_added();
        }
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

    /// Takes live watch `i` out of its instance's wd table, its inode's chain (and the
    /// interest set when it was the inode's last watch), the user count and the slab. Queues
    /// nothing: [`remove_watch`](Engine::remove_watch) queues IN_IGNORED first.
    pub(crate) fn detach_watch(&mut self, i: u32) {
        let w = self.watches.recs[i as usize];
        debug_assert_ne!(w.inst, FREE);
        if let Some(inst) = self.instances.get_mut(w.inst) {
            if let Ok(entry) = inst.wds.find_entry(wd_hash(w.wd), |&j| j == i) {
                entry.remove();
            }
            let uid = inst.uid;
            self.uncover(i, uid);
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

    /// Ends the subtree coverage of watch `i` (of an instance of `uid`), if it has any:
    /// its covered directories are dropped and uncounted, the filesystem is told
    /// (`Interest::RemoveSubtree`) and the watch loses `IN_SUBTREE`.
    pub(crate) fn uncover(&mut self, i: u32, uid: u32) {
        let w = self.watches.recs[i as usize];
        if w.mask & IN_SUBTREE == 0 {
            return;
        }
        self.watches.recs[i as usize].mask &= !IN_SUBTREE;
        self.subtrees.watch_removed();
        let mut dirs = Vec::new();
        self.subtrees.of_watch(i, &mut dirs);
        for &(fs, d) in &dirs {
            self.subtrees.remove(fs, d, i);
        }
        if let Some(u) = self.users.get_mut(&uid) {
            u.covered = u.covered.saturating_sub(dirs.len() as u32);
        }
        self.interest.push(InterestChange {
            fs: w.fs,
            change: Interest::RemoveSubtree(w.ino),
        });
    }

    /// Whether `uid` may hold `more` watches or covered directories beyond what it and the
    /// daemon hold now (`max_user_watches`, `max_watches`).
    pub(crate) fn room_for(&self, uid: u32, more: u64) -> bool {
        let held = self
            .users
            .get(&uid)
            .map_or(0, |u| u64::from(u.watches) + u64::from(u.covered));
        let all = (self.watches.live() + self.subtrees.len()) as u64;
        held + more <= u64::from(self.limits.max_user_watches)
            && all + more <= u64::from(self.limits.max_watches)
    }

    /// Lowers `uid`'s watch count, forgetting users with nothing left.
    pub(crate) fn uncount_watch(&mut self, uid: u32) {
        if let Some(u) = self.users.get_mut(&uid) {
            debug_assert!(u.watches > 0);
            u.watches = u.watches.saturating_sub(1);
            if u.watches == 0 && u.instances == 0 {
                debug_assert_eq!(u.queued, 0);
                debug_assert_eq!(u.covered, 0);
                self.users.remove(&uid);
            }
        }
    }
}
