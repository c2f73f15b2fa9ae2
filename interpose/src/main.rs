//! `inotify-interposer NAME`: the interposer in front of the filesystem scheme `NAME`
//! (default `file`) for the processes of the namespace it is started in (docs/redox.md,
//! "The interposer"). Redox only; on a host the interposer runs inside the test rig.

#[cfg(target_os = "redox")]
fn main() {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "file".to_string());
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
