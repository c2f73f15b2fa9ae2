//! One instance's event queue, kept in wire format.
//!
//! Unread records sit back to back in one byte buffer (`buf[head..]`), exactly as `read`
//! hands them out, so a read is one copy, FIONREAD is a subtraction, and coalescing compares
//! against the last record in place. Nothing is allocated per event: the buffer grows by half
//! its size when full (at most 48 bytes of buffer per queued 32-byte record), slides its
//! unread part to the front when at least half of it has been read, and is released when a
//! read empties a large one.

use alloc::vec::Vec;

use inotify_abi::consts::{IN_IGNORED, IN_Q_OVERFLOW};
use inotify_abi::event::{padded_name_len, HEADER_LEN};

use crate::errno::{EAGAIN, EINVAL};
use crate::Errno;

/// Source of the NUL padding after a name (at most 16 bytes are ever needed).
const ZEROS: [u8; 16] = [0; 16];
/// Smallest buffer allocated: room for 8 records without a name.
const MIN_CAPACITY: usize = 128;
/// A buffer larger than this is freed when a read empties it.
const KEEP_WHEN_EMPTY: usize = 64 * 1024;

/// What [`Queue::push`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Appended as a new record.
    Queued,
    /// Merged into the identical last unread record.
    Merged,
    /// Dropped: the queue is full (an IN_Q_OVERFLOW record is queued if none is).
    Dropped,
}

/// An event queue in wire format.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    /// Records; the unread ones are `buf[head..]`.
    buf: Vec<u8>,
    /// Offset of the first unread record.
    head: usize,
    /// Offset of the last unread record (meaningless when the queue is empty).
    last: usize,
    /// Unread records, an overflow record included (Linux's `q_len`).
    events: u32,
    /// An unread IN_Q_OVERFLOW record is in the queue.
    overflow_queued: bool,
}

