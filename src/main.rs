//! `inotifyd`: serves `/scheme/inotify`.
//!
//! On Redox: create the scheme socket, register the name `inotify`, then run the request
//! loop ([`inotifyd::daemon::run`]) until the socket closes. On any other system the daemon
//! has nothing to serve; `make demo` runs the same scheme code over a host directory.

#[cfg(target_os = "redox")]
fn main() {
    use inotify_engine::Limits;
    use inotifyd::redox::RedoxSys;
    use inotifyd::scheme::InotifyScheme;
    use redox_scheme::scheme::register_scheme_inner;
    use redox_scheme::Socket;

    let socket = match Socket::create() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("inotifyd: cannot create the scheme socket: {e}");
            std::process::exit(1);
        }
    };
    // The root id is fixed, so the name can be registered before the socket is handed over.
    if let Err(e) = register_scheme_inner(&socket, "inotify", InotifyScheme::<RedoxSys>::ROOT_ID) {
        eprintln!("inotifyd: cannot register the scheme: {e}");
        std::process::exit(1);
    }
    let sys = match RedoxSys::new(socket) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("inotifyd: cannot set up the event queue: {e}");
            std::process::exit(1);
        }
    };
    let mut scheme = InotifyScheme::new(sys, Limits::default());
    if let Err(e) = inotifyd::daemon::run(&mut scheme) {
        eprintln!("inotifyd: {e}");
        std::process::exit(1);
    }
}

#[cfg(not(target_os = "redox"))]
fn main() {
    eprintln!("inotifyd serves /scheme/inotify on Redox OS; on this system `make demo` runs it over a host directory.");
    std::process::exit(2);
}
