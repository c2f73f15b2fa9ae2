//! SEMANTICS.md "Queue", through the scheme: coalescing and overflow, with the limit lowered
//! at run time through the tunable.

mod common;

use common::*;
use inotify_abi::consts::*;
use inotify_engine::Fact;

#[test]
fn identical_consecutive_events_coalesce() {
    let (env, _p, ino) = user_instance();
    let wd = ino.add_watch("/d", IN_MODIFY | IN_ATTRIB).unwrap();
    let f = at(ino::F, ino::D, "f");
    let g = at(ino::G, ino::D, "g");
    env.push(&[
        Fact::Modified(f),
        Fact::Modified(f),
        Fact::Modified(g),
        Fact::Modified(f),
        Fact::Attrib(f),
        Fact::Attrib(f),
    ]);
    assert_eq!(
        drain(&ino),
        [
            ev(wd, IN_MODIFY, "f"),
            ev(wd, IN_MODIFY, "g"),
            ev(wd, IN_MODIFY, "f"),
            ev(wd, IN_ATTRIB, "f"),
        ]
    );
    // A read ends coalescing: the same event after a read is queued again.
    env.push(&[Fact::Modified(f)]);
    assert_eq!(drain(&ino), [ev(wd, IN_MODIFY, "f")]);
}

#[test]
fn nothing_merges_into_ignored() {
    let (_env, _p, ino) = user_instance();
    let wd = ino.add_watch("/d/f", IN_MODIFY).unwrap();
    ino.rm_watch(wd).unwrap();
    let wd2 = ino.add_watch("/d/f", IN_MODIFY).unwrap();
    ino.rm_watch(wd2).unwrap();
    assert_eq!(
        drain(&ino),
        [ev(wd, IN_IGNORED, ""), ev(wd2, IN_IGNORED, "")]
    );
}

#[test]
fn overflow_with_the_limit_lowered_at_run_time() {
    let env = Env::start();
    let root = env.root();
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    set_tunable(&root, "max_queued_events", "3\n");
    assert_eq!(tunable(&p, "max_queued_events"), "3\n");
    let names: [&'static [u8]; 6] = [b"a", b"b", b"c", b"d", b"e", b"f"];
    let facts: Vec<Fact> = names
        .iter()
        .enumerate()
        .map(|(i, n)| created(ino::D, n, 50 + i as u64))
        .collect();
    env.push(&facts);
    let got = drain(&ino);
    assert_eq!(
        got,
        [
            ev(wd, IN_CREATE, "a"),
            ev(wd, IN_CREATE, "b"),
            ev(wd, IN_CREATE, "c"),
            ev(-1, IN_Q_OVERFLOW, ""),
        ]
    );
    // Three events were dropped.
    assert_eq!(tunable(&p, "event_drops"), "3\n");
    // Room again: events flow.
    env.push(&[created(ino::D, b"g", 60)]);
    assert_eq!(drain(&ino), [ev(wd, IN_CREATE, "g")]);
}

#[test]
fn overflow_is_appended_once() {
    let env = Env::start();
    let root = env.root();
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    set_tunable(&root, "max_queued_events", "1");
    env.push(&[created(ino::D, b"a", 50)]);
    env.push(&[created(ino::D, b"b", 51)]);
    env.push(&[created(ino::D, b"c", 52)]);
    assert_eq!(
        drain(&ino),
        [ev(wd, IN_CREATE, "a"), ev(-1, IN_Q_OVERFLOW, "")]
    );
}

/// One batch of `n` files created in /d, named `f<k>` from `first`.
fn create_in_d(env: &Env, first: usize, n: usize) {
    let names: Vec<Vec<u8>> = (first..first + n)
        .map(|k| format!("f{k}").into_bytes())
        .collect();
    let facts: Vec<Fact> = names
        .iter()
        .zip(first..)
        .map(|(name, k)| Fact::Created {
            dir: ino::D,
            name,
            ino: 1000 + k as u64,
            is_dir: false,
        })
        .collect();
    env.push(&facts);
}

#[test]
fn a_uid_over_its_queue_budget_gets_overflow_while_another_uids_queue_still_grows() {
    let env = Env::start();
    let root = env.root();
    set_tunable(&root, "max_user_queued_bytes", "4096\n");
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    // 4096 bytes hold 128 records of 32 bytes (header and a short name): 200 do not fit.
    create_in_d(&env, 0, 200);
    let q = env.user(11, OTHER);
    let other = nonblocking(&q);
    let wd_other = other.add_watch("/d", IN_CREATE).unwrap();
    create_in_d(&env, 200, 50);

    let got = drain(&ino);
    let (last, kept) = got.split_last().unwrap();
    assert_eq!(*last, ev(-1, IN_Q_OVERFLOW, ""));
    assert!(kept.len() > 64 && kept.len() <= 128, "{}", kept.len());
    for (k, e) in kept.iter().enumerate() {
        assert_eq!(*e, ev(wd, IN_CREATE, &format!("f{k}")));
    }
    let want: Vec<_> = (200..250)
        .map(|k| ev(wd_other, IN_CREATE, &format!("f{k}")))
        .collect();
    assert_eq!(drain(&other), want);
    assert_eq!(
        tunable(&p, "event_drops"),
        format!("{}\n", 250 - kept.len())
    );
    // Reading made room: the same uid queues again.
    create_in_d(&env, 250, 1);
    assert_eq!(drain(&ino), [ev(wd, IN_CREATE, "f250")]);
}

#[test]
fn the_daemon_wide_queue_cap_overflows_a_uid_under_its_own_budget() {
    let env = Env::start();
    let root = env.root();
    set_tunable(&root, "max_total_queued_bytes", "4096");
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
    ino.add_watch("/d", IN_CREATE).unwrap();
    create_in_d(&env, 0, 200);
    let q = env.user(11, OTHER);
    let other = nonblocking(&q);
    other.add_watch("/d", IN_CREATE).unwrap();
    create_in_d(&env, 200, 1);
    assert_eq!(drain(&other), [ev(-1, IN_Q_OVERFLOW, "")]);
    assert_eq!(drain(&ino).last(), Some(&ev(-1, IN_Q_OVERFLOW, "")));
}
