//! What the daemon needs from the operating system.
//!
//! On Redox this is the scheme socket, an event queue and plain syscalls
//! (`crate::redox::RedoxSys`); on a host it is the in-process kernel of `crate::host`, which
//! carries the very same `Request`/`Response` values, so everything above this trait runs
//! unchanged in host tests.

use inotify_abi::ring::RingMemory;
use redox_scheme::{Request, Response, SendFdRequest};
use syscall::error::{Error, Result, EOPNOTSUPP};

/// A feed mapped into the daemon ([`Sys::map_feed`]): memory the filesystem shares, as
/// atomic words; unmapped when dropped.
pub type FeedMapping = Box<dyn RingMemory + Send>;

/// Why [`Sys::wait`] returned.
pub enum Wake {
    /// A request for the inotify scheme arrived.
    Request(Request),
    /// An fd registered with [`Sys::watch_readable`] became readable (a feed has facts).
    Readable(usize),
    /// The scheme socket was closed: the daemon should exit.
    Shutdown,
}

/// What the daemon asked of the operating system since it started, for the status view
/// (docs/protocols.md, "Status"): the conversation per event, counted by the `Sys`
/// (`RedoxSys` on Redox, `HostSys` in the host rig).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SysCounts {
    /// Requests taken from the scheme socket.
    pub requests: u64,
    /// [`Wake::Readable`] returned (feed turns).
    pub readable: u64,
    /// Responses and readiness posts written to the scheme socket.
    pub responses: u64,
    /// Reads of the daemon's own fds (feed reads), `EAGAIN` included.
    pub reads: u64,
    /// Times the daemon blocked waiting for readiness (event queue reads).
    pub blocks: u64,
    /// Reads of the scheme socket that found it empty.
    pub empty_polls: u64,
    /// Times the daemon let other threads run first ([`Sys::yield_cpu`]).
    pub yields: u64,
    /// Microseconds spent blocked waiting for readiness.
    pub blocked_us: u64,
    /// Pulls from feed rings (copies out of shared memory, no system call); counted by the
    /// daemon's feed consumer, not by the `Sys`.
    pub ring_pulls: u64,
}

/// The daemon's view of the operating system. Fds are the daemon's own file descriptors.
///
/// The daemon asks nothing of a client's fd except through [`Sys::call2`] with one of its own
/// anchors: every question that reaches a scheme goes to a filesystem the daemon opened
/// itself (see "Trust" in `docs/design.md`).
pub trait Sys {
    /// Blocks until a request or a readiness notice arrives.
    fn wait(&mut self) -> Result<Wake>;
    /// Sends a response to a request, or a readiness post (`Response::post_fevent`).
    fn respond(&mut self, resp: Response) -> Result<()>;
    /// Takes the one fd a client passed with `sendfd` into the daemon's table.
    fn obtain_fd(&mut self, req: &SendFdRequest) -> Result<usize>;
    /// The daemon's anchor on filesystem `name`: an fd on that filesystem's root, opened in
    /// the daemon's own namespace (on Redox at start, before the daemon drops its namespace;
    /// each anchor is handed out once). The caller owns it.
    fn open_anchor(&mut self, name: &[u8]) -> Result<usize>;
    /// `call([fd_a, fd_b], payload, metadata)`: one call to the scheme behind `fd_a` that
    /// also names `fd_b`'s handle. The kernel refuses it with `EXDEV`, before any scheme sees
    /// it, when the two fds are on different schemes. At most two metadata words arrive.
    fn call2(
        &mut self,
        fd_a: usize,
        fd_b: usize,
        payload: &mut [u8],
        metadata: &[u64],
    ) -> Result<usize>;
    /// `dup(fd, name)`: opens a named sub-handle (used to open a filesystem's feed on an
    /// anchor).
    fn dup(&mut self, fd: usize, name: &[u8]) -> Result<usize>;
    /// `mmap(fd, len)`, shared, read and write: the feed ring of a feed handle
    /// (`docs/protocols.md`, "The feed ring"). `EOPNOTSUPP` where memory cannot be shared
    /// (the daemon then reads the feed).
    fn map_feed(&mut self, fd: usize, len: usize) -> Result<FeedMapping> {
        let _ = (fd, len);
        Err(Error::new(EOPNOTSUPP))
    }
    /// Non-blocking `read`; `EAGAIN` when nothing is there.
    fn read(&mut self, fd: usize, buf: &mut [u8]) -> Result<usize>;
    /// `write`.
    fn write(&mut self, fd: usize, buf: &[u8]) -> Result<usize>;
    /// `close`.
    fn close(&mut self, fd: usize) -> Result<()>;
    /// Lets other runnable threads run before the daemon goes on (`sched_yield`); returns
    /// at once when none is runnable.
    fn yield_cpu(&mut self);
    /// From now on, report [`Wake::Readable`] for `fd` each time it becomes readable
    /// (and once at once if it is readable now).
    fn watch_readable(&mut self, fd: usize) -> Result<()>;
    /// Reports [`Wake::Readable`] for `fd` (a watched fd) once more, after the requests that
    /// are already waiting: the daemon left data in it to keep its turn short.
    fn readable_again(&mut self, fd: usize);
    /// What was asked of the system so far, where the system counts it.
    fn counts(&self) -> Option<SysCounts> {
        None
    }
}

/// The clock loss reports are stamped with, in nanoseconds: `CLOCK_MONOTONIC` on Redox
/// (comparable with a client's `clock_gettime(CLOCK_MONOTONIC)`); elsewhere (the host rig)
/// nanoseconds since the daemon's first reading, plus one, so a stamp is never 0.
pub fn monotonic_ns() -> u64 {
    #[cfg(target_os = "redox")]
    {
        match libredox::call::clock_gettime(syscall::flag::CLOCK_MONOTONIC as i32) {
            Ok(t) => (t.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(t.tv_nsec as u64),
            Err(_) => 0,
        }
    }
    #[cfg(not(target_os = "redox"))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        let start = *START.get_or_init(Instant::now);
        u64::try_from(start.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }
}
