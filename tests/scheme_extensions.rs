//! The inotifyd extensions through the scheme: loss reports, the watch listing and the
//! daemon-wide status (docs/semantics.md, "Beyond Linux"). Programs that do not call them
//! see Linux's ABI unchanged: the IN_Q_OVERFLOW records below are Linux's.

mod common;

use common::*;
use inotify_abi::consts::*;
use inotify_abi::proto::{CallRepr, WatchInfo, LOSS_REPORT_LEN};
use inotify_client::{self as client, Inotify, LossReport, IN_NONBLOCK};
use inotify_engine::Fact;
use syscall::error::*;
use syscall::flag::{O_RDONLY, O_RDWR, O_WRONLY};

/// `n` files created in `/d`, numbered from `first`, with `len`-byte names.
fn create_many(env: &Env, first: usize, n: usize, len: usize) {
    let names: Vec<Vec<u8>> = (first..first + n)
        .map(|k| {
            let mut name = format!("{k:08}").into_bytes();
            name.resize(len, b'n');
            name
        })
        .collect();
    let facts: Vec<Fact> = names
        .iter()
        .enumerate()
        .map(|(k, name)| Fact::Created {
            dir: ino::D,
            name,
            ino: 1000 + (first + k) as u64,
            is_dir: false,
        })
        .collect();
    env.push(&facts);
}

/// The events read, and checks that the last (and only the last) is IN_Q_OVERFLOW.
fn drain_overflowed<O: client::Os>(ino: &Inotify<O>) -> usize {
    let evs = drain(ino);
    let overflows = evs.iter().filter(|e| e.mask == IN_Q_OVERFLOW).count();
    assert_eq!(overflows, 1, "{evs:?}");
    assert_eq!(evs.last().unwrap(), &ev(-1, IN_Q_OVERFLOW, ""));
    evs.len() - 1
}

#[test]
fn a_full_queue_is_reported_with_its_exact_drop_count_and_wds() {
    let env = Env::start();
    set_tunable(&env.root(), "max_queued_events", "10");
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
    let wd_d = ino.add_watch("/d", IN_CREATE).unwrap();
    let wd_f = ino.add_watch("/d/f", IN_MODIFY).unwrap();
    assert_eq!(ino.loss_report().unwrap(), LossReport::default());
    create_many(&env, 0, 25, 8);
    env.push(&[Fact::Modified(at(ino::F, ino::D, "f"))]);
    assert_eq!(drain_overflowed(&ino), 10);
    let r = ino.loss_report().unwrap();
    assert_eq!((r.dropped, r.feed_lost), (16, 0));
    assert_eq!(r.wds(), &[wd_d, wd_f]);
    assert_eq!(r.more_wds, 0);
    assert!(r.first_ns > 0 && r.last_ns >= r.first_ns, "{r:?}");
    // The report was reset.
    assert_eq!(ino.loss_report().unwrap(), LossReport::default());
}

#[test]
fn the_per_user_byte_budget_is_reported_with_its_exact_drop_count() {
    let env = Env::start();
    set_tunable(&env.root(), "max_user_queued_bytes", "16384");
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    create_many(&env, 0, 200, 200);
    let queued = drain_overflowed(&ino);
    assert!(queued < 200, "the budget held {queued} events");
    let r = ino.loss_report().unwrap();
    assert_eq!((r.dropped, r.feed_lost), (200 - queued as u64, 0));
    assert_eq!(r.wds(), &[wd]);
}

