//! The feed consumer: identifies the filesystem and inode behind a client's fd, finds the
//! feed of each filesystem that holds a watched inode, pulls batches of facts from it,
//! validates them, and hands them to the engine.
//!
//! - The daemon trusts only the filesystems it opened itself: one *anchor* per filesystem
//!   name it serves ([`DEFAULT_FILESYSTEMS`] unless configured), an fd on that filesystem's
//!   root opened in the daemon's own namespace ([`Sys::open_anchor`]).
//! - [`Feeds::identify`] asks each anchor in turn, with one two-fd call
//!   (`[anchor, client fd]`, [`IdentifyCall`]), what the client's fd is: the kernel refuses
//!   the call with `EXDEV` when the client's fd is on another scheme, so an answer can only
//!   come from the anchor's own filesystem, about its own handle. No scheme behind a client's
//!   fd is ever asked anything: a lying or silent scheme is never trusted or waited on.
//! - [`Feeds::fs_for`] opens the feed of an anchor's filesystem at its first watch, with
//!   `dup(anchor, FEED_DUP_NAME)` (only root may; a filesystem without a feed refuses and
//!   add_watch fails with `EOPNOTSUPP`).
//! - [`Feeds::subtree`] makes the subtree call (`SubtreeCall`, for an `IN_SUBTREE` watch)
//!   through the daemon's own feed handle: the filesystem walks the directory and covers
//!   what lies below it (`docs/design.md`, "Subtree watches").
//! - [`Feeds::pull`] reads a feed once per wake-up: a read that leaves room for a largest
//!   record took everything pending (the filesystem posts readiness again at its next record),
//!   so no read is spent on `EAGAIN`; a full read is followed by more, at most
//!   [`FEED_READS_PER_TURN`], after which the feed is listed readable again behind the
//!   requests already waiting ([`Sys::readable_again`]), so a filesystem in flat-out churn gets
//!   a bounded share of the loop and loses nothing. A batch whose first sequence number is past
//!   the expected one means records were lost: that is applied as `Fact::Lost` first, so the
//!   affected instances see `IN_Q_OVERFLOW`. A malformed batch or record is logged and the rest
//!   of that batch dropped, again as `Fact::Lost`: loss is never silent.
//! - With a feed ring (`Sys::map_feed`, mapped when the feed is opened; `ring.rs`), a pull
//!   copies frames out of the shared memory and validates the copy: no read at all. Before
//!   the daemon blocks it arms each ring ([`Feeds::arm`]), so the filesystem posts readiness
//!   only to wake it. A ring whose indices make no sense loses its feed (as if unmounted);
//!   a malformed frame is a loss. Without a ring (the filesystem cannot share memory) the
//!   daemon reads the feed as above.
//! - [`Feeds::push_interest`] writes `Interest` entries so the filesystem records facts only
//!   for watched inodes. The format is described in `docs/protocols.md`.

use hashbrown::HashMap;

use inotify_abi::feed::{Batch, Fact, BATCH_HEADER_LEN, INTEREST_LEN, MAX_RECORD_LEN};
use inotify_abi::proto::{
    IdentifyCall, Identity, SubtreeCall, FEED_DUP_NAME, IDENTITY_LEN, SUBTREE_ANSWER_LEN,
};
use inotify_engine::{Engine, FsId, InterestChange};
use syscall::error::{
    Error, Result, EAGAIN, EBADF, EIO, ENODEV, ENOSPC, ENOTDIR, EOPNOTSUPP, EPIPE, EWOULDBLOCK,
    EXDEV,
};

use crate::sys::Sys;

mod ring;

/// Bytes read from a feed at a time (one or more whole batches), after the first read of a
/// turn.
pub const FEED_BUF_LEN: usize = 64 * 1024;
/// Bytes of the first read of a feed's turn: one page, page-aligned. On Redox the kernel
/// maps every page of a read's buffer into the filesystem for the request, and that is
/// most of a small read's cost: in the guest a 1-byte read of the zero scheme costs 1, a
/// 4 KiB one 1.6 and a 64 KiB one 3.3. A wake-up usually finds a few records, so the
/// first read takes one page (and everything, when what it returns leaves room for a
/// largest record); only a fuller feed is read 64 KiB at a time.
pub const PAGE_LEN: usize = 4096;
/// Most feed reads one pull makes before it lets requests in (512 KiB: more than a feed
/// buffer of the redoxfs patch or `HostFs` holds, 256 KiB, so a pull before a request still
/// takes everything a filesystem recorded before it).
pub const FEED_READS_PER_TURN: usize = 8;
/// Most yields at the start of one turn. With a ring the daemon sees for the price of a load
/// whether a yield let the filesystem record more, and yields again while it did; without
/// one it yields once.
pub const MAX_TURN_YIELDS: u32 = 4;
/// A feed's turns go in cycles of this many: a run of [`TURN_PROBE_RUN`] in each takes the
/// choice its [`TurnPolicy`] does not prefer, to keep measuring it.
pub const TURN_PROBE_CYCLE: u32 = 32;
/// Turns in a row that try the other choice (a run, not one turn: what a yield brings
/// depends on the state it leaves the other threads in, which one turn does not reach).
pub const TURN_PROBE_RUN: u32 = 4;

