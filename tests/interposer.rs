//! The interposer in front of a `HostFs` without a feed: credentials (a caller can do
//! through it exactly what it can do directly), the identity call answered by the target's
//! rules, a target that stops answering one request while other clients go on, and subtree
//! watches through it.
//! The event streams themselves are checked against Linux by the conformance run's
//! interposed pass (`make conformance`).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use inotify_abi::consts::{IN_ALL_EVENTS, IN_CREATE, IN_ISDIR, IN_MODIFY, IN_MOVED_TO};
use inotify_client::Inotify;
use inotify_host::harness::ServedFs;
use inotify_host::interposed::InterposerThread;
use inotify_host::{spawn_request_loop, Kernel, Process, O_PATH};
use redox_scheme::scheme::{SchemeState, SchemeSync};
use redox_scheme::{CallerCtx, OpenResult, RequestKind};
use syscall::error::{Error, Result, EBADF, ENOENT};
use syscall::flag::{
    MODE_DIR, MODE_FILE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NONBLOCK, O_RDONLY, O_RDWR,
    O_SYMLINK, O_TRUNC, O_WRONLY, SEEK_CUR,
};
use syscall::schemev2::NewFdFlags;
use syscall::{Stat, TimeSpec};

/// A fresh host directory for one test.
fn fresh(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("inotify-interpose-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sets the mode of a host path.
fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Whether this test process may give files away (the permission tests need root).
fn host_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[test]
fn a_watch_through_the_interposer_sees_what_a_client_does_on_a_filesystem_without_a_feed() {
    let dir = fresh("events");
    let served = ServedFs::start_interposed(&dir, Default::default()).unwrap();
    let h = served.harness();
    let p = h.process(200, 0, 0);
    let ino = Inotify::init(p.clone()).unwrap();
    let wd = ino
        .add_watch("/scheme/file", IN_CREATE | IN_MODIFY)
        .unwrap();
    let fd = p
        .open("/scheme/file/f", O_CREAT | O_WRONLY | 0o644)
        .unwrap();
    assert_eq!(p.write(fd, b"abc").unwrap(), 3);
    p.close(fd).unwrap();
    let mut buf = [0u8; 4096];
    let evs = ino.read_events(&mut buf).unwrap();
    let got: Vec<(i32, u32, String)> = evs
        .iter()
        .map(|e| (e.wd, e.mask, e.name_str().into_owned()))
        .collect();
    assert_eq!(
        got,
        [(wd, IN_CREATE, "f".into()), (wd, IN_MODIFY, "f".into())]
    );
    assert_eq!(
        std::fs::read(dir.join("f")).unwrap(),
        b"abc",
        "the write reached the disk"
    );
    drop(ino);
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_subtree_watch_through_the_interposer_reports_what_is_made_and_moved_in_below_it() {
    let dir = fresh("subtree");
    std::fs::create_dir_all(dir.join("t/old")).unwrap();
    std::fs::create_dir_all(dir.join("out/m/n")).unwrap();
    let served = ServedFs::start_interposed(&dir, Default::default()).unwrap();
    let p = served.harness().process(201, 0, 0);
    let ino = Inotify::init(p.clone()).unwrap();
    let wd = ino
        .add_subtree_watch("/scheme/file/t", IN_CREATE | IN_MOVED_TO)
        .unwrap();
    // Made below a directory that existed (the walk), below brand-new ones (at the fact),
    // and below one moved in (walked before the rename was answered).
    for d in ["t/old/a", "t/new", "t/new/b"] {
        p.mkdir(&format!("/scheme/file/{d}"), 0o755).unwrap();
    }
    p.rename("/scheme/file/out/m", "/scheme/file/t/m").unwrap();
    let fd = p
        .open("/scheme/file/t/m/n/f", O_CREAT | O_WRONLY | 0o644)
        .unwrap();
    p.close(fd).unwrap();
    let mut buf = [0u8; 4096];
    let got: Vec<(i32, u32, String)> = ino
        .read_events(&mut buf)
        .unwrap()
        .iter()
        .map(|e| (e.wd, e.mask, e.name_str().into_owned()))
        .collect();
    let dir_made = IN_CREATE | IN_ISDIR;
    assert_eq!(
        got,
        [
            (wd, dir_made, "old/a".into()),
            (wd, dir_made, "new".into()),
            (wd, dir_made, "new/b".into()),
            (wd, IN_MOVED_TO | IN_ISDIR, "m".into()),
            (wd, IN_CREATE, "m/n/f".into()),
        ]
    );
    drop(ino);
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn only_the_daemons_feed_handle_can_make_the_subtree_call_through_the_interposer() {
    use inotify_abi::proto::{SubtreeCall, SUBTREE_ANSWER_LEN};
    let dir = fresh("subtree-trust");
    std::fs::create_dir_all(dir.join("t/a")).unwrap();
    let served = ServedFs::start_interposed(&dir, Default::default()).unwrap();
    let p = served.harness().process(202, 0, 0);
    let root = p.open("/scheme/file/", O_PATH).unwrap();
    let t = p.open("/scheme/file/t", O_PATH).unwrap();
    let mut answer = [0u8; SUBTREE_ANSWER_LEN];
    let r = p.call2(root, t, &mut answer, &SubtreeCall.emit());
    assert_eq!(r.unwrap_err().errno, syscall::error::EACCES);
    // Nothing became covered: a mkdir below is not recorded (nothing is watched).
    p.mkdir("/scheme/file/t/a/b", 0o755).unwrap();
    let interposer = served.interposer().unwrap().interposer();
    assert_eq!(interposer.feed_counters().0, 0);
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One operation a caller tries, by its shape on Redox.
type Attempt = fn(&Process) -> Result<()>;

#[test]
fn reads_through_the_interposer_return_the_files_bytes_whatever_flags_the_description_has() {
    // Redox's read with flags (`SYS_READ2`, which the interposer forwards with) takes only
    // the nonblocking and append bits and refuses any other; the caller's description
    // carries its access mode too.
    let dir = fresh("read-flags");
    std::fs::write(dir.join("f"), b"contents").unwrap();
    let served = ServedFs::start_interposed(&dir, Default::default()).unwrap();
    let p = served.harness().process(200, 0, 0);
    for flags in [O_RDONLY, O_RDWR, O_RDONLY | O_NONBLOCK, O_RDWR | O_APPEND] {
        let fd = p.open("/scheme/file/f", flags).unwrap();
        let mut buf = [0u8; 64];
        let n = p.read(fd, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"contents", "flags {flags:#x}");
        p.close(fd).unwrap();
    }
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_handle_through_the_interposer_has_kernel_kept_offsets_so_no_forward_lacks_one() {
    // Without them the kernel sends reads and writes with no offset (`u64::MAX`), which the
    // interposer would forward to a target that keeps no offsets of its own (redoxfs 0.9.1
    // panics on a write at `u64::MAX`, e.g. the one that makes a symlink).
    let dir = fresh("positioned");
    std::fs::create_dir(dir.join("d")).unwrap();
    std::fs::write(dir.join("f"), b"x").unwrap();
    let served = ServedFs::start_interposed(&dir, Default::default()).unwrap();
    let p = served.harness().process(200, 0, 0);
    for (path, flags) in [
        ("/scheme/file/f", O_RDONLY),
        ("/scheme/file/d", O_RDONLY | O_DIRECTORY),
        ("/scheme/file/l", O_CREAT | O_SYMLINK | O_WRONLY | 0o777),
    ] {
        let fd = p.open(path, flags).unwrap();
        assert_eq!(p.lseek(fd, 0, SEEK_CUR), Ok(0), "{path}");
        if flags & O_SYMLINK != 0 {
            assert_eq!(p.write(fd, b"f").unwrap(), 1);
        }
        p.close(fd).unwrap();
    }
    assert_eq!(std::fs::read_link(dir.join("l")).unwrap(), Path::new("f"));
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Opens `path` with `flags`, then closes it.
fn open_close(p: &Process, path: &str, flags: usize) -> Result<()> {
    let fd = p.open(path, flags)?;
    p.close(fd)
}

/// Runs `f` on an `O_PATH` handle of `path`.
fn on_path(p: &Process, path: &str, f: impl FnOnce(usize) -> Result<()>) -> Result<()> {
    let fd = p.open(path, O_PATH)?;
    let r = f(fd);
    let _ = p.close(fd);
    r
}

/// Operations on the fixture of [`fixture`], as uid 1000.
const ATTEMPTS: &[(&str, Attempt)] = &[
    ("read a root-only file", |p| {
        open_close(p, "/scheme/file/secret", O_RDONLY)
    }),
    ("write a read-only file", |p| {
        open_close(p, "/scheme/file/public", O_WRONLY)
    }),
    ("truncate at open", |p| {
        open_close(p, "/scheme/file/public", O_WRONLY | O_TRUNC)
    }),
    ("read the public file", |p| {
        open_close(p, "/scheme/file/public", O_RDONLY)
    }),
    ("create in a root-owned directory", |p| {
        open_close(p, "/scheme/file/x", O_CREAT | O_EXCL | O_WRONLY | 0o644)
    }),
    ("mkdir in a root-owned directory", |p| {
        p.mkdir("/scheme/file/newdir", 0o755)
    }),
    ("unlink a root file", |p| p.unlink("/scheme/file/public")),
    ("rmdir a root directory", |p| p.rmdir("/scheme/file/closed")),
    ("list a closed directory", |p| {
        p.list_dir("/scheme/file/closed").map(drop)
    }),
    ("open below a closed directory", |p| {
        open_close(p, "/scheme/file/closed/inner", O_PATH)
    }),
    ("chmod a root file", |p| {
        on_path(p, "/scheme/file/public", |fd| p.fchmod(fd, 0o777))
    }),
    ("chown a root file to oneself", |p| {
        on_path(p, "/scheme/file/public", |fd| p.fchown(fd, 1000, 1000))
    }),
    ("set explicit times on a root file", |p| {
        let t = [TimeSpec {
            tv_sec: 5,
            tv_nsec: 0,
        }; 2];
        on_path(p, "/scheme/file/public", |fd| p.futimens(fd, &t))
    }),
    ("rename a root file", |p| {
        p.rename("/scheme/file/public", "/scheme/file/open/moved")
    }),
    ("link a root file", |p| {
        p.link("/scheme/file/public", "/scheme/file/open/linked")
    }),
    ("create in the open directory", |p| {
        open_close(
            p,
            "/scheme/file/open/mine",
            O_CREAT | O_EXCL | O_RDWR | 0o600,
        )
    }),
    ("chmod one's own file", |p| {
        on_path(p, "/scheme/file/open/mine", |fd| p.fchmod(fd, 0o640))
    }),
    ("give one's own file to root", |p| {
        on_path(p, "/scheme/file/open/mine", |fd| p.fchown(fd, 0, 0))
    }),
    ("unlink one's own file", |p| {
        p.unlink("/scheme/file/open/mine")
    }),
];

/// A directory with a root-only file, a world-readable root file, a closed directory and
/// a world-writable one.
fn fixture(dir: &Path) {
    std::fs::write(dir.join("secret"), b"s").unwrap();
    chmod(&dir.join("secret"), 0o600);
    std::fs::write(dir.join("public"), b"p").unwrap();
    chmod(&dir.join("public"), 0o644);
    std::fs::create_dir(dir.join("closed")).unwrap();
    std::fs::write(dir.join("closed/inner"), b"i").unwrap();
    chmod(&dir.join("closed"), 0o700);
    std::fs::create_dir(dir.join("open")).unwrap();
    chmod(&dir.join("open"), 0o777);
    chmod(dir, 0o755);
}

/// The outcome of every attempt, and the owner of what the caller created.
fn outcomes(p: &Process, dir: &Path) -> Vec<(String, Result<()>)> {
    let mut out: Vec<(String, Result<()>)> = ATTEMPTS
        .iter()
        .map(|(what, f)| (what.to_string(), f(p)))
        .collect();
    let mine = std::fs::symlink_metadata(dir.join("open/moved")).ok();
    out.push((
        "moved exists".into(),
        mine.map(drop).ok_or(Error::new(ENOENT)),
    ));
    out
}

#[test]
fn a_non_root_caller_can_do_through_the_interposer_exactly_what_it_can_do_directly() {
    if !host_is_root() {
        eprintln!("skipped: needs root to own files as another user");
        return;
    }
    // Directly: the instrumented HostFs of a plain served directory.
    let direct_dir = fresh("creds-direct");
    fixture(&direct_dir);
    let direct = ServedFs::start(&direct_dir, Default::default()).unwrap();
    let p = direct.harness().process(300, 1000, 1000);
    let want = outcomes(&p, &direct_dir);
    drop(direct);
    // Through the interposer, which runs as root.
    let dir = fresh("creds-interposed");
    fixture(&dir);
    let served = ServedFs::start_interposed(&dir, Default::default()).unwrap();
    let p = served.harness().process(300, 1000, 1000);
    let got = outcomes(&p, &dir);
    assert_eq!(got, want);
    assert!(
        want.iter().filter(|(_, r)| r.is_err()).count() >= 12,
        "the fixture denies most attempts: {want:?}"
    );
    // What the caller made through the interposer is the caller's, not root's.
    let fd = p
        .open(
            "/scheme/file/open/made",
            O_CREAT | O_EXCL | O_WRONLY | 0o644,
        )
        .unwrap();
    p.close(fd).unwrap();
    let m = std::fs::metadata(dir.join("open/made")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1000, 1000));
    drop(served);
    let _ = std::fs::remove_dir_all(&direct_dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn add_watch_through_the_interposer_asks_the_filesystem_whether_the_caller_may_read() {
    if !host_is_root() {
        eprintln!("skipped: needs root to own files as another user");
        return;
    }
    let dir = fresh("identity");
    fixture(&dir);
    let served = ServedFs::start_interposed(&dir, Default::default()).unwrap();
    let p = served.harness().process(400, 1000, 1000);
    let ino = Inotify::init(p.clone()).unwrap();
    assert_eq!(
        ino.add_watch("/scheme/file/secret", IN_ALL_EVENTS)
            .unwrap_err()
            .errno,
        syscall::error::EACCES
    );
    assert!(ino.add_watch("/scheme/file/public", IN_ALL_EVENTS).is_ok());
    drop(ino);
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scheme that never answers a read of `stuck` and answers everything else at once.
#[derive(Default)]
struct StallFs;

impl SchemeSync for StallFs {
    fn scheme_root(&mut self) -> Result<usize> {
        Ok(1)
    }
    fn openat(
        &mut self,
        _: usize,
        path: &str,
        _: usize,
        _: u32,
        _: &CallerCtx,
    ) -> Result<OpenResult> {
        let number = match path {
            "" => 1,
            "stuck" => 2,
            "ok" => 3,
            _ => return Err(Error::new(ENOENT)),
        };
        Ok(OpenResult::ThisScheme {
            number,
            flags: NewFdFlags::POSITIONED,
        })
    }
    fn read(&mut self, id: usize, buf: &mut [u8], _: u64, _: u32, _: &CallerCtx) -> Result<usize> {
        match id {
            3 => {
                buf[..2].copy_from_slice(b"ok");
                Ok(2)
            }
            _ => Err(Error::new(EBADF)),
        }
    }
    fn fstat(&mut self, id: usize, stat: &mut Stat, _: &CallerCtx) -> Result<()> {
        *stat = Stat {
            st_ino: id as u64,
            st_mode: if id == 1 {
                MODE_DIR | 0o755
            } else {
                MODE_FILE | 0o644
            },
            st_nlink: 1,
            ..Stat::default()
        };
        Ok(())
    }
    fn fpath(&mut self, id: usize, buf: &mut [u8], _: &CallerCtx) -> Result<usize> {
        let p = match id {
            2 => "/scheme/slow/stuck",
            3 => "/scheme/slow/ok",
            _ => "/scheme/slow/",
        };
        buf[..p.len()].copy_from_slice(p.as_bytes());
        Ok(p.len())
    }
}

#[test]
fn a_filesystem_that_stops_answering_one_request_stalls_no_other_client_of_the_interposer() {
    let kernel = Kernel::new();
    let socket = kernel.register("slow", 1).unwrap();
    let mut kept = Vec::new();
    let _fs = spawn_request_loop(socket, StallFs, move |fs, socket, req| {
        let stuck = matches!(
            inotify_host::kernel::sqe_of(&req),
            s if s.opcode == syscall::schemev2::Opcode::Read as u8 && s.args[0] == 2
        );
        if stuck {
            kept.push(req); // never answered
            return;
        }
        let mut state = SchemeState::new();
        if let RequestKind::Call(c) = req.kind() {
            let _ = socket.write_response(c.handle_sync(fs, &mut state));
        }
    });
    let ns = kernel.namespace();
    let _interposer = InterposerThread::spawn(&kernel, &ns, "slow", "slow").unwrap();
    let a = kernel.process_in(&ns, 500, 1000, 1000);
    let b = kernel.process_in(&ns, 501, 1001, 1001);
    let stuck = a.open("/scheme/slow/stuck", O_RDONLY).unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = a.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8];
        let _ = tx.send(reader.read(stuck, &mut buf));
    });
    // A second request on the stuck handle waits behind the first (same handle, in order).
    let (tx2, rx2) = mpsc::channel();
    let reader = a.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8];
        let _ = tx2.send(reader.read(stuck, &mut buf));
    });
    // Another client, and the same client on another handle, are served meanwhile.
    for p in [&b, &a] {
        let fd = p.open("/scheme/slow/ok", O_RDONLY).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(p.read(fd, &mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"ok");
        assert_eq!(p.fstat(fd).unwrap().st_ino, 3);
        p.close(fd).unwrap();
    }
    assert!(
        rx.recv_timeout(Duration::from_millis(50)).is_err(),
        "still stuck"
    );
    assert!(rx2.try_recv().is_err(), "still waiting behind it");
    // The filesystem goes away: the stuck callers get an error, nobody hangs.
    kernel.shutdown();
    assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap().is_err());
    assert!(rx2.recv_timeout(Duration::from_secs(10)).unwrap().is_err());
    let _ = O_DIRECTORY;
}

#[test]
fn hostile_requests_to_the_interposer_get_an_errno_and_grant_nothing() {
    let dir = fresh("hostile");
    std::fs::write(dir.join("f"), b"x").unwrap();
    chmod(&dir.join("f"), 0o644);
    let served = ServedFs::start_interposed(&dir, Default::default()).unwrap();
    let p = served.harness().process(600, 1000, 1000);
    let fd = p.open("/scheme/file/f", O_RDONLY).unwrap();
    // Only root opens the feed, and only by its name.
    let e = p.dup(fd, b"inotify-feed").unwrap_err();
    assert_eq!(e.errno, syscall::error::EACCES);
    assert!(p.dup(fd, b"").is_ok(), "a plain dup needs no request");
    // A read-only handle does not write, whatever the caller says.
    assert_eq!(p.write(fd, b"y").unwrap_err().errno, EBADF);
    // An identity call with made-up metadata, or a call the filesystem does not know.
    let mut payload = [0u8; 16];
    assert!(p.call2(fd, fd, &mut payload, &[0xdead, 0]).is_err());
    assert!(p.call(fd, &mut payload, &[1, 2, 3]).is_err());
    // Every request still gets its answer afterwards.
    let mut buf = [0u8; 4];
    assert_eq!(p.read(fd, &mut buf).unwrap(), 1);
    assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"x");
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}
