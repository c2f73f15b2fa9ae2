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

use crate::WireError;

/// The scheme's name: inotifyd registers it, so clients open [`SCHEME_PATH`].
pub const SCHEME_NAME: &str = "inotify";

/// The path clients open for an instance (and `fpath` reports for one).
pub const SCHEME_PATH: &str = "/scheme/inotify";

/// Name passed to `dup` on a filesystem fd to open that filesystem's feed (root only).
pub const FEED_DUP_NAME: &[u8] = b"inotify-feed";

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
    /// Parses call metadata; unknown opcodes and out-of-range arguments are `Malformed`,
    /// fewer than one word is `Truncated`.
    pub fn parse(meta: &[u64]) -> Result<Self, WireError> {
        let op = *meta.first().ok_or(WireError::Truncated)?;
        let arg = meta.get(1).copied().unwrap_or(0);
        match op {
            CALL_TAKE_RESULT => u32::try_from(arg)
                .map(|token| CallRepr::TakeResult { token })
                .map_err(|_| WireError::Malformed),
            CALL_RM_WATCH => i32::try_from(arg as i64)
                .map(|wd| CallRepr::RmWatch { wd })
                .map_err(|_| WireError::Malformed),
            CALL_QUEUED_BYTES => Ok(CallRepr::QueuedBytes),
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
}
