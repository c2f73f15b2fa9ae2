//! Trust: a scheme the daemon did not open itself is never believed, never asked and never
//! waited on. A non-root process that serves a scheme of its own under the name `file` (in
//! its own namespace) cannot watch what its owner cannot read, cannot take over the feed of
//! the real `file`, and a scheme that never answers stalls nobody but its own client.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::*;
use inotify_abi::consts::{IN_CREATE, IN_ONLYDIR};
use inotify_abi::feed::{BatchHeader, Fact, BATCH_HEADER_LEN, MAX_RECORD_LEN};
use inotify_abi::proto::{Identity, FEED_DUP_NAME};
use inotify_client::Inotify;
use inotify_host::{dispatch_sync, kernel::sqe_of, Process};
use redox_scheme::scheme::{SchemeState, SchemeSync};
use redox_scheme::{CallerCtx, OpenResult};
use syscall::error::{Error, Result, EAGAIN, EINVAL, EOPNOTSUPP};
use syscall::flag::{EventFlags, MODE_DIR};
use syscall::schemev2::{NewFdFlags, Opcode};
use syscall::Stat;

/// The inode of `/private`, a directory only root may read, on the real filesystem.
const PRIVATE: u64 = 70;

/// A scheme that claims to be the real `file`: every handle is `/scheme/file/private`, a
/// directory anyone may read with the inode of the real one; its feed hands out a forged
/// `IN_CREATE "salaries.xlsx"`; its identity answers say the same. It logs every request.
#[derive(Clone, Default)]
struct Liar {
    /// Operations received, in order.
    log: Arc<Mutex<Vec<&'static str>>>,
    /// Handle ids handed out.
    next: usize,
    /// The forged batch was read already (later reads: `EAGAIN`).
    forged: bool,
}

impl Liar {
    fn note(&self, op: &'static str) {
        self.log.lock().unwrap().push(op);
    }

    /// The operations received besides opening and closing.
    fn asked(&self) -> Vec<&'static str> {
        let log = self.log.lock().unwrap();
        log.iter().copied().filter(|op| *op != "openat").collect()
    }
}

impl SchemeSync for Liar {
    fn scheme_root(&mut self) -> Result<usize> {
        Ok(0)
    }
    fn openat(
        &mut self,
        _fd: usize,
        _path: &str,
        _flags: usize,
        _fcntl: u32,
        _ctx: &CallerCtx,
    ) -> Result<OpenResult> {
        self.note("openat");
        self.next += 1;
        Ok(OpenResult::ThisScheme {
            number: self.next,
            flags: NewFdFlags::empty(),
        })
    }
    fn fstat(&mut self, _id: usize, stat: &mut Stat, _ctx: &CallerCtx) -> Result<()> {
        self.note("fstat");
        *stat = Stat {
            st_mode: MODE_DIR | 0o777,
            st_ino: PRIVATE,
            st_uid: USER,
            st_gid: GROUP,
            ..Stat::default()
        };
        Ok(())
    }
    fn fpath(&mut self, _id: usize, buf: &mut [u8], _ctx: &CallerCtx) -> Result<usize> {
        self.note("fpath");
        let path = b"/scheme/file/private";
        let n = path.len().min(buf.len());
        buf[..n].copy_from_slice(&path[..n]);
        Ok(n)
    }
    fn dup(&mut self, _id: usize, name: &[u8], _ctx: &CallerCtx) -> Result<OpenResult> {
        self.note("dup");
        if name != FEED_DUP_NAME {
            return Err(Error::new(EINVAL));
        }
        self.next += 1;
        Ok(OpenResult::ThisScheme {
            number: self.next,
            flags: NewFdFlags::empty(),
        })
    }
    fn read(
        &mut self,
        _id: usize,
        buf: &mut [u8],
        _off: u64,
        _fl: u32,
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        self.note("read");
        if std::mem::replace(&mut self.forged, true) {
            return Err(Error::new(EAGAIN));
        }
        // A forged fact about the private directory.
        let mut out = vec![0u8; BATCH_HEADER_LEN + MAX_RECORD_LEN];
        let n = Fact::Created {
            dir: PRIVATE,
            name: b"salaries.xlsx",
            ino: 99,
            is_dir: false,
        }
        .emit(&mut out[BATCH_HEADER_LEN..])
        .unwrap();
        let total = BATCH_HEADER_LEN + n;
        BatchHeader {
            first_seq: 0,
            count: 1,
            total_len: total as u32,
        }
        .emit(&mut out)
        .unwrap();
        if buf.len() < total {
            return Err(Error::new(EAGAIN));
        }
        buf[..total].copy_from_slice(&out[..total]);
        Ok(total)
    }
    fn write(
        &mut self,
        _id: usize,
        buf: &[u8],
        _off: u64,
        _fl: u32,
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        self.note("write");
        Ok(buf.len())
    }
    fn fevent(&mut self, _id: usize, _f: EventFlags, _ctx: &CallerCtx) -> Result<EventFlags> {
        self.note("fevent");
        Ok(EventFlags::EVENT_READ)
    }
    fn call(&mut self, _id: usize, _p: &mut [u8], _m: &[u64], _ctx: &CallerCtx) -> Result<usize> {
        self.note("call");
        Err(Error::new(EINVAL))
    }
    fn call_multiple_ids(
        &mut self,
        _ids: &[usize],
        payload: &mut [u8],
        _m: &[u64],
        _ctx: &CallerCtx,
    ) -> Result<usize> {
        self.note("call_multiple_ids");
        let lie = Identity {
            ino: PRIVATE,
            is_dir: true,
            may_read: true,
        };
        lie.emit(payload).map_err(|_| Error::new(EINVAL))
    }
}

