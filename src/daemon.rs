//! The request loop, shared by the Redox binary and the host harness.
//!
//! ```text
//! loop {
//!     arm the feed rings; pull what they hold (and serve what that woke)
//!     match sys.wait() {
//!         Request(req)   => Call: pull the feeds first if it observes a queue (read,
//!                                 fstat, fevent, FIONREAD, rm_watch; a blocking read of an
//!                                 empty queue does not, it is kept); dispatch to the scheme;
//!                                 a read that would block is kept
//!                           Cancellation{id}: answer the kept request with ECANCELED (EINTR)
//!                           SendFd: add_watch;  OnClose{id}: forget the handle
//!         Readable(feed) => pull facts into the engine (bounded: a full feed is listed
//!                           readable again, behind the requests already waiting)
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
use syscall::error::{
    Result, EAGAIN, EBADF, ECANCELED, EINTR, EINVAL, ENOSYS, EOPNOTSUPP, EWOULDBLOCK,
};
use syscall::flag::EventFlags;
use syscall::schemev2::{Opcode, Sqe};
use syscall::{Stat, StatVfs, TimeSpec};

use inotify_abi::proto::CallRepr;

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
        daemon.before_wait();
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
        self.scheme.new_turn();
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

    /// Before blocking: arms the feed rings, and finishes a turn for what they held (see
    /// `Feeds::arm`): a filesystem posts readiness only while the daemon waits.
    pub fn before_wait(&mut self) {
        self.scheme.new_turn();
        if self.scheme.arm_feeds() {
            self.scheme.flush_interest();
            self.serve_woken();
        }
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
    ///
    /// A read of an empty queue is tried before the feeds are pulled: when it blocks it is
    /// kept as it is, and the feed readiness that facts recorded before it are bound to post
    /// answers it (the program cannot tell the difference); only a non-blocking one pulls
    /// the feeds and is tried again. That spares the feed read per blocking read of a
    /// reader that keeps up.
    fn dispatch(&mut self, caller: CallerCtx, mut op: Op) {
        let mut pulled = false;
        if observes_queue(&mut op) && !self.reads_empty_queue(&op) {
            self.scheme.pull_all_feeds();
            pulled = true;
        }
        let mut res = op.handle_sync_dont_consume(&caller, self.scheme, &mut self.state);
        if !pulled && errno_of(&res) == Some(EAGAIN) {
            // A non-blocking read of an empty queue: it must see what was recorded before it.
            self.scheme.pull_all_feeds();
            res = op.handle_sync_dont_consume(&caller, self.scheme, &mut self.state);
        }
        match res {
            SchemeResponse::Regular(Err(e))
                if e.errno == EWOULDBLOCK && !op.is_explicitly_nonblock() =>
            {
                self.keep(caller, op)
            }
            res => self.respond(response_for(res, op)),
        }
    }

    /// Whether `op` is a read of an instance whose queue is empty.
    fn reads_empty_queue(&self, op: &Op) -> bool {
        match op {
            Op::Read(_) => op
                .file_id()
                .is_some_and(|id| self.scheme.queue_is_empty(id)),
            _ => false,
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
/// pull every feed (a blocking read of an empty queue only when it does not block, see
/// `Daemon::dispatch`): a filesystem records a fact and posts its feed's readiness before it
/// answers the operation, but on Redox that readiness and the program's next request to
/// inotifyd can arrive in either order, and the program must see the events of operations
/// that already returned (as on Linux, where they are queued synchronously).
/// Collecting an add_watch result (`TakeResult`, `TakeResultPath`) observes nothing and
/// pulls nothing; a loss report and a watch listing pull, so they include every operation
/// that already returned.
fn observes_queue(op: &mut Op) -> bool {
    match op {
        Op::Read(_) | Op::Fstat(_) | Op::Fevent { .. } => true,
        Op::Call(call) => !matches!(
            CallRepr::parse(call.payload_and_metadata().1),
            Ok(CallRepr::TakeResult { .. } | CallRepr::TakeResultPath { .. })
        ),
        _ => false,
    }
}

/// The errno of a regular error answer.
fn errno_of(res: &SchemeResponse) -> Option<i32> {
    match res {
        SchemeResponse::Regular(Err(e)) => Some(e.errno),
        _ => None,
    }
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
        fn yield_cpu(&mut self) {}
        fn readable_again(&mut self, _fd: usize) {}
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

    /// A `Sys` with one filesystem whose feed holds a scripted backlog: `wait` takes wakes
    /// from a queue the test fills, feed reads are counted, responses recorded.
    struct Churny {
        /// Wakes still to come, in order.
        wakes: VecDeque<Wake>,
        /// Records the scripted filesystem holds: a read returns one batch of as many as
        /// fit its buffer, as a producer does, `EAGAIN` when it holds none.
        pending: usize,
        /// Feed reads so far.
        reads: usize,
        /// Responses so far, with the number of feed reads made before each.
        sent: Vec<(Cqe, usize)>,
        /// Next sequence number of the scripted feed.
        next_seq: u64,
        /// Each yield of the CPU, with the number of feed reads made before it.
        yields: Vec<usize>,
        /// Records a writer adds to the feed while the daemon yields.
        on_yield: usize,
        /// Length of each feed read's buffer, and whether it started at a page boundary.
        read_bufs: Vec<(usize, bool)>,
    }

    /// The daemon's fd for the path a client sends, and for the feed.
    const SENT_FD: usize = 40;
    const FEED_FD: usize = 50;
    /// The daemon's anchor on the scripted filesystem.
    const ANCHOR_FD: usize = 60;
    /// The watched directory's inode.
    const DIR_INO: u64 = 2;

    impl Churny {
        fn new() -> Self {
            Churny {
                wakes: VecDeque::new(),
                pending: 0,
                reads: 0,
                sent: Vec::new(),
                next_seq: 0,
                yields: Vec::new(),
                on_yield: 0,
                read_bufs: Vec::new(),
            }
        }

        /// One recorded creation in the watched directory.
        fn fact() -> inotify_abi::feed::Fact<'static> {
            inotify_abi::feed::Fact::Created {
                dir: DIR_INO,
                name: b"churn",
                ino: 100,
                is_dir: false,
            }
        }

        /// Records `records` creations.
        fn push_batch(&mut self, records: usize) {
            self.pending += records;
        }

        /// Records as many creations as fill one read of the daemon's largest buffer.
        fn push_full_batch(&mut self) {
            let per_record = Self::fact().buffer_len();
            let header = inotify_abi::feed::BATCH_HEADER_LEN;
            self.push_batch((crate::feed::FEED_BUF_LEN - header) / per_record);
        }

        /// A batch of as many waiting records as fit `buf`; its length.
        fn take_batch(&mut self, buf: &mut [u8]) -> usize {
            let fact = Self::fact();
            let header = inotify_abi::feed::BATCH_HEADER_LEN;
            let records = self
                .pending
                .min(buf.len().saturating_sub(header) / fact.buffer_len());
            if records == 0 {
                return 0;
            }
            let mut at = header;
            for _ in 0..records {
                at += fact.emit(&mut buf[at..]).expect("the batch has room");
            }
            let batch = inotify_abi::feed::BatchHeader {
                first_seq: self.next_seq,
                count: records as u32,
                total_len: at as u32,
            };
            batch.emit(buf).unwrap();
            self.next_seq += records as u64;
            self.pending -= records;
            at
        }

        /// Feed reads made before the response to `tag`, if it was answered.
        fn answered(&self, tag: u32) -> Option<usize> {
            self.sent
                .iter()
                .find(|(c, _)| c.tag == tag)
                .map(|&(_, r)| r)
        }

        fn readable_queued(&self) -> bool {
            self.wakes
                .iter()
                .any(|w| matches!(w, Wake::Readable(fd) if *fd == FEED_FD))
        }
    }

    impl Sys for Churny {
        fn wait(&mut self) -> Result<Wake> {
            Ok(self.wakes.pop_front().unwrap_or(Wake::Shutdown))
        }
        fn respond(&mut self, resp: Response) -> Result<()> {
            // SAFETY: `Response` is `#[repr(transparent)]` over `Cqe` and has no `Drop`.
            let cqe = unsafe { std::mem::transmute::<Response, Cqe>(resp) };
            self.sent.push((cqe, self.reads));
            Ok(())
        }
        fn obtain_fd(&mut self, _req: &SendFdRequest) -> Result<usize> {
            Ok(SENT_FD)
        }
        fn open_anchor(&mut self, _name: &[u8]) -> Result<usize> {
            Ok(ANCHOR_FD)
        }
        /// The scripted filesystem identifies every handle as its watched directory.
        fn call2(&mut self, a: usize, _b: usize, p: &mut [u8], _m: &[u64]) -> Result<usize> {
            assert_eq!(a, ANCHOR_FD);
            let identity = inotify_abi::proto::Identity {
                ino: DIR_INO,
                is_dir: true,
                may_read: true,
            };
            Ok(identity.emit(p).expect("room for an identity"))
        }
        fn dup(&mut self, _fd: usize, _name: &[u8]) -> Result<usize> {
            Ok(FEED_FD)
        }
        fn read(&mut self, fd: usize, buf: &mut [u8]) -> Result<usize> {
            assert_eq!(fd, FEED_FD);
            self.reads += 1;
            let aligned = (buf.as_ptr() as usize).is_multiple_of(crate::feed::PAGE_LEN);
            self.read_bufs.push((buf.len(), aligned));
            match self.take_batch(buf) {
                0 => Err(Error::new(EAGAIN)),
                n => Ok(n),
            }
        }
        fn write(&mut self, _fd: usize, buf: &[u8]) -> Result<usize> {
            Ok(buf.len())
        }
        fn close(&mut self, _fd: usize) -> Result<()> {
            Ok(())
        }
        fn yield_cpu(&mut self) {
            self.yields.push(self.reads);
            if self.on_yield > 0 {
                self.push_batch(self.on_yield);
            }
        }
        fn watch_readable(&mut self, fd: usize) -> Result<()> {
            self.readable_again(fd);
            Ok(())
        }
        fn readable_again(&mut self, fd: usize) {
            if !self.readable_queued() {
                self.wakes.push_back(Wake::Readable(fd));
            }
        }
    }

    /// Opens an instance watching the scripted filesystem's directory; returns its handle.
    fn watching(daemon: &mut Daemon<'_, Churny>) -> usize {
        let path = b"";
        let flags = syscall::flag::O_RDONLY as u64;
        let args = [0, path.as_ptr() as u64, 0, flags, 0, 1000];
        assert!(daemon.handle(request(Opcode::OpenAt, 1, args)));
        let id = Error::demux(daemon.scheme().sys_mut().sent[0].0.result as usize).unwrap();
        let arg = u64::from(inotify_abi::consts::IN_CREATE) | (1 << 32);
        let sendfd = [id as u64, 0, arg, 1, 0, 1000];
        assert!(daemon.handle(request(Opcode::Sendfd, 2, sendfd)));
        // The feed was opened and announced readable once, at registration.
        let sys = daemon.scheme().sys_mut();
        assert!(sys.readable_queued());
        sys.wakes.clear();
        sys.sent.clear();
        id
    }

    /// Runs the loop until nothing is left to wake it.
    fn run_out(daemon: &mut Daemon<'_, Churny>) {
        for _ in 0..10_000 {
            let Some(wake) = daemon.scheme().sys_mut().wakes.pop_front() else {
                return;
            };
            assert!(daemon.handle(wake));
        }
        panic!("the loop never ran out of work");
    }

    #[test]
    fn a_request_behind_a_feed_backlog_is_answered_after_a_bounded_pull_and_the_feed_still_drains()
    {
        let mut scheme = InotifyScheme::new(Churny::new(), Limits::default());
        let mut daemon = Daemon::new(&mut scheme);
        watching(&mut daemon);
        // A filesystem in flat-out churn: 100 full batches waiting, its readiness noticed,
        // then another program's inotify_init1.
        let backlog = 100;
        let sys = daemon.scheme().sys_mut();
        for _ in 0..backlog {
            sys.push_full_batch();
        }
        sys.wakes.push_back(Wake::Readable(FEED_FD));
        let args = [
            0,
            b"".as_ptr() as u64,
            0,
            syscall::flag::O_RDONLY as u64,
            0,
            1001,
        ];
        sys.wakes.push_back(request(Opcode::OpenAt, 10, args));
        run_out(&mut daemon);
        let sys = daemon.scheme().sys_mut();
        let before = sys.answered(10).expect("init1 answered");
        assert!(
            before <= crate::feed::FEED_READS_PER_TURN,
            "init1 waited for {before} feed reads"
        );
        // Nothing was left behind: every batch was read, and one read more (the last batch
        // filled the buffer, so only a read could tell the feed was empty).
        assert_eq!(sys.pending, 0);
        assert_eq!(sys.reads, backlog + 1);
    }

    #[test]
    fn a_feed_read_that_leaves_room_ends_the_pull_without_a_read_for_eagain() {
        let mut scheme = InotifyScheme::new(Churny::new(), Limits::default());
        let mut daemon = Daemon::new(&mut scheme);
        watching(&mut daemon);
        let sys = daemon.scheme().sys_mut();
        sys.push_batch(3);
        sys.wakes.push_back(Wake::Readable(FEED_FD));
        run_out(&mut daemon);
        assert_eq!(daemon.scheme().sys_mut().reads, 1);
    }

    #[test]
    fn a_blocking_read_of_an_empty_queue_is_kept_without_a_feed_read_and_answered_at_readiness() {
        let mut scheme = InotifyScheme::new(Churny::new(), Limits::default());
        let mut daemon = Daemon::new(&mut scheme);
        let id = watching(&mut daemon);
        let mut buf = [0u8; 4096];
        let (ptr, len) = (buf.as_mut_ptr() as u64, buf.len() as u64);
        // A fact is recorded, but its readiness reaches the daemon after the program's read
        // (the order Redox allows): the read waits for it and returns the event.
        daemon.scheme().sys_mut().push_batch(1);
        assert!(daemon.handle(request(Opcode::Read, 20, [id as u64, ptr, len, 0, 0, 1000])));
        assert_eq!(daemon.kept_reads(), 1);
        assert_eq!(daemon.scheme().sys_mut().reads, 0);
        assert!(daemon.handle(Wake::Readable(FEED_FD)));
        let sys = daemon.scheme().sys_mut();
        assert_eq!(sys.reads, 1);
        let n = Error::demux(sys.sent.last().unwrap().0.result as usize).unwrap();
        let events: Vec<u32> = inotify_abi::event::Events::new(&buf[..n])
            .map(|e| e.mask)
            .collect();
        assert_eq!(events, [inotify_abi::consts::IN_CREATE]);
        // A non-blocking read of an empty queue does pull first: it must see what was
        // recorded before it.
        daemon.scheme().sys_mut().push_batch(1);
        let nonblock = syscall::flag::O_NONBLOCK as u64;
        let args = [id as u64, ptr, len, 0, nonblock, 1000];
        assert!(daemon.handle(request(Opcode::Read, 21, args)));
        let sys = daemon.scheme().sys_mut();
        assert_eq!(sys.reads, 2);
        assert!(Error::demux(sys.sent.last().unwrap().0.result as usize).unwrap() > 0);
    }

    #[test]
    fn collecting_an_add_watch_result_reads_no_feed_but_rm_watch_and_fionread_do() {
        let mut scheme = InotifyScheme::new(Churny::new(), Limits::default());
        let mut daemon = Daemon::new(&mut scheme);
        let id = watching(&mut daemon);
        let mut none = [0u8; 0];
        let ptr = none.as_mut_ptr() as u64;
        let call = |tag, meta: [u64; 3]| {
            request(
                Opcode::Call,
                tag,
                [id as u64, ptr, 0, meta[0], meta[1], meta[2]],
            )
        };
        // TakeResult for the watch `watching` added (token 1): wd 1, and no feed read.
        assert!(daemon.handle(call(30, CallRepr::TakeResult { token: 1 }.emit())));
        let sys = daemon.scheme().sys_mut();
        assert_eq!(
            Error::demux(sys.sent.last().unwrap().0.result as usize),
            Ok(1)
        );
        assert_eq!(sys.reads, 0);
        // FIONREAD and rm_watch observe the queue: each pulls the feed first.
        assert!(daemon.handle(call(31, CallRepr::QueuedBytes.emit())));
        assert_eq!(daemon.scheme().sys_mut().reads, 1);
        assert!(daemon.handle(call(32, CallRepr::RmWatch { wd: 1 }.emit())));
        assert_eq!(daemon.scheme().sys_mut().reads, 2);
    }

    /// Turns of the feed, `turns` times: one batch of `records` is waiting at each
    /// readiness, and each yield lets a writer add a batch of `while_yielding` more.
    /// Returns which turns yielded.
    fn turns(
        daemon: &mut Daemon<'_, Churny>,
        turns: usize,
        records: usize,
        while_yielding: usize,
    ) -> Vec<bool> {
        let mut yielded = Vec::with_capacity(turns);
        for _ in 0..turns {
            let sys = daemon.scheme().sys_mut();
            let before = sys.yields.len();
            sys.push_batch(records);
            sys.on_yield = while_yielding;
            sys.wakes.push_back(Wake::Readable(FEED_FD));
            run_out(daemon);
            yielded.push(daemon.scheme().sys_mut().yields.len() > before);
        }
        yielded
    }

    /// The turns that took `choice`, as one run: (first, length); `None` if they are not
    /// one run.
    fn one_run(turns: &[bool], choice: bool) -> Option<(usize, usize)> {
        let first = turns.iter().position(|&t| t == choice)?;
        let len = turns[first..].iter().take_while(|&&t| t == choice).count();
        let rest = &turns[first + len..];
        (!rest.contains(&choice)).then_some((first, len))
    }

    #[test]
    fn turns_yield_while_a_writer_adds_facts_during_the_yield_and_stop_when_it_does_not() {
        let mut scheme = InotifyScheme::new(Churny::new(), Limits::default());
        let mut daemon = Daemon::new(&mut scheme);
        let id = watching(&mut daemon);
        // A writer that keeps going whenever the daemon lets it: after learning (two
        // cycles), every turn but a probe run yields.
        let (cycle, run) = (
            crate::feed::TURN_PROBE_CYCLE as usize,
            crate::feed::TURN_PROBE_RUN as usize,
        );
        turns(&mut daemon, 2 * cycle, 1, 4);
        let learned = turns(&mut daemon, cycle, 1, 4);
        assert_eq!(
            one_run(&learned, false).map(|r| r.1),
            Some(run),
            "{learned:?}"
        );
        // Each yield came before the read of its turn.
        let sys = daemon.scheme().sys_mut();
        let reads_at_yields: Vec<usize> = sys.yields.iter().rev().take(3).copied().collect();
        assert!(reads_at_yields.windows(2).all(|w| w[0] > w[1]));
        // Lone operations: yielding brings nothing, so only the probe runs yield.
        turns(&mut daemon, 2 * cycle, 1, 0);
        let learned = turns(&mut daemon, cycle, 1, 0);
        assert_eq!(
            one_run(&learned, true).map(|r| r.1),
            Some(run),
            "{learned:?}"
        );
        // A request that pulls every feed first (FIONREAD) never yields: its program waits.
        let before = daemon.scheme().sys_mut().yields.len();
        daemon.scheme().sys_mut().push_batch(1);
        let mut none = [0u8; 0];
        let meta = CallRepr::QueuedBytes.emit();
        let args = [
            id as u64,
            none.as_mut_ptr() as u64,
            0,
            meta[0],
            meta[1],
            meta[2],
        ];
        assert!(daemon.handle(request(Opcode::Call, 40, args)));
        assert_eq!(daemon.scheme().sys_mut().yields.len(), before);
    }

    #[test]
    fn a_turn_reads_one_aligned_page_first_and_a_feed_left_full_gets_full_reads_next_turn() {
        let mut scheme = InotifyScheme::new(Churny::new(), Limits::default());
        let mut daemon = Daemon::new(&mut scheme);
        watching(&mut daemon);
        let (page, full) = (crate::feed::PAGE_LEN, crate::feed::FEED_BUF_LEN);
        // A few records: one read of one page takes them all.
        let sys = daemon.scheme().sys_mut();
        sys.push_batch(3);
        sys.wakes.push_back(Wake::Readable(FEED_FD));
        run_out(&mut daemon);
        assert_eq!(daemon.scheme().sys_mut().read_bufs, [(page, true)]);
        // A backlog of more than a turn reads: a page, then full reads; the turn after the
        // feed was left full starts full.
        let sys = daemon.scheme().sys_mut();
        sys.read_bufs.clear();
        for _ in 0..crate::feed::FEED_READS_PER_TURN + 2 {
            sys.push_full_batch();
        }
        sys.wakes.push_back(Wake::Readable(FEED_FD));
        run_out(&mut daemon);
        let sys = daemon.scheme().sys_mut();
        assert_eq!(sys.pending, 0);
        let turn = crate::feed::FEED_READS_PER_TURN;
        assert_eq!(sys.read_bufs[0], (page, true));
        assert!(sys.read_bufs[1..]
            .iter()
            .all(|&(len, aligned)| len == full && aligned));
        assert!(sys.read_bufs.len() > turn, "{:?}", sys.read_bufs);
        // Drained: the next turn starts with a page again.
        sys.read_bufs.clear();
        sys.push_batch(1);
        sys.wakes.push_back(Wake::Readable(FEED_FD));
        run_out(&mut daemon);
        assert_eq!(daemon.scheme().sys_mut().read_bufs, [(page, true)]);
    }
}
