//! The `SchemeSync` implementation: each request mapped onto the jobs of the other modules.

use std::fs::{self, File};
use std::os::unix::fs::{DirEntryExt, FileExt, MetadataExt, PermissionsExt};

use inotify_abi::proto::{Identity, FEED_DUP_NAME};
use inotify_feed::endpoint::{
    answer_identity, check_feed_dup, identify_request, subtree_request, FeedError,
};

use inotifyd::scheme::copy_at;
use redox_scheme::scheme::SchemeSync;
use redox_scheme::{CallerCtx, OpenResult};
use syscall::dirent::{DirEntry, DirentBuf, DirentKind};
use syscall::error::{Error, Result, EACCES, EBADF, EINVAL, EISDIR, ENOTDIR, EOPNOTSUPP, EPERM};
use syscall::flag::{
    EventFlags, MapFlags, MunmapFlags, StdFsCallKind, F_GETFL, F_SETFL, MODE_DIR, MODE_FILE,
    MODE_PERM, MODE_SYMLINK, MODE_TYPE, O_APPEND, O_FCNTL_MASK, O_RDWR, O_STAT, O_SYMLINK,
};
use syscall::schemev2::NewFdFlags;
use syscall::{Stat, StdFsCallMeta, TimeSpec};

use super::{
    dirent_kind, host_err, may, spec_time, Handle, HostFs, Node, NodeFact, MAY_READ, MAY_WRITE,
    UTIME_NOW, UTIME_OMIT,
};

impl HostFs {
    /// Applies `fchown` for a caller.
    pub(super) fn chown(&mut self, id: usize, uid: u32, gid: u32, ctx: &CallerCtx) -> Result<()> {
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

    /// Lists directory handle `id` into `buf` from `offset` (an index into the snapshot).
    pub(super) fn list<'buf>(
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
        if !self.instrumented {
            return Err(Error::new(EOPNOTSUPP));
        }
        check_feed_dup(buf, ctx.uid).map_err(|e| Error::new(e.errno()))?;
        let id = self.insert(Handle::Feed);
        self.feed.handles_mut().open(id);
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
            return self.feed.write(buf).map_err(|e| Error::new(e.errno()));
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

    /// The identity call (`inotify_abi::proto::IdentifyCall`): what handle `ids[1]` is and
    /// whether the named caller may read it, by this filesystem's own rules. The kernel
    /// delivers it only when both fds are on this scheme.
    fn call_multiple_ids(
        &mut self,
        ids: &[usize],
        payload: &mut [u8],
        metadata: &[u64],
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        if !self.instrumented {
            return Err(Error::new(EOPNOTSUPP));
        }
        let (id, call) = match identify_request(ids, metadata) {
            Err(FeedError::Unsupported) => {
                // The subtree call: only through a feed handle (root only), so no one but
                // the daemon can add subtree roots.
                let id =
                    subtree_request(ids, payload, metadata).map_err(|e| Error::new(e.errno()))?;
                if !self.feed.is_feed(ids[0]) {
                    return Err(Error::new(EACCES));
                }
                return self.subtree_call(id, payload);
            }
            r => r.map_err(|e| Error::new(e.errno()))?,
        };
        if !self.handles.contains_key(&ids[0]) {
            return Err(Error::new(EBADF));
        }
        let node = self.node(id)?;
        let meta = self.node_meta(node)?;
        let identity = Identity {
            ino: node.ino,
            is_dir: node.is_dir,
            may_read: may(&meta, call.uid, call.gid, MAY_READ),
        };
        answer_identity(&identity, payload).map_err(|e| Error::new(e.errno()))
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

    fn mmap_prep(
        &mut self,
        id: usize,
        offset: u64,
        size: usize,
        _flags: MapFlags,
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        match self.handles.get(&id) {
            Some(Handle::Feed) => {}
            Some(_) => return Err(Error::new(EOPNOTSUPP)),
            None => return Err(Error::new(EBADF)),
        }
        let memory = self.memory.clone().ok_or(Error::new(EOPNOTSUPP))?;
        self.feed
            .map(offset, size, |len| {
                Some(Box::new(memory.alloc(len)) as inotify_feed::RingBox)
            })
            .map_err(|e| Error::new(e.errno()))
    }

    fn munmap(
        &mut self,
        id: usize,
        _offset: u64,
        _size: usize,
        _flags: MunmapFlags,
        _ctx: &CallerCtx,
    ) -> Result<()> {
        // The ring stays the producer's until the last feed handle closes.
        match self.handles.get(&id) {
            Some(Handle::Feed) => Ok(()),
            Some(_) => Err(Error::new(EOPNOTSUPP)),
            None => Err(Error::new(EBADF)),
        }
    }

    fn fevent(&mut self, id: usize, flags: EventFlags, _ctx: &CallerCtx) -> Result<EventFlags> {
        match self.handles.get(&id) {
            Some(Handle::Feed) if self.feed.readable() => Ok(flags & EventFlags::EVENT_READ),
            Some(_) => Ok(EventFlags::empty()),
            None => Err(Error::new(EBADF)),
        }
    }

    fn flink(&mut self, id: usize, path: &str, ctx: &CallerCtx) -> Result<usize> {
        self.link_at(id, &[], path, ctx)
    }

    fn flinkat(
        &mut self,
        id: usize,
        dirid: usize,
        path: &str,
        _flags: u32,
        ctx: &CallerCtx,
    ) -> Result<usize> {
        let ctx = &self.opener_ctx(id, ctx)?;
        let base = self.base_dir(dirid)?;
        self.link_at(id, &base, path, ctx)
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
        self.rename_handle(id, path, ctx)
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
        let ctx = &self.opener_ctx(old_dir, ctx)?;
        let old_base = self.base_dir(old_dir)?;
        let new_base = self.base_dir(new_dir)?;
        self.rename_at(&old_base, old_path, &new_base, new_path, ctx)
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
                stat.st_size = self.feed.queued_bytes() as u64;
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
        // An O_PATH handle is no open file for ftruncate (Linux: EBADF), a read-only one
        // is EINVAL.
        if node.flags & O_STAT != 0 {
            return Err(Error::new(EBADF));
        }
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
                // The last feed handle clears the interest set.
                self.feed.close(id);
            }
            None => {}
        }
    }
}
