//! The frames between the interposer and its credential workers (docs/protocols.md, "The
//! worker link"): requests one way, replies the other, each with a request id, over a pair
//! of pipes (the worker's standard input and output).
//!
//! ```text
//! request                                  reply
//! offset size field                        offset size field
//!      0    4 len   u32 bytes after it          0    4 len   u32 bytes after it
//!      4    4 id    u32 (0: no reply)           4    4 id    u32 the request's
//!      8    1 op    u8  [`Op`]                  8    4 errno u32 (0: success)
//!      9    3 zero                             12    4 zero
//!     12    4 split u32 (frenameat)            16    8 value u64
//!     16    8 fd    u64 the worker's fd        24    . data
//!     24   24 args  3 x u64
//!     48    . payload
//! ```
//! Native byte order (both ends are the same program on the same machine). `len` is at
//! least the header's rest and at most that plus [`MAX_PAYLOAD`]; anything else is refused.

use std::io::{self, Read};

use inotify_abi::WireError;

/// Bytes of a request header, `len` included.
pub const REQUEST_HEADER: usize = 48;
/// Bytes of a reply header, `len` included.
pub const REPLY_HEADER: usize = 24;
/// Most payload or data bytes one frame carries (reads, writes, listings and paths longer
/// than this are cut, as a short read or write).
pub const MAX_PAYLOAD: usize = 128 * 1024;
/// The `fd` naming the worker's own root of the target.
pub const ROOT_FD: u64 = u64::MAX;
/// Largest errno a reply may carry.
pub const MAX_ERRNO: u32 = 4095;

/// Byte offsets of the fields (sizes in the module doc's table).
pub mod field {
    /// `u32`: bytes of the frame after this field.
    pub const LEN: usize = 0;
    /// `u32`: request id.
    pub const ID: usize = 4;
    /// `u8`: request operation.
    pub const OP: usize = 8;
    /// `u32`: where the first of two paths ends in the payload.
    pub const SPLIT: usize = 12;
    /// `u64`: the worker's fd.
    pub const FD: usize = 16;
    /// `3 x u64`: the operation's arguments.
    pub const ARGS: usize = 24;
    /// Reply `u32`: 0 or the errno.
    pub const ERRNO: usize = 8;
    /// Reply `u64`: the result value.
    pub const VALUE: usize = 16;
}

/// An operation a worker forwards (the [`Target`](crate::Target) method of the same name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// `openat(fd, payload, args[0])`: value is the new fd.
    Openat = 1,
    /// `close(fd)`, sent with id 0 (no reply).
    Close,
    /// `dup(fd, payload)`: value is the new fd.
    Dup,
    /// `read(fd, args[1] bytes at args[0], flags args[2])`: data is what was read.
    Read,
    /// `write(fd, payload at args[0])`: value is the count.
    Write,
    /// `fstat(fd)`: data is the `Stat`.
    Fstat,
    /// `fpath(fd)` into `args[0]` bytes: data is the path.
    Fpath,
    /// `fsize(fd)`: value is the size.
    Fsize,
    /// `fchmod(fd, args[0])`.
    Fchmod,
    /// `fchown(fd, args[0], args[1])`.
    Fchown,
    /// `ftruncate(fd, args[0])`.
    Ftruncate,
    /// `fsync(fd)`.
    Fsync,
    /// `futimens(fd, payload)`: 16 bytes a time, `i64` seconds and `i32` nanoseconds.
    Futimens,
    /// `fcntl(fd, args[0], args[1])`: value is the answer.
    Fcntl,
    /// `fevent(fd, args[0])`: value is the flags.
    Fevent,
    /// `getdents(fd)` into `args[0]` bytes, header size `args[1]`, from `args[2]`: data is
    /// the entries.
    Getdents,
    /// `unlinkat(fd, payload, args[0])`.
    Unlinkat,
    /// `frenameat(fd, payload[..split], args[0], payload[split..], args[1])`.
    Frenameat,
    /// `flinkat(fd, args[0], payload, args[1])`.
    Flinkat,
    /// `frename(fd, payload)`.
    Frename,
    /// `flink(fd, payload)`.
    Flink,
    /// `call(fd, payload[args[0]..], metadata payload[..args[0]] as u64s)`: value is the
    /// answer, data the payload after the call.
    Call,
}

impl Op {
    /// Every operation, by wire value - 1.
    const ALL: [Op; 22] = [
        Op::Openat,
        Op::Close,
        Op::Dup,
        Op::Read,
        Op::Write,
        Op::Fstat,
        Op::Fpath,
        Op::Fsize,
        Op::Fchmod,
        Op::Fchown,
        Op::Ftruncate,
        Op::Fsync,
        Op::Futimens,
        Op::Fcntl,
        Op::Fevent,
        Op::Getdents,
        Op::Unlinkat,
        Op::Frenameat,
        Op::Flinkat,
        Op::Frename,
        Op::Flink,
        Op::Call,
    ];

