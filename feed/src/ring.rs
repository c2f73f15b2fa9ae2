//! The producer's side of the feed ring (`inotify_abi::ring`): once the daemon maps the feed
//! handle, records go into memory shared with it instead of the private buffer.
//!
//! The filesystem hands the producer the memory ([`Producer::map_ring`]); it stays the
//! producer's for the filesystem's life. While the ring is live, [`Producer::record`] writes
//! frames into it and returns `true` only when the daemon had armed `waiting` (the readiness
//! post is then due). When the last feed handle closes, the frames the daemon did not
//! consume move back into the private buffer ([`Producer::unmap_ring`]), so the next daemon
//! reads them, mapped or not.

use alloc::boxed::Box;

use inotify_abi::feed::{Fact, Record, MAX_RECORD_LEN};
use inotify_abi::ring::{
    valid_capacity, Frame, Ring, RingMemory, FRAME_HEADER_LEN, MAX_FRAME_LEN, MIN_RING_DATA_LEN,
    PAD_SEQ, RING_HEADER_LEN,
};
use inotify_abi::WireError;

use crate::Producer;

/// Memory a filesystem gives the producer for its ring.
pub type RingBox = Box<dyn RingMemory + Send + Sync>;

/// The ring of a producer.
pub(crate) struct RingState {
    /// The mapping (header and data area).
    mem: RingBox,
    /// Bytes of the data area (the producer's buffer capacity, within the mapping).
    capacity: usize,
    /// Bytes published (the producer's own copy of `head`).
    head: u64,
    /// Sequence number of the next record.
    seq: u64,
    /// Whether records go into the ring (a daemon mapped it and a feed handle is open).
    live: bool,
}

impl RingState {
    /// The producer's view (the memory was checked when it was handed over).
    fn view(&self) -> Option<Ring<'_>> {
        Ring::view(self.mem.words(), self.capacity).ok()
    }

    /// Bytes the daemon has not consumed, as far as its `tail` says (a `tail` out of range
    /// counts as a full ring).
    fn used(&self, ring: &Ring<'_>) -> usize {
        used(self.head, ring)
    }

    /// Writes `frame` (sequence word and record) at `head`, after padding to the start of
    /// the data area when it does not fit before the end; publishes it. Returns whether it
    /// fitted.
    fn push(&mut self, frame: &[u8]) -> bool {
        let Some(ring) = self.view() else {
            return false;
        };
        let mut head = self.head;
        let free = ring.capacity() - used(head, &ring);
        let to_end = ring.to_end(head);
        let pad = if frame.len() > to_end { to_end } else { 0 };
        if pad + frame.len() > free {
            return false;
        }
        if pad > 0 {
            ring.copy_in(head, &PAD_SEQ.to_ne_bytes());
            head += pad as u64;
        }
        if !ring.copy_in(head, frame) {
            return false;
        }
        head += frame.len() as u64;
        ring.publish(head);
        self.head = head;
        true
    }
}

/// Bytes before `head` the daemon has not consumed, as far as its `tail` says (a `tail` out
/// of range counts as a full ring).
fn used(head: u64, ring: &Ring<'_>) -> usize {
    let used = head.wrapping_sub(ring.tail());
    if used > ring.capacity() as u64 {
        ring.capacity()
    } else {
        used as usize
    }
}

impl Producer {
    /// Whether records go into a ring.
    #[inline]
    pub(crate) fn ring_live(&self) -> bool {
        self.ring.as_ref().is_some_and(|r| r.live)
    }

