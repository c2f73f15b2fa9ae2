//! SEMANTICS.md "Calls and errors" and "Flags", through the scheme: every errno exact.

mod common;

use common::*;
use inotify_abi::consts::*;
use inotify_abi::proto::{CallRepr, FEED_DUP_NAME};
use inotify_client::{self as client, Inotify, IN_CLOEXEC, IN_NONBLOCK};
use inotify_engine::{Fact, Subject};
use inotify_host::FD_CLOEXEC;
use syscall::error::*;
use syscall::flag::{F_GETFD, F_GETFL, O_NONBLOCK, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};

#[test]
fn init1_accepts_only_nonblock_and_cloexec() {
    let env = Env::start();
    let p = env.user(10, USER);
    for bad in [
        1u32,
        IN_NONBLOCK_LINUX,
        IN_CLOEXEC_LINUX,
        0x8000_0000,
        IN_NONBLOCK | 2,
    ] {
        assert_eq!(
            errno(Inotify::init1(&p, bad).map(|_| ())),
            EINVAL,
            "flags {bad:#x}"
        );
    }
    // The daemon refuses other open flags too, for callers that skip the library.
    assert_eq!(errno(p.open("/scheme/inotify", O_RDONLY | O_TRUNC)), EINVAL);
    // A creation mode in the low bits (as some callers always pass) is ignored.
    let with_mode = p.open("/scheme/inotify", O_RDONLY | 0o666).unwrap();
    p.close(with_mode).unwrap();
    let ino = Inotify::init1(&p, IN_NONBLOCK | IN_CLOEXEC).unwrap();
    assert_eq!(p.fcntl(ino.raw_fd(), F_GETFD, 0).unwrap(), FD_CLOEXEC);
    assert_ne!(p.fcntl(ino.raw_fd(), F_GETFL, 0).unwrap() & O_NONBLOCK, 0);
    assert_eq!(errno(ino.read_events(&mut [0u8; 64])), EAGAIN);
    let blocking = Inotify::init(&p).unwrap();
    assert_eq!(p.fcntl(blocking.raw_fd(), F_GETFD, 0).unwrap(), 0);
    assert_eq!(
        p.fcntl(blocking.raw_fd(), F_GETFL, 0).unwrap() & O_NONBLOCK,
        0
    );
}

#[test]
fn emfile_at_the_per_user_instance_limit() {
    let env = Env::start();
    set_tunable(&env.root(), "max_user_instances", "2");
    let p = env.user(10, USER);
    let a = nonblocking(&p);
    let _b = nonblocking(&p);
    assert_eq!(errno(Inotify::init1(&p, 0).map(|_| ())), EMFILE);
    // Another user has a budget of its own.
    let q = env.user(11, OTHER);
    let _c = nonblocking(&q);
    // Closing an instance gives the slot back.
    drop(a);
    let _d = nonblocking(&p);
}

#[test]
fn add_watch_mask_errors_come_before_path_errors() {
    let (_env, _p, ino) = user_instance();
    assert_eq!(errno(ino.add_watch("/d", 0)), EINVAL);
    assert_eq!(errno(ino.add_watch("/d", 0x1000)), EINVAL);
    assert_eq!(errno(ino.add_watch("/d", IN_CREATE | 0x1000)), EINVAL);
    assert_eq!(
        errno(ino.add_watch("/d", IN_CREATE | IN_MASK_ADD | IN_MASK_CREATE)),
        EINVAL
    );
    assert_eq!(errno(ino.add_watch("/missing", 0)), EINVAL);
    // A mask of flag bits only is accepted, as on Linux.
    assert!(ino.add_watch("/d", IN_DONT_FOLLOW).unwrap() > 0);
}

#[test]
fn add_watch_sent_straight_to_the_daemon_checks_the_mask() {
    // A client that skips the library's own checks gets the same errno from the daemon.
    let (_env, p, ino) = user_instance();
    for (mask, want) in [
        (0u32, EINVAL),
        (0x1000, EINVAL),
        (IN_CREATE | IN_MASK_ADD | IN_MASK_CREATE, EINVAL),
        (IN_ONLYDIR | IN_OPEN, ENOTDIR),
    ] {
        let fd = p.open("/d/f", client::O_PATH).unwrap();
        p.sendfd(
            ino.raw_fd(),
            fd,
            inotify_abi::proto::AddWatchArg { mask, token: 7 }.emit(),
        )
        .unwrap();
        let take = CallRepr::TakeResult { token: 7 }.emit();
        assert_eq!(
            errno(p.call(ino.raw_fd(), &mut [], &take)),
            want,
            "mask {mask:#x}"
        );
        // The result was taken once.
        assert_eq!(errno(p.call(ino.raw_fd(), &mut [], &take)), EINVAL);
    }
}

