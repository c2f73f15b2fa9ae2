//! The Rust client API: `inotify_init1`, `inotify_add_watch`, `inotify_rm_watch` and typed
//! event reads, over any [`Os`] (`RedoxOs` on Redox, or a process of the host kernel). It
//! depends on `inotify-abi` only (and libredox on Redox); see `docs/design.md` and
//! `docs/clients.md`.
//!
//! ```text
//! let ino = Inotify::init1(os, IN_NONBLOCK)?;          // open("/scheme/inotify")
//! let wd = ino.add_watch("/home/user", IN_CREATE)?;     // open(O_PATH) + sendfd + call
//! for ev in ino.read_events(&mut [0u8; 4096])? { println!("{}", format::event("home/", &ev)); }
//! ```
//!
//! Flags are Redox's: [`IN_NONBLOCK`] is Redox's `O_NONBLOCK` and [`IN_CLOEXEC`] Redox's
//! `O_CLOEXEC`, as `sys/inotify.h` defines them on Redox (Linux's values are
//! `inotify_abi::consts::IN_NONBLOCK_LINUX` and `IN_CLOEXEC_LINUX`).

//!
//! `no_std`: the calls need only `core`. The `alloc` feature adds [`OwnedEvent`],
//! [`Inotify::read_events`] and [`format`]; the `std` feature (on by default, with `alloc`)
//! adds [`Inotify::read_events_timeout`]. The C library leaves both off.
#![no_std]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "alloc")]
pub mod format;
#[cfg(target_os = "redox")]
mod redox;

#[cfg(target_os = "redox")]
pub use redox::RedoxOs;

use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;
#[cfg(feature = "std")]
use std::time::Instant;

#[cfg(feature = "alloc")]
use alloc::{borrow::Cow, string::String, vec::Vec};

pub use inotify_abi::consts::IN_SUBTREE;
use inotify_abi::consts::{add_watch_mask_is_valid, IN_DONT_FOLLOW};
#[cfg(feature = "alloc")]
use inotify_abi::event::Events;
use inotify_abi::proto::{AddWatchArg, CallRepr, LOSS_REPORT_LEN, MAX_WATCH_PATH};
pub use inotify_abi::proto::{LossReport, WatchInfo, LOSS_WDS};
use syscall::error::{Error, Result, EBADF, EINVAL, EOPNOTSUPP};
use syscall::flag::{F_GETFL, F_SETFL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_STAT};
use syscall::Stat;

/// The system calls a client makes. Flags and errno values are Redox's (`syscall::flag`,
/// `syscall::error`).
pub trait Os {
    /// `open(path, flags)`; `path` is `/scheme/<name>/<rest>`, `<name>:<rest>` or an absolute
    /// path (the `file` scheme).
    fn open(&self, path: &str, flags: usize) -> Result<usize>;
    /// `read`; blocks unless the description is non-blocking.
    fn read(&self, fd: usize, buf: &mut [u8]) -> Result<usize>;
    /// `close`.
    fn close(&self, fd: usize) -> Result<()>;
    /// `fcntl(fd, cmd, arg)`.
    fn fcntl(&self, fd: usize, cmd: usize, arg: usize) -> Result<usize>;
    /// `fstat`.
    fn fstat(&self, fd: usize) -> Result<Stat>;
    /// Moves `fd` to the scheme behind `target` with `sendfd`, with one argument word.
    fn sendfd(&self, target: usize, fd: usize, arg: u64) -> Result<()>;
    /// `call(fd, payload, metadata)` (SYS_CALL, read-write payload).
    fn call(&self, fd: usize, payload: &mut [u8], metadata: &[u64]) -> Result<usize>;
    /// Blocks until `fd` is readable (true) or `timeout` passes (false; `None`: no limit),
    /// without polling: an event queue subscription, plus a timer when there is a timeout.
    fn wait_readable(&self, fd: usize, timeout: Option<Duration>) -> Result<bool>;
}

impl<T: Os + ?Sized> Os for &T {
    fn open(&self, path: &str, flags: usize) -> Result<usize> {
        (**self).open(path, flags)
    }
    fn read(&self, fd: usize, buf: &mut [u8]) -> Result<usize> {
        (**self).read(fd, buf)
    }
    fn close(&self, fd: usize) -> Result<()> {
        (**self).close(fd)
    }
    fn fcntl(&self, fd: usize, cmd: usize, arg: usize) -> Result<usize> {
        (**self).fcntl(fd, cmd, arg)
    }
    fn fstat(&self, fd: usize) -> Result<Stat> {
        (**self).fstat(fd)
    }
    fn sendfd(&self, target: usize, fd: usize, arg: u64) -> Result<()> {
        (**self).sendfd(target, fd, arg)
    }
    fn call(&self, fd: usize, payload: &mut [u8], metadata: &[u64]) -> Result<usize> {
        (**self).call(fd, payload, metadata)
    }
    fn wait_readable(&self, fd: usize, timeout: Option<Duration>) -> Result<bool> {
        (**self).wait_readable(fd, timeout)
    }
}

