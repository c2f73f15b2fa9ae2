//! The interposer: inotify for filesystems that have no feed.
//!
//! An [`Interposer`] serves a scheme in front of a *target* filesystem scheme (on Redox:
//! under the same name, in the namespace of the processes it serves). Every request is
//! forwarded to the target through a [`Target`], with the caller's credentials, so the
//! target makes every permission decision for the caller; what the forwarded request did is
//! reported as feed facts through the same [`inotify_feed`] producer and endpoint that the
//! redoxfs patch and `HostFs` use. inotifyd cannot tell the difference: it opens its anchor
//! on the interposer, asks it the identity call, and reads its feed.
//!
//! Cost: a forwarded read or write costs the forward and one hash probe of the interest
//! set. Opening costs the forward plus `fstat` and `fpath` of the new handle and the inode of
//! its parent directory (from an open handle on it when there is one, else one probe);
//! unlink, rename and link add probes of the names involved, before the forward, so the facts
//! can say which inode went.
//!
//! Requests run on several threads ([`crew`]), each taking the next request itself, so a
//! target that stops answering holds only the threads whose requests wait on it. Layout of the crate: `scheme` (the `SchemeSync` implementation: forwarding and the
//! facts of each request), `names` (which handles hold which names, as `HostFs` keeps them),
//! `crew` (the serving threads), `workers` (forwarding as callers with per-process ids: one
//! worker process per credential pair, `worker` its side, `link` the frames between them),
//! `gate` (the in-process fallback: switching the process's ids), `redox` (the Redox
//! [`Target`], workers and installation, Redox only).

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use inotify_feed::{FeedEndpoint, Producer, RemovedDirs};
use redox_scheme::scheme::{Op, SchemeState};
use redox_scheme::{CallerCtx, Request, RequestKind, Response};
use syscall::error::{Error, Result, EINVAL, ENOSYS, EOPNOTSUPP};
use syscall::flag::EventFlags;
use syscall::{Stat, TimeSpec};

pub mod crew;
pub mod gate;
pub mod link;
mod names;
mod scheme;
mod subtree;
pub mod worker;
pub mod workers;

#[cfg(target_os = "redox")]
pub mod redox;
#[cfg(target_os = "redox")]
mod redox_calls;

/// Default capacity of the feed buffer, bytes (as `HostFs` and the redoxfs patch).
pub const DEFAULT_FEED_CAPACITY: usize = 256 * 1024;

/// The id of the interposer's scheme root (the `openat` base for absolute paths).
pub const ROOT_ID: usize = 0;

/// Credentials a forwarded request is made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creds {
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
}

impl Creds {
    /// The interposer's own (root): used only for probes, whose answers never reach a
    /// caller.
    pub const OWN: Creds = Creds { uid: 0, gid: 0 };
}

