//! A credential worker: a process that runs permanently with one caller's ids and forwards
//! the requests the interposer sends it ([`link`](crate::link)) to its own [`Target`], on
//! as many threads as requests are in flight ([`crew`](crate::crew)), so one request the
//! target never answers holds only its own thread. It ends when its input ends.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use syscall::error::{Error, Result, EINVAL};
use syscall::flag::EventFlags;
use syscall::{Stat, TimeSpec};

use super::crew::{Crew, Serve};
use super::link::{read_frame, Op, ReplyRepr, RequestRepr, MAX_PAYLOAD, REQUEST_HEADER, ROOT_FD};
use super::{Creds, Target};

/// Bytes of a `Stat` in a reply.
pub(crate) const STAT_LEN: usize = size_of::<Stat>();
/// Bytes of one time in a futimens payload.
pub(crate) const TIME_LEN: usize = 16;

/// Serves the requests read from `input` with `target`, as `who` (the ids this process runs
/// with), answering on `output`. When `input` ends or holds a frame that is not a request,
/// `end` is called (a worker process exits there, whatever its other threads wait for), and
/// `serve` returns once every thread finished.
pub fn serve<T: Target>(
    target: Arc<T>,
    who: Creds,
    input: impl Read + Send + 'static,
    output: impl Write + Send + 'static,
    end: fn(),
) {
    Crew::run(Arc::new(Worker {
        target,
        who,
        input: Mutex::new(Box::new(input)),
        output: Mutex::new(Box::new(output)),
        end,
    }));
}

/// The worker as its threads see it.
struct Worker<T> {
    /// The target, reached with this process's ids.
    target: Arc<T>,
    /// This process's ids.
    who: Creds,
    /// Requests.
    input: Mutex<Box<dyn Read + Send>>,
    /// Replies, one frame at a time.
    output: Mutex<Box<dyn Write + Send>>,
    /// Called when the input ends.
    end: fn(),
}

impl<T: Target> Serve for Worker<T> {
    type Req = Vec<u8>;
    type Work = Vec<u8>;

    fn next(&self) -> Option<Vec<u8>> {
        let mut input = self.input.lock().unwrap_or_else(|e| e.into_inner());
        let mut frame = Vec::new();
        match read_frame(&mut *input, REQUEST_HEADER, &mut frame) {
            Ok(true) if RequestRepr::parse(&frame).is_ok() => Some(frame),
            _ => {
                (self.end)();
                None
            }
        }
    }

    fn in_turn(&self, frame: Vec<u8>) -> Option<Vec<u8>> {
        let req = RequestRepr::parse(&frame).ok()?;
        if req.op == Op::Close {
            // In turn: a later request never finds the fd number reused under it.
            self.target.close(self.fd(req.fd).ok()?);
            return None;
        }
        Some(frame)
    }

    fn handle(&self, frame: Vec<u8>) {
        let Ok(req) = RequestRepr::parse(&frame) else {
            return;
        };
        let mut data = Vec::new();
        let result = self
            .run(&req, &mut data)
            .map(|v| v as u64)
            .map_err(|e| e.errno as u32);
        if req.id == 0 {
            return;
        }
        let reply = ReplyRepr::new(req.id, result, &data)
            .or_else(|_| ReplyRepr::new(req.id, Err(EINVAL as u32), &[]));
        let Ok(reply) = reply else { return };
        let mut out = Vec::with_capacity(64 + data.len());
        reply.emit(&mut out);
        let mut output = self.output.lock().unwrap_or_else(|e| e.into_inner());
        let _ = output.write_all(&out).and_then(|_| output.flush());
    }
}

/// A path from a payload.
fn path(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| Error::new(EINVAL))
}

/// An argument as a `usize`.
fn arg(v: u64) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::new(EINVAL))
}

/// A buffer of `len` bytes for an answer, at most [`MAX_PAYLOAD`].
fn answer_buf(data: &mut Vec<u8>, len: u64) -> Result<&mut [u8]> {
    let len = arg(len)?;
    if len > MAX_PAYLOAD {
        return Err(Error::new(EINVAL));
    }
    data.resize(len, 0);
    Ok(&mut data[..])
}

