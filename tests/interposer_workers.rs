//! The interposer's credential workers on the host kernel, where (as on Redox) a forward
//! carries the ids of the process it runs in: a target that never answers a forward made
//! as one user holds no caller with other ids, every forward reaches the target with its
//! caller's ids, and a worker whose replies lie is ended without harm to anyone else.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use inotify_host::interposed::{HostSpawn, InterposerThread};
use inotify_host::{spawn_request_loop, Kernel, Process};
use inotify_interpose::link::{
    read_frame, Op, ReplyRepr, RequestRepr, REPLY_HEADER, REQUEST_HEADER, ROOT_FD,
};
use inotify_interpose::workers::{Link, Spawn};
use inotify_interpose::Creds;
use redox_scheme::scheme::{SchemeState, SchemeSync};
use redox_scheme::{CallerCtx, OpenResult, RequestKind};
use syscall::error::{Error, Result, EBADF, EIO, ENOENT};
use syscall::flag::{MODE_DIR, MODE_FILE, O_RDONLY};
use syscall::schemev2::{NewFdFlags, Opcode};
use syscall::Stat;

/// A scheme that never answers a read of `stuck`, and answers a read of `ok` with the user
/// id the request carried.
struct IdFs;

impl SchemeSync for IdFs {
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
    fn read(
        &mut self,
        id: usize,
        buf: &mut [u8],
        _: u64,
        _: u32,
        ctx: &CallerCtx,
    ) -> Result<usize> {
        if id != 3 {
            return Err(Error::new(EBADF));
        }
        let uid = ctx.uid.to_string();
        buf[..uid.len()].copy_from_slice(uid.as_bytes());
        Ok(uid.len())
    }
    fn fstat(&mut self, id: usize, stat: &mut Stat, _: &CallerCtx) -> Result<()> {
        let mode = if id == 1 {
            MODE_DIR | 0o755
        } else {
            MODE_FILE | 0o644
        };
        *stat = Stat {
            st_ino: id as u64,
            st_mode: mode,
            st_nlink: 1,
            ..Stat::default()
        };
        Ok(())
    }
    fn fpath(&mut self, id: usize, buf: &mut [u8], _: &CallerCtx) -> Result<usize> {
        let p = match id {
            2 => "/scheme/ids/stuck",
            3 => "/scheme/ids/ok",
            _ => "/scheme/ids/",
        };
        buf[..p.len()].copy_from_slice(p.as_bytes());
        Ok(p.len())
    }
}

/// A kernel with `IdFs` as `ids` (kernel-wide), whose reads of `stuck` are kept unanswered
/// (each one, once kept, is told on the channel), and a namespace in which to put the
/// interposer.
fn id_kernel() -> (Kernel, inotify_host::Namespace, mpsc::Receiver<()>) {
    let kernel = Kernel::new();
    let socket = kernel.register("ids", 1).unwrap();
    let mut kept = Vec::new();
    let (tx, rx) = mpsc::channel();
    let _fs = spawn_request_loop(socket, IdFs, move |fs, socket, req| {
        let s = inotify_host::kernel::sqe_of(&req);
        if s.opcode == Opcode::Read as u8 && s.args[0] == 2 {
            kept.push(req); // never answered
            let _ = tx.send(());
            return;
        }
        if let RequestKind::Call(c) = req.kind() {
            let _ = socket.write_response(c.handle_sync(fs, &mut SchemeState::new()));
        }
    });
    let ns = kernel.namespace();
    (kernel, ns, rx)
}

/// Opens `ok` as `p`, reads it and closes it: the user id the target saw.
fn uid_seen(p: &Process) -> Result<String> {
    let fd = p.open("/scheme/ids/ok", O_RDONLY)?;
    let mut buf = [0u8; 16];
    let n = p.read(fd, &mut buf);
    let _ = p.close(fd);
    Ok(String::from_utf8_lossy(&buf[..n?]).into_owned())
}

