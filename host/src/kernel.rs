//! The in-process kernel: a registry of schemes, processes with fd tables, and the routing of
//! requests, responses and readiness posts between them.
//!
//! This file holds the registry ([`Kernel`]), open file descriptions and the per-scheme
//! request routing; `kernel/process.rs` the processes (`process/calls.rs` their system calls),
//! `kernel/socket.rs` the daemon side of a scheme ([`HostSocket`]), `kernel/queue.rs` event
//! queues ([`EventQueue`]).
//!
//! Requests are the kernel's own `Sqe` records, turned into `redox_scheme::Request` values, so
//! a scheme served through a [`HostSocket`] decodes and dispatches them with redox-scheme's own
//! code (`Request::kind`, `CallRequest::handle_sync`). Buffers are passed as real pointers into
//! the caller's memory: the caller blocks until the response arrives, as on Redox.
//!
//! Locks are leaves: no lock of this module is held while another one is taken, except
//! `SchemeEntry::waiting` -> `SchemeEntry::inbox` (in `SchemeEntry::submit`) and
//! `SchemeEntry::subs` -> another entry's `noticed`, then its `inbox` (routing a readiness
//! post); `inbox` and `noticed` locks never take another lock. Descriptions are never dropped while a lock is held, because
//! their `Drop` sends a close message.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use redox_scheme::Request;
use syscall::error::{Error, Result, EEXIST, EINVAL, EIO, ENODEV};
use syscall::flag::{EventFlags, O_ACCMODE, O_FCNTL_MASK, O_STAT};
use syscall::schemev2::{Cqe, Opcode, Sqe, SqeFlags};

mod memory;
mod process;
mod queue;
mod socket;

pub use memory::{SchemeMemory, SharedPages};

pub use process::{split_parent, split_path, Interrupt, Process};

pub use queue::EventQueue;
pub use socket::{FeventPoster, HostSocket, Responder};

/// Redox's `O_CLOEXEC`: the kernel keeps it per fd and never sends it to the scheme.
pub use inotify_abi::consts::O_CLOEXEC_REDOX as O_CLOEXEC;
/// Redox's `O_PATH`: the same bit as `O_STAT` (open without read or write access).
pub const O_PATH: usize = O_STAT;
/// `FD_CLOEXEC` for `F_GETFD`/`F_SETFD`.
pub const FD_CLOEXEC: usize = 1;
/// The lowest fd a process gets; 0, 1 and 2 are left for the standard streams.
pub const FIRST_FD: usize = 3;

/// Where a request's caller waits for its response.
type ReplyTx = Sender<Wakeup>;

/// Kernel-wide request tags (0 is never used). Unique across every kernel of the process.
static NEXT_TAG: AtomicU32 = AtomicU32::new(1);
/// Serial numbers of descriptions, to tell apart descriptions with the same scheme id.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// A fresh request tag.
fn next_tag() -> u32 {
    loop {
        let tag = NEXT_TAG.fetch_add(1, Ordering::Relaxed);
        if tag != 0 {
            return tag;
        }
    }
}

/// The only conversions between redox-scheme's wrappers and the kernel records they wrap.
mod raw {
    use redox_scheme::{Request, Response, SendFdRequest};
    use syscall::schemev2::{Cqe, Sqe};

    /// Wraps a kernel request record.
    pub(super) fn request(sqe: Sqe) -> Request {
        // SAFETY: `Request` is `#[repr(transparent)]` over `Sqe` (redox-scheme 0.12 lib.rs),
        // and every bit pattern of `Sqe` is a valid `Sqe`. This is how the Redox kernel hands
        // requests to `Socket::next_request`.
        unsafe { std::mem::transmute::<Sqe, Request>(sqe) }
    }

    /// Unwraps a response into the kernel's completion record.
    pub(super) fn cqe(resp: Response) -> Cqe {
        // SAFETY: `Response` is `#[repr(transparent)]` over `Cqe` and has no `Drop`; the
        // record is read exactly as the Redox kernel reads it from the scheme socket.
        unsafe { std::mem::transmute::<Response, Cqe>(resp) }
    }