/// A process of `uid` serving a [`Liar`] as `file` in its own namespace.
fn liar_process(env: &Env, pid: usize, uid: u32) -> (Process, Liar) {
    let p = env.user(pid, uid);
    let socket = p
        .register_own("file", 0)
        .expect("register in own namespace");
    let liar = Liar::default();
    drop(inotify_host::spawn_scheme_thread(socket, liar.clone()));
    (p, liar)
}

/// The standard tree plus `/private`, a directory only root may read.
fn env_with_private() -> Env {
    let env = Env::start();
    env.fs.mkdir("private", PRIVATE, 0o700, ROOT, ROOT);
    env
}

#[test]
fn a_lying_scheme_cannot_watch_a_root_only_directory_of_the_real_filesystem() {
    let env = env_with_private();
    let (p, liar) = liar_process(&env, 20, USER);
    let ino = nonblocking(&p);
    // The path resolves in the liar's namespace, to the liar's own scheme.
    assert_eq!(errno(ino.add_watch("/private", IN_CREATE)), EOPNOTSUPP);
    assert_eq!(
        errno(ino.add_watch("/private", IN_CREATE | IN_ONLYDIR)),
        EOPNOTSUPP
    );
    // The real filesystem's interest set did not change, and nothing was asked of the liar.
    assert!(env.fs.interest_set().is_empty());
    assert_eq!(liar.asked(), Vec::<&str>::new());
    // The real directory, reached through the real filesystem, is still refused to the user
    // and allowed to root.
    let user = env.user(21, USER);
    assert_eq!(
        errno(nonblocking(&user).add_watch("/private", IN_CREATE)),
        syscall::error::EACCES
    );
    let root = env.root();
    let rooted = nonblocking(&root);
    assert_eq!(rooted.add_watch("/private", IN_CREATE), Ok(1));
    assert_eq!(
        env.fs.interest_set().keys().copied().collect::<Vec<_>>(),
        [PRIVATE]
    );
}

#[test]
fn a_liar_that_registers_first_under_a_name_receives_no_interest_and_injects_nothing() {
    let env = env_with_private();
    // The liar claims `file` and asks for a watch before anyone else watches anything.
    let (p, liar) = liar_process(&env, 20, USER);
    let mine = nonblocking(&p);
    assert_eq!(errno(mine.add_watch("/private", IN_CREATE)), EOPNOTSUPP);
    // Root watches the real private directory; the real filesystem reports a creation.
    let root = env.root();
    let ino = nonblocking(&root);
    let wd = ino.add_watch("/private", IN_CREATE).unwrap();
    env.push(&[Fact::Created {
        dir: PRIVATE,
        name: b"real",
        ino: 100,
        is_dir: false,
    }]);
    sync(&root);
    // Only the real event; the liar never got a feed open, interest, or a read.
    assert_eq!(drain(&ino), [ev(wd, IN_CREATE, "real")]);
    assert!(drain(&mine).is_empty());
    assert_eq!(liar.asked(), Vec::<&str>::new());
    assert_eq!(env.fs.feed_opens(), 1);
    assert_eq!(
        env.fs.interest_set().keys().copied().collect::<Vec<_>>(),
        [PRIVATE]
    );
}

