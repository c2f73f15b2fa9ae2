//! `inotifywait` and `inotifywatch` for Redox, over inotifyd's client API.
//!
//! Each tool is a [`cli::Tool`] whose `run` is generic over [`inotify_client::Os`]: on
//! Redox the binaries pass `inotify_client::RedoxOs`; the host tests pass a process of the
//! in-process kernel, with inotifyd and `HostFs` serving a temporary directory. Output goes to
//! the writers the caller gives, so the tests see exactly what a terminal would.
//!
//! - [`cli`] holds what both tools share: the common options, the start of a run, `main`.
//! - [`events`] holds the event names on the command line (`-e create,modify`).
//! - [`wait`] is `inotifywait`.
//! - [`watch`] is `inotifywatch`.
#![warn(missing_docs)]

pub mod cli;
pub mod events;
pub mod wait;
pub mod watch;

use std::time::{Duration, Instant};

use inotify_client::{Inotify, Os, OwnedEvent, O_CLOEXEC, O_PATH};
use syscall::error::{Result, EAGAIN};
use syscall::flag::{MODE_DIR, MODE_TYPE};

/// Exit status: an event arrived (or the run ended normally).
pub const EXIT_EVENT: i32 = 0;
/// Exit status: an error (bad arguments, a failed watch, a failed read).
pub const EXIT_ERROR: i32 = 1;
/// Exit status: the timeout passed without an event (`inotifywait -t`).
pub const EXIT_TIMEOUT: i32 = 2;

/// How long a non-blocking poll sleeps between empty reads.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// The name a watch is shown under: the path as given, with a `/` added for a directory
/// (as inotifywait does).
pub fn watch_name(os: &impl Os, path: &str) -> String {
    if !path.ends_with('/') && is_dir(os, path) {
        format!("{path}/")
    } else {
        path.to_string()
    }
}

/// Whether `path` names a directory (following a final symlink); false when it cannot be
/// opened.
fn is_dir(os: &impl Os, path: &str) -> bool {
    let Ok(fd) = os.open(path, O_PATH | O_CLOEXEC) else {
        return false;
    };
    let dir = os
        .fstat(fd)
        .map(|st| st.st_mode & MODE_TYPE == MODE_DIR)
        .unwrap_or(false);
    let _ = os.close(fd);
    dir
}

/// The next events: a blocking read without a deadline; with one (the instance is then
/// non-blocking), `None` when the deadline passes first.
pub fn next_events<O: Os>(
    ino: &Inotify<O>,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> Result<Option<Vec<OwnedEvent>>> {
    loop {
        match ino.read_events(buf) {
            Ok(events) => return Ok(Some(events)),
            Err(e) if e.errno == EAGAIN && deadline.is_some() => {
                let now = Instant::now();
                let deadline = deadline.unwrap_or(now);
                if now >= deadline {
                    return Ok(None);
                }
                std::thread::sleep(POLL_INTERVAL.min(deadline - now));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Parses a `-t` value: whole seconds, as inotifywait takes them.
pub fn parse_seconds(s: &str) -> std::result::Result<u64, String> {
    s.parse::<u64>()
        .map_err(|_| format!("invalid timeout '{s}': a whole number of seconds"))
}
