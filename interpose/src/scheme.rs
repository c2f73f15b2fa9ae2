//! The `SchemeSync` implementation: each request forwarded to the target with the caller's
//! credentials, and the facts of what it did recorded.

// A variant constructor is not general over the subject's lifetime, which
// `report_through` asks for: the closures are needed.
#![allow(clippy::redundant_closure)]

use std::sync::Arc;

use inotify_abi::feed::{Fact, Replaced};
use inotify_abi::proto::{Identity, FEED_DUP_NAME};
use inotify_feed::endpoint::{answer_identity, check_feed_dup, identify_request, subtree_request};
use inotify_feed::{FeedError, NameUse};
use redox_scheme::scheme::{Op, SchemeState, SchemeSync};
use redox_scheme::{CallRequest, CallerCtx, OpenResult, Response};
use syscall::error::{Error, Result, EACCES, EBADF, EINVAL, EOPNOTSUPP};
use syscall::flag::{
    EventFlags, RwFlags, StdFsCallKind, F_GETFL, F_SETFL, MODE_DIR, MODE_FILE, MODE_SYMLINK,
    MODE_TYPE, O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY,
    O_RDWR, O_STAT, O_SYMLINK, O_TRUNC, O_WRONLY,
};
use syscall::schemev2::{NewFdFlags, Opcode, Sqe};
use syscall::{Stat, StdFsCallMeta, TimeSpec};

use super::{Creds, Handle, Interposer, Node, RealFd, Target};

/// `timespec.tv_nsec` meaning "leave this time alone" (relibc and Linux share the value).
const UTIME_OMIT: i32 = (1 << 30) - 2;

/// The fd flags of every forwarded handle: positioned, so that the kernel puts the
/// description's offset in each read and write and the forward (`SYS_READ2`/`SYS_WRITE2`,
/// explicit offsets) never carries "no offset" (`u64::MAX`) to a target that keeps none of
/// its own: redoxfs marks all its handles positioned and takes the offset as it comes (a
/// write at `u64::MAX` panics redoxfs 0.9.1).
const FORWARDED_FLAGS: NewFdFlags = NewFdFlags::POSITIONED;

/// Longest `fpath` answer taken from the target.
const PATH_BUF: usize = 4096;

/// The ids of a caller nobody could name: no file grants them anything it denies others.
const NOBODY: Creds = Creds {
    uid: 65534,
    gid: 65534,
};

/// Marks a caller whose request carried no credentials (see [`mark_without_ids`]).
const NO_IDS: u32 = u32::MAX;

/// Whether `call` carries no credentials: `call` and `std_fs_call` requests, whose metadata
/// takes the slot of the ids (redox-scheme: "only pid and id are correct here").
pub(crate) fn carries_no_ids(call: &CallRequest) -> bool {
    matches!(
        Opcode::try_from_raw(sqe_of(call).opcode),
        Some(Opcode::Call | Opcode::StdFsCall)
    )
}

/// Marks `caller` as carrying no credentials, so that [`handle`] finds them elsewhere.
pub(crate) fn mark_without_ids(caller: &mut CallerCtx) {
    caller.uid = NO_IDS;
    caller.gid = NO_IDS;
}

/// Whether `caller`'s ids came with the request.
fn caller_has_ids(caller: &CallerCtx) -> bool {
    !(caller.uid == NO_IDS && caller.gid == NO_IDS)
}

/// The kernel's record behind a call request.
fn sqe_of(call: &CallRequest) -> &Sqe {
    // SAFETY: `CallRequest` is `#[repr(transparent)]` over `Request`, itself
    // `#[repr(transparent)]` over the kernel's `Sqe` (redox-scheme 0.12 `lib.rs`), so the
    // pointer cast keeps layout and lifetime; every bit pattern is a valid `Sqe`.
    unsafe { &*(call as *const CallRequest as *const Sqe) }
}

/// Whether redox-scheme's decoder would `assert!` on this request (an fstat, fstatvfs or
/// futimens buffer of the wrong size): such requests are refused with `EINVAL` before
/// decoding, so a hostile caller cannot panic the interposer.
pub(crate) fn refused_before_decoding(call: &CallRequest) -> bool {
    let sqe = sqe_of(call);
    let len = usize::try_from(sqe.args[2]).unwrap_or(usize::MAX);
    match Opcode::try_from_raw(sqe.opcode) {
        Some(Opcode::Fstat) => len < size_of::<Stat>(),
        Some(Opcode::Fstatvfs) => len < size_of::<syscall::StatVfs>(),
        Some(Opcode::Futimens) => len > 2 * size_of::<TimeSpec>(),
        _ => false,
    }
}