    /// The request record behind a `SendFdRequest`.
    pub(super) fn sendfd_sqe(req: &SendFdRequest) -> &Sqe {
        // SAFETY: `SendFdRequest` is `#[repr(transparent)]` over `Request`, itself
        // `#[repr(transparent)]` over `Sqe`, so the pointer cast keeps layout and lifetime.
        unsafe { &*(req as *const SendFdRequest as *const Sqe) }
    }

    /// The request record behind a `Request`.
    pub(super) fn request_sqe(req: &Request) -> &Sqe {
        // SAFETY: as above, `Request` is `#[repr(transparent)]` over `Sqe`.
        unsafe { &*(req as *const Request as *const Sqe) }
    }
}

/// The request record behind a `Request` (for tests and tracing).
pub fn sqe_of(req: &Request) -> &Sqe {
    raw::request_sqe(req)
}

/// Wraps a request record taken from an inbox.
pub(crate) fn request_of(sqe: Sqe) -> Request {
    raw::request(sqe)
}

/// What wakes a caller blocked on a request.
enum Wakeup {
    /// The scheme answered; an fd travels with `RespondWithFd`.
    Reply(Cqe, Option<Arc<Description>>),
    /// The caller's [`Interrupt`] fired.
    Interrupted,
    /// The scheme's socket went away before answering.
    Gone,
}

/// What arrives in a scheme daemon's inbox.
pub(crate) enum Inbound {
    /// A request for the scheme.
    Request(Sqe),
    /// One of the daemon's fds, watched with [`HostSys`](super::HostSys), became readable.
    Readable(usize),
}

/// Who is told about readiness posts on a (scheme, id) pair.
enum Target {
    /// An [`EventQueue`].
    Queue(Sender<(usize, EventFlags)>),
    /// A daemon inbox (`HostSys::watch_readable`).
    Inbox(Weak<SchemeEntry>),
}

/// One readiness subscription, kept by the scheme that posts.
struct Subscriber {
    /// The scheme's id of the watched description.
    id: usize,
    /// The watched description.
    serial: u64,
    /// The subscriber's fd for it, reported with each event.
    fd: usize,
    /// Events wanted.
    flags: EventFlags,
    /// Where events go.
    target: Target,
    /// Which queue or inbox subscribed (for unsubscribe).
    owner: u64,
}

/// A registered scheme, as the kernel sees it.
pub(crate) struct SchemeEntry {
    /// Name under `/scheme/`.
    name: String,
    /// Id passed as `fd` to `openat` on the scheme root.
    root_id: usize,
    /// Where requests go; `None` once the scheme is shut down.
    inbox: Mutex<Option<Sender<Inbound>>>,
    /// Callers waiting for a response, by tag.
    waiting: Mutex<HashMap<u32, ReplyTx>>,
    /// Fds in flight with `sendfd`, by request tag, until `obtain_fd` or the response.
    pending_fds: Mutex<HashMap<u32, Arc<Description>>>,
    /// Readiness subscriptions on this scheme's ids.
    subs: Mutex<Vec<Subscriber>>,
    /// Requests queued for the scheme so far (one-way messages included).
    requests: AtomicU64,
    /// Readiness posts the scheme has made so far (`Response::post_fevent`).
    posts: AtomicU64,
    /// Watched fds whose readiness notice is in this scheme's inbox, not yet taken by its
    /// daemon: another post for one of them queues nothing (see
    /// [`SchemeEntry::notify_readable`]).
    noticed: Mutex<HashSet<usize>>,
    /// Readiness notices queued into this scheme's inbox so far (after coalescing).
    notices: AtomicU64,
    /// Memory the scheme allocated to share with callers that map its handles.
    memory: Mutex<memory::PageTable>,
    /// The kernel, to unregister the name when the socket goes.
    kernel: Weak<KernelInner>,
}

