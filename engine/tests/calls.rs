//! add_watch / rm_watch / read / instances / limits: exact results and errno.

mod common;

use common::*;
use inotify_abi::consts::*;
use inotify_engine::errno::*;
use inotify_engine::{Engine, Fact, InodeKey, Interest, InterestChange, Limits, Target};

#[test]
fn mask_validation_matches_linux() {
    let (mut e, i) = setup();
    // Checked on this kernel: 0, 0x1000, 0x800000, 0x8000000 are EINVAL; a mask with only
    // IN_DONT_FOLLOW, IN_UNMOUNT, IN_IGNORED, IN_ISDIR, IN_Q_OVERFLOW, IN_ONESHOT or
    // IN_MASK_ADD is accepted.
    for bad in [
        0,
        0x1000,
        0x80_0000,
        0x800_0000,
        IN_MODIFY | 0x1000 | IN_ONLYDIR,
    ] {
        assert_eq!(
            e.add_watch(i, file(FILE), bad),
            Err(EINVAL),
            "mask {bad:#x}"
        );
    }
    assert_eq!(
        e.add_watch(i, file(FILE), IN_MASK_ADD | IN_MASK_CREATE | IN_MODIFY),
        Err(EINVAL)
    );
    assert_eq!(e.watch_count(), 0);
    for (n, ok) in [
        IN_DONT_FOLLOW,
        IN_UNMOUNT,
        IN_IGNORED,
        IN_ISDIR,
        IN_Q_OVERFLOW,
        IN_ONESHOT,
        IN_MASK_ADD,
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(
            e.add_watch(i, file(FILE + n as u64), ok),
            Ok(n as i32 + 1),
            "mask {ok:#x}"
        );
    }
}

#[test]
fn error_order_matches_linux() {
    let (mut e, i) = setup();
    assert_eq!(e.add_watch(i + 12345, file(FILE), IN_MODIFY), Err(EINVAL));
    assert_eq!(
        e.add_watch(i, file(FILE), IN_MODIFY | IN_ONLYDIR),
        Err(ENOTDIR)
    );
    assert_eq!(e.add_watch(i, file(FILE), IN_MODIFY), Ok(1));
    // Path lookup (ENOTDIR) comes before the existing-watch check (EEXIST).
    assert_eq!(
        e.add_watch(i, file(FILE), IN_MODIFY | IN_ONLYDIR | IN_MASK_CREATE),
        Err(ENOTDIR)
    );
    assert_eq!(
        e.add_watch(i, file(FILE), IN_MODIFY | IN_MASK_CREATE),
        Err(EEXIST)
    );
    // ADD|CREATE is refused before anything else.
    assert_eq!(
        e.add_watch(
            i,
            file(FILE),
            IN_MODIFY | IN_MASK_CREATE | IN_MASK_ADD | IN_ONLYDIR
        ),
        Err(EINVAL)
    );
    assert_eq!(e.add_watch(i, dir(DIR), IN_CREATE | IN_ONLYDIR), Ok(2));
}

#[test]
fn watch_limits_and_wd_numbers_match_linux() {
    let (mut e, i) = setup();
    let limits = Limits {
        max_user_watches: 2,
        ..Limits::default()
    };
    e.set_limits(limits);
    assert_eq!(e.limits(), limits);
    assert_eq!(e.add_watch(i, file(1), IN_MODIFY), Ok(1));
    assert_eq!(e.add_watch(i, file(2), IN_MODIFY), Ok(2));
    assert_eq!(e.add_watch(i, file(3), IN_MODIFY), Err(ENOSPC));
    // EEXIST is checked before ENOSPC; updating an existing watch works at the limit.
    assert_eq!(
        e.add_watch(i, file(1), IN_MODIFY | IN_MASK_CREATE),
        Err(EEXIST)
    );
    assert_eq!(e.add_watch(i, file(1), IN_ATTRIB), Ok(1));
    assert_eq!(e.add_watch(i, file(3), IN_MODIFY), Err(ENOSPC));
    // Observed: each refused watch used up a wd (Linux allocates the idr slot first).
    e.rm_watch(i, 1).unwrap();
    assert_eq!(e.add_watch(i, file(3), IN_MODIFY), Ok(5));
    // The limit is per uid: another user is not affected, a second instance of the same one is.
    let same = e.create_instance(1000).unwrap();
    assert_eq!(e.add_watch(same, file(4), IN_MODIFY), Err(ENOSPC));
    let other = e.create_instance(1001).unwrap();
    assert_eq!(e.add_watch(other, file(4), IN_MODIFY), Ok(1));
    // The global limit.
    e.set_limits(Limits {
        max_user_watches: 100,
        max_watches: 3,
        ..Limits::default()
    });
    assert_eq!(e.add_watch(other, file(5), IN_MODIFY), Err(ENOSPC));
    e.destroy_instance(i);
    assert_eq!(e.add_watch(other, file(5), IN_MODIFY), Ok(3));
}

