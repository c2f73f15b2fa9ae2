//! `/scheme/inotify`: the [`SchemeSync`] implementation.
//!
//! Maps the scheme operations onto the [`Engine`]:
//!
//! | operation          | root                 | instance                     | tunable          |
//! |--------------------|----------------------|------------------------------|------------------|
//! | `openat("")`       | new instance         |                              |                  |
//! | `openat(name)`     | tunable `name`       |                              |                  |
//! | `read`             |                      | whole event records          | `"<n>\n"`        |
//! | `write`            |                      | `EINVAL`                     | set (root only)  |
//! | `sendfd`           |                      | add_watch (result stored)    |                  |
//! | `call`             |                      | TakeResult, RmWatch, FIONREAD|                  |
//! | `fcntl`            |                      | F_GETFL / F_SETFL            | F_GETFL / F_SETFL|
//! | `fevent`           |                      | `EVENT_READ` when queued     |                  |
//! | `fstat`            | directory            | mode 0600, size = queued     | regular file     |
//!
//! A read on an empty instance returns `EAGAIN` when the description is non-blocking and
//! `EWOULDBLOCK` otherwise; the request loop ([`crate::daemon`]) keeps the latter and answers
//! it when events arrive. Nothing a client sends panics the daemon: every malformed request
//! gets an errno.

mod handle;
mod tunable;

use hashbrown::HashMap;

use inotify_abi::consts::{add_watch_mask_is_valid, IN_ONLYDIR, IN_SUBTREE};
use inotify_abi::proto::{
    AddWatchArg, CallRepr, WatchInfo, LOSS_REPORT_LEN, MAX_WATCH_PATH, STATUS_NAME,
};
use inotify_engine::{Engine, Errno, InodeKey, InstanceId, InterestChange, Limits, Target};
use redox_scheme::scheme::SchemeSync;
use redox_scheme::{CallerCtx, OpenResult, SendFdRequest};
use syscall::error::{
    Error, Result, EACCES, EAGAIN, EBADF, EINVAL, EISDIR, ENOENT, ENOSPC, ENOTDIR, ENOTTY,
    EWOULDBLOCK,
};
use syscall::flag::{
    EventFlags, F_GETFL, F_SETFL, MODE_DIR, MODE_FILE, O_ACCMODE, O_FCNTL_MASK, O_NONBLOCK,
    O_RDONLY, O_RDWR, O_WRONLY,
};
use syscall::schemev2::NewFdFlags;
use syscall::Stat;

use crate::feed::Feeds;
use crate::sys::Sys;

pub use handle::{
    AddResult, Handle, InstanceHandle, TunableHandle, MAX_PENDING_RESULTS, MAX_USER_PATH_BYTES,
};
pub use tunable::Tunable;

pub use inotify_abi::consts::O_CLOEXEC_REDOX as O_CLOEXEC;
pub use inotify_abi::proto::SCHEME_PATH;

/// Open flags an instance accepts: an access mode, `O_NONBLOCK` and `O_CLOEXEC` (Linux's
/// `inotify_init1` takes `IN_NONBLOCK | IN_CLOEXEC` only).
pub const INSTANCE_OPEN_FLAGS: usize = O_ACCMODE | O_NONBLOCK | O_CLOEXEC;

/// Bits of the open flags that carry the creation mode (ignored).
const OPEN_MODE_BITS: usize = 0xffff;

/// The mode `fstat` reports for an instance: `0600` and no file type, what Linux's `fstat`
/// shows for an inotify fd (an anonymous inode). relibc's `FIONREAD` takes `st_size` as the
/// bytes queued for objects without a file type.
pub const INSTANCE_MODE: u16 = 0o600;

/// The inotify scheme: the engine, the feeds, the OS, and the handle table.
pub struct InotifyScheme<S: Sys> {
    /// Instances, watches, queues, limits.
    engine: Engine,
    /// The filesystems' feeds.
    feeds: Feeds,
    /// The operating system.
    sys: S,
    /// Open handles by id.
    handles: HashMap<usize, Handle>,
    /// The handle id of each instance.
    by_instance: HashMap<InstanceId, usize>,
    /// Next handle id to hand out.
    next_id: usize,
    /// Scratch for interest changes.
    interest: Vec<InterestChange>,
    /// Scratch for woken instances.
    woken: Vec<InstanceId>,
    /// Bytes of kept add_watch paths per uid (at most [`MAX_USER_PATH_BYTES`] each).
    path_bytes: HashMap<u32, usize>,
}