/// The target filesystem, as the interposer's process reaches it: fds of its own namespace
/// (the real scheme behind the name it took), requests made with given credentials.
///
/// Every method that takes `who` must make the request with exactly those effective
/// credentials (on Redox the kernel copies the calling context's `euid`/`egid` into the
/// request); the others are probes, made as the interposer.
pub trait Target: Send + Sync + 'static {
    /// The target's root, opened at start (`O_STAT | O_DIRECTORY`).
    fn root(&self) -> usize;
    /// The scheme name the target's `fpath` answers start with.
    fn name(&self) -> &str;
    /// `openat(dir, path, flags)`; `flags` holds the open flags and the fcntl flags.
    fn openat(&self, who: Creds, dir: usize, path: &str, flags: usize) -> Result<usize>;
    /// Closes one of the interposer's fds (one-way).
    fn close(&self, fd: usize);
    /// `dup(fd, name)` with a non-empty name.
    fn dup(&self, who: Creds, fd: usize, name: &[u8]) -> Result<usize>;
    /// A read at `offset`; `flags` are `RwFlags` bits (the caller's `O_NONBLOCK` and
    /// `O_APPEND` for this read), as Redox's `SYS_READ2` takes them.
    fn read(
        &self,
        who: Creds,
        fd: usize,
        buf: &mut [u8],
        offset: u64,
        flags: usize,
    ) -> Result<usize>;
    /// A write at `offset`.
    fn write(&self, who: Creds, fd: usize, buf: &[u8], offset: u64) -> Result<usize>;
    /// `fstat`.
    fn fstat(&self, who: Creds, fd: usize) -> Result<Stat>;
    /// `fpath` into `buf`.
    fn fpath(&self, who: Creds, fd: usize, buf: &mut [u8]) -> Result<usize>;
    /// `fsize`.
    fn fsize(&self, who: Creds, fd: usize) -> Result<u64>;
    /// `fchmod`.
    fn fchmod(&self, who: Creds, fd: usize, mode: u16) -> Result<()>;
    /// `fchown`.
    fn fchown(&self, who: Creds, fd: usize, uid: u32, gid: u32) -> Result<()>;
    /// `ftruncate`.
    fn ftruncate(&self, who: Creds, fd: usize, len: u64) -> Result<()>;
    /// `fsync`.
    fn fsync(&self, who: Creds, fd: usize) -> Result<()>;
    /// `futimens` with the request's times.
    fn futimens(&self, who: Creds, fd: usize, times: &[TimeSpec]) -> Result<()>;
    /// `fcntl` (the target's answer).
    fn fcntl(&self, who: Creds, fd: usize, cmd: usize, arg: usize) -> Result<usize>;
    /// `fevent`: the target's current readiness of `fd`.
    fn fevent(&self, who: Creds, fd: usize, flags: EventFlags) -> Result<EventFlags>;
    /// `getdents` into `buf` (entries with headers of `header_size` bytes).
    fn getdents(
        &self,
        who: Creds,
        fd: usize,
        buf: &mut [u8],
        header_size: u16,
        opaque: u64,
    ) -> Result<usize>;
    /// `unlinkat(dir, path, flags)`.
    fn unlinkat(&self, who: Creds, dir: usize, path: &str, flags: usize) -> Result<()>;
    /// `renameat(old_dir, old, new_dir, new, flags)`.
    fn frenameat(
        &self,
        who: Creds,
        old_dir: usize,
        old: &str,
        new_dir: usize,
        new: &str,
        flags: usize,
    ) -> Result<()>;
    /// A new name `path` in `dir` for `fd`'s inode.
    fn flinkat(&self, who: Creds, fd: usize, dir: usize, path: &str, flags: usize) -> Result<()>;
    /// `frename(fd, path)`, `path` from the target's root.
    fn frename(&self, who: Creds, fd: usize, path: &str) -> Result<()>;
    /// `flink(fd, path)`, `path` from the target's root.
    fn flink(&self, who: Creds, fd: usize, path: &str) -> Result<()>;
    /// `call(fd, payload, metadata)`.
    fn call(&self, who: Creds, fd: usize, payload: &mut [u8], metadata: &[u64]) -> Result<usize>;
    /// The effective ids of process `pid` as the system records them, for requests that
    /// carry none (`call`, `std_fs_call`); `None` when the system cannot tell, and the ids
    /// the handle was opened with are used.
    fn caller_creds(&self, pid: usize) -> Option<Creds>;
}

/// Where responses and readiness posts go (the scheme socket), from any thread.
pub trait Respond: Send + Sync + 'static {
    /// Writes one response or readiness post.
    fn respond(&self, resp: Response);
}

/// An fd of the interposer on the target, closed when the last request using it is done.
struct RealFd<T: Target> {
    /// The fd.
    fd: usize,
    /// Whether to close it at the end (the target's root is kept).
    owned: bool,
    /// The target.
    target: Arc<T>,
}

impl<T: Target> Drop for RealFd<T> {
    fn drop(&mut self) {
        if self.owned {
            self.target.close(self.fd);
        }
    }
}

/// A handle on the target, as the interposer keeps it: the name it holds, for facts.
struct Node<T: Target> {
    /// The interposer's fd for it on the target.
    real: Arc<RealFd<T>>,
    /// Path from the target's root (empty: the root), as the target named it at open.
    comps: Vec<String>,
    /// Inode number.
    ino: u64,
    /// A directory.
    is_dir: bool,
    /// A symlink itself (its reads give the target: no access fact).
    is_symlink: bool,
    /// Parent directory inode of the name it holds (0 for the root).
    dir: u64,
    /// The name it holds.
    name: String,
    /// Opened for writing (its close is `CLOSE_WRITE`).
    for_write: bool,
    /// Reports no open, access, modify or close facts (`O_STAT` opens, mkdir and symlink
    /// handles, the root).
    silent: bool,
    /// Its name was removed.
    unlinked: bool,
    /// Which removal detached it (0 while attached).
    detach_id: u64,
    /// A removal forwarded through the interposer left its inode without links: it is freed
    /// at its last close whatever the target's `fstat` says (redoxfs 0.9.1 keeps reporting
    /// the old link count on fds open on a file whose last name was removed).
    no_links: bool,
    /// An `O_CREAT | O_SYMLINK` handle whose link the first write makes.
    pending_symlink: bool,
    /// The credentials it was opened with: those of the requests that carry none.
    opener: Creds,
}

/// What a handle is.
enum Handle<T: Target> {
    /// A forwarded handle.
    Node(Node<T>),
    /// A feed handle (`dup(_, FEED_DUP_NAME)`, root only).
    Feed,
}

/// The handle table and the feed, behind the interposer's one lock.
struct State<T: Target> {
    /// Handles by id.
    handles: BTreeMap<usize, Handle<T>>,
    /// Next handle id.
    next_id: usize,
    /// The feed endpoint and producer.
    feed: FeedEndpoint<Producer>,
    /// Removed directories still held.
    removed_dirs: RemovedDirs,
}

