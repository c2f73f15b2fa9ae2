//! `guest-checks DIR` (or `guest-checks --observe SECS`, see `observe`): inotify behaviours checked inside Redox that `inotify-smoke` leaves out.
//! Each check prints `ok`/`FAIL` with the events received; the last line is
//! `guest-checks: N passed, M failed`. The expected sequences are Linux 6.18's for the same
//! operations.

#[cfg(target_os = "redox")]
fn main() -> std::process::ExitCode {
    checks::main()
}

#[cfg(not(target_os = "redox"))]
fn main() -> std::process::ExitCode {
    eprintln!("guest-checks runs on Redox only");
    std::process::ExitCode::from(2)
}

#[cfg(target_os = "redox")]
mod checks {
    use std::fs;
    use std::process::ExitCode;
    use std::time::{Duration, Instant};

    use inotify_abi::consts::{
        IN_ALL_EVENTS, IN_CLOSE_WRITE, IN_CREATE, IN_MOVED_FROM, IN_MOVED_TO,
    };
    use inotify_client::{format, Inotify, OwnedEvent, RedoxOs, IN_NONBLOCK};
    use syscall::error::EAGAIN;

    /// How long a check waits for its events.
    const WAIT: Duration = Duration::from_secs(2);
    /// How long a check may make no progress before the watchdog reports it.
    const STALL: Duration = Duration::from_secs(20);

    pub fn main() -> ExitCode {
        let base = std::env::args().nth(1).unwrap_or_else(|| "/tmp".into());
        if base == "--observe" {
            return observe(std::env::args().nth(2));
        }
        let dir = format!("{base}/guest-checks-{}", std::process::id());
        let (mut passed, mut failed) = (0, 0);
        let progress = watchdog();
        for (name, check) in [
            (
                "unlink while open, then close",
                unlink_while_open as fn(&str) -> Result<(), String>,
            ),
            (
                "a new file does not get the wd of a file unlinked while open",
                new_wd_after_delete,
            ),
            (
                "inotifywait -m prints inotify-tools' lines",
                inotifywait_lines,
            ),
            (
                "a timed wait with nothing to read ends at its timeout",
                timed_wait_ends,
            ),
            (
                "inotifywait -t 1 exits with status 2 when idle",
                inotifywait_timeout,
            ),
            (
                "a user cannot watch a directory only root may read",
                unreadable_dir,
            ),
            (
                "a subtree watch reports what is made in brand-new and moved-in directories",
                subtree_watch,
            ),
            (
                "inotifywait -r reports files made in directories made after it started",
                inotifywait_recursive,
            ),
        ] {
            progress.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = fs::remove_dir_all(&dir);
            let r = fs::create_dir(&dir)
                .map_err(|e| format!("mkdir {dir}: {e}"))
                .and_then(|()| check(&dir));
            match r {
                Ok(()) => {
                    passed += 1;
                    println!("ok - {name}");
                }
                Err(why) => {
                    failed += 1;
                    println!("FAIL - {name}: {why}");
                }
            }
        }
        let _ = fs::remove_dir_all(&dir);
        println!("guest-checks: {passed} passed, {failed} failed");
        if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    /// `guest-checks --observe SECS` (started before other programs, asynchronously): after
    /// SECS seconds, reports what the watchdog reports, for whatever runs then.
    fn observe(secs: Option<String>) -> ExitCode {
        let secs = secs.and_then(|s| s.parse().ok()).unwrap_or(30);
        std::thread::sleep(Duration::from_secs(secs));
        println!("# observer after {secs} s");
        report();
        ExitCode::SUCCESS
    }

    /// Prints a `/scheme/zero` read (the kernel and a trivial scheme answer) and inotifyd's
    /// status view (inotifyd answers).
    fn report() {
        use std::io::Read;
        let mut b = [0u8; 1];
        let zero = fs::File::open("/scheme/zero").and_then(|mut f| f.read_exact(&mut b));
        println!("# /scheme/zero read: {zero:?}");
        match fs::read_to_string("/scheme/inotify/status") {
            Ok(text) => text.lines().for_each(|l| println!("# status: {l}")),
            Err(e) => println!("# status: {e}"),
        }
    }

    /// A thread that reports a check making no progress for [`STALL`]: the check's number, a
    /// `/scheme/zero` read (the kernel and a trivial scheme answer), then inotifyd's status
    /// view (inotifyd answers). Returns the counter the checks advance.
    fn watchdog() -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let progress = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = progress.clone();
        std::thread::spawn(move || {
            let mut last = usize::MAX;
            loop {
                std::thread::sleep(STALL);
                let now = seen.load(SeqCst);
                if now != last {
                    last = now;
                    continue;
                }
                println!("# check {now} made no progress in {STALL:?}");
                report();
            }
        });
        progress
    }