/// The `RwFlags` bits of a read for a caller whose description has `fcntl_flags`: only
/// `O_NONBLOCK` and `O_APPEND` carry over (Redox's `SYS_READ2` refuses any other bit with
/// `EINVAL`; the description's other flags are the interposer's own fd's).
pub(crate) fn rw_flags(fcntl_flags: u32) -> usize {
    let fl = fcntl_flags as usize;
    let mut rw = RwFlags::empty();
    rw.set(RwFlags::NONBLOCK, fl & O_NONBLOCK != 0);
    rw.set(RwFlags::APPEND, fl & O_APPEND != 0);
    rw.bits() as usize
}

/// Handles one request on a serving thread.
pub(crate) fn handle<T: Target>(
    me: &Arc<Interposer<T>>,
    mut op: Op,
    mut caller: CallerCtx,
    state: &mut SchemeState,
) -> Response {
    if !caller_has_ids(&caller) {
        // The request carries no credentials: the system's record of the caller's, else
        // those the handle was opened with; never the interposer's.
        let who = me.target.caller_creds(caller.pid).or_else(|| {
            let id = op.file_id()?;
            me.lock().node(id).map(|n| n.opener)
        });
        let who = who.unwrap_or(NOBODY);
        caller.uid = who.uid;
        caller.gid = who.gid;
    }
    // Listings are forwarded raw: the target's entries go to the caller as they are. Redox's
    // kernel sends getdents as a `StdFsCall` (kind, offset, header size in the metadata),
    // which redox-scheme would hand to `SchemeSync::getdents` as a `DirentBuf`.
    if let Op::Getdents(ref mut g) = op {
        let (fd, header, opaque) = (g.fd, g.header_size, g.opaque_offset);
        let res = me.getdents(fd, g.raw_buf(), header, opaque, &caller);
        return Response::new(res, op);
    }
    if let Op::StdFsCall(ref mut call) = op {
        let (fds, payload, meta) = call.fds_and_payload_and_metadata();
        if let ([fd], [kind, opaque, header]) = (fds, meta) {
            if StdFsCallKind::try_from_raw(*kind as u8) == Some(StdFsCallKind::Getdents) {
                let header = u16::try_from(*header).unwrap_or(u16::MAX);
                let res = me.getdents(*fd, payload, header, *opaque, &caller);
                return Response::new(res, op);
            }
        }
    }
    op.handle_sync(caller, &mut Worker(me), state)
}

/// The credentials a request carries.
fn creds(ctx: &CallerCtx) -> Creds {
    Creds {
        uid: ctx.uid,
        gid: ctx.gid,
    }
}

/// The errno of a feed error.
fn feed_err(e: FeedError) -> Error {
    Error::new(e.errno())
}

/// What a probe found about a name: its parent directory and the object, if any.
struct NameProbe {
    /// Path of the parent from the target's root.
    parent: Vec<String>,
    /// Inode of the parent.
    parent_ino: u64,
    /// The last component.
    last: String,
    /// The object (`None`: the name does not exist).
    stat: Option<Stat>,
}

impl NameProbe {
    /// The name's path from the target's root.
    fn comps(&self) -> Vec<String> {
        let mut c = self.parent.clone();
        c.push(self.last.clone());
        c
    }
}

/// Whether a mode is a directory.
pub(crate) fn is_dir(stat: &Stat) -> bool {
    stat.st_mode & MODE_TYPE == MODE_DIR
}

/// Links left after a name of `stat`'s inode is removed (directories: none).
fn links_after_unlink(stat: &Stat) -> u64 {
    if is_dir(stat) {
        0
    } else {
        u64::from(stat.st_nlink).saturating_sub(1)
    }
}

/// What a forwarded handle is, for one request.
enum Kind<T: Target> {
    /// A feed handle.
    Feed,
    /// A forwarded handle: its fd and the credentials it was opened with.
    Node(Arc<RealFd<T>>, Creds),
}

