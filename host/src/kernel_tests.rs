//! Tests of the in-process kernel with a tiny echo scheme.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use redox_scheme::scheme::{Op, SchemeSync};
use redox_scheme::{CallerCtx, OpenResult, RequestKind, Response};
use syscall::dirent::{DirEntry, DirentBuf, DirentHeader, DirentKind};
use syscall::error::{
    Error, Result, EBADF, ECANCELED, EEXIST, EINTR, EIO, ENODEV, ENOENT, EOPNOTSUPP, EPERM, EXDEV,
};
use syscall::flag::{EventFlags, F_GETFD, F_GETFL, F_SETFD, F_SETFL, O_NONBLOCK, O_RDWR};
use syscall::schemev2::NewFdFlags;
use syscall::{Stat, TimeSpec};

use super::*;
use crate::{spawn_request_loop, spawn_scheme_thread, HostSys};
use inotifyd::sys::{Sys, Wake};

/// What the echo scheme saw.
#[derive(Default)]
struct Seen {
    /// (path, uid, gid, pid) of each open.
    opens: Vec<(String, u32, u32, usize)>,
    /// Ids closed (`on_close`).
    closes: Vec<usize>,
    /// fcntl_flags of each read.
    read_flags: Vec<u32>,
    /// (cmd, arg) of each fcntl.
    fcntls: Vec<(usize, usize)>,
    /// (pid, metadata) of each call.
    calls: Vec<(usize, Vec<u64>)>,
    /// Refuse fcntl with EPERM.
    refuse_fcntl: bool,
    /// Readiness reported by fevent.
    ready: usize,
    /// File-system operations, described.
    ops: Vec<String>,
}

/// A scheme that stores the last write and reads it back.
struct Echo {
    /// Shared record of what happened.
    seen: Arc<Mutex<Seen>>,
    /// Last written bytes.
    data: Vec<u8>,
    /// Next id.
    next: usize,
}

impl Echo {
    fn new() -> (Self, Arc<Mutex<Seen>>) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        (
            Echo {
                seen: seen.clone(),
                data: Vec::new(),
                next: 10,
            },
            seen,
        )
    }
    fn fresh(&mut self) -> usize {
        self.next += 1;
        self.next
    }
}