pub use inotify_abi::consts::O_CLOEXEC_REDOX as O_CLOEXEC;
pub use inotify_abi::proto::SCHEME_PATH;
/// Redox's `O_PATH`: open for identification only (`O_STAT`; no read permission needed).
pub const O_PATH: usize = O_STAT;

/// `inotify_init1` flag: the instance is non-blocking (Redox's `O_NONBLOCK`, 0x4_0000).
pub const IN_NONBLOCK: u32 = O_NONBLOCK as u32;
/// `inotify_init1` flag: close the instance on exec (Redox's `O_CLOEXEC`, 0x100_0000).
pub const IN_CLOEXEC: u32 = O_CLOEXEC as u32;

/// Tokens naming add_watch requests; unique in the process, so concurrent add_watch calls on
/// one instance from several threads cannot collect each other's results.
static NEXT_TOKEN: AtomicU32 = AtomicU32::new(1);

/// One event, owning its name.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedEvent {
    /// Watch descriptor (-1 for `IN_Q_OVERFLOW`).
    pub wd: i32,
    /// `IN_*` bits.
    pub mask: u32,
    /// Rename cookie (0 unless a move).
    pub cookie: u32,
    /// The child's name, empty when the event is about the watched object itself.
    pub name: Vec<u8>,
}

#[cfg(feature = "alloc")]
impl OwnedEvent {
    /// The name as text (lossy).
    pub fn name_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }
}

/// The largest [`WatchInfo`] record (two names of `u16::MAX` bytes).
#[cfg(feature = "alloc")]
const LARGEST_WATCH_INFO: usize = inotify_abi::proto::WATCH_INFO_HEADER_LEN + 2 * 65535 + 8;

/// One watch of an instance, as [`Inotify::watches`] lists it.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// The wd.
    pub wd: i32,
    /// Its mask: events, `IN_ONESHOT`, `IN_EXCL_UNLINK`, `IN_SUBTREE`.
    pub mask: u32,
    /// The watched inode's number.
    pub ino: u64,
    /// The filesystem's scheme name (`file` for the root filesystem).
    pub fs: Vec<u8>,
    /// The path given to the add_watch that created the watch, as given (not resolved).
    pub path: Vec<u8>,
}

/// An inotify instance. Closed on drop.
pub struct Inotify<O: Os> {
    /// The system calls.
    os: O,
    /// The instance fd.
    fd: usize,
}

impl<O: Os> Inotify<O> {
    /// `inotify_init1(flags)`: `flags` may hold [`IN_NONBLOCK`] and [`IN_CLOEXEC`]; any other
    /// bit is `EINVAL`. `EMFILE` at the per-user instance limit.
    pub fn init1(os: O, flags: u32) -> Result<Self> {
        if flags & !(IN_NONBLOCK | IN_CLOEXEC) != 0 {
            return Err(Error::new(EINVAL));
        }
        let fd = os.open(SCHEME_PATH, O_RDONLY | flags as usize)?;
        Ok(Inotify { os, fd })
    }

    /// `inotify_init()`: a blocking instance.
    pub fn init(os: O) -> Result<Self> {
        Self::init1(os, 0)
    }

    /// Wraps an already open instance fd (closed on drop).
    pub fn from_raw_fd(os: O, fd: usize) -> Self {
        Inotify { os, fd }
    }

    /// `inotify_add_watch(path, mask)`: the wd, or `EINVAL`, a path error (`ENOENT`,
    /// `ENOTDIR`, `ELOOP`, ...), `EACCES`, `ENOTDIR` (`IN_ONLYDIR`), `EEXIST`
    /// (`IN_MASK_CREATE`), `ENOSPC`, or `EOPNOTSUPP` on a filesystem without a feed.
    pub fn add_watch(&self, path: &str, mask: u32) -> Result<i32> {
        add_watch(&self.os, self.fd, path, mask)
    }

    /// A subtree watch (an inotifyd extension): `add_watch(path, mask | IN_SUBTREE)`. One wd
    /// covers the directory and every directory below it, now and later; events below it
    /// carry the path relative to it (`a/b/f`, up to 4095 bytes: read with a buffer of at
    /// least 16 + 4096 bytes). `ENOTDIR` for a non-directory, `ENOSPC` when the covered
    /// directories would pass `max_user_watches`, `EOPNOTSUPP` on a filesystem without
    /// subtree support. See docs/semantics.md, "Beyond Linux".
    pub fn add_subtree_watch(&self, path: &str, mask: u32) -> Result<i32> {
        add_watch(&self.os, self.fd, path, mask | IN_SUBTREE)
    }

