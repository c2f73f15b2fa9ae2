//! `inotifywait` and `inotifywatch` for Redox, over inotifyd's client API, taking the same
//! options and printing the same output as inotify-tools (3.22.6), so that scripts written
//! for it run unchanged (see docs/clients.md for the few differences).
//!
//! Each tool is a [`cli::Tool`] whose `run` is generic over [`sys::ToolOs`]: on Redox the
//! binaries pass `inotify_client::RedoxOs`; the host tests pass a process of the in-process
//! kernel, with inotifyd and `HostFs` serving a temporary directory. Output goes to the
//! writers the caller gives, so the tests see exactly what a terminal would. Waiting never
//! polls: a blocking read, or an event queue with a timer when there is a timeout.
//!
//! - [`cli`]: what both tools share (common options, path lists, messages, `main`).
//! - [`getopt`]: GNU `getopt_long` parsing.
//! - [`events`]: event names on the command line, in lines and in the table.
//! - [`format`]: `--format`, `--timefmt`, `--csv`.
//! - [`session`]: the instance, watch names, recursion, filters, the next event.
//! - [`sys`]: directory listings and `lstat` over the client calls.
//! - [`wait`] is `inotifywait`, [`watch`] is `inotifywatch`, [`ctl`] is `inotifyctl`
//!   (inotifyd's daemon-wide status and limits; not an inotify-tools program).
#![warn(missing_docs)]

pub mod cli;
pub mod ctl;
pub mod events;
pub mod format;
pub mod getopt;
pub mod session;
pub mod sys;
pub mod wait;
pub mod watch;

/// Exit status: an event arrived (or the run ended normally).
pub const EXIT_EVENT: i32 = 0;
/// Exit status: an error, or (`inotifywait` without `-m`) an event that was not asked for.
pub const EXIT_ERROR: i32 = 1;
/// Exit status: the timeout passed without an event (`inotifywait -t`).
pub const EXIT_TIMEOUT: i32 = 2;