#[test]
fn instances_per_uid_are_limited() {
    let mut e = Engine::new(Limits {
        max_user_instances: 2,
        ..Limits::default()
    });
    let a = e.create_instance(5).unwrap();
    let b = e.create_instance(5).unwrap();
    assert_ne!(a, b);
    assert_eq!(e.create_instance(5), Err(EMFILE));
    assert!(e.create_instance(6).is_ok());
    e.destroy_instance(a);
    assert!(!e.has_instance(a));
    let c = e.create_instance(5).unwrap();
    // A destroyed id is not reused for the next instance.
    assert_ne!(c, a);
    assert_eq!(e.add_watch(a, file(FILE), IN_MODIFY), Err(EINVAL));
    assert_eq!(e.rm_watch(a, 1), Err(EINVAL));
    assert_eq!(e.read(a, &mut [0u8; 64]), Err(EINVAL));
    e.destroy_instance(a); // unknown: ignored
    assert!(e.has_instance(b) && e.has_instance(c));
}

#[test]
fn same_inode_same_wd_and_mask_update_rules() {
    let (mut e, i) = setup();
    assert_eq!(e.add_watch(i, file(FILE), IN_MODIFY | IN_ONESHOT), Ok(1));
    // Without IN_MASK_ADD the mask and IN_ONESHOT are replaced (observed: no IN_IGNORED).
    assert_eq!(e.add_watch(i, file(FILE), IN_ATTRIB), Ok(1));
    assert_eq!(e.watch_count(), 1);
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    e.apply(FS, &Fact::Attrib(at(FILE, 0, "")));
    e.apply(FS, &Fact::Attrib(at(FILE, 0, "")));
    assert_eq!(drain(&mut e, i), vec![ev(1, IN_ATTRIB, 0, "")]);
    // IN_MASK_ADD ORs events and flags (observed: ONESHOT kept, IGNORED after the event).
    assert_eq!(
        e.add_watch(i, file(FILE), IN_MODIFY | IN_ONESHOT | IN_MASK_ADD),
        Ok(1)
    );
    e.apply(FS, &Fact::Attrib(at(FILE, 0, "")));
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    assert_eq!(
        drain(&mut e, i),
        vec![ev(1, IN_ATTRIB, 0, ""), ev(1, IN_IGNORED, 0, "")]
    );
    assert_eq!(e.watch_count(), 0);
    assert_eq!(e.rm_watch(i, 1), Err(EINVAL));
}

#[test]
fn wd_numbers_increase_after_every_kind_of_removal() {
    let (mut e, i) = setup();
    assert_eq!(e.add_watch(i, file(1), IN_ATTRIB), Ok(1));
    e.rm_watch(i, 1).unwrap();
    assert_eq!(e.add_watch(i, file(1), IN_ATTRIB), Ok(2));
    assert_eq!(e.add_watch(i, file(2), IN_ATTRIB | IN_ONESHOT), Ok(3));
    e.apply(FS, &Fact::Attrib(at(2, 0, "")));
    e.apply(
        FS,
        &Fact::Unlinked {
            dir: DIR,
            name: b"one",
            ino: 1,
            is_dir: false,
            links_left: 0,
            freed: true,
        },
    );
    assert_eq!(e.watch_count(), 0);
    assert_eq!(e.add_watch(i, file(3), IN_ATTRIB), Ok(4));
    assert_eq!(e.rm_watch(i, 2), Err(EINVAL));
    assert_eq!(e.rm_watch(i, 3), Err(EINVAL));
    for wd in [0, -1, i32::MIN, i32::MAX, 5] {
        assert_eq!(e.rm_watch(i, wd), Err(EINVAL));
    }
}

#[test]
fn rm_watch_keeps_queued_events_then_ignored() {
    let (mut e, i) = setup();
    let wd = e.add_watch(i, dir(DIR), IN_MODIFY).unwrap();
    e.apply(FS, &Fact::Modified(at(FILE, DIR, "a")));
    e.rm_watch(i, wd).unwrap();
    e.apply(FS, &Fact::Modified(at(FILE, DIR, "b")));
    assert_eq!(
        drain(&mut e, i),
        vec![ev(1, IN_MODIFY, 0, "a"), ev(1, IN_IGNORED, 0, "")]
    );
}

#[test]
fn two_instances_on_one_inode_are_independent() {
    let (mut e, a) = setup();
    let b = e.create_instance(1000).unwrap();
    e.add_watch(a, file(FILE2), IN_ALL_EVENTS).unwrap();
    assert_eq!(e.add_watch(a, file(FILE), IN_MODIFY), Ok(2));
    assert_eq!(e.add_watch(b, file(FILE), IN_MODIFY | IN_ATTRIB), Ok(1));
    assert_eq!(e.watched_inodes(), 2);
    e.apply(FS, &Fact::Attrib(at(FILE, 0, "")));
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    assert_eq!(drain(&mut e, a), vec![ev(2, IN_MODIFY, 0, "")]);
    assert_eq!(
        drain(&mut e, b),
        vec![ev(1, IN_ATTRIB, 0, ""), ev(1, IN_MODIFY, 0, "")]
    );
    e.rm_watch(b, 1).unwrap();
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    assert_eq!(drain(&mut e, a), vec![ev(2, IN_MODIFY, 0, "")]);
    assert_eq!(drain(&mut e, b), vec![ev(1, IN_IGNORED, 0, "")]);
    // Destroying an instance is silent for the others.
    e.destroy_instance(a);
    assert_eq!(e.watch_count(), 0);
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    assert_eq!(drain(&mut e, b), vec![]);
}