    /// The operation of wire value `v`.
    pub fn from_raw(v: u8) -> Option<Op> {
        Op::ALL.get(usize::from(v).checked_sub(1)?).copied()
    }
}

/// A request as its header says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestRepr<'a> {
    /// Request id (0: no reply wanted).
    pub id: u32,
    /// The operation.
    pub op: Op,
    /// Where the first of two paths ends in `payload` (frenameat), else 0.
    pub split: u32,
    /// The worker's fd the operation is on ([`ROOT_FD`]: its root).
    pub fd: u64,
    /// The operation's arguments.
    pub args: [u64; 3],
    /// Paths, data, metadata.
    pub payload: &'a [u8],
}

impl<'a> RequestRepr<'a> {
    /// A request; [`WireError::NoSpace`] when the payload is longer than [`MAX_PAYLOAD`],
    /// [`WireError::Malformed`] when `split` is not inside it.
    pub fn new(
        id: u32,
        op: Op,
        fd: u64,
        args: [u64; 3],
        split: u32,
        payload: &'a [u8],
    ) -> Result<Self, WireError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(WireError::NoSpace);
        }
        if split as usize > payload.len() {
            return Err(WireError::Malformed);
        }
        Ok(RequestRepr {
            id,
            op,
            split,
            fd,
            args,
            payload,
        })
    }

    /// Appends the frame to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let len = (REQUEST_HEADER - 4 + self.payload.len()) as u32;
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&self.id.to_ne_bytes());
        out.extend_from_slice(&[self.op as u8, 0, 0, 0]);
        out.extend_from_slice(&self.split.to_ne_bytes());
        out.extend_from_slice(&self.fd.to_ne_bytes());
        for a in self.args {
            out.extend_from_slice(&a.to_ne_bytes());
        }
        out.extend_from_slice(self.payload);
    }

    /// Parses a whole frame (as [`read_frame`] returns it).
    pub fn parse(frame: &'a [u8]) -> Result<Self, WireError> {
        let body = checked_body(frame, REQUEST_HEADER)?;
        if frame[field::OP + 1..field::SPLIT] != [0, 0, 0] {
            return Err(WireError::Malformed);
        }
        let op = Op::from_raw(frame[field::OP]).ok_or(WireError::Malformed)?;
        let args = [0, 1, 2].map(|i| get_u64(frame, field::ARGS + 8 * i));
        RequestRepr::new(
            get_u32(frame, field::ID),
            op,
            get_u64(frame, field::FD),
            args,
            get_u32(frame, field::SPLIT),
            body,
        )
    }
}

/// A reply as its header says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyRepr<'a> {
    /// The request's id.
    pub id: u32,
    /// The value, or the errno (1 to [`MAX_ERRNO`]).
    pub result: Result<u64, u32>,
    /// Data read, a path, a `Stat`, a call's payload.
    pub data: &'a [u8],
}

impl<'a> ReplyRepr<'a> {
    /// A reply; [`WireError::NoSpace`] when the data is longer than [`MAX_PAYLOAD`],
    /// [`WireError::Malformed`] for an errno outside 1 to [`MAX_ERRNO`].
    pub fn new(id: u32, result: Result<u64, u32>, data: &'a [u8]) -> Result<Self, WireError> {
        if data.len() > MAX_PAYLOAD {
            return Err(WireError::NoSpace);
        }
        if let Err(e) = result {
            if e == 0 || e > MAX_ERRNO {
                return Err(WireError::Malformed);
            }
        }
        Ok(ReplyRepr { id, result, data })
    }

    /// Appends the frame to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let len = (REPLY_HEADER - 4 + self.data.len()) as u32;
        let (errno, value) = match self.result {
            Ok(v) => (0, v),
            Err(e) => (e, 0),
        };
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&self.id.to_ne_bytes());
        out.extend_from_slice(&errno.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&value.to_ne_bytes());
        out.extend_from_slice(self.data);
    }

    /// Parses a whole frame (as [`read_frame`] returns it).
    pub fn parse(frame: &'a [u8]) -> Result<Self, WireError> {
        let data = checked_body(frame, REPLY_HEADER)?;
        if get_u32(frame, field::ERRNO + 4) != 0 {
            return Err(WireError::Malformed);
        }
        let result = match get_u32(frame, field::ERRNO) {
            0 => Ok(get_u64(frame, field::VALUE)),
            e => Err(e),
        };
        ReplyRepr::new(get_u32(frame, field::ID), result, data)
    }
}