impl<S: Sys> InotifyScheme<S> {
    /// The id of the scheme root (the capability registered under the scheme name).
    pub const ROOT_ID: usize = 0;

    /// A scheme over `sys` with `limits` and no instances, serving the filesystems of
    /// [`crate::feed::DEFAULT_FILESYSTEMS`].
    pub fn new(sys: S, limits: Limits) -> Self {
        Self::with_feeds(sys, limits, Feeds::new())
    }

    /// A scheme serving the filesystems of `feeds` (see [`Feeds::with_filesystems`]).
    pub fn with_feeds(sys: S, limits: Limits, feeds: Feeds) -> Self {
        let mut handles = HashMap::new();
        handles.insert(Self::ROOT_ID, Handle::Root);
        let mut engine = Engine::new(limits);
        engine.set_clock(crate::sys::monotonic_ns);
        InotifyScheme {
            engine,
            feeds,
            sys,
            handles,
            by_instance: HashMap::new(),
            next_id: Self::ROOT_ID + 1,
            interest: Vec::new(),
            woken: Vec::new(),
            path_bytes: HashMap::new(),
        }
    }

    /// The operating system.
    pub fn sys_mut(&mut self) -> &mut S {
        &mut self.sys
    }

    /// Number of open handles besides the root.
    pub fn handle_count(&self) -> usize {
        self.handles.len() - 1
    }

    /// Whether `fd` (a daemon fd) is a feed.
    pub fn is_feed(&self, fd: usize) -> bool {
        self.feeds.is_feed(fd)
    }

    /// Starts a turn of the loop: losses from now on are stamped with a new clock reading.
    pub fn new_turn(&mut self) {
        self.engine.new_turn();
    }

    /// Takes feed `fd`'s turn at its readiness (see `Feeds::take_turn`).
    pub fn pull_feed(&mut self, fd: usize) {
        self.feeds.take_turn(&mut self.sys, &mut self.engine, fd);
    }

    /// Before the daemon blocks: arms the feed rings and pulls what they hold (see
    /// `Feeds::arm`). Returns whether anything was pulled.
    pub fn arm_feeds(&mut self) -> bool {
        self.feeds.arm(&mut self.sys, &mut self.engine)
    }

    /// Pulls every feed into the engine (see `Feeds::pull_all`).
    pub fn pull_all_feeds(&mut self) {
        self.feeds.pull_all(&mut self.sys, &mut self.engine);
    }

    /// Sends the engine's pending interest changes to the feeds.
    pub fn flush_interest(&mut self) {
        self.engine.take_interest(&mut self.interest);
        if !self.interest.is_empty() {
            self.feeds.push_interest(&mut self.sys, &self.interest);
            self.interest.clear();
        }
    }

    /// Moves into `out` the handles whose queue went from empty to non-empty.
    pub fn take_woken_handles(&mut self, out: &mut Vec<usize>) {
        self.engine.take_woken(&mut self.woken);
        for inst in self.woken.drain(..) {
            if let Some(&id) = self.by_instance.get(&inst) {
                out.push(id);
            }
        }
    }

    /// Whether handle `id` is an instance with nothing queued.
    pub fn queue_is_empty(&self, id: usize) -> bool {
        match self.handles.get(&id) {
            Some(Handle::Instance(h)) => self.engine.queued_bytes(h.inst) == 0,
            _ => false,
        }
    }

    /// Whether handle `id` is an instance with queued events and an event queue subscribed.
    pub fn wants_fevent(&self, id: usize) -> bool {
        match self.handles.get(&id) {
            Some(Handle::Instance(h)) => h.subscribed && self.engine.queued_bytes(h.inst) > 0,
            _ => false,
        }
    }

