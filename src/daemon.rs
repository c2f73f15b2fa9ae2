//! The request loop, shared by the Redox binary and the host harness.
//!
//! ```text
//! loop {
//!     match sys.wait() {
//!         Request(req)   => Call: pull the feeds first if it observes a queue (read, fstat,
//!                                 fevent, call); dispatch to the scheme; a read that would
//!                                 block is kept
//!                           Cancellation{id}: answer the kept request with ECANCELED (EINTR)
//!                           SendFd: add_watch;  OnClose{id}: forget the handle
//!         Readable(feed) => pull facts into the engine
//!         Shutdown       => return
//!     }
//!     push interest changes to the feeds
//!     for each instance that went from empty to non-empty:
//!         retry its kept reads, oldest first; post EVENT_READ if still readable
//! }
//! ```
//!
//! Kept reads are `(CallerCtx, Op)` pairs, as in `redox_scheme::wrappers::ReadinessBased`,
//! keyed by request id and listed per handle. When the last description of an instance is
//! closed while reads are still kept on it, they are answered with `EBADF`.

use std::collections::VecDeque;

use hashbrown::HashMap;

use redox_scheme::scheme::{Op, SchemeResponse, SchemeState};
use std::mem::size_of;

use redox_scheme::{CallRequest, CallerCtx, Id, RequestKind, Response};
use syscall::error::{Result, EBADF, ECANCELED, EINTR, EINVAL, ENOSYS, EOPNOTSUPP, EWOULDBLOCK};
use syscall::flag::EventFlags;
use syscall::schemev2::{Opcode, Sqe};
use syscall::{Stat, StatVfs, TimeSpec};

use crate::scheme::InotifyScheme;
use crate::sys::{Sys, Wake};

/// A read kept until its instance has events.
struct Kept {
    /// Who asked.
    caller: CallerCtx,
    /// The read itself (its buffer stays valid until it is answered).
    op: Op,
    /// The handle it reads.
    handle: usize,
}

/// The loop's state around the scheme.
pub struct Daemon<'s, S: Sys> {
    /// The scheme.
    scheme: &'s mut InotifyScheme<S>,
    /// redox-scheme's own per-scheme state (advisory locks; unused by inotify).
    state: SchemeState,
    /// Kept reads by request id.
    kept: HashMap<Id, Kept>,
    /// Kept request ids per handle, oldest first.
    by_handle: HashMap<usize, VecDeque<Id>>,
    /// Scratch for woken handles.
    woken: Vec<usize>,
}

/// Runs the daemon until the scheme socket closes.
pub fn run<S: Sys>(scheme: &mut InotifyScheme<S>) -> Result<()> {
    let mut daemon = Daemon::new(scheme);
    loop {
        let wake = match daemon.scheme.sys_mut().wait() {
            Ok(w) => w,
            Err(e) if e.errno == EINTR => continue,
            Err(e) => return Err(e),
        };
        if !daemon.handle(wake) {
            return Ok(());
        }
    }
}

impl<'s, S: Sys> Daemon<'s, S> {
    /// The loop state around `scheme`.
    pub fn new(scheme: &'s mut InotifyScheme<S>) -> Self {
        Daemon {
            scheme,
            state: SchemeState::new(),
            kept: HashMap::new(),
            by_handle: HashMap::new(),
            woken: Vec::new(),
        }
    }

    /// The scheme.
    #[cfg(test)]
    fn scheme(&mut self) -> &mut InotifyScheme<S> {
        self.scheme
    }

    /// Number of reads waiting for events.
    #[cfg(test)]
    fn kept_reads(&self) -> usize {
        self.kept.len()
    }

    /// Handles one wake-up and everything it caused; `false` when the daemon should exit.
    pub fn handle(&mut self, wake: Wake) -> bool {
        match wake {
            Wake::Request(req) => self.handle_request(req.kind()),
            Wake::Readable(fd) => {
                if self.scheme.is_feed(fd) {
                    self.scheme.pull_feed(fd);
                } else {
                    log::warn!("readiness on unknown fd {fd}");
                }
            }
            Wake::Shutdown => return false,
        }
        self.scheme.flush_interest();
        self.serve_woken();
        true
    }

