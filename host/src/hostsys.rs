//! [`HostSys`]: the daemon's [`Sys`] on top of a [`HostSocket`].
//!
//! One inbox per daemon carries both its requests and the readiness notices of the fds it
//! watches, so [`Sys::wait`] is a single blocking receive. Ordering guarantee: a scheme's
//! `post_fevent` is routed into every subscriber's inbox synchronously, inside that scheme's
//! `write_response`, before the scheme answers anything else. So when a client operation on a
//! filesystem makes the filesystem record a fact (and post readiness), the daemon's inbox
//! holds the readiness notice before the client is even unblocked, hence before any later
//! request from that client. Notices are coalesced: while an fd's notice waits in the inbox,
//! further posts on it queue nothing (that notice already covers them), so the inbox holds at
//! most one notice per watched fd and requests are never queued behind a pile of them.

use redox_scheme::{Response, SendFdRequest};
use syscall::error::{Error, Result, EINVAL};
use syscall::flag::O_STAT;

use super::kernel::{HostSocket, Inbound, Process};
use inotifyd::sys::{Sys, SysCounts, Wake};

/// The daemon's view of the host kernel.
pub struct HostSys {
    /// The daemon's scheme socket; its inbox also carries readiness notices.
    socket: HostSocket,
    /// What the daemon asked so far (every wait is one blocking receive, counted in
    /// `blocks`; the inbox is never polled empty).
    counts: SysCounts,
}

impl HostSys {
    /// Wraps the daemon's socket.
    pub fn new(socket: HostSocket) -> Self {
        HostSys {
            socket,
            counts: SysCounts::default(),
        }
    }

    /// The socket.
    pub fn socket(&self) -> &HostSocket {
        &self.socket
    }

    /// The daemon's own process.
    pub fn process(&self) -> &Process {
        self.socket.process()
    }

    /// Like [`Sys::wait`], without blocking: `None` when nothing is queued.
    pub fn poll(&mut self) -> Option<Wake> {
        match self.socket.next_inbound(false) {
            Ok(item) => Some(Self::wake(item)),
            Err(_) => None,
        }
    }

    /// Turns an inbox item into a [`Wake`].
    fn wake(item: Option<Inbound>) -> Wake {
        match item {
            Some(Inbound::Request(sqe)) => Wake::Request(super::kernel::request_of(sqe)),
            Some(Inbound::Readable(fd)) => Wake::Readable(fd),
            None => Wake::Shutdown,
        }
    }
}

impl Sys for HostSys {
    fn wait(&mut self) -> Result<Wake> {
        let since = std::time::Instant::now();
        let wake = Self::wake(self.socket.next_inbound(true)?);
        let c = &mut self.counts;
        c.blocks += 1;
        c.blocked_us += since.elapsed().as_micros() as u64;
        match wake {
            Wake::Request(_) => c.requests += 1,
            Wake::Readable(_) => c.readable += 1,
            Wake::Shutdown => {}
        }
        Ok(wake)
    }
    fn respond(&mut self, resp: Response) -> Result<()> {
        self.counts.responses += 1;
        self.socket.write_response(resp)
    }
    fn obtain_fd(&mut self, req: &SendFdRequest) -> Result<usize> {
        self.socket.obtain_fd(req)
    }
    fn open_anchor(&mut self, name: &[u8]) -> Result<usize> {
        // The daemon's own process resolves the name: a scheme some other process
        // registered in its own namespace is not seen here.
        let name = std::str::from_utf8(name).map_err(|_| Error::new(EINVAL))?;
        if name.is_empty() || name.contains('/') {
            return Err(Error::new(EINVAL));
        }
        let flags = O_STAT | super::kernel::O_CLOEXEC;
        self.process().open(&format!("/scheme/{name}"), flags)
    }
    fn call2(
        &mut self,
        fd_a: usize,
        fd_b: usize,
        payload: &mut [u8],
        metadata: &[u64],
    ) -> Result<usize> {
        self.process().call2(fd_a, fd_b, payload, metadata)
    }
    fn dup(&mut self, fd: usize, name: &[u8]) -> Result<usize> {
        self.process().dup(fd, name)
    }
    fn map_feed(&mut self, fd: usize, len: usize) -> Result<inotifyd::sys::FeedMapping> {
        Ok(Box::new(self.process().mmap_shared(fd, len)?))
    }
    fn read(&mut self, fd: usize, buf: &mut [u8]) -> Result<usize> {
        self.counts.reads += 1;
        self.process().read_nonblock(fd, buf)
    }
    fn write(&mut self, fd: usize, buf: &[u8]) -> Result<usize> {
        self.process().write(fd, buf)
    }
    fn close(&mut self, fd: usize) -> Result<()> {
        self.process().close(fd)
    }
    fn yield_cpu(&mut self) {
        self.counts.yields += 1;
        std::thread::yield_now();
    }
    fn watch_readable(&mut self, fd: usize) -> Result<()> {
        let entry = self.socket.entry().clone();
        self.process().watch_into(fd, &entry)
    }
    fn readable_again(&mut self, fd: usize) {
        // Behind every request already in the inbox.
        self.socket.entry().notify_readable(fd);
    }
    fn counts(&self) -> Option<SysCounts> {
        Some(self.counts)
    }
}