/// Locks `m`, ignoring poisoning (a panicking test thread must not hide other failures).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SchemeEntry {
    /// A new scheme called `name` and the receiving end of its inbox.
    fn new(
        kernel: &Arc<KernelInner>,
        name: &str,
        root_id: usize,
    ) -> (Arc<SchemeEntry>, mpsc::Receiver<Inbound>) {
        let (tx, rx) = mpsc::channel();
        let entry = Arc::new(SchemeEntry {
            name: name.to_string(),
            root_id,
            inbox: Mutex::new(Some(tx)),
            waiting: Mutex::new(HashMap::new()),
            pending_fds: Mutex::new(HashMap::new()),
            subs: Mutex::new(Vec::new()),
            requests: AtomicU64::new(0),
            posts: AtomicU64::new(0),
            noticed: Mutex::new(HashSet::new()),
            notices: AtomicU64::new(0),
            memory: Mutex::new(memory::PageTable::default()),
            kernel: Arc::downgrade(kernel),
        });
        (entry, rx)
    }

    /// Queues `sqe` and registers `reply` to receive its response. `EIO` when the scheme is
    /// gone.
    fn submit(&self, sqe: Sqe, reply: ReplyTx) -> Result<()> {
        let mut waiting = lock(&self.waiting);
        let inbox = lock(&self.inbox);
        let tx = inbox.as_ref().ok_or(Error::new(EIO))?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        waiting.insert(sqe.tag, reply);
        if tx.send(Inbound::Request(sqe)).is_err() {
            waiting.remove(&sqe.tag);
            return Err(Error::new(EIO));
        }
        Ok(())
    }

    /// Queues a one-way message (close, cancel); dropped silently when the scheme is gone.
    fn send_oneway(&self, sqe: Sqe) {
        debug_assert!(sqe.sqe_flags.contains(SqeFlags::ONEWAY));
        if let Some(tx) = lock(&self.inbox).as_ref() {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let _ = tx.send(Inbound::Request(sqe));
        }
    }

    /// Queues a readiness notice of `fd` for the daemon serving this scheme, unless one is
    /// already queued and not yet taken: an fd known to be readable needs no second wake-up
    /// (so a filesystem posting faster than the daemon pulls cannot pile notices up in front
    /// of requests). Taking the notice ([`SchemeEntry::take_notice`]) re-arms it.
    pub(crate) fn notify_readable(&self, fd: usize) {
        if !lock(&self.noticed).insert(fd) {
            return;
        }
        if let Some(tx) = lock(&self.inbox).as_ref() {
            self.notices.fetch_add(1, Ordering::Relaxed);
            let _ = tx.send(Inbound::Readable(fd));
        }
    }

    /// The daemon took the notice of `fd` from its inbox: the next post queues a new one.
    pub(crate) fn take_notice(&self, fd: usize) {
        lock(&self.noticed).remove(&fd);
    }

    /// Stops taking requests: the daemon's `next_request` returns `None` once the queue is
    /// drained.
    fn close_inbox(&self) {
        lock(&self.inbox).take();
    }

    /// Fails every waiting caller and drops every fd in flight (the socket is gone).
    fn fail_pending(&self) {
        let waiting: Vec<ReplyTx> = lock(&self.waiting).drain().map(|(_, tx)| tx).collect();
        for tx in waiting {
            let _ = tx.send(Wakeup::Gone);
        }
        let fds: Vec<Arc<Description>> = lock(&self.pending_fds).drain().map(|(_, d)| d).collect();
        drop(fds);
    }

    /// Delivers a response to the caller waiting on its tag.
    fn complete(&self, cqe: Cqe, fd: Option<Arc<Description>>) -> Result<()> {
        let tx = lock(&self.waiting).remove(&cqe.tag);
        match tx {
            Some(tx) => {
                // A caller that went away (its thread panicked) drops the fd here.
                let _ = tx.send(Wakeup::Reply(cqe, fd));
                Ok(())
            }
            None => {
                log::warn!("scheme {}: response for unknown tag {}", self.name, cqe.tag);
                Err(Error::new(EINVAL))
            }
        }
    }

    /// Routes a readiness post on `id` to every subscriber, synchronously.
    fn post(&self, id: usize, flags: EventFlags) {
        self.posts.fetch_add(1, Ordering::Relaxed);
        let mut subs = lock(&self.subs);
        subs.retain(|s| {
            if s.id != id {
                return true;
            }
            let hit = s.flags & flags;
            if hit.is_empty() {
                return true;
            }
            match &s.target {
                Target::Queue(tx) => tx.send((s.fd, hit)).is_ok(),
                Target::Inbox(entry) => match entry.upgrade() {
                    Some(entry) => {
                        entry.notify_readable(s.fd);
                        true
                    }
                    None => false,
                },
            }
        });
    }

    /// Adds a subscription.
    fn subscribe(&self, sub: Subscriber) {
        lock(&self.subs).push(sub);
    }

    /// Removes the subscriptions of `owner` on description `serial` (all fds when `fd` is
    /// `None`).
    fn unsubscribe(&self, serial: u64, owner: u64, fd: Option<usize>) {
        lock(&self.subs)
            .retain(|s| !(s.serial == serial && s.owner == owner && fd.is_none_or(|f| f == s.fd)));
    }

    /// Removes every subscription on a description that was closed.
    fn forget_description(&self, serial: u64) {
        lock(&self.subs).retain(|s| s.serial != serial);
    }
}