#[test]
fn add_watch_fd_errors() {
    let env = Env::start();
    let p = env.user(10, USER);
    // Not an open fd.
    assert_eq!(errno(client::add_watch(&p, 999, "/d", IN_CREATE)), EBADF);
    // The fd is checked before the path, as on Linux.
    assert_eq!(
        errno(client::add_watch(&p, 999, "/missing", IN_CREATE)),
        EBADF
    );
    // An fd of another scheme (a file), and a tunable of this scheme: not an instance.
    let file = p.open("/d/f", O_RDONLY).unwrap();
    assert_eq!(errno(client::add_watch(&p, file, "/d", IN_CREATE)), EINVAL);
    let tun = p
        .open("/scheme/inotify/max_queued_events", O_RDONLY)
        .unwrap();
    assert_eq!(errno(client::add_watch(&p, tun, "/d", IN_CREATE)), EINVAL);
    assert_eq!(errno(client::rm_watch(&p, tun, 1)), EINVAL);
}

#[test]
fn add_watch_leaves_no_fd_behind() {
    let (_env, p, ino) = user_instance();
    let before = p.fds();
    assert_eq!(errno(client::add_watch(&p, 999, "/d", IN_CREATE)), EBADF);
    let file = p.open("/d/f", O_RDONLY).unwrap();
    assert_eq!(errno(client::add_watch(&p, file, "/d", IN_CREATE)), EINVAL);
    p.close(file).unwrap();
    assert_eq!(errno(ino.add_watch("/missing", IN_CREATE)), ENOENT);
    assert_eq!(errno(ino.add_watch("/secret", IN_CREATE)), EACCES);
    assert_eq!(ino.add_watch("/d", IN_CREATE).unwrap(), 1);
    assert_eq!(p.fds(), before);
}

#[test]
fn add_watch_path_errors() {
    let env = Env::start();
    env.fs.symlink("loop1", "loop2", 60);
    env.fs.symlink("loop2", "loop1", 61);
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
    assert_eq!(errno(ino.add_watch("/missing", IN_CREATE)), ENOENT);
    assert_eq!(errno(ino.add_watch("/d/missing", IN_CREATE)), ENOENT);
    assert_eq!(errno(ino.add_watch("/d/f/x", IN_CREATE)), ENOTDIR);
    assert_eq!(errno(ino.add_watch("/loop1", IN_CREATE)), ELOOP);
}

#[test]
fn eacces_without_read_permission() {
    let env = Env::start();
    let user = env.user(10, USER);
    let ino = nonblocking(&user);
    assert_eq!(errno(ino.add_watch("/secret", IN_MODIFY)), EACCES);
    // Group bits decide for a member of the file's group (GROUP).
    assert!(ino.add_watch("/grp", IN_MODIFY).unwrap() > 0);
    let outsider = env.h.process(11, OTHER, OTHER);
    let ino2 = nonblocking(&outsider);
    assert_eq!(errno(ino2.add_watch("/grp", IN_MODIFY)), EACCES);
    // Root may watch anything.
    let root = env.root();
    let ino3 = nonblocking(&root);
    assert_eq!(ino3.add_watch("/secret", IN_MODIFY).unwrap(), 1);
}

#[test]
fn onlydir_on_a_file_is_enotdir() {
    let (_env, _p, ino) = user_instance();
    assert_eq!(
        errno(ino.add_watch("/d/f", IN_ONLYDIR | IN_MODIFY)),
        ENOTDIR
    );
    assert_eq!(ino.add_watch("/d", IN_ONLYDIR | IN_CREATE).unwrap(), 1);
}

#[test]
fn dont_follow_watches_the_symlink_itself() {
    let (env, _p, ino) = user_instance();
    let wd_f = ino.add_watch("/d/f", IN_ATTRIB).unwrap();
    // Followed: the same inode, hence the same wd.
    assert_eq!(ino.add_watch("/link", IN_ATTRIB).unwrap(), wd_f);
    let wd_link = ino.add_watch("/link", IN_ATTRIB | IN_DONT_FOLLOW).unwrap();
    assert_ne!(wd_link, wd_f);
    env.push(&[Fact::Attrib(at(ino::LINK, ROOT_DIR, "link"))]);
    assert_eq!(drain(&ino), [ev(wd_link, IN_ATTRIB, "")]);
}

