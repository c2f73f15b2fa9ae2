//! [`RedoxSys`]: the scheme socket, an event queue, and plain syscalls.

use std::collections::VecDeque;
use std::slice;

use event::{EventFlags, EventQueue};
use inotify_abi::consts::O_CLOEXEC_REDOX as O_CLOEXEC;
use redox_scheme::{Response, SendFdRequest, SignalBehavior, Socket};
use syscall::error::ENODEV;
use syscall::error::{Error, Result, EAGAIN, EBADF, EINTR, EPIPE, EWOULDBLOCK};
use syscall::flag::{CallFlags, FobtainFdFlags, F_GETFL, F_SETFL, O_NONBLOCK, O_STAT};

use crate::sys::{Sys, SysCounts, Wake};

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
    /// Anchors opened by [`RedoxSys::open_anchors`] and not handed out yet, by name.
    anchors: Vec<(Vec<u8>, usize)>,
    /// The kernel takes the two-fd call in its newer form only (`MULTIPLE_FDS2`).
    fds2_only: bool,
    /// The last wake was a readable fd: a waiting request goes next.
    requests_turn: bool,
    /// What was asked of the kernel so far.
    counts: SysCounts,
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
            anchors: Vec::new(),
            fds2_only: false,
            requests_turn: false,
            counts: SysCounts::default(),
        })
    }

    /// Opens an anchor on each filesystem named, `/scheme/<name>` (its root, `O_STAT`), in
    /// the daemon's namespace: call it before `setrens`, since a process without a
    /// namespace can open nothing by name. A name that cannot be opened is logged and
    /// skipped (its watches fail with `EOPNOTSUPP`).
    pub fn open_anchors<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        for name in names {
            let path = format!("/scheme/{name}");
            match libredox::call::open(&path, (O_STAT | O_CLOEXEC) as i32, 0) {
                Ok(fd) => self.anchors.push((name.as_bytes().to_vec(), fd)),
                Err(e) => log::warn!("no anchor on {path}: {e}"),
            }
        }
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
            Ok(Some(req)) => {
                self.counts.requests += 1;
                Ok(Some(Wake::Request(req)))
            }
            Ok(None) => Ok(Some(Wake::Shutdown)),
            Err(err) if err.errno == EAGAIN || err.errno == EWOULDBLOCK => {
                self.counts.empty_polls += 1;
                self.socket_ready = false;
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// Blocks until the queue reports something and records what it reported.
    fn block_on_queue(&mut self) -> Result<()> {
        self.counts.blocks += 1;
        let since = crate::sys::monotonic_ns();
        let event = loop {
            match self.queue.next_event() {
                Ok(event) => break event,
                Err(err) if err.errno() == EINTR => continue,
                Err(err) => return Err(err.into()),
            }
        };
        let blocked = crate::sys::monotonic_ns().saturating_sub(since);
        self.counts.blocked_us += blocked / 1000;
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
                self.counts.readable += 1;
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
        self.counts.responses += 1;
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

    fn open_anchor(&mut self, name: &[u8]) -> Result<usize> {
        // Opened at start; after `setrens` nothing can be opened by name.
        let at = self.anchors.iter().position(|(n, _)| n == name);
        at.map(|i| self.anchors.swap_remove(i).1)
            .ok_or(Error::new(ENODEV))
    }

    fn call2(
        &mut self,
        fd_a: usize,
        fd_b: usize,
        payload: &mut [u8],
        metadata: &[u64],
    ) -> Result<usize> {
        let fds = [fd_a, fd_b];
        if !self.fds2_only {
            match call_multiple_fds(&fds, payload, metadata) {
                // A kernel that does not know the flag refuses it before any scheme sees the
                // call; EXDEV and the scheme's own answers pass through.
                Err(e) if e.errno == syscall::error::EINVAL => self.fds2_only = true,
                other => return other,
            }
        }
        syscall::call_rw(&fds[..], payload, CallFlags::empty(), metadata)
    }

    fn dup(&mut self, fd: usize, name: &[u8]) -> Result<usize> {
        Ok(libredox::call::dup(fd, name)?)
    }

    fn map_feed(&mut self, fd: usize, len: usize) -> Result<crate::sys::FeedMapping> {
        Ok(Box::new(mapping::FeedMap::new(fd, len)?))
    }

    fn read(&mut self, fd: usize, buf: &mut [u8]) -> Result<usize> {
        self.counts.reads += 1;
        Ok(libredox::call::read(fd, buf)?)
    }

    fn write(&mut self, fd: usize, buf: &[u8]) -> Result<usize> {
        Ok(libredox::call::write(fd, buf)?)
    }

    fn yield_cpu(&mut self) {
        self.counts.yields += 1;
        // Fails only on a kernel without the call; then nothing was yielded.
        let _ = syscall::sched_yield();
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

    fn counts(&self) -> Option<SysCounts> {
        Some(self.counts)
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

/// `CallFlags::MULTIPLE_FDS` of the kernel the Redox guest runs (July 2026, fbfe4394): the
/// fds are passed as an array in the first argument and its byte length in the sixth.
/// redox_syscall 0.9.5 names only the later form (`MULTIPLE_FDS2`, bit 19).
const MULTIPLE_FDS: usize = 1 << 17;

/// SYS_CALL with several fds in the July 2026 kernel's form ([`MULTIPLE_FDS`]), payload
/// read and written.
#[cfg(target_arch = "x86_64")]
fn call_multiple_fds(fds: &[usize], payload: &mut [u8], metadata: &[u64]) -> Result<usize> {
    let flags = MULTIPLE_FDS | (CallFlags::READ | CallFlags::WRITE).bits();
    let mut ret = syscall::number::SYS_CALL;
    // SAFETY: the kernel reads `fds` (fds.len() * 8 bytes) and `metadata` and reads and
    // writes `payload`, all valid for the lengths passed, for the duration of the call; the
    // registers clobbered by the `syscall` instruction and the kernel (rcx, r11, and the
    // vector registers, as redox_syscall declares them) are declared clobbered.
    unsafe {
        core::arch::asm!(
            "syscall",
            inout("rax") ret,
            in("rdi") fds.as_ptr() as usize,
            in("rsi") payload.as_mut_ptr() as usize,
            in("rdx") payload.len(),
            in("r10") metadata.len() | flags,
            in("r8") metadata.as_ptr() as usize,
            in("r9") core::mem::size_of_val(fds),
            out("rcx") _,
            out("r11") _,
            out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
            out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
            out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
            out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
            options(nostack),
        );
    }
    Error::demux(ret)
}

/// Other architectures: only the later form is tried.
#[cfg(not(target_arch = "x86_64"))]
fn call_multiple_fds(_fds: &[usize], _payload: &mut [u8], _metadata: &[u64]) -> Result<usize> {
    Err(Error::new(syscall::error::EINVAL))
}

/// The feed ring mapped into the daemon: the only place that turns mapped memory into Rust
/// values.
mod mapping {
    use core::sync::atomic::AtomicU64;

    use inotify_abi::ring::RingMemory;
    use syscall::error::{Error, Result, EINVAL};

    /// `len` bytes of a feed handle, mapped shared, read and write.
    pub(super) struct FeedMap {
        /// Start of the mapping (page aligned).
        addr: *mut (),
        /// Bytes mapped (a multiple of 8).
        len: usize,
    }

    // SAFETY: the mapping is plain memory owned by this value; it is only reached through
    // `words`, as atomics, so moving the owner to another thread is sound.
    unsafe impl Send for FeedMap {}

    impl FeedMap {
        /// Maps `len` bytes of `fd` from offset 0.
        pub(super) fn new(fd: usize, len: usize) -> Result<FeedMap> {
            if len == 0 || !len.is_multiple_of(8) {
                return Err(Error::new(EINVAL));
            }
            let args = libredox::call::MmapArgs {
                addr: core::ptr::null_mut(),
                length: len,
                prot: libredox::flag::PROT_READ | libredox::flag::PROT_WRITE,
                flags: libredox::flag::MAP_SHARED,
                fd,
                offset: 0,
            };
            // SAFETY: a new mapping at an address the kernel chooses replaces nothing.
            let addr = unsafe { libredox::call::mmap(args)? };
            Ok(FeedMap { addr, len })
        }
    }

    impl RingMemory for FeedMap {
        fn words(&self) -> &[AtomicU64] {
            // SAFETY: `addr` is page aligned (so aligned for `AtomicU64`) and `len` bytes are
            // mapped readable and writable until `drop`; any bit pattern is a valid
            // `AtomicU64`, and the filesystem writing the same memory concurrently is what
            // atomics allow (every access goes through them).
            unsafe { core::slice::from_raw_parts(self.addr as *const AtomicU64, self.len / 8) }
        }
    }

    impl Drop for FeedMap {
        fn drop(&mut self) {
            // SAFETY: the mapping was made by `new` with this length and is unmapped once;
            // no reference from `words` outlives `self`.
            let _ = unsafe { libredox::call::munmap(self.addr, self.len) };
        }
    }
}
