//! `IN_SUBTREE` end to end (client -> inotifyd -> HostFs): what one subtree watch reports,
//! and its errors. The randomized acceptance run is tests/subtree_stress.rs.

mod e2e_support;

use e2e_support::World;
use inotify_abi::consts::*;
use inotify_engine::Limits;
use syscall::error::{EINVAL, ENOSPC, ENOTDIR};
use syscall::flag::{O_CREAT, O_WRONLY};

#[test]
fn mkdir_p_and_a_file_in_the_new_directory_lose_nothing_and_name_the_path() {
    let w = World::new("subtree-mkdirp", 64 * 1024);
    let u = &w.user;
    u.mkdir(&w.p("t"), 0o755).unwrap();
    u.mkdir(&w.p("t/old"), 0o755).unwrap();
    let wd = w
        .inotify
        .add_subtree_watch(&w.p("t"), IN_CREATE | IN_CLOSE_WRITE | IN_MOVE | IN_DELETE)
        .unwrap();
    for d in ["t/a", "t/a/b", "t/a/b/c"] {
        u.mkdir(&w.p(d), 0o755).unwrap();
    }
    let fd = u
        .open(&w.p("t/a/b/c/f"), O_CREAT | O_WRONLY | 0o644)
        .unwrap();
    u.close(fd).unwrap();
    u.rename(&w.p("t/a/b"), &w.p("t/old/b")).unwrap();
    u.unlink(&w.p("t/old/b/c/f")).unwrap();
    u.rename(&w.p("t/old"), &w.p("gone")).unwrap();
    u.mkdir(&w.p("gone/x"), 0o755).unwrap();
    u.mkdir(&w.p("t/y"), 0o755).unwrap();
    let evs = w.events(10);
    let lines: Vec<String> = evs.iter().map(e2e_support::line).collect();
    let expected = [
        format!("{wd} CREATE,ISDIR a"),
        format!("{wd} CREATE,ISDIR a/b"),
        format!("{wd} CREATE,ISDIR a/b/c"),
        format!("{wd} CREATE a/b/c/f"),
        format!("{wd} CLOSE_WRITE a/b/c/f"),
        format!("{wd} MOVED_FROM,ISDIR a/b"),
        format!("{wd} MOVED_TO,ISDIR old/b"),
        format!("{wd} DELETE old/b/c/f"),
        format!("{wd} MOVED_FROM,ISDIR old"),
        format!("{wd} CREATE,ISDIR y"),
    ];
    assert_eq!(
        lines.len(),
        expected.len(),
        "nothing from gone/x: {lines:?}"
    );
    for (got, want) in lines.iter().zip(&expected) {
        assert!(got.starts_with(want.as_str()), "{got:?} is not {want:?}");
    }
    assert_ne!(evs[5].cookie, 0);
    assert_eq!(evs[5].cookie, evs[6].cookie);
}

#[test]
fn a_subtree_watch_is_refused_on_a_file_with_oneshot_and_with_unknown_bits() {
    let w = World::new("subtree-errors", 64 * 1024);
    std::fs::write(w.host("f"), b"").unwrap();
    std::fs::create_dir(w.host("d")).unwrap();
    let errno = |path: &str, mask: u32| w.inotify.add_watch(&w.p(path), mask).unwrap_err().errno;
    assert_eq!(errno("f", IN_CREATE | IN_SUBTREE), ENOTDIR);
    assert_eq!(errno("d", IN_CREATE | IN_SUBTREE | IN_ONESHOT), EINVAL);
    assert_eq!(errno("d", IN_CREATE | IN_SUBTREE | 0x0001_0000), EINVAL);
    assert_eq!(errno("d", IN_SUBTREE), EINVAL);
    assert!(w.inotify.watches().unwrap().is_empty());
}

#[test]
fn covered_directories_count_against_max_user_watches() {
    let limits = Limits {
        max_user_watches: 4,
        ..Limits::default()
    };
    let w = World::with_limits("subtree-limit", 64 * 1024, limits);
    for d in ["t", "t/a", "t/b", "t/c", "t/c/d"] {
        std::fs::create_dir(w.host(d)).unwrap();
    }
    // The root and four directories below: five against a limit of four.
    let sub = |p: &str| w.inotify.add_subtree_watch(&w.p(p), IN_CREATE);
    assert_eq!(sub("t").unwrap_err().errno, ENOSPC);
    std::fs::remove_dir(w.host("t/c/d")).unwrap();
    let wd = sub("t").unwrap();
    assert_eq!(
        w.inotify
            .add_watch(&w.p("t/a"), IN_CREATE)
            .unwrap_err()
            .errno,
        ENOSPC,
        "the covered directories hold the uid's watches"
    );
    // Re-added without the bit, the watch stops covering: room again.
    assert_eq!(w.inotify.add_watch(&w.p("t"), IN_CREATE).unwrap(), wd);
    assert!(w.inotify.add_watch(&w.p("t/a"), IN_CREATE).is_ok());
}

#[test]
fn a_tree_whose_walk_does_not_fit_the_feed_is_enospc_and_changes_nothing() {
    let w = World::new("subtree-bigwalk", 4096);
    std::fs::create_dir(w.host("t")).unwrap();
    for k in 0..200 {
        std::fs::create_dir(w.host(&format!("t/d{k}"))).unwrap();
    }
    let e = w
        .inotify
        .add_subtree_watch(&w.p("t"), IN_CREATE)
        .unwrap_err();
    assert_eq!(e.errno, ENOSPC);
    assert!(w.inotify.watches().unwrap().is_empty());
    assert_eq!(w.fs.recorded(), 0, "no Exists record was kept");
}

#[test]
fn only_a_feed_handle_can_make_the_subtree_call() {
    use inotify_abi::proto::{SubtreeCall, SUBTREE_ANSWER_LEN};
    let w = World::new("subtree-trust", 64 * 1024);
    let u = &w.user;
    u.mkdir(&w.p("t"), 0o755).unwrap();
    u.mkdir(&w.p("t/a"), 0o755).unwrap();
    let root = u.open("/scheme/file/", inotify_host::O_PATH).unwrap();
    let dir = u.open(&w.p("t"), inotify_host::O_PATH).unwrap();
    let mut answer = [0u8; SUBTREE_ANSWER_LEN];
    let r = u.call2(root, dir, &mut answer, &SubtreeCall.emit());
    assert_eq!(r.unwrap_err().errno, syscall::error::EACCES);
    // Nothing became covered: a watch-less user's mkdir below is not recorded.
    let before = w.fs.recorded();
    u.mkdir(&w.p("t/a/b"), 0o755).unwrap();
    assert_eq!(w.fs.recorded(), before);
}
