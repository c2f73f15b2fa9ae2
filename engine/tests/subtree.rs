//! `IN_SUBTREE` watches (an inotifyd extension): one wd for a whole directory tree, events
//! with paths relative to the root, coverage following the facts.

mod common;

use common::*;
use inotify_abi::consts::*;
use inotify_engine::{Engine, Fact, Interest, InterestChange, Limits, Subject};

const ROOT: u64 = 2;

fn mkdir(dir: u64, name: &'static str, ino: u64) -> Fact<'static> {
    Fact::Created {
        dir,
        name: name.as_bytes(),
        ino,
        is_dir: true,
    }
}

fn creat(dir: u64, name: &'static str, ino: u64) -> Fact<'static> {
    Fact::Created {
        dir,
        name: name.as_bytes(),
        ino,
        is_dir: false,
    }
}

fn exists(dir: u64, name: &'static str, ino: u64) -> Fact<'static> {
    Fact::Exists {
        dir,
        name: name.as_bytes(),
        ino,
    }
}

fn mv(old_dir: u64, old: &'static str, new_dir: u64, new: &'static str, ino: u64) -> Fact<'static> {
    Fact::Renamed {
        old_dir,
        old_name: old.as_bytes(),
        new_dir,
        new_name: new.as_bytes(),
        ino,
        is_dir: true,
        replaced: None,
    }
}

fn rmdir(dir: u64, name: &'static str, ino: u64) -> Fact<'static> {
    Fact::Unlinked {
        dir,
        name: name.as_bytes(),
        ino,
        is_dir: true,
        links_left: 0,
        freed: true,
    }
}

fn modify(ino: u64, dir: u64, name: &'static str) -> Fact<'static> {
    Fact::Modified(Subject {
        ino,
        is_dir: false,
        dir,
        name: name.as_bytes(),
        detached: false,
    })
}

fn subtree(e: &mut Engine, inst: u32, below: u64) -> i32 {
    e.add_subtree_watch(inst, dir(ROOT), IN_ALL_EVENTS | IN_SUBTREE, below)
        .unwrap()
}

fn interest(e: &mut Engine) -> Vec<Interest> {
    let mut out: Vec<InterestChange> = Vec::new();
    e.take_interest(&mut out);
    out.into_iter().map(|c| c.change).collect()
}

#[test]
fn mkdir_p_and_a_file_deep_in_it_are_reported_with_relative_paths() {
    let (mut e, i) = setup();
    let wd = subtree(&mut e, i, 0);
    for f in [
        mkdir(ROOT, "a", 20),
        mkdir(20, "b", 21),
        mkdir(21, "c", 22),
        creat(22, "f", 30),
        modify(30, 22, "f"),
    ] {
        e.apply(FS, &f);
    }
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(wd, IN_CREATE | IN_ISDIR, 0, "a"),
            ev(wd, IN_CREATE | IN_ISDIR, 0, "a/b"),
            ev(wd, IN_CREATE | IN_ISDIR, 0, "a/b/c"),
            ev(wd, IN_CREATE, 0, "a/b/c/f"),
            ev(wd, IN_MODIFY, 0, "a/b/c/f"),
        ]
    );
}

#[test]
fn existing_directories_are_covered_from_the_walk_and_moves_follow() {
    let (mut e, i) = setup();
    let wd = subtree(&mut e, i, 2);
    e.apply(FS, &exists(ROOT, "x", 20));
    e.apply(FS, &exists(20, "y", 21));
    assert!(drain(&mut e, i).is_empty(), "a walk is no event");
    e.apply(FS, &creat(21, "f", 30));
    // Within: x/y -> z (in the root).
    e.apply(FS, &mv(20, "y", ROOT, "z", 21));
    e.apply(FS, &creat(21, "g", 31));
    // Out: z leaves for an unwatched directory 99; its files are no longer reported.
    e.apply(FS, &mv(ROOT, "z", 99, "z", 21));
    e.apply(FS, &creat(21, "h", 32));
    // In: 50 comes from outside, with 51 below it (the filesystem's walk).
    e.apply(FS, &mv(99, "m", 20, "m", 50));
    e.apply(FS, &exists(50, "n", 51));
    e.apply(FS, &creat(51, "k", 33));
    // Deleted.
    e.apply(FS, &rmdir(50, "n", 51));
    e.apply(FS, &creat(51, "gone", 34));
    let got = drain(&mut e, i);
    let cookie = |k: usize| got[k].2;
    assert_eq!(
        got,
        vec![
            ev(wd, IN_CREATE, 0, "x/y/f"),
            ev(wd, IN_MOVED_FROM | IN_ISDIR, cookie(1), "x/y"),
            ev(wd, IN_MOVED_TO | IN_ISDIR, cookie(1), "z"),
            ev(wd, IN_CREATE, 0, "z/g"),
            ev(wd, IN_MOVED_FROM | IN_ISDIR, cookie(4), "z"),
            ev(wd, IN_MOVED_TO | IN_ISDIR, cookie(5), "x/m"),
            ev(wd, IN_CREATE, 0, "x/m/n/k"),
            ev(wd, IN_DELETE | IN_ISDIR, 0, "x/m/n"),
        ]
    );
    assert_ne!(cookie(1), 0);
    assert_eq!(e.watch_count(), 1, "the caller pays one wd");
}

#[test]
fn a_subtree_watch_ends_its_coverage_with_one_remove_subtree() {
    let (mut e, i) = setup();
    let wd = subtree(&mut e, i, 0);
    assert_eq!(interest(&mut e), vec![Interest::Add(ROOT)]);
    e.apply(FS, &mkdir(ROOT, "a", 20));
    e.rm_watch(i, wd).unwrap();
    assert_eq!(
        interest(&mut e),
        vec![Interest::RemoveSubtree(ROOT), Interest::Remove(ROOT)]
    );
    drain(&mut e, i);
    e.apply(FS, &creat(20, "f", 30));
    assert!(drain(&mut e, i).is_empty());
}

#[test]
fn a_subtree_call_the_engine_does_not_keep_is_undone() {
    let (mut e, i) = setup();
    let wd = subtree(&mut e, i, 0);
    interest(&mut e);
    // Again on the same directory: same wd, the second call is undone.
    assert_eq!(subtree(&mut e, i, 0), wd);
    assert_eq!(interest(&mut e), vec![Interest::RemoveSubtree(ROOT)]);
    // A non-directory: ENOTDIR, undone.
    assert_eq!(
        e.add_subtree_watch(i, file(FILE), IN_CREATE | IN_SUBTREE, 0),
        Err(ENOTDIR_)
    );
    assert_eq!(interest(&mut e), vec![Interest::RemoveSubtree(FILE)]);
    // Re-added without the bit: the watch stays, its coverage ends.
    e.apply(FS, &mkdir(ROOT, "a", 20));
    assert_eq!(e.add_watch(i, dir(ROOT), IN_CREATE), Ok(wd));
    assert_eq!(interest(&mut e), vec![Interest::RemoveSubtree(ROOT)]);
    e.apply(FS, &creat(20, "f", 30));
    assert_eq!(drain(&mut e, i), vec![ev(wd, IN_CREATE | IN_ISDIR, 0, "a")]);
    // The plain call refuses the bit: only the subtree call's caller may set it.
    assert_eq!(
        e.add_watch(i, dir(ROOT), IN_CREATE | IN_SUBTREE),
        Err(EINVAL_)
    );
}

const ENOTDIR_: i32 = 20;
const EINVAL_: i32 = 22;
const ENOSPC_: i32 = 28;

#[test]
fn covered_directories_count_against_max_user_watches() {
    let mut e = Engine::new(Limits {
        max_user_watches: 4,
        ..Limits::default()
    });
    let i = e.create_instance(1000).unwrap();
    assert_eq!(
        e.add_subtree_watch(i, dir(ROOT), IN_CREATE | IN_SUBTREE, 4),
        Err(ENOSPC_)
    );
    let wd = e
        .add_subtree_watch(i, dir(ROOT), IN_CREATE | IN_SUBTREE, 2)
        .unwrap();
    e.apply(FS, &exists(ROOT, "a", 20));
    e.apply(FS, &exists(ROOT, "b", 21));
    e.apply(FS, &mkdir(ROOT, "c", 22));
    // The fourth: at the limit, so not covered, and the loss is reported.
    e.apply(FS, &mkdir(ROOT, "d", 23));
    e.apply(FS, &creat(23, "f", 30));
    e.apply(FS, &creat(22, "f", 31));
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(wd, IN_CREATE | IN_ISDIR, 0, "c"),
            ev(wd, IN_CREATE | IN_ISDIR, 0, "d"),
            ev(-1, IN_Q_OVERFLOW, 0, ""),
            ev(wd, IN_CREATE, 0, "c/f"),
        ]
    );
    assert_eq!(e.take_loss_report(i).unwrap().dropped, 1);
    assert_eq!(e.add_watch(i, dir(99), IN_CREATE), Err(ENOSPC_));
    // A removed directory gives its place back.
    e.apply(FS, &rmdir(ROOT, "c", 22));
    assert!(e.add_watch(i, dir(99), IN_CREATE).is_ok());
}

