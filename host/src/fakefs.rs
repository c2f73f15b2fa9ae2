//! A scripted filesystem scheme for scheme-level tests.
//!
//! [`FakeFs`] serves a tree of named inodes that the test builds ([`FakeFs::mkdir`],
//! [`FakeFs::create`], [`FakeFs::symlink`]) under a scheme name (default `file`), on its own
//! thread. It answers what the inotify daemon and its clients ask of a filesystem: `openat`
//! (path lookup, `O_DIRECTORY`, `O_NOFOLLOW`, symlinks), `fstat`, `fpath`
//! (`/scheme/<name>/<path>`), `read` of file contents, `close`, and the feed:
//! `dup(fd, FEED_DUP_NAME)` by uid 0 opens a feed handle whose `read` returns batches in the
//! `inotify_abi::feed` format, whose `fevent` reports `EVENT_READ` while facts are pending, and
//! whose `write` takes interest messages.
//!
//! Facts are not produced by operations: the test injects them with [`FakeFs::push`] (or raw
//! bytes with [`FakeFs::push_raw_batch`]); a push that makes the feed non-empty posts
//! `EVENT_READ` on every open feed handle. Feed reads never block: an empty feed answers
//! `EAGAIN`. Nothing is writable except the feed; creating files through the scheme answers
//! `EROFS`. There are no permission checks besides the feed's uid 0 rule; the identity call
//! (`call_multiple_ids`) reports read permission from the mode bits, for the daemon's
//! add_watch check.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use inotify_abi::feed::{BatchHeader, Fact, Interest, BATCH_HEADER_LEN, MAX_RECORD_LEN};
use inotify_abi::proto::Identity;
use inotify_feed::endpoint::{answer_identity, check_feed_dup, identify_request};
use inotify_feed::{FeedError, FeedHandles};
use redox_scheme::scheme::SchemeSync;
use redox_scheme::{CallerCtx, OpenResult};
use syscall::error::{
    Error, Result, EAGAIN, EBADF, EEXIST, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, EOPNOTSUPP, EROFS,
};
use syscall::flag::{
    EventFlags, MODE_DIR, MODE_FILE, MODE_SYMLINK, MODE_TYPE, O_ACCMODE, O_CREAT, O_DIRECTORY,
    O_EXCL, O_NOFOLLOW, O_RDONLY, O_STAT, O_SYMLINK,
};
use syscall::schemev2::NewFdFlags;
use syscall::Stat;

use super::kernel::{FeventPoster, Kernel};
use super::runner::{spawn_scheme_thread, SchemeThread};
use inotifyd::scheme::copy_at;

/// The id `openat` gets for the scheme root.
pub const ROOT_ID: usize = 0;
/// The inode number of the root directory.
pub const ROOT_INO: u64 = 1;
/// Symlinks followed in one lookup before `ELOOP`.
const MAX_SYMLINKS: usize = 8;

/// What an inode holds.
enum Body {
    /// A directory: names to inode numbers.
    Dir(BTreeMap<String, u64>),
    /// A regular file's bytes.
    File(Vec<u8>),
    /// A symlink's target.
    Symlink(String),
}

/// One inode of the tree.
struct Inode {
    /// Type and permission bits.
    mode: u16,
    /// Owner.
    uid: u32,
    /// Group.
    gid: u32,
    /// Names pointing at it (directories: 2 + subdirectories).
    nlink: u32,
    /// Contents.
    body: Body,
}

/// An open handle.
enum Handle {
    /// An inode, reached by `path` (names from the root).
    Node {
        /// The inode.
        ino: u64,
        /// Path from the root, without leading slash (empty for the root).
        path: String,
    },
    /// A feed handle.
    Feed,
}

/// One read's worth of feed data waiting.
enum Pending {
    /// One encoded fact with its sequence number.
    Record {
        /// Sequence number.
        seq: u64,
        /// The encoded record.
        bytes: Vec<u8>,
    },
    /// Raw bytes returned as one read, as they are.
    Raw(Vec<u8>),
}

