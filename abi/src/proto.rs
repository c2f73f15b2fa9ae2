//! Client <-> daemon operations on an inotify handle (`/scheme/inotify`).
//!
//! - **Instance**: `open("/scheme/inotify", O_RDONLY | [O_NONBLOCK] | [O_CLOEXEC])`.
//! - **add_watch**: the client opens the path itself (`O_PATH`, plus `O_NOFOLLOW` for
//!   `IN_DONT_FOLLOW`), moves that fd to the instance with `sendfd` whose one argument word is
//!   an [`AddWatchArg`], then collects the wd (or errno) with the call [`CallRepr::TakeResult`]
//!   carrying the same token. The daemon checks read permission with the credentials that
//!   arrive with `sendfd`.
//! - **rm_watch**, **FIONREAD**: calls, see [`CallRepr`].
//! - **Tunables**: `open("/scheme/inotify/<name>")` for a name in [`TUNABLES`]; `read` gives
//!   the decimal value and a newline, `write` of a decimal number sets it (root only).
//!
//! Call metadata is three `u64` words: `[opcode, arg, 0]`. The payload is unused (empty).
//! Only that exact form is an inotify call: a call with a payload (relibc sends terminal
//! ioctls as calls to any fd) or with a non-zero unused word is refused.
//!
//! The daemon <-> filesystem identity call ([`IdentifyCall`], [`Identity`]) is described with
//! the feed in `docs/protocols.md`.

use crate::WireError;

/// The scheme's name: inotifyd registers it, so clients open [`SCHEME_PATH`].
pub const SCHEME_NAME: &str = "inotify";

/// The path clients open for an instance (and `fpath` reports for one).
pub const SCHEME_PATH: &str = "/scheme/inotify";

/// The environment variable through which Redox's init passes a service its readiness fd
/// (inotifyd and the interposer read it).
pub const INIT_NOTIFY_ENV: &str = "INIT_NOTIFY";

/// Name passed to `dup` on a filesystem fd to open that filesystem's feed (root only).
pub const FEED_DUP_NAME: &[u8] = b"inotify-feed";

/// Opcode (first metadata word) of the identity call a filesystem answers for the daemon:
/// "ASCII `INIDENT1`" read as a little-endian `u64`, a value no other call uses by accident.
pub const FEED_CALL_IDENTIFY: u64 = u64::from_le_bytes(*b"INIDENT1");

/// The identity call: `call([anchor, fd], payload, [FEED_CALL_IDENTIFY, uid | gid << 32])`.
///
/// The kernel refuses a two-fd call whose fds are on different schemes (`EXDEV`) before any
/// scheme sees it, so when it reaches a filesystem through the daemon's own fd (`anchor`),
/// the second handle (`args[5]`, `ids[1]` in `call_multiple_ids`) is on that same
/// filesystem. The filesystem answers an [`Identity`] for it into the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentifyCall {
    /// Whose read permission the answer reports.
    pub uid: u32,
    /// The group of that caller.
    pub gid: u32,
}

impl IdentifyCall {
    /// Parses the metadata words of a two-fd call: exactly `[FEED_CALL_IDENTIFY, ids]`
    /// (a third word, as redox-scheme passes, must be 0). Anything else is `Malformed`.
    pub fn parse(meta: &[u64]) -> Result<Self, WireError> {
        match meta {
            [FEED_CALL_IDENTIFY, ids] | [FEED_CALL_IDENTIFY, ids, 0] => Ok(IdentifyCall {
                uid: *ids as u32,
                gid: (*ids >> 32) as u32,
            }),
            [] | [_] => Err(WireError::Truncated),
            _ => Err(WireError::Malformed),
        }
    }

    /// The two metadata words (a two-fd call carries only two).
    pub fn emit(&self) -> [u64; 2] {
        [
            FEED_CALL_IDENTIFY,
            u64::from(self.uid) | (u64::from(self.gid) << 32),
        ]
    }
}

/// Opcode of the subtree call ([`SubtreeCall`]): ASCII `INSUBTR1` as a little-endian `u64`.
pub const FEED_CALL_SUBTREE: u64 = u64::from_le_bytes(*b"INSUBTR1");

/// Bytes of the subtree call's answer: the `u64` number of directories found below.
pub const SUBTREE_ANSWER_LEN: usize = 8;

