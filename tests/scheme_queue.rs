//! SEMANTICS.md "Queue", through the scheme: coalescing and overflow, with the limit lowered
//! at run time through the tunable.

mod common;

use common::*;
use inotify_abi::consts::*;
use inotify_engine::Fact;
use syscall::flag::{O_RDONLY, O_WRONLY};

fn tunable(p: &inotifyd::host::Process, name: &str) -> String {
    let fd = p
        .open(&format!("/scheme/inotify/{name}"), O_RDONLY)
        .unwrap();
    let mut buf = [0u8; 32];
    let n = p.read(fd, &mut buf).unwrap();
    p.close(fd).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn identical_consecutive_events_coalesce() {
    let env = Env::start();
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
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
    let env = Env::start();
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
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
    let fd = root
        .open("/scheme/inotify/max_queued_events", O_WRONLY)
        .unwrap();
    root.write(fd, b"3\n").unwrap();
    root.close(fd).unwrap();
    assert_eq!(tunable(&p, "max_queued_events"), "3\n");
    let names: [&'static [u8]; 6] = [b"a", b"b", b"c", b"d", b"e", b"f"];
    let facts: Vec<Fact> = names
        .iter()
        .enumerate()
        .map(|(i, n)| Fact::Created {
            dir: ino::D,
            name: n,
            ino: 50 + i as u64,
            is_dir: false,
        })
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
    env.push(&[Fact::Created {
        dir: ino::D,
        name: b"g",
        ino: 60,
        is_dir: false,
    }]);
    assert_eq!(drain(&ino), [ev(wd, IN_CREATE, "g")]);
}

#[test]
fn overflow_is_appended_once() {
    let env = Env::start();
    let root = env.root();
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    let fd = root
        .open("/scheme/inotify/max_queued_events", O_WRONLY)
        .unwrap();
    root.write(fd, b"1").unwrap();
    root.close(fd).unwrap();
    env.push(&[Fact::Created {
        dir: ino::D,
        name: b"a",
        ino: 50,
        is_dir: false,
    }]);
    env.push(&[Fact::Created {
        dir: ino::D,
        name: b"b",
        ino: 51,
        is_dir: false,
    }]);
    env.push(&[Fact::Created {
        dir: ino::D,
        name: b"c",
        ino: 52,
        is_dir: false,
    }]);
    assert_eq!(
        drain(&ino),
        [ev(wd, IN_CREATE, "a"), ev(-1, IN_Q_OVERFLOW, "")]
    );
}
