//! A seeded, replayable workload for subtree watches and the events a watch on its root
//! must report, built from the operation log alone.
//!
//! The tree lives under one base directory: `w/` (the watched root) and `out/` (outside
//! it). Writers make `mkdir -p` bursts with a file deep in the new directories, create and
//! write files, move directories and files into, within and out of `w/`, and delete whole
//! subtrees. [`generate`] returns the operations (paths relative to the base) and the
//! events a subtree watch on `w` with [`MASK`] reports for them, in order, with paths
//! relative to `w`. The same operations run on inotifyd (tests/subtree_stress.rs) and on
//! Linux under `inotifywait -r` (`subtree-vs-inotifywait`).

use std::collections::BTreeMap;

use inotify_abi::consts::{IN_CREATE, IN_DELETE, IN_ISDIR, IN_MODIFY, IN_MOVED_FROM, IN_MOVED_TO};

/// The watched root, relative to the base directory.
pub const ROOT: &str = "w";
/// A directory outside the watched root.
pub const OUT: &str = "out";
/// The events the workload's watch asks for (no open, access or close, so each operation
/// has one deterministic set of events).
pub const MASK: u32 = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY;

/// One operation, paths relative to the base directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `mkdir(path)`.
    Mkdir(String),
    /// Create the file (exclusive), write one byte, close.
    Create(String),
    /// Open the existing file for writing, write one byte, close.
    Write(String),
    /// `unlink(path)`.
    Unlink(String),
    /// `rmdir(path)` (empty).
    Rmdir(String),
    /// `rename(from, to)` (`to` does not exist).
    Rename(String, String),
}

/// One event the watch must report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Event bits (with `IN_ISDIR`).
    pub mask: u32,
    /// Path relative to the watched root.
    pub name: String,
    /// For `IN_MOVED_FROM`: the index of its `IN_MOVED_TO` (same cookie), when the move
    /// stayed inside the root.
    pub pair: Option<usize>,
}

/// A generated run.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Operations that build the initial tree, before the watch is added.
    pub setup: Vec<Op>,
    /// Operations made while the watch exists.
    pub ops: Vec<Op>,
    /// The events for `ops`, in order.
    pub expected: Vec<Expected>,
}

/// splitmix64: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// The model: every path under the base with whether it is a directory.
struct Model {
    tree: BTreeMap<String, bool>,
    next_name: usize,
    expected: Vec<Expected>,
    log: Vec<Op>,
}

/// The path relative to the root, if `p` is below it.
fn inside(p: &str) -> Option<&str> {
    p.strip_prefix(ROOT)?.strip_prefix('/')
}

fn isdir(d: bool) -> u32 {
    if d {
        IN_ISDIR
    } else {
        0
    }
}

impl Model {
    fn fresh(&mut self, prefix: &str) -> String {
        self.next_name += 1;
        format!("{prefix}{}", self.next_name)
    }