#[test]
fn nested_and_separate_subtree_watches_each_get_their_own_paths() {
    let (mut e, i) = setup();
    let j = e.create_instance(1000).unwrap();
    let wd = subtree(&mut e, i, 0);
    e.apply(FS, &mkdir(ROOT, "a", 20));
    e.apply(FS, &mkdir(20, "b", 21));
    let wd2 = e
        .add_subtree_watch(j, dir(20), IN_ALL_EVENTS | IN_SUBTREE, 1)
        .unwrap();
    e.apply(FS, &exists(20, "b", 21));
    let plain = e.add_watch(i, dir(21), IN_CREATE).unwrap();
    e.apply(FS, &creat(21, "f", 30));
    assert_eq!(
        drain(&mut e, i),
        vec![
            ev(wd, IN_CREATE | IN_ISDIR, 0, "a"),
            ev(wd, IN_CREATE | IN_ISDIR, 0, "a/b"),
            ev(plain, IN_CREATE, 0, "f"),
            ev(wd, IN_CREATE, 0, "a/b/f"),
        ]
    );
    assert_eq!(drain(&mut e, j), vec![ev(wd2, IN_CREATE, 0, "b/f")]);
}

#[test]
fn a_directory_moved_into_its_own_subtree_does_not_loop() {
    let (mut e, i) = setup();
    let wd = subtree(&mut e, i, 0);
    e.apply(FS, &mkdir(ROOT, "a", 20));
    e.apply(FS, &mkdir(20, "b", 21));
    e.apply(FS, &mv(ROOT, "a", 21, "a", 20));
    e.apply(FS, &creat(21, "f", 30));
    e.apply(FS, &creat(ROOT, "g", 31));
    let got = drain(&mut e, i);
    assert_eq!(got.last(), Some(&ev(wd, IN_CREATE, 0, "g")));
}

