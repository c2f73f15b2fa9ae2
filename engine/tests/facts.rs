//! Fact -> event translation: exact sequences, in the order Linux 6.18 produced them.
//!
//! In most tests one instance watches the directory DIR (wd 1) and the file inside it
//! (wd 2), so the interleaving of the two watches is visible in one queue.

mod common;

use common::*;
use inotify_abi::consts::*;
use inotify_engine::errno::*;
use inotify_engine::{Engine, Fact, Limits, Replaced, Subject};

/// Instance watching DIR (wd 1) and FILE (wd 2) for everything.
fn dir_and_file() -> (Engine, u32) {
    let (mut e, i) = setup();
    assert_eq!(e.add_watch(i, dir(DIR), IN_ALL_EVENTS), Ok(1));
    assert_eq!(e.add_watch(i, file(FILE), IN_ALL_EVENTS), Ok(2));
    (e, i)
}

#[test]
fn created_file_and_directory() {
    let (mut e, i) = dir_and_file();
    e.apply(
        FS,
        &Fact::Created {
            dir: DIR,
            name: b"f",
            ino: 30,
            is_dir: false,
        },
    );
    e.apply(
        FS,
        &Fact::Created {
            dir: DIR,
            name: b"d",
            ino: 31,
            is_dir: true,
        },
    );
    e.apply(
        FS,
        &Fact::Created {
            dir: 99,
            name: b"elsewhere",
            ino: 32,
            is_dir: false,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_CREATE, 0, "f"),
            ev(1, IN_CREATE | IN_ISDIR, 0, "d")
        ]
    );
}