/// Everything the scheme and the test share.
struct State {
    /// The tree.
    inodes: HashMap<u64, Inode>,
    /// Open handles by id.
    handles: HashMap<usize, Handle>,
    /// Next handle id.
    next_id: usize,
    /// Feed data not read yet.
    pending: VecDeque<Pending>,
    /// Sequence number of the next pushed fact.
    next_seq: u64,
    /// Every interest message written to a feed handle, in order.
    interests: Vec<Interest>,
    /// The interest set: inode -> Add count not matched by Remove.
    interest_set: BTreeMap<u64, u32>,
    /// Whether `dup(FEED_DUP_NAME)` is served (else `EOPNOTSUPP`, a filesystem without feed).
    feed_enabled: bool,
    /// Feed handles opened so far.
    feed_opens: usize,
    /// The open feed handles.
    feed_handles: FeedHandles,
    /// Ids closed so far, in order.
    closed: Vec<usize>,
}

/// State plus the way to post readiness.
struct Shared {
    /// The scheme name.
    name: String,
    /// The state.
    state: Mutex<State>,
    /// Posts readiness from any thread.
    poster: FeventPoster,
}

impl Shared {
    /// Locks the state, ignoring poisoning.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Posts `EVENT_READ` on every feed handle if the feed just became non-empty
    /// (`was_empty`) or, after a read, still holds data that read could not carry.
    fn post_if_edge(&self, st: MutexGuard<'_, State>, was_empty: bool) {
        if !was_empty || st.pending.is_empty() {
            return;
        }
        let feeds: Vec<usize> = st.feed_handles.ids().collect();
        drop(st);
        for id in feeds {
            self.poster.post_fevent(id, EventFlags::EVENT_READ);
        }
    }
}

/// A scripted filesystem served on its own thread. Cheap to clone; the thread ends when the
/// kernel (or this scheme) is shut down.
#[derive(Clone)]
pub struct FakeFs {
    /// Shared with the scheme thread.
    shared: Arc<Shared>,
}

/// Splits a test path into its names.
fn names(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|n| !n.is_empty() && *n != ".")
        .collect()
}

impl FakeFs {
    /// Serves an empty tree (the root directory, inode [`ROOT_INO`], mode 0o755, uid 0) as
    /// scheme `file`.
    pub fn start(kernel: &Kernel) -> Result<FakeFs> {
        Self::start_named(kernel, "file")
    }

    /// Serves an empty tree as scheme `name`.
    pub fn start_named(kernel: &Kernel, name: &str) -> Result<FakeFs> {
        let socket = kernel.register(name, ROOT_ID)?;
        let mut inodes = HashMap::new();
        inodes.insert(
            ROOT_INO,
            Inode {
                mode: MODE_DIR | 0o755,
                uid: 0,
                gid: 0,
                nlink: 2,
                body: Body::Dir(BTreeMap::new()),
            },
        );
        let shared = Arc::new(Shared {
            name: name.to_string(),
            poster: socket.poster(),
            state: Mutex::new(State {
                inodes,
                handles: HashMap::new(),
                next_id: ROOT_ID + 1,
                pending: VecDeque::new(),
                next_seq: 1,
                interests: Vec::new(),
                interest_set: BTreeMap::new(),
                feed_enabled: true,
                feed_opens: 0,
                feed_handles: FeedHandles::new(),
                closed: Vec::new(),
            }),
        });
        let _thread: SchemeThread<FakeScheme> = spawn_scheme_thread(
            socket,
            FakeScheme {
                shared: shared.clone(),
            },
        );
        Ok(FakeFs { shared })
    }