impl SchemeSync for Echo {
    fn openat(
        &mut self,
        fd: usize,
        path: &str,
        _flags: usize,
        _fcntl_flags: u32,
        ctx: &CallerCtx,
    ) -> Result<OpenResult> {
        assert_eq!(fd, 1, "openat on the root id");
        if path == "missing" {
            return Err(Error::new(ENOENT));
        }
        self.seen
            .lock()
            .unwrap()
            .opens
            .push((path.to_string(), ctx.uid, ctx.gid, ctx.pid));
        Ok(OpenResult::ThisScheme {
            number: self.fresh(),
            flags: NewFdFlags::empty(),
        })
    }
    fn dup(&mut self, _old: usize, buf: &[u8], _ctx: &CallerCtx) -> Result<OpenResult> {
        if buf != b"sub" {
            return Err(Error::new(EOPNOTSUPP));
        }
        Ok(OpenResult::ThisScheme {
            number: self.fresh(),
            flags: NewFdFlags::empty(),
        })
    }
    fn read(
        &mut self,
        _id: usize,
        buf: &mut [u8],
        _offset: u64,
        fcntl_flags: u32,
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        self.seen.lock().unwrap().read_flags.push(fcntl_flags);
        let n = buf.len().min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        Ok(n)
    }
    fn write(
        &mut self,
        _id: usize,
        buf: &[u8],
        _offset: u64,
        _fcntl_flags: u32,
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        self.data = buf.to_vec();
        Ok(buf.len())
    }
    fn fstat(&mut self, id: usize, stat: &mut Stat, ctx: &CallerCtx) -> Result<()> {
        stat.st_ino = id as u64;
        stat.st_uid = ctx.uid;
        Ok(())
    }
    fn fpath(&mut self, id: usize, buf: &mut [u8], _ctx: &CallerCtx) -> Result<usize> {
        let p = format!("/scheme/echo/{id}");
        let n = buf.len().min(p.len());
        buf[..n].copy_from_slice(&p.as_bytes()[..n]);
        Ok(n)
    }
    fn fcntl(&mut self, _id: usize, cmd: usize, arg: usize, _ctx: &CallerCtx) -> Result<usize> {
        let mut seen = self.seen.lock().unwrap();
        seen.fcntls.push((cmd, arg));
        if seen.refuse_fcntl {
            return Err(Error::new(EPERM));
        }
        Ok(0)
    }
    fn fevent(&mut self, _id: usize, _f: EventFlags, _ctx: &CallerCtx) -> Result<EventFlags> {
        Ok(EventFlags::from_bits_retain(
            self.seen.lock().unwrap().ready,
        ))
    }
    fn call(
        &mut self,
        _id: usize,
        payload: &mut [u8],
        metadata: &[u64],
        ctx: &CallerCtx,
    ) -> Result<usize> {
        self.seen
            .lock()
            .unwrap()
            .calls
            .push((ctx.pid, metadata.to_vec()));
        payload.reverse();
        Ok(payload.len() + metadata[0] as usize)
    }
    fn on_close(&mut self, id: usize) {
        self.seen.lock().unwrap().closes.push(id);
    }
    fn unlinkat(&mut self, fd: usize, path: &str, flags: usize, ctx: &CallerCtx) -> Result<()> {
        self.op(format!("unlinkat {fd} {path} {flags:#x} uid={}", ctx.uid))
    }
    fn frename(&mut self, id: usize, path: &str, ctx: &CallerCtx) -> Result<usize> {
        self.op(format!("frename {id} {path} uid={}", ctx.uid))
            .map(|()| 0)
    }
    fn flink(&mut self, id: usize, path: &str, ctx: &CallerCtx) -> Result<usize> {
        self.op(format!("flink {id} {path} uid={}", ctx.uid))
            .map(|()| 0)
    }
    fn call_multiple_ids(
        &mut self,
        ids: &[usize],
        payload: &mut [u8],
        metadata: &[u64],
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        self.op(format!("call2 {ids:?} {metadata:?} {}", payload.len()))
            .map(|()| ids.len())
    }
    fn frenameat(
        &mut self,
        old_dir: usize,
        old_path: &str,
        new_dir: usize,
        new_path: &str,
        flags: u32,
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        self.op(format!(
            "frenameat {old_dir} {old_path} {new_dir} {new_path} {flags}"
        ))
        .map(|()| 0)
    }
    fn flinkat(
        &mut self,
        id: usize,
        dir: usize,
        path: &str,
        flags: u32,
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        self.op(format!("flinkat {id} {dir} {path} {flags}"))
            .map(|()| 0)
    }
    fn fchmod(&mut self, id: usize, mode: u16, _ctx: &CallerCtx) -> Result<()> {
        self.op(format!("fchmod {id} {mode:o}"))
    }
    fn fchown(&mut self, id: usize, uid: u32, gid: u32, _ctx: &CallerCtx) -> Result<()> {
        self.op(format!("fchown {id} {uid} {gid}"))
    }
    fn ftruncate(&mut self, id: usize, len: u64, _ctx: &CallerCtx) -> Result<()> {
        self.op(format!("ftruncate {id} {len}"))
    }
    fn futimens(&mut self, id: usize, times: &[TimeSpec], _ctx: &CallerCtx) -> Result<()> {
        let t: Vec<i64> = times.iter().map(|t| t.tv_sec).collect();
        self.op(format!("futimens {id} {t:?}"))
    }
    fn fsync(&mut self, id: usize, _ctx: &CallerCtx) -> Result<()> {
        self.op(format!("fsync {id}"))
    }
    fn fsize(&mut self, _id: usize, _ctx: &CallerCtx) -> Result<u64> {
        Ok(self.data.len() as u64)
    }
    fn getdents<'buf>(
        &mut self,
        id: usize,
        mut buf: DirentBuf<&'buf mut [u8]>,
        opaque_offset: u64,
    ) -> Result<DirentBuf<&'buf mut [u8]>> {
        self.op(format!("getdents {id} {opaque_offset}"))?;
        buf.entry(DirEntry {
            inode: 7,
            next_opaque_id: 1,
            name: "entry",
            kind: DirentKind::Regular,
        })?;
        Ok(buf)
    }
}

impl Echo {
    fn op(&mut self, what: String) -> Result<()> {
        self.seen.lock().unwrap().ops.push(what);
        Ok(())
    }
}

/// A kernel with the echo scheme running on a thread.
fn echo_kernel() -> (Kernel, Arc<Mutex<Seen>>, FeventPoster) {
    let kernel = Kernel::new();
    let sock = kernel.register("echo", 1).unwrap();
    let poster = sock.poster();
    let (echo, seen) = Echo::new();
    spawn_scheme_thread(sock, echo);
    (kernel, seen, poster)
}

