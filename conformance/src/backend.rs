//! What a backend must do to run scenarios: filesystem operations on its own scenario
//! directory and the inotify calls. Errors are errno names (`"ENOENT"`), so backends with
//! different errno numbering compare by meaning.

use crate::script::{InitFlags, OpenFlags, Times};

/// A failed call: the errno name.
pub type Errno = String;
/// A call result.
pub type Res<T> = Result<T, Errno>;

/// The kind of a filesystem object, as `stat` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Anything else.
    Other,
}

/// What `stat` reports (the fields that mean the same on every backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatInfo {
    /// Object kind.
    pub kind: Kind,
    /// Link count.
    pub nlink: u64,
    /// Size in bytes (printed for files and symlinks only: directory sizes are
    /// filesystem-specific).
    pub size: u64,
    /// Inode number (printed normalised by first appearance).
    pub ino: u64,
}

/// One system under test. Handles (`u64`) are backend-specific descriptors. Paths are
/// relative to the backend's scenario directory.
pub trait Backend {
    /// Short name for reports (`linux`, `inotifyd`).
    fn name(&self) -> &'static str;
    /// `mkdir(path, mode)`.
    fn mkdir(&mut self, path: &str, mode: u32) -> Res<()>;
    /// `rmdir(path)`.
    fn rmdir(&mut self, path: &str) -> Res<()>;
    /// `open(path, flags, mode)`; returns a handle.
    fn open(&mut self, path: &str, flags: OpenFlags, mode: u32) -> Res<u64>;
    /// `write(fd, data)`; returns bytes written.
    fn write(&mut self, fd: u64, data: &[u8]) -> Res<usize>;
    /// `read(fd, len)`; returns bytes read.
    fn read(&mut self, fd: u64, len: usize) -> Res<usize>;
    /// `close(fd)` of a file handle.
    fn close(&mut self, fd: u64) -> Res<()>;
    /// `truncate(path, len)`.
    fn truncate(&mut self, path: &str, len: u64) -> Res<()>;
    /// `ftruncate(fd, len)`.
    fn ftruncate(&mut self, fd: u64, len: u64) -> Res<()>;
    /// `chmod(path, mode)`.
    fn chmod(&mut self, path: &str, mode: u32) -> Res<()>;
    /// `chown(path, uid, gid)`.
    fn chown(&mut self, path: &str, uid: u32, gid: u32) -> Res<()>;
    /// `utimensat(path)` setting the chosen times to now, leaving the others.
    fn utimes(&mut self, path: &str, times: Times) -> Res<()>;
    /// `link(old, new)`.
    fn link(&mut self, old: &str, new: &str) -> Res<()>;
    /// `symlink(target, path)`.
    fn symlink(&mut self, target: &str, path: &str) -> Res<()>;
    /// `unlink(path)`.
    fn unlink(&mut self, path: &str) -> Res<()>;
    /// `rename(old, new)`.
    fn rename(&mut self, old: &str, new: &str) -> Res<()>;
    /// Opens the directory, reads every entry, closes it; returns the names (without `.`
    /// and `..`), sorted.
    fn listdir(&mut self, path: &str) -> Res<Vec<String>>;
    /// `lstat(path)`.
    fn stat(&mut self, path: &str) -> Res<StatInfo>;
    /// `inotify_init1(flags)`; returns the instance handle.
    fn init(&mut self, flags: InitFlags) -> Res<u64>;
    /// `inotify_add_watch(inst, path, mask)`; returns the wd.
    fn add_watch(&mut self, inst: u64, path: &str, mask: u32) -> Res<i32>;
    /// `inotify_rm_watch(inst, wd)`.
    fn rm_watch(&mut self, inst: u64, wd: i32) -> Res<()>;
    /// `read(inst, buf[len])`; returns the bytes read (whole records).
    fn read_events(&mut self, inst: u64, len: usize) -> Res<Vec<u8>>;
    /// `ioctl(inst, FIONREAD)`: bytes queued.
    fn queued_bytes(&mut self, inst: u64) -> Res<usize>;
    /// `close(inst)`.
    fn close_instance(&mut self, inst: u64) -> Res<()>;
    /// Runs the following operations with these credentials (file system uid and gid; no
    /// supplementary groups are added). Handles keep the credentials they were made with.
    fn set_user(&mut self, uid: u32, gid: u32) -> Res<()>;
    /// Sets `max_queued_events` (for instances created afterwards); the old value comes
    /// back when the backend is dropped.
    fn set_max_queued_events(&mut self, n: u32) -> Res<()>;
}
