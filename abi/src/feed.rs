//! The feed: what an instrumented filesystem tells inotifyd, and what inotifyd tells it back.
//!
//! A filesystem reports *facts* (a name was created, an inode lost a link, a handle opened for
//! writing was closed), never inotify events: turning facts into events is the engine's job.
//! The daemon pulls facts by reading the feed handle (`dup(fs_fd, "inotify-feed")`); each
//! `read` returns one [`Batch`]. The daemon writes [`Interest`] messages to the same handle so
//! the filesystem only records facts about watched inodes and the children of watched
//! directories.
//!
//! All integers are native-endian. Batch layout (24-byte header, then records; offsets named
//! in [`batch_field`]):
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
//! Record layout (48-byte header, names, zero padding to a multiple of 8; offsets named in
//! [`record_field`]):
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
//!
//! Each wire structure has a checked view and a parsed form, as in [`event`](crate::event):
//! [`Batch`] / [`BatchHeader`], [`Record`] / [`Fact`], [`InterestEntry`] / [`Interest`]. A
//! view's `new_checked` refuses input too short for what it claims (`Truncated`) or with
//! inconsistent lengths (`Malformed`); after it no accessor can panic. The parsed forms
//! validate the values and `emit` writes them back. Every field is read with the crate's
//! one set of native-endian readers, at the offsets named in the `*_field` modules.

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
/// Records are padded to a multiple of this.
pub const RECORD_ALIGN: usize = 8;
/// Largest record: header and two names of `NAME_MAX` bytes, padded.
pub const MAX_RECORD_LEN: usize = record_len(2 * NAME_MAX);

/// Byte offsets of the batch header's fields (sizes in the module doc's table).
pub mod batch_field {
    /// `u32`: [`BATCH_MAGIC`](super::BATCH_MAGIC).
    pub const MAGIC: usize = 0;
    /// `u16`: [`VERSION`](super::VERSION).
    pub const VERSION: usize = 4;
    /// `u16`: [`BATCH_HEADER_LEN`](super::BATCH_HEADER_LEN).
    pub const HEADER_LEN: usize = 6;
    /// `u64`: sequence number of the first record.
    pub const FIRST_SEQ: usize = 8;
    /// `u32`: number of records.
    pub const COUNT: usize = 16;
    /// `u32`: header plus records, bytes.
    pub const TOTAL_LEN: usize = 20;
    /// The first record.
    pub const RECORDS: usize = 24;
}

/// Byte offsets of a record's fields (sizes in the module doc's table).
pub mod record_field {
    /// `u8`: the [`Kind`](super::Kind).
    pub const KIND: usize = 0;
    /// `u8`: `F_*` bits.
    pub const FLAGS: usize = 1;
    /// `u16`: bytes of the first name.
    pub const NAME_LEN: usize = 2;
    /// `u16`: bytes of the second name.
    pub const NAME2_LEN: usize = 4;
    /// `u16`: total record bytes.
    pub const REC_LEN: usize = 6;
    /// `u64`: the inode.
    pub const INO: usize = 8;
    /// `u64`: parent directory of the first name.
    pub const DIR: usize = 16;
    /// `u64`: per kind.
    pub const AUX: usize = 24;
    /// `u64`: per kind.
    pub const AUX2: usize = 32;
    /// `u64`: per kind.
    pub const AUX3: usize = 40;
    /// The first name, then the second, then zero padding.
    pub const NAMES: usize = 48;
}

/// Byte offsets of an interest entry's fields (sizes in [`Interest`]'s table).
pub mod interest_field {
    /// `u32`: `INTEREST_ADD`, `INTEREST_REMOVE`, `INTEREST_CLEAR` or `INTEREST_REMOVE_SUBTREE`.
    pub const OP: usize = 0;
    /// `u32`: 0.
    pub const RESERVED: usize = 4;
    /// `u64`: the inode (0 for Clear).
    pub const INO: usize = 8;
    /// End of the entry.
    pub const END: usize = 16;
}

const _: () = {
    assert!(batch_field::TOTAL_LEN + 4 == BATCH_HEADER_LEN);
    assert!(batch_field::RECORDS == BATCH_HEADER_LEN);
    assert!(record_field::AUX3 + 8 == RECORD_HEADER_LEN);
    assert!(record_field::NAMES == RECORD_HEADER_LEN);
    assert!(interest_field::END == INTEREST_LEN);
    assert!(MAX_RECORD_LEN <= u16::MAX as usize);
};

/// Total bytes of a record whose names take `names_len` bytes together:
/// `roundup(RECORD_HEADER_LEN + names_len, RECORD_ALIGN)`.
#[inline]
pub const fn record_len(names_len: usize) -> usize {
    (RECORD_HEADER_LEN + names_len).div_ceil(RECORD_ALIGN) * RECORD_ALIGN
}

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
    /// A directory below a subtree watch's root, found by the filesystem's walk (at the
    /// subtree call, or after a directory was moved into a covered directory).
    Exists = 14,
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
            14 => Exists,
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
    /// The directory `ino` is named `name` in `dir`: found by a subtree walk, not a change
    /// (inotifyd extension: tells the daemon what already exists below a subtree watch).
    Exists {
        /// Parent directory.
        dir: u64,
        /// Its name.
        name: &'a [u8],
        /// The directory.
        ino: u64,
    },
}