    /// The scheme name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Adds an inode under `path` (its parent must exist). Panics on a bad test setup.
    fn add(&self, path: &str, ino: u64, mode: u16, uid: u32, gid: u32, body: Body) {
        let mut st = self.shared.lock();
        let mut parts = names(path);
        let leaf = parts.pop().expect("a path with a name").to_string();
        let mut dir = ROOT_INO;
        for part in parts {
            dir = match &st.inodes[&dir].body {
                Body::Dir(entries) => *entries.get(part).expect("parent exists"),
                _ => panic!("{path}: parent is not a directory"),
            };
        }
        let is_dir = matches!(body, Body::Dir(_));
        assert!(!st.inodes.contains_key(&ino), "inode {ino} already exists");
        let Body::Dir(entries) = &mut st.inodes.get_mut(&dir).expect("parent").body else {
            panic!("{path}: parent is not a directory");
        };
        assert!(entries.insert(leaf, ino).is_none(), "{path} already exists");
        if is_dir {
            st.inodes.get_mut(&dir).expect("parent").nlink += 1;
        }
        let nlink = if is_dir { 2 } else { 1 };
        st.inodes.insert(
            ino,
            Inode {
                mode,
                uid,
                gid,
                nlink,
                body,
            },
        );
    }

    /// Adds directory `path` (e.g. `"a/b"`) as inode `ino`; `mode` holds the permission
    /// bits.
    pub fn mkdir(&self, path: &str, ino: u64, mode: u16, uid: u32, gid: u32) {
        let mode = MODE_DIR | (mode & !MODE_TYPE);
        self.add(path, ino, mode, uid, gid, Body::Dir(BTreeMap::new()));
    }

    /// Adds an empty regular file `path` as inode `ino`.
    pub fn create(&self, path: &str, ino: u64, mode: u16, uid: u32, gid: u32) {
        let mode = MODE_FILE | (mode & !MODE_TYPE);
        self.add(path, ino, mode, uid, gid, Body::File(Vec::new()));
    }

    /// Adds symlink `path` to `target` (relative to its directory, or absolute from the
    /// root) as inode `ino`, owned by root.
    pub fn symlink(&self, path: &str, target: &str, ino: u64) {
        self.add(
            path,
            ino,
            MODE_SYMLINK | 0o777,
            0,
            0,
            Body::Symlink(target.to_string()),
        );
    }

    /// Sets the contents of the regular file `path`. Panics when it is not one.
    pub fn set_contents(&self, path: &str, data: &[u8]) {
        let mut st = self.shared.lock();
        let ino = lookup_plain(&st, path).expect("file exists");
        match &mut st.inodes.get_mut(&ino).expect("inode").body {
            Body::File(bytes) => *bytes = data.to_vec(),
            _ => panic!("{path} is not a regular file"),
        }
    }

    /// Removes the name `path` from its directory (the inode stays while other names point
    /// at it). Panics when it does not exist.
    pub fn remove(&self, path: &str) {
        let mut st = self.shared.lock();
        let mut parts = names(path);
        let leaf = parts.pop().expect("a path with a name");
        let dir = lookup_plain(&st, &parts.join("/")).expect("parent exists");
        let Body::Dir(entries) = &mut st.inodes.get_mut(&dir).expect("parent").body else {
            panic!("{path}: parent is not a directory");
        };
        let ino = entries.remove(leaf).expect("name exists");
        let node = st.inodes.get_mut(&ino).expect("inode");
        node.nlink = node.nlink.saturating_sub(1);
    }

    /// Appends facts to the feed with consecutive sequence numbers; posts `EVENT_READ` on
    /// every open feed handle when the feed was empty. Panics on a fact that cannot be
    /// encoded (bad test input).
    pub fn push(&self, facts: &[Fact]) {
        let mut st = self.shared.lock();
        let was_empty = st.pending.is_empty();
        for fact in facts {
            let mut buf = vec![0u8; MAX_RECORD_LEN];
            let n = fact.emit(&mut buf).expect("fact encodes");
            buf.truncate(n);
            let seq = st.next_seq;
            st.next_seq += 1;
            st.pending.push_back(Pending::Record { seq, bytes: buf });
        }
        self.post_if_edge(st, was_empty);
    }

