//! The feed ring: the feed's records in memory the filesystem shares with the daemon
//! (`mmap` of the feed handle), so a wake-up of the daemon costs no read.
//!
//! The mapping is a header page, then the data area of `capacity` bytes (byte layout in
//! `docs/protocols.md`, "The feed ring"; offsets in [`ring_field`]). The filesystem (the
//! producer) writes *frames* into the data area and publishes them by moving `head`; the
//! daemon copies frames out, validates the copy, and moves `tail`. Both count bytes since the
//! ring was set up (`u64`, never wrapping in practice); a position in the data area is the
//! count modulo `capacity`.
//!
//! A frame is an 8-byte sequence number followed by one feed record
//! ([`crate::feed::Record`]). Frames never straddle the end of the data area: when the next
//! frame does not fit before the end, the producer writes [`PAD_SEQ`] in the sequence word
//! and the rest of the data area up to its end is padding (counted in `head` like a frame).
//!
//! Readiness is an eventcount: the daemon stores 1 in `waiting` before it blocks and then
//! checks `head` again; the producer, after publishing, clears `waiting` if it was set and
//! only then posts readiness. So a filesystem posts at most once per sleep of the daemon.
//!
//! Everything is accessed as `AtomicU64` words (the memory may change under either side at
//! any time): [`Ring`] is a checked view over those words; after its constructor no
//! accessor can panic, whatever the other side writes.

use core::sync::atomic::{fence, AtomicU64, Ordering};

use crate::feed::{Record, MAX_RECORD_LEN, RECORD_HEADER_LEN};
use crate::WireError;

/// "INFDRING" read as a little-endian `u64`.
pub const RING_MAGIC: u64 = u64::from_le_bytes(*b"INFDRING");
/// Version of the ring layout.
pub const RING_VERSION: u64 = 1;
/// Bytes of the header (one page); the data area starts here.
pub const RING_HEADER_LEN: usize = 4096;
/// Bytes of the data area the daemon asks for.
pub const RING_DATA_LEN: usize = 256 * 1024;
/// Bytes the daemon maps: the header and the data area.
pub const RING_MAP_LEN: usize = RING_HEADER_LEN + RING_DATA_LEN;
/// Bytes of a frame's sequence word.
pub const FRAME_HEADER_LEN: usize = 8;
/// The longest frame.
pub const MAX_FRAME_LEN: usize = FRAME_HEADER_LEN + MAX_RECORD_LEN;
/// Smallest data area: an empty ring holds any frame after any padding.
pub const MIN_RING_DATA_LEN: usize = 2 * MAX_FRAME_LEN;
/// Largest data area.
pub const MAX_RING_DATA_LEN: usize = 64 * 1024 * 1024;
/// The sequence word of padding: the rest of the data area, up to its end, holds nothing.
pub const PAD_SEQ: u64 = u64::MAX;

/// Byte offsets of the header's words.
pub mod ring_field {
    /// [`RING_MAGIC`](super::RING_MAGIC).
    pub const MAGIC: usize = 0;
    /// [`RING_VERSION`](super::RING_VERSION).
    pub const VERSION: usize = 8;
    /// Bytes of the data area.
    pub const CAPACITY: usize = 16;
    /// Offset of the data area from the start of the mapping.
    pub const DATA_OFFSET: usize = 24;
    /// Bytes the producer has published (written only by the producer).
    pub const HEAD: usize = 64;
    /// Bytes the daemon has consumed (written only by the daemon).
    pub const TAIL: usize = 128;
    /// 1 while the daemon sleeps or is about to; the producer clears it and posts.
    pub const WAITING: usize = 192;
    /// Facts the producer dropped and has not yet reported with a `Lost` record.
    pub const PENDING_LOST: usize = 256;
}

/// Memory that holds a ring: the mapping, as `AtomicU64` words.
pub trait RingMemory {
    /// The words of the mapping (header and data area).
    fn words(&self) -> &[AtomicU64];
}

/// Whether a data area of `capacity` bytes is allowed.
pub const fn valid_capacity(capacity: usize) -> bool {
    capacity >= MIN_RING_DATA_LEN
        && capacity <= MAX_RING_DATA_LEN
        && capacity.is_multiple_of(FRAME_HEADER_LEN)
}

