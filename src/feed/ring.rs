//! The daemon's side of a feed ring (`inotify_abi::ring`): frames are copied out of the
//! shared memory into the daemon's own buffer, and only that copy is parsed, so a filesystem
//! that changes the memory meanwhile changes nothing the daemon checked. Indices that make
//! no sense (`head` behind `tail`, further ahead than the ring holds, unaligned) end the
//! feed as an unmount would; a malformed frame is a loss, and the daemon skips to `head`.

use inotify_abi::feed::Fact;
use inotify_abi::ring::{Frame, Ring, RING_MAP_LEN};
use inotify_abi::WireError;
use inotify_engine::{Engine, FsId};

use super::{apply_fact, check_seq, Feeds, FEED_READS_PER_TURN};
use crate::sys::{FeedMapping, Sys};

/// A feed ring mapped into the daemon.
pub(super) struct Mapped {
    /// The mapping.
    mem: FeedMapping,
    /// Bytes of the data area, read from the header once, at the mapping.
    capacity: usize,
    /// Bytes consumed: the daemon's own `tail` (the shared one is only written).
    tail: core::cell::Cell<u64>,
}

impl core::fmt::Debug for Mapped {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mapped")
            .field("tail", &self.tail.get())
            .finish()
    }
}

/// What one copy out of the ring held.
enum Chunk {
    /// Frames of `n` bytes were applied (padding included).
    Applied(usize),
    /// The frames cannot be parsed: a loss.
    Malformed,
}

impl Mapped {
    /// Maps the feed ring of feed handle `fd`; `None` (the feed is read instead) when the
    /// filesystem shares no memory or its header does not describe the mapping.
    pub(super) fn map(sys: &mut impl Sys, fd: usize, name: &[u8]) -> Option<Mapped> {
        let name = String::from_utf8_lossy(name);
        let mem = match sys.map_feed(fd, RING_MAP_LEN) {
            Ok(mem) => mem,
            Err(e) => {
                log::debug!("the feed of {name} has no ring ({e}): reading it");
                return None;
            }
        };
        match Ring::consumer(mem.words()) {
            Ok(ring) => {
                let tail = core::cell::Cell::new(ring.tail());
                let capacity = ring.capacity();
                Some(Mapped {
                    mem,
                    capacity,
                    tail,
                })
            }
            Err(e) => {
                log::warn!("the feed ring of {name} is malformed ({e:?}): reading the feed");
                None
            }
        }
    }

    /// The view of the mapping (its size was checked when it was mapped).
    fn ring(&self) -> Option<Ring<'_>> {
        Ring::view(self.mem.words(), self.capacity).ok()
    }
}

impl Feeds {
    /// Pulls ring feed `fs` (fd `fd`): copies out at most [`FEED_READS_PER_TURN`] chunks of
    /// the buffer's size, then lists the feed readable again if frames are left. When the
    /// ring is empty and the filesystem has drops it could not report yet, one read of the
    /// feed handle asks it to (it writes the `Lost` frame into the ring). Returns the chunks
    /// copied.
    pub(super) fn pull_ring(
        &mut self,
        sys: &mut impl Sys,
        engine: &mut Engine,
        fs: FsId,
        fd: usize,
    ) -> usize {
        let Some(mapped) = self.feeds[fs as usize].ring.take() else {
            return 0;
        };
        if self.buf.len() < super::FEED_BUF_LEN {
            self.buf.resize(super::FEED_BUF_LEN, 0);
        }
        let (chunks, bad) = self.pull_mapped(sys, engine, fs, fd, &mapped);
        if bad {
            self.lose(sys, engine, fs, "its ring's head is out of range");
        } else {
            self.feeds[fs as usize].ring = Some(mapped);
        }
        chunks
    }

