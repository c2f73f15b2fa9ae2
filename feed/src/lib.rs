//! The feed producer, linked into filesystem daemons.
//!
//! A filesystem owns one [`Producer`]. At every operation it calls [`Producer::record`] with
//! the [`Fact`] that happened; the producer keeps the fact only when it concerns an inode in
//! the *interest set* (an inode the daemon watches, or a child of a watched directory), so an
//! unwatched operation costs one or two hash probes and nothing else. Kept facts are encoded
//! in place, in the wire format of [`inotify_abi::feed`], into one bounded buffer allocated at
//! construction.
//!
//! The daemon reads the feed handle (`dup(fs_fd, "inotify-feed")`, root only): each `read` is
//! [`Producer::read_batch`]. It writes interest messages to the same handle:
//! [`Producer::write_interest`]. When [`Producer::record`] returns `true` the buffer has just
//! become non-empty and the filesystem posts read readiness on its feed handles.
//!
//! What a filesystem's scheme does with the daemon's requests (feed handles, readiness posts,
//! the identity call, the name-following rule) is the [`endpoint`] module, shared by every
//! filesystem.
//!
//! Guarantees:
//! - Never blocks. No allocation after construction except growth of the interest set.
//! - Records are numbered with consecutive sequence numbers, from 0, in the order they were
//!   recorded.
//! - Loss is never silent: a relevant fact that does not fit is dropped and counted; before
//!   any later record, a `Fact::Lost { count }` record (which takes a sequence number of its
//!   own) says how many were dropped.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod endpoint;
pub mod names;
mod ring;
mod subtree;

pub use endpoint::{
    last_name, walk_dirs, FeedEndpoint, FeedError, FeedHandles, FoundDir, HeldName, NameUse,
    ProducerCell, RemovedDir, RemovedDirs,
};

use alloc::boxed::Box;
use alloc::vec;
use core::hash::{BuildHasherDefault, Hasher};

use hashbrown::HashMap;
use inotify_abi::feed::{
    BatchHeader, Fact, Interest, Record, BATCH_HEADER_LEN, MAX_RECORD_LEN, RECORD_ALIGN,
    RECORD_HEADER_LEN,
};
use inotify_abi::WireError;

pub use inotify_abi::feed::{Replaced, Subject};
pub use ring::RingBox;

/// A hasher for inode numbers: one folded 64x64->128 multiply. The interest set is written
/// only by the daemon (root), so a keyed hash buys nothing here and a fixed key keeps a probe
/// to a couple of nanoseconds.
#[derive(Default, Clone, Copy)]
pub struct InoHasher {
    /// The hash so far.
    state: u64,
}

/// The multiplier of [`InoHasher`] (the 64-bit golden ratio, odd).
const INO_HASH_KEY: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for InoHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.state
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Only used by non-u64 keys, which this crate never hashes; kept correct anyway.
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        let p = u128::from(v ^ self.state).wrapping_mul(u128::from(INO_HASH_KEY));
        self.state = (p as u64) ^ ((p >> 64) as u64);
    }
}

/// The interest set: inode -> number of `Add`s not yet matched by a `Remove`.
type InterestSet = HashMap<u64, u32, BuildHasherDefault<InoHasher>>;

/// The producer side of one filesystem's feed: interest set, bounded record buffer, loss
/// accounting.
pub struct Producer {
    /// Encoded records; the live ones are `buf[start..end]`, back to back.
    buf: Box<[u8]>,
    /// Offset of the oldest unread record.
    start: usize,
    /// Offset just past the newest record.
    end: usize,
    /// Number of records in `buf[start..end]`.
    queued: u64,
    /// Sequence number of the record at `start`.
    next_read_seq: u64,
    /// Relevant facts dropped since the last `Lost` record was queued.
    pending_lost: u64,
    /// Relevant facts dropped since construction.
    dropped: u64,
    /// Records queued since construction (including `Lost` records).
    recorded: u64,
    /// Watched inodes with their reference counts.
    interest: InterestSet,
    /// Directories covered by subtree roots (`IN_SUBTREE` watches).
    cover: subtree::Coverage,
    /// The ring shared with the daemon, once it mapped the feed.
    ring: Option<ring::RingState>,
}

impl Producer {
    /// A producer whose record buffer holds `capacity_bytes` bytes, raised to at least
    /// `MAX_RECORD_LEN` so that any single record fits into an empty buffer. The interest set
    /// starts empty: nothing is recorded until the daemon adds an inode.
    pub fn new(capacity_bytes: usize) -> Self {
        let cap = capacity_bytes.max(MAX_RECORD_LEN);
        Producer {
            buf: vec![0u8; cap].into_boxed_slice(),
            start: 0,
            end: 0,
            queued: 0,
            next_read_seq: 0,
            pending_lost: 0,
            dropped: 0,
            recorded: 0,
            interest: InterestSet::default(),
            cover: subtree::Coverage::default(),
            ring: None,
        }
    }

