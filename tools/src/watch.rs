//! `inotifywatch`: counts the events on each watched path for a while, then prints a table.
//!
//! ```text
//! inotifywatch [-t SECONDS] [-e EVENT[,EVENT...]]... PATH...
//! ```
//!
//! Events are counted per watched path (events about a directory's children count for the
//! directory), one column per event kind that occurred, rows sorted by total (most first,
//! then by path). Collection stops after `-t` seconds, or when every watch is gone.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use inotify_abi::consts::IN_IGNORED;
use inotify_client::{Os, OwnedEvent};

use crate::cli::{parse_common, CommonOptions, Setup, Started, Tool};
use crate::events::SINGLE_EVENTS;
use crate::{next_events, EXIT_ERROR, EXIT_EVENT};

/// The usage text (`-h`).
pub const USAGE: &str = "\
usage: inotifywatch [-t SECONDS] [-e EVENT[,EVENT...]]... PATH...
  -t, --timeout N     collect for N seconds (default, or 0: until every watch is gone)
  -e, --event LIST    events to count (default: all); names as for inotifywait
  -r, --recursive     not supported (watch each directory explicitly)
";

/// What the command line asks for: only the options both tools take (`-t` is how long to
/// collect; `None` or 0: until every watch is gone).
pub type Options = CommonOptions;

/// What to do after parsing.
pub type Command = crate::cli::Command<Options>;

/// Event counts per watch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Per wd: events in all, and per kind (indexed like [`SINGLE_EVENTS`]).
    rows: BTreeMap<i32, (u64, [u64; SINGLE_EVENTS.len()])>,
}

impl Counts {
    /// Counts `ev` (overflow and `IN_IGNORED` records are not counted).
    pub fn add(&mut self, ev: &OwnedEvent) {
        let kinds: Vec<usize> = SINGLE_EVENTS
            .iter()
            .enumerate()
            .filter(|(_, (bit, _))| ev.mask & bit != 0)
            .map(|(i, _)| i)
            .collect();
        if kinds.is_empty() || ev.wd < 0 {
            return;
        }
        let row = self.rows.entry(ev.wd).or_default();
        row.0 += 1;
        for i in kinds {
            row.1[i] += 1;
        }
    }

    /// The table: `total`, one column per event kind that occurred, `filename`; rows by
    /// total, most first. "No events occurred." when there are none.
    pub fn table(&self, names: &BTreeMap<i32, String>) -> String {
        if self.rows.is_empty() {
            return "No events occurred.\n".to_string();
        }
        let used: Vec<usize> = (0..SINGLE_EVENTS.len())
            .filter(|&i| self.rows.values().any(|r| r.1[i] > 0))
            .collect();
        let mut rows: Vec<(u64, Vec<u64>, String)> = self
            .rows
            .iter()
            .map(|(wd, (total, per))| {
                let name = names.get(wd).cloned().unwrap_or_else(|| wd.to_string());
                (*total, used.iter().map(|&i| per[i]).collect(), name)
            })
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2)));

        let mut heads = vec!["total".to_string()];
        heads.extend(used.iter().map(|&i| SINGLE_EVENTS[i].1.to_string()));
        let mut widths: Vec<usize> = heads.iter().map(String::len).collect();
        for (total, per, _) in &rows {
            let cells = std::iter::once(total).chain(per.iter());
            for (w, v) in widths.iter_mut().zip(cells) {
                *w = (*w).max(v.to_string().len());
            }
        }
        let mut out = String::new();
        let push_row = |out: &mut String, cells: Vec<String>, name: &str| {
            for (cell, w) in cells.iter().zip(&widths) {
                out.push_str(&format!("{cell:<w$}  "));
            }
            out.push_str(name);
            out.push('\n');
        };
        push_row(&mut out, heads, "filename");
        for (total, per, name) in rows {
            let cells = std::iter::once(total)
                .chain(per)
                .map(|v| v.to_string())
                .collect();
            push_row(&mut out, cells, &name);
        }
        out
    }
}

/// `inotifywatch`, for the binary's `main` and the tests.
pub struct Watch;

impl Tool for Watch {
    const NAME: &'static str = "inotifywatch";
    const USAGE: &'static str = USAGE;
    type Options = Options;

    fn parse(args: &[String]) -> Result<Command, String> {
        Ok(match parse_common(args, &mut |_| false)? {
            Some(opts) => Command::Run(opts),
            None => Command::Help,
        })
    }

    /// The table to `out` once collection ends; set-up messages and errors to `err`.
    fn run<O: Os>(
        os: O,
        opts: &Options,
        out: &mut dyn Write,
        err: &mut dyn Write,
        ready: &mut dyn FnMut(),
    ) -> i32 {
        let setup = Setup {
            prog: Watch::NAME,
            opts,
            before: Some("Establishing watches..."),
            after: Some("Finished establishing watches, now collecting statistics."),
            report_failures: true,
        };
        let Started {
            ino,
            names,
            timeout,
        } = match setup.start(os, err, ready) {
            Ok(started) => started,
            Err(code) => return code,
        };

        let deadline = timeout.map(|t| Instant::now() + t);
        let mut counts = Counts::default();
        let mut live = names.len();
        let mut buf = vec![0u8; 64 * 1024];
        while live > 0 {
            match next_events(&ino, &mut buf, deadline) {
                Ok(Some(events)) => {
                    for ev in &events {
                        counts.add(ev);
                        if ev.mask & IN_IGNORED != 0 && names.contains_key(&ev.wd) {
                            live -= 1;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = writeln!(err, "inotifywatch: read: {e}");
                    return EXIT_ERROR;
                }
            }
        }
        let _ = out.write_all(counts.table(&names).as_bytes());
        let _ = out.flush();
        EXIT_EVENT
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inotify_abi::consts::*;

    fn ev(wd: i32, mask: u32) -> OwnedEvent {
        OwnedEvent {
            wd,
            mask,
            cookie: 0,
            name: b"x".to_vec(),
        }
    }

    #[test]
    fn parses_options() {
        let args: Vec<String> = ["-t", "3", "-e", "modify", "d"].map(String::from).to_vec();
        assert_eq!(
            Watch::parse(&args),
            Ok(Command::Run(Options {
                timeout: Some(3),
                mask: IN_MODIFY,
                recursive: false,
                paths: vec!["d".into()],
            }))
        );
        assert_eq!(Watch::parse(&[]), Err("no files specified to watch".into()));
    }

    #[test]
    fn table_columns_and_order() {
        let names = BTreeMap::from([(1, "dir/".to_string()), (2, "dir/file".to_string())]);
        let mut c = Counts::default();
        for e in [
            ev(2, IN_MODIFY),
            ev(1, IN_CREATE),
            ev(1, IN_MODIFY),
            ev(1, IN_CLOSE_WRITE),
            ev(1, IN_CREATE | IN_ISDIR),
            ev(-1, IN_Q_OVERFLOW),
            ev(2, IN_IGNORED),
        ] {
            c.add(&e);
        }
        assert_eq!(
            c.table(&names),
            "total  modify  close_write  create  filename\n\
             4      1       1            2       dir/\n\
             1      1       0            0       dir/file\n"
        );
        assert_eq!(Counts::default().table(&names), "No events occurred.\n");
    }
}
