//! Subtree watches (`IN_SUBTREE`, an inotifyd extension): the events of covered directories
//! with paths relative to the watch's root, and keeping the covered directories in step
//! with the facts.
//!
//! The filesystem reports the facts of every covered directory (it covers new and moved-in
//! directories at the operation itself, `inotify_feed`), and walks the directories that
//! already exist into `Exists` facts, in feed order. So applying facts in order keeps these
//! tables exact: a directory is covered here before any fact about an entry in it arrives.

use inotify_abi::consts::{IN_ALL_EVENTS, IN_SUBTREE};
use inotify_abi::feed::{Fact, Replaced};

use crate::deliver::{excluded, Excl};
use crate::engine::Engine;
use crate::types::{FsId, InodeKey};
use crate::watch::NIL;

impl Engine {
    /// A named event in directory `dir` for every subtree watch covering `dir` below its
    /// root, with the path relative to that root (the root's own watch got it already, with
    /// the bare name). A path that cannot be built (deeper than `PATH_MAX`) is a loss.
    pub(crate) fn subtree_event(
        &mut self,
        fs: FsId,
        dir: u64,
        ev: u32,
        cookie: u32,
        name: &[u8],
        excl: Excl,
    ) {
        let mut path = core::mem::take(&mut self.path);
        let mut k = 0;
        while let Some(&i) = self.subtrees.covering(fs, dir).get(k) {
            k += 1;
            let w = self.watches.recs[i as usize];
            if w.mask & ev & IN_ALL_EVENTS == 0 || excluded(&w, excl) {
                continue;
            }
            if self.subtrees.path(fs, w.ino, dir, i, name, &mut path) {
                self.queue_event(w.inst, w.wd, ev, cookie, &path);
            } else {
                self.queue_overflow(w.inst);
                self.note_loss(w.inst, w.wd, 1, 0);
            }
        }
        self.path = path;
    }

    /// Updates the covered directories after a fact's events were delivered.
    pub(crate) fn cover_fact(&mut self, fs: FsId, fact: &Fact<'_>) {
        match *fact {
            Fact::Created {
                dir,
                name,
                ino,
                is_dir: true,
            }
            | Fact::Exists { dir, name, ino } => self.cover_new(fs, dir, name, ino),
            Fact::Unlinked {
                ino, is_dir: true, ..
            } => self.uncover_dir(fs, ino),
            Fact::Renamed {
                new_dir,
                new_name,
                ino,
                is_dir,
                replaced,
                ..
            } => {
                if let Some(Replaced {
                    ino: r,
                    is_dir: true,
                    ..
                }) = replaced
                {
                    self.uncover_dir(fs, r);
                }
                if is_dir {
                    self.cover_moved(fs, new_dir, new_name, ino);
                }
            }
            _ => {}
        }
    }

    /// Directory `ino` (named `name` in `dir`) is new, or newly known: every subtree watch
    /// covering `dir` (as its root or below it) covers it too.
    fn cover_new(&mut self, fs: FsId, dir: u64, name: &[u8], ino: u64) {
        let mut i = self
            .inodes
            .head(&self.watches.recs, InodeKey { fs, ino: dir });
        while i != NIL {
            let next = self.watches.recs[i as usize].next;
            if self.watches.recs[i as usize].mask & IN_SUBTREE != 0 {
                self.cover_one(fs, dir, name, ino, i);
            }
            i = next;
        }
        let mut k = 0;
        while let Some(&i) = self.subtrees.covering(fs, dir).get(k) {
            k += 1;
            self.cover_one(fs, dir, name, ino, i);
        }
    }

    /// Watch `i` covers `ino` (named `name` in `dir`, which it covers), unless it already
    /// does, `ino` is its root or one of `dir`'s ancestors (a filesystem that moved a
    /// directory into itself), or its uid is at the watch limit: then the watch's instance
    /// gets IN_Q_OVERFLOW, as for any event it cannot have.
    fn cover_one(&mut self, fs: FsId, dir: u64, name: &[u8], ino: u64, i: u32) {
        let w = self.watches.recs[i as usize];
        if ino == w.ino
            || self.subtrees.has(fs, ino, i)
            || self.subtrees.is_ancestor(fs, ino, dir, i)
        {
            return;
        }
        let Some(uid) = self.instances.get(w.inst).map(|inst| inst.uid) else {
            return;
        };
        if !self.room_for(uid, 1) {
            self.queue_overflow(w.inst);
            self.note_loss(w.inst, w.wd, 1, 0);
            return;
        }
        self.subtrees.insert(fs, ino, i, dir, name);
        self.users.entry(uid).or_default().covered += 1;
    }

    /// Directory `ino` was removed: no watch covers it or anything below it any more.
    fn uncover_dir(&mut self, fs: FsId, ino: u64) {
        let mut k = 0;
        while let Some(&i) = self.subtrees.covering(fs, ino).first() {
            self.uncover_below(fs, ino, i);
            k += 1;
            debug_assert!(k <= self.watches.recs.len());
        }
    }

    /// Watch `i` stops covering `top` and everything below it.
    fn uncover_below(&mut self, fs: FsId, top: u64, i: u32) {
        let mut doomed = core::mem::take(&mut self.scratch_dirs);
        doomed.clear();
        self.subtrees.below(fs, top, i, &mut doomed);
        doomed.push(top);
        let mut n = 0;
        for &d in &doomed {
            n += u32::from(self.subtrees.remove(fs, d, i));
        }
        doomed.clear();
        self.scratch_dirs = doomed;
        let inst = self.watches.recs[i as usize].inst;
        if let Some(uid) = self.instances.get(inst).map(|x| x.uid) {
            if let Some(u) = self.users.get_mut(&uid) {
                u.covered = u.covered.saturating_sub(n);
            }
        }
    }

    /// Directory `ino` moved to `name` in `new_dir`: watches that cover it and `new_dir`
    /// follow the move; watches that cover it but not `new_dir` stop covering it and what
    /// lies below; watches that cover `new_dir` but not it start covering it (the
    /// filesystem's walk of it follows as `Exists` facts).
    fn cover_moved(&mut self, fs: FsId, new_dir: u64, name: &[u8], ino: u64) {
        let mut k = 0;
        while let Some(&i) = self.subtrees.covering(fs, ino).get(k) {
            let root = self.watches.recs[i as usize].ino;
            let stays = (new_dir == root || self.subtrees.has(fs, new_dir, i))
                && !self.subtrees.is_ancestor(fs, ino, new_dir, i);
            if stays {
                self.subtrees.rename(fs, ino, i, new_dir, name);
                k += 1;
            } else {
                self.uncover_below(fs, ino, i);
            }
        }
        self.cover_new(fs, new_dir, name, ino);
    }
}
