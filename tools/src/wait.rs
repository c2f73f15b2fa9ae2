//! `inotifywait`: waits for events on files and directories and prints them, with
//! inotify-tools' options, output and exit statuses (see `USAGE`).
//!
//! Lines are `%w %,e %f` by default: the watch's name (a directory's with a trailing `/`),
//! the events comma-separated (`CLOSE_WRITE,CLOSE`), a space and the child's name (empty for
//! an event on the watched object itself). Events that were not asked for (`IGNORED`, an
//! unrequested `DELETE_SELF`) are not printed. Without `-m` the first event ends the run:
//! exit 0 when it was asked for, 1 when not. `-t` seconds without an event: exit 2 (also
//! with `-m`). With `-m` the run goes on after every watch is gone.

use std::fs::OpenOptions;
use std::io::Write;
use std::time::Duration;

use inotify_abi::consts::{IN_ALL_EVENTS, IN_CREATE, IN_DONT_FOLLOW, IN_MOVED_FROM, IN_MOVED_TO};
use syscall::error::EINTR;

use crate::cli::{
    open_session, parse_common, path_list, say, stopped, watch_failure, CommonOptions, Io, Tool,
};
use crate::getopt::Opt;
use crate::session::strerror;
use crate::sys::ToolOs;
use crate::{format, EXIT_ERROR, EXIT_EVENT, EXIT_TIMEOUT};

/// The usage text (`-h`).
pub const USAGE: &str = "\
inotifywait (inotifyd) - wait for events on files and directories
usage: inotifywait [options] PATH... (@PATH leaves PATH out of a recursive watch)
  -m, --monitor          print events until killed (default: exit after one)
  -d, --daemon           like -m, in the background, events to -o's file, errors to syslog
  -o, --outfile FILE     append events to FILE instead of standard output
  -s, --syslog           errors and messages to the system log instead of standard error
  -r, --recursive        watch every directory below the paths, and new ones as they appear
  -P, --no-dereference   do not follow symlinks
  -q, --quiet            once: no set-up messages; twice: nothing but errors
  -t, --timeout N        exit 2 after N seconds without an event (0: never)
  -e, --event LIST       events to watch (default: all), comma-separated: access modify
                         attrib close_write close_nowrite close open moved_to moved_from
                         move move_self create delete delete_self unmount
  -c, --csv              print events as CSV
  --format FMT           print events with FMT: %w watch, %f name, %e events, %Xe events
                         separated by X, %c cookie, %T time (--timefmt), %0 NUL, %n newline
  --no-newline           no newline after a --format line
  --timefmt FMT          strftime format for %T
  --fromfile FILE        read paths (and @exclusions) from FILE, one per line (-: stdin)
  --exclude RE, --excludei RE   drop events on paths matching RE (i: ignoring case)
  --include RE, --includei RE   keep only events on paths matching RE
exit status: 0 an event asked for, 1 an error or an event not asked for, 2 the timeout
";

/// What the command line asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-m` (also set by `-d`).
    pub monitor: bool,
    /// `-q` count.
    pub quiet: u8,
    /// `-c`.
    pub csv: bool,
    /// `-d`.
    pub daemon: bool,
    /// `-s` (also set by `-d`).
    pub syslog: bool,
    /// `--format`, with the newline added unless `--no-newline`.
    pub format: Option<String>,
    /// `--timefmt`.
    pub timefmt: Option<String>,
    /// `-o`.
    pub outfile: Option<String>,
    /// Warnings to print before running (a repeated `--exclude`).
    pub warnings: String,
    /// The options both tools take.
    pub common: CommonOptions,
}

/// What to do after parsing.
pub type Command = crate::cli::Command<Options>;

/// `inotifywait`'s own options.
const OWN: &[Opt] = &[
    Opt {
        short: Some('m'),
        long: "monitor",
        value: false,
    },
    Opt {
        short: Some('q'),
        long: "quiet",
        value: false,
    },
    Opt {
        short: Some('c'),
        long: "csv",
        value: false,
    },
    Opt {
        short: Some('d'),
        long: "daemon",
        value: false,
    },
    Opt {
        short: Some('s'),
        long: "syslog",
        value: false,
    },
    Opt {
        short: Some('f'),
        long: "filename",
        value: false,
    },
    Opt {
        short: Some('o'),
        long: "outfile",
        value: true,
    },
    Opt {
        short: None,
        long: "format",
        value: true,
    },
    Opt {
        short: None,
        long: "no-newline",
        value: false,
    },
    Opt {
        short: None,
        long: "timefmt",
        value: true,
    },
];

