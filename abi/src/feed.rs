//! The feed: what an instrumented filesystem tells inotifyd, and what inotifyd tells it back.
//!
//! A filesystem reports *facts* (a name was created, an inode lost a link, a handle opened for
//! writing was closed), never inotify events: turning facts into events is the engine's job.
//! The daemon pulls facts by reading the feed handle (`dup(fs_fd, "inotify-feed")`); each
//! `read` returns one [`Batch`]. The daemon writes [`Interest`] messages to the same handle so
//! the filesystem only records facts about watched inodes and the children of watched
//! directories.
//!
//! All integers are native-endian. Batch layout (24-byte header, then records):
//!
//! ```text
//! offset size field
//!      0    4 magic      BATCH_MAGIC
//!      4    2 version    VERSION
//!      6    2 header_len BATCH_HEADER_LEN
//!      8    8 first_seq  sequence number of the first record; +1 per record
//!     16    4 count      number of records
//!     20    4 total_len  header + records, bytes
//! ```
//!
//! Record layout (48-byte header, names, zero padding to a multiple of 8):
//!
//! ```text
//! offset size field
//!      0    1 kind       Kind
//!      1    1 flags      F_* bits
//!      2    2 name_len   bytes of name  (0..=NAME_MAX)
//!      4    2 name2_len  bytes of name2 (only Renamed: the new name)
//!      6    2 rec_len    total record bytes = roundup(48 + name_len + name2_len, 8)
//!      8    8 ino        the inode the fact is about
//!     16    8 dir        parent directory inode of `name` (0 = unknown)
//!     24    8 aux        Unlinked: links left; Renamed: new parent; Lost: records dropped
//!     32    8 aux2       Renamed: replaced inode (with F_REPLACED)
//!     40    8 aux3       Renamed: links left on the replaced inode
//!     48    . name, name2, padding
//! ```
//!
//! Flag bits are per kind: bit 1 is `F_FREED` on `Unlinked` and `F_DETACHED` on `Opened`,
//! `Accessed`, `Modified` and `Closed`; every other kind must leave it clear. A parser
//! refuses a bit the record's kind does not define.

use crate::consts::NAME_MAX;
use crate::{get_u16, get_u32, get_u64, put, WireError};

/// `"INFD"` read as a little-endian `u32`.
pub const BATCH_MAGIC: u32 = u32::from_le_bytes(*b"INFD");
/// Feed format version.
pub const VERSION: u16 = 1;
/// Size of the batch header.
pub const BATCH_HEADER_LEN: usize = 24;
/// Size of a record header.
pub const RECORD_HEADER_LEN: usize = 48;
/// Largest record: header and two names of `NAME_MAX` bytes, padded.
pub const MAX_RECORD_LEN: usize = (RECORD_HEADER_LEN + 2 * NAME_MAX).div_ceil(8) * 8;

/// The subject is a directory.
pub const F_ISDIR: u8 = 1 << 0;
/// Unlinked: the inode is gone now: no links left and no open handle holds the removed
/// name (handles opened through other, earlier removed names may still hold the inode).
pub const F_FREED: u8 = 1 << 1;
/// Opened, Accessed, Modified, Closed: the name the handle was opened through has been
/// removed (unlinked, or replaced by a rename) since; Linux's `d_unlinked()` on the open
/// file's dentry. IN_EXCL_UNLINK watches skip such facts. Same bit as [`F_FREED`], which
/// only `Unlinked` uses.
pub const F_DETACHED: u8 = 1 << 1;
/// Closed: the handle had been opened for writing.
pub const F_WROTE: u8 = 1 << 2;
/// Times: the access time was set.
pub const F_ATIME: u8 = 1 << 3;
/// Times: the modification time was set.
pub const F_MTIME: u8 = 1 << 4;
/// Renamed: an existing target was replaced (aux2, aux3 are valid).
pub const F_REPLACED: u8 = 1 << 5;
/// Renamed: the replaced target is a directory.
pub const F_REPLACED_ISDIR: u8 = 1 << 6;
/// Renamed: the replaced target is gone now (see [`Replaced::freed`]).
pub const F_REPLACED_FREED: u8 = 1 << 7;

