//! The `struct inotify_event` record applications read.
//!
//! ```text
//! offset size field
//!      0    4 wd      i32   watch descriptor (-1 for IN_Q_OVERFLOW)
//!      4    4 mask    u32   IN_* bits
//!      8    4 cookie  u32   pairs IN_MOVED_FROM with IN_MOVED_TO
//!     12    4 len     u32   bytes of name that follow (0 or a multiple of 16)
//!     16  len name    NUL-terminated, NUL-padded to roundup(strlen + 1, 16)
//! ```
//! Native byte order, as Linux. The offsets are named in [`field`].

use crate::{get_u32, put, WireError};

/// Size of the fixed record header.
pub const HEADER_LEN: usize = 16;
/// Names are padded to a multiple of this (Linux pads to 16 bytes).
pub const NAME_ALIGN: usize = 16;

/// Byte offsets of a record's fields (sizes in the module doc's table).
pub mod field {
    /// `i32`: watch descriptor.
    pub const WD: usize = 0;
    /// `u32`: `IN_*` bits.
    pub const MASK: usize = 4;
    /// `u32`: rename cookie.
    pub const COOKIE: usize = 8;
    /// `u32`: bytes of (padded) name that follow the header.
    pub const LEN: usize = 12;
    /// The name.
    pub const NAME: usize = 16;
}

const _: () = assert!(field::NAME == HEADER_LEN);

/// `len` field for a name of `name_len` bytes: 0 without a name, else `roundup(name_len + 1, 16)`.
#[inline]
pub const fn padded_name_len(name_len: usize) -> usize {
    if name_len == 0 {
        0
    } else {
        (name_len + 1).div_ceil(NAME_ALIGN) * NAME_ALIGN
    }
}

/// Total record size for a name of `name_len` bytes.
#[inline]
pub const fn record_len(name_len: usize) -> usize {
    HEADER_LEN + padded_name_len(name_len)
}

/// A checked view of one event record at the start of a buffer.
#[derive(Debug, Clone, Copy)]
pub struct Event<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Event<T> {
    /// Validates that `buf` starts with a complete record (header and `len` name bytes).
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = get_u32(b, field::LEN) as usize;
        if b.len() - HEADER_LEN < len {
            return Err(WireError::Truncated);
        }
        Ok(Event { buf })
    }

    /// Watch descriptor.
    pub fn wd(&self) -> i32 {
        get_u32(self.buf.as_ref(), field::WD) as i32
    }
    /// Event mask.
    pub fn mask(&self) -> u32 {
        get_u32(self.buf.as_ref(), field::MASK)
    }
    /// Rename cookie (0 when not a move).
    pub fn cookie(&self) -> u32 {
        get_u32(self.buf.as_ref(), field::COOKIE)
    }
    /// Padded name length as stored in the record.
    pub fn len(&self) -> u32 {
        get_u32(self.buf.as_ref(), field::LEN)
    }
    /// Whether the record carries no name.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Total bytes of this record.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + self.len() as usize
    }
    /// The name without its NUL padding (empty when there is none).
    pub fn name(&self) -> &[u8] {
        unpadded(&self.buf.as_ref()[field::NAME..self.total_len()])
    }
}

/// A name field without its NUL padding.
fn unpadded(name: &[u8]) -> &[u8] {
    let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
    &name[..end]
}

/// A parsed event record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRepr<'a> {
    /// Watch descriptor.
    pub wd: i32,
    /// Event mask.
    pub mask: u32,
    /// Rename cookie.
    pub cookie: u32,
    /// Name without padding; empty for none.
    pub name: &'a [u8],
}

impl<'a> EventRepr<'a> {
    /// Parses the record at the start of `ev`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(ev: &'a Event<&'a T>) -> Self {
        EventRepr {
            wd: ev.wd(),
            mask: ev.mask(),
            cookie: ev.cookie(),
            name: ev.name(),
        }
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        record_len(self.name.len())
    }

    /// Writes the record with Linux's padding at the start of `out`; returns its length.
    /// A name containing a NUL byte is refused as [`WireError::Malformed`].
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let total = self.buffer_len();
        if out.len() < total {
            return Err(WireError::NoSpace);
        }
        if self.name.contains(&0) {
            return Err(WireError::Malformed);
        }
        put(out, field::WD, &self.wd.to_ne_bytes());
        put(out, field::MASK, &self.mask.to_ne_bytes());
        put(out, field::COOKIE, &self.cookie.to_ne_bytes());
        put(
            out,
            field::LEN,
            &((total - HEADER_LEN) as u32).to_ne_bytes(),
        );
        put(out, field::NAME, self.name);
        out[field::NAME + self.name.len()..total].fill(0);
        Ok(total)
    }
}