/// An open file description: a scheme and the scheme's id for it, shared by dup'ed fds.
pub(crate) struct Description {
    /// The scheme serving it.
    scheme: Arc<SchemeEntry>,
    /// The scheme's number for it.
    id: usize,
    /// Kernel-wide serial number.
    serial: u64,
    /// `O_ACCMODE` and `O_FCNTL_MASK` bits (`F_GETFL`).
    flags: Mutex<usize>,
    /// The scheme asked for kernel-kept offsets (`NewFdFlags::POSITIONED`).
    positioned: bool,
    /// The offset, when positioned.
    offset: Mutex<u64>,
}

impl Description {
    /// A description for id `id` of `scheme`.
    fn new(scheme: Arc<SchemeEntry>, id: usize, flags: usize, positioned: bool) -> Arc<Self> {
        Arc::new(Description {
            scheme,
            id,
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
            flags: Mutex::new(flags & (O_ACCMODE | O_FCNTL_MASK)),
            positioned,
            offset: Mutex::new(0),
        })
    }

    /// The description's `F_GETFL` flags.
    fn flags(&self) -> usize {
        *lock(&self.flags)
    }
}

impl Drop for Description {
    /// The last reference is gone: tell the scheme (`RequestKind::OnClose`).
    fn drop(&mut self) {
        self.scheme.forget_description(self.serial);
        let mut sqe = Sqe {
            opcode: Opcode::CloseMsg as u8,
            sqe_flags: SqeFlags::ONEWAY,
            tag: next_tag(),
            ..Sqe::default()
        };
        sqe.args[0] = self.id as u64;
        self.scheme.send_oneway(sqe);
    }
}

/// The kernel's shared state.
pub(crate) struct KernelInner {
    /// Registered schemes by name.
    schemes: Mutex<HashMap<String, Arc<SchemeEntry>>>,
    /// Set by `shutdown`; no scheme can be registered afterwards.
    shut: AtomicBool,
    /// Next pid for daemons registered without one.
    next_pid: AtomicUsize,
    /// Next event queue / inbox owner number.
    next_owner: AtomicU64,
    /// The namespaces made so far (their schemes are shut down with the kernel's).
    namespaces: Mutex<Vec<Weak<NamespaceInner>>>,
}

impl KernelInner {
    /// Closes every scheme's inbox; daemons see the end of their request stream.
    fn shutdown(&self) {
        self.shut.store(true, Ordering::SeqCst);
        let mut entries: Vec<Arc<SchemeEntry>> =
            lock(&self.schemes).drain().map(|(_, e)| e).collect();
        let namespaces: Vec<Weak<NamespaceInner>> = lock(&self.namespaces).drain(..).collect();
        for ns in namespaces.iter().filter_map(Weak::upgrade) {
            entries.extend(lock(&ns.schemes).drain().map(|(_, e)| e));
        }
        for e in &entries {
            e.close_inbox();
        }
    }

    /// The scheme called `name`.
    fn scheme(&self, name: &str) -> Result<Arc<SchemeEntry>> {
        lock(&self.schemes)
            .get(name)
            .cloned()
            .ok_or(Error::new(ENODEV))
    }

    /// A fresh subscriber identity.
    fn next_owner(&self) -> u64 {
        self.next_owner.fetch_add(1, Ordering::Relaxed)
    }
}

