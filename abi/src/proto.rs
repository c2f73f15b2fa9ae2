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
            _ => Err(WireError::Malformed),
        }
    }

    /// The metadata words for this call.
    pub fn emit(&self) -> [u64; 3] {
        match *self {
            CallRepr::TakeResult { token } => [CALL_TAKE_RESULT, u64::from(token), 0],
            CallRepr::RmWatch { wd } => [CALL_RM_WATCH, wd as i64 as u64, 0],
            CallRepr::QueuedBytes => [CALL_QUEUED_BYTES, 0, 0],
        }
    }
}

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
}
