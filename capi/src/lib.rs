//! The C inotify API for Redox: `inotify_init`, `inotify_init1`, `inotify_add_watch` and
//! `inotify_rm_watch`, declared by `include/sys/inotify.h`.
//!
//! The work is done by the generic core ([`init1`], [`add_watch`], [`rm_watch`]): C-typed
//! arguments in, a C-typed value or an [`Error`] out, over any [`Os`]. The host tests run it
//! through the in-process kernel, inotifyd and `HostFs`, the same code paths a Redox program
//! takes. On Redox the exported C symbols ([`exports`]) wrap the core with
//! `inotify_client::RedoxOs` and turn an error into `-1` with `errno` set (relibc's
//! `__errno_location`).
//!
//! `IN_NONBLOCK` and `IN_CLOEXEC` have Redox's `O_NONBLOCK` (0x4_0000) and `O_CLOEXEC`
//! (0x100_0000) values, as relibc's `fcntl.h` defines them; every other `IN_*` value is
//! Linux's.
//!
//! On Redox the crate is `no_std` and allocation-free, so the static library holds these
//! functions and the `core` code they reach, not Rust's standard library (size:
//! docs/clients.md). On a host it keeps std, so the tests can link it.
#![cfg_attr(target_os = "redox", no_std)]
#![warn(missing_docs)]

use core::ffi::{c_int, CStr};

use inotify_client::{self as client, Os, SCHEME_PATH};
use syscall::error::{Error, Result, EBADF, EINVAL};
use syscall::flag::O_RDONLY;

pub use inotify_client::{IN_CLOEXEC, IN_NONBLOCK};

/// `inotify_init1(flags)`: a new instance fd. `EINVAL` for a flag other than
/// [`IN_NONBLOCK`] and [`IN_CLOEXEC`]; `EMFILE` at the per-user instance limit; `ENOENT`
/// when inotifyd is not running (no `/scheme/inotify`).
pub fn init1(os: &impl Os, flags: c_int) -> Result<c_int> {
    let allowed = (IN_NONBLOCK | IN_CLOEXEC) as c_int;
    if flags & !allowed != 0 {
        return Err(Error::new(EINVAL));
    }
    let fd = os.open(SCHEME_PATH, O_RDONLY | flags as u32 as usize)?;
    fd_to_c(os, fd)
}

/// `inotify_init()`: [`init1`] without flags.
pub fn init(os: &impl Os) -> Result<c_int> {
    init1(os, 0)
}

/// `inotify_add_watch(fd, path, mask)`: the watch descriptor. `EBADF` for a negative or
/// closed `fd`, `EINVAL` for a bad mask, a non-UTF-8 path (Redox paths are UTF-8) or an `fd`
/// that is not an instance, then the path's own errors (`ENOENT`, `ENOTDIR`, `EACCES`, ...),
/// `EEXIST` (`IN_MASK_CREATE`), `ENOSPC`, `EOPNOTSUPP` (a filesystem without a feed).
pub fn add_watch(os: &impl Os, fd: c_int, path: &CStr, mask: u32) -> Result<c_int> {
    let fd = fd_from_c(fd)?;
    let path = path.to_str().map_err(|_| Error::new(EINVAL))?;
    client::add_watch(os, fd, path, mask)
}

/// `inotify_rm_watch(fd, wd)`: 0, or `EBADF` (bad `fd`), `EINVAL` (`wd` is not a watch of
/// this instance, or `fd` is not an instance).
pub fn rm_watch(os: &impl Os, fd: c_int, wd: c_int) -> Result<c_int> {
    let fd = fd_from_c(fd)?;
    client::rm_watch(os, fd, wd).map(|()| 0)
}

/// `struct inotify_loss_report` (an inotifyd extension; `sys/inotify.h`): the wire layout
/// of [`inotify_abi::proto::LossReport`], field for field.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CLossReport {
    /// Events the instance's queue refused (`max_queued_events`, byte budgets).
    pub dropped: u64,
    /// Records lost by the feed of a filesystem the instance watched.
    pub feed_lost: u64,
    /// `CLOCK_MONOTONIC` ns of the first loss since the last report (0: none).
    pub first_ns: u64,
    /// `CLOCK_MONOTONIC` ns of the last loss (0: none).
    pub last_ns: u64,
    /// Entries of `wds` used.
    pub wd_count: u32,
    /// Further wds that lost events, not listed.
    pub more_wds: u32,
    /// Reserved, 0.
    pub reserved: u64,
    /// The wds that lost events, first loss first.
    pub wds: [i32; client::LOSS_WDS],
}

const _: () = assert!(core::mem::size_of::<CLossReport>() == 48 + 4 * client::LOSS_WDS);

/// `inotify_loss_report(fd, report)`: what instance `fd` lost since its last report, and
/// starts a new one (an inotifyd extension). 0, or `EBADF` (bad `fd`), `EINVAL` (`fd` is not
/// an instance).
pub fn loss_report(os: &impl Os, fd: c_int, out: &mut CLossReport) -> Result<c_int> {
    let fd = fd_from_c(fd)?;
    let r = client::loss_report(os, fd)?;
    *out = CLossReport {
        dropped: r.dropped,
        feed_lost: r.feed_lost,
        first_ns: r.first_ns,
        last_ns: r.last_ns,
        wd_count: r.wd_count,
        more_wds: r.more_wds,
        reserved: 0,
        wds: r.wds,
    };
    Ok(0)
}

