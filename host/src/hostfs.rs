//! `HostFs`: a `file`-like scheme over a real host directory, instrumented with the feed.
//!
//! Every request performs the real operation on the host (`std::fs`, `std::os::unix`) below
//! one root directory, and reports what happened as a feed [`Fact`] through one
//! [`Producer`], exactly as the redoxfs patch does on Redox. The inotify daemon opens the
//! feed with `dup(fd, FEED_DUP_NAME)` (root only), reads batches from it and writes interest
//! messages to it.
//!
//! Every handle remembers the inode it is on (host `st_ino`), whether it is a directory, the
//! parent directory and name it was reached by, and whether it was opened for writing, so a
//! fact can name the child to a watching parent and a close can say `CLOSE_WRITE` or
//! `CLOSE_NOWRITE`.
//!
//! Paths are resolved here, component by component, with symlinks followed inside the root
//! only (an absolute symlink target means the root of this scheme) and `..` at the root
//! refused with `EACCES`: nothing outside the root can be reached. The host process may run
//! as root; callers' permissions are emulated from the mode bits with the uid/gid each
//! request carries (root bypasses them, as usual).
//!
//! Redox creates directories and symlinks with `open(O_CREAT | O_DIRECTORY)` and
//! `open(O_CREAT | O_SYMLINK)` + `write(target)`; those handles report only the creation
//! (`mkdir` and `symlink` give one `IN_CREATE` on Linux), never an open, a write or a close.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{
    DirBuilderExt, DirEntryExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use inotify_abi::consts::NAME_MAX;
use inotify_abi::feed::{Fact, Replaced, Subject};
use inotify_abi::proto::FEED_DUP_NAME;
use inotify_feed::Producer;

use super::{spawn_scheme_thread, Kernel, SchemeThread};
use inotifyd::scheme::copy_at;
use redox_scheme::scheme::SchemeSync;
use redox_scheme::{CallerCtx, OpenResult};
use syscall::dirent::{DirEntry, DirentBuf, DirentKind};
use syscall::error::{
    Error, Result, EACCES, EBADF, EBUSY, EEXIST, EINVAL, EIO, EISDIR, ELOOP, ENAMETOOLONG, ENOENT,
    ENOTDIR, EPERM,
};
use syscall::flag::{
    EventFlags, StdFsCallKind, AT_REMOVEDIR, F_GETFL, F_SETFL, MODE_DIR, MODE_FILE, MODE_PERM,
    MODE_SYMLINK, MODE_TYPE, O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_FCNTL_MASK,
    O_NOFOLLOW, O_RDONLY, O_RDWR, O_STAT, O_SYMLINK, O_TRUNC, O_WRONLY,
};
use syscall::schemev2::NewFdFlags;
use syscall::{Stat, StdFsCallMeta, TimeSpec};

/// Default capacity of the feed buffer, bytes.
pub const DEFAULT_FEED_CAPACITY: usize = 256 * 1024;

/// Default scheme name a `HostFs` is registered under.
pub const DEFAULT_SCHEME_NAME: &str = "file";

/// `timespec.tv_nsec` meaning "set this time to now" (relibc and Linux share the value).
pub const UTIME_NOW: i32 = (1 << 30) - 1;
/// `timespec.tv_nsec` meaning "leave this time alone".
pub const UTIME_OMIT: i32 = (1 << 30) - 2;

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
    /// The fact subject for an open, access, write or close through this handle.
    fn subject(&self) -> Subject<'_> {
        Subject {
            ino: self.ino,
            is_dir: self.is_dir,
            dir: self.dir,
            name: self.name.as_bytes(),
            detached: self.unlinked,
        }
    }

    /// The fact subject for an attribute change through this handle (never detached).
    fn attr_subject(&self) -> Subject<'_> {
        Subject {
            detached: false,
            ..self.subject()
        }
    }

    /// Whether this handle holds the (still linked) name `comps` of inode `ino`.
    fn holds(&self, comps: &[String], ino: u64) -> bool {
        !self.unlinked && !self.pending_symlink && self.ino == ino && self.comps == comps
    }

    /// Whether it was opened with read access.
    fn readable(&self) -> bool {
        let acc = self.flags & O_ACCMODE;
        acc == O_RDONLY || acc == O_RDWR
    }
}

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
    /// Feed handle ids.
    feeds: BTreeSet<usize>,
    /// The last [`Node::detach_id`] handed out.
    last_detach: u64,
    /// Whether the host process may chown (it is root).
    host_is_root: bool,
    /// The producer, shared so tests and tools can look at its counters.
    producer: Arc<Mutex<Producer>>,
    /// Posts read readiness of a feed handle.
    notifier: Option<FeedNotifier>,
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