/// The subtree call: `call([anchor, fd], payload, [FEED_CALL_SUBTREE, 0])`, for an
/// `IN_SUBTREE` watch on the directory `fd` is on (an inotifyd extension).
///
/// In one step, with no operation of the filesystem between, the filesystem walks every
/// directory below that one, records an `Exists` fact for each (parent before child) and
/// makes the directory a subtree root of its feed: from then on it records the facts about
/// names in every directory below it, and covers the directories created in or moved into
/// those at the operation that makes or moves them (`docs/protocols.md`). It answers the
/// number of directories found ([`SUBTREE_ANSWER_LEN`] bytes) or: `ENOTDIR` for a
/// non-directory, `ENOSPC` when the walk's records do not fit the feed's free space (nothing
/// is changed), `EOPNOTSUPP` when it has no subtree support. Each successful call is undone
/// by one `Interest::RemoveSubtree` of the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubtreeCall;

impl SubtreeCall {
    /// Parses the metadata words: exactly `[FEED_CALL_SUBTREE, 0]` (a third word, as
    /// redox-scheme passes, must be 0). Anything else is `Malformed` (`Truncated` for fewer
    /// than two words).
    pub fn parse(meta: &[u64]) -> Result<Self, WireError> {
        match meta {
            [FEED_CALL_SUBTREE, 0] | [FEED_CALL_SUBTREE, 0, 0] => Ok(SubtreeCall),
            [] | [_] => Err(WireError::Truncated),
            _ => Err(WireError::Malformed),
        }
    }

    /// The two metadata words.
    pub fn emit(&self) -> [u64; 2] {
        [FEED_CALL_SUBTREE, 0]
    }
}

/// Bytes of an [`Identity`] answer.
pub const IDENTITY_LEN: usize = 16;

/// Field offsets of an [`Identity`] answer.
pub mod identity_field {
    /// `u64`: the inode number.
    pub const INO: usize = 0;
    /// `u32`: `IDENTITY_*` flag bits.
    pub const FLAGS: usize = 8;
    /// `u32`: reserved, 0.
    pub const RESERVED: usize = 12;
}

/// [`Identity`] flag: the handle is on a directory.
pub const IDENTITY_IS_DIR: u32 = 1;
/// [`Identity`] flag: the caller named in the call may read the object (the filesystem's own
/// permission rules).
pub const IDENTITY_MAY_READ: u32 = 2;

/// A filesystem's answer to an [`IdentifyCall`]: what the handle is, and whether the caller
/// may read it.
///
/// ```text
/// offset size field
///      0    8 ino       inode number (the number facts carry)
///      8    4 flags     IDENTITY_IS_DIR | IDENTITY_MAY_READ
///     12    4 reserved  0
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// Inode number.
    pub ino: u64,
    /// A directory.
    pub is_dir: bool,
    /// The caller may read it.
    pub may_read: bool,
}

impl Identity {
    /// Parses an answer: `Truncated` when shorter than [`IDENTITY_LEN`], `Malformed` for an
    /// unknown flag or a non-zero reserved field.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        if b.len() < IDENTITY_LEN {
            return Err(WireError::Truncated);
        }
        let flags = crate::get_u32(b, identity_field::FLAGS);
        if flags & !(IDENTITY_IS_DIR | IDENTITY_MAY_READ) != 0
            || crate::get_u32(b, identity_field::RESERVED) != 0
        {
            return Err(WireError::Malformed);
        }
        Ok(Identity {
            ino: crate::get_u64(b, identity_field::INO),
            is_dir: flags & IDENTITY_IS_DIR != 0,
            may_read: flags & IDENTITY_MAY_READ != 0,
        })
    }

    /// Writes the answer; returns [`IDENTITY_LEN`], or `NoSpace` when `out` is shorter.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let out = out.get_mut(..IDENTITY_LEN).ok_or(WireError::NoSpace)?;
        let mut flags = 0;
        if self.is_dir {
            flags |= IDENTITY_IS_DIR;
        }
        if self.may_read {
            flags |= IDENTITY_MAY_READ;
        }
        crate::put(out, identity_field::INO, &self.ino.to_ne_bytes());
        crate::put(out, identity_field::FLAGS, &flags.to_ne_bytes());
        crate::put(out, identity_field::RESERVED, &0u32.to_ne_bytes());
        Ok(IDENTITY_LEN)
    }
}

