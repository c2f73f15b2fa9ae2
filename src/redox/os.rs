//! [`RedoxOs`]: the client's system calls, made with libredox.

use syscall::error::Result;
use syscall::flag::CallFlags;
use syscall::Stat;

use crate::client::Os;

/// The calling process's own system calls on Redox.
#[derive(Debug, Default, Clone, Copy)]
pub struct RedoxOs;

impl Os for RedoxOs {
    fn open(&self, path: &str, flags: usize) -> Result<usize> {
        // relibc's O_* values are the kernel's, so the flags pass through unchanged.
        Ok(libredox::call::open(path, flags as i32, 0)?)
    }

    fn read(&self, fd: usize, buf: &mut [u8]) -> Result<usize> {
        Ok(libredox::call::read(fd, buf)?)
    }

    fn close(&self, fd: usize) -> Result<()> {
        Ok(libredox::call::close(fd)?)
    }

    fn fcntl(&self, fd: usize, cmd: usize, arg: usize) -> Result<usize> {
        Ok(libredox::call::fcntl(fd, cmd, arg)?)
    }

    fn fstat(&self, fd: usize) -> Result<Stat> {
        let st = libredox::call::fstat(fd)?;
        Ok(super::stat_from_libc(&st))
    }

    /// Moves `fd` (it leaves the caller's table) to the scheme behind `target`.
    fn sendfd(&self, target: usize, fd: usize, arg: u64) -> Result<()> {
        libredox::call::call_wo(target, &fd.to_ne_bytes(), CallFlags::FD, &[arg])?;
        Ok(())
    }

    fn call(&self, fd: usize, payload: &mut [u8], metadata: &[u64]) -> Result<usize> {
        Ok(libredox::call::call_rw(
            fd,
            payload,
            CallFlags::empty(),
            metadata,
        )?)
    }
}