/// A process of `uid` serving, as `file` in its own namespace, a scheme that answers opens
/// and never anything else, until `release` is set. Returns the process, the release flag
/// and a log of the opcodes held.
fn silent_process(
    env: &Env,
    pid: usize,
    uid: u32,
) -> (Process, Arc<AtomicBool>, Arc<Mutex<Vec<u8>>>) {
    let p = env.user(pid, uid);
    let socket = p
        .register_own("file", 0)
        .expect("register in own namespace");
    let release = Arc::new(AtomicBool::new(false));
    let held_ops = Arc::new(Mutex::new(Vec::new()));
    let (rel, ops) = (release.clone(), held_ops.clone());
    thread::spawn(move || {
        let mut opener = Liar::default();
        let mut state = SchemeState::new();
        let mut held = Vec::new();
        while !rel.load(Ordering::SeqCst) {
            match socket.next_request(false) {
                Ok(Some(req)) => {
                    let op = sqe_of(&req).opcode;
                    if op == Opcode::OpenAt as u8 {
                        dispatch_sync(&mut opener, &mut state, &socket, req);
                    } else {
                        ops.lock().unwrap().push(op);
                        held.push(req);
                    }
                }
                Ok(None) => break,
                Err(_) => thread::sleep(Duration::from_millis(1)),
            }
        }
        // Dropping the socket fails every caller still waiting on it.
        drop(held);
        drop(socket);
    });
    (p, release, held_ops)
}

#[test]
fn while_an_add_watch_targets_a_silent_scheme_other_clients_are_served() {
    let env = Env::start();
    let (silent, release, held) = silent_process(&env, 30, OTHER);
    // One client's add_watch on an fd of the silent scheme.
    let (a_tx, a_rx) = mpsc::channel();
    let s = silent.clone();
    thread::spawn(move || {
        let ino = Inotify::init1(&s, inotify_client::IN_NONBLOCK).unwrap();
        let _ = a_tx.send(ino.add_watch("/anything", IN_CREATE).map_err(|e| e.errno));
    });
    // Another user's init1, add_watch and read, meanwhile.
    let (b_tx, b_rx) = mpsc::channel();
    let user = env.user(31, USER);
    let fs = env.fs.clone();
    thread::spawn(move || {
        let ino = Inotify::init1(&user, inotify_client::IN_NONBLOCK).unwrap();
        let wd = ino.add_watch("/d", IN_CREATE).unwrap();
        fs.push(&[created(ino::D, b"x", 50)]);
        sync(&user);
        let _ = b_tx.send((wd, drain(&ino)));
    });
    // Generous bound: before the fix the daemon waited on the silent scheme for good, so
    // the other client never got an answer while the scheme held out.
    let limit = Duration::from_secs(20);
    let got = b_rx.recv_timeout(limit);
    let a = a_rx.recv_timeout(limit);
    let held_then = held.lock().unwrap().clone();
    release.store(true, Ordering::SeqCst);
    let (wd, events) = got.expect("the other client was served while the scheme held out");
    assert_eq!(events, [ev(wd, IN_CREATE, "x")]);
    assert_eq!(
        a.expect("the add_watch itself was answered"),
        Err(EOPNOTSUPP)
    );
    // The daemon asked the silent scheme nothing: besides the client's own open, at most the
    // one-way close of the fd the daemon received reached it.
    let asked: Vec<u8> = held_then
        .into_iter()
        .filter(|&op| op != Opcode::CloseMsg as u8)
        .collect();
    assert_eq!(asked, Vec::<u8>::new());
}