/// Record kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A name was created for a new inode (file, directory, symlink, node).
    Created = 1,
    /// A hard link: a new name for an existing inode.
    Linked = 2,
    /// A name was removed.
    Unlinked = 3,
    /// A name was moved, possibly over an existing one.
    Renamed = 4,
    /// The last handle holding a removed name of an inode with no links left was closed.
    Freed = 5,
    /// An inode was opened.
    Opened = 6,
    /// An inode was read (or a directory listed).
    Accessed = 7,
    /// An inode's contents changed (write, truncate).
    Modified = 8,
    /// An inode's metadata changed (mode, owner).
    Attrib = 9,
    /// An inode's times were set (flags say which).
    Times = 10,
    /// A handle on an inode was closed.
    Closed = 11,
    /// The filesystem was unmounted.
    Unmounted = 12,
    /// The producer dropped records (aux says how many).
    Lost = 13,
}

impl Kind {
    /// The kind for a raw byte, if any.
    pub fn from_raw(raw: u8) -> Option<Kind> {
        use Kind::*;
        Some(match raw {
            1 => Created,
            2 => Linked,
            3 => Unlinked,
            4 => Renamed,
            5 => Freed,
            6 => Opened,
            7 => Accessed,
            8 => Modified,
            9 => Attrib,
            10 => Times,
            11 => Closed,
            12 => Unmounted,
            13 => Lost,
            _ => return None,
        })
    }
}

/// An inode named through the handle or path it was reached by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    /// The inode.
    pub ino: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Its parent directory, 0 when unknown.
    pub dir: u64,
    /// Its name in `dir`, empty when unknown.
    pub name: &'a [u8],
    /// The handle's name was removed since it was opened ([`F_DETACHED`]). Only `Opened`,
    /// `Accessed`, `Modified` and `Closed` carry it; it must be `false` in `Attrib` and
    /// `Times` (Linux reports attribute changes without the open file's path, so they reach
    /// IN_EXCL_UNLINK watches), where `emit` refuses it.
    pub detached: bool,
}

/// The target a rename replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replaced {
    /// The replaced inode.
    pub ino: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Links it has left.
    pub links_left: u64,
    /// Whether it is gone now: no links left and no open handle holds the replaced name
    /// (else a `Freed` follows when the last handle holding it closes).
    pub freed: bool,
}

/// One fact, parsed. Names borrow from the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact<'a> {
    /// `name` in `dir` was created for the new inode `ino`.
    Created {
        /// Parent directory.
        dir: u64,
        /// New name.
        name: &'a [u8],
        /// New inode.
        ino: u64,
        /// Whether it is a directory.
        is_dir: bool,
    },
    /// `name` in `dir` was linked to the existing inode `ino`.
    Linked {
        /// Parent directory.
        dir: u64,
        /// New name.
        name: &'a [u8],
        /// Existing inode.
        ino: u64,
    },
    /// `name` was removed from `dir`.
    Unlinked {
        /// Parent directory.
        dir: u64,
        /// Removed name.
        name: &'a [u8],
        /// The inode it named.
        ino: u64,
        /// Whether it is a directory.
        is_dir: bool,
        /// Links the inode has left.
        links_left: u64,
        /// Whether the inode is gone now: no links left and no open handle holds this very
        /// name (else a `Freed` follows when the last handle holding it closes).
        freed: bool,
    },
    /// `old_name` in `old_dir` became `new_name` in `new_dir`.
    Renamed {
        /// Old parent.
        old_dir: u64,
        /// Old name.
        old_name: &'a [u8],
        /// New parent.
        new_dir: u64,
        /// New name.
        new_name: &'a [u8],
        /// The moved inode.
        ino: u64,
        /// Whether it is a directory.
        is_dir: bool,
        /// The target that was replaced, if any.
        replaced: Option<Replaced>,
    },
    /// The last open handle holding a removed name of an inode with no links left was
    /// closed (Linux: that name's dentry is released while `i_nlink == 0`). One inode can
    /// get several, one per such name; the first (or an `Unlinked` with `freed`) ends its
    /// watches, later ones find none.
    Freed {
        /// The inode.
        ino: u64,
        /// Whether it is a directory.
        is_dir: bool,
    },
    /// Opened.
    Opened(Subject<'a>),
    /// Read, or listed.
    Accessed(Subject<'a>),
    /// Contents changed.
    Modified(Subject<'a>),
    /// Mode or owner changed.
    Attrib(Subject<'a>),
    /// Times set.
    Times {
        /// The inode.
        at: Subject<'a>,
        /// Access time set.
        atime: bool,
        /// Modification time set.
        mtime: bool,
    },
    /// A handle was closed.
    Closed {
        /// The inode.
        at: Subject<'a>,
        /// The handle had been opened for writing.
        wrote: bool,
    },
    /// The filesystem was unmounted.
    Unmounted,
    /// The producer dropped `count` records.
    Lost {
        /// Records dropped.
        count: u64,
    },
}

/// Raw record fields, the common shape every fact maps to.
#[derive(Default, Clone, Copy)]
struct Raw<'a> {
    kind: u8,
    flags: u8,
    ino: u64,
    dir: u64,
    aux: u64,
    aux2: u64,
    aux3: u64,
    name: &'a [u8],
    name2: &'a [u8],
}

fn flag(on: bool, bit: u8) -> u8 {
    if on {
        bit
    } else {
        0
    }
}

fn subject_raw<'a>(kind: Kind, at: &Subject<'a>, extra: u8) -> Raw<'a> {
    Raw {
        kind: kind as u8,
        flags: flag(at.is_dir, F_ISDIR) | flag(at.detached, F_DETACHED) | extra,
        ino: at.ino,
        dir: at.dir,
        name: at.name,
        ..Raw::default()
    }
}