/// The state of a [`Namespace`].
pub(crate) struct NamespaceInner {
    /// Names registered in this namespace.
    schemes: Mutex<HashMap<String, Arc<SchemeEntry>>>,
    /// The kernel.
    kernel: Weak<KernelInner>,
}

/// A name-to-scheme map between a process and the kernel-wide registry (Redox: a namespace
/// of the namespace manager). A name registered here hides the kernel-wide scheme of that
/// name from every process made with [`Kernel::process_in`] on it; other names fall
/// through. Cheap to clone.
#[derive(Clone)]
pub struct Namespace {
    /// Shared state.
    inner: Arc<NamespaceInner>,
}

impl Namespace {
    /// The scheme registered here as `name`, while its daemon serves it.
    fn get(&self, name: &str) -> Option<Arc<SchemeEntry>> {
        lock(&self.inner.schemes)
            .get(name)
            .filter(|e| lock(&e.inbox).is_some())
            .cloned()
    }

    /// Registers scheme `name` in this namespace, served by `daemon` (a process of any
    /// namespace: the interposer reaches the scheme it hides through its own). `EEXIST`
    /// when the name is registered here and served, `ENODEV` after the kernel shut down.
    pub fn register(&self, name: &str, root_id: usize, daemon: Process) -> Result<HostSocket> {
        let kernel = self.inner.kernel.upgrade().ok_or(Error::new(ENODEV))?;
        if kernel.shut.load(Ordering::SeqCst) {
            return Err(Error::new(ENODEV));
        }
        if self.get(name).is_some() {
            return Err(Error::new(EEXIST));
        }
        let (entry, rx) = SchemeEntry::new(&kernel, name, root_id);
        lock(&self.inner.schemes).insert(name.to_string(), entry.clone());
        Ok(HostSocket {
            entry,
            inbox: rx,
            process: daemon,
        })
    }

    /// Ends the request stream of scheme `name` of this namespace and removes the name.
    /// `ENODEV` when unknown.
    pub fn shutdown_scheme(&self, name: &str) -> Result<()> {
        let entry = lock(&self.inner.schemes)
            .remove(name)
            .ok_or(Error::new(ENODEV))?;
        entry.close_inbox();
        Ok(())
    }
}

/// Shuts the kernel down when the last [`Kernel`] handle goes.
struct KernelHandle {
    /// The shared state.
    inner: Arc<KernelInner>,
}

impl Drop for KernelHandle {
    fn drop(&mut self) {
        self.inner.shutdown();
    }
}

/// The in-process kernel. Cheap to clone; dropping the last clone shuts it down (like
/// [`Kernel::shutdown`]): every scheme's request stream ends, so scheme threads return.
#[derive(Clone)]
pub struct Kernel {
    /// Counted handle; processes and sockets hold the state without keeping it alive.
    handle: Arc<KernelHandle>,
}

impl Default for Kernel {
    fn default() -> Self {
        Self::new()
    }
}

impl Kernel {
    /// A kernel with no schemes.
    pub fn new() -> Self {
        Kernel {
            handle: Arc::new(KernelHandle {
                inner: Arc::new(KernelInner {
                    schemes: Mutex::new(HashMap::new()),
                    shut: AtomicBool::new(false),
                    next_pid: AtomicUsize::new(100),
                    next_owner: AtomicU64::new(1),
                    namespaces: Mutex::new(Vec::new()),
                }),
            }),
        }
    }

    /// The shared state.
    fn inner(&self) -> &Arc<KernelInner> {
        &self.handle.inner
    }

    /// A process with the given credentials and an empty fd table.
    pub fn process(&self, pid: usize, uid: u32, gid: u32) -> Process {
        Process::new(self.inner().clone(), None, pid, uid, gid)
    }

    /// A new namespace: a name-to-scheme map that processes made with
    /// [`Kernel::process_in`] consult before the kernel-wide registry (Redox: a namespace
    /// forked from the root one, in which some names were replaced).
    pub fn namespace(&self) -> Namespace {
        let ns = Namespace {
            inner: Arc::new(NamespaceInner {
                schemes: Mutex::new(HashMap::new()),
                kernel: Arc::downgrade(self.inner()),
            }),
        };
        lock(&self.inner().namespaces).push(Arc::downgrade(&ns.inner));
        ns
    }

