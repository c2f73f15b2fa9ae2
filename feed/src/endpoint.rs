//! The feed endpoint: what a filesystem's scheme does with the daemon's feed and identity
//! requests, the same in every filesystem (redoxfs patch, `HostFs`, `FakeFs`).
//!
//! - [`FeedHandles`]: the feed handles (`dup(fd, FEED_DUP_NAME)`, root only), the readiness
//!   edge to post on them, what the last close does, and the numbers that tell apart the
//!   removals that detach handles from their names (name following, `docs/protocols.md`).
//! - [`FeedEndpoint`]: those handles plus the [`Producer`] behind them: `read`, `write`,
//!   `fevent` and facts.
//! - [`HeldName`] and [`NameUse`]: name following, the name a handle holds and which facts
//!   through it are reported, and with which subject.
//! - [`last_name`]: the name a path opens, as a lookup that skips `.` components sees it.
//! - [`RemovedDirs`]: removed directories that open handles still hold, and when each one's
//!   `Freed` is due ([`crate::names`] runs these rules over a handle table).
//! - [`identify_request`] / [`answer_identity`]: the two halves of the identity call
//!   (`inotify_abi::proto::IdentifyCall`), which the filesystem answers from its own inode
//!   and permission data.
//!
//! Errors are [`FeedError`]s; [`FeedError::errno`] gives the errno to answer with.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use inotify_abi::feed::{Fact, Interest, Subject, INTEREST_LEN};
use inotify_abi::proto::{IdentifyCall, Identity, SubtreeCall, FEED_DUP_NAME, SUBTREE_ANSWER_LEN};

use crate::{Producer, RingBox};

/// Why a feed or identity request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedError {
    /// Nothing to read (`EAGAIN`).
    Empty,
    /// Malformed input, a buffer too small, or a name that is not the feed's (`EINVAL`).
    Invalid,
    /// The caller is not root (`EACCES`).
    NotRoot,
    /// A call this endpoint does not know (`EOPNOTSUPP`): the filesystem may have others.
    Unsupported,
    /// A subtree walk's records do not fit the feed's free space (`ENOSPC`).
    NoSpace,
    /// A subtree call on a non-directory (`ENOTDIR`).
    NotDir,
    /// No memory for the feed ring (`ENOMEM`).
    NoMemory,
}

impl FeedError {
    /// The errno to answer with (Redox's numbers, which are Linux's for these).
    pub fn errno(self) -> i32 {
        match self {
            FeedError::Empty => 11,
            FeedError::Invalid => 22,
            FeedError::NotRoot => 13,
            FeedError::Unsupported => 95,
            FeedError::NoSpace => 28,
            FeedError::NotDir => 20,
            FeedError::NoMemory => 12,
        }
    }
}

/// Whether `dup(_, name)` by `uid` may open a feed handle: `Invalid` for another name,
/// `NotRoot` for any uid but 0. The filesystem checks the handle being dup'ed itself.
pub fn check_feed_dup(name: &[u8], uid: u32) -> Result<(), FeedError> {
    if name != FEED_DUP_NAME {
        return Err(FeedError::Invalid);
    }
    if uid != 0 {
        return Err(FeedError::NotRoot);
    }
    Ok(())
}

/// The first half of the identity call, from `call_multiple_ids(ids, payload, metadata)`:
/// the handle to identify (`ids[1]`, on this filesystem: the kernel checked that both fds
/// are) and whose permission to report. `Unsupported` when the metadata is not an identity
/// call (the filesystem may serve other two-fd calls), `Invalid` without exactly two ids.
pub fn identify_request(
    ids: &[usize],
    metadata: &[u64],
) -> Result<(usize, IdentifyCall), FeedError> {
    let call = IdentifyCall::parse(metadata).map_err(|_| FeedError::Unsupported)?;
    match ids {
        [_, handle] => Ok((*handle, call)),
        _ => Err(FeedError::Invalid),
    }
}