    /// Whether `ino` is in the interest set (watched by some inotify instance).
    #[inline]
    pub fn is_watched(&self, ino: u64) -> bool {
        !self.interest.is_empty() && self.interest.contains_key(&ino)
    }

    /// Whether a parent directory `dir` (0 = unknown) is watched.
    #[inline]
    fn dir_watched(&self, dir: u64) -> bool {
        dir != 0 && self.is_watched(dir)
    }

    /// Whether `fact` concerns a watched inode: its inode, its parent directory, the new
    /// parent of a rename, or the inode a rename replaced. `Unmounted` and `Lost` always are.
    /// A `Freed` matters only while its inode is watched: the daemon keeps no other state
    /// about inodes. A fact naming an entry of a directory covered by a subtree root is
    /// relevant too.
    #[inline]
    pub fn is_relevant(&self, fact: &Fact<'_>) -> bool {
        if self.interest.is_empty() && self.cover.is_empty() {
            return matches!(fact, Fact::Unmounted | Fact::Lost { .. });
        }
        self.is_watched_fact(fact) || (!self.cover.is_empty() && self.is_covered_fact(fact))
    }

    /// Whether `fact` names an entry of a covered directory (out of line: only with subtree
    /// roots).
    #[inline(never)]
    fn is_covered_fact(&self, fact: &Fact<'_>) -> bool {
        let c = &self.cover;
        match *fact {
            Fact::Created { dir, .. }
            | Fact::Linked { dir, .. }
            | Fact::Unlinked { dir, .. }
            | Fact::Exists { dir, .. } => c.covers(dir),
            Fact::Renamed {
                old_dir, new_dir, ..
            } => c.covers(old_dir) || c.covers(new_dir),
            Fact::Opened(at)
            | Fact::Accessed(at)
            | Fact::Modified(at)
            | Fact::Attrib(at)
            | Fact::Times { at, .. }
            | Fact::Closed { at, .. } => c.covers(at.dir),
            Fact::Freed { .. } | Fact::Unmounted | Fact::Lost { .. } => false,
        }
    }

    /// [`is_relevant`](Self::is_relevant) through the interest set alone.
    #[inline(always)]
    fn is_watched_fact(&self, fact: &Fact<'_>) -> bool {
        match *fact {
            Fact::Created { dir, ino, .. }
            | Fact::Linked { dir, ino, .. }
            | Fact::Unlinked { dir, ino, .. } => self.is_watched(ino) || self.dir_watched(dir),
            Fact::Renamed {
                old_dir,
                new_dir,
                ino,
                replaced,
                ..
            } => {
                self.is_watched(ino)
                    || self.dir_watched(old_dir)
                    || (new_dir != old_dir && self.dir_watched(new_dir))
                    || replaced.is_some_and(|r| self.is_watched(r.ino))
            }
            Fact::Freed { ino, .. } => self.is_watched(ino),
            Fact::Opened(at)
            | Fact::Accessed(at)
            | Fact::Modified(at)
            | Fact::Attrib(at)
            | Fact::Times { at, .. }
            | Fact::Closed { at, .. } => self.is_watched(at.ino) || self.dir_watched(at.dir),
            Fact::Unmounted | Fact::Lost { .. } => true,
            Fact::Exists { dir, .. } => self.dir_watched(dir),
        }
    }

    /// Records `fact` if it is relevant (see [`is_relevant`](Self::is_relevant)). Returns
    /// `true` when the buffer went from empty to non-empty: the filesystem then posts read
    /// readiness on its feed handles. A relevant fact that does not fit (or that cannot be
    /// encoded, e.g. a name longer than `NAME_MAX`) is dropped and counted; a `Lost` record
    /// precedes the next record that fits.
    ///
    /// With subtree roots, a relevant fact also updates the covered directories first (see
    /// [`take_walk`](Self::take_walk) for the filesystem's part).
    #[inline]
    pub fn record(&mut self, fact: &Fact<'_>) -> bool {
        if !self.is_relevant(fact) {
            return false;
        }
        self.cover.apply(fact);
        self.record_relevant(fact)
    }

