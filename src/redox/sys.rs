//! [`RedoxSys`]: the scheme socket, an event queue, and plain syscalls.

use std::collections::VecDeque;
use std::slice;

use event::{EventFlags, EventQueue};
use redox_scheme::{Response, SendFdRequest, SignalBehavior, Socket};
use syscall::error::{Error, Result, EAGAIN, EBADF, EINTR, EPIPE, EWOULDBLOCK};
use syscall::flag::{FobtainFdFlags, F_GETFL, F_SETFL, O_NONBLOCK};
use syscall::Stat;

use crate::sys::{Sys, Wake};

/// Requests served in a row before the registered fds are offered as readable again even
/// without a readiness event, so a steady stream of requests cannot starve the feeds (the
/// event queue is only read when the socket is drained).
const REQUEST_BUDGET: u32 = 32;

/// The daemon's view of Redox.
///
/// [`Sys::wait`] alternates between fds known to be readable (each listed once however often
/// it was reported) and requests (the socket is non-blocking and read until `EAGAIN`): after a
/// [`Wake::Readable`] the next wake is a request if one is waiting, so a filesystem that keeps
/// its feed full (re-listed with [`Sys::readable_again`]) gets every other turn at most. With
/// neither, it blocks on the event queue. A [`Wake::Readable`] may be spurious (the fd is read
/// non-blocking, so the reader just sees `EAGAIN`); one is always reported right after
/// [`Sys::watch_readable`] and for every watched fd after [`REQUEST_BUDGET`] requests in a
/// row.
pub struct RedoxSys {
    /// The scheme socket, non-blocking.
    socket: Socket,
    /// Readiness of the socket and of every watched fd; user data is the fd itself.
    queue: EventQueue<usize>,
    /// The socket may have requests: read it before blocking on the queue.
    socket_ready: bool,
    /// Fds reported readable and not yet returned by `wait`, oldest first, no duplicates.
    readable: VecDeque<usize>,
    /// Every fd registered with `watch_readable`.
    watched: Vec<usize>,
    /// Requests returned since the last time the watched fds were offered.
    served_in_a_row: u32,
    /// The last wake was a readable fd: a waiting request goes next.
    requests_turn: bool,
}

impl RedoxSys {
    /// Takes over the scheme `socket` (made non-blocking here) and creates the event queue
    /// that reports its requests and the readiness of watched fds.
    pub fn new(socket: Socket) -> Result<RedoxSys> {
        let raw = socket.inner().raw();
        let flags = libredox::call::fcntl(raw, F_GETFL, 0)?;
        libredox::call::fcntl(raw, F_SETFL, flags | O_NONBLOCK)?;
        let queue = EventQueue::<usize>::new()?;
        queue.subscribe(raw, raw, EventFlags::READ)?;
        Ok(RedoxSys {
            socket,
            queue,
            // Requests may have arrived before the subscription.
            socket_ready: true,
            readable: VecDeque::new(),
            watched: Vec::new(),
            served_in_a_row: 0,
            requests_turn: false,
        })
    }

    /// The scheme socket (to publish the scheme with, see [`super::publish`]).
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Queues `fd` as readable unless it already is.
    fn mark_readable(&mut self, fd: usize) {
        debug_assert!(self.watched.contains(&fd), "only watched fds are reported");
        if !self.readable.contains(&fd) {
            self.readable.push_back(fd);
        }
    }

    /// Reads one request from the drained-until-`EAGAIN` socket. `None` once it is empty.
    fn try_request(&mut self) -> Result<Option<Wake>> {
        match self.socket.next_request(SignalBehavior::Restart) {
            Ok(Some(req)) => Ok(Some(Wake::Request(req))),
            Ok(None) => Ok(Some(Wake::Shutdown)),
            Err(err) if err.errno == EAGAIN || err.errno == EWOULDBLOCK => {
                self.socket_ready = false;
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// Blocks until the queue reports something and records what it reported.
    fn block_on_queue(&mut self) -> Result<()> {
        let event = loop {
            match self.queue.next_event() {
                Ok(event) => break event,
                Err(err) if err.errno() == EINTR => continue,
                Err(err) => return Err(err.into()),
            }
        };
        if event.user_data == self.socket.inner().raw() {
            self.socket_ready = true;
        } else if self.watched.contains(&event.user_data) {
            self.mark_readable(event.user_data);
        }
        Ok(())
    }
}

impl Sys for RedoxSys {
    fn wait(&mut self) -> Result<Wake> {
        loop {
            if self.served_in_a_row >= REQUEST_BUDGET {
                self.served_in_a_row = 0;
                for i in 0..self.watched.len() {
                    let fd = self.watched[i];
                    self.mark_readable(fd);
                }
            }
            if self.requests_turn && self.socket_ready {
                self.requests_turn = false;
                if let Some(wake) = self.try_request()? {
                    self.served_in_a_row += 1;
                    return Ok(wake);
                }
            }
            if let Some(fd) = self.readable.pop_front() {
                self.requests_turn = true;
                return Ok(Wake::Readable(fd));
            }
            if self.socket_ready {
                if let Some(wake) = self.try_request()? {
                    self.served_in_a_row += 1;
                    return Ok(wake);
                }
            }
            self.served_in_a_row = 0;
            self.block_on_queue()?;
        }
    }

    fn respond(&mut self, resp: Response) -> Result<()> {
        if self.socket.write_response(resp, SignalBehavior::Restart)? {
            Ok(())
        } else {
            Err(Error::new(EPIPE))
        }
    }

    fn obtain_fd(&mut self, req: &SendFdRequest) -> Result<usize> {
        let mut fd = usize::MAX;
        req.obtain_fd(
            &self.socket,
            FobtainFdFlags::empty(),
            slice::from_mut(&mut fd),
        )?;
        Ok(fd)
    }

    fn fstat(&mut self, fd: usize) -> Result<Stat> {
        // The same call a client makes (relibc's `struct stat` converted to the kernel's).
        inotify_client::Os::fstat(&inotify_client::RedoxOs, fd)
    }

    fn fpath(&mut self, fd: usize, buf: &mut [u8]) -> Result<usize> {
        Ok(libredox::call::fpath(fd, buf)?)
    }

    fn dup(&mut self, fd: usize, name: &[u8]) -> Result<usize> {
        Ok(libredox::call::dup(fd, name)?)
    }

    fn read(&mut self, fd: usize, buf: &mut [u8]) -> Result<usize> {
        Ok(libredox::call::read(fd, buf)?)
    }

    fn write(&mut self, fd: usize, buf: &[u8]) -> Result<usize> {
        Ok(libredox::call::write(fd, buf)?)
    }

    fn readable_again(&mut self, fd: usize) {
        if self.watched.contains(&fd) {
            self.mark_readable(fd);
        }
    }

    fn close(&mut self, fd: usize) -> Result<()> {
        if let Some(at) = self.watched.iter().position(|&w| w == fd) {
            self.watched.swap_remove(at);
            self.readable.retain(|&r| r != fd);
            // Closing the fd drops the subscription too; this only makes it explicit.
            let _ = self.queue.unsubscribe(fd);
        }
        Ok(libredox::call::close(fd)?)
    }

    fn watch_readable(&mut self, fd: usize) -> Result<()> {
        if fd == self.socket.inner().raw() {
            return Err(Error::new(EBADF));
        }
        if !self.watched.contains(&fd) {
            self.queue.subscribe(fd, fd, EventFlags::READ)?;
            self.watched.push(fd);
        }
        // The contract: report it once at once, in case it is readable already.
        self.mark_readable(fd);
        Ok(())
    }
}
