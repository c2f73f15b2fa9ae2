//! Shared set-up for the scheme tests: inotifyd on the host kernel, a scripted filesystem
//! (`FakeFs`, scheme `file`) and helpers to read events through the client library.
#![allow(dead_code)]

use inotify_client::{Inotify, Os, OwnedEvent, IN_NONBLOCK};
use inotify_engine::{Fact, Limits, Subject};
use inotify_host::fakefs::{FakeFs, ROOT_INO};
use inotify_host::harness::Harness;
use inotify_host::Process;
use syscall::error::EAGAIN;

/// Root's uid.
pub const ROOT: u32 = 0;
/// An ordinary user.
pub const USER: u32 = 1000;
/// Another ordinary user.
pub const OTHER: u32 = 1001;
/// The users' group.
pub const GROUP: u32 = 100;

/// Inode numbers of the standard tree built by [`Env::start`].
pub mod ino {
    /// `/d`, a directory (0o755, uid USER).
    pub const D: u64 = 10;
    /// `/d/f`, a file (0o644, uid USER).
    pub const F: u64 = 11;
    /// `/d/g`, a file (0o644, uid USER).
    pub const G: u64 = 12;
    /// `/d/sub`, a directory (0o755, uid USER).
    pub const SUB: u64 = 13;
    /// `/e`, a directory (0o755, uid USER).
    pub const E: u64 = 20;
    /// `/secret`, a file only root can read (0o600, uid 0).
    pub const SECRET: u64 = 30;
    /// `/grp`, a file its group can read (0o040, uid 0, gid GROUP).
    pub const GRP: u64 = 31;
    /// `/link`, a symlink to `d/f`.
    pub const LINK: u64 = 40;
}

/// inotifyd, the fake filesystem, and a standard tree.
pub struct Env {
    /// The filesystem (scheme `file`).
    pub fs: FakeFs,
    /// The daemon and kernel (dropped last).
    pub h: Harness,
}

impl Env {
    /// Default limits.
    pub fn start() -> Env {
        Self::with_limits(Limits::default())
    }

    /// Given limits, and the tree:
    /// `/d` (dir), `/d/f`, `/d/g`, `/d/sub` (dir), `/e` (dir), `/secret` (root-only),
    /// `/grp` (group-readable only), `/link` -> `d/f`.
    pub fn with_limits(limits: Limits) -> Env {
        Self::build(Harness::start(limits).expect("start inotifyd"))
    }

    /// Default limits, the daemon trusting the filesystems `names`; the standard tree on
    /// `file`.
    pub fn serving(names: &[&str]) -> Env {
        let kernel = inotify_host::Kernel::new();
        Self::build(Harness::start_serving(kernel, Limits::default(), names).expect("inotifyd"))
    }

    /// The standard tree on a `FakeFs` registered as `file` on `h`'s kernel.
    fn build(h: Harness) -> Env {
        let fs = FakeFs::start(h.kernel()).expect("start the filesystem");
        fs.mkdir("d", ino::D, 0o755, USER, GROUP);
        fs.create("d/f", ino::F, 0o644, USER, GROUP);
        fs.create("d/g", ino::G, 0o644, USER, GROUP);
        fs.mkdir("d/sub", ino::SUB, 0o755, USER, GROUP);
        fs.mkdir("e", ino::E, 0o755, USER, GROUP);
        fs.create("secret", ino::SECRET, 0o600, ROOT, ROOT);
        fs.create("grp", ino::GRP, 0o040, ROOT, GROUP);
        fs.symlink("link", "d/f", ino::LINK);
        Env { fs, h }
    }

    /// A process of `uid` in [`GROUP`].
    pub fn user(&self, pid: usize, uid: u32) -> Process {
        self.h.process(pid, uid, GROUP)
    }

    /// A root process.
    pub fn root(&self) -> Process {
        self.h.process(1, ROOT, ROOT)
    }

    /// Pushes facts (one batch).
    pub fn push(&self, facts: &[Fact]) {
        self.fs.push(facts);
    }
}

/// The start of most tests: the standard tree ([`Env::start`]), a process of [`USER`]
/// (pid 10) and a non-blocking instance of it.
pub fn user_instance() -> (Env, Process, Inotify<Process>) {
    let env = Env::start();
    let p = env.user(10, USER);
    let ino = Inotify::init1(p.clone(), IN_NONBLOCK).expect("inotify_init1");
    (env, p, ino)
}

/// A non-blocking instance of `p`.
pub fn nonblocking(p: &Process) -> Inotify<&Process> {
    Inotify::init1(p, IN_NONBLOCK).expect("inotify_init1")
}