#[test]
fn paths_split_into_scheme_and_rest() {
    assert_eq!(split_path("/scheme/echo/a/b").unwrap(), ("echo", "a/b"));
    assert_eq!(split_path("/scheme/echo").unwrap(), ("echo", ""));
    assert_eq!(split_path("echo:/x").unwrap(), ("echo", "x"));
    assert_eq!(split_path("/home/u").unwrap(), ("file", "home/u"));
    assert_eq!(split_path("relative").unwrap_err(), Error::new(ENOENT));
    assert_eq!(split_path("/scheme/").unwrap_err(), Error::new(ENOENT));
}

#[test]
fn paths_split_into_parent_and_last_component() {
    assert_eq!(split_parent("/scheme/echo/d/f"), ("/scheme/echo/d/", "f"));
    assert_eq!(split_parent("/scheme/echo/d/s/"), ("/scheme/echo/d/", "s/"));
    assert_eq!(split_parent("/scheme/echo/f"), ("/scheme/echo/", "f"));
    assert_eq!(split_parent("/scheme/echo/a:b"), ("/scheme/echo/", "a:b"));
    assert_eq!(split_parent("echo:f"), ("echo:", "f"));
    assert_eq!(split_parent("f"), ("", "f"));
}

#[test]
fn rename_is_frenameat_on_both_parents() {
    let (kernel, seen, _) = echo_kernel();
    let p = kernel.process(9, 1000, 100);
    p.rename("/scheme/echo/d/x", "echo:y").unwrap();
    // Both parent handles were closed again.
    assert_eq!(p.close(3).unwrap_err(), Error::new(EBADF));
    let ops = seen.lock().unwrap().ops.clone();
    assert_eq!(ops, ["frenameat 11 x 12 y 0"]);
}

#[test]
fn open_write_read_close_round_trip() {
    let (kernel, seen, _) = echo_kernel();
    let p = kernel.process(42, 1000, 100);
    let fd = p.open("/scheme/echo/hello", O_RDWR).unwrap();
    assert_eq!(fd, FIRST_FD);
    assert_eq!(p.write(fd, b"abc").unwrap(), 3);
    let mut buf = [0u8; 8];
    assert_eq!(p.read(fd, &mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"abc");
    let st = p.fstat(fd).unwrap();
    assert_eq!(st.st_ino, 11);
    assert_eq!(st.st_uid, 1000);
    assert_eq!(p.fpath_string(fd).unwrap(), "/scheme/echo/11");
    let fd2 = p.open("echo:legacy", O_RDWR).unwrap();
    assert_eq!(fd2, FIRST_FD + 1);
    p.close(fd).unwrap();
    assert_eq!(p.close(fd).unwrap_err(), Error::new(EBADF));
    assert_eq!(
        p.open("/scheme/echo/missing", O_RDWR).unwrap_err(),
        Error::new(ENOENT)
    );
    assert_eq!(
        p.open("/scheme/nope/x", O_RDWR).unwrap_err(),
        Error::new(ENODEV)
    );
    // A later request is answered after the close message was handled (one FIFO inbox).
    p.fstat(fd2).unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.opens,
        [
            ("hello".to_string(), 1000, 100, 42),
            ("legacy".to_string(), 1000, 100, 42)
        ]
    );
    assert_eq!(seen.closes, [11]);
    assert!(kernel
        .register("echo", 1)
        .is_err_and(|e| e == Error::new(EEXIST)));
}

#[test]
fn on_close_only_on_last_close() {
    let (kernel, seen, _) = echo_kernel();
    let p = kernel.process(1, 0, 0);
    let fd = p.open("/scheme/echo/x", O_RDWR).unwrap();
    let other = p.open("/scheme/echo/y", O_RDWR).unwrap();
    let dup = p.dup(fd, b"").unwrap();
    assert_eq!(p.fstat(dup).unwrap().st_ino, 11);
    p.close(fd).unwrap();
    p.fstat(other).unwrap();
    assert!(seen.lock().unwrap().closes.is_empty());
    p.close(dup).unwrap();
    p.fstat(other).unwrap();
    assert_eq!(seen.lock().unwrap().closes, [11]);
    // A named dup is a new description with its own close.
    let sub = p.dup(other, b"sub").unwrap();
    assert_eq!(p.fstat(sub).unwrap().st_ino, 13);
    assert_eq!(p.dup(other, b"bad").unwrap_err(), Error::new(EOPNOTSUPP));
    p.close(sub).unwrap();
    p.fstat(other).unwrap();
    assert_eq!(seen.lock().unwrap().closes, [11, 13]);
}