/// The last component of `path` as written, refusing `.` and `..` (`EINVAL`, as Linux does
/// for rmdir/rename/link targets) and over-long names.
fn check_last_component(path: &str) -> Result<()> {
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(".") | Some("..") => Err(Error::new(EINVAL)),
        Some("") => Err(Error::new(ENOENT)),
        Some(n) if n.len() > NAME_MAX => Err(Error::new(ENAMETOOLONG)),
        _ => Ok(()),
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
        Ok(HostFs {
            root,
            scheme_name: scheme_name.to_string(),
            handles: BTreeMap::new(),
            next_id: 1,
            feeds: BTreeSet::new(),
            last_detach: 0,
            host_is_root,
            producer: Arc::new(Mutex::new(Producer::new(feed_capacity))),
            notifier: None,
        })
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
        self.set_feed_notifier(Box::new(move |id| {
            poster.post_fevent(id, EventFlags::EVENT_READ);
        }));
        Ok(spawn_scheme_thread(socket, self))
    }

    /// Reports that the filesystem is going away (`Fact::Unmounted`).
    pub fn unmount(&mut self) {
        self.report(&Fact::Unmounted);
    }

    /// Locks the producer (a poisoned lock still holds a consistent producer: every
    /// producer method leaves it consistent before it could panic).
    fn lock_producer(&self) -> MutexGuard<'_, Producer> {
        self.producer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a fact; on the empty -> non-empty edge, posts readiness on every feed handle.
    fn report(&mut self, fact: &Fact<'_>) {
        let edge = self.lock_producer().record(fact);
        if edge {
            if let Some(notify) = self.notifier.as_mut() {
                for &id in &self.feeds {
                    notify(id);
                }
            }
        }
    }

    /// Records an open, access or modification through node handle `id`, unless the handle
    /// is silent.
    fn report_node(&mut self, id: usize, what: NodeFact) {
        let Some(Handle::Node(node)) = self.handles.get(&id) else {
            return;
        };
        if node.silent {
            return;
        }
        let at = node.subject();
        let fact = match what {
            NodeFact::Opened => Fact::Opened(at),
            NodeFact::Accessed => Fact::Accessed(at),
            NodeFact::Written => Fact::Modified(at),
            NodeFact::Truncated => Fact::Modified(node.attr_subject()),
        };
        let edge = self.lock_producer().record(&fact);
        if edge {
            if let Some(notify) = self.notifier.as_mut() {
                for &fid in &self.feeds {
                    notify(fid);
                }
            }
        }
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

    /// `ctx` with the credentials handle `id` was opened with: two-handle requests carry the
    /// second handle's id where the caller's uid and gid would be (redox-scheme 0.12), so
    /// those calls act with the credentials of the caller that opened the first handle
    /// (`Process::rename` opens it just before).
    fn opener_ctx(&self, id: usize, ctx: &CallerCtx) -> Result<CallerCtx> {
        let (uid, gid) = self.node(id)?.opener;
        Ok(CallerCtx {
            pid: ctx.pid,
            uid,
            gid,
            id: ctx.id,
        })
    }

    /// Resolves the parent directory of `path` from `base`, as Linux's `filename_parentat`:
    /// every component but the last, which is returned as written (with any trailing
    /// slashes). `ENOTDIR` when the parent is not a directory.
    fn parent_of<'p>(
        &self,
        base: &[String],
        path: &'p str,
        ctx: &CallerCtx,
    ) -> Result<(Vec<String>, &'p str)> {
        let trimmed = path.trim_end_matches('/');
        let Some(cut) = trimmed.rfind('/') else {
            return Ok((base.to_vec(), path));
        };
        let (parent, last) = (&path[..=cut], &path[cut + 1..]);
        let found = self.lookup(base, parent, true, ctx)?;
        match found.meta {
            Some(meta) if meta.is_dir() => Ok((found.comps, last)),
            Some(_) => Err(Error::new(ENOTDIR)),
            None => Err(Error::new(ENOENT)),
        }
    }

    /// The components of directory handle `id` (a base for relative lookups).
    fn base_dir(&self, id: usize) -> Result<Vec<String>> {
        let node = self.node(id)?;
        if !node.is_dir {
            return Err(Error::new(ENOTDIR));
        }
        if node.unlinked {
            return Err(Error::new(ENOENT));
        }
        Ok(node.comps.clone())
    }

    /// Resolves `path` from `base` for a caller: components are looked up one by one,
    /// symlinks are followed inside the root (the last one only when `follow_last`), search
    /// permission is checked on every directory passed, and `..` never leaves the root.
    fn lookup(
        &self,
        base: &[String],
        path: &str,
        follow_last: bool,
        ctx: &CallerCtx,
    ) -> Result<Lookup> {
        let mut comps: Vec<String> = if path.starts_with('/') {
            Vec::new()
        } else {
            base.to_vec()
        };
        let mut pending: VecDeque<String> = path.split('/').map(str::to_string).collect();
        let mut hops = 0u32;
        let mut meta = self.lstat(&comps)?;
        loop {
            // Skip empty and `.` components; remember whether a slash followed the name.
            while pending.front().is_some_and(|c| c.is_empty() || c == ".") {
                pending.pop_front();
            }
            let Some(comp) = pending.pop_front() else {
                return Ok(Lookup {
                    comps,
                    meta: Some(meta),
                });
            };
            if !meta.is_dir() {
                return Err(Error::new(ENOTDIR));
            }
            if !may(&meta, ctx.uid, ctx.gid, MAY_EXEC) {
                return Err(Error::new(EACCES));
            }
            if comp == ".." {
                if comps.pop().is_none() {
                    return Err(Error::new(EACCES));
                }
                meta = self.lstat(&comps)?;
                continue;
            }
            if comp.len() > NAME_MAX {
                return Err(Error::new(ENAMETOOLONG));
            }
            let last = pending.iter().all(|c| c.is_empty() || c == ".");
            let trailing_slash = last && !pending.is_empty();
            comps.push(comp);
            let child = match fs::symlink_metadata(self.host_path(&comps)) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound && last => {
                    return Ok(Lookup { comps, meta: None });
                }
                Err(e) => return Err(host_err(e)),
            };
            if child.file_type().is_symlink() && (!last || follow_last || trailing_slash) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(Error::new(ELOOP));
                }
                let target = fs::read_link(self.host_path(&comps)).map_err(host_err)?;
                let target = target.to_str().ok_or(Error::new(EINVAL))?.to_string();
                comps.pop();
                if target.starts_with('/') {
                    comps.clear();
                }
                for part in target.split('/').rev() {
                    pending.push_front(part.to_string());
                }
                meta = self.lstat(&comps)?;
                continue;
            }
            if trailing_slash && !child.is_dir() {
                return Err(Error::new(ENOTDIR));
            }
            meta = child;
        }
    }

    /// Checks that a caller may add or remove names in directory `comps`.
    fn check_dir_writable(&self, comps: &[String], ctx: &CallerCtx) -> Result<Metadata> {
        let meta = self.lstat(comps)?;
        if !meta.is_dir() {
            return Err(Error::new(ENOTDIR));
        }
        if !may(&meta, ctx.uid, ctx.gid, MAY_WRITE | MAY_EXEC) {
            return Err(Error::new(EACCES));
        }
        Ok(meta)
    }

    /// Gives a new host file to the caller, when the host process can.
    fn give_to_caller(&self, comps: &[String], ctx: &CallerCtx) {
        if self.host_is_root {
            // Best effort: a failure leaves the file owned by root, which only tightens access.
            let _ = std::os::unix::fs::lchown(self.host_path(comps), Some(ctx.uid), Some(ctx.gid));
        }
    }

    /// Opens the host file behind `comps` for a new handle.
    fn host_open(&self, comps: &[String], meta: &Metadata, flags: usize) -> Result<(File, bool)> {
        let path = self.host_path(comps);
        let acc = flags & O_ACCMODE;
        let stat_only =
            flags & O_STAT != 0 || (acc != O_RDONLY && acc != O_WRONLY && acc != O_RDWR);
        if meta.file_type().is_symlink() || stat_only {
            return Self::host_open_path(&path, meta.file_type().is_symlink()).map(|f| (f, false));
        }
        let mut opts = OpenOptions::new();
        if meta.is_dir() {
            opts.read(true);
        } else {
            opts.read(acc == O_RDONLY || acc == O_RDWR);
            opts.write(acc == O_WRONLY || acc == O_RDWR);
        }
        let file = opts.open(&path).map_err(host_err)?;
        Ok((file, true))
    }

    /// A host handle that only names the inode.
    #[cfg(target_os = "linux")]
    fn host_open_path(path: &std::path::Path, nofollow: bool) -> Result<File> {
        let flags = HOST_O_PATH | if nofollow { HOST_O_NOFOLLOW } else { 0 };
        OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)
            .map_err(host_err)
    }

    /// A host handle that only names the inode (read access where `O_PATH` is unknown).
    #[cfg(not(target_os = "linux"))]
    fn host_open_path(path: &std::path::Path, _nofollow: bool) -> Result<File> {
        OpenOptions::new().read(true).open(path).map_err(host_err)
    }

    /// Current metadata of a node (through its host handle when it has one).
    fn node_meta(&self, node: &Node) -> Result<Metadata> {
        match &node.file {
            Some(f) => f.metadata().map_err(host_err),
            None => self.lstat(&node.comps),
        }
    }

    /// Creates the object named by `found` for an `O_CREAT` open; returns its metadata and
    /// whether the new handle is silent (directories and symlinks).
    fn create(
        &mut self,
        found: &Lookup,
        flags: usize,
        ctx: &CallerCtx,
    ) -> Result<Option<(Metadata, bool)>> {
        let Some((name, parent)) = found.comps.split_last() else {
            return Err(Error::new(EEXIST)); // the root always exists
        };
        self.check_dir_writable(parent, ctx)?;
        let path = self.host_path(&found.comps);
        let mode = (flags & usize::from(MODE_PERM)) as u32;
        if flags & O_SYMLINK != 0 {
            // Created at the first write, when the target is known.
            return Ok(None);
        }
        if flags & O_DIRECTORY != 0 {
            fs::DirBuilder::new()
                .mode(mode)
                .create(&path)
                .map_err(host_err)?;
        } else {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&path)
                .map_err(host_err)?;
        }
        // The caller's umask was applied by its libc; the host's must not apply again.
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(host_err)?;
        self.give_to_caller(&found.comps, ctx);
        let meta = self.lstat(&found.comps)?;
        let dir = self.dir_ino(parent)?;
        self.report(&Fact::Created {
            dir,
            name: name.as_bytes(),
            ino: meta.ino(),
            is_dir: meta.is_dir(),
        });
        Ok(Some((meta, flags & O_DIRECTORY != 0)))
    }

    /// `openat`, once the base directory is known.
    fn open_from(
        &mut self,
        base: &[String],
        path: &str,
        flags: usize,
        ctx: &CallerCtx,
    ) -> Result<OpenResult> {
        // O_CREAT | O_EXCL never follows a final symlink: a dangling one is EEXIST.
        let excl = flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL;
        let follow = flags & (O_NOFOLLOW | O_SYMLINK) == 0 && !excl;
        let found = self.lookup(base, path, follow, ctx)?;
        let acc = flags & O_ACCMODE;
        let stat_only = flags & O_STAT != 0;
        let want_write = !stat_only && (acc == O_WRONLY || acc == O_RDWR);
        let want_read = !stat_only && (acc == O_RDONLY || acc == O_RDWR);
        let (meta, created, silent_create) = match &found.meta {
            Some(meta) => {
                if flags & O_CREAT != 0 && flags & O_EXCL != 0 {
                    return Err(Error::new(EEXIST));
                }
                (meta.clone(), false, false)
            }
            None if flags & O_CREAT != 0 => {
                check_last_component(path)?;
                match self.create(&found, flags, ctx)? {
                    Some((meta, silent)) => (meta, true, silent),
                    None => return self.open_pending_symlink(found, flags, ctx),
                }
            }
            None => return Err(Error::new(ENOENT)),
        };
        let is_dir = meta.is_dir();
        let is_symlink = meta.file_type().is_symlink();
        if is_symlink && !stat_only && flags & O_SYMLINK == 0 {
            return Err(Error::new(ELOOP));
        }
        if flags & O_DIRECTORY != 0 && !is_dir && !stat_only {
            return Err(Error::new(ENOTDIR));
        }
        if is_dir && (want_write || flags & O_TRUNC != 0) {
            return Err(Error::new(EISDIR));
        }
        if !created {
            let mut want = 0;
            if want_read {
                want |= MAY_READ;
            }
            if want_write || (flags & O_TRUNC != 0 && !is_dir) {
                want |= MAY_WRITE;
            }
            if !may(&meta, ctx.uid, ctx.gid, want) {
                return Err(Error::new(EACCES));
            }
        }
        let (file, io) = self.host_open(&found.comps, &meta, flags)?;
        let (dir, name) = match found.comps.split_last() {
            Some((name, parent)) => (self.dir_ino(parent)?, name.clone()),
            None => (0, String::new()),
        };
        let truncate = flags & O_TRUNC != 0 && !created && meta.is_file() && !stat_only;
        if truncate {
            OpenOptions::new()
                .write(true)
                .open(self.host_path(&found.comps))
                .and_then(|f| f.set_len(0))
                .map_err(host_err)?;
        }
        let node = Node {
            comps: found.comps,
            file: Some(file),
            io,
            ino: meta.ino(),
            is_dir,
            is_symlink,
            dir,
            name,
            flags: flags & (O_ACCMODE | O_FCNTL_MASK | O_STAT | O_SYMLINK | O_DIRECTORY),
            for_write: want_write,
            silent: stat_only || silent_create,
            unlinked: false,
            detach_id: 0,
            opener: (ctx.uid, ctx.gid),
            pending_symlink: false,
            dirents: Vec::new(),
        };
        let positioned = meta.is_file() || is_symlink;
        let id = self.insert(Handle::Node(node));
        self.report_node(id, NodeFact::Opened);
        if truncate {
            self.report_node(id, NodeFact::Truncated);
        }
        let flags = if positioned {
            NewFdFlags::POSITIONED
        } else {
            NewFdFlags::empty()
        };
        Ok(OpenResult::ThisScheme { number: id, flags })
    }

    /// A handle for `open(O_CREAT | O_SYMLINK)` of a new name: the symlink is made when its
    /// target is written.
    fn open_pending_symlink(
        &mut self,
        found: Lookup,
        flags: usize,
        ctx: &CallerCtx,
    ) -> Result<OpenResult> {
        let (dir, name) = match found.comps.split_last() {
            Some((name, parent)) => (self.dir_ino(parent)?, name.clone()),
            None => return Err(Error::new(EEXIST)),
        };
        let node = Node {
            comps: found.comps,
            file: None,
            io: false,
            ino: 0,
            is_dir: false,
            is_symlink: true,
            dir,
            name,
            flags: flags & (O_ACCMODE | O_FCNTL_MASK | O_SYMLINK),
            for_write: true,
            silent: true,
            unlinked: false,
            detach_id: 0,
            opener: (ctx.uid, ctx.gid),
            pending_symlink: true,
            dirents: Vec::new(),
        };
        let id = self.insert(Handle::Node(node));
        Ok(OpenResult::ThisScheme {
            number: id,
            flags: NewFdFlags::empty(),
        })
    }

    /// Writes the target of a pending symlink: creates the link.
    fn write_symlink_target(&mut self, id: usize, buf: &[u8], ctx: &CallerCtx) -> Result<usize> {
        let node = self.node(id)?;
        let target = std::str::from_utf8(buf).map_err(|_| Error::new(EINVAL))?;
        if target.is_empty() || target.contains('\0') {
            return Err(Error::new(ENOENT));
        }
        let comps = node.comps.clone();
        let (dir, name) = (node.dir, node.name.clone());
        std::os::unix::fs::symlink(target, self.host_path(&comps)).map_err(host_err)?;
        self.give_to_caller(&comps, ctx);
        let meta = self.lstat(&comps)?;
        let file = Self::host_open_path(&self.host_path(&comps), true).ok();
        let node = self.node_mut(id)?;
        node.ino = meta.ino();
        node.file = file;
        node.pending_symlink = false;
        self.report(&Fact::Created {
            dir,
            name: name.as_bytes(),
            ino: meta.ino(),
            is_dir: false,
        });
        Ok(buf.len())
    }

    /// Whether an open handle holds the name `comps` of inode `ino` (Linux: the name's
    /// dentry is in use, so removing it leaves the inode's end to the last close).
    fn name_held(&self, comps: &[String], ino: u64) -> bool {
        self.handles
            .values()
            .any(|h| matches!(h, Handle::Node(n) if n.holds(comps, ino)))
    }

    /// Whether a `Freed` is due at the close of `node`: its name was removed, no other open
    /// handle holds that removed name, and the inode has no links left.
    fn frees_at_close(&self, node: &Node) -> bool {
        if !node.unlinked || node.pending_symlink {
            return false;
        }
        debug_assert_ne!(node.detach_id, 0);
        let shared = self
            .handles
            .values()
            .any(|h| matches!(h, Handle::Node(n) if n.unlinked && n.detach_id == node.detach_id));
        let links = match node.file.as_ref().map(File::metadata) {
            Some(Ok(meta)) => meta.nlink(),
            _ => 0,
        };
        !shared && links == 0
    }

    /// Detaches the handles holding the name `comps` of `ino`: the name was removed.
    fn mark_unlinked(&mut self, comps: &[String], ino: u64) {
        self.last_detach += 1;
        let id = self.last_detach;
        for h in self.handles.values_mut() {
            if let Handle::Node(n) = h {
                if n.holds(comps, ino) {
                    n.unlinked = true;
                    n.detach_id = id;
                }
            }
        }
    }

    /// `unlinkat` once the base is known.
    fn unlink_from(
        &mut self,
        base: &[String],
        path: &str,
        flags: usize,
        ctx: &CallerCtx,
    ) -> Result<()> {
        check_last_component(path)?;
        let found = self.lookup(base, path, false, ctx)?;
        let meta = found.meta.ok_or(Error::new(ENOENT))?;
        let Some((name, parent)) = found.comps.split_last() else {
            return Err(Error::new(EBUSY));
        };
        self.check_dir_writable(parent, ctx)?;
        let host = self.host_path(&found.comps);
        if flags & AT_REMOVEDIR != 0 {
            if !meta.is_dir() {
                return Err(Error::new(ENOTDIR));
            }
            fs::remove_dir(&host).map_err(host_err)?;
        } else {
            if meta.is_dir() {
                return Err(Error::new(EISDIR));
            }
            fs::remove_file(&host).map_err(host_err)?;
        }
        let dir = self.dir_ino(parent)?;
        let ino = meta.ino();
        let links_left = links_after_unlink(&meta);
        let freed = links_left == 0 && !self.name_held(&found.comps, ino);
        self.mark_unlinked(&found.comps, ino);
        self.report(&Fact::Unlinked {
            dir,
            name: name.as_bytes(),
            ino,
            is_dir: meta.is_dir(),
            links_left,
            freed,
        });
        Ok(())
    }

    /// Renames `from` (an existing name) to `to`, for a caller.
    fn rename(&mut self, from: Lookup, to: Lookup, ctx: &CallerCtx) -> Result<usize> {
        let src = from.meta.as_ref().ok_or(Error::new(ENOENT))?;
        let (Some((old_name, old_parent)), Some((new_name, new_parent))) =
            (from.comps.split_last(), to.comps.split_last())
        else {
            return Err(Error::new(EBUSY));
        };
        // Linux checks ancestry before permissions and kinds: a directory into its own
        // subtree, or a target that is an ancestor of the source.
        if src.is_dir() && to.comps.starts_with(&from.comps) && to.comps != from.comps {
            return Err(Error::new(EINVAL));
        }
        if from.comps.starts_with(&to.comps) && to.comps != from.comps {
            return Err(Error::new(syscall::error::ENOTEMPTY));
        }
        self.check_dir_writable(old_parent, ctx)?;
        self.check_dir_writable(new_parent, ctx)?;
        if let Some(dst) = &to.meta {
            if dst.ino() == src.ino() && dst.dev() == src.dev() {
                return Ok(0); // Same inode: nothing happens, nothing is reported.
            }
            if src.is_dir() && !dst.is_dir() {
                return Err(Error::new(ENOTDIR));
            }
            if !src.is_dir() && dst.is_dir() {
                return Err(Error::new(EISDIR));
            }
        }
        fs::rename(self.host_path(&from.comps), self.host_path(&to.comps)).map_err(host_err)?;
        let old_dir = self.dir_ino(old_parent)?;
        let new_dir = self.dir_ino(new_parent)?;
        let replaced = to.meta.as_ref().map(|dst| {
            let links_left = links_after_unlink(dst);
            Replaced {
                ino: dst.ino(),
                is_dir: dst.is_dir(),
                links_left,
                freed: links_left == 0 && !self.name_held(&to.comps, dst.ino()),
            }
        });
        if let Some(r) = replaced {
            self.mark_unlinked(&to.comps, r.ino);
        }
        self.move_handles(&from.comps, &to.comps, src.ino(), new_dir, new_name);
        self.report(&Fact::Renamed {
            old_dir,
            old_name: old_name.as_bytes(),
            new_dir,
            new_name: new_name.as_bytes(),
            ino: src.ino(),
            is_dir: src.is_dir(),
            replaced,
        });
        Ok(0)
    }

    /// After a rename of `from` to `to`: handles below `from` now live below `to`, and those
    /// reached through the moved name itself have a new parent and name.
    fn move_handles(
        &mut self,
        from: &[String],
        to: &[String],
        ino: u64,
        new_dir: u64,
        new_name: &str,
    ) {
        for h in self.handles.values_mut() {
            let Handle::Node(n) = h else { continue };
            if n.unlinked || !n.comps.starts_with(from) {
                continue;
            }
            if n.comps.len() == from.len() && n.ino == ino {
                n.dir = new_dir;
                n.name = new_name.to_string();
            }
            let rest = n.comps.split_off(from.len());
            n.comps = to.to_vec();
            n.comps.extend(rest);
        }
    }

    /// Links the inode behind handle `id` as `to`.
    fn link(&mut self, id: usize, to: Lookup, ctx: &CallerCtx) -> Result<usize> {
        let node = self.node(id)?;
        if node.unlinked || node.pending_symlink {
            return Err(Error::new(ENOENT));
        }
        if to.meta.is_some() {
            return Err(Error::new(EEXIST));
        }
        if node.is_dir {
            return Err(Error::new(EPERM));
        }
        let (ino, src) = (node.ino, node.comps.clone());
        let Some((new_name, new_parent)) = to.comps.split_last() else {
            return Err(Error::new(EEXIST));
        };
        self.check_dir_writable(new_parent, ctx)?;
        fs::hard_link(self.host_path(&src), self.host_path(&to.comps)).map_err(host_err)?;
        let dir = self.dir_ino(new_parent)?;
        self.report(&Fact::Linked {
            dir,
            name: new_name.as_bytes(),
            ino,
        });
        Ok(0)
    }

    /// Checks that the caller owns the node (or is root): the rule for chmod and times.
    fn check_owner(&self, node: &Node, ctx: &CallerCtx) -> Result<Metadata> {
        let meta = self.node_meta(node)?;
        if ctx.uid != 0 && meta.uid() != ctx.uid {
            return Err(Error::new(EPERM));
        }
        Ok(meta)
    }

    /// Applies `fchown` for a caller.
    fn chown(&mut self, id: usize, uid: u32, gid: u32, ctx: &CallerCtx) -> Result<()> {
        let node = self.node(id)?;
        let meta = self.node_meta(node)?;
        // Root may do anything; an owner may only change the group to its own.
        let allowed = ctx.uid == 0
            || (meta.uid() == ctx.uid
                && (uid == u32::MAX || uid == ctx.uid)
                && (gid == u32::MAX || gid == ctx.gid));
        if !allowed {
            return Err(Error::new(EPERM));
        }
        let uid = (uid != u32::MAX).then_some(uid);
        let gid = (gid != u32::MAX).then_some(gid);
        match (&node.file, node.io) {
            (Some(f), true) => std::os::unix::fs::fchown(f, uid, gid),
            _ => std::os::unix::fs::lchown(self.host_path(&node.comps), uid, gid),
        }
        .map_err(host_err)?;
        self.report_attrib(id);
        Ok(())
    }

    /// Reports an `Attrib` fact for handle `id` (even on silent handles: metadata changes
    /// are not opens or closes).
    fn report_attrib(&mut self, id: usize) {
        if let Ok(node) = self.node(id) {
            let subject = node.subject();
            let (ino, is_dir, dir, name) = (
                subject.ino,
                subject.is_dir,
                subject.dir,
                subject.name.to_vec(),
            );
            self.report(&Fact::Attrib(Subject {
                ino,
                is_dir,
                dir,
                name: &name,
                detached: false,
            }));
        }
    }

    /// Reports `Times` for handle `id`.
    fn report_times(&mut self, id: usize, atime: bool, mtime: bool) {
        if let Ok(node) = self.node(id) {
            let (ino, is_dir, dir, name) = (node.ino, node.is_dir, node.dir, node.name.clone());
            let at = Subject {
                ino,
                is_dir,
                dir,
                name: name.as_bytes(),
                detached: false,
            };
            self.report(&Fact::Times { at, atime, mtime });
        }
    }

    /// Closes a node handle: `Closed` unless silent, then `Freed` when it was the last
    /// handle holding a removed name of an inode with no links left (Linux: the dentry of
    /// that name is released with `i_nlink == 0`).
    fn close_node(&mut self, node: Node) {
        if !node.silent {
            let wrote = node.for_write;
            self.report(&Fact::Closed {
                at: node.subject(),
                wrote,
            });
        }
        if self.frees_at_close(&node) {
            self.report(&Fact::Freed {
                ino: node.ino,
                is_dir: node.is_dir,
            });
        }
    }

    /// Reads a feed batch.
    fn read_feed(&mut self, buf: &mut [u8]) -> Result<usize> {
        match self.lock_producer().read_batch(buf) {
            Ok(0) => Err(Error::new(syscall::error::EAGAIN)),
            Ok(n) => Ok(n),
            Err(_) => Err(Error::new(EINVAL)),
        }
    }

    /// Lists directory handle `id` into `buf` from `offset` (an index into the snapshot).
    fn list<'buf>(
        &mut self,
        id: usize,
        mut buf: DirentBuf<&'buf mut [u8]>,
        offset: u64,
    ) -> Result<DirentBuf<&'buf mut [u8]>> {
        let root = self.root.clone();
        let node = self.node_mut(id)?;
        if !node.is_dir {
            return Err(Error::new(ENOTDIR));
        }
        if !node.readable() || node.flags & O_STAT != 0 {
            return Err(Error::new(EBADF));
        }
        if offset == 0 {
            let mut path = root;
            path.extend(&node.comps);
            node.dirents.clear();
            // `.` and `..` come first, as on Linux (each getdents call is an access there,
            // and listing an empty directory takes two calls).
            let own = fs::symlink_metadata(&path).map_err(host_err)?.ino();
            let parent = match path.parent() {
                Some(p) if !node.comps.is_empty() => {
                    fs::symlink_metadata(p).map_err(host_err)?.ino()
                }
                _ => own,
            };
            node.dirents
                .push((own, ".".to_string(), DirentKind::Directory));
            node.dirents
                .push((parent, "..".to_string(), DirentKind::Directory));
            for entry in fs::read_dir(&path).map_err(host_err)? {
                let entry = entry.map_err(host_err)?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                let kind = entry.file_type().map(dirent_kind).unwrap_or_default();
                node.dirents.push((entry.ino(), name, kind));
            }
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, (ino, name, kind)) in node.dirents.iter().enumerate().skip(start) {
            let entry = DirEntry {
                inode: *ino,
                next_opaque_id: i as u64 + 1,
                name,
                kind: *kind,
            };
            if buf.entry(entry).is_err() {
                break;
            }
        }
        self.report_node(id, NodeFact::Accessed);
        Ok(buf)
    }
}