#[test]
fn linked_sends_attrib_before_create() {
    let (mut e, i) = dir_and_file();
    e.apply(
        FS,
        &Fact::Linked {
            dir: DIR,
            name: b"g",
            ino: FILE,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![ev(2, IN_ATTRIB, 0, ""), ev(1, IN_CREATE, 0, "g")]
    );
}

#[test]
fn unlink_with_links_left() {
    let (mut e, i) = dir_and_file();
    e.apply(
        FS,
        &Fact::Unlinked {
            dir: DIR,
            name: b"g",
            ino: FILE,
            is_dir: false,
            links_left: 1,
            freed: false,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![ev(2, IN_ATTRIB, 0, ""), ev(1, IN_DELETE, 0, "g")]
    );
    assert_eq!(e.watch_count(), 2);
}

#[test]
fn unlink_of_last_link_frees_before_the_directory_event() {
    let (mut e, i) = dir_and_file();
    e.apply(
        FS,
        &Fact::Unlinked {
            dir: DIR,
            name: b"f",
            ino: FILE,
            is_dir: false,
            links_left: 0,
            freed: true,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(2, IN_ATTRIB, 0, ""),
            ev(2, IN_DELETE_SELF, 0, ""),
            ev(2, IN_IGNORED, 0, ""),
            ev(1, IN_DELETE, 0, "f"),
        ]
    );
    assert_eq!(e.rm_watch(i, 2), Err(EINVAL));
    // The same number may now be a new inode: it is not watched.
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    assert_eq!(drain(&mut e, i), vec![]);
}

#[test]
fn rmdir_has_no_attrib() {
    let (mut e, i) = setup();
    e.add_watch(i, dir(DIR), IN_ALL_EVENTS).unwrap();
    e.add_watch(i, dir(DIR2), IN_ALL_EVENTS).unwrap();
    e.apply(
        FS,
        &Fact::Unlinked {
            dir: DIR,
            name: b"sub",
            ino: DIR2,
            is_dir: true,
            links_left: 0,
            freed: true,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(2, IN_DELETE_SELF, 0, ""),
            ev(2, IN_IGNORED, 0, ""),
            ev(1, IN_DELETE | IN_ISDIR, 0, "sub")
        ]
    );
}

#[test]
fn unlinked_but_open_dies_at_freed() {
    let (mut e, i) = dir_and_file();
    e.apply(
        FS,
        &Fact::Unlinked {
            dir: DIR,
            name: b"f",
            ino: FILE,
            is_dir: false,
            links_left: 0,
            freed: false,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![ev(2, IN_ATTRIB, 0, ""), ev(1, IN_DELETE, 0, "f")]
    );
    // Without IN_EXCL_UNLINK the old parent still hears about it under the old name.
    e.apply(FS, &Fact::Modified(at(FILE, DIR, "f")));
    e.apply(
        FS,
        &Fact::Closed {
            at: at(FILE, DIR, "f"),
            wrote: true,
        },
    );
    e.apply(
        FS,
        &Fact::Freed {
            ino: FILE,
            is_dir: false,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_MODIFY, 0, "f"),
            ev(2, IN_MODIFY, 0, ""),
            ev(1, IN_CLOSE_WRITE, 0, "f"),
            ev(2, IN_CLOSE_WRITE, 0, ""),
            ev(2, IN_DELETE_SELF, 0, ""),
            ev(2, IN_IGNORED, 0, ""),
        ]
    );
    assert_eq!(e.watch_count(), 1);
    e.apply(
        FS,
        &Fact::Freed {
            ino: FILE,
            is_dir: false,
        },
    );
    assert_eq!(drain(&mut e, i), vec![]);
}

#[test]
fn excl_unlink_silences_path_events_through_detached_handles() {
    let (mut e, i) = setup();
    e.add_watch(i, dir(DIR), IN_ALL_EVENTS | IN_EXCL_UNLINK)
        .unwrap();
    e.add_watch(i, file(FILE), IN_ALL_EVENTS | IN_EXCL_UNLINK)
        .unwrap();
    let other = e.create_instance(1000).unwrap();
    e.add_watch(other, dir(DIR), IN_ALL_EVENTS).unwrap();
    // Before the unlink nothing is filtered.
    e.apply(FS, &Fact::Modified(at(FILE, DIR, "f")));
    assert_eq!(
        drain(&mut e, i),
        vec![ev(1, IN_MODIFY, 0, "f"), ev(2, IN_MODIFY, 0, "")]
    );
    drain(&mut e, other);
    e.apply(
        FS,
        &Fact::Unlinked {
            dir: DIR,
            name: b"f",
            ino: FILE,
            is_dir: false,
            links_left: 0,
            freed: false,
        },
    );
    e.apply(FS, &Fact::Modified(gone(FILE, DIR, "f")));
    e.apply(FS, &Fact::Accessed(gone(FILE, DIR, "f")));
    // ftruncate through the open file: the producer does not mark it detached.
    e.apply(FS, &Fact::Modified(at(FILE, DIR, "f")));
    e.apply(FS, &Fact::Attrib(at(FILE, DIR, "f")));
    e.apply(
        FS,
        &Fact::Closed {
            at: gone(FILE, DIR, "f"),
            wrote: true,
        },
    );
    e.apply(
        FS,
        &Fact::Freed {
            ino: FILE,
            is_dir: false,
        },
    );
    // Observed on this kernel with both watches EXCL_UNLINK: write, read and close silent;
    // ftruncate and fchmod still reach both.
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(2, IN_ATTRIB, 0, ""),
            ev(1, IN_DELETE, 0, "f"),
            ev(1, IN_MODIFY, 0, "f"),
            ev(2, IN_MODIFY, 0, ""),
            ev(1, IN_ATTRIB, 0, "f"),
            ev(2, IN_ATTRIB, 0, ""),
            ev(2, IN_DELETE_SELF, 0, ""),
            ev(2, IN_IGNORED, 0, ""),
        ]
    );
    // A watch without the flag hears everything.
    assert_eq!(
        drain(&mut e, other),
        vec![
            ev(1, IN_DELETE, 0, "f"),
            ev(1, IN_MODIFY, 0, "f"),
            ev(1, IN_ACCESS, 0, "f"),
            ev(1, IN_MODIFY, 0, "f"),
            ev(1, IN_ATTRIB, 0, "f"),
            ev(1, IN_CLOSE_WRITE, 0, "f"),
        ]
    );
    // The flag is per handle, not per inode: a new file under the same number, or a handle
    // opened through a name that still exists, is heard.
    e.apply(
        FS,
        &Fact::Created {
            dir: DIR,
            name: b"n",
            ino: FILE,
            is_dir: false,
        },
    );
    e.apply(FS, &Fact::Modified(at(FILE, DIR, "n")));
    assert_eq!(
        drain(&mut e, i),
        vec![ev(1, IN_CREATE, 0, "n"), ev(1, IN_MODIFY, 0, "n")]
    );
}

#[test]
fn excl_unlink_is_per_name_while_other_links_remain() {
    // Linux: `s` and `c` name one inode; a file opened as `s` goes silent on EXCL_UNLINK
    // watches once `s` is removed, a file opened as `c` does not.
    let (mut e, i) = setup();
    e.add_watch(i, dir(DIR), IN_ALL_EVENTS | IN_EXCL_UNLINK)
        .unwrap();
    e.apply(
        FS,
        &Fact::Unlinked {
            dir: DIR,
            name: b"s",
            ino: FILE,
            is_dir: false,
            links_left: 1,
            freed: false,
        },
    );
    for at in [gone(FILE, DIR, "s"), at(FILE, DIR, "c")] {
        e.apply(FS, &Fact::Closed { at, wrote: true });
    }
    assert_eq!(
        drain(&mut e, i),
        vec![ev(1, IN_DELETE, 0, "s"), ev(1, IN_CLOSE_WRITE, 0, "c")]
    );
}

