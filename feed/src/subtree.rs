//! Subtree coverage: which directories lie below a subtree root (an `IN_SUBTREE` watch's
//! directory), kept by the producer at the very operation that changes it.
//!
//! A directory is *covered* when it is a root or lies below one. Facts naming an entry of a
//! covered directory are recorded. The producer updates the set from the facts it is given,
//! before it decides whether to keep them, so coverage never lags behind the filesystem:
//! - `Created` directory in a covered directory: covered (so `mkdir -p a/b/c` and a file made
//!   in `c` right after are all recorded);
//! - `Renamed` directory into a covered directory: covered, and the filesystem must walk it
//!   ([`Coverage::take_walk`]) and report each directory below as `Exists` (which covers it);
//! - `Renamed` covered directory out of every covered directory, or `Unlinked`: it and every
//!   covered directory below it stop being covered.
//!
//! Each covered directory keeps its parent, so dropping a subtree or a root needs no walk of
//! the filesystem (a pass over the set).

use alloc::vec::Vec;
use core::hash::BuildHasherDefault;

use hashbrown::HashMap;
use inotify_abi::feed::Fact;

use crate::InoHasher;

/// Inode -> value, hashed as the interest set is.
type InoMap<V> = HashMap<u64, V, BuildHasherDefault<InoHasher>>;

/// The covered directories of one filesystem.
#[derive(Debug, Default)]
pub(crate) struct Coverage {
    /// Subtree roots, with the number of subtree calls not yet undone.
    roots: InoMap<u32>,
    /// Covered directories below a root -> their parent directory.
    below: InoMap<u64>,
    /// A directory just moved into a covered directory, to be walked by the filesystem.
    walk: Option<u64>,
}

impl Coverage {
    /// Whether no directory is covered (the fast path: nothing else is looked at).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// Whether directory `dir` (0 = unknown) is covered.
    #[inline]
    pub(crate) fn covers(&self, dir: u64) -> bool {
        dir != 0
            && !self.roots.is_empty()
            && (self.below.contains_key(&dir) || self.roots.contains_key(&dir))
    }

    /// Number of covered directories below the roots.
    pub(crate) fn below_count(&self) -> usize {
        self.below.len()
    }

    /// Adds one subtree call on `root`; the walk's directories follow with [`exists`].
    ///
    /// [`exists`]: Coverage::exists
    pub(crate) fn add_root(&mut self, root: u64) {
        let n = self.roots.entry(root).or_insert(0);
        *n = n.saturating_add(1);
    }

    /// Undoes one subtree call on `root`; the last one drops every covered directory no
    /// other root still covers.
    pub(crate) fn remove_root(&mut self, root: u64) {
        let Some(n) = self.roots.get_mut(&root) else {
            return;
        };
        *n -= 1;
        if *n > 0 {
            return;
        }
        self.roots.remove(&root);
        let roots = &self.roots;
        let orphans = self.select(|d| roots.contains_key(&d), false);
        for d in orphans {
            self.below.remove(&d);
        }
    }

    /// Forgets everything (the daemon's last feed handle closed).
    pub(crate) fn clear(&mut self) {
        self.roots.clear();
        self.below.clear();
        self.walk = None;
    }

    /// `ino` named in `dir` exists (a walk found it): covered when `dir` is.
    pub(crate) fn exists(&mut self, dir: u64, ino: u64) {
        if self.covers(dir) && !self.is_ancestor(ino, dir) {
            self.below.insert(ino, dir);
        }
    }

    /// Updates the set for a fact the filesystem reports (before the producer decides to
    /// keep it). Costs nothing unless the fact names a covered directory.
    #[inline]
    pub(crate) fn apply(&mut self, fact: &Fact<'_>) {
        if !self.roots.is_empty() {
            self.apply_covered(fact);
        }
    }

    /// [`apply`](Self::apply) with subtree roots.
    #[inline(never)]
    fn apply_covered(&mut self, fact: &Fact<'_>) {
        match *fact {
            Fact::Created {
                dir,
                ino,
                is_dir: true,
                ..
            } => self.exists(dir, ino),
            Fact::Unlinked {
                ino, is_dir: true, ..
            } => self.drop_subtree(ino),
            Fact::Renamed {
                new_dir,
                ino,
                is_dir,
                replaced,
                ..
            } => {
                if let Some(r) = replaced.filter(|r| r.is_dir) {
                    self.drop_subtree(r.ino);
                }
                if !is_dir {
                    return;
                }
                if self.covers(new_dir) && !self.is_ancestor(ino, new_dir) {
                    self.below.insert(ino, new_dir);
                    self.walk = Some(ino);
                } else {
                    self.drop_subtree(ino);
                }
            }
            _ => {}
        }
    }

    /// The directory a rename just moved into a covered directory, once: the filesystem
    /// reports every directory below it as `Exists` (parent before child).
    pub(crate) fn take_walk(&mut self) -> Option<u64> {
        self.walk.take()
    }

    /// Whether `a` is `d` or one of its covered ancestors (bounded by the set's size, so a
    /// corrupt parent chain cannot loop).
    fn is_ancestor(&self, a: u64, mut d: u64) -> bool {
        for _ in 0..=self.below.len() {
            if d == a {
                return true;
            }
            match self.below.get(&d) {
                Some(&p) => d = p,
                None => return false,
            }
        }
        false
    }

    /// Drops covered directory `top` and every covered directory below it.
    fn drop_subtree(&mut self, top: u64) {
        if self.below.remove(&top).is_none() {
            return;
        }
        let doomed = self.select(|d| d == top, true);
        for d in doomed {
            self.below.remove(&d);
        }
    }

    /// The covered directories whose parent chain reaches a directory `goal` accepts
    /// (`wanted`), or does not (`!wanted`). One pass; each chain is walked once (answers are
    /// remembered), so a deep tree costs linear time, and a corrupt chain cannot loop.
    fn select(&self, goal: impl Fn(u64) -> bool, wanted: bool) -> Vec<u64> {
        let mut known: InoMap<bool> = InoMap::default();
        let mut chain = Vec::new();
        let mut out = Vec::new();
        for &d in self.below.keys() {
            chain.clear();
            let mut at = d;
            let reaches = loop {
                if let Some(&k) = known.get(&at) {
                    break k;
                }
                if goal(at) {
                    break true;
                }
                match self.below.get(&at) {
                    Some(&p) if chain.len() <= self.below.len() => {
                        chain.push(at);
                        at = p;
                    }
                    _ => break false,
                }
            };
            for &c in &chain {
                known.insert(c, reaches);
            }
            if reaches == wanted {
                out.push(d);
            }
        }
        out
    }
}
