//! The tools end to end: inotifyd and `HostFs` over a temporary directory on the in-process
//! kernel, the tool running in one process, the changes made by another; the exact output
//! and exit status are checked, and that a waiting tool sends the daemon nothing.

mod common;

use common::Signalled;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use inotify_host::harness::ServedDir;
use inotify_tools::cli::{Command, Io, Tool};
use inotify_tools::wait::Wait;
use inotify_tools::watch::Watch;
use inotify_tools::{EXIT_ERROR, EXIT_EVENT, EXIT_TIMEOUT};
use syscall::flag::O_WRONLY;

/// inotifyd and a `HostFs` over a fresh directory holding `sub/` and `file`.
fn world(tag: &str) -> ServedDir {
    ServedDir::start("tools", tag)
}

/// What a run of a tool left: exit status, standard output, standard error.
type Outcome = (i32, String, String);

/// Starts a tool with these arguments on its own thread in a new process; returns once its
/// watches are set up (or it failed before that), with the handle giving its outcome.
fn start<T: Tool + 'static>(w: &ServedDir, args: &str) -> thread::JoinHandle<Outcome>
where
    T::Options: Send,
{
    start_with::<T>(w, args, false)
}

/// [`start`], with `-r` using subtree watches when `subtree` (as on Redox).
fn start_with<T: Tool + 'static>(
    w: &ServedDir,
    args: &str,
    subtree: bool,
) -> thread::JoinHandle<Outcome>
where
    T::Options: Send,
{
    let args: Vec<String> = args.split_whitespace().map(String::from).collect();
    let opts = match T::parse(&args) {
        Ok(Command::Run(opts)) => opts,
        other => panic!("not a run: {:?}", other.err()),
    };
    let p = w.process(100);
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let (mut out, mut err, mut syslog) = (Vec::new(), Vec::new(), Vec::new());
        let stop = Arc::new(AtomicBool::new(false));
        let mut io = Io {
            out: &mut out,
            err: &mut err,
            syslog: &mut syslog,
            ready: &mut || tx.send(()).unwrap(),
            stop: &stop,
            print_now: &AtomicBool::new(false),
        };
        let os = Signalled {
            subtree,
            ..Signalled::new(p)
        };
        let code = T::run(os, &opts, &mut io);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    });
    // Either the watches are up, or the tool ended (the sender is dropped).
    let _ = rx.recv_timeout(Duration::from_secs(10));
    handle
}

/// inotifywait with these arguments.
fn inotifywait(w: &ServedDir, args: &str) -> thread::JoinHandle<Outcome> {
    start::<Wait>(w, args)
}

/// inotifywatch with these arguments.
fn inotifywatch(w: &ServedDir, args: &str) -> thread::JoinHandle<Outcome> {
    start::<Watch>(w, args)
}

/// The set-up messages of inotifywait.
const WAIT_SETUP: &str = "Setting up watches.\nWatches established.\n";

#[test]
fn inotifywait_prints_the_first_event_and_exits_0() {
    let w = world("first");
    let tool = inotifywait(&w, "-t 10 /sub");
    w.process(200).create("/sub/a", 0o644).unwrap();
    assert_eq!(
        tool.join().unwrap(),
        (EXIT_EVENT, "/sub/ CREATE a\n".into(), WAIT_SETUP.into())
    );
}

#[test]
fn inotifywait_times_out_with_2() {
    let w = world("timeout");
    let tool = inotifywait(&w, "-q -t 1 -e delete /sub /file");
    // An event the watch did not ask for does not end the wait.
    w.process(200).create("/sub/a", 0o644).unwrap();
    assert_eq!(
        tool.join().unwrap(),
        (EXIT_TIMEOUT, String::new(), String::new())
    );
}

#[test]
fn inotifywait_monitor_prints_no_ignored_and_times_out_with_2() {
    let w = world("monitor");
    let tool = inotifywait(&w, "-m -t 1 -e create,delete,delete_self /sub /file");
    let u = w.process(200);
    u.mkdir("/sub/d", 0o755).unwrap();
    u.create("/sub/a", 0o644).unwrap();
    u.unlink("/sub/a").unwrap();
    u.unlink("/file").unwrap();
    let (code, out, err) = tool.join().unwrap();
    assert_eq!((code, err.as_str()), (EXIT_TIMEOUT, WAIT_SETUP));
    assert_eq!(
        out,
        "/sub/ CREATE,ISDIR d\n\
         /sub/ CREATE a\n\
         /sub/ DELETE a\n\
         /file DELETE_SELF \n"
    );
}

