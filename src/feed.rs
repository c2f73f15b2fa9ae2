//! The feed consumer: finds the feed of each filesystem that holds a watched inode, pulls
//! batches of facts from it, validates them, and hands them to the engine.
//!
//! SKELETON: signatures are the contract; bodies are being implemented.

use inotify_engine::{Engine, FsId, InterestChange};
use syscall::error::Result;

use crate::sys::Sys;

/// Every feed the daemon has open, by filesystem.
#[derive(Default)]
pub struct Feeds {}

impl Feeds {
    /// No feeds.
    pub fn new() -> Self {
        Feeds {}
    }

    /// The filesystem holding `fd` (one of the daemon's fds, from a client's `sendfd`).
    /// Identifies it by scheme name (from `fpath`); the first time, opens its feed with
    /// `dup(fd, FEED_DUP_NAME)` and registers it with [`Sys::watch_readable`].
    /// Fails with `EOPNOTSUPP` when the filesystem has no feed.
    pub fn fs_for(&mut self, sys: &mut impl Sys, fd: usize) -> Result<FsId> {
        let _ = (sys, fd);
        todo!()
    }

    /// Whether `fd` is one of the feed fds.
    pub fn is_feed(&self, fd: usize) -> bool {
        let _ = fd;
        todo!()
    }

    /// Reads every available batch from feed `fd` and applies its facts to `engine`.
    /// Malformed batches or records are logged and dropped; a sequence gap is applied as
    /// `Fact::Lost`.
    pub fn pull(&mut self, sys: &mut impl Sys, engine: &mut Engine, fd: usize) {
        let _ = (sys, engine, fd);
        todo!()
    }

    /// Writes interest changes to the feeds they belong to.
    pub fn push_interest(&mut self, sys: &mut impl Sys, changes: &[InterestChange]) {
        let _ = (sys, changes);
        todo!()
    }
}
