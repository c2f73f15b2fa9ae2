//! `inotifywait`: waits for events on files and directories and prints them.
//!
//! ```text
//! inotifywait [-m] [-q] [-t SECONDS] [-e EVENT[,EVENT...]]... PATH...
//! ```
//!
//! One line per event, `WATCH EVENTS [NAME]`: the watched path as given (with `/` added
//! for a directory), the event's bits comma-separated in Linux's order, and the child's name
//! when there is one. Without `-m` the first event is printed and the program exits 0.
//! Exit status: 0 an event arrived (or, with `-m`, every watch went away or `-t` seconds
//! passed without an event), 1 an error, 2 `-t` seconds passed without an event (no `-m`).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use inotify_abi::consts::IN_IGNORED;
use inotify_client::{format, Os, OwnedEvent};

use crate::cli::{parse_common, CommonOptions, Setup, Started, Tool};
use crate::{next_events, EXIT_ERROR, EXIT_EVENT, EXIT_TIMEOUT};

/// The usage text (`-h`).
pub const USAGE: &str = "\
usage: inotifywait [-m] [-q] [-t SECONDS] [-e EVENT[,EVENT...]]... PATH...
  -m, --monitor       print events until every watch is gone (default: exit after one)
  -q, --quiet         once: no set-up messages; twice: only events
  -t, --timeout N     give up after N seconds without an event (0: never)
  -e, --event LIST    events to watch (default: all): access modify attrib close_write
                      close_nowrite close open moved_to moved_from move move_self create
                      delete delete_self unmount
  -r, --recursive     not supported (watch each directory explicitly)
exit status: 0 an event, 1 an error, 2 the timeout passed
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-m`: keep printing events.
    pub monitor: bool,
    /// `-q` count: 1 hides the set-up messages, 2 also the errors of watches.
    pub quiet: u8,
    /// `-t`, `-e`, `-r` and the paths.
    pub common: CommonOptions,
}

/// What to do after parsing.
pub type Command = crate::cli::Command<Options>;

/// `inotifywait`, for the binary's `main` and the tests.
pub struct Wait;

impl Tool for Wait {
    const NAME: &'static str = "inotifywait";
    const USAGE: &'static str = USAGE;
    type Options = Options;

    fn parse(args: &[String]) -> Result<Command, String> {
        let (mut monitor, mut quiet) = (false, 0u8);
        let common = parse_common(args, &mut |arg| match arg {
            "-m" | "--monitor" => {
                monitor = true;
                true
            }
            "-q" | "--quiet" => {
                quiet = quiet.saturating_add(1);
                true
            }
            _ => false,
        })?;
        Ok(match common {
            Some(common) => Command::Run(Options {
                monitor,
                quiet,
                common,
            }),
            None => Command::Help,
        })
    }

    /// Events to `out`, one line each; set-up messages and errors to `err`.
    fn run<O: Os>(
        os: O,
        opts: &Options,
        out: &mut dyn Write,
        err: &mut dyn Write,
        ready: &mut dyn FnMut(),
    ) -> i32 {
        let setup = Setup {
            prog: Wait::NAME,
            opts: &opts.common,
            before: (opts.quiet == 0).then_some("Setting up watches."),
            after: (opts.quiet == 0).then_some("Watches established."),
            report_failures: opts.quiet < 2,
        };
        let Started {
            ino,
            mut names,
            timeout,
        } = match setup.start(os, err, ready) {
            Ok(started) => started,
            Err(code) => return code,
        };

        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let deadline = timeout.map(|t| Instant::now() + t);
            let events = match next_events(&ino, &mut buf, deadline) {
                Ok(Some(events)) => events,
                Ok(None) if opts.monitor => return EXIT_EVENT,
                Ok(None) => return EXIT_TIMEOUT,
                Err(e) => {
                    let _ = writeln!(err, "inotifywait: read: {e}");
                    return EXIT_ERROR;
                }
            };
            for ev in &events {
                let _ = writeln!(out, "{}", line(&names, ev));
                if !opts.monitor {
                    let _ = out.flush();
                    return EXIT_EVENT;
                }
                if ev.mask & IN_IGNORED != 0 {
                    names.remove(&ev.wd);
                }
            }
            let _ = out.flush();
            if names.is_empty() {
                return EXIT_EVENT;
            }
        }
    }
}

/// The line for `ev`: its watch's name (empty for an overflow, whose wd is -1).
pub fn line(names: &BTreeMap<i32, String>, ev: &OwnedEvent) -> String {
    let watch = names.get(&ev.wd).map(String::as_str).unwrap_or("");
    format::event(watch, ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use inotify_abi::consts::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_options() {
        let Command::Run(o) =
            Wait::parse(&args("-m -q -q -t 5 -e create,delete -e modify a b/")).unwrap()
        else {
            panic!("not run");
        };
        assert_eq!(
            o,
            Options {
                monitor: true,
                quiet: 2,
                common: CommonOptions {
                    timeout: Some(5),
                    mask: IN_CREATE | IN_DELETE | IN_MODIFY,
                    recursive: false,
                    paths: vec!["a".into(), "b/".into()],
                },
            }
        );
        let Command::Run(o) = Wait::parse(&args("--timeout 0 -- -odd")).unwrap() else {
            panic!("not run");
        };
        assert_eq!(o.common.mask, IN_ALL_EVENTS);
        assert_eq!(o.common.timeout, Some(0));
        assert_eq!(o.common.paths, vec!["-odd".to_string()]);
        assert_eq!(Wait::parse(&args("--help x")), Ok(Command::Help));
    }

    #[test]
    fn refuses_bad_arguments() {
        assert_eq!(
            Wait::parse(&args("-m")),
            Err("no files specified to watch".into())
        );
        assert_eq!(
            Wait::parse(&args("-t x a")).unwrap_err(),
            "invalid timeout 'x': a whole number of seconds"
        );
        assert_eq!(
            Wait::parse(&args("a -t")),
            Err("-t needs a number of seconds".into())
        );
        assert_eq!(
            Wait::parse(&args("-e nope a")),
            Err("invalid event 'nope'".into())
        );
        assert_eq!(
            Wait::parse(&args("-x a")),
            Err("unknown option '-x'".into())
        );
    }

    #[test]
    fn lines_name_the_watch() {
        let names = BTreeMap::from([(1, "dir/".to_string())]);
        let ev = OwnedEvent {
            wd: 1,
            mask: IN_CLOSE_WRITE,
            cookie: 0,
            name: b"f".to_vec(),
        };
        assert_eq!(line(&names, &ev), "dir/ CLOSE_WRITE f");
        let ev = OwnedEvent {
            wd: -1,
            mask: IN_Q_OVERFLOW,
            cookie: 0,
            name: Vec::new(),
        };
        assert_eq!(line(&names, &ev), " Q_OVERFLOW");
    }
}
