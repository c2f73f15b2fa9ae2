//! The feed end to end, without the daemon: a process of the host kernel works on a
//! `HostFs`, and a root process reads the feed directly, as inotifyd does.

mod e2e_support;

use std::os::unix::fs::MetadataExt;

use e2e_support::{drain_feed, ino, interest, user_ids, Fs};
use inotify_abi::feed::Interest;
use inotify_abi::proto::FEED_DUP_NAME;
use inotify_host::hostfs::{UTIME_NOW, UTIME_OMIT};
use inotify_host::{Kernel, Process, O_PATH};
use syscall::error::{EACCES, EAGAIN, EINVAL, ENOENT};
use syscall::flag::{EventFlags, O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
use syscall::TimeSpec;

/// A filesystem, a root process with the feed open, and a user process.
struct Setup {
    fs: Fs,
    root: Process,
    user: Process,
    feed: usize,
    seq: u64,
}

impl Setup {
    fn new(tag: &str, capacity: usize) -> Setup {
        let kernel = Kernel::new();
        let fs = Fs::start(&kernel, tag, capacity);
        let root = kernel.process(10, 0, 0);
        let (uid, gid) = user_ids();
        let user = kernel.process(20, uid, gid);
        let dirfd = root.open("/scheme/file/", O_PATH).unwrap();
        let feed = root.dup(dirfd, FEED_DUP_NAME).unwrap();
        root.close(dirfd).unwrap();
        Setup {
            fs,
            root,
            user,
            feed,
            seq: 0,
        }
    }

    /// Makes `rel` a watched inode.
    fn watch(&self, rel: &str) -> u64 {
        let ino = ino(&self.fs.dir.path().join(rel));
        let msg = interest(&[Interest::Add(ino)]);
        assert_eq!(self.root.write(self.feed, &msg), Ok(msg.len()));
        ino
    }

    fn facts(&mut self) -> Vec<String> {
        drain_feed(&self.root, self.feed, &mut self.seq)
    }

    fn host(&self, rel: &str) -> std::path::PathBuf {
        self.fs.dir.path().join(rel)
    }
}

fn p(rel: &str) -> String {
    format!("/scheme/file/{rel}")
}

#[test]
fn only_root_opens_the_feed() {
    let s = Setup::new("feedroot", 4096);
    let fd = s.user.open(&p(""), O_PATH).unwrap();
    assert_eq!(s.user.dup(fd, FEED_DUP_NAME).unwrap_err().errno, EACCES);
    assert_eq!(s.user.dup(fd, b"something-else").unwrap_err().errno, EINVAL);
    let fd = s.root.open(&p(""), O_PATH).unwrap();
    assert!(s.root.dup(fd, FEED_DUP_NAME).is_ok());
}

#[test]
fn unwatched_operations_record_nothing() {
    let mut s = Setup::new("unwatched", 4096);
    s.user.mkdir(&p("w"), 0o755).unwrap();
    s.watch("w"); // watched, but nothing below happens in it
    let u = &s.user;
    let fd = u.open(&p("a"), O_CREAT | O_RDWR | 0o644).unwrap();
    u.write(fd, b"hello").unwrap();
    u.ftruncate(fd, 2).unwrap();
    u.fchmod(fd, 0o600).unwrap();
    u.close(fd).unwrap();
    u.mkdir(&p("d"), 0o755).unwrap();
    u.rename(&p("a"), &p("d/b")).unwrap();
    u.link(&p("d/b"), &p("c")).unwrap();
    u.unlink(&p("d/b")).unwrap();
    u.unlink(&p("c")).unwrap();
    u.rmdir(&p("d")).unwrap();
    assert_eq!(s.facts(), Vec::<String>::new());
    assert_eq!(s.fs.recorded(), 0);
    let mut buf = [0u8; 256];
    assert_eq!(
        s.root.read_nonblock(s.feed, &mut buf).unwrap_err().errno,
        EAGAIN
    );
}

#[test]
fn facts_of_a_watched_directory_in_order() {
    let mut s = Setup::new("watched", 64 * 1024);
    s.user.mkdir(&p("w"), 0o755).unwrap();
    let w = s.watch("w");
    let u = s.user.clone();

    // create + write + close
    let fd = u.open(&p("w/a"), O_CREAT | O_WRONLY | 0o644).unwrap();
    let a = ino(&s.host("w/a"));
    assert_eq!(u.write(fd, b"hi").unwrap(), 2);
    assert_eq!(u.write(fd, b"").unwrap(), 0); // no fact for an empty write
    u.close(fd).unwrap();
    let at = format!("{a} ({w}/\"a\")");
    assert_eq!(
        s.facts(),
        [
            format!("Created {w}/\"a\" -> {a}"),
            format!("Opened {at}"),
            format!("Modified {at}"),
            format!("Closed {at} wrote"),
        ]
    );

    // read, read at EOF, close
    let fd = u.open(&p("w/a"), O_RDONLY).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(u.read(fd, &mut buf).unwrap(), 2);
    assert_eq!(u.read(fd, &mut buf).unwrap(), 0);
    u.close(fd).unwrap();
    assert_eq!(
        s.facts(),
        [
            format!("Opened {at}"),
            format!("Accessed {at}"),
            format!("Closed {at}")
        ]
    );

    // O_TRUNC, ftruncate, chmod, chown, times
    let fd = u.open(&p("w/a"), O_RDWR | O_TRUNC).unwrap();
    u.ftruncate(fd, 10).unwrap();
    u.fchmod(fd, 0o600).unwrap();
    let omit = TimeSpec {
        tv_sec: 0,
        tv_nsec: UTIME_OMIT,
    };
    let t = TimeSpec {
        tv_sec: 1_000_000,
        tv_nsec: 5,
    };
    u.futimens(fd, &[t, omit]).unwrap();
    u.futimens(fd, &[omit, t]).unwrap();
    u.futimens(
        fd,
        &[
            t,
            TimeSpec {
                tv_sec: 0,
                tv_nsec: UTIME_NOW,
            },
        ],
    )
    .unwrap();
    u.close(fd).unwrap();
    assert_eq!(
        s.facts(),
        [
            format!("Opened {at}"),
            format!("Modified {at}"),
            format!("Modified {at}"),
            format!("Attrib {at}"),
            format!("Times {at} atime"),
            format!("Times {at} mtime"),
            format!("Times {at} atime mtime"),
            format!("Closed {at} wrote"),
        ]
    );
    let meta = std::fs::metadata(s.host("w/a")).unwrap();
    assert_eq!(
        (meta.len(), meta.mode() & 0o777, meta.atime()),
        (10, 0o600, 1_000_000)
    );

    // hard link, unlink with a link left, rename, directory, symlink
    u.link(&p("w/a"), &p("w/b")).unwrap();
    u.unlink(&p("w/a")).unwrap();
    u.rename(&p("w/b"), &p("w/c")).unwrap();
    u.mkdir(&p("w/d"), 0o755).unwrap();
    let d = ino(&s.host("w/d"));
    u.rmdir(&p("w/d")).unwrap();
    u.symlink("c", &p("w/s")).unwrap();
    let sl = ino(&s.host("w/s"));
    assert_eq!(
        std::fs::read_link(s.host("w/s")).unwrap().to_str(),
        Some("c")
    );
    assert_eq!(
        s.facts(),
        [
            format!("Linked {w}/\"b\" -> {a}"),
            format!("Unlinked {w}/\"a\" -> {a} links=1"),
            format!("Renamed {w}/\"b\" -> {w}/\"c\" ino={a}"),
            format!("Created {w}/\"d\" -> {d} dir"),
            format!("Unlinked {w}/\"d\" -> {d} dir links=0 freed"),
            format!("Created {w}/\"s\" -> {sl}"),
        ]
    );

    // rename over an existing file; unlink while open; freed at the last close
    let fd = u.open(&p("w/e"), O_CREAT | O_WRONLY | 0o644).unwrap();
    let e = ino(&s.host("w/e"));
    // Freed is about the inode itself: only inodes in the interest set report it.
    s.watch("w/e");
    s.watch("w/c");
    u.rename(&p("w/c"), &p("w/e")).unwrap();
    let ea = format!("{e} ({w}/\"e\")");
    u.close(fd).unwrap();
    let fd = u.open(&p("w/e"), O_RDONLY).unwrap(); // now inode a
    u.unlink(&p("w/e")).unwrap();
    u.close(fd).unwrap();
    let ae = format!("{a} ({w}/\"e\")");
    assert_eq!(
        s.facts(),
        [
            format!("Created {w}/\"e\" -> {e}"),
            format!("Opened {ea}"),
            format!("Renamed {w}/\"c\" -> {w}/\"e\" ino={a} replaced={e} links=0"),
            format!("Closed {ea} detached wrote"),
            format!("Freed {e}"),
            format!("Opened {ae}"),
            format!("Unlinked {w}/\"e\" -> {a} links=0"),
            format!("Closed {ae} detached"),
            format!("Freed {a}"),
        ]
    );
}

#[test]
fn unlink_is_per_name_the_handle_was_opened_through() {
    let mut s = Setup::new("pername", 4096);
    let u = s.user.clone();
    u.mkdir(&p("w"), 0o755).unwrap();
    u.create(&p("w/c"), 0o644).unwrap();
    u.link(&p("w/c"), &p("w/s")).unwrap();
    let w = s.watch("w");
    let c = s.watch("w/c");
    let hs = u.open(&p("w/s"), O_RDWR).unwrap();
    let hc = u.open(&p("w/c"), O_RDWR).unwrap();
    u.unlink(&p("w/s")).unwrap();
    // Through the removed name: detached, except the truncation and attribute changes,
    // which Linux reports without the open file's path.
    assert_eq!(u.write(hs, b"x"), Ok(1));
    u.ftruncate(hs, 0).unwrap();
    u.fchmod(hs, 0o600).unwrap();
    // Through the remaining name: attached.
    assert_eq!(u.write(hc, b"y"), Ok(1));
    u.close(hs).unwrap();
    // The last name goes while `hc` holds it: no Freed yet, it comes at that close.
    u.unlink(&p("w/c")).unwrap();
    u.close(hc).unwrap();
    let (cs, cc) = (format!("{c} ({w}/\"s\")"), format!("{c} ({w}/\"c\")"));
    assert_eq!(
        s.facts(),
        [
            format!("Opened {cs}"),
            format!("Opened {cc}"),
            format!("Unlinked {w}/\"s\" -> {c} links=1"),
            format!("Modified {cs} detached"),
            format!("Modified {cs}"),
            format!("Attrib {cs}"),
            format!("Modified {cc}"),
            format!("Closed {cs} detached wrote"),
            format!("Unlinked {w}/\"c\" -> {c} links=0"),
            format!("Closed {cc} detached wrote"),
            format!("Freed {c}"),
        ]
    );

    // The last name goes while only a handle on an earlier removed name is open: the inode
    // is gone at once (freed), and the close of that handle sends a Freed nobody needs.
    u.create(&p("w/f"), 0o644).unwrap();
    u.link(&p("w/f"), &p("w/g")).unwrap();
    let f = s.watch("w/f");
    let hf = u.open(&p("w/f"), O_RDONLY).unwrap();
    u.unlink(&p("w/f")).unwrap();
    u.unlink(&p("w/g")).unwrap();
    u.close(hf).unwrap();
    let ff = format!("{f} ({w}/\"f\")");
    assert_eq!(
        s.facts(),
        [
            format!("Created {w}/\"f\" -> {f}"),
            format!("Opened {ff}"),
            format!("Closed {ff} wrote"),
            format!("Linked {w}/\"g\" -> {f}"),
            format!("Opened {ff}"),
            format!("Unlinked {w}/\"f\" -> {f} links=1"),
            format!("Unlinked {w}/\"g\" -> {f} links=0 freed"),
            format!("Closed {ff} detached"),
            format!("Freed {f}"),
        ]
    );

    // A handle's name follows a rename: removing the new name waits for its close.
    u.create(&p("w/a"), 0o644).unwrap();
    let a = s.watch("w/a");
    let ha = u.open(&p("w/a"), O_RDONLY).unwrap();
    u.rename(&p("w/a"), &p("w/b")).unwrap();
    u.unlink(&p("w/b")).unwrap();
    u.close(ha).unwrap();
    let (aa, ab) = (format!("{a} ({w}/\"a\")"), format!("{a} ({w}/\"b\")"));
    assert_eq!(
        s.facts(),
        [
            format!("Created {w}/\"a\" -> {a}"),
            format!("Opened {aa}"),
            format!("Closed {aa} wrote"),
            format!("Opened {aa}"),
            format!("Renamed {w}/\"a\" -> {w}/\"b\" ino={a}"),
            format!("Unlinked {w}/\"b\" -> {a} links=0"),
            format!("Closed {ab} detached"),
            format!("Freed {a}"),
        ]
    );
}

#[test]
fn listing_a_watched_directory_is_an_access() {
    let mut s = Setup::new("listing", 4096);
    s.user.mkdir(&p("w"), 0o755).unwrap();
    std::fs::write(s.host("w/x"), b"").unwrap();
    let w = s.watch("w");
    let root = ino(s.fs.dir.path());
    let fd = s.user.open(&p("w"), O_RDONLY | O_DIRECTORY).unwrap();
    let mut buf = [0u8; 1024];
    let header = std::mem::size_of::<syscall::dirent::DirentHeader>() as u16;
    let n = s.user.getdents(fd, &mut buf, header, 0).unwrap();
    let names: Vec<_> = syscall::dirent::DirentIter::new(&buf[..n])
        .map(|e| {
            let name = e.unwrap().1;
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            String::from_utf8_lossy(&name[..end]).into_owned()
        })
        .collect();
    assert_eq!(names, [".", "..", "x"]);
    s.user.close(fd).unwrap();
    let at = format!("{w} ({root}/\"w\") dir");
    assert_eq!(
        s.facts(),
        [
            format!("Opened {at}"),
            format!("Accessed {at}"),
            format!("Closed {at}")
        ]
    );
}

#[test]
fn path_only_opens_report_nothing() {
    let mut s = Setup::new("opath", 4096);
    std::fs::write(s.host("f"), b"x").unwrap();
    s.watch("f");
    let fd = s.user.open(&p("f"), O_PATH).unwrap();
    let st = s.user.fstat(fd).unwrap();
    s.user.close(fd).unwrap();
    assert_eq!(st.st_ino, ino(&s.host("f")));
    assert_eq!(s.facts(), Vec::<String>::new());
}

#[test]
fn readiness_is_posted_on_the_first_record() {
    let mut s = Setup::new("ready", 4096);
    s.user.mkdir(&p("w"), 0o755).unwrap();
    s.watch("w");
    let queue = s.root.event_queue();
    queue.subscribe(s.feed, EventFlags::EVENT_READ).unwrap();
    assert_eq!(queue.try_next(), None);
    assert_eq!(
        s.root.fevent(s.feed, EventFlags::EVENT_READ).unwrap(),
        EventFlags::empty()
    );
    s.user.create(&p("w/a"), 0o644).unwrap();
    assert_eq!(queue.try_next(), Some((s.feed, EventFlags::EVENT_READ)));
    // One post per edge: the open and close after the create did not post again.
    assert_eq!(queue.try_next(), None);
    assert_eq!(
        s.root.fevent(s.feed, EventFlags::EVENT_READ).unwrap(),
        EventFlags::EVENT_READ
    );
    assert_eq!(s.facts().len(), 3);
    s.user.create(&p("w/b"), 0o644).unwrap();
    assert_eq!(queue.try_next(), Some((s.feed, EventFlags::EVENT_READ)));
}

#[test]
fn overflow_is_counted_and_reported_as_lost() {
    let mut s = Setup::new("overflow", 0); // the smallest buffer: one large record
    s.user.mkdir(&p("w"), 0o755).unwrap();
    s.watch("w");
    for i in 0..20 {
        s.user.create(&p(&format!("w/f{i}")), 0o644).unwrap();
    }
    let facts = s.facts();
    let dropped = s.fs.dropped();
    assert!(dropped > 0);
    assert_eq!(facts.last().unwrap(), &format!("Lost {dropped}"));
    assert_eq!(facts.len() as u64 + dropped - 1, 60);
}

#[test]
fn paths_cannot_leave_the_root() {
    let s = Setup::new("escape", 4096);
    let u = &s.user;
    assert_eq!(u.open(&p(".."), O_PATH).unwrap_err().errno, EACCES);
    assert_eq!(
        u.open(&p("../etc/passwd"), O_RDONLY).unwrap_err().errno,
        EACCES
    );
    std::fs::create_dir(s.host("d")).unwrap();
    assert_eq!(u.open(&p("d/../../x"), O_RDONLY).unwrap_err().errno, EACCES);
    // Symlinks resolve inside the root: an absolute target names the root of the scheme.
    std::os::unix::fs::symlink("/etc/passwd", s.host("abs")).unwrap();
    assert_eq!(u.open(&p("abs"), O_RDONLY).unwrap_err().errno, ENOENT);
    std::os::unix::fs::symlink("../../../../etc", s.host("up")).unwrap();
    assert_eq!(u.open(&p("up/passwd"), O_RDONLY).unwrap_err().errno, EACCES);
    std::fs::write(s.host("d/in"), b"inside").unwrap();
    std::os::unix::fs::symlink("/d/in", s.host("ok")).unwrap();
    let fd = u.open(&p("ok"), O_RDONLY).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(u.read(fd, &mut buf).unwrap(), 6);
    assert_eq!(u.fpath_string(fd).unwrap(), "/scheme/file/d/in");
}

#[test]
fn permissions_follow_the_mode_bits_for_non_root_callers() {
    let s = Setup::new("perm", 4096);
    std::fs::write(s.host("secret"), b"x").unwrap();
    std::fs::set_permissions(
        s.host("secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::create_dir(s.host("closed")).unwrap();
    std::fs::set_permissions(
        s.host("closed"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    std::fs::write(s.host("closed/f"), b"x").unwrap();
    if user_ids().0 == 0 || std::fs::metadata(s.host("secret")).unwrap().uid() == user_ids().0 {
        return; // the "user" owns the files: nothing to refuse
    }
    assert_eq!(
        s.user.open(&p("secret"), O_RDONLY).unwrap_err().errno,
        EACCES
    );
    assert_eq!(
        s.user.open(&p("closed/f"), O_PATH).unwrap_err().errno,
        EACCES
    );
    assert_eq!(s.user.unlink(&p("closed/f")).unwrap_err().errno, EACCES);
    assert!(s.root.open(&p("secret"), O_RDONLY).is_ok());
    // A new file belongs to its creator.
    let fd = s.user.open(&p("mine"), O_CREAT | O_WRONLY | 0o600).unwrap();
    let st = s.user.fstat(fd).unwrap();
    assert_eq!((st.st_uid, st.st_gid), user_ids());
    assert_eq!(st.st_mode & 0o777, 0o600);
    assert_eq!(st.st_nlink, 1);
    assert_eq!(st.st_ino, ino(&s.host("mine")));
    assert_eq!(s.user.fpath_string(fd).unwrap(), "/scheme/file/mine");
}

#[test]
fn paths_are_resolved_with_linux_rules_and_failed_calls_change_nothing() {
    use syscall::error::{EBADF, EBUSY, EEXIST, EISDIR, ENAMETOOLONG, ENOTDIR};
    use syscall::flag::O_STAT;
    let s = Setup::new("paths", 4096);
    let u = &s.user;
    std::fs::create_dir(s.host("t")).unwrap();
    std::fs::write(s.host("f"), b"x").unwrap();
    std::os::unix::fs::symlink("t", s.host("sl")).unwrap();
    // A trailing slash on a symlink to a directory: the link is acted on, not the target.
    assert_eq!(u.rmdir(&p("sl/")).unwrap_err().errno, ENOTDIR);
    assert_eq!(u.rename(&p("sl/"), &p("z")).unwrap_err().errno, ENOTDIR);
    assert_eq!(u.unlink(&p("sl/")).unwrap_err().errno, ENOTDIR);
    assert!(s.host("t").is_dir() && !s.host("z").exists());
    assert!(s.host("sl").symlink_metadata().is_ok());
    // A trailing slash on a name being made.
    assert_eq!(u.create(&p("g/"), 0o644).unwrap_err().errno, EISDIR);
    assert_eq!(u.rename(&p("f"), &p("x/")).unwrap_err().errno, ENOTDIR);
    assert_eq!(u.link(&p("f"), &p("g/")).unwrap_err().errno, ENOENT);
    assert_eq!(u.symlink("f", &p("s/")).unwrap_err().errno, ENOENT);
    for made in ["g", "x", "s"] {
        assert!(s.host(made).symlink_metadata().is_err(), "{made} was made");
    }
    u.mkdir(&p("m/"), 0o755).unwrap();
    assert!(s.host("m").is_dir());
    // `.` and `..` as the last component.
    assert_eq!(u.rename(&p("t/."), &p("y")).unwrap_err().errno, EBUSY);
    assert_eq!(u.rename(&p("f"), &p("t/..")).unwrap_err().errno, EBUSY);
    assert_eq!(u.unlink(&p("t/.")).unwrap_err().errno, EISDIR);
    assert_eq!(u.link(&p("f"), &p("t/.")).unwrap_err().errno, EEXIST);
    assert_eq!(u.mkdir(&p("n/."), 0o755).unwrap_err().errno, ENOENT);
    assert!(s.host("f").is_file() && !s.host("n").exists());
    // Paths of PATH_MAX bytes or more, even when they would resolve.
    let long = format!("t/{}", "./".repeat(2100));
    assert_eq!(u.open(&p(&long), O_RDONLY).unwrap_err().errno, ENAMETOOLONG);
    assert_eq!(u.rmdir(&p(&long)).unwrap_err().errno, ENAMETOOLONG);
    let fine = format!("t/{}", "./".repeat(1900));
    u.close(u.open(&p(&fine), O_RDONLY).unwrap()).unwrap();
    // ftruncate through an O_PATH handle.
    let fd = u.open(&p("f"), O_STAT).unwrap();
    assert_eq!(u.ftruncate(fd, 0).unwrap_err().errno, EBADF);
    assert_eq!(std::fs::read(s.host("f")).unwrap(), b"x");
    // O_CREAT | O_DIRECTORY (Redox's mkdir) with write access makes nothing.
    let flags = O_CREAT | O_DIRECTORY | O_WRONLY | 0o755;
    assert_eq!(u.open(&p("w"), flags).unwrap_err().errno, EISDIR);
    assert!(!s.host("w").exists());
}

#[test]
fn hostile_requests_get_errors_not_panics() {
    use syscall::error::{EBADF, EEXIST, EISDIR, ENAMETOOLONG, ENOTDIR};
    use syscall::flag::{O_EXCL, O_NOFOLLOW, O_STAT, O_SYMLINK};
    let s = Setup::new("hostile", 4096);
    let u = &s.user;
    std::fs::write(s.host("f"), b"x").unwrap();
    std::fs::create_dir(s.host("d")).unwrap();
    let long = "n".repeat(300);
    assert_eq!(u.open(&p(&long), O_RDONLY).unwrap_err().errno, ENAMETOOLONG);
    assert_eq!(u.open(&p("f/x"), O_RDONLY).unwrap_err().errno, ENOTDIR);
    assert_eq!(u.open(&p("f/"), O_RDONLY).unwrap_err().errno, ENOTDIR);
    assert_eq!(
        u.open(&p("f"), O_RDONLY | O_DIRECTORY).unwrap_err().errno,
        ENOTDIR
    );
    assert_eq!(u.open(&p("d"), O_WRONLY).unwrap_err().errno, EISDIR);
    assert_eq!(u.open(&p("nope"), O_RDONLY).unwrap_err().errno, ENOENT);
    assert_eq!(
        u.open(&p("f"), O_CREAT | O_EXCL | O_WRONLY)
            .unwrap_err()
            .errno,
        EEXIST
    );
    std::os::unix::fs::symlink("dangling", s.host("dl")).unwrap();
    assert_eq!(
        u.open(&p("dl"), O_CREAT | O_EXCL | O_WRONLY)
            .unwrap_err()
            .errno,
        EEXIST
    );
    assert!(!s.host("dangling").exists());
    std::os::unix::fs::symlink("loop", s.host("loop")).unwrap();
    assert_eq!(
        u.open(&p("loop"), O_RDONLY).unwrap_err().errno,
        syscall::error::ELOOP
    );
    assert_eq!(
        u.open(&p("loop"), O_RDONLY | O_NOFOLLOW).unwrap_err().errno,
        syscall::error::ELOOP
    );
    let l = u.open(&p("loop"), O_STAT | O_NOFOLLOW).unwrap();
    assert_eq!(
        u.fstat(l).unwrap().st_mode & syscall::flag::MODE_TYPE,
        syscall::flag::MODE_SYMLINK
    );
    let l = u.open(&p("dl"), O_SYMLINK | O_RDONLY).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(u.read(l, &mut buf).unwrap(), 8);
    assert_eq!(&buf[..8], b"dangling");
    assert_eq!(u.unlink(&p("d")).unwrap_err().errno, EISDIR);
    assert_eq!(u.rmdir(&p("f")).unwrap_err().errno, ENOTDIR);
    // The scheme root, as Linux's rmdir("/"); `.` and `..` last as Linux's rmdir.
    assert_eq!(u.rmdir(&p("")).unwrap_err().errno, syscall::error::EBUSY);
    assert_eq!(u.rmdir(&p("d/.")).unwrap_err().errno, EINVAL);
    assert_eq!(
        u.rmdir(&p("d/..")).unwrap_err().errno,
        syscall::error::ENOTEMPTY
    );
    // Wrong kinds of handle.
    let dfd = u.open(&p("d"), O_RDONLY).unwrap();
    assert_eq!(u.read(dfd, &mut buf).unwrap_err().errno, EISDIR);
    assert_eq!(u.write(dfd, b"x").unwrap_err().errno, EBADF);
    assert_eq!(u.ftruncate(dfd, 0).unwrap_err().errno, EINVAL);
    assert_eq!(
        u.open(&p("d"), O_RDONLY | O_TRUNC).unwrap_err().errno,
        EISDIR
    );
    assert_eq!(u.link(&p("d"), &p("f")).unwrap_err().errno, EEXIST);
    assert_eq!(
        u.link(&p("d"), &p("new")).unwrap_err().errno,
        syscall::error::EPERM
    );
    std::fs::create_dir(s.host("d/s")).unwrap();
    std::fs::write(s.host("d/s/f"), b"").unwrap();
    assert_eq!(u.rename(&p("d"), &p("d/s/x")).unwrap_err().errno, EINVAL);
    assert_eq!(
        u.rename(&p("d/s/f"), &p("d/s")).unwrap_err().errno,
        syscall::error::ENOTEMPTY
    );
    // renameat resolves both parents before the source name, as Linux does.
    assert_eq!(
        u.rename(&p("d/missing"), &p("d/s/f/x")).unwrap_err().errno,
        ENOTDIR
    );
    let root = u.open(&p(""), O_PATH | O_DIRECTORY).unwrap();
    assert_eq!(
        u.frenameat(root, "d/missing", root, "d/s/f/x", 0)
            .unwrap_err()
            .errno,
        ENOTDIR
    );
    assert_eq!(
        u.frenameat(root, "d/missing", root, "nodir/x", 0)
            .unwrap_err()
            .errno,
        ENOENT
    );
    assert_eq!(
        u.frenameat(root, "d/missing", root, "d/x", 0)
            .unwrap_err()
            .errno,
        ENOENT
    );
    // The credentials are those the first directory handle was opened with.
    assert_eq!(
        u.frenameat(root, "d/s/f", dfd, "s/g", 0).unwrap_err().errno,
        EACCES
    );
    let (r, r_root) = (&s.root, s.root.open(&p(""), O_PATH | O_DIRECTORY).unwrap());
    let r_d = r.open(&p("d"), O_PATH | O_DIRECTORY).unwrap();
    r.frenameat(r_root, "d/s/f", r_d, "s/g", 0).unwrap();
    assert!(s.host("d/s/g").exists() && !s.host("d/s/f").exists());
    let ffd = u.open(&p("f"), O_RDONLY).unwrap();
    assert_eq!(u.write(ffd, b"x").unwrap_err().errno, EBADF);
    assert_eq!(u.getdents(ffd, &mut buf, 19, 0).unwrap_err().errno, ENOTDIR);
    assert_eq!(u.ftruncate(ffd, 0).unwrap_err().errno, EINVAL);
    assert_eq!(u.openat(ffd, "x", O_RDONLY).unwrap_err().errno, ENOTDIR);
    let pfd = u.open(&p("f"), O_PATH).unwrap();
    assert_eq!(u.read(pfd, &mut buf).unwrap_err().errno, EBADF);
    // The feed handle refuses what it does not understand.
    assert_eq!(s.root.write(s.feed, &[1, 2, 3]).unwrap_err().errno, EINVAL);
    assert_eq!(s.root.write(s.feed, &[0xff; 16]).unwrap_err().errno, EINVAL);
    // A short fpath buffer gets a truncated path.
    let mut short = [0u8; 8];
    assert_eq!(u.fpath(ffd, &mut short).unwrap(), 8);
    assert_eq!(&short, b"/scheme/");
    // The filesystem still works.
    assert!(u.open(&p("f"), O_RDONLY).is_ok());
}

#[test]
fn new_files_get_exactly_the_requested_mode() {
    let s = Setup::new("mode", 4096);
    s.user.create(&p("f"), 0o666).unwrap();
    s.user.mkdir(&p("d"), 0o777).unwrap();
    let mode = |rel: &str| std::fs::metadata(s.host(rel)).unwrap().mode() & 0o7777;
    assert_eq!((mode("f"), mode("d")), (0o666, 0o777));
}