    /// Allocates a handle id.
    fn insert_handle(&mut self, h: Handle) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        debug_assert!(!self.handles.contains_key(&id));
        self.handles.insert(id, h);
        id
    }

    /// The instance handle `id`; `EBADF` when unknown, `EINVAL` when not an instance.
    fn instance(&mut self, id: usize) -> Result<&mut InstanceHandle> {
        match self.handles.get_mut(&id) {
            Some(Handle::Instance(h)) => Ok(h),
            Some(_) => Err(Error::new(EINVAL)),
            None => Err(Error::new(EBADF)),
        }
    }

    /// `inotify_init1`: a new instance for `uid`.
    fn open_instance(&mut self, flags: usize, fcntl_flags: u32, uid: u32) -> Result<OpenResult> {
        // The low 16 bits carry a creation mode on Redox (callers like Rust's std pass one
        // always); it means nothing here.
        if flags & !(INSTANCE_OPEN_FLAGS | OPEN_MODE_BITS) != 0 {
            return Err(Error::new(EINVAL));
        }
        let inst = self.engine.create_instance(uid).map_err(Error::new)?;
        let desc = (flags & O_ACCMODE) | ((flags | fcntl_flags as usize) & O_FCNTL_MASK);
        let id = self.insert_handle(Handle::Instance(InstanceHandle::new(inst, uid, desc)));
        self.by_instance.insert(inst, id);
        Ok(OpenResult::ThisScheme {
            number: id,
            flags: NewFdFlags::empty(),
        })
    }

    /// Opens tunable `which`; writing needs uid 0 and a writable tunable (`EACCES`).
    fn open_tunable(&mut self, which: Tunable, flags: usize, uid: u32) -> Result<OpenResult> {
        let mode = flags & O_ACCMODE;
        let wants_write = mode == O_WRONLY || mode == O_RDWR;
        if flags & O_DIRECTORY_FLAG != 0 {
            return Err(Error::new(ENOTDIR));
        }
        if wants_write && (uid != 0 || !which.is_writable()) {
            return Err(Error::new(EACCES));
        }
        let h = TunableHandle {
            which,
            writable: wants_write,
        };
        let id = self.insert_handle(Handle::Tunable(h));
        Ok(OpenResult::ThisScheme {
            number: id,
            flags: NewFdFlags::POSITIONED,
        })
    }

    /// Opens the daemon-wide status: uid 0 only, read only (`EACCES`); the text is taken
    /// now and read positionally.
    fn open_status(&mut self, flags: usize, uid: u32) -> Result<OpenResult> {
        if flags & O_DIRECTORY_FLAG != 0 {
            return Err(Error::new(ENOTDIR));
        }
        if uid != 0 || flags & O_ACCMODE != O_RDONLY {
            return Err(Error::new(EACCES));
        }
        let text = self.status_text().into_bytes();
        let id = self.insert_handle(Handle::Status(text));
        Ok(OpenResult::ThisScheme {
            number: id,
            flags: NewFdFlags::POSITIONED,
        })
    }

    /// The add_watch behind a `sendfd`: checks in Linux's order (mask, `IN_ONLYDIR`, read
    /// permission), then the filesystem's feed, then asks the engine (`EEXIST`, `ENOSPC`).
    /// With `IN_SUBTREE` (directories only), the filesystem's subtree call comes between.
    /// What `fd` is and who may read it come from the trusted filesystem that holds it
    /// ([`Feeds::identify`]); `EOPNOTSUPP` when none does.
    fn add_watch_fd(
        &mut self,
        inst: InstanceId,
        fd: usize,
        mask: u32,
        ctx: &CallerCtx,
    ) -> core::result::Result<i32, Errno> {
        // Linux checks the mask before anything else.
        if !add_watch_mask_is_valid(mask) {
            return Err(EINVAL);
        }
        let id = self
            .feeds
            .identify(&mut self.sys, fd, ctx.uid, ctx.gid)
            .map_err(|e| e.errno)?;
        let is_dir = id.identity.is_dir;
        if mask & (IN_ONLYDIR | IN_SUBTREE) != 0 && !is_dir {
            return Err(ENOTDIR);
        }
        // uid 0 always may (Linux: CAP_DAC_READ_SEARCH); others as the filesystem says.
        if ctx.uid != 0 && !id.identity.may_read {
            return Err(EACCES);
        }
        let fs = self.feeds.fs_for(&mut self.sys, &id).map_err(|e| e.errno)?;
        let target = Target {
            key: InodeKey {
                fs,
                ino: id.identity.ino,
            },
            is_dir,
        };
        if mask & IN_SUBTREE == 0 {
            return self.engine.add_watch(inst, target, mask);
        }
        // The walk must fit the feed's free space: when it does not, take what the feed
        // holds and try once more.
        let below = match self.feeds.subtree(&mut self.sys, fs, fd) {
            Err(e) if e.errno == ENOSPC => {
                self.feeds.pull_all(&mut self.sys, &mut self.engine);
                self.feeds.subtree(&mut self.sys, fs, fd)
            }
            r => r,
        }
        .map_err(|e| e.errno)?;
        self.engine.add_subtree_watch(inst, target, mask, below)
    }

    /// Drops the paths of removed watches once handle `id`'s path table holds more than
    /// twice its live watches (so a long-lived instance that adds and removes watches keeps
    /// only a bounded number of stale paths).
    fn prune_paths(&mut self, id: usize) {
        let Some(Handle::Instance(h)) = self.handles.get_mut(&id) else {
            return;
        };
        let mut live = Vec::new();
        if self
            .engine
            .list_watches(h.inst, i32::MIN, &mut live)
            .is_err()
            || h.paths.len() <= 2 * live.len() + 16
        {
            return;
        }
        let before = h.path_bytes;
        h.paths
            .retain(|wd, _| live.binary_search_by_key(wd, |w| w.wd).is_ok());
        h.path_bytes = h.paths.values().map(|p| p.len()).sum();
        uncharge_paths(&mut self.path_bytes, h.uid, before - h.path_bytes);
    }

    /// The `ListWatches` call: handle `id`'s watches from `from_wd` as whole [`WatchInfo`]
    /// records in `out`; `EINVAL` when the first one does not fit.
    fn list_watches(&mut self, id: usize, from_wd: i32, out: &mut [u8]) -> Result<usize> {
        let Some(Handle::Instance(h)) = self.handles.get(&id) else {
            return Err(Error::new(EINVAL));
        };
        let mut watches = Vec::new();
        self.engine
            .list_watches(h.inst, from_wd, &mut watches)
            .map_err(Error::new)?;
        let mut at = 0;
        for w in &watches {
            let info = WatchInfo {
                wd: w.wd,
                mask: w.mask,
                ino: w.key.ino,
                fs: self.feeds.fs_name(w.key.fs).unwrap_or_default(),
                path: h.paths.get(&w.wd).map_or(&[][..], |p| &p[..]),
            };
            match info.emit(&mut out[at..]) {
                Ok(n) => at += n,
                Err(_) if at == 0 => return Err(Error::new(EINVAL)),
                Err(_) => break,
            }
        }
        Ok(at)
    }

    /// The daemon-wide status text (docs/protocols.md, "Status").
    pub fn status_text(&self) -> String {
        use std::fmt::Write;
        let mut instances = Vec::new();
        self.engine.list_instances(&mut instances);
        let mut uids: Vec<u32> = instances.iter().map(|i| i.uid).collect();
        uids.sort_unstable();
        uids.dedup();
        let mut s = String::new();
        let _ = writeln!(
            s,
            "daemon instances {} watches {} inodes {} queue_storage {} heap {} event_drops {}",
            instances.len(),
            self.engine.watch_count(),
            self.engine.watched_inodes(),
            self.engine.queue_storage(),
            self.engine.heap_bytes(),
            self.engine.event_drops()
        );
        for uid in uids {
            let mine = instances.iter().filter(|i| i.uid == uid);
            let _ = writeln!(
                s,
                "uid {uid} instances {} watches {} queue_storage {}",
                mine.clone().count(),
                mine.map(|i| i.watches).sum::<usize>(),
                self.engine.user_queue_storage(uid)
            );
        }
        for i in &instances {
            let _ = writeln!(
                s,
                "instance {} uid {} watches {} queued {} queue_storage {} unreported_loss {}",
                i.id, i.uid, i.watches, i.queued_bytes, i.queue_storage, i.unreported
            );
        }
        if let Some(mut c) = self.sys.counts() {
            c.ring_pulls = self.feeds.ring_pulls();
            let _ = writeln!(
                s,
                "sys requests {} readable {} responses {} reads {} blocks {} empty_polls {} yields {} blocked_us {} ring_pulls {}",
                c.requests,
                c.readable,
                c.responses,
                c.reads,
                c.blocks,
                c.empty_polls,
                c.yields,
                c.blocked_us,
                c.ring_pulls
            );
        }
        for f in self.feeds.status() {
            let next = f.next_seq.map_or("-".to_string(), |n| n.to_string());
            let _ = writeln!(
                s,
                "feed {} fs {} open {} next_seq {} lost {}",
                String::from_utf8_lossy(&f.name),
                f.fs,
                u8::from(f.open),
                next,
                f.lost
            );
        }
        s
    }

    /// Forgets handle `id` (last close of its description).
    fn close_handle(&mut self, id: usize) {
        if id == Self::ROOT_ID {
            return;
        }
        if let Some(Handle::Instance(h)) = self.handles.remove(&id) {
            self.by_instance.remove(&h.inst);
            uncharge_paths(&mut self.path_bytes, h.uid, h.path_bytes);
            self.engine.destroy_instance(h.inst);
            self.flush_interest();
        }
    }
}