impl<T: Target> Interposer<T> {
    /// What handle `id` is; `EBADF` when it is not open.
    fn kind(&self, id: usize) -> Result<Kind<T>> {
        match self.lock().handles.get(&id) {
            Some(Handle::Node(n)) => Ok(Kind::Node(Arc::clone(&n.real), n.opener)),
            Some(Handle::Feed) => Ok(Kind::Feed),
            None => Err(Error::new(EBADF)),
        }
    }

    /// The target fd of forwarded handle `id` (`EINVAL` for a feed handle).
    fn real(&self, id: usize) -> Result<(Arc<RealFd<T>>, Creds)> {
        match self.kind(id)? {
            Kind::Node(real, opener) => Ok((real, opener)),
            Kind::Feed => Err(Error::new(EINVAL)),
        }
    }

    /// Wraps a target fd the interposer got.
    pub(crate) fn own(&self, fd: usize) -> Arc<RealFd<T>> {
        Arc::new(RealFd {
            fd,
            owned: true,
            target: Arc::clone(&self.target),
        })
    }

    /// The path from the target's root of target fd `fd`, from the target's `fpath`.
    fn comps_of(&self, fd: usize) -> Option<Vec<String>> {
        let mut buf = [0u8; PATH_BUF];
        let n = self.target.fpath(Creds::OWN, fd, &mut buf).ok()?;
        let path = std::str::from_utf8(buf.get(..n)?).ok()?;
        let name = self.target.name();
        let rest = path
            .strip_prefix("/scheme/")
            .and_then(|p| p.strip_prefix(name))
            .filter(|r| r.is_empty() || r.starts_with('/'))
            .or_else(|| path.strip_prefix(name)?.strip_prefix(':'))?;
        Some(
            rest.split('/')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    /// The inode of directory `comps`: from an open handle on it, else one probe.
    fn dir_ino(&self, comps: &[String]) -> Option<u64> {
        if let Some(ino) = self.lock().known_dir(comps) {
            return Some(ino);
        }
        let path = comps.join("/");
        let flags = O_STAT | O_DIRECTORY | O_NOFOLLOW;
        let fd = self
            .target
            .openat(Creds::OWN, self.target.root(), &path, flags)
            .ok()?;
        let fd = self.own(fd);
        self.target.fstat(Creds::OWN, fd.fd).ok().map(|s| s.st_ino)
    }

    /// What `path` relative to target directory `dir` names: its parent and the object,
    /// found as the interposer (the answer never reaches the caller). `None` when the path
    /// has no last name (`.`, `..`, the root) or the parent cannot be found.
    fn probe_name(&self, dir: usize, path: &str) -> Option<NameProbe> {
        let trimmed = path.trim_end_matches('/');
        let (parent, last) = match trimmed.rsplit_once('/') {
            Some(("", last)) => ("/", last),
            Some((parent, last)) => (parent, last),
            None => (".", trimmed),
        };
        if last.is_empty() || last == "." || last == ".." {
            return None;
        }
        let flags = O_STAT | O_DIRECTORY;
        let pfd = self.own(self.target.openat(Creds::OWN, dir, parent, flags).ok()?);
        let parent_ino = self.target.fstat(Creds::OWN, pfd.fd).ok()?.st_ino;
        let parent = self.comps_of(pfd.fd)?;
        let stat = self
            .target
            .openat(Creds::OWN, pfd.fd, last, O_STAT | O_NOFOLLOW)
            .ok()
            .and_then(|fd| {
                let fd = self.own(fd);
                self.target.fstat(Creds::OWN, fd.fd).ok()
            });
        Some(NameProbe {
            parent,
            parent_ino,
            last: last.to_string(),
            stat,
        })
    }

    /// Whether `path` relative to target directory `dir` exists (following a final symlink
    /// when `follow`).
    fn exists(&self, dir: usize, path: &str, follow: bool) -> bool {
        let flags = O_STAT | if follow { 0 } else { O_NOFOLLOW };
        match self.target.openat(Creds::OWN, dir, path, flags) {
            Ok(fd) => {
                self.target.close(fd);
                true
            }
            Err(_) => false,
        }
    }

    /// Says that facts were lost, when an operation succeeded but what it did could not be
    /// found out: the watchers get `IN_Q_OVERFLOW` rather than silence.
    fn lost(&self) {
        let mut st = self.lock();
        if st.any_interest() {
            self.report(&mut st, &Fact::Lost { count: 1 });
        }
    }

    /// `getdents`, forwarded; the listing is an access.
    pub(crate) fn getdents(
        &self,
        id: usize,
        buf: &mut [u8],
        header: u16,
        opaque: u64,
        ctx: &CallerCtx,
    ) -> Result<usize> {
        let (real, _) = self.real(id)?;
        let n = self
            .target
            .getdents(creds(ctx), real.fd, buf, header, opaque)?;
        let mut st = self.lock();
        self.report_through(&mut st, id, NameUse::Data, |at| Fact::Accessed(at));
        Ok(n)
    }

    /// A rename that succeeded on the target: `from` became `to` (probed before it).
    fn renamed(&self, from: (Vec<String>, u64, String, Stat), to: NameProbe) {
        let (from_comps, old_dir, old_name, src) = from;
        if to.stat.is_some_and(|d| d.st_ino == src.st_ino) {
            return; // Same inode: nothing happened.
        }
        let to_comps = to.comps();
        let mut st = self.lock();
        let replaced = to.stat.map(|dst| {
            let links_left = links_after_unlink(&dst);
            let freed = st.detach(
                &to_comps,
                dst.st_ino,
                is_dir(&dst),
                to.parent_ino,
                links_left,
            );
            Replaced {
                ino: dst.st_ino,
                is_dir: is_dir(&dst),
                links_left,
                freed,
            }
        });
        st.move_handles(&from_comps, &to_comps, src.st_ino, to.parent_ino, &to.last);
        self.report(
            &mut st,
            &Fact::Renamed {
                old_dir,
                old_name: old_name.as_bytes(),
                new_dir: to.parent_ino,
                new_name: to.last.as_bytes(),
                ino: src.st_ino,
                is_dir: is_dir(&src),
                replaced,
            },
        );
        let walk = st.feed.take_walk();
        drop(st);
        if let Some(ino) = walk {
            self.walk_moved(&to_comps, ino);
        }
    }

    /// A link that succeeded on the target: `to` now names `ino`.
    fn linked(&self, ino: u64, to: Option<NameProbe>) {
        match to {
            Some(to) => {
                let mut st = self.lock();
                self.report(
                    &mut st,
                    &Fact::Linked {
                        dir: to.parent_ino,
                        name: to.last.as_bytes(),
                        ino,
                    },
                );
            }
            None => self.lost(),
        }
    }

    /// Whether `who` may read handle `node` by the target's own rules: the target is asked
    /// to open the handle's path for reading as `who`. A handle whose name is gone is
    /// answered from its mode bits.
    fn may_read(&self, who: Creds, node: (&[String], bool, bool, usize)) -> bool {
        let (comps, dir, unlinked, fd) = node;
        if who.uid == 0 {
            return true;
        }
        if !unlinked {
            let flags = O_RDONLY | if dir { O_DIRECTORY } else { 0 };
            let path = comps.join("/");
            return match self.target.openat(who, self.target.root(), &path, flags) {
                Ok(fd) => {
                    self.target.close(fd);
                    true
                }
                Err(_) => false,
            };
        }
        let Ok(stat) = self.target.fstat(Creds::OWN, fd) else {
            return false;
        };
        let mode = u32::from(stat.st_mode);
        let bits = if stat.st_uid == who.uid {
            mode >> 6
        } else if stat.st_gid == who.gid {
            mode >> 3
        } else {
            mode
        };
        bits & 4 != 0
    }
}

/// The interposer seen by one request.
struct Worker<'a, T: Target>(&'a Interposer<T>);

impl<T: Target> SchemeSync for Worker<'_, T> {
    fn scheme_root(&mut self) -> Result<usize> {
        Ok(super::ROOT_ID)
    }