    /// The subtree call (`inotify_abi::proto::SubtreeCall`) on directory `root`: `found`
    /// holds an `Exists` fact for every directory below it, parent before child, as the
    /// filesystem's walk found them in this same step. All of them are recorded and
    /// covered and `root` becomes a subtree root, or, when their records do not fit the
    /// buffer's free space, nothing changes and the answer is `NoSpace`; a fact that is not
    /// `Exists` is `Malformed`. On success returns whether the buffer went from empty to
    /// non-empty (post readiness).
    pub fn add_subtree(&mut self, root: u64, found: &[Fact<'_>]) -> Result<bool, WireError> {
        let mut need = if self.pending_lost > 0 {
            inotify_abi::feed::record_len(0)
        } else {
            0
        };
        for fact in found {
            if !matches!(fact, Fact::Exists { .. }) {
                return Err(WireError::Malformed);
            }
            need += fact.buffer_len() + self.frame_overhead();
        }
        if need > self.free_bytes() {
            return Err(WireError::NoSpace);
        }
        let was_empty = self.is_empty_now();
        self.cover.add_root(root);
        for fact in found {
            if let Fact::Exists { dir, ino, .. } = *fact {
                self.cover.exists(dir, ino);
            }
            self.record_relevant(fact);
        }
        if self.ring_live() {
            return Ok(self.ring_wake_due());
        }
        Ok(was_empty && self.queued > 0)
    }

    /// After recording a `Renamed` fact: the directory it moved into a covered directory,
    /// if any (once). The filesystem then walks it and reports every directory below it
    /// with [`record_exists`](Self::record_exists), parent before child, before it handles
    /// another request, so each is covered before anything can happen in it.
    pub fn take_walk(&mut self) -> Option<u64> {
        self.cover.take_walk()
    }

    /// Records that directory `ino` is named `name` in `dir` (a walk after
    /// [`take_walk`](Self::take_walk)) and covers it when `dir` is covered. Returns whether
    /// the buffer went from empty to non-empty.
    pub fn record_exists(&mut self, dir: u64, name: &[u8], ino: u64) -> bool {
        if !self.cover.covers(dir) {
            return false;
        }
        self.cover.exists(dir, ino);
        self.record_relevant(&Fact::Exists { dir, name, ino })
    }

    /// Whether directory `dir` is a subtree root or covered below one.
    pub fn is_covered(&self, dir: u64) -> bool {
        self.cover.covers(dir)
    }

    /// Directories covered below subtree roots (roots not counted).
    pub fn covered_count(&self) -> usize {
        self.cover.below_count()
    }

    /// The slow half of [`record`](Self::record): the fact is known to be relevant.
    /// Returns whether a readiness post is due: the buffer went from empty to non-empty,
    /// or, with a ring, the daemon was waiting.
    fn record_relevant(&mut self, fact: &Fact<'_>) -> bool {
        let was_empty = self.is_empty_now();
        if self.pending_lost > 0 && !self.push_lost() {
            self.drop_one();
        } else if !self.push(fact) {
            self.drop_one();
            if self.is_empty_now() {
                // An empty buffer holds any record, so the fact could not be encoded: say so
                // at once rather than wait for a later record.
                self.push_lost();
            }
        }
        if self.ring_live() {
            return self.ring_wake_due();
        }
        was_empty && self.queued > 0
    }

    /// Whether nothing is queued (in the ring, when it is live).
    fn is_empty_now(&self) -> bool {
        if self.ring_live() {
            self.ring_is_empty()
        } else {
            self.queued == 0
        }
    }

    /// Bytes a record takes beyond its own length where it is queued (a ring's frame has a
    /// sequence word).
    fn frame_overhead(&self) -> usize {
        if self.ring_live() {
            inotify_abi::ring::FRAME_HEADER_LEN
        } else {
            0
        }
    }

    /// Free bytes where records are queued.
    fn free_bytes(&self) -> usize {
        if self.ring_live() {
            self.ring_free()
        } else {
            self.buf.len() - (self.end - self.start)
        }
    }

    /// Counts one dropped fact.
    fn drop_one(&mut self) {
        self.pending_lost += 1;
        self.dropped += 1;
    }

    /// Queues a `Lost` record for the pending drops, if it fits. Returns whether it did.
    /// (With a ring, the daemon learns the count from the ring's header in the meantime.)
    fn push_lost(&mut self) -> bool {
        debug_assert!(self.pending_lost > 0);
        if self.push(&Fact::Lost {
            count: self.pending_lost,
        }) {
            self.pending_lost = 0;
            true
        } else {
            false
        }
    }

    /// Queues `fact`: into the ring when it is live, else into the buffer.
    fn push(&mut self, fact: &Fact<'_>) -> bool {
        if self.ring_live() {
            self.ring_push(fact)
        } else {
            self.buf_push(fact)
        }
    }

    /// Encodes `fact` at the end of the buffer, compacting first when the tail is too short
    /// but the whole free space is enough. Returns whether it was queued.
    fn buf_push(&mut self, fact: &Fact<'_>) -> bool {
        match fact.emit(&mut self.buf[self.end..]) {
            Ok(n) => {
                self.queued_one(n);
                true
            }
            Err(WireError::NoSpace) if self.start > 0 => {
                let free = self.buf.len() - (self.end - self.start);
                if fact.buffer_len() > free {
                    return false;
                }
                self.compact();
                match fact.emit(&mut self.buf[self.end..]) {
                    Ok(n) => {
                        self.queued_one(n);
                        true
                    }
                    Err(_) => false,
                }
            }
            Err(_) => false,
        }
    }

    /// Accounts for a record of `len` bytes just written at `end`.
    fn queued_one(&mut self, len: usize) {
        debug_assert!(len >= RECORD_HEADER_LEN && len.is_multiple_of(RECORD_ALIGN));
        self.end += len;
        self.queued += 1;
        self.recorded += 1;
        debug_assert!(self.end <= self.buf.len());
    }

    /// Moves the live records to the front of the buffer.
    fn compact(&mut self) {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
    }

    /// Whether facts are waiting for the daemon: a `read` of the feed would return a batch
    /// now, or, with a ring, frames are not consumed yet.
    #[inline]
    pub fn is_readable(&self) -> bool {
        if self.ring_live() {
            return !self.ring_is_empty() || self.pending_lost > 0;
        }
        self.queued > 0 || self.pending_lost > 0
    }

    /// Bytes of records queued (headers of batches not included; with a ring, bytes of
    /// frames not consumed).
    pub fn queued_bytes(&self) -> usize {
        if self.ring_live() {
            return self.ring_queued_bytes();
        }
        self.end - self.start
    }

    /// Moves one batch into `out`: a batch header, then as many whole records as fit, oldest
    /// first, with consecutive sequence numbers. `Ok(0)` when nothing is queued; `NoSpace`
    /// when not even the oldest record fits into `out`.
    pub fn read_batch(&mut self, out: &mut [u8]) -> Result<usize, WireError> {
        if self.ring_live() {
            // The records are in the ring; a read only reports drops there once the daemon
            // made room (it reads when it finds the ring empty and drops pending).
            if self.pending_lost > 0 && self.push_lost() {
                self.sync_pending();
            }
            return Ok(0);
        }
        if self.queued == 0 {
            if self.pending_lost == 0 {
                return Ok(0);
            }
            // Everything was read since the drops: make room for the Lost record.
            self.start = 0;
            self.end = 0;
            let queued = self.push_lost();
            debug_assert!(queued, "an empty buffer always holds a Lost record");
        }
        if out.len() < BATCH_HEADER_LEN {
            return Err(WireError::NoSpace);
        }
        let first_seq = self.next_read_seq;
        let mut at = BATCH_HEADER_LEN;
        let mut count = 0u32;
        at += self.take_records(&mut out[at..], &mut count);
        if count == 0 {
            return Err(WireError::NoSpace);
        }
        if self.pending_lost > 0 {
            // Space was just freed: queue the Lost record now, and hand it out at once if the
            // batch has room, so the reader learns about the loss without another wake-up.
            if self.push_lost() {
                at += self.take_records(&mut out[at..], &mut count);
            }
        }
        BatchHeader {
            first_seq,
            count,
            total_len: at as u32,
        }
        .emit(out)?;
        Ok(at)
    }

    /// Copies whole records from the front of the buffer into `out` while they fit; removes
    /// them from the buffer and adds their number to `count`. Returns the bytes copied.
    fn take_records(&mut self, out: &mut [u8], count: &mut u32) -> usize {
        let mut len = 0usize;
        let mut n = 0u64;
        while self.start + len < self.end && n < u64::from(u32::MAX - *count) {
            // `Fact::emit` wrote the records: their lengths need no second check.
            let queued = &self.buf[self.start + len..self.end];
            debug_assert!(Record::new_checked(queued).is_ok());
            let Some(rec_len) = Record::stored_len(queued) else {
                break;
            };
            if len + rec_len > out.len() {
                break;
            }
            len += rec_len;
            n += 1;
        }
        out[..len].copy_from_slice(&self.buf[self.start..self.start + len]);
        self.start += len;
        self.queued -= n;
        self.next_read_seq += n;
        *count += n as u32;
        if self.queued == 0 {
            self.start = 0;
            self.end = 0;
        }
        len
    }

    /// Applies an interest message (whole 16-byte entries, see `Interest`). `Add`s and
    /// `Remove`s are counted per inode; `Clear` empties the set. The message is checked as a
    /// whole before anything is applied; returns its length.
    pub fn write_interest(&mut self, msg: &[u8]) -> Result<usize, WireError> {
        for entry in Interest::parse_all(msg) {
            entry?;
        }
        for entry in Interest::parse_all(msg).flatten() {
            self.apply_interest(entry);
        }
        Ok(msg.len())
    }

    /// Applies one interest entry.
    fn apply_interest(&mut self, entry: Interest) {
        match entry {
            Interest::Add(ino) => {
                let n = self.interest.entry(ino).or_insert(0);
                *n = n.saturating_add(1);
            }
            Interest::Remove(ino) => {
                if let Some(n) = self.interest.get_mut(&ino) {
                    *n -= 1;
                    if *n == 0 {
                        self.interest.remove(&ino);
                    }
                }
            }
            Interest::Clear => {
                self.interest.clear();
                self.cover.clear();
            }
            Interest::RemoveSubtree(ino) => self.cover.remove_root(ino),
        }
    }

    /// Number of inodes in the interest set.
    pub fn watched_count(&self) -> usize {
        self.interest.len()
    }

    /// Relevant facts dropped because the buffer was full, since construction.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Records queued since construction, `Lost` records included (unwatched operations add
    /// nothing here).
    pub fn recorded(&self) -> u64 {
        self.recorded
    }
}

impl core::fmt::Debug for Producer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.buf.len())
            .field("queued", &self.queued)
            .field("queued_bytes", &self.queued_bytes())
            .field("next_read_seq", &self.next_read_seq)
            .field("pending_lost", &self.pending_lost)
            .field("dropped", &self.dropped)
            .field("watched", &self.interest.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use inotify_abi::feed::{interest_field, record_len, Batch, INTEREST_LEN};

    /// Bytes of a record whose name has 1 to 8 bytes (every record in these tests).
    const SHORT: usize = record_len(8);

    /// An interest message adding or removing the given inodes.
    fn msg(entries: &[Interest]) -> Vec<u8> {
        let mut out = vec![0u8; entries.len() * INTEREST_LEN];
        for (e, entry) in entries.iter().zip(out.chunks_exact_mut(INTEREST_LEN)) {
            e.emit(entry).unwrap();
        }
        out
    }

    fn watch(p: &mut Producer, ino: u64) {
        assert_eq!(
            p.write_interest(&msg(&[Interest::Add(ino)])),
            Ok(INTEREST_LEN)
        );
    }

    fn modified(ino: u64, dir: u64, name: &[u8]) -> Fact<'_> {
        Fact::Modified(Subject {
            ino,
            is_dir: false,
            dir,
            name,
            detached: false,
        })
    }

    /// Reads one batch and returns (first_seq, facts as owned debug strings, raw length).
    fn read_all(p: &mut Producer, out: &mut [u8]) -> (u64, Vec<alloc::string::String>) {
        let n = p.read_batch(out).unwrap();
        assert!(n > 0);
        let batch = Batch::new_checked(&out[..n]).unwrap();
        assert_eq!(batch.header().total_len as usize, n);
        let facts: Vec<_> = batch
            .facts()
            .map(|f| alloc::format!("{:?}", f.unwrap()))
            .collect();
        assert_eq!(facts.len(), batch.header().count as usize);
        (batch.header().first_seq, facts)
    }

    fn mkdir(dir: u64, name: &[u8], ino: u64) -> Fact<'_> {
        Fact::Created {
            dir,
            name,
            ino,
            is_dir: true,
        }
    }

    fn mvdir<'a>(old_dir: u64, new_dir: u64, name: &'a [u8], ino: u64) -> Fact<'a> {
        Fact::Renamed {
            old_dir,
            old_name: name,
            new_dir,
            new_name: name,
            ino,
            is_dir: true,
            replaced: None,
        }
    }

    #[test]
    fn a_directory_made_below_a_subtree_root_is_covered_at_once() {
        let mut p = Producer::new(4096);
        let found = [Fact::Exists {
            dir: 1,
            name: b"old",
            ino: 2,
        }];
        assert_eq!(p.add_subtree(1, &found), Ok(true));
        // mkdir -p 2/a/b, then a file in b: every step is recorded.
        assert!(!p.record(&mkdir(2, b"a", 3)));
        assert!(!p.record(&mkdir(3, b"b", 4)));
        assert!(!p.record(&modified(5, 4, b"f")));
        assert!(!p.record(&modified(5, 9, b"f")), "9 is not covered");
        assert_eq!(p.recorded(), 4);
        assert_eq!(p.covered_count(), 3);
    }

    #[test]
    fn a_directory_moved_in_is_walked_and_a_directory_moved_out_stops_being_covered() {
        let mut p = Producer::new(8192);
        assert_eq!(p.add_subtree(1, &[]), Ok(false));
        assert!(p.record(&mkdir(1, b"a", 3)));
        assert!(!p.record(&mkdir(3, b"b", 4)));
        assert_eq!(p.take_walk(), None);
        // 10 (with 11 below it) moves in from elsewhere: the filesystem walks it.
        assert!(!p.record(&mvdir(20, 4, b"x", 10)));
        assert_eq!(p.take_walk(), Some(10));
        assert_eq!(p.take_walk(), None);
        assert!(!p.record_exists(10, b"y", 11));
        assert!(!p.record(&modified(5, 11, b"f")));
        assert_eq!(p.covered_count(), 4);
        // 3 moves out: 3, 4, 10, 11 are no longer covered; the move itself is recorded.
        let before = p.recorded();
        assert!(!p.record(&mvdir(1, 20, b"a", 3)));
        assert_eq!(p.recorded(), before + 1);
        assert_eq!(p.covered_count(), 0);
        assert!(!p.record(&modified(5, 11, b"f")));
        assert!(!p.record(&mkdir(4, b"z", 12)));
        assert_eq!(p.recorded(), before + 1);
    }

    #[test]
    fn the_last_remove_of_a_root_drops_what_only_it_covered() {
        let mut p = Producer::new(8192);
        p.add_subtree(1, &[]).unwrap();
        p.add_subtree(1, &[]).unwrap();
        p.record(&mkdir(1, b"a", 3));
        p.add_subtree(3, &[]).unwrap();
        p.record(&mkdir(3, b"b", 4));
        p.record(&mkdir(1, b"c", 5));
        let rm = |p: &mut Producer, ino| {
            p.write_interest(&msg(&[Interest::RemoveSubtree(ino)]))
                .unwrap();
        };
        rm(&mut p, 1);
        assert_eq!(p.covered_count(), 3);
        rm(&mut p, 1);
        // 3 is a root itself: 4 stays; 5 only hung below 1.
        assert_eq!(p.covered_count(), 2);
        assert!(!p.is_relevant(&modified(9, 5, b"f")));
        assert!(p.is_relevant(&modified(9, 4, b"f")));
        rm(&mut p, 3);
        assert_eq!(p.covered_count(), 0);
        assert!(!p.is_relevant(&modified(9, 4, b"f")));
    }

    #[test]
    fn a_walk_that_does_not_fit_changes_nothing() {
        let mut p = Producer::new(MAX_RECORD_LEN);
        let names = [[b'n'; 200]; 3];
        let found: Vec<Fact<'_>> = names
            .iter()
            .enumerate()
            .map(|(i, n)| Fact::Exists {
                dir: 1,
                name: n,
                ino: 10 + i as u64,
            })
            .collect();
        assert_eq!(p.add_subtree(1, &found), Err(WireError::NoSpace));
        assert!(!p.is_relevant(&modified(9, 1, b"f")));
        assert_eq!(p.recorded(), 0);
        let bad = [modified(9, 1, b"f")];
        assert_eq!(p.add_subtree(1, &bad), Err(WireError::Malformed));
    }

    #[test]
    fn a_directory_moved_below_itself_is_not_covered_in_a_loop() {
        let mut p = Producer::new(8192);
        p.add_subtree(1, &[]).unwrap();
        p.record(&mkdir(1, b"a", 3));
        p.record(&mkdir(3, b"b", 4));
        // A filesystem that lets a directory move into its own child (redoxfs did).
        p.record(&mvdir(1, 4, b"a", 3));
        assert_eq!(p.take_walk(), None);
        assert!(!p.is_relevant(&modified(9, 4, b"f")));
    }

    #[test]
    fn unwatched_ops_are_not_recorded() {
        let mut p = Producer::new(4096);
        assert!(!p.record(&modified(5, 2, b"a")));
        watch(&mut p, 9);
        assert!(!p.record(&modified(5, 2, b"a")));
        assert!(!p.record(&Fact::Created {
            dir: 3,
            name: b"x",
            ino: 4,
            is_dir: false
        }));
        assert!(!p.record(&Fact::Freed {
            ino: 5,
            is_dir: false
        }));
        assert!(!p.is_readable());
        assert_eq!(p.recorded(), 0);
        assert_eq!(p.read_batch(&mut [0u8; 256]), Ok(0));
    }

    #[test]
    fn watched_inode_and_children_of_watched_dir_are_recorded() {
        let mut p = Producer::new(4096);
        watch(&mut p, 2); // a directory
        watch(&mut p, 7); // a file elsewhere
        assert!(p.record(&modified(5, 2, b"child")));
        assert!(!p.record(&modified(7, 0, b"")));
        assert!(!p.record(&Fact::Created {
            dir: 2,
            name: b"n",
            ino: 8,
            is_dir: true
        }));
        assert!(!p.record(&Fact::Renamed {
            old_dir: 3,
            old_name: b"a",
            new_dir: 2,
            new_name: b"b",
            ino: 10,
            is_dir: false,
            replaced: None,
        }));
        assert!(!p.record(&Fact::Renamed {
            old_dir: 3,
            old_name: b"a",
            new_dir: 3,
            new_name: b"b",
            ino: 10,
            is_dir: false,
            replaced: Some(Replaced {
                ino: 7,
                is_dir: false,
                links_left: 0,
                freed: true
            }),
        }));
        assert!(!p.record(&Fact::Unmounted));
        // Not relevant: neither the inode nor its parent is watched.
        assert!(!p.record(&modified(5, 3, b"child")));
        assert_eq!(p.recorded(), 6);
        let mut out = [0u8; 4096];
        let (seq, facts) = read_all(&mut p, &mut out);
        assert_eq!(seq, 0);
        assert_eq!(facts.len(), 6);
        assert!(facts[0].starts_with("Modified(Subject { ino: 5"));
        assert!(facts[5] == "Unmounted");
        assert!(!p.is_readable());
        assert_eq!(p.read_batch(&mut out), Ok(0));
    }

    #[test]
    fn batches_round_trip_with_consecutive_sequence_numbers() {
        let mut p = Producer::new(8192);
        watch(&mut p, 2);
        let names: [&[u8]; 5] = [b"a", b"bb", b"ccccccccc", b"d", b"eeeeeeeeeeeeeeeeeeeeeee"];
        for (i, n) in names.iter().enumerate() {
            let created = Fact::Created {
                dir: 2,
                name: n,
                ino: 10 + i as u64,
                is_dir: false,
            };
            assert_eq!(p.record(&created), i == 0);
        }
        // Room for the header and exactly two records of SHORT bytes each.
        let mut small = [0u8; BATCH_HEADER_LEN + 2 * SHORT];
        let n = p.read_batch(&mut small).unwrap();
        let b = Batch::new_checked(&small[..n]).unwrap();
        assert_eq!((b.header().first_seq, b.header().count), (0, 2));
        let got: Vec<_> = b.facts().map(Result::unwrap).collect();
        assert_eq!(
            got[0],
            Fact::Created {
                dir: 2,
                name: b"a",
                ino: 10,
                is_dir: false
            }
        );
        assert_eq!(
            got[1],
            Fact::Created {
                dir: 2,
                name: b"bb",
                ino: 11,
                is_dir: false
            }
        );
        let mut big = [0u8; 4096];
        let n = p.read_batch(&mut big).unwrap();
        let b = Batch::new_checked(&big[..n]).unwrap();
        assert_eq!((b.header().first_seq, b.header().count), (2, 3));
        let got: Vec<_> = b.facts().map(Result::unwrap).collect();
        assert_eq!(
            got[2],
            Fact::Created {
                dir: 2,
                name: names[4],
                ino: 14,
                is_dir: false
            }
        );
        // The next record starts a new edge and continues the numbering.
        assert!(p.record(&modified(10, 2, b"a")));
        let n = p.read_batch(&mut big).unwrap();
        assert_eq!(Batch::new_checked(&big[..n]).unwrap().header().first_seq, 5);
    }

    #[test]
    fn a_batch_buffer_too_small_for_one_record_is_no_space() {
        let mut p = Producer::new(4096);
        watch(&mut p, 2);
        p.record(&modified(3, 2, b"abc"));
        assert_eq!(p.read_batch(&mut [0u8; 10]), Err(WireError::NoSpace));
        assert_eq!(
            p.read_batch(&mut [0u8; BATCH_HEADER_LEN + SHORT - 1]),
            Err(WireError::NoSpace)
        );
        assert!(p.is_readable());
        assert_eq!(
            p.read_batch(&mut [0u8; BATCH_HEADER_LEN + SHORT]),
            Ok(BATCH_HEADER_LEN + SHORT)
        );
    }

    #[test]
    fn overflow_becomes_lost_with_the_right_count() {
        // MAX_RECORD_LEN bytes hold ten SHORT-byte records.
        let mut p = Producer::new(0);
        watch(&mut p, 2);
        let per = MAX_RECORD_LEN / SHORT;
        for i in 0..per + 7 {
            assert_eq!(p.record(&modified(3, 2, b"f")), i == 0);
        }
        assert_eq!(p.dropped(), 7);
        let mut out = vec![0u8; 8192];
        let (seq, facts) = read_all(&mut p, &mut out);
        assert_eq!(seq, 0);
        // All queued records, then the Lost record queued as soon as the read freed space.
        assert_eq!(facts.len(), per + 1);
        assert_eq!(facts[per], "Lost { count: 7 }");
        assert!(!p.is_readable());
        // Numbering continues after the Lost record.
        assert!(p.record(&modified(3, 2, b"f")));
        let (seq, facts) = read_all(&mut p, &mut out);
        assert_eq!((seq, facts.len()), (per as u64 + 1, 1));
        assert_eq!(p.dropped(), 7);
    }

    #[test]
    fn lost_precedes_later_records_when_the_reader_takes_part() {
        let mut p = Producer::new(0);
        watch(&mut p, 2);
        let per = MAX_RECORD_LEN / SHORT;
        for _ in 0..per + 3 {
            p.record(&modified(3, 2, b"f"));
        }
        // Read only one record: Lost is queued behind the remaining ones.
        let mut one = [0u8; BATCH_HEADER_LEN + SHORT];
        let n = p.read_batch(&mut one).unwrap();
        assert_eq!(Batch::new_checked(&one[..n]).unwrap().header().count, 1);
        // The Lost record took the freed space; a record arriving now does not fit and is
        // counted again; the next read reports it behind the first Lost.
        assert!(!p.record(&Fact::Created {
            dir: 2,
            name: b"z",
            ino: 99,
            is_dir: false
        }));
        assert_eq!(p.dropped(), 4);
        let mut out = vec![0u8; 8192];
        let (seq, facts) = read_all(&mut p, &mut out);
        assert_eq!(seq, 1);
        assert_eq!(facts.len(), per - 1 + 2);
        assert_eq!(facts[per - 1], "Lost { count: 3 }");
        assert_eq!(facts[per], "Lost { count: 1 }");
        // With room again, records follow directly.
        assert!(p.record(&Fact::Created {
            dir: 2,
            name: b"z",
            ino: 99,
            is_dir: false
        }));
        let (seq, facts) = read_all(&mut p, &mut out);
        assert_eq!(seq, per as u64 + 2);
        assert!(facts[0].starts_with("Created"));
    }

    #[test]
    fn an_unencodable_fact_is_reported_lost_at_once() {
        let mut p = Producer::new(4096);
        watch(&mut p, 2);
        let long = [b'x'; 300];
        assert!(p.record(&modified(3, 2, &long)));
        assert_eq!(p.dropped(), 1);
        let mut out = [0u8; 256];
        let (_, facts) = read_all(&mut p, &mut out);
        assert_eq!(facts, ["Lost { count: 1 }"]);
    }

    #[test]
    fn freed_is_kept_only_while_the_inode_is_watched() {
        let mut p = Producer::new(4096);
        watch(&mut p, 2);
        p.record(&Fact::Unlinked {
            dir: 2,
            name: b"f",
            ino: 5,
            is_dir: false,
            links_left: 0,
            freed: false,
        });
        // Its directory is watched, the inode is not: its Freed has no watch to end.
        let freed = |ino| Fact::Freed { ino, is_dir: false };
        assert!(!p.is_relevant(&freed(5)));
        watch(&mut p, 6);
        assert!(p.is_relevant(&freed(6)));
        p.record(&freed(5));
        p.record(&freed(6));
        let mut out = [0u8; 1024];
        let (_, facts) = read_all(&mut p, &mut out);
        assert_eq!(facts.len(), 2);
        assert_eq!(facts[1], "Freed { ino: 6, is_dir: false }");
    }

    #[test]
    fn interest_is_counted_per_inode() {
        let mut p = Producer::new(4096);
        let two_adds = msg(&[Interest::Add(4), Interest::Add(4), Interest::Add(5)]);
        assert_eq!(p.write_interest(&two_adds), Ok(3 * INTEREST_LEN));
        assert!(p.is_watched(4) && p.is_watched(5));
        assert_eq!(
            p.write_interest(&msg(&[Interest::Remove(4)])),
            Ok(INTEREST_LEN)
        );
        assert!(p.is_watched(4));
        assert_eq!(
            p.write_interest(&msg(&[Interest::Remove(4), Interest::Remove(9)])),
            Ok(2 * INTEREST_LEN)
        );
        assert!(!p.is_watched(4));
        assert!(p.is_watched(5));
        assert_eq!(p.watched_count(), 1);
        assert_eq!(p.write_interest(&msg(&[Interest::Clear])), Ok(INTEREST_LEN));
        assert!(!p.is_watched(5));
        assert_eq!(p.watched_count(), 0);
    }

    #[test]
    fn a_bad_interest_message_changes_nothing() {
        let mut p = Producer::new(4096);
        let mut m = msg(&[Interest::Add(4), Interest::Add(5)]);
        m[INTEREST_LEN + interest_field::OP] = 77; // second entry: unknown opcode
        assert_eq!(p.write_interest(&m), Err(WireError::Malformed));
        assert!(!p.is_watched(4));
        let cut = INTEREST_LEN + 4;
        assert_eq!(p.write_interest(&m[..cut]), Err(WireError::Truncated));
        assert_eq!(p.write_interest(&[]), Ok(0));
    }

    #[test]
    fn the_buffer_wraps_by_compacting() {
        let mut p = Producer::new(0);
        watch(&mut p, 2);
        let per = MAX_RECORD_LEN / SHORT;
        let mut one = [0u8; BATCH_HEADER_LEN + SHORT];
        let mut out = vec![0u8; 8192];
        let mut next = 0u64;
        for round in 0..50u64 {
            // Keep the buffer nearly full while reading one record at a time.
            while p.queued_bytes() + SHORT <= MAX_RECORD_LEN {
                p.record(&Fact::Created {
                    dir: 2,
                    name: b"q",
                    ino: 100 + next,
                    is_dir: false,
                });
                next += 1;
            }
            let n = p.read_batch(&mut one).unwrap();
            let b = Batch::new_checked(&one[..n]).unwrap();
            assert_eq!(b.header().first_seq, round);
            let f = b.facts().next().unwrap().unwrap();
            assert_eq!(
                f,
                Fact::Created {
                    dir: 2,
                    name: b"q",
                    ino: 100 + round,
                    is_dir: false
                }
            );
        }
        assert_eq!(p.dropped(), 0);
        let (seq, facts) = read_all(&mut p, &mut out);
        assert_eq!(seq, 50);
        assert_eq!(facts.len() as u64, next - 50);
        assert!(per > 1);
    }
}