#[test]
fn feed_loss_is_reported_once_per_instance_with_each_watch_on_that_filesystem() {
    let (env, p, ino) = user_instance();
    let wd_d = ino.add_watch("/d", IN_CREATE).unwrap();
    let wd_e = ino.add_watch("/e", IN_CREATE).unwrap();
    let other = env.user(11, OTHER);
    let other_ino = nonblocking(&other);
    let other_wd = other_ino.add_watch("/e", IN_CREATE).unwrap();
    env.push(&[created(ino::D, b"a", 50)]);
    assert_eq!(drain(&ino), [ev(wd_d, IN_CREATE, "a")]);
    // A gap of 4 records in the sequence, and the filesystem's own loss record of 7.
    env.fs.skip_seqs(4);
    env.push(&[created(ino::D, b"b", 51)]);
    env.push(&[Fact::Lost { count: 7 }]);
    assert_eq!(
        drain(&ino),
        [ev(-1, IN_Q_OVERFLOW, ""), ev(wd_d, IN_CREATE, "b")]
    );
    let r = ino.loss_report().unwrap();
    assert_eq!((r.dropped, r.feed_lost), (0, 11));
    assert_eq!(r.wds(), &[wd_d, wd_e]);
    let r = other_ino.loss_report().unwrap();
    assert_eq!((r.feed_lost, r.wds()), (11, &[other_wd][..]));
    drop(p);
}

#[test]
fn the_listing_shows_each_watch_with_the_path_it_was_added_with() {
    let (env, _p, ino) = user_instance();
    let wd_d = ino.add_watch("/d", IN_CREATE | IN_ONESHOT).unwrap();
    let wd_f = ino.add_watch("/d/f", IN_MODIFY).unwrap();
    let wd_e = ino.add_watch("/e", IN_DELETE).unwrap();
    // The same inode through another path keeps the first path; the mask changes.
    assert_eq!(ino.add_watch("/link", IN_ATTRIB), Ok(wd_f));
    ino.rm_watch(wd_e).unwrap();
    let watch = |wd, mask, ino, path: &str| client::Watch {
        wd,
        mask,
        ino,
        fs: b"file".to_vec(),
        path: path.as_bytes().to_vec(),
    };
    assert_eq!(
        ino.watches().unwrap(),
        vec![
            watch(wd_d, IN_CREATE | IN_ONESHOT, ino::D, "/d"),
            watch(wd_f, IN_ATTRIB, ino::F, "/d/f"),
        ]
    );
    // Paging: from a wd, whole records only.
    let mut buf = [0u8; 40];
    let n = client::list_watches_raw(ino.os(), ino.raw_fd(), wd_d + 1, &mut buf).unwrap();
    let (w, len) = WatchInfo::parse(&buf[..n]).unwrap();
    assert_eq!((w.wd, w.path, len), (wd_f, &b"/d/f"[..], n));
    assert_eq!(
        client::list_watches_raw(ino.os(), ino.raw_fd(), wd_f + 1, &mut buf),
        Ok(0)
    );
    drop(env);
}

#[test]
fn short_buffers_and_malformed_extension_calls_are_einval_and_change_nothing() {
    let env = Env::start();
    set_tunable(&env.root(), "max_queued_events", "1");
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    create_many(&env, 0, 3, 8);
    sync(&p);
    let fd = ino.raw_fd();
    // A loss report needs its whole length; the report is kept.
    let mut short = [0u8; LOSS_REPORT_LEN - 1];
    assert_eq!(
        errno(p.call(fd, &mut short, &CallRepr::LossReport.emit())),
        EINVAL
    );
    assert_eq!(
        errno(p.call(fd, &mut [], &CallRepr::LossReport.emit())),
        EINVAL
    );
    // A listing whose first record does not fit.
    assert_eq!(
        errno(client::list_watches_raw(&p, fd, 0, &mut [0u8; 20])),
        EINVAL
    );
    // Unknown bits in the metadata, a path too long or missing.
    assert_eq!(
        errno(p.call(fd, &mut [0u8; 64], &[CallRepr::LossReport.emit()[0], 1, 0])),
        EINVAL
    );
    let take = CallRepr::TakeResultPath { token: 12345 }.emit();
    assert_eq!(errno(p.call(fd, &mut [], &take)), EINVAL);
    assert_eq!(errno(p.call(fd, &mut vec![b'a'; 4096], &take)), EINVAL);
    assert_eq!(errno(p.call(fd, &mut [b'a'], &take)), EINVAL);
    // Terminal ioctls and unknown opcodes with a payload stay ENOTTY.
    assert_eq!(errno(p.call(fd, &mut [0u8; 64], &[3, 0])), ENOTTY);
    assert_eq!(errno(p.call(fd, &mut [0u8; 64], &[99, 0, 0])), ENOTTY);
    // On a tunable the extensions are EINVAL.
    let t = p
        .open("/scheme/inotify/max_queued_events", O_RDONLY)
        .unwrap();
    let mut buf = [0u8; LOSS_REPORT_LEN];
    assert_eq!(
        errno(p.call(t, &mut buf, &CallRepr::LossReport.emit())),
        EINVAL
    );
    p.close(t).unwrap();
    let r = ino.loss_report().unwrap();
    assert_eq!((r.dropped, r.wds()), (2, &[wd][..]));
}