    fn watch_dir_and_file(dir: &str) -> Result<(Inotify<RedoxOs>, i32, i32), String> {
        fs::write(format!("{dir}/f"), b"hello").map_err(|e| format!("write: {e}"))?;
        let ino = Inotify::init1(RedoxOs, IN_NONBLOCK).map_err(|e| format!("init1: {e}"))?;
        let d = ino
            .add_watch(dir, IN_ALL_EVENTS)
            .map_err(|e| format!("add_watch d: {e}"))?;
        let f = ino
            .add_watch(&format!("{dir}/f"), IN_ALL_EVENTS)
            .map_err(|e| format!("add_watch f: {e}"))?;
        Ok((ino, d, f))
    }

    fn lines(events: &[OwnedEvent], d: i32, f: i32) -> Vec<String> {
        events
            .iter()
            .map(|ev| {
                let w = if ev.wd == d {
                    "d/"
                } else if ev.wd == f {
                    "f"
                } else {
                    "?"
                };
                format::event(w, ev)
            })
            .collect()
    }

    /// Linux: the unlink reports ATTRIB (link count) and DELETE; DELETE_SELF and IGNORED
    /// follow the last close.
    fn unlink_while_open(dir: &str) -> Result<(), String> {
        let (ino, d, f) = watch_dir_and_file(dir)?;
        let file = fs::File::open(format!("{dir}/f")).map_err(|e| format!("open: {e}"))?;
        fs::remove_file(format!("{dir}/f")).map_err(|e| format!("unlink: {e}"))?;
        drop(file);
        let expect = [
            "d/ OPEN f",
            "f OPEN",
            "f ATTRIB",
            "d/ DELETE f",
            "d/ CLOSE_NOWRITE f",
            "f CLOSE_NOWRITE",
            "f DELETE_SELF",
            "f IGNORED",
        ];
        let got = lines(&collect(&ino, expect.len())?, d, f);
        if got != expect {
            return Err(format!("expected {expect:?}, got {got:?}"));
        }
        Ok(())
    }

    /// After `f` is deleted while open and closed (its watch gone), a watch on a new file must
    /// not come back with `f`'s wd, even when the filesystem reuses the inode number.
    fn new_wd_after_delete(dir: &str) -> Result<(), String> {
        let (ino, _d, f) = watch_dir_and_file(dir)?;
        let file = fs::File::open(format!("{dir}/f")).map_err(|e| format!("open: {e}"))?;
        fs::remove_file(format!("{dir}/f")).map_err(|e| format!("unlink: {e}"))?;
        drop(file);
        let _ = collect(&ino, 8)?;
        fs::write(format!("{dir}/g"), b"x").map_err(|e| format!("write g: {e}"))?;
        let g = ino
            .add_watch(&format!("{dir}/g"), IN_ALL_EVENTS)
            .map_err(|e| format!("add_watch g: {e}"))?;
        if g == f {
            return Err(format!("g got f's wd {f}"));
        }
        Ok(())
    }

    /// `inotifywait -m DIR` while a file is created, written, renamed and removed and a
    /// directory made and removed; the lines inotify-tools 3.22.6 prints on Linux 6.18.
    fn inotifywait_lines(dir: &str) -> Result<(), String> {
        let got = inotifywait_around(&["-m", dir], dir, || {
            fs::write(format!("{dir}/f"), b"hello")?;
            fs::create_dir(format!("{dir}/sub"))?;
            fs::remove_dir(format!("{dir}/sub"))?;
            fs::rename(format!("{dir}/f"), format!("{dir}/g"))?;
            fs::remove_file(format!("{dir}/g"))
        })?;
        let expect = [
            "DIR/ CREATE f",
            "DIR/ OPEN f",
            "DIR/ MODIFY f",
            "DIR/ CLOSE_WRITE,CLOSE f",
            "DIR/ CREATE,ISDIR sub",
            "DIR/ DELETE,ISDIR sub",
            "DIR/ MOVED_FROM f",
            "DIR/ MOVED_TO g",
            "DIR/ DELETE g",
        ];
        if got != expect {
            return Err(format!("expected {expect:?}, got {got:?}"));
        }
        Ok(())
    }