    /// Queues `bytes` to be returned as they are by one feed read (to test malformed
    /// batches); posts readiness like [`FakeFs::push`].
    pub fn push_raw_batch(&self, bytes: &[u8]) {
        let mut st = self.shared.lock();
        let was_empty = st.pending.is_empty();
        st.pending.push_back(Pending::Raw(bytes.to_vec()));
        self.post_if_edge(st, was_empty);
    }

    /// Skips `n` sequence numbers: the next pushed fact leaves a gap, as if the producer had
    /// lost records without saying so.
    pub fn skip_seqs(&self, n: u64) {
        self.shared.lock().next_seq += n;
    }

    /// The sequence number the next pushed fact gets.
    pub fn next_seq(&self) -> u64 {
        self.shared.lock().next_seq
    }

    /// Posts `EVENT_READ` on every feed handle if the feed just became non-empty.
    fn post_if_edge(&self, st: MutexGuard<'_, State>, was_empty: bool) {
        self.shared.post_if_edge(st, was_empty);
    }

    /// Whether feed data is waiting to be read.
    pub fn feed_pending(&self) -> bool {
        !self.shared.lock().pending.is_empty()
    }

    /// Every interest message written to a feed handle, in order.
    pub fn interests(&self) -> Vec<Interest> {
        self.shared.lock().interests.clone()
    }

    /// The interest set: inode -> number of `Add`s not matched by a `Remove`.
    pub fn interest_set(&self) -> BTreeMap<u64, u32> {
        self.shared.lock().interest_set.clone()
    }

    /// Serve the feed (the default) or answer `EOPNOTSUPP` to `dup(FEED_DUP_NAME)`, like a
    /// filesystem without one.
    pub fn set_feed_enabled(&self, enabled: bool) {
        self.shared.lock().feed_enabled = enabled;
    }

    /// Feed handles opened so far.
    pub fn feed_opens(&self) -> usize {
        self.shared.lock().feed_opens
    }

    /// Handles open now.
    pub fn open_handles(&self) -> usize {
        self.shared.lock().handles.len()
    }

    /// Handle ids closed so far, in order.
    pub fn closed(&self) -> Vec<usize> {
        self.shared.lock().closed.clone()
    }
}

/// Looks `path` up from the root without following symlinks (test helpers).
fn lookup_plain(st: &State, path: &str) -> Option<u64> {
    let mut ino = ROOT_INO;
    for part in names(path) {
        ino = match &st.inodes.get(&ino)?.body {
            Body::Dir(entries) => *entries.get(part)?,
            _ => return None,
        };
    }
    Some(ino)
}

/// The `SchemeSync` side, on the scheme thread.
struct FakeScheme {
    /// Shared with the test.
    shared: Arc<Shared>,
}

/// Result of a path walk.
struct Walked {
    /// The inode reached.
    ino: u64,
    /// Names from the root to it.
    path: Vec<String>,
}

/// Walks `path` from the directory `start` (reached by `start_path`). The last name is
/// followed when it is a symlink unless `nofollow`; every other symlink is followed.
fn walk(
    st: &State,
    start: u64,
    start_path: Vec<String>,
    path: &str,
    nofollow: bool,
) -> Result<Walked> {
    // Pairs of (inode, name) from the root; the root itself is implicit.
    let mut stack: Vec<(u64, String)> = Vec::new();
    let mut cur = ROOT_INO;
    for name in start_path {
        cur = child(st, cur, &name)?;
        stack.push((cur, name));
    }
    debug_assert_eq!(cur, start);
    let mut todo: VecDeque<String> = names(path).into_iter().map(str::to_string).collect();
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            stack.pop();
            cur = stack.last().map_or(ROOT_INO, |(ino, _)| *ino);
            continue;
        }
        let next = child(st, cur, &name)?;
        let last = todo.is_empty();
        if let Body::Symlink(target) = &st.inodes[&next].body {
            if !(last && nofollow) {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Error::new(ELOOP));
                }
                if target.starts_with('/') {
                    stack.clear();
                    cur = ROOT_INO;
                }
                for (i, part) in names(target).into_iter().enumerate() {
                    todo.insert(i, part.to_string());
                }
                continue;
            }
        }
        stack.push((next, name));
        cur = next;
    }
    Ok(Walked {
        ino: cur,
        path: stack.into_iter().map(|(_, n)| n).collect(),
    })
}

