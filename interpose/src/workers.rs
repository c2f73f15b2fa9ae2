//! Forwarding as callers when the effective ids belong to the whole process (Redox): one
//! worker process per credential pair, running permanently with those ids
//! ([`worker`](crate::worker)), so a forward the target never answers holds back only
//! requests in flight in the same worker thread, never callers with other ids.
//!
//! [`Workers`] is a [`Target`] in front of the in-process one: forwards as
//! [`Creds::OWN`] stay in-process; forwards with other ids go to the worker of those ids,
//! started on first use through [`Spawn`]. An fd a worker opened lives in that worker and
//! is known here by an id of its own ([`FIRST_REMOTE_FD`] and up): every later request on
//! it goes to that worker (a root caller's too, with the worker's lesser ids; a caller with
//! other non-root ids gets `EACCES`). A worker that dies or breaks the protocol is ended:
//! requests in flight in it and its fds answer `EIO`, and the next request with its ids
//! starts a new one. Two cases fall back to the in-process target (whose [`CredGate`]
//! switches the process's ids, so a stuck forward there holds callers with other ids
//! again): more than [`MAX_WORKERS`] credential pairs with open fds, or a worker that
//! cannot be started; and requests with other ids on fds the interposer opened as itself.
//!
//! [`CredGate`]: crate::gate::CredGate

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use syscall::error::{Error, Result, EACCES, EINVAL, EIO, EXDEV};
use syscall::flag::EventFlags;
use syscall::{Stat, TimeSpec};

use super::link::{
    read_frame, Op, ReplyRepr, RequestRepr, MAX_ERRNO, MAX_PAYLOAD, REPLY_HEADER, ROOT_FD,
};
use super::worker::{times_payload, STAT_LEN};
use super::{Creds, Target};

/// Most workers alive at once (credential pairs); beyond that, an idle one is ended to make
/// room, and when none is idle the forward falls back to the in-process target.
pub const MAX_WORKERS: usize = 64;

/// How long after a worker failed to start no other is tried (forwards fall back to the
/// in-process target meanwhile).
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The first id of an fd held by a worker (above any fd a process is given).
pub const FIRST_REMOTE_FD: usize = 1 << (usize::BITS - 1);

/// The two ends of a started worker, as [`Spawn`] returns them.
pub struct Link {
    /// Requests to the worker (its standard input).
    pub to: Box<dyn Write + Send>,
    /// Replies from it (its standard output).
    pub from: Box<dyn Read + Send>,
    /// Ends the worker for good and reaps it (called once, on a thread of its own).
    pub end: Box<dyn FnOnce() + Send>,
}

/// Starts workers.
pub trait Spawn: Send + Sync + 'static {
    /// Starts a worker that runs with `who` (real, effective and saved ids) and serves
    /// [`worker::serve`](crate::worker::serve) on the link.
    fn spawn(&self, who: Creds) -> std::io::Result<Link>;
}

impl<S: Spawn + ?Sized> Spawn for Box<S> {
    fn spawn(&self, who: Creds) -> std::io::Result<Link> {
        (**self).spawn(who)
    }
}

/// A reply waited for.
type Answer = Result<(u64, Vec<u8>)>;

/// Where one request's reply goes.
#[derive(Default)]
struct Slot {
    /// The reply, once there.
    answer: Mutex<Option<Answer>>,
    /// Signalled when it is.
    ready: Condvar,
}

/// The requests in flight in one worker.
struct Pending {
    /// Slots by request id.
    slots: HashMap<u32, Arc<Slot>>,
    /// The next request id to try (never 0).
    next_id: u32,
    /// The worker was ended: no request is taken any more.
    dead: bool,
}

