//! Errno values returned by the engine (Linux numbering, which Redox shares for these).

/// No such file or directory.
pub const ENOENT: i32 = 2;
/// Try again (read on an empty queue).
pub const EAGAIN: i32 = 11;
/// Permission denied.
pub const EACCES: i32 = 13;
/// Already exists (IN_MASK_CREATE on a watched inode).
pub const EEXIST: i32 = 17;
/// Not a directory (IN_ONLYDIR).
pub const ENOTDIR: i32 = 20;
/// Invalid argument.
pub const EINVAL: i32 = 22;
/// Too many instances for this user.
pub const EMFILE: i32 = 24;
/// Watch limit reached.
pub const ENOSPC: i32 = 28;
