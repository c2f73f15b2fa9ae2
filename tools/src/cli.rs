//! What `inotifywait` and `inotifywatch` share: the command-line options both take, the
//! start of a run (an instance and its watches, with the set-up messages), and the body of
//! each binary's `main`.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use inotify_abi::consts::IN_ALL_EVENTS;
use inotify_client::{Inotify, Os, IN_CLOEXEC, IN_NONBLOCK};

use crate::{events, parse_seconds, watch_name, EXIT_ERROR};

/// What to do after parsing a tool's command line.
#[derive(Debug, PartialEq, Eq)]
pub enum Command<T> {
    /// Run the tool with these options.
    Run(T),
    /// Print the tool's usage text and exit 0.
    Help,
}

/// A command-line tool: its name, usage text, parser and run, for [`main`].
pub trait Tool {
    /// The program name, prefixed to its messages.
    const NAME: &'static str;
    /// The usage text (`-h`, and after a bad command line).
    const USAGE: &'static str;
    /// What the command line asks for.
    type Options;
    /// Parses the arguments after the program name.
    fn parse(args: &[String]) -> Result<Command<Self::Options>, String>;
    /// Runs the tool: output to `out`, messages to `err`; `ready` is called once every
    /// watch is established. Returns the exit status.
    fn run<O: Os>(
        os: O,
        opts: &Self::Options,
        out: &mut dyn Write,
        err: &mut dyn Write,
        ready: &mut dyn FnMut(),
    ) -> i32;
}

/// The body of a tool's `main`: parses the process's arguments (usage to standard output
/// for `-h`; the error and the usage to standard error, exit 1, for a bad command line),
/// runs the tool and exits with its status.
pub fn main<T: Tool>() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match T::parse(&args) {
        Ok(Command::Run(opts)) => opts,
        Ok(Command::Help) => {
            print!("{}", T::USAGE);
            return;
        }
        Err(e) => {
            eprintln!("{}: {e}", T::NAME);
            eprint!("{}", T::USAGE);
            std::process::exit(EXIT_ERROR);
        }
    };
    std::process::exit(run_here::<T>(&opts));
}

/// Runs the tool with Redox's system calls.
#[cfg(target_os = "redox")]
fn run_here<T: Tool>(opts: &T::Options) -> i32 {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    T::run(
        inotify_client::RedoxOs,
        opts,
        &mut out,
        &mut err,
        &mut || {},
    )
}

/// On a host there is no `/scheme/inotify`.
#[cfg(not(target_os = "redox"))]
fn run_here<T: Tool>(_opts: &T::Options) -> i32 {
    eprintln!(
        "{}: this build talks to inotifyd on Redox; on a host it runs only inside the \
         tests (cargo test -p inotify-tools), see docs/clients.md",
        T::NAME
    );
    EXIT_ERROR
}

/// The options both tools take (`-t`, `-e`, `-r` and the paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonOptions {
    /// `-t`: seconds without an event (`inotifywait`) or of collecting (`inotifywatch`)
    /// (`None` or 0: no limit).
    pub timeout: Option<u64>,
    /// `-e`: the events to watch (all when not given).
    pub mask: u32,
    /// `-r` was given (refused when the tool runs).
    pub recursive: bool,
    /// The paths to watch (never empty).
    pub paths: Vec<String>,
}

/// Parses a tool's arguments: the shared options here, a tool's own flags (no value) by
/// `extra`, which returns false for a flag it does not know. `None` for `-h`.
pub(crate) fn parse_common(
    args: &[String],
    extra: &mut dyn FnMut(&str) -> bool,
) -> Result<Option<CommonOptions>, String> {
    let mut opts = CommonOptions {
        timeout: None,
        mask: 0,
        recursive: false,
        paths: Vec::new(),
    };
    let mut it = args.iter();
    let mut only_paths = false;
    while let Some(arg) = it.next() {
        if only_paths || !arg.starts_with('-') || arg == "-" {
            opts.paths.push(arg.clone());
            continue;
        }
        match arg.as_str() {
            "--" => only_paths = true,
            "-h" | "--help" => return Ok(None),
            "-r" | "--recursive" => opts.recursive = true,
            "-t" | "--timeout" => {
                let v = it.next().ok_or("-t needs a number of seconds")?;
                opts.timeout = Some(parse_seconds(v)?);
            }
            "-e" | "--event" => {
                let v = it.next().ok_or("-e needs a list of events")?;
                opts.mask |= events::parse_list(v)?;
            }
            other if extra(other) => {}
            _ => return Err(format!("unknown option '{arg}'")),
        }
    }
    if opts.paths.is_empty() {
        return Err("no files specified to watch".into());
    }
    if opts.mask == 0 {
        opts.mask = IN_ALL_EVENTS;
    }
    Ok(Some(opts))
}

/// How a tool starts: what to watch, and what it says while setting up.
pub(crate) struct Setup<'a> {
    /// The program name, for messages.
    pub prog: &'a str,
    /// What to watch (`-r` is refused; with a timeout the instance is non-blocking).
    pub opts: &'a CommonOptions,
    /// Printed to `err` before the watches are added.
    pub before: Option<&'a str>,
    /// Printed to `err` once every watch is added.
    pub after: Option<&'a str>,
    /// Whether a path that cannot be watched is reported.
    pub report_failures: bool,
}

/// A started tool: its instance, the names of its watches, and its timeout.
pub(crate) struct Started<O: Os> {
    /// The instance (non-blocking when there is a timeout).
    pub ino: Inotify<O>,
    /// The name each watch is shown under, by wd.
    pub names: BTreeMap<i32, String>,
    /// The timeout (`None`: none).
    pub timeout: Option<Duration>,
}

impl Setup<'_> {
    /// Opens the instance and adds every watch, printing the set-up messages to `err`, then
    /// calls `ready`. On failure the message is printed and the exit status returned
    /// (`ready` is not called).
    pub fn start<O: Os>(
        &self,
        os: O,
        err: &mut dyn Write,
        ready: &mut dyn FnMut(),
    ) -> Result<Started<O>, i32> {
        if self.opts.recursive {
            let _ = writeln!(
                err,
                "{}: recursive watches (-r) are not supported",
                self.prog
            );
            return Err(EXIT_ERROR);
        }
        let timeout = self
            .opts
            .timeout
            .filter(|&t| t > 0)
            .map(Duration::from_secs);
        let flags = IN_CLOEXEC | if timeout.is_some() { IN_NONBLOCK } else { 0 };
        let ino = match Inotify::init1(os, flags) {
            Ok(i) => i,
            Err(e) => {
                let _ = writeln!(
                    err,
                    "{}: cannot initialize inotify ({e}); is inotifyd running?",
                    self.prog
                );
                return Err(EXIT_ERROR);
            }
        };
        if let Some(msg) = self.before {
            let _ = writeln!(err, "{msg}");
        }
        let mut names = BTreeMap::new();
        for path in &self.opts.paths {
            match ino.add_watch(path, self.opts.mask) {
                Ok(wd) => {
                    names.insert(wd, watch_name(ino.os(), path));
                }
                Err(e) => {
                    if self.report_failures {
                        let _ = writeln!(err, "Couldn't watch {path}: {e}");
                    }
                    return Err(EXIT_ERROR);
                }
            }
        }
        if let Some(msg) = self.after {
            let _ = writeln!(err, "{msg}");
        }
        ready();
        Ok(Started {
            ino,
            names,
            timeout,
        })
    }
}