/// Tunable names under `/scheme/inotify/`.
pub const TUNABLES: [&str; 7] = [
    "max_queued_events",
    "max_user_instances",
    "max_user_watches",
    "max_watches",
    "event_drops",
    "max_user_queued_bytes",
    "max_total_queued_bytes",
];

/// The `sendfd` argument word of an add_watch: the mask and a client-chosen token.
///
/// ```text
/// bits 0..32   mask  (IN_* events and flags)
/// bits 32..64  token (matches the TakeResult call that collects the result)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddWatchArg {
    /// The add_watch mask.
    pub mask: u32,
    /// Client-chosen token naming this request.
    pub token: u32,
}

impl AddWatchArg {
    /// Splits the argument word (every value is valid).
    pub fn parse(word: u64) -> Self {
        AddWatchArg {
            mask: word as u32,
            token: (word >> 32) as u32,
        }
    }
    /// Packs the argument word.
    pub fn emit(&self) -> u64 {
        u64::from(self.mask) | (u64::from(self.token) << 32)
    }
}

/// Opcode of [`CallRepr::TakeResult`].
pub const CALL_TAKE_RESULT: u64 = 1;
/// Opcode of [`CallRepr::RmWatch`].
pub const CALL_RM_WATCH: u64 = 2;
/// Opcode of [`CallRepr::QueuedBytes`].
pub const CALL_QUEUED_BYTES: u64 = 3;
/// Opcode of [`CallRepr::TakeResultPath`]: "ASCII `INTAKEP1`" as a little-endian `u64`. The
/// calls that carry a payload have opcodes no terminal ioctl (a small verb) can have.
pub const CALL_TAKE_RESULT_PATH: u64 = u64::from_le_bytes(*b"INTAKEP1");
/// Opcode of [`CallRepr::LossReport`]: "ASCII `INLOSS01`" as a little-endian `u64`.
pub const CALL_LOSS_REPORT: u64 = u64::from_le_bytes(*b"INLOSS01");
/// Opcode of [`CallRepr::ListWatches`]: "ASCII `INLIST01`" as a little-endian `u64`.
pub const CALL_LIST_WATCHES: u64 = u64::from_le_bytes(*b"INLIST01");

/// Longest path [`CallRepr::TakeResultPath`] carries (Linux's `PATH_MAX`, NUL excluded).
pub const MAX_WATCH_PATH: usize = 4095;

/// A call on an instance handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallRepr {
    /// Collect the result of the add_watch sent with `token`: returns the wd, or its errno.
    /// `EINVAL` when no such result is pending.
    TakeResult {
        /// Token of the add_watch.
        token: u32,
    },
    /// `inotify_rm_watch(wd)`: returns 0, or `EINVAL` when `wd` is not a watch of this
    /// instance.
    RmWatch {
        /// The watch to remove.
        wd: i32,
    },
    /// `FIONREAD`: returns the bytes queued.
    QueuedBytes,
    /// [`TakeResult`](CallRepr::TakeResult) that also hands the daemon the path the watch
    /// was added with (the payload, at most [`MAX_WATCH_PATH`] bytes), kept for
    /// [`ListWatches`](CallRepr::ListWatches). Returns the wd, or the add_watch errno.
    TakeResultPath {
        /// Token of the add_watch.
        token: u32,
    },
    /// The instance's [`LossReport`] since the last one, written into the payload (at
    /// least [`LOSS_REPORT_LEN`] bytes, else `EINVAL`); returns [`LOSS_REPORT_LEN`] and
    /// resets the report. An inotifyd extension.
    LossReport,
    /// The instance's watches with `wd >= from_wd`, in wd order, as [`WatchInfo`] records
    /// written into the payload (whole records only; `EINVAL` when the first one does not
    /// fit); returns the bytes written, 0 when there are none. An inotifyd extension.
    ListWatches {
        /// The smallest wd to list.
        from_wd: i32,
    },
}