#[test]
fn rename_without_target() {
    let (mut e, i) = setup();
    e.add_watch(i, dir(DIR), IN_ALL_EVENTS).unwrap();
    e.add_watch(i, dir(DIR2), IN_ALL_EVENTS).unwrap();
    e.add_watch(i, file(FILE), IN_ALL_EVENTS).unwrap();
    let mv = |e: &mut Engine, old: &'static str, new: &'static str| {
        e.apply(
            FS,
            &Fact::Renamed {
                old_dir: DIR,
                old_name: old.as_bytes(),
                new_dir: DIR2,
                new_name: new.as_bytes(),
                ino: FILE,
                is_dir: false,
                replaced: None,
            },
        )
    };
    mv(&mut e, "a", "b");
    mv(&mut e, "c", "d");
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_MOVED_FROM, 1, "a"),
            ev(2, IN_MOVED_TO, 1, "b"),
            ev(3, IN_MOVE_SELF, 0, ""),
            ev(1, IN_MOVED_FROM, 2, "c"),
            ev(2, IN_MOVED_TO, 2, "d"),
            ev(3, IN_MOVE_SELF, 0, ""),
        ]
    );
}

#[test]
fn moved_directory_loses_isdir_on_move_self() {
    let (mut e, i) = setup();
    e.add_watch(i, dir(DIR), IN_ALL_EVENTS).unwrap();
    e.add_watch(i, dir(DIR2), IN_ALL_EVENTS).unwrap();
    e.add_watch(i, dir(40), IN_ALL_EVENTS).unwrap();
    e.apply(
        FS,
        &Fact::Renamed {
            old_dir: DIR,
            old_name: b"x",
            new_dir: DIR2,
            new_name: b"x",
            ino: 40,
            is_dir: true,
            replaced: None,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_MOVED_FROM | IN_ISDIR, 1, "x"),
            ev(2, IN_MOVED_TO | IN_ISDIR, 1, "x"),
            ev(3, IN_MOVE_SELF, 0, ""),
        ]
    );
}

/// Renames "a" (FILE) over "b" (FILE2) in DIR, with DIR (wd 1), FILE (wd 2), FILE2 (wd 3)
/// watched.
fn rename_over(replaced: Replaced) -> (Engine, u32) {
    let (mut e, i) = dir_and_file();
    let target = if replaced.is_dir {
        dir(FILE2)
    } else {
        file(FILE2)
    };
    assert_eq!(e.add_watch(i, target, IN_ALL_EVENTS), Ok(3));
    e.apply(
        FS,
        &Fact::Renamed {
            old_dir: DIR,
            old_name: b"a",
            new_dir: DIR,
            new_name: b"b",
            ino: FILE,
            is_dir: replaced.is_dir,
            replaced: Some(replaced),
        },
    );
    (e, i)
}

#[test]
fn rename_over_freed_target() {
    let (mut e, i) = rename_over(Replaced {
        ino: FILE2,
        is_dir: false,
        links_left: 0,
        freed: true,
    });
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_MOVED_FROM, 1, "a"),
            ev(1, IN_MOVED_TO, 1, "b"),
            ev(3, IN_ATTRIB, 0, ""),
            ev(2, IN_MOVE_SELF, 0, ""),
            ev(3, IN_DELETE_SELF, 0, ""),
            ev(3, IN_IGNORED, 0, ""),
        ]
    );
    assert_eq!(e.watch_count(), 2);
}

#[test]
fn rename_over_target_with_another_link() {
    let (mut e, i) = rename_over(Replaced {
        ino: FILE2,
        is_dir: false,
        links_left: 1,
        freed: false,
    });
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_MOVED_FROM, 1, "a"),
            ev(1, IN_MOVED_TO, 1, "b"),
            ev(3, IN_ATTRIB, 0, ""),
            ev(2, IN_MOVE_SELF, 0, ""),
        ]
    );
    assert_eq!(e.watch_count(), 3);
}

#[test]
fn rename_over_open_target_dies_at_freed() {
    let (mut e, i) = rename_over(Replaced {
        ino: FILE2,
        is_dir: false,
        links_left: 0,
        freed: false,
    });
    assert_eq!(drain(&mut e, i).len(), 4);
    e.apply(
        FS,
        &Fact::Closed {
            at: at(FILE2, DIR, "b"),
            wrote: false,
        },
    );
    e.apply(
        FS,
        &Fact::Freed {
            ino: FILE2,
            is_dir: false,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_CLOSE_NOWRITE, 0, "b"),
            ev(3, IN_CLOSE_NOWRITE, 0, ""),
            ev(3, IN_DELETE_SELF, 0, ""),
            ev(3, IN_IGNORED, 0, ""),
        ]
    );
}

