//! inotify semantics as pure logic: no I/O, no Redox, no clock.
//!
//! The [`Engine`] holds every inotify instance, each with its watches (keyed by wd) and its
//! event queue (kept in wire format), and an index from inode key to the watches on it. It
//! turns filesystem facts ([`Fact`], from the feed) into `inotify_event` records in Linux's
//! order, and reports what the layers around it must act on: instances that became readable
//! and changes to the per-filesystem interest set.
//!
//! API SKELETON: bodies are being implemented; signatures are the contract.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

use alloc::vec::Vec;

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

/// All instances, watches and queues.
pub struct Engine {
    _todo: (),
}

impl Engine {
    /// An engine with the given limits and no instances.
    pub fn new(limits: Limits) -> Self {
        let _ = limits;
        todo!()
    }
    /// The limits in force.
    pub fn limits(&self) -> Limits {
        todo!()
    }
    /// Changes the limits; they apply to what happens next (queued events are kept).
    pub fn set_limits(&mut self, limits: Limits) {
        let _ = limits;
        todo!()
    }
    /// Events dropped because a queue was full, since start.
    pub fn event_drops(&self) -> u64 {
        todo!()
    }
    /// Creates an instance for `uid`; `EMFILE` at `max_user_instances`.
    pub fn create_instance(&mut self, uid: u32) -> Result<InstanceId, Errno> {
        let _ = uid;
        todo!()
    }
    /// Frees an instance, its queue and its watches (interest changes follow; no events).
    /// Unknown ids are ignored.
    pub fn destroy_instance(&mut self, inst: InstanceId) {
        let _ = inst;
        todo!()
    }
    /// `inotify_add_watch`: returns the wd (the same wd when the inode is already watched by
    /// this instance). Errors: `EINVAL` (bad mask, unknown instance), `ENOTDIR`, `EEXIST`,
    /// `ENOSPC`, in Linux's order.
    pub fn add_watch(&mut self, inst: InstanceId, target: Target, mask: u32) -> Result<i32, Errno> {
        let _ = (inst, target, mask);
        todo!()
    }
    /// `inotify_rm_watch`: queues IN_IGNORED and removes the watch; `EINVAL` when `wd` is not
    /// a live watch of `inst`.
    pub fn rm_watch(&mut self, inst: InstanceId, wd: i32) -> Result<(), Errno> {
        let _ = (inst, wd);
        todo!()
    }
    /// Translates one fact from filesystem `fs` into events on every matching watch.
    pub fn apply(&mut self, fs: FsId, fact: &Fact<'_>) {
        let _ = (fs, fact);
        todo!()
    }
    /// Copies whole queued records into `buf`. `EAGAIN` when the queue is empty, `EINVAL`
    /// when the first record does not fit; otherwise the bytes copied (as many records as fit).
    pub fn read(&mut self, inst: InstanceId, buf: &mut [u8]) -> Result<usize, Errno> {
        let _ = (inst, buf);
        todo!()
    }
    /// Bytes queued on `inst` (FIONREAD); 0 for unknown ids.
    pub fn queued_bytes(&self, inst: InstanceId) -> usize {
        let _ = inst;
        todo!()
    }
    /// Moves into `out` the instances whose queue went from empty to non-empty since the last
    /// call (each once).
    pub fn take_woken(&mut self, out: &mut Vec<InstanceId>) {
        let _ = out;
        todo!()
    }
    /// Moves into `out` the interest changes since the last call, in order.
    pub fn take_interest(&mut self, out: &mut Vec<InterestChange>) {
        let _ = out;
        todo!()
    }
    /// Number of live watches in all instances.
    pub fn watch_count(&self) -> usize {
        todo!()
    }
}
