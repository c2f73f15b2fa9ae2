//! The directories `IN_SUBTREE` watches cover below their roots: for each covered directory
//! and watch, the parent and the name, so an event in the directory can carry its path
//! relative to the watch's root.
//!
//! Touched only when a subtree watch exists: the fact path checks [`Subtrees::is_empty`]
//! first. A node costs a hash entry and its name; nothing here allocates per event (the
//! path is built in a reused buffer).

use alloc::boxed::Box;
use alloc::vec::Vec;

use hashbrown::HashMap;

use crate::types::FsId;

/// Longest relative path an event carries (Linux's `PATH_MAX` less the NUL): deeper events
/// are counted as lost.
pub(crate) const MAX_PATH: usize = 4095;

/// One covered directory of one watch.
#[derive(Debug)]
pub(crate) struct Node {
    /// Its parent directory (the watch's root, or another covered directory).
    pub(crate) parent: u64,
    /// Its name in the parent.
    pub(crate) name: Box<[u8]>,
}

/// Every covered directory of every subtree watch.
#[derive(Debug, Default)]
pub(crate) struct Subtrees {
    /// (filesystem, directory) -> the watches (slab indices) covering it below their root.
    by_dir: HashMap<(FsId, u64), Vec<u32>>,
    /// (filesystem, directory, watch) -> the node.
    nodes: HashMap<(FsId, u64, u32), Node>,
    /// Live subtree watches (slab indices), so the fact path can skip all of this.
    watches: usize,
}

impl Subtrees {
    /// Whether no subtree watch exists.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.watches == 0
    }

    /// A subtree watch was attached (or a watch became one).
    pub(crate) fn watch_added(&mut self) {
        self.watches += 1;
    }

    /// A subtree watch went (its nodes are dropped separately).
    pub(crate) fn watch_removed(&mut self) {
        debug_assert!(self.watches > 0);
        self.watches = self.watches.saturating_sub(1);
    }

    /// Covered directories of all watches.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Heap bytes of the tables (names not counted).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.by_dir.allocation_size() + self.nodes.allocation_size()
    }

    /// The watches covering `dir` below their roots.
    #[inline]
    pub(crate) fn covering(&self, fs: FsId, dir: u64) -> &[u32] {
        self.by_dir.get(&(fs, dir)).map_or(&[], |v| v.as_slice())
    }

    /// Whether watch `w` covers `dir` below its root.
    #[inline]
    pub(crate) fn has(&self, fs: FsId, dir: u64, w: u32) -> bool {
        self.nodes.contains_key(&(fs, dir, w))
    }

    /// Covers `dir` (named `name` in `parent`) for watch `w`. The caller checked that it was
    /// not covered and that the parent is.
    pub(crate) fn insert(&mut self, fs: FsId, dir: u64, w: u32, parent: u64, name: &[u8]) {
        let node = Node {
            parent,
            name: name.into(),
        };
        if self.nodes.insert((fs, dir, w), node).is_none() {
            self.by_dir.entry((fs, dir)).or_default().push(w);
        }
    }

    /// Moves covered `dir` of watch `w` to `name` in `parent`.
    pub(crate) fn rename(&mut self, fs: FsId, dir: u64, w: u32, parent: u64, name: &[u8]) {
        if let Some(n) = self.nodes.get_mut(&(fs, dir, w)) {
            n.parent = parent;
            n.name = name.into();
        }
    }

    /// Uncovers `dir` for watch `w`; returns whether it was covered.
    pub(crate) fn remove(&mut self, fs: FsId, dir: u64, w: u32) -> bool {
        if self.nodes.remove(&(fs, dir, w)).is_none() {
            return false;
        }
        if let Some(v) = self.by_dir.get_mut(&(fs, dir)) {
            v.retain(|&x| x != w);
            if v.is_empty() {
                self.by_dir.remove(&(fs, dir));
            }
        }
        true
    }

    /// Whether `a` is `dir` or one of its covered ancestors for watch `w` (a bounded walk).
    pub(crate) fn is_ancestor(&self, fs: FsId, a: u64, mut dir: u64, w: u32) -> bool {
        for _ in 0..=self.nodes.len() {
            if dir == a {
                return true;
            }
            match self.nodes.get(&(fs, dir, w)) {
                Some(n) => dir = n.parent,
                None => return false,
            }
        }
        false
    }

    /// The covered directories of watch `w` strictly below `top`, into `out`. One pass
    /// over the nodes; each parent chain is walked once (answers are remembered), so a deep
    /// tree costs linear time, not its size times its depth.
    pub(crate) fn below(&self, fs: FsId, top: u64, w: u32, out: &mut Vec<u64>) {
        let mut known: HashMap<u64, bool> = HashMap::new();
        let mut chain: Vec<u64> = Vec::new();
        for &(f, d, x) in self.nodes.keys() {
            if f != fs || x != w || d == top {
                continue;
            }
            chain.clear();
            let mut at = d;
            let answer = loop {
                if let Some(&k) = known.get(&at) {
                    break k;
                }
                if at == top {
                    break true;
                }
                match self.nodes.get(&(fs, at, w)) {
                    Some(n) if chain.len() <= self.nodes.len() => {
                        chain.push(at);
                        at = n.parent;
                    }
                    _ => break false,
                }
            };
            for &c in &chain {
                known.insert(c, answer);
            }
            if answer {
                out.push(d);
            }
        }
    }

    /// Every covered directory of watch `w`, into `out` (as `(fs, dir)`).
    pub(crate) fn of_watch(&self, w: u32, out: &mut Vec<(FsId, u64)>) {
        out.extend(
            self.nodes
                .keys()
                .filter(|(_, _, x)| *x == w)
                .map(|(f, d, _)| (*f, *d)),
        );
    }

    /// Writes the path of `name` in covered directory `dir` relative to the root `root` of
    /// watch `w` into `out` (cleared first): `a/b/name`. `false` when the chain is broken or
    /// the path is longer than [`MAX_PATH`].
    pub(crate) fn path(
        &self,
        fs: FsId,
        root: u64,
        mut dir: u64,
        w: u32,
        name: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        out.extend(name.iter().rev());
        for _ in 0..=self.nodes.len() {
            if dir == root {
                out.reverse();
                return out.len() <= MAX_PATH;
            }
            let Some(n) = self.nodes.get(&(fs, dir, w)) else {
                return false;
            };
            out.push(b'/');
            out.extend(n.name.iter().rev());
            if out.len() > MAX_PATH {
                return false;
            }
            dir = n.parent;
        }
        false
    }
}
