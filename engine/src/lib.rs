//! inotify semantics as pure logic: no I/O, no Redox, no clock.
//!
//! The [`Engine`] holds every inotify instance, each with its watches (keyed by wd) and its
//! event queue (kept in wire format), and an index from inode key to the watches on it. It
//! turns filesystem facts ([`Fact`], from the feed) into `inotify_event` records in Linux's
//! order, and reports what the layers around it must act on: instances that became readable
//! and changes to the per-filesystem interest set.
//!
//! Modules, bottom up: `queue` (one instance's wire-format queue), `instance` (the instance
//! slab and wd tables), `watch` (watch records and their lifecycle), `index` (inode ->
//! watches), `translate` (fact -> events). `docs/engine.md` describes the data
//! structures and every translation rule.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

use alloc::vec::Vec;

use hashbrown::HashMap;
use inotify_abi::consts::{IN_ISDIR, IN_MASK_ADD, IN_MASK_CREATE, IN_ONLYDIR, IN_VALID_MASK};

use errno::{EEXIST, EINVAL, EMFILE, ENOSPC, ENOTDIR};
use index::InodeIndex;
use instance::Instances;
use watch::{WatchSlab, KEPT_BITS};

mod index;
mod instance;
mod queue;
mod translate;
mod watch;

pub use inotify_abi::feed::{Fact, Interest, Replaced, Subject};

/// Errno values returned by the engine (Linux numbering, which Redox shares for these).
pub mod errno {
    /// No such file or directory.
    pub const ENOENT: i32 = 2;
    /// Try again (read on an empty queue).
    pub const EAGAIN: i32 = 11;
    /// Permission denied.
    pub const EACCES: i32 = 13;
    /// Already exists (IN_MASK_CREATE on a watched inode).
    pub const EEXIST: i32 = 17;
    /// Not a directory (IN_ONLYDIR).
    pub const ENOTDIR: i32 = 20;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// Too many instances for this user.
    pub const EMFILE: i32 = 24;
    /// Watch limit reached.
    pub const ENOSPC: i32 = 28;
}

/// An errno value.
pub type Errno = i32;
/// Identifies one filesystem (one feed) inside the daemon.
pub type FsId = u32;
/// Identifies one inotify instance.
pub type InstanceId = u32;

/// An inode, across filesystems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InodeKey {
    /// The filesystem.
    pub fs: FsId,
    /// The inode number within it.
    pub ino: u64,
}

/// What add_watch is asked to watch, as resolved by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The inode.
    pub key: InodeKey,
    /// Whether it is a directory (for IN_ONLYDIR and IN_ISDIR).
    pub is_dir: bool,
}

/// Limits, tunable at run time (Linux's `/proc/sys/fs/inotify/*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Events an instance queues before IN_Q_OVERFLOW (Linux default 16384).
    pub max_queued_events: u32,
    /// Instances per uid (Linux default 128); beyond it `EMFILE`.
    pub max_user_instances: u32,
    /// Watches per uid; beyond it `ENOSPC`.
    pub max_user_watches: u32,
    /// Watches in the whole daemon; beyond it `ENOSPC`.
    pub max_watches: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_queued_events: 16384,
            max_user_instances: 128,
            max_user_watches: 65536,
            max_watches: 1 << 20,
        }
    }
}

/// A change to one filesystem's interest set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterestChange {
    /// The filesystem whose feed must be told.
    pub fs: FsId,
    /// `Interest::Add(ino)` when an inode gets its first watch, `Interest::Remove(ino)` when
    /// its last watch goes.
    pub change: Interest,
}

/// What one uid holds.
#[derive(Debug, Default, Clone, Copy)]
struct UserCount {
    /// Live instances created by the uid.
    instances: u32,
    /// Live watches in those instances.
    watches: u32,
}

