//! Instances: a slab addressed by [`InstanceId`], each instance with its wd table and queue.
//!
//! An id is `generation << SLOT_BITS | slot`: a stale id (its instance destroyed, its slot
//! reused) does not match the slot's generation and is refused like an unknown one.

use alloc::vec::Vec;

use hashbrown::HashTable;
use inotify_abi::proto::LossReport;

use crate::hash::wd_hash;
use crate::queue::Queue;
use crate::types::InstanceId;
use crate::watch::Watch;

/// Bits of an id that select the slot.
const SLOT_BITS: u32 = 20;
/// Mask of the slot bits.
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
/// Generations cycle through 1..=GEN_MAX, so no id is 0.
const GEN_MAX: u32 = u32::MAX >> SLOT_BITS;

/// What an instance lost since its last loss report: counters and a bounded wd list, so
/// counting a drop never allocates.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Loss {
    /// The report so far (`first_ns` is valid when `any`).
    pub(crate) report: LossReport,
    /// Something was lost since the last report.
    pub(crate) any: bool,
}

impl Loss {
    /// Notes a loss at `now`: `dropped` queue drops and `feed_lost` feed records.
    pub(crate) fn count(&mut self, now: u64, dropped: u64, feed_lost: u64) {
        let r = &mut self.report;
        if !self.any {
            self.any = true;
            r.first_ns = now;
        }
        r.last_ns = now;
        r.dropped = r.dropped.saturating_add(dropped);
        r.feed_lost = r.feed_lost.saturating_add(feed_lost);
    }

    /// Notes a wd that lost events for the first time since the last report.
    pub(crate) fn add_wd(&mut self, wd: i32) {
        let r = &mut self.report;
        match r.wds.get_mut(r.wd_count as usize) {
            Some(slot) => {
                *slot = wd;
                r.wd_count += 1;
            }
            None => r.more_wds = r.more_wds.saturating_add(1),
        }
    }
}

/// One inotify instance.
#[derive(Debug)]
pub(crate) struct Instance {
    /// Its public id.
    pub(crate) id: InstanceId,
    /// The creator's uid (watches count against it).
    pub(crate) uid: u32,
    /// The next wd to hand out (Linux `idr_alloc_cyclic` over `1..=i32::MAX`).
    pub(crate) next_wd: i32,
    /// Its live watches, as indices into the watch slab, found by wd.
    pub(crate) wds: HashTable<u32>,
    /// Its events, in wire format.
    pub(crate) queue: Queue,
    /// It is in the engine's woken list and not yet taken.
    pub(crate) woken: bool,
    /// Losses since the last loss report.
    pub(crate) loss: Loss,
}

impl Instance {
    /// The slab index of the watch `wd`, if live.
    #[inline]
    pub(crate) fn find(&self, watches: &[Watch], wd: i32) -> Option<u32> {
        self.wds
            .find(wd_hash(wd), |&i| watches[i as usize].wd == wd)
            .copied()
    }

    /// Takes the next wd not held by a live watch. Like Linux, the counter moves on even when
    /// the caller then fails with `ENOSPC`.
    pub(crate) fn alloc_wd(&mut self, watches: &[Watch]) -> i32 {
        loop {
            let wd = self.next_wd;
            self.next_wd = if wd == i32::MAX { 1 } else { wd + 1 };
            if self.find(watches, wd).is_none() {
                return wd;
            }
        }
    }
}

/// One slab slot.
#[derive(Debug)]
struct Slot {
    /// Generation of the current (or next) occupant.
    gen: u32,
    /// The occupant.
    inst: Option<Instance>,
}

/// All instances.
#[derive(Debug, Default)]
pub(crate) struct Instances {
    /// Slots; an instance's slot index is stored in its watches.
    slots: Vec<Slot>,
    /// Empty slots, reused last-in first-out.
    free: Vec<u32>,
}

impl Instances {
    /// The slot of a live instance `id`.
    #[inline]
    pub(crate) fn slot_of(&self, id: InstanceId) -> Option<u32> {
        let slot = id & SLOT_MASK;
        let s = self.slots.get(slot as usize)?;
        (s.inst.is_some() && s.gen == id >> SLOT_BITS).then_some(slot)
    }

    /// The instance in `slot`.
    #[inline]
    pub(crate) fn get(&self, slot: u32) -> Option<&Instance> {
        self.slots.get(slot as usize)?.inst.as_ref()
    }

    /// The instance in `slot`, mutably.
    #[inline]
    pub(crate) fn get_mut(&mut self, slot: u32) -> Option<&mut Instance> {
        self.slots.get_mut(slot as usize)?.inst.as_mut()
    }

    /// Creates an instance for `uid`; `None` when every id is taken.
    pub(crate) fn insert(&mut self, uid: u32) -> Option<InstanceId> {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.slots.len())
                    .ok()
                    .filter(|&s| s <= SLOT_MASK)?;
                self.slots.push(Slot { gen: 1, inst: None });
                slot
            }
        };
        let s = &mut self.slots[slot as usize];
        debug_assert!(s.inst.is_none());
        let id = s.gen << SLOT_BITS | slot;
        s.inst = Some(Instance {
            id,
            uid,
            next_wd: 1,
            wds: HashTable::new(),
            queue: Queue::new(),
            woken: false,
            loss: Loss::default(),
        });
        Some(id)
    }

    /// Takes the instance out of `slot`; the slot's next occupant gets a new generation.
    pub(crate) fn remove(&mut self, slot: u32) -> Option<Instance> {
        let s = self.slots.get_mut(slot as usize)?;
        let inst = s.inst.take()?;
        s.gen = if s.gen >= GEN_MAX { 1 } else { s.gen + 1 };
        self.free.push(slot);
        Some(inst)
    }

    /// Heap bytes held by the slab itself (not the instances' tables and queues).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<Slot>() + self.free.capacity() * 4
    }

    /// Every live instance with its slot.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &Instance)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i as u32, s.inst.as_ref()?)))
    }
}