    fn dirs(&self) -> Vec<String> {
        self.tree
            .iter()
            .filter(|(_, &d)| d)
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn files(&self) -> Vec<String> {
        self.tree
            .iter()
            .filter(|(_, &d)| !d)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Whether the events of an operation would repeat the last expected event (the queue
    /// would merge them, depending on whether the reader read in between): such
    /// operations are not generated.
    fn repeats(&self, mask: u32, p: &str) -> bool {
        let Some(rel) = inside(p) else { return false };
        self.expected
            .last()
            .is_some_and(|e| e.mask == mask && e.name == rel)
    }

    fn event(&mut self, mask: u32, p: &str) -> Option<usize> {
        let rel = inside(p)?;
        self.expected.push(Expected {
            mask,
            name: rel.to_string(),
            pair: None,
        });
        Some(self.expected.len() - 1)
    }

    fn mkdir(&mut self, p: String) {
        self.event(IN_CREATE | IN_ISDIR, &p);
        self.tree.insert(p.clone(), true);
        self.log.push(Op::Mkdir(p));
    }

    fn create(&mut self, p: String) {
        self.event(IN_CREATE, &p);
        self.event(IN_MODIFY, &p);
        self.tree.insert(p.clone(), false);
        self.log.push(Op::Create(p));
    }

    fn write(&mut self, p: String) {
        if self.repeats(IN_MODIFY, &p) {
            return;
        }
        self.event(IN_MODIFY, &p);
        self.log.push(Op::Write(p));
    }

    fn remove(&mut self, p: String) {
        let d = self.tree[&p];
        if self.repeats(IN_DELETE | isdir(d), &p) {
            return;
        }
        // rm -r: deepest first.
        let below: Vec<String> = self
            .tree
            .range(format!("{p}/")..)
            .take_while(|(q, _)| q.starts_with(&format!("{p}/")))
            .map(|(q, _)| q.clone())
            .collect();
        for q in below.into_iter().rev().chain([p]) {
            let d = self.tree.remove(&q).expect("in the tree");
            self.event(IN_DELETE | isdir(d), &q);
            self.log.push(if d { Op::Rmdir(q) } else { Op::Unlink(q) });
        }
    }

    fn rename(&mut self, from: String, to: String) {
        let d = self.tree[&from];
        let out = self.event(IN_MOVED_FROM | isdir(d), &from);
        let into = self.event(IN_MOVED_TO | isdir(d), &to);
        if let (Some(a), Some(b)) = (out, into) {
            self.expected[a].pair = Some(b);
        }
        let moved: Vec<(String, bool)> = self
            .tree
            .range(from.clone()..)
            .take_while(|(q, _)| **q == from || q.starts_with(&format!("{from}/")))
            .map(|(q, &d)| (q.clone(), d))
            .collect();
        for (q, d) in moved {
            self.tree.remove(&q);
            self.tree.insert(format!("{to}{}", &q[from.len()..]), d);
        }
        self.log.push(Op::Rename(from, to));
    }

    /// A random directory: in the root three times out of four.
    fn some_dir(&self, r: &mut Rng) -> String {
        let dirs = self.dirs();
        let (ins, outs): (Vec<_>, Vec<_>) = dirs
            .into_iter()
            .partition(|d| d == ROOT || inside(d).is_some());
        let pool = if r.chance(75) || outs.is_empty() {
            ins
        } else {
            outs
        };
        pool[r.below(pool.len())].clone()
    }

    fn step(&mut self, r: &mut Rng) {
        match r.below(100) {
            0..=29 => {
                // mkdir -p burst, often with a file at the bottom.
                let mut d = self.some_dir(r);
                for _ in 0..1 + r.below(4) {
                    d = format!("{d}/{}", self.fresh("d"));
                    self.mkdir(d.clone());
                }
                if r.chance(70) {
                    let f = format!("{d}/{}", self.fresh("f"));
                    self.create(f);
                }
            }
            30..=44 => {
                let d = self.some_dir(r);
                let f = format!("{d}/{}", self.fresh("f"));
                self.create(f);
            }
            45..=54 => {
                let files = self.files();
                if !files.is_empty() {
                    let f = files[r.below(files.len())].clone();
                    self.write(f);
                }
            }
            55..=79 => {
                // Move a directory (sometimes a file) to a directory not below it.
                let movable: Vec<String> = if r.chance(80) {
                    self.dirs()
                        .into_iter()
                        .filter(|d| d != ROOT && d != OUT)
                        .collect()
                } else {
                    self.files()
                };
                if movable.is_empty() {
                    return;
                }
                let from = movable[r.below(movable.len())].clone();
                let targets: Vec<String> = self
                    .dirs()
                    .into_iter()
                    .filter(|t| *t != from && !t.starts_with(&format!("{from}/")))
                    .collect();
                let to_dir = targets[r.below(targets.len())].clone();
                let to = format!("{to_dir}/{}", self.fresh("m"));
                self.rename(from, to);
            }
            80..=89 => {
                let dirs: Vec<String> = self
                    .dirs()
                    .into_iter()
                    .filter(|d| d != ROOT && d != OUT)
                    .collect();
                if !dirs.is_empty() {
                    let d = dirs[r.below(dirs.len())].clone();
                    self.remove(d);
                }
            }
            _ => {
                let files = self.files();
                if !files.is_empty() {
                    let f = files[r.below(files.len())].clone();
                    self.remove(f);
                }
            }
        }
    }
}

/// The workload of `seed`: a small initial tree, then `steps` random steps (each one or
/// more operations).
pub fn generate(seed: u64, steps: usize) -> Workload {
    let mut r = Rng(seed);
    let mut m = Model {
        tree: BTreeMap::new(),
        next_name: 0,
        expected: Vec::new(),
        log: Vec::new(),
    };
    m.mkdir(ROOT.to_string());
    m.mkdir(OUT.to_string());
    for _ in 0..8 {
        let d = m.some_dir(&mut r);
        let n = format!("{d}/{}", m.fresh("d"));
        m.mkdir(n.clone());
        if r.chance(50) {
            let f = format!("{n}/{}", m.fresh("f"));
            m.create(f);
        }
    }
    let setup = std::mem::take(&mut m.log);
    m.expected.clear();
    for _ in 0..steps {
        m.step(&mut r);
    }
    Workload {
        setup,
        ops: m.log,
        expected: m.expected,
    }
}

/// One event as read: mask, cookie, name.
pub type Seen = (u32, u32, String);

/// Checks `got` against `expected`: the same events in the same order, each exactly once,
/// and each move inside the root as one cookie on its two halves, unique to it.
pub fn check(expected: &[Expected], got: &[Seen]) -> Result<(), String> {
    for (k, (e, g)) in expected.iter().zip(got).enumerate() {
        if e.mask != g.0 || e.name != g.2 {
            return Err(format!(
                "event {k}: expected {:#x} {:?}, got {:#x} {:?}",
                e.mask, e.name, g.0, g.2
            ));
        }
    }
    if expected.len() != got.len() {
        return Err(format!(
            "expected {} events, got {} (next expected: {:?}, next got: {:?})",
            expected.len(),
            got.len(),
            expected.get(got.len()),
            got.get(expected.len())
        ));
    }
    let mut cookies = std::collections::BTreeSet::new();
    for (k, e) in expected.iter().enumerate() {
        if let Some(b) = e.pair {
            let c = got[k].1;
            if c == 0 || got[b].1 != c || !cookies.insert(c) {
                return Err(format!("move {k}/{b}: cookies {c} and {}", got[b].1));
            }
        }
    }
    Ok(())
}

/// How many expected events `got` lacks, by (mask, path): each reported event accounts
/// for one expected event with the same mask and path, wherever it came.
pub fn missing(expected: &[Expected], got: &[(u32, String)]) -> usize {
    count_missing(
        expected.iter().map(|e| (e.mask, e.name.as_str())),
        got.iter().map(|(m, n)| (*m, n.as_str())),
    )
}

/// Like [`missing`], by mask and the last component of the path only: the events that were
/// not reported at all (the rest of [`missing`] came with a wrong path).
pub fn missing_anywhere(expected: &[Expected], got: &[(u32, String)]) -> usize {
    let last = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    count_missing(
        expected.iter().map(|e| (e.mask, last(&e.name))),
        got.iter().map(|(m, n)| (*m, last(n))),
    )
}

/// Expected items with no counterpart among the reported ones (multiset difference).
fn count_missing<K: Ord>(
    expected: impl Iterator<Item = (u32, K)>,
    got: impl Iterator<Item = (u32, K)>,
) -> usize {
    let mut have: BTreeMap<(u32, K), usize> = BTreeMap::new();
    for k in got {
        *have.entry(k).or_default() += 1;
    }
    expected
        .filter(|k| match have.get_mut(k) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_workload_every_time_and_seeds_differ() {
        let a = generate(7, 50);
        let b = generate(7, 50);
        assert_eq!(a.ops, b.ops);
        assert_eq!(a.expected, b.expected);
        assert_ne!(generate(8, 50).ops, a.ops);
    }

    #[test]
    fn the_model_has_no_event_that_repeats_the_one_before() {
        for seed in 0..50 {
            let w = generate(seed, 200);
            for pair in w.expected.windows(2) {
                assert_ne!(
                    (pair[0].mask, &pair[0].name),
                    (pair[1].mask, &pair[1].name),
                    "seed {seed}"
                );
            }
        }
    }

    #[test]
    fn check_refuses_a_missing_a_reordered_and_a_wrong_path_event() {
        let w = generate(3, 100);
        let mut cookie = 0;
        let got: Vec<Seen> = w
            .expected
            .iter()
            .enumerate()
            .map(|(k, e)| {
                let c = if e.pair.is_some() || w.expected[..k].iter().any(|x| x.pair == Some(k)) {
                    if e.pair.is_some() {
                        cookie += 1;
                    }
                    w.expected[..=k].iter().filter(|x| x.pair.is_some()).count() as u32
                } else {
                    0
                };
                (e.mask, c, e.name.clone())
            })
            .collect();
        assert!(cookie > 0, "the workload moves inside the root");
        assert_eq!(check(&w.expected, &got), Ok(()));
        assert_eq!(missing(&w.expected, &[]), w.expected.len());
        let mut dropped = got.clone();
        dropped.remove(5);
        assert!(check(&w.expected, &dropped).is_err());
        let mut swapped = got.clone();
        swapped.swap(2, 3);
        assert!(check(&w.expected, &swapped).is_err());
        let mut renamed = got;
        renamed[4].2.push('x');
        assert!(check(&w.expected, &renamed).is_err());
    }
}