impl CallRepr {
    /// Parses call metadata. Only the exact form [`CallRepr::emit`] writes is accepted:
    /// unknown opcodes, out-of-range arguments, an argument where the opcode takes none, or
    /// a non-zero word after the argument are `Malformed`; fewer than one word is
    /// `Truncated`. (A word left out counts as 0, as the kernel fills the words a caller
    /// did not pass with zeros.)
    pub fn parse(meta: &[u64]) -> Result<Self, WireError> {
        let op = *meta.first().ok_or(WireError::Truncated)?;
        let arg = meta.get(1).copied().unwrap_or(0);
        if meta.iter().skip(2).any(|&w| w != 0) {
            return Err(WireError::Malformed);
        }
        match op {
            CALL_TAKE_RESULT => u32::try_from(arg)
                .map(|token| CallRepr::TakeResult { token })
                .map_err(|_| WireError::Malformed),
            CALL_RM_WATCH => i32::try_from(arg as i64)
                .map(|wd| CallRepr::RmWatch { wd })
                .map_err(|_| WireError::Malformed),
            CALL_QUEUED_BYTES if arg == 0 => Ok(CallRepr::QueuedBytes),
            CALL_TAKE_RESULT_PATH => u32::try_from(arg)
                .map(|token| CallRepr::TakeResultPath { token })
                .map_err(|_| WireError::Malformed),
            CALL_LOSS_REPORT if arg == 0 => Ok(CallRepr::LossReport),
            CALL_LIST_WATCHES => i32::try_from(arg as i64)
                .map(|from_wd| CallRepr::ListWatches { from_wd })
                .map_err(|_| WireError::Malformed),
            _ => Err(WireError::Malformed),
        }
    }

    /// The metadata words for this call.
    pub fn emit(&self) -> [u64; 3] {
        match *self {
            CallRepr::TakeResult { token } => [CALL_TAKE_RESULT, u64::from(token), 0],
            CallRepr::RmWatch { wd } => [CALL_RM_WATCH, wd as i64 as u64, 0],
            CallRepr::QueuedBytes => [CALL_QUEUED_BYTES, 0, 0],
            CallRepr::TakeResultPath { token } => [CALL_TAKE_RESULT_PATH, u64::from(token), 0],
            CallRepr::LossReport => [CALL_LOSS_REPORT, 0, 0],
            CallRepr::ListWatches { from_wd } => [CALL_LIST_WATCHES, from_wd as i64 as u64, 0],
        }
    }

    /// Whether `meta` names one of the calls that carry a payload (the inotifyd extensions),
    /// well-formed or not: such a call is `EINVAL` when malformed, where any other call with
    /// a payload (a terminal ioctl) is `ENOTTY`.
    pub fn is_payload_opcode(meta: &[u64]) -> bool {
        matches!(
            meta.first(),
            Some(&(CALL_TAKE_RESULT_PATH | CALL_LOSS_REPORT | CALL_LIST_WATCHES))
        )
    }

    /// Whether this call carries a payload (the inotifyd extensions); the Linux calls carry
    /// none.
    pub fn has_payload(&self) -> bool {
        matches!(
            self,
            CallRepr::TakeResultPath { .. } | CallRepr::LossReport | CallRepr::ListWatches { .. }
        )
    }
}

/// Wds a [`LossReport`] names; drops on further wds are only counted.
pub const LOSS_WDS: usize = 8;

/// Bytes of a [`LossReport`].
pub const LOSS_REPORT_LEN: usize = 48 + 4 * LOSS_WDS;

/// Field offsets of a [`LossReport`].
pub mod loss_field {
    /// `u64`: events the instance's queue refused (`max_queued_events`, a byte budget).
    pub const DROPPED: usize = 0;
    /// `u64`: records the feed of a watched filesystem lost while the instance watched it.
    pub const FEED_LOST: usize = 8;
    /// `u64`: monotonic clock (ns) of the first loss since the last report; 0 when none.
    pub const FIRST_NS: usize = 16;
    /// `u64`: monotonic clock (ns) of the last loss; 0 when none.
    pub const LAST_NS: usize = 24;
    /// `u32`: wds listed in `WDS`.
    pub const WD_COUNT: usize = 32;
    /// `u32`: further wds that lost events, not listed.
    pub const MORE_WDS: usize = 36;
    /// `u64`: reserved, 0.
    pub const RESERVED: usize = 40;
    /// `i32 x LOSS_WDS`: the wds that lost events, first loss first; unused entries 0.
    pub const WDS: usize = 48;
}