/// The flag bits a record of `kind` may carry.
fn allowed_flags(kind: Kind) -> u8 {
    match kind {
        Kind::Created | Kind::Freed | Kind::Attrib => F_ISDIR,
        Kind::Opened | Kind::Accessed | Kind::Modified => F_ISDIR | F_DETACHED,
        Kind::Linked | Kind::Unmounted | Kind::Lost => 0,
        Kind::Unlinked => F_ISDIR | F_FREED,
        Kind::Renamed => F_ISDIR | F_REPLACED | F_REPLACED_ISDIR | F_REPLACED_FREED,
        Kind::Times => F_ISDIR | F_ATIME | F_MTIME,
        Kind::Closed => F_ISDIR | F_WROTE | F_DETACHED,
    }
}

/// `0x01` in every byte of a word.
const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// `0x80` in every byte of a word.
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
/// `'/'` in every byte of a word.
const SLASHES: u64 = u64::from_ne_bytes([b'/'; 8]);

/// Whether some byte of `w` is NUL or `'/'`: the "word has a zero byte" test on `w` and on
/// `w ^ SLASHES` (exact for the yes/no answer: a byte can only borrow into the bytes above a
/// true zero byte).
#[inline]
fn has_nul_or_slash(w: u64) -> bool {
    let s = w ^ SLASHES;
    ((w.wrapping_sub(ONES) & !w) | (s.wrapping_sub(ONES) & !s)) & HIGHS != 0
}

/// Whether `name` can be a directory entry name: at most `NAME_MAX` bytes, no NUL, no `/`.
/// Checks 8 bytes per step; the last partial word is filled with a harmless byte.
#[inline]
fn valid_name(name: &[u8]) -> bool {
    if name.len() > NAME_MAX {
        return false;
    }
    let mut words = name.chunks_exact(8);
    for chunk in &mut words {
        let w = u64::from_ne_bytes(chunk.try_into().expect("8-byte chunk"));
        if has_nul_or_slash(w) {
            return false;
        }
    }
    let tail = words.remainder();
    if tail.is_empty() {
        return true;
    }
    let mut last = [b'a'; 8];
    last[..tail.len()].copy_from_slice(tail);
    !has_nul_or_slash(u64::from_ne_bytes(last))
}

