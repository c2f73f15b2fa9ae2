//! The interposer on the host kernel: a [`Target`] over a [`Process`] (the interposer's own
//! process, in the namespace where the real filesystem is), and the interposer served on a
//! thread under a name of a [`Namespace`].

use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use inotify_interpose::{Creds, Interposer, Respond, Target, DEFAULT_FEED_CAPACITY, ROOT_ID};
use redox_scheme::Response;
use syscall::error::Result;
use syscall::flag::{EventFlags, O_DIRECTORY, O_STAT};
use syscall::{Stat, TimeSpec};

use super::{Kernel, Namespace, Process, Responder};

/// The target filesystem as the interposer's process reaches it.
pub struct ProcessTarget {
    /// The interposer's process (uid 0): forwards act as the caller through
    /// [`Process::acting_as`].
    process: Process,
    /// Its fd on the target's root.
    root: usize,
    /// The target's scheme name.
    name: String,
}

impl ProcessTarget {
    /// Opens the root of scheme `name` as `process` sees it.
    pub fn open(process: Process, name: &str) -> Result<Self> {
        let root = process.open(&format!("/scheme/{name}"), O_STAT | O_DIRECTORY)?;
        Ok(ProcessTarget {
            process,
            root,
            name: name.to_string(),
        })
    }

    /// The process, acting as `who`.
    fn who(&self, who: Creds) -> Result<Process> {
        self.process.acting_as(who.uid, who.gid)
    }

    /// A path from the target's root, as the kernel's path calls take it.
    fn full(&self, path: &str) -> String {
        format!("/scheme/{}/{}", self.name, path.trim_start_matches('/'))
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
        self.who(who)?.openat(dir, path, flags)
    }
    fn close(&self, fd: usize) {
        let _ = self.process.close(fd);
    }
    fn dup(&self, who: Creds, fd: usize, name: &[u8]) -> Result<usize> {
        self.who(who)?.dup(fd, name)
    }
    fn read(
        &self,
        who: Creds,
        fd: usize,
        buf: &mut [u8],
        offset: u64,
        flags: usize,
    ) -> Result<usize> {
        self.who(who)?.read_at(fd, buf, offset, flags)
    }
    fn write(&self, who: Creds, fd: usize, buf: &[u8], offset: u64) -> Result<usize> {
        self.who(who)?.write_at(fd, buf, offset)
    }
    fn fstat(&self, who: Creds, fd: usize) -> Result<Stat> {
        self.who(who)?.fstat(fd)
    }
    fn fpath(&self, who: Creds, fd: usize, buf: &mut [u8]) -> Result<usize> {
        self.who(who)?.fpath(fd, buf)
    }
    fn fsize(&self, who: Creds, fd: usize) -> Result<u64> {
        self.who(who)?.fsize(fd)
    }
    fn fchmod(&self, who: Creds, fd: usize, mode: u16) -> Result<()> {
        self.who(who)?.fchmod(fd, mode)
    }
    fn fchown(&self, who: Creds, fd: usize, uid: u32, gid: u32) -> Result<()> {
        self.who(who)?.fchown(fd, uid, gid)
    }
    fn ftruncate(&self, who: Creds, fd: usize, len: u64) -> Result<()> {
        self.who(who)?.ftruncate(fd, len)
    }
    fn fsync(&self, who: Creds, fd: usize) -> Result<()> {
        self.who(who)?.fsync(fd)
    }
    fn futimens(&self, who: Creds, fd: usize, times: &[TimeSpec]) -> Result<()> {
        self.who(who)?.futimens(fd, times)
    }
    fn fcntl(&self, who: Creds, fd: usize, cmd: usize, arg: usize) -> Result<usize> {
        self.who(who)?.fcntl(fd, cmd, arg)
    }
    fn fevent(&self, who: Creds, fd: usize, flags: EventFlags) -> Result<EventFlags> {
        self.who(who)?.fevent(fd, flags)
    }
    fn getdents(
        &self,
        who: Creds,
        fd: usize,
        buf: &mut [u8],
        header_size: u16,
        opaque: u64,
    ) -> Result<usize> {
        self.who(who)?.getdents(fd, buf, header_size, opaque)
    }
    fn unlinkat(&self, who: Creds, dir: usize, path: &str, flags: usize) -> Result<()> {
        self.who(who)?.unlinkat(dir, path, flags)
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
        self.who(who)?.frenameat(old_dir, old, new_dir, new, flags)
    }
    fn flinkat(&self, who: Creds, fd: usize, dir: usize, path: &str, flags: usize) -> Result<()> {
        self.who(who)?.flinkat(fd, dir, path, flags)
    }
    fn frename(&self, who: Creds, fd: usize, path: &str) -> Result<()> {
        self.who(who)?.frename(fd, &self.full(path))
    }
    fn flink(&self, who: Creds, fd: usize, path: &str) -> Result<()> {
        self.who(who)?.flink(fd, &self.full(path))
    }
    fn call(&self, who: Creds, fd: usize, payload: &mut [u8], metadata: &[u64]) -> Result<usize> {
        self.who(who)?.call(fd, payload, metadata)
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

/// An interposer serving on its thread.
pub struct InterposerThread {
    /// The interposer (its counters, its target).
    interposer: Arc<Interposer<ProcessTarget>>,
    /// The thread: ends when the scheme's request stream ends.
    thread: Option<JoinHandle<()>>,
}

impl InterposerThread {
    /// Registers an interposer as `name` in `ns`, in front of the scheme `target` as a new
    /// root process of the kernel-wide namespace sees it, and serves it on a thread.
    pub fn spawn(kernel: &Kernel, ns: &Namespace, name: &str, target: &str) -> Result<Self> {
        let process = kernel.daemon_process();
        let target = ProcessTarget::open(process.clone(), target)?;
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
    pub fn interposer(&self) -> &Arc<Interposer<ProcessTarget>> {
        &self.interposer
    }

    /// Waits for the thread (shut the scheme down first).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