    fn openat(
        &mut self,
        fd: usize,
        path: &str,
        flags: usize,
        fcntl_flags: u32,
        ctx: &CallerCtx,
    ) -> Result<OpenResult> {
        let me = self.0;
        let (base, _) = me.real(fd)?;
        let all = flags | fcntl_flags as usize;
        let stat_only = all & O_STAT != 0;
        let creat = all & O_CREAT != 0;
        let existed = !creat || me.exists(base.fd, path, all & (O_NOFOLLOW | O_EXCL) == 0);
        let real = me.own(me.target.openat(creds(ctx), base.fd, path, all)?);
        let created = creat && !existed;
        let pending_symlink = created && all & O_SYMLINK != 0;
        let stat = me.target.fstat(Creds::OWN, real.fd).ok();
        let comps = me.comps_of(real.fd);
        let known = stat.is_some() && comps.is_some();
        let stat = stat.unwrap_or_default();
        let comps = comps.unwrap_or_default();
        let kind = stat.st_mode & MODE_TYPE;
        let (is_dir, is_file, is_symlink) =
            (kind == MODE_DIR, kind == MODE_FILE, kind == MODE_SYMLINK);
        let (dir, name) = match comps.split_last() {
            Some((name, parent)) => (me.dir_ino(parent).unwrap_or(0), name.clone()),
            None => (0, String::new()),
        };
        let acc = all & O_ACCMODE;
        let for_write = pending_symlink || (!stat_only && (acc == O_WRONLY || acc == O_RDWR));
        let node = Node {
            real,
            comps,
            ino: stat.st_ino,
            is_dir,
            is_symlink,
            dir,
            name,
            for_write,
            silent: !known || stat_only || (created && all & (O_DIRECTORY | O_SYMLINK) != 0),
            unlinked: false,
            detach_id: 0,
            no_links: false,
            pending_symlink,
            opener: creds(ctx),
        };
        let mut st = me.lock();
        if !known {
            if st.any_interest() {
                me.report(&mut st, &Fact::Lost { count: 1 });
            }
        } else if created && !pending_symlink {
            let fact = Fact::Created {
                dir: node.dir,
                name: node.name.as_bytes(),
                ino: node.ino,
                is_dir,
            };
            me.report(&mut st, &fact);
        }
        let id = st.insert(Handle::Node(node));
        me.report_through(&mut st, id, NameUse::Data, |at| Fact::Opened(at));
        if all & O_TRUNC != 0 && !created && is_file && !stat_only {
            me.report_through(&mut st, id, NameUse::Truncate, |at| Fact::Modified(at));
        }
        Ok(OpenResult::ThisScheme {
            number: id,
            flags: FORWARDED_FLAGS,
        })
    }

