//! Redox only: the thin layer between the daemon and the Redox kernel.
//!
//! - [`RedoxSys`] implements [`crate::sys::Sys`] with the scheme socket, one event queue and
//!   plain syscalls. Everything above it (scheme, engine, feed consumer) is the code the host
//!   tests run.
//! - [`publish`] makes the scheme reachable: it hands the scheme's capability fd to init over
//!   `INIT_NOTIFY` (service `type = { scheme = "inotify" }`), or registers the name itself
//!   when started by hand.
//! - [`install_logger`] sets up the daemon's logging.
//!
//! Nothing here is exercised by the host tests: it is compile-checked for
//! `x86_64-unknown-redox` (`make check-redox`). Keep it free of logic that a test would need
//! to see.

mod service;
mod sys;

pub use service::{install_logger, publish, Publication, INIT_NOTIFY_ENV, SCHEME_NAME};
pub use sys::RedoxSys;