/// Record fields, the common shape every fact maps to.
#[derive(Clone, Copy)]
struct Raw<'a> {
    kind: Kind,
    flags: u8,
    ino: u64,
    dir: u64,
    aux: u64,
    aux2: u64,
    aux3: u64,
    name: &'a [u8],
    name2: &'a [u8],
}

impl Raw<'_> {
    /// A record of `kind` with every other field zero or empty.
    fn of(kind: Kind) -> Self {
        Raw {
            kind,
            flags: 0,
            ino: 0,
            dir: 0,
            aux: 0,
            aux2: 0,
            aux3: 0,
            name: &[],
            name2: &[],
        }
    }
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
        flags: flag(at.is_dir, F_ISDIR) | flag(at.detached, F_DETACHED) | extra,
        ino: at.ino,
        dir: at.dir,
        name: at.name,
        ..Raw::of(kind)
    }
}

/// The flag bits a record of `kind` may carry.
fn allowed_flags(kind: Kind) -> u8 {
    match kind {
        Kind::Created | Kind::Freed | Kind::Attrib => F_ISDIR,
        Kind::Opened | Kind::Accessed | Kind::Modified => F_ISDIR | F_DETACHED,
        Kind::Linked | Kind::Unmounted | Kind::Lost => 0,
        Kind::Exists => F_ISDIR,
        Kind::Unlinked => F_ISDIR | F_FREED,
        Kind::Renamed => F_ISDIR | F_REPLACED | F_REPLACED_ISDIR | F_REPLACED_FREED,
        Kind::Times => F_ISDIR | F_ATIME | F_MTIME,
        Kind::Closed => F_ISDIR | F_WROTE | F_DETACHED,
    }
}

