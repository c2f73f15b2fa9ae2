//! Redox only: the thin layer between the daemon and the Redox kernel.
//!
//! - [`RedoxSys`] implements [`crate::sys::Sys`] with the scheme socket, one event queue and
//!   plain syscalls. Everything above it (scheme, engine, feed consumer) is the code the host
//!   tests run.
//! - [`RedoxOs`] implements [`crate::client::Os`] with libredox calls, for programs that use
//!   the Rust client API on Redox.
//! - [`publish`] makes the scheme reachable: it hands the scheme's capability fd to init over
//!   `INIT_NOTIFY` (service `type = { scheme = "inotify" }`), or registers the name itself
//!   when started by hand.
//! - [`StderrLog`] is the daemon's logger.
//!
//! Nothing here is exercised by the host tests: it is compile-checked for
//! `x86_64-unknown-redox` (`make check-redox`). Keep it free of logic that a test would need
//! to see.

mod os;
mod service;
mod sys;

pub use os::RedoxOs;
pub use service::{publish, Publication, StderrLog, INIT_NOTIFY_ENV, SCHEME_NAME};
pub use sys::RedoxSys;

use syscall::Stat;

/// Converts relibc's `struct stat` (what libredox returns) into the kernel's [`Stat`], the
/// form the daemon and the client API work with.
// The libc field types differ between libc releases (and some already match), so every
// field is cast.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn stat_from_libc(st: &libredox::data::Stat) -> Stat {
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