/// Whether a feed's turn starts by yielding the CPU ([`Sys::yield_cpu`]), learned from the
/// records turns took with and without.
///
/// A filesystem posts readiness from inside the request that recorded a fact, and the
/// program that made the request is runnable again once the answer is written. On one CPU
/// the daemon then often runs first: it takes that one request's facts and answers the
/// blocked reader, and the program's next request wakes it again, so every request costs a
/// wake-up and a reader's round trip (1.25 events per wake-up in the Redox guest). A yield
/// lets a program that is still runnable go on until it blocks; its facts join the feed
/// without new posts (the feed is not empty, or the daemon is not waiting) and one turn and
/// one answer carry them all. But for a lone operation the yield only puts the rest of the
/// program first and the reader later. So the policy keeps, per feed, the mean records per
/// turn with and without a yield (moving averages, weight 1/2 to the newest, so that a probe
/// run is enough to follow a change of workload) and yields when yielding took at least a
/// quarter more. A run of [`TURN_PROBE_RUN`] turns in every [`TURN_PROBE_CYCLE`], the first
/// at the feed's first turns, tries the other choice; the first turn after a change of
/// choice is not counted (it still shows the state the other choice left).
/// docs/performance.md has the figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TurnPolicy {
    /// Mean records per turn that yielded first, times 16.
    with_yield: u32,
    /// Mean records per turn that did not, times 16.
    without_yield: u32,
    /// Position in the probe cycle.
    turn: u32,
    /// The choice of the current probe run.
    probe: bool,
    /// The choice of the last turn.
    last: bool,
    /// The turn under way changed the choice: its records are not counted.
    changed: bool,
}

impl TurnPolicy {
    /// Whether the turn starting now yields first.
    pub fn should_yield(&mut self) -> bool {
        // A quarter more, and a quarter of a record (16 / 4) more, so that equal means
        // (nothing known yet, or a yield that brings nothing) keep the reader first.
        let prefer = self.with_yield * 4 >= self.without_yield * 5 + 16;
        // The first run is at the feed's first turns.
        let at = (self.turn + TURN_PROBE_CYCLE - TURN_PROBE_RUN) % TURN_PROBE_CYCLE;
        self.turn = (self.turn + 1) % TURN_PROBE_CYCLE;
        let run_start = TURN_PROBE_CYCLE - TURN_PROBE_RUN;
        if at == run_start {
            self.probe = !prefer;
        }
        let choice = if at >= run_start { self.probe } else { prefer };
        self.changed = choice != self.last;
        self.last = choice;
        choice
    }

    /// Records that a turn (`yielded` first or not) took `records` records.
    pub fn took(&mut self, yielded: bool, records: u64) {
        if self.changed {
            return;
        }
        let sample = u32::try_from(records).unwrap_or(u32::MAX).min(1 << 20) * 16;
        let mean = if yielded {
            &mut self.with_yield
        } else {
            &mut self.without_yield
        };
        *mean = (*mean + sample) / 2;
    }
}

/// Interest entries written per `write`.
const INTEREST_PER_WRITE: usize = 256;
/// The filesystems the daemon serves unless told otherwise: Redox's root filesystem.
pub const DEFAULT_FILESYSTEMS: &[&str] = &["file"];

/// One open feed.
#[derive(Debug)]
struct Feed {
    /// The filesystem's scheme name.
    name: Vec<u8>,
    /// The daemon's fd on the feed handle; `None` once the filesystem went away.
    fd: Option<usize>,
    /// Sequence number the next record should carry (`None` before the first batch).
    expected_seq: Option<u64>,
    /// Records lost on this feed (gaps, steps back, malformed records, and the
    /// filesystem's own loss records), since it was opened.
    lost: u64,
    /// Whether its turns start with a yield.
    policy: TurnPolicy,
    /// Its last pull stopped at [`FEED_READS_PER_TURN`] with more to read: the next one
    /// starts with a full-size read.
    backlog: bool,
    /// The feed ring, when the filesystem shares one.
    ring: Option<ring::Mapped>,
}