/// The payload of a frame whose header is `header` bytes, once its `len` is checked.
fn checked_body(frame: &[u8], header: usize) -> Result<&[u8], WireError> {
    if frame.len() < header {
        return Err(WireError::Truncated);
    }
    if get_u32(frame, field::LEN) as usize != frame.len() - 4 {
        return Err(WireError::Malformed);
    }
    Ok(&frame[header..])
}

/// Reads a native-endian `u32` at `at`; the caller has checked the bounds.
fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads a native-endian `u64` at `at`; the caller has checked the bounds.
fn get_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// Reads the next frame whose header is `header` bytes from `from` into `buf` (replacing its
/// contents, `len` included). `Ok(false)` at the end of the stream before a frame starts;
/// `InvalidData` when its `len` is out of bounds (nothing more is read), `UnexpectedEof`
/// when the stream ends inside it.
pub fn read_frame(from: &mut impl Read, header: usize, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut len = [0u8; 4];
    match from.read(&mut len[..1])? {
        0 => return Ok(false),
        _ => from.read_exact(&mut len[1..])?,
    }
    let rest = u32::from_ne_bytes(len) as usize;
    if rest < header - 4 || rest > header - 4 + MAX_PAYLOAD {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "frame length"));
    }
    buf.clear();
    buf.extend_from_slice(&len);
    buf.resize(4 + rest, 0);
    from.read_exact(&mut buf[4..])?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_comes_back_as_it_was_emitted() {
        let req = RequestRepr::new(7, Op::Frenameat, 3, [4, 5, 6], 2, b"abcd").unwrap();
        let mut out = Vec::new();
        req.emit(&mut out);
        assert_eq!(out.len(), REQUEST_HEADER + 4);
        let mut buf = Vec::new();
        assert!(read_frame(&mut &out[..], REQUEST_HEADER, &mut buf).unwrap());
        assert_eq!(RequestRepr::parse(&buf).unwrap(), req);
    }

    #[test]
    fn a_reply_comes_back_as_it_was_emitted() {
        for result in [Ok(u64::MAX), Err(13)] {
            let rep = ReplyRepr::new(9, result, b"xyz").unwrap();
            let mut out = Vec::new();
            rep.emit(&mut out);
            assert_eq!(ReplyRepr::parse(&out).unwrap(), rep);
        }
    }

    #[test]
    fn frames_that_lie_are_refused() {
        let mut out = Vec::new();
        ReplyRepr::new(1, Ok(0), b"ab").unwrap().emit(&mut out);
        // A length that does not match the bytes.
        let mut bad = out.clone();
        bad[0] = bad[0].wrapping_add(1);
        assert_eq!(ReplyRepr::parse(&bad), Err(WireError::Malformed));
        // An errno out of range, a nonzero reserved word, a truncated header.
        let mut bad = out.clone();
        bad[field::ERRNO..field::ERRNO + 4].copy_from_slice(&5000u32.to_ne_bytes());
        assert_eq!(ReplyRepr::parse(&bad), Err(WireError::Malformed));
        let mut bad = out.clone();
        bad[12] = 1;
        assert_eq!(ReplyRepr::parse(&bad), Err(WireError::Malformed));
        assert_eq!(ReplyRepr::parse(&out[..10]), Err(WireError::Truncated));
        // An unknown operation, a split beyond the payload.
        let mut req = Vec::new();
        RequestRepr::new(1, Op::Read, 0, [0; 3], 0, b"")
            .unwrap()
            .emit(&mut req);
        let mut bad = req.clone();
        bad[field::OP] = 0;
        assert_eq!(RequestRepr::parse(&bad), Err(WireError::Malformed));
        bad[field::OP] = Op::ALL.len() as u8 + 1;
        assert_eq!(RequestRepr::parse(&bad), Err(WireError::Malformed));
        let mut bad = req;
        bad[field::SPLIT] = 1;
        assert_eq!(RequestRepr::parse(&bad), Err(WireError::Malformed));
        assert_eq!(
            RequestRepr::new(1, Op::Write, 0, [0; 3], 0, &vec![0; MAX_PAYLOAD + 1]),
            Err(WireError::NoSpace)
        );
    }

    #[test]
    fn a_frame_length_out_of_bounds_is_refused_before_reading_it() {
        let mut buf = Vec::new();
        for len in [
            0u32,
            3,
            (REPLY_HEADER - 4 + MAX_PAYLOAD + 1) as u32,
            u32::MAX,
        ] {
            let bytes = len.to_ne_bytes();
            let e = read_frame(&mut &bytes[..], REPLY_HEADER, &mut buf).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        }
        assert!(!read_frame(&mut &[][..], REPLY_HEADER, &mut buf).unwrap());
        let cut = ((REPLY_HEADER - 4) as u32).to_ne_bytes();
        let e = read_frame(&mut &cut[..], REPLY_HEADER, &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }
}
