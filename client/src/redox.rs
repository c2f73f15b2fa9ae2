//! [`RedoxOs`]: the client's system calls, made with libredox.

use syscall::error::Result;
use syscall::flag::CallFlags;
use syscall::Stat;

use crate::Os;

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
        Ok(stat_from_libc(&st))
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

/// Converts relibc's `struct stat` (what libredox returns) into the kernel's [`Stat`], the
/// form the client API works with.
// The libc field types differ between libc releases (and some already match), so every
// field is cast.
#[allow(clippy::unnecessary_cast)]
fn stat_from_libc(st: &libredox::data::Stat) -> Stat {
    Stat {
        st_dev: st.st_dev as u64,
        st_ino: st.st_ino as u64,
        st_mode: st.st_mode as u16,
        st_nlink: st.st_nlink as u32,
        st_uid: st.st_uid as u32,
        st_gid: st.st_gid as u32,
        st_size: st.st_size as u64,
        st_blksize: st.st_blksize as u32,
        st_blocks: st.st_blocks as u64,
        st_mtime: st.st_mtime as u64,
        st_mtime_nsec: st.st_mtime_nsec as u32,
        st_atime: st.st_atime as u64,
        st_atime_nsec: st.st_atime_nsec as u32,
        st_ctime: st.st_ctime as u64,
        st_ctime_nsec: st.st_ctime_nsec as u32,
    }
}