/// The subtree call's request (`inotify_abi::proto::SubtreeCall`): the directory handle
/// (`ids[1]`). `Unsupported` when the metadata is not a subtree call, `Invalid` without
/// exactly two ids or with a payload too short for the answer.
pub fn subtree_request(
    ids: &[usize],
    payload: &[u8],
    metadata: &[u64],
) -> Result<usize, FeedError> {
    SubtreeCall::parse(metadata).map_err(|_| FeedError::Unsupported)?;
    match ids {
        [_, handle] if payload.len() >= SUBTREE_ANSWER_LEN => Ok(*handle),
        _ => Err(FeedError::Invalid),
    }
}

/// The second half: writes `identity` into the call's payload; returns the bytes written
/// (`Invalid` when the payload is too short).
pub fn answer_identity(identity: &Identity, payload: &mut [u8]) -> Result<usize, FeedError> {
    identity.emit(payload).map_err(|_| FeedError::Invalid)
}

/// How a fact reported through a handle uses the name the handle holds. The rule is Linux's:
/// opens, reads, writes and closes are reported with the open file's path (so they are
/// `detached` once that name is removed, and `IN_EXCL_UNLINK` skips them), truncation and
/// attribute changes as changes of the dentry (never detached); handles that report no
/// opens or closes (`O_PATH`/`O_STAT` opens, the handles of mkdir and symlink) still report
/// attribute changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameUse {
    /// Open, read, write, close.
    Data,
    /// Truncation (`ftruncate`, `O_TRUNC`).
    Truncate,
    /// Attribute or time change.
    Meta,
}

/// The name a handle holds: the directory and name it was opened through (following later
/// renames), and which removal took it away (0 while it exists; see
/// [`FeedHandles::next_detach`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldName<'a> {
    /// Parent directory inode (0 when unknown, e.g. the root).
    pub dir: u64,
    /// The name in `dir` (empty when unknown).
    pub name: &'a [u8],
    /// The removal that detached the handle; 0 while attached.
    pub detach: u64,
}

impl<'a> HeldName<'a> {
    /// The subject of a fact about inode `ino` through this handle, for `what`; `None` when
    /// a `silent` handle does not report it.
    pub fn subject(
        &self,
        ino: u64,
        is_dir: bool,
        silent: bool,
        what: NameUse,
    ) -> Option<Subject<'a>> {
        if silent && what != NameUse::Meta {
            return None;
        }
        Some(Subject {
            ino,
            is_dir,
            dir: self.dir,
            name: self.name,
            detached: what == NameUse::Data && self.detach != 0,
        })
    }

    /// Whether this is the existing name `name` in `dir` (not removed).
    pub fn holds(&self, dir: u64, name: &[u8]) -> bool {
        self.detach == 0 && self.dir == dir && self.name == name
    }
}

/// The name a path opens in its parent directory, for a filesystem whose lookup skips empty
/// and `.` components (redoxfs): the last component that is neither, so `d/f/.` and `d/f/`
/// name `f`. Empty when there is none (the root).
pub fn last_name(path: &str) -> &str {
    path.rsplit('/')
        .find(|part| !part.is_empty() && *part != ".")
        .unwrap_or("")
}

/// A removed directory that open handles may still hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemovedDir {
    /// Its inode.
    pub ino: u64,
    /// The directory it was removed from.
    pub parent: u64,
    /// The number its own handles were detached with at the removal (0: none held it).
    pub detach: u64,
}

/// Removed directories whose `Freed` waits for handles, as Linux keeps a removed directory's
/// dentry (and sends its `IN_DELETE_SELF`) while anything holds it: its own open handles, a
/// name removed from it that an open handle still holds (a dentry holds its parent), or a
/// removed directory in it that is itself held. Released innermost first, as Linux releases
/// a dentry and then its parent.
///
/// The filesystem answers "held" with a closure `held(detach, dir)`: whether an open handle
/// holds a removed name that was detached as `detach` or that was in directory `dir` (a
/// handle whose name exists holds nothing here, so `detach` 0 matches no handle). Only held directories are kept, so the list is empty unless a removal is pinned.
#[derive(Debug, Default)]
pub struct RemovedDirs {
    /// The held ones, in removal order.
    dirs: Vec<RemovedDir>,
}

impl RemovedDirs {
    /// None held.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no removed directory is held.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// Whether `ino` is a removed directory still held.
    pub fn contains(&self, ino: u64) -> bool {
        self.dirs.iter().any(|d| d.ino == ino)
    }