#[test]
fn rename_directory_over_empty_directory() {
    let (mut e, i) = setup();
    e.add_watch(i, dir(DIR), IN_ALL_EVENTS).unwrap();
    e.add_watch(i, dir(40), IN_ALL_EVENTS).unwrap();
    e.add_watch(i, dir(41), IN_ALL_EVENTS).unwrap();
    e.apply(
        FS,
        &Fact::Renamed {
            old_dir: DIR,
            old_name: b"sub",
            new_dir: DIR,
            new_name: b"sub2",
            ino: 40,
            is_dir: true,
            replaced: Some(Replaced {
                ino: 41,
                is_dir: true,
                links_left: 0,
                freed: true,
            }),
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_MOVED_FROM | IN_ISDIR, 1, "sub"),
            ev(1, IN_MOVED_TO | IN_ISDIR, 1, "sub2"),
            ev(3, IN_ATTRIB | IN_ISDIR, 0, ""),
            ev(2, IN_MOVE_SELF, 0, ""),
            ev(3, IN_DELETE_SELF, 0, ""),
            ev(3, IN_IGNORED, 0, ""),
        ]
    );
}

#[test]
fn subject_events_go_to_parent_first_then_inode() {
    let (mut e, i) = dir_and_file();
    let f = at(FILE, DIR, "f");
    e.apply(FS, &Fact::Opened(f));
    e.apply(FS, &Fact::Accessed(f));
    e.apply(FS, &Fact::Modified(f));
    e.apply(FS, &Fact::Attrib(f));
    e.apply(
        FS,
        &Fact::Closed {
            at: f,
            wrote: false,
        },
    );
    // A subject reached without a name: only the inode's own watch.
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    e.apply(FS, &Fact::Modified(at(FILE, DIR, "")));
    let o = |wd, m, n| ev(wd, m, 0, n);
    assert_eq!(
        drain(&mut e, i),
        vec![
            o(1, IN_OPEN, "f"),
            o(2, IN_OPEN, ""),
            o(1, IN_ACCESS, "f"),
            o(2, IN_ACCESS, ""),
            o(1, IN_MODIFY, "f"),
            o(2, IN_MODIFY, ""),
            o(1, IN_ATTRIB, "f"),
            o(2, IN_ATTRIB, ""),
            o(1, IN_CLOSE_NOWRITE, "f"),
            o(2, IN_CLOSE_NOWRITE, ""),
            o(2, IN_MODIFY, ""),
        ]
    );
}

#[test]
fn directory_subjects_carry_isdir() {
    let (mut e, i) = setup();
    e.add_watch(i, dir(DIR), IN_ALL_EVENTS).unwrap();
    e.add_watch(i, dir(DIR2), IN_ALL_EVENTS).unwrap();
    let sub = Subject {
        ino: DIR2,
        is_dir: true,
        dir: DIR,
        name: b"sub",
        detached: false,
    };
    e.apply(FS, &Fact::Accessed(sub));
    e.apply(
        FS,
        &Fact::Closed {
            at: sub,
            wrote: false,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_ACCESS | IN_ISDIR, 0, "sub"),
            ev(2, IN_ACCESS | IN_ISDIR, 0, ""),
            ev(1, IN_CLOSE_NOWRITE | IN_ISDIR, 0, "sub"),
            ev(2, IN_CLOSE_NOWRITE | IN_ISDIR, 0, ""),
        ]
    );
}

#[test]
fn times_map_like_utimensat() {
    let (mut e, i) = setup();
    e.add_watch(i, file(FILE), IN_ALL_EVENTS).unwrap();
    let f = at(FILE, DIR, "f");
    for (atime, mtime) in [(true, true), (true, false), (false, true), (false, false)] {
        e.apply(
            FS,
            &Fact::Times {
                at: f,
                atime,
                mtime,
            },
        );
    }
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_ATTRIB, 0, ""),
            ev(1, IN_ACCESS, 0, ""),
            ev(1, IN_MODIFY, 0, "")
        ]
    );
}

