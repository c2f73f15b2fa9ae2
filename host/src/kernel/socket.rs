//! The daemon side of a scheme: its socket (requests in, responses and posts out).

use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use redox_scheme::{Request, Response, SendFdRequest};
use syscall::error::{Error, Result, EINVAL};
use syscall::flag::EventFlags;
use syscall::schemev2::{Cqe, CqeOpcode};

use super::*;

/// Posts readiness on behalf of a scheme from any thread (a clone of the socket's post path).
#[derive(Clone)]
pub struct FeventPoster {
    /// The scheme.
    entry: Arc<SchemeEntry>,
}

impl FeventPoster {
    /// Same as writing `Response::post_fevent(id, flags)` to the socket.
    pub fn post_fevent(&self, id: usize, flags: EventFlags) {
        self.entry.post(id, flags);
    }
}

/// The answering half of a [`HostSocket`], for daemons that answer from several threads:
/// responses and readiness posts, as [`HostSocket::write_response`].
#[derive(Clone)]
pub struct Responder {
    /// The scheme.
    entry: Arc<SchemeEntry>,
    /// The daemon's process (fds it returns leave its table).
    process: Process,
}

impl Responder {
    /// Same as [`HostSocket::write_response`].
    pub fn write_response(&self, resp: Response) -> Result<()> {
        write_response(&self.entry, &self.process, resp)
    }
}

/// Writes a response of scheme `entry` served by `process` (see
/// [`HostSocket::write_response`]).
fn write_response(entry: &SchemeEntry, process: &Process, resp: Response) -> Result<()> {
    let cqe = raw::cqe(resp);
    match CqeOpcode::try_from_raw(cqe.flags) {
        Some(CqeOpcode::SendFevent) => {
            let flags = EventFlags::from_bits_retain(cqe.tag as usize);
            entry.post(cqe.result as usize, flags);
            Ok(())
        }
        Some(CqeOpcode::RespondWithFd) => match process.take(cqe.result as usize) {
            Ok(desc) => entry.complete(cqe, Some(desc)),
            Err(e) => {
                let failed = Cqe {
                    flags: CqeOpcode::RespondRegular as u8,
                    result: Error::mux(Err(e)) as u64,
                    ..cqe
                };
                entry.complete(failed, None)
            }
        },
        Some(_) => entry.complete(cqe, None),
        None => Err(Error::new(EINVAL)),
    }
}

/// The daemon side of a scheme: requests in, responses and readiness posts out. Dropping it
/// unregisters the scheme, fails every caller still waiting (`EIO`) and closes fds in flight.
pub struct HostSocket {
    /// The scheme.
    pub(super) entry: Arc<SchemeEntry>,
    /// Requests (and, through `HostSys`, readiness notices).
    pub(super) inbox: Receiver<Inbound>,
    /// The daemon's own process.
    pub(super) process: Process,
}

impl HostSocket {
    /// The scheme name.
    pub fn name(&self) -> &str {
        &self.entry.name
    }

    /// The id `openat` gets for the scheme root.
    pub fn root_id(&self) -> usize {
        self.entry.root_id
    }

    /// The daemon's own process (uid 0 unless registered with [`Kernel::register_as`]), for
    /// fstat/dup/read on fds of other schemes.
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// The scheme's allocator of memory it can share with callers that map its handles.
    pub fn memory(&self) -> SchemeMemory {
        SchemeMemory {
            entry: self.entry.clone(),
        }
    }

    /// A handle that posts readiness for this scheme from any thread.
    pub fn poster(&self) -> FeventPoster {
        FeventPoster {
            entry: self.entry.clone(),
        }
    }

    /// The next inbox item: `Ok(Some(_))`, `Ok(None)` once the scheme is shut down and the
    /// queue drained, `Err(EAGAIN)` when not `blocking` and nothing is queued.
    pub(crate) fn next_inbound(&self, blocking: bool) -> Result<Option<Inbound>> {
        let item = if blocking {
            self.inbox.recv().ok()
        } else {
            match self.inbox.try_recv() {
                Ok(item) => Some(item),
                Err(TryRecvError::Empty) => return Err(Error::new(syscall::error::EAGAIN)),
                Err(TryRecvError::Disconnected) => None,
            }
        };
        if let Some(Inbound::Readable(fd)) = item {
            // Taken before the daemon reads the fd: a post from now on queues a new notice.
            self.entry.take_notice(fd);
        }
        Ok(item)
    }

    /// The next request, like redox-scheme's `Socket::next_request`: `Ok(Some(req))`,
    /// `Ok(None)` once the scheme is shut down (end of stream), `Err(EAGAIN)` when not
    /// `blocking` and nothing is queued.
    pub fn next_request(&self, blocking: bool) -> Result<Option<Request>> {
        loop {
            match self.next_inbound(blocking)? {
                Some(Inbound::Request(sqe)) => return Ok(Some(raw::request(sqe))),
                // Readiness notices only matter to `HostSys`, which reads them itself.
                Some(Inbound::Readable(_)) => continue,
                None => return Ok(None),
            }
        }
    }

    /// Writes a response: a regular response wakes the caller waiting on its tag (`EINVAL`
    /// for an unknown tag); `Response::return_external_fd` moves the daemon's fd to the
    /// caller; `Response::post_fevent` is routed to every subscriber of (this scheme, id)
    /// before this call returns.
    pub fn write_response(&self, resp: Response) -> Result<()> {
        write_response(&self.entry, &self.process, resp)
    }

    /// A [`Responder`] for this socket, usable from any thread.
    pub fn responder(&self) -> Responder {
        Responder {
            entry: self.entry.clone(),
            process: self.process.clone(),
        }
    }

    /// Takes the fd a `sendfd` request carries into the daemon's process; returns the new fd.
    /// `EINVAL` when the request carries no fd (or it was already taken).
    pub fn obtain_fd(&self, req: &SendFdRequest) -> Result<usize> {
        let tag = raw::sendfd_sqe(req).tag;
        let desc = lock(&self.entry.pending_fds)
            .remove(&tag)
            .ok_or(Error::new(EINVAL))?;
        Ok(self.process.install(desc, false))
    }

    /// How many requests (one-way messages included) processes have sent to this scheme.
    pub fn requests(&self) -> u64 {
        self.entry
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The scheme entry (for `HostSys`).
    pub(crate) fn entry(&self) -> &Arc<SchemeEntry> {
        &self.entry
    }
}

impl Drop for HostSocket {
    fn drop(&mut self) {
        self.entry.close_inbox();
        if let Some(kernel) = self.entry.kernel.upgrade() {
            let mut schemes = lock(&kernel.schemes);
            if schemes
                .get(&self.entry.name)
                .is_some_and(|e| Arc::ptr_eq(e, &self.entry))
            {
                schemes.remove(&self.entry.name);
            }
        }
        self.entry.fail_pending();
    }
}
