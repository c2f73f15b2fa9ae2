//! The host rig (host only): an in-process emulation of the Redox kernel's scheme IPC, so the
//! real scheme code (redox-scheme's `Request`/`Response`/`handle_sync`) runs in host tests,
//! the demo, the conformance run and the benchmarks. Nothing here is part of the daemon.
//!
//! - [`Kernel`]: the scheme registry; [`Kernel::process`] makes a [`Process`] (an fd table
//!   with credentials, implementing [`inotify_client::Os`]); [`Kernel::register`] gives a
//!   scheme daemon its [`HostSocket`].
//! - [`HostSys`]: the daemon's [`inotifyd::sys::Sys`] over a socket.
//! - [`EventQueue`]: readiness of fds, like a Redox event queue.
//! - [`spawn_scheme_thread`]: serve a `SchemeSync` on a thread.
//! - [`fakefs`]: a scripted filesystem scheme with a feed, for scheme-level tests.
//! - [`hostfs`]: a `file`-like scheme over a host directory, reporting feed facts.
//! - [`harness`]: inotifyd on a thread of a kernel, and a served temporary directory.
//! - [`subtree_load`]: a seeded subtree workload and the events a subtree watch must report.
//! - [`interposed`]: the interposer in front of a scheme, in a [`Namespace`].
//!
//! See `docs/host-harness.md` for what is and is not emulated, and the ordering guarantees.

#![warn(missing_docs)]

pub mod fakefs;
pub mod harness;
mod hostsys;
pub mod interposed;
pub mod kernel;
mod runner;
pub mod subtree_load;

pub use hostsys::HostSys;
pub use kernel::{
    split_path, EventQueue, FeventPoster, HostSocket, Interrupt, Kernel, Namespace, Process,
    Responder, SchemeMemory, SharedPages, FD_CLOEXEC, O_CLOEXEC, O_PATH,
};
pub use runner::{dispatch_sync, spawn_request_loop, spawn_scheme_thread, SchemeThread};

/// The host filesystem: a `file`-like scheme over a host directory that reports feed facts.
pub mod hostfs;
