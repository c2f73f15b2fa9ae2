//! The interposer on the host kernel, modelled on Redox: a [`Target`] over a [`Process`]
//! whose forwards carry the ids of the process they run in ([`ProcessTarget`], the ids
//! switched for the whole process through a [`CredGate`]), workers as processes of their own
//! with fixed ids ([`HostSpawn`]: a thread serving [`worker::serve`] over a socket pair),
//! and the interposer served on a thread under a name of a [`Namespace`].

use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use inotify_interpose::gate::CredGate;
use inotify_interpose::workers::{Link, Spawn, Workers};
use inotify_interpose::{
    worker, Creds, Interposer, Respond, Target, DEFAULT_FEED_CAPACITY, ROOT_ID,
};
use redox_scheme::Response;
use syscall::error::{Error, Result, EPERM};
use syscall::flag::{EventFlags, O_DIRECTORY, O_STAT};
use syscall::{Stat, TimeSpec};

use super::{Kernel, Namespace, Process, Responder};

/// The target filesystem as one process reaches it: every forward carries the process's
/// ids of the moment, as on Redox, where they belong to the whole process.
pub struct ProcessTarget {
    /// The process.
    process: Process,
    /// Its fd on the target's root.
    root: usize,
    /// The target's scheme name.
    name: String,
    /// The process's ids now (Redox: its effective ids).
    ids: Mutex<Creds>,
    /// Switches them for forwards as other callers (a root process only).
    gate: CredGate,
}

impl ProcessTarget {
    /// Opens the root of scheme `name` as `process` sees it.
    pub fn open(process: Process, name: &str) -> Result<Self> {
        let root = process.open(&format!("/scheme/{name}"), O_STAT | O_DIRECTORY)?;
        let own = Creds {
            uid: process.uid(),
            gid: process.gid(),
        };
        Ok(ProcessTarget {
            process,
            root,
            name: name.to_string(),
            ids: Mutex::new(own),
            gate: CredGate::new(own),
        })
    }

    /// Runs `f` on the process while its ids are `who` (switched through the gate; a
    /// process that is not root cannot switch: `EPERM`).
    fn with<R>(&self, who: Creds, f: impl FnOnce(&Process) -> Result<R>) -> Result<R> {
        let switch = |to: Creds| {
            if self.process.uid() != 0 {
                return Err(Error::new(EPERM));
            }
            *self.ids.lock().unwrap_or_else(|e| e.into_inner()) = to;
            Ok(())
        };
        self.gate.run(who, switch, || {
            let now = *self.ids.lock().unwrap_or_else(|e| e.into_inner());
            if (now.uid, now.gid) == (self.process.uid(), self.process.gid()) {
                f(&self.process)
            } else {
                f(&self.process.acting_as(now.uid, now.gid)?)
            }
        })
    }

    /// A path from the target's root, as the kernel's path calls take it.
    fn full(&self, path: &str) -> String {
        format!("/scheme/{}/{}", self.name, path.trim_start_matches('/'))
    }
}

/// Starts workers as processes of the host kernel (uid and gid fixed, in the kernel-wide
/// namespace where the target is), each served on a thread of its own.
pub struct HostSpawn {
    /// The kernel.
    kernel: Kernel,
    /// The target's scheme name.
    target: String,
}

impl HostSpawn {
    /// Workers in `kernel` in front of the scheme `target`.
    pub fn new(kernel: &Kernel, target: &str) -> Self {
        HostSpawn {
            kernel: kernel.clone(),
            target: target.to_string(),
        }
    }
}

impl Spawn for HostSpawn {
    fn spawn(&self, who: Creds) -> std::io::Result<Link> {
        let process = self.kernel.fresh_process(who.uid, who.gid);
        let target = ProcessTarget::open(process, &self.target)
            .map_err(|e| std::io::Error::from_raw_os_error(e.errno))?;
        let (main, theirs) = UnixStream::pair()?;
        let (input, output, ender) = (theirs.try_clone()?, theirs, main.try_clone()?);
        thread::Builder::new()
            .name(format!("interpose-worker-{}", who.uid))
            .spawn(move || worker::serve(Arc::new(target), who, input, output, || {}))?;
        Ok(Link {
            to: Box::new(main.try_clone()?),
            from: Box::new(main),
            end: Box::new(move || {
                let _ = ender.shutdown(std::net::Shutdown::Both);
            }),
        })
    }
}

