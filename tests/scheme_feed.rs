//! The feed consumer through the scheme: interest kept in step with the watches, loss made
//! visible as IN_Q_OVERFLOW, malformed input dropped without harm.

mod common;

use common::*;
use inotify_abi::consts::*;
use inotify_abi::feed::{BatchHeader, Interest, BATCH_HEADER_LEN, MAX_RECORD_LEN};
use inotify_host::fakefs::FakeFs;

#[test]
fn interest_reaches_the_filesystem_before_add_watch_returns() {
    let (env, _p, ino) = user_instance();
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    // No waiting: the daemon wrote the interest before answering.
    assert_eq!(env.fs.interests(), [Interest::Add(ino::D)]);
    // A second watch on the same inode by the same instance changes nothing.
    ino.add_watch("/d", IN_DELETE).unwrap();
    assert_eq!(env.fs.interests(), [Interest::Add(ino::D)]);
    ino.rm_watch(wd).unwrap();
    assert_eq!(
        env.fs.interests(),
        [Interest::Add(ino::D), Interest::Remove(ino::D)]
    );
    assert!(env.fs.interest_set().is_empty());
    // One feed per filesystem, opened once.
    ino.add_watch("/e", IN_CREATE).unwrap();
    assert_eq!(env.fs.feed_opens(), 1);
}

#[test]
fn closing_an_instance_withdraws_its_interest() {
    let (env, p, ino) = user_instance();
    ino.add_watch("/d", IN_CREATE).unwrap();
    ino.add_watch("/d/f", IN_MODIFY).unwrap();
    assert_eq!(env.fs.interest_set().len(), 2);
    drop(ino);
    common::sync(&p);
    assert!(
        env.fs.interest_set().is_empty(),
        "{:?}",
        env.fs.interest_set()
    );
}

#[test]
fn a_malformed_batch_is_dropped_and_later_facts_are_delivered() {
    let (env, _p, ino) = user_instance();
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    env.fs
        .push_raw_batch(b"this is not a batch at all, just bytes");
    env.push(&[created(ino::D, b"after", 50)]);
    // The loss is visible, then events flow again.
    assert_eq!(
        drain(&ino),
        [ev(-1, IN_Q_OVERFLOW, ""), ev(wd, IN_CREATE, "after")]
    );
}

#[test]
fn a_malformed_record_drops_the_rest_of_its_batch() {
    let (env, _p, ino) = user_instance();
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    // Batch: a good record, a record of unknown kind, another good record.
    let mut buf = vec![0u8; BATCH_HEADER_LEN + 3 * MAX_RECORD_LEN];
    let mut at = BATCH_HEADER_LEN;
    at += created(ino::D, b"one", 50).emit(&mut buf[at..]).unwrap();
    let bad = at;
    at += created(ino::D, b"bad", 51).emit(&mut buf[at..]).unwrap();
    buf[bad] = 99;
    at += created(ino::D, b"lost", 52).emit(&mut buf[at..]).unwrap();
    let first_seq = env.fs.next_seq();
    BatchHeader {
        first_seq,
        count: 3,
        total_len: at as u32,
    }
    .emit(&mut buf)
    .unwrap();
    env.fs.push_raw_batch(&buf[..at]);
    env.fs.skip_seqs(3);
    env.push(&[created(ino::D, b"later", 53)]);
    assert_eq!(
        drain(&ino),
        [
            ev(wd, IN_CREATE, "one"),
            ev(-1, IN_Q_OVERFLOW, ""),
            ev(wd, IN_CREATE, "later")
        ]
    );
}

#[test]
fn a_sequence_gap_is_an_overflow() {
    let (env, _p, ino) = user_instance();
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    env.push(&[created(ino::D, b"a", 50)]);
    assert_eq!(drain(&ino), [ev(wd, IN_CREATE, "a")]);
    env.fs.skip_seqs(4);
    env.push(&[created(ino::D, b"b", 51)]);
    assert_eq!(
        drain(&ino),
        [ev(-1, IN_Q_OVERFLOW, ""), ev(wd, IN_CREATE, "b")]
    );
}

#[test]
fn loss_on_one_filesystem_does_not_touch_instances_watching_another() {
    let env = Env::serving(&["file", "other"]);
    let other = FakeFs::start_named(env.h.kernel(), "other").unwrap();
    other.mkdir("d", ino::D, 0o755, USER, GROUP);
    let p = env.user(10, USER);
    let here = nonblocking(&p);
    let there = nonblocking(&p);
    let wd_here = here.add_watch("/d", IN_CREATE).unwrap();
    let wd_there = there.add_watch("/scheme/other/d", IN_CREATE).unwrap();
    assert_eq!(other.interests(), [Interest::Add(ino::D)]);
    // Same inode number on both filesystems: events do not cross.
    other.push(&[created(ino::D, b"x", 50)]);
    env.fs.push_raw_batch(b"garbage");
    env.push(&[created(ino::D, b"y", 50)]);
    assert_eq!(drain(&there), [ev(wd_there, IN_CREATE, "x")]);
    assert_eq!(
        drain(&here),
        [ev(-1, IN_Q_OVERFLOW, ""), ev(wd_here, IN_CREATE, "y")]
    );
}

