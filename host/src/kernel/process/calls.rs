//! The system calls of a process: each one a request to the scheme behind the fd or path.

use std::sync::Arc;

use syscall::error::{Error, Result, EBADF, EINVAL, EIO, EXDEV};
use syscall::flag::MapFlags;
use syscall::flag::{
    EventFlags, RwFlags, StdFsCallKind, AT_REMOVEDIR, F_GETFD, F_GETFL, F_SETFD, F_SETFL,
    MODE_PERM, O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_FCNTL_MASK, O_NOFOLLOW,
    O_NONBLOCK, O_RDONLY, O_SYMLINK, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET,
};
use syscall::schemev2::{Opcode, SqeFlags};
use syscall::{Stat, TimeSpec};

use super::*;

/// The offset the kernel puts in a read or write request: the description's for a positioned
/// one, else `u64::MAX` (no offset), as Redox's `sys_read`/`sys_write` do.
fn kernel_offset(desc: &Description) -> u64 {
    if desc.positioned {
        *lock(&desc.offset)
    } else {
        u64::MAX
    }
}

impl Process {
    /// `open(path, flags)`; see [`split_path`] for the path forms. The low 16 bits of
    /// `flags` carry the mode for `O_CREAT`, as on Redox. `ENODEV` when no such scheme.
    pub fn open(&self, path: &str, flags: usize) -> Result<usize> {
        let (name, rest) = split_path(path)?;
        let scheme = self.scheme(name)?;
        let root = scheme.root_id;
        self.open_in(&scheme, root, rest, flags)
    }

    /// `openat(dirfd, path, flags)`: `path` relative to the directory `dirfd` names, on
    /// the same scheme.
    pub fn openat(&self, dirfd: usize, path: &str, flags: usize) -> Result<usize> {
        let dir = self.desc(dirfd)?;
        self.open_in(&dir.scheme, dir.id, path, flags)
    }

    /// The read behind [`Process::read`] and friends.
    fn read_inner(
        &self,
        fd: usize,
        buf: &mut [u8],
        extra_flags: usize,
        interrupt: Option<&Interrupt>,
    ) -> Result<usize> {
        let desc = self.desc(fd)?;
        let offset = kernel_offset(&desc);
        let flags = desc.flags() | extra_flags;
        let sqe = self.sqe(
            Opcode::Read,
            [
                desc.id as u64,
                buf.as_mut_ptr() as u64,
                buf.len() as u64,
                offset,
                flags as u64,
            ],
        );
        let n = self.transact(&desc.scheme, sqe, interrupt)?.result?;
        if desc.positioned {
            *lock(&desc.offset) += n as u64;
        }
        Ok(n)
    }

    /// `read`; blocks unless the description is non-blocking.
    pub fn read(&self, fd: usize, buf: &mut [u8]) -> Result<usize> {
        self.read_inner(fd, buf, 0, None)
    }

    /// `read` as if the description were non-blocking (`O_NONBLOCK` in the request's flags).
    pub fn read_nonblock(&self, fd: usize, buf: &mut [u8]) -> Result<usize> {
        self.read_inner(fd, buf, O_NONBLOCK, None)
    }

    /// `read` that a firing `interrupt` cancels: the scheme gets a `Cancel` request with the
    /// read's tag; when it answers `ECANCELED` the read fails with `EINTR`.
    pub fn read_interruptible(
        &self,
        fd: usize,
        buf: &mut [u8],
        interrupt: &Interrupt,
    ) -> Result<usize> {
        self.read_inner(fd, buf, 0, Some(interrupt))
    }

    /// `write`.
    pub fn write(&self, fd: usize, buf: &[u8]) -> Result<usize> {
        let desc = self.desc(fd)?;
        let offset = kernel_offset(&desc);
        let sqe = self.bytes_sqe(Opcode::Write, desc.id, buf, offset, desc.flags() as u64);
        let n = self.transact(&desc.scheme, sqe, None)?.result?;
        if desc.positioned {
            *lock(&desc.offset) += n as u64;
        }
        Ok(n)
    }