/// The status text as `p` reads it.
fn status(p: &inotify_host::Process) -> String {
    let fd = p.open("/scheme/inotify/status", O_RDONLY).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 100];
    loop {
        let n = p.read(fd, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    p.close(fd).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn root_reads_the_daemon_wide_status_and_others_get_eacces() {
    let env = Env::start();
    let p = env.user(10, USER);
    let q = env.user(11, OTHER);
    let a = Inotify::init1(&p, IN_NONBLOCK).unwrap();
    let _b = Inotify::init1(&p, IN_NONBLOCK).unwrap();
    let c = Inotify::init1(&q, IN_NONBLOCK).unwrap();
    a.add_watch("/d", IN_CREATE).unwrap();
    a.add_watch("/e", IN_CREATE).unwrap();
    c.add_watch("/d", IN_CREATE).unwrap();
    env.push(&[created(ino::D, b"w", 49)]);
    sync(&p);
    let _ = drain(&a);
    let _ = drain(&c);
    env.fs.skip_seqs(3);
    env.push(&[created(ino::D, b"x", 50)]);
    sync(&p);
    let _ = drain(&a);
    for mode in [O_RDONLY, O_WRONLY, O_RDWR] {
        assert_eq!(errno(p.open("/scheme/inotify/status", mode)), EACCES);
    }
    let root = env.root();
    assert_eq!(errno(root.open("/scheme/inotify/status", O_RDWR)), EACCES);
    let text = status(&root);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("daemon instances 3 watches 3 inodes 2 "),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("uid 1000 instances 2 watches 2 queue_storage ")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("uid 1001 instances 1 watches 1 queue_storage ")),
        "{text}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("instance ")).count(),
        3
    );
    assert!(
        lines.iter().any(|l| l.starts_with("instance ")
            && l.contains(" uid 1001 ")
            && l.ends_with(" unreported_loss 3")),
        "{text}"
    );
    let next = env.fs.next_seq();
    assert!(
        lines.contains(&format!("feed file fs 0 open 1 next_seq {next} lost 3").as_str()),
        "{text}"
    );
}

/// The counts of the status text's `sys` line, by name.
fn sys_counts(text: &str) -> Vec<(String, u64)> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("sys "))
        .unwrap_or_else(|| panic!("no sys line in {text}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .chunks(2)
        .map(|kv| (kv[0].to_string(), kv[1].parse().unwrap()))
        .collect()
}

#[test]
fn the_status_counts_the_feed_turn_and_feed_read_an_event_took() {
    let env = Env::start();
    let p = env.user(10, USER);
    let a = Inotify::init1(&p, IN_NONBLOCK).unwrap();
    a.add_watch("/d", IN_CREATE).unwrap();
    let root = env.root();
    let before = sys_counts(&status(&root));
    let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "requests",
            "readable",
            "responses",
            "reads",
            "blocks",
            "empty_polls",
            "yields",
            "blocked_us",
            "ring_pulls"
        ]
    );
    env.push(&[created(ino::D, b"x", 50)]);
    sync(&p);
    assert_eq!(drain(&a).len(), 1);
    let after = sys_counts(&status(&root));
    let delta = |name: &str| {
        let at = names.iter().position(|n| *n == name).unwrap();
        after[at].1 - before[at].1
    };
    assert!(delta("readable") >= 1, "{before:?} {after:?}");
    assert!(delta("reads") >= 1, "{before:?} {after:?}");
    // The status read itself: an open, reads and a close (closes get no answer).
    assert!(delta("requests") >= 3, "{before:?} {after:?}");
    assert!(delta("responses") >= 2, "{before:?} {after:?}");
    // The host rig's waits are all blocking receives, each returning one wake.
    // Only a feed's turn yields, and at most once.
    assert!(delta("yields") <= delta("readable"), "{before:?} {after:?}");
    assert_eq!(
        delta("blocks"),
        delta("requests") + delta("readable"),
        "{before:?} {after:?}"
    );
    assert_eq!(delta("empty_polls"), 0);
    // This filesystem cannot share memory: its feed is read, never pulled from a ring.
    assert_eq!(delta("ring_pulls"), 0);
}