/// What an instance lost since its last report (the answer to [`CallRepr::LossReport`]).
///
/// ```text
/// offset size field
///      0    8 dropped    events refused by the queue (max_queued_events, byte budgets)
///      8    8 feed_lost  records lost by the feed of a filesystem the instance watched
///     16    8 first_ns   CLOCK_MONOTONIC ns of the first loss (0: none)
///     24    8 last_ns    CLOCK_MONOTONIC ns of the last loss (0: none)
///     32    4 wd_count   entries used in wds (<= LOSS_WDS)
///     36    4 more_wds   other wds that lost events
///     40    8 reserved   0
///     48   32 wds        i32 x LOSS_WDS, first loss first, unused entries 0
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LossReport {
    /// Events the instance's queue refused.
    pub dropped: u64,
    /// Records lost by a watched filesystem's feed.
    pub feed_lost: u64,
    /// Monotonic ns of the first loss (0: none).
    pub first_ns: u64,
    /// Monotonic ns of the last loss (0: none).
    pub last_ns: u64,
    /// The wds that lost events; `wds[..wd_count]` are used.
    pub wds: [i32; LOSS_WDS],
    /// Entries of `wds` used.
    pub wd_count: u32,
    /// Wds that lost events beyond those listed.
    pub more_wds: u32,
}

impl LossReport {
    /// The listed wds.
    pub fn wds(&self) -> &[i32] {
        &self.wds[..(self.wd_count as usize).min(LOSS_WDS)]
    }

    /// Parses a report: `Truncated` when shorter than [`LOSS_REPORT_LEN`], `Malformed` for a
    /// `wd_count` above [`LOSS_WDS`] or a non-zero reserved field.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        if b.len() < LOSS_REPORT_LEN {
            return Err(WireError::Truncated);
        }
        let wd_count = crate::get_u32(b, loss_field::WD_COUNT);
        if wd_count as usize > LOSS_WDS || crate::get_u64(b, loss_field::RESERVED) != 0 {
            return Err(WireError::Malformed);
        }
        let mut wds = [0i32; LOSS_WDS];
        for (k, wd) in wds.iter_mut().enumerate() {
            *wd = crate::get_u32(b, loss_field::WDS + 4 * k) as i32;
        }
        Ok(LossReport {
            dropped: crate::get_u64(b, loss_field::DROPPED),
            feed_lost: crate::get_u64(b, loss_field::FEED_LOST),
            first_ns: crate::get_u64(b, loss_field::FIRST_NS),
            last_ns: crate::get_u64(b, loss_field::LAST_NS),
            wds,
            wd_count,
            more_wds: crate::get_u32(b, loss_field::MORE_WDS),
        })
    }

    /// Writes the report; returns [`LOSS_REPORT_LEN`], or `NoSpace` when `out` is shorter.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let out = out.get_mut(..LOSS_REPORT_LEN).ok_or(WireError::NoSpace)?;
        crate::put(out, loss_field::DROPPED, &self.dropped.to_ne_bytes());
        crate::put(out, loss_field::FEED_LOST, &self.feed_lost.to_ne_bytes());
        crate::put(out, loss_field::FIRST_NS, &self.first_ns.to_ne_bytes());
        crate::put(out, loss_field::LAST_NS, &self.last_ns.to_ne_bytes());
        crate::put(out, loss_field::WD_COUNT, &self.wd_count.to_ne_bytes());
        crate::put(out, loss_field::MORE_WDS, &self.more_wds.to_ne_bytes());
        crate::put(out, loss_field::RESERVED, &0u64.to_ne_bytes());
        for (k, wd) in self.wds.iter().enumerate() {
            crate::put(out, loss_field::WDS + 4 * k, &wd.to_ne_bytes());
        }
        Ok(LOSS_REPORT_LEN)
    }
}

/// Bytes of a [`WatchInfo`] record before its names.
pub const WATCH_INFO_HEADER_LEN: usize = 24;

