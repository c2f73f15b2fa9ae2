//! The system under test: inotifyd on the host kernel emulation, watching a `HostFs` over a
//! fresh temporary directory, driven through the client API by one client process.
//!
//! Operations are done the way a Redox program does them (relibc's shapes): `mkdir` is
//! `open(O_CREAT | O_EXCL | O_DIRECTORY)`, `chmod`/`chown`/`utimes` are an `O_PATH` open plus
//! `fchmod`/`fchown`/`futimens`, `truncate(path)` is an `O_WRONLY` open plus `ftruncate`
//! (Redox has no path truncate call), `link` is an `O_PATH | O_NOFOLLOW` open plus `flink`,
//! `stat` is an `O_PATH | O_NOFOLLOW` open plus `fstat`. `rename` opens both parent
//! directories and sends one `Frenameat` (`renameat` on the parents, as Linux resolves it);
//! relibc's `rename` today opens the source instead and sends `frename`
//! (`docs/semantics.md`, "Rename").

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use inotify_abi::consts::O_CLOEXEC_REDOX;
use inotify_client::{self as client, Inotify, IN_CLOEXEC, IN_NONBLOCK};
use inotify_engine::Limits;
use inotify_host::harness::Harness;
use inotify_host::hostfs::HostFs;
use inotify_host::interposed::InterposerThread;
use inotify_host::{spawn_scheme_thread, Kernel, Process, SchemeThread};
use redox_scheme::scheme::SchemeSync;
use syscall::dirent::DirentIter;
use syscall::error::Error;
use syscall::flag::*;
use syscall::TimeSpec;

use crate::backend::{Backend, Kind, Res, StatInfo};
use crate::linux::Linux;
use crate::names::redox_errno_name;
use crate::script::{InitFlags, OpenFlags, Times};

/// The scheme the host filesystem is registered under.
const FS_SCHEME: &str = "file";

/// Whether a close waits until the filesystem has handled it (see [`set_close_barrier`]).
static CLOSE_BARRIER: AtomicBool = AtomicBool::new(true);

/// Chooses whether closes are followed by a barrier (the default).
///
/// `close` is a one-way message on Redox and in the host kernel: it returns before the
/// filesystem has handled it, so the `IN_CLOSE_*` it causes can reach the daemon after a
/// read the program makes right after `close` returns, where Linux has queued it already.
/// With the barrier, the backend follows every close with a synchronous request to the same
/// filesystem (an `fstat` of a silent `O_PATH` handle on its root); the filesystem handles
/// requests in order, so the reply comes after the close was handled and its fact posted to
/// the daemon. Without it (`--no-close-barrier`) the runner shows the raw behaviour.
pub fn set_close_barrier(on: bool) {
    CLOSE_BARRIER.store(on, Ordering::Relaxed);
}

/// inotifyd over a host directory.
pub struct Inotifyd {
    /// The client process path operations run in: the one of the current `user` (uid 0 at
    /// first, like the Linux side).
    proc: Process,
    /// Every client process made so far, by credentials; handles name their process by index.
    procs: Vec<((u32, u32), Process)>,
    /// Index of `proc` in `procs`.
    cur: usize,
    /// The runner's umask, applied to creation modes as a Redox libc does before the call.
    umask: u32,
    /// A silent `O_PATH` handle on the filesystem root, for close barriers.
    barrier_fd: usize,
    /// The filesystem thread (ends when the kernel shuts down).
    _fs: SchemeThread<HostFs>,
    /// The interposer in front of the filesystem, when the run is interposed.
    interposer: Option<InterposerThread>,
    /// The daemon and its kernel (dropped before the directory).
    harness: Option<Harness>,
    /// The scenario directory on the host (a Linux backend's directory, for cleanup).
    dir: Option<Linux>,
}

/// Maps a Redox error to its errno name.
fn name(e: Error) -> String {
    redox_errno_name(e.errno)
}

impl Inotifyd {
    /// Starts a kernel, inotifyd and a `HostFs` over a new empty directory.
    pub fn new() -> Result<Self, String> {
        Self::start(false)
    }

