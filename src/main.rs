//! `inotifyd`: serves `/scheme/inotify`.
//!
//! On Redox: create the scheme socket, register the name `inotify`, open an anchor on each
//! filesystem served (the arguments, scheme names; `file` when none), enter the null
//! namespace (`setrens(0, 0)`: every later resource comes from those anchors or from fds
//! clients send), then run the request loop ([`inotifyd::daemon::run`]) until the socket
//! closes. On any other system the daemon has nothing to serve; `make demo` runs the same
//! scheme code over a host directory.

#[cfg(target_os = "redox")]
fn main() {
    use inotify_engine::Limits;
    use inotifyd::feed::{Feeds, DEFAULT_FILESYSTEMS};
    use inotifyd::redox::{install_logger, publish, RedoxSys};
    use inotifyd::scheme::InotifyScheme;
    use redox_scheme::scheme::SchemeSync;
    use redox_scheme::Socket;

    /// Stands in for the scheme while publishing: only the root id is asked for, and it is
    /// fixed, so the name can be published before the socket moves into [`RedoxSys`].
    struct Root;
    impl SchemeSync for Root {
        fn scheme_root(&mut self) -> syscall::error::Result<usize> {
            Ok(InotifyScheme::<RedoxSys>::ROOT_ID)
        }
    }

    fn fail(what: &str, e: syscall::error::Error) -> ! {
        eprintln!("inotifyd: {what}: {e}");
        std::process::exit(1);
    }

    install_logger();
    let socket = Socket::create().unwrap_or_else(|e| fail("creating the scheme socket", e));
    let mut sys = RedoxSys::new(socket).unwrap_or_else(|e| fail("setting up the event queue", e));
    // The filesystems trusted: those this namespace (init's) calls by these names now.
    let mut names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        names = DEFAULT_FILESYSTEMS.iter().map(|n| n.to_string()).collect();
    }
    sys.open_anchors(names.iter().map(String::as_str));
    if let Err(e) = publish(sys.socket(), &mut Root) {
        fail("publishing /scheme/inotify", e);
    }
    // From here on the daemon works only with fds it holds or is sent: drop the right to
    // open anything by name, so a compromised daemon cannot reach other schemes.
    if let Err(e) = libredox::call::setrens(0, 0) {
        fail("entering the null namespace", e.into());
    }
    let feeds = Feeds::with_filesystems(names.iter().map(|n| n.as_bytes()));
    let mut scheme = InotifyScheme::with_feeds(sys, Limits::default(), feeds);
    if let Err(e) = inotifyd::daemon::run(&mut scheme) {
        fail("serving requests", e);
    }
}

#[cfg(not(target_os = "redox"))]
fn main() {
    eprintln!("inotifyd serves /scheme/inotify on Redox OS; on this system `make demo` runs it over a host directory.");
    std::process::exit(2);
}