    fn unlinkat(&mut self, fd: usize, path: &str, flags: usize, ctx: &CallerCtx) -> Result<()> {
        let me = self.0;
        let (base, _) = me.real(fd)?;
        let probe = me.probe_name(base.fd, path);
        me.target.unlinkat(creds(ctx), base.fd, path, flags)?;
        let Some((p, stat)) = probe.and_then(|p| p.stat.map(|s| (p, s))) else {
            me.lost();
            return Ok(());
        };
        let comps = p.comps();
        let links_left = links_after_unlink(&stat);
        let mut st = me.lock();
        let freed = st.detach(&comps, stat.st_ino, is_dir(&stat), p.parent_ino, links_left);
        me.report(
            &mut st,
            &Fact::Unlinked {
                dir: p.parent_ino,
                name: p.last.as_bytes(),
                ino: stat.st_ino,
                is_dir: is_dir(&stat),
                links_left,
                freed,
            },
        );
        Ok(())
    }

    fn dup(&mut self, old_id: usize, buf: &[u8], ctx: &CallerCtx) -> Result<OpenResult> {
        let me = self.0;
        if buf == FEED_DUP_NAME {
            me.kind(old_id)?;
            check_feed_dup(buf, ctx.uid).map_err(feed_err)?;
            let mut st = me.lock();
            let id = st.insert(Handle::Feed);
            st.feed.handles_mut().open(id);
            return Ok(OpenResult::ThisScheme {
                number: id,
                flags: NewFdFlags::empty(),
            });
        }
        let (real, _) = me.real(old_id)?;
        let new = me.own(me.target.dup(creds(ctx), real.fd, buf)?);
        let mut st = me.lock();
        let Some(old) = st.node(old_id) else {
            return Err(Error::new(EBADF));
        };
        let node = Node {
            real: new,
            comps: old.comps.clone(),
            name: old.name.clone(),
            silent: true,
            opener: creds(ctx),
            ..*old
        };
        let id = st.insert(Handle::Node(node));
        Ok(OpenResult::ThisScheme {
            number: id,
            flags: FORWARDED_FLAGS,
        })
    }