impl Target for ProcessTarget {
    fn root(&self) -> usize {
        self.root
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn openat(&self, who: Creds, dir: usize, path: &str, flags: usize) -> Result<usize> {
        self.with(who, |p| p.openat(dir, path, flags))
    }
    fn close(&self, fd: usize) {
        let _ = self.process.close(fd);
    }
    fn dup(&self, who: Creds, fd: usize, name: &[u8]) -> Result<usize> {
        self.with(who, |p| p.dup(fd, name))
    }
    fn read(
        &self,
        who: Creds,
        fd: usize,
        buf: &mut [u8],
        offset: u64,
        flags: usize,
    ) -> Result<usize> {
        self.with(who, |p| p.read_at(fd, buf, offset, flags))
    }
    fn write(&self, who: Creds, fd: usize, buf: &[u8], offset: u64) -> Result<usize> {
        self.with(who, |p| p.write_at(fd, buf, offset))
    }
    fn fstat(&self, who: Creds, fd: usize) -> Result<Stat> {
        self.with(who, |p| p.fstat(fd))
    }
    fn fpath(&self, who: Creds, fd: usize, buf: &mut [u8]) -> Result<usize> {
        self.with(who, |p| p.fpath(fd, buf))
    }
    fn fsize(&self, who: Creds, fd: usize) -> Result<u64> {
        self.with(who, |p| p.fsize(fd))
    }
    fn fchmod(&self, who: Creds, fd: usize, mode: u16) -> Result<()> {
        self.with(who, |p| p.fchmod(fd, mode))
    }
    fn fchown(&self, who: Creds, fd: usize, uid: u32, gid: u32) -> Result<()> {
        self.with(who, |p| p.fchown(fd, uid, gid))
    }
    fn ftruncate(&self, who: Creds, fd: usize, len: u64) -> Result<()> {
        self.with(who, |p| p.ftruncate(fd, len))
    }
    fn fsync(&self, who: Creds, fd: usize) -> Result<()> {
        self.with(who, |p| p.fsync(fd))
    }
    fn futimens(&self, who: Creds, fd: usize, times: &[TimeSpec]) -> Result<()> {
        self.with(who, |p| p.futimens(fd, times))
    }
    fn fcntl(&self, who: Creds, fd: usize, cmd: usize, arg: usize) -> Result<usize> {
        self.with(who, |p| p.fcntl(fd, cmd, arg))
    }
    fn fevent(&self, who: Creds, fd: usize, flags: EventFlags) -> Result<EventFlags> {
        self.with(who, |p| p.fevent(fd, flags))
    }
    fn getdents(
        &self,
        who: Creds,
        fd: usize,
        buf: &mut [u8],
        header_size: u16,
        opaque: u64,
    ) -> Result<usize> {
        self.with(who, |p| p.getdents(fd, buf, header_size, opaque))
    }
    fn unlinkat(&self, who: Creds, dir: usize, path: &str, flags: usize) -> Result<()> {
        self.with(who, |p| p.unlinkat(dir, path, flags))
    }
    fn frenameat(
        &self,
        who: Creds,
        old_dir: usize,
        old: &str,
        new_dir: usize,
        new: &str,
        flags: usize,
    ) -> Result<()> {
        self.with(who, |p| p.frenameat(old_dir, old, new_dir, new, flags))
    }
    fn flinkat(&self, who: Creds, fd: usize, dir: usize, path: &str, flags: usize) -> Result<()> {
        self.with(who, |p| p.flinkat(fd, dir, path, flags))
    }
    fn frename(&self, who: Creds, fd: usize, path: &str) -> Result<()> {
        let full = self.full(path);
        self.with(who, |p| p.frename(fd, &full))
    }
    fn flink(&self, who: Creds, fd: usize, path: &str) -> Result<()> {
        let full = self.full(path);
        self.with(who, |p| p.flink(fd, &full))
    }
    fn call(&self, who: Creds, fd: usize, payload: &mut [u8], metadata: &[u64]) -> Result<usize> {
        self.with(who, |p| p.call(fd, payload, metadata))
    }
    fn caller_creds(&self, _pid: usize) -> Option<Creds> {
        // The host kernel keeps no table of processes by pid.
        None
    }
}

/// Responses through the host socket's responder.
struct HostRespond(Responder);

impl Respond for HostRespond {
    fn respond(&self, resp: Response) {
        if let Err(e) = self.0.write_response(resp) {
            log::warn!("interposer: write_response: {e}");
        }
    }
}

/// The target of an interposer on the host: the interposer's process, and workers.
pub type HostTarget = Workers<ProcessTarget, Box<dyn Spawn>>;

/// An interposer serving on its thread.
pub struct InterposerThread {
    /// The interposer (its counters, its target).
    interposer: Arc<Interposer<HostTarget>>,
    /// The thread: ends when the scheme's request stream ends.
    thread: Option<JoinHandle<()>>,
}

impl InterposerThread {
    /// Registers an interposer as `name` in `ns`, in front of the scheme `target` as a new
    /// root process of the kernel-wide namespace sees it, and serves it on a thread.
    /// Forwards as callers other than root go through workers ([`HostSpawn`]).
    pub fn spawn(kernel: &Kernel, ns: &Namespace, name: &str, target: &str) -> Result<Self> {
        let workers = Box::new(HostSpawn::new(kernel, target));
        Self::spawn_with(kernel, ns, name, target, workers)
    }

    /// Like [`InterposerThread::spawn`], with workers started by `workers`.
    pub fn spawn_with(
        kernel: &Kernel,
        ns: &Namespace,
        name: &str,
        target: &str,
        workers: Box<dyn Spawn>,
    ) -> Result<Self> {
        let process = kernel.daemon_process();
        let target = Workers::new(ProcessTarget::open(process.clone(), target)?, workers);
        let interposer = Interposer::new(target, name, DEFAULT_FEED_CAPACITY)?;
        let socket = ns.register(name, ROOT_ID, process)?;
        let responder = HostRespond(socket.responder());
        let me = Arc::clone(&interposer);
        let socket = Mutex::new(socket);
        let next = move || {
            let socket = socket.lock().unwrap_or_else(|e| e.into_inner());
            socket.next_request(true).ok().flatten()
        };
        let thread = thread::Builder::new()
            .name(format!("interpose-{name}"))
            .spawn(move || inotify_interpose::serve(&me, next, responder))
            .expect("spawn the interposer thread");
        Ok(InterposerThread {
            interposer,
            thread: Some(thread),
        })
    }

    /// The interposer.
    pub fn interposer(&self) -> &Arc<Interposer<HostTarget>> {
        &self.interposer
    }

    /// Waits for the thread (shut the scheme down first).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