/// One feed as the daemon-wide status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedStatus {
    /// Its filesystem.
    pub fs: FsId,
    /// The filesystem's scheme name.
    pub name: Vec<u8>,
    /// Whether the feed is open (not ended by the filesystem).
    pub open: bool,
    /// Sequence number the next record should carry (`None` before the first batch).
    pub next_seq: Option<u64>,
    /// Records lost on it since it was opened.
    pub lost: u64,
}

/// A filesystem the daemon trusts: its name and the daemon's own fd on it.
#[derive(Debug)]
struct Anchor {
    /// The scheme name.
    name: Vec<u8>,
    /// The anchor fd (`None` until opened, or after the filesystem went away).
    fd: Option<usize>,
    /// Its open feed, once a watch needed it.
    fs: Option<FsId>,
}

/// What a trusted filesystem said about a client's fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identified {
    /// Which anchor answered (for [`Feeds::fs_for`]).
    pub anchor: usize,
    /// The filesystem's answer.
    pub identity: Identity,
}

/// Every feed the daemon has open, by filesystem.
pub struct Feeds {
    /// Feeds indexed by `FsId`.
    feeds: Vec<Feed>,
    /// The filesystems the daemon trusts, in the order they are asked.
    anchors: Vec<Anchor>,
    /// Filesystem by feed fd.
    by_fd: HashMap<usize, FsId>,
    /// Read buffer (allocated on first pull): [`FEED_BUF_LEN`] bytes from the first page
    /// boundary in it, see [`read_region`].
    buf: Vec<u8>,
    /// Scratch list of feed fds for [`Feeds::pull_all`].
    scratch_fds: Vec<usize>,
    /// Pulls from feed rings since start.
    ring_pulls: u64,
}

impl Default for Feeds {
    fn default() -> Self {
        Self::new()
    }
}

impl Feeds {
    /// No feeds; the filesystems of [`DEFAULT_FILESYSTEMS`].
    pub fn new() -> Self {
        Self::with_filesystems(DEFAULT_FILESYSTEMS.iter().map(|n| n.as_bytes()))
    }

    /// No feeds; the filesystems named (scheme names, asked in this order).
    pub fn with_filesystems<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Self {
        Feeds {
            feeds: Vec::new(),
            anchors: names
                .into_iter()
                .map(|name| Anchor {
                    name: name.to_vec(),
                    fd: None,
                    fs: None,
                })
                .collect(),
            by_fd: HashMap::new(),
            buf: Vec::new(),
            scratch_fds: Vec::new(),
            ring_pulls: 0,
        }
    }

    /// What `fd` (a client's, from `sendfd`) is, and whether `uid`/`gid` may read it, as
    /// the one trusted filesystem that holds it says. Asks each anchor with one two-fd call;
    /// `EXDEV` from the kernel means "not this filesystem". `EOPNOTSUPP` when no trusted
    /// filesystem holds `fd`, or the one that does cannot answer.
    pub fn identify(
        &mut self,
        sys: &mut impl Sys,
        fd: usize,
        uid: u32,
        gid: u32,
    ) -> Result<Identified> {
        let meta = IdentifyCall { uid, gid }.emit();
        for i in 0..self.anchors.len() {
            let Some(anchor_fd) = self.anchor_fd(sys, i) else {
                continue;
            };
            let mut answer = [0u8; IDENTITY_LEN];
            match sys.call2(anchor_fd, fd, &mut answer, &meta) {
                Ok(IDENTITY_LEN) => {
                    return match Identity::parse(&answer) {
                        Ok(identity) => Ok(Identified {
                            anchor: i,
                            identity,
                        }),
                        Err(e) => {
                            log::warn!("{}: a malformed identity: {e:?}", self.anchor_name(i));
                            Err(Error::new(EOPNOTSUPP))
                        }
                    };
                }
                Ok(n) => {
                    log::warn!("{}: an identity of {n} bytes", self.anchor_name(i));
                    return Err(Error::new(EOPNOTSUPP));
                }
                Err(e) if e.errno == EXDEV => continue,
                Err(e) => {
                    // The kernel found both fds on this filesystem; it cannot say more.
                    log::debug!("{} does not identify handles: {e}", self.anchor_name(i));
                    return Err(Error::new(EOPNOTSUPP));
                }
            }
        }
        Err(Error::new(EOPNOTSUPP))
    }