#[test]
fn fcntl_flags_follow_the_scheme_answer() {
    let (kernel, seen, _) = echo_kernel();
    let p = kernel.process(1, 0, 0);
    let fd = p.open("/scheme/echo/x", O_RDWR | O_CLOEXEC).unwrap();
    assert_eq!(p.fcntl(fd, F_GETFD, 0).unwrap(), FD_CLOEXEC);
    p.fcntl(fd, F_SETFD, 0).unwrap();
    assert_eq!(p.fcntl(fd, F_GETFD, 0).unwrap(), 0);
    assert_eq!(p.fcntl(fd, F_GETFL, 0).unwrap(), O_RDWR);
    p.fcntl(fd, F_SETFL, O_NONBLOCK).unwrap();
    assert_eq!(p.fcntl(fd, F_GETFL, 0).unwrap(), O_RDWR | O_NONBLOCK);
    p.read(fd, &mut [0u8; 4]).unwrap();
    seen.lock().unwrap().refuse_fcntl = true;
    assert_eq!(p.fcntl(fd, F_SETFL, 0).unwrap_err(), Error::new(EPERM));
    p.read(fd, &mut [0u8; 4]).unwrap();
    let seen = seen.lock().unwrap();
    // F_GETFD/F_SETFD never reach the scheme.
    assert_eq!(
        seen.fcntls,
        [
            (F_GETFL, 0),
            (F_SETFL, O_NONBLOCK),
            (F_GETFL, 0),
            (F_SETFL, 0)
        ]
    );
    let nb = (O_RDWR | O_NONBLOCK) as u32;
    assert_eq!(seen.read_flags, [nb, nb]);
}

#[test]
fn call_carries_payload_and_metadata() {
    let (kernel, seen, _) = echo_kernel();
    let p = kernel.process(77, 5, 6);
    let fd = p.open("/scheme/echo/x", O_RDWR).unwrap();
    let mut payload = *b"abcd";
    assert_eq!(p.call(fd, &mut payload, &[100, 2]).unwrap(), 104);
    assert_eq!(&payload, b"dcba");
    assert_eq!(seen.lock().unwrap().calls, [(77, vec![100, 2, 0])]);
}

#[test]
fn filesystem_requests_decode_in_redox_scheme() {
    let (kernel, seen, _) = echo_kernel();
    let p = kernel.process(9, 1000, 100);
    let a = p.open("/scheme/echo/a", O_RDWR).unwrap();
    let b = p.open("/scheme/echo/b", O_RDWR).unwrap();
    p.unlink("/scheme/echo/x/y").unwrap();
    p.rmdir("echo:d").unwrap();
    p.unlinkat(a, "z", 0).unwrap();
    p.frename(a, "/scheme/echo/new").unwrap();
    p.flink(a, "/scheme/echo/other").unwrap();
    assert_eq!(p.frename(a, "/elsewhere").unwrap_err(), Error::new(EXDEV));
    p.frenameat(a, "old", b, "new", 1).unwrap();
    p.flinkat(a, b, "ln", 0).unwrap();
    p.fchmod(a, 0o640).unwrap();
    p.fchown(a, 5, 6).unwrap();
    p.ftruncate(a, 99).unwrap();
    let t = TimeSpec {
        tv_sec: 3,
        tv_nsec: 0,
    };
    p.futimens(
        a,
        &[
            t,
            TimeSpec {
                tv_sec: 4,
                tv_nsec: 0,
            },
        ],
    )
    .unwrap();
    p.fsync(a).unwrap();
    p.write(a, b"12345").unwrap();
    assert_eq!(p.fsize(a).unwrap(), 5);
    let mut buf = [0u8; 256];
    let header = size_of::<DirentHeader>() as u16;
    let n = p.getdents(a, &mut buf, header, 0).unwrap();
    assert!(n > header as usize);
    assert_eq!(&buf[header as usize..header as usize + 5], b"entry");
    let ops = seen.lock().unwrap().ops.clone();
    assert_eq!(
        ops,
        [
            "unlinkat 1 x/y 0x0 uid=1000",
            "unlinkat 1 d 0x200 uid=1000",
            "unlinkat 11 z 0x0 uid=1000",
            "frename 11 new uid=1000",
            "flink 11 other uid=1000",
            "frenameat 11 old 12 new 1",
            "flinkat 11 12 ln 0",
            "fchmod 11 640",
            "fchown 11 5 6",
            "ftruncate 11 99",
            "futimens 11 [3, 4]",
            "fsync 11",
            "getdents 11 0",
        ]
    );
}