    /// Dispatches one request.
    fn handle_request(&mut self, kind: RequestKind) {
        match kind {
            RequestKind::Call(call) => {
                if let Some(errno) = refused_before_decoding(&call) {
                    self.respond(Response::err(errno, call));
                    return;
                }
                let caller = call.caller();
                match call.op() {
                    Ok(op) => self.dispatch(caller, op),
                    Err(call) => self.respond(Response::err(ENOSYS, call)),
                }
            }
            RequestKind::Cancellation(c) => {
                if let Some(k) = self.forget(c.id) {
                    self.respond(Response::err(ECANCELED, k.op));
                }
            }
            RequestKind::SendFd(req) => {
                let result = syscall_on_sendfd(self.scheme, &req);
                self.respond(Response::new(result, req));
            }
            RequestKind::RecvFd(req) => self.respond(Response::err(EOPNOTSUPP, req)),
            RequestKind::OnClose { id } => {
                redox_scheme::scheme::SchemeSync::on_close(self.scheme, id);
                self.state.on_close(id);
                self.answer_kept(id, EBADF);
            }
            RequestKind::OnDetach { .. }
            | RequestKind::MsyncMsg
            | RequestKind::MunmapMsg
            | RequestKind::MmapMsg => {}
        }
    }

    /// Runs `op`; keeps it when it would block, else answers it.
    fn dispatch(&mut self, caller: CallerCtx, mut op: Op) {
        if observes_queue(&op) {
            self.scheme.pull_all_feeds();
        }
        let res = op.handle_sync_dont_consume(&caller, self.scheme, &mut self.state);
        match res {
            SchemeResponse::Regular(Err(e))
                if e.errno == EWOULDBLOCK && !op.is_explicitly_nonblock() =>
            {
                self.keep(caller, op)
            }
            res => self.respond(response_for(res, op)),
        }
    }

    /// Keeps a blocked read.
    fn keep(&mut self, caller: CallerCtx, op: Op) {
        let Some(handle) = op.file_id() else {
            self.respond(Response::err(EBADF, op));
            return;
        };
        let id = caller.id;
        self.by_handle.entry(handle).or_default().push_back(id);
        self.kept.insert(id, Kept { caller, op, handle });
    }

    /// Removes a kept request from both indexes.
    fn forget(&mut self, id: Id) -> Option<Kept> {
        let k = self.kept.remove(&id)?;
        if let Some(q) = self.by_handle.get_mut(&k.handle) {
            q.retain(|&i| i != id);
            if q.is_empty() {
                self.by_handle.remove(&k.handle);
            }
        }
        Some(k)
    }

    /// Answers every read kept on `handle` with `errno`.
    fn answer_kept(&mut self, handle: usize, errno: i32) {
        for id in self.by_handle.remove(&handle).unwrap_or_default() {
            if let Some(k) = self.kept.remove(&id) {
                self.respond(Response::err(errno, k.op));
            }
        }
    }

    /// Retries the kept reads of every instance that became readable, then posts readiness.
    fn serve_woken(&mut self) {
        let mut woken = std::mem::take(&mut self.woken);
        self.scheme.take_woken_handles(&mut woken);
        for &handle in &woken {
            self.retry_kept(handle);
            if self.scheme.wants_fevent(handle) {
                self.respond(Response::post_fevent(handle, EventFlags::EVENT_READ.bits()));
            }
        }
        woken.clear();
        self.woken = woken;
    }

    /// Retries the reads kept on `handle`, oldest first, while they complete.
    fn retry_kept(&mut self, handle: usize) {
        let ids: Vec<Id> = match self.by_handle.get(&handle) {
            Some(q) => q.iter().copied().collect(),
            None => return,
        };
        for id in ids {
            let Some(mut k) = self.forget(id) else {
                continue;
            };
            let res =
                k.op.handle_sync_dont_consume(&k.caller, self.scheme, &mut self.state);
            match res {
                SchemeResponse::Regular(Err(e)) if e.errno == EWOULDBLOCK => {
                    // Still empty: put it back at the front and stop (later ones would block too).
                    self.by_handle.entry(handle).or_default().push_front(id);
                    self.kept.insert(id, k);
                    return;
                }
                res => self.respond(response_for(res, k.op)),
            }
        }
    }

    /// Sends a response; a failure is logged (the caller is gone), never fatal.
    fn respond(&mut self, resp: Response) {
        if let Err(e) = self.scheme.sys_mut().respond(resp) {
            log::warn!("sending a response: {e}");
        }
    }
}