/// Whether a record of `kind` may carry these names: the kinds that name an entry need
/// their name (and a rename its second), the subject kinds may have a name or not, and the
/// rest have none.
fn names_fit_kind(kind: Kind, name: &[u8], name2: &[u8]) -> bool {
    let named = matches!(
        kind,
        Kind::Created | Kind::Linked | Kind::Unlinked | Kind::Renamed | Kind::Exists
    );
    let subject = matches!(
        kind,
        Kind::Opened | Kind::Accessed | Kind::Modified | Kind::Attrib | Kind::Times | Kind::Closed
    );
    let name_fits = if named {
        !name.is_empty()
    } else {
        subject || name.is_empty()
    };
    name_fits && (kind == Kind::Renamed) != name2.is_empty()
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
                flags: flag(is_dir, F_ISDIR),
                ino,
                dir,
                name,
                ..Raw::of(Kind::Created)
            },
            Fact::Linked { dir, name, ino } => Raw {
                ino,
                dir,
                name,
                ..Raw::of(Kind::Linked)
            },
            Fact::Unlinked {
                dir,
                name,
                ino,
                is_dir,
                links_left,
                freed,
            } => Raw {
                flags: flag(is_dir, F_ISDIR) | flag(freed, F_FREED),
                ino,
                dir,
                aux: links_left,
                name,
                ..Raw::of(Kind::Unlinked)
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
                    flags: flag(is_dir, F_ISDIR),
                    ino,
                    dir: old_dir,
                    aux: new_dir,
                    name: old_name,
                    name2: new_name,
                    ..Raw::of(Kind::Renamed)
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
                flags: flag(is_dir, F_ISDIR),
                ino,
                ..Raw::of(Kind::Freed)
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
            Fact::Unmounted => Raw::of(Kind::Unmounted),
            Fact::Lost { count } => Raw {
                aux: count,
                ..Raw::of(Kind::Lost)
            },
            Fact::Exists { dir, name, ino } => Raw {
                flags: F_ISDIR,
                ino,
                dir,
                name,
                ..Raw::of(Kind::Exists)
            },
        }
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        let raw = self.to_raw();
        record_len(raw.name.len() + raw.name2.len())
    }

    /// Writes the record at the start of `out`; returns its length. Names longer than
    /// `NAME_MAX` or containing NUL or `/`, an empty name where the kind needs one, and a
    /// detached `Attrib` or `Times` subject, are `Malformed`: `emit` writes only what
    /// [`parse`](Self::parse) accepts.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        use record_field::*;
        let raw = self.to_raw();
        if !valid_name(raw.name) || !valid_name(raw.name2) {
            return Err(WireError::Malformed);
        }
        if raw.flags & !allowed_flags(raw.kind) != 0
            || !names_fit_kind(raw.kind, raw.name, raw.name2)
        {
            return Err(WireError::Malformed);
        }
        let body = NAMES + raw.name.len() + raw.name2.len();
        let total = record_len(raw.name.len() + raw.name2.len());
        if out.len() < total {
            return Err(WireError::NoSpace);
        }
        // Both names are at most NAME_MAX bytes, so every length fits its u16 field.
        put(out, KIND, &[raw.kind as u8]);
        put(out, FLAGS, &[raw.flags]);
        put(out, NAME_LEN, &(raw.name.len() as u16).to_ne_bytes());
        put(out, NAME2_LEN, &(raw.name2.len() as u16).to_ne_bytes());
        put(out, REC_LEN, &(total as u16).to_ne_bytes());
        put(out, INO, &raw.ino.to_ne_bytes());
        put(out, DIR, &raw.dir.to_ne_bytes());
        put(out, AUX, &raw.aux.to_ne_bytes());
        put(out, AUX2, &raw.aux2.to_ne_bytes());
        put(out, AUX3, &raw.aux3.to_ne_bytes());
        put(out, NAMES, raw.name);
        put(out, NAMES + raw.name.len(), raw.name2);
        out[body..total].fill(0);
        Ok(total)
    }

    /// Parses the record at the start of `buf`; returns the fact and the record length.
    /// [`Record::new_checked`] then [`from_record`](Self::from_record): every field is
    /// validated.
    #[inline]
    pub fn parse(buf: &'a [u8]) -> Result<(Fact<'a>, usize), WireError> {
        let rec = Record::new_checked(buf)?;
        Ok((Fact::from_record(&rec)?, rec.total_len()))
    }

    /// The fact a checked record holds. Flags its kind does not define, names with NUL or
    /// `/`, a missing name where the kind needs one and a name where it has none are
    /// `Malformed`.
    #[inline]
    pub fn from_record(rec: &Record<'a>) -> Result<Fact<'a>, WireError> {
        let kind = rec.kind();
        let flags = rec.flags();
        let (name, name2) = (rec.name(), rec.name2());
        if !valid_name(name) || !valid_name(name2) {
            return Err(WireError::Malformed);
        }
        if flags & !allowed_flags(kind) != 0 {
            return Err(WireError::Malformed);
        }
        if !names_fit_kind(kind, name, name2) {
            return Err(WireError::Malformed);
        }
        let (ino, dir, aux) = (rec.ino(), rec.dir(), rec.aux());
        let is_dir = flags & F_ISDIR != 0;
        let at = Subject {
            ino,
            is_dir,
            dir,
            name,
            detached: flags & F_DETACHED != 0,
        };
        Ok(match kind {
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
                replaced: (flags & F_REPLACED != 0).then(|| Replaced {
                    ino: rec.aux2(),
                    is_dir: flags & F_REPLACED_ISDIR != 0,
                    links_left: rec.aux3(),
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
            // Only directories are walked: the flag must say so.
            Kind::Exists if is_dir => Fact::Exists { dir, name, ino },
            Kind::Exists => return Err(WireError::Malformed),
        })
    }
}

/// A checked view of one record at the start of a buffer: the header is complete, the kind
/// is known, each name length is at most `NAME_MAX`, `rec_len` is the padded length they
/// imply, and the buffer holds that many bytes. Flags and names are checked by
/// [`Fact::from_record`].
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The header.
    head: &'a [u8; RECORD_HEADER_LEN],
    /// The whole record, `rec_len` bytes.
    rec: &'a [u8],
    /// The kind, checked.
    kind: Kind,
}

impl<'a> Record<'a> {
    /// Validates the record at the start of `buf`: `Truncated` when `buf` is shorter than
    /// the header or than `rec_len`; `Malformed` for an unknown kind, a name longer than
    /// `NAME_MAX` or a `rec_len` that does not match the name lengths.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        let Some(head) = buf.first_chunk::<RECORD_HEADER_LEN>() else {
            return Err(WireError::Truncated);
        };
        let kind = Kind::from_raw(head[record_field::KIND]).ok_or(WireError::Malformed)?;
        let n1 = usize::from(get_u16(head, record_field::NAME_LEN));
        let n2 = usize::from(get_u16(head, record_field::NAME2_LEN));
        if n1 > NAME_MAX || n2 > NAME_MAX {
            return Err(WireError::Malformed);
        }
        if usize::from(get_u16(head, record_field::REC_LEN)) != record_len(n1 + n2) {
            return Err(WireError::Malformed);
        }
        let rec = buf.get(..record_len(n1 + n2)).ok_or(WireError::Truncated)?;
        Ok(Record { head, rec, kind })
    }

    /// The `rec_len` field of the record at the start of `buf`, without checking the
    /// record: for a producer walking records it wrote itself with [`Fact::emit`]. `None`
    /// when `buf` is shorter than a record header.
    #[inline]
    pub fn stored_len(buf: &[u8]) -> Option<usize> {
        let head = buf.first_chunk::<RECORD_HEADER_LEN>()?;
        Some(usize::from(get_u16(head, record_field::REC_LEN)))
    }

    /// The kind.
    #[inline]
    pub fn kind(&self) -> Kind {
        self.kind
    }
    /// The `F_*` bits, unchecked.
    #[inline]
    pub fn flags(&self) -> u8 {
        self.head[record_field::FLAGS]
    }
    /// Total record bytes (`rec_len`).
    #[inline]
    pub fn total_len(&self) -> usize {
        self.rec.len()
    }
    /// The inode.
    #[inline]
    pub fn ino(&self) -> u64 {
        get_u64(self.head, record_field::INO)
    }
    /// The parent directory of the first name.
    #[inline]
    pub fn dir(&self) -> u64 {
        get_u64(self.head, record_field::DIR)
    }
    /// `aux` (meaning per kind).
    #[inline]
    pub fn aux(&self) -> u64 {
        get_u64(self.head, record_field::AUX)
    }
    /// `aux2` (meaning per kind).
    #[inline]
    pub fn aux2(&self) -> u64 {
        get_u64(self.head, record_field::AUX2)
    }
    /// `aux3` (meaning per kind).
    #[inline]
    pub fn aux3(&self) -> u64 {
        get_u64(self.head, record_field::AUX3)
    }
    /// The first name, unchecked.
    #[inline]
    pub fn name(&self) -> &'a [u8] {
        let n1 = usize::from(get_u16(self.head, record_field::NAME_LEN));
        &self.rec[record_field::NAMES..record_field::NAMES + n1]
    }
    /// The second name (a rename's new name), unchecked.
    #[inline]
    pub fn name2(&self) -> &'a [u8] {
        let n1 = usize::from(get_u16(self.head, record_field::NAME_LEN));
        let n2 = usize::from(get_u16(self.head, record_field::NAME2_LEN));
        let at = record_field::NAMES + n1;
        &self.rec[at..at + n2]
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
    /// The header of a checked batch.
    pub fn parse(batch: &Batch<'_>) -> Self {
        BatchHeader {
            first_seq: batch.first_seq(),
            count: batch.count(),
            total_len: batch.total_len(),
        }
    }

    /// Writes the header at the start of `out`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if out.len() < BATCH_HEADER_LEN {
            return Err(WireError::NoSpace);
        }
        put(out, batch_field::MAGIC, &BATCH_MAGIC.to_ne_bytes());
        put(out, batch_field::VERSION, &VERSION.to_ne_bytes());
        let header_len = BATCH_HEADER_LEN as u16;
        put(out, batch_field::HEADER_LEN, &header_len.to_ne_bytes());
        put(out, batch_field::FIRST_SEQ, &self.first_seq.to_ne_bytes());
        put(out, batch_field::COUNT, &self.count.to_ne_bytes());
        put(out, batch_field::TOTAL_LEN, &self.total_len.to_ne_bytes());
        Ok(BATCH_HEADER_LEN)
    }
}