/// Iterates over the whole records in a buffer returned by `read`; stops at the first
/// incomplete record.
#[derive(Debug, Clone)]
pub struct Events<'a> {
    rest: &'a [u8],
}

impl<'a> Events<'a> {
    /// Iterates over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Events { rest: buf }
    }
}

impl<'a> Iterator for Events<'a> {
    type Item = EventRepr<'a>;
    fn next(&mut self) -> Option<EventRepr<'a>> {
        let rest: &'a [u8] = self.rest;
        let ev = Event::new_checked(rest).ok()?;
        let total = ev.total_len();
        let name = unpadded(&rest[field::NAME..total]);
        let repr = EventRepr {
            wd: ev.wd(),
            mask: ev.mask(),
            cookie: ev.cookie(),
            name,
        };
        self.rest = &rest[total..];
        Some(repr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_matches_linux() {
        assert_eq!(padded_name_len(0), 0);
        assert_eq!(padded_name_len(1), 16);
        assert_eq!(padded_name_len(15), 16);
        assert_eq!(padded_name_len(16), 32);
        assert_eq!(record_len(3), 32);
    }

    #[test]
    fn round_trip_with_name() {
        let repr = EventRepr {
            wd: 3,
            mask: 0x100,
            cookie: 9,
            name: b"file.txt",
        };
        let mut buf = [0xffu8; 64];
        let n = repr.emit(&mut buf).unwrap();
        assert_eq!(n, 32);
        assert_eq!(&buf[16 + 8..32], &[0u8; 8]);
        let ev = Event::new_checked(&buf[..n]).unwrap();
        assert_eq!(ev.len(), 16);
        assert_eq!(EventRepr::parse(&ev), repr);
    }

    #[test]
    fn fields_sit_at_linux_offsets() {
        // struct inotify_event, offsets written out: a change of layout must fail here.
        let repr = EventRepr {
            wd: -2,
            mask: 0x0102_0304,
            cookie: 0x0506_0708,
            name: b"n",
        };
        let mut buf = [0xaau8; 32];
        repr.emit(&mut buf).unwrap();
        assert_eq!(buf[0..4], (-2i32).to_ne_bytes());
        assert_eq!(buf[4..8], 0x0102_0304u32.to_ne_bytes());
        assert_eq!(buf[8..12], 0x0506_0708u32.to_ne_bytes());
        assert_eq!(buf[12..16], 16u32.to_ne_bytes());
        assert_eq!(buf[16..32], *b"n\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    }

    #[test]
    fn round_trip_without_name() {
        let repr = EventRepr {
            wd: -1,
            mask: 0x4000,
            cookie: 0,
            name: b"",
        };
        let mut buf = [0u8; 16];
        assert_eq!(repr.emit(&mut buf).unwrap(), 16);
        let ev = Event::new_checked(&buf[..]).unwrap();
        assert!(ev.is_empty());
        assert_eq!(EventRepr::parse(&ev), repr);
    }

    #[test]
    fn truncated_input_is_refused() {
        let repr = EventRepr {
            wd: 1,
            mask: 2,
            cookie: 0,
            name: b"abc",
        };
        let mut buf = [0u8; 32];
        repr.emit(&mut buf).unwrap();
        assert_eq!(
            Event::new_checked(&buf[..17]).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            Event::new_checked(&buf[..15]).unwrap_err(),
            WireError::Truncated
        );
    }

    #[test]
    fn emit_refuses_small_buffer_and_nul_names() {
        let mut buf = [0u8; 17];
        let repr = EventRepr {
            wd: 1,
            mask: 2,
            cookie: 0,
            name: b"abc",
        };
        assert_eq!(repr.emit(&mut buf), Err(WireError::NoSpace));
        let bad = EventRepr {
            name: b"a\0b",
            ..repr
        };
        assert_eq!(bad.emit(&mut [0u8; 64]), Err(WireError::Malformed));
    }

    #[test]
    fn iterates_records() {
        let mut buf = [0u8; 80];
        let a = EventRepr {
            wd: 1,
            mask: 0x100,
            cookie: 0,
            name: b"a",
        };
        let b = EventRepr {
            wd: 2,
            mask: 0x400,
            cookie: 0,
            name: b"",
        };
        let n = a.emit(&mut buf).unwrap();
        let m = b.emit(&mut buf[n..]).unwrap();
        let got: [EventRepr; 2] = {
            let mut it = Events::new(&buf[..n + m]);
            [it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(got, [a, b]);
        assert_eq!(Events::new(&buf[..n + m - 1]).count(), 1);
    }
}