    /// `dir` was removed with no links left: returns whether it is freed now (nothing holds
    /// it); otherwise it is kept until [`RemovedDirs::next_released`] returns it.
    pub fn removed(&mut self, dir: RemovedDir, held: impl Fn(u64, u64) -> bool) -> bool {
        if self.is_held(&dir, &held) {
            self.dirs.push(dir);
            return false;
        }
        true
    }

    /// After a handle holding a removed name closed: the next directory nothing holds any
    /// more, forgotten and returned (call until `None`; inner ones come first).
    pub fn next_released(&mut self, held: impl Fn(u64, u64) -> bool) -> Option<u64> {
        let pos = self.dirs.iter().position(|d| !self.is_held(d, &held))?;
        Some(self.dirs.remove(pos).ino)
    }

    /// Forgets `ino` (a filesystem that reuses inode numbers gives it to a new node: the
    /// removed directory must end first). Returns whether it was held.
    pub fn forget(&mut self, ino: u64) -> bool {
        let before = self.dirs.len();
        self.dirs.retain(|d| d.ino != ino);
        self.dirs.len() != before
    }

    /// Whether `dir` is held by a handle or by a held removed directory in it.
    fn is_held(&self, dir: &RemovedDir, held: &impl Fn(u64, u64) -> bool) -> bool {
        held(dir.detach, dir.ino) || self.dirs.iter().any(|d| d.parent == dir.ino)
    }
}

/// A directory a filesystem's walk found below a subtree root: (parent inode, name, inode).
pub type FoundDir = (u64, String, u64);

/// Every directory below the directory at path `comps` (inode `ino`), parent before child
/// (a directory's subdirectories listed together, in reverse name order, when the walk
/// reaches it; the walk goes depth first): what the subtree call and the walk after a
/// move-in report. `subdirs(path)` lists the directories directly in the directory at `path` (name
/// and inode; empty when it cannot be listed), not following symlinks.
pub fn walk_dirs(
    comps: &[String],
    ino: u64,
    mut subdirs: impl FnMut(&[String]) -> Vec<(String, u64)>,
) -> Vec<FoundDir> {
    let mut out = Vec::new();
    let mut stack = alloc::vec![(comps.to_vec(), ino)];
    while let Some((dir_comps, dir_ino)) = stack.pop() {
        let mut found = subdirs(&dir_comps);
        found.sort();
        for (name, sub) in found.into_iter().rev() {
            out.push((dir_ino, name.clone(), sub));
            let mut c = dir_comps.clone();
            c.push(name);
            stack.push((c, sub));
        }
    }
    out
}

/// The feed handles of one filesystem and the readiness edge to post on them.
#[derive(Debug, Default)]
pub struct FeedHandles {
    /// Open feed handle ids.
    ids: BTreeSet<usize>,
    /// Facts became readable since the last post.
    post_due: bool,
    /// The last removal number handed out by [`FeedHandles::next_detach`].
    last_detach: u64,
}

impl FeedHandles {
    /// No handles.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers feed handle `id` (after [`check_feed_dup`] allowed it).
    pub fn open(&mut self, id: usize) {
        self.ids.insert(id);
    }

    /// Whether `id` is a feed handle.
    pub fn contains(&self, id: usize) -> bool {
        self.ids.contains(&id)
    }

    /// Forgets feed handle `id`. Returns `None` when it was not one, `Some(true)` when it was
    /// the last (the daemon that described the interest set is gone).
    pub fn close(&mut self, id: usize) -> Option<bool> {
        if !self.ids.remove(&id) {
            return None;
        }
        let last = self.ids.is_empty();
        if last {
            self.post_due = false;
        }
        Some(last)
    }

