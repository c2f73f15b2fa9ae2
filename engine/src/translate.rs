//! Facts -> events: the engine's `vn_inotify()`. Each rule is a sequence of `deliver`
//! calls; the whole-filesystem facts (`Unmounted`, `Lost`) walk the watch slab.
//!
//! Each rule sends events in the order Linux 6.18 queues them. Where the order is not the
//! obvious one, the comment says what the kernel on the development machine did (ext4 and
//! tmpfs, watched with one instance so the order is visible in one queue).

use alloc::vec::Vec;

use inotify_abi::consts::*;
use inotify_abi::feed::{Fact, Replaced, Subject};

use crate::deliver::Excl;
use crate::engine::Engine;
use crate::types::{FsId, InodeKey};
use crate::watch::FREE;

/// `IN_ISDIR` when `is_dir`.
#[inline]
fn isdir(is_dir: bool) -> u32 {
    if is_dir {
        IN_ISDIR
    } else {
        0
    }
}

/// A name as it goes into a record: at most `NAME_MAX` bytes (parsed facts never exceed it;
/// this only keeps a hand-built fact from producing an oversized record).
#[inline]
fn clamp(name: &[u8]) -> &[u8] {
    &name[..name.len().min(NAME_MAX)]
}

impl Engine {
    /// Translates one fact from filesystem `fs`; with subtree watches, then updates the
    /// directories they cover.
    pub(crate) fn translate(&mut self, fs: FsId, fact: &Fact<'_>) {
        self.events(fs, fact);
        if !self.subtrees.is_empty() {
            self.cover_fact(fs, fact);
        }
    }

    /// The events of one fact.
    fn events(&mut self, fs: FsId, fact: &Fact<'_>) {
        match *fact {
            Fact::Created {
                dir, name, is_dir, ..
            } => self.created(fs, dir, name, is_dir),
            Fact::Linked { dir, name, ino } => self.linked(fs, dir, name, ino),
            Fact::Unlinked {
                dir,
                name,
                ino,
                is_dir,
                links_left,
                freed,
            } => self.unlinked(fs, dir, name, ino, is_dir, links_left, freed),
            Fact::Renamed {
                old_dir,
                old_name,
                new_dir,
                new_name,
                ino,
                is_dir: d,
                replaced,
            } => self.renamed(
                fs,
                (old_dir, old_name),
                (new_dir, new_name),
                ino,
                d,
                replaced,
            ),
            Fact::Freed { ino, .. } => self.inode_freed(InodeKey { fs, ino }),
            Fact::Opened(at) => self.subject_event(fs, &at, IN_OPEN, true),
            Fact::Accessed(at) => self.subject_event(fs, &at, IN_ACCESS, true),
            Fact::Modified(at) => self.subject_event(fs, &at, IN_MODIFY, true),
            Fact::Attrib(at) => self.subject_event(fs, &at, IN_ATTRIB, false),
            Fact::Times { at, atime, mtime } => {
                // Linux fsnotify_change(): both times -> IN_ATTRIB (a utimes call), only
                // atime -> IN_ACCESS, only mtime -> IN_MODIFY, neither -> no event.
                let ev = match (atime, mtime) {
                    (true, true) => IN_ATTRIB,
                    (true, false) => IN_ACCESS,
                    (false, true) => IN_MODIFY,
                    (false, false) => return,
                };
                self.subject_event(fs, &at, ev, false)
            }
            Fact::Closed { at, wrote } => {
                let ev = if wrote {
                    IN_CLOSE_WRITE
                } else {
                    IN_CLOSE_NOWRITE
                };
                self.subject_event(fs, &at, ev, true)
            }
            Fact::Unmounted => self.unmounted(fs),
            Fact::Lost { count } => self.lost(fs, count),
            // Coverage only (`cover_fact`): no event.
            Fact::Exists { .. } => {}
        }
    }

    /// A named event on the watches of directory `dir`; nothing when the directory or the
    /// name is unknown (0 / empty).
    fn dir_event(&mut self, fs: FsId, dir: u64, ev: u32, cookie: u32, name: &[u8], excl: Excl) {
        if dir != 0 && !name.is_empty() {
            self.notify_inode(InodeKey { fs, ino: dir }, ev, cookie, clamp(name), excl);
            if !self.subtrees.is_empty() {
                self.subtree_event(fs, dir, ev, cookie, clamp(name), excl);
            }
        }
    }

    /// An event about an inode through one of its names: the parent's watches get it with
    /// the name first, then the inode's own watches without (fsnotify_handle_event sends
    /// the parent mark first; observed). `path` marks the events Linux sends with the open
    /// file's path, which IN_EXCL_UNLINK silences on both kinds of watch when the file's
    /// name was removed (`detached`; observed: write, read and close were dropped on the
    /// directory's and the file's EXCL_UNLINK watches, fchmod and ftruncate still reached
    /// both, and a file opened through another, still linked name kept reporting).
    fn subject_event(&mut self, fs: FsId, at: &Subject<'_>, ev: u32, path: bool) {
        let ev = ev | isdir(at.is_dir);
        let excl = if path && at.detached {
            Excl::Detached
        } else {
            Excl::No
        };
        self.dir_event(fs, at.dir, ev, 0, at.name, excl);
        self.notify_inode(InodeKey { fs, ino: at.ino }, ev, 0, &[], excl);
    }

    /// Created: IN_CREATE (+IN_ISDIR) on the directory.
    fn created(&mut self, fs: FsId, dir: u64, name: &[u8], is_dir: bool) {
        self.dir_event(fs, dir, IN_CREATE | isdir(is_dir), 0, name, Excl::No);
    }

