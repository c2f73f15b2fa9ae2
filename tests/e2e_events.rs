//! End to end: app -> client -> inotifyd <- feed <- HostFs over a temporary directory.
//! Every expected sequence is what Linux 6.18 gives for the same operations.

mod e2e_support;

use e2e_support::{line, World};
use inotify_abi::consts::*;
use inotify_host::hostfs::{UTIME_NOW, UTIME_OMIT};
use syscall::flag::{O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
use syscall::TimeSpec;

const OMIT: TimeSpec = TimeSpec {
    tv_sec: 0,
    tv_nsec: UTIME_OMIT,
};
const NOW: TimeSpec = TimeSpec {
    tv_sec: 0,
    tv_nsec: UTIME_NOW,
};
const T: TimeSpec = TimeSpec {
    tv_sec: 1_000_000,
    tv_nsec: 0,
};

#[test]
fn create_open_write_read_close() {
    let w = World::new("rw", 64 * 1024);
    w.user.mkdir(&w.p("d"), 0o755).unwrap();
    let d = w.watch("d", IN_ALL_EVENTS);
    let u = &w.user;
    let fd = u.open(&w.p("d/f"), O_CREAT | O_WRONLY | 0o644).unwrap();
    assert_eq!(u.write(fd, b"hello").unwrap(), 5);
    assert_eq!(u.write(fd, b"").unwrap(), 0);
    u.close(fd).unwrap();
    let fd = u.open(&w.p("d/f"), O_RDONLY).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(u.read(fd, &mut buf).unwrap(), 5);
    assert_eq!(u.read(fd, &mut buf).unwrap(), 0);
    u.close(fd).unwrap();
    assert_eq!(
        w.lines(7),
        [
            format!("{d} CREATE f"),
            format!("{d} OPEN f"),
            format!("{d} MODIFY f"),
            format!("{d} CLOSE_WRITE f"),
            format!("{d} OPEN f"),
            format!("{d} ACCESS f"),
            format!("{d} CLOSE_NOWRITE f"),
        ]
    );
}

#[test]
fn a_file_watch_without_names_and_truncation() {
    let w = World::new("filewatch", 64 * 1024);
    std::fs::write(w.host("f"), b"abc").unwrap();
    std::fs::set_permissions(
        w.host("f"),
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let f = w.watch("f", IN_ALL_EVENTS);
    let u = &w.user;
    let fd = u.open(&w.p("f"), O_RDWR | O_TRUNC).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(u.read(fd, &mut buf).unwrap(), 0); // empty now: no ACCESS
    u.ftruncate(fd, 7).unwrap();
    assert_eq!(u.read(fd, &mut buf).unwrap(), 4);
    u.ftruncate(fd, 7).unwrap(); // same size: still MODIFY
    u.close(fd).unwrap();
    assert_eq!(
        w.lines(5),
        [
            format!("{f} OPEN"),
            format!("{f} MODIFY"),
            format!("{f} ACCESS"),
            format!("{f} MODIFY"),
            format!("{f} CLOSE_WRITE"),
        ]
    );
}

#[test]
fn chmod_chown_and_times() {
    let w = World::new("attrib", 64 * 1024);
    w.user.create(&w.p("f"), 0o644).unwrap();
    let f = w.watch("f", IN_ALL_EVENTS & !(IN_OPEN | IN_CLOSE));
    let u = &w.user;
    let root = w.harness.process(1, 0, 0);
    let (uid, gid) = e2e_support::user_ids();
    let fd = u.open(&w.p("f"), O_RDONLY).unwrap();
    u.fchmod(fd, 0o600).unwrap();
    u.futimens(fd, &[T, OMIT]).unwrap();
    // chown by root, even to the same owner, is an attribute change.
    let rfd = root.open(&w.p("f"), inotify_host::O_PATH).unwrap();
    root.fchown(rfd, uid, gid).unwrap();
    root.close(rfd).unwrap();
    u.futimens(fd, &[OMIT, T]).unwrap();
    u.futimens(fd, &[T, T]).unwrap();
    u.futimens(fd, &[NOW, OMIT]).unwrap();
    u.futimens(fd, &[NOW, NOW]).unwrap();
    if uid != 0 {
        // A user may not give a file away.
        assert_eq!(u.fchown(fd, 0, 0).unwrap_err().errno, syscall::error::EPERM);
    }
    u.close(fd).unwrap();
    assert_eq!(
        w.lines(7),
        [
            format!("{f} ATTRIB"),
            format!("{f} ACCESS"),
            format!("{f} ATTRIB"),
            format!("{f} MODIFY"),
            format!("{f} ATTRIB"),
            format!("{f} ACCESS"),
            format!("{f} ATTRIB"),
        ]
    );
}

#[test]
fn unlink_gives_delete_then_delete_self_and_ignored() {
    let w = World::new("unlink", 64 * 1024);
    w.user.mkdir(&w.p("d"), 0o755).unwrap();
    w.user.create(&w.p("d/f"), 0o644).unwrap();
    let d = w.watch("d", IN_ALL_EVENTS);
    let f = w.watch("d/f", IN_ALL_EVENTS);
    w.user.unlink(&w.p("d/f")).unwrap();
    assert_eq!(
        w.lines(4),
        [
            format!("{f} ATTRIB"),
            format!("{f} DELETE_SELF"),
            format!("{f} IGNORED"),
            format!("{d} DELETE f"),
        ]
    );
    assert_eq!(
        w.inotify.rm_watch(f).unwrap_err().errno,
        syscall::error::EINVAL
    );
}

#[test]
fn unlink_of_an_open_file_deletes_itself_at_the_last_close() {
    let w = World::new("unlinkopen", 64 * 1024);
    w.user.mkdir(&w.p("d"), 0o755).unwrap();
    w.user.create(&w.p("d/t"), 0o644).unwrap();
    let fd = w.user.open(&w.p("d/t"), O_RDONLY).unwrap();
    let d = w.watch("d", IN_ALL_EVENTS);
    let t = w.watch("d/t", IN_ALL_EVENTS);
    w.user.unlink(&w.p("d/t")).unwrap();
    assert_eq!(w.lines(2), [format!("{t} ATTRIB"), format!("{d} DELETE t")]);
    w.user.close(fd).unwrap();
    assert_eq!(
        w.lines(4),
        [
            format!("{d} CLOSE_NOWRITE t"),
            format!("{t} CLOSE_NOWRITE"),
            format!("{t} DELETE_SELF"),
            format!("{t} IGNORED"),
        ]
    );
}

#[test]
fn unlink_with_a_link_left_is_attrib() {
    let w = World::new("linkleft", 64 * 1024);
    w.user.mkdir(&w.p("d"), 0o755).unwrap();
    w.user.create(&w.p("d/f"), 0o644).unwrap();
    w.user.link(&w.p("d/f"), &w.p("d/h")).unwrap();
    let d = w.watch("d", IN_ALL_EVENTS);
    let f = w.watch("d/f", IN_ALL_EVENTS);
    w.user.unlink(&w.p("d/h")).unwrap();
    assert_eq!(w.lines(2), [format!("{f} ATTRIB"), format!("{d} DELETE h")]);
}

#[test]
fn hard_link_and_symlink() {
    let w = World::new("links", 64 * 1024);
    w.user.mkdir(&w.p("d"), 0o755).unwrap();
    w.user.create(&w.p("d/f"), 0o644).unwrap();
    let d = w.watch("d", IN_ALL_EVENTS);
    let f = w.watch("d/f", IN_ALL_EVENTS);
    w.user.link(&w.p("d/f"), &w.p("d/h")).unwrap();
    w.user.symlink("f", &w.p("d/s")).unwrap();
    assert_eq!(
        w.lines(3),
        [
            format!("{f} ATTRIB"),
            format!("{d} CREATE h"),
            format!("{d} CREATE s")
        ]
    );
    // A second name for a watched inode gives the same wd.
    assert_eq!(w.watch("d/h", IN_ALL_EVENTS), f);
}

#[test]
fn rename_across_directories_pairs_cookies() {
    let w = World::new("rename", 64 * 1024);
    for dir in ["a", "b"] {
        w.user.mkdir(&w.p(dir), 0o755).unwrap();
    }
    w.user.create(&w.p("a/m"), 0o644).unwrap();
    let a = w.watch("a", IN_ALL_EVENTS);
    let b = w.watch("b", IN_ALL_EVENTS);
    let m = w.watch("a/m", IN_ALL_EVENTS);
    w.user.rename(&w.p("a/m"), &w.p("b/m")).unwrap();
    w.user.rename(&w.p("b/m"), &w.p("b/n")).unwrap();
    let evs = w.events(6);
    let lines: Vec<_> = evs.iter().map(line).collect();
    assert_eq!(
        lines,
        [
            format!("{a} MOVED_FROM m"),
            format!("{b} MOVED_TO m"),
            format!("{m} MOVE_SELF"),
            format!("{b} MOVED_FROM m"),
            format!("{b} MOVED_TO n"),
            format!("{m} MOVE_SELF"),
        ]
    );
    assert_ne!(evs[0].cookie, 0);
    assert_eq!(evs[0].cookie, evs[1].cookie);
    assert_eq!(evs[2].cookie, 0);
    assert_eq!(evs[3].cookie, evs[4].cookie);
    assert_ne!(evs[3].cookie, evs[0].cookie);
    assert!(!w.host("a/m").exists() && w.host("b/n").exists());
}

#[test]
fn rename_over_an_existing_file() {
    let w = World::new("renameover", 64 * 1024);
    w.user.create(&w.p("f"), 0o644).unwrap();
    w.user.create(&w.p("g"), 0o644).unwrap();
    let d = w.watch("", IN_ALL_EVENTS);
    let f = w.watch("f", IN_ALL_EVENTS);
    let g = w.watch("g", IN_ALL_EVENTS);
    w.user.rename(&w.p("f"), &w.p("g")).unwrap();
    let evs = w.events(6);
    let lines: Vec<_> = evs.iter().map(line).collect();
    assert_eq!(
        lines,
        [
            format!("{d} MOVED_FROM f"),
            format!("{d} MOVED_TO g"),
            format!("{g} ATTRIB"),
            format!("{f} MOVE_SELF"),
            format!("{g} DELETE_SELF"),
            format!("{g} IGNORED"),
        ]
    );
    assert_eq!(evs[0].cookie, evs[1].cookie);
}

#[test]
fn mkdir_and_rmdir_carry_isdir() {
    let w = World::new("dirs", 64 * 1024);
    let d = w.watch("", IN_ALL_EVENTS);
    w.user.mkdir(&w.p("sub"), 0o755).unwrap();
    assert_eq!(w.lines(1), [format!("{d} CREATE,ISDIR sub")]);
    let s = w.watch("sub", IN_ALL_EVENTS);
    w.user.rmdir(&w.p("sub")).unwrap();
    assert_eq!(
        w.lines(3),
        [
            format!("{s} DELETE_SELF"),
            format!("{s} IGNORED"),
            format!("{d} DELETE,ISDIR sub")
        ]
    );
}

#[test]
fn listing_a_directory() {
    let w = World::new("list", 64 * 1024);
    w.user.mkdir(&w.p("d"), 0o755).unwrap();
    w.user.create(&w.p("d/x"), 0o644).unwrap();
    let d = w.watch("d", IN_ALL_EVENTS);
    let fd = w.user.open(&w.p("d"), O_RDONLY).unwrap();
    let mut buf = [0u8; 1024];
    let header = std::mem::size_of::<syscall::dirent::DirentHeader>() as u16;
    assert!(w.user.getdents(fd, &mut buf, header, 0).unwrap() > 0);
    w.user.close(fd).unwrap();
    assert_eq!(
        w.lines(3),
        [
            format!("{d} OPEN,ISDIR"),
            format!("{d} ACCESS,ISDIR"),
            format!("{d} CLOSE_NOWRITE,ISDIR"),
        ]
    );
}

#[test]
fn producer_overflow_surfaces_as_q_overflow() {
    // The smallest feed buffer holds ten creation-sized records; while the daemon is not
    // pulling, a burst of 30 creations (90 records) overflows it.
    let (w, gate) = World::gated("overflow", 0);
    let d = w.watch("", IN_CREATE);
    gate.close();
    for i in 0..30 {
        w.user.create(&w.p(&format!("f{i}")), 0o644).unwrap();
    }
    // A synchronous request after the last close: every fact of the burst is recorded.
    w.user
        .fstat(w.user.open(&w.p(""), inotify_host::O_PATH).unwrap())
        .unwrap();
    let dropped = w.fs.dropped();
    assert_eq!(
        w.fs.recorded() + dropped,
        90,
        "every fact kept, or dropped and counted"
    );
    gate.open();
    let evs = w.events(5);
    let lines: Vec<_> = evs.iter().map(line).collect();
    // Ten records fit: f0, f1, f2, f3 (Created, Opened, Closed each; only CREATE is asked
    // for), then the loss. Linux's overflow record: wd -1, no cookie, no name.
    assert_eq!(
        lines,
        [
            format!("{d} CREATE f0"),
            format!("{d} CREATE f1"),
            format!("{d} CREATE f2"),
            format!("{d} CREATE f3"),
            "-1 Q_OVERFLOW".to_string(),
        ]
    );
    assert_eq!(
        (evs[4].wd, evs[4].mask, evs[4].cookie),
        (-1, IN_Q_OVERFLOW, 0)
    );
    assert_eq!(dropped, 90 - 10);
    // The feed recovers: later events flow again.
    w.user.create(&w.p("after"), 0o644).unwrap();
    assert_eq!(w.lines(1), [format!("{d} CREATE after")]);
}

#[test]
fn unwatched_operations_never_reach_the_feed() {
    let w = World::new("quiet", 64 * 1024);
    w.user.mkdir(&w.p("watched"), 0o755).unwrap();
    w.user.mkdir(&w.p("other"), 0o755).unwrap();
    let d = w.watch("watched", IN_ALL_EVENTS);
    let before = w.fs.recorded();
    let fd = w
        .user
        .open(&w.p("other/f"), O_CREAT | O_RDWR | 0o644)
        .unwrap();
    w.user.write(fd, b"data").unwrap();
    w.user.fchmod(fd, 0o600).unwrap();
    w.user.close(fd).unwrap();
    w.user.rename(&w.p("other/f"), &w.p("other/g")).unwrap();
    w.user.unlink(&w.p("other/g")).unwrap();
    // A synchronous request after the last close: every operation above was handled.
    w.user
        .fstat(w.user.open(&w.p(""), inotify_host::O_PATH).unwrap())
        .unwrap();
    assert_eq!(w.fs.recorded(), before);
    assert_eq!(w.lines(0), Vec::<String>::new());
    w.user.create(&w.p("watched/x"), 0o644).unwrap();
    assert_eq!(
        w.lines(3),
        [
            format!("{d} CREATE x"),
            format!("{d} OPEN x"),
            format!("{d} CLOSE_WRITE x")
        ]
    );
    assert_eq!(w.fs.recorded(), before + 3);
}

#[test]
fn only_root_may_open_a_feed() {
    let w = World::new("feedperm", 4096);
    let fd = w.user.open(&w.p(""), inotify_host::O_PATH).unwrap();
    let refused = w
        .user
        .dup(fd, inotify_abi::proto::FEED_DUP_NAME)
        .unwrap_err();
    assert_eq!(refused.errno, syscall::error::EACCES);
    let root = w.harness.process(1, 0, 0);
    let fd = root.open(&w.p(""), inotify_host::O_PATH).unwrap();
    assert!(root.dup(fd, inotify_abi::proto::FEED_DUP_NAME).is_ok());
}

#[test]
fn an_open_path_handle_keeps_an_unlinked_file_until_closed() {
    let w = World::new("opath", 64 * 1024);
    w.user.create(&w.p("t"), 0o644).unwrap();
    let t = w.watch("t", IN_ALL_EVENTS);
    let fd = w.user.open(&w.p("t"), inotify_host::O_PATH).unwrap();
    w.user.unlink(&w.p("t")).unwrap();
    assert_eq!(w.lines(1), [format!("{t} ATTRIB")]);
    // An O_PATH close reports no CLOSE event; the inode goes with it.
    w.user.close(fd).unwrap();
    assert_eq!(
        w.lines(2),
        [format!("{t} DELETE_SELF"), format!("{t} IGNORED")]
    );
}

#[test]
fn rmdir_of_an_open_directory() {
    let w = World::new("rmdiropen", 64 * 1024);
    w.user.mkdir(&w.p("s"), 0o755).unwrap();
    let s = w.watch("s", IN_ALL_EVENTS);
    let fd = w.user.open(&w.p("s"), O_RDONLY).unwrap();
    w.user.rmdir(&w.p("s")).unwrap();
    assert_eq!(w.lines(1), [format!("{s} OPEN,ISDIR")]);
    w.user.close(fd).unwrap();
    assert_eq!(
        w.lines(3),
        [
            format!("{s} CLOSE_NOWRITE,ISDIR"),
            format!("{s} DELETE_SELF"),
            format!("{s} IGNORED"),
        ]
    );
}

#[test]
fn a_user_cannot_watch_a_directory_only_its_owner_may_read_and_the_owner_can() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let w = World::new("private", 4096);
    std::fs::create_dir(w.host("private")).unwrap();
    std::fs::set_permissions(w.host("private"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let owner = std::fs::metadata(w.host("private")).unwrap().uid();
    if owner == w.user.uid() {
        // Not run as root: the user would own the directory (the e2e user is the host user).
        return;
    }
    // HostFs answers the daemon's identity call with its own permission check.
    let refused = w.inotify.add_watch(&w.p("private"), IN_CREATE).unwrap_err();
    assert_eq!(refused.errno, syscall::error::EACCES);
    let owner_proc = w.harness.process(1, owner, owner);
    let ino = inotify_client::Inotify::init1(&owner_proc, inotify_client::IN_NONBLOCK).unwrap();
    assert!(ino.add_watch(&w.p("private"), IN_CREATE).is_ok());
}

#[test]
fn a_removed_directory_lives_until_a_file_removed_from_it_is_closed() {
    let w = World::new("rmdirpinned", 64 * 1024);
    w.user.mkdir(&w.p("s"), 0o755).unwrap();
    w.user.mkdir(&w.p("s/u"), 0o755).unwrap();
    w.user.create(&w.p("s/u/a"), 0o644).unwrap();
    let fd = w.user.open(&w.p("s/u/a"), O_RDONLY).unwrap();
    let s = w.watch("s", IN_ALL_EVENTS);
    let u = w.watch("s/u", IN_ALL_EVENTS);
    w.user.unlink(&w.p("s/u/a")).unwrap();
    w.user.rmdir(&w.p("s/u")).unwrap();
    w.user.rmdir(&w.p("s")).unwrap();
    assert_eq!(
        w.lines(2),
        [format!("{u} DELETE a"), format!("{s} DELETE,ISDIR u")]
    );
    // The open file holds u, and u holds s: both go at its close, innermost first.
    w.user.close(fd).unwrap();
    assert_eq!(
        w.lines(5),
        [
            format!("{u} CLOSE_NOWRITE a"),
            format!("{u} DELETE_SELF"),
            format!("{u} IGNORED"),
            format!("{s} DELETE_SELF"),
            format!("{s} IGNORED"),
        ]
    );
}
