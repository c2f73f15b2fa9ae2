//! `inotify-smoke DIR`: an end-to-end check of inotify on Redox, run inside Redox.
//!
//! Each step performs file operations with std under a fresh directory in `DIR` (which must
//! be on a filesystem with the inotify feed, i.e. the patched redoxfs) and compares the events
//! read from `/scheme/inotify` through the client API with the sequence Linux produces for the
//! same operations. Prints one `ok`/`FAIL` line per step and `N passed, M failed` last; exits
//! with status 1 when a step failed. On other systems it only says so (exit status 2).
//!
//! See docs/redox.md, "Tests inside Redox QEMU".

#[cfg(target_os = "redox")]
fn main() -> std::process::ExitCode {
    smoke::main()
}

#[cfg(not(target_os = "redox"))]
fn main() -> std::process::ExitCode {
    eprintln!("inotify-smoke runs on Redox only (it uses /scheme/inotify); on this system run `make test`.");
    std::process::ExitCode::from(2)
}

#[cfg(target_os = "redox")]
mod smoke {
    use std::fs;
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;
    use std::process::ExitCode;
    use std::time::{Duration, Instant};

    use inotify_abi::consts::{IN_ALL_EVENTS, IN_MOVED_FROM, IN_MOVED_TO};
    use inotify_client::RedoxOs;
    use inotify_client::{format, Inotify, OwnedEvent, IN_NONBLOCK};

    /// How long a step waits for its events (the daemon pulls the feed asynchronously).
    const WAIT: Duration = Duration::from_secs(2);

    /// One step: a name, the operations, and the expected event lines.
    struct Step {
        /// Printed with the verdict.
        name: &'static str,
        /// The operations, on the step's directory.
        run: fn(&str) -> std::io::Result<()>,
        /// Expected lines, `format::event` style, with the directory watch named `d/` and a
        /// watch on `d/f` named `f`.
        expect: &'static [&'static str],
        /// Create `d/f` (5 bytes) before the watches are added.
        file_before: bool,
        /// Also watch `d/f`.
        watch_file: bool,
    }

    /// The steps, each on a fresh directory. The expected sequences are what Linux 6.18 gives
    /// for the same operations (checked with its own inotify).
    const STEPS: &[Step] = &[
        Step {
            name: "create and write a file",
            run: |d| fs::File::create(format!("{d}/f"))?.write_all(b"hello"),
            expect: &[
                "d/ CREATE f",
                "d/ OPEN f",
                "d/ MODIFY f",
                "d/ CLOSE_WRITE f",
            ],
            file_before: false,
            watch_file: false,
        },
        Step {
            name: "read a file",
            run: |d| {
                let mut s = String::new();
                fs::File::open(format!("{d}/f"))?.read_to_string(&mut s)?;
                Ok(())
            },
            expect: &[
                "d/ OPEN f",
                "f OPEN",
                "d/ ACCESS f",
                "f ACCESS",
                "d/ CLOSE_NOWRITE f",
                "f CLOSE_NOWRITE",
            ],
            file_before: true,
            watch_file: true,
        },
        Step {
            name: "mkdir and rmdir",
            run: |d| {
                fs::create_dir(format!("{d}/sub"))?;
                fs::remove_dir(format!("{d}/sub"))
            },
            expect: &["d/ CREATE,ISDIR sub", "d/ DELETE,ISDIR sub"],
            file_before: false,
            watch_file: false,
        },
        Step {
            name: "chmod",
            run: |d| fs::set_permissions(format!("{d}/f"), fs::Permissions::from_mode(0o600)),
            expect: &["d/ ATTRIB f", "f ATTRIB"],
            file_before: true,
            watch_file: true,
        },
        Step {
            name: "rename within the directory",
            run: |d| fs::rename(format!("{d}/f"), format!("{d}/g")),
            expect: &["d/ MOVED_FROM f", "d/ MOVED_TO g", "f MOVE_SELF"],
            file_before: true,
            watch_file: true,
        },
        Step {
            name: "unlink the last link",
            run: |d| fs::remove_file(format!("{d}/f")),
            expect: &["f ATTRIB", "f DELETE_SELF", "f IGNORED", "d/ DELETE f"],
            file_before: true,
            watch_file: true,
        },
    ];

    /// Runs every step under `DIR` (first argument, default `/tmp`).
    pub fn main() -> ExitCode {
        let base = std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp".to_string());
        let (mut passed, mut failed) = (0, 0);
        for (i, step) in STEPS.iter().enumerate() {
            let dir = format!("{base}/inotify-smoke-{}-{i}", std::process::id());
            match run_step(step, &dir) {
                Ok(()) => {
                    passed += 1;
                    println!("ok - {}", step.name);
                }
                Err(why) => {
                    failed += 1;
                    println!("FAIL - {}: {why}", step.name);
                }
            }
            let _ = fs::remove_dir_all(&dir);
        }
        println!("{passed} passed, {failed} failed");
        if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    /// Sets up `dir`, watches it (and `dir/f`), runs the step, compares the events.
    fn run_step(step: &Step, dir: &str) -> Result<(), String> {
        fs::create_dir(dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
        if step.file_before {
            fs::write(format!("{dir}/f"), b"hello").map_err(|e| format!("setup: {e}"))?;
        }
        let ino =
            Inotify::init1(RedoxOs, IN_NONBLOCK).map_err(|e| format!("inotify_init1: {e}"))?;
        let dir_wd = ino
            .add_watch(dir, IN_ALL_EVENTS)
            .map_err(|e| format!("add_watch {dir}: {e}"))?;
        let file_wd = if step.watch_file {
            let path = format!("{dir}/f");
            Some(
                ino.add_watch(&path, IN_ALL_EVENTS)
                    .map_err(|e| format!("add_watch {path}: {e}"))?,
            )
        } else {
            None
        };
        (step.run)(dir).map_err(|e| format!("operation: {e}"))?;
        let events = collect(&ino, step.expect.len())?;
        let got: Vec<String> = events
            .iter()
            .map(|ev| {
                let watch = if ev.wd == dir_wd {
                    "d/"
                } else if Some(ev.wd) == file_wd {
                    "f"
                } else {
                    "?"
                };
                format::event(watch, ev)
            })
            .collect();
        if got != step.expect {
            return Err(format!("expected {:?}, got {:?}", step.expect, got));
        }
        check_cookies(&events)
    }

    /// Waits (without polling) until `want` events arrived or [`WAIT`] passed, then takes
    /// whatever is already queued, to catch extras.
    fn collect(ino: &Inotify<RedoxOs>, want: usize) -> Result<Vec<OwnedEvent>, String> {
        let mut buf = [0u8; 4096];
        let mut events = Vec::new();
        let deadline = Instant::now() + WAIT;
        loop {
            let left = if events.len() >= want {
                Duration::ZERO
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            match ino.read_events_timeout(&mut buf, Some(left)) {
                Ok(Some(evs)) => events.extend(evs),
                Ok(None) => break,
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        Ok(events)
    }

    /// A MOVED_FROM and the MOVED_TO after it share one non-zero cookie.
    fn check_cookies(events: &[OwnedEvent]) -> Result<(), String> {
        let from = events.iter().find(|e| e.mask & IN_MOVED_FROM != 0);
        let to = events.iter().find(|e| e.mask & IN_MOVED_TO != 0);
        match (from, to) {
            (Some(f), Some(t)) if f.cookie == 0 || f.cookie != t.cookie => Err(format!(
                "rename cookies differ or are zero: {} and {}",
                f.cookie, t.cookie
            )),
            _ => Ok(()),
        }
    }
}