/// A checked view of one batch.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// The header.
    head: &'a [u8; BATCH_HEADER_LEN],
    /// The records, `total_len - BATCH_HEADER_LEN` bytes.
    records: &'a [u8],
}

impl<'a> Batch<'a> {
    /// Validates the header of the batch at the start of `buf`: `Truncated` when `buf` is
    /// shorter than the header or than `total_len`; `Malformed` for a wrong magic, version
    /// or header length, or a `total_len` shorter than the header. Records are validated one
    /// by one as they are iterated.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        let Some(head) = buf.first_chunk::<BATCH_HEADER_LEN>() else {
            return Err(WireError::Truncated);
        };
        if get_u32(head, batch_field::MAGIC) != BATCH_MAGIC
            || get_u16(head, batch_field::VERSION) != VERSION
            || usize::from(get_u16(head, batch_field::HEADER_LEN)) != BATCH_HEADER_LEN
        {
            return Err(WireError::Malformed);
        }
        let total = get_u32(head, batch_field::TOTAL_LEN) as usize;
        if total < BATCH_HEADER_LEN {
            return Err(WireError::Malformed);
        }
        let records = buf
            .get(batch_field::RECORDS..total)
            .ok_or(WireError::Truncated)?;
        Ok(Batch { head, records })
    }

    /// Sequence number of the first record.
    pub fn first_seq(&self) -> u64 {
        get_u64(self.head, batch_field::FIRST_SEQ)
    }
    /// Number of records the header announces.
    pub fn count(&self) -> u32 {
        get_u32(self.head, batch_field::COUNT)
    }
    /// Header plus records, bytes.
    pub fn total_len(&self) -> u32 {
        get_u32(self.head, batch_field::TOTAL_LEN)
    }

    /// The header, parsed.
    pub fn header(&self) -> BatchHeader {
        BatchHeader::parse(self)
    }

    /// The records, each parsed and validated; iteration stops after the first error or after
    /// `count` records.
    pub fn facts(&self) -> Facts<'a> {
        Facts {
            rest: self.records,
            left: self.count(),
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
/// Opcode of [`Interest::RemoveSubtree`].
pub const INTEREST_REMOVE_SUBTREE: u32 = 4;

/// A checked view of one interest entry at the start of a buffer (the buffer holds
/// `INTEREST_LEN` bytes; the values are checked by [`Interest::from_entry`]).
#[derive(Debug, Clone, Copy)]
pub struct InterestEntry<'a> {
    /// The entry.
    entry: &'a [u8; INTEREST_LEN],
}

