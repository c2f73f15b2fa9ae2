//! inotify semantics as pure logic: no I/O, no Redox, no clock.
//!
//! The [`Engine`] holds every inotify instance, each with its watches (keyed by wd) and its
//! event queue (kept in wire format), and an index from inode key to the watches on it. It
//! turns filesystem facts ([`Fact`], from the feed) into `inotify_event` records in Linux's
//! order, and reports what the layers around it must act on: instances that became readable
//! and changes to the per-filesystem interest set.
//!
//! # Modules
//!
//! Each module imports only the modules its row lists, all above it, so the module graph is
//! a DAG with this file on top (a unit test below checks the source against this table):
//!
//! | module | holds | imports |
//! |---|---|---|
//! | `hash` | `mix`, `wd_hash`, `inode_hash` | - |
//! | `errno` | errno values | - |
//! | `types` | public value types: ids, [`InodeKey`], [`Target`], [`Limits`], [`InterestChange`] | - |
//! | `queue` | one instance's wire-format event queue | `errno`, `types` |
//! | `watch` | the 32-byte watch record and the watch slab | `types` |
//! | `index` | inode -> first watch of the inode's chain | `hash`, `types`, `watch` |
//! | `instance` | the instance slab and each instance's wd table | `hash`, `queue`, `types`, `watch` |
//! | `subtree` | the directories `IN_SUBTREE` watches cover, with parents and names | `types` |
//! | `engine` | the [`Engine`] struct; attaching and detaching watches; the queue storage budget; ending a watch's subtree coverage | `hash`, `index`, `instance`, `queue`, `subtree`, `types`, `watch` |
//! | `deliver` | events into queues: fan-out to an inode's watches, IN_ONESHOT, IN_IGNORED | `engine`, `queue`, `types`, `watch` |
//! | `cover` | subtree watches: events with relative paths, coverage kept in step with facts | `deliver`, `engine`, `types`, `watch` |
//! | `translate` | fact -> events, one rule per fact | `deliver`, `engine`, `types`, `watch` |
//! | `lib.rs` | the public calls | all |
//!
//! `Engine`'s methods are grouped by layer: the public ones (the inotify calls, fact intake,
//! reads, statistics) in this file; the table operations in `engine`; event delivery in
//! `deliver`; the translation rules in `translate`. `docs/engine.md` describes the data
//! structures and every translation rule.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod cover;
mod deliver;
mod engine;
pub mod errno;
mod hash;
mod index;
mod instance;
mod queue;
mod subtree;
mod translate;
mod types;
mod watch;

use alloc::vec::Vec;

use hashbrown::HashMap;
use inotify_abi::consts::{
    add_watch_mask_is_valid, IN_ISDIR, IN_MASK_ADD, IN_MASK_CREATE, IN_ONLYDIR, IN_SUBTREE,
};

use engine::Budget;
use errno::{EEXIST, EINVAL, EMFILE, ENOSPC, ENOTDIR};
use index::InodeIndex;
use instance::Instances;
use watch::{WatchSlab, KEPT_BITS, LOST_MARK};

pub use engine::Engine;
pub use inotify_abi::feed::{Fact, Interest, Replaced, Subject};
pub use inotify_abi::proto::LossReport;
pub use types::{
    Errno, FsId, InodeKey, InstanceEntry, InstanceId, InterestChange, Limits, Target, WatchEntry,
};