/// One worker, as the interposer talks to it.
struct Conn {
    /// Its ids.
    who: Creds,
    /// Frames for its writer thread (`None` once ended): sending never blocks, whatever the
    /// worker does with its input.
    to: Mutex<Option<mpsc::Sender<Vec<u8>>>>,
    /// Requests in flight.
    pending: Mutex<Pending>,
    /// Its fds the interposer holds.
    fds: AtomicUsize,
    /// Ends the process (taken by the first to end it).
    end: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

/// Locks a mutex, whatever a panicking holder left.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Conn {
    /// Whether it was ended.
    fn dead(&self) -> bool {
        lock(&self.pending).dead
    }

    /// Whether nothing of it is in use.
    fn idle(&self) -> bool {
        self.fds.load(Ordering::SeqCst) == 0 && lock(&self.pending).slots.is_empty()
    }

    /// Ends the worker: every request in flight answers `EIO`, its input is closed and the
    /// process ended and reaped (on a thread of its own: never waits here).
    fn kill(&self) {
        let slots: Vec<Arc<Slot>> = {
            let mut p = lock(&self.pending);
            p.dead = true;
            p.slots.drain().map(|(_, s)| s).collect()
        };
        for slot in slots {
            *lock(&slot.answer) = Some(Err(Error::new(EIO)));
            slot.ready.notify_all();
        }
        drop(lock(&self.to).take());
        if let Some(end) = lock(&self.end).take() {
            let _ = thread::Builder::new()
                .name("interpose-reap".into())
                .spawn(end);
        }
    }