#[test]
fn masks_select_events() {
    let (mut e, i) = setup();
    e.add_watch(i, dir(DIR), IN_CREATE | IN_CLOSE_WRITE)
        .unwrap();
    e.add_watch(i, file(FILE), IN_DELETE_SELF).unwrap();
    let f = at(FILE, DIR, "f");
    e.apply(FS, &Fact::Modified(f));
    e.apply(
        FS,
        &Fact::Closed {
            at: f,
            wrote: false,
        },
    );
    e.apply(FS, &Fact::Closed { at: f, wrote: true });
    e.apply(
        FS,
        &Fact::Created {
            dir: DIR,
            name: b"g",
            ino: 50,
            is_dir: false,
        },
    );
    e.apply(
        FS,
        &Fact::Unlinked {
            dir: DIR,
            name: b"f",
            ino: FILE,
            is_dir: false,
            links_left: 0,
            freed: true,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_CLOSE_WRITE, 0, "f"),
            ev(1, IN_CREATE, 0, "g"),
            ev(2, IN_DELETE_SELF, 0, ""),
            ev(2, IN_IGNORED, 0, ""),
        ]
    );
}

#[test]
fn oneshot_fires_once_then_ignored() {
    let (mut e, i) = setup();
    e.add_watch(i, dir(DIR), IN_MODIFY | IN_ONESHOT).unwrap();
    e.apply(
        FS,
        &Fact::Created {
            dir: DIR,
            name: b"a",
            ino: 9,
            is_dir: false,
        },
    );
    e.apply(FS, &Fact::Modified(at(9, DIR, "a")));
    e.apply(FS, &Fact::Modified(at(9, DIR, "a")));
    assert_eq!(
        drain(&mut e, i),
        vec![ev(1, IN_MODIFY, 0, "a"), ev(1, IN_IGNORED, 0, "")]
    );
    assert_eq!(e.watch_count(), 0);
    assert_eq!(e.add_watch(i, dir(DIR), IN_MODIFY), Ok(2));
}

#[test]
fn oneshot_on_delete_self_gives_one_ignored() {
    let (mut e, i) = setup();
    e.add_watch(i, file(FILE), IN_DELETE_SELF | IN_ONESHOT)
        .unwrap();
    e.apply(
        FS,
        &Fact::Unlinked {
            dir: DIR,
            name: b"f",
            ino: FILE,
            is_dir: false,
            links_left: 0,
            freed: true,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![ev(1, IN_DELETE_SELF, 0, ""), ev(1, IN_IGNORED, 0, "")]
    );
}

#[test]
fn unmount_ends_every_watch_on_that_filesystem() {
    let (mut e, i) = setup();
    e.add_watch(i, dir(DIR), IN_CREATE).unwrap();
    e.add_watch(i, file(FILE), IN_MODIFY | IN_ONESHOT).unwrap();
    e.add_watch(i, file(FILE2), IN_DONT_FOLLOW).unwrap();
    let elsewhere = inotify_engine::Target {
        key: inotify_engine::InodeKey {
            fs: FS + 1,
            ino: FILE,
        },
        is_dir: false,
    };
    e.add_watch(i, elsewhere, IN_MODIFY).unwrap();
    e.apply(FS, &Fact::Unmounted);
    assert_eq!(
        drain(&mut e, i),
        vec![
            // Observed: IN_UNMOUNT keeps IN_ISDIR, reaches watches whatever their mask, and a
            // one-shot watch gets a single IN_IGNORED.
            ev(1, IN_UNMOUNT | IN_ISDIR, 0, ""),
            ev(1, IN_IGNORED, 0, ""),
            ev(2, IN_UNMOUNT, 0, ""),
            ev(2, IN_IGNORED, 0, ""),
            ev(3, IN_UNMOUNT, 0, ""),
            ev(3, IN_IGNORED, 0, ""),
        ]
    );
    for wd in 1..=3 {
        assert_eq!(e.rm_watch(i, wd), Err(EINVAL));
    }
    assert_eq!(e.watch_count(), 1);
    assert_eq!(e.rm_watch(i, 4), Ok(()));
}

#[test]
fn lost_records_overflow_every_instance_on_the_filesystem() {
    let (mut e, a) = setup();
    let b = e.create_instance(1000).unwrap();
    let c = e.create_instance(1000).unwrap();
    e.add_watch(a, file(FILE), IN_MODIFY).unwrap();
    e.add_watch(a, file(FILE2), IN_MODIFY).unwrap();
    e.add_watch(b, file(FILE), IN_MODIFY).unwrap();
    let elsewhere = inotify_engine::Target {
        key: inotify_engine::InodeKey {
            fs: FS + 1,
            ino: FILE,
        },
        is_dir: false,
    };
    e.add_watch(c, elsewhere, IN_MODIFY).unwrap();
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    e.apply(FS, &Fact::Lost { count: 3 });
    e.apply(FS, &Fact::Lost { count: 1 });
    let overflow = ev(-1, IN_Q_OVERFLOW, 0, "");
    assert_eq!(
        drain(&mut e, a),
        vec![ev(1, IN_MODIFY, 0, ""), overflow.clone()]
    );
    assert_eq!(drain(&mut e, b), vec![ev(1, IN_MODIFY, 0, ""), overflow]);
    assert_eq!(drain(&mut e, c), vec![]);
    assert_eq!(e.event_drops(), 0);
}

#[test]
fn coalescing_merges_identical_consecutive_events_only() {
    let (mut e, i) = dir_and_file();
    let f = at(FILE, DIR, "f");
    e.apply(FS, &Fact::Modified(f));
    e.apply(FS, &Fact::Modified(f));
    // Parent and child alternate, so the last record never matches: nothing merges.
    let pair = [ev(1, IN_MODIFY, 0, "f"), ev(2, IN_MODIFY, 0, "")];
    assert_eq!(drain(&mut e, i), [pair.clone(), pair].concat());
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    e.apply(FS, &Fact::Attrib(at(FILE, 0, "")));
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(2, IN_MODIFY, 0, ""),
            ev(2, IN_ATTRIB, 0, ""),
            ev(2, IN_MODIFY, 0, "")
        ]
    );
    // A read in between: nothing unread to merge into.
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    assert_eq!(drain(&mut e, i), vec![ev(2, IN_MODIFY, 0, "")]);
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    assert_eq!(drain(&mut e, i), vec![ev(2, IN_MODIFY, 0, "")]);
}