#[test]
fn deferred_read_is_answered_later() {
    let kernel = Kernel::new();
    let sock = kernel.register("slow", 0).unwrap();
    let p = kernel.process(3, 0, 0);
    // No scheme thread: the test answers by hand.
    let (done_tx, done_rx) = mpsc::channel();
    let reader = {
        let p = p.clone();
        thread::spawn(move || {
            let fd = p.open("/scheme/slow", O_RDWR).unwrap();
            let mut buf = [0u8; 8];
            let n = p.read(fd, &mut buf).unwrap();
            done_tx.send(buf[..n].to_vec()).unwrap();
        })
    };
    let req = sock.next_request(true).unwrap().unwrap();
    let RequestKind::Call(open) = req.kind() else {
        panic!("expected a call")
    };
    let Ok(Op::OpenAt(op)) = open.op() else {
        panic!("expected openat")
    };
    assert_eq!(op.path(), "");
    sock.write_response(Response::open_dup_like(
        Ok(OpenResult::ThisScheme {
            number: 5,
            flags: NewFdFlags::empty(),
        }),
        op,
    ))
    .unwrap();
    let req = sock.next_request(true).unwrap().unwrap();
    let RequestKind::Call(read) = req.kind() else {
        panic!("expected a call")
    };
    let Ok(Op::Read(mut op)) = read.op() else {
        panic!("expected read")
    };
    assert_eq!(op.fd, 5);
    // Deferred: the reader is still blocked.
    assert!(done_rx.recv_timeout(Duration::from_millis(50)).is_err());
    op.buf()[..3].copy_from_slice(b"xyz");
    sock.write_response(Response::ok(3, op)).unwrap();
    assert_eq!(done_rx.recv().unwrap(), b"xyz");
    reader.join().unwrap();
}

#[test]
fn cancelled_read_reports_eintr() {
    let kernel = Kernel::new();
    let sock = kernel.register("slow", 0).unwrap();
    let p = kernel.process(3, 0, 0);
    let intr = Interrupt::new();
    let reader = {
        let (p, intr) = (p.clone(), intr.clone());
        thread::spawn(move || {
            let fd = p.open("/scheme/slow", O_RDWR).unwrap();
            p.read_interruptible(fd, &mut [0u8; 8], &intr)
        })
    };
    let req = sock.next_request(true).unwrap().unwrap();
    let RequestKind::Call(open) = req.kind() else {
        panic!("expected a call")
    };
    sock.write_response(Response::ok(5, open)).unwrap();
    let req = sock.next_request(true).unwrap().unwrap();
    let RequestKind::Call(read) = req.kind() else {
        panic!("expected a call")
    };
    let read_id = read.request_id();
    let Ok(op @ Op::Read(_)) = read.op() else {
        panic!("expected read")
    };
    intr.fire();
    let req = sock.next_request(true).unwrap().unwrap();
    let RequestKind::Cancellation(cancel) = req.kind() else {
        panic!("expected a cancel")
    };
    assert_eq!(cancel.id, read_id);
    sock.write_response(Response::err(ECANCELED, op)).unwrap();
    assert_eq!(reader.join().unwrap().unwrap_err(), Error::new(EINTR));
}

