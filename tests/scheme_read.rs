//! Reads through the scheme: whole records, small buffers, blocking reads woken by events,
//! cancelled reads, non-blocking reads, and event-queue readiness.

mod common;

use std::thread;
use std::time::Duration;

use common::*;
use inotify_abi::consts::*;
use inotify_abi::event::Events;
use inotify_client::Inotify;
use inotify_engine::Fact;
use inotify_host::Interrupt;
use syscall::error::*;
use syscall::flag::EventFlags;

/// Long enough for a reader thread to be blocked in the daemon in practice (the tests pass
/// either way; this only makes the blocked path the one usually taken).
const SETTLE: Duration = Duration::from_millis(50);

#[test]
fn a_buffer_too_small_for_the_first_record_is_einval() {
    let (env, p, ino) = user_instance();
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    env.push(&[created(ino::D, b"name", 50)]);
    common::sync(&p);
    // The record is 16 + 16 bytes.
    assert_eq!(errno(ino.read_raw(&mut [0u8; 17])), EINVAL);
    assert_eq!(errno(ino.read_raw(&mut [0u8; 31])), EINVAL);
    // Nothing was consumed.
    assert_eq!(ino.queued_bytes().unwrap(), 32);
    let mut buf = [0u8; 32];
    assert_eq!(ino.read_raw(&mut buf).unwrap(), 32);
    let got: Vec<_> = Events::new(&buf).map(|e| (e.wd, e.mask, e.name)).collect();
    assert_eq!(got, [(wd, IN_CREATE, &b"name"[..])]);
}

#[test]
fn a_read_returns_the_whole_records_that_fit() {
    let (env, p, ino) = user_instance();
    let wd = ino.add_watch("/d", IN_CREATE | IN_DELETE_SELF).unwrap();
    env.push(&[
        created(ino::D, b"a", 50),
        created(ino::D, b"b", 51),
        created(ino::D, b"c", 52),
    ]);
    common::sync(&p);
    // 48 bytes hold one 32-byte record and half of the next: one record.
    let mut buf = [0u8; 48];
    assert_eq!(ino.read_raw(&mut buf).unwrap(), 32);
    assert_eq!(Events::new(&buf[..32]).next().unwrap().name, b"a");
    let mut buf = [0u8; 64];
    assert_eq!(ino.read_raw(&mut buf).unwrap(), 64);
    let names: Vec<_> = Events::new(&buf).map(|e| e.name.to_vec()).collect();
    assert_eq!(names, [b"b".to_vec(), b"c".to_vec()]);
    // A nameless record is 16 bytes and fits a 16-byte buffer.
    env.push(&[Fact::Unlinked {
        dir: ROOT_DIR,
        name: b"d",
        ino: ino::D,
        is_dir: true,
        links_left: 0,
        freed: true,
    }]);
    common::sync(&p);
    let mut buf = [0u8; 16];
    assert_eq!(ino.read_raw(&mut buf).unwrap(), 16);
    assert_eq!(Events::new(&buf).next().unwrap().mask, IN_DELETE_SELF);
    let _ = wd;
}

#[test]
fn nonblocking_read_on_an_empty_queue_is_eagain() {
    let env = Env::start();
    let p = env.user(10, USER);
    let ino = Inotify::init(&p).unwrap();
    ino.set_nonblocking(true).unwrap();
    assert_eq!(errno(ino.read_raw(&mut [0u8; 64])), EAGAIN);
    // An explicitly non-blocking read on a blocking description is EAGAIN as well.
    ino.set_nonblocking(false).unwrap();
    assert_eq!(errno(p.read_nonblock(ino.raw_fd(), &mut [0u8; 64])), EAGAIN);
}

#[test]
fn a_blocked_read_is_woken_by_an_event() {
    let env = Env::start();
    let p = env.user(10, USER);
    let ino = Inotify::init(&p).unwrap();
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    let reader = spawn_read(&p, ino.raw_fd(), 4096);
    assert!(
        still_blocked(&reader, SETTLE),
        "an empty blocking read waits"
    );
    env.push(&[created(ino::D, b"x", 50)]);
    assert_eq!(finish(reader).unwrap(), [ev(wd, IN_CREATE, "x")]);
}

