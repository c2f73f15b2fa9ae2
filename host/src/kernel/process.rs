//! Processes: credentials, an fd table, interruption tokens, and turning a call into a request
//! and waiting for its answer. The system calls themselves are in `process/calls.rs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use syscall::error::{Error, Result, EBADF, ECANCELED, EINTR, EIO, ENOENT, EOPNOTSUPP};
use syscall::flag::{EventFlags, O_ACCMODE, O_FCNTL_MASK};
use syscall::schemev2::{Cqe, CqeOpcode, NewFdFlags, Opcode, Sqe, SqeFlags};
use syscall::Stat;

use super::*;

mod calls;

/// An interruption token: the host stand-in for a signal. A call made with it sends a
/// `Cancel` request when the token fires while the call waits.
#[derive(Clone, Default)]
pub struct Interrupt {
    /// Fired flag and the waiting call, if any.
    state: Arc<Mutex<InterruptState>>,
}

/// State of an [`Interrupt`].
#[derive(Default)]
struct InterruptState {
    /// The token fired and was not reset.
    fired: bool,
    /// The call waiting now.
    waiter: Option<ReplyTx>,
}

impl Interrupt {
    /// A token that has not fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires: a call waiting with this token (now or later, until [`Interrupt::reset`]) is
    /// cancelled.
    pub fn fire(&self) {
        let mut st = lock(&self.state);
        st.fired = true;
        if let Some(tx) = st.waiter.as_ref() {
            let _ = tx.send(Wakeup::Interrupted);
        }
    }

    /// Clears the fired state.
    pub fn reset(&self) {
        lock(&self.state).fired = false;
    }

    /// Registers the waiting call; wakes it at once when already fired.
    fn arm(&self, tx: &ReplyTx) {
        let mut st = lock(&self.state);
        if st.fired {
            let _ = tx.send(Wakeup::Interrupted);
        }
        st.waiter = Some(tx.clone());
    }

    /// Unregisters the waiting call.
    fn disarm(&self) {
        lock(&self.state).waiter = None;
    }
}

/// One fd table slot.
struct FdSlot {
    /// The description.
    desc: Arc<Description>,
    /// `FD_CLOEXEC`.
    cloexec: bool,
}

/// A process's state.
struct ProcessInner {
    /// The kernel.
    kernel: Arc<KernelInner>,
    /// Process id, sent as the caller of each request.
    pid: usize,
    /// User id.
    uid: u32,
    /// Group id.
    gid: u32,
    /// The fd table.
    files: Mutex<BTreeMap<usize, FdSlot>>,
    /// The namespace the process resolves scheme names in, before the kernel-wide one.
    namespace: Option<Namespace>,
    /// Schemes registered in this process's own namespace: they hide the kernel-wide
    /// scheme of the same name for this process (and its clones) only, as a Redox process
    /// that registers a name in its own namespace.
    own_schemes: Mutex<HashMap<String, Arc<SchemeEntry>>>,
    /// Requests this process has sent to schemes (cancellations included).
    requests: AtomicU64,
}

/// A process: credentials and an fd table. Cheap to clone (clones share the table, like
/// threads of one process); `Send + Sync`.
#[derive(Clone)]
pub struct Process {
    /// Shared state.
    inner: Arc<ProcessInner>,
    /// Effective user and group ids of this handle's requests: the process's own unless
    /// [`Process::acting_as`] set others (a Redox context's `euid`/`egid`, which the kernel
    /// copies into every request the context makes).
    effective: (u32, u32),
}

/// A decoded response.
struct Reply {
    /// The result word, demuxed.
    result: Result<usize>,
    /// The raw record (flags, extra).
    cqe: Cqe,
    /// An fd passed back with `RespondWithFd`.
    fd: Option<Arc<Description>>,
}

/// Splits a path into (scheme name, path inside the scheme).
///
/// `/scheme/NAME/rest` and `/scheme/NAME`, legacy `NAME:rest`, and any other absolute path
/// (the `file` scheme). Leading slashes of the rest are removed.
pub fn split_path(path: &str) -> Result<(&str, &str)> {
    if let Some(after) = path.strip_prefix("/scheme/") {
        let (name, rest) = after.split_once('/').unwrap_or((after, ""));
        if name.is_empty() {
            return Err(Error::new(ENOENT));
        }
        return Ok((name, rest.trim_start_matches('/')));
    }
    if path.starts_with('/') {
        return Ok(("file", path.trim_start_matches('/')));
    }
    match path.split_once(':') {
        Some((name, rest)) if !name.is_empty() && !name.contains('/') => {
            Ok((name, rest.trim_start_matches('/')))
        }
        _ => Err(Error::new(ENOENT)),
    }
}

