//! SEMANTICS.md "When events fire", through the scheme: facts pushed into the filesystem's
//! feed, events read through the client library.

mod common;

use common::*;
use inotify_abi::consts::*;
use inotify_engine::{Fact, Replaced};
use syscall::error::EINVAL;

#[test]
fn directory_watch_reports_named_child_events() {
    let (env, _p, ino) = user_instance();
    let wd = ino.add_watch("/d", IN_ALL_EVENTS).unwrap();
    assert_eq!(wd, 1);
    let f = at(ino::F, ino::D, "f");
    env.push(&[
        created(ino::D, b"new", 50),
        Fact::Created {
            dir: ino::D,
            name: b"newdir",
            ino: 51,
            is_dir: true,
        },
        Fact::Linked {
            dir: ino::D,
            name: b"hard",
            ino: ino::G,
        },
        Fact::Opened(f),
        Fact::Accessed(f),
        Fact::Modified(f),
        Fact::Attrib(f),
        Fact::Closed { at: f, wrote: true },
        Fact::Opened(f),
        Fact::Closed {
            at: f,
            wrote: false,
        },
        Fact::Unlinked {
            dir: ino::D,
            name: b"new",
            ino: 50,
            is_dir: false,
            links_left: 0,
            freed: true,
        },
        Fact::Unlinked {
            dir: ino::D,
            name: b"newdir",
            ino: 51,
            is_dir: true,
            links_left: 0,
            freed: true,
        },
    ]);
    assert_eq!(
        drain(&ino),
        [
            ev(wd, IN_CREATE, "new"),
            ev(wd, IN_CREATE | IN_ISDIR, "newdir"),
            ev(wd, IN_CREATE, "hard"),
            ev(wd, IN_OPEN, "f"),
            ev(wd, IN_ACCESS, "f"),
            ev(wd, IN_MODIFY, "f"),
            ev(wd, IN_ATTRIB, "f"),
            ev(wd, IN_CLOSE_WRITE, "f"),
            ev(wd, IN_OPEN, "f"),
            ev(wd, IN_CLOSE_NOWRITE, "f"),
            ev(wd, IN_DELETE, "new"),
            ev(wd, IN_DELETE | IN_ISDIR, "newdir"),
        ]
    );
}

#[test]
fn only_the_asked_events_are_delivered() {
    let (env, _p, ino) = user_instance();
    let wd = ino.add_watch("/d", IN_CREATE | IN_DELETE).unwrap();
    let f = at(ino::F, ino::D, "f");
    env.push(&[
        Fact::Opened(f),
        Fact::Modified(f),
        created(ino::D, b"x", 50),
        Fact::Closed { at: f, wrote: true },
    ]);
    assert_eq!(drain(&ino), [ev(wd, IN_CREATE, "x")]);
}

#[test]
fn parent_event_comes_before_the_child_watch_event() {
    let (env, _p, ino) = user_instance();
    let wd_dir = ino.add_watch("/d", IN_ALL_EVENTS).unwrap();
    let wd_file = ino.add_watch("/d/f", IN_ALL_EVENTS).unwrap();
    assert_ne!(wd_dir, wd_file);
    env.push(&[Fact::Modified(at(ino::F, ino::D, "f"))]);
    assert_eq!(
        drain(&ino),
        [ev(wd_dir, IN_MODIFY, "f"), ev(wd_file, IN_MODIFY, "")]
    );
}

#[test]
fn times_map_to_attrib_access_or_modify() {
    let (env, _p, ino) = user_instance();
    let wd = ino.add_watch("/d/f", IN_ALL_EVENTS).unwrap();
    let f = at(ino::F, ino::D, "f");
    env.push(&[Fact::Times {
        at: f,
        atime: true,
        mtime: true,
    }]);
    assert_eq!(drain(&ino), [ev(wd, IN_ATTRIB, "")]);
    env.push(&[Fact::Times {
        at: f,
        atime: true,
        mtime: false,
    }]);
    assert_eq!(drain(&ino), [ev(wd, IN_ACCESS, "")]);
    env.push(&[Fact::Times {
        at: f,
        atime: false,
        mtime: true,
    }]);
    assert_eq!(drain(&ino), [ev(wd, IN_MODIFY, "")]);
}