    /// The daemon maps the feed with `len` bytes (`mmap` of a feed handle): returns the
    /// address of the ring's memory. The first time, `alloc(len)` gives the memory (page
    /// aligned on Redox; `None` when there is none); later maps get the same memory, which
    /// is set up again when no daemon used it since the last feed handle closed. The data
    /// area holds what the private buffer holds (at least `MIN_RING_DATA_LEN`, at most what
    /// the mapping has room for), so the filesystem's capacity bounds the ring too. Records
    /// queued in the private buffer move into the ring (what does not fit is counted
    /// lost). `Malformed` for a length that is not a header page plus an allowed capacity
    /// or differs from the existing ring's; `NoSpace` when `alloc` fails.
    pub fn map_ring(
        &mut self,
        len: usize,
        alloc: impl FnOnce(usize) -> Option<RingBox>,
    ) -> Result<usize, WireError> {
        let capacity = len
            .checked_sub(RING_HEADER_LEN)
            .ok_or(WireError::Malformed)?;
        if !valid_capacity(capacity) {
            return Err(WireError::Malformed);
        }
        if self.ring.is_none() {
            let mem = alloc(len).ok_or(WireError::NoSpace)?;
            if mem.words().len() * 8 != len {
                return Err(WireError::Malformed);
            }
            let capacity = (self.buf.len() / 8 * 8).clamp(MIN_RING_DATA_LEN, capacity);
            self.ring = Some(RingState {
                mem,
                capacity,
                head: 0,
                seq: 0,
                live: false,
            });
        }
        let next_seq = self.next_read_seq + self.queued;
        let ring = self.ring.as_mut().ok_or(WireError::NoSpace)?;
        let words = ring.mem.words();
        if words.len() * 8 != len {
            return Err(WireError::Malformed);
        }
        let addr = words.as_ptr() as usize;
        if ring.live {
            return Ok(addr);
        }
        Ring::init(words, ring.capacity)?;
        ring.head = 0;
        ring.seq = self.next_read_seq;
        ring.live = true;
        self.move_buffer_into_ring();
        debug_assert!(self.ring.as_ref().is_none_or(|r| r.seq <= next_seq));
        if self.pending_lost > 0 {
            self.push_lost();
        }
        self.sync_pending();
        Ok(addr)
    }

    /// Moves the records of the private buffer into the ring, oldest first.
    fn move_buffer_into_ring(&mut self) {
        let mut at = self.start;
        while at < self.end {
            let rest = &self.buf[at..self.end];
            let Some(len) = Record::stored_len(rest).filter(|&l| l > 0 && l <= rest.len()) else {
                break;
            };
            let mut frame = [0u8; MAX_FRAME_LEN];
            let ok = len <= MAX_RECORD_LEN && {
                frame[FRAME_HEADER_LEN..FRAME_HEADER_LEN + len].copy_from_slice(&rest[..len]);
                self.ring_push_frame(&mut frame, len)
            };
            if !ok {
                self.drop_one();
            }
            at += len;
        }
        self.start = 0;
        self.end = 0;
        self.queued = 0;
    }

    /// Stamps the next sequence number into `frame` (the record is at offset 8, `len`
    /// bytes) and writes it into the ring. Returns whether it fitted.
    fn ring_push_frame(&mut self, frame: &mut [u8; MAX_FRAME_LEN], len: usize) -> bool {
        let Some(ring) = self.ring.as_mut() else {
            return false;
        };
        frame[..FRAME_HEADER_LEN].copy_from_slice(&ring.seq.to_ne_bytes());
        if !ring.push(&frame[..FRAME_HEADER_LEN + len]) {
            return false;
        }
        ring.seq += 1;
        self.recorded += 1;
        true
    }

    /// Encodes `fact` as a frame into the ring; returns whether it was queued.
    pub(crate) fn ring_push(&mut self, fact: &Fact<'_>) -> bool {
        let mut frame = [0u8; MAX_FRAME_LEN];
        match fact.emit(&mut frame[FRAME_HEADER_LEN..]) {
            Ok(len) => self.ring_push_frame(&mut frame, len),
            Err(_) => false,
        }
    }

    /// Whether the ring holds no frame the daemon has not consumed.
    pub(crate) fn ring_is_empty(&self) -> bool {
        self.ring
            .as_ref()
            .and_then(|r| r.view().map(|v| r.used(&v) == 0))
            .unwrap_or(true)
    }

    /// Bytes of frames the daemon has not consumed.
    pub(crate) fn ring_queued_bytes(&self) -> usize {
        self.ring
            .as_ref()
            .and_then(|r| r.view().map(|v| r.used(&v)))
            .unwrap_or(0)
    }

    /// Free bytes of the ring.
    pub(crate) fn ring_free(&self) -> usize {
        self.ring
            .as_ref()
            .and_then(|r| r.view().map(|v| v.capacity() - r.used(&v)))
            .unwrap_or(0)
    }

    /// Publishes the count of drops not yet reported, for the daemon.
    pub(crate) fn sync_pending(&self) {
        if let Some(v) = self.ring.as_ref().and_then(RingState::view) {
            v.set_pending_lost(self.pending_lost);
        }
    }

    /// After a record or a drop: whether the daemon was waiting (then a readiness post is
    /// due, and `waiting` is cleared, so the next record posts nothing until the daemon arms
    /// it again).
    pub(crate) fn ring_wake_due(&self) -> bool {
        self.sync_pending();
        self.ring
            .as_ref()
            .and_then(RingState::view)
            .is_some_and(|v| v.take_waiting())
    }

