//! `HostFs`: a `file`-like scheme over a real host directory, instrumented with the feed.
//!
//! Every request performs the real operation on the host (`std::fs`, `std::os::unix`) below
//! one root directory, and reports what happened as a feed
//! [`Fact`](inotify_abi::feed::Fact) through one [`Producer`](inotify_feed::Producer), exactly
//! as the redoxfs patch does on Redox. The inotify daemon opens the feed with
//! `dup(fd, FEED_DUP_NAME)` (root only), reads batches from it and writes interest messages
//! to it.
//!
//! Every handle remembers the inode it is on (host `st_ino`), whether it is a directory, the
//! parent directory and name it was reached by, and whether it was opened for writing, so a
//! fact can name the child to a watching parent and a close can say `CLOSE_WRITE` or
//! `CLOSE_NOWRITE`.
//!
//! Paths are resolved here, component by component, with symlinks followed inside the root
//! only (an absolute symlink target means the root of this scheme) and `..` at the root
//! refused with `EACCES`: nothing outside the root can be reached. Otherwise the path rules
//! are Linux's (`PATH_MAX`, trailing slashes, `.` and `..` as the last component; see
//! `docs/semantics.md`, "Paths"). The host process may run
//! as root; callers' permissions are emulated from the mode bits with the uid/gid each
//! request carries (root bypasses them, as usual).
//!
//! The work is split by job: `lookup` (path resolution and permission checks), `open`
//! (opening and creating), `names` (which handles hold which names across unlink, rename
//! and link), `report` (facts to the producer) and `scheme` (the `SchemeSync` requests).
//!
//! Redox creates directories and symlinks with `open(O_CREAT | O_DIRECTORY)` and
//! `open(O_CREAT | O_SYMLINK)` + `write(target)`; those handles report only the creation
//! (`mkdir` and `symlink` give one `IN_CREATE` on Linux), never an open, a write or a close.
//! `O_CREAT | O_DIRECTORY` with write access is `EISDIR`, and nothing is made.

use std::collections::BTreeMap;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use inotify_abi::feed::{Fact, Subject};
use inotify_feed::{FeedEndpoint, HeldName, NameUse, Producer, ProducerCell, RemovedDirs};

use super::{spawn_scheme_thread, Kernel, SchemeThread};
use redox_scheme::scheme::SchemeSync;
use syscall::dirent::DirentKind;
use syscall::error::{Error, Result, EBADF, EINVAL, EIO, ENOTDIR};
use syscall::flag::{EventFlags, O_ACCMODE, O_RDONLY, O_RDWR};
use syscall::TimeSpec;

mod lookup;
mod names;
mod open;
mod report;
mod scheme;

/// Default capacity of the feed buffer, bytes.
pub const DEFAULT_FEED_CAPACITY: usize = 256 * 1024;

/// Default scheme name a `HostFs` is registered under.
pub const DEFAULT_SCHEME_NAME: &str = "file";

/// `timespec.tv_nsec` meaning "set this time to now" (relibc and Linux share the value).
pub const UTIME_NOW: i32 = (1 << 30) - 1;
/// `timespec.tv_nsec` meaning "leave this time alone".
pub const UTIME_OMIT: i32 = (1 << 30) - 2;

/// Longest path a call takes, with its terminating NUL (Linux's `PATH_MAX`): longer ones are
/// `ENAMETOOLONG` before anything is looked up.
const PATH_MAX: usize = 4096;

/// Symlinks followed in one lookup before `ELOOP` (Linux's limit).
const MAX_SYMLINK_HOPS: u32 = 40;

/// Linux `O_PATH`: a host handle that only names the inode (for fstat).
#[cfg(target_os = "linux")]
const HOST_O_PATH: i32 = 0o10_000_000;
/// Linux `O_NOFOLLOW`, for host `O_PATH` opens of a symlink itself.
#[cfg(target_os = "linux")]
const HOST_O_NOFOLLOW: i32 = 0o400_000;

/// Permission bits for [`may`].
const MAY_READ: u32 = 4;
/// Write permission.
const MAY_WRITE: u32 = 2;
/// Search (directories) permission.
const MAY_EXEC: u32 = 1;