#[test]
fn the_daemon_survives_hostile_feed_bytes() {
    let (env, _p, ino) = user_instance();
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    // A header claiming more bytes than sent, a header with a bad version, a record with a
    // name containing '/', an empty read.
    let mut hdr = [0u8; BATCH_HEADER_LEN];
    BatchHeader {
        first_seq: 1,
        count: 5,
        total_len: 4096,
    }
    .emit(&mut hdr)
    .unwrap();
    env.fs.push_raw_batch(&hdr);
    let mut bad_version = hdr;
    bad_version[4] = 9;
    env.fs.push_raw_batch(&bad_version);
    let mut buf = vec![0u8; BATCH_HEADER_LEN + MAX_RECORD_LEN];
    let n = created(ino::D, b"a/b", 50).emit(&mut buf[BATCH_HEADER_LEN..]);
    assert!(n.is_err(), "the encoder refuses it; build it by hand");
    let len = created(ino::D, b"axb", 50)
        .emit(&mut buf[BATCH_HEADER_LEN..])
        .unwrap();
    buf[BATCH_HEADER_LEN + 48 + 1] = b'/';
    let first_seq = env.fs.next_seq();
    BatchHeader {
        first_seq,
        count: 1,
        total_len: (BATCH_HEADER_LEN + len) as u32,
    }
    .emit(&mut buf)
    .unwrap();
    env.fs.push_raw_batch(&buf[..BATCH_HEADER_LEN + len]);
    env.fs.skip_seqs(1);
    env.push(&[created(ino::D, b"ok", 60)]);
    let got = drain(&ino);
    assert_eq!(got.last(), Some(&ev(wd, IN_CREATE, "ok")));
    assert!(
        got[..got.len() - 1]
            .iter()
            .all(|e| *e == ev(-1, IN_Q_OVERFLOW, "")),
        "{got:?}"
    );
    assert!(!env.h.daemon_finished());
}

#[test]
fn the_daemon_keeps_no_fd_but_its_anchor_and_feed() {
    let (env, p, ino) = user_instance();
    assert_eq!(ino.add_watch("/d", IN_CREATE).unwrap(), 1);
    assert_eq!(ino.add_watch("/d/f", IN_MODIFY).unwrap(), 2);
    assert_eq!(
        errno(ino.add_watch("/secret", IN_MODIFY)),
        syscall::error::EACCES
    );
    assert_eq!(
        errno(ino.add_watch("/d/f", IN_ONLYDIR)),
        syscall::error::ENOTDIR
    );
    drop(ino);
    common::sync(&p);
    let Env { fs, h } = env;
    let mut scheme = h.stop();
    // Two fds: the anchor on `file` and its feed; every fd received with sendfd was closed.
    assert_eq!(scheme.sys_mut().process().fds().len(), 2);
    assert_eq!(scheme.handle_count(), 0);
    assert_eq!(fs.feed_opens(), 1);
}

#[test]
fn a_filesystem_that_goes_away_unmounts_its_watches() {
    let (env, _p, ino) = user_instance();
    let w1 = ino.add_watch("/d", IN_CREATE).unwrap();
    let w2 = ino.add_watch("/d/f", IN_MODIFY).unwrap();
    // The filesystem's daemon stops; the next readiness of its feed finds it gone.
    env.h.kernel().shutdown_scheme("file").unwrap();
    env.push(&[created(ino::D, b"x", 50)]);
    let got = drain(&ino);
    assert_eq!(got.len(), 4, "{got:?}");
    for (wd, isdir) in [(w1, IN_ISDIR), (w2, 0)] {
        let mine: Vec<_> = got.iter().filter(|e| e.wd == wd).cloned().collect();
        assert_eq!(
            mine,
            [ev(wd, IN_UNMOUNT | isdir, ""), ev(wd, IN_IGNORED, "")]
        );
    }
    // A filesystem registered again under the name gets a new feed.
    let again = FakeFs::start(env.h.kernel()).unwrap();
    again.mkdir("d", ino::D, 0o755, USER, GROUP);
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    assert_eq!(wd, 3);
    assert_eq!(again.feed_opens(), 1);
    again.push(&[created(ino::D, b"y", 50)]);
    assert_eq!(drain(&ino), [ev(wd, IN_CREATE, "y")]);
}