#[test]
fn inotifywait_without_monitor_exits_1_on_an_event_not_asked_for() {
    let w = world("unasked");
    // The watch's end (IGNORED) comes without DELETE_SELF having been asked for.
    let tool = inotifywait(&w, "-e modify /file");
    w.process(200).unlink("/file").unwrap();
    assert_eq!(
        tool.join().unwrap(),
        (EXIT_ERROR, String::new(), WAIT_SETUP.into())
    );
}

#[test]
fn inotifywait_errors_exit_1() {
    let w = world("errors");
    let (code, out, err) = inotifywait(&w, "/sub /missing").join().unwrap();
    assert_eq!((code, out.as_str()), (EXIT_ERROR, ""));
    assert_eq!(
        err,
        "Setting up watches.\nCouldn't watch /missing: No such file or directory\n"
    );
}

#[test]
fn inotifywait_recursive_watches_new_directories() {
    let w = world("recursive");
    let tool = inotifywait(&w, "-m -r -q -t 1 -e create --format %w%f /sub");
    let u = w.process(200);
    u.mkdir("/sub/d", 0o755).unwrap();
    // Give the tool the time to read CREATE and watch the new directory.
    thread::sleep(Duration::from_millis(300));
    u.create("/sub/d/f", 0o644).unwrap();
    let (code, out, _) = tool.join().unwrap();
    assert_eq!((code, out.as_str()), (EXIT_TIMEOUT, "/sub/d\n/sub/d/f\n"));
}

#[test]
fn inotifywait_recursive_with_a_subtree_watch_misses_nothing_in_new_directories() {
    let w = world("subtree");
    let tool = start_with::<Wait>(&w, "-m -r -t 1 -e create,moved_to /sub", true);
    let u = w.process(200);
    // No pause: a watch per directory would miss what happens inside the new ones.
    for d in ["/sub/a", "/sub/a/b", "/sub/a/b/c"] {
        u.mkdir(d, 0o755).unwrap();
    }
    u.create("/sub/a/b/c/f", 0o644).unwrap();
    u.rename("/sub/a/b", "/sub/m").unwrap();
    u.create("/sub/m/c/g", 0o644).unwrap();
    let (code, out, err) = tool.join().unwrap();
    assert_eq!(
        (code, err.as_str()),
        (
            EXIT_TIMEOUT,
            "Setting up watches.  Beware: since -r was given, this may take a while!\n\
             Watches established.\n"
        )
    );
    assert_eq!(
        out,
        "/sub/ CREATE,ISDIR a\n\
         /sub/a/ CREATE,ISDIR b\n\
         /sub/a/b/ CREATE,ISDIR c\n\
         /sub/a/b/c/ CREATE f\n\
         /sub/ MOVED_TO,ISDIR m\n\
         /sub/m/c/ CREATE g\n"
    );
}

#[test]
fn inotifywatch_recursive_with_a_subtree_watch_counts_per_directory() {
    let w = world("subtree-watch");
    let tool = start_with::<Watch>(&w, "-r -t 1 -e create /sub", true);
    let u = w.process(200);
    u.mkdir("/sub/a", 0o755).unwrap();
    u.mkdir("/sub/a/b", 0o755).unwrap();
    u.create("/sub/a/b/f", 0o644).unwrap();
    u.create("/sub/a/b/g", 0o644).unwrap();
    let (code, out, _) = tool.join().unwrap();
    assert_eq!(code, EXIT_EVENT);
    assert_eq!(
        out,
        "total  create  filename\n\
         2      2       /sub/a/b/\n\
         1      1       /sub/\n\
         1      1       /sub/a/\n"
    );
}

#[test]
fn inotifywatch_counts_per_watch() {
    let w = world("watch");
    let tool = inotifywatch(&w, "-t 1 /sub /file");
    let u = w.process(200);
    u.mkdir("/sub/d", 0o755).unwrap();
    u.mkdir("/sub/e", 0o755).unwrap();
    let fd = u.open("/file", O_WRONLY).unwrap();
    u.write(fd, b"hello").unwrap();
    u.close(fd).unwrap();
    let (code, out, err) = tool.join().unwrap();
    assert_eq!(code, EXIT_EVENT);
    assert_eq!(
        err,
        "Establishing watches...\nFinished establishing watches, now collecting statistics.\n"
    );
    // /file: open, modify, close_write; /sub/: two creates (mkdir opens nothing).
    assert_eq!(
        out,
        "total  modify  close_write  open  create  filename\n\
         3      1       1            1     0       /file\n\
         2      0       0            0     2       /sub/\n"
    );
}

