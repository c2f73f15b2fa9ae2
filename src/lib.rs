//! inotifyd: inotify for Redox OS, as a scheme daemon.
//!
//! Layers (each may depend only on those listed before it):
//!
//! | folder / module      | what it is                                                        |
//! |----------------------|-------------------------------------------------------------------|
//! | `abi/` (crate)       | IN_* constants, event records, call payloads, feed records        |
//! | `engine/` (crate)    | pure inotify semantics: instances, watches, queues, fact -> event |
//! | `feed/` (crate)      | the producer linked into filesystem daemons                       |
//! | [`sys`]              | the [`sys::Sys`] trait: what the daemon needs from the OS         |
//! | [`feed`]             | the consumer: finds, pulls and validates filesystem feeds         |
//! | [`scheme`]           | the `SchemeSync` implementation of `/scheme/inotify`              |
//! | [`daemon`]           | the request loop pieces shared by Redox and host                  |
//! | [`client`]           | the Rust client API, over any [`client::Os`]                      |
//! | [`redox`]            | Redox only: the scheme socket, event queue and syscalls           |
//! | [`host`]             | host only: an in-process kernel, the host filesystem, the harness |
#![warn(missing_docs)]

pub mod daemon;
pub mod feed;
pub mod scheme;
pub mod sys;

#[cfg(target_os = "redox")]
pub mod redox;
