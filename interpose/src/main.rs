//! `inotify-interposer NAME`: the interposer in front of the filesystem scheme `NAME`
//! (default `file`) for the processes of the namespace it is started in (docs/redox.md,
//! "The interposer"). Redox only; on a host the interposer runs inside the test rig.
//! `inotify-interposer --worker ROOT_FD NAME UID GID` is a credential worker, started by the
//! interposer itself.

/// Logs `inotify-interposer: LEVEL message` lines to stderr, at the level
/// `INOTIFY_INTERPOSER_LOG` names (default `info`).
#[cfg(target_os = "redox")]
fn install_logger() {
    use std::io::Write;
    env_logger::Builder::new()
        .filter_level(log::LevelFilter::Info)
        .parse_env("INOTIFY_INTERPOSER_LOG")
        .format(|out, r| writeln!(out, "inotify-interposer: {} {}", r.level(), r.args()))
        .init();
}

#[cfg(target_os = "redox")]
fn main() {
    install_logger();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(inotify_interpose::redox::WORKER_ARG) {
        let Err(e) = inotify_interpose::redox::run_worker(&args[1..]);
        eprintln!("inotify-interposer: worker: {e}");
        std::process::exit(1);
    }
    let name = args.first().cloned().unwrap_or_else(|| "file".to_string());
    if let Err(e) = inotify_interpose::redox::run(&name) {
        eprintln!("inotify-interposer: {name}: {e}");
        std::process::exit(1);
    }
}

#[cfg(not(target_os = "redox"))]
fn main() {
    eprintln!("inotify-interposer runs on Redox; on a host, see `make demo INTERPOSE=1`");
    std::process::exit(2);
}
