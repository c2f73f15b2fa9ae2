//! The file operations of a scenario through the C library, shared by the Linux oracle
//! ([`crate::linux`]) and the Redox guest runner (`redox/guest/conform`): each scenario path
//! is joined onto the scenario directory as written (no normalisation: paths may be
//! over-long or odd on purpose), and a failure is the errno's name in the system's own
//! numbering.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use crate::backend::{Errno, Kind, Res, StatInfo};
use crate::script::{OpenFlags, Times};

/// The file operations of [`crate::backend::Backend`], each handed to the [`Posix`] in field
/// `$fs` of the implementing type: `impl Backend for X { posix_file_ops!(fs); ... }`. The
/// backends that do their file operations through the C library (the Linux oracle, the Redox
/// guest runner) differ only in their inotify calls.
#[macro_export]
macro_rules! posix_file_ops {
    ($fs:ident) => {
        fn mkdir(&mut self, path: &str, mode: u32) -> $crate::backend::Res<()> {
            self.$fs.mkdir(path, mode)
        }
        fn rmdir(&mut self, path: &str) -> $crate::backend::Res<()> {
            self.$fs.rmdir(path)
        }
        fn open(
            &mut self,
            path: &str,
            f: $crate::script::OpenFlags,
            mode: u32,
        ) -> $crate::backend::Res<u64> {
            self.$fs.open(path, f, mode)
        }
        fn write(&mut self, fd: u64, data: &[u8]) -> $crate::backend::Res<usize> {
            self.$fs.write(fd, data)
        }
        fn read(&mut self, fd: u64, len: usize) -> $crate::backend::Res<usize> {
            self.$fs.read(fd, len)
        }
        fn close(&mut self, fd: u64) -> $crate::backend::Res<()> {
            self.$fs.close(fd)
        }
        fn truncate(&mut self, path: &str, len: u64) -> $crate::backend::Res<()> {
            self.$fs.truncate(path, len)
        }
        fn ftruncate(&mut self, fd: u64, len: u64) -> $crate::backend::Res<()> {
            self.$fs.ftruncate(fd, len)
        }
        fn chmod(&mut self, path: &str, mode: u32) -> $crate::backend::Res<()> {
            self.$fs.chmod(path, mode)
        }
        fn chown(&mut self, path: &str, uid: u32, gid: u32) -> $crate::backend::Res<()> {
            self.$fs.chown(path, uid, gid)
        }
        fn utimes(&mut self, path: &str, times: $crate::script::Times) -> $crate::backend::Res<()> {
            self.$fs.utimes(path, times)
        }
        fn link(&mut self, old: &str, new: &str) -> $crate::backend::Res<()> {
            self.$fs.link(old, new)
        }
        fn symlink(&mut self, target: &str, path: &str) -> $crate::backend::Res<()> {
            self.$fs.symlink(target, path)
        }
        fn unlink(&mut self, path: &str) -> $crate::backend::Res<()> {
            self.$fs.unlink(path)
        }
        fn rename(&mut self, old: &str, new: &str) -> $crate::backend::Res<()> {
            self.$fs.rename(old, new)
        }
        fn listdir(&mut self, path: &str) -> $crate::backend::Res<Vec<String>> {
            self.$fs.listdir(path)
        }
        fn stat(&mut self, path: &str) -> $crate::backend::Res<$crate::backend::StatInfo> {
            self.$fs.stat(path)
        }
    };
}

/// A scenario directory and the C library's file calls on paths below it.
#[derive(Debug)]
pub struct Posix {
    /// The scenario directory.
    root: PathBuf,
    /// The name of an errno value on this system.
    errno_name: fn(i32) -> String,
}

impl Posix {
    /// File calls below `root`, naming errors with `errno_name`.
    pub fn new(root: PathBuf, errno_name: fn(i32) -> String) -> Self {
        Posix { root, errno_name }
    }

    /// The scenario directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of scenario path `path`.
    pub fn path(&self, path: &str) -> String {
        format!("{}/{path}", self.root.display())
    }

    /// The absolute path as a C string.
    pub fn at(&self, path: &str) -> CString {
        CString::new(self.path(path)).expect("scenario paths hold no NUL")
    }