    /// `pread` as Redox's `SYS_READ2`: a read at `offset`; `rw` is `usize::MAX` for the
    /// description's flags, else [`RwFlags`] bits that replace its `O_NONBLOCK` and
    /// `O_APPEND` for this read (any other bit: `EINVAL`). The kernel's offset of the
    /// description is neither used nor moved.
    pub fn read_at(&self, fd: usize, buf: &mut [u8], offset: u64, rw: usize) -> Result<usize> {
        let desc = self.desc(fd)?;
        let flags = if rw == usize::MAX {
            desc.flags()
        } else {
            let rw = u32::try_from(rw)
                .ok()
                .and_then(RwFlags::from_bits)
                .ok_or(Error::new(EINVAL))?;
            let mut f = desc.flags() & !(O_NONBLOCK | O_APPEND);
            if rw.contains(RwFlags::NONBLOCK) {
                f |= O_NONBLOCK;
            }
            if rw.contains(RwFlags::APPEND) {
                f |= O_APPEND;
            }
            f
        };
        let sqe = self.sqe(
            Opcode::Read,
            [
                desc.id as u64,
                buf.as_mut_ptr() as u64,
                buf.len() as u64,
                offset,
                flags as u64,
            ],
        );
        self.transact(&desc.scheme, sqe, None)?.result
    }

    /// `pwrite`: a write at `offset` with the description's flags; the kernel's offset of
    /// the description is neither used nor moved.
    pub fn write_at(&self, fd: usize, buf: &[u8], offset: u64) -> Result<usize> {
        let desc = self.desc(fd)?;
        let sqe = self.bytes_sqe(Opcode::Write, desc.id, buf, offset, desc.flags() as u64);
        self.transact(&desc.scheme, sqe, None)?.result
    }

    /// `close`: frees the slot; the scheme gets `OnClose` when this was the last reference
    /// to the description. Event subscriptions made through this fd end.
    pub fn close(&self, fd: usize) -> Result<()> {
        let desc = self.take(fd)?;
        desc.scheme
            .unsubscribe(desc.serial, self.inbox_owner(), Some(fd));
        drop(desc);
        Ok(())
    }

    /// The subscriber identity of this process's `HostSys` watches.
    pub(super) fn inbox_owner(&self) -> u64 {
        // Inbox watches are keyed by the process (one daemon per process).
        Arc::as_ptr(&self.inner) as usize as u64
    }

    /// `dup(fd, name)`: an empty name shares the description (no request); otherwise the
    /// scheme opens a named sub-handle (`Dup` request).
    pub fn dup(&self, fd: usize, name: &[u8]) -> Result<usize> {
        let desc = self.desc(fd)?;
        if name.is_empty() {
            return Ok(self.install(desc, false));
        }
        let sqe = self.bytes_sqe(Opcode::Dup, desc.id, name, 0, 0);
        let reply = self.transact(&desc.scheme, sqe, None)?;
        self.install_opened(&desc.scheme, reply, desc.flags(), false)
    }

    /// `fcntl(fd, cmd, arg)`. `F_GETFD`/`F_SETFD` stay in the kernel; everything else goes to
    /// the scheme, and for `F_GETFL`/`F_SETFL` the kernel answers from (or updates) its own
    /// flags only when the scheme says Ok.
    pub fn fcntl(&self, fd: usize, cmd: usize, arg: usize) -> Result<usize> {
        match cmd {
            F_GETFD => {
                let files = lock(&self.inner.files);
                let slot = files.get(&fd).ok_or(Error::new(EBADF))?;
                Ok(if slot.cloexec { FD_CLOEXEC } else { 0 })
            }
            F_SETFD => {
                let mut files = lock(&self.inner.files);
                let slot = files.get_mut(&fd).ok_or(Error::new(EBADF))?;
                slot.cloexec = arg & FD_CLOEXEC != 0;
                Ok(0)
            }
            _ => {
                let desc = self.desc(fd)?;
                let res = self.fd_call(fd, Opcode::Fcntl, [cmd as u64, arg as u64, 0, 0])?;
                match cmd {
                    F_GETFL => Ok(desc.flags()),
                    F_SETFL => {
                        let mut flags = lock(&desc.flags);
                        *flags = (*flags & O_ACCMODE) | (arg & O_FCNTL_MASK);
                        Ok(0)
                    }
                    _ => Ok(res),
                }
            }
        }
    }

    /// `fstat`.
    pub fn fstat(&self, fd: usize) -> Result<Stat> {
        let mut stat = Stat::default();
        let ptr = &mut stat as *mut Stat as u64;
        self.fd_call(fd, Opcode::Fstat, [ptr, size_of::<Stat>() as u64, 0, 0])?;
        Ok(stat)
    }