/// Field offsets of a [`WatchInfo`] record.
pub mod watch_field {
    /// `i32`: the wd.
    pub const WD: usize = 0;
    /// `u32`: the watch's mask (events, `IN_ONESHOT`, `IN_EXCL_UNLINK`, `IN_SUBTREE`).
    pub const MASK: usize = 4;
    /// `u64`: the inode number.
    pub const INO: usize = 8;
    /// `u16`: bytes of the filesystem's scheme name.
    pub const FS_LEN: usize = 16;
    /// `u16`: bytes of the path.
    pub const PATH_LEN: usize = 18;
    /// `u32`: bytes of the whole record (a multiple of 8).
    pub const REC_LEN: usize = 20;
    /// The filesystem name, then the path, then zero padding to `REC_LEN`.
    pub const NAMES: usize = 24;
}

/// One watch of an instance (a record of the answer to [`CallRepr::ListWatches`]).
///
/// ```text
/// offset size field
///      0    4 wd
///      4    4 mask      IN_* events, IN_ONESHOT, IN_EXCL_UNLINK, IN_SUBTREE as kept
///      8    8 ino       inode number
///     16    2 fs_len    bytes of fs
///     18    2 path_len  bytes of path (0: not known, e.g. added by an older client)
///     20    4 rec_len   bytes of this record, 24 + fs_len + path_len rounded up to 8
///     24      fs, path, zero padding
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchInfo<'a> {
    /// The wd.
    pub wd: i32,
    /// The watch's mask.
    pub mask: u32,
    /// The inode number.
    pub ino: u64,
    /// The filesystem's scheme name.
    pub fs: &'a [u8],
    /// The path given to add_watch (empty when unknown).
    pub path: &'a [u8],
}

impl<'a> WatchInfo<'a> {
    /// Bytes the record takes.
    pub fn len(&self) -> usize {
        (WATCH_INFO_HEADER_LEN + self.fs.len() + self.path.len() + 7) & !7
    }

    /// Whether the record is empty (never: a record has a header).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Parses the record at the start of `b`; returns it and its length. `Truncated` when
    /// `b` is shorter than the record, `Malformed` when `rec_len` is not the length its
    /// names take.
    pub fn parse(b: &'a [u8]) -> Result<(Self, usize), WireError> {
        if b.len() < WATCH_INFO_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let fs_len = usize::from(crate::get_u16(b, watch_field::FS_LEN));
        let path_len = usize::from(crate::get_u16(b, watch_field::PATH_LEN));
        let rec_len = crate::get_u32(b, watch_field::REC_LEN) as usize;
        if rec_len != (WATCH_INFO_HEADER_LEN + fs_len + path_len + 7) & !7 {
            return Err(WireError::Malformed);
        }
        if b.len() < rec_len {
            return Err(WireError::Truncated);
        }
        let names = &b[watch_field::NAMES..];
        Ok((
            WatchInfo {
                wd: crate::get_u32(b, watch_field::WD) as i32,
                mask: crate::get_u32(b, watch_field::MASK),
                ino: crate::get_u64(b, watch_field::INO),
                fs: &names[..fs_len],
                path: &names[fs_len..fs_len + path_len],
            },
            rec_len,
        ))
    }

    /// Writes the record; returns its length. `NoSpace` when `out` is shorter, `Malformed`
    /// when a name is longer than a `u16` can say.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let fs_len = u16::try_from(self.fs.len()).map_err(|_| WireError::Malformed)?;
        let path_len = u16::try_from(self.path.len()).map_err(|_| WireError::Malformed)?;
        let len = self.len();
        let out = out.get_mut(..len).ok_or(WireError::NoSpace)?;
        crate::put(out, watch_field::WD, &self.wd.to_ne_bytes());
        crate::put(out, watch_field::MASK, &self.mask.to_ne_bytes());
        crate::put(out, watch_field::INO, &self.ino.to_ne_bytes());
        crate::put(out, watch_field::FS_LEN, &fs_len.to_ne_bytes());
        crate::put(out, watch_field::PATH_LEN, &path_len.to_ne_bytes());
        crate::put(out, watch_field::REC_LEN, &(len as u32).to_ne_bytes());
        let names = watch_field::NAMES;
        crate::put(out, names, self.fs);
        crate::put(out, names + self.fs.len(), self.path);
        out[names + self.fs.len() + self.path.len()..].fill(0);
        Ok(len)
    }
}

/// Name of the daemon-wide status file, `/scheme/inotify/status` (root only; a text
/// snapshot taken at open, see docs/protocols.md).
pub const STATUS_NAME: &str = "status";

