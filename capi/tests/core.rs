//! The C API's core through the host kernel, inotifyd and `HostFs` over a temporary
//! directory: the values and errno a C program on Redox gets.

use std::ffi::CString;
use std::time::{Duration, Instant};

use inotify_abi::consts::*;
use inotify_abi::event::Events;
use inotify_capi::{
    add_watch, c_result, init, init1, loss_report, rm_watch, CLossReport, IN_CLOEXEC, IN_NONBLOCK,
};
use inotify_host::harness::ServedDir;
use inotify_host::{Process, FD_CLOEXEC};
use syscall::error::{EAGAIN, EBADF, EEXIST, EINVAL, ENOENT, ENOTDIR};
use syscall::flag::{F_GETFD, F_GETFL, O_NONBLOCK, O_RDONLY};

/// inotifyd and a `HostFs` over a fresh directory holding `sub/` and `file`.
fn world(tag: &str) -> ServedDir {
    ServedDir::start("capi", tag)
}

/// A C string.
fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// The errno of a failed core call.
fn errno<T: std::fmt::Debug>(r: syscall::error::Result<T>) -> i32 {
    r.unwrap_err().errno
}

/// Reads `(wd, mask, name)` records from a non-blocking instance until `n` have arrived.
fn read_n(p: &Process, fd: i32, n: usize) -> Vec<(i32, u32, String)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while out.len() < n {
        match p.read(fd as usize, &mut buf) {
            Ok(len) => out.extend(
                Events::new(&buf[..len])
                    .map(|e| (e.wd, e.mask, String::from_utf8_lossy(e.name).into_owned())),
            ),
            Err(e) if e.errno == EAGAIN => {
                assert!(Instant::now() < deadline, "only {out:?} after 5 s");
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    out
}

#[test]
fn init1_flags() {
    let w = world("init");
    let p = w.process(100);
    // Linux's IN_NONBLOCK (0o4000) is not a Redox flag.
    assert_eq!(errno(init1(&p, IN_NONBLOCK_LINUX as i32)), EINVAL);
    assert_eq!(errno(init1(&p, 1)), EINVAL);

    let fd = init1(&p, (IN_NONBLOCK | IN_CLOEXEC) as i32).unwrap();
    assert!(fd >= 3);
    let fl = p.fcntl(fd as usize, F_GETFL, 0).unwrap();
    assert_eq!(fl & O_NONBLOCK, O_NONBLOCK);
    assert_eq!(p.fcntl(fd as usize, F_GETFD, 0).unwrap(), FD_CLOEXEC);

    let blocking = init(&p).unwrap();
    assert_ne!(blocking, fd);
    assert_eq!(
        p.fcntl(blocking as usize, F_GETFL, 0).unwrap() & O_NONBLOCK,
        0
    );
    assert_eq!(p.fcntl(blocking as usize, F_GETFD, 0).unwrap(), 0);
}

#[test]
fn add_watch_results_and_errno() {
    let w = world("add");
    let p = w.process(100);
    let fd = init1(&p, IN_NONBLOCK as i32).unwrap();
    let dir = c("/scheme/file/sub");
    assert_eq!(add_watch(&p, fd, &dir, IN_CREATE), Ok(1));
    assert_eq!(add_watch(&p, fd, &c("/file"), IN_MODIFY), Ok(2));
    // The same object again: the same wd.
    assert_eq!(add_watch(&p, fd, &c("/sub"), IN_DELETE), Ok(1));
    assert_eq!(
        errno(add_watch(&p, fd, &dir, IN_CREATE | IN_MASK_CREATE)),
        EEXIST
    );
    assert_eq!(errno(add_watch(&p, fd, &c("/missing"), IN_CREATE)), ENOENT);
    assert_eq!(
        errno(add_watch(&p, fd, &c("/file"), IN_CREATE | IN_ONLYDIR)),
        ENOTDIR
    );
    assert_eq!(errno(add_watch(&p, fd, &dir, 0)), EINVAL);
    assert_eq!(errno(add_watch(&p, fd, &dir, 0x1000)), EINVAL);
    let bad_utf8 = c"/sub/\xff";
    assert_eq!(errno(add_watch(&p, fd, bad_utf8, IN_CREATE)), EINVAL);
    assert_eq!(errno(add_watch(&p, -1, &dir, IN_CREATE)), EBADF);
    assert_eq!(errno(add_watch(&p, 999, &dir, IN_CREATE)), EBADF);
    // An open fd that is not an instance.
    let file = p.open("/file", O_RDONLY).unwrap();
    assert_eq!(errno(add_watch(&p, file as i32, &dir, IN_CREATE)), EINVAL);

    // The C convention: -1 and errno.
    let mut e = 0;
    assert_eq!(
        c_result(add_watch(&p, fd, &c("/missing"), IN_OPEN), &mut e),
        -1
    );
    assert_eq!(e, ENOENT);
    assert_eq!(c_result(add_watch(&p, fd, &dir, IN_CREATE), &mut e), 1);
}

#[test]
fn events_then_rm_watch() {
    let w = world("rm");
    let p = w.process(100);
    let worker = w.process(200);
    let fd = init1(&p, IN_NONBLOCK as i32).unwrap();
    let wd = add_watch(&p, fd, &c("/sub"), IN_CREATE | IN_DELETE).unwrap();
    worker.create("/sub/a", 0o644).unwrap();
    worker.unlink("/sub/a").unwrap();
    assert_eq!(
        read_n(&p, fd, 2),
        vec![
            (wd, IN_CREATE, "a".to_string()),
            (wd, IN_DELETE, "a".to_string())
        ]
    );
    assert_eq!(rm_watch(&p, fd, wd), Ok(0));
    assert_eq!(read_n(&p, fd, 1), vec![(wd, IN_IGNORED, String::new())]);
    assert_eq!(errno(rm_watch(&p, fd, wd)), EINVAL);
    assert_eq!(errno(rm_watch(&p, fd, 12345)), EINVAL);
    assert_eq!(errno(rm_watch(&p, -3, wd)), EBADF);
    // Nothing after the watch is gone.
    worker.create("/sub/b", 0o644).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut buf = [0u8; 256];
    assert_eq!(p.read(fd as usize, &mut buf).unwrap_err().errno, EAGAIN);
}

#[test]
fn loss_report_counts_the_events_a_full_queue_dropped() {
    let w = world("loss");
    let root = w.kernel().process(1, 0, 0);
    let t = root
        .open("/scheme/inotify/max_queued_events", syscall::flag::O_WRONLY)
        .unwrap();
    root.write(t, b"2").unwrap();
    root.close(t).unwrap();
    let p = w.process(100);
    let worker = w.process(200);
    let fd = init1(&p, IN_NONBLOCK as i32).unwrap();
    let wd = add_watch(&p, fd, &c("/sub"), IN_CREATE).unwrap();
    let mut r = CLossReport::default();
    assert_eq!(loss_report(&p, fd, &mut r), Ok(0));
    assert_eq!(r, CLossReport::default());
    for name in ["/sub/a", "/sub/b", "/sub/c", "/sub/d", "/sub/e"] {
        worker.create(name, 0o644).unwrap();
    }
    // The creates have returned, so their facts are in (a report pulls the feeds first).
    assert_eq!(loss_report(&p, fd, &mut r), Ok(0));
    assert_eq!((r.dropped, r.feed_lost, r.wd_count), (3, 0, 1));
    assert_eq!(r.wds[0], wd);
    assert!(r.first_ns > 0 && r.last_ns >= r.first_ns);
    assert_eq!(
        read_n(&p, fd, 3),
        vec![
            (wd, IN_CREATE, "a".to_string()),
            (wd, IN_CREATE, "b".to_string()),
            (-1, IN_Q_OVERFLOW, String::new())
        ]
    );
    assert_eq!(errno(loss_report(&p, -1, &mut r)), EBADF);
    assert_eq!(errno(loss_report(&p, 999, &mut r)), EBADF);
}