impl<'a> Fact<'a> {
    fn to_raw(self) -> Raw<'a> {
        match self {
            Fact::Created {
                dir,
                name,
                ino,
                is_dir,
            } => Raw {
                kind: Kind::Created as u8,
                flags: flag(is_dir, F_ISDIR),
                ino,
                dir,
                name,
                ..Raw::default()
            },
            Fact::Linked { dir, name, ino } => Raw {
                kind: Kind::Linked as u8,
                ino,
                dir,
                name,
                ..Raw::default()
            },
            Fact::Unlinked {
                dir,
                name,
                ino,
                is_dir,
                links_left,
                freed,
            } => Raw {
                kind: Kind::Unlinked as u8,
                flags: flag(is_dir, F_ISDIR) | flag(freed, F_FREED),
                ino,
                dir,
                aux: links_left,
                name,
                ..Raw::default()
            },
            Fact::Renamed {
                old_dir,
                old_name,
                new_dir,
                new_name,
                ino,
                is_dir,
                replaced,
            } => {
                let mut raw = Raw {
                    kind: Kind::Renamed as u8,
                    flags: flag(is_dir, F_ISDIR),
                    ino,
                    dir: old_dir,
                    aux: new_dir,
                    name: old_name,
                    name2: new_name,
                    ..Raw::default()
                };
                if let Some(r) = replaced {
                    raw.flags |= F_REPLACED
                        | flag(r.is_dir, F_REPLACED_ISDIR)
                        | flag(r.freed, F_REPLACED_FREED);
                    raw.aux2 = r.ino;
                    raw.aux3 = r.links_left;
                }
                raw
            }
            Fact::Freed { ino, is_dir } => Raw {
                kind: Kind::Freed as u8,
                flags: flag(is_dir, F_ISDIR),
                ino,
                ..Raw::default()
            },
            Fact::Opened(at) => subject_raw(Kind::Opened, &at, 0),
            Fact::Accessed(at) => subject_raw(Kind::Accessed, &at, 0),
            Fact::Modified(at) => subject_raw(Kind::Modified, &at, 0),
            Fact::Attrib(at) => subject_raw(Kind::Attrib, &at, 0),
            Fact::Times { at, atime, mtime } => subject_raw(
                Kind::Times,
                &at,
                flag(atime, F_ATIME) | flag(mtime, F_MTIME),
            ),
            Fact::Closed { at, wrote } => subject_raw(Kind::Closed, &at, flag(wrote, F_WROTE)),
            Fact::Unmounted => Raw {
                kind: Kind::Unmounted as u8,
                ..Raw::default()
            },
            Fact::Lost { count } => Raw {
                kind: Kind::Lost as u8,
                aux: count,
                ..Raw::default()
            },
        }
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        let raw = self.to_raw();
        (RECORD_HEADER_LEN + raw.name.len() + raw.name2.len()).div_ceil(8) * 8
    }

    /// Writes the record at the start of `out`; returns its length. Names longer than
    /// `NAME_MAX` or containing NUL or `/`, and a detached `Attrib` or `Times` subject, are
    /// `Malformed`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let raw = self.to_raw();
        if !valid_name(raw.name) || !valid_name(raw.name2) {
            return Err(WireError::Malformed);
        }
        let kind = Kind::from_raw(raw.kind).ok_or(WireError::Malformed)?;
        if raw.flags & !allowed_flags(kind) != 0 {
            return Err(WireError::Malformed);
        }
        let body = RECORD_HEADER_LEN + raw.name.len() + raw.name2.len();
        let total = body.div_ceil(8) * 8;
        if out.len() < total {
            return Err(WireError::NoSpace);
        }
        out[0] = raw.kind;
        out[1] = raw.flags;
        put(out, 2, &(raw.name.len() as u16).to_ne_bytes());
        put(out, 4, &(raw.name2.len() as u16).to_ne_bytes());
        put(out, 6, &(total as u16).to_ne_bytes());
        put(out, 8, &raw.ino.to_ne_bytes());
        put(out, 16, &raw.dir.to_ne_bytes());
        put(out, 24, &raw.aux.to_ne_bytes());
        put(out, 32, &raw.aux2.to_ne_bytes());
        put(out, 40, &raw.aux3.to_ne_bytes());
        put(out, RECORD_HEADER_LEN, raw.name);
        put(out, RECORD_HEADER_LEN + raw.name.len(), raw.name2);
        out[body..total].fill(0);
        Ok(total)
    }

    /// Parses the record at the start of `buf`; returns the fact and the record length.
    /// Every field is validated: unknown kinds or flags, bad lengths, names with NUL or `/`,
    /// or names where the kind has none, are `Malformed`.
    #[inline]
    pub fn parse(buf: &'a [u8]) -> Result<(Fact<'a>, usize), WireError> {
        let Some(h) = buf.first_chunk::<RECORD_HEADER_LEN>() else {
            return Err(WireError::Truncated);
        };
        let u16_at = |at: usize| u16::from_ne_bytes([h[at], h[at + 1]]) as usize;
        let u64_at = |at: usize| {
            u64::from_ne_bytes([
                h[at],
                h[at + 1],
                h[at + 2],
                h[at + 3],
                h[at + 4],
                h[at + 5],
                h[at + 6],
                h[at + 7],
            ])
        };
        let kind = Kind::from_raw(h[0]).ok_or(WireError::Malformed)?;
        let flags = h[1];
        let n1 = u16_at(2);
        let n2 = u16_at(4);
        let rec_len = u16_at(6);
        if n1 > NAME_MAX || n2 > NAME_MAX {
            return Err(WireError::Malformed);
        }
        let body = RECORD_HEADER_LEN + n1 + n2;
        if rec_len != body.div_ceil(8) * 8 {
            return Err(WireError::Malformed);
        }
        if buf.len() < rec_len {
            return Err(WireError::Truncated);
        }
        let name = &buf[RECORD_HEADER_LEN..RECORD_HEADER_LEN + n1];
        let name2 = &buf[RECORD_HEADER_LEN + n1..body];
        if !valid_name(name) || !valid_name(name2) {
            return Err(WireError::Malformed);
        }
        let ino = u64_at(8);
        let dir = u64_at(16);
        let aux = u64_at(24);
        let aux2 = u64_at(32);
        let aux3 = u64_at(40);
        let is_dir = flags & F_ISDIR != 0;
        if flags & !allowed_flags(kind) != 0 {
            return Err(WireError::Malformed);
        }
        let named = matches!(
            kind,
            Kind::Created | Kind::Linked | Kind::Unlinked | Kind::Renamed
        );
        let subject = matches!(
            kind,
            Kind::Opened
                | Kind::Accessed
                | Kind::Modified
                | Kind::Attrib
                | Kind::Times
                | Kind::Closed
        );
        if (named && n1 == 0)
            || (kind == Kind::Renamed) != (n2 != 0)
            || (!named && !subject && n1 != 0)
        {
            return Err(WireError::Malformed);
        }
        let at = Subject {
            ino,
            is_dir,
            dir,
            name,
            detached: flags & F_DETACHED != 0,
        };
        let fact = match kind {
            Kind::Created => Fact::Created {
                dir,
                name,
                ino,
                is_dir,
            },
            Kind::Linked => Fact::Linked { dir, name, ino },
            Kind::Unlinked => Fact::Unlinked {
                dir,
                name,
                ino,
                is_dir,
                links_left: aux,
                freed: flags & F_FREED != 0,
            },
            Kind::Renamed => Fact::Renamed {
                old_dir: dir,
                old_name: name,
                new_dir: aux,
                new_name: name2,
                ino,
                is_dir,
                replaced: (flags & F_REPLACED != 0).then_some(Replaced {
                    ino: aux2,
                    is_dir: flags & F_REPLACED_ISDIR != 0,
                    links_left: aux3,
                    freed: flags & F_REPLACED_FREED != 0,
                }),
            },
            Kind::Freed => Fact::Freed { ino, is_dir },
            Kind::Opened => Fact::Opened(at),
            Kind::Accessed => Fact::Accessed(at),
            Kind::Modified => Fact::Modified(at),
            Kind::Attrib => Fact::Attrib(at),
            Kind::Times => Fact::Times {
                at,
                atime: flags & F_ATIME != 0,
                mtime: flags & F_MTIME != 0,
            },
            Kind::Closed => Fact::Closed {
                at,
                wrote: flags & F_WROTE != 0,
            },
            Kind::Unmounted => Fact::Unmounted,
            Kind::Lost => Fact::Lost { count: aux },
        };
        Ok((fact, rec_len))
    }
}