    /// The anchor fd of filesystem `i`, opened on first use (`None` when it cannot be).
    fn anchor_fd(&mut self, sys: &mut impl Sys, i: usize) -> Option<usize> {
        let anchor = &mut self.anchors[i];
        if anchor.fd.is_none() {
            match sys.open_anchor(&anchor.name) {
                Ok(fd) => anchor.fd = Some(fd),
                Err(e) => log::debug!(
                    "no anchor on {}: {e}",
                    String::from_utf8_lossy(&anchor.name)
                ),
            }
        }
        anchor.fd
    }

    /// The name of filesystem `i`, for logs.
    fn anchor_name(&self, i: usize) -> String {
        String::from_utf8_lossy(&self.anchors[i].name).into_owned()
    }

    /// The feed of the filesystem that answered `id`. The first time, opens its feed with
    /// `dup(anchor, FEED_DUP_NAME)` on the daemon's own anchor and registers it with
    /// [`Sys::watch_readable`]. Fails with `EOPNOTSUPP` when the filesystem has no feed.
    pub fn fs_for(&mut self, sys: &mut impl Sys, id: &Identified) -> Result<FsId> {
        let anchor = self.anchors.get(id.anchor).ok_or(Error::new(EOPNOTSUPP))?;
        if let Some(fs) = anchor.fs {
            return Ok(fs);
        }
        let anchor_fd = anchor.fd.ok_or(Error::new(EOPNOTSUPP))?;
        let name = anchor.name.clone();
        let feed_fd = sys.dup(anchor_fd, FEED_DUP_NAME).map_err(|e| {
            log::debug!("no feed on {}: {e}", String::from_utf8_lossy(&name));
            Error::new(EOPNOTSUPP)
        })?;
        if let Err(e) = sys.watch_readable(feed_fd) {
            log::warn!(
                "cannot watch the feed of {}: {e}",
                String::from_utf8_lossy(&name)
            );
            let _ = sys.close(feed_fd);
            return Err(Error::new(EOPNOTSUPP));
        }
        let fs = FsId::try_from(self.feeds.len()).map_err(|_| Error::new(EOPNOTSUPP))?;
        log::info!(
            "opened the feed of {} as filesystem {fs}",
            String::from_utf8_lossy(&name)
        );
        let ring = ring::Mapped::map(sys, feed_fd, &name);
        self.feeds.push(Feed {
            name,
            fd: Some(feed_fd),
            expected_seq: None,
            lost: 0,
            policy: TurnPolicy::default(),
            backlog: false,
            ring,
        });
        self.anchors[id.anchor].fs = Some(fs);
        self.by_fd.insert(feed_fd, fs);
        Ok(fs)
    }

    /// The subtree call (`SubtreeCall`) for an `IN_SUBTREE` watch on directory `fd` of
    /// filesystem `fs`, through the daemon's own feed handle (which only root can open, so
    /// no one else can add subtree roots): the number of directories the filesystem found
    /// below it. `ENOSPC` (their records do not fit the feed now) and `ENOTDIR` pass
    /// through; any other refusal is `EOPNOTSUPP` (a filesystem without subtree support).
    pub fn subtree(&mut self, sys: &mut impl Sys, fs: FsId, fd: usize) -> Result<u64> {
        let feed_fd = self
            .feeds
            .get(fs as usize)
            .and_then(|f| f.fd)
            .ok_or(Error::new(EOPNOTSUPP))?;
        let mut answer = [0u8; SUBTREE_ANSWER_LEN];
        match sys.call2(feed_fd, fd, &mut answer, &SubtreeCall.emit()) {
            Ok(SUBTREE_ANSWER_LEN) => Ok(u64::from_ne_bytes(answer)),
            Ok(n) => {
                log::warn!("filesystem {fs}: a subtree answer of {n} bytes");
                Err(Error::new(EOPNOTSUPP))
            }
            Err(e) if e.errno == ENOSPC || e.errno == ENOTDIR => Err(e),
            Err(e) => {
                log::debug!("filesystem {fs} has no subtree call: {e}");
                Err(Error::new(EOPNOTSUPP))
            }
        }
    }

    /// The scheme name of filesystem `fs`, if the daemon opened a feed for it.
    pub fn fs_name(&self, fs: FsId) -> Option<&[u8]> {
        self.feeds.get(fs as usize).map(|f| f.name.as_slice())
    }