impl<'a> InterestEntry<'a> {
    /// `Truncated` when `buf` is shorter than one entry.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        let entry = buf
            .first_chunk::<INTEREST_LEN>()
            .ok_or(WireError::Truncated)?;
        Ok(InterestEntry { entry })
    }
    /// The opcode, unchecked.
    #[inline]
    pub fn op(&self) -> u32 {
        get_u32(self.entry, interest_field::OP)
    }
    /// The reserved field, unchecked.
    #[inline]
    pub fn reserved(&self) -> u32 {
        get_u32(self.entry, interest_field::RESERVED)
    }
    /// The inode.
    #[inline]
    pub fn ino(&self) -> u64 {
        get_u64(self.entry, interest_field::INO)
    }
}

/// One interest message, daemon -> filesystem. A `write` carries a whole number of 16-byte
/// entries (offsets named in [`interest_field`]):
///
/// ```text
/// offset size field
///      0    4 op       INTEREST_ADD / INTEREST_REMOVE / INTEREST_CLEAR /
///                      INTEREST_REMOVE_SUBTREE
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
    /// Undo one subtree call (`inotify_abi::proto::SubtreeCall`) on the directory `ino`:
    /// once every one is matched, the directories below it stop being covered (unless
    /// another subtree root covers them).
    RemoveSubtree(u64),
}

