//! The engine's public value types: ids, inode keys, limits, interest changes. A leaf
//! module (it imports only `inotify-abi`); the crate root re-exports everything here.

use inotify_abi::feed::Interest;

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
    /// Queue storage per uid, in bytes, over all its instances; a queue that would grow
    /// beyond it gets IN_Q_OVERFLOW instead (not in Linux, which charges events to the
    /// reader's memory cgroup). Default 32 MiB.
    pub max_user_queued_bytes: u32,
    /// Queue storage in the whole daemon, in bytes; beyond it as `max_user_queued_bytes`.
    /// Default 256 MiB.
    pub max_total_queued_bytes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_queued_events: 16384,
            max_user_instances: 128,
            max_user_watches: 65536,
            max_watches: 1 << 20,
            max_user_queued_bytes: 32 << 20,
            max_total_queued_bytes: 256 << 20,
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

/// One watch of an instance, as `Engine::list_watches` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchEntry {
    /// The wd.
    pub wd: i32,
    /// Its mask: events, `IN_ONESHOT`, `IN_EXCL_UNLINK`.
    pub mask: u32,
    /// The watched inode.
    pub key: InodeKey,
}

/// One instance, as `Engine::list_instances` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceEntry {
    /// Its id.
    pub id: InstanceId,
    /// Its creator's uid.
    pub uid: u32,
    /// Live watches.
    pub watches: usize,
    /// Bytes queued (FIONREAD).
    pub queued_bytes: usize,
    /// Heap bytes its queue holds (charged to the byte budgets).
    pub queue_storage: usize,
    /// Events and feed records lost since its last loss report.
    pub unreported: u64,
}