    fn read(
        &mut self,
        id: usize,
        buf: &mut [u8],
        offset: u64,
        fcntl_flags: u32,
        ctx: &CallerCtx,
    ) -> Result<usize> {
        let me = self.0;
        let real = match me.kind(id)? {
            Kind::Feed => return me.lock().feed.read(buf).map_err(feed_err),
            Kind::Node(real, _) => real,
        };
        let n = me
            .target
            .read(creds(ctx), real.fd, buf, offset, rw_flags(fcntl_flags))?;
        if n > 0 {
            let mut st = me.lock();
            if st.node(id).is_some_and(|n| !n.is_symlink) {
                me.report_through(&mut st, id, NameUse::Data, |at| Fact::Accessed(at));
            }
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
        let me = self.0;
        let real = match me.kind(id)? {
            Kind::Feed => return me.lock().feed.write(buf).map_err(feed_err),
            Kind::Node(real, _) => real,
        };
        let n = me.target.write(creds(ctx), real.fd, buf, offset)?;
        let pending = me.lock().node(id).is_some_and(|n| n.pending_symlink);
        if pending {
            // The first write of an `O_CREAT | O_SYMLINK` handle made the link.
            let ino = me.target.fstat(Creds::OWN, real.fd).map(|s| s.st_ino);
            let mut st = me.lock();
            let Some(Handle::Node(node)) = st.handles.get_mut(&id) else {
                return Ok(n);
            };
            node.pending_symlink = false;
            match ino {
                Ok(ino) => {
                    node.ino = ino;
                    let (dir, name) = (node.dir, node.name.clone());
                    let fact = Fact::Created {
                        dir,
                        name: name.as_bytes(),
                        ino,
                        is_dir: false,
                    };
                    me.report(&mut st, &fact);
                }
                Err(_) => {
                    drop(st);
                    me.lost();
                }
            }
        } else if n > 0 {
            let mut st = me.lock();
            me.report_through(&mut st, id, NameUse::Data, |at| Fact::Modified(at));
        }
        Ok(n)
    }

    fn fsize(&mut self, id: usize, ctx: &CallerCtx) -> Result<u64> {
        let (real, _) = self.0.real(id)?;
        self.0.target.fsize(creds(ctx), real.fd)
    }

    fn fchmod(&mut self, id: usize, new_mode: u16, ctx: &CallerCtx) -> Result<()> {
        let me = self.0;
        let (real, _) = me.real(id)?;
        me.target.fchmod(creds(ctx), real.fd, new_mode)?;
        let mut st = me.lock();
        me.report_through(&mut st, id, NameUse::Meta, |at| Fact::Attrib(at));
        Ok(())
    }

    fn fchown(&mut self, id: usize, new_uid: u32, new_gid: u32, ctx: &CallerCtx) -> Result<()> {
        let me = self.0;
        let (real, _) = me.real(id)?;
        me.target.fchown(creds(ctx), real.fd, new_uid, new_gid)?;
        let mut st = me.lock();
        me.report_through(&mut st, id, NameUse::Meta, |at| Fact::Attrib(at));
        Ok(())
    }

    fn std_fs_call(
        &mut self,
        id: usize,
        kind: StdFsCallKind,
        _payload: &mut [u8],
        metadata: StdFsCallMeta,
        ctx: &CallerCtx,
    ) -> Result<usize> {
        let me = self.0;
        match kind {
            StdFsCallKind::Fchown => {
                let (real, _) = me.real(id)?;
                let (uid, gid) = (metadata.arg1 as u32, metadata.arg2 as u32);
                me.target.fchown(creds(ctx), real.fd, uid, gid)?;
                let mut st = me.lock();
                me.report_through(&mut st, id, NameUse::Meta, |at| Fact::Attrib(at));
                Ok(0)
            }
            _ => Err(Error::new(EOPNOTSUPP)),
        }
    }

    fn call(
        &mut self,
        id: usize,
        payload: &mut [u8],
        metadata: &[u64],
        ctx: &CallerCtx,
    ) -> Result<usize> {
        let (real, _) = self.0.real(id)?;
        self.0.target.call(creds(ctx), real.fd, payload, metadata)
    }

    /// The identity call: what handle `ids[1]` is and whether the named caller may read it,
    /// the latter decided by the target.
    fn call_multiple_ids(
        &mut self,
        ids: &[usize],
        payload: &mut [u8],
        metadata: &[u64],
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        let me = self.0;
        let (id, call) = match identify_request(ids, metadata) {
            Err(FeedError::Unsupported) => {
                // The subtree call: only through a feed handle (root only), so no one but
                // the daemon can add subtree roots.
                let id = subtree_request(ids, payload, metadata).map_err(feed_err)?;
                if !matches!(me.kind(ids[0])?, Kind::Feed) {
                    return Err(Error::new(EACCES));
                }
                return me.subtree_call(id, payload);
            }
            other => other.map_err(feed_err)?,
        };
        me.kind(ids[0])?;
        let (ino, dir, comps, unlinked, real) = {
            let st = me.lock();
            let node = match st.handles.get(&id) {
                Some(Handle::Node(n)) => n,
                Some(Handle::Feed) => return Err(Error::new(EINVAL)),
                None => return Err(Error::new(EBADF)),
            };
            let real = Arc::clone(&node.real);
            (
                node.ino,
                node.is_dir,
                node.comps.clone(),
                node.unlinked,
                real,
            )
        };
        let who = Creds {
            uid: call.uid,
            gid: call.gid,
        };
        let identity = Identity {
            ino,
            is_dir: dir,
            may_read: me.may_read(who, (&comps, dir, unlinked, real.fd)),
        };
        answer_identity(&identity, payload).map_err(feed_err)
    }

    fn fcntl(&mut self, id: usize, cmd: usize, arg: usize, ctx: &CallerCtx) -> Result<usize> {
        match self.0.kind(id)? {
            Kind::Feed => match cmd {
                F_GETFL => Ok(O_RDWR),
                F_SETFL => Ok(0),
                _ => Err(Error::new(EINVAL)),
            },
            Kind::Node(real, _) => self.0.target.fcntl(creds(ctx), real.fd, cmd, arg),
        }
    }

    fn fevent(&mut self, id: usize, flags: EventFlags, ctx: &CallerCtx) -> Result<EventFlags> {
        match self.0.kind(id)? {
            Kind::Feed if self.0.lock().feed.readable() => Ok(flags & EventFlags::EVENT_READ),
            Kind::Feed => Ok(EventFlags::empty()),
            Kind::Node(real, _) => self.0.target.fevent(creds(ctx), real.fd, flags),
        }
    }

    fn flink(&mut self, id: usize, path: &str, ctx: &CallerCtx) -> Result<usize> {
        let me = self.0;
        let (real, _) = me.real(id)?;
        let to = me.probe_name(me.target.root(), path);
        me.target.flink(creds(ctx), real.fd, path)?;
        let ino = me.lock().node(id).map(|n| n.ino).unwrap_or(0);
        me.linked(ino, to);
        Ok(0)
    }

    fn flinkat(
        &mut self,
        id: usize,
        dirid: usize,
        path: &str,
        flags: u32,
        ctx: &CallerCtx,
    ) -> Result<usize> {
        let me = self.0;
        let (real, _) = me.real(id)?;
        let (dir, _) = me.real(dirid)?;
        let to = me.probe_name(dir.fd, path);
        me.target
            .flinkat(creds(ctx), real.fd, dir.fd, path, flags as usize)?;
        let ino = me.lock().node(id).map(|n| n.ino).unwrap_or(0);
        me.linked(ino, to);
        Ok(0)
    }

    fn fpath(&mut self, id: usize, buf: &mut [u8], ctx: &CallerCtx) -> Result<usize> {
        let me = self.0;
        let path = match me.kind(id)? {
            Kind::Feed => format!(
                "/scheme/{}/{}",
                me.name,
                String::from_utf8_lossy(FEED_DUP_NAME)
            ),
            Kind::Node(real, _) => {
                let mut tmp = vec![0u8; PATH_BUF];
                let n = me.target.fpath(creds(ctx), real.fd, &mut tmp)?;
                tmp.truncate(n);
                let path = String::from_utf8_lossy(&tmp).into_owned();
                let theirs = format!("/scheme/{}", me.target.name());
                match path.strip_prefix(&theirs) {
                    Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                        format!("/scheme/{}{rest}", me.name)
                    }
                    _ => path,
                }
            }
        };
        let n = path.len().min(buf.len());
        buf[..n].copy_from_slice(&path.as_bytes()[..n]);
        Ok(n)
    }