/// Gives `bytes` of kept paths back to `uid` in `path_bytes`.
fn uncharge_paths(path_bytes: &mut HashMap<u32, usize>, uid: u32, bytes: usize) {
    if let Some(used) = path_bytes.get_mut(&uid) {
        *used = used.saturating_sub(bytes);
        if *used == 0 {
            path_bytes.remove(&uid);
        }
    }
}

/// Redox's `O_DIRECTORY` (a tunable is not a directory).
const O_DIRECTORY_FLAG: usize = syscall::flag::O_DIRECTORY;

/// Copies `src` from `offset` into `buf` (a positional read of a byte string; nothing at or
/// past the end); returns the bytes copied.
pub fn copy_at(src: &[u8], offset: u64, buf: &mut [u8]) -> usize {
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(src.len());
    let n = (src.len() - start).min(buf.len());
    buf[..n].copy_from_slice(&src[start..start + n]);
    n
}

impl<S: Sys> SchemeSync for InotifyScheme<S> {
    fn scheme_root(&mut self) -> Result<usize> {
        Ok(Self::ROOT_ID)
    }

    fn openat(
        &mut self,
        fd: usize,
        path: &str,
        flags: usize,
        fcntl_flags: u32,
        ctx: &CallerCtx,
    ) -> Result<OpenResult> {
        match self.handles.get(&fd) {
            Some(Handle::Root) => {}
            Some(_) => return Err(Error::new(ENOTDIR)),
            None => return Err(Error::new(EBADF)),
        }
        let path = path.trim_matches('/');
        if path.is_empty() {
            return self.open_instance(flags, fcntl_flags, ctx.uid);
        }
        if path == STATUS_NAME {
            return self.open_status(flags, ctx.uid);
        }
        match Tunable::from_name(path) {
            Some(which) => self.open_tunable(which, flags, ctx.uid),
            None => Err(Error::new(ENOENT)),
        }
    }