#[test]
fn coalescing_ignores_the_cookie() {
    // Observed: two renames away of the same name, back to back on a watch with only
    // IN_MOVED_FROM, read as one event (the first cookie).
    let (mut e, i) = setup();
    e.add_watch(i, dir(DIR), IN_MOVED_FROM).unwrap();
    for (ino, to) in [(20, &b"b"[..]), (21, &b"c"[..])] {
        e.apply(
            FS,
            &Fact::Renamed {
                old_dir: DIR,
                old_name: b"a",
                new_dir: DIR,
                new_name: to,
                ino,
                is_dir: false,
                replaced: None,
            },
        );
    }
    assert_eq!(drain(&mut e, i), vec![ev(1, IN_MOVED_FROM, 1, "a")]);
}

#[test]
fn overflow_matches_linux() {
    let (mut e, i) = setup();
    e.set_limits(Limits {
        max_queued_events: 4,
        ..Limits::default()
    });
    e.add_watch(i, file(FILE), IN_MODIFY | IN_ACCESS).unwrap();
    let f = at(FILE, 0, "");
    for n in 0..6 {
        e.apply(
            FS,
            &if n % 2 == 0 {
                Fact::Modified(f)
            } else {
                Fact::Accessed(f)
            },
        );
    }
    assert_eq!(e.event_drops(), 2);
    assert_eq!(e.queued_bytes(i), 5 * 16);
    // Observed: an rm_watch on a full queue loses its IN_IGNORED but removes the watch.
    e.rm_watch(i, 1).unwrap();
    assert_eq!(e.event_drops(), 3);
    assert_eq!(e.add_watch(i, file(FILE), IN_MODIFY | IN_ACCESS), Ok(2));
    // Read two of the five; new events queue after the unread IN_Q_OVERFLOW until the limit
    // (which counts it), and no second overflow record is added while it is unread.
    let mut buf = [0u8; 32];
    assert_eq!(e.read(i, &mut buf), Ok(32));
    for n in 0..4 {
        e.apply(
            FS,
            &if n % 2 == 0 {
                Fact::Modified(f)
            } else {
                Fact::Accessed(f)
            },
        );
    }
    assert_eq!(e.event_drops(), 6);
    let o = |wd, m| ev(wd, m, 0, "");
    assert_eq!(
        drain(&mut e, i),
        vec![
            o(1, IN_MODIFY),
            o(1, IN_ACCESS),
            o(-1, IN_Q_OVERFLOW),
            o(2, IN_MODIFY)
        ]
    );
    // Once read, a new overflow can be queued.
    for n in 0..5 {
        e.apply(
            FS,
            &if n % 2 == 0 {
                Fact::Modified(f)
            } else {
                Fact::Accessed(f)
            },
        );
    }
    let got = drain(&mut e, i);
    assert_eq!(got.len(), 5);
    assert_eq!(got[4], o(-1, IN_Q_OVERFLOW));
    assert_eq!(e.event_drops(), 7);
}

#[test]
fn overflow_with_zero_limit_queues_only_the_overflow_record() {
    let (mut e, i) = setup();
    e.set_limits(Limits {
        max_queued_events: 0,
        ..Limits::default()
    });
    e.add_watch(i, file(FILE), IN_MODIFY).unwrap();
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    let mut woken = Vec::new();
    e.take_woken(&mut woken);
    assert_eq!(woken, vec![i]);
    assert_eq!(drain(&mut e, i), vec![ev(-1, IN_Q_OVERFLOW, 0, "")]);
}