/// Called with a feed handle id when that feed becomes readable (empty -> non-empty). The
/// host kernel glue turns it into `Response::post_fevent(id, EVENT_READ)` on the socket.
pub type FeedNotifier = Box<dyn FnMut(usize) + Send>;

/// The facts a node handle reports about itself as it is used.
#[derive(Clone, Copy)]
enum NodeFact {
    /// `Fact::Opened`.
    Opened,
    /// `Fact::Accessed`.
    Accessed,
    /// `Fact::Modified` by a write: detached when the handle's name was removed (Linux
    /// reports writes with the open file's path).
    Written,
    /// `Fact::Modified` by a truncation: never detached (Linux reports it as an attribute
    /// change of the dentry, which IN_EXCL_UNLINK does not filter).
    Truncated,
}

/// What a handle refers to.
enum Handle {
    /// A file, directory or symlink under the root.
    Node(Node),
    /// The feed (opened by `dup(fd, FEED_DUP_NAME)`).
    Feed,
}

/// A handle on an inode under the root.
struct Node {
    /// Path from the root, one entry per component (empty = the root itself).
    comps: Vec<String>,
    /// The host file: opened for the requested access, or a host `O_PATH` handle; `None`
    /// for a symlink being created.
    file: Option<File>,
    /// Whether `file` was opened for real I/O (not a host `O_PATH` handle).
    io: bool,
    /// Host inode number (`st_ino`).
    ino: u64,
    /// Whether the inode is a directory.
    is_dir: bool,
    /// Whether the handle is on a symlink itself.
    is_symlink: bool,
    /// Parent directory inode of the name the handle was reached by (0 for the root).
    dir: u64,
    /// The name the handle was reached by (empty for the root).
    name: String,
    /// Open flags: access mode and fcntl flags (`F_GETFL`).
    flags: usize,
    /// Opened for writing: its close is `CLOSE_WRITE`.
    for_write: bool,
    /// Reports no open, access, modify or close facts (O_STAT opens, the scheme root,
    /// mkdir and symlink handles).
    silent: bool,
    /// The name it was reached by was removed (unlink, or replaced by a rename): Linux's
    /// `d_unlinked()` on the open file's dentry.
    unlinked: bool,
    /// Which removal detached it (0 while attached): the handles detached by one removal
    /// share one number and hold one (Linux: one dentry) removed name.
    detach_id: u64,
    /// Uid and gid of the caller that opened it: the credentials of the two-handle calls
    /// (`frenameat`, `flinkat`), whose requests carry a handle id where the caller's
    /// credentials would be.
    opener: (u32, u32),
    /// `O_CREAT | O_SYMLINK` handle: the link is created at the first write of its target.
    pending_symlink: bool,
    /// Directory listing snapshot taken at `getdents` offset 0.
    dirents: Vec<(u64, String, DirentKind)>,
}

impl Node {
    /// The name this handle holds (name following, `inotify_feed::HeldName`).
    fn held(&self) -> HeldName<'_> {
        HeldName {
            dir: self.dir,
            name: self.name.as_bytes(),
            detach: self.detach_id,
        }
    }

    /// The subject of a fact through this handle, as the shared name-following rule gives
    /// it; `None` when this (silent) handle does not report `what`.
    fn subject(&self, what: NameUse) -> Option<Subject<'_>> {
        self.held()
            .subject(self.ino, self.is_dir, self.silent, what)
    }

    /// Whether it was opened with read access.
    fn readable(&self) -> bool {
        let acc = self.flags & O_ACCMODE;
        acc == O_RDONLY || acc == O_RDWR
    }
}

inotify_feed::follow_names!(Node, Handle);

/// The result of a path lookup.
struct Lookup {
    /// Components of the object from the root (the root is empty).
    comps: Vec<String>,
    /// `lstat` of the object, `None` when the last component does not exist.
    meta: Option<Metadata>,
}