    /// `inotify_rm_watch(wd)`: `EINVAL` when `wd` is not a watch of this instance.
    pub fn rm_watch(&self, wd: i32) -> Result<()> {
        rm_watch(&self.os, self.fd, wd)
    }

    /// Reads whole records into `buf` and returns the bytes read; iterate them with
    /// [`Events::new`](inotify_abi::event::Events::new). `EINVAL` when the first record does
    /// not fit, `EAGAIN` when non-blocking and empty, `EINTR` when interrupted.
    pub fn read_raw(&self, buf: &mut [u8]) -> Result<usize> {
        self.os.read(self.fd, buf)
    }

    /// Reads into `buf` and returns the events read.
    #[cfg(feature = "alloc")]
    pub fn read_events(&self, buf: &mut [u8]) -> Result<Vec<OwnedEvent>> {
        let n = self.read_raw(buf)?;
        Ok(Events::new(&buf[..n])
            .map(|e| OwnedEvent {
                wd: e.wd,
                mask: e.mask,
                cookie: e.cookie,
                name: e.name.to_vec(),
            })
            .collect())
    }

    /// Waits for events without polling: `Ok(None)` when `timeout` passes first, otherwise
    /// reads into `buf` and returns the events. Without a timeout this is one blocking read
    /// on a blocking instance (a non-blocking one is waited for as below). With one, the
    /// instance is watched for readability with an event queue and a timer ([`Os::wait_readable`]) and then read; make the instance
    /// non-blocking ([`IN_NONBLOCK`]) so that a reader on another fd of the same instance
    /// that empties it first cannot make that read block.
    #[cfg(feature = "std")]
    pub fn read_events_timeout(
        &self,
        buf: &mut [u8],
        timeout: Option<Duration>,
    ) -> Result<Option<Vec<OwnedEvent>>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        if deadline.is_none() {
            match self.read_events(buf) {
                Err(e) if e.errno == syscall::error::EAGAIN => {}
                other => return other.map(Some),
            }
        }
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if !self.os.wait_readable(self.fd, left)? {
                return Ok(None);
            }
            match self.read_events(buf) {
                // Another reader took the events first: wait for the rest of the time.
                Err(e) if e.errno == syscall::error::EAGAIN => continue,
                other => return other.map(Some),
            }
        }
    }

    /// Bytes queued (`FIONREAD`).
    pub fn queued_bytes(&self) -> Result<usize> {
        let mut payload = [];
        self.os
            .call(self.fd, &mut payload, &CallRepr::QueuedBytes.emit())
    }

    /// What this instance lost since the last report, and starts a new report (an inotifyd
    /// extension; Linux has only `IN_Q_OVERFLOW`): events its queue refused
    /// (`max_queued_events` or a byte budget), records lost by the feed of a filesystem it
    /// watches, the `CLOCK_MONOTONIC` time of the first and last loss, and the wds that lost
    /// events (the first [`LOSS_WDS`], and a count of the others). `IN_Q_OVERFLOW` records
    /// are unchanged.
    pub fn loss_report(&self) -> Result<LossReport> {
        loss_report(&self.os, self.fd)
    }

    /// This instance's watches in wd order (an inotifyd extension; Linux shows them only in
    /// `/proc/PID/fdinfo`): wd, mask, filesystem, inode and the path given to add_watch.
    #[cfg(feature = "alloc")]
    pub fn watches(&self) -> Result<Vec<Watch>> {
        let mut out = Vec::new();
        let mut buf = alloc::vec![0u8; 8192];
        let mut from = i32::MIN;
        loop {
            let n = match list_watches_raw(&self.os, self.fd, from, &mut buf) {
                Ok(n) => n,
                // One record longer than the buffer: grow to the largest a record can be.
                Err(e) if e.errno == EINVAL && buf.len() < LARGEST_WATCH_INFO => {
                    buf.resize(LARGEST_WATCH_INFO, 0);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(out);
            }
            let mut at = 0;
            while at < n {
                let (w, len) = WatchInfo::parse(&buf[at..n]).map_err(|_| Error::new(EINVAL))?;
                out.push(Watch {
                    wd: w.wd,
                    mask: w.mask,
                    ino: w.ino,
                    fs: w.fs.to_vec(),
                    path: w.path.to_vec(),
                });
                at += len;
            }
            match out.last().map(|w| w.wd) {
                Some(i32::MAX) | None => return Ok(out),
                Some(last) => from = last + 1,
            }
        }
    }

    /// Sets or clears `O_NONBLOCK` on the description.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        let flags = self.os.fcntl(self.fd, F_GETFL, 0)?;
        let flags = if nonblocking {
            flags | O_NONBLOCK
        } else {
            flags & !O_NONBLOCK
        };
        self.os.fcntl(self.fd, F_SETFL, flags).map(|_| ())
    }

    /// The instance fd.
    pub fn raw_fd(&self) -> usize {
        self.fd
    }

    /// The system calls this instance uses.
    pub fn os(&self) -> &O {
        &self.os
    }
}