    fn read(
        &mut self,
        id: usize,
        buf: &mut [u8],
        offset: u64,
        fcntl_flags: u32,
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        match self.handles.get(&id) {
            Some(Handle::Instance(h)) => {
                let nonblock = (h.flags | fcntl_flags as usize) & O_NONBLOCK != 0;
                match self.engine.read(h.inst, buf) {
                    Ok(n) => Ok(n),
                    Err(EAGAIN) if nonblock => Err(Error::new(EAGAIN)),
                    Err(EAGAIN) => Err(Error::new(EWOULDBLOCK)),
                    Err(e) => Err(Error::new(e)),
                }
            }
            Some(Handle::Tunable(t)) => {
                Ok(copy_at(t.which.text(&self.engine).as_bytes(), offset, buf))
            }
            Some(Handle::Status(text)) => Ok(copy_at(text, offset, buf)),
            Some(Handle::Root) => Err(Error::new(EISDIR)),
            None => Err(Error::new(EBADF)),
        }
    }

    fn write(
        &mut self,
        id: usize,
        buf: &[u8],
        _offset: u64,
        _fcntl_flags: u32,
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        match self.handles.get(&id) {
            Some(Handle::Tunable(t)) if t.writable => {
                let which = t.which;
                which.set(&mut self.engine, buf)?;
                Ok(buf.len())
            }
            Some(Handle::Tunable(_)) | Some(Handle::Status(_)) => Err(Error::new(EBADF)),
            Some(Handle::Instance(_)) => Err(Error::new(EINVAL)),
            Some(Handle::Root) => Err(Error::new(EISDIR)),
            None => Err(Error::new(EBADF)),
        }
    }