    /// The open feed handle ids, ascending.
    pub fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.ids.iter().copied()
    }

    /// Number of open feed handles.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no feed handle is open.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Notes that the feed went from empty to readable: a post is due on every handle.
    pub fn readable_edge(&mut self) {
        if !self.ids.is_empty() {
            self.post_due = true;
        }
    }

    /// Whether a readiness post is due.
    pub fn post_due(&self) -> bool {
        self.post_due
    }

    /// Calls `post(id)` for every handle when a post is due, then clears it. Stops at the
    /// first error and leaves the post due, to be tried again (no new edge would come while
    /// the feed stays readable).
    pub fn post<E>(&mut self, mut post: impl FnMut(usize) -> Result<(), E>) -> Result<(), E> {
        if !self.post_due {
            return Ok(());
        }
        for &id in &self.ids {
            post(id)?;
        }
        self.post_due = false;
        Ok(())
    }

    /// A new number for the handles one removal detaches from their name (never 0; 0 means
    /// "attached"). Handles that share one number held one removed name.
    pub fn next_detach(&mut self) -> u64 {
        self.last_detach += 1;
        self.last_detach
    }
}

/// Where a [`FeedEndpoint`] keeps its producer: owned, or shared with something that reads
/// its counters (`HostFs` behind a mutex).
pub trait ProducerCell {
    /// Runs `f` on the producer.
    fn with<R>(&mut self, f: impl FnOnce(&mut Producer) -> R) -> R;
}

impl ProducerCell for Producer {
    #[inline]
    fn with<R>(&mut self, f: impl FnOnce(&mut Producer) -> R) -> R {
        f(self)
    }
}

/// A filesystem's feed: handles and producer.
#[derive(Debug)]
pub struct FeedEndpoint<P: ProducerCell = Producer> {
    /// The feed handles.
    handles: FeedHandles,
    /// The facts.
    producer: P,
}

impl<P: ProducerCell> FeedEndpoint<P> {
    /// An endpoint over `producer`, with no handles.
    pub fn new(producer: P) -> Self {
        FeedEndpoint {
            handles: FeedHandles::new(),
            producer,
        }
    }

    /// The handles.
    pub fn handles(&self) -> &FeedHandles {
        &self.handles
    }

    /// The handles, mutably (to open one, post, or number a removal).
    pub fn handles_mut(&mut self) -> &mut FeedHandles {
        &mut self.handles
    }

    /// The producer.
    pub fn producer(&self) -> &P {
        &self.producer
    }

    /// The producer, mutably.
    pub fn producer_mut(&mut self) -> &mut P {
        &mut self.producer
    }

    /// Whether `id` is a feed handle.
    #[inline]
    pub fn is_feed(&self, id: usize) -> bool {
        self.handles.contains(id)
    }

    /// Whether node `ino` is watched.
    #[inline]
    pub fn is_watched(&mut self, ino: u64) -> bool {
        self.producer.with(|p| p.is_watched(ino))
    }

    /// Records `fact` if it is relevant; returns whether the feed just became readable (a
    /// post is then due, see [`FeedHandles::post`]).
    #[inline]
    pub fn record(&mut self, fact: &Fact<'_>) -> bool {
        let edge = self.producer.with(|p| p.record(fact));
        if edge {
            self.handles.readable_edge();
        }
        edge
    }