impl<O: Os> Drop for Inotify<O> {
    fn drop(&mut self) {
        let _ = self.os.close(self.fd);
    }
}

/// `inotify_add_watch` on any fd (the C ABI uses this): see [`Inotify::add_watch`].
/// `EINVAL` when `fd` is not an inotify instance, `EBADF` when it is not open.
pub fn add_watch(os: &impl Os, fd: usize, path: &str, mask: u32) -> Result<i32> {
    // Linux checks the mask before the path: a bad mask is EINVAL even for a missing path.
    if !add_watch_mask_is_valid(mask) {
        return Err(Error::new(EINVAL));
    }
    let mut flags = O_PATH | O_CLOEXEC;
    if mask & IN_DONT_FOLLOW != 0 {
        flags |= O_NOFOLLOW;
    }
    let target = match os.open(path, flags) {
        Ok(t) => t,
        Err(e) => {
            // Linux looks at the inotify fd before the path: a closed fd is EBADF even when
            // the path is bad too. (Only on this error path: it costs an fstat.)
            if let Err(bad) = os.fstat(fd) {
                if bad.errno == EBADF {
                    return Err(bad);
                }
            }
            return Err(e);
        }
    };
    let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
    let arg = AddWatchArg { mask, token };
    if let Err(e) = os.sendfd(fd, target, arg.emit()) {
        // EBADF: `fd` is not open and nothing moved, so the path fd is still ours. On any
        // other error the path fd has left this process already (the kernel moves it before
        // the scheme answers, and closes it if the scheme does not take it).
        if e.errno == EBADF {
            let _ = os.close(target);
        }
        // A scheme that takes no fds is not an inotify instance.
        return Err(if e.errno == EOPNOTSUPP {
            Error::new(EINVAL)
        } else {
            e
        });
    }
    // The path goes with the call that collects the wd, so the daemon can list the watch
    // with it (a path too long to send cannot have been opened).
    let mut path_buf = [0u8; MAX_WATCH_PATH];
    let wd = match path_buf.get_mut(..path.len()) {
        Some(p) if !p.is_empty() => {
            p.copy_from_slice(path.as_bytes());
            os.call(fd, p, &CallRepr::TakeResultPath { token }.emit())?
        }
        _ => os.call(fd, &mut [], &CallRepr::TakeResult { token }.emit())?,
    };
    i32::try_from(wd).map_err(|_| Error::new(EINVAL))
}

/// The loss report of instance `fd` (an inotifyd extension): see [`Inotify::loss_report`].
pub fn loss_report(os: &impl Os, fd: usize) -> Result<LossReport> {
    let mut buf = [0u8; LOSS_REPORT_LEN];
    let n = os.call(fd, &mut buf, &CallRepr::LossReport.emit())?;
    if n != LOSS_REPORT_LEN {
        return Err(Error::new(EINVAL));
    }
    LossReport::parse(&buf).map_err(|_| Error::new(EINVAL))
}

/// Lists the watches of instance `fd` with `wd >= from_wd` into `buf` as [`WatchInfo`]
/// records (an inotifyd extension); returns the bytes written, 0 when there are no more.
/// `EINVAL` when the first record does not fit. Iterate with [`WatchInfo::parse`]; the next
/// page starts at the last wd plus one.
pub fn list_watches_raw(os: &impl Os, fd: usize, from_wd: i32, buf: &mut [u8]) -> Result<usize> {
    os.call(fd, buf, &CallRepr::ListWatches { from_wd }.emit())
}

/// `inotify_rm_watch` on any fd: see [`Inotify::rm_watch`].
pub fn rm_watch(os: &impl Os, fd: usize, wd: i32) -> Result<()> {
    let mut payload = [];
    os.call(fd, &mut payload, &CallRepr::RmWatch { wd }.emit())
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_flags_are_redox_values() {
        assert_eq!(IN_NONBLOCK, 0x4_0000);
        assert_eq!(IN_CLOEXEC, 0x100_0000);
    }
}