    fn fsize(&mut self, id: usize, _ctx: &CallerCtx) -> Result<u64> {
        match self.handles.get(&id) {
            Some(Handle::Instance(h)) => Ok(self.engine.queued_bytes(h.inst) as u64),
            Some(Handle::Tunable(t)) => Ok(t.which.text(&self.engine).len() as u64),
            Some(Handle::Status(text)) => Ok(text.len() as u64),
            Some(Handle::Root) => Ok(0),
            None => Err(Error::new(EBADF)),
        }
    }

    fn fcntl(&mut self, id: usize, cmd: usize, arg: usize, _ctx: &CallerCtx) -> Result<usize> {
        let flags = match self.handles.get_mut(&id) {
            Some(Handle::Instance(h)) => &mut h.flags,
            Some(Handle::Tunable(t)) => {
                // Tunables keep no description flags of their own.
                let mode = if t.writable { O_RDWR } else { O_RDONLY };
                return match cmd {
                    F_GETFL => Ok(mode),
                    F_SETFL => Ok(0),
                    _ => Err(Error::new(EINVAL)),
                };
            }
            Some(Handle::Status(_)) => {
                return match cmd {
                    F_GETFL => Ok(O_RDONLY),
                    F_SETFL => Ok(0),
                    _ => Err(Error::new(EINVAL)),
                };
            }
            Some(Handle::Root) => return Err(Error::new(EINVAL)),
            None => return Err(Error::new(EBADF)),
        };
        match cmd {
            F_GETFL => Ok(*flags),
            F_SETFL => {
                *flags = (*flags & O_ACCMODE) | (arg & O_FCNTL_MASK);
                Ok(0)
            }
            _ => Err(Error::new(EINVAL)),
        }
    }

    fn fevent(&mut self, id: usize, flags: EventFlags, _ctx: &CallerCtx) -> Result<EventFlags> {
        match self.handles.get_mut(&id) {
            Some(Handle::Instance(h)) => {
                h.subscribed = flags.contains(EventFlags::EVENT_READ);
                if self.engine.queued_bytes(h.inst) > 0 {
                    Ok(EventFlags::EVENT_READ)
                } else {
                    Ok(EventFlags::empty())
                }
            }
            Some(_) => Ok(EventFlags::empty()),
            None => Err(Error::new(EBADF)),
        }
    }

    fn fpath(&mut self, id: usize, buf: &mut [u8], _ctx: &CallerCtx) -> Result<usize> {
        let path = match self.handles.get(&id) {
            Some(Handle::Instance(_)) | Some(Handle::Root) => SCHEME_PATH.to_string(),
            Some(Handle::Tunable(t)) => format!("{}/{}", SCHEME_PATH, t.which.name()),
            Some(Handle::Status(_)) => format!("{SCHEME_PATH}/{STATUS_NAME}"),
            None => return Err(Error::new(EBADF)),
        };
        Ok(copy_at(path.as_bytes(), 0, buf))
    }

    fn fstat(&mut self, id: usize, stat: &mut Stat, _ctx: &CallerCtx) -> Result<()> {
        let (mode, size) = match self.handles.get(&id) {
            Some(Handle::Instance(h)) => (INSTANCE_MODE, self.engine.queued_bytes(h.inst) as u64),
            Some(Handle::Tunable(t)) => {
                let perm = if t.which.is_writable() { 0o644 } else { 0o444 };
                (MODE_FILE | perm, t.which.text(&self.engine).len() as u64)
            }
            Some(Handle::Status(text)) => (MODE_FILE | 0o400, text.len() as u64),
            Some(Handle::Root) => (MODE_DIR | 0o555, 0),
            None => return Err(Error::new(EBADF)),
        };
        *stat = Stat {
            st_mode: mode,
            st_size: size,
            st_nlink: 1,
            st_blksize: 4096,
            ..Stat::default()
        };
        Ok(())
    }

