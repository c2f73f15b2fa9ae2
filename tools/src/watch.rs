//! `inotifywatch`: counts the events on each watch until `-t` seconds pass or a signal
//! (SIGINT, SIGTERM, SIGHUP) stops it, then prints inotify-tools' table (see `USAGE`);
//! SIGUSR1 prints the table so far (and an empty line) and counting goes on.
//!
//! Every event read counts for its watch (the `IGNORED` that ends a watch too, in the total
//! only, as inotify-tools counts it). Columns are the asked-for events that occurred (all
//! with `-z`), in inotify-tools' order; rows are the watches with events (all with `-z`),
//! by total, most first, unless `-a`/`-d` name another key; ties in watch order.

use std::time::{Duration, Instant};

use inotify_abi::consts::{IN_ALL_EVENTS, IN_DONT_FOLLOW};
use inotify_client::OwnedEvent;
use std::sync::atomic::Ordering;

use syscall::error::EINTR;

use crate::cli::{
    open_session, parse_common, path_list, stopped, watch_failure, CommonOptions, Io, Tool,
};
use crate::events::{parse_list, TABLE_EVENTS};
use crate::getopt::Opt;
use crate::session::{strerror, Session};
use crate::sys::ToolOs;
use crate::{EXIT_ERROR, EXIT_EVENT};

/// The usage text (`-h`).
pub const USAGE: &str = "\
inotifywatch (inotifyd) - count the events on files and directories
usage: inotifywatch [options] PATH... (@PATH leaves PATH out of a recursive watch)
  -t, --timeout N        count for N seconds (default: until SIGINT, SIGTERM or SIGHUP)
  -e, --event LIST       events to count (default: all); names as for inotifywait
  -a, --ascending EV     sort rows by the count of EV (or total), smallest first
  -d, --descending EV    sort rows by the count of EV (or total), largest first (default:
                         total)
  -z, --zero             show rows and columns that are all zero
  -v, --verbose          say more while setting up
  -r, --recursive        watch every directory below the paths, and new ones as they appear
  -P, --no-dereference   do not follow symlinks
  --fromfile FILE        read paths (and @exclusions) from FILE, one per line (-: stdin)
  --exclude RE, --excludei RE   skip events on paths matching RE (i: ignoring case)
  --include RE, --includei RE   count only events on paths matching RE
exit status: 0 done, 1 an error
";