/// A checked view of a ring: the words cover the header and the data area, and the
/// capacity is allowed. No accessor panics.
#[derive(Clone, Copy)]
pub struct Ring<'a> {
    /// The header's words.
    header: &'a [AtomicU64; RING_HEADER_LEN / 8],
    /// The data area's words.
    data: &'a [AtomicU64],
}

impl core::fmt::Debug for Ring<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ring")
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl<'a> Ring<'a> {
    /// A view of `words` (a whole mapping) with a data area of `capacity` bytes after the
    /// header page, without reading the header: for the producer, and for a mapping the
    /// daemon already checked with [`consumer`](Self::consumer). `Truncated` when the
    /// words are too few, `Malformed` when the capacity is not allowed.
    pub fn view(words: &'a [AtomicU64], capacity: usize) -> Result<Self, WireError> {
        let (header, data) = words
            .split_first_chunk::<{ RING_HEADER_LEN / 8 }>()
            .ok_or(WireError::Truncated)?;
        if !valid_capacity(capacity) {
            return Err(WireError::Malformed);
        }
        let data = data.get(..capacity / 8).ok_or(WireError::Truncated)?;
        Ok(Ring { header, data })
    }

    /// Sets up the header of a new ring of `capacity` data bytes in `words`: empty, nobody
    /// waiting.
    pub fn init(words: &'a [AtomicU64], capacity: usize) -> Result<Self, WireError> {
        let ring = Self::view(words, capacity)?;
        ring.set(ring_field::MAGIC, RING_MAGIC);
        ring.set(ring_field::VERSION, RING_VERSION);
        ring.set(ring_field::CAPACITY, ring.capacity() as u64);
        ring.set(ring_field::DATA_OFFSET, RING_HEADER_LEN as u64);
        ring.set(ring_field::HEAD, 0);
        ring.set(ring_field::TAIL, 0);
        ring.set(ring_field::WAITING, 0);
        ring.set(ring_field::PENDING_LOST, 0);
        fence(Ordering::SeqCst);
        Ok(ring)
    }

    /// The daemon's view of a mapping of `words`: `Truncated` when it cannot hold the header
    /// and the data area the header names, `Malformed` when the header is not a ring's
    /// (magic, version, data offset) or its capacity is not allowed. The filesystem chooses
    /// the capacity (at most what the mapping holds); the daemon reads it once, here, and
    /// keeps it (see [`capacity`](Self::capacity)): a filesystem that changes the header
    /// later changes nothing the daemon uses.
    pub fn consumer(words: &'a [AtomicU64]) -> Result<Self, WireError> {
        let header = words
            .first_chunk::<{ RING_HEADER_LEN / 8 }>()
            .ok_or(WireError::Truncated)?;
        let word = |at: usize| header[at / 8].load(Ordering::Acquire);
        if word(ring_field::MAGIC) != RING_MAGIC
            || word(ring_field::VERSION) != RING_VERSION
            || word(ring_field::DATA_OFFSET) != RING_HEADER_LEN as u64
        {
            return Err(WireError::Malformed);
        }
        let capacity =
            usize::try_from(word(ring_field::CAPACITY)).map_err(|_| WireError::Malformed)?;
        Self::view(words, capacity)
    }

    /// Bytes of the data area.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.data.len() * 8
    }

    /// The header word at byte offset `at` (one of [`ring_field`]).
    #[inline]
    fn word(&self, at: usize) -> &AtomicU64 {
        &self.header[(at / 8) % self.header.len()]
    }

    /// Relaxed store of a header word.
    #[inline]
    fn set(&self, at: usize, v: u64) {
        self.word(at).store(v, Ordering::Relaxed)
    }

    /// `head` (Acquire: the frames before it are visible).
    #[inline]
    pub fn head(&self) -> u64 {
        self.word(ring_field::HEAD).load(Ordering::Acquire)
    }

    /// Publishes the frames written before `head` (Release).
    #[inline]
    pub fn publish(&self, head: u64) {
        self.word(ring_field::HEAD).store(head, Ordering::Release)
    }

    /// `tail` (Acquire: the daemon is done with the bytes before it).
    #[inline]
    pub fn tail(&self) -> u64 {
        self.word(ring_field::TAIL).load(Ordering::Acquire)
    }

    /// Gives the bytes before `tail` back to the producer (Release).
    #[inline]
    pub fn set_tail(&self, tail: u64) {
        self.word(ring_field::TAIL).store(tail, Ordering::Release)
    }

    /// The daemon is about to sleep: sets `waiting`, then (a full fence) returns `head` for
    /// the daemon's last look. Any frame published after that look finds `waiting` set.
    #[inline]
    pub fn arm(&self) -> u64 {
        self.word(ring_field::WAITING).store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.head()
    }

    /// The producer, after publishing: whether the daemon was waiting (the flag is cleared;
    /// the producer then posts readiness, once).
    #[inline]
    pub fn take_waiting(&self) -> bool {
        fence(Ordering::SeqCst);
        let w = self.word(ring_field::WAITING);
        w.load(Ordering::SeqCst) != 0 && w.swap(0, Ordering::SeqCst) != 0
    }

    /// Facts dropped and not yet reported by a `Lost` record (the producer's count).
    #[inline]
    pub fn pending_lost(&self) -> u64 {
        self.word(ring_field::PENDING_LOST).load(Ordering::Acquire)
    }

    /// Sets [`pending_lost`](Self::pending_lost).
    #[inline]
    pub fn set_pending_lost(&self, n: u64) {
        self.word(ring_field::PENDING_LOST)
            .store(n, Ordering::Release)
    }

    /// Bytes from position `pos` (a byte count) to the end of the data area.
    #[inline]
    pub fn to_end(&self, pos: u64) -> usize {
        self.capacity() - (pos % self.capacity() as u64) as usize
    }

    /// Copies data from position `pos` into `out`, up to the end of the data area: returns
    /// the bytes copied, a multiple of 8 (0 when `pos` is not a multiple of 8).
    pub fn copy_out(&self, pos: u64, out: &mut [u8]) -> usize {
        if !pos.is_multiple_of(8) {
            return 0;
        }
        let start = (pos % self.capacity() as u64) as usize / 8;
        let words = self.data.get(start..).unwrap_or(&[]);
        let mut n = 0;
        for (w, chunk) in words.iter().zip(out.chunks_exact_mut(8)) {
            chunk.copy_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes());
            n += 8;
        }
        n
    }

    /// Writes `bytes` (a multiple of 8) at position `pos` without passing the end of the data
    /// area; returns whether it did.
    pub fn copy_in(&self, pos: u64, bytes: &[u8]) -> bool {
        if !pos.is_multiple_of(8)
            || !bytes.len().is_multiple_of(8)
            || bytes.len() > self.to_end(pos)
        {
            return false;
        }
        let start = (pos % self.capacity() as u64) as usize / 8;
        let words = self.data.get(start..).unwrap_or(&[]);
        for (w, chunk) in words.iter().zip(bytes.chunks_exact(8)) {
            let mut v = [0u8; 8];
            v.copy_from_slice(chunk);
            w.store(u64::from_ne_bytes(v), Ordering::Relaxed);
        }
        true
    }
}