    fn call(
        &mut self,
        id: usize,
        payload: &mut [u8],
        metadata: &[u64],
        ctx: &CallerCtx, // only pid and id are valid here
    ) -> Result<usize> {
        // The Linux calls have an empty payload; only the extensions (whose opcodes no small
        // ioctl verb can have) carry one. relibc sends terminal ioctls (tcgetattr,
        // tcsetattr, ...) to any fd as calls with the structure as payload: Linux answers
        // those with ENOTTY on an inotify fd, and so does this.
        if !payload.is_empty() && !CallRepr::is_payload_opcode(metadata) {
            return match self.handles.get(&id) {
                Some(_) => Err(Error::new(ENOTTY)),
                None => Err(Error::new(EBADF)),
            };
        }
        let call = CallRepr::parse(metadata).map_err(|_| Error::new(EINVAL))?;
        let pid = ctx.pid;
        // A field borrow (not `self.instance`), so the path budget can be reached too.
        let h = match self.handles.get_mut(&id) {
            Some(Handle::Instance(h)) => h,
            Some(_) => return Err(Error::new(EINVAL)),
            None => return Err(Error::new(EBADF)),
        };
        let inst = h.inst;
        match call {
            CallRepr::TakeResultPath { token } => {
                if payload.is_empty() || payload.len() > MAX_WATCH_PATH {
                    return Err(Error::new(EINVAL));
                }
                match h.take_result(pid, token) {
                    Some(Ok(wd)) => {
                        let uid = h.uid;
                        let used = self.path_bytes.entry(uid).or_default();
                        if !h.paths.contains_key(&wd)
                            && *used + payload.len() <= MAX_USER_PATH_BYTES
                        {
                            *used += payload.len();
                            h.path_bytes += payload.len();
                            h.paths.insert(wd, payload.into());
                        }
                        self.prune_paths(id);
                        Ok(wd as usize)
                    }
                    Some(Err(e)) => Err(Error::new(e)),
                    None => Err(Error::new(EINVAL)),
                }
            }
            CallRepr::LossReport => {
                if payload.len() < LOSS_REPORT_LEN {
                    return Err(Error::new(EINVAL));
                }
                let report = self.engine.take_loss_report(inst).map_err(Error::new)?;
                report.emit(payload).map_err(|_| Error::new(EINVAL))
            }
            CallRepr::ListWatches { from_wd } => self.list_watches(id, from_wd, payload),
            CallRepr::TakeResult { token } => match h.take_result(pid, token) {
                Some(Ok(wd)) => Ok(wd as usize),
                Some(Err(e)) => Err(Error::new(e)),
                None => Err(Error::new(EINVAL)),
            },
            CallRepr::RmWatch { wd } => {
                self.engine.rm_watch(inst, wd).map_err(Error::new)?;
                self.flush_interest();
                Ok(0)
            }
            CallRepr::QueuedBytes => Ok(self.engine.queued_bytes(inst)),
        }
    }

    fn on_sendfd(&mut self, req: &SendFdRequest) -> Result<usize> {
        let id = req.id();
        let ctx = req.caller();
        let inst = match self.handles.get(&id) {
            Some(Handle::Instance(h)) => h.inst,
            Some(_) => return Err(Error::new(EINVAL)),
            None => return Err(Error::new(EBADF)),
        };
        let arg = AddWatchArg::parse(req.arg());
        let result = match self.sys.obtain_fd(req) {
            Ok(fd) => {
                let r = self.add_watch_fd(inst, fd, arg.mask, &ctx);
                if let Err(e) = self.sys.close(fd) {
                    log::warn!("closing a watched fd: {e}");
                }
                r
            }
            Err(e) => Err(e.errno),
        };
        // The feeds learn about a new watch before the client learns its wd, so the client's
        // next operation on the object is already recorded.
        self.flush_interest();
        if let Ok(h) = self.instance(id) {
            h.store_result(AddResult {
                pid: ctx.pid,
                token: arg.token,
                result,
            });
        }
        Ok(0)
    }

    fn on_close(&mut self, id: usize) {
        self.close_handle(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_at_is_positional() {
        let mut buf = [0u8; 3];
        assert_eq!(copy_at(b"16384\n", 0, &mut buf), 3);
        assert_eq!(&buf, b"163");
        assert_eq!(copy_at(b"16384\n", 3, &mut buf), 3);
        assert_eq!(&buf, b"84\n");
        assert_eq!(copy_at(b"16384\n", 6, &mut buf), 0);
        assert_eq!(copy_at(b"16384\n", u64::MAX, &mut buf), 0);
    }
}