/// A parsed batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Sequence number of the first record.
    pub first_seq: u64,
    /// Number of records.
    pub count: u32,
    /// Header plus records, bytes.
    pub total_len: u32,
}

impl BatchHeader {
    /// Writes the header at the start of `out`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if out.len() < BATCH_HEADER_LEN {
            return Err(WireError::NoSpace);
        }
        put(out, 0, &BATCH_MAGIC.to_ne_bytes());
        put(out, 4, &VERSION.to_ne_bytes());
        put(out, 6, &(BATCH_HEADER_LEN as u16).to_ne_bytes());
        put(out, 8, &self.first_seq.to_ne_bytes());
        put(out, 16, &self.count.to_ne_bytes());
        put(out, 20, &self.total_len.to_ne_bytes());
        Ok(BATCH_HEADER_LEN)
    }
}

/// A checked view of one batch.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    header: BatchHeader,
    records: &'a [u8],
}

impl<'a> Batch<'a> {
    /// Validates the header of the batch at the start of `buf` (magic, version, lengths).
    /// Records are validated one by one as they are iterated.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < BATCH_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if get_u32(buf, 0) != BATCH_MAGIC
            || get_u16(buf, 4) != VERSION
            || get_u16(buf, 6) as usize != BATCH_HEADER_LEN
        {
            return Err(WireError::Malformed);
        }
        let header = BatchHeader {
            first_seq: get_u64(buf, 8),
            count: get_u32(buf, 16),
            total_len: get_u32(buf, 20),
        };
        let total = header.total_len as usize;
        if total < BATCH_HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if total > buf.len() {
            return Err(WireError::Truncated);
        }
        Ok(Batch {
            header,
            records: &buf[BATCH_HEADER_LEN..total],
        })
    }

    /// The header.
    pub fn header(&self) -> BatchHeader {
        self.header
    }

    /// The records, each parsed and validated; iteration stops after the first error or after
    /// `count` records.
    pub fn facts(&self) -> Facts<'a> {
        Facts {
            rest: self.records,
            left: self.header.count,
            failed: false,
        }
    }
}