    /// `fpath`: writes the path into `buf`, returns its length.
    pub fn fpath(&self, fd: usize, buf: &mut [u8]) -> Result<usize> {
        let ptr = buf.as_mut_ptr() as u64;
        self.fd_call(fd, Opcode::Fpath, [ptr, buf.len() as u64, 0, 0])
    }

    /// `fpath` as a `String` (up to 4096 bytes).
    pub fn fpath_string(&self, fd: usize) -> Result<String> {
        let mut buf = vec![0u8; 4096];
        let n = self.fpath(fd, &mut buf)?.min(buf.len());
        buf.truncate(n);
        String::from_utf8(buf).map_err(|_| Error::new(EINVAL))
    }

    /// `fchmod` (permission bits).
    pub fn fchmod(&self, fd: usize, mode: u16) -> Result<()> {
        self.fd_call(fd, Opcode::Fchmod, [u64::from(mode), 0, 0, 0])
            .map(drop)
    }

    /// `fchown`.
    pub fn fchown(&self, fd: usize, uid: u32, gid: u32) -> Result<()> {
        self.fd_call(fd, Opcode::Fchown, [u64::from(uid), u64::from(gid), 0, 0])
            .map(drop)
    }

    /// `ftruncate`.
    pub fn ftruncate(&self, fd: usize, len: u64) -> Result<()> {
        self.fd_call(fd, Opcode::Ftruncate, [len, 0, 0, 0])
            .map(drop)
    }

    /// `futimens` with one or two times (access, modification).
    pub fn futimens(&self, fd: usize, times: &[TimeSpec]) -> Result<()> {
        if times.len() > 2 {
            return Err(Error::new(EINVAL));
        }
        let ptr = times.as_ptr() as u64;
        let len = std::mem::size_of_val(times) as u64;
        self.fd_call(fd, Opcode::Futimens, [ptr, len, 0, 0])
            .map(drop)
    }

    /// `fsync`.
    pub fn fsync(&self, fd: usize) -> Result<()> {
        self.fd_call(fd, Opcode::Fsync, [0; 4]).map(drop)
    }

    /// `fsize`: the size the scheme reports.
    pub fn fsize(&self, fd: usize) -> Result<u64> {
        self.fd_call(fd, Opcode::Fsize, [0; 4]).map(|n| n as u64)
    }