#[test]
fn a_second_path_to_a_watched_inode_gives_the_same_wd() {
    let (_env, _p, ino) = user_instance();
    let wd = ino.add_watch("/d/f", IN_MODIFY).unwrap();
    assert_eq!(ino.add_watch("/d/sub/../f", IN_MODIFY).unwrap(), wd);
    assert_eq!(ino.add_watch("file:d/f", IN_MODIFY).unwrap(), wd);
}

#[test]
fn mask_add_mask_create_and_replacement() {
    let (env, _p, ino) = user_instance();
    let f = at(ino::F, ino::D, "f");
    let wd = ino.add_watch("/d/f", IN_MODIFY).unwrap();
    // IN_MASK_ADD ORs into the mask.
    assert_eq!(ino.add_watch("/d/f", IN_ATTRIB | IN_MASK_ADD).unwrap(), wd);
    env.push(&[Fact::Modified(f), Fact::Attrib(f)]);
    assert_eq!(drain(&ino), [ev(wd, IN_MODIFY, ""), ev(wd, IN_ATTRIB, "")]);
    // Without it the mask is replaced.
    assert_eq!(ino.add_watch("/d/f", IN_ATTRIB).unwrap(), wd);
    env.push(&[Fact::Modified(f), Fact::Attrib(f)]);
    assert_eq!(drain(&ino), [ev(wd, IN_ATTRIB, "")]);
    // IN_MASK_CREATE on a watched inode: EEXIST; on a new one: a new wd.
    assert_eq!(
        errno(ino.add_watch("/d/f", IN_MODIFY | IN_MASK_CREATE)),
        EEXIST
    );
    assert_eq!(
        ino.add_watch("/d/g", IN_MODIFY | IN_MASK_CREATE).unwrap(),
        wd + 1
    );
}

#[test]
fn oneshot_delivers_once_then_ignored() {
    let (env, _p, ino) = user_instance();
    let wd = ino.add_watch("/d/f", IN_MODIFY | IN_ONESHOT).unwrap();
    let f = at(ino::F, ino::D, "f");
    env.push(&[Fact::Modified(f), Fact::Attrib(f), Fact::Modified(f)]);
    assert_eq!(drain(&ino), [ev(wd, IN_MODIFY, ""), ev(wd, IN_IGNORED, "")]);
    assert_eq!(errno(ino.rm_watch(wd)), EINVAL);
}

#[test]
fn excl_unlink_silences_unlinked_children() {
    let env = Env::start();
    let p = env.user(10, USER);
    let plain = nonblocking(&p);
    let excl = nonblocking(&p);
    let wd_plain = plain.add_watch("/d", IN_DELETE | IN_MODIFY).unwrap();
    let wd_excl = excl
        .add_watch("/d", IN_DELETE | IN_MODIFY | IN_EXCL_UNLINK)
        .unwrap();
    // A write through a handle opened as `f`, after `f` was removed.
    let f = Subject {
        detached: true,
        ..at(ino::F, ino::D, "f")
    };
    env.push(&[
        Fact::Unlinked {
            dir: ino::D,
            name: b"f",
            ino: ino::F,
            is_dir: false,
            links_left: 0,
            freed: false,
        },
        // Still open: the write reaches the directory unless IN_EXCL_UNLINK.
        Fact::Modified(f),
    ]);
    assert_eq!(
        drain(&plain),
        [ev(wd_plain, IN_DELETE, "f"), ev(wd_plain, IN_MODIFY, "f")]
    );
    assert_eq!(drain(&excl), [ev(wd_excl, IN_DELETE, "f")]);
}

#[test]
fn enospc_at_the_watch_limit_after_eexist() {
    let env = Env::start();
    set_tunable(&env.root(), "max_user_watches", "2");
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
    assert_eq!(ino.add_watch("/d", IN_CREATE).unwrap(), 1);
    assert_eq!(ino.add_watch("/e", IN_CREATE).unwrap(), 2);
    assert_eq!(errno(ino.add_watch("/d/f", IN_MODIFY)), ENOSPC);
    // Changing an existing watch needs no new one.
    assert_eq!(ino.add_watch("/d", IN_DELETE).unwrap(), 1);
    // EEXIST is checked before ENOSPC.
    assert_eq!(
        errno(ino.add_watch("/d", IN_DELETE | IN_MASK_CREATE)),
        EEXIST
    );
    // The limit is per user.
    let q = env.user(11, OTHER);
    let ino_q = nonblocking(&q);
    assert_eq!(ino_q.add_watch("/d/f", IN_MODIFY).unwrap(), 1);
    // Removing a watch frees its slot; wds keep increasing.
    ino.rm_watch(2).unwrap();
    assert_eq!(ino.add_watch("/d/f", IN_MODIFY).unwrap(), 4);
}