/// The inode `name` names in directory `dir`.
fn child(st: &State, dir: u64, name: &str) -> Result<u64> {
    match &st.inodes.get(&dir).ok_or(Error::new(ENOENT))?.body {
        Body::Dir(entries) => entries.get(name).copied().ok_or(Error::new(ENOENT)),
        _ => Err(Error::new(ENOTDIR)),
    }
}

/// Splits a path into (parent part, last name).
fn split_last(path: &str) -> (String, Option<String>) {
    let mut parts = names(path);
    let last = parts.pop().map(str::to_string);
    (parts.join("/"), last)
}

impl FakeScheme {
    /// The inode of node handle `id`.
    fn node(st: &State, id: usize) -> Result<(u64, String)> {
        match st.handles.get(&id) {
            Some(Handle::Node { ino, path }) => Ok((*ino, path.clone())),
            Some(Handle::Feed) => Err(Error::new(EBADF)),
            None => Err(Error::new(EBADF)),
        }
    }

    /// Reads one batch (or one raw chunk) into `buf`.
    fn read_feed(st: &mut State, buf: &mut [u8]) -> Result<usize> {
        let Some(front) = st.pending.front() else {
            return Err(Error::new(EAGAIN));
        };
        if let Pending::Raw(bytes) = front {
            if bytes.len() > buf.len() {
                return Err(Error::new(EINVAL));
            }
            let n = bytes.len();
            buf[..n].copy_from_slice(bytes);
            st.pending.pop_front();
            return Ok(n);
        }
        let mut at = BATCH_HEADER_LEN;
        let mut count = 0u32;
        let mut first_seq = None;
        while let Some(Pending::Record { seq, bytes }) = st.pending.front() {
            let consecutive = first_seq.is_none_or(|f| f + u64::from(count) == *seq);
            if !consecutive || at + bytes.len() > buf.len() {
                break;
            }
            first_seq.get_or_insert(*seq);
            buf[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
            count += 1;
            st.pending.pop_front();
        }
        let Some(first_seq) = first_seq else {
            // Not even one record fits.
            return Err(Error::new(EINVAL));
        };
        let header = BatchHeader {
            first_seq,
            count,
            total_len: at as u32,
        };
        header.emit(buf).map_err(|_| Error::new(EINVAL))?;
        Ok(at)
    }

    /// Applies an interest message (all entries valid, or nothing).
    fn write_interest(st: &mut State, buf: &[u8]) -> Result<usize> {
        let msgs: Vec<Interest> = Interest::parse_all(buf)
            .collect::<core::result::Result<_, _>>()
            .map_err(|_| Error::new(EINVAL))?;
        for m in msgs {
            match m {
                Interest::Add(ino) => *st.interest_set.entry(ino).or_insert(0) += 1,
                Interest::Remove(ino) => {
                    if let Some(n) = st.interest_set.get_mut(&ino) {
                        *n -= 1;
                        if *n == 0 {
                            st.interest_set.remove(&ino);
                        }
                    }
                }
                Interest::Clear => st.interest_set.clear(),
                // FakeFs has no subtree call, so it never has a subtree root to undo.
                Interest::RemoveSubtree(_) => {}
            }
            st.interests.push(m);
        }
        Ok(buf.len())
    }

    /// A new handle id.
    fn fresh(st: &mut State, handle: Handle) -> usize {
        let id = st.next_id;
        st.next_id += 1;
        st.handles.insert(id, handle);
        id
    }
}

impl SchemeSync for FakeScheme {
    fn scheme_root(&mut self) -> Result<usize> {
        Ok(ROOT_ID)
    }