    /// Sends a request and waits for its reply (`EIO` when the worker is ended meanwhile).
    fn ask(&self, op: Op, fd: u64, args: [u64; 3], split: u32, payload: &[u8]) -> Answer {
        let (id, slot) = {
            let mut p = lock(&self.pending);
            if p.dead {
                return Err(Error::new(EIO));
            }
            let mut id = p.next_id;
            while id == 0 || p.slots.contains_key(&id) {
                id = id.wrapping_add(1);
            }
            p.next_id = id.wrapping_add(1);
            let slot = Arc::new(Slot::default());
            p.slots.insert(id, Arc::clone(&slot));
            (id, slot)
        };
        self.send(id, op, fd, args, split, payload)?;
        let mut answer = lock(&slot.answer);
        loop {
            if let Some(a) = answer.take() {
                return a;
            }
            answer = slot.ready.wait(answer).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Writes a request (id 0: no reply); a failed write ends the worker.
    fn send(&self, id: u32, op: Op, fd: u64, args: [u64; 3], split: u32, p: &[u8]) -> Result<()> {
        let req = RequestRepr::new(id, op, fd, args, split, p).map_err(|_| Error::new(EINVAL))?;
        let mut frame = Vec::with_capacity(64 + p.len());
        req.emit(&mut frame);
        let sent = match lock(&self.to).as_ref() {
            Some(to) => to.send(frame).is_ok(),
            None => false,
        };
        if !sent {
            self.kill();
            return Err(Error::new(EIO));
        }
        Ok(())
    }

    /// Writes the frames sent through `to` to the worker until it is ended; a failed write
    /// ends it.
    fn write_requests(&self, frames: mpsc::Receiver<Vec<u8>>, mut to: Box<dyn Write + Send>) {
        for frame in frames {
            if to.write_all(&frame).and_then(|_| to.flush()).is_err() {
                break;
            }
        }
        self.kill();
    }

    /// Reads replies until the worker ends or breaks the protocol (a frame out of bounds,
    /// garbage, an id no request waits for), then ends it.
    fn read_replies(&self, mut from: Box<dyn Read + Send>) {
        let mut frame = Vec::new();
        while let Ok(true) = read_frame(&mut from, REPLY_HEADER, &mut frame) {
            let Ok(reply) = ReplyRepr::parse(&frame) else {
                log::warn!("interposer: worker {:?}: a reply that is not one", self.who);
                break;
            };
            let Some(slot) = lock(&self.pending).slots.remove(&reply.id) else {
                log::warn!("interposer: worker {:?}: a reply nobody asked", self.who);
                break;
            };
            let answer = match reply.result {
                Ok(v) => Ok((v, reply.data.to_vec())),
                Err(e) => Err(Error::new(e as i32)),
            };
            *lock(&slot.answer) = Some(answer);
            slot.ready.notify_all();
        }
        self.kill();
    }
}

/// Where a forward runs.
enum Place {
    /// In-process, on this fd.
    Local(usize),
    /// In a worker, on its fd.
    Remote(Arc<Conn>, u64),
}

/// The workers and the fds they hold.
struct Table {
    /// Workers by ids.
    by_creds: HashMap<(u32, u32), Arc<Conn>>,
    /// Fds held by workers, by the id the interposer knows them by.
    fds: HashMap<usize, (Arc<Conn>, u64)>,
    /// The next id to try.
    next_fd: usize,
}

/// The target, with forwards as callers other than the interposer made by workers.
pub struct Workers<T: Target, S: Spawn> {
    /// The in-process target.
    local: T,
    /// Starts workers.
    spawn: S,
    /// Workers and their fds.
    table: Mutex<Table>,
    /// Held while a worker starts (one at a time; the table stays free).
    starting: Mutex<()>,
    /// Workers started so far.
    started: AtomicUsize,
    /// When a worker last failed to start (none is tried for [`RETRY_AFTER`]).
    failed: Mutex<Option<Instant>>,
}

/// Checks a worker's answer with `ok`; a worker whose answer fails it is ended (`EIO`).
fn checked<R>(
    conn: &Conn,
    answer: Answer,
    ok: impl FnOnce(u64, Vec<u8>) -> Option<R>,
) -> Result<R> {
    let (value, data) = answer?;
    match ok(value, data) {
        Some(r) => Ok(r),
        None => {
            log::warn!("interposer: worker {:?}: an answer out of bounds", conn.who);
            conn.kill();
            Err(Error::new(EIO))
        }
    }
}

/// A value that must be 0.
fn unit(v: u64, _: Vec<u8>) -> Option<()> {
    (v == 0).then_some(())
}

/// A value that fits a `usize` and is at most `max`.
fn count(max: usize) -> impl FnOnce(u64, Vec<u8>) -> Option<usize> {
    move |v, _| usize::try_from(v).ok().filter(|&n| n <= max)
}

/// Data of at most `max` bytes, copied into `buf`; its length must be the value.
fn data_into(buf: &mut [u8]) -> impl FnOnce(u64, Vec<u8>) -> Option<usize> + '_ {
    move |v, data| {
        let n = data.len();
        if v != n as u64 || n > buf.len() {
            return None;
        }
        buf[..n].copy_from_slice(&data);
        Some(n)
    }
}

impl<T: Target, S: Spawn> Workers<T, S> {
    /// Forwards to `local` as [`Creds::OWN`] and through workers started by `spawn`
    /// otherwise.
    pub fn new(local: T, spawn: S) -> Self {
        Workers {
            local,
            spawn,
            table: Mutex::new(Table {
                by_creds: HashMap::new(),
                fds: HashMap::new(),
                next_fd: FIRST_REMOTE_FD,
            }),
            starting: Mutex::new(()),
            started: AtomicUsize::new(0),
            failed: Mutex::new(None),
        }
    }

    /// The in-process target.
    pub fn local(&self) -> &T {
        &self.local
    }

    /// Workers alive now.
    pub fn alive(&self) -> usize {
        let t = lock(&self.table);
        t.by_creds.values().filter(|c| !c.dead()).count()
    }