/// A C fd as the kernel's: negative fds are `EBADF`.
fn fd_from_c(fd: c_int) -> Result<usize> {
    usize::try_from(fd).map_err(|_| Error::new(EBADF))
}

/// A new fd as a C int; one that does not fit is closed and reported as `EMFILE`.
fn fd_to_c(os: &impl Os, fd: usize) -> Result<c_int> {
    match c_int::try_from(fd) {
        Ok(c) => Ok(c),
        Err(_) => {
            let _ = os.close(fd);
            Err(Error::new(syscall::error::EMFILE))
        }
    }
}

/// The C calling convention for a result: the value, or `-1` with `*errno` set.
pub fn c_result(r: Result<c_int>, errno: &mut c_int) -> c_int {
    match r {
        Ok(v) => {
            debug_assert!(v >= 0, "successful results are never negative");
            v
        }
        Err(e) => {
            *errno = e.errno;
            -1
        }
    }
}

/// The exported C functions (Redox only): the core over `RedoxOs`, errors in `errno`.
///
/// Do not link this library into a program whose libc already defines these symbols (a
/// relibc with `recipes/relibc/inotify.patch` applied): the two definitions would clash.
#[cfg(target_os = "redox")]
pub mod exports {
    use core::ffi::{c_char, c_int, CStr};

    use inotify_client::RedoxOs;
    use syscall::error::{Error, EFAULT};

    extern "C" {
        /// relibc's thread-local `errno` (`src/header/errno/mod.rs`).
        fn __errno_location() -> *mut c_int;
    }

    /// Returns `r` the C way, setting `errno` on error.
    fn finish(r: syscall::error::Result<c_int>) -> c_int {
        // SAFETY: relibc returns a valid pointer to the calling thread's errno.
        let errno = unsafe { &mut *__errno_location() };
        super::c_result(r, errno)
    }

    /// `int inotify_init(void)`.
    ///
    /// # Safety
    /// Always safe to call; `unsafe` for the C ABI only.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inotify_init() -> c_int {
        finish(super::init(&RedoxOs))
    }

    /// `int inotify_init1(int flags)`.
    ///
    /// # Safety
    /// Always safe to call; `unsafe` for the C ABI only.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inotify_init1(flags: c_int) -> c_int {
        finish(super::init1(&RedoxOs, flags))
    }

    /// `int inotify_add_watch(int fd, const char *pathname, uint32_t mask)`.
    ///
    /// # Safety
    /// `pathname` is null (`EFAULT`) or points to a NUL-terminated string.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inotify_add_watch(
        fd: c_int,
        pathname: *const c_char,
        mask: u32,
    ) -> c_int {
        if pathname.is_null() {
            return finish(Err(Error::new(EFAULT)));
        }
        // SAFETY: the caller passes a NUL-terminated string.
        let path = unsafe { CStr::from_ptr(pathname) };
        finish(super::add_watch(&RedoxOs, fd, path, mask))
    }

    /// A panic ends the process (none is expected: every input is checked before use). This
    /// makes the crate a C library only on Redox: it cannot be linked into a Rust program
    /// there, which uses `inotify-client` instead.
    #[cfg(not(test))]
    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo) -> ! {
        extern "C" {
            /// relibc's `abort()`.
            fn abort() -> !;
        }
        // SAFETY: `abort` takes no arguments and does not return.
        unsafe { abort() }
    }

    /// `int inotify_loss_report(int fd, struct inotify_loss_report *report)` (an inotifyd
    /// extension).
    ///
    /// # Safety
    /// `report` is null (`EFAULT`) or points to a writable `struct inotify_loss_report`.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inotify_loss_report(
        fd: c_int,
        report: *mut super::CLossReport,
    ) -> c_int {
        if report.is_null() {
            return finish(Err(Error::new(EFAULT)));
        }
        // SAFETY: the caller passes a valid, writable report.
        let out = unsafe { &mut *report };
        finish(super::loss_report(&RedoxOs, fd, out))
    }

    /// `int inotify_rm_watch(int fd, int wd)`.
    ///
    /// # Safety
    /// Always safe to call; `unsafe` for the C ABI only.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inotify_rm_watch(fd: c_int, wd: c_int) -> c_int {
        finish(super::rm_watch(&RedoxOs, fd, wd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_relibc_fcntl_values() {
        // relibc src/header/fcntl/redox.rs: O_NONBLOCK 0x0004_0000, O_CLOEXEC 0x0100_0000.
        assert_eq!(IN_NONBLOCK, 0x0004_0000);
        assert_eq!(IN_CLOEXEC, 0x0100_0000);
    }

    #[test]
    fn c_result_sets_errno_only_on_error() {
        let mut errno = 0;
        assert_eq!(c_result(Ok(5), &mut errno), 5);
        assert_eq!(errno, 0);
        assert_eq!(c_result(Err(Error::new(EINVAL)), &mut errno), -1);
        assert_eq!(errno, EINVAL);
    }

    #[test]
    fn negative_fds_are_ebadf() {
        assert_eq!(fd_from_c(-1).unwrap_err().errno, EBADF);
        assert_eq!(fd_from_c(3), Ok(3));
    }
}
