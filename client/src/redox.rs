//! [`RedoxOs`]: the client's system calls, made with libredox.

use core::time::Duration;

use event::{EventFlags, EventQueue};
use syscall::error::{Error, Result, EINVAL};
use syscall::flag::{CallFlags, CLOCK_MONOTONIC, O_RDWR};
use syscall::{Stat, TimeSpec};

use crate::{Os, O_CLOEXEC};

/// The calling process's own system calls on Redox.
#[derive(Debug, Default, Clone, Copy)]
pub struct RedoxOs;

impl Os for RedoxOs {
    fn open(&self, path: &str, flags: usize) -> Result<usize> {
        // relibc's O_* values are the kernel's, so the flags pass through unchanged.
        Ok(libredox::call::open(path, flags as i32, 0)?)
    }

    fn read(&self, fd: usize, buf: &mut [u8]) -> Result<usize> {
        Ok(libredox::call::read(fd, buf)?)
    }

    fn close(&self, fd: usize) -> Result<()> {
        Ok(libredox::call::close(fd)?)
    }

    fn fcntl(&self, fd: usize, cmd: usize, arg: usize) -> Result<usize> {
        Ok(libredox::call::fcntl(fd, cmd, arg)?)
    }

    fn fstat(&self, fd: usize) -> Result<Stat> {
        let st = libredox::call::fstat(fd)?;
        Ok(stat_from_libc(&st))
    }

    /// Moves `fd` (it leaves the caller's table) to the scheme behind `target`.
    fn sendfd(&self, target: usize, fd: usize, arg: u64) -> Result<()> {
        libredox::call::call_wo(target, &fd.to_ne_bytes(), CallFlags::FD, &[arg])?;
        Ok(())
    }

    fn call(&self, fd: usize, payload: &mut [u8], metadata: &[u64]) -> Result<usize> {
        Ok(libredox::call::call_rw(
            fd,
            payload,
            CallFlags::empty(),
            metadata,
        )?)
    }

    /// An event queue subscribed to `fd` and, with a timeout, to a timer of the `time`
    /// scheme (`/scheme/time/CLOCK_MONOTONIC`: reading gives the time now, writing a time
    /// arms it, and it posts `EVENT_READ` once that time has passed); then one blocking read
    /// of the queue.
    fn wait_readable(&self, fd: usize, timeout: Option<Duration>) -> Result<bool> {
        let queue = EventQueue::<usize>::new()?;
        queue.subscribe(fd, fd, EventFlags::READ)?;
        // The timer is subscribed before it is set: the time scheme reports a timer only
        // when it fires (its `fevent` never says "already fired"), so a timer that fired
        // before the subscription would be lost and the wait would never end.
        let timer = match timeout {
            Some(t) => {
                let timer = Timer::open()?;
                queue.subscribe(timer.fd, timer.fd, EventFlags::READ)?;
                timer.set(t)?;
                Some(timer)
            }
            None => None,
        };
        loop {
            let ev = queue.next_event()?;
            if ev.user_data == fd {
                return Ok(true);
            }
            if timer.as_ref().is_some_and(|t| t.fd == ev.user_data) {
                return Ok(false);
            }
        }
    }
}

/// The `time` scheme's monotonic clock (its path names the clock by number).
const MONOTONIC_TIMER: &str = "/scheme/time/4";
const _: () = assert!(CLOCK_MONOTONIC == 4);

/// A one-shot timer of the `time` scheme, closed on drop.
struct Timer {
    /// The timer fd.
    fd: usize,
}

impl Timer {
    /// A timer that is not set yet.
    fn open() -> Result<Timer> {
        Ok(Timer {
            fd: libredox::call::open(MONOTONIC_TIMER, (O_RDWR | O_CLOEXEC) as i32, 0)?,
        })
    }

    /// Sets the timer to fire `after` from now.
    fn set(&self, after: Duration) -> Result<()> {
        let mut now = TimeSpec::default();
        let n = libredox::call::read(self.fd, &mut now)?;
        if n != core::mem::size_of::<TimeSpec>() {
            return Err(Error::new(EINVAL));
        }
        let nanos = i128::from(now.tv_nsec) + after.subsec_nanos() as i128;
        let secs =
            now.tv_sec.saturating_add(after.as_secs() as i64) + (nanos / 1_000_000_000) as i64;
        let deadline = TimeSpec {
            tv_sec: secs,
            tv_nsec: (nanos % 1_000_000_000) as i32,
        };
        libredox::call::write(self.fd, &deadline)?;
        Ok(())
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        let _ = libredox::call::close(self.fd);
    }
}

/// Converts relibc's `struct stat` (what libredox returns) into the kernel's [`Stat`], the
/// form the client API works with.
// The libc field types differ between libc releases (and some already match), so every
// field is cast.
#[allow(clippy::unnecessary_cast)]
fn stat_from_libc(st: &libredox::data::Stat) -> Stat {
    Stat {
        st_dev: st.st_dev as u64,
        st_ino: st.st_ino as u64,
        st_mode: st.st_mode as u16,
        st_nlink: st.st_nlink as u32,
        st_uid: st.st_uid as u32,
        st_gid: st.st_gid as u32,
        st_size: st.st_size as u64,
        st_blksize: st.st_blksize as u32,
        st_blocks: st.st_blocks as u64,
        st_mtime: st.st_mtime as u64,
        st_mtime_nsec: st.st_mtime_nsec as u32,
        st_atime: st.st_atime as u64,
        st_atime_nsec: st.st_atime_nsec as u32,
        st_ctime: st.st_ctime as u64,
        st_ctime_nsec: st.st_ctime_nsec as u32,
    }
}