#[test]
fn link_count_changes_are_attrib_and_delete_self_waits_for_the_last_link() {
    let (env, _p, ino) = user_instance();
    let wd = ino.add_watch("/d/f", IN_ALL_EVENTS).unwrap();
    // link(): IN_ATTRIB on the linked inode.
    env.push(&[Fact::Linked {
        dir: ino::E,
        name: b"f2",
        ino: ino::F,
    }]);
    assert_eq!(drain(&ino), [ev(wd, IN_ATTRIB, "")]);
    // unlink of one of two links: IN_ATTRIB, not IN_DELETE_SELF.
    env.push(&[Fact::Unlinked {
        dir: ino::D,
        name: b"f",
        ino: ino::F,
        is_dir: false,
        links_left: 1,
        freed: false,
    }]);
    assert_eq!(drain(&ino), [ev(wd, IN_ATTRIB, "")]);
    // The last link: IN_ATTRIB (link count), IN_DELETE_SELF, IN_IGNORED; the watch is gone.
    env.push(&[Fact::Unlinked {
        dir: ino::E,
        name: b"f2",
        ino: ino::F,
        is_dir: false,
        links_left: 0,
        freed: true,
    }]);
    assert_eq!(
        drain(&ino),
        [
            ev(wd, IN_ATTRIB, ""),
            ev(wd, IN_DELETE_SELF, ""),
            ev(wd, IN_IGNORED, "")
        ]
    );
    assert_eq!(errno(ino.rm_watch(wd)), EINVAL);
}

#[test]
fn an_open_unlinked_file_reports_delete_self_when_freed() {
    let (env, _p, ino) = user_instance();
    let wd_dir = ino.add_watch("/d", IN_DELETE).unwrap();
    let wd = ino.add_watch("/d/f", IN_DELETE_SELF).unwrap();
    env.push(&[Fact::Unlinked {
        dir: ino::D,
        name: b"f",
        ino: ino::F,
        is_dir: false,
        links_left: 0,
        freed: false,
    }]);
    // IN_DELETE on the directory at once; nothing yet for the file.
    assert_eq!(drain(&ino), [ev(wd_dir, IN_DELETE, "f")]);
    env.push(&[Fact::Freed {
        ino: ino::F,
        is_dir: false,
    }]);
    assert_eq!(
        drain(&ino),
        [ev(wd, IN_DELETE_SELF, ""), ev(wd, IN_IGNORED, "")]
    );
}

#[test]
fn rename_pairs_cookies_and_ends_with_move_self() {
    let (env, _p, ino) = user_instance();
    let wd_d = ino.add_watch("/d", IN_ALL_EVENTS).unwrap();
    let wd_e = ino.add_watch("/e", IN_ALL_EVENTS).unwrap();
    let wd_f = ino.add_watch("/d/f", IN_ALL_EVENTS).unwrap();
    let rename = |old: &'static [u8], new: &'static [u8], from, to| Fact::Renamed {
        old_dir: from,
        old_name: old,
        new_dir: to,
        new_name: new,
        ino: ino::F,
        is_dir: false,
        replaced: None,
    };
    env.push(&[rename(b"f", b"moved", ino::D, ino::E)]);
    let got = drain(&ino);
    assert_eq!(got.len(), 3, "{got:?}");
    let cookie = got[0].cookie;
    assert_ne!(cookie, 0);
    assert_eq!(
        got,
        [
            evc(wd_d, IN_MOVED_FROM, cookie, "f"),
            evc(wd_e, IN_MOVED_TO, cookie, "moved"),
            ev(wd_f, IN_MOVE_SELF, ""),
        ]
    );
    // A second rename gets a new cookie (same directory: both halves on one watch).
    env.push(&[rename(b"moved", b"again", ino::E, ino::E)]);
    let got = drain(&ino);
    assert_eq!(got.len(), 3, "{got:?}");
    let second = got[0].cookie;
    assert_ne!(second, cookie);
    assert_eq!(
        got,
        [
            evc(wd_e, IN_MOVED_FROM, second, "moved"),
            evc(wd_e, IN_MOVED_TO, second, "again"),
            ev(wd_f, IN_MOVE_SELF, ""),
        ]
    );
}

#[test]
fn rename_over_a_watched_target_deletes_it() {
    let (env, _p, ino) = user_instance();
    let wd_g = ino
        .add_watch("/d/g", IN_DELETE_SELF | IN_MOVE_SELF)
        .unwrap();
    env.push(&[Fact::Renamed {
        old_dir: ino::D,
        old_name: b"f",
        new_dir: ino::D,
        new_name: b"g",
        ino: ino::F,
        is_dir: false,
        replaced: Some(Replaced {
            ino: ino::G,
            is_dir: false,
            links_left: 0,
            freed: true,
        }),
    }]);
    assert_eq!(
        drain(&ino),
        [ev(wd_g, IN_DELETE_SELF, ""), ev(wd_g, IN_IGNORED, "")]
    );
}