/// A `file`-like scheme over a host directory that reports feed facts.
pub struct HostFs {
    /// The host directory serving as root (canonical).
    root: PathBuf,
    /// The scheme name (`fpath` prefix).
    scheme_name: String,
    /// Open handles by id.
    handles: BTreeMap<usize, Handle>,
    /// Next handle id.
    next_id: usize,
    /// The feed: its handles, the producer, and the numbers of [`Node::detach_id`].
    feed: FeedEndpoint<SharedProducer>,
    /// Removed directories something open still holds, awaiting their `Freed`.
    removed_dirs: RemovedDirs,
    /// Whether the host process may chown (it is root).
    host_is_root: bool,
    /// The producer, shared so tests and tools can look at its counters.
    producer: Arc<Mutex<Producer>>,
    /// Posts read readiness of a feed handle.
    notifier: Option<FeedNotifier>,
    /// Whether it has a feed: when not, it records no facts, opens no feed handle and
    /// answers no identity call (`EOPNOTSUPP`), as a filesystem without the feed patch.
    instrumented: bool,
    /// Where the feed ring's memory comes from (set by [`HostFs::spawn`]); `None`: the feed
    /// handle cannot be mapped (`EOPNOTSUPP`) and the daemon reads it.
    memory: Option<super::SchemeMemory>,
    /// Whether the feed handle may be mapped (see [`HostFs::without_ring`]).
    ring: bool,
}

/// The producer behind a mutex, so that tests and tools can read its counters while the
/// scheme runs.
struct SharedProducer(Arc<Mutex<Producer>>);