    /// `lseek` on a positioned description (`ESPIPE`-like `EINVAL` for others, as the kernel
    /// keeps no offset for them).
    pub fn lseek(&self, fd: usize, pos: i64, whence: usize) -> Result<u64> {
        let desc = self.desc(fd)?;
        if !desc.positioned {
            return Err(Error::new(syscall::error::ESPIPE));
        }
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CUR => *lock(&desc.offset) as i64,
            SEEK_END => self.fsize(fd)? as i64,
            _ => return Err(Error::new(EINVAL)),
        };
        let new = base
            .checked_add(pos)
            .filter(|&p| p >= 0)
            .ok_or(Error::new(EINVAL))?;
        *lock(&desc.offset) = new as u64;
        Ok(new as u64)
    }
    /// The names in directory `path` (without `.` and `..`), read with `getdents` until the
    /// end, as `opendir`/`readdir` do: a watch on it sees `OPEN`, `ACCESS` and
    /// `CLOSE_NOWRITE`. `ENOTDIR` for a file.
    pub fn list_dir(&self, path: &str) -> Result<Vec<String>> {
        use syscall::dirent::{DirentHeader, DirentIter};
        use syscall::flag::{O_DIRECTORY, O_RDONLY};
        let fd = self.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)?;
        let mut names = Vec::new();
        let mut buf = vec![0u8; 4096];
        let mut opaque = 0u64;
        let header = std::mem::size_of::<DirentHeader>() as u16;
        let listed = loop {
            match self.getdents(fd, &mut buf, header, opaque) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    for ent in DirentIter::new(&buf[..n]) {
                        let Ok((h, name)) = ent else { break };
                        opaque = h.next_opaque_id;
                        let name = name.split(|&c| c == 0).next().unwrap_or_default();
                        if name != b"." && name != b".." {
                            names.push(String::from_utf8_lossy(name).into_owned());
                        }
                    }
                }
                Err(e) => break Err(e),
            }
        };
        let _ = self.close(fd);
        listed.map(|()| names)
    }

    /// `getdents(fd, buf, header_size, opaque_offset)`: the scheme fills `buf` with
    /// `syscall::dirent` entries; returns the bytes used.
    pub fn getdents(
        &self,
        fd: usize,
        buf: &mut [u8],
        header_size: u16,
        opaque_offset: u64,
    ) -> Result<usize> {
        // As Redox's kernel sends it to a user scheme: a `StdFsCall` of kind `Getdents`,
        // the kind, the offset and the header size in `args[3..6]` (where other requests
        // carry the caller's ids).
        let desc = self.desc(fd)?;
        let mut sqe = self.sqe(
            Opcode::StdFsCall,
            [
                desc.id as u64,
                buf.as_mut_ptr() as u64,
                buf.len() as u64,
                StdFsCallKind::Getdents as u64,
                opaque_offset,
            ],
        );
        sqe.args[5] = u64::from(header_size);
        self.transact(&desc.scheme, sqe, None)?.result
    }

    /// The path inside `fd`'s scheme for `path`; `EXDEV` when `path` names another scheme.
    fn same_scheme_rest<'p>(&self, desc: &Description, path: &'p str) -> Result<&'p str> {
        let (name, rest) = split_path(path)?;
        if name != desc.scheme.name {
            return Err(Error::new(EXDEV));
        }
        Ok(rest)
    }

    /// `frename(fd, new_path)` (`Frename` request): moves the name `fd` was opened by to
    /// `new_path`, on the same scheme (`EXDEV` otherwise).
    pub fn frename(&self, fd: usize, new_path: &str) -> Result<()> {
        self.new_name_call(Opcode::Frename, fd, new_path)
    }

    /// `flink(fd, new_path)` (`Flink` request): a new name for `fd`'s inode, same scheme.
    pub fn flink(&self, fd: usize, new_path: &str) -> Result<()> {
        self.new_name_call(Opcode::Flink, fd, new_path)
    }

    /// A request `opcode` on `fd` with a new path on the same scheme (`EXDEV` otherwise):
    /// the body of [`Process::frename`] and [`Process::flink`].
    fn new_name_call(&self, opcode: Opcode, fd: usize, new_path: &str) -> Result<()> {
        let desc = self.desc(fd)?;
        let rest = self.same_scheme_rest(&desc, new_path)?;
        let sqe = self.bytes_sqe(opcode, desc.id, rest.as_bytes(), 0, 0);
        self.transact(&desc.scheme, sqe, None)?.result.map(drop)
    }

    /// A two-id `StdFsCall` (`SqeFlags::MULTIPLE_IDS`): ids of `fd_a` and `fd_b` in `args[0]`
    /// and `args[5]`, `kind` in `args[3]`, `flags` in `args[4]`. Both on one scheme (`EXDEV`
    /// otherwise). As on Redox, `args[5]` holds an id, so the scheme's `ctx.uid`/`ctx.gid`
    /// are not valid for these.
    fn std_fs_call2(
        &self,
        fd_a: usize,
        fd_b: usize,
        kind: syscall::flag::StdFsCallKind,
        payload: &[u8],
        flags: usize,
    ) -> Result<()> {
        let (a, b) = (self.desc(fd_a)?, self.desc(fd_b)?);
        if !Arc::ptr_eq(&a.scheme, &b.scheme) {
            return Err(Error::new(EXDEV));
        }
        let mut sqe = self.bytes_sqe(Opcode::StdFsCall, a.id, payload, kind as u64, flags as u64);
        sqe.sqe_flags = SqeFlags::MULTIPLE_IDS;
        sqe.args[5] = b.id as u64;
        self.transact(&a.scheme, sqe, None)?.result.map(drop)
    }

    /// `renameat(old_dirfd, old_path, new_dirfd, new_path, flags)` as a `Frenameat`
    /// `StdFsCall` (payload `old\0new`).
    pub fn frenameat(
        &self,
        old_dirfd: usize,
        old_path: &str,
        new_dirfd: usize,
        new_path: &str,
        flags: usize,
    ) -> Result<()> {
        let mut payload = Vec::with_capacity(old_path.len() + 1 + new_path.len());
        payload.extend_from_slice(old_path.as_bytes());
        payload.push(0);
        payload.extend_from_slice(new_path.as_bytes());
        let kind = syscall::flag::StdFsCallKind::Frenameat;
        self.std_fs_call2(old_dirfd, new_dirfd, kind, &payload, flags)
    }

    /// `linkat`-like: a new name `path` in directory `dirfd` for `fd`'s inode, as a
    /// `Flinkat` `StdFsCall`.
    pub fn flinkat(&self, fd: usize, dirfd: usize, path: &str, flags: usize) -> Result<()> {
        let kind = syscall::flag::StdFsCallKind::Flinkat;
        self.std_fs_call2(fd, dirfd, kind, path.as_bytes(), flags)
    }

    /// `unlinkat(dirfd, path, flags)` (`UnlinkAt` request) relative to the directory `dirfd`.
    pub fn unlinkat(&self, dirfd: usize, path: &str, flags: usize) -> Result<()> {
        let dir = self.desc(dirfd)?;
        self.unlink_in(&dir.scheme, dir.id, path, flags)
    }

    /// `UnlinkAt` on `scheme` with directory id `dir_id`.
    fn unlink_in(
        &self,
        scheme: &SchemeEntry,
        dir_id: usize,
        rest: &str,
        flags: usize,
    ) -> Result<()> {
        let sqe = self.bytes_sqe(Opcode::UnlinkAt, dir_id, rest.as_bytes(), flags as u64, 0);
        self.transact(scheme, sqe, None)?.result.map(drop)
    }

    /// `unlink(path)`: `UnlinkAt` on the scheme root, flags 0.
    pub fn unlink(&self, path: &str) -> Result<()> {
        let (name, rest) = split_path(path)?;
        let scheme = self.scheme(name)?;
        self.unlink_in(&scheme, scheme.root_id, rest, 0)
    }

    /// `rmdir(path)`: `UnlinkAt` on the scheme root with `AT_REMOVEDIR`.
    pub fn rmdir(&self, path: &str) -> Result<()> {
        let (name, rest) = split_path(path)?;
        let scheme = self.scheme(name)?;
        self.unlink_in(&scheme, scheme.root_id, rest, AT_REMOVEDIR)
    }

    /// `mkdir(path, mode)`: `open(O_CREAT | O_EXCL | O_DIRECTORY | mode)`, then close.
    pub fn mkdir(&self, path: &str, mode: u16) -> Result<()> {
        let flags = O_CREAT | O_EXCL | O_DIRECTORY | O_RDONLY | usize::from(mode & MODE_PERM);
        let fd = self.open(path, flags)?;
        self.close(fd)
    }

    /// `creat`-like: `open(O_CREAT | O_EXCL | O_WRONLY | mode)`, then close.
    pub fn create(&self, path: &str, mode: u16) -> Result<()> {
        let flags = O_CREAT | O_EXCL | O_WRONLY | usize::from(mode & MODE_PERM);
        let fd = self.open(path, flags)?;
        self.close(fd)
    }

    /// `symlink(target, path)` the Redox way: `open(O_CREAT | O_EXCL | O_SYMLINK | O_WRONLY |
    /// 0o777)`, write the target, close.
    pub fn symlink(&self, target: &str, path: &str) -> Result<()> {
        let flags = O_CREAT | O_EXCL | O_SYMLINK | O_NOFOLLOW | O_WRONLY | 0o777;
        let fd = self.open(path, flags)?;
        let written = self.write(fd, target.as_bytes());
        let closed = self.close(fd);
        match written {
            Ok(n) if n == target.len() => closed,
            Ok(_) => Err(Error::new(EIO)),
            Err(e) => Err(e),
        }
    }

    /// `rename(old, new)` as `renameat` on the two parent directories: both parents are
    /// opened (`O_PATH | O_DIRECTORY`, old first), then one `Frenameat` names the last
    /// components. As on Linux, a parent that cannot be resolved (`ENOENT`, `ENOTDIR`, ...)
    /// is reported before anything about the names themselves, which the scheme resolves.
    pub fn rename(&self, old: &str, new: &str) -> Result<()> {
        let (old_parent, old_name) = split_parent(old);
        let (new_parent, new_name) = split_parent(new);
        let old_dir = self.open(old_parent, O_PATH | O_DIRECTORY)?;
        let res = self
            .open(new_parent, O_PATH | O_DIRECTORY)
            .and_then(|new_dir| {
                let res = self.frenameat(old_dir, old_name, new_dir, new_name, 0);
                self.close(new_dir).and(res)
            });
        self.close(old_dir).and(res)
    }

    /// `link(old, new)`: open `old` with `O_PATH | O_NOFOLLOW`, `flink`, close.
    pub fn link(&self, old: &str, new: &str) -> Result<()> {
        let fd = self.open(old, O_PATH | O_NOFOLLOW)?;
        let res = self.flink(fd, new);
        self.close(fd)?;
        res
    }

    /// Asks the scheme for `fd`'s readiness (`Fevent` request); the result is the ready
    /// subset of `flags`.
    pub fn fevent(&self, fd: usize, flags: EventFlags) -> Result<EventFlags> {
        self.fd_call(fd, Opcode::Fevent, [flags.bits() as u64, 0, 0, 0])
            .map(EventFlags::from_bits_retain)
    }

    /// `sendfd(target, fd, arg)`: moves `fd` (it leaves this process's table at once, whatever
    /// the outcome) to the scheme behind `target`, which takes it with
    /// [`HostSocket::obtain_fd`]. Returns the number of fds sent (1); the scheme's own return
    /// value is discarded, its error is returned. An fd the scheme did not take is closed
    /// when the response arrives.
    pub fn sendfd(&self, target: usize, fd: usize, arg: u64) -> Result<usize> {
        let target = self.desc(target)?;
        let moved = self.take(fd)?;
        moved
            .scheme
            .unsubscribe(moved.serial, self.inbox_owner(), Some(fd));
        let sqe = self.sqe(Opcode::Sendfd, [target.id as u64, 0, arg, 1, 0]);
        let tag = sqe.tag;
        lock(&target.scheme.pending_fds).insert(tag, moved);
        let reply = self.transact(&target.scheme, sqe, None);
        let left = lock(&target.scheme.pending_fds).remove(&tag);
        drop(left);
        reply?.result.map(|_| 1)
    }

    /// `call([fd_a, fd_b], payload, metadata)`: SYS_CALL with two fds, as the Redox kernel
    /// does it. Both fds must be on one scheme, else `EXDEV` before any scheme sees
    /// anything; the scheme of `fd_a` gets one `Call` request with `SqeFlags::MULTIPLE_IDS`,
    /// `fd_a`'s id in `args[0]`, `fd_b`'s in `args[5]` and up to two metadata words in
    /// `args[3..5]` (a third word is dropped, as the kernel drops it). No credentials travel.
    pub fn call2(
        &self,
        fd_a: usize,
        fd_b: usize,
        payload: &mut [u8],
        metadata: &[u64],
    ) -> Result<usize> {
        if metadata.len() > 3 {
            return Err(Error::new(EINVAL));
        }
        let (a, b) = (self.desc(fd_a)?, self.desc(fd_b)?);
        if !Arc::ptr_eq(&a.scheme, &b.scheme) {
            return Err(Error::new(EXDEV));
        }
        let mut sqe = self.sqe(
            Opcode::Call,
            [
                a.id as u64,
                payload.as_mut_ptr() as u64,
                payload.len() as u64,
                0,
                0,
            ],
        );
        sqe.sqe_flags = SqeFlags::MULTIPLE_IDS;
        let n = metadata.len().min(2);
        sqe.args[3..3 + n].copy_from_slice(&metadata[..n]);
        sqe.args[5] = b.id as u64;
        self.transact(&a.scheme, sqe, None)?.result
    }

    /// `mmap(fd, len)` at offset 0, shared, read and write: the scheme answers `MmapPrep`
    /// with the address of memory it allocated (`SchemeMemory`);
    /// the caller gets that memory. Unmapping is dropping it (no `Munmap` reaches the scheme).
    pub fn mmap_shared(&self, fd: usize, len: usize) -> Result<SharedPages> {
        let desc = self.desc(fd)?;
        let flags = MapFlags::MAP_SHARED | MapFlags::PROT_READ | MapFlags::PROT_WRITE;
        let sqe = self.sqe(
            Opcode::MmapPrep,
            [desc.id as u64, len as u64, flags.bits() as u64, 0, 0],
        );
        let addr = self.transact(&desc.scheme, sqe, None)?.result?;
        desc.scheme.shared_at(addr, len)
    }

    /// `call(fd, payload, metadata)` (SYS_CALL, read-write payload, up to 3 metadata words,
    /// which take the slot of the credentials as on Redox).
    pub fn call(&self, fd: usize, payload: &mut [u8], metadata: &[u64]) -> Result<usize> {
        if metadata.len() > 3 {
            return Err(Error::new(EINVAL));
        }
        let desc = self.desc(fd)?;
        let mut sqe = self.sqe(
            Opcode::Call,
            [
                desc.id as u64,
                payload.as_mut_ptr() as u64,
                payload.len() as u64,
                0,
                0,
            ],
        );
        sqe.args[3..6].fill(0);
        sqe.args[3..3 + metadata.len()].copy_from_slice(metadata);
        self.transact(&desc.scheme, sqe, None)?.result
    }
}