/// Splits a path into its parent directory and its last component, which keeps any
/// trailing slashes (`/scheme/x/d/s/` -> `/scheme/x/d/`, `s/`; `/scheme/x/f` -> `/scheme/x/`,
/// `f`; legacy `x:f` -> `x:`, `f`).
pub fn split_parent(path: &str) -> (&str, &str) {
    let trimmed = path.trim_end_matches('/');
    let cut = if trimmed.contains('/') { '/' } else { ':' };
    match trimmed.rfind(cut) {
        Some(i) => path.split_at(i + 1),
        None => ("", path),
    }
}

impl Process {
    /// A process of `kernel`.
    pub(super) fn new(
        kernel: Arc<KernelInner>,
        namespace: Option<Namespace>,
        pid: usize,
        uid: u32,
        gid: u32,
    ) -> Self {
        Process {
            effective: (uid, gid),
            inner: Arc::new(ProcessInner {
                kernel,
                pid,
                uid,
                gid,
                namespace,
                files: Mutex::new(BTreeMap::new()),
                own_schemes: Mutex::new(HashMap::new()),
                requests: AtomicU64::new(0),
            }),
        }
    }

    /// How many requests this process (all its clones) has sent to schemes so far,
    /// cancellations included; close messages sent when a description goes are not counted.
    pub fn requests_sent(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Process id.
    pub fn pid(&self) -> usize {
        self.inner.pid
    }

    /// User id.
    pub fn uid(&self) -> u32 {
        self.inner.uid
    }

    /// Group id.
    pub fn gid(&self) -> u32 {
        self.inner.gid
    }

    /// The same process (fd table, pid) making its requests with effective user `uid` and
    /// group `gid`, as a Redox context whose `euid`/`egid` were set: every request made
    /// through the returned handle carries them, and the schemes decide permissions for
    /// them. Only a process whose user id is 0 may act as another user (`EPERM`).
    pub fn acting_as(&self, uid: u32, gid: u32) -> Result<Process> {
        if self.inner.uid != 0 {
            return Err(Error::new(syscall::error::EPERM));
        }
        Ok(Process {
            inner: self.inner.clone(),
            effective: (uid, gid),
        })
    }

    /// The effective user and group ids this handle's requests carry.
    pub fn effective(&self) -> (u32, u32) {
        self.effective
    }

    /// The scheme `name` as this process sees it: its own namespace first, then the
    /// kernel-wide registry. `ENODEV` when neither has it.
    pub(super) fn scheme(&self, name: &str) -> Result<Arc<SchemeEntry>> {
        if let Some(e) = lock(&self.inner.own_schemes).get(name) {
            return Ok(e.clone());
        }
        if let Some(e) = self.inner.namespace.as_ref().and_then(|ns| ns.get(name)) {
            return Ok(e);
        }
        self.inner.kernel.scheme(name)
    }

    /// Registers scheme `name` in this process's own namespace, served by this process:
    /// only this process (and its clones) reach it by name, and there it hides a
    /// kernel-wide scheme of the same name. Every other process, a daemon included, still
    /// reaches the kernel-wide one. `EEXIST` when this namespace already has the name.
    pub fn register_own(&self, name: &str, root_id: usize) -> Result<HostSocket> {
        let (entry, rx) = SchemeEntry::new(&self.inner.kernel, name, root_id);
        let mut own = lock(&self.inner.own_schemes);
        if own.contains_key(name) {
            return Err(Error::new(syscall::error::EEXIST));
        }
        own.insert(name.to_string(), entry.clone());
        Ok(HostSocket {
            entry,
            inbox: rx,
            process: self.clone(),
        })
    }

    /// The open fds, ascending.
    pub fn fds(&self) -> Vec<usize> {
        lock(&self.inner.files).keys().copied().collect()
    }

    /// The description behind `fd`; `EBADF` when not open.
    pub(super) fn desc(&self, fd: usize) -> Result<Arc<Description>> {
        lock(&self.inner.files)
            .get(&fd)
            .map(|s| s.desc.clone())
            .ok_or(Error::new(EBADF))
    }

    /// Puts `desc` in the lowest free slot.
    pub(super) fn install(&self, desc: Arc<Description>, cloexec: bool) -> usize {
        let mut files = lock(&self.inner.files);
        let mut fd = FIRST_FD;
        for &used in files.keys() {
            if used > fd {
                break;
            }
            if used == fd {
                fd += 1;
            }
        }
        files.insert(fd, FdSlot { desc, cloexec });
        fd
    }

    /// Takes `fd` out of the table.
    pub(super) fn take(&self, fd: usize) -> Result<Arc<Description>> {
        lock(&self.inner.files)
            .remove(&fd)
            .map(|s| s.desc)
            .ok_or(Error::new(EBADF))
    }

    /// The request [`Self::sqe`] builds for `opcode` on handle `id` with the bytes `data`
    /// (a path, a name or a buffer) in args 1 and 2, then `a3` and `a4`.
    fn bytes_sqe(&self, opcode: Opcode, id: usize, data: &[u8], a3: u64, a4: u64) -> Sqe {
        self.sqe(
            opcode,
            [id as u64, data.as_ptr() as u64, data.len() as u64, a3, a4],
        )
    }

    /// A request record from this process, with a fresh tag.
    fn sqe(&self, opcode: Opcode, args: [u64; 5]) -> Sqe {
        Sqe {
            opcode: opcode as u8,
            sqe_flags: SqeFlags::empty(),
            _rsvd: 0,
            tag: next_tag(),
            args: [
                args[0],
                args[1],
                args[2],
                args[3],
                args[4],
                u64::from(self.effective.0) | (u64::from(self.effective.1) << 32),
            ],
            caller: self.inner.pid as u64,
        }
    }

    /// Sends `sqe` to `scheme` and waits for the response. With `interrupt`, a firing token
    /// sends a `Cancel` carrying the same tag, then the wait goes on for the response; a
    /// cancelled request (`ECANCELED`) then reports `EINTR`.
    fn transact(
        &self,
        scheme: &SchemeEntry,
        sqe: Sqe,
        interrupt: Option<&Interrupt>,
    ) -> Result<Reply> {
        let (tx, rx) = mpsc::channel();
        if let Some(i) = interrupt {
            i.arm(&tx);
        }
        let tag = sqe.tag;
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let sent = scheme.submit(sqe, tx);
        let mut cancelled = false;
        let outcome = sent.and_then(|()| loop {
            match rx.recv() {
                Ok(Wakeup::Reply(cqe, fd)) => break Ok((cqe, fd)),
                Ok(Wakeup::Interrupted) if !cancelled => {
                    cancelled = true;
                    let cancel = Sqe {
                        opcode: Opcode::Cancel as u8,
                        sqe_flags: SqeFlags::ONEWAY,
                        tag,
                        caller: self.inner.pid as u64,
                        ..Sqe::default()
                    };
                    self.inner.requests.fetch_add(1, Ordering::Relaxed);
                    scheme.send_oneway(cancel);
                }
                Ok(Wakeup::Interrupted) => {}
                Ok(Wakeup::Gone) | Err(_) => break Err(Error::new(EIO)),
            }
        });
        if let Some(i) = interrupt {
            i.disarm();
        }
        let (cqe, fd) = outcome?;
        let mut result = Error::demux(cqe.result as usize);
        if cancelled && matches!(result, Err(Error { errno: ECANCELED })) {
            result = Err(Error::new(EINTR));
        }
        Ok(Reply { result, cqe, fd })
    }

    /// Sends a request about `fd`'s description (its id goes in `args[0]`) and returns the
    /// result word.
    fn fd_call(&self, fd: usize, opcode: Opcode, rest: [u64; 4]) -> Result<usize> {
        let desc = self.desc(fd)?;
        let sqe = self.sqe(opcode, [desc.id as u64, rest[0], rest[1], rest[2], rest[3]]);
        self.transact(&desc.scheme, sqe, None)?.result
    }

    /// Turns an open-like response into a new fd.
    fn install_opened(
        &self,
        scheme: &Arc<SchemeEntry>,
        reply: Reply,
        flags: usize,
        cloexec: bool,
    ) -> Result<usize> {
        let desc = match CqeOpcode::try_from_raw(reply.cqe.flags) {
            Some(CqeOpcode::RespondRegular | CqeOpcode::RespondAndNotifyOnDetach) => {
                let number = reply.result?;
                let new_flags = NewFdFlags::from_bits_retain(reply.cqe.extra_raw[0]);
                Description::new(
                    scheme.clone(),
                    number,
                    flags,
                    new_flags.contains(NewFdFlags::POSITIONED),
                )
            }
            Some(CqeOpcode::RespondWithFd) => reply.fd.ok_or(Error::new(EBADF))?,
            _ => return Err(Error::new(EOPNOTSUPP)),
        };
        Ok(self.install(desc, cloexec))
    }

    /// `openat` on `scheme` with directory id `dir_id`.
    fn open_in(
        &self,
        scheme: &Arc<SchemeEntry>,
        dir_id: usize,
        rest: &str,
        flags: usize,
    ) -> Result<usize> {
        let sent = flags & !O_CLOEXEC;
        let fcntl = flags & (O_ACCMODE | O_FCNTL_MASK);
        let sqe = self.bytes_sqe(
            Opcode::OpenAt,
            dir_id,
            rest.as_bytes(),
            sent as u64,
            fcntl as u64,
        );
        let reply = self.transact(scheme, sqe, None)?;
        self.install_opened(scheme, reply, flags, flags & O_CLOEXEC != 0)
    }

    /// A new event queue of this process.
    pub fn event_queue(&self) -> EventQueue {
        let (tx, rx) = mpsc::channel();
        EventQueue {
            process: self.clone(),
            owner: self.inner.kernel.next_owner(),
            tx,
            rx,
        }
    }

    /// Blocks until `fd` is readable (true) or `timeout` passes (false; `None`: no limit):
    /// one `Fevent` request to subscribe an event queue, then a wait on the queue that sends
    /// nothing to any scheme.
    pub fn wait_readable(&self, fd: usize, timeout: Option<Duration>) -> Result<bool> {
        let queue = self.event_queue();
        queue.subscribe(fd, EventFlags::EVENT_READ)?;
        let ready = match timeout {
            None => queue.rx.recv().is_ok(),
            Some(t) => queue.wait(t).is_some(),
        };
        let _ = queue.unsubscribe(fd);
        Ok(ready)
    }

    /// Subscribes `fd` for `flags` on behalf of `target`, then asks the scheme for the
    /// current readiness (subscribing first, so no post is lost in between).
    pub(super) fn subscribe(
        &self,
        fd: usize,
        flags: EventFlags,
        target: Target,
        owner: u64,
    ) -> Result<(Arc<Description>, EventFlags)> {
        let desc = self.desc(fd)?;
        desc.scheme.unsubscribe(desc.serial, owner, Some(fd));
        desc.scheme.subscribe(Subscriber {
            id: desc.id,
            serial: desc.serial,
            fd,
            flags,
            target,
            owner,
        });
        match self.fevent(fd, flags) {
            Ok(ready) => Ok((desc, ready & flags)),
            Err(e) => {
                desc.scheme.unsubscribe(desc.serial, owner, Some(fd));
                Err(e)
            }
        }
    }

    /// Registers `fd` so that readiness posts reach `entry`'s inbox as
    /// `Inbound::Readable(fd)`; queues one at once when already readable.
    pub(crate) fn watch_into(&self, fd: usize, entry: &Arc<SchemeEntry>) -> Result<()> {
        let owner = self.inbox_owner();
        let target = Target::Inbox(Arc::downgrade(entry));
        let (_desc, ready) = self.subscribe(fd, EventFlags::EVENT_READ, target, owner)?;
        if !ready.is_empty() {
            entry.notify_readable(fd);
        }
        Ok(())
    }
}

impl inotify_client::Os for Process {
    fn open(&self, path: &str, flags: usize) -> Result<usize> {
        Process::open(self, path, flags)
    }
    fn read(&self, fd: usize, buf: &mut [u8]) -> Result<usize> {
        Process::read(self, fd, buf)
    }
    fn close(&self, fd: usize) -> Result<()> {
        Process::close(self, fd)
    }
    fn fcntl(&self, fd: usize, cmd: usize, arg: usize) -> Result<usize> {
        Process::fcntl(self, fd, cmd, arg)
    }
    fn fstat(&self, fd: usize) -> Result<Stat> {
        Process::fstat(self, fd)
    }
    fn sendfd(&self, target: usize, fd: usize, arg: u64) -> Result<()> {
        Process::sendfd(self, target, fd, arg).map(drop)
    }
    fn call(&self, fd: usize, payload: &mut [u8], metadata: &[u64]) -> Result<usize> {
        Process::call(self, fd, payload, metadata)
    }
    fn wait_readable(&self, fd: usize, timeout: Option<Duration>) -> Result<bool> {
        Process::wait_readable(self, fd, timeout)
    }
}
