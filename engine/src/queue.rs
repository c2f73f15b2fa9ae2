//! One instance's event queue, kept compact and padded on the way out.
//!
//! Unread records sit back to back in a vector of 16-byte blocks (`buf[head..]`). A record is
//! one header block (`wd`, `mask`, `cookie`, the name's real length) followed by the name in
//! as many blocks as it fills, the last one zero-filled: 32 bytes for a 16-byte name, where
//! the wire record takes 48 (Linux pads the name to `roundup(len + 1, 16)`, so a name whose
//! length is a multiple of 16 gets one more block of NULs). `read` writes each record out in
//! Linux's layout, block by block, adding that last block when needed; the queue keeps a
//! running count of the wire bytes for FIONREAD. Coalescing compares against the last record
//! in place. Nothing is allocated per event: the buffer grows by half its size when full,
//! slides its unread part to the front when at least half of it has been read, and is
//! released when a read empties a large one.
//!
//! The buffer's capacity is charged to a [`Storage`] budget (the owner's uid and the whole
//! engine) when it grows and given back when it is released, so only the rare growth and
//! release paths touch the budget. An event that fits neither the buffer nor the budget
//! (after sliding, and after growing to the budget's edge) is dropped as on a full queue:
//! IN_Q_OVERFLOW, once. An event is appended only when one block stays free after it (or
//! read records can be slid out), so the overflow record always has its block; only a queue
//! that has no buffer at all takes that block over the budget (16 bytes, at most once per
//! buffer).

use alloc::vec::Vec;

use inotify_abi::consts::{IN_IGNORED, IN_Q_OVERFLOW};
use inotify_abi::event::{padded_name_len, HEADER_LEN, NAME_ALIGN};

use crate::errno::{EAGAIN, EINVAL};
use crate::types::Errno;

/// The queue's unit of storage; also the wire header size and the wire name alignment.
const BLOCK: usize = 16;
/// One block of storage.
type Block = [u8; BLOCK];
/// A block of NULs.
const ZERO_BLOCK: Block = [0; BLOCK];
/// Smallest buffer allocated, in blocks: room for 8 records without a name.
const MIN_BLOCKS: usize = 8;
/// A buffer larger than this many blocks (64 KiB) is freed when a read empties it.
const KEEP_WHEN_EMPTY: usize = 64 * 1024 / BLOCK;

const _: () = assert!(BLOCK == HEADER_LEN && BLOCK == NAME_ALIGN);

/// Blocks a name of `name_len` bytes takes in the queue.
#[inline]
const fn name_blocks(name_len: usize) -> usize {
    name_len.div_ceil(BLOCK)
}

/// Where a queue's storage is charged: the budget its growth must fit in.
pub(crate) trait Storage {
    /// Bytes the budget can still give.
    fn room(&self) -> usize;
    /// Charges `bytes` (within [`room`](Self::room), except for the overflow record).
    fn charge(&mut self, bytes: usize);
    /// Gives back `bytes` of released storage.
    fn give_back(&mut self, bytes: usize);
}

/// What [`Queue::push`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Appended as a new record.
    Queued,
    /// Merged into the identical last unread record.
    Merged,
    /// Dropped: the queue is full or its storage budget is spent (an IN_Q_OVERFLOW record is
    /// queued if none is).
    Dropped,
}

/// An event queue of compact records.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    /// Records; the unread ones are `buf[head..]`.
    buf: Vec<Block>,
    /// Block index of the first unread record.
    head: usize,
    /// Block index of the last unread record (meaningless when the queue is empty).
    last: usize,
    /// Unread records, an overflow record included (Linux's `q_len`).
    events: u32,
    /// Wire bytes of the unread records (what `read` would hand out; FIONREAD).
    wire: usize,
    /// An unread IN_Q_OVERFLOW record is in the queue.
    overflow_queued: bool,
}