impl ProducerCell for SharedProducer {
    fn with<R>(&mut self, f: impl FnOnce(&mut Producer) -> R) -> R {
        // A poisoned lock still holds a consistent producer: every producer method leaves it
        // consistent before it could panic.
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Maps a host I/O error to an errno (Redox shares Linux's numbers for these).
fn host_err(e: io::Error) -> Error {
    Error::new(e.raw_os_error().unwrap_or(EIO))
}

/// Whether a caller with `uid`/`gid` has the `want` permission bits on `meta`. Root has all
/// (search on a non-directory still needs one execute bit, which callers never ask here).
fn may(meta: &Metadata, uid: u32, gid: u32, want: u32) -> bool {
    if uid == 0 {
        return true;
    }
    let mode = meta.mode();
    let bits = if meta.uid() == uid {
        (mode >> 6) & 7
    } else if meta.gid() == gid {
        (mode >> 3) & 7
    } else {
        mode & 7
    };
    bits & want == want
}

/// The dirent kind of a host file type.
fn dirent_kind(ft: fs::FileType) -> DirentKind {
    if ft.is_dir() {
        DirentKind::Directory
    } else if ft.is_symlink() {
        DirentKind::Symlink
    } else if ft.is_file() {
        DirentKind::Regular
    } else {
        DirentKind::Unspecified
    }
}

/// Links an inode has left after one of its names was removed (directories: none).
fn links_after_unlink(meta: &Metadata) -> u64 {
    if meta.is_dir() {
        0
    } else {
        meta.nlink().saturating_sub(1)
    }
}

/// A time from a `TimeSpec`; `None` for `UTIME_OMIT`.
fn spec_time(ts: &TimeSpec) -> Result<Option<SystemTime>> {
    match ts.tv_nsec {
        UTIME_OMIT => Ok(None),
        UTIME_NOW => Ok(Some(SystemTime::now())),
        ns if (0..1_000_000_000).contains(&ns) => {
            let d = Duration::new(ts.tv_sec.unsigned_abs(), ns as u32);
            let t = if ts.tv_sec >= 0 {
                UNIX_EPOCH.checked_add(d)
            } else {
                UNIX_EPOCH.checked_sub(d)
            };
            t.map(Some).ok_or(Error::new(EINVAL))
        }
        _ => Err(Error::new(EINVAL)),
    }
}

impl HostFs {
    /// Serves `root` (an existing host directory) with a feed of
    /// [`DEFAULT_FEED_CAPACITY`] bytes, under the scheme name `file`.
    pub fn new(root: impl Into<PathBuf>) -> io::Result<Self> {
        Self::with_options(root, DEFAULT_SCHEME_NAME, DEFAULT_FEED_CAPACITY)
    }

    /// Serves `root` under `scheme_name` with a feed buffer of `feed_capacity` bytes.
    pub fn with_options(
        root: impl Into<PathBuf>,
        scheme_name: &str,
        feed_capacity: usize,
    ) -> io::Result<Self> {
        let root = fs::canonicalize(root.into())?;
        if !fs::metadata(&root)?.is_dir() {
            return Err(io::Error::from_raw_os_error(ENOTDIR));
        }
        let host_is_root = fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        let producer = Arc::new(Mutex::new(Producer::new(feed_capacity)));
        Ok(HostFs {
            root,
            scheme_name: scheme_name.to_string(),
            handles: BTreeMap::new(),
            next_id: 1,
            feed: FeedEndpoint::new(SharedProducer(Arc::clone(&producer))),
            removed_dirs: RemovedDirs::new(),
            host_is_root,
            producer,
            notifier: None,
            instrumented: true,
            memory: None,
            ring: true,
        })
    }

    /// Serves `root` under the scheme name `file` with no feed at all: a filesystem that
    /// was not patched, for an interposer to stand in front of.
    pub fn uninstrumented(root: impl Into<PathBuf>) -> io::Result<Self> {
        let mut fs = Self::with_options(root, DEFAULT_SCHEME_NAME, 0)?;
        fs.instrumented = false;
        Ok(fs)
    }

    /// The same filesystem whose feed handle cannot be mapped (`mmap` is `EOPNOTSUPP`), so
    /// the daemon reads the feed: a filesystem that cannot share memory.
    pub fn without_ring(mut self) -> Self {
        self.ring = false;
        self
    }

    /// Whether it has a feed (see [`HostFs::uninstrumented`]).
    pub fn is_instrumented(&self) -> bool {
        self.instrumented
    }

    /// The host directory served.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The scheme name.
    pub fn scheme_name(&self) -> &str {
        &self.scheme_name
    }

    /// The producer (shared): its counters show what was recorded or dropped.
    pub fn producer(&self) -> Arc<Mutex<Producer>> {
        Arc::clone(&self.producer)
    }

    /// Sets the callback that posts read readiness of a feed handle.
    pub fn set_feed_notifier(&mut self, notifier: FeedNotifier) {
        self.notifier = Some(notifier);
    }

    /// Registers this filesystem on `kernel` under its scheme name and serves it on its own
    /// thread; feed readiness is posted through the socket's poster. The thread ends when
    /// the scheme is shut down (`Kernel::shutdown_scheme`) and returns the `HostFs`.
    pub fn spawn(mut self, kernel: &Kernel) -> Result<SchemeThread<HostFs>> {
        let root_id = self.scheme_root()?;
        let socket = kernel.register(&self.scheme_name, root_id)?;
        let poster = socket.poster();
        if self.ring {
            self.memory = Some(socket.memory());
        }
        self.set_feed_notifier(Box::new(move |id| {
            poster.post_fevent(id, EventFlags::EVENT_READ);
        }));
        Ok(spawn_scheme_thread(socket, self))
    }

    /// Reports that the filesystem is going away (`Fact::Unmounted`).
    pub fn unmount(&mut self) {
        self.report(&Fact::Unmounted);
    }

    /// The host path of `comps`.
    fn host_path(&self, comps: &[String]) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(comps);
        p
    }

    /// `lstat` of `comps`.
    fn lstat(&self, comps: &[String]) -> Result<Metadata> {
        fs::symlink_metadata(self.host_path(comps)).map_err(host_err)
    }

    /// Inode number of the directory `comps`.
    fn dir_ino(&self, comps: &[String]) -> Result<u64> {
        Ok(self.lstat(comps)?.ino())
    }

    /// Allocates a handle id.
    fn insert(&mut self, handle: Handle) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        self.handles.insert(id, handle);
        id
    }

    /// The node behind `id`.
    fn node(&self, id: usize) -> Result<&Node> {
        match self.handles.get(&id) {
            Some(Handle::Node(n)) => Ok(n),
            Some(Handle::Feed) => Err(Error::new(EINVAL)),
            None => Err(Error::new(EBADF)),
        }
    }

    /// The node behind `id`, mutably.
    fn node_mut(&mut self, id: usize) -> Result<&mut Node> {
        match self.handles.get_mut(&id) {
            Some(Handle::Node(n)) => Ok(n),
            Some(Handle::Feed) => Err(Error::new(EINVAL)),
            None => Err(Error::new(EBADF)),
        }
    }
}
