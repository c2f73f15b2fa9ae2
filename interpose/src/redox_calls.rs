//! The two-fd `std_fs_call`s, `renameat` and `linkat` with a directory fd each, forwarded to
//! the target as such (Redox only).
//!
//! A scheme receives them (redox-scheme's `Op::Frenameat`, `Op::Flinkat`) from a `SYS_CALL`
//! with `CallFlags::STD_FS` and two fds on that scheme: `[old_dir, new_dir]` with the payload
//! `old NUL new` for a rename, `[fd, dir]` with the payload `path` for a link; metadata
//! `[kind, flags, 0]` (`StdFsCallMeta`). The forward is the same call on the target's fds, in
//! redox_syscall 0.9.5's two-fd form (`MULTIPLE_FDS2`). The kernel the Redox guest runs
//! (fbfe4394, built with redox_syscall 0.9.0) refuses kinds 15 and 16 with `EOPNOTSUPP`
//! before any scheme sees them, and relibc 433eb0dc makes `renameat`/`linkat` one-fd
//! `frename`/`flink` calls, so there no such request reaches the interposer
//! (docs/redox.md, "The interposer").

use syscall::error::Result;
use syscall::flag::{CallFlags, StdFsCallKind};

/// `renameat(old_dir, old, new_dir, new, flags)` on the target, as the current ids.
pub(crate) fn frenameat(
    old_dir: usize,
    old: &str,
    new_dir: usize,
    new: &str,
    flags: usize,
) -> Result<()> {
    let mut payload = Vec::with_capacity(old.len() + 1 + new.len());
    payload.extend_from_slice(old.as_bytes());
    payload.push(0);
    payload.extend_from_slice(new.as_bytes());
    std_fs_call2(
        [old_dir, new_dir],
        &payload,
        StdFsCallKind::Frenameat,
        flags,
    )
}

/// `linkat`: a new name `path` in directory `dir` for the inode of `fd`, as the current ids.
pub(crate) fn flinkat(fd: usize, dir: usize, path: &str, flags: usize) -> Result<()> {
    std_fs_call2([fd, dir], path.as_bytes(), StdFsCallKind::Flinkat, flags)
}

/// One two-fd `std_fs_call` of `kind` with `payload` and `flags`.
fn std_fs_call2(fds: [usize; 2], payload: &[u8], kind: StdFsCallKind, flags: usize) -> Result<()> {
    let metadata = [kind as u64, flags as u64, 0];
    syscall::call_wo(&fds[..], payload, CallFlags::STD_FS, &metadata).map(drop)
}