    /// The last feed handle closed: records go to the private buffer again, and the frames
    /// the daemon did not consume move there (a frame that cannot be read back is counted
    /// lost), so the next daemon gets them.
    pub fn unmap_ring(&mut self) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        if !ring.live {
            return;
        }
        ring.live = false;
        let next_seq = ring.seq;
        let Some(view) = ring.view() else {
            return;
        };
        let mut pos = ring.head.wrapping_sub(ring.used(&view) as u64);
        let head = ring.head;
        let mut first_seq = None;
        let mut lost = 0u64;
        let mut moved: alloc::vec::Vec<u8> = alloc::vec::Vec::new();
        while pos != head {
            let mut frame = [0u8; MAX_FRAME_LEN];
            let n = view.copy_out(pos, &mut frame);
            match Frame::parse(&frame[..n]) {
                Ok((Frame::Pad, _)) => pos += view.to_end(pos) as u64,
                Ok((Frame::Record { seq, record }, len)) => {
                    first_seq.get_or_insert(seq);
                    moved.extend_from_slice(
                        &frame[FRAME_HEADER_LEN..FRAME_HEADER_LEN + record.total_len()],
                    );
                    pos += len as u64;
                }
                Err(_) => {
                    lost += 1;
                    break;
                }
            }
        }
        debug_assert!(self.queued == 0 && self.start == self.end);
        self.start = 0;
        self.end = 0;
        self.queued = 0;
        self.next_read_seq = first_seq.unwrap_or(next_seq);
        let mut at = 0;
        while at < moved.len() {
            let Ok((fact, len)) = Fact::parse(&moved[at..]) else {
                lost += 1;
                break;
            };
            if !self.buf_push(&fact) {
                self.drop_one();
            }
            at += len;
        }
        for _ in 0..lost {
            self.drop_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use core::sync::atomic::AtomicU64;

    use inotify_abi::feed::{Batch, Interest, INTEREST_LEN};
    use inotify_abi::ring::RING_MAP_LEN;

    use super::*;

    #[derive(Clone)]
    struct Shared(Arc<[AtomicU64]>);

    impl RingMemory for Shared {
        fn words(&self) -> &[AtomicU64] {
            &self.0
        }
    }

    fn shared(len: usize) -> Shared {
        Shared((0..len / 8).map(|_| AtomicU64::new(0)).collect())
    }

    fn watching(dir: u64) -> Producer {
        let mut p = Producer::new(4096);
        let mut m = [0u8; INTEREST_LEN];
        Interest::Add(dir).emit(&mut m).unwrap();
        p.write_interest(&m).unwrap();
        p
    }

    fn created(name: &[u8]) -> Fact<'_> {
        Fact::Created {
            dir: 2,
            name,
            ino: 9,
            is_dir: false,
        }
    }

    /// The daemon's side, minimal: every frame from `tail` to `head`, as (seq, name).
    fn consume(s: &Shared, tail: &mut u64) -> Vec<(u64, Vec<u8>)> {
        let ring = Ring::consumer(s.words()).unwrap();
        let head = ring.head();
        let mut out = Vec::new();
        while *tail != head {
            let mut buf = [0u8; MAX_FRAME_LEN];
            let n = ring.copy_out(*tail, &mut buf);
            match Frame::parse(&buf[..n]).unwrap() {
                (Frame::Pad, _) => *tail += ring.to_end(*tail) as u64,
                (Frame::Record { seq, record }, len) => {
                    let name = match Fact::from_record(&record).unwrap() {
                        Fact::Created { name, .. } => name.to_vec(),
                        other => alloc::format!("{other:?}").into_bytes(),
                    };
                    out.push((seq, name));
                    *tail += len as u64;
                }
            }
        }
        ring.set_tail(*tail);
        out
    }

    fn map(p: &mut Producer, s: &Shared, len: usize) -> Result<usize, WireError> {
        let s = s.clone();
        p.map_ring(len, move |_| Some(Box::new(s) as RingBox))
    }