/// All instances, watches and queues.
pub struct Engine {
    /// Limits in force.
    limits: Limits,
    /// Instances by id.
    instances: Instances,
    /// Every watch of every instance.
    watches: WatchSlab,
    /// Watched inodes -> their watches.
    inodes: InodeIndex,
    /// Per-uid instance and watch counts.
    users: HashMap<u32, UserCount>,
    /// The next rename cookie (never 0).
    cookie: u32,
    /// Events dropped on full queues.
    drops: u64,
    /// Instances whose queue went empty -> non-empty, not yet taken.
    woken: Vec<InstanceId>,
    /// Interest changes not yet taken, in order.
    interest: Vec<InterestChange>,
    /// Reused buffer for rare whole-filesystem walks (unmount, feed loss).
    scratch: Vec<u32>,
}

impl Engine {
    /// An engine with the given limits and no instances.
    pub fn new(limits: Limits) -> Self {
        Engine {
            limits,
            instances: Instances::default(),
            watches: WatchSlab::default(),
            inodes: InodeIndex::default(),
            users: HashMap::new(),
            cookie: 1,
            drops: 0,
            woken: Vec::new(),
            interest: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Changes the limits; they apply to what happens next (queued events are kept).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Events dropped because a queue was full, since start.
    pub fn event_drops(&self) -> u64 {
        self.drops
    }

    /// Creates an instance for `uid`; `EMFILE` at `max_user_instances`.
    pub fn create_instance(&mut self, uid: u32) -> Result<InstanceId, Errno> {
        let count = self.users.get(&uid).map_or(0, |u| u.instances);
        if count >= self.limits.max_user_instances {
            return Err(EMFILE);
        }
        let id = self.instances.insert(uid).ok_or(EMFILE)?;
        self.users.entry(uid).or_default().instances += 1;
        Ok(id)
    }

    /// Frees an instance, its queue and its watches (interest changes follow; no events).
    /// Unknown ids are ignored.
    pub fn destroy_instance(&mut self, inst: InstanceId) {
        let Some(slot) = self.instances.slot_of(inst) else {
            return;
        };
        let Some(mut dead) = self.instances.remove(slot) else {
            return;
        };
        for i in dead.wds.drain() {
            self.unchain(i);
            self.watches.release(i);
            self.uncount_watch(dead.uid);
        }
        if let Some(u) = self.users.get_mut(&dead.uid) {
            u.instances = u.instances.saturating_sub(1);
            if u.instances == 0 && u.watches == 0 {
                self.users.remove(&dead.uid);
            }
        }
    }

    /// `inotify_add_watch`: returns the wd (the same wd when the inode is already watched by
    /// this instance). Errors: `EINVAL` (bad mask, unknown instance), `ENOTDIR`, `EEXIST`,
    /// `ENOSPC`, in Linux's order.
    ///
    /// Linux checks, in this order (all confirmed on this kernel): bits outside
    /// `ALL_INOTIFY_BITS` or none of them -> EINVAL (so IN_DONT_FOLLOW alone is accepted and
    /// 0x1000 is not); IN_MASK_ADD with IN_MASK_CREATE -> EINVAL; the fd (here: the
    /// instance) -> EINVAL; path lookup, where IN_ONLYDIR on a non-directory is ENOTDIR even
    /// for a watched inode with IN_MASK_CREATE; an existing watch: IN_MASK_CREATE -> EEXIST,
    /// else updated even at the watch limit; a new watch: the wd is taken first, then the
    /// limit is checked (ENOSPC), so a refused watch still uses up a wd number.
    pub fn add_watch(&mut self, inst: InstanceId, target: Target, mask: u32) -> Result<i32, Errno> {
        if mask & !IN_VALID_MASK != 0 || mask & IN_VALID_MASK == 0 {
            return Err(EINVAL);
        }
        if mask & IN_MASK_ADD != 0 && mask & IN_MASK_CREATE != 0 {
            return Err(EINVAL);
        }
        let slot = self.instances.slot_of(inst).ok_or(EINVAL)?;
        if mask & IN_ONLYDIR != 0 && !target.is_dir {
            return Err(ENOTDIR);
        }
        let kept = mask & KEPT_BITS | if target.is_dir { IN_ISDIR } else { 0 };
        if let Some(i) = self.find_watch(slot, target.key) {
            if mask & IN_MASK_CREATE != 0 {
                return Err(EEXIST);
            }
            let w = &mut self.watches.recs[i as usize];
            // Without IN_MASK_ADD the events and IN_ONESHOT/IN_EXCL_UNLINK are replaced.
            w.mask = if mask & IN_MASK_ADD != 0 {
                w.mask | kept
            } else {
                kept
            };
            return Ok(w.wd);
        }
        let Some(instance) = self.instances.get_mut(slot) else {
            return Err(EINVAL);
        };
        let wd = instance.alloc_wd(&self.watches.recs);
        let uid = instance.uid;
        let user_watches = self.users.get(&uid).map_or(0, |u| u.watches);
        if user_watches >= self.limits.max_user_watches
            || self.watches.live() >= self.limits.max_watches as usize
        {
            return Err(ENOSPC);
        }
        self.attach_watch(slot, wd, target.key, kept)
            .ok_or(ENOSPC)?;
        Ok(wd)
    }

    /// `inotify_rm_watch`: queues IN_IGNORED and removes the watch; `EINVAL` when `wd` is not
    /// a live watch of `inst`.
    pub fn rm_watch(&mut self, inst: InstanceId, wd: i32) -> Result<(), Errno> {
        let slot = self.instances.slot_of(inst).ok_or(EINVAL)?;
        let i = self
            .instances
            .get(slot)
            .and_then(|instance| instance.find(&self.watches.recs, wd))
            .ok_or(EINVAL)?;
        self.remove_watch(i);
        Ok(())
    }

    /// Translates one fact from filesystem `fs` into events on every matching watch.
    pub fn apply(&mut self, fs: FsId, fact: &Fact<'_>) {
        self.translate(fs, fact);
    }

    /// Copies whole queued records into `buf`. `EAGAIN` when the queue is empty, `EINVAL`
    /// when the first record does not fit; otherwise the bytes copied (as many records as fit).
    /// `EINVAL` for an unknown instance.
    pub fn read(&mut self, inst: InstanceId, buf: &mut [u8]) -> Result<usize, Errno> {
        let slot = self.instances.slot_of(inst).ok_or(EINVAL)?;
        self.instances.get_mut(slot).ok_or(EINVAL)?.queue.read(buf)
    }

    /// Bytes queued on `inst` (FIONREAD); 0 for unknown ids.
    pub fn queued_bytes(&self, inst: InstanceId) -> usize {
        self.instances
            .slot_of(inst)
            .and_then(|slot| self.instances.get(slot))
            .map_or(0, |i| i.queue.bytes())
    }

    /// Moves into `out` the instances whose queue went from empty to non-empty since the last
    /// call (each once).
    pub fn take_woken(&mut self, out: &mut Vec<InstanceId>) {
        for id in self.woken.drain(..) {
            let Some(slot) = self.instances.slot_of(id) else {
                continue; // destroyed since
            };
            if let Some(inst) = self.instances.get_mut(slot) {
                inst.woken = false;
                out.push(id);
            }
        }
    }

    /// Moves into `out` the interest changes since the last call, in order.
    pub fn take_interest(&mut self, out: &mut Vec<InterestChange>) {
        out.append(&mut self.interest);
    }

    /// Number of live watches in all instances.
    pub fn watch_count(&self) -> usize {
        self.watches.live()
    }

    /// Whether `inst` is a live instance.
    pub fn has_instance(&self, inst: InstanceId) -> bool {
        self.instances.slot_of(inst).is_some()
    }

    /// Heap bytes held by the engine's tables and queues (capacity, not use; allocator
    /// overhead excluded). For statistics and benchmarks.
    pub fn heap_bytes(&self) -> usize {
        let queues: usize = self
            .instances
            .iter()
            .map(|(_, i)| i.queue.heap_bytes() + i.wds.allocation_size())
            .sum();
        queues
            + self.watches.heap_bytes()
            + self.inodes.heap_bytes()
            + self.instances.heap_bytes()
            + self.users.allocation_size()
            + (self.woken.capacity() + self.scratch.capacity()) * 4
            + self.interest.capacity() * core::mem::size_of::<InterestChange>()
    }

    /// Number of distinct watched inodes.
    pub fn watched_inodes(&self) -> usize {
        self.inodes.len()
    }
}
