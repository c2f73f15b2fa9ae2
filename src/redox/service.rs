//! Start-up on Redox: making `/scheme/inotify` reachable, and logging to stderr.
//!
//! init starts a `type = { scheme = "inotify" }` service with an fd in the `INIT_NOTIFY`
//! environment variable and waits until it receives exactly one fd over it: the capability
//! for the scheme's root handle (`Socket::create_this_scheme_fd` on `scheme_root()`). init
//! then registers that capability under the name `inotify` in its namespace, so the name is
//! there before any later service starts. Started by hand (no `INIT_NOTIFY`), the daemon
//! registers the name in its own namespace instead.

use std::io::Write;

use redox_scheme::scheme::{register_sync_scheme, SchemeSync};
use redox_scheme::Socket;
use syscall::error::{Error, Result, EINVAL};
use syscall::flag::{CallFlags, F_SETFD};

pub use inotify_abi::proto::{INIT_NOTIFY_ENV, SCHEME_NAME};

/// How [`publish`] made the scheme reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publication {
    /// The capability was handed to init, which registers the name.
    HandedToInit,
    /// The daemon registered the name in its own namespace.
    Registered,
}

/// Makes `scheme` reachable as `/scheme/inotify`: hands its root capability to init when
/// `INIT_NOTIFY` is set, else registers the name. Call it once, before serving requests and
/// before dropping privileges (both need the capabilities the daemon starts with).
pub fn publish<S: SchemeSync>(socket: &Socket, scheme: &mut S) -> Result<Publication> {
    match std::env::var(INIT_NOTIFY_ENV) {
        Ok(value) => {
            let notify_fd: usize = value.trim().parse().map_err(|_| Error::new(EINVAL))?;
            hand_capability_to_init(notify_fd, socket, scheme)?;
            Ok(Publication::HandedToInit)
        }
        Err(_) => {
            register_sync_scheme(socket, SCHEME_NAME, scheme)?;
            Ok(Publication::Registered)
        }
    }
}

/// Sends the capability for the scheme's root handle to init over `notify_fd`, then closes
/// `notify_fd` (init reads exactly one fd and nothing else).
fn hand_capability_to_init<S: SchemeSync>(
    notify_fd: usize,
    socket: &Socket,
    scheme: &mut S,
) -> Result<()> {
    // Keep it out of anything this process may start (the kernel's F_SETFD takes O_CLOEXEC).
    libredox::call::fcntl(notify_fd, F_SETFD, libredox::flag::O_CLOEXEC as usize)?;
    let root_id = scheme.scheme_root()?;
    let cap_fd = socket.create_this_scheme_fd(0, root_id, 0, 0)?;
    // With CallFlags::FD the fd moves to init: it leaves this process's table.
    libredox::call::call_wo(notify_fd, &cap_fd.to_ne_bytes(), CallFlags::FD, &[])?;
    let _ = libredox::call::close(notify_fd);
    Ok(())
}

/// Logs `inotifyd: LEVEL message` lines to stderr (init sends a service's stderr to the
/// log), at the level `INOTIFYD_LOG` names (`error`, `warn`, `info`, `debug`, `trace`;
/// default `info`).
pub fn install_logger() {
    env_logger::Builder::new()
        .filter_level(log::LevelFilter::Info)
        .parse_env("INOTIFYD_LOG")
        .format(|out, record| writeln!(out, "inotifyd: {} {}", record.level(), record.args()))
        .init();
}