    /// Workers started so far.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// The worker of `who`, started when there is none (`None`: none can be had).
    fn worker_for(&self, who: Creds) -> Option<Arc<Conn>> {
        let key = (who.uid, who.gid);
        if let Some(c) = lock(&self.table).by_creds.get(&key).filter(|c| !c.dead()) {
            return Some(Arc::clone(c));
        }
        let _starting = lock(&self.starting);
        {
            let mut t = lock(&self.table);
            if let Some(c) = t.by_creds.get(&key).filter(|c| !c.dead()) {
                return Some(Arc::clone(c));
            }
            t.by_creds.retain(|_, c| !c.dead());
            if t.by_creds.len() >= MAX_WORKERS {
                let idle = t.by_creds.iter().find(|(_, c)| c.idle()).map(|(k, _)| *k)?;
                if let Some(c) = t.by_creds.remove(&idle) {
                    c.kill();
                }
            }
        }
        let mut failed = lock(&self.failed);
        if failed.is_some_and(|at| at.elapsed() < RETRY_AFTER) {
            return None;
        }
        let link = match self.spawn.spawn(who) {
            Ok(link) => link,
            Err(e) => {
                log::warn!("interposer: cannot start a worker for {who:?}: {e}");
                *failed = Some(Instant::now());
                return None;
            }
        };
        drop(failed);
        self.started.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::channel();
        let conn = Arc::new(Conn {
            who,
            to: Mutex::new(Some(tx)),
            pending: Mutex::new(Pending {
                slots: HashMap::new(),
                next_id: 1,
                dead: false,
            }),
            fds: AtomicUsize::new(0),
            end: Mutex::new(Some(link.end)),
        });
        let (reader, writer) = (Arc::clone(&conn), Arc::clone(&conn));
        let (from, to) = (link.from, link.to);
        let spawned = thread::Builder::new()
            .name("interpose-replies".into())
            .spawn(move || reader.read_replies(from))
            .and_then(|_| {
                thread::Builder::new()
                    .name("interpose-requests".into())
                    .spawn(move || writer.write_requests(rx, to))
            });
        if spawned.is_err() {
            conn.kill();
            return None;
        }
        lock(&self.table).by_creds.insert(key, Arc::clone(&conn));
        Some(conn)
    }

    /// Where a forward as `who` on fd `fd` runs.
    fn place(&self, who: Creds, fd: usize) -> Result<Place> {
        if let Some((conn, rfd)) = lock(&self.table).fds.get(&fd) {
            return if conn.who == who || who.uid == 0 {
                Ok(Place::Remote(Arc::clone(conn), *rfd))
            } else {
                Err(Error::new(EACCES))
            };
        }
        if who == Creds::OWN || fd != self.local.root() {
            return Ok(Place::Local(fd));
        }
        Ok(match self.worker_for(who) {
            Some(conn) => Place::Remote(conn, ROOT_FD),
            None => Place::Local(fd),
        })
    }

    /// Keeps a worker's new fd: the id the interposer knows it by.
    fn keep(&self, conn: &Arc<Conn>, rfd: u64) -> usize {
        conn.fds.fetch_add(1, Ordering::SeqCst);
        let mut t = lock(&self.table);
        let mut id = t.next_fd;
        while t.fds.contains_key(&id) {
            id = id.checked_add(1).unwrap_or(FIRST_REMOTE_FD);
        }
        t.next_fd = id.checked_add(1).unwrap_or(FIRST_REMOTE_FD);
        t.fds.insert(id, (Arc::clone(conn), rfd));
        id
    }

    /// A new fd from a worker's answer.
    fn new_fd(&self, conn: &Arc<Conn>, answer: Answer) -> Result<usize> {
        let rfd = checked(conn, answer, |v, d| {
            (v != ROOT_FD && d.is_empty()).then_some(v)
        })?;
        Ok(self.keep(conn, rfd))
    }

    /// Runs a forward: `local` in-process, else `remote` in the worker.
    fn run<R>(
        &self,
        who: Creds,
        fd: usize,
        local: impl FnOnce(&T, usize) -> Result<R>,
        remote: impl FnOnce(&Arc<Conn>, u64) -> Result<R>,
    ) -> Result<R> {
        match self.place(who, fd)? {
            Place::Local(fd) => local(&self.local, fd),
            Place::Remote(conn, rfd) => remote(&conn, rfd),
        }
    }