    /// Linked: IN_ATTRIB (link count) on the inode, then IN_CREATE on the directory.
    /// Linux fsnotify_link() sends the link-count event first; observed on this kernel.
    fn linked(&mut self, fs: FsId, dir: u64, name: &[u8], ino: u64) {
        let key = InodeKey { fs, ino };
        self.notify_inode(key, IN_ATTRIB, 0, &[], Excl::No);
        self.dir_event(fs, dir, IN_CREATE, 0, name, Excl::No);
    }

    /// Unlinked. Observed order on this kernel:
    /// - file, links left: IN_ATTRIB (inode), IN_DELETE (dir);
    /// - file, last link, nothing open: IN_ATTRIB, IN_DELETE_SELF, IN_IGNORED (inode), then
    ///   IN_DELETE (dir): d_delete() frees the inode before fsnotify_delete() runs;
    /// - directory (rmdir): no IN_ATTRIB; IN_DELETE_SELF, IN_IGNORED, then
    ///   IN_DELETE|IN_ISDIR;
    /// - last link while an open file holds this very name: IN_ATTRIB, IN_DELETE now;
    ///   IN_DELETE_SELF and IN_IGNORED come with the `Freed` at its last close. (Files
    ///   holding only names removed earlier do not delay them: Linux sends DELETE_SELF when
    ///   the dentry of the last name goes negative with no links left.)
    #[allow(clippy::too_many_arguments)]
    fn unlinked(
        &mut self,
        fs: FsId,
        dir: u64,
        name: &[u8],
        ino: u64,
        is_dir: bool,
        links_left: u64,
        freed: bool,
    ) {
        let key = InodeKey { fs, ino };
        if !is_dir {
            // vfs_unlink() calls fsnotify_link_count(); vfs_rmdir() does not.
            self.notify_inode(key, IN_ATTRIB, 0, &[], Excl::No);
        }
        if links_left == 0 && freed {
            self.inode_freed(key);
        }
        self.dir_event(fs, dir, IN_DELETE | isdir(is_dir), 0, name, Excl::No);
    }

    /// Renamed. Linux fsnotify_move() takes one cookie from a global counter and sends
    /// IN_MOVED_FROM (old dir), IN_MOVED_TO (new dir), IN_ATTRIB on a replaced target
    /// (+IN_ISDIR for a directory; link count), IN_MOVE_SELF on the moved inode (IN_ISDIR
    /// stripped); a target freed by the rename gets IN_DELETE_SELF and IN_IGNORED after all
    /// of that, when the last dentry reference drops. Observed on this kernel for files and
    /// directories, freed, still linked, and still open targets.
    fn renamed(
        &mut self,
        fs: FsId,
        (old_dir, old_name): (u64, &[u8]),
        (new_dir, new_name): (u64, &[u8]),
        ino: u64,
        is_dir: bool,
        replaced: Option<Replaced>,
    ) {
        let cookie = self.next_cookie();
        let d = isdir(is_dir);
        self.dir_event(fs, old_dir, IN_MOVED_FROM | d, cookie, old_name, Excl::No);
        self.dir_event(fs, new_dir, IN_MOVED_TO | d, cookie, new_name, Excl::No);
        if let Some(r) = replaced {
            let target = InodeKey { fs, ino: r.ino };
            self.notify_inode(target, IN_ATTRIB | isdir(r.is_dir), 0, &[], Excl::No);
        }
        self.notify_inode(InodeKey { fs, ino }, IN_MOVE_SELF, 0, &[], Excl::No);
        if let Some(r) = replaced {
            if r.links_left == 0 && r.freed {
                self.inode_freed(InodeKey { fs, ino: r.ino });
            }
        }
    }

    /// The next rename cookie: a global counter from 1 that skips 0 when it wraps.
    fn next_cookie(&mut self) -> u32 {
        let c = self.cookie;
        self.cookie = match c.wrapping_add(1) {
            0 => 1,
            n => n,
        };
        c
    }

    /// Unmounted: IN_UNMOUNT then IN_IGNORED on every watch of the filesystem, whatever its
    /// mask; the watches are gone. Observed: IN_UNMOUNT keeps IN_ISDIR for a watched
    /// directory, and a one-shot watch gets a single IN_IGNORED. (Linux walks the
    /// superblock's inode list; the order between watches here is slab order.)
    fn unmounted(&mut self, fs: FsId) {
        let mut doomed = core::mem::take(&mut self.scratch);
        self.watches.on_fs(fs, &mut doomed);
        for &i in &doomed {
            let w = self.watches.recs[i as usize];
            debug_assert_ne!(w.inst, FREE);
            self.queue_event(w.inst, w.wd, IN_UNMOUNT | (w.mask & IN_ISDIR), 0, &[]);
            self.remove_watch(i);
        }
        doomed.clear();
        self.scratch = doomed;
    }

    /// Lost: the feed dropped records, so every instance watching something on `fs` may
    /// have missed events: each gets IN_Q_OVERFLOW (unless one is unread in its queue).
    /// Each instance's loss report counts the `count` lost records once and names every
    /// one of its watches on `fs`.
    fn lost(&mut self, fs: FsId, count: u64) {
        let mut seen: Vec<u32> = core::mem::take(&mut self.scratch);
        self.watches.on_fs(fs, &mut seen);
        // By instance, then by wd; an instance's first watch carries the count.
        seen.sort_unstable_by_key(|&i| {
            let w = &self.watches.recs[i as usize];
            (w.inst, w.wd)
        });
        let mut last = FREE;
        for &i in &seen {
            let w = self.watches.recs[i as usize];
            let first = w.inst != last;
            if first {
                self.queue_overflow(w.inst);
                last = w.inst;
            }
            self.note_loss(w.inst, w.wd, 0, if first { count } else { 0 });
        }
        seen.clear();
        self.scratch = seen;
    }
}