    /// The subtree call on directory `root`, whose walk found `found` (`Exists` facts, parent
    /// before child): see `Producer::add_subtree`. Writes the number of directories into
    /// `payload` and returns the answer's length; `NoSpace` when the records do not fit.
    pub fn add_subtree(
        &mut self,
        root: u64,
        found: &[Fact<'_>],
        payload: &mut [u8],
    ) -> Result<usize, FeedError> {
        let out = payload
            .get_mut(..SUBTREE_ANSWER_LEN)
            .ok_or(FeedError::Invalid)?;
        let edge = self
            .producer
            .with(|p| p.add_subtree(root, found))
            .map_err(|e| match e {
                inotify_abi::WireError::NoSpace => FeedError::NoSpace,
                _ => FeedError::Invalid,
            })?;
        if edge {
            self.handles.readable_edge();
        }
        out.copy_from_slice(&(found.len() as u64).to_ne_bytes());
        Ok(SUBTREE_ANSWER_LEN)
    }

    /// See `Producer::take_walk`.
    pub fn take_walk(&mut self) -> Option<u64> {
        self.producer.with(|p| p.take_walk())
    }

    /// [`add_subtree`](Self::add_subtree) with the directories a walk found.
    pub fn add_subtree_walk(
        &mut self,
        root: u64,
        found: &[FoundDir],
        payload: &mut [u8],
    ) -> Result<usize, FeedError> {
        let facts: Vec<Fact<'_>> = found
            .iter()
            .map(|(dir, name, ino)| Fact::Exists {
                dir: *dir,
                name: name.as_bytes(),
                ino: *ino,
            })
            .collect();
        self.add_subtree(root, &facts, payload)
    }

    /// The walk of a directory moved into a covered one: [`record_exists`](Self::record_exists)
    /// for each directory found, parent before child; returns whether a post is due.
    pub fn record_walk(&mut self, found: &[FoundDir]) -> bool {
        let mut due = false;
        for (dir, name, ino) in found {
            due |= self.record_exists(*dir, name.as_bytes(), *ino);
        }
        due
    }

    /// See `Producer::record_exists`; returns whether a post is due.
    pub fn record_exists(&mut self, dir: u64, name: &[u8], ino: u64) -> bool {
        let edge = self.producer.with(|p| p.record_exists(dir, name, ino));
        if edge {
            self.handles.readable_edge();
        }
        edge
    }

    /// `read` of a feed handle: one batch; `Empty` when nothing is queued, `Invalid` when
    /// `buf` cannot hold the oldest record. Never blocks.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, FeedError> {
        match self.producer.with(|p| p.read_batch(buf)) {
            Ok(0) => Err(FeedError::Empty),
            Ok(n) => Ok(n),
            Err(_) => Err(FeedError::Invalid),
        }
    }

    /// `mmap` of a feed handle (the scheme's `mmap_prep`) at `offset` for `len` bytes:
    /// returns the address of the feed ring's memory, which `alloc(len)` gives the first
    /// time (see `Producer::map_ring`). `Invalid` for an offset other than 0 or a length
    /// other than a header page plus an allowed capacity (the same for every map),
    /// `NoMemory` when `alloc` has none.
    pub fn map(
        &mut self,
        offset: u64,
        len: usize,
        alloc: impl FnOnce(usize) -> Option<RingBox>,
    ) -> Result<usize, FeedError> {
        if offset != 0 {
            return Err(FeedError::Invalid);
        }
        self.producer
            .with(|p| p.map_ring(len, alloc))
            .map_err(|e| match e {
                inotify_abi::WireError::NoSpace => FeedError::NoMemory,
                _ => FeedError::Invalid,
            })
    }

    /// `write` of a feed handle: interest entries, checked whole before any is applied.
    pub fn write(&mut self, buf: &[u8]) -> Result<usize, FeedError> {
        self.producer
            .with(|p| p.write_interest(buf))
            .map_err(|_| FeedError::Invalid)
    }

    /// `fevent` of a feed handle: whether a batch can be read.
    pub fn readable(&mut self) -> bool {
        self.producer.with(|p| p.is_readable())
    }

    /// Bytes of records queued (a feed handle's `fstat` size).
    pub fn queued_bytes(&mut self) -> usize {
        self.producer.with(|p| p.queued_bytes())
    }