    /// Before a pull a program waits for ([`Feeds::pull_all`]), a feed with a ring is read
    /// once: nothing comes back but `EAGAIN` (or a `Lost` frame the filesystem writes into
    /// the ring), but a filesystem answers its requests in order, so once the read returns it
    /// has finished every request made before it. On Redox a `close` is one-way (the program
    /// goes on before the filesystem handles it, and its facts, `IN_CLOSE_*` and an
    /// `IN_DELETE_SELF`, may be recorded in more than one step, with disk I/O between): the
    /// program's next read must still see them, as a feed read sees them. Without a ring the
    /// pull's own read does this.
    pub(super) fn sync_ring(&mut self, sys: &mut impl Sys, fd: usize) {
        let Some(&fs) = self.by_fd.get(&fd) else {
            return;
        };
        if self.feeds[fs as usize].ring.is_some() {
            let _ = sys.read(fd, &mut [0u8; 8]);
        }
    }

    /// The `head` of `fs`'s ring, if it has one.
    pub(super) fn ring_head(&self, fs: FsId) -> Option<u64> {
        let mapped = self.feeds.get(fs as usize)?.ring.as_ref()?;
        Some(mapped.ring()?.head())
    }

    /// [`pull_ring`](Self::pull_ring) with the mapping taken out of its feed: returns the
    /// chunks copied and whether the ring's indices made no sense.
    fn pull_mapped(
        &mut self,
        sys: &mut impl Sys,
        engine: &mut Engine,
        fs: FsId,
        fd: usize,
        mapped: &Mapped,
    ) -> (usize, bool) {
        let Some(ring) = mapped.ring() else {
            return (0, true);
        };
        let mut tail = mapped.tail.get();
        let mut chunks = 0;
        let mut asked_for_loss = false;
        loop {
            let head = ring.head();
            let avail = head.wrapping_sub(tail);
            if avail > ring.capacity() as u64 || !avail.is_multiple_of(8) {
                return (chunks, true);
            }
            if avail == 0 {
                if asked_for_loss || ring.pending_lost() == 0 {
                    return (chunks, false);
                }
                asked_for_loss = true;
                let _ = sys.read(fd, &mut [0u8; 8]);
                continue;
            }
            if chunks == FEED_READS_PER_TURN {
                sys.readable_again(fd);
                return (chunks, false);
            }
            chunks += 1;
            self.ring_pulls += 1;
            let want = (avail as usize).min(ring.to_end(tail)).min(self.buf.len());
            let n = ring.copy_out(tail, &mut self.buf[..want]);
            let feed = &mut self.feeds[fs as usize];
            let step = match apply_chunk(feed, engine, fs, &self.buf[..n], ring.to_end(tail)) {
                Chunk::Applied(step) if step > 0 && step as u64 <= avail => step as u64,
                _ => {
                    // What was skipped is unknown: one loss now, and the next frame's number
                    // is taken as it is (no second loss for the same gap).
                    log::warn!("feed {fs}: a malformed ring frame; skipping to its head");
                    feed.lost = feed.lost.saturating_add(1);
                    feed.expected_seq = None;
                    engine.apply(fs, &Fact::Lost { count: 1 });
                    avail
                }
            };
            tail = tail.wrapping_add(step);
            mapped.tail.set(tail);
            ring.set_tail(tail);
        }
    }

    /// Before the daemon blocks: arms every ring (its filesystem posts readiness at its next
    /// frame) and pulls what arrived before that. Returns whether anything was pulled.
    pub fn arm(&mut self, sys: &mut impl Sys, engine: &mut Engine) -> bool {
        let mut pulled = false;
        for i in 0..self.feeds.len() {
            let feed = &self.feeds[i];
            let (Some(fd), Some(mapped)) = (feed.fd, feed.ring.as_ref()) else {
                continue;
            };
            let Some(ring) = mapped.ring() else { continue };
            let head = ring.arm();
            if head != mapped.tail.get() || ring.pending_lost() != 0 {
                pulled |= self.pull_ring(sys, engine, i as FsId, fd) > 0;
            }
        }
        pulled
    }

    /// Pulls from feed rings since start.
    pub fn ring_pulls(&self) -> u64 {
        self.ring_pulls
    }
}

