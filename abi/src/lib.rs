//! The inotify ABI shared by every piece of the system.
//!
//! `no_std` and allocation-free, so the daemon, the client library, the relibc wrapper and
//! the filesystem patch all use one definition:
//!
//! - [`consts`]: the `IN_*` mask bits, with Linux's values; the add_watch mask check;
//!   Redox's `O_CLOEXEC`.
//! - [`event`]: the `struct inotify_event` record as read by applications.
//! - [`proto`]: the scheme's name and path, and the client <-> daemon operations carried by
//!   `sendfd` and `call`.
//! - [`feed`]: the filesystem -> daemon fact records and the daemon -> filesystem interest
//!   messages.
//! - [`ring`]: the feed ring, the feed's records in memory the filesystem shares with the
//!   daemon.
//!
//! Wire types follow one pattern: a typed view over a byte buffer (`new_checked` validates
//! untrusted input, after which no accessor panics) and a compact `Repr` with `parse`/`emit`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod consts;
pub mod event;
pub mod feed;
pub mod proto;
pub mod ring;

/// Why a byte buffer was refused as a wire record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer is shorter than the record it claims to hold.
    Truncated,
    /// A field holds a value the format does not allow.
    Malformed,
    /// The output buffer is too small for the record.
    NoSpace,
}

/// Reads a native-endian `u16` at `at`; the caller has checked the bounds.
#[inline]
pub(crate) fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

/// Reads a native-endian `u32` at `at`; the caller has checked the bounds.
#[inline]
pub(crate) fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads a native-endian `u64` at `at`; the caller has checked the bounds.
#[inline]
pub(crate) fn get_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// Writes `v` native-endian at `at`; the caller has checked the bounds.
#[inline]
pub(crate) fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}