/// Starts a read of `stuck` as `p` on a thread of its own and returns once the target holds
/// it (`kept` tells): its result arrives on the channel once the target answers.
fn stuck_read(p: &Process, kept: &mpsc::Receiver<()>) -> mpsc::Receiver<Result<usize>> {
    let fd = p.open("/scheme/ids/stuck", O_RDONLY).unwrap();
    let (tx, rx) = mpsc::channel();
    let p = p.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8];
        let _ = tx.send(p.read(fd, &mut buf));
    });
    kept.recv_timeout(Duration::from_secs(10))
        .expect("the target holds the read");
    rx
}

/// Runs `f` on a thread: its result, or `None` when it takes longer than `wait`.
fn within<R: Send + 'static>(wait: Duration, f: impl FnOnce() -> R + Send + 'static) -> Option<R> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(wait).ok()
}

#[test]
fn a_target_that_never_answers_a_forward_as_one_user_keeps_serving_callers_with_other_ids() {
    let (kernel, ns, kept) = id_kernel();
    let interposer = InterposerThread::spawn(&kernel, &ns, "ids", "ids").unwrap();
    let a = kernel.process_in(&ns, 500, 1000, 1000);
    let b = kernel.process_in(&ns, 501, 1001, 1001);
    let root = kernel.process_in(&ns, 502, 0, 0);
    let stuck = stuck_read(&a, &kept);
    // Other users, root, and another thread of the stuck user are served meanwhile, each
    // forward carrying exactly its caller's ids.
    for (p, uid) in [(&b, "1001"), (&root, "0"), (&a, "1000")] {
        let p = p.clone();
        let seen = within(Duration::from_secs(10), move || uid_seen(&p)).expect("served");
        assert_eq!(seen.unwrap(), uid);
    }
    assert!(stuck.recv_timeout(Duration::from_millis(50)).is_err());
    let workers = interposer.interposer().target();
    assert_eq!((workers.started(), workers.alive()), (2, 2), "one per user");
    kernel.shutdown();
    assert!(stuck
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .is_err());
}

/// Starts no worker: every forward falls back to the interposer's process and its gate.
struct NoWorkers;

impl Spawn for NoWorkers {
    fn spawn(&self, _: Creds) -> std::io::Result<Link> {
        Err(std::io::Error::other("no workers here"))
    }
}

#[test]
fn without_workers_a_forward_stuck_as_one_user_holds_callers_with_other_ids_at_the_gate() {
    let (kernel, ns, kept) = id_kernel();
    let _interposer =
        InterposerThread::spawn_with(&kernel, &ns, "ids", "ids", Box::new(NoWorkers)).unwrap();
    let a = kernel.process_in(&ns, 500, 1000, 1000);
    let b = kernel.process_in(&ns, 501, 1001, 1001);
    let stuck = stuck_read(&a, &kept);
    // Other ids wait for the switch, which waits for the stuck forward (so do the
    // interposer's own probes: with the gate, only the stuck ids could go on).
    let b2 = b.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(uid_seen(&b2));
    });
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err(), "held");
    kernel.shutdown();
    assert!(stuck
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .is_err());
    assert!(rx.recv_timeout(Duration::from_secs(10)).is_ok(), "released");
}

/// How a fake worker lies in its reply to the first request.
#[derive(Clone, Copy, Debug)]
enum Lie {
    /// A frame length beyond any frame.
    HugeLength,
    /// A frame cut short: the worker ends inside it.
    CutShort,
    /// A reply to a request nobody made.
    UnknownId,
    /// Bytes that are no reply (the reserved word set).
    Garbage,
    /// An errno no system has.
    BadErrno,
    /// An fd that is the root's marker.
    RootAsFd,
    /// Data on an answer that carries none.
    DataOnOpen,
    /// No reply: the worker ends.
    Dies,
}