/// The times of a futimens payload.
pub(crate) fn times_of(payload: &[u8]) -> Result<Vec<TimeSpec>> {
    if !payload.len().is_multiple_of(TIME_LEN) || payload.len() > 2 * TIME_LEN {
        return Err(Error::new(EINVAL));
    }
    Ok(payload
        .chunks(TIME_LEN)
        .map(|c| {
            let mut sec = [0u8; 8];
            sec.copy_from_slice(&c[..8]);
            let mut nsec = [0u8; 4];
            nsec.copy_from_slice(&c[8..12]);
            TimeSpec {
                tv_sec: i64::from_ne_bytes(sec),
                tv_nsec: i32::from_ne_bytes(nsec),
            }
        })
        .collect())
}

/// A futimens payload for `times`.
pub(crate) fn times_payload(times: &[TimeSpec]) -> Vec<u8> {
    let mut out = Vec::with_capacity(times.len() * TIME_LEN);
    for t in times.iter().take(2) {
        out.extend_from_slice(&t.tv_sec.to_ne_bytes());
        out.extend_from_slice(&t.tv_nsec.to_ne_bytes());
        out.extend_from_slice(&[0; 4]);
    }
    out
}

impl<T: Target> Worker<T> {
    /// This process's fd for wire fd `fd`.
    fn fd(&self, fd: u64) -> Result<usize> {
        if fd == ROOT_FD {
            Ok(self.target.root())
        } else {
            arg(fd)
        }
    }

    /// Runs one request; `data` receives what the reply carries.
    fn run(&self, req: &RequestRepr, data: &mut Vec<u8>) -> Result<usize> {
        let (t, who, fd) = (&*self.target, self.who, self.fd(req.fd)?);
        let [a0, a1, a2] = req.args;
        let p = req.payload;
        match req.op {
            Op::Openat => t.openat(who, fd, path(p)?, arg(a0)?),
            Op::Close => Err(Error::new(EINVAL)),
            Op::Dup => t.dup(who, fd, p),
            Op::Read => {
                let n = t.read(who, fd, answer_buf(data, a1)?, a0, arg(a2)?)?;
                data.truncate(n);
                Ok(n)
            }
            Op::Write => t.write(who, fd, p, a0),
            Op::Fstat => {
                let st = t.fstat(who, fd)?;
                data.extend_from_slice(&st);
                Ok(0)
            }
            Op::Fpath => {
                let n = t.fpath(who, fd, answer_buf(data, a0)?)?;
                data.truncate(n);
                Ok(n)
            }
            Op::Fsize => t.fsize(who, fd).and_then(arg),
            Op::Fchmod => t.fchmod(who, fd, a0 as u16).map(|_| 0),
            Op::Fchown => t.fchown(who, fd, a0 as u32, a1 as u32).map(|_| 0),
            Op::Ftruncate => t.ftruncate(who, fd, a0).map(|_| 0),
            Op::Fsync => t.fsync(who, fd).map(|_| 0),
            Op::Futimens => t.futimens(who, fd, &times_of(p)?).map(|_| 0),
            Op::Fcntl => t.fcntl(who, fd, arg(a0)?, arg(a1)?),
            Op::Fevent => {
                let flags = EventFlags::from_bits_retain(arg(a0)?);
                t.fevent(who, fd, flags).map(|f| f.bits())
            }
            Op::Getdents => {
                let header = u16::try_from(a1).map_err(|_| Error::new(EINVAL))?;
                let n = t.getdents(who, fd, answer_buf(data, a0)?, header, a2)?;
                data.truncate(n);
                Ok(n)
            }
            Op::Unlinkat => t.unlinkat(who, fd, path(p)?, arg(a0)?).map(|_| 0),
            Op::Frenameat => {
                let (old, new) = p.split_at(req.split as usize);
                let new_dir = self.fd(a0)?;
                t.frenameat(who, fd, path(old)?, new_dir, path(new)?, arg(a1)?)
                    .map(|_| 0)
            }
            Op::Flinkat => {
                let dir = self.fd(a0)?;
                t.flinkat(who, fd, dir, path(p)?, arg(a1)?).map(|_| 0)
            }
            Op::Frename => t.frename(who, fd, path(p)?).map(|_| 0),
            Op::Flink => t.flink(who, fd, path(p)?).map(|_| 0),
            Op::Call => {
                let split = arg(a0)?;
                if split > p.len() || !split.is_multiple_of(8) {
                    return Err(Error::new(EINVAL));
                }
                let metadata: Vec<u64> = p[..split]
                    .chunks(8)
                    .map(|c| {
                        let mut w = [0u8; 8];
                        w.copy_from_slice(c);
                        u64::from_ne_bytes(w)
                    })
                    .collect();
                data.extend_from_slice(&p[split..]);
                t.call(who, fd, data, &metadata)
            }
        }
    }
}