    /// Starts a kernel, a `HostFs` without a feed over a new empty directory, the
    /// interposer in front of it as `file` in a namespace, and inotifyd and the client
    /// processes in that namespace: inotifyd is fed by the interposer.
    pub fn interposed() -> Result<Self, String> {
        Self::start(true)
    }

    /// [`Inotifyd::new`] or [`Inotifyd::interposed`].
    fn start(interposed: bool) -> Result<Self, String> {
        let dir = Linux::new().map_err(|e| e.to_string())?;
        let root: PathBuf = dir.root().to_path_buf();
        let (harness, fs, interposer) = if interposed {
            let kernel = Kernel::new();
            let fs = HostFs::uninstrumented(&root)
                .map_err(|e| e.to_string())?
                .spawn(&kernel)
                .map_err(name)?;
            let ns = kernel.namespace();
            let interposer =
                InterposerThread::spawn(&kernel, &ns, FS_SCHEME, FS_SCHEME).map_err(name)?;
            let filesystems = &[FS_SCHEME];
            let harness = Harness::start_in(kernel, Some(ns), Limits::default(), filesystems)
                .map_err(name)?;
            (harness, fs, Some(interposer))
        } else {
            let harness = Harness::start(Limits::default()).map_err(name)?;
            let mut fs = HostFs::new(&root).map_err(|e| e.to_string())?;
            let root_id = fs.scheme_root().map_err(name)?;
            let socket = harness
                .kernel()
                .register(FS_SCHEME, root_id)
                .map_err(name)?;
            let poster = socket.poster();
            fs.set_feed_notifier(Box::new(move |id| {
                poster.post_fevent(id, EventFlags::EVENT_READ)
            }));
            (harness, spawn_scheme_thread(socket, fs), None)
        };
        let proc = harness.process(100, 0, 0);
        let barrier_fd = proc.open(&Self::at(""), O_STAT).map_err(name)?;
        let procs = vec![((0, 0), proc.clone())];
        // SAFETY: umask only swaps the process mask; it is put back at once.
        let umask = unsafe {
            let m = libc::umask(0);
            libc::umask(m);
            m
        } as u32;
        Ok(Inotifyd {
            proc,
            procs,
            cur: 0,
            umask,
            barrier_fd,
            _fs: fs,
            interposer,
            harness: Some(harness),
            dir: Some(dir),
        })
    }

    /// `close(fd)` of a filesystem handle of `proc`, then the close barrier if enabled.
    fn close_fs(&self, proc: &Process, fd: usize) -> syscall::Result<()> {
        let r = proc.close(fd);
        if CLOSE_BARRIER.load(Ordering::Relaxed) {
            let _ = self.procs[0].1.fstat(self.barrier_fd);
        }
        r
    }

    /// A handle for `fd` of the current process.
    fn handle(&self, fd: usize) -> u64 {
        ((self.cur as u64) << 32) | fd as u64
    }

    /// The process and fd a handle names.
    fn unhandle(&self, h: u64) -> (Process, usize) {
        let idx = (h >> 32) as usize;
        (self.procs[idx].1.clone(), (h & 0xffff_ffff) as usize)
    }

    /// The kernel path of a scenario path.
    fn at(path: &str) -> String {
        format!("/scheme/{FS_SCHEME}/{path}")
    }

    /// Runs `f` on an `O_PATH` handle of `path` (following a final symlink unless
    /// `nofollow`), closing it afterwards.
    fn with_path<T>(
        &self,
        path: &str,
        nofollow: bool,
        f: impl FnOnce(&Process, usize) -> syscall::Result<T>,
    ) -> Res<T> {
        let flags = O_STAT | if nofollow { O_NOFOLLOW } else { 0 };
        let fd = self.proc.open(&Self::at(path), flags).map_err(name)?;
        let r = f(&self.proc, fd);
        let _ = self.close_fs(&self.proc, fd);
        r.map_err(name)
    }
}

impl Drop for Inotifyd {
    fn drop(&mut self) {
        if let Some(h) = self.harness.take() {
            h.kernel().shutdown();
            drop(h);
        }
        drop(self.dir.take());
    }
}