/// One frame at the start of a buffer copied out of a ring.
#[derive(Debug, Clone, Copy)]
pub enum Frame<'a> {
    /// Padding: skip to the end of the data area.
    Pad,
    /// A record and its sequence number.
    Record {
        /// Sequence number.
        seq: u64,
        /// The record, checked by [`Record::new_checked`].
        record: Record<'a>,
    },
}

impl<'a> Frame<'a> {
    /// Parses the frame at the start of `buf`; returns it and its length (8 for padding).
    /// `Truncated` when `buf` ends inside it, `Malformed` for a bad record.
    pub fn parse(buf: &'a [u8]) -> Result<(Frame<'a>, usize), WireError> {
        let Some((seq, rest)) = buf.split_first_chunk::<FRAME_HEADER_LEN>() else {
            return Err(WireError::Truncated);
        };
        let seq = u64::from_ne_bytes(*seq);
        if seq == PAD_SEQ {
            return Ok((Frame::Pad, FRAME_HEADER_LEN));
        }
        if rest.len() < RECORD_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let record = Record::new_checked(rest)?;
        Ok((
            Frame::Record { seq, record },
            FRAME_HEADER_LEN + record.total_len(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::Fact;

    extern crate std;
    use std::vec::Vec;

    fn words(bytes: usize) -> Vec<AtomicU64> {
        (0..bytes / 8).map(|_| AtomicU64::new(0)).collect()
    }

    #[test]
    fn the_header_words_sit_at_the_documented_offsets() {
        let w = words(RING_HEADER_LEN + MIN_RING_DATA_LEN);
        let r = Ring::init(&w, MIN_RING_DATA_LEN).unwrap();
        r.publish(5);
        r.set_tail(3);
        r.arm();
        r.set_pending_lost(7);
        let at = |off: usize| w[off / 8].load(Ordering::Relaxed);
        assert_eq!(at(0).to_le_bytes(), *b"INFDRING");
        assert_eq!(at(8), 1);
        assert_eq!(at(16), MIN_RING_DATA_LEN as u64);
        assert_eq!(at(24), 4096);
        assert_eq!((at(64), at(128), at(192), at(256)), (5, 3, 1, 7));
        assert!(r.take_waiting());
        assert!(!r.take_waiting(), "cleared by the first");
    }

    #[test]
    fn a_mapping_that_does_not_match_its_header_is_refused() {
        let w = words(RING_HEADER_LEN + MIN_RING_DATA_LEN);
        assert_eq!(Ring::consumer(&w).unwrap_err(), WireError::Malformed);
        Ring::init(&w, MIN_RING_DATA_LEN).unwrap();
        assert_eq!(Ring::consumer(&w).unwrap().capacity(), MIN_RING_DATA_LEN);
        w[2].store(1 << 40, Ordering::Relaxed);
        assert_eq!(Ring::consumer(&w).unwrap_err(), WireError::Malformed);
        w[2].store(2 * MIN_RING_DATA_LEN as u64, Ordering::Relaxed);
        assert_eq!(Ring::consumer(&w).unwrap_err(), WireError::Truncated);
        w[2].store(MIN_RING_DATA_LEN as u64 - 8, Ordering::Relaxed);
        assert_eq!(Ring::consumer(&w).unwrap_err(), WireError::Malformed);
        assert_eq!(
            Ring::consumer(&words(100)).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            Ring::view(&words(RING_HEADER_LEN + 64), 64).unwrap_err(),
            WireError::Malformed
        );
    }

    #[test]
    fn copies_stop_at_the_end_of_the_data_area_and_never_panic() {
        let w = words(RING_HEADER_LEN + MIN_RING_DATA_LEN);
        let r = Ring::init(&w, MIN_RING_DATA_LEN).unwrap();
        let cap = r.capacity() as u64;
        assert!(r.copy_in(cap - 16, &[1u8; 16]));
        assert!(!r.copy_in(cap - 16, &[1u8; 24]), "would pass the end");
        assert!(!r.copy_in(3, &[1u8; 8]), "unaligned");
        let mut out = [0u8; 64];
        assert_eq!(
            r.copy_out(u64::MAX - 7, &mut out),
            8 * (r.to_end(u64::MAX - 7) / 8).min(8)
        );
        assert_eq!(r.copy_out(5, &mut out), 0);
        assert_eq!(r.copy_out(3 * cap - 16, &mut out), 16);
        assert_eq!(out[..16], [1u8; 16]);
    }

    #[test]
    fn frames_parse_records_and_padding_and_refuse_garbage() {
        let mut buf = [0u8; 128];
        buf[..8].copy_from_slice(&9u64.to_ne_bytes());
        let fact = Fact::Unmounted;
        let n = fact.emit(&mut buf[8..]).unwrap();
        let (f, len) = Frame::parse(&buf).unwrap();
        assert_eq!(len, 8 + n);
        assert!(matches!(f, Frame::Record { seq: 9, .. }));
        assert_eq!(
            Frame::parse(&buf[..8 + n - 1]).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(Frame::parse(&buf[..4]).unwrap_err(), WireError::Truncated);
        buf[8] = 200;
        assert_eq!(Frame::parse(&buf).unwrap_err(), WireError::Malformed);
        buf[..8].copy_from_slice(&PAD_SEQ.to_ne_bytes());
        assert!(matches!(Frame::parse(&buf), Ok((Frame::Pad, 8))));
    }
}