    /// `read_events_timeout` on an instance nothing happens to returns `None` once its
    /// timeout has passed, not before it and not much later (the timer of the `time` scheme).
    fn timed_wait_ends(dir: &str) -> Result<(), String> {
        let ino = Inotify::init1(RedoxOs, IN_NONBLOCK).map_err(|e| format!("init1: {e}"))?;
        ino.add_watch(dir, IN_ALL_EVENTS)
            .map_err(|e| format!("add_watch: {e}"))?;
        let mut buf = [0u8; 4096];
        let wait = Duration::from_millis(500);
        let start = Instant::now();
        let r = ino
            .read_events_timeout(&mut buf, Some(wait))
            .map_err(|e| format!("read: {e}"))?;
        let took = start.elapsed();
        println!("# timed wait of {wait:?} returned after {took:?}");
        if let Some(evs) = r {
            return Err(format!("expected no events, got {}", evs.len()));
        }
        if took < wait || took > wait * 3 {
            return Err(format!("returned after {took:?} for a timeout of {wait:?}"));
        }
        Ok(())
    }

    /// inotify-tools' `inotifywait -t 1 DIR` with no event: exit status 2 after the second,
    /// nothing on standard output.
    fn inotifywait_timeout(dir: &str) -> Result<(), String> {
        use std::process::{Command, Stdio};
        let start = Instant::now();
        // A pipe for stdin: `output()` would open /dev/null, which this image does not have.
        let out = Command::new("inotifywait")
            .args(["-t", "1", dir])
            .stdin(Stdio::piped())
            .output()
            .map_err(|e| format!("run inotifywait: {e}"))?;
        let took = start.elapsed();
        println!("# inotifywait -t 1 exited after {took:?}");
        if out.status.code() != Some(2) || !out.stdout.is_empty() {
            return Err(format!(
                "expected status 2 and no output, got {:?} and {:?}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        if took < Duration::from_secs(1) || took > Duration::from_secs(4) {
            return Err(format!("exited after {took:?}"));
        }
        Ok(())
    }

    /// As uid/gid 1000, `inotifywait -t 1` on a root-owned 0700 directory fails as
    /// inotify-tools does on Linux (status 1, `Couldn't watch P: Permission denied`), and on
    /// its 0755 parent it watches (status 2 at the timeout). The permission comes from the
    /// filesystem's answer to the daemon's identity call.
    fn unreadable_dir(dir: &str) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        let private = format!("{dir}/p");
        fs::create_dir(&private).map_err(|e| format!("mkdir: {e}"))?;
        fs::set_permissions(&private, fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("chmod p: {e}"))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod dir: {e}"))?;
        let run = |path: &str| {
            Command::new("inotifywait")
                .args(["-t", "1", path])
                .uid(1000)
                .gid(1000)
                .stdin(Stdio::piped())
                .output()
                .map_err(|e| format!("run inotifywait as uid 1000: {e}"))
        };
        let out = run(&private)?;
        let err = String::from_utf8_lossy(&out.stderr);
        let want = format!("Couldn't watch {private}: Permission denied");
        if out.status.code() != Some(1) || !err.lines().any(|l| l == want) {
            return Err(format!(
                "{private}: expected status 1 and {want:?}, got {:?} and {err:?}",
                out.status.code()
            ));
        }
        let out = run(dir)?;
        if out.status.code() != Some(2) {
            return Err(format!(
                "{dir}: expected status 2, got {:?} and {:?}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// Waits (blocking, with the client's timed wait) until `want` events have arrived or
    /// [`WAIT`] has passed, then takes whatever else is already queued.
    /// One `IN_SUBTREE` watch (docs/semantics.md, "Beyond Linux"): a tree that existed before
    /// the watch, directories made after it (`mkdir -p`), a directory moved within the tree
    /// and one moved out; every event below the root carries its path from the root.
    fn subtree_watch(dir: &str) -> Result<(), String> {
        let io = |what: &str, r: std::io::Result<()>| r.map_err(|e| format!("{what}: {e}"));
        io("mkdir x/y", fs::create_dir_all(format!("{dir}/x/y")))?;
        let ino = Inotify::init1(RedoxOs, IN_NONBLOCK).map_err(|e| format!("init1: {e}"))?;
        let mask = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO;
        let wd = ino
            .add_subtree_watch(dir, mask)
            .map_err(|e| format!("add_subtree_watch: {e}"))?;
        io("mkdir -p a/b/c", fs::create_dir_all(format!("{dir}/a/b/c")))?;
        io("write a/b/c/f", fs::write(format!("{dir}/a/b/c/f"), b"f"))?;
        io("write x/y/g", fs::write(format!("{dir}/x/y/g"), b"g"))?;
        io(
            "rename a/b x/b2",
            fs::rename(format!("{dir}/a/b"), format!("{dir}/x/b2")),
        )?;
        io("write x/b2/c/h", fs::write(format!("{dir}/x/b2/c/h"), b"h"))?;
        let out = format!("{dir}-out");
        io("rename x/b2 out", fs::rename(format!("{dir}/x/b2"), &out))?;
        io("write out/c/i", fs::write(format!("{out}/c/i"), b"i"))?;
        let _ = fs::remove_dir_all(&out);
        let expect = [
            "d/ CREATE,ISDIR a",
            "d/ CREATE,ISDIR a/b",
            "d/ CREATE,ISDIR a/b/c",
            "d/ CREATE a/b/c/f",
            "d/ CLOSE_WRITE a/b/c/f",
            "d/ CREATE x/y/g",
            "d/ CLOSE_WRITE x/y/g",
            "d/ MOVED_FROM,ISDIR a/b",
            "d/ MOVED_TO,ISDIR x/b2",
            "d/ CREATE x/b2/c/h",
            "d/ CLOSE_WRITE x/b2/c/h",
            "d/ MOVED_FROM,ISDIR x/b2",
        ];
        let events = collect(&ino, expect.len() + 1)?;
        let got: Vec<String> = events
            .iter()
            .map(|ev| format::event(if ev.wd == wd { "d/" } else { "?" }, ev))
            .collect();
        if got != expect {
            return Err(format!("expected {expect:?}, got {got:?}"));
        }
        let (from, to) = (&events[7], &events[8]);
        if from.cookie == 0 || from.cookie != to.cookie {
            return Err(format!("move cookies {} and {}", from.cookie, to.cookie));
        }
        Ok(())
    }

    /// `inotifywait -r` on Redox takes one subtree watch: a file made in a directory made
    /// (with its parents) after the watches were established is reported, from its own
    /// directory, as inotify-tools prints it.
    fn inotifywait_recursive(dir: &str) -> Result<(), String> {
        let got = inotifywait_around(&["-r", "-m", "-e", "create", dir], dir, || {
            fs::create_dir_all(format!("{dir}/a/b/c"))?;
            fs::write(format!("{dir}/a/b/c/f"), b"f")
        })?;
        let expect = [
            "DIR/ CREATE,ISDIR a",
            "DIR/a/ CREATE,ISDIR b",
            "DIR/a/b/ CREATE,ISDIR c",
            "DIR/a/b/c/ CREATE f",
        ];
        if got != expect {
            return Err(format!("expected {expect:?}, got {got:?}"));
        }
        Ok(())
    }

    /// Runs `inotifywait ARGS` (a monitor), waits until it says its watches are established,
    /// runs `ops`, gives it half a second, stops it, and returns its standard output lines
    /// with `dir` written `DIR`.
    fn inotifywait_around(
        args: &[&str],
        dir: &str,
        ops: impl FnOnce() -> std::io::Result<()>,
    ) -> Result<Vec<String>, String> {
        use std::io::{BufRead, BufReader, Read};
        use std::process::{Command, Stdio};
        let mut child = Command::new("inotifywait")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn inotifywait: {e}"))?;
        let mut err = BufReader::new(child.stderr.take().ok_or("no stderr")?);
        let mut line = String::new();
        loop {
            line.clear();
            match err.read_line(&mut line) {
                Ok(0) => return Err("inotifywait exited before its watches were up".into()),
                Ok(_) if line.contains("Watches established") => break,
                Ok(_) => {}
                Err(e) => return Err(format!("read stderr: {e}")),
            }
        }
        let r = ops();
        std::thread::sleep(Duration::from_millis(500));
        let _ = child.kill();
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        let _ = child.wait();
        r.map_err(|e| format!("operation: {e}"))?;
        Ok(out.lines().map(|l| l.replace(dir, "DIR")).collect())
    }

    fn collect(ino: &Inotify<RedoxOs>, want: usize) -> Result<Vec<OwnedEvent>, String> {
        let mut buf = [0u8; 8192];
        let mut events = Vec::new();
        let deadline = Instant::now() + WAIT;
        while events.len() < want {
            let left = deadline.saturating_duration_since(Instant::now());
            match ino.read_events_timeout(&mut buf, Some(left)) {
                Ok(Some(evs)) => events.extend(evs),
                Ok(None) => break,
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        loop {
            match ino.read_events(&mut buf) {
                Ok(evs) => events.extend(evs),
                Err(e) if e.errno == EAGAIN => break,
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        Ok(events)
    }
}