    fn frename(&mut self, id: usize, path: &str, ctx: &CallerCtx) -> Result<usize> {
        let me = self.0;
        let (real, _) = me.real(id)?;
        let from = me.lock().node(id).map(|n| {
            let stat = Stat {
                st_ino: n.ino,
                st_mode: if n.is_dir { MODE_DIR } else { MODE_FILE },
                ..Stat::default()
            };
            (n.comps.clone(), n.dir, n.name.clone(), stat)
        });
        let to = me.probe_name(me.target.root(), path);
        me.target.frename(creds(ctx), real.fd, path)?;
        match (from, to) {
            (Some(from), Some(to)) => me.renamed(from, to),
            _ => me.lost(),
        }
        Ok(0)
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
        let me = self.0;
        let (old, _) = me.real(old_dir)?;
        let (new, _) = me.real(new_dir)?;
        let from = me.probe_name(old.fd, old_path);
        let to = me.probe_name(new.fd, new_path);
        me.target.frenameat(
            creds(ctx),
            old.fd,
            old_path,
            new.fd,
            new_path,
            flags as usize,
        )?;
        match (from, to) {
            (Some(f), Some(to)) if f.stat.is_some() => {
                let src = f.stat.unwrap_or_default();
                let comps = f.comps();
                me.renamed((comps, f.parent_ino, f.last, src), to);
            }
            _ => me.lost(),
        }
        Ok(0)
    }

