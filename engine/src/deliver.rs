//! Event delivery: putting events into instances' queues.
//!
//! [`Engine::queue_event`] is the one place an event enters a queue (drop counting, the
//! storage budget and the empty -> non-empty wake edge included); [`Engine::notify_inode`]
//! sends an event to every watch on an inode that asks for it, the way Linux's fsnotify
//! does; the ends of a watch that queue IN_IGNORED ([`Engine::remove_watch`],
//! [`Engine::inode_freed`]) are here because they deliver an event before detaching the
//! watch.

use inotify_abi::consts::{IN_ALL_EVENTS, IN_DELETE_SELF, IN_EXCL_UNLINK, IN_IGNORED, IN_ONESHOT};

use crate::engine::{Budget, Engine};
use crate::queue::Pushed;
use crate::types::InodeKey;
use crate::watch::{Watch, FREE, LOST_MARK, NIL};

/// Whether watches with `IN_EXCL_UNLINK` must stay silent for an event: Linux's check of
/// `d_unlinked()` on the path of the open file an event comes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Excl {
    /// Every watch asking for the event gets it.
    No,
    /// The event comes through an open file whose name was removed: IN_EXCL_UNLINK watches
    /// skip it.
    Detached,
}

/// Whether watch `w` must skip an event because of IN_EXCL_UNLINK.
#[inline]
pub(crate) fn excluded(w: &Watch, excl: Excl) -> bool {
    excl == Excl::Detached && w.mask & IN_EXCL_UNLINK != 0
}

impl Engine {
    /// Queues one event on instance `slot`, counting drops and noting the empty -> non-empty
    /// edge. An event that does not fit the queue's buffer goes the slow way, where the
    /// buffer grows within its owner's and the engine's storage budget.
    #[inline]
    pub(crate) fn queue_event(&mut self, slot: u32, wd: i32, mask: u32, cookie: u32, name: &[u8]) {
        let max = self.limits.max_queued_events;
        let Some(inst) = self.instances.get_mut(slot) else {
            debug_assert!(false, "event for a dead instance");
            return;
        };
        let was_empty = inst.queue.is_empty();
        let pushed = match inst.queue.try_push(wd, mask, cookie, name, max) {
            Some(pushed) => pushed,
            None => {
                let mut budget = Budget::new(
                    &mut self.users,
                    &mut self.queued_total,
                    &self.limits,
                    inst.uid,
                );
                inst.queue.push(wd, mask, cookie, name, max, &mut budget)
            }
        };
        if was_empty && !inst.woken && !inst.queue.is_empty() {
            inst.woken = true;
            self.woken.push(inst.id);
        }
        if pushed == Pushed::Dropped {
            self.drops += 1;
            self.note_loss(slot, wd, 1, 0);
        }
    }

    /// Counts a loss on instance `slot` for its loss report: `dropped` queue drops and
    /// `feed_lost` feed records, on watch `wd`, stamped with the turn's time (the clock is
    /// read at the turn's first loss). No
    /// allocation: the wd goes into the report's bounded list (or its count of others) the
    /// first time it loses something since the last report, which its watch's
    /// [`LOST_MARK`] remembers.
    #[cold]
    pub(crate) fn note_loss(&mut self, slot: u32, wd: i32, dropped: u64, feed_lost: u64) {
        let clock = self.clock;
        let now = *self.now.get_or_insert_with(clock);
        let Some(inst) = self.instances.get_mut(slot) else {
            return;
        };
        inst.loss.count(now, dropped, feed_lost);
        if let Some(i) = inst.find(&self.watches.recs, wd) {
            let w = &mut self.watches.recs[i as usize];
            if w.mask & LOST_MARK == 0 {
                w.mask |= LOST_MARK;
                inst.loss.add_wd(wd);
            }
        }
    }

    /// Queues IN_Q_OVERFLOW on instance `slot` unless one is unread there (feed loss).
    pub(crate) fn queue_overflow(&mut self, slot: u32) {
        let Some(inst) = self.instances.get_mut(slot) else {
            return;
        };
        let mut budget = Budget::new(
            &mut self.users,
            &mut self.queued_total,
            &self.limits,
            inst.uid,
        );
        let was_empty = inst.queue.is_empty();
        inst.queue.push_overflow(&mut budget);
        if was_empty && !inst.woken && !inst.queue.is_empty() {
            inst.woken = true;
            self.woken.push(inst.id);
        }
    }

    /// Removes watch `i` after queueing IN_IGNORED on it (through the queue limit, like any
    /// event: observed, an rm_watch on a full queue yields IN_Q_OVERFLOW and still removes).
    pub(crate) fn remove_watch(&mut self, i: u32) {
        let w = self.watches.recs[i as usize];
        debug_assert_ne!(w.inst, FREE);
        self.queue_event(w.inst, w.wd, IN_IGNORED, 0, &[]);
        self.detach_watch(i);
    }

    /// Sends `ev` to every watch on `key` that asks for it, in the way Linux's
    /// `fsnotify_handle_inode_event` + `inotify_handle_inode_event` do: the mask must
    /// intersect, EXCL_UNLINK filters events through a detached open file, and an IN_ONESHOT
    /// watch is removed (IN_IGNORED) after its event, even one that merged or was dropped.
    pub(crate) fn notify_inode(
        &mut self,
        key: InodeKey,
        ev: u32,
        cookie: u32,
        name: &[u8],
        excl: Excl,
    ) {
        let mut i = self.inodes.lookup(&self.watches.recs, key);
        while i != NIL {
            let w = self.watches.recs[i as usize];
            // Captured first: a one-shot removal below takes `i` off the chain.
            let next = w.next;
            if w.mask & ev & IN_ALL_EVENTS != 0 && !excluded(&w, excl) {
                self.queue_event(w.inst, w.wd, ev, cookie, name);
                if w.mask & IN_ONESHOT != 0 {
                    self.remove_watch(i);
                }
            }
            i = next;
        }
    }

    /// The inode's last link is gone and its last name is released: IN_DELETE_SELF (to
    /// watches asking for it) then IN_IGNORED on every watch of `key`, which all go away, so
    /// a later `Freed` of the same inode finds nothing and sends nothing.
    pub(crate) fn inode_freed(&mut self, key: InodeKey) {
        let mut i = self.inodes.lookup(&self.watches.recs, key);
        while i != NIL {
            let w = self.watches.recs[i as usize];
            let next = w.next;
            if w.mask & IN_DELETE_SELF != 0 {
                // Linux strips IN_ISDIR from IN_DELETE_SELF.
                self.queue_event(w.inst, w.wd, IN_DELETE_SELF, 0, &[]);
            }
            self.remove_watch(i);
            i = next;
        }
    }
}