/// Every event queued now (reads until `EAGAIN`; the instance must be non-blocking).
pub fn drain<O: Os>(ino: &Inotify<O>) -> Vec<OwnedEvent> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match ino.read_events(&mut buf) {
            Ok(evs) => {
                assert!(
                    !evs.is_empty(),
                    "a successful read returns at least one event"
                );
                out.extend(evs);
            }
            Err(e) if e.errno == EAGAIN => return out,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// An expected event.
pub fn ev(wd: i32, mask: u32, name: &str) -> OwnedEvent {
    OwnedEvent {
        wd,
        mask,
        cookie: 0,
        name: name.as_bytes().to_vec(),
    }
}

/// An expected event with a cookie.
pub fn evc(wd: i32, mask: u32, cookie: u32, name: &str) -> OwnedEvent {
    OwnedEvent {
        wd,
        mask,
        cookie,
        name: name.as_bytes().to_vec(),
    }
}

/// A file `name` created in `dir` with inode number `ino`.
pub fn created(dir: u64, name: &'static [u8], ino: u64) -> Fact<'static> {
    Fact::Created {
        dir,
        name,
        ino,
        is_dir: false,
    }
}

/// A subject named `name` in `dir`.
pub fn at(ino: u64, dir: u64, name: &'static str) -> Subject<'static> {
    Subject {
        ino,
        is_dir: false,
        dir,
        name: name.as_bytes(),
        detached: false,
    }
}

/// A directory subject named `name` in `dir`.
pub fn at_dir(ino: u64, dir: u64, name: &'static str) -> Subject<'static> {
    Subject {
        ino,
        is_dir: true,
        dir,
        name: name.as_bytes(),
        detached: false,
    }
}

/// The root directory's inode number.
pub const ROOT_DIR: u64 = ROOT_INO;

/// The errno of a result that must fail.
pub fn errno<T: core::fmt::Debug>(r: syscall::error::Result<T>) -> i32 {
    r.expect_err("the call must fail").errno
}

/// Waits (up to 5 s) until `cond` holds; panics otherwise.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Writes a tunable as `p`.
pub fn set_tunable(p: &Process, name: &str, value: &str) {
    let fd = p
        .open(&format!("/scheme/inotify/{name}"), syscall::flag::O_WRONLY)
        .expect("open tunable");
    assert_eq!(
        p.write(fd, value.as_bytes()).expect("write tunable"),
        value.len()
    );
    p.close(fd).unwrap();
}

/// Reads a tunable as `p`.
pub fn tunable(p: &Process, name: &str) -> String {
    let fd = p
        .open(&format!("/scheme/inotify/{name}"), syscall::flag::O_RDONLY)
        .unwrap();
    let mut buf = [0u8; 32];
    let n = p.read(fd, &mut buf).unwrap();
    p.close(fd).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

/// A round trip to the daemon: when it returns, every request `p` sent before was handled.
pub fn sync(p: &Process) {
    let fd = p
        .open("/scheme/inotify/max_queued_events", syscall::flag::O_RDONLY)
        .expect("open tunable");
    p.close(fd).expect("close tunable");
}

/// A read of up to `len` bytes on `fd` by `p`, on its own thread (it may block in the
/// daemon); collect it with [`finish`].
pub fn spawn_read(
    p: &Process,
    fd: usize,
    len: usize,
) -> std::sync::mpsc::Receiver<syscall::error::Result<Vec<OwnedEvent>>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let p = p.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; len];
        let res = p.read(fd, &mut buf).map(|n| {
            inotify_abi::event::Events::new(&buf[..n])
                .map(|e| OwnedEvent {
                    wd: e.wd,
                    mask: e.mask,
                    cookie: e.cookie,
                    name: e.name.to_vec(),
                })
                .collect()
        });
        let _ = tx.send(res);
    });
    rx
}

/// The result of a [`spawn_read`]; panics when it has not returned within 5 s.
pub fn finish(
    rx: std::sync::mpsc::Receiver<syscall::error::Result<Vec<OwnedEvent>>>,
) -> syscall::error::Result<Vec<OwnedEvent>> {
    rx.recv_timeout(std::time::Duration::from_secs(5))
        .expect("the read did not return")
}

/// Whether a [`spawn_read`] is still waiting after `wait`.
pub fn still_blocked(
    rx: &std::sync::mpsc::Receiver<syscall::error::Result<Vec<OwnedEvent>>>,
    wait: std::time::Duration,
) -> bool {
    matches!(
        rx.recv_timeout(wait),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout)
    )
}