#[test]
fn lowering_the_limit_keeps_queued_events() {
    let (mut e, i) = setup();
    e.add_watch(i, file(FILE), IN_MODIFY | IN_ATTRIB).unwrap();
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    e.apply(FS, &Fact::Attrib(at(FILE, 0, "")));
    e.set_limits(Limits {
        max_queued_events: 1,
        ..Limits::default()
    });
    e.apply(FS, &Fact::Modified(at(FILE, 0, "")));
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_MODIFY, 0, ""),
            ev(1, IN_ATTRIB, 0, ""),
            ev(-1, IN_Q_OVERFLOW, 0, "")
        ]
    );
}

#[test]
fn hand_built_facts_never_panic() {
    // Facts are validated by the feed parser, but the engine must not rely on it.
    let (mut e, i) = dir_and_file();
    let long = [b'x'; 1000];
    let nul = b"a\0b";
    e.apply(
        FS,
        &Fact::Created {
            dir: DIR,
            name: &long,
            ino: 1,
            is_dir: false,
        },
    );
    e.apply(
        FS,
        &Fact::Created {
            dir: DIR,
            name: nul,
            ino: 1,
            is_dir: false,
        },
    );
    e.apply(
        FS,
        &Fact::Created {
            dir: 0,
            name: b"a",
            ino: 1,
            is_dir: false,
        },
    );
    e.apply(
        FS,
        &Fact::Unlinked {
            dir: DIR,
            name: b"",
            ino: 0,
            is_dir: true,
            links_left: u64::MAX,
            freed: true,
        },
    );
    e.apply(
        FS,
        &Fact::Renamed {
            old_dir: FILE,
            old_name: b"",
            new_dir: DIR,
            new_name: &long,
            ino: FILE,
            is_dir: false,
            replaced: Some(Replaced {
                ino: FILE,
                is_dir: true,
                links_left: 0,
                freed: true,
            }),
        },
    );
    e.apply(
        FS,
        &Fact::Freed {
            ino: u64::MAX,
            is_dir: false,
        },
    );
    e.apply(u32::MAX, &Fact::Unmounted);
    e.apply(FS, &Fact::Lost { count: u64::MAX });
    let got = drain(&mut e, i);
    assert_eq!(
        got[0],
        ev(
            1,
            IN_CREATE,
            0,
            core::str::from_utf8(&long[..NAME_MAX]).unwrap()
        )
    );
    assert_eq!(
        got[1],
        ev(1, IN_CREATE, 0, "a"),
        "a NUL ends the name as read"
    );
    assert!(got.iter().any(|x| x.0 == 2 && x.1 == IN_IGNORED));
}