/// `inotifywait`, for the binary's `main` and the tests.
pub struct Wait;

impl Tool for Wait {
    const NAME: &'static str = "inotifywait";
    const USAGE: &'static str = USAGE;
    type Options = Options;

    fn parse(args: &[String]) -> Result<Command, String> {
        let Some((common, own)) = parse_common(Self::NAME, OWN, args)? else {
            return Ok(Command::Help);
        };
        let mut o = Options {
            common,
            ..Default::default()
        };
        let mut no_newline = false;
        for (name, value) in own {
            let v = value.unwrap_or_default();
            match name {
                "monitor" => o.monitor = true,
                "quiet" => o.quiet = o.quiet.saturating_add(1),
                "csv" => o.csv = true,
                "daemon" => {
                    o.daemon = true;
                    o.monitor = true;
                    o.syslog = true;
                }
                "syslog" => o.syslog = true,
                "filename" => {
                    return Err("The '--filename' option no longer exists.  The option it \
                                enabled in earlier\nversions of inotifywait is now turned on \
                                by default.\n"
                        .into())
                }
                "outfile" => {
                    if o.outfile.is_some() {
                        return Err("Multiple --outfile options given.\n".into());
                    }
                    o.outfile = Some(v);
                }
                "format" => o.format = Some(v),
                "no-newline" => no_newline = true,
                "timefmt" => o.timefmt = Some(v),
                "warnings" => o.warnings = v,
                _ => {}
            }
        }
        if let Some(f) = &mut o.format {
            if !no_newline {
                f.push('\n');
            }
        }
        let checks = [
            (
                o.format.is_some() && o.csv,
                "-c and --format cannot both be specified.",
            ),
            (
                o.format.is_none() && no_newline,
                "--no-newline cannot be specified without --format.",
            ),
            (
                o.format.is_none() && o.timefmt.is_some(),
                "--timefmt cannot be specified without --format.",
            ),
            (
                o.format.as_deref().is_some_and(|f| f.contains("%T")) && o.timefmt.is_none(),
                "%T is in --format string, but --timefmt was not specified.",
            ),
            (
                o.daemon && o.outfile.is_none(),
                "-o must be specified with -d.",
            ),
        ];
        if let Some((_, msg)) = checks.iter().find(|(bad, _)| *bad) {
            return Err(format!("{msg}\n"));
        }
        Ok(Command::Run(o))
    }

    fn daemon_outfile(opts: &Options) -> Option<&str> {
        opts.outfile.as_deref().filter(|_| opts.daemon)
    }