    /// A forward on two fds (rename, link): both in-process or both in one worker.
    fn run2<R>(
        &self,
        who: Creds,
        fds: (usize, usize),
        local: impl FnOnce(&T, usize, usize) -> Result<R>,
        remote: impl FnOnce(&Arc<Conn>, u64, u64) -> Result<R>,
    ) -> Result<R> {
        match (self.place(who, fds.0)?, self.place(who, fds.1)?) {
            (Place::Local(a), Place::Local(b)) => local(&self.local, a, b),
            (Place::Remote(c, a), Place::Remote(d, b)) if Arc::ptr_eq(&c, &d) => remote(&c, a, b),
            _ => Err(Error::new(EXDEV)),
        }
    }
}

/// A path as a payload, refused when longer than a frame carries.
fn path_payload(path: &str) -> Result<&[u8]> {
    if path.len() > MAX_PAYLOAD {
        return Err(Error::new(EINVAL));
    }
    Ok(path.as_bytes())
}

impl<T: Target, S: Spawn> Target for Workers<T, S> {
    fn root(&self) -> usize {
        self.local.root()
    }
    fn name(&self) -> &str {
        self.local.name()
    }
    fn openat(&self, who: Creds, dir: usize, path: &str, flags: usize) -> Result<usize> {
        let p = path_payload(path)?;
        self.run(
            who,
            dir,
            |t, dir| t.openat(who, dir, path, flags),
            |c, dir| self.new_fd(c, c.ask(Op::Openat, dir, [flags as u64, 0, 0], 0, p)),
        )
    }
    fn close(&self, fd: usize) {
        let held = {
            let mut t = lock(&self.table);
            t.fds.remove(&fd)
        };
        match held {
            Some((conn, rfd)) => {
                conn.fds.fetch_sub(1, Ordering::SeqCst);
                let _ = conn.send(0, Op::Close, rfd, [0; 3], 0, &[]);
            }
            None => self.local.close(fd),
        }
    }
    fn dup(&self, who: Creds, fd: usize, name: &[u8]) -> Result<usize> {
        if name.len() > MAX_PAYLOAD {
            return Err(Error::new(EINVAL));
        }
        self.run(
            who,
            fd,
            |t, fd| t.dup(who, fd, name),
            |c, fd| self.new_fd(c, c.ask(Op::Dup, fd, [0; 3], 0, name)),
        )
    }
    fn read(
        &self,
        who: Creds,
        fd: usize,
        buf: &mut [u8],
        offset: u64,
        flags: usize,
    ) -> Result<usize> {
        match self.place(who, fd)? {
            Place::Local(fd) => self.local.read(who, fd, buf, offset, flags),
            Place::Remote(c, fd) => {
                // One frame at most: a shorter read, as a filesystem may answer.
                let len = buf.len().min(MAX_PAYLOAD);
                let args = [offset, len as u64, flags as u64];
                checked(
                    &c,
                    c.ask(Op::Read, fd, args, 0, &[]),
                    data_into(&mut buf[..len]),
                )
            }
        }
    }
    fn write(&self, who: Creds, fd: usize, buf: &[u8], offset: u64) -> Result<usize> {
        self.run(
            who,
            fd,
            |t, fd| t.write(who, fd, buf, offset),
            |c, fd| {
                // A frame at a time, at the offsets that follow, until one is short.
                let mut done = 0;
                for chunk in buf.chunks(MAX_PAYLOAD) {
                    let at = offset.saturating_add(done as u64);
                    let answer = c.ask(Op::Write, fd, [at, 0, 0], 0, chunk);
                    let n = match checked(c, answer, count(chunk.len())) {
                        Ok(n) => n,
                        Err(e) if done == 0 => return Err(e),
                        Err(_) => break,
                    };
                    done += n;
                    if n < chunk.len() {
                        break;
                    }
                }
                Ok(done)
            },
        )
    }
    fn fstat(&self, who: Creds, fd: usize) -> Result<Stat> {
        self.run(
            who,
            fd,
            |t, fd| t.fstat(who, fd),
            |c, fd| {
                checked(c, c.ask(Op::Fstat, fd, [0; 3], 0, &[]), |v, data| {
                    let mut st = Stat::default();
                    (v == 0 && data.len() == STAT_LEN).then(|| st.copy_from_slice(&data))?;
                    Some(st)
                })
            },
        )
    }
    fn fpath(&self, who: Creds, fd: usize, buf: &mut [u8]) -> Result<usize> {
        match self.place(who, fd)? {
            Place::Local(fd) => self.local.fpath(who, fd, buf),
            Place::Remote(c, fd) => {
                let len = buf.len().min(MAX_PAYLOAD);
                let answer = c.ask(Op::Fpath, fd, [len as u64, 0, 0], 0, &[]);
                checked(&c, answer, data_into(&mut buf[..len]))
            }
        }
    }
    fn fsize(&self, who: Creds, fd: usize) -> Result<u64> {
        self.run(
            who,
            fd,
            |t, fd| t.fsize(who, fd),
            |c, fd| c.ask(Op::Fsize, fd, [0; 3], 0, &[]).map(|(v, _)| v),
        )
    }
    fn fchmod(&self, who: Creds, fd: usize, mode: u16) -> Result<()> {
        self.run(
            who,
            fd,
            |t, fd| t.fchmod(who, fd, mode),
            |c, fd| checked(c, c.ask(Op::Fchmod, fd, [mode.into(), 0, 0], 0, &[]), unit),
        )
    }
    fn fchown(&self, who: Creds, fd: usize, uid: u32, gid: u32) -> Result<()> {
        let args = [uid.into(), gid.into(), 0];
        self.run(
            who,
            fd,
            |t, fd| t.fchown(who, fd, uid, gid),
            |c, fd| checked(c, c.ask(Op::Fchown, fd, args, 0, &[]), unit),
        )
    }
    fn ftruncate(&self, who: Creds, fd: usize, len: u64) -> Result<()> {
        self.run(
            who,
            fd,
            |t, fd| t.ftruncate(who, fd, len),
            |c, fd| checked(c, c.ask(Op::Ftruncate, fd, [len, 0, 0], 0, &[]), unit),
        )
    }
    fn fsync(&self, who: Creds, fd: usize) -> Result<()> {
        self.run(
            who,
            fd,
            |t, fd| t.fsync(who, fd),
            |c, fd| checked(c, c.ask(Op::Fsync, fd, [0; 3], 0, &[]), unit),
        )
    }
    fn futimens(&self, who: Creds, fd: usize, times: &[TimeSpec]) -> Result<()> {
        self.run(
            who,
            fd,
            |t, fd| t.futimens(who, fd, times),
            |c, fd| {
                let p = times_payload(times);
                checked(c, c.ask(Op::Futimens, fd, [0; 3], 0, &p), unit)
            },
        )
    }
    fn fcntl(&self, who: Creds, fd: usize, cmd: usize, arg: usize) -> Result<usize> {
        let args = [cmd as u64, arg as u64, 0];
        self.run(
            who,
            fd,
            |t, fd| t.fcntl(who, fd, cmd, arg),
            |c, fd| checked(c, c.ask(Op::Fcntl, fd, args, 0, &[]), count(usize::MAX)),
        )
    }
    fn fevent(&self, who: Creds, fd: usize, flags: EventFlags) -> Result<EventFlags> {
        let args = [flags.bits() as u64, 0, 0];
        self.run(
            who,
            fd,
            |t, fd| t.fevent(who, fd, flags),
            |c, fd| {
                let answer = c.ask(Op::Fevent, fd, args, 0, &[]);
                checked(c, answer, count(usize::MAX)).map(EventFlags::from_bits_retain)
            },
        )
    }
    fn getdents(
        &self,
        who: Creds,
        fd: usize,
        buf: &mut [u8],
        header_size: u16,
        opaque: u64,
    ) -> Result<usize> {
        match self.place(who, fd)? {
            Place::Local(fd) => self.local.getdents(who, fd, buf, header_size, opaque),
            Place::Remote(c, fd) => {
                let len = buf.len().min(MAX_PAYLOAD);
                let args = [len as u64, header_size.into(), opaque];
                let answer = c.ask(Op::Getdents, fd, args, 0, &[]);
                checked(&c, answer, data_into(&mut buf[..len]))
            }
        }
    }
    fn unlinkat(&self, who: Creds, dir: usize, path: &str, flags: usize) -> Result<()> {
        let p = path_payload(path)?;
        self.run(
            who,
            dir,
            |t, dir| t.unlinkat(who, dir, path, flags),
            |c, dir| {
                checked(
                    c,
                    c.ask(Op::Unlinkat, dir, [flags as u64, 0, 0], 0, p),
                    unit,
                )
            },
        )
    }
    fn frenameat(
        &self,
        who: Creds,
        old_dir: usize,
        old: &str,
        new_dir: usize,
        new: &str,
        flags: usize,
    ) -> Result<()> {
        let both = [path_payload(old)?, path_payload(new)?].concat();
        let split = u32::try_from(old.len()).map_err(|_| Error::new(EINVAL))?;
        self.run2(
            who,
            (old_dir, new_dir),
            |t, a, b| t.frenameat(who, a, old, b, new, flags),
            |c, a, b| {
                let args = [b, flags as u64, 0];
                checked(c, c.ask(Op::Frenameat, a, args, split, &both), unit)
            },
        )
    }
    fn flinkat(&self, who: Creds, fd: usize, dir: usize, path: &str, flags: usize) -> Result<()> {
        let p = path_payload(path)?;
        self.run2(
            who,
            (fd, dir),
            |t, fd, dir| t.flinkat(who, fd, dir, path, flags),
            |c, fd, dir| {
                checked(
                    c,
                    c.ask(Op::Flinkat, fd, [dir, flags as u64, 0], 0, p),
                    unit,
                )
            },
        )
    }
    fn frename(&self, who: Creds, fd: usize, path: &str) -> Result<()> {
        let p = path_payload(path)?;
        self.run(
            who,
            fd,
            |t, fd| t.frename(who, fd, path),
            |c, fd| checked(c, c.ask(Op::Frename, fd, [0; 3], 0, p), unit),
        )
    }
    fn flink(&self, who: Creds, fd: usize, path: &str) -> Result<()> {
        let p = path_payload(path)?;
        self.run(
            who,
            fd,
            |t, fd| t.flink(who, fd, path),
            |c, fd| checked(c, c.ask(Op::Flink, fd, [0; 3], 0, p), unit),
        )
    }
    fn call(&self, who: Creds, fd: usize, payload: &mut [u8], metadata: &[u64]) -> Result<usize> {
        let split = metadata.len() * 8;
        if split + payload.len() > MAX_PAYLOAD {
            return Err(Error::new(EINVAL));
        }
        let (c, fd) = match self.place(who, fd)? {
            Place::Local(fd) => return self.local.call(who, fd, payload, metadata),
            Place::Remote(c, fd) => (c, fd),
        };
        let mut p = Vec::with_capacity(split + payload.len());
        for m in metadata {
            p.extend_from_slice(&m.to_ne_bytes());
        }
        p.extend_from_slice(payload);
        let answer = c.ask(Op::Call, fd, [split as u64, 0, 0], 0, &p);
        let len = payload.len();
        checked(&c, answer, |v, data| {
            if data.len() != len {
                return None;
            }
            payload.copy_from_slice(&data);
            usize::try_from(v).ok()
        })
    }
    fn caller_creds(&self, pid: usize) -> Option<Creds> {
        self.local.caller_creds(pid)
    }
}

impl<T: Target, S: Spawn> Drop for Workers<T, S> {
    fn drop(&mut self) {
        let conns: Vec<Arc<Conn>> = lock(&self.table).by_creds.drain().map(|(_, c)| c).collect();
        for c in conns {
            c.kill();
        }
    }
}

const _: () = assert!(MAX_ERRNO < i32::MAX as u32);