    /// The current errno as a name.
    pub fn errno(&self) -> Errno {
        (self.errno_name)(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// An I/O error as a name.
    fn io_errno(&self, e: &std::io::Error) -> Errno {
        (self.errno_name)(e.raw_os_error().unwrap_or(0))
    }

    /// Maps a `-1`-on-error return to a result.
    pub fn check(&self, r: isize) -> Res<isize> {
        if r < 0 {
            Err(self.errno())
        } else {
            Ok(r)
        }
    }

    /// `mkdir(path, mode)`.
    pub fn mkdir(&self, path: &str, mode: u32) -> Res<()> {
        // SAFETY: valid NUL-terminated path.
        let r = unsafe { libc::mkdir(self.at(path).as_ptr(), mode as libc::mode_t) };
        self.check(r as isize).map(drop)
    }

    /// `rmdir(path)`.
    pub fn rmdir(&self, path: &str) -> Res<()> {
        // SAFETY: valid NUL-terminated path.
        self.check(unsafe { libc::rmdir(self.at(path).as_ptr()) } as isize)
            .map(drop)
    }

    /// `open(path, flags | O_CLOEXEC, mode)`; the descriptor.
    pub fn open(&self, path: &str, f: OpenFlags, mode: u32) -> Res<u64> {
        let mut flags = libc::O_CLOEXEC
            | match (f.path, f.read, f.write) {
                (true, _, _) => libc::O_PATH,
                (_, true, true) => libc::O_RDWR,
                (_, false, true) => libc::O_WRONLY,
                _ => libc::O_RDONLY,
            };
        for (on, bit) in [
            (f.trunc, libc::O_TRUNC),
            (f.creat, libc::O_CREAT),
            (f.excl, libc::O_EXCL),
            (f.append, libc::O_APPEND),
            (f.nofollow, libc::O_NOFOLLOW),
            (f.directory, libc::O_DIRECTORY),
        ] {
            if on {
                flags |= bit;
            }
        }
        // SAFETY: valid NUL-terminated path; the mode is the variadic argument.
        let fd = unsafe { libc::open(self.at(path).as_ptr(), flags, mode as libc::c_uint) };
        self.check(fd as isize).map(|fd| fd as u64)
    }

    /// `write(fd, data)`; the byte count.
    pub fn write(&self, fd: u64, data: &[u8]) -> Res<usize> {
        // SAFETY: `data` is valid for `data.len()` bytes.
        let n = unsafe { libc::write(fd as i32, data.as_ptr().cast(), data.len()) };
        self.check(n as isize).map(|n| n as usize)
    }

    /// `read(fd, len)` into a scratch buffer; the byte count.
    pub fn read(&self, fd: u64, len: usize) -> Res<usize> {
        let mut buf = vec![0u8; len];
        self.read_into(fd, &mut buf)
    }

    /// `read(fd, buf)`; the byte count.
    pub fn read_into(&self, fd: u64, buf: &mut [u8]) -> Res<usize> {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::read(fd as i32, buf.as_mut_ptr().cast(), buf.len()) };
        self.check(n as isize).map(|n| n as usize)
    }

    /// `close(fd)`.
    pub fn close(&self, fd: u64) -> Res<()> {
        // SAFETY: closing a descriptor the caller opened.
        self.check(unsafe { libc::close(fd as i32) } as isize)
            .map(drop)
    }

    /// `truncate(path, len)`.
    pub fn truncate(&self, path: &str, len: u64) -> Res<()> {
        // SAFETY: valid NUL-terminated path.
        let r = unsafe { libc::truncate(self.at(path).as_ptr(), len as libc::off_t) };
        self.check(r as isize).map(drop)
    }

    /// `ftruncate(fd, len)`.
    pub fn ftruncate(&self, fd: u64, len: u64) -> Res<()> {
        // SAFETY: plain call on a descriptor.
        let r = unsafe { libc::ftruncate(fd as i32, len as libc::off_t) };
        self.check(r as isize).map(drop)
    }

    /// `chmod(path, mode)`.
    pub fn chmod(&self, path: &str, mode: u32) -> Res<()> {
        // SAFETY: valid NUL-terminated path.
        let r = unsafe { libc::chmod(self.at(path).as_ptr(), mode as libc::mode_t) };
        self.check(r as isize).map(drop)
    }

    /// `chown(path, uid, gid)`.
    pub fn chown(&self, path: &str, uid: u32, gid: u32) -> Res<()> {
        // SAFETY: valid NUL-terminated path.
        let r = unsafe { libc::chown(self.at(path).as_ptr(), uid, gid) };
        self.check(r as isize).map(drop)
    }

    /// `utimensat(AT_FDCWD, path, times, 0)`: the chosen times set to now, the other omitted.
    pub fn utimes(&self, path: &str, times: Times) -> Res<()> {
        let now = libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        };
        let omit = libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        };
        let ts = match times {
            Times::Atime => [now, omit],
            Times::Mtime => [omit, now],
            Times::Both => [now, now],
        };
        // SAFETY: valid NUL-terminated path and a two-element timespec array.
        let r = unsafe { libc::utimensat(libc::AT_FDCWD, self.at(path).as_ptr(), ts.as_ptr(), 0) };
        self.check(r as isize).map(drop)
    }

    /// `link(old, new)`.
    pub fn link(&self, old: &str, new: &str) -> Res<()> {
        // SAFETY: valid NUL-terminated paths.
        let r = unsafe { libc::link(self.at(old).as_ptr(), self.at(new).as_ptr()) };
        self.check(r as isize).map(drop)
    }

    /// `symlink(target, path)`; the target is written as given.
    pub fn symlink(&self, target: &str, path: &str) -> Res<()> {
        let t = CString::new(target).expect("scenario paths hold no NUL");
        // SAFETY: valid NUL-terminated strings.
        let r = unsafe { libc::symlink(t.as_ptr(), self.at(path).as_ptr()) };
        self.check(r as isize).map(drop)
    }

    /// `unlink(path)`.
    pub fn unlink(&self, path: &str) -> Res<()> {
        // SAFETY: valid NUL-terminated path.
        self.check(unsafe { libc::unlink(self.at(path).as_ptr()) } as isize)
            .map(drop)
    }

    /// `rename(old, new)`.
    pub fn rename(&self, old: &str, new: &str) -> Res<()> {
        // SAFETY: valid NUL-terminated paths.
        let r = unsafe { libc::rename(self.at(old).as_ptr(), self.at(new).as_ptr()) };
        self.check(r as isize).map(drop)
    }

    /// The names in directory `path` (the standard library's directory reading), sorted.
    pub fn listdir(&self, path: &str) -> Res<Vec<String>> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(self.path(path)).map_err(|e| self.io_errno(&e))? {
            let e = e.map_err(|e| self.io_errno(&e))?;
            names.push(e.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    /// `lstat(path)`.
    #[allow(clippy::unnecessary_cast)] // the field types differ between systems
    pub fn stat(&self, path: &str) -> Res<StatInfo> {
        // SAFETY: an all-zero stat is a valid value to be overwritten.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid path and a valid out pointer.
        let r = unsafe { libc::lstat(self.at(path).as_ptr(), &mut st) };
        self.check(r as isize)?;
        let kind = match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => Kind::File,
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            _ => Kind::Other,
        };
        Ok(StatInfo {
            kind,
            nlink: st.st_nlink as u64,
            size: st.st_size as u64,
            ino: st.st_ino as u64,
        })
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::names::linux_errno_name;

    #[test]
    fn paths_are_joined_as_written_and_errors_are_named() {
        let dir = std::env::temp_dir().join(format!("posix-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fs = Posix::new(dir.clone(), linux_errno_name);
        assert_eq!(fs.path("d/."), format!("{}/d/.", dir.display()));
        fs.mkdir("d", 0o755).unwrap();
        assert_eq!(fs.rmdir("d/."), Err("EINVAL".to_string()));
        assert_eq!(fs.stat("d/missing").unwrap_err(), "ENOENT");
        let w_creat = OpenFlags {
            write: true,
            creat: true,
            ..OpenFlags::default()
        };
        let fd = fs.open("d/f", w_creat, 0o644).unwrap();
        assert_eq!(fs.write(fd, b"abc"), Ok(3));
        fs.close(fd).unwrap();
        let st = fs.stat("d/f").unwrap();
        assert_eq!((st.kind, st.nlink, st.size), (Kind::File, 1, 3));
        assert_eq!(fs.listdir("d"), Ok(vec!["f".to_string()]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