/// A record's header block, decoded.
#[derive(Debug, Clone, Copy)]
struct Header {
    /// Watch descriptor.
    wd: i32,
    /// Event mask.
    mask: u32,
    /// Rename cookie.
    cookie: u32,
    /// Bytes of name that follow (unpadded).
    name_len: usize,
}

impl Header {
    /// Decodes a header block.
    #[inline]
    fn decode(b: &Block) -> Header {
        let w = |at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        Header {
            wd: w(0) as i32,
            mask: w(4),
            cookie: w(8),
            name_len: w(12) as usize,
        }
    }

    /// The header as a block whose last field is `len` (the real name length in the queue,
    /// the padded one on the wire).
    #[inline]
    fn encode(&self, len: usize) -> Block {
        let mut b = ZERO_BLOCK;
        b[0..4].copy_from_slice(&self.wd.to_ne_bytes());
        b[4..8].copy_from_slice(&self.mask.to_ne_bytes());
        b[8..12].copy_from_slice(&self.cookie.to_ne_bytes());
        b[12..16].copy_from_slice(&(len as u32).to_ne_bytes());
        b
    }
}

impl Queue {
    /// An empty queue; allocates nothing until the first event.
    pub(crate) fn new() -> Self {
        Queue::default()
    }

    /// Whether nothing is waiting to be read.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.buf.len()
    }

    /// Bytes waiting to be read, in wire format (FIONREAD).
    #[inline]
    pub(crate) fn bytes(&self) -> usize {
        self.wire
    }

    /// Records waiting to be read, an overflow record included.
    #[cfg(test)]
    pub(crate) fn events(&self) -> u32 {
        self.events
    }

    /// Heap bytes held by the buffer (what is charged to its [`Storage`]).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.buf.capacity() * BLOCK
    }

    /// Frees the buffer, giving its bytes back (the instance is going away).
    pub(crate) fn release(&mut self, storage: &mut impl Storage) {
        storage.give_back(self.heap_bytes());
        *self = Queue::default();
    }

    /// Queues one event the way Linux's `fsnotify_insert_event` does: at `max_events` unread
    /// records the event is dropped (and one IN_Q_OVERFLOW queued unless one is unread);
    /// otherwise it merges into the last unread record when wd, mask and name match (the
    /// cookie is not compared) and that record is not IN_IGNORED; otherwise it is appended.
    /// An event the buffer has no room for, when `storage` refuses the growth, is dropped
    /// like one over `max_events`, before the merge check (Linux allocates the event before
    /// it compares, and queues the overflow event when the allocation fails).
    /// `name` must be at most `NAME_MAX` bytes.
    #[cold]
    pub(crate) fn push(
        &mut self,
        wd: i32,
        mask: u32,
        cookie: u32,
        name: &[u8],
        max_events: u32,
        storage: &mut impl Storage,
    ) -> Pushed {
        // The event's blocks and one spare block for a later overflow record.
        let need = 2 + name_blocks(name.len());
        if self.events >= max_events
            || (self.buf.capacity() - self.buf.len() < need
                && !self.make_room(need, storage, false))
        {
            self.push_overflow(storage);
            return Pushed::Dropped;
        }
        if !self.is_empty() && self.last_matches(wd, mask, name) {
            return Pushed::Merged;
        }
        self.append(wd, mask, cookie, name);
        Pushed::Queued
    }

    /// The common case of [`push`](Self::push), without the budget: the event fits under
    /// `max_events` and in the buffer as it is, and is merged or appended. `None` (nothing
    /// done) otherwise; then [`push`](Self::push) decides.
    #[inline]
    pub(crate) fn try_push(
        &mut self,
        wd: i32,
        mask: u32,
        cookie: u32,
        name: &[u8],
        max_events: u32,
    ) -> Option<Pushed> {
        if self.events >= max_events
            || self.buf.capacity() - self.buf.len() < 2 + name_blocks(name.len())
        {
            return None;
        }
        if !self.is_empty() && self.last_matches(wd, mask, name) {
            return Some(Pushed::Merged);
        }
        self.append(wd, mask, cookie, name);
        Some(Pushed::Queued)
    }

    /// Queues `{wd -1, IN_Q_OVERFLOW, cookie 0, len 0}` unless an unread one is already in
    /// the queue (Linux has one overflow event per group). Returns whether it was queued.
    pub(crate) fn push_overflow(&mut self, storage: &mut impl Storage) -> bool {
        if self.overflow_queued {
            return false;
        }
        if self.buf.capacity() == self.buf.len() {
            self.make_room(1, storage, true);
        }
        self.append(-1, IN_Q_OVERFLOW, 0, &[]);
        self.overflow_queued = true;
        true
    }

    /// Linux's `event_compare` against the last unread record.
    #[inline]
    fn last_matches(&self, wd: i32, mask: u32, name: &[u8]) -> bool {
        let h = Header::decode(&self.buf[self.last]);
        if h.mask & IN_IGNORED != 0 || h.mask != mask || h.wd != wd || h.name_len != name.len() {
            return false;
        }
        let stored = &self.buf[self.last + 1..self.last + 1 + name_blocks(name.len())];
        &stored.as_flattened()[..name.len()] == name
    }

    /// Appends one record: the header block, then the name's blocks, the last zero-filled.
    /// The caller has made room for them.
    #[inline]
    fn append(&mut self, wd: i32, mask: u32, cookie: u32, name: &[u8]) {
        let n = name.len();
        debug_assert!(self.buf.capacity() - self.buf.len() > name_blocks(n));
        let header = Header {
            wd,
            mask,
            cookie,
            name_len: n,
        };
        self.last = self.buf.len();
        self.buf.push(header.encode(n));
        let mut whole = name.chunks_exact(BLOCK);
        for chunk in &mut whole {
            self.buf.push(chunk.try_into().expect("whole block"));
        }
        let tail = whole.remainder();
        if !tail.is_empty() {
            let mut b = ZERO_BLOCK;
            b[..tail.len()].copy_from_slice(tail);
            self.buf.push(b);
        }
        self.events += 1;
        self.wire += HEADER_LEN + padded_name_len(n);
    }

    /// Makes room for `n` more blocks at the end (the buffer has fewer than `n` free): slide
    /// the unread part to the front when at least half the buffer is read; else move it into
    /// a buffer half as large again if `storage` has room for that; else slide if that makes
    /// room; else grow as far as `storage` allows, if that is enough. `forced` (the overflow
    /// record) then takes just what is needed whatever the budget. Whether there is room now.
    /// Near the budget the buffer grows once to the budget's edge, not once per event.
    #[cold]
    fn make_room(&mut self, n: usize, storage: &mut impl Storage, forced: bool) -> bool {
        let cap = self.buf.capacity();
        let live = self.buf.len() - self.head;
        if self.head >= live && cap >= live + n {
            self.slide();
            return true;
        }
        let roomy = (live + n).max(cap + cap / 2).max(MIN_BLOCKS);
        let allowed = cap.saturating_add(storage.room() / BLOCK);
        let new_cap = if roomy <= allowed {
            roomy
        } else if cap >= live + n {
            self.slide();
            return true;
        } else if allowed >= live + n {
            allowed
        } else if forced {
            live + n
        } else {
            return false;
        };
        storage.charge((new_cap - cap) * BLOCK);
        let mut grown = Vec::with_capacity(new_cap);
        grown.extend_from_slice(&self.buf[self.head..]);
        debug_assert_eq!(grown.capacity(), new_cap);
        self.buf = grown;
        self.last = self.last.saturating_sub(self.head);
        self.head = 0;
        true
    }

    /// Moves the unread records to the front of the buffer.
    fn slide(&mut self) {
        let live = self.buf.len() - self.head;
        self.buf.copy_within(self.head.., 0);
        self.buf.truncate(live);
        self.last = self.last.saturating_sub(self.head);
        self.head = 0;
    }

    /// Copies whole records into `out` in wire format: `EAGAIN` when empty, `EINVAL` when
    /// the first record does not fit, else the bytes copied. A buffer released because the
    /// read emptied it is given back to `storage`.
    pub(crate) fn read(
        &mut self,
        out: &mut [u8],
        storage: &mut impl Storage,
    ) -> Result<usize, Errno> {
        if self.is_empty() {
            return Err(EAGAIN);
        }
        let mut at = self.head;
        let mut done = 0;
        let mut records = 0u32;
        while let Some(block) = self.buf.get(at) {
            let h = Header::decode(block);
            let padded = padded_name_len(h.name_len);
            let Some(dst) = out.get_mut(done..done + HEADER_LEN + padded) else {
                break;
            };
            let blocks = name_blocks(h.name_len);
            let name = &self.buf[at + 1..at + 1 + blocks];
            let (dst_header, dst_name) = dst.split_at_mut(HEADER_LEN);
            dst_header.copy_from_slice(&h.encode(padded));
            let (dst_text, dst_pad) = dst_name.split_at_mut(blocks * BLOCK);
            for (d, s) in dst_text.chunks_exact_mut(BLOCK).zip(name) {
                d.copy_from_slice(s);
            }
            // A name filling its last block exactly gets one more block of NULs.
            if !dst_pad.is_empty() {
                dst_pad.copy_from_slice(&ZERO_BLOCK);
            }
            if h.wd == -1 && h.mask == IN_Q_OVERFLOW {
                self.overflow_queued = false;
            }
            at += 1 + blocks;
            done += HEADER_LEN + padded;
            records += 1;
        }
        if records == 0 {
            return Err(EINVAL);
        }
        debug_assert!(records <= self.events && done <= self.wire);
        self.events -= records;
        self.wire -= done;
        self.head = at;
        if self.is_empty() {
            self.clear_read(storage);
        }
        Ok(done)
    }

    /// Resets an emptied queue, freeing a large buffer.
    fn clear_read(&mut self, storage: &mut impl Storage) {
        debug_assert_eq!(self.events, 0);
        debug_assert_eq!(self.wire, 0);
        if self.buf.capacity() > KEEP_WHEN_EMPTY {
            storage.give_back(self.heap_bytes());
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
        self.head = 0;
        self.last = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inotify_abi::consts::{IN_ACCESS, IN_MODIFY, IN_MOVED_FROM};
    use inotify_abi::event::Events;

    /// A budget without limits.
    struct Unlimited;

    impl Storage for Unlimited {
        fn room(&self) -> usize {
            usize::MAX
        }
        fn charge(&mut self, _: usize) {}
        fn give_back(&mut self, _: usize) {}
    }

    /// A budget of `max` bytes, counting what is charged.
    #[derive(Default)]
    struct Capped {
        max: usize,
        used: usize,
    }

    impl Storage for Capped {
        fn room(&self) -> usize {
            self.max.saturating_sub(self.used)
        }
        fn charge(&mut self, bytes: usize) {
            self.used += bytes;
        }
        fn give_back(&mut self, bytes: usize) {
            self.used -= bytes;
        }
    }

    fn drain(q: &mut Queue) -> Vec<(i32, u32, u32, Vec<u8>)> {
        let mut buf = [0u8; 8192];
        let n = q.read(&mut buf, &mut Unlimited).unwrap();
        Events::new(&buf[..n])
            .map(|e| (e.wd, e.mask, e.cookie, e.name.to_vec()))
            .collect()
    }

    #[test]
    fn merges_only_identical_last_record_and_never_ignored() {
        let mut q = Queue::new();
        assert_eq!(
            q.push(1, IN_MODIFY, 0, b"a", 10, &mut Unlimited),
            Pushed::Queued
        );
        assert_eq!(
            q.push(1, IN_MODIFY, 0, b"a", 10, &mut Unlimited),
            Pushed::Merged
        );
        assert_eq!(
            q.push(1, IN_MODIFY, 0, b"ab", 10, &mut Unlimited),
            Pushed::Queued
        );
        assert_eq!(
            q.push(1, IN_MODIFY, 0, b"a", 10, &mut Unlimited),
            Pushed::Queued
        );
        assert_eq!(
            q.push(2, IN_MODIFY, 0, b"a", 10, &mut Unlimited),
            Pushed::Queued
        );
        // The cookie is not compared (Linux coalesced two renames of "a" on this kernel).
        assert_eq!(
            q.push(2, IN_MOVED_FROM, 5, b"a", 10, &mut Unlimited),
            Pushed::Queued
        );
        assert_eq!(
            q.push(2, IN_MOVED_FROM, 6, b"a", 10, &mut Unlimited),
            Pushed::Merged
        );
        assert_eq!(
            q.push(2, IN_IGNORED, 0, b"", 10, &mut Unlimited),
            Pushed::Queued
        );
        assert_eq!(
            q.push(2, IN_IGNORED, 0, b"", 10, &mut Unlimited),
            Pushed::Queued
        );
        assert_eq!(q.events(), 7);
        let got = drain(&mut q);
        assert_eq!(got.len(), 7);
        assert_eq!(got[4], (2, IN_MOVED_FROM, 5, b"a".to_vec()));
        assert_eq!(
            q.push(2, IN_IGNORED, 0, b"", 10, &mut Unlimited),
            Pushed::Queued
        );
    }

    #[test]
    fn a_name_prefix_does_not_merge() {
        let mut q = Queue::new();
        q.push(1, IN_ACCESS, 0, b"abc", 10, &mut Unlimited);
        assert_eq!(
            q.push(1, IN_ACCESS, 0, b"ab", 10, &mut Unlimited),
            Pushed::Queued
        );
        assert_eq!(
            q.push(1, IN_ACCESS, 0, b"", 10, &mut Unlimited),
            Pushed::Queued
        );
    }

    #[test]
    fn compaction_and_growth_keep_records_intact() {
        let mut q = Queue::new();
        let mut seen = Vec::new();
        let mut record = |buf: &[u8]| {
            for e in Events::new(buf) {
                assert_eq!(e.name.len(), e.cookie as usize * 4);
                seen.push(e.wd);
            }
        };
        let mut out = [0u8; 48];
        for round in 0..200u32 {
            for k in 0..5u32 {
                let name = [b'a' + (k as u8); 20];
                q.push(
                    (round * 5 + k) as i32,
                    IN_MODIFY,
                    k,
                    &name[..(k as usize * 4)],
                    1000,
                    &mut Unlimited,
                );
            }
            // Read fewer than were queued so the unread part keeps moving.
            for _ in 0..3 {
                let n = q.read(&mut out, &mut Unlimited).unwrap();
                record(&out[..n]);
            }
        }
        let mut big = alloc::vec![0u8; 1 << 20];
        let n = q.read(&mut big, &mut Unlimited).unwrap();
        record(&big[..n]);
        assert_eq!(seen, (0..1000).collect::<Vec<i32>>());
        assert!(q.is_empty());
        assert_eq!(q.events(), 0);
        assert_eq!(q.read(&mut big, &mut Unlimited), Err(EAGAIN));
    }

    #[test]
    fn read_copies_whole_records_only() {
        let mut q = Queue::new();
        q.push(1, IN_MODIFY, 0, b"name", 10, &mut Unlimited);
        q.push(2, IN_MODIFY, 0, b"", 10, &mut Unlimited);
        let mut out = [0u8; 40];
        assert_eq!(q.read(&mut out[..31], &mut Unlimited), Err(EINVAL));
        assert_eq!(q.read(&mut out, &mut Unlimited), Ok(32));
        assert_eq!(q.bytes(), 16);
        assert_eq!(q.read(&mut out[..16], &mut Unlimited), Ok(16));
    }

    #[test]
    fn a_queue_whose_budget_refuses_growth_overflows_once_within_its_budget() {
        let mut q = Queue::new();
        // Room for the first buffer (8 blocks) and nothing more.
        let mut s = Capped {
            max: MIN_BLOCKS * BLOCK,
            used: 0,
        };
        // Three records of two blocks fit with a block to spare; the fourth does not.
        for i in 0..3 {
            assert_eq!(q.push(i, IN_MODIFY, 0, b"x", 100, &mut s), Pushed::Queued);
        }
        assert_eq!(q.push(3, IN_MODIFY, 0, b"y", 100, &mut s), Pushed::Dropped);
        assert_eq!(q.push(4, IN_MODIFY, 0, b"", 100, &mut s), Pushed::Dropped);
        // Not even a merge into the last record gets through (Linux allocates first).
        assert_eq!(q.push(2, IN_MODIFY, 0, b"x", 100, &mut s), Pushed::Dropped);
        // The overflow record took the spare block: nothing over the budget.
        assert_eq!(
            (s.used, q.heap_bytes()),
            (MIN_BLOCKS * BLOCK, MIN_BLOCKS * BLOCK)
        );
        let got = drain(&mut q);
        assert_eq!(got.len(), 4);
        assert_eq!(got[3], (-1, IN_Q_OVERFLOW, 0, Vec::new()));
        // Small buffers are kept when emptied (and stay charged); events flow again.
        assert_eq!(q.push(1, IN_MODIFY, 0, b"a", 100, &mut s), Pushed::Queued);
        assert_eq!(drain(&mut q), [(1, IN_MODIFY, 0, b"a".to_vec())]);
        q.release(&mut s);
        assert_eq!(s.used, 0);
    }

    #[test]
    fn a_queue_without_a_buffer_takes_one_block_over_its_budget_for_the_overflow_record() {
        let mut q = Queue::new();
        let mut s = Capped { max: 0, used: 0 };
        assert_eq!(q.push(1, IN_MODIFY, 0, b"", 100, &mut s), Pushed::Dropped);
        assert_eq!((s.used, q.heap_bytes()), (BLOCK, BLOCK));
        assert_eq!(drain(&mut q), [(-1, IN_Q_OVERFLOW, 0, Vec::new())]);
        // The block is kept: the next overflow record reuses it.
        assert_eq!(q.push(1, IN_MODIFY, 0, b"", 100, &mut s), Pushed::Dropped);
        assert_eq!(drain(&mut q), [(-1, IN_Q_OVERFLOW, 0, Vec::new())]);
        assert_eq!(s.used, BLOCK);
    }

    #[test]
    fn a_refused_growth_slides_read_records_out_before_dropping() {
        let mut q = Queue::new();
        let mut s = Capped {
            max: MIN_BLOCKS * BLOCK,
            used: 0,
        };
        for i in 0..7 {
            assert_eq!(q.push(i, IN_MODIFY, 0, b"", 100, &mut s), Pushed::Queued);
        }
        // Read 3 of 7: the head is not half way, so sliding is the fallback, not the rule.
        let mut out = [0u8; 48];
        assert_eq!(q.read(&mut out, &mut s), Ok(48));
        assert_eq!(q.push(7, IN_MODIFY, 0, b"", 100, &mut s), Pushed::Queued);
        assert_eq!(s.used, MIN_BLOCKS * BLOCK);
        let wds: Vec<i32> = drain(&mut q).iter().map(|e| e.0).collect();
        assert_eq!(wds, [3, 4, 5, 6, 7]);
    }

    #[test]
    fn emptying_a_large_buffer_gives_its_bytes_back() {
        let mut q = Queue::new();
        let mut s = Capped {
            max: usize::MAX,
            used: 0,
        };
        let name = [b'n'; 255];
        for i in 0..1000 {
            q.push(i, IN_MODIFY, 0, &name, 100_000, &mut s);
        }
        assert!(q.heap_bytes() > KEEP_WHEN_EMPTY * BLOCK);
        assert_eq!(s.used, q.heap_bytes());
        let mut big = alloc::vec![0u8; 1 << 20];
        assert_eq!(q.read(&mut big, &mut s), Ok(1000 * (16 + 256)));
        assert_eq!((s.used, q.heap_bytes()), (0, 0));
    }
}