impl Interest {
    /// Parses one 16-byte entry.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        Interest::from_entry(&InterestEntry::new_checked(buf)?)
    }

    /// The message a checked entry holds: a non-zero reserved field, an unknown opcode or a
    /// Clear with an inode are `Malformed`.
    pub fn from_entry(entry: &InterestEntry<'_>) -> Result<Self, WireError> {
        if entry.reserved() != 0 {
            return Err(WireError::Malformed);
        }
        let ino = entry.ino();
        match entry.op() {
            INTEREST_ADD => Ok(Interest::Add(ino)),
            INTEREST_REMOVE => Ok(Interest::Remove(ino)),
            INTEREST_CLEAR if ino == 0 => Ok(Interest::Clear),
            INTEREST_REMOVE_SUBTREE => Ok(Interest::RemoveSubtree(ino)),
            _ => Err(WireError::Malformed),
        }
    }

    /// Writes one entry at the start of `out`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        use interest_field::*;
        if out.len() < INTEREST_LEN {
            return Err(WireError::NoSpace);
        }
        let (op, ino) = match *self {
            Interest::Add(ino) => (INTEREST_ADD, ino),
            Interest::Remove(ino) => (INTEREST_REMOVE, ino),
            Interest::Clear => (INTEREST_CLEAR, 0),
            Interest::RemoveSubtree(ino) => (INTEREST_REMOVE_SUBTREE, ino),
        };
        put(out, OP, &op.to_ne_bytes());
        put(out, RESERVED, &0u32.to_ne_bytes());
        put(out, INO, &ino.to_ne_bytes());
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

    /// Writes `v` native-endian at `at` (to forge a field).
    fn set_u16(buf: &mut [u8], at: usize, v: u16) {
        buf[at..at + 2].copy_from_slice(&v.to_ne_bytes());
    }

    fn samples() -> [Fact<'static>; 18] {
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
            Fact::Exists {
                dir: 2,
                name: b"sub",
                ino: 14,
            },
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
        let at = sample_batch(&mut buf);
        let batch = Batch::new_checked(&buf[..at]).unwrap();
        assert_eq!(
            batch.header(),
            BatchHeader {
                first_seq: 40,
                count: 18,
                total_len: at as u32
            }
        );
        let parsed: usize = batch
            .facts()
            .zip(samples())
            .map(|(a, b)| assert_eq!(a, Ok(b)))
            .count();
        assert_eq!(parsed, 18);
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
        bad[record_field::KIND] = 99;
        assert_eq!(Fact::parse(&bad[..n]), Err(WireError::Malformed));
        let mut bad = buf;
        bad[record_field::FLAGS] = F_WROTE;
        assert_eq!(Fact::parse(&bad[..n]), Err(WireError::Malformed));
        let mut bad = buf;
        bad[record_field::NAMES] = b'/';
        assert_eq!(Fact::parse(&bad[..n]), Err(WireError::Malformed));
        let mut bad = buf;
        set_u16(&mut bad, record_field::REC_LEN, 8);
        assert_eq!(Fact::parse(&bad[..n]), Err(WireError::Malformed));
        let mut bad = buf;
        set_u16(&mut bad, record_field::NAME_LEN, NAME_MAX as u16 + 1);
        assert_eq!(Fact::parse(&bad[..n]), Err(WireError::Malformed));
        let mut bad = buf;
        // Created without a name.
        set_u16(&mut bad, record_field::NAME_LEN, 0);
        set_u16(&mut bad, record_field::REC_LEN, RECORD_HEADER_LEN as u16);
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
        assert_eq!(buf[record_field::FLAGS], F_DETACHED);
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
        buf[record_field::FLAGS] |= F_DETACHED;
        assert_eq!(Fact::parse(&buf[..n]), Err(WireError::Malformed));
        // On Unlinked the same bit is F_FREED; on Freed it is undefined.
        let n = Fact::Freed {
            ino: 7,
            is_dir: false,
        }
        .emit(&mut buf)
        .unwrap();
        buf[record_field::FLAGS] = F_FREED;
        assert_eq!(Fact::parse(&buf[..n]), Err(WireError::Malformed));
    }

    #[test]
    fn malformed_batches_are_refused() {
        let mut buf = [0u8; 64];
        let header = |count, total_len| BatchHeader {
            first_seq: 0,
            count,
            total_len,
        };
        header(0, BATCH_HEADER_LEN as u32).emit(&mut buf).unwrap();
        assert!(Batch::new_checked(&buf[..BATCH_HEADER_LEN]).is_ok());
        assert_eq!(
            Batch::new_checked(&buf[..BATCH_HEADER_LEN - 1]).unwrap_err(),
            WireError::Truncated
        );
        for (at, what) in [
            (batch_field::MAGIC, "magic"),
            (batch_field::VERSION, "version"),
            (batch_field::HEADER_LEN, "header_len"),
        ] {
            let mut bad = buf;
            bad[at] ^= 1;
            let got = Batch::new_checked(&bad).unwrap_err();
            assert_eq!(got, WireError::Malformed, "{what}");
        }
        header(0, BATCH_HEADER_LEN as u32 - 1)
            .emit(&mut buf)
            .unwrap();
        assert_eq!(Batch::new_checked(&buf).unwrap_err(), WireError::Malformed);
        header(1, 100).emit(&mut buf).unwrap();
        assert_eq!(Batch::new_checked(&buf).unwrap_err(), WireError::Truncated);
        header(3, BATCH_HEADER_LEN as u32).emit(&mut buf).unwrap();
        let b = Batch::new_checked(&buf).unwrap();
        let mut it = b.facts();
        assert_eq!(it.next(), Some(Err(WireError::Truncated)));
        assert_eq!(it.next(), None);
    }

    /// The samples as one batch in `buf`; returns its length.
    fn sample_batch(buf: &mut [u8]) -> usize {
        let mut at = BATCH_HEADER_LEN;
        for fact in samples() {
            at += fact.emit(&mut buf[at..]).unwrap();
        }
        BatchHeader {
            first_seq: 40,
            count: samples().len() as u32,
            total_len: at as u32,
        }
        .emit(buf)
        .unwrap();
        at
    }

    #[test]
    fn the_byte_layout_is_the_documented_one() {
        // docs/protocols.md, offsets written out: a change of layout must fail here.
        let fact = Fact::Renamed {
            old_dir: 0x1111,
            old_name: b"ab",
            new_dir: 0x2222,
            new_name: b"cde",
            ino: 0x3333,
            is_dir: true,
            replaced: Some(Replaced {
                ino: 0x4444,
                is_dir: false,
                links_left: 0x5555,
                freed: false,
            }),
        };
        let mut rec = [0xaau8; 64];
        assert_eq!(fact.emit(&mut rec), Ok(56));
        assert_eq!(rec[0], Kind::Renamed as u8);
        assert_eq!(rec[1], F_ISDIR | F_REPLACED);
        assert_eq!(rec[2..4], 2u16.to_ne_bytes());
        assert_eq!(rec[4..6], 3u16.to_ne_bytes());
        assert_eq!(rec[6..8], 56u16.to_ne_bytes());
        assert_eq!(rec[8..16], 0x3333u64.to_ne_bytes());
        assert_eq!(rec[16..24], 0x1111u64.to_ne_bytes());
        assert_eq!(rec[24..32], 0x2222u64.to_ne_bytes());
        assert_eq!(rec[32..40], 0x4444u64.to_ne_bytes());
        assert_eq!(rec[40..48], 0x5555u64.to_ne_bytes());
        assert_eq!(&rec[48..56], b"abcde\0\0\0");
        let mut batch = [0u8; 24];
        BatchHeader {
            first_seq: 0x0102_0304_0506_0708,
            count: 9,
            total_len: 80,
        }
        .emit(&mut batch)
        .unwrap();
        assert_eq!(&batch[0..4], b"INFD");
        assert_eq!(batch[4..6], 1u16.to_ne_bytes());
        assert_eq!(batch[6..8], 24u16.to_ne_bytes());
        assert_eq!(batch[8..16], 0x0102_0304_0506_0708u64.to_ne_bytes());
        assert_eq!(batch[16..20], 9u32.to_ne_bytes());
        assert_eq!(batch[20..24], 80u32.to_ne_bytes());
        let mut entry = [0xaau8; 16];
        Interest::Remove(0x77).emit(&mut entry).unwrap();
        assert_eq!(entry[0..4], 2u32.to_ne_bytes());
        assert_eq!(entry[4..8], [0; 4]);
        assert_eq!(entry[8..16], 0x77u64.to_ne_bytes());
        assert_eq!(MAX_RECORD_LEN, 560);
    }

    #[test]
    fn the_record_view_reads_what_emit_wrote() {
        for fact in samples() {
            let mut buf = [0u8; MAX_RECORD_LEN + 8];
            let n = fact.emit(&mut buf).unwrap();
            let rec = Record::new_checked(&buf[..]).unwrap();
            assert_eq!(rec.total_len(), n);
            assert_eq!(Record::stored_len(&buf), Some(n));
            let raw = fact.to_raw();
            assert_eq!(rec.kind(), raw.kind);
            assert_eq!(rec.flags(), raw.flags);
            assert_eq!(
                [rec.ino(), rec.dir(), rec.aux(), rec.aux2(), rec.aux3()],
                [raw.ino, raw.dir, raw.aux, raw.aux2, raw.aux3]
            );
            assert_eq!((rec.name(), rec.name2()), (raw.name, raw.name2));
            assert_eq!(Fact::from_record(&rec), Ok(fact));
        }
        let longest = [b'n'; NAME_MAX];
        let fact = Fact::Renamed {
            old_dir: 1,
            old_name: &longest,
            new_dir: 2,
            new_name: &longest,
            ino: 3,
            is_dir: false,
            replaced: None,
        };
        let mut buf = [0u8; MAX_RECORD_LEN];
        assert_eq!(fact.emit(&mut buf), Ok(MAX_RECORD_LEN));
        assert_eq!(Fact::parse(&buf), Ok((fact, MAX_RECORD_LEN)));
        assert_eq!(
            fact.emit(&mut [0u8; MAX_RECORD_LEN - 1]),
            Err(WireError::NoSpace)
        );
    }

    #[test]
    fn every_truncated_record_and_batch_is_refused_as_truncated() {
        for fact in samples() {
            let mut buf = [0u8; MAX_RECORD_LEN];
            let n = fact.emit(&mut buf).unwrap();
            for cut in 0..n {
                assert_eq!(Fact::parse(&buf[..cut]), Err(WireError::Truncated), "{cut}");
                assert_eq!(
                    Record::new_checked(&buf[..cut]).unwrap_err(),
                    WireError::Truncated
                );
            }
        }
        let mut buf = [0u8; 4096];
        let n = sample_batch(&mut buf);
        for cut in 0..n {
            let got = Batch::new_checked(&buf[..cut]).unwrap_err();
            assert_eq!(got, WireError::Truncated, "{cut}");
        }
        for cut in 0..INTEREST_LEN {
            assert_eq!(Interest::parse(&buf[..cut]), Err(WireError::Truncated));
        }
    }

    #[test]
    fn a_batch_count_beyond_its_records_ends_in_an_error() {
        let mut buf = [0u8; 4096];
        let n = sample_batch(&mut buf);
        let all = samples().len() as u32;
        // More records announced than present: the samples, then one Truncated.
        BatchHeader {
            first_seq: 40,
            count: all + 5,
            total_len: n as u32,
        }
        .emit(&mut buf)
        .unwrap();
        let batch = Batch::new_checked(&buf[..n]).unwrap();
        let mut facts = batch.facts();
        for fact in samples() {
            assert_eq!(facts.next(), Some(Ok(fact)));
        }
        assert_eq!(facts.next(), Some(Err(WireError::Truncated)));
        assert_eq!(facts.next(), None);
        // Fewer: iteration stops at the count.
        BatchHeader {
            first_seq: 40,
            count: 2,
            total_len: n as u32,
        }
        .emit(&mut buf)
        .unwrap();
        assert_eq!(Batch::new_checked(&buf[..n]).unwrap().facts().count(), 2);
    }

    /// A small deterministic generator (xorshift64*), for garbage input.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Parses every fact of `buf` as a batch; each parsed fact must emit and parse back to
    /// itself. Returns how many facts parsed.
    fn parse_batch_checked(buf: &[u8]) -> usize {
        let Ok(batch) = Batch::new_checked(buf) else {
            return 0;
        };
        assert!(batch.total_len() as usize <= buf.len());
        let mut ok = 0;
        for fact in batch.facts() {
            let Ok(fact) = fact else { break };
            let mut out = [0u8; MAX_RECORD_LEN];
            let n = fact.emit(&mut out).unwrap();
            assert_eq!(Fact::parse(&out[..n]), Ok((fact, n)));
            ok += 1;
        }
        ok
    }

    #[test]
    fn garbage_is_refused_with_an_error_or_parses_to_facts_that_round_trip() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut buf = [0u8; 1024];
        let mut parsed = 0;
        for round in 0..20_000 {
            let len = rng.below(buf.len() + 1);
            for b in buf[..len].iter_mut() {
                *b = rng.next() as u8;
            }
            if round % 2 == 0 && len >= BATCH_HEADER_LEN {
                // A valid header, so that the records behind it are reached.
                BatchHeader {
                    first_seq: rng.next(),
                    count: rng.below(8) as u32,
                    total_len: (BATCH_HEADER_LEN + rng.below(len - BATCH_HEADER_LEN + 1)) as u32,
                }
                .emit(&mut buf)
                .unwrap();
                // Plausible record headers: a known kind, small names, flags rarely set.
                let at = BATCH_HEADER_LEN;
                if len >= at + RECORD_HEADER_LEN {
                    let (n1, n2) = (rng.below(4), rng.below(2) * rng.below(4));
                    buf[at + record_field::KIND] = 1 + rng.below(13) as u8;
                    buf[at + record_field::FLAGS] &= rng.next() as u8 & rng.next() as u8;
                    set_u16(&mut buf[at..], record_field::NAME_LEN, n1 as u16);
                    set_u16(&mut buf[at..], record_field::NAME2_LEN, n2 as u16);
                    set_u16(
                        &mut buf[at..],
                        record_field::REC_LEN,
                        record_len(n1 + n2) as u16,
                    );
                }
            }
            parsed += parse_batch_checked(&buf[..len]);
            if let Ok((fact, n)) = Fact::parse(&buf[..len]) {
                assert!(n <= len);
                let mut out = [0u8; MAX_RECORD_LEN];
                assert_eq!(fact.emit(&mut out), Ok(n));
            }
            for entry in Interest::parse_all(&buf[..len]).flatten() {
                let mut out = [0u8; INTEREST_LEN];
                entry.emit(&mut out).unwrap();
                assert_eq!(Interest::parse(&out), Ok(entry));
            }
        }
        // The planted headers must have reached the record parser.
        assert!(parsed > 100, "{parsed}");
    }

    #[test]
    fn every_single_byte_corruption_of_a_batch_is_refused_or_round_trips() {
        let mut clean = [0u8; 4096];
        let n = sample_batch(&mut clean);
        for at in 0..n {
            for flip in [0x01u8, 0x02, 0x10, 0x80, 0xff] {
                let mut buf = clean;
                buf[at] ^= flip;
                parse_batch_checked(&buf[..n]);
            }
        }
    }

    #[test]
    fn an_exists_record_must_name_a_directory() {
        let mut buf = [0u8; 128];
        let fact = Fact::Exists {
            dir: 1,
            name: b"d",
            ino: 2,
        };
        let n = fact.emit(&mut buf).unwrap();
        assert_eq!(Fact::parse(&buf[..n]), Ok((fact, n)));
        buf[record_field::FLAGS] = 0;
        assert_eq!(Fact::parse(&buf[..n]), Err(WireError::Malformed));
    }

    #[test]
    fn interest_round_trip_and_errors() {
        let mut buf = [0u8; 4 * INTEREST_LEN];
        let msgs = [
            Interest::Add(5),
            Interest::Remove(5),
            Interest::Clear,
            Interest::RemoveSubtree(7),
        ];
        for (m, out) in msgs.iter().zip(buf.chunks_exact_mut(INTEREST_LEN)) {
            assert_eq!(m.emit(out), Ok(INTEREST_LEN));
        }
        let parsed: [Interest; 4] = {
            let mut it = Interest::parse_all(&buf).map(Result::unwrap);
            [(); 4].map(|()| it.next().unwrap())
        };
        assert_eq!(parsed, msgs);
        assert_eq!(
            Interest::parse_all(&buf[..INTEREST_LEN + 1]).next(),
            Some(Err(WireError::Truncated))
        );
        let mut bad = buf;
        bad[interest_field::OP] = 9;
        assert_eq!(Interest::parse(&bad), Err(WireError::Malformed));
        let mut bad = buf;
        bad[interest_field::RESERVED] = 1;
        assert_eq!(Interest::parse(&bad), Err(WireError::Malformed));
        // Clear carries no inode.
        let mut bad = buf;
        bad[2 * INTEREST_LEN + interest_field::INO] = 1;
        assert_eq!(
            Interest::parse(&bad[2 * INTEREST_LEN..]),
            Err(WireError::Malformed)
        );
        assert_eq!(
            Interest::parse(&buf[..INTEREST_LEN - 1]),
            Err(WireError::Truncated)
        );
        assert_eq!(
            Interest::Clear.emit(&mut [0u8; 15]),
            Err(WireError::NoSpace)
        );
    }

    #[test]
    fn emit_refuses_a_missing_name_that_parse_would_refuse() {
        // Found by the producer fuzz target: a Linked fact with an empty name was written
        // to the feed, and the daemon then refused the record (and the rest of its batch).
        let at = Subject {
            ino: 5,
            is_dir: false,
            dir: 2,
            name: b"",
            detached: false,
        };
        let refused = [
            Fact::Linked {
                dir: 0,
                name: b"",
                ino: 0,
            },
            Fact::Created {
                dir: 2,
                name: b"",
                ino: 5,
                is_dir: false,
            },
            Fact::Unlinked {
                dir: 2,
                name: b"",
                ino: 5,
                is_dir: false,
                links_left: 0,
                freed: true,
            },
            Fact::Renamed {
                old_dir: 2,
                old_name: b"a",
                new_dir: 2,
                new_name: b"",
                ino: 5,
                is_dir: false,
                replaced: None,
            },
        ];
        let mut buf = [0u8; 256];
        for fact in refused {
            assert_eq!(fact.emit(&mut buf), Err(WireError::Malformed), "{fact:?}");
        }
        // A subject without a name is fine both ways.
        let n = Fact::Modified(at).emit(&mut buf).unwrap();
        assert_eq!(Fact::parse(&buf[..n]), Ok((Fact::Modified(at), n)));
    }
}
