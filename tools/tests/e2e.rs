//! The tools end to end: inotifyd and `HostFs` over a temporary directory on the in-process
//! kernel, the tool running in one process, the changes made by another; the exact output
//! and exit status are checked.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use inotify_host::harness::ServedDir;
use inotify_host::Process;
use inotify_tools::cli::{Command, Tool};
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

/// Starts a tool on its own thread in a new process; returns once its watches are set up
/// (or it failed before that), with the handle giving its outcome.
fn spawn_tool(
    w: &ServedDir,
    run: impl FnOnce(Process, &mut Vec<u8>, &mut Vec<u8>, &mut dyn FnMut()) -> i32 + Send + 'static,
) -> thread::JoinHandle<Outcome> {
    let p = w.process(100);
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(p, &mut out, &mut err, &mut || tx.send(()).unwrap());
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

/// A tool with these arguments.
fn start<T: Tool + 'static>(w: &ServedDir, args: &str) -> thread::JoinHandle<Outcome>
where
    T::Options: Send,
{
    let args: Vec<String> = args.split_whitespace().map(String::from).collect();
    let Command::Run(opts) = T::parse(&args).unwrap() else {
        panic!("help");
    };
    spawn_tool(w, move |p, out, err, ready| {
        T::run(p, &opts, out, err, ready)
    })
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
fn inotifywait_monitor() {
    let w = world("monitor");
    let tool = inotifywait(&w, "-m -t 1 -e create,delete,delete_self /sub /file");
    let u = w.process(200);
    u.mkdir("/sub/d", 0o755).unwrap();
    u.create("/sub/a", 0o644).unwrap();
    u.unlink("/sub/a").unwrap();
    u.unlink("/file").unwrap();
    let (code, out, err) = tool.join().unwrap();
    assert_eq!((code, err.as_str()), (EXIT_EVENT, WAIT_SETUP));
    assert_eq!(
        out,
        "/sub/ CREATE,ISDIR d\n\
         /sub/ CREATE a\n\
         /sub/ DELETE a\n\
         /file DELETE_SELF\n\
         /file IGNORED\n"
    );
}

#[test]
fn inotifywait_monitor_ends_when_every_watch_is_gone() {
    let w = world("gone");
    // No timeout: only the removal of the last watch ends the run.
    let tool = inotifywait(&w, "-m -q -e delete_self /file");
    w.process(200).unlink("/file").unwrap();
    assert_eq!(
        tool.join().unwrap(),
        (
            EXIT_EVENT,
            "/file DELETE_SELF\n/file IGNORED\n".into(),
            String::new()
        )
    );
}

#[test]
fn inotifywait_errors_exit_1() {
    let w = world("errors");
    let (code, out, err) = inotifywait(&w, "/sub /missing").join().unwrap();
    assert_eq!((code, out.as_str()), (EXIT_ERROR, ""));
    assert_eq!(
        err,
        format!(
            "Setting up watches.\nCouldn't watch /missing: {}\n",
            syscall::error::Error::new(syscall::error::ENOENT)
        )
    );
    let (code, _, err) = inotifywait(&w, "-r /sub").join().unwrap();
    assert_eq!(code, EXIT_ERROR);
    assert_eq!(
        err,
        "inotifywait: recursive watches (-r) are not supported\n"
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