impl Backend for Inotifyd {
    fn name(&self) -> &'static str {
        if self.interposer.is_some() {
            "interposed"
        } else {
            "inotifyd"
        }
    }

    fn mkdir(&mut self, path: &str, mode: u32) -> Res<()> {
        self.proc
            .mkdir(&Self::at(path), (mode & !self.umask) as u16)
            .map_err(name)
    }

    fn rmdir(&mut self, path: &str) -> Res<()> {
        self.proc.rmdir(&Self::at(path)).map_err(name)
    }

    fn open(&mut self, path: &str, f: OpenFlags, mode: u32) -> Res<u64> {
        let mut flags = O_CLOEXEC_REDOX
            | match (f.path, f.read, f.write) {
                (true, _, _) => O_STAT,
                (_, true, true) => O_RDWR,
                (_, false, true) => O_WRONLY,
                _ => O_RDONLY,
            };
        for (on, bit) in [
            (f.trunc, O_TRUNC),
            (f.creat, O_CREAT),
            (f.excl, O_EXCL),
            (f.append, O_APPEND),
            (f.nofollow, O_NOFOLLOW),
            (f.directory, O_DIRECTORY),
        ] {
            if on {
                flags |= bit;
            }
        }
        if f.creat {
            flags |= ((mode & !self.umask) as usize) & usize::from(MODE_PERM);
        }
        self.proc
            .open(&Self::at(path), flags)
            .map(|fd| self.handle(fd))
            .map_err(name)
    }

    fn write(&mut self, h: u64, data: &[u8]) -> Res<usize> {
        let (p, fd) = self.unhandle(h);
        p.write(fd, data).map_err(name)
    }

    fn read(&mut self, h: u64, len: usize) -> Res<usize> {
        let (p, fd) = self.unhandle(h);
        let mut buf = vec![0u8; len];
        p.read(fd, &mut buf).map_err(name)
    }

    fn close(&mut self, h: u64) -> Res<()> {
        let (p, fd) = self.unhandle(h);
        self.close_fs(&p, fd).map_err(name)
    }

    fn truncate(&mut self, path: &str, len: u64) -> Res<()> {
        let fd = self.proc.open(&Self::at(path), O_WRONLY).map_err(name)?;
        let r = self.proc.ftruncate(fd, len);
        let _ = self.close_fs(&self.proc, fd);
        r.map_err(name)
    }

    fn ftruncate(&mut self, h: u64, len: u64) -> Res<()> {
        let (p, fd) = self.unhandle(h);
        p.ftruncate(fd, len).map_err(name)
    }

    fn chmod(&mut self, path: &str, mode: u32) -> Res<()> {
        self.with_path(path, false, |p, fd| p.fchmod(fd, mode as u16))
    }

    fn chown(&mut self, path: &str, uid: u32, gid: u32) -> Res<()> {
        self.with_path(path, false, |p, fd| p.fchown(fd, uid, gid))
    }

    fn utimes(&mut self, path: &str, times: Times) -> Res<()> {
        let now = TimeSpec {
            tv_sec: 0,
            tv_nsec: inotify_host::hostfs::UTIME_NOW,
        };
        let omit = TimeSpec {
            tv_sec: 0,
            tv_nsec: inotify_host::hostfs::UTIME_OMIT,
        };
        let ts = match times {
            Times::Atime => [now, omit],
            Times::Mtime => [omit, now],
            Times::Both => [now, now],
        };
        self.with_path(path, false, |p, fd| p.futimens(fd, &ts))
    }

    fn link(&mut self, old: &str, new: &str) -> Res<()> {
        self.proc.link(&Self::at(old), &Self::at(new)).map_err(name)
    }

    fn symlink(&mut self, target: &str, path: &str) -> Res<()> {
        self.proc.symlink(target, &Self::at(path)).map_err(name)
    }

    fn unlink(&mut self, path: &str) -> Res<()> {
        self.proc.unlink(&Self::at(path)).map_err(name)
    }

    fn rename(&mut self, old: &str, new: &str) -> Res<()> {
        self.proc
            .rename(&Self::at(old), &Self::at(new))
            .map_err(name)
    }

    fn listdir(&mut self, path: &str) -> Res<Vec<String>> {
        let fd = self
            .proc
            .open(&Self::at(path), O_RDONLY | O_DIRECTORY)
            .map_err(name)?;
        let mut names = Vec::new();
        let mut buf = vec![0u8; 4096];
        let mut opaque = 0u64;
        let header = std::mem::size_of::<syscall::dirent::DirentHeader>() as u16;
        let r = loop {
            match self.proc.getdents(fd, &mut buf, header, opaque) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    for ent in DirentIter::new(&buf[..n]) {
                        let Ok((h, nm)) = ent else { break };
                        opaque = h.next_opaque_id;
                        // The name field may be padded with NULs after the terminator.
                        let nm = nm.split(|&c| c == 0).next().unwrap_or_default();
                        let nm = String::from_utf8_lossy(nm).into_owned();
                        if nm != "." && nm != ".." {
                            names.push(nm);
                        }
                    }
                }
                Err(e) => break Err(name(e)),
            }
        };
        let _ = self.close_fs(&self.proc, fd);
        r?;
        names.sort();
        Ok(names)
    }

    fn stat(&mut self, path: &str) -> Res<StatInfo> {
        let st = self.with_path(path, true, |p, fd| p.fstat(fd))?;
        let kind = match st.st_mode & MODE_TYPE {
            MODE_FILE => Kind::File,
            MODE_DIR => Kind::Dir,
            MODE_SYMLINK => Kind::Symlink,
            _ => Kind::Other,
        };
        Ok(StatInfo {
            kind,
            nlink: u64::from(st.st_nlink),
            size: st.st_size,
            ino: st.st_ino,
        })
    }

    fn init(&mut self, flags: InitFlags) -> Res<u64> {
        let mut f = flags.extra;
        if flags.nonblock {
            f |= IN_NONBLOCK;
        }
        if flags.cloexec {
            f |= IN_CLOEXEC;
        }
        let ino = Inotify::init1(self.proc.clone(), f).map_err(name)?;
        let fd = ino.raw_fd();
        // The backend keeps the raw fd and closes it itself.
        std::mem::forget(ino);
        Ok(self.handle(fd))
    }

    fn add_watch(&mut self, inst: u64, path: &str, mask: u32) -> Res<i32> {
        // The instance's own process makes the call (its fd table holds the instance), with
        // the credentials it was made with.
        let (p, fd) = self.unhandle(inst);
        client::add_watch(&p, fd, &Self::at(path), mask).map_err(name)
    }

    fn rm_watch(&mut self, inst: u64, wd: i32) -> Res<()> {
        let (p, fd) = self.unhandle(inst);
        client::rm_watch(&p, fd, wd).map_err(name)
    }

    fn read_events(&mut self, inst: u64, len: usize) -> Res<Vec<u8>> {
        let (p, fd) = self.unhandle(inst);
        let mut buf = vec![0u8; len];
        let n = p.read(fd, &mut buf).map_err(name)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn queued_bytes(&mut self, inst: u64) -> Res<usize> {
        let (p, fd) = self.unhandle(inst);
        let ino = Inotify::from_raw_fd(&p, fd);
        let r = ino.queued_bytes();
        std::mem::forget(ino);
        r.map_err(name)
    }

    fn close_instance(&mut self, inst: u64) -> Res<()> {
        let (p, fd) = self.unhandle(inst);
        p.close(fd).map_err(name)
    }

    fn set_user(&mut self, uid: u32, gid: u32) -> Res<()> {
        let idx = match self.procs.iter().position(|(c, _)| *c == (uid, gid)) {
            Some(i) => i,
            None => {
                let h = self.harness.as_ref().expect("running");
                let p = h.process(100 + self.procs.len(), uid, gid);
                self.procs.push(((uid, gid), p));
                self.procs.len() - 1
            }
        };
        self.cur = idx;
        self.proc = self.procs[idx].1.clone();
        Ok(())
    }

    fn set_max_queued_events(&mut self, n: u32) -> Res<()> {
        let fd = self
            .proc
            .open("/scheme/inotify/max_queued_events", O_WRONLY)
            .map_err(name)?;
        let r = self.proc.write(fd, format!("{n}\n").as_bytes());
        let _ = self.proc.close(fd);
        r.map(drop).map_err(name)
    }
}