/// Iterator over the facts of a batch.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    rest: &'a [u8],
    left: u32,
    failed: bool,
}

impl<'a> Iterator for Facts<'a> {
    type Item = Result<Fact<'a>, WireError>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.left == 0 {
            return None;
        }
        self.left -= 1;
        match Fact::parse(self.rest) {
            Ok((fact, len)) => {
                self.rest = &self.rest[len..];
                Some(Ok(fact))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Size of one interest entry.
pub const INTEREST_LEN: usize = 16;
/// Opcode of [`Interest::Add`].
pub const INTEREST_ADD: u32 = 1;
/// Opcode of [`Interest::Remove`].
pub const INTEREST_REMOVE: u32 = 2;
/// Opcode of [`Interest::Clear`].
pub const INTEREST_CLEAR: u32 = 3;

/// One interest message, daemon -> filesystem. A `write` carries a whole number of 16-byte
/// entries:
///
/// ```text
/// offset size field
///      0    4 op       INTEREST_ADD / INTEREST_REMOVE / INTEREST_CLEAR
///      4    4 reserved 0
///      8    8 ino      the inode (0 for Clear)
/// ```
///
/// An inode in the set is watched: facts about it, and about names in it when it is a
/// directory, are recorded. Add and Remove are counted (an inode stays while one Add is not
/// matched by a Remove).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Start recording facts about `ino` (and its children).
    Add(u64),
    /// Stop, once every Add is matched.
    Remove(u64),
    /// Forget the whole set.
    Clear,
}

impl Interest {
    /// Parses one 16-byte entry.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        if buf.len() < INTEREST_LEN {
            return Err(WireError::Truncated);
        }
        let ino = get_u64(buf, 8);
        if get_u32(buf, 4) != 0 {
            return Err(WireError::Malformed);
        }
        match get_u32(buf, 0) {
            INTEREST_ADD => Ok(Interest::Add(ino)),
            INTEREST_REMOVE => Ok(Interest::Remove(ino)),
            INTEREST_CLEAR if ino == 0 => Ok(Interest::Clear),
            _ => Err(WireError::Malformed),
        }
    }

    /// Writes one entry at the start of `out`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if out.len() < INTEREST_LEN {
            return Err(WireError::NoSpace);
        }
        let (op, ino) = match *self {
            Interest::Add(ino) => (INTEREST_ADD, ino),
            Interest::Remove(ino) => (INTEREST_REMOVE, ino),
            Interest::Clear => (INTEREST_CLEAR, 0),
        };
        put(out, 0, &op.to_ne_bytes());
        put(out, 4, &0u32.to_ne_bytes());
        put(out, 8, &ino.to_ne_bytes());
        Ok(INTEREST_LEN)
    }

    /// Parses a whole message; a length that is not a multiple of 16 is `Truncated`.
    pub fn parse_all(buf: &[u8]) -> impl Iterator<Item = Result<Interest, WireError>> + '_ {
        let bad_len = !buf.len().is_multiple_of(INTEREST_LEN);
        let first_err = bad_len.then_some(Err(WireError::Truncated));
        first_err.into_iter().chain(
            buf.chunks_exact(INTEREST_LEN)
                .take(if bad_len { 0 } else { usize::MAX })
                .map(Interest::parse),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> [Fact<'static>; 17] {
        let at = Subject {
            ino: 7,
            is_dir: false,
            dir: 2,
            name: b"f",
            detached: false,
        };
        let gone = Subject {
            detached: true,
            ..at
        };
        [
            Fact::Created {
                dir: 2,
                name: b"new",
                ino: 9,
                is_dir: true,
            },
            Fact::Linked {
                dir: 2,
                name: b"ln",
                ino: 9,
            },
            Fact::Unlinked {
                dir: 2,
                name: b"x",
                ino: 9,
                is_dir: false,
                links_left: 1,
                freed: false,
            },
            Fact::Renamed {
                old_dir: 2,
                old_name: b"a",
                new_dir: 3,
                new_name: b"bbbbbbbbbbbb",
                ino: 9,
                is_dir: false,
                replaced: Some(Replaced {
                    ino: 11,
                    is_dir: false,
                    links_left: 0,
                    freed: true,
                }),
            },
            Fact::Renamed {
                old_dir: 2,
                old_name: b"a",
                new_dir: 2,
                new_name: b"b",
                ino: 9,
                is_dir: true,
                replaced: None,
            },
            Fact::Freed {
                ino: 9,
                is_dir: false,
            },
            Fact::Opened(at),
            Fact::Accessed(Subject {
                ino: 2,
                is_dir: true,
                dir: 0,
                name: b"",
                detached: false,
            }),
            Fact::Modified(at),
            Fact::Opened(gone),
            Fact::Modified(gone),
            Fact::Closed {
                at: gone,
                wrote: false,
            },
            Fact::Attrib(at),
            Fact::Times {
                at,
                atime: true,
                mtime: false,
            },
            Fact::Closed { at, wrote: true },
            Fact::Unmounted,
            Fact::Lost { count: 12 },
        ]
    }

    #[test]
    fn facts_round_trip() {
        for fact in samples() {
            let mut buf = [0xaau8; MAX_RECORD_LEN];
            let n = fact.emit(&mut buf).unwrap();
            assert_eq!(n, fact.buffer_len());
            assert_eq!(n % 8, 0);
            assert_eq!(Fact::parse(&buf[..n]), Ok((fact, n)));
        }
    }

    #[test]
    fn batch_round_trip() {
        let mut buf = [0u8; 4096];
        let mut at = BATCH_HEADER_LEN;
        for fact in samples() {
            at += fact.emit(&mut buf[at..]).unwrap();
        }
        BatchHeader {
            first_seq: 40,
            count: 17,
            total_len: at as u32,
        }
        .emit(&mut buf)
        .unwrap();
        let batch = Batch::new_checked(&buf[..at]).unwrap();
        assert_eq!(batch.header().first_seq, 40);
        let parsed: usize = batch
            .facts()
            .zip(samples())
            .map(|(a, b)| assert_eq!(a, Ok(b)))
            .count();
        assert_eq!(parsed, 17);
    }

    #[test]
    fn valid_name_matches_a_bytewise_check() {
        let bytewise = |n: &[u8]| n.len() <= NAME_MAX && n.iter().all(|&b| b != 0 && b != b'/');
        for len in 0..=24 {
            let base = [b'a'; 24];
            assert!(valid_name(&base[..len]));
            for at in 0..len {
                for bad in [0u8, b'/', 0x2e, 0x30, 0x80, 0xaf, 0xff, 0x01] {
                    let mut name = base;
                    name[at] = bad;
                    assert_eq!(valid_name(&name[..len]), bytewise(&name[..len]), "{name:?}");
                }
            }
        }
        assert!(valid_name(&[0xff; NAME_MAX]));
        assert!(!valid_name(&[b'a'; NAME_MAX + 1]));
        let mut last = [b'a'; NAME_MAX];
        last[NAME_MAX - 1] = b'/';
        assert!(!valid_name(&last));
    }

    #[test]
    fn malformed_records_are_refused() {
        let mut buf = [0u8; 128];
        let n = Fact::Created {
            dir: 1,
            name: b"ab",
            ino: 2,
            is_dir: false,
        }
        .emit(&mut buf)
        .unwrap();
        let mut bad = buf;
        bad[0] = 99;
        assert_eq!(Fact::parse(&bad[..n]), Err(WireError::Malformed));
        let mut bad = buf;
        bad[1] = F_WROTE;
        assert_eq!(Fact::parse(&bad[..n]), Err(WireError::Malformed));
        let mut bad = buf;
        bad[RECORD_HEADER_LEN] = b'/';
        assert_eq!(Fact::parse(&bad[..n]), Err(WireError::Malformed));
        let mut bad = buf;
        bad[6] = 8;
        assert_eq!(Fact::parse(&bad[..n]), Err(WireError::Malformed));
        let mut bad = buf;
        bad[2] = 0; // Created without a name
        bad[6] = RECORD_HEADER_LEN as u8;
        assert_eq!(
            Fact::parse(&bad[..RECORD_HEADER_LEN]),
            Err(WireError::Malformed)
        );
        assert_eq!(Fact::parse(&buf[..n - 1]), Err(WireError::Truncated));
        assert_eq!(Fact::parse(&buf[..10]), Err(WireError::Truncated));
        let long = [b'a'; NAME_MAX + 1];
        let f = Fact::Created {
            dir: 1,
            name: &long,
            ino: 2,
            is_dir: false,
        };
        assert_eq!(f.emit(&mut [0u8; 512]), Err(WireError::Malformed));
    }

    #[test]
    fn detached_is_only_valid_on_handle_facts() {
        let at = Subject {
            ino: 7,
            is_dir: false,
            dir: 2,
            name: b"f",
            detached: true,
        };
        let mut buf = [0u8; 128];
        let n = Fact::Accessed(at).emit(&mut buf).unwrap();
        assert_eq!(buf[1], F_DETACHED);
        assert_eq!(Fact::parse(&buf[..n]), Ok((Fact::Accessed(at), n)));
        // Attribute changes never carry it: emit and parse refuse it.
        assert_eq!(Fact::Attrib(at).emit(&mut buf), Err(WireError::Malformed));
        let times = Fact::Times {
            at,
            atime: true,
            mtime: true,
        };
        assert_eq!(times.emit(&mut buf), Err(WireError::Malformed));
        let plain = Subject {
            detached: false,
            ..at
        };
        let n = Fact::Attrib(plain).emit(&mut buf).unwrap();
        buf[1] |= F_DETACHED;
        assert_eq!(Fact::parse(&buf[..n]), Err(WireError::Malformed));
        // On Unlinked the same bit is F_FREED; on Freed it is undefined.
        let n = Fact::Freed {
            ino: 7,
            is_dir: false,
        }
        .emit(&mut buf)
        .unwrap();
        buf[1] = F_FREED;
        assert_eq!(Fact::parse(&buf[..n]), Err(WireError::Malformed));
    }

    #[test]
    fn malformed_batches_are_refused() {
        let mut buf = [0u8; 64];
        BatchHeader {
            first_seq: 0,
            count: 0,
            total_len: 24,
        }
        .emit(&mut buf)
        .unwrap();
        assert!(Batch::new_checked(&buf[..24]).is_ok());
        assert_eq!(
            Batch::new_checked(&buf[..20]).unwrap_err(),
            WireError::Truncated
        );
        let mut bad = buf;
        bad[0] ^= 1;
        assert_eq!(Batch::new_checked(&bad).unwrap_err(), WireError::Malformed);
        BatchHeader {
            first_seq: 0,
            count: 1,
            total_len: 100,
        }
        .emit(&mut buf)
        .unwrap();
        assert_eq!(Batch::new_checked(&buf).unwrap_err(), WireError::Truncated);
        BatchHeader {
            first_seq: 0,
            count: 3,
            total_len: 24,
        }
        .emit(&mut buf)
        .unwrap();
        let b = Batch::new_checked(&buf).unwrap();
        let mut it = b.facts();
        assert_eq!(it.next(), Some(Err(WireError::Truncated)));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn interest_round_trip_and_errors() {
        let mut buf = [0u8; 48];
        let msgs = [Interest::Add(5), Interest::Remove(5), Interest::Clear];
        for (i, m) in msgs.iter().enumerate() {
            m.emit(&mut buf[i * 16..]).unwrap();
        }
        let parsed: [Interest; 3] = {
            let mut it = Interest::parse_all(&buf).map(Result::unwrap);
            [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(parsed, msgs);
        assert_eq!(
            Interest::parse_all(&buf[..17]).next(),
            Some(Err(WireError::Truncated))
        );
        let mut bad = buf;
        bad[0] = 9;
        assert_eq!(Interest::parse(&bad), Err(WireError::Malformed));
    }
}