    /// Every feed opened since start, by `FsId`.
    pub fn status(&self) -> impl Iterator<Item = FeedStatus> + '_ {
        self.feeds.iter().enumerate().map(|(i, f)| FeedStatus {
            fs: i as FsId,
            name: f.name.clone(),
            open: f.fd.is_some(),
            next_seq: f.expected_seq,
            lost: f.lost,
        })
    }

    /// Whether `fd` is one of the feed fds.
    pub fn is_feed(&self, fd: usize) -> bool {
        self.by_fd.contains_key(&fd)
    }

    /// Feed `fd`'s turn at its readiness: yields the CPU first if its [`TurnPolicy`] says
    /// so, then [`pull`](Self::pull)s, and tells the policy how many records the turn took.
    pub fn take_turn(&mut self, sys: &mut impl Sys, engine: &mut Engine, fd: usize) {
        let Some(&fs) = self.by_fd.get(&fd) else {
            log::warn!("readiness on fd {fd}, which is not a feed");
            return;
        };
        let feed = &mut self.feeds[fs as usize];
        let yielded = feed.policy.should_yield();
        if yielded {
            // With a ring, whether the yield let the filesystem record more costs a load:
            // yield again while it does.
            let mut head = self.ring_head(fs);
            for _ in 0..MAX_TURN_YIELDS {
                sys.yield_cpu();
                let now = self.ring_head(fs);
                if now.is_none() || now == head {
                    break;
                }
                head = now;
            }
        }
        let before = self.feeds[fs as usize].expected_seq;
        self.pull(sys, engine, fd);
        let feed = &mut self.feeds[fs as usize];
        let records = match (before, feed.expected_seq) {
            (Some(b), Some(a)) => a.saturating_sub(b),
            (None, Some(_)) => 1,
            _ => 0,
        };
        feed.policy.took(yielded, records);
    }

    /// Reads what feed `fd` holds and applies its facts to `engine`: reads until one leaves
    /// room for a largest record (the filesystem handed over everything it had, and posts
    /// readiness at its next record), at most [`FEED_READS_PER_TURN`] reads; after that many
    /// full ones the feed is listed readable again ([`Sys::readable_again`]) and the rest is
    /// read at a later turn. Returns the number of reads made. Malformed batches or records
    /// are logged and dropped; a sequence gap is applied as `Fact::Lost`.
    pub fn pull(&mut self, sys: &mut impl Sys, engine: &mut Engine, fd: usize) -> usize {
        let Some(&fs) = self.by_fd.get(&fd) else {
            log::warn!("readiness on fd {fd}, which is not a feed");
            return 0;
        };
        if self.buf.len() < FEED_BUF_LEN + PAGE_LEN {
            self.buf.resize(FEED_BUF_LEN + PAGE_LEN, 0);
        }
        if self.feeds[fs as usize].ring.is_some() {
            return self.pull_ring(sys, engine, fs, fd);
        }
        let backlog = std::mem::take(&mut self.feeds[fs as usize].backlog);
        for reads in 1..=FEED_READS_PER_TURN {
            let len = if reads == 1 && !backlog {
                PAGE_LEN
            } else {
                FEED_BUF_LEN
            };
            let buf = read_region(&mut self.buf, len);
            let n = match sys.read(fd, buf) {
                Ok(0) => {
                    self.lose(sys, engine, fs, "end of file");
                    return reads;
                }
                Ok(n) => n.min(len),
                Err(e) if e.errno == EAGAIN || e.errno == EWOULDBLOCK => return reads,
                Err(e) if filesystem_gone(e.errno) => {
                    self.lose(sys, engine, fs, &e.to_string());
                    return reads;
                }
                Err(e) => {
                    log::warn!("reading feed {fs}: {e}");
                    return reads;
                }
            };
            let feed = &mut self.feeds[fs as usize];
            apply_batches(feed, engine, fs, &read_region(&mut self.buf, n)[..n]);
            if took_everything(n, len) {
                return reads;
            }
        }
        self.feeds[fs as usize].backlog = true;
        sys.readable_again(fd);
        FEED_READS_PER_TURN
    }

    /// Pulls every feed (see [`pull`](Self::pull)). Called before a request that observes a
    /// queue, so facts a filesystem recorded before answering an operation are events by the
    /// time the same program reads: on Redox the feed's readiness and the program's next
    /// request can reach the daemon in either order. Each feed is read until it is empty, up
    /// to [`FEED_READS_PER_TURN`] reads, more than a feed buffer holds.
    pub fn pull_all(&mut self, sys: &mut impl Sys, engine: &mut Engine) {
        let mut fds = core::mem::take(&mut self.scratch_fds);
        fds.extend(self.feeds.iter().filter_map(|f| f.fd));
        for &fd in &fds {
            self.sync_ring(sys, fd);
            self.pull(sys, engine, fd);
        }
        fds.clear();
        self.scratch_fds = fds;
    }

    /// The feed of `fs` ended (the filesystem went away): every watch on it ends as on an
    /// unmount (`IN_UNMOUNT`, `IN_IGNORED`), and a filesystem that comes back under the same
    /// name gets a new feed and a new `FsId`.
    fn lose(&mut self, sys: &mut impl Sys, engine: &mut Engine, fs: FsId, why: &str) {
        let feed = &mut self.feeds[fs as usize];
        let Some(fd) = feed.fd.take() else { return };
        feed.ring = None;
        log::warn!(
            "the feed of {} ended ({why}): treating it as unmounted",
            String::from_utf8_lossy(&feed.name)
        );
        self.by_fd.remove(&fd);
        let _ = sys.close(fd);
        // The anchor is on the filesystem that went away: open it again at the next watch
        // (a filesystem registered again under the name; on Redox, where anchors are only
        // opened at start, that filesystem stays unwatched until inotifyd restarts).
        if let Some(anchor) = self.anchors.iter_mut().find(|a| a.fs == Some(fs)) {
            anchor.fs = None;
            if let Some(afd) = anchor.fd.take() {
                let _ = sys.close(afd);
            }
        }
        engine.apply(fs, &Fact::Unmounted);
    }

    /// Writes interest changes to the feeds they belong to.
    pub fn push_interest(&mut self, sys: &mut impl Sys, changes: &[InterestChange]) {
        let mut out = Vec::with_capacity(INTEREST_PER_WRITE * INTEREST_LEN);
        let mut at = 0;
        while at < changes.len() {
            // A run of changes for one filesystem, at most INTEREST_PER_WRITE long.
            let fs = changes[at].fs;
            let run = changes[at..]
                .iter()
                .take(INTEREST_PER_WRITE)
                .take_while(|c| c.fs == fs)
                .count();
            debug_assert!(run > 0);
            out.clear();
            for c in &changes[at..at + run] {
                let mut entry = [0u8; INTEREST_LEN];
                if c.change.emit(&mut entry).is_ok() {
                    out.extend_from_slice(&entry);
                }
            }
            at += run;
            let Some(feed) = self.feeds.get(fs as usize) else {
                log::warn!("interest for unknown filesystem {fs}");
                continue;
            };
            // A filesystem that went away needs no more interest (its watches are ending).
            let Some(fd) = feed.fd else { continue };
            match sys.write(fd, &out) {
                Ok(n) if n == out.len() => {}
                Ok(n) => log::warn!("short interest write to feed {fs}: {n} of {}", out.len()),
                Err(e) => log::warn!("writing interest to feed {fs}: {e}"),
            }
        }
    }
}