#[test]
fn blocked_reads_are_served_oldest_first() {
    let env = Env::start();
    let p = env.user(10, USER);
    let ino = Inotify::init(&p).unwrap();
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    let r1 = spawn_read(&p, ino.raw_fd(), 4096);
    // Give the first read ample time to reach the daemon before the second one.
    assert!(still_blocked(&r1, 4 * SETTLE));
    let r2 = spawn_read(&p, ino.raw_fd(), 4096);
    assert!(still_blocked(&r2, SETTLE));
    env.push(&[created(ino::D, b"one", 50)]);
    assert_eq!(finish(r1).unwrap(), [ev(wd, IN_CREATE, "one")]);
    assert!(still_blocked(&r2, SETTLE), "the second read still waits");
    env.push(&[created(ino::D, b"two", 51)]);
    assert_eq!(finish(r2).unwrap(), [ev(wd, IN_CREATE, "two")]);
}

#[test]
fn a_blocked_read_too_small_for_the_event_gets_einval() {
    let env = Env::start();
    let p = env.user(10, USER);
    let ino = Inotify::init(&p).unwrap();
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    let reader = spawn_read(&p, ino.raw_fd(), 17);
    assert!(still_blocked(&reader, SETTLE));
    env.push(&[created(ino::D, b"name", 50)]);
    assert_eq!(errno(finish(reader)), EINVAL);
    // The event stays queued for a read that can hold it.
    assert_eq!(
        ino.read_events(&mut [0u8; 32]).unwrap(),
        [ev(wd, IN_CREATE, "name")]
    );
}

#[test]
fn a_blocked_read_is_interrupted_with_eintr() {
    let env = Env::start();
    let p = env.user(10, USER);
    let ino = Inotify::init(&p).unwrap();
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    let signal = Interrupt::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let (p2, fd, sig) = (p.clone(), ino.raw_fd(), signal.clone());
    thread::spawn(move || {
        let _ = tx.send(p2.read_interruptible(fd, &mut [0u8; 64], &sig));
    });
    assert!(
        rx.recv_timeout(SETTLE).is_err(),
        "an empty blocking read waits"
    );
    signal.fire();
    let res = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the read did not return");
    assert_eq!(errno(res), EINTR);
    // The cancelled read took nothing: the next event goes to the next read.
    env.push(&[created(ino::D, b"after", 50)]);
    assert_eq!(
        ino.read_events(&mut [0u8; 64]).unwrap(),
        [ev(wd, IN_CREATE, "after")]
    );
}

#[test]
fn fevent_reports_readiness_and_posts_on_the_empty_to_readable_edge() {
    let (env, p, ino) = user_instance();
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    let queue = p.event_queue();
    queue
        .subscribe(ino.raw_fd(), EventFlags::EVENT_READ)
        .unwrap();
    // Empty: not readable.
    assert_eq!(queue.try_next(), None);
    env.push(&[created(ino::D, b"a", 50)]);
    common::sync(&p);
    assert_eq!(
        queue.try_next(),
        Some((ino.raw_fd(), EventFlags::EVENT_READ))
    );
    // More events on a non-empty queue: no new post (edge only).
    env.push(&[created(ino::D, b"b", 51)]);
    common::sync(&p);
    assert_eq!(queue.try_next(), None);
    assert_eq!(
        drain(&ino),
        [ev(wd, IN_CREATE, "a"), ev(wd, IN_CREATE, "b")]
    );
    // Drained: the next event is a new edge.
    env.push(&[created(ino::D, b"c", 52)]);
    common::sync(&p);
    assert_eq!(
        queue.try_next(),
        Some((ino.raw_fd(), EventFlags::EVENT_READ))
    );
    // Subscribing while readable reports at once (fevent's answer).
    let late = p.event_queue();
    late.subscribe(ino.raw_fd(), EventFlags::EVENT_READ)
        .unwrap();
    assert_eq!(
        late.try_next(),
        Some((ino.raw_fd(), EventFlags::EVENT_READ))
    );
    assert_eq!(
        p.fevent(ino.raw_fd(), EventFlags::EVENT_READ).unwrap(),
        EventFlags::EVENT_READ
    );
    assert_eq!(drain(&ino), [ev(wd, IN_CREATE, "c")]);
    assert_eq!(
        p.fevent(ino.raw_fd(), EventFlags::EVENT_READ).unwrap(),
        EventFlags::empty()
    );
}
