//! `inotifywatch` (see `inotify_tools::watch` for the options and output).
//!
//! On Redox it uses the calling process's own system calls (`RedoxOs`) against
//! `/scheme/inotify`. A host has no Redox kernel to serve it: there the binary says so, and
//! the tool is exercised by `cargo test -p inotify-tools` through the in-process kernel,
//! inotifyd and a host directory.

fn main() {
    inotify_tools::cli::main::<inotify_tools::watch::Watch>();
}