/// The interposer: the target, the handle table and the feed. Shared by the workers.
pub struct Interposer<T: Target> {
    /// The target filesystem.
    target: Arc<T>,
    /// The name this scheme is served under (`fpath` answers start with it).
    name: String,
    /// Handles and feed.
    state: Mutex<State<T>>,
    /// Where readiness posts go (set by [`serve`]).
    poster: Mutex<Option<Arc<dyn Respond>>>,
}

impl<T: Target> Interposer<T> {
    /// An interposer serving `name` in front of `target`, with a feed buffer of
    /// `feed_capacity` bytes. Fails when the target's root cannot be looked at.
    pub fn new(target: T, name: &str, feed_capacity: usize) -> Result<Arc<Self>> {
        let target = Arc::new(target);
        let root_stat = target.fstat(Creds::OWN, target.root())?;
        let root = Node {
            real: Arc::new(RealFd {
                fd: target.root(),
                owned: false,
                target: Arc::clone(&target),
            }),
            comps: Vec::new(),
            ino: root_stat.st_ino,
            is_dir: true,
            is_symlink: false,
            dir: 0,
            name: String::new(),
            for_write: false,
            silent: true,
            unlinked: false,
            detach_id: 0,
            no_links: false,
            pending_symlink: false,
            opener: Creds::OWN,
        };
        let mut handles = BTreeMap::new();
        handles.insert(ROOT_ID, Handle::Node(root));
        Ok(Arc::new(Interposer {
            target,
            name: name.to_string(),
            state: Mutex::new(State {
                handles,
                next_id: ROOT_ID + 1,
                feed: FeedEndpoint::new(Producer::new(feed_capacity)),
                removed_dirs: RemovedDirs::new(),
            }),
            poster: Mutex::new(None),
        }))
    }

    /// The target.
    pub fn target(&self) -> &T {
        &self.target
    }

    /// Handles open now (the root included).
    pub fn open_handles(&self) -> usize {
        self.lock().handles.len()
    }

    /// Facts recorded and dropped by the producer so far.
    pub fn feed_counters(&self) -> (u64, u64) {
        let st = self.lock();
        (st.feed.producer().recorded(), st.feed.producer().dropped())
    }

    /// The state, locked (never held across a forward).
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Serves `interposer` until `next` returns `None` (the request stream ended), answering
/// through `respond`, on this thread and as many more as requests in flight need
/// ([`crew`]); returns once every thread finished. `next` is called by one thread at a time.
pub fn serve<T: Target, R: Respond>(
    interposer: &Arc<Interposer<T>>,
    next: impl Fn() -> Option<Request> + Send + Sync + 'static,
    respond: R,
) {
    let respond: Arc<dyn Respond> = Arc::new(respond);
    *interposer.poster.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&respond));
    crew::Crew::run(Arc::new(Server {
        me: Arc::clone(interposer),
        next,
        respond,
    }));
}

/// The interposer as its serving threads see it.
struct Server<T: Target, N> {
    /// The interposer.
    me: Arc<Interposer<T>>,
    /// The request stream.
    next: N,
    /// Answers and readiness posts.
    respond: Arc<dyn Respond>,
}

impl<T, N> crew::Serve for Server<T, N>
where
    T: Target,
    N: Fn() -> Option<Request> + Send + Sync + 'static,
{
    type Req = Request;
    type Work = (Op, CallerCtx);

    fn next(&self) -> Option<Request> {
        (self.next)()
    }

    fn in_turn(&self, req: Request) -> Option<Self::Work> {
        match req.kind() {
            RequestKind::Call(call) => {
                if scheme::refused_before_decoding(&call) {
                    self.respond
                        .respond(Response::new(Err(Error::new(EINVAL)), call));
                    return None;
                }
                let mut caller = call.caller();
                if scheme::carries_no_ids(&call) {
                    scheme::mark_without_ids(&mut caller);
                }
                match call.op() {
                    Ok(op) => Some((op, caller)),
                    Err(call) => {
                        let resp = Response::new(Err(Error::new(ENOSYS)), call);
                        self.respond.respond(resp);
                        None
                    }
                }
            }
            // The kernel sends the last close only once no request on the handle is in
            // flight; handled in turn, its facts are recorded before any later request is
            // taken (a program's next request sees them).
            RequestKind::OnClose { id } => {
                self.me.on_close(id);
                None
            }
            RequestKind::SendFd(req) => {
                // File schemes take no fds; the kernel closes the one in flight.
                let resp = Response::new(Err(Error::new(EOPNOTSUPP)), req);
                self.respond.respond(resp);
                None
            }
            // Forwarded requests are answered when the target answers; a cancelled caller
            // gets that answer (docs/semantics.md, D10).
            _ => None,
        }
    }

    fn handle(&self, (op, caller): Self::Work) {
        let resp = scheme::handle(&self.me, op, caller, &mut SchemeState::new());
        self.respond.respond(resp);
    }
}
