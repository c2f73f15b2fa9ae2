//! inotifyd: inotify for Redox OS, as a scheme daemon serving `/scheme/inotify`.
//!
//! This crate is the daemon only; the layers, the other crates (abi, engine, feed, client,
//! capi, tools, the host rig) and the request flow are described in `docs/design.md`.
//!
//! - [`sys`]: the [`sys::Sys`] trait, what the daemon needs from the OS
//! - [`feed`]: the consumer that finds, pulls and validates filesystem feeds
//! - [`scheme`]: the `SchemeSync` implementation of `/scheme/inotify`
//! - [`daemon`]: the request loop
//! - `redox` (Redox only): the scheme socket, event queue, syscalls and start-up
#![warn(missing_docs)]

pub mod daemon;
pub mod feed;
pub mod scheme;
pub mod sys;

#[cfg(target_os = "redox")]
pub mod redox;