/// add_watch by hand: open `path`, send it, collect the wd with `payload` as the path.
fn add_watch_with_payload(
    p: &inotify_host::Process,
    inst: usize,
    path: &str,
    payload: &mut [u8],
) -> i32 {
    use inotify_abi::proto::AddWatchArg;
    static TOKEN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1 << 30);
    let token = TOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let fd = p.open(path, client::O_PATH).unwrap();
    p.sendfd(
        inst,
        fd,
        AddWatchArg {
            mask: IN_CREATE,
            token,
        }
        .emit(),
    )
    .unwrap();
    p.call(inst, payload, &CallRepr::TakeResultPath { token }.emit())
        .unwrap() as i32
}

#[test]
fn kept_paths_are_bounded_per_uid_and_given_back_on_close() {
    use inotifyd::scheme::MAX_USER_PATH_BYTES;
    let env = Env::start();
    let p = env.user(10, USER);
    let long = 4095;
    let fit = MAX_USER_PATH_BYTES / long;
    for k in 0..=fit {
        env.fs
            .create(&format!("d/many{k}"), 5000 + k as u64, 0o644, USER, GROUP);
    }
    let a = nonblocking(&p);
    for k in 0..fit {
        let path = format!("/d/many{k}");
        let mut payload = vec![b'x'; long];
        payload[..path.len()].copy_from_slice(path.as_bytes());
        add_watch_with_payload(&p, a.raw_fd(), &path, &mut payload);
    }
    // The uid's budget is spent: a long path is not kept, a short one still fits.
    let b = nonblocking(&p);
    let last = format!("/d/many{fit}");
    let mut payload = vec![b'y'; long];
    let wd_long = add_watch_with_payload(&p, b.raw_fd(), &last, &mut payload);
    let wd_short = b.add_watch("/d/f", IN_CREATE).unwrap();
    let listed: Vec<(i32, Vec<u8>)> = b
        .watches()
        .unwrap()
        .into_iter()
        .map(|w| (w.wd, w.path))
        .collect();
    assert_eq!(
        listed,
        vec![(wd_long, Vec::new()), (wd_short, b"/d/f".to_vec())]
    );
    assert_eq!(a.watches().unwrap().len(), fit);
    // Closing the first instance gives its paths back.
    drop(a);
    let c = nonblocking(&p);
    let wd = add_watch_with_payload(&p, c.raw_fd(), &last, &mut payload);
    assert_eq!(c.watches().unwrap()[0].wd, wd);
    assert_eq!(c.watches().unwrap()[0].path, payload);
}

#[test]
fn a_subtree_watch_on_a_filesystem_without_the_subtree_call_is_eopnotsupp_and_leaves_nothing() {
    // FakeFs answers the identity call but not the subtree call.
    let env = Env::start();
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
    assert_eq!(
        ino.add_subtree_watch("/d", IN_CREATE).unwrap_err().errno,
        EOPNOTSUPP
    );
    assert_eq!(
        ino.add_watch("/d/f", IN_CREATE | IN_SUBTREE)
            .unwrap_err()
            .errno,
        ENOTDIR
    );
    assert!(ino.watches().unwrap().is_empty());
    // A plain watch on the same directory works, and no subtree interest was ever sent.
    assert_eq!(ino.add_watch("/d", IN_CREATE).unwrap(), 1);
    assert!(!env
        .fs
        .interests()
        .iter()
        .any(|i| matches!(i, inotify_abi::feed::Interest::RemoveSubtree(_))));
}