/// The frame a fake worker sends for `lie`, in reply to request `id`.
fn lying_reply(lie: Lie, id: u32) -> Vec<u8> {
    let mut out = Vec::new();
    match lie {
        Lie::HugeLength => out.extend_from_slice(&u32::MAX.to_ne_bytes()),
        Lie::CutShort => {
            ReplyRepr::new(id, Ok(7), b"abc").unwrap().emit(&mut out);
            out.truncate(out.len() - 2);
        }
        Lie::UnknownId => ReplyRepr::new(id + 1, Ok(7), b"").unwrap().emit(&mut out),
        Lie::Garbage => {
            ReplyRepr::new(id, Ok(7), b"").unwrap().emit(&mut out);
            out[12..REPLY_HEADER].fill(0xaa);
        }
        Lie::BadErrno => {
            ReplyRepr::new(id, Ok(7), b"").unwrap().emit(&mut out);
            out[8..12].copy_from_slice(&70000u32.to_ne_bytes());
        }
        Lie::RootAsFd => ReplyRepr::new(id, Ok(ROOT_FD), b"").unwrap().emit(&mut out),
        Lie::DataOnOpen => ReplyRepr::new(id, Ok(7), b"x").unwrap().emit(&mut out),
        Lie::Dies => {}
    }
    out
}

/// Workers for uid 1000 that lie, one lie each, then honest ones.
struct Liars {
    /// Lies left to tell.
    lies: Mutex<Vec<Lie>>,
    /// The honest workers.
    honest: HostSpawn,
}

impl Spawn for Liars {
    fn spawn(&self, who: Creds) -> std::io::Result<Link> {
        let lie = match who.uid {
            1000 => self.lies.lock().unwrap().pop(),
            _ => None,
        };
        let Some(lie) = lie else {
            return self.honest.spawn(who);
        };
        let (main, mut theirs) = UnixStream::pair()?;
        std::thread::spawn(move || {
            let mut frame = Vec::new();
            if read_frame(&mut theirs, REQUEST_HEADER, &mut frame).unwrap_or(false) {
                let req = RequestRepr::parse(&frame).unwrap();
                assert_eq!(req.op, Op::Openat);
                let _ = theirs.write_all(&lying_reply(lie, req.id));
            }
            if !matches!(lie, Lie::Dies | Lie::CutShort) {
                // Stays alive until ended.
                let _ = theirs.read_to_end(&mut Vec::new());
            }
        });
        let ender = main.try_clone()?;
        Ok(Link {
            to: Box::new(main.try_clone()?),
            from: Box::new(main),
            end: Box::new(move || {
                let _ = ender.shutdown(std::net::Shutdown::Both);
            }),
        })
    }
}

#[test]
fn a_worker_reply_that_lies_is_refused_and_ends_only_that_worker() {
    let (kernel, ns, _kept) = id_kernel();
    let lies = vec![
        Lie::HugeLength,
        Lie::CutShort,
        Lie::UnknownId,
        Lie::Garbage,
        Lie::BadErrno,
        Lie::RootAsFd,
        Lie::DataOnOpen,
        Lie::Dies,
    ];
    let count = lies.len();
    let liars = Liars {
        lies: Mutex::new(lies),
        honest: HostSpawn::new(&kernel, "ids"),
    };
    let interposer =
        InterposerThread::spawn_with(&kernel, &ns, "ids", "ids", Box::new(liars)).unwrap();
    let a = kernel.process_in(&ns, 500, 1000, 1000);
    let b = kernel.process_in(&ns, 501, 1001, 1001);
    let root = kernel.process_in(&ns, 502, 0, 0);
    // An honest worker for 1001 first: the lies must not reach it.
    let held = b.open("/scheme/ids/ok", O_RDONLY).unwrap();
    for i in 0..count {
        let a2 = a.clone();
        let opened = within(Duration::from_secs(10), move || uid_seen(&a2)).expect("answered");
        assert_eq!(opened.unwrap_err().errno, EIO, "lie {i} refused");
        // Everyone else is served, the other worker's fd still works.
        assert_eq!(uid_seen(&root).unwrap(), "0");
        assert_eq!(uid_seen(&b).unwrap(), "1001");
        let mut buf = [0u8; 8];
        assert_eq!(b.read(held, &mut buf).unwrap(), 4);
    }
    // Out of lies: a new, honest worker serves the user.
    assert_eq!(uid_seen(&a).unwrap(), "1000");
    let workers = interposer.interposer().target();
    assert_eq!(workers.started(), count + 2);
    assert_eq!(workers.alive(), 2, "the liars are gone");
    kernel.shutdown();
}