/// How rows are sorted: by which count (0: the total), and whether ascending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sort {
    /// The event bit, or 0 for the total.
    pub key: u32,
    /// Smallest first.
    pub ascending: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-v` was given.
    pub verbose: bool,
    /// `-z` was given.
    pub zero: bool,
    /// `-a` / `-d`.
    pub sort: Sort,
    /// Warnings to print before running (a repeated `--exclude`).
    pub warnings: String,
    /// The options both tools take (`-t` is how long to count).
    pub common: CommonOptions,
}

/// What to do after parsing.
pub type Command = crate::cli::Command<Options>;

/// `inotifywatch`'s own options.
const OWN: &[Opt] = &[
    Opt {
        short: Some('v'),
        long: "verbose",
        value: false,
    },
    Opt {
        short: Some('z'),
        long: "zero",
        value: false,
    },
    Opt {
        short: Some('a'),
        long: "ascending",
        value: true,
    },
    Opt {
        short: Some('d'),
        long: "descending",
        value: true,
    },
];

/// Event counts per watch, by wd: the total and one count per [`TABLE_EVENTS`] column.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Per wd.
    rows: std::collections::BTreeMap<i32, (u64, [u64; TABLE_EVENTS.len()])>,
}

impl Counts {
    /// Counts `ev` for its watch when `known` (events of unknown wds, as an overflow's, are
    /// not counted).
    pub fn add(&mut self, ev: &OwnedEvent, known: bool) {
        if !known {
            return;
        }
        let row = self.rows.entry(ev.wd).or_default();
        row.0 += 1;
        for (i, (bit, _)) in TABLE_EVENTS.iter().enumerate() {
            if ev.mask & bit != 0 {
                row.1[i] += 1;
            }
        }
    }

    /// The table for the watches `names` (every watch, by wd) counting `mask`'s events; an
    /// empty string when nothing was counted.
    pub fn table(
        &self,
        names: &std::collections::BTreeMap<i32, String>,
        mask: u32,
        zero: bool,
        sort: Sort,
    ) -> String {
        if self.rows.values().all(|r| r.0 == 0) {
            return String::new();
        }
        let total_of = |i: usize| self.rows.values().map(|r| r.1[i]).sum::<u64>();
        let cols: Vec<usize> = (0..TABLE_EVENTS.len())
            .filter(|&i| TABLE_EVENTS[i].0 & mask != 0 && (zero || total_of(i) > 0))
            .collect();
        let mut out = String::from("total  ");
        for &i in &cols {
            out.push_str(TABLE_EVENTS[i].1);
            out.push_str("  ");
        }
        out.push_str("filename\n");
        let empty = (0, [0; TABLE_EVENTS.len()]);
        let mut rows: Vec<(i32, &(u64, [u64; TABLE_EVENTS.len()]))> = names
            .keys()
            .map(|wd| (*wd, self.rows.get(wd).unwrap_or(&empty)))
            .filter(|(_, r)| zero || r.0 > 0)
            .collect();
        let key = |r: &(u64, [u64; TABLE_EVENTS.len()])| match sort.key {
            0 => r.0,
            bit => TABLE_EVENTS
                .iter()
                .position(|(b, _)| *b == bit)
                .map_or(0, |i| r.1[i]),
        };
        rows.sort_by(|a, b| {
            let (ka, kb) = (key(a.1), key(b.1));
            let by_key = if sort.ascending {
                ka.cmp(&kb)
            } else {
                kb.cmp(&ka)
            };
            by_key.then(a.0.cmp(&b.0))
        });
        for (wd, r) in rows {
            out.push_str(&format!("{:<5}  ", r.0));
            for &i in &cols {
                let w = TABLE_EVENTS[i].1.len();
                out.push_str(&format!("{:<w$}  ", r.1[i]));
            }
            out.push_str(&names[&wd]);
            out.push('\n');
        }
        out
    }
}

/// A sort key: `total` or one event (not `move` or `close`).
fn sort_key(v: &str) -> Result<u32, String> {
    if v.eq_ignore_ascii_case("total") {
        return Ok(0);
    }
    parse_list(v).map_err(|_| format!("'{v}' is not a valid key for sorting!\n"))
}

/// `inotifywatch`, for the binary's `main` and the tests.
pub struct Watch;

impl Tool for Watch {
    const NAME: &'static str = "inotifywatch";
    const USAGE: &'static str = USAGE;
    const CATCHES_STOP: bool = true;
    type Options = Options;

    fn parse(args: &[String]) -> Result<Command, String> {
        let Some((common, own)) = parse_common(Self::NAME, OWN, args)? else {
            return Ok(Command::Help);
        };
        let mut o = Options {
            common,
            ..Default::default()
        };
        let mut sort_set = false;
        for (name, value) in own {
            let v = value.unwrap_or_default();
            match name {
                "verbose" => o.verbose = true,
                "zero" => o.zero = true,
                "ascending" | "descending" => {
                    if sort_set {
                        return Err("Please specify -a or -d once only!\n".into());
                    }
                    let ascending = name == "ascending";
                    if ascending && v.eq_ignore_ascii_case("move") {
                        return Err(
                            "Cannot sort by `move' event; please use `moved_from' or `moved_to'.\n"
                                .into(),
                        );
                    }
                    if ascending && v.eq_ignore_ascii_case("close") {
                        return Err("Cannot sort by `close' event; please use `close_write' or `close_nowrite'.\n".into());
                    }
                    o.sort = Sort {
                        key: sort_key(&v)?,
                        ascending,
                    };
                    sort_set = ascending;
                }
                "warnings" => o.warnings = v,
                _ => {}
            }
        }
        let watched = if o.common.mask == 0 {
            IN_ALL_EVENTS
        } else {
            o.common.mask
        };
        if o.sort.key != 0 && o.sort.key & watched == 0 {
            return Err("Can't sort by an event which isn't being watched for!\n".into());
        }
        Ok(Command::Run(o))
    }

    /// The table to `io.out` when counting ends; messages to `io.err`.
    fn run<O: ToolOs>(os: O, opts: &Options, io: &mut Io<'_>) -> i32 {
        let _ = io.err.write_all(opts.warnings.as_bytes());
        let c = &opts.common;
        let mut session = match open_session(os, c, io.err) {
            Ok(s) => s,
            Err(code) => return code,
        };
        let asked = if c.mask == 0 { IN_ALL_EVENTS } else { c.mask };
        let mask = asked | if c.no_dereference { IN_DONT_FOLLOW } else { 0 };
        let (paths, exclude) = path_list(c, io.err);
        if paths.is_empty() {
            let _ = io.err.write_all(b"No files specified to watch!\n");
            return EXIT_ERROR;
        }
        let _ = io.err.write_all(b"Establishing watches...\n");
        for path in &paths {
            if c.recursive && opts.verbose {
                let _ = writeln!(io.err, "Setting up watch(es) on {path}");
            }
            let added = if c.recursive {
                session.watch_recursively(path, mask, &exclude)
            } else {
                session.watch_file(path, mask).map(drop)
            };
            if let Err(e) = added {
                let _ = io
                    .err
                    .write_all(watch_failure("Failed to watch", path, e).as_bytes());
                return EXIT_ERROR;
            }
            if c.recursive && opts.verbose {
                let _ = writeln!(io.err, "OK, {path} is now being watched.");
            }
        }
        if opts.verbose {
            let _ = writeln!(io.err, "Total of {} watches.", session.watch_count());
        }
        let _ = io
            .err
            .write_all(b"Finished establishing watches, now collecting statistics.\n");
        if c.timeout > 0 && opts.verbose {
            let _ = writeln!(io.err, "Will listen for events for {} seconds.", c.timeout);
        }
        (io.ready)();

        let deadline =
            (c.timeout > 0).then(|| Instant::now() + Duration::from_secs(c.timeout.into()));
        let mut counts = Counts::default();
        let mut moved_from = None;
        while !stopped(io.stop) {
            if io.print_now.swap(false, Ordering::SeqCst) {
                print_table(&counts, &session, opts, io);
                let _ = io.out.write_all(b"\n");
                let _ = io.out.flush();
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let ev = match session.next_event(left) {
                Ok(Some(ev)) => ev,
                Ok(None) => break,
                Err(e) if e.errno == EINTR => continue,
                Err(e) => {
                    let _ = writeln!(io.err, "{}", strerror(e));
                    return EXIT_ERROR;
                }
            };
            counts.add(&ev, session.watches().contains_key(&ev.wd));
            if c.recursive {
                let mut failures = Vec::new();
                session.follow_tree(&ev, mask, &mut moved_from, &mut |m| failures.push(m));
                for m in failures {
                    let _ = writeln!(io.err, "{m}");
                }
            }
        }
        print_table(&counts, &session, opts, io);
        let _ = io.out.flush();
        EXIT_EVENT
    }
}

/// Prints the table (or "No events occurred." to standard error).
fn print_table<O: ToolOs>(counts: &Counts, session: &Session<O>, opts: &Options, io: &mut Io<'_>) {
    let c = &opts.common;
    let asked = if c.mask == 0 { IN_ALL_EVENTS } else { c.mask };
    let table = counts.table(session.watches(), asked, opts.zero, opts.sort);
    if table.is_empty() {
        let _ = io.err.write_all(b"No events occurred.\n");
    } else {
        let _ = io.out.write_all(table.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inotify_abi::consts::*;
    use std::collections::BTreeMap;

    fn ev(wd: i32, mask: u32) -> OwnedEvent {
        OwnedEvent {
            wd,
            mask,
            cookie: 0,
            name: b"x".to_vec(),
        }
    }

    #[test]
    fn sort_keys_parse_as_inotify_tools_takes_them() {
        let parse =
            |s: &str| Watch::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>());
        let Ok(Command::Run(o)) = parse("-a modify -z -v -t 3 d") else {
            panic!()
        };
        assert_eq!(
            o.sort,
            Sort {
                key: IN_MODIFY,
                ascending: true
            }
        );
        assert!(o.zero && o.verbose);
        assert_eq!(o.common.timeout, 3);
        assert_eq!(
            parse("-a move d").unwrap_err(),
            "Cannot sort by `move' event; please use `moved_from' or `moved_to'.\n"
        );
        assert_eq!(
            parse("-d nope d").unwrap_err(),
            "'nope' is not a valid key for sorting!\n"
        );
        assert_eq!(
            parse("-e create -d modify d").unwrap_err(),
            "Can't sort by an event which isn't being watched for!\n"
        );
    }

    #[test]
    fn the_table_has_fixed_width_columns_and_counts_ignored_in_the_total() {
        let names = BTreeMap::from([
            (1, "dir/".to_string()),
            (2, "dir/file".to_string()),
            (3, "z".to_string()),
        ]);
        let mut c = Counts::default();
        for e in [
            ev(2, IN_MODIFY),
            ev(1, IN_CREATE),
            ev(1, IN_MODIFY),
            ev(1, IN_CLOSE_WRITE),
            ev(1, IN_CREATE | IN_ISDIR),
            ev(2, IN_IGNORED),
        ] {
            c.add(&e, true);
        }
        c.add(&ev(-1, IN_Q_OVERFLOW), false);
        assert_eq!(
            c.table(&names, IN_ALL_EVENTS, false, Sort::default()),
            "total  modify  close_write  create  filename\n\
             4      1       1            2       dir/\n\
             2      1       0            0       dir/file\n"
        );
        assert_eq!(
            c.table(
                &names,
                IN_MODIFY | IN_DELETE,
                true,
                Sort {
                    key: IN_MODIFY,
                    ascending: true
                }
            ),
            "total  modify  delete  filename\n\
             0      0       0       z\n\
             4      1       0       dir/\n\
             2      1       0       dir/file\n"
        );
        assert_eq!(
            Counts::default().table(&names, IN_ALL_EVENTS, false, Sort::default()),
            ""
        );
    }
}
