//! `inotifywatch` (see `inotify_tools::watch` for the options and output).
//!
//! On Redox it uses the calling process's own system calls (`RedoxOs`) against
//! `/scheme/inotify`. A host has no Redox kernel to serve it: there the binary says so, and
//! the tool is exercised by `cargo test -p inotify-tools` through the in-process kernel,
//! inotifyd and a host directory.

use inotify_tools::watch::{parse, Command, USAGE};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse(&args) {
        Ok(Command::Run(opts)) => opts,
        Ok(Command::Help) => {
            print!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("inotifywatch: {e}");
            eprint!("{USAGE}");
            std::process::exit(inotify_tools::EXIT_ERROR);
        }
    };
    std::process::exit(run(&opts));
}

/// Runs the tool with Redox's system calls.
#[cfg(target_os = "redox")]
fn run(opts: &inotify_tools::watch::Options) -> i32 {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    inotify_tools::watch::run(
        inotifyd::redox::RedoxOs,
        opts,
        &mut out,
        &mut err,
        &mut || {},
    )
}

/// On a host there is no `/scheme/inotify`.
#[cfg(not(target_os = "redox"))]
fn run(_opts: &inotify_tools::watch::Options) -> i32 {
    eprintln!(
        "inotifywatch: this build talks to inotifyd on Redox; on a host it runs only inside the \
         tests (cargo test -p inotify-tools), see docs/clients.md"
    );
    inotify_tools::EXIT_ERROR
}