/// Applies the frames of one copy out of the ring, `bytes`, which starts `to_end` bytes
/// before the end of the data area: the bytes consumed (a frame cut off at the end of the
/// copy is left for the next one; padding consumes up to the end of the data area).
fn apply_chunk(
    feed: &mut super::Feed,
    engine: &mut Engine,
    fs: FsId,
    bytes: &[u8],
    to_end: usize,
) -> Chunk {
    let mut at = 0;
    while at < bytes.len() {
        match Frame::parse(&bytes[at..]) {
            Ok((Frame::Pad, _)) => return Chunk::Applied(to_end),
            Ok((Frame::Record { seq, record }, len)) => {
                let Ok(fact) = Fact::from_record(&record) else {
                    return Chunk::Malformed;
                };
                check_seq(feed, engine, fs, seq, 1);
                apply_fact(feed, engine, fs, &fact);
                at += len;
            }
            Err(WireError::Truncated) if at > 0 => break,
            Err(_) => return Chunk::Malformed,
        }
    }
    Chunk::Applied(at)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use inotify_abi::consts::{IN_CREATE, IN_IGNORED, IN_Q_OVERFLOW, IN_UNMOUNT};
    use inotify_abi::ring::{ring_field, Ring, RingMemory, PAD_SEQ, RING_HEADER_LEN};
    use inotify_engine::InstanceId;
    use redox_scheme::{Response, SendFdRequest};
    use syscall::error::{Error, Result, EAGAIN, EBADF};

    use super::*;
    use crate::feed::{Feed, Feeds};
    use crate::sys::Wake;

    use crate::feed::tests::DIR;
    /// The feed's fd.
    const FD: usize = 7;

    /// Shared words, as a filesystem would hand them over.
    #[derive(Clone)]
    struct Shared(Arc<[AtomicU64]>);

    impl RingMemory for Shared {
        fn words(&self) -> &[AtomicU64] {
            &self.0
        }
    }

    /// A `Sys` that only counts feed reads and readable-again notices.
    #[derive(Default)]
    struct Quiet {
        reads: usize,
        again: usize,
        closed: usize,
        /// A request the filesystem still has to finish when the next feed read comes: it
        /// then publishes a creation of `late` at (head, seq).
        finishing: Option<(Shared, u64, u64)>,
        /// Yields of the CPU.
        yields: usize,
        /// A writer that runs while the daemon yields: each yield it publishes a creation
        /// at (head, seq), for as many yields as the count says.
        writer: Option<(Shared, u64, u64, usize)>,
    }

    impl Sys for Quiet {
        fn wait(&mut self) -> Result<Wake> {
            Ok(Wake::Shutdown)
        }
        fn respond(&mut self, _resp: Response) -> Result<()> {
            Ok(())
        }
        fn obtain_fd(&mut self, _req: &SendFdRequest) -> Result<usize> {
            Err(Error::new(EBADF))
        }
        fn open_anchor(&mut self, _name: &[u8]) -> Result<usize> {
            Err(Error::new(EBADF))
        }
        fn call2(&mut self, _a: usize, _b: usize, _p: &mut [u8], _m: &[u64]) -> Result<usize> {
            Err(Error::new(EBADF))
        }
        fn dup(&mut self, _fd: usize, _name: &[u8]) -> Result<usize> {
            Err(Error::new(EBADF))
        }
        fn read(&mut self, _fd: usize, _buf: &mut [u8]) -> Result<usize> {
            self.reads += 1;
            if let Some((s, head, seq)) = self.finishing.take() {
                produce(&s, head, seq, &[b"late"]);
            }
            Err(Error::new(EAGAIN))
        }
        fn write(&mut self, _fd: usize, buf: &[u8]) -> Result<usize> {
            Ok(buf.len())
        }
        fn close(&mut self, _fd: usize) -> Result<()> {
            self.closed += 1;
            Ok(())
        }
        fn watch_readable(&mut self, _fd: usize) -> Result<()> {
            Ok(())
        }
        fn yield_cpu(&mut self) {
            self.yields += 1;
            if let Some((s, head, seq, left)) = self.writer.as_mut() {
                if *left > 0 {
                    let name = format!("y{seq}");
                    *head = produce(s, *head, *seq, &[name.as_bytes()]);
                    *seq += 1;
                    *left -= 1;
                }
            }
        }
        fn readable_again(&mut self, _fd: usize) {
            self.again += 1;
        }
    }

    /// A ring of `capacity` data bytes, a feed over it and an engine watching `DIR`; the
    /// test plays the filesystem through the returned words.
    fn rig(capacity: usize) -> (Feeds, Engine, InstanceId, Shared, Quiet) {
        let words: Arc<[AtomicU64]> = (0..(RING_HEADER_LEN + capacity) / 8)
            .map(|_| AtomicU64::new(0))
            .collect();
        let shared = Shared(words);
        Ring::init(shared.words(), capacity).unwrap();
        let mut feeds = Feeds::with_filesystems([&b"file"[..]]);
        feeds.feeds.push(Feed {
            name: b"file".to_vec(),
            fd: Some(FD),
            expected_seq: None,
            lost: 0,
            policy: crate::feed::TurnPolicy::default(),
            backlog: false,
            ring: Some(Mapped {
                mem: Box::new(shared.clone()),
                capacity,
                tail: core::cell::Cell::new(0),
            }),
        });
        feeds.by_fd.insert(FD, 0);
        let (e, inst) = crate::feed::tests::watched();
        (feeds, e, inst, shared, Quiet::default())
    }

    /// The filesystem's side: writes frames of creations named `names` from `head`, with
    /// sequence numbers from `seq`, and publishes them. Returns the new head.
    fn produce(s: &Shared, mut head: u64, seq: u64, names: &[&[u8]]) -> u64 {
        let ring = Ring::consumer(s.words()).unwrap();
        for (i, name) in names.iter().enumerate() {
            let mut frame = [0u8; 600];
            frame[..8].copy_from_slice(&(seq + i as u64).to_ne_bytes());
            let fact = Fact::Created {
                dir: DIR,
                name,
                ino: 100,
                is_dir: false,
            };
            let n = 8 + fact.emit(&mut frame[8..]).unwrap();
            if n > ring.to_end(head) {
                ring.copy_in(head, &PAD_SEQ.to_ne_bytes());
                head += ring.to_end(head) as u64;
            }
            assert!(ring.copy_in(head, &frame[..n]));
            head += n as u64;
        }
        ring.publish(head);
        head
    }

    use crate::feed::tests::events as masks;

    /// The masks queued, without `IN_ISDIR`.
    fn unmounted(e: &mut Engine, inst: InstanceId) -> Vec<u32> {
        masks(e, inst)
            .into_iter()
            .map(|(m, _)| m & !inotify_abi::consts::IN_ISDIR)
            .collect()
    }

    fn set_head(s: &Shared, head: u64) {
        s.words()[ring_field::HEAD / 8].store(head, Ordering::SeqCst);
    }

    #[test]
    fn frames_are_pulled_across_the_end_of_the_ring_without_a_read() {
        let (mut feeds, mut e, inst, s, mut sys) = rig(2 * inotify_abi::ring::MAX_FRAME_LEN);
        let mut head = 0;
        let mut seq = 0;
        for round in 0..40u64 {
            let names: Vec<Vec<u8>> = (0..3)
                .map(|i| format!("r{round}n{i}").into_bytes())
                .collect();
            let refs: Vec<&[u8]> = names.iter().map(|n| n.as_slice()).collect();
            head = produce(&s, head, seq, &refs);
            seq += 3;
            feeds.pull(&mut sys, &mut e, FD);
            let got: Vec<Vec<u8>> = masks(&mut e, inst).into_iter().map(|(_, n)| n).collect();
            assert_eq!(got, names, "round {round}");
        }
        assert_eq!(sys.reads, 0);
        assert_eq!(feeds.feeds[0].lost, 0);
        let tail = s.words()[ring_field::TAIL / 8].load(Ordering::SeqCst);
        assert_eq!(tail, head, "the daemon gives every byte back");
    }

    #[test]
    fn a_filesystem_that_moves_head_backwards_loses_its_feed_not_the_daemon() {
        let (mut feeds, mut e, inst, s, mut sys) = rig(4096);
        let head = produce(&s, 0, 0, &[b"a", b"b"]);
        feeds.pull(&mut sys, &mut e, FD);
        assert_eq!(masks(&mut e, inst).len(), 2);
        set_head(&s, head - 8);
        feeds.pull(&mut sys, &mut e, FD);
        assert_eq!(unmounted(&mut e, inst), [IN_UNMOUNT, IN_IGNORED]);
        assert!(!feeds.is_feed(FD), "the feed is closed");
        assert_eq!(sys.closed, 1);
        // Its readiness later is ignored, and nothing else is touched.
        feeds.pull(&mut sys, &mut e, FD);
        assert!(!feeds.arm(&mut sys, &mut e));
    }

    #[test]
    fn a_head_further_ahead_than_the_ring_holds_loses_the_feed() {
        let (mut feeds, mut e, inst, s, mut sys) = rig(4096);
        set_head(&s, 4096 + 8);
        feeds.pull(&mut sys, &mut e, FD);
        assert_eq!(unmounted(&mut e, inst), [IN_UNMOUNT, IN_IGNORED]);
        let (mut feeds, mut e, _, s, mut sys) = rig(4096);
        set_head(&s, 12);
        feeds.pull(&mut sys, &mut e, FD);
        assert!(!feeds.is_feed(FD), "an unaligned head too");
    }

    #[test]
    fn a_garbage_frame_is_a_loss_and_the_daemon_skips_to_head() {
        let (mut feeds, mut e, inst, s, mut sys) = rig(4096);
        let head = produce(&s, 0, 0, &[b"a", b"b"]);
        // The filesystem scribbles over the second frame's kind.
        let ring = Ring::consumer(s.words()).unwrap();
        let mut first = [0u8; 64];
        ring.copy_out(0, &mut first);
        let first_len = 8 + usize::from(u16::from_ne_bytes([first[14], first[15]]));
        let mut bad = [0u8; 16];
        bad[8] = 0xee;
        ring.copy_in(first_len as u64, &bad);
        feeds.pull(&mut sys, &mut e, FD);
        assert_eq!(
            masks(&mut e, inst),
            [(IN_CREATE, b"a".to_vec()), (IN_Q_OVERFLOW, Vec::new())]
        );
        assert_eq!(feeds.feeds[0].lost, 1);
        assert!(
            feeds.is_feed(FD),
            "a bad frame is a loss, not the end of the feed"
        );
        let _ = produce(&s, head, 2, &[b"c"]);
        feeds.pull(&mut sys, &mut e, FD);
        assert_eq!(masks(&mut e, inst), [(IN_CREATE, b"c".to_vec())]);
    }

    #[test]
    fn a_ring_in_flat_out_churn_gets_a_bounded_turn_and_is_listed_again() {
        let (mut feeds, mut e, _inst, s, mut sys) = rig(MAX_RING);
        // More frames than the per-turn copies take (each copy is at most the buffer).
        let names: Vec<Vec<u8>> = (0..12000).map(|i| format!("{i:08}").into_bytes()).collect();
        let refs: Vec<&[u8]> = names.iter().map(|n| n.as_slice()).collect();
        let head = produce(&s, 0, 0, &refs);
        assert!(head as usize > FEED_READS_PER_TURN * super::super::FEED_BUF_LEN);
        assert_eq!(feeds.pull(&mut sys, &mut e, FD), FEED_READS_PER_TURN);
        assert_eq!(sys.again, 1);
        assert!(feeds.pull(&mut sys, &mut e, FD) < FEED_READS_PER_TURN);
        assert_eq!(sys.again, 1);
        assert_eq!(feeds.feeds[0].expected_seq, Some(12000));
    }

    /// Data bytes of the churn test's ring.
    const MAX_RING: usize = 1024 * 1024;

    #[test]
    fn arming_sets_waiting_and_pulls_what_came_before() {
        let (mut feeds, mut e, inst, s, mut sys) = rig(4096);
        assert!(!feeds.arm(&mut sys, &mut e));
        assert_eq!(s.words()[ring_field::WAITING / 8].load(Ordering::SeqCst), 1);
        let ring = Ring::consumer(s.words()).unwrap();
        produce(&s, 0, 0, &[b"a"]);
        assert!(
            ring.take_waiting(),
            "the filesystem sees the daemon waiting and posts"
        );
        assert!(feeds.arm(&mut sys, &mut e));
        assert_eq!(masks(&mut e, inst).len(), 1);
        assert_eq!(sys.reads, 0);
        // Drops the filesystem has not reported yet: one read asks for the Lost frame.
        ring.set_pending_lost(3);
        feeds.arm(&mut sys, &mut e);
        assert_eq!(sys.reads, 1);
    }

    #[test]
    fn a_pull_a_program_waits_for_sees_what_the_filesystem_was_still_recording() {
        let (mut feeds, mut e, inst, s, mut sys) = rig(4096);
        // A close the filesystem has taken but not finished: one fact is in the ring, the
        // next comes when it finishes, before it answers anything else.
        let head = produce(&s, 0, 0, &[b"closed"]);
        sys.finishing = Some((s.clone(), head, 1));
        feeds.pull_all(&mut sys, &mut e);
        let names: Vec<Vec<u8>> = masks(&mut e, inst).into_iter().map(|(_, n)| n).collect();
        assert_eq!(names, [b"closed".to_vec(), b"late".to_vec()]);
        assert_eq!(sys.reads, 1);
        // A feed's own turn does not wait for the filesystem: no read.
        let head = s.words()[ring_field::HEAD / 8].load(Ordering::SeqCst);
        produce(&s, head, 2, &[b"x"]);
        feeds.pull(&mut sys, &mut e, FD);
        assert_eq!(masks(&mut e, inst), [(IN_CREATE, b"x".to_vec())]);
        assert_eq!(sys.reads, 1);
    }

    #[test]
    fn a_turn_yields_again_while_the_writer_keeps_recording_and_stops_when_it_does_not() {
        use crate::feed::MAX_TURN_YIELDS;
        // A feed's first turns try yielding (its first probe run).
        let (mut feeds, mut e, inst, s, mut sys) = rig(4096);
        let head = produce(&s, 0, 0, &[b"first"]);
        sys.writer = Some((s.clone(), head, 1, 100));
        feeds.take_turn(&mut sys, &mut e, FD);
        assert_eq!(sys.yields, MAX_TURN_YIELDS as usize);
        assert_eq!(masks(&mut e, inst).len(), 1 + MAX_TURN_YIELDS as usize);
        // A writer that records once more and then blocks: two yields, the second finds
        // nothing new.
        let (mut feeds, mut e, inst, s, mut sys) = rig(4096);
        let head = produce(&s, 0, 0, &[b"first"]);
        sys.writer = Some((s.clone(), head, 1, 1));
        feeds.take_turn(&mut sys, &mut e, FD);
        assert_eq!(sys.yields, 2);
        assert_eq!(masks(&mut e, inst).len(), 2);
    }

    #[test]
    fn random_indices_and_bytes_never_panic_or_stall_the_daemon() {
        // A filesystem writing garbage: every pull ends, the feed is lost or goes on.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..300 {
            let (mut feeds, mut e, _inst, s, mut sys) = rig(4096);
            for _ in 0..8 {
                let words = s.words();
                for _ in 0..(next() % 64) {
                    let at = RING_HEADER_LEN / 8 + (next() % 512) as usize;
                    let v = match next() % 4 {
                        0 => PAD_SEQ,
                        1 => next() % 64,
                        _ => next(),
                    };
                    words[at].store(v, Ordering::Relaxed);
                }
                let head = match next() % 3 {
                    0 => next() % 8192,
                    1 => (next() % 512) * 8,
                    _ => next(),
                };
                set_head(&s, head);
                let chunks = feeds.pull(&mut sys, &mut e, FD);
                assert!(chunks <= FEED_READS_PER_TURN);
                feeds.arm(&mut sys, &mut e);
            }
            assert!(sys.reads <= 16, "at most one loss request per pull");
        }
    }
}