    #[test]
    fn once_mapped_records_go_into_the_ring_and_a_post_is_due_only_while_the_daemon_waits() {
        let mut p = watching(2);
        assert!(p.record(&created(b"before")));
        let s = shared(RING_MAP_LEN);
        assert_eq!(map(&mut p, &s, RING_MAP_LEN), Ok(s.0.as_ptr() as usize));
        let ring = Ring::consumer(s.words()).unwrap();
        assert!(!p.record(&created(b"a")), "the daemon is awake: no post");
        let mut tail = 0;
        let got = consume(&s, &mut tail);
        assert_eq!(got, [(0, b"before".to_vec()), (1, b"a".to_vec())]);
        ring.arm();
        assert!(p.record(&created(b"b")), "the daemon waits: one post");
        assert!(!p.record(&created(b"c")), "and only one");
        assert_eq!(consume(&s, &mut tail).len(), 2);
        assert_eq!(p.read_batch(&mut [0u8; 4096]), Ok(0), "reads find nothing");
        assert_eq!(
            map(&mut p, &s, RING_MAP_LEN - 4096),
            Err(WireError::Malformed)
        );
        assert_eq!(map(&mut p, &s, RING_MAP_LEN), Ok(s.0.as_ptr() as usize));
    }

    #[test]
    fn a_full_ring_drops_and_reports_the_loss_in_order() {
        let mut p = watching(2);
        let len = RING_HEADER_LEN + MIN_RING_DATA_LEN;
        let s = shared(len);
        map(&mut p, &s, len).unwrap();
        let ring = Ring::consumer(s.words()).unwrap();
        let mut n = 0;
        while p.dropped() == 0 {
            p.record(&created(b"x"));
            n += 1;
        }
        p.record(&created(b"y"));
        assert_eq!(ring.pending_lost(), 2, "the daemon can see the drops");
        let mut tail = 0;
        assert_eq!(consume(&s, &mut tail).len(), n - 1);
        // With room again, a read (or the next record) writes the Lost frame first.
        assert_eq!(p.read_batch(&mut [0u8; 8]), Ok(0));
        assert_eq!(ring.pending_lost(), 0);
        p.record(&created(b"z"));
        let got = consume(&s, &mut tail);
        assert_eq!(got[0].1, b"Lost { count: 2 }".to_vec());
        assert_eq!(got[1], (n as u64, b"z".to_vec()));
    }

    #[test]
    fn frames_wrap_with_padding_and_keep_their_numbers() {
        let mut p = watching(2);
        let len = RING_HEADER_LEN + MIN_RING_DATA_LEN;
        let s = shared(len);
        map(&mut p, &s, len).unwrap();
        let mut tail = 0;
        let mut seq = 0;
        for round in 0..100u64 {
            let name = [b'a' + (round % 26) as u8; 100];
            let k = (round % 5) + 1;
            for _ in 0..k {
                p.record(&created(&name));
            }
            let got = consume(&s, &mut tail);
            assert_eq!(got.len() as u64, k);
            for (s_, n) in got {
                assert_eq!((s_, n), (seq, name.to_vec()));
                seq += 1;
            }
        }
        assert_eq!(p.dropped(), 0);
    }

    #[test]
    fn what_the_daemon_left_in_the_ring_is_read_by_the_next_daemon() {
        let mut p = watching(2);
        let s = shared(RING_MAP_LEN);
        map(&mut p, &s, RING_MAP_LEN).unwrap();
        for name in [&b"a"[..], b"b", b"c"] {
            p.record(&created(name));
        }
        let mut tail = 0;
        let ring = Ring::consumer(s.words()).unwrap();
        let mut one = [0u8; MAX_FRAME_LEN];
        let n = ring.copy_out(0, &mut one);
        let (_, len) = Frame::parse(&one[..n]).unwrap();
        tail += len as u64;
        ring.set_tail(tail);
        p.unmap_ring();
        let mut out = [0u8; 4096];
        let n = p.read_batch(&mut out).unwrap();
        let b = Batch::new_checked(&out[..n]).unwrap();
        assert_eq!((b.header().first_seq, b.header().count), (1, 2));
        // A new daemon maps again: numbering goes on.
        map(&mut p, &s, RING_MAP_LEN).unwrap();
        p.record(&created(b"d"));
        let mut tail = 0;
        assert_eq!(consume(&s, &mut tail), [(3, b"d".to_vec())]);
    }

    #[test]
    fn a_daemon_writing_a_garbage_tail_only_fills_its_own_ring() {
        let mut p = watching(2);
        let s = shared(RING_MAP_LEN);
        map(&mut p, &s, RING_MAP_LEN).unwrap();
        let ring = Ring::consumer(s.words()).unwrap();
        ring.set_tail(1 << 40);
        assert!(!p.record(&created(b"a")));
        assert_eq!(p.dropped(), 1, "a tail out of range counts as a full ring");
        p.unmap_ring();
        assert!(p.is_readable());
    }
}