#[test]
fn a_destroyed_instance_releases_its_covered_directories() {
    let (mut e, i) = setup();
    subtree(&mut e, i, 0);
    e.apply(FS, &mkdir(ROOT, "a", 20));
    interest(&mut e);
    e.destroy_instance(i);
    assert_eq!(
        interest(&mut e),
        vec![Interest::RemoveSubtree(ROOT), Interest::Remove(ROOT)]
    );
    let i = e.create_instance(1000).unwrap();
    e.apply(FS, &creat(20, "f", 30));
    assert!(drain(&mut e, i).is_empty());
}

#[test]
fn a_deep_chain_gives_paths_up_to_path_max_then_losses_and_moves_out_whole() {
    let (mut e, i) = setup();
    let wd = subtree(&mut e, i, 0);
    // 2100 levels named "d": the path of level k is 2k - 1 bytes.
    let mut parent = ROOT;
    for k in 0..2100u64 {
        e.apply(FS, &mkdir(parent, "d", 100 + k));
        parent = 100 + k;
        if k % 200 == 0 {
            drain(&mut e, i);
        }
    }
    drain(&mut e, i);
    e.apply(FS, &creat(100 + 2046, "f", 9000)); // "d/" x 2047 + "f": 4095 bytes
    e.apply(FS, &creat(100 + 2047, "f", 9001)); // 4097 bytes: too long
    let got = drain(&mut e, i);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].3.len(), 4095);
    assert_eq!((got[0].0, got[0].1), (wd, IN_CREATE));
    assert_eq!(got[1], ev(-1, IN_Q_OVERFLOW, 0, ""));
    assert_eq!(e.take_loss_report(i).unwrap().wds[0], wd);
    // The top leaves the tree: all 2100 levels stop being covered.
    e.apply(FS, &mv(ROOT, "d", 99, "d", 100));
    assert_eq!(drain(&mut e, i).len(), 1);
    e.apply(FS, &creat(100 + 2099, "g", 9002));
    assert!(drain(&mut e, i).is_empty());
    assert!(e.add_watch(i, dir(99), IN_CREATE).is_ok());
}

#[test]
fn hostile_facts_about_covered_directories_end_in_no_panic_and_no_loop() {
    let (mut e, i) = setup();
    subtree(&mut e, i, 0);
    e.apply(FS, &exists(ROOT, "a", 20));
    e.apply(FS, &exists(20, "b", 21));
    // Exists for a directory already covered elsewhere, for the root itself, for an
    // unknown parent, a rename of the root into its own tree, and a self-parented one.
    e.apply(FS, &exists(21, "a2", 20));
    e.apply(FS, &exists(20, "r", ROOT));
    e.apply(FS, &exists(777, "x", 30));
    e.apply(FS, &mv(1, "root", 21, "root", ROOT));
    e.apply(FS, &exists(22, "self", 22));
    e.apply(FS, &mv(20, "b", 21, "b", 21));
    e.apply(FS, &creat(21, "f", 40));
    e.apply(FS, &creat(20, "g", 41));
    e.apply(FS, &rmdir(ROOT, "a", 20));
    e.apply(FS, &creat(21, "h", 42));
    drain(&mut e, i);
}