#[cfg(test)]
mod tests {
    #[test]
    fn the_scheme_path_is_the_scheme_name_under_slash_scheme() {
        assert_eq!(
            super::SCHEME_PATH.strip_prefix("/scheme/"),
            Some(super::SCHEME_NAME)
        );
    }

    use super::*;

    #[test]
    fn add_watch_arg_round_trip() {
        let a = AddWatchArg {
            mask: 0x8000_0fff,
            token: 0xdead_beef,
        };
        assert_eq!(AddWatchArg::parse(a.emit()), a);
    }

    #[test]
    fn calls_round_trip() {
        for c in [
            CallRepr::TakeResult { token: 7 },
            CallRepr::RmWatch { wd: 12 },
            CallRepr::RmWatch { wd: -1 },
            CallRepr::QueuedBytes,
            CallRepr::TakeResultPath { token: u32::MAX },
            CallRepr::LossReport,
            CallRepr::ListWatches { from_wd: 3 },
            CallRepr::ListWatches { from_wd: i32::MIN },
        ] {
            assert_eq!(CallRepr::parse(&c.emit()), Ok(c));
        }
    }

    #[test]
    fn bad_calls_are_refused() {
        assert_eq!(CallRepr::parse(&[]), Err(WireError::Truncated));
        assert_eq!(CallRepr::parse(&[99, 0, 0]), Err(WireError::Malformed));
        assert_eq!(
            CallRepr::parse(&[CALL_TAKE_RESULT, 1 << 40, 0]),
            Err(WireError::Malformed)
        );
        assert_eq!(
            CallRepr::parse(&[CALL_RM_WATCH, 1 << 40, 0]),
            Err(WireError::Malformed)
        );
    }

    #[test]
    fn terminal_ioctl_metadata_is_not_an_inotify_call() {
        // relibc's tcsetattr/tcflush-style calls: [verb, 1] (write) or [verb, 0] (read).
        assert_eq!(CallRepr::parse(&[3, 1, 0]), Err(WireError::Malformed));
        assert_eq!(
            CallRepr::parse(&[CALL_TAKE_RESULT, 5, 1]),
            Err(WireError::Malformed)
        );
        assert_eq!(CallRepr::parse(&[3, 0]), Ok(CallRepr::QueuedBytes));
    }