/// The `len` bytes of `buf` that reads go to, from its first page boundary (`buf` has
/// [`PAGE_LEN`] bytes more than the longest read).
fn read_region(buf: &mut [u8], len: usize) -> &mut [u8] {
    let start = buf.as_ptr().align_offset(PAGE_LEN).min(PAGE_LEN);
    &mut buf[start..start + len]
}

/// The sequence check of `count` records numbered from `first_seq` (see [`apply_batch`]):
/// a gap or a step back is applied as `Fact::Lost`, and the numbering is taken as it is.
fn check_seq(feed: &mut Feed, engine: &mut Engine, fs: FsId, first_seq: u64, count: u64) {
    if let Some(expected) = feed.expected_seq {
        if first_seq > expected {
            let lost = first_seq - expected;
            log::warn!("feed {fs}: {lost} records lost before sequence {first_seq}");
            feed.lost = feed.lost.saturating_add(lost);
            engine.apply(fs, &Fact::Lost { count: lost });
        } else if first_seq < expected {
            log::warn!(
                "feed {fs}: sequence went back from {expected} to {first_seq}; resynchronised"
            );
            feed.lost = feed.lost.saturating_add(1);
            engine.apply(fs, &Fact::Lost { count: 1 });
        }
    }
    feed.expected_seq = Some(first_seq.saturating_add(count));
}

/// Applies one valid fact (a `Lost` one also counts on the feed).
fn apply_fact(feed: &mut Feed, engine: &mut Engine, fs: FsId, fact: &Fact<'_>) {
    if let Fact::Lost { count } = *fact {
        feed.lost = feed.lost.saturating_add(count);
    }
    engine.apply(fs, fact)
}

/// Whether a feed read of `n` bytes into `cap` took everything the feed held: a producer
/// fills a batch with whole records while they fit, so room left for a largest record means
/// none was left behind (`docs/protocols.md`, "Reading a feed").
fn took_everything(n: usize, cap: usize) -> bool {
    n + MAX_RECORD_LEN <= cap
}

/// Whether a read error means the filesystem behind a feed is gone.
fn filesystem_gone(errno: i32) -> bool {
    matches!(errno, EIO | EBADF | EPIPE | ENODEV)
}