#[test]
fn random_calls_and_facts_keep_the_engine_consistent() {
    let mut e = Engine::new(Limits {
        max_queued_events: 64,
        max_user_watches: 40,
        ..Limits::default()
    });
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut insts = Vec::new();
    let mut buf = vec![0u8; 4096];
    for _ in 0..20_000 {
        let ino = 1 + rnd(30);
        let d = 1 + rnd(5);
        let fs = rnd(2) as u32;
        let s = Subject {
            ino,
            is_dir: rnd(2) == 0,
            dir: d,
            name: b"n",
            detached: rnd(4) == 0,
        };
        match rnd(16) {
            0 => {
                if let Ok(id) = e.create_instance(rnd(3) as u32) {
                    insts.push(id);
                }
            }
            1 if !insts.is_empty() => {
                let id = insts.swap_remove(rnd(insts.len() as u64) as usize);
                e.destroy_instance(id);
            }
            2..=4 if !insts.is_empty() => {
                let id = insts[rnd(insts.len() as u64) as usize];
                let t = inotify_engine::Target {
                    key: inotify_engine::InodeKey { fs, ino },
                    is_dir: rnd(2) == 0,
                };
                let _ = e.add_watch(id, t, rnd(u32::MAX as u64) as u32 | (rnd(2) as u32));
            }
            5 if !insts.is_empty() => {
                let id = insts[rnd(insts.len() as u64) as usize];
                let _ = e.rm_watch(id, rnd(50) as i32 - 5);
            }
            6 if !insts.is_empty() => {
                let id = insts[rnd(insts.len() as u64) as usize];
                let n = rnd(200) as usize;
                if let Ok(got) = e.read(id, &mut buf[..n]) {
                    assert_eq!(
                        parse(&buf[..got])
                            .iter()
                            .map(|x| 16 + padded(&x.3))
                            .sum::<usize>(),
                        got
                    );
                }
            }
            7 => e.apply(
                fs,
                &Fact::Unlinked {
                    dir: d,
                    name: b"n",
                    ino,
                    is_dir: s.is_dir,
                    links_left: rnd(2),
                    freed: rnd(2) == 0,
                },
            ),
            8 => e.apply(
                fs,
                &Fact::Renamed {
                    old_dir: d,
                    old_name: b"o",
                    new_dir: 1 + rnd(5),
                    new_name: b"n",
                    ino,
                    is_dir: s.is_dir,
                    replaced: (rnd(2) == 0).then_some(Replaced {
                        ino: 1 + rnd(30),
                        is_dir: false,
                        links_left: rnd(2),
                        freed: rnd(2) == 0,
                    }),
                },
            ),
            9 => e.apply(fs, &Fact::Freed { ino, is_dir: false }),
            10 => e.apply(
                fs,
                &Fact::Closed {
                    at: s,
                    wrote: rnd(2) == 0,
                },
            ),
            11 => e.apply(
                fs,
                &Fact::Linked {
                    dir: d,
                    name: b"l",
                    ino,
                },
            ),
            12 if rnd(50) == 0 => e.apply(fs, &Fact::Unmounted),
            13 if rnd(20) == 0 => e.apply(fs, &Fact::Lost { count: 1 }),
            _ => e.apply(fs, &Fact::Modified(s)),
        }
    }
    // Every watch can be found and removed through the public calls.
    let before = e.watch_count();
    let mut removed = 0;
    for &id in &insts {
        for wd in 1..100_000 {
            if e.rm_watch(id, wd).is_ok() {
                removed += 1;
            }
        }
    }
    assert_eq!(removed, before);
    assert_eq!(e.watch_count(), 0);
    assert_eq!(e.watched_inodes(), 0);
}

/// Padded name length as Linux writes it.
fn padded(name: &str) -> usize {
    inotify_abi::event::padded_name_len(name.len())
}

#[test]
fn oneshot_directory_hears_moved_from_only() {
    // Observed: a one-shot watch on the directory of a rename gets IN_MOVED_FROM, then
    // IN_IGNORED, and no IN_MOVED_TO.
    let (mut e, i) = setup();
    e.add_watch(i, dir(DIR), IN_MOVE | IN_ONESHOT).unwrap();
    e.apply(
        FS,
        &Fact::Renamed {
            old_dir: DIR,
            old_name: b"a",
            new_dir: DIR,
            new_name: b"b",
            ino: FILE,
            is_dir: false,
            replaced: None,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![ev(1, IN_MOVED_FROM, 1, "a"), ev(1, IN_IGNORED, 0, "")]
    );
}

#[test]
fn oneshot_parent_and_child_each_fire_once() {
    // Observed order: parent event, parent IN_IGNORED, child event, child IN_IGNORED.
    let (mut e, i) = setup();
    e.add_watch(i, dir(DIR), IN_MODIFY | IN_ONESHOT).unwrap();
    e.add_watch(i, file(FILE), IN_MODIFY | IN_ONESHOT).unwrap();
    e.apply(FS, &Fact::Modified(at(FILE, DIR, "d")));
    e.apply(FS, &Fact::Modified(at(FILE, DIR, "d")));
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_MODIFY, 0, "d"),
            ev(1, IN_IGNORED, 0, ""),
            ev(2, IN_MODIFY, 0, ""),
            ev(2, IN_IGNORED, 0, "")
        ]
    );
}

#[test]
fn last_name_released_while_an_earlier_name_is_still_open() {
    // Linux: `f` was removed while open; removing `g`, the last name, which no open file
    // holds, ends the inode's watches at once; the later close of the file opened as `f`
    // and its `Freed` find no watch left and send nothing more.
    let (mut e, i) = setup();
    e.add_watch(i, file(FILE), IN_ALL_EVENTS).unwrap();
    e.apply(
        FS,
        &Fact::Unlinked {
            dir: DIR,
            name: b"g",
            ino: FILE,
            is_dir: false,
            links_left: 0,
            freed: true,
        },
    );
    e.apply(
        FS,
        &Fact::Closed {
            at: gone(FILE, DIR, "f"),
            wrote: false,
        },
    );
    e.apply(
        FS,
        &Fact::Freed {
            ino: FILE,
            is_dir: false,
        },
    );
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(1, IN_ATTRIB, 0, ""),
            ev(1, IN_DELETE_SELF, 0, ""),
            ev(1, IN_IGNORED, 0, ""),
        ]
    );
    assert_eq!(e.watch_count(), 0);
}
