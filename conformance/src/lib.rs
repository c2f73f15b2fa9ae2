//! The inotifyd conformance suite: scenarios run against the Linux kernel's inotify (the
//! oracle) and against inotifyd over a host filesystem, event streams compared.
//!
//! - [`script`]: the scenario format (`docs/conformance.md`).
//! - [`backend`]: what a system under test provides; [`linux`] is the oracle, `inotifyd`
//!   (feature `inotifyd`) the system under test.
//! - [`exec`]: running a scenario, normalising wds/cookies/inodes, comparing streams.
//! - [`gen`]: seeded random scenarios for differential testing.
//! - [`names`]: `IN_*` and errno names.
//! - [`posix`]: the file calls of a scenario through the C library (Linux and Redox).
//! - [`redox`]: the steps where Redox's filesystem and C library differ from Linux, declared
//!   for the Redox guest runner.
//!
//! Only [`linux`] needs Linux; the rest (with default features off) also builds for Redox,
//! where `redox/guest/conform` replays the scenarios against recorded Linux outputs.
#![warn(missing_docs)]

pub mod backend;
pub mod exec;
pub mod gen;
#[cfg(feature = "inotifyd")]
pub mod inotifyd;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod names;
#[cfg(unix)]
pub mod posix;
pub mod redox;
pub mod script;