    /// Last close of handle `id`. Returns whether it was a feed handle. When the last feed
    /// handle goes, the interest set is cleared (the daemon that described it is gone), so
    /// operations cost nothing again until a new daemon adds interest.
    pub fn close(&mut self, id: usize) -> bool {
        match self.handles.close(id) {
            None => false,
            Some(last) => {
                if last {
                    self.producer.with(|p| p.unmap_ring());
                    let mut clear = [0u8; INTEREST_LEN];
                    if Interest::Clear.emit(&mut clear).is_ok() {
                        let _ = self.producer.with(|p| p.write_interest(&clear));
                    }
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inotify_abi::proto::FEED_CALL_IDENTIFY;

    fn created(dir: u64) -> Fact<'static> {
        Fact::Created {
            dir,
            name: b"n",
            ino: 99,
            is_dir: false,
        }
    }

    fn add(ino: u64) -> [u8; INTEREST_LEN] {
        let mut b = [0u8; INTEREST_LEN];
        Interest::Add(ino).emit(&mut b).unwrap();
        b
    }

    #[test]
    fn only_root_opens_a_feed_and_only_by_its_name() {
        assert_eq!(check_feed_dup(FEED_DUP_NAME, 0), Ok(()));
        assert_eq!(check_feed_dup(FEED_DUP_NAME, 1000), Err(FeedError::NotRoot));
        assert_eq!(check_feed_dup(b"other", 0), Err(FeedError::Invalid));
    }

    #[test]
    fn a_post_is_due_once_per_edge_on_every_handle() {
        let mut e = FeedEndpoint::new(Producer::new(4096));
        e.handles_mut().open(7);
        e.handles_mut().open(9);
        e.write(&add(2)).unwrap();
        assert!(e.record(&created(2)));
        assert!(!e.record(&created(2)), "not an edge while readable");
        let mut posted = alloc::vec::Vec::new();
        e.handles_mut()
            .post(|id| {
                posted.push(id);
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(posted, [7, 9]);
        assert!(!e.handles().post_due());
        assert!(e.read(&mut [0u8; 4096]).is_ok());
        assert_eq!(e.read(&mut [0u8; 4096]), Err(FeedError::Empty));
    }

    #[test]
    fn a_failed_post_stays_due() {
        let mut h = FeedHandles::new();
        h.open(1);
        h.readable_edge();
        assert_eq!(h.post(|_| Err(5)), Err(5));
        assert!(h.post_due());
    }

    #[test]
    fn the_last_close_clears_the_interest_set() {
        let mut e = FeedEndpoint::new(Producer::new(4096));
        e.handles_mut().open(1);
        e.handles_mut().open(2);
        e.write(&add(2)).unwrap();
        assert!(e.close(1));
        assert!(e.is_watched(2), "another feed handle is still open");
        assert!(!e.close(1), "not a feed handle any more");
        assert!(e.close(2));
        assert!(!e.is_watched(2));
        assert!(
            !e.record(&created(2)),
            "nothing is recorded without interest"
        );
    }

    #[test]
    fn identity_requests_name_the_second_handle() {
        let call = IdentifyCall { uid: 5, gid: 6 };
        assert_eq!(identify_request(&[1, 42], &call.emit()), Ok((42, call)));
        assert_eq!(
            identify_request(&[1], &call.emit()),
            Err(FeedError::Invalid)
        );
        assert_eq!(
            identify_request(&[1, 42], &[FEED_CALL_IDENTIFY ^ 1, 0]),
            Err(FeedError::Unsupported)
        );
        let id = Identity {
            ino: 3,
            is_dir: false,
            may_read: true,
        };
        let mut out = [0u8; 16];
        assert_eq!(answer_identity(&id, &mut out), Ok(16));
        assert_eq!(Identity::parse(&out), Ok(id));
        assert_eq!(answer_identity(&id, &mut [0u8; 8]), Err(FeedError::Invalid));
    }

    #[test]
    fn only_data_facts_of_a_detached_handle_are_detached_and_silent_handles_report_meta_only() {
        let held = HeldName {
            dir: 2,
            name: b"f",
            detach: 3,
        };
        let data = held.subject(9, false, false, NameUse::Data).unwrap();
        assert!(data.detached);
        assert_eq!((data.ino, data.dir, data.name), (9, 2, &b"f"[..]));
        assert!(
            !held
                .subject(9, false, false, NameUse::Truncate)
                .unwrap()
                .detached
        );
        assert!(
            !held
                .subject(9, false, false, NameUse::Meta)
                .unwrap()
                .detached
        );
        assert_eq!(held.subject(9, false, true, NameUse::Data), None);
        assert_eq!(held.subject(9, false, true, NameUse::Truncate), None);
        assert!(held.subject(9, false, true, NameUse::Meta).is_some());
        assert!(!held.holds(2, b"f"), "a removed name is held by nobody");
        let attached = HeldName { detach: 0, ..held };
        assert!(attached.holds(2, b"f"));
        assert!(!attached.holds(2, b"g") && !attached.holds(3, b"f"));
    }

    #[test]
    fn detach_numbers_are_never_zero_and_never_repeat() {
        let mut h = FeedHandles::new();
        let a = h.next_detach();
        let b = h.next_detach();
        assert!(a != 0 && b != 0 && a != b);
    }

    /// The `held` answer of a filesystem whose open handles are `(detached, parent)` pairs.
    fn held_by(handles: &[(u64, u64)]) -> impl Fn(u64, u64) -> bool + '_ {
        move |detach, dir| {
            handles
                .iter()
                .any(|&(d, parent)| d != 0 && (d == detach || parent == dir))
        }
    }

    fn dir(ino: u64, parent: u64, detach: u64) -> RemovedDir {
        RemovedDir {
            ino,
            parent,
            detach,
        }
    }

    #[test]
    fn a_removed_directory_nothing_holds_is_freed_at_once() {
        let mut r = RemovedDirs::new();
        // A handle whose name still exists in the directory holds nothing.
        assert!(r.removed(dir(10, 1, 0), held_by(&[(0, 10)])));
        assert!(r.is_empty());
    }

    #[test]
    fn a_file_unlinked_from_a_removed_directory_holds_it_until_closed() {
        let mut r = RemovedDirs::new();
        let mut open = alloc::vec![(1, 10)];
        assert!(!r.removed(dir(10, 1, 0), held_by(&open)));
        assert!(r.contains(10));
        assert_eq!(r.next_released(held_by(&open)), None);
        open.clear();
        assert_eq!(r.next_released(held_by(&open)), Some(10));
        assert_eq!(r.next_released(held_by(&open)), None);
    }

    #[test]
    fn a_held_removed_directory_holds_its_parent_and_goes_first() {
        let mut r = RemovedDirs::new();
        let mut open = alloc::vec![(1, 20)];
        assert!(!r.removed(dir(20, 30, 0), held_by(&open)));
        assert!(!r.removed(dir(30, 1, 0), held_by(&open)));
        open.clear();
        assert_eq!(r.next_released(held_by(&open)), Some(20));
        assert_eq!(r.next_released(held_by(&open)), Some(30));
        assert_eq!(r.next_released(held_by(&open)), None);
    }

    #[test]
    fn a_directory_open_through_its_removed_name_is_held_by_that_handle() {
        let mut r = RemovedDirs::new();
        let open = alloc::vec![(5, 1), (6, 1)];
        assert!(!r.removed(dir(10, 1, 5), held_by(&open)));
        assert_eq!(r.next_released(held_by(&open[1..])), Some(10));
    }

    #[test]
    fn a_forgotten_directory_is_no_longer_held() {
        let mut r = RemovedDirs::new();
        let open = alloc::vec![(1, 10)];
        assert!(!r.removed(dir(10, 1, 0), held_by(&open)));
        assert!(r.forget(10));
        assert!(!r.contains(10));
        assert!(!r.forget(10));
        assert_eq!(r.next_released(held_by(&[])), None);
    }

    #[test]
    fn the_last_name_of_a_path_skips_empty_and_dot_components() {
        assert_eq!(last_name("tmp/d/f"), "f");
        assert_eq!(last_name("tmp/d/f/."), "f");
        assert_eq!(last_name("tmp/d/f/./"), "f");
        assert_eq!(last_name("tmp/d/f//"), "f");
        assert_eq!(last_name("tmp/d/.."), "..");
        assert_eq!(last_name("."), "");
        assert_eq!(last_name(""), "");
    }

    #[test]
    fn a_walk_lists_parents_before_children_and_each_directorys_subdirectories_together() {
        use alloc::string::ToString;
        // a (10) holds c (12); b (11); the root is inode 1 at "r".
        let tree = |dir: &[String]| -> Vec<(String, u64)> {
            match dir.join("/").as_str() {
                "r" => alloc::vec![("b".to_string(), 11), ("a".to_string(), 10)],
                "r/a" => alloc::vec![("c".to_string(), 12)],
                _ => Vec::new(),
            }
        };
        let found = walk_dirs(&["r".to_string()], 1, tree);
        let names: Vec<(u64, &str, u64)> =
            found.iter().map(|(d, n, i)| (*d, n.as_str(), *i)).collect();
        assert_eq!(names, [(1, "b", 11), (1, "a", 10), (10, "c", 12)]);
    }
}