/// The clock of an engine nobody gave one.
fn no_clock() -> u64 {
    0
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
            queued_total: 0,
            cookie: 1,
            drops: 0,
            woken: Vec::new(),
            interest: Vec::new(),
            scratch: Vec::new(),
            clock: no_clock,
            now: None,
            subtrees: Default::default(),
            path: Vec::new(),
            scratch_dirs: Vec::new(),
            took_subtree: false,
        }
    }

    /// Sets the clock loss reports are stamped with: monotonic nanoseconds. It is read at
    /// the first loss after each [`new_turn`](Self::new_turn) only (never per delivered
    /// event, nor per dropped one), so every loss of a turn carries that turn's time. Until
    /// set, every stamp is 0.
    pub fn set_clock(&mut self, clock: fn() -> u64) {
        self.clock = clock;
        self.now = None;
    }

    /// Starts a turn: the next loss reads the clock again. The daemon calls it at each
    /// wake-up, before it handles a request or pulls a feed.
    pub fn new_turn(&mut self) {
        self.now = None;
    }

    /// Takes `inst`'s loss report (what it lost since the last one) and starts a new one.
    /// `EINVAL` for an unknown instance.
    pub fn take_loss_report(&mut self, inst: InstanceId) -> Result<LossReport, Errno> {
        let slot = self.instances.slot_of(inst).ok_or(EINVAL)?;
        let instance = self.instances.get_mut(slot).ok_or(EINVAL)?;
        let loss = core::mem::take(&mut instance.loss);
        if loss.report.wd_count > 0 {
            for &i in instance.wds.iter() {
                self.watches.recs[i as usize].mask &= !LOST_MARK;
            }
        }
        Ok(loss.report)
    }

    /// `inst`'s watches with `wd >= from_wd`, in wd order, into `out` (cleared first).
    /// `EINVAL` for an unknown instance.
    pub fn list_watches(
        &self,
        inst: InstanceId,
        from_wd: i32,
        out: &mut Vec<WatchEntry>,
    ) -> Result<(), Errno> {
        out.clear();
        let slot = self.instances.slot_of(inst).ok_or(EINVAL)?;
        let instance = self.instances.get(slot).ok_or(EINVAL)?;
        out.extend(instance.wds.iter().filter_map(|&i| {
            let w = &self.watches.recs[i as usize];
            (w.wd >= from_wd).then_some(WatchEntry {
                wd: w.wd,
                mask: w.mask & KEPT_BITS,
                key: w.key(),
            })
        }));
        out.sort_unstable_by_key(|e| e.wd);
        Ok(())
    }

    /// Every live instance, in slot order, into `out` (cleared first).
    pub fn list_instances(&self, out: &mut Vec<InstanceEntry>) {
        out.clear();
        out.extend(self.instances.iter().map(|(_, i)| InstanceEntry {
            id: i.id,
            uid: i.uid,
            watches: i.wds.len(),
            queued_bytes: i.queue.bytes(),
            queue_storage: i.queue.heap_bytes(),
            unreported: i.loss.report.dropped + i.loss.report.feed_lost,
        }));
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
        dead.queue.release(&mut Budget::new(
            &mut self.users,
            &mut self.queued_total,
            &self.limits,
            dead.uid,
        ));
        // The instance is out of its slot, so `detach_watch` would not find its wd table.
        for i in dead.wds.drain() {
            self.uncover(i, dead.uid);
            self.unchain(i);
            self.watches.release(i);
            self.uncount_watch(dead.uid);
        }
        if let Some(u) = self.users.get_mut(&dead.uid) {
            u.instances = u.instances.saturating_sub(1);
            if u.instances == 0 && u.watches == 0 {
                debug_assert_eq!(u.queued, 0);
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
        if mask & IN_SUBTREE != 0 {
            // A subtree watch needs the filesystem's walk: `add_subtree_watch`.
            return Err(EINVAL);
        }
        self.add_watch_below(inst, target, mask, 0)
    }

    /// `inotify_add_watch` with `IN_SUBTREE` (an inotifyd extension) on directory `target`,
    /// after the filesystem's subtree call found `below` directories below it (their
    /// `Exists` facts follow through [`apply`](Self::apply)). Errors as
    /// [`add_watch`](Self::add_watch), plus `ENOTDIR` for a non-directory and `ENOSPC` when
    /// the uid's watches and covered directories would exceed `max_user_watches` (or all of
    /// them `max_watches`). Each call stands for one subtree call on the filesystem: whenever
    /// the engine does not keep it (an error, or a watch that already covers its subtree) it
    /// queues `Interest::RemoveSubtree` for it, as it does when a subtree watch ends.
    pub fn add_subtree_watch(
        &mut self,
        inst: InstanceId,
        target: Target,
        mask: u32,
        below: u64,
    ) -> Result<i32, Errno> {
        let r = if mask & IN_SUBTREE == 0 {
            Err(EINVAL)
        } else if !target.is_dir {
            Err(ENOTDIR)
        } else {
            self.add_watch_below(inst, target, mask, below)
        };
        let kept = r.is_ok_and(|_| self.took_subtree);
        self.took_subtree = false;
        if !kept {
            self.interest.push(InterestChange {
                fs: target.key.fs,
                change: Interest::RemoveSubtree(target.key.ino),
            });
        }
        r
    }

    /// `add_watch` and `add_subtree_watch`: `below` directories will be covered when the
    /// mask has `IN_SUBTREE`. Sets `took_subtree` when a watch became a subtree watch.
    fn add_watch_below(
        &mut self,
        inst: InstanceId,
        target: Target,
        mask: u32,
        below: u64,
    ) -> Result<i32, Errno> {
        if !add_watch_mask_is_valid(mask) {
            return Err(EINVAL);
        }
        let slot = self.instances.slot_of(inst).ok_or(EINVAL)?;
        if mask & IN_ONLYDIR != 0 && !target.is_dir {
            return Err(ENOTDIR);
        }
        let uid = self.instances.get(slot).ok_or(EINVAL)?.uid;
        let kept = mask & KEPT_BITS | if target.is_dir { IN_ISDIR } else { 0 };
        if let Some(i) = self.find_watch(slot, target.key) {
            if mask & IN_MASK_CREATE != 0 {
                return Err(EEXIST);
            }
            let old = self.watches.recs[i as usize].mask;
            let had = old & IN_SUBTREE != 0;
            let becomes = mask & IN_SUBTREE != 0 && !had;
            if becomes && !self.room_for(uid, below) {
                return Err(ENOSPC);
            }
            // Without IN_MASK_ADD the events and IN_ONESHOT/IN_EXCL_UNLINK/IN_SUBTREE are
            // replaced: a subtree watch re-added without the bit ends its coverage.
            let drops = had && mask & (IN_SUBTREE | IN_MASK_ADD) == 0;
            if drops {
                self.uncover(i, uid);
            }
            let old = self.watches.recs[i as usize].mask;
            let mut new = if mask & IN_MASK_ADD != 0 {
                old | kept
            } else {
                kept | (old & LOST_MARK)
            } & !IN_SUBTREE;
            if (had && !drops) || becomes {
                new |= IN_SUBTREE;
            }
            if becomes {
                self.subtrees.watch_added();
                self.took_subtree = true;
            }
            let w = &mut self.watches.recs[i as usize];
            w.mask = new;
            return Ok(w.wd);
        }
        let Some(instance) = self.instances.get_mut(slot) else {
            return Err(EINVAL);
        };
        let wd = instance.alloc_wd(&self.watches.recs);
        let more = if mask & IN_SUBTREE != 0 { 1 + below } else { 1 };
        if !self.room_for(uid, more) {
            return Err(ENOSPC);
        }
        self.attach_watch(slot, wd, target.key, kept)
            .ok_or(ENOSPC)?;
        self.took_subtree = mask & IN_SUBTREE != 0;
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
        let instance = self.instances.get_mut(slot).ok_or(EINVAL)?;
        let mut budget = Budget::new(
            &mut self.users,
            &mut self.queued_total,
            &self.limits,
            instance.uid,
        );
        instance.queue.read(buf, &mut budget)
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

    /// Bytes of queue storage held by `uid`'s instances (charged against
    /// `max_user_queued_bytes`).
    pub fn user_queue_storage(&self, uid: u32) -> usize {
        self.users.get(&uid).map_or(0, |u| u.queued)
    }

    /// Bytes of queue storage held by every instance (charged against
    /// `max_total_queued_bytes`).
    pub fn queue_storage(&self) -> usize {
        self.queued_total
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
            + self.subtrees.heap_bytes()
            + self.path.capacity()
            + self.scratch_dirs.capacity() * 8
            + (self.woken.capacity() + self.scratch.capacity()) * 4
            + self.interest.capacity() * core::mem::size_of::<InterestChange>()
    }

    /// Number of distinct watched inodes.
    pub fn watched_inodes(&self) -> usize {
        self.inodes.len()
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    /// Every module file, in the order of the crate doc's table.
    const MODULES: &[(&str, &str)] = &[
        ("hash", include_str!("hash.rs")),
        ("errno", include_str!("errno.rs")),
        ("types", include_str!("types.rs")),
        ("queue", include_str!("queue.rs")),
        ("watch", include_str!("watch.rs")),
        ("index", include_str!("index.rs")),
        ("instance", include_str!("instance.rs")),
        ("subtree", include_str!("subtree.rs")),
        ("engine", include_str!("engine.rs")),
        ("deliver", include_str!("deliver.rs")),
        ("cover", include_str!("cover.rs")),
        ("translate", include_str!("translate.rs")),
    ];

    /// The crate doc's module table: each module with the modules it may import, in order.
    fn doc_table() -> Vec<(&'static str, Vec<&'static str>)> {
        include_str!("lib.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//! | `"))
            .map(|row| {
                let name = &row[..row.find('`').unwrap()];
                let imports = row.trim_end_matches(" |").rsplit(" | ").next().unwrap();
                let uses = imports
                    .split(", ")
                    .filter_map(|m| m.strip_prefix('`')?.strip_suffix('`'))
                    .collect();
                (name, uses)
            })
            .filter(|(name, _)| *name != "lib.rs")
            .collect()
    }

    /// The names following `crate::` in `src` (a module, or an item of the crate root).
    fn crate_paths(src: &str) -> impl Iterator<Item = &str> {
        src.match_indices("crate::").map(move |(at, _)| {
            let rest = &src[at + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
    }

    #[test]
    fn each_module_imports_only_what_the_crate_doc_lists_above_it() {
        let table = doc_table();
        let names: Vec<&str> = table.iter().map(|row| row.0).collect();
        let files: Vec<&str> = MODULES.iter().map(|m| m.0).collect();
        assert_eq!(names, files, "the doc table and MODULES differ");
        for (i, ((name, allowed), (_, src))) in table.iter().zip(MODULES).enumerate() {
            for used in crate_paths(src) {
                assert!(
                    allowed.contains(&used),
                    "{name} uses crate::{used}, not in its row of the crate doc's table"
                );
            }
            for dep in allowed {
                assert!(names[..i].contains(dep), "{name} lists {dep}, not above it");
            }
            for line in src.lines().filter(|l| l.contains("super::")) {
                assert_eq!(line.trim(), "use super::*;", "{name} reaches up: {line}");
            }
        }
    }

    #[test]
    fn the_crate_doc_table_lists_every_module() {
        let mut declared: Vec<&str> = include_str!("lib.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("mod ").or(l.strip_prefix("pub mod ")))
            .filter_map(|l| l.strip_suffix(';'))
            .collect();
        let mut listed: Vec<&str> = doc_table().into_iter().map(|row| row.0).collect();
        listed.sort_unstable();
        declared.sort_unstable();
        assert_eq!(listed, declared);
    }
}