    fn openat(
        &mut self,
        fd: usize,
        path: &str,
        flags: usize,
        _fcntl_flags: u32,
        _ctx: &CallerCtx,
    ) -> Result<OpenResult> {
        let mut st = self.shared.lock();
        let (start, start_path) = if fd == ROOT_ID {
            (ROOT_INO, Vec::new())
        } else {
            let (ino, p) = Self::node(&st, fd)?;
            (ino, names(&p).into_iter().map(str::to_string).collect())
        };
        let nofollow = flags & O_NOFOLLOW != 0;
        let walked = match walk(&st, start, start_path.clone(), path, nofollow) {
            Ok(w) => w,
            Err(e) if e.errno == ENOENT && flags & O_CREAT != 0 => {
                // The parent must exist for the error to be about creation.
                let (parent, _) = split_last(path);
                walk(&st, start, start_path, &parent, false)?;
                return Err(Error::new(EROFS));
            }
            Err(e) => return Err(e),
        };
        if flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL {
            return Err(Error::new(EEXIST));
        }
        let node = &st.inodes[&walked.ino];
        let path_only = flags & O_STAT != 0;
        match node.body {
            Body::Symlink(_) if !(path_only || flags & O_SYMLINK != 0) => {
                return Err(Error::new(ELOOP));
            }
            Body::Dir(_) if !path_only && flags & O_ACCMODE != O_RDONLY => {
                return Err(Error::new(EISDIR));
            }
            Body::File(_) | Body::Symlink(_) if flags & O_DIRECTORY != 0 => {
                return Err(Error::new(ENOTDIR));
            }
            _ => {}
        }
        let handle = Handle::Node {
            ino: walked.ino,
            path: walked.path.join("/"),
        };
        let number = Self::fresh(&mut st, handle);
        Ok(OpenResult::ThisScheme {
            number,
            flags: NewFdFlags::POSITIONED,
        })
    }

    fn dup(&mut self, old_id: usize, buf: &[u8], ctx: &CallerCtx) -> Result<OpenResult> {
        let mut st = self.shared.lock();
        let allowed = check_feed_dup(buf, ctx.uid);
        if allowed == Err(FeedError::Invalid) {
            return Err(Error::new(EINVAL));
        }
        if !st.feed_enabled {
            return Err(Error::new(EOPNOTSUPP));
        }
        Self::node(&st, old_id).or_else(|e| {
            if old_id == ROOT_ID {
                Ok((ROOT_INO, String::new()))
            } else {
                Err(e)
            }
        })?;
        allowed.map_err(|e| Error::new(e.errno()))?;
        st.feed_opens += 1;
        let number = Self::fresh(&mut st, Handle::Feed);
        st.feed_handles.open(number);
        Ok(OpenResult::ThisScheme {
            number,
            flags: NewFdFlags::empty(),
        })
    }

    fn read(
        &mut self,
        id: usize,
        buf: &mut [u8],
        offset: u64,
        _fcntl_flags: u32,
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        let mut st = self.shared.lock();
        let ino = match st.handles.get(&id) {
            Some(Handle::Feed) => {
                let read = Self::read_feed(&mut st, buf);
                // A read carries one batch or raw chunk: what is left is announced again, as
                // a producer's next record would be (the daemon stops at a short read).
                self.shared.post_if_edge(st, true);
                return read;
            }
            Some(Handle::Node { ino, .. }) => *ino,
            None => return Err(Error::new(EBADF)),
        };
        let bytes = match &st.inodes[&ino].body {
            Body::File(bytes) => bytes.as_slice(),
            Body::Symlink(target) => target.as_bytes(),
            Body::Dir(_) => return Err(Error::new(EISDIR)),
        };
        Ok(copy_at(bytes, offset, buf))
    }

    fn write(
        &mut self,
        id: usize,
        buf: &[u8],
        _offset: u64,
        _fcntl_flags: u32,
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        let mut st = self.shared.lock();
        match st.handles.get(&id) {
            Some(Handle::Feed) => Self::write_interest(&mut st, buf),
            Some(Handle::Node { .. }) => Err(Error::new(EROFS)),
            None => Err(Error::new(EBADF)),
        }
    }