#[test]
fn isdir_is_stripped_from_move_self_and_delete_self() {
    let (env, _p, ino) = user_instance();
    let wd_d = ino
        .add_watch("/d", IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE)
        .unwrap();
    let wd_sub = ino
        .add_watch("/d/sub", IN_MOVE_SELF | IN_DELETE_SELF)
        .unwrap();
    env.push(&[Fact::Renamed {
        old_dir: ino::D,
        old_name: b"sub",
        new_dir: ino::D,
        new_name: b"sub2",
        ino: ino::SUB,
        is_dir: true,
        replaced: None,
    }]);
    let got = drain(&ino);
    assert_eq!(got.len(), 3, "{got:?}");
    let c = got[0].cookie;
    assert_eq!(
        got,
        [
            evc(wd_d, IN_MOVED_FROM | IN_ISDIR, c, "sub"),
            evc(wd_d, IN_MOVED_TO | IN_ISDIR, c, "sub2"),
            ev(wd_sub, IN_MOVE_SELF, ""),
        ]
    );
    env.push(&[Fact::Unlinked {
        dir: ino::D,
        name: b"sub2",
        ino: ino::SUB,
        is_dir: true,
        links_left: 0,
        freed: true,
    }]);
    // As Linux's d_delete: the inode goes (DELETE_SELF, IGNORED) before the parent hears of
    // the name (DELETE).
    assert_eq!(
        drain(&ino),
        [
            ev(wd_sub, IN_DELETE_SELF, ""),
            ev(wd_sub, IN_IGNORED, ""),
            ev(wd_d, IN_DELETE | IN_ISDIR, "sub2"),
        ]
    );
}

#[test]
fn unmount_ends_every_watch_on_the_filesystem() {
    let (env, _p, ino) = user_instance();
    let w1 = ino.add_watch("/d", IN_CREATE).unwrap();
    let w2 = ino.add_watch("/e", IN_CREATE).unwrap();
    env.push(&[Fact::Unmounted]);
    let got = drain(&ino);
    assert_eq!(got.len(), 4, "{got:?}");
    // Per watch: IN_UNMOUNT (with IN_ISDIR on a directory, as Linux's fsnotify_inode) then
    // IN_IGNORED.
    for wd in [w1, w2] {
        let mine: Vec<_> = got.iter().filter(|e| e.wd == wd).cloned().collect();
        assert_eq!(
            mine,
            [ev(wd, IN_UNMOUNT | IN_ISDIR, ""), ev(wd, IN_IGNORED, "")]
        );
    }
    assert_eq!(errno(ino.rm_watch(w1)), EINVAL);
    assert_eq!(errno(ino.rm_watch(w2)), EINVAL);
}

#[test]
fn rm_watch_queues_ignored_and_keeps_earlier_events() {
    let (env, p, ino) = user_instance();
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    env.push(&[created(ino::D, b"a", 50)]);
    common::sync(&p);
    ino.rm_watch(wd).unwrap();
    env.push(&[created(ino::D, b"b", 51)]);
    assert_eq!(
        drain(&ino),
        [ev(wd, IN_CREATE, "a"), ev(wd, IN_IGNORED, "")]
    );
    assert_eq!(errno(ino.rm_watch(wd)), EINVAL);
}

#[test]
fn two_instances_watch_one_inode_independently() {
    let env = Env::start();
    let a = env.user(10, USER);
    let b = env.user(11, OTHER);
    let ia = nonblocking(&a);
    let ib = nonblocking(&b);
    let wa = ia.add_watch("/d/f", IN_MODIFY | IN_ATTRIB).unwrap();
    let wb = ib.add_watch("/d/f", IN_MODIFY).unwrap();
    let f = at(ino::F, ino::D, "f");
    env.push(&[Fact::Modified(f), Fact::Attrib(f)]);
    assert_eq!(drain(&ia), [ev(wa, IN_MODIFY, ""), ev(wa, IN_ATTRIB, "")]);
    assert_eq!(drain(&ib), [ev(wb, IN_MODIFY, "")]);
    ia.rm_watch(wa).unwrap();
    env.push(&[Fact::Modified(f)]);
    assert_eq!(drain(&ia), [ev(wa, IN_IGNORED, "")]);
    assert_eq!(drain(&ib), [ev(wb, IN_MODIFY, "")]);
    // The inode is still of interest to the filesystem while b watches it.
    assert_eq!(env.fs.interest_set().get(&ino::F), Some(&1));
}
