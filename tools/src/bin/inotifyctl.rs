//! `inotifyctl` (see `inotify_tools::ctl`): inotifyd's daemon-wide status (root) and limits.
//!
//! On Redox it uses the calling process's own system calls (`RedoxOs`). A host has no Redox
//! kernel to serve it: there the binary says so, and the tool is exercised by
//! `cargo test -p inotify-tools` through the in-process kernel and inotifyd.

fn main() {
    inotify_tools::cli::main::<inotify_tools::ctl::InotifyCtl>();
}