    fn fsize(&mut self, id: usize, _ctx: &CallerCtx) -> Result<u64> {
        let st = self.shared.lock();
        let (ino, _) = Self::node(&st, id)?;
        Ok(match &st.inodes[&ino].body {
            Body::File(b) => b.len() as u64,
            Body::Symlink(t) => t.len() as u64,
            Body::Dir(_) => 0,
        })
    }

    fn fcntl(&mut self, id: usize, _cmd: usize, _arg: usize, _ctx: &CallerCtx) -> Result<usize> {
        if id == ROOT_ID || self.shared.lock().handles.contains_key(&id) {
            Ok(0)
        } else {
            Err(Error::new(EBADF))
        }
    }

    fn fevent(&mut self, id: usize, flags: EventFlags, _ctx: &CallerCtx) -> Result<EventFlags> {
        let st = self.shared.lock();
        match st.handles.get(&id) {
            Some(Handle::Feed) if !st.pending.is_empty() => Ok(flags & EventFlags::EVENT_READ),
            Some(_) => Ok(EventFlags::empty()),
            None => Err(Error::new(EBADF)),
        }
    }

    fn fpath(&mut self, id: usize, buf: &mut [u8], _ctx: &CallerCtx) -> Result<usize> {
        let st = self.shared.lock();
        let path = match st.handles.get(&id) {
            Some(Handle::Node { path, .. }) if path.is_empty() => {
                format!("/scheme/{}", self.shared.name)
            }
            Some(Handle::Node { path, .. }) => format!("/scheme/{}/{path}", self.shared.name),
            Some(Handle::Feed) => format!("/scheme/{}", self.shared.name),
            None => return Err(Error::new(EBADF)),
        };
        let n = buf.len().min(path.len());
        buf[..n].copy_from_slice(&path.as_bytes()[..n]);
        Ok(n)
    }

    fn fstat(&mut self, id: usize, stat: &mut Stat, _ctx: &CallerCtx) -> Result<()> {
        let st = self.shared.lock();
        let (ino, _) = Self::node(&st, id)?;
        let node = &st.inodes[&ino];
        let size = match &node.body {
            Body::File(b) => b.len() as u64,
            Body::Symlink(t) => t.len() as u64,
            Body::Dir(_) => 0,
        };
        *stat = Stat {
            st_dev: 0,
            st_ino: ino,
            st_mode: node.mode,
            st_nlink: node.nlink,
            st_uid: node.uid,
            st_gid: node.gid,
            st_size: size,
            st_blksize: 4096,
            st_blocks: size.div_ceil(512),
            ..Stat::default()
        };
        Ok(())
    }

    /// The identity call: inode, directory, and read permission by the mode bits (uid 0
    /// always may) of handle `ids[1]`.
    fn call_multiple_ids(
        &mut self,
        ids: &[usize],
        payload: &mut [u8],
        metadata: &[u64],
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        let (id, call) = identify_request(ids, metadata).map_err(|e| Error::new(e.errno()))?;
        let st = self.shared.lock();
        if !st.handles.contains_key(&ids[0]) {
            return Err(Error::new(EBADF));
        }
        let (ino, _) = Self::node(&st, id)?;
        let inode = st.inodes.get(&ino).ok_or(Error::new(EBADF))?;
        let bits = if call.uid == inode.uid {
            0o400
        } else if call.gid == inode.gid {
            0o040
        } else {
            0o004
        };
        let identity = Identity {
            ino,
            is_dir: inode.mode & MODE_TYPE == MODE_DIR,
            may_read: call.uid == 0 || inode.mode & bits != 0,
        };
        answer_identity(&identity, payload).map_err(|e| Error::new(e.errno()))
    }

    fn on_close(&mut self, id: usize) {
        let mut st = self.shared.lock();
        st.feed_handles.close(id);
        st.handles.remove(&id);
        st.closed.push(id);
    }
}

#[cfg(test)]
#[path = "fakefs_tests.rs"]
mod tests;