#[test]
fn rm_watch_of_an_unknown_wd_is_einval() {
    let (_env, p, ino) = user_instance();
    assert_eq!(errno(ino.rm_watch(1)), EINVAL);
    assert_eq!(errno(ino.rm_watch(-1)), EINVAL);
    assert_eq!(errno(ino.rm_watch(0)), EINVAL);
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    // A wd of another instance is not ours.
    let other = nonblocking(&p);
    assert_eq!(errno(other.rm_watch(wd)), EINVAL);
    ino.rm_watch(wd).unwrap();
    assert_eq!(errno(ino.rm_watch(wd)), EINVAL);
}

#[test]
fn wds_start_at_one_and_keep_increasing() {
    let (_env, p, ino) = user_instance();
    assert_eq!(ino.add_watch("/d", IN_CREATE).unwrap(), 1);
    assert_eq!(ino.add_watch("/e", IN_CREATE).unwrap(), 2);
    ino.rm_watch(2).unwrap();
    assert_eq!(ino.add_watch("/e", IN_CREATE).unwrap(), 3);
    // Another instance starts at 1.
    let other = nonblocking(&p);
    assert_eq!(other.add_watch("/e", IN_CREATE).unwrap(), 1);
}

#[test]
fn malformed_calls_are_einval() {
    let (_env, p, ino) = user_instance();
    let fd = ino.raw_fd();
    assert_eq!(errno(p.call(fd, &mut [], &[])), EINVAL);
    assert_eq!(errno(p.call(fd, &mut [], &[99, 0, 0])), EINVAL);
    assert_eq!(errno(p.call(fd, &mut [], &[1, 1 << 40, 0])), EINVAL);
    assert_eq!(errno(p.call(fd, &mut [], &[2, 1 << 40, 0])), EINVAL);
    // No add_watch was sent with this token.
    assert_eq!(
        errno(p.call(fd, &mut [], &CallRepr::TakeResult { token: 5 }.emit())),
        EINVAL
    );
    // write on an instance.
    assert_eq!(errno(p.write(fd, b"x")), EINVAL);
    // The daemon still serves.
    assert_eq!(ino.add_watch("/d", IN_CREATE).unwrap(), 1);
}

#[test]
fn terminal_ioctls_sent_as_calls_get_enotty_and_consume_nothing() {
    let (env, p, ino) = user_instance();
    let fd = ino.raw_fd();
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    env.push(&[created(ino::D, b"a", 50)]);
    common::sync(&p);
    // relibc's tcgetattr/tcsetattr: [verb, 0 | 1] with the structure as payload. Linux
    // answers ENOTTY on an inotify fd.
    let mut termios = [0u8; 60];
    for meta in [[3u64, 1, 0], [1, 1, 0], [1, 0, 0], [3, 0, 0]] {
        assert_eq!(errno(p.call(fd, &mut termios, &meta)), ENOTTY, "{meta:?}");
    }
    // The same words without a payload are not the exact form of an inotify call either.
    assert_eq!(errno(p.call(fd, &mut [], &[3, 1, 0])), EINVAL);
    assert_eq!(errno(p.call(fd, &mut [], &[1, 1, 7])), EINVAL);
    // Nothing was taken: the event is still queued, QueuedBytes still answers.
    assert_eq!(ino.queued_bytes().unwrap(), 32);
    assert_eq!(drain(&ino), [ev(wd, IN_CREATE, "a")]);
}

#[test]
fn fstat_fpath_and_queued_bytes() {
    let (env, p, ino) = user_instance();
    let st = p.fstat(ino.raw_fd()).unwrap();
    // As Linux's fstat of an inotify fd (an anonymous inode): 0600 and no file type.
    assert_eq!(st.st_mode, 0o600);
    assert_eq!(st.st_size, 0);
    assert_eq!(p.fpath_string(ino.raw_fd()).unwrap(), "/scheme/inotify");
    assert_eq!(ino.queued_bytes().unwrap(), 0);
    let wd = ino.add_watch("/d", IN_CREATE).unwrap();
    env.push(&[
        created(ino::D, b"a", 50),
        created(ino::D, b"a-longer-name-0123", 51),
    ]);
    common::sync(&p);
    assert_eq!(ino.queued_bytes().unwrap(), 32 + 48);
    assert_eq!(p.fstat(ino.raw_fd()).unwrap().st_size, 80);
    assert_eq!(drain(&ino).len(), 2);
    assert_eq!(ino.queued_bytes().unwrap(), 0);
    let _ = wd;
}