    fn fstat(&mut self, id: usize, stat: &mut Stat, ctx: &CallerCtx) -> Result<()> {
        let me = self.0;
        match me.kind(id)? {
            Kind::Feed => {
                *stat = Stat {
                    st_mode: MODE_FILE | 0o600,
                    st_nlink: 1,
                    st_size: me.lock().feed.queued_bytes() as u64,
                    ..Stat::default()
                };
                Ok(())
            }
            Kind::Node(real, _) => {
                *stat = me.target.fstat(creds(ctx), real.fd)?;
                Ok(())
            }
        }
    }

    fn fsync(&mut self, id: usize, ctx: &CallerCtx) -> Result<()> {
        let (real, _) = self.0.real(id)?;
        self.0.target.fsync(creds(ctx), real.fd)
    }

    fn ftruncate(&mut self, id: usize, len: u64, ctx: &CallerCtx) -> Result<()> {
        let me = self.0;
        let (real, _) = me.real(id)?;
        me.target.ftruncate(creds(ctx), real.fd, len)?;
        let mut st = me.lock();
        me.report_through(&mut st, id, NameUse::Truncate, |at| Fact::Modified(at));
        Ok(())
    }

    fn futimens(&mut self, id: usize, times: &[TimeSpec], ctx: &CallerCtx) -> Result<()> {
        let me = self.0;
        let (real, _) = me.real(id)?;
        me.target.futimens(creds(ctx), real.fd, times)?;
        let (atime, mtime) = match times {
            [] => (true, true),
            [a] => (a.tv_nsec != UTIME_OMIT, false),
            [a, m, ..] => (a.tv_nsec != UTIME_OMIT, m.tv_nsec != UTIME_OMIT),
        };
        if atime || mtime {
            let mut st = me.lock();
            me.report_through(&mut st, id, NameUse::Meta, |at| Fact::Times {
                at,
                atime,
                mtime,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redox_scheme::{Request, RequestKind};

    /// A call request from a kernel record.
    fn call(opcode: Opcode, len: u64) -> CallRequest {
        let mut sqe = Sqe {
            opcode: opcode as u8,
            tag: 1,
            ..Sqe::default()
        };
        sqe.args[2] = len;
        // SAFETY: `Request` is `#[repr(transparent)]` over `Sqe`.
        let req = unsafe { std::mem::transmute::<Sqe, Request>(sqe) };
        match req.kind() {
            RequestKind::Call(c) => c,
            _ => unreachable!("a call opcode"),
        }
    }

    #[test]
    fn buffers_the_decoder_would_assert_on_are_refused_and_right_sizes_pass() {
        assert!(refused_before_decoding(&call(Opcode::Fstat, 8)));
        assert!(refused_before_decoding(&call(Opcode::Fstatvfs, 8)));
        assert!(refused_before_decoding(&call(Opcode::Futimens, 1 << 20)));
        let stat = size_of::<Stat>() as u64;
        assert!(!refused_before_decoding(&call(Opcode::Fstat, stat)));
        let two = 2 * size_of::<TimeSpec>() as u64;
        assert!(!refused_before_decoding(&call(Opcode::Futimens, two)));
        assert!(!refused_before_decoding(&call(Opcode::Read, 0)));
    }
}