    #[test]
    fn subtree_calls_round_trip_and_refuse_other_metadata() {
        assert_eq!(SubtreeCall::parse(&SubtreeCall.emit()), Ok(SubtreeCall));
        assert_eq!(
            SubtreeCall::parse(&[FEED_CALL_SUBTREE, 0, 0]),
            Ok(SubtreeCall)
        );
        assert_eq!(
            SubtreeCall::parse(&[FEED_CALL_SUBTREE, 1]),
            Err(WireError::Malformed)
        );
        assert_eq!(
            SubtreeCall::parse(&[FEED_CALL_IDENTIFY, 0]),
            Err(WireError::Malformed)
        );
        assert_eq!(
            SubtreeCall::parse(&[FEED_CALL_SUBTREE]),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn identify_calls_round_trip_and_refuse_other_metadata() {
        let c = IdentifyCall {
            uid: 1000,
            gid: 0xffff_fffe,
        };
        assert_eq!(IdentifyCall::parse(&c.emit()), Ok(c));
        let [op, ids] = c.emit();
        assert_eq!(IdentifyCall::parse(&[op, ids, 0]), Ok(c));
        assert_eq!(
            IdentifyCall::parse(&[op, ids, 1]),
            Err(WireError::Malformed)
        );
        assert_eq!(IdentifyCall::parse(&[1, ids]), Err(WireError::Malformed));
        assert_eq!(IdentifyCall::parse(&[op]), Err(WireError::Truncated));
    }

    #[test]
    fn identities_round_trip_in_the_documented_layout() {
        let id = Identity {
            ino: 0x0102_0304_0506_0708,
            is_dir: true,
            may_read: false,
        };
        let mut b = [0xffu8; IDENTITY_LEN + 4];
        assert_eq!(id.emit(&mut b), Ok(IDENTITY_LEN));
        assert_eq!(&b[0..8], &0x0102_0304_0506_0708u64.to_ne_bytes());
        assert_eq!(&b[8..12], &IDENTITY_IS_DIR.to_ne_bytes());
        assert_eq!(&b[12..16], &[0; 4]);
        assert_eq!(Identity::parse(&b), Ok(id));
        assert_eq!(id.emit(&mut [0; 15]), Err(WireError::NoSpace));
        assert_eq!(Identity::parse(&b[..15]), Err(WireError::Truncated));
        b[8] |= 0x80;
        assert_eq!(Identity::parse(&b), Err(WireError::Malformed));
    }

    #[test]
    fn bad_extension_calls_are_refused() {
        assert_eq!(
            CallRepr::parse(&[CALL_LOSS_REPORT, 1, 0]),
            Err(WireError::Malformed)
        );
        assert_eq!(
            CallRepr::parse(&[CALL_LIST_WATCHES, 1 << 40, 0]),
            Err(WireError::Malformed)
        );
        assert_eq!(
            CallRepr::parse(&[CALL_TAKE_RESULT_PATH, 1 << 32, 0]),
            Err(WireError::Malformed)
        );
        assert_eq!(
            CallRepr::parse(&[CALL_LOSS_REPORT, 0, 7]),
            Err(WireError::Malformed)
        );
        assert!(CallRepr::LossReport.has_payload());
        assert!(CallRepr::is_payload_opcode(&[CALL_LOSS_REPORT, 1, 0]));
        assert!(!CallRepr::is_payload_opcode(&[CALL_QUEUED_BYTES, 0, 0]));
        assert!(!CallRepr::is_payload_opcode(&[]));
        assert!(!CallRepr::QueuedBytes.has_payload());
    }

    #[test]
    fn loss_reports_round_trip_in_the_documented_layout() {
        let r = LossReport {
            dropped: 5,
            feed_lost: 12,
            first_ns: 0x1111,
            last_ns: 0x2222,
            wds: [3, 9, 0, 0, 0, 0, 0, 0],
            wd_count: 2,
            more_wds: 4,
        };
        let mut b = [0xffu8; LOSS_REPORT_LEN + 3];
        assert_eq!(r.emit(&mut b), Ok(LOSS_REPORT_LEN));
        assert_eq!(&b[0..8], &5u64.to_ne_bytes());
        assert_eq!(&b[8..16], &12u64.to_ne_bytes());
        assert_eq!(&b[32..36], &2u32.to_ne_bytes());
        assert_eq!(&b[36..40], &4u32.to_ne_bytes());
        assert_eq!(&b[40..48], &[0; 8]);
        assert_eq!(&b[52..56], &9i32.to_ne_bytes());
        assert_eq!(LossReport::parse(&b), Ok(r));
        assert_eq!(LossReport::parse(&b).unwrap().wds(), &[3, 9]);
        assert_eq!(
            r.emit(&mut [0; LOSS_REPORT_LEN - 1]),
            Err(WireError::NoSpace)
        );
        assert_eq!(
            LossReport::parse(&b[..LOSS_REPORT_LEN - 1]),
            Err(WireError::Truncated)
        );
        b[loss_field::WD_COUNT] = 9;
        assert_eq!(LossReport::parse(&b), Err(WireError::Malformed));
    }

    #[test]
    fn watch_infos_round_trip_in_the_documented_layout() {
        let w = WatchInfo {
            wd: 4,
            mask: 0x100,
            ino: 77,
            fs: b"file",
            path: b"/tmp/x",
        };
        assert_eq!(w.len(), 40);
        let mut b = [0xffu8; 48];
        assert_eq!(w.emit(&mut b), Ok(40));
        assert_eq!(&b[16..18], &4u16.to_ne_bytes());
        assert_eq!(&b[18..20], &6u16.to_ne_bytes());
        assert_eq!(&b[20..24], &40u32.to_ne_bytes());
        assert_eq!(&b[24..34], b"file/tmp/x");
        assert_eq!(&b[34..40], &[0; 6]);
        assert_eq!(WatchInfo::parse(&b), Ok((w, 40)));
        assert_eq!(WatchInfo::parse(&b[..39]), Err(WireError::Truncated));
        assert_eq!(w.emit(&mut [0; 39]), Err(WireError::NoSpace));
        b[20] = 48;
        assert_eq!(WatchInfo::parse(&b), Err(WireError::Malformed));
    }
}