    /// A process that resolves scheme names in `ns` first, then kernel-wide.
    pub fn process_in(&self, ns: &Namespace, pid: usize, uid: u32, gid: u32) -> Process {
        Process::new(self.inner().clone(), Some(ns.clone()), pid, uid, gid)
    }

    /// Registers scheme `name` (the daemon side); `openat` on `/scheme/<name>` carries
    /// `root_id` as its `fd`. The daemon gets its own process (uid 0, gid 0, a fresh pid).
    /// `EEXIST` when the name is taken, `ENODEV` after shutdown.
    pub fn register(&self, name: &str, root_id: usize) -> Result<HostSocket> {
        self.register_as(name, root_id, self.daemon_process())
    }

    /// A fresh root process (uid 0, gid 0, a new pid) in the kernel-wide namespace, as
    /// [`Kernel::register`] gives each daemon.
    pub fn daemon_process(&self) -> Process {
        let pid = self.inner().next_pid.fetch_add(1, Ordering::Relaxed);
        self.process(pid, 0, 0)
    }

    /// A fresh process (a new pid) with user `uid` and group `gid` in the kernel-wide
    /// namespace.
    pub fn fresh_process(&self, uid: u32, gid: u32) -> Process {
        let pid = self.inner().next_pid.fetch_add(1, Ordering::Relaxed);
        self.process(pid, uid, gid)
    }

    /// Like [`Kernel::register`], with a given daemon process.
    pub fn register_as(&self, name: &str, root_id: usize, daemon: Process) -> Result<HostSocket> {
        let inner = self.inner();
        let (entry, rx) = SchemeEntry::new(inner, name, root_id);
        {
            let mut schemes = lock(&inner.schemes);
            if inner.shut.load(Ordering::SeqCst) {
                return Err(Error::new(ENODEV));
            }
            if schemes.contains_key(name) {
                return Err(Error::new(EEXIST));
            }
            schemes.insert(name.to_string(), entry.clone());
        }
        Ok(HostSocket {
            entry,
            inbox: rx,
            process: daemon,
        })
    }

    /// Whether a scheme called `name` is registered.
    pub fn has_scheme(&self, name: &str) -> bool {
        lock(&self.inner().schemes).contains_key(name)
    }

    /// How many requests (one-way messages included) processes have sent to scheme `name`
    /// since it registered; `None` when no such scheme is registered.
    pub fn requests(&self, name: &str) -> Option<u64> {
        lock(&self.inner().schemes)
            .get(name)
            .map(|e| e.requests.load(Ordering::Relaxed))
    }

    /// How many readiness posts (`Response::post_fevent`) scheme `name` has made since it
    /// registered; `None` when no such scheme is registered.
    pub fn posts(&self, name: &str) -> Option<u64> {
        lock(&self.inner().schemes)
            .get(name)
            .map(|e| e.posts.load(Ordering::Relaxed))
    }

    /// How many readiness notices of watched fds (`HostSys::watch_readable`) were queued into
    /// the inbox of scheme `name` (a post while the fd's previous notice is still queued
    /// queues none); `None` when no such scheme is registered.
    pub fn readiness_notices(&self, name: &str) -> Option<u64> {
        lock(&self.inner().schemes)
            .get(name)
            .map(|e| e.notices.load(Ordering::Relaxed))
    }

    /// Unregisters scheme `name` and ends its request stream (its daemon's `next_request`
    /// returns `Ok(None)` once the queued requests are taken). `ENODEV` when unknown.
    pub fn shutdown_scheme(&self, name: &str) -> Result<()> {
        let entry = lock(&self.inner().schemes)
            .remove(name)
            .ok_or(Error::new(ENODEV))?;
        entry.close_inbox();
        Ok(())
    }

    /// Ends every scheme's request stream; no scheme can be registered afterwards. Requests
    /// already queued are still delivered; callers still waiting when a socket is dropped get
    /// `EIO`.
    pub fn shutdown(&self) {
        self.inner().shutdown();
    }
}

#[cfg(test)]
#[path = "kernel_tests.rs"]
mod tests;