/// Whether `op` reports queue state (events, readiness, bytes queued). Such requests first
/// pull every feed: a filesystem records a fact and posts its feed's readiness before it
/// answers the operation, but on Redox that readiness and the program's next request to
/// inotifyd can arrive in either order, and the program must see the events of operations
/// that already returned (as on Linux, where they are queued synchronously).
fn observes_queue(op: &Op) -> bool {
    matches!(
        op,
        Op::Read(_) | Op::Fstat(_) | Op::Fevent { .. } | Op::Call(_)
    )
}

/// `on_sendfd`, spelled out so the trait method is not confused with an inherent one.
fn syscall_on_sendfd<S: Sys>(
    scheme: &mut InotifyScheme<S>,
    req: &redox_scheme::SendFdRequest,
) -> Result<usize> {
    redox_scheme::scheme::SchemeSync::on_sendfd(scheme, req)
}

/// The kernel's record behind a call request.
fn sqe_of(call: &CallRequest) -> &Sqe {
    // SAFETY: `CallRequest` is `#[repr(transparent)]` over `Request`, itself
    // `#[repr(transparent)]` over the kernel's `Sqe` (redox-scheme 0.12 `lib.rs`), so the
    // pointer cast keeps layout and lifetime; every bit pattern is a valid `Sqe`.
    unsafe { &*(call as *const CallRequest as *const Sqe) }
}

/// Requests that redox-scheme's decoder would `assert!` on (a buffer of the wrong size for
/// fstat, fstatvfs or futimens): refused with `EINVAL` before decoding, so a hostile caller
/// cannot panic the daemon.
fn refused_before_decoding(call: &CallRequest) -> Option<i32> {
    let sqe = sqe_of(call);
    let len = usize::try_from(sqe.args[2]).unwrap_or(usize::MAX);
    let bad = match Opcode::try_from_raw(sqe.opcode) {
        Some(Opcode::Fstat) => len < size_of::<Stat>(),
        Some(Opcode::Fstatvfs) => len < size_of::<StatVfs>(),
        Some(Opcode::Futimens) => len > 2 * size_of::<TimeSpec>(),
        _ => false,
    };
    bad.then_some(EINVAL)
}

/// The response carrying `res` for `op`.
fn response_for(res: SchemeResponse, op: Op) -> Response {
    match res {
        SchemeResponse::Regular(r) => Response::new(r, op),
        SchemeResponse::RegularAndNotifyOnDetach(r) => Response::new_notify_on_detach(r, op),
        SchemeResponse::Opened(o) => Response::open_dup_like(o, op),
    }
}

#[cfg(all(test, not(target_os = "redox")))]
mod tests {
    use super::*;
    use inotify_engine::Limits;
    use redox_scheme::SendFdRequest;
    use syscall::error::Error;
    use syscall::schemev2::Cqe;

    /// A `Sys` that records responses and has no fds.
    #[derive(Default)]
    struct Recorder {
        /// Responses, as the kernel would read them.
        sent: Vec<Cqe>,
    }

    impl Sys for Recorder {
        fn wait(&mut self) -> Result<Wake> {
            Ok(Wake::Shutdown)
        }
        fn respond(&mut self, resp: Response) -> Result<()> {
            // SAFETY: `Response` is `#[repr(transparent)]` over `Cqe` and has no `Drop`.
            self.sent
                .push(unsafe { std::mem::transmute::<Response, Cqe>(resp) });
            Ok(())
        }
        fn obtain_fd(&mut self, _req: &SendFdRequest) -> Result<usize> {
            Err(Error::new(EBADF))
        }
        fn open_anchor(&mut self, _name: &[u8]) -> Result<usize> {
            Err(Error::new(EBADF))
        }
        fn call2(&mut self, _a: usize, _b: usize, _p: &mut [u8], _m: &[u64]) -> Result<usize> {
            Err(Error::new(EBADF))
        }
        fn dup(&mut self, _fd: usize, _name: &[u8]) -> Result<usize> {
            Err(Error::new(EBADF))
        }
        fn read(&mut self, _fd: usize, _buf: &mut [u8]) -> Result<usize> {
            Err(Error::new(EBADF))
        }
        fn write(&mut self, _fd: usize, _buf: &[u8]) -> Result<usize> {
            Err(Error::new(EBADF))
        }
        fn close(&mut self, _fd: usize) -> Result<()> {
            Err(Error::new(EBADF))
        }
        fn watch_readable(&mut self, _fd: usize) -> Result<()> {
            Err(Error::new(EBADF))
        }
    }