#[test]
fn fevent_subscribe_and_post() {
    let (kernel, seen, poster) = echo_kernel();
    let p = kernel.process(1, 0, 0);
    let fd = p.open("/scheme/echo/x", O_RDWR).unwrap();
    let fd2 = p.open("/scheme/echo/y", O_RDWR).unwrap();
    let q = p.event_queue();
    q.subscribe(fd, EventFlags::EVENT_READ).unwrap();
    assert_eq!(q.try_next(), None);
    poster.post_fevent(11, EventFlags::EVENT_READ);
    assert_eq!(
        q.wait(Duration::from_secs(5)),
        Some((fd, EventFlags::EVENT_READ))
    );
    // A post on another id, or for flags not subscribed, is not delivered.
    poster.post_fevent(12, EventFlags::EVENT_READ);
    poster.post_fevent(11, EventFlags::EVENT_WRITE);
    assert_eq!(q.try_next(), None);
    // Subscribing while ready queues an event at once.
    seen.lock().unwrap().ready = EventFlags::EVENT_READ.bits();
    q.subscribe(fd2, EventFlags::EVENT_READ).unwrap();
    assert_eq!(q.try_next(), Some((fd2, EventFlags::EVENT_READ)));
    // Unsubscribed or closed fds get nothing.
    q.unsubscribe(fd).unwrap();
    p.close(fd2).unwrap();
    poster.post_fevent(11, EventFlags::EVENT_READ);
    poster.post_fevent(12, EventFlags::EVENT_READ);
    assert_eq!(q.try_next(), None);
}

#[test]
fn sendfd_moves_the_fd_to_the_receiver() {
    let (kernel, seen, _) = echo_kernel();
    let sock = kernel.register("recv", 0).unwrap();
    let (got_tx, got_rx) = mpsc::channel();
    spawn_request_loop(sock, (), move |_, sock, req| match req.kind() {
        RequestKind::Call(call) => {
            sock.write_response(Response::ok(1, call)).unwrap();
        }
        RequestKind::SendFd(sf) => {
            let caller = sf.caller();
            let arg = sf.arg();
            let res = if arg == 0 {
                Err(Error::new(EXDEV))
            } else {
                let fd = sock.obtain_fd(&sf).unwrap();
                let again = sock.obtain_fd(&sf);
                let ino = sock.process().fstat(fd).unwrap().st_ino;
                sock.process().close(fd).unwrap();
                got_tx
                    .send((caller.uid, caller.gid, caller.pid, arg, ino, again))
                    .unwrap();
                Ok(9)
            };
            sock.write_response(Response::new(res, sf)).unwrap();
        }
        _ => {}
    });
    let p = kernel.process(8, 1000, 100);
    let target = p.open("/scheme/recv", O_RDWR).unwrap();
    let file = p.open("/scheme/echo/f", O_RDWR).unwrap();
    assert_eq!(p.sendfd(target, file, 77).unwrap(), 1);
    assert_eq!(p.fstat(file).unwrap_err(), Error::new(EBADF));
    let (uid, gid, pid, arg, ino, again) = got_rx.recv().unwrap();
    assert_eq!((uid, gid, pid, arg, ino), (1000, 100, 8, 77, 11));
    assert!(again.is_err());
    // The receiver closed its fd: the last reference, so the echo scheme saw the close.
    let probe = p.open("/scheme/echo/probe", O_RDWR).unwrap();
    p.fstat(probe).unwrap();
    assert_eq!(seen.lock().unwrap().closes, [11]);
    // A refused sendfd reports the error; the fd is gone and closed anyway.
    let file = p.open("/scheme/echo/g", O_RDWR).unwrap();
    assert_eq!(p.sendfd(target, file, 0).unwrap_err(), Error::new(EXDEV));
    assert_eq!(p.fstat(file).unwrap_err(), Error::new(EBADF));
    p.fstat(probe).unwrap();
    assert_eq!(seen.lock().unwrap().closes, [11, 13]);
}