    /// Events to `io.out` (or the `-o` file); messages to `io.err` (or the system log).
    fn run<O: ToolOs>(os: O, opts: &Options, io: &mut Io<'_>) -> i32 {
        let Io {
            out: stdout,
            err,
            syslog,
            ready,
            stop,
            print_now: _,
        } = io;
        let _ = err.write_all(opts.warnings.as_bytes());
        let c = &opts.common;
        let mut session = match open_session(os, c, *err) {
            Ok(s) => s,
            Err(code) => return code,
        };
        let asked = if c.mask == 0 { IN_ALL_EVENTS } else { c.mask };
        let mut mask = asked;
        if opts.monitor && c.recursive {
            mask |= IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM;
        }
        if c.no_dereference {
            mask |= IN_DONT_FOLLOW;
        }
        let (paths, exclude) = path_list(c, *err);
        if paths.is_empty() {
            let _ = err.write_all(b"No files specified to watch!\n");
            return EXIT_ERROR;
        }
        if let Some(path) = Wait::daemon_outfile(opts) {
            // inotify-tools resolves the file with realpath(3) first: it must exist.
            if let Err(e) = std::fs::canonicalize(path) {
                let _ = writeln!(err, "{}: {path}", crate::cli::io_strerror(&e));
                return EXIT_ERROR;
            }
        }
        let mut file;
        let out: &mut dyn Write = match &opts.outfile {
            Some(path) => match open_outfile(path) {
                Ok(f) => {
                    file = f;
                    &mut file
                }
                Err(()) => {
                    let _ = writeln!(err, "Failed to open output file {path}");
                    return EXIT_ERROR;
                }
            },
            None => &mut **stdout,
        };
        let sl = opts.syslog;
        if opts.quiet == 0 {
            say(
                *err,
                *syslog,
                sl,
                if c.recursive {
                    "Setting up watches.  Beware: since -r was given, this may take a while!\n"
                } else {
                    "Setting up watches.\n"
                },
            );
        }
        for path in &paths {
            let added = if c.recursive {
                session.watch_recursively(path, mask, &exclude)
            } else {
                session.watch_file(path, mask).map(drop)
            };
            if let Err(e) = added {
                say(*err, *syslog, sl, &watch_failure("Couldn't watch", path, e));
                return EXIT_ERROR;
            }
        }
        if opts.quiet == 0 {
            say(*err, *syslog, sl, "Watches established.\n");
        }
        ready();

        let timeout = (c.timeout > 0).then(|| Duration::from_secs(c.timeout.into()));
        let mut moved_from = None;
        loop {
            let ev = match session.next_event(timeout) {
                Ok(Some(ev)) => ev,
                Ok(None) => return EXIT_TIMEOUT,
                Err(e) if e.errno == EINTR && stopped(stop) => return EXIT_ERROR,
                Err(e) => {
                    say(*err, *syslog, sl, &format!("{}\n", strerror(e)));
                    return EXIT_ERROR;
                }
            };
            if opts.quiet < 2 && ev.mask & asked != 0 {
                let watch = session.name(ev.wd);
                let line = if opts.csv {
                    format::csv(watch, &ev)
                } else {
                    let fmt = opts.format.as_deref().unwrap_or(format::DEFAULT);
                    format::expand(fmt, watch, &ev, opts.timefmt.as_deref())
                };
                let _ = out.write_all(&line);
            }
            if opts.monitor && c.recursive {
                let mut failures = Vec::new();
                session.follow_tree(&ev, mask, &mut moved_from, &mut |m| failures.push(m));
                for m in failures {
                    say(*err, *syslog, sl, &format!("{m}\n"));
                }
            }
            let _ = out.flush();
            if !opts.monitor {
                return if ev.mask & mask != 0 {
                    EXIT_EVENT
                } else {
                    EXIT_ERROR
                };
            }
        }
    }
}

/// Opens `-o`'s file for appending, creating it with mode 0600.
fn open_outfile(path: &str) -> Result<std::fs::File, ()> {
    let mut o = OpenOptions::new();
    o.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map_err(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use inotify_abi::consts::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run(s: &str) -> Options {
        match Wait::parse(&args(s)) {
            Ok(Command::Run(o)) => o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn options_parse_as_inotify_tools_takes_them() {
        let o = run("-mqq -t5 -e create,delete -e modify a --format %w%f --timefmt %T b/");
        assert!(o.monitor);
        assert_eq!(o.quiet, 2);
        assert_eq!(o.common.timeout, 5);
        assert_eq!(o.common.mask, IN_CREATE | IN_DELETE | IN_MODIFY);
        assert_eq!(o.format.as_deref(), Some("%w%f\n"));
        assert_eq!(o.common.paths, args("a b/"));
        let o = run("-d -o log --excludei X -P -r --fromfile list");
        assert!(o.monitor && o.syslog && o.daemon);
        assert_eq!(o.common.filter, Some(("X".into(), true, false)));
        assert!(o.common.no_dereference && o.common.recursive);
        assert_eq!(o.common.fromfile.as_deref(), Some("list"));
        assert_eq!(Wait::parse(&args("--help x")), Ok(Command::Help));
    }

    #[test]
    fn conflicting_options_are_refused_with_inotify_tools_messages() {
        let err = |s: &str| Wait::parse(&args(s)).unwrap_err();
        assert_eq!(
            err("-c --format %w a"),
            "-c and --format cannot both be specified.\n"
        );
        assert_eq!(
            err("--no-newline a"),
            "--no-newline cannot be specified without --format.\n"
        );
        assert_eq!(
            err("--format %T a"),
            "%T is in --format string, but --timefmt was not specified.\n"
        );
        assert_eq!(err("-d a"), "-o must be specified with -d.\n");
        assert_eq!(
            err("--exclude a --include b a"),
            "include and exclude regexp cannot both be specified.\n"
        );
        assert_eq!(
            err("-t x a"),
            "'x' is not a valid timeout value.\nPlease specify a long int value.\n"
        );
        assert_eq!(err("-x a"), "inotifywait: invalid option -- 'x'\n");
    }
}