    /// A request as the kernel hands it to the scheme.
    fn request_of(sqe: Sqe) -> redox_scheme::Request {
        // SAFETY: `Request` is `#[repr(transparent)]` over `Sqe` (redox-scheme 0.12), and
        // every bit pattern of `Sqe` is a valid `Sqe`.
        unsafe { std::mem::transmute::<Sqe, redox_scheme::Request>(sqe) }
    }

    fn request(opcode: Opcode, tag: u32, args: [u64; 6]) -> Wake {
        Wake::Request(request_of(Sqe {
            opcode: opcode as u8,
            tag,
            args,
            ..Sqe::default()
        }))
    }

    #[test]
    fn wrongly_sized_buffers_are_refused_not_asserted_on() {
        let mut scheme = InotifyScheme::new(Recorder::default(), Limits::default());
        let mut daemon = Daemon::new(&mut scheme);
        let mut small = [0u8; 8];
        let ptr = small.as_mut_ptr() as u64;
        assert!(daemon.handle(request(Opcode::Fstat, 7, [0, ptr, 8, 0, 0, 0])));
        assert!(daemon.handle(request(Opcode::Fstatvfs, 8, [0, ptr, 8, 0, 0, 0])));
        assert!(daemon.handle(request(Opcode::Futimens, 9, [0, ptr, 1 << 20, 0, 0, 0])));
        let sent: Vec<(u32, Result<usize>)> = scheme
            .sys_mut()
            .sent
            .iter()
            .map(|c| (c.tag, Error::demux(c.result as usize)))
            .collect();
        let einval = Err(Error::new(EINVAL));
        assert_eq!(sent, [(7, einval), (8, einval), (9, einval)]);
    }

    /// Opens an instance through the loop; returns its handle id.
    fn open_instance(daemon: &mut Daemon<'_, Recorder>, tag: u32) -> usize {
        let path = b"";
        let flags = syscall::flag::O_RDONLY as u64;
        let args = [0, path.as_ptr() as u64, 0, flags, 0, 1000];
        assert!(daemon.handle(request(Opcode::OpenAt, tag, args)));
        let cqe = daemon.scheme().sys_mut().sent.pop().expect("an answer");
        assert_eq!(cqe.tag, tag);
        Error::demux(cqe.result as usize).expect("an instance")
    }

    #[test]
    fn kept_reads_are_cancelled_or_answered_at_close() {
        let mut scheme = InotifyScheme::new(Recorder::default(), Limits::default());
        let mut daemon = Daemon::new(&mut scheme);
        let id = open_instance(&mut daemon, 1);
        let mut buf = [0u8; 64];
        let (ptr, len) = (buf.as_mut_ptr() as u64, buf.len() as u64);
        let read = |tag| request(Opcode::Read, tag, [id as u64, ptr, len, 0, 0, 1000]);
        // Two blocking reads on an empty queue are kept, not answered.
        assert!(daemon.handle(read(2)));
        assert!(daemon.handle(read(3)));
        assert_eq!(daemon.kept_reads(), 2);
        assert!(daemon.scheme().sys_mut().sent.is_empty());
        // A cancellation answers its read with ECANCELED.
        assert!(daemon.handle(request(Opcode::Cancel, 2, [0; 6])));
        assert_eq!(daemon.kept_reads(), 1);
        // The last close answers what is left with EBADF.
        assert!(daemon.handle(request(Opcode::CloseMsg, 4, [id as u64, 0, 0, 0, 0, 0])));
        assert_eq!(daemon.kept_reads(), 0);
        let sent: Vec<(u32, Result<usize>)> = daemon
            .scheme()
            .sys_mut()
            .sent
            .iter()
            .map(|c| (c.tag, Error::demux(c.result as usize)))
            .collect();
        assert_eq!(
            sent,
            [(2, Err(Error::new(ECANCELED))), (3, Err(Error::new(EBADF)))]
        );
        assert_eq!(daemon.scheme().handle_count(), 0);
    }

    #[test]
    fn cancelling_an_unknown_request_answers_nothing() {
        let mut scheme = InotifyScheme::new(Recorder::default(), Limits::default());
        let mut daemon = Daemon::new(&mut scheme);
        assert!(daemon.handle(request(Opcode::Cancel, 3, [0; 6])));
        assert_eq!(daemon.kept_reads(), 0);
        assert!(!daemon.handle(Wake::Shutdown));
        assert!(scheme.sys_mut().sent.is_empty());
    }
}