impl SchemeSync for HostFs {
    fn scheme_root(&mut self) -> Result<usize> {
        let meta = self.lstat(&[])?;
        let file = Self::host_open_path(&self.root, false)?;
        Ok(self.insert(Handle::Node(Node {
            comps: Vec::new(),
            file: Some(file),
            io: false,
            ino: meta.ino(),
            is_dir: true,
            is_symlink: false,
            dir: 0,
            name: String::new(),
            flags: O_STAT,
            for_write: false,
            silent: true,
            unlinked: false,
            detach_id: 0,
            opener: (0, 0),
            pending_symlink: false,
            dirents: Vec::new(),
        })))
    }

    fn openat(
        &mut self,
        fd: usize,
        path: &str,
        flags: usize,
        fcntl_flags: u32,
        ctx: &CallerCtx,
    ) -> Result<OpenResult> {
        let base = self.base_dir(fd)?;
        self.open_from(&base, path, flags | fcntl_flags as usize, ctx)
    }

    fn unlinkat(&mut self, fd: usize, path: &str, flags: usize, ctx: &CallerCtx) -> Result<()> {
        let base = self.base_dir(fd)?;
        self.unlink_from(&base, path, flags, ctx)
    }

    fn dup(&mut self, old_id: usize, buf: &[u8], ctx: &CallerCtx) -> Result<OpenResult> {
        if !self.handles.contains_key(&old_id) {
            return Err(Error::new(EBADF));
        }
        if buf != FEED_DUP_NAME {
            return Err(Error::new(EINVAL));
        }
        if ctx.uid != 0 {
            return Err(Error::new(EACCES));
        }
        let id = self.insert(Handle::Feed);
        self.feeds.insert(id);
        Ok(OpenResult::ThisScheme {
            number: id,
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
        if let Some(Handle::Feed) = self.handles.get(&id) {
            return self.read_feed(buf);
        }
        let node = self.node(id)?;
        if node.is_dir {
            return Err(Error::new(EISDIR));
        }
        if node.is_symlink && node.flags & O_SYMLINK != 0 {
            // Reading a symlink opened with O_SYMLINK gives its target.
            let target = fs::read_link(self.host_path(&node.comps)).map_err(host_err)?;
            let bytes = target.as_os_str().as_encoded_bytes();
            return Ok(copy_at(bytes, offset, buf));
        }
        if !node.readable() || !node.io {
            return Err(Error::new(EBADF));
        }
        let file = node.file.as_ref().ok_or(Error::new(EBADF))?;
        let n = file.read_at(buf, offset).map_err(host_err)?;
        if n > 0 {
            self.report_node(id, NodeFact::Accessed);
        }
        Ok(n)
    }

    fn write(
        &mut self,
        id: usize,
        buf: &[u8],
        offset: u64,
        _fcntl_flags: u32,
        ctx: &CallerCtx,
    ) -> Result<usize> {
        if let Some(Handle::Feed) = self.handles.get(&id) {
            return self
                .lock_producer()
                .write_interest(buf)
                .map_err(|_| Error::new(EINVAL));
        }
        let node = self.node(id)?;
        if node.pending_symlink {
            return self.write_symlink_target(id, buf, ctx);
        }
        if !node.for_write {
            return Err(Error::new(EBADF));
        }
        if node.is_dir {
            return Err(Error::new(EISDIR));
        }
        if !node.io {
            return Err(Error::new(EBADF));
        }
        let file = node.file.as_ref().ok_or(Error::new(EBADF))?;
        let offset = if node.flags & O_APPEND != 0 {
            file.metadata().map_err(host_err)?.len()
        } else {
            offset
        };
        let n = file.write_at(buf, offset).map_err(host_err)?;
        if n > 0 {
            self.report_node(id, NodeFact::Written);
        }
        Ok(n)
    }

    fn fsize(&mut self, id: usize, _ctx: &CallerCtx) -> Result<u64> {
        let node = self.node(id)?;
        Ok(self.node_meta(node)?.len())
    }

    fn fchmod(&mut self, id: usize, new_mode: u16, ctx: &CallerCtx) -> Result<()> {
        let node = self.node(id)?;
        if node.pending_symlink {
            return Err(Error::new(EBADF));
        }
        self.check_owner(node, ctx)?;
        let perm = fs::Permissions::from_mode(u32::from(new_mode & MODE_PERM));
        match (&node.file, node.io) {
            (Some(f), true) => f.set_permissions(perm),
            _ => fs::set_permissions(self.host_path(&node.comps), perm),
        }
        .map_err(host_err)?;
        self.report_attrib(id);
        Ok(())
    }

    fn fchown(&mut self, id: usize, new_uid: u32, new_gid: u32, ctx: &CallerCtx) -> Result<()> {
        self.chown(id, new_uid, new_gid, ctx)
    }

    fn std_fs_call(
        &mut self,
        id: usize,
        kind: StdFsCallKind,
        _payload: &mut [u8],
        metadata: StdFsCallMeta,
        ctx: &CallerCtx,
    ) -> Result<usize> {
        match kind {
            StdFsCallKind::Fchown => self
                .chown(id, metadata.arg1 as u32, metadata.arg2 as u32, ctx)
                .map(|()| 0),
            _ => Err(Error::new(syscall::error::EOPNOTSUPP)),
        }
    }

    fn fcntl(&mut self, id: usize, cmd: usize, arg: usize, _ctx: &CallerCtx) -> Result<usize> {
        if let Some(Handle::Feed) = self.handles.get(&id) {
            return match cmd {
                F_GETFL => Ok(O_RDWR),
                F_SETFL => Ok(0),
                _ => Err(Error::new(EINVAL)),
            };
        }
        let node = self.node_mut(id)?;
        match cmd {
            F_GETFL => Ok(node.flags),
            F_SETFL => {
                node.flags = (node.flags & !O_FCNTL_MASK) | (arg & O_FCNTL_MASK);
                Ok(0)
            }
            _ => Err(Error::new(EINVAL)),
        }
    }

    fn fevent(&mut self, id: usize, flags: EventFlags, _ctx: &CallerCtx) -> Result<EventFlags> {
        match self.handles.get(&id) {
            Some(Handle::Feed) if self.lock_producer().is_readable() => {
                Ok(flags & EventFlags::EVENT_READ)
            }
            Some(_) => Ok(EventFlags::empty()),
            None => Err(Error::new(EBADF)),
        }
    }

    fn flink(&mut self, id: usize, path: &str, ctx: &CallerCtx) -> Result<usize> {
        check_last_component(path)?;
        let to = self.lookup(&[], path, false, ctx)?;
        self.link(id, to, ctx)
    }

    fn flinkat(
        &mut self,
        id: usize,
        dirid: usize,
        path: &str,
        _flags: u32,
        ctx: &CallerCtx,
    ) -> Result<usize> {
        check_last_component(path)?;
        let ctx = &self.opener_ctx(id, ctx)?;
        let base = self.base_dir(dirid)?;
        let to = self.lookup(&base, path, false, ctx)?;
        self.link(id, to, ctx)
    }

    fn fpath(&mut self, id: usize, buf: &mut [u8], _ctx: &CallerCtx) -> Result<usize> {
        let rel = match self.handles.get(&id) {
            Some(Handle::Node(n)) => n.comps.join("/"),
            Some(Handle::Feed) => String::from_utf8_lossy(FEED_DUP_NAME).into_owned(),
            None => return Err(Error::new(EBADF)),
        };
        let path = format!("/scheme/{}/{}", self.scheme_name, rel);
        let n = path.len().min(buf.len());
        buf[..n].copy_from_slice(&path.as_bytes()[..n]);
        Ok(n)
    }

    fn frename(&mut self, id: usize, path: &str, ctx: &CallerCtx) -> Result<usize> {
        check_last_component(path)?;
        let node = self.node(id)?;
        if node.unlinked || node.pending_symlink {
            return Err(Error::new(ENOENT));
        }
        let comps = node.comps.clone();
        let ino = node.ino;
        let meta = self.lstat(&comps)?;
        if meta.ino() != ino {
            return Err(Error::new(ENOENT));
        }
        let from = Lookup {
            comps,
            meta: Some(meta),
        };
        let to = self.lookup(&[], path, false, ctx)?;
        self.rename(from, to, ctx)
    }

    fn frenameat(
        &mut self,
        old_dir: usize,
        old_path: &str,
        new_dir: usize,
        new_path: &str,
        flags: u32,
        ctx: &CallerCtx,
    ) -> Result<usize> {
        if flags != 0 {
            return Err(Error::new(EINVAL));
        }
        check_last_component(old_path)?;
        check_last_component(new_path)?;
        let ctx = &self.opener_ctx(old_dir, ctx)?;
        let old_base = self.base_dir(old_dir)?;
        let new_base = self.base_dir(new_dir)?;
        // Linux's order: both parents (old first), then the source name, then the target.
        let (old_parent, old_last) = self.parent_of(&old_base, old_path, ctx)?;
        let (new_parent, new_last) = self.parent_of(&new_base, new_path, ctx)?;
        let from = self.lookup(&old_parent, old_last, false, ctx)?;
        let to = self.lookup(&new_parent, new_last, false, ctx)?;
        self.rename(from, to, ctx)
    }

    fn fstat(&mut self, id: usize, stat: &mut Stat, _ctx: &CallerCtx) -> Result<()> {
        let node = match self.handles.get(&id) {
            Some(Handle::Node(n)) => n,
            Some(Handle::Feed) => {
                *stat = Stat {
                    st_mode: MODE_FILE | 0o600,
                    st_nlink: 1,
                    ..Stat::default()
                };
                stat.st_size = self.lock_producer().queued_bytes() as u64;
                return Ok(());
            }
            None => return Err(Error::new(EBADF)),
        };
        if node.pending_symlink {
            *stat = Stat {
                st_mode: MODE_SYMLINK | 0o777,
                ..Stat::default()
            };
            return Ok(());
        }
        let m = self.node_meta(node)?;
        let kind = if m.is_dir() {
            MODE_DIR
        } else if m.file_type().is_symlink() {
            MODE_SYMLINK
        } else {
            (m.mode() as u16) & MODE_TYPE
        };
        *stat = Stat {
            st_dev: 0,
            st_ino: m.ino(),
            st_mode: kind | (m.mode() as u16 & MODE_PERM),
            st_nlink: m.nlink() as u32,
            st_uid: m.uid(),
            st_gid: m.gid(),
            st_size: m.size(),
            st_blksize: m.blksize() as u32,
            st_blocks: m.blocks(),
            st_mtime: m.mtime() as u64,
            st_mtime_nsec: m.mtime_nsec() as u32,
            st_atime: m.atime() as u64,
            st_atime_nsec: m.atime_nsec() as u32,
            st_ctime: m.ctime() as u64,
            st_ctime_nsec: m.ctime_nsec() as u32,
        };
        Ok(())
    }

    fn fsync(&mut self, id: usize, _ctx: &CallerCtx) -> Result<()> {
        let node = self.node(id)?;
        match (&node.file, node.io) {
            (Some(f), true) => f.sync_all().map_err(host_err),
            _ => Ok(()),
        }
    }

    fn ftruncate(&mut self, id: usize, len: u64, _ctx: &CallerCtx) -> Result<()> {
        let node = self.node(id)?;
        if !node.for_write || !node.io {
            return Err(Error::new(EINVAL));
        }
        if node.is_dir {
            return Err(Error::new(EISDIR));
        }
        let file = node.file.as_ref().ok_or(Error::new(EBADF))?;
        file.set_len(len).map_err(host_err)?;
        self.report_node(id, NodeFact::Truncated);
        Ok(())
    }

    fn futimens(&mut self, id: usize, times: &[TimeSpec], ctx: &CallerCtx) -> Result<()> {
        let node = self.node(id)?;
        if node.pending_symlink {
            return Err(Error::new(EBADF));
        }
        let omit = TimeSpec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        };
        let now = TimeSpec {
            tv_sec: 0,
            tv_nsec: UTIME_NOW,
        };
        let (a, m) = match times {
            [] => (now, now),
            [a] => (*a, omit),
            [a, m, ..] => (*a, *m),
        };
        let atime = spec_time(&a)?;
        let mtime = spec_time(&m)?;
        let explicit = (atime.is_some() && a.tv_nsec != UTIME_NOW)
            || (mtime.is_some() && m.tv_nsec != UTIME_NOW);
        if explicit {
            self.check_owner(node, ctx)?;
        } else {
            let meta = self.node_meta(node)?;
            if ctx.uid != 0 && meta.uid() != ctx.uid && !may(&meta, ctx.uid, ctx.gid, MAY_WRITE) {
                return Err(Error::new(EACCES));
            }
        }
        if atime.is_none() && mtime.is_none() {
            return Ok(());
        }
        let mut ft = fs::FileTimes::new();
        if let Some(t) = atime {
            ft = ft.set_accessed(t);
        }
        if let Some(t) = mtime {
            ft = ft.set_modified(t);
        }
        let result = match (&node.file, node.io) {
            (Some(f), true) => f.set_times(ft),
            _ => File::open(self.host_path(&node.comps)).and_then(|f| f.set_times(ft)),
        };
        result.map_err(host_err)?;
        self.report_times(id, atime.is_some(), mtime.is_some());
        Ok(())
    }

    fn getdents<'buf>(
        &mut self,
        id: usize,
        buf: DirentBuf<&'buf mut [u8]>,
        opaque_offset: u64,
    ) -> Result<DirentBuf<&'buf mut [u8]>> {
        self.list(id, buf, opaque_offset)
    }

    fn on_close(&mut self, id: usize) {
        match self.handles.remove(&id) {
            Some(Handle::Node(node)) => self.close_node(node),
            Some(Handle::Feed) => {
                self.feeds.remove(&id);
                if self.feeds.is_empty() {
                    // The daemon that described the interest set is gone.
                    let mut clear = [0u8; inotify_abi::feed::INTEREST_LEN];
                    if inotify_abi::feed::Interest::Clear.emit(&mut clear).is_ok() {
                        let _ = self.lock_producer().write_interest(&clear);
                    }
                }
            }
            None => {}
        }
    }
}
