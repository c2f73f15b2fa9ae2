//! The Rust client API: `inotify_init1`, `inotify_add_watch`, `inotify_rm_watch` and typed
//! event reads, over any [`Os`] (Redox syscalls, or a process of the host kernel).
//!
//! SKELETON: the `Os` trait is the contract; the API is being implemented.

use syscall::error::Result;
use syscall::Stat;

/// The system calls a client makes. Flags and errno values are Redox's (`syscall::flag`,
/// `syscall::error`).
pub trait Os {
    /// `open(path, flags)`; `path` is `/scheme/<name>/<rest>`, `<name>:<rest>` or an absolute
    /// path (the `file` scheme).
    fn open(&self, path: &str, flags: usize) -> Result<usize>;
    /// `read`; blocks unless the description is non-blocking.
    fn read(&self, fd: usize, buf: &mut [u8]) -> Result<usize>;
    /// `close`.
    fn close(&self, fd: usize) -> Result<()>;
    /// `fcntl(fd, cmd, arg)`.
    fn fcntl(&self, fd: usize, cmd: usize, arg: usize) -> Result<usize>;
    /// `fstat`.
    fn fstat(&self, fd: usize) -> Result<Stat>;
    /// Moves `fd` to the scheme behind `target` with `sendfd`, with one argument word.
    fn sendfd(&self, target: usize, fd: usize, arg: u64) -> Result<()>;
    /// `call(fd, payload, metadata)` (SYS_CALL, read-write payload).
    fn call(&self, fd: usize, payload: &mut [u8], metadata: &[u64]) -> Result<usize>;
}