/// Reads the native-endian `u32` at `at`.
#[inline]
fn word(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
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

    /// Bytes waiting to be read (FIONREAD).
    #[inline]
    pub(crate) fn bytes(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Records waiting to be read, an overflow record included.
    #[cfg(test)]
    pub(crate) fn events(&self) -> u32 {
        self.events
    }

    /// Heap bytes held by the buffer.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Queues one event the way Linux's `fsnotify_insert_event` does: at `max_events` unread
    /// records the event is dropped (and one IN_Q_OVERFLOW queued unless one is unread);
    /// otherwise it merges into the last unread record when wd, mask and name match (the
    /// cookie is not compared) and that record is not IN_IGNORED; otherwise it is appended.
    /// `name` must be at most `NAME_MAX` bytes.
    pub(crate) fn push(
        &mut self,
        wd: i32,
        mask: u32,
        cookie: u32,
        name: &[u8],
        max_events: u32,
    ) -> Pushed {
        if self.events >= max_events {
            self.push_overflow();
            return Pushed::Dropped;
        }
        if !self.is_empty() && self.last_matches(wd, mask, name) {
            return Pushed::Merged;
        }
        self.append(wd, mask, cookie, name);
        Pushed::Queued
    }

    /// Queues `{wd -1, IN_Q_OVERFLOW, cookie 0, len 0}` unless an unread one is already in
    /// the queue (Linux has one overflow event per group). Returns whether it was queued.
    pub(crate) fn push_overflow(&mut self) -> bool {
        if self.overflow_queued {
            return false;
        }
        self.append(-1, IN_Q_OVERFLOW, 0, &[]);
        self.overflow_queued = true;
        true
    }

    /// Linux's `event_compare` against the last unread record.
    fn last_matches(&self, wd: i32, mask: u32, name: &[u8]) -> bool {
        let rec = &self.buf[self.last..];
        let old_mask = word(rec, 4);
        if old_mask & IN_IGNORED != 0 || old_mask != mask || word(rec, 0) as i32 != wd {
            return false;
        }
        if word(rec, 12) as usize != padded_name_len(name.len()) {
            return false;
        }
        let n = name.len();
        n == 0 || (&rec[HEADER_LEN..HEADER_LEN + n] == name && rec[HEADER_LEN + n] == 0)
    }

    /// Appends one record with Linux's NUL padding.
    fn append(&mut self, wd: i32, mask: u32, cookie: u32, name: &[u8]) {
        let padded = padded_name_len(name.len());
        debug_assert!(padded - name.len() <= ZEROS.len());
        self.reserve(HEADER_LEN + padded);
        let mut header = [0u8; HEADER_LEN];
        header[0..4].copy_from_slice(&wd.to_ne_bytes());
        header[4..8].copy_from_slice(&mask.to_ne_bytes());
        header[8..12].copy_from_slice(&cookie.to_ne_bytes());
        header[12..16].copy_from_slice(&(padded as u32).to_ne_bytes());
        self.last = self.buf.len();
        self.buf.extend_from_slice(&header);
        self.buf.extend_from_slice(name);
        self.buf.extend_from_slice(&ZEROS[..padded - name.len()]);
        self.events += 1;
    }

    /// Makes room for `n` more bytes at the end without letting `Vec` pick the growth: slide
    /// the unread part to the front when at least half the buffer is read, else move it into
    /// a buffer half as large again.
    fn reserve(&mut self, n: usize) {
        let len = self.buf.len();
        let cap = self.buf.capacity();
        if cap - len >= n {
            return;
        }
        let live = len - self.head;
        if self.head >= live && cap >= live + n {
            self.buf.copy_within(self.head.., 0);
            self.buf.truncate(live);
        } else {
            let new_cap = (live + n).max(cap + cap / 2).max(MIN_CAPACITY);
            let mut grown = Vec::with_capacity(new_cap);
            grown.extend_from_slice(&self.buf[self.head..]);
            self.buf = grown;
        }
        self.last = self.last.saturating_sub(self.head);
        self.head = 0;
    }

    /// Copies whole records into `out`: `EAGAIN` when empty, `EINVAL` when the first record
    /// does not fit, else the bytes copied.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> Result<usize, Errno> {
        if self.is_empty() {
            return Err(EAGAIN);
        }
        let unread = &self.buf[self.head..];
        let mut end = 0;
        let mut records = 0u32;
        while end < unread.len() {
            let len = HEADER_LEN + word(unread, end + 12) as usize;
            if end + len > out.len() {
                break;
            }
            if word(unread, end) as i32 == -1 && word(unread, end + 4) == IN_Q_OVERFLOW {
                self.overflow_queued = false;
            }
            end += len;
            records += 1;
        }
        if end == 0 {
            return Err(EINVAL);
        }
        out[..end].copy_from_slice(&unread[..end]);
        debug_assert!(records <= self.events);
        self.events -= records;
        self.head += end;
        if self.is_empty() {
            self.clear_read();
        }
        Ok(end)
    }

    /// Resets an emptied queue, freeing a large buffer.
    fn clear_read(&mut self) {
        debug_assert_eq!(self.events, 0);
        if self.buf.capacity() > KEEP_WHEN_EMPTY {
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

    fn drain(q: &mut Queue) -> Vec<(i32, u32, u32, Vec<u8>)> {
        let mut buf = [0u8; 8192];
        let n = q.read(&mut buf).unwrap();
        Events::new(&buf[..n])
            .map(|e| (e.wd, e.mask, e.cookie, e.name.to_vec()))
            .collect()
    }

    #[test]
    fn merges_only_identical_last_record_and_never_ignored() {
        let mut q = Queue::new();
        assert_eq!(q.push(1, IN_MODIFY, 0, b"a", 10), Pushed::Queued);
        assert_eq!(q.push(1, IN_MODIFY, 0, b"a", 10), Pushed::Merged);
        assert_eq!(q.push(1, IN_MODIFY, 0, b"ab", 10), Pushed::Queued);
        assert_eq!(q.push(1, IN_MODIFY, 0, b"a", 10), Pushed::Queued);
        assert_eq!(q.push(2, IN_MODIFY, 0, b"a", 10), Pushed::Queued);
        // The cookie is not compared (Linux coalesced two renames of "a" on this kernel).
        assert_eq!(q.push(2, IN_MOVED_FROM, 5, b"a", 10), Pushed::Queued);
        assert_eq!(q.push(2, IN_MOVED_FROM, 6, b"a", 10), Pushed::Merged);
        assert_eq!(q.push(2, IN_IGNORED, 0, b"", 10), Pushed::Queued);
        assert_eq!(q.push(2, IN_IGNORED, 0, b"", 10), Pushed::Queued);
        assert_eq!(q.events(), 7);
        let got = drain(&mut q);
        assert_eq!(got.len(), 7);
        assert_eq!(got[4], (2, IN_MOVED_FROM, 5, b"a".to_vec()));
        assert_eq!(q.push(2, IN_IGNORED, 0, b"", 10), Pushed::Queued);
    }

    #[test]
    fn a_name_prefix_does_not_merge() {
        let mut q = Queue::new();
        q.push(1, IN_ACCESS, 0, b"abc", 10);
        assert_eq!(q.push(1, IN_ACCESS, 0, b"ab", 10), Pushed::Queued);
        assert_eq!(q.push(1, IN_ACCESS, 0, b"", 10), Pushed::Queued);
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
                );
            }
            // Read fewer than were queued so the unread part keeps moving.
            for _ in 0..3 {
                let n = q.read(&mut out).unwrap();
                record(&out[..n]);
            }
        }
        let mut big = alloc::vec![0u8; 1 << 20];
        let n = q.read(&mut big).unwrap();
        record(&big[..n]);
        assert_eq!(seen, (0..1000).collect::<Vec<i32>>());
        assert!(q.is_empty());
        assert_eq!(q.events(), 0);
        assert_eq!(q.read(&mut big), Err(EAGAIN));
    }

    #[test]
    fn read_copies_whole_records_only() {
        let mut q = Queue::new();
        q.push(1, IN_MODIFY, 0, b"name", 10);
        q.push(2, IN_MODIFY, 0, b"", 10);
        let mut out = [0u8; 40];
        assert_eq!(q.read(&mut out[..31]), Err(EINVAL));
        assert_eq!(q.read(&mut out), Ok(32));
        assert_eq!(q.bytes(), 16);
        assert_eq!(q.read(&mut out[..16]), Ok(16));
    }
}