#[test]
fn read_errors_and_partial_reads() {
    let (mut e, i) = setup();
    let mut buf = [0u8; 128];
    assert_eq!(e.read(i, &mut buf), Err(EAGAIN));
    e.add_watch(i, dir(DIR), IN_CREATE).unwrap();
    e.apply(
        FS,
        &Fact::Created {
            dir: DIR,
            name: b"0123456789abcdef",
            ino: 20,
            is_dir: false,
        },
    );
    e.apply(
        FS,
        &Fact::Created {
            dir: DIR,
            name: b"x",
            ino: 21,
            is_dir: false,
        },
    );
    assert_eq!(e.queued_bytes(i), 48 + 32);
    assert_eq!(e.queued_bytes(i + 999), 0);
    assert_eq!(e.read(i, &mut buf[..47]), Err(EINVAL));
    // Once one record fits, as many whole records as fit.
    assert_eq!(e.read(i, &mut buf[..79]), Ok(48));
    assert_eq!(
        parse(&buf[..48]),
        vec![ev(1, IN_CREATE, 0, "0123456789abcdef")]
    );
    assert_eq!(&buf[16 + 16..48], &[0u8; 16], "name padded with NULs");
    assert_eq!(e.read(i, &mut buf), Ok(32));
    assert_eq!(parse(&buf[..32]), vec![ev(1, IN_CREATE, 0, "x")]);
    assert_eq!(e.read(i, &mut buf), Err(EAGAIN));
}

#[test]
fn woken_reports_each_empty_to_nonempty_edge_once() {
    let (mut e, a) = setup();
    let b = e.create_instance(1).unwrap();
    e.add_watch(a, file(FILE), IN_MODIFY | IN_ATTRIB).unwrap();
    e.add_watch(b, file(FILE), IN_ATTRIB).unwrap();
    let mut out = Vec::new();
    e.take_woken(&mut out);
    assert!(out.is_empty());
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    e.apply(FS, &Fact::Attrib(at(FILE, 0, "")));
    e.take_woken(&mut out);
    assert_eq!(out, vec![a, b]);
    out.clear();
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    e.take_woken(&mut out);
    assert!(out.is_empty(), "queue was not empty");
    drain(&mut e, a);
    drain(&mut e, b);
    e.apply(FS, &Fact::Attrib(at(FILE, 0, "")));
    e.destroy_instance(b);
    e.take_woken(&mut out);
    assert_eq!(out, vec![a], "destroyed instances are not reported");
}

#[test]
fn interest_follows_first_and_last_watch() {
    let (mut e, a) = setup();
    let b = e.create_instance(1000).unwrap();
    let mut out = Vec::new();
    let add = |ino| InterestChange {
        fs: FS,
        change: Interest::Add(ino),
    };
    let remove = |ino| InterestChange {
        fs: FS,
        change: Interest::Remove(ino),
    };
    e.add_watch(a, file(FILE), IN_MODIFY).unwrap();
    e.add_watch(b, file(FILE), IN_MODIFY).unwrap();
    e.add_watch(a, file(FILE), IN_ATTRIB).unwrap();
    e.add_watch(a, dir(DIR), IN_CREATE).unwrap();
    e.add_watch(b, file(FILE2), IN_MODIFY | IN_ONESHOT).unwrap();
    e.take_interest(&mut out);
    assert_eq!(out, vec![add(FILE), add(DIR), add(FILE2)]);
    out.clear();
    e.rm_watch(a, 1).unwrap();
    e.take_interest(&mut out);
    assert!(out.is_empty(), "b still watches FILE");
    e.apply(FS, &Fact::Modified(at(FILE2, 0, "")));
    e.destroy_instance(b);
    e.take_interest(&mut out);
    assert_eq!(out, vec![remove(FILE2), remove(FILE)]);
    out.clear();
    e.apply(FS, &Fact::Unmounted);
    e.take_interest(&mut out);
    assert_eq!(out, vec![remove(DIR)]);
    assert_eq!(e.watched_inodes(), 0);
}

#[test]
fn same_inode_number_on_two_filesystems_is_two_inodes() {
    let (mut e, i) = setup();
    let other = Target {
        key: InodeKey {
            fs: FS + 1,
            ino: FILE,
        },
        is_dir: false,
    };
    assert_eq!(e.add_watch(i, file(FILE), IN_MODIFY), Ok(1));
    assert_eq!(e.add_watch(i, other, IN_MODIFY), Ok(2));
    e.apply(FS + 1, &Fact::Modified(at(FILE, 0, "")));
    assert_eq!(drain(&mut e, i), vec![ev(2, IN_MODIFY, 0, "")]);
}