#[test]
fn hostsys_sees_readiness_before_the_next_request() {
    let kernel = Kernel::new();
    // A filesystem-like scheme that posts readiness of its feed (id 2) on each write,
    // before answering the write.
    let fs = kernel.register("fs", 0).unwrap();
    spawn_request_loop(fs, (), |_, sock, req| {
        let RequestKind::Call(call) = req.kind() else {
            return;
        };
        match call.op() {
            Ok(op @ Op::OpenAt(_)) => {
                sock.write_response(Response::ok(1, op)).unwrap();
            }
            Ok(op @ Op::Dup(_)) => sock.write_response(Response::ok(2, op)).unwrap(),
            Ok(op @ Op::Fevent { .. }) => sock.write_response(Response::ok(0, op)).unwrap(),
            Ok(Op::Write(op)) => {
                sock.write_response(Response::post_fevent(2, 1)).unwrap();
                let n = op.buf().len();
                sock.write_response(Response::ok(n, op)).unwrap();
            }
            Ok(op) => sock.write_response(Response::err(EOPNOTSUPP, op)).unwrap(),
            Err(call) => sock
                .write_response(Response::err(EOPNOTSUPP, call))
                .unwrap(),
        }
    });
    let mut sys = HostSys::new(kernel.register("daemon", 0).unwrap());
    let d = sys.process().clone();
    let fs_fd = d.open("/scheme/fs", O_RDWR).unwrap();
    let feed = sys.dup(fs_fd, b"feed").unwrap();
    sys.watch_readable(feed).unwrap();
    assert!(sys.poll().is_none(), "not readable at registration");
    let client = kernel.process(50, 1000, 1000);
    let writer = thread::spawn(move || {
        let f = client.open("/scheme/fs/file", O_RDWR).unwrap();
        client.write(f, b"data").unwrap();
        client.open("/scheme/daemon", O_RDWR)
    });
    let Wake::Readable(fd) = sys.wait().unwrap() else {
        panic!("readiness first")
    };
    assert_eq!(fd, feed);
    let Wake::Request(req) = sys.wait().unwrap() else {
        panic!("then the request")
    };
    let RequestKind::Call(call) = req.kind() else {
        panic!("expected a call")
    };
    sys.respond(Response::ok(4, call)).unwrap();
    assert_eq!(writer.join().unwrap().unwrap(), FIRST_FD + 1);
    // Closing the watched fd ends the watch.
    sys.close(feed).unwrap();
    assert_eq!(
        sys.read(feed, &mut [0u8; 4]).unwrap_err(),
        Error::new(EBADF)
    );
    // The client process ended, closing its fd on the daemon.
    let Wake::Request(req) = sys.wait().unwrap() else {
        panic!("expected the close")
    };
    assert!(matches!(req.kind(), RequestKind::OnClose { id: 4 }));
    drop(kernel);
    assert!(matches!(sys.wait().unwrap(), Wake::Shutdown));
}

#[test]
fn hostsys_queues_one_readiness_notice_per_fd_until_the_daemon_takes_it() {
    let kernel = Kernel::new();
    // A filesystem-like scheme with a feed (id 2) that the test posts readiness on.
    let fs = kernel.register("fs", 0).unwrap();
    let poster = fs.poster();
    spawn_request_loop(fs, (), |_, sock, req| {
        let RequestKind::Call(call) = req.kind() else {
            return;
        };
        match call.op() {
            Ok(op @ Op::OpenAt(_)) => sock.write_response(Response::ok(1, op)).unwrap(),
            Ok(op @ Op::Dup(_)) => sock.write_response(Response::ok(2, op)).unwrap(),
            Ok(op @ Op::Fevent { .. }) => sock.write_response(Response::ok(0, op)).unwrap(),
            Ok(op) => sock.write_response(Response::err(EOPNOTSUPP, op)).unwrap(),
            Err(call) => sock
                .write_response(Response::err(EOPNOTSUPP, call))
                .unwrap(),
        }
    });
    let mut sys = HostSys::new(kernel.register("daemon", 0).unwrap());
    let d = sys.process().clone();
    let fs_fd = d.open("/scheme/fs", O_RDWR).unwrap();
    let feed = sys.dup(fs_fd, b"feed").unwrap();
    sys.watch_readable(feed).unwrap();
    // Three posts before the daemon looks: one notice.
    for _ in 0..3 {
        poster.post_fevent(2, EventFlags::EVENT_READ);
    }
    assert_eq!(kernel.posts("fs"), Some(3));
    assert_eq!(kernel.readiness_notices("daemon"), Some(1));
    assert!(matches!(sys.poll(), Some(Wake::Readable(fd)) if fd == feed));
    assert!(sys.poll().is_none());
    // Taken: the next post is a new notice; so is the daemon's own `readable_again`, which
    // lines up behind a request already waiting.
    poster.post_fevent(2, EventFlags::EVENT_READ);
    assert!(matches!(sys.poll(), Some(Wake::Readable(fd)) if fd == feed));
    let client = kernel.process(50, 1000, 1000);
    let opener = thread::spawn(move || client.open("/scheme/daemon", O_RDWR));
    while kernel.requests("daemon") == Some(0) {
        thread::yield_now();
    }
    sys.readable_again(feed);
    sys.readable_again(feed);
    let Wake::Request(req) = sys.wait().unwrap() else {
        panic!("the waiting request first")
    };
    assert!(matches!(sys.poll(), Some(Wake::Readable(fd)) if fd == feed));
    assert!(sys.poll().is_none());
    assert_eq!(kernel.readiness_notices("daemon"), Some(3));
    let RequestKind::Call(call) = req.kind() else {
        panic!("expected a call")
    };
    sys.respond(Response::ok(4, call)).unwrap();
    opener.join().unwrap().unwrap();
}