#[test]
fn an_idle_inotifywait_sends_the_daemon_no_requests() {
    for args in ["-t 3 /sub", "/sub"] {
        let w = world(if args.starts_with("-t") {
            "idle-t"
        } else {
            "idle"
        });
        let tool = inotifywait(&w, args);
        let kernel = w.kernel();
        // Let the tool reach its wait (subscription or blocking read), then count.
        thread::sleep(Duration::from_millis(200));
        let before = kernel.requests("inotify").unwrap();
        thread::sleep(Duration::from_millis(1000));
        let after = kernel.requests("inotify").unwrap();
        assert_eq!(after, before, "{args}: requests while idle");
        w.process(200).create("/sub/a", 0o644).unwrap();
        let (code, out, _) = tool.join().unwrap();
        assert_eq!(
            (code, out.as_str()),
            (EXIT_EVENT, "/sub/ CREATE a\n"),
            "{args}"
        );
    }
}

/// Runs inotifyctl with these arguments as `p`, to the end.
fn inotifyctl(p: inotify_host::Process, args: &str) -> Outcome {
    use inotify_tools::ctl::InotifyCtl;
    let args: Vec<String> = args.split_whitespace().map(String::from).collect();
    let opts = match InotifyCtl::parse(&args) {
        Ok(Command::Run(opts)) => opts,
        other => panic!("not a run: {:?}", other.err()),
    };
    let (mut out, mut err, mut syslog) = (Vec::new(), Vec::new(), Vec::new());
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        syslog: &mut syslog,
        ready: &mut || {},
        stop: &AtomicBool::new(false),
        print_now: &AtomicBool::new(false),
    };
    let code = InotifyCtl::run(Signalled::new(p), &opts, &mut io);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn inotifyctl_shows_root_the_daemon_wide_status() {
    use inotify_client::Inotify;
    let w = world("ctl-status");
    let user = w.kernel().process(300, 4242, 4242);
    let ino = Inotify::init1(w.process(100), 0).unwrap();
    ino.add_watch("/sub", inotify_abi::consts::IN_CREATE)
        .unwrap();
    ino.add_watch("/file", inotify_abi::consts::IN_MODIFY)
        .unwrap();
    let owner = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(w.dir()).unwrap().uid()
    };
    let (code, out, err) = inotifyctl(w.kernel().process(1, 0, 0), "status");
    assert_eq!((code, err.as_str()), (EXIT_EVENT, ""));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("daemon instances 1 watches 2 inodes 2 "),
        "{out}"
    );
    assert_eq!(
        lines[1],
        format!("uid {owner} instances 1 watches 2 queue_storage 0")
    );
    assert!(lines[2].starts_with("instance "), "{out}");
    assert!(
        lines[2].ends_with(&format!(
            " uid {owner} watches 2 queued 0 queue_storage 0 unreported_loss 0"
        )),
        "{out}"
    );
    assert!(lines[3].starts_with("sys requests "), "{out}");
    assert!(
        lines[4].starts_with("feed file fs 0 open 1 next_seq "),
        "{out}"
    );
    assert!(lines[4].ends_with(" lost 0"), "{out}");
    assert_eq!(lines.len(), 5, "{out}");
    // Anyone else: EACCES, and nothing of the daemon's state.
    let (code, out, err) = inotifyctl(user, "");
    assert_eq!(code, EXIT_ERROR);
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!(
            "inotifyctl: {} (the daemon-wide status is root's)\n",
            inotify_tools::session::strerror(syscall::error::Error::new(syscall::error::EACCES))
        )
    );
}

#[test]
fn inotifyctl_lists_the_limits_to_anyone() {
    let w = world("ctl-limits");
    let (code, out, err) = inotifyctl(w.kernel().process(300, 4242, 4242), "limits");
    assert_eq!((code, err.as_str()), (EXIT_EVENT, ""));
    assert_eq!(
        out,
        "max_queued_events 16384\nmax_user_instances 128\nmax_user_watches 65536\n\
         max_watches 1048576\nevent_drops 0\nmax_user_queued_bytes 33554432\n\
         max_total_queued_bytes 268435456\n"
    );
    assert!(inotify_tools::ctl::InotifyCtl::parse(&["bogus".to_string()]).is_err());
}
