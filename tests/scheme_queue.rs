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