#[test]
fn hostsys_read_is_nonblocking() {
    let (kernel, seen, _) = echo_kernel();
    let mut sys = HostSys::new(kernel.register("daemon", 0).unwrap());
    let fd = sys.process().open("/scheme/echo/x", O_RDWR).unwrap();
    sys.read(fd, &mut [0u8; 4]).unwrap();
    assert_eq!(
        seen.lock().unwrap().read_flags,
        [(O_RDWR | O_NONBLOCK) as u32]
    );
    assert!(sys.poll().is_none());
}

#[test]
fn shutdown_ends_scheme_threads_and_fails_waiters() {
    let kernel = Kernel::new();
    let (echo, _seen) = Echo::new();
    let thread = spawn_scheme_thread(kernel.register("echo", 1).unwrap(), echo);
    let p = kernel.process(1, 0, 0);
    let fd = p.open("/scheme/echo/x", O_RDWR).unwrap();
    // A scheme that never answers: its caller gets EIO when the socket goes.
    let sock = kernel.register("mute", 0).unwrap();
    let waiter = {
        let p = p.clone();
        thread::spawn(move || p.open("/scheme/mute", O_RDWR))
    };
    let _req = sock.next_request(true).unwrap().unwrap();
    drop(sock);
    assert_eq!(waiter.join().unwrap().unwrap_err(), Error::new(EIO));
    assert!(!kernel.has_scheme("mute"));
    drop(kernel);
    let echo = thread.join();
    assert_eq!(echo.data, b"");
    assert_eq!(p.fstat(fd).unwrap_err(), Error::new(EIO));
    assert_eq!(
        p.open("/scheme/echo/x", O_RDWR).unwrap_err(),
        Error::new(ENODEV)
    );
}

#[test]
fn a_two_fd_call_reaches_the_scheme_only_when_both_fds_are_on_it() {
    let (kernel, seen, _) = echo_kernel();
    let other = kernel.register("other", 1).unwrap();
    let (echo2, seen2) = Echo::new();
    spawn_scheme_thread(other, echo2);
    let p = kernel.process(9, 1000, 100);
    let a = p.open("/scheme/echo/a", O_RDWR).unwrap();
    let b = p.open("/scheme/echo/b", O_RDWR).unwrap();
    let c = p.open("/scheme/other/c", O_RDWR).unwrap();
    let mut payload = [0u8; 16];
    // One request, both ids, two metadata words (a third is dropped, as the kernel does).
    assert_eq!(p.call2(a, b, &mut payload, &[7, 8, 9]), Ok(2));
    // Different schemes: EXDEV, and neither scheme sees anything.
    assert_eq!(p.call2(a, c, &mut payload, &[7, 8]), Err(Error::new(EXDEV)));
    assert_eq!(p.call2(c, a, &mut payload, &[7, 8]), Err(Error::new(EXDEV)));
    assert_eq!(p.call2(a, 99, &mut payload, &[7]), Err(Error::new(EBADF)));
    assert_eq!(seen.lock().unwrap().ops, ["call2 [11, 12] [7, 8, 0] 16"]);
    assert!(seen2.lock().unwrap().ops.is_empty());
}

#[test]
fn a_scheme_registered_in_a_process_namespace_is_seen_by_that_process_only() {
    let (kernel, seen, _) = echo_kernel();
    let owner = kernel.process(20, 1000, 100);
    let mine = owner.register_own("echo", 1).unwrap();
    let (own_echo, own_seen) = Echo::new();
    spawn_scheme_thread(mine, own_echo);
    owner.open("/scheme/echo/x", O_RDWR).unwrap();
    kernel
        .process(21, 1000, 100)
        .open("/scheme/echo/y", O_RDWR)
        .unwrap();
    let path = |s: &Arc<Mutex<Seen>>| -> Vec<String> {
        s.lock()
            .unwrap()
            .opens
            .iter()
            .map(|o| o.0.clone())
            .collect()
    };
    assert_eq!(path(&own_seen), ["x"]);
    assert_eq!(path(&seen), ["y"]);
    assert_eq!(
        owner.register_own("echo", 1).err(),
        Some(Error::new(EEXIST))
    );
}