/// Applies every batch in `bytes` (one read's worth) to `engine`.
fn apply_batches(feed: &mut Feed, engine: &mut Engine, fs: FsId, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let batch = match Batch::new_checked(bytes) {
            Ok(b) => b,
            Err(e) => {
                log::warn!(
                    "feed {fs}: dropping a malformed batch of {} bytes: {e:?}",
                    bytes.len()
                );
                engine.apply(fs, &Fact::Lost { count: 1 });
                return;
            }
        };
        let header = batch.header();
        debug_assert!(header.total_len as usize >= BATCH_HEADER_LEN);
        bytes = &bytes[header.total_len as usize..];
        apply_batch(feed, engine, fs, &batch);
    }
}

/// Applies one checked batch: the sequence check, then each fact until the first bad one.
///
/// An honest filesystem numbers its records consecutively, so any other `first_seq` is a
/// discontinuity: records lost on the way (a gap), or a filesystem that restarted its count
/// or lies about it. Either way the batch's own numbering becomes the expected one from here
/// on, and the discontinuity is applied as `Fact::Lost` before the batch's facts (a gap counts
/// its size; going back counts one, since nothing is known to be missing). The facts of a
/// batch are never skipped: one bad number cannot make the feed's later records look like
/// repeats, so every later fact is delivered or counted as lost.
fn apply_batch(feed: &mut Feed, engine: &mut Engine, fs: FsId, batch: &Batch<'_>) {
    let header = batch.header();
    let count = u64::from(header.count);
    check_seq(feed, engine, fs, header.first_seq, count);
    for (i, fact) in batch.facts().enumerate() {
        match fact {
            Ok(fact) => apply_fact(feed, engine, fs, &fact),
            Err(e) => {
                let lost = count - i as u64;
                log::warn!(
                    "feed {fs}: malformed record {} ({e:?}); dropping the {lost} left in the batch",
                    header.first_seq + i as u64
                );
                feed.lost = feed.lost.saturating_add(lost);
                engine.apply(fs, &Fact::Lost { count: lost });
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes interest changes as one feed write.
    fn encode_interest(changes: &[Interest]) -> Vec<u8> {
        let mut out = vec![0u8; changes.len() * INTEREST_LEN];
        for (c, chunk) in changes.iter().zip(out.chunks_exact_mut(INTEREST_LEN)) {
            let _ = c.emit(chunk);
        }
        out
    }

    use inotify_abi::consts::{IN_CREATE, IN_Q_OVERFLOW};
    use inotify_abi::event::Events;
    use inotify_abi::feed::{BatchHeader, Interest, MAX_RECORD_LEN};
    use inotify_engine::{InodeKey, InstanceId, Limits, Target};

    /// Directory inode watched in these tests.
    pub(crate) const DIR: u64 = 2;

    /// An engine with one instance watching directory [`DIR`] of filesystem 0 for
    /// `IN_CREATE` (wd 1).
    pub(crate) fn watched() -> (Engine, InstanceId) {
        let mut e = Engine::new(Limits::default());
        let inst = e.create_instance(0).unwrap();
        let target = Target {
            key: InodeKey { fs: 0, ino: DIR },
            is_dir: true,
        };
        assert_eq!(e.add_watch(inst, target, IN_CREATE), Ok(1));
        (e, inst)
    }

    fn batch(first_seq: u64, names: &[&[u8]]) -> Vec<u8> {
        let mut buf = vec![0u8; BATCH_HEADER_LEN + names.len() * MAX_RECORD_LEN];
        let mut at = BATCH_HEADER_LEN;
        for (i, name) in names.iter().enumerate() {
            let fact = Fact::Created {
                dir: DIR,
                name,
                ino: 100 + i as u64,
                is_dir: false,
            };
            at += fact.emit(&mut buf[at..]).unwrap();
        }
        let header = BatchHeader {
            first_seq,
            count: names.len() as u32,
            total_len: at as u32,
        };
        header.emit(&mut buf).unwrap();
        buf.truncate(at);
        buf
    }

    /// The events queued on `inst`, as (mask, name).
    pub(crate) fn events(e: &mut Engine, inst: InstanceId) -> Vec<(u32, Vec<u8>)> {
        let mut buf = [0u8; 4096];
        let n = e.read(inst, &mut buf).unwrap_or(0);
        Events::new(&buf[..n])
            .map(|ev| (ev.mask, ev.name.to_vec()))
            .collect()
    }

    fn feed() -> Feed {
        Feed {
            name: b"file".to_vec(),
            fd: Some(9),
            expected_seq: None,
            lost: 0,
            policy: TurnPolicy::default(),
            backlog: false,
            ring: None,
        }
    }

    fn created(name: &[u8]) -> (u32, Vec<u8>) {
        (IN_CREATE, name.to_vec())
    }

    fn overflow() -> (u32, Vec<u8>) {
        (IN_Q_OVERFLOW, Vec::new())
    }

    #[test]
    fn every_kind_of_feed_loss_is_counted_on_the_feed_and_in_the_loss_report() {
        let (mut e, inst) = watched();
        let mut f = feed();
        apply_batches(&mut f, &mut e, 0, &batch(1, &[b"a"]));
        // A gap of 3, a step back (1), a malformed record dropping the 2 left in its batch.
        apply_batches(&mut f, &mut e, 0, &batch(5, &[b"b"]));
        apply_batches(&mut f, &mut e, 0, &batch(3, &[b"c"]));
        let mut bad = batch(4, &[b"d", b"e"]);
        bad[BATCH_HEADER_LEN] = 99;
        apply_batches(&mut f, &mut e, 0, &bad);
        assert_eq!(f.lost, 6);
        let r = e.take_loss_report(inst).unwrap();
        assert_eq!((r.dropped, r.feed_lost, r.wds()), (0, 6, &[1][..]));
    }

    #[test]
    fn batches_in_one_read_are_all_applied() {
        let (mut e, inst) = watched();
        let mut f = feed();
        let mut bytes = batch(5, &[b"a", b"b"]);
        bytes.extend(batch(7, &[b"c"]));
        apply_batches(&mut f, &mut e, 0, &bytes);
        assert_eq!(
            events(&mut e, inst),
            [created(b"a"), created(b"b"), created(b"c")]
        );
        assert_eq!(f.expected_seq, Some(8));
    }

    #[test]
    fn a_gap_is_applied_as_loss_first() {
        let (mut e, inst) = watched();
        let mut f = feed();
        apply_batches(&mut f, &mut e, 0, &batch(1, &[b"a"]));
        apply_batches(&mut f, &mut e, 0, &batch(4, &[b"b"]));
        assert_eq!(
            events(&mut e, inst),
            [created(b"a"), overflow(), created(b"b")]
        );
    }

    #[test]
    fn a_batch_that_goes_back_is_applied_after_a_loss_and_resynchronises() {
        let (mut e, inst) = watched();
        let mut f = feed();
        apply_batches(&mut f, &mut e, 0, &batch(1, &[b"a", b"b"]));
        apply_batches(&mut f, &mut e, 0, &batch(2, &[b"b2", b"c"]));
        apply_batches(&mut f, &mut e, 0, &batch(4, &[b"d"]));
        assert_eq!(
            events(&mut e, inst),
            [
                created(b"a"),
                created(b"b"),
                overflow(),
                created(b"b2"),
                created(b"c"),
                created(b"d")
            ]
        );
        assert_eq!(f.expected_seq, Some(5));
    }

    #[test]
    fn one_forged_sequence_number_does_not_silence_the_honest_records_after_it() {
        let (mut e, inst) = watched();
        let mut f = feed();
        apply_batches(&mut f, &mut e, 0, &batch(0, &[b"first"]));
        apply_batches(&mut f, &mut e, 0, &batch(1 << 62, &[b"forged"]));
        assert_eq!(
            events(&mut e, inst),
            [created(b"first"), overflow(), created(b"forged")]
        );
        let names: Vec<Vec<u8>> = (0..100).map(|i| format!("n{i}").into_bytes()).collect();
        for (i, name) in names.iter().enumerate() {
            apply_batches(&mut f, &mut e, 0, &batch(1 + i as u64, &[name]));
        }
        let mut want = vec![overflow()];
        want.extend(names.iter().map(|name| created(name)));
        assert_eq!(events(&mut e, inst), want, "every honest fact is delivered");
        assert_eq!(f.expected_seq, Some(101));
    }

    #[test]
    fn a_truncated_batch_after_a_good_one_is_loss() {
        let (mut e, inst) = watched();
        let mut f = feed();
        let mut bytes = batch(1, &[b"a"]);
        let second = batch(2, &[b"b"]);
        bytes.extend_from_slice(&second[..second.len() - 1]);
        apply_batches(&mut f, &mut e, 0, &bytes);
        assert_eq!(events(&mut e, inst), [created(b"a"), overflow()]);
    }

    #[test]
    fn interest_encoding() {
        let bytes = encode_interest(&[Interest::Add(5), Interest::Remove(6)]);
        let parsed: Vec<_> = Interest::parse_all(&bytes).map(Result::unwrap).collect();
        assert_eq!(parsed, [Interest::Add(5), Interest::Remove(6)]);
    }
}
