//! `inotifyd-demo`: inotifyd serving a real host directory, a workload, the events shown.
//!
//! Usage: `inotifyd-demo [DIR]` (default: a fresh temporary directory, removed at the end).
//!
//! On a host it starts the in-process kernel, a `HostFs` over DIR registered as the `file`
//! scheme, and inotifyd. A watcher watches `DIR/demo/` (and later a file and a
//! subdirectory in it) and prints every event the way `inotifywait -m` users expect:
//! `<watched path> EVENT[,FLAGS] [name]`, with the cookie of moves. A separate non-root
//! process makes the changes, through the same system calls a Redox program makes.
//!
//! With `INTERPOSE=1` in the environment (`make demo INTERPOSE=1`) the directory is served
//! by a `HostFs` without a feed and the interposer stands in front of it as `file`.
//!
//! On Redox there is nothing to emulate: the binary says so and exits.

#[cfg(target_os = "redox")]
fn main() {
    println!("inotifyd-demo emulates a Redox kernel on a host; on Redox, run inotifyd itself");
    println!("and use inotifywait (or any inotify program) against /scheme/inotify.");
}

#[cfg(not(target_os = "redox"))]
fn main() {
    match host::run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("inotifyd-demo: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(not(target_os = "redox"))]
mod host {
    use std::collections::BTreeMap;
    use std::os::unix::fs::MetadataExt;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use inotify_abi::consts::{IN_ALL_EVENTS, IN_MOVED_FROM, IN_MOVED_TO};
    use inotify_client::{format, Inotify, OwnedEvent, IN_NONBLOCK};
    use inotify_host::harness::Harness;
    use inotify_host::hostfs::HostFs;
    use inotify_host::interposed::InterposerThread;
    use inotify_host::Kernel;
    use inotify_host::Process;
    use syscall::flag::{O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};

    /// Why the demo stopped.
    type DemoResult<T> = Result<T, String>;

    /// Formats a Redox error from step `what`.
    fn err(what: &str) -> impl Fn(syscall::error::Error) -> String + '_ {
        move |e| format!("{what}: {e}")
    }

    /// The served directory, removed at the end when the demo made it.
    struct Root {
        /// Host path.
        path: PathBuf,
        /// Whether the demo created it (and removes it).
        ours: bool,
    }

    impl Drop for Root {
        fn drop(&mut self) {
            if self.ours {
                let _ = std::fs::remove_dir_all(&self.path);
            }
        }
    }

    /// The directory to serve: the argument, or a fresh temporary directory.
    fn root_dir() -> DemoResult<Root> {
        if let Some(arg) = std::env::args_os().nth(1) {
            let path = PathBuf::from(arg);
            if !path.is_dir() {
                return Err(format!("{} is not a directory", path.display()));
            }
            return Ok(Root { path, ours: false });
        }
        let path = std::env::temp_dir().join(format!("inotifyd-demo-{}", std::process::id()));
        std::fs::create_dir(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Root { path, ours: true })
    }

    /// The credentials of the workload: a plain user when the demo runs as root (files are
    /// then given to it), else the host's own ids.
    fn workload_ids() -> (u32, u32) {
        match std::fs::metadata("/proc/self") {
            Ok(m) if m.uid() != 0 => (m.uid(), m.gid()),
            _ => (1000, 1000),
        }
    }

    /// Makes `DIR/demo`, writable by the workload.
    fn make_demo_dir(root: &Path, uid: u32, gid: u32) -> DemoResult<PathBuf> {
        let demo = root.join("demo");
        std::fs::create_dir(&demo).map_err(|e| format!("{}: {e}", demo.display()))?;
        if std::os::unix::fs::chown(&demo, Some(uid), Some(gid)).is_err() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&demo, std::fs::Permissions::from_mode(0o777))
                .map_err(|e| format!("chmod {}: {e}", demo.display()))?;
        }
        Ok(demo)
    }

    /// The watcher: one inotify instance, and the path each wd was added for.
    struct Watcher {
        /// The instance (non-blocking).
        inotify: Inotify<Process>,
        /// Printed name of each watch, inotifywait style (`./demo/`, `./demo/file`).
        names: BTreeMap<i32, String>,
        /// Events printed so far.
        printed: usize,
    }

    impl Watcher {
        /// Adds a watch on `rel` (relative to the served directory) for every event.
        fn watch(&mut self, rel: &str, is_dir: bool) -> DemoResult<()> {
            let wd = self
                .inotify
                .add_watch(&format!("/scheme/file/{rel}"), IN_ALL_EVENTS)
                .map_err(err("inotify_add_watch"))?;
            let shown = format!("./{rel}{}", if is_dir { "/" } else { "" });
            println!("   (watch {wd}: {shown})");
            self.names.insert(wd, shown);
            Ok(())
        }

        /// Prints the events that arrive until none has come for a short while (waiting with
        /// the client's timed wait, no polling).
        fn print_events(&mut self) -> DemoResult<()> {
            let mut buf = vec![0u8; 16 * 1024];
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let quiet = Duration::from_millis(40).min(left);
                match self.inotify.read_events_timeout(&mut buf, Some(quiet)) {
                    Ok(Some(events)) => {
                        for ev in &events {
                            println!("{}", self.line(ev));
                        }
                        self.printed += events.len();
                    }
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(format!("read: {e}")),
                }
            }
        }

        /// One inotifywait-style line.
        fn line(&self, ev: &OwnedEvent) -> String {
            let watch = self
                .names
                .get(&ev.wd)
                .cloned()
                .unwrap_or_else(|| ev.wd.to_string());
            let mut line = format::event(&watch, ev);
            if ev.mask & (IN_MOVED_FROM | IN_MOVED_TO) != 0 {
                line.push_str(&format!(" (cookie {})", ev.cookie));
            }
            line
        }
    }

    /// Prints a workload step like a shell command.
    fn step(cmd: &str) {
        println!("$ {cmd}");
    }

    /// Runs the whole demo.
    pub fn run() -> DemoResult<()> {
        let root = root_dir()?;
        let (uid, gid) = workload_ids();
        make_demo_dir(&root.path, uid, gid)?;

        // INTERPOSE=1: the directory is served by a HostFs without a feed, with the
        // interposer in front of it as `file` for inotifyd and the two processes.
        let interpose = std::env::var("INTERPOSE").is_ok_and(|v| !v.is_empty() && v != "0");
        let bad_dir = |e: std::io::Error| format!("{}: {e}", root.path.display());
        let (harness, fs_thread, producer, interposer) = if interpose {
            let kernel = Kernel::new();
            let fs_thread = HostFs::uninstrumented(&root.path)
                .map_err(bad_dir)?
                .spawn(&kernel)
                .map_err(err("serving the directory"))?;
            let ns = kernel.namespace();
            let interposer = InterposerThread::spawn(&kernel, &ns, "file", "file")
                .map_err(err("starting the interposer"))?;
            let harness = Harness::start_in(kernel, Some(ns), Default::default(), &["file"])
                .map_err(err("starting inotifyd"))?;
            (harness, fs_thread, None, Some(interposer))
        } else {
            let harness = Harness::start(Default::default()).map_err(err("starting inotifyd"))?;
            let fs = HostFs::new(&root.path).map_err(bad_dir)?;
            let producer = fs.producer();
            let fs_thread = fs
                .spawn(harness.kernel())
                .map_err(err("serving the directory"))?;
            (harness, fs_thread, Some(producer), None)
        };
        println!(
            "inotifyd demo: {} served as /scheme/file{}",
            root.path.display(),
            if interpose {
                " by a filesystem without a feed, through the interposer"
            } else {
                ""
            }
        );

        let watcher_proc = harness.process(1000, uid, gid);
        let inotify = Inotify::init1(watcher_proc, IN_NONBLOCK).map_err(err("inotify_init1"))?;
        let mut watcher = Watcher {
            inotify,
            names: BTreeMap::new(),
            printed: 0,
        };
        let u = harness.process(2000, uid, gid);
        let p = |rel: &str| format!("/scheme/file/demo/{rel}");
        println!("watcher pid 1000, workload pid 2000, uid {uid}\n");

        watcher.watch("demo", true)?;
        step("echo hello > hello.txt");
        let fd = u
            .open(&p("hello.txt"), O_CREAT | O_WRONLY | O_TRUNC | 0o644)
            .map_err(err("open"))?;
        u.write(fd, b"hello\n").map_err(err("write"))?;
        u.close(fd).map_err(err("close"))?;
        watcher.print_events()?;

        watcher.watch("demo/hello.txt", false)?;
        step("chmod 600 hello.txt");
        let fd = u
            .open(&p("hello.txt"), inotify_host::O_PATH)
            .map_err(err("open"))?;
        u.fchmod(fd, 0o600).map_err(err("fchmod"))?;
        u.close(fd).map_err(err("close"))?;
        watcher.print_events()?;

        step("cat hello.txt");
        let fd = u.open(&p("hello.txt"), O_RDONLY).map_err(err("open"))?;
        let mut buf = [0u8; 64];
        while u.read(fd, &mut buf).map_err(err("read"))? > 0 {}
        u.close(fd).map_err(err("close"))?;
        watcher.print_events()?;

        step("ln hello.txt hardlink.txt");
        u.link(&p("hello.txt"), &p("hardlink.txt"))
            .map_err(err("link"))?;
        watcher.print_events()?;

        step("mv hello.txt greeting.txt");
        u.rename(&p("hello.txt"), &p("greeting.txt"))
            .map_err(err("rename"))?;
        watcher.print_events()?;

        step("mkdir sub");
        u.mkdir(&p("sub"), 0o755).map_err(err("mkdir"))?;
        watcher.print_events()?;
        watcher.watch("demo/sub", true)?;

        step(": > sub/note.txt && rm sub/note.txt");
        u.create(&p("sub/note.txt"), 0o644).map_err(err("create"))?;
        u.unlink(&p("sub/note.txt")).map_err(err("unlink"))?;
        watcher.print_events()?;

        step("rmdir sub");
        u.rmdir(&p("sub")).map_err(err("rmdir"))?;
        watcher.print_events()?;

        step("rm hardlink.txt");
        u.unlink(&p("hardlink.txt")).map_err(err("unlink"))?;
        watcher.print_events()?;

        step("rm greeting.txt");
        u.unlink(&p("greeting.txt")).map_err(err("unlink"))?;
        watcher.print_events()?;

        let (recorded, dropped) = match (&producer, &interposer) {
            (Some(producer), _) => {
                let p = producer
                    .lock()
                    .map_err(|_| "producer lock poisoned".to_string())?;
                (p.recorded(), p.dropped())
            }
            (None, Some(i)) => i.interposer().feed_counters(),
            (None, None) => (0, 0),
        };
        println!(
            "\n{} events; the {} recorded {recorded} facts for watched inodes \
             ({dropped} dropped)",
            watcher.printed,
            if interpose {
                "interposer"
            } else {
                "filesystem"
            }
        );

        let kernel = harness.kernel().clone();
        let ns = harness.namespace().cloned();
        drop(watcher);
        drop(harness);
        if let (Some(ns), Some(i)) = (ns, interposer) {
            let _ = ns.shutdown_scheme("file");
            i.join();
        }
        let _ = kernel.shutdown_scheme("file");
        fs_thread.join();
        Ok(())
    }
}