#[test]
fn only_root_opens_a_feed() {
    let env = Env::start();
    let p = env.user(10, USER);
    let fd = p.open("/d", client::O_PATH).unwrap();
    assert_eq!(errno(p.dup(fd, FEED_DUP_NAME)), EACCES);
    let root = env.root();
    let fd = root.open("/d", client::O_PATH).unwrap();
    assert!(root.dup(fd, FEED_DUP_NAME).is_ok());
}

#[test]
fn a_filesystem_without_a_feed_is_eopnotsupp() {
    let env = Env::start();
    env.fs.set_feed_enabled(false);
    let p = env.user(10, USER);
    let ino = nonblocking(&p);
    assert_eq!(errno(ino.add_watch("/d", IN_CREATE)), EOPNOTSUPP);
    env.fs.set_feed_enabled(true);
    assert_eq!(ino.add_watch("/d", IN_CREATE).unwrap(), 1);
}

#[test]
fn tunables_read_write_and_refusals() {
    let env = Env::start();
    let root = env.root();
    let user = env.user(10, USER);
    let read = |p: &inotify_host::Process, name: &str| {
        let fd = p
            .open(&format!("/scheme/inotify/{name}"), O_RDONLY)
            .unwrap();
        let mut buf = [0u8; 32];
        let n = p.read(fd, &mut buf).unwrap();
        // Positioned: a second read is at the end.
        assert_eq!(p.read(fd, &mut buf[n..]).unwrap(), 0);
        p.close(fd).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    };
    assert_eq!(read(&user, "max_queued_events"), "16384\n");
    assert_eq!(read(&user, "max_user_instances"), "128\n");
    assert_eq!(read(&user, "event_drops"), "0\n");
    assert_eq!(
        errno(user.open("/scheme/inotify/max_queued_events", O_WRONLY)),
        EACCES
    );
    assert_eq!(
        errno(user.open("/scheme/inotify/max_queued_events", O_RDWR)),
        EACCES
    );
    assert_eq!(
        errno(root.open("/scheme/inotify/event_drops", O_WRONLY)),
        EACCES
    );
    assert_eq!(errno(user.open("/scheme/inotify/nope", O_RDONLY)), ENOENT);
    let fd = root
        .open("/scheme/inotify/max_queued_events", O_WRONLY)
        .unwrap();
    for bad in ["", "x", "-1", "12abc", "2147483648"] {
        assert_eq!(errno(root.write(fd, bad.as_bytes())), EINVAL, "{bad:?}");
    }
    assert_eq!(root.write(fd, b"100\n").unwrap(), 4);
    root.close(fd).unwrap();
    assert_eq!(read(&user, "max_queued_events"), "100\n");
    // A read-only tunable handle refuses writes.
    let fd = root.open("/scheme/inotify/max_watches", O_RDONLY).unwrap();
    assert_eq!(errno(root.write(fd, b"5")), EBADF);
}

#[test]
fn queue_budget_tunables_are_read_by_anyone_and_written_by_root_with_decimal_values_only() {
    let env = Env::start();
    let root = env.root();
    let user = env.user(10, USER);
    assert_eq!(tunable(&user, "max_user_queued_bytes"), "33554432\n");
    assert_eq!(tunable(&user, "max_total_queued_bytes"), "268435456\n");
    for name in ["max_user_queued_bytes", "max_total_queued_bytes"] {
        let path = format!("/scheme/inotify/{name}");
        assert_eq!(errno(user.open(&path, O_WRONLY)), EACCES, "{name}");
        assert_eq!(errno(user.open(&path, O_RDWR)), EACCES, "{name}");
        let fd = root.open(&path, O_WRONLY).unwrap();
        for bad in ["", "x", "-1", "1.5", "4096k", "2147483648"] {
            assert_eq!(
                errno(root.write(fd, bad.as_bytes())),
                EINVAL,
                "{name} {bad:?}"
            );
        }
        // The refused writes changed nothing.
        assert_ne!(tunable(&user, name), "0\n");
        assert_eq!(root.write(fd, b" 65536\n").unwrap(), 7);
        root.close(fd).unwrap();
        assert_eq!(tunable(&user, name), "65536\n");
    }
}
