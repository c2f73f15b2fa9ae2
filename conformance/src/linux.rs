//! The oracle: the Linux kernel's own inotify on a fresh temporary directory, through
//! direct system calls.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use crate::backend::{Backend, Errno, Kind, Res, StatInfo};
use crate::names::linux_errno_name;
use crate::script::{InitFlags, OpenFlags, Times};

/// Where Linux keeps the queue limit.
const MAX_QUEUED_PROC: &str = "/proc/sys/fs/inotify/max_queued_events";

/// The Linux backend: a temporary directory and the kernel's inotify.
pub struct Linux {
    /// The scenario directory (removed on drop).
    root: PathBuf,
    /// The value of `max_queued_events` before a scenario changed it.
    saved_max_queued: Option<String>,
    /// The value the scenario last set; [`Linux::max_queued_disturbed`] compares with it.
    set_max_queued: Option<u32>,
    /// Current file system credentials (`user` steps).
    cred: (u32, u32),
    /// Credentials each instance was made with: its calls run with them, as the calls of
    /// the process owning it would.
    inst_cred: std::collections::HashMap<u64, (u32, u32)>,
}

/// The current errno as a name.
fn errno() -> Errno {
    linux_errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Maps a `-1`-on-error return to a result.
fn check(r: libc::c_long) -> Res<libc::c_long> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// Sets this thread's file system uid and gid.
fn set_fs_cred((uid, gid): (u32, u32)) {
    // SAFETY: plain syscalls on the calling thread's credentials.
    unsafe {
        libc::setfsgid(gid);
        libc::setfsuid(uid);
    }
}

/// A C string for a path.
fn cpath(p: &Path) -> CString {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).expect("scenario paths hold no NUL")
}

impl Linux {
    /// A backend on a new empty directory under the system temporary directory.
    pub fn new() -> std::io::Result<Self> {
        let mut tmpl = std::env::temp_dir()
            .join("inotify-conform-XXXXXX")
            .into_os_string()
            .into_encoded_bytes();
        tmpl.push(0);
        // SAFETY: `tmpl` is a writable NUL-terminated buffer, as mkdtemp requires.
        let p = unsafe { libc::mkdtemp(tmpl.as_mut_ptr().cast()) };
        if p.is_null() {
            return Err(std::io::Error::last_os_error());
        }
        tmpl.pop();
        // SAFETY: the bytes came from an OsString and mkdtemp only replaced ASCII X's.
        let root = PathBuf::from(unsafe { std::ffi::OsString::from_encoded_bytes_unchecked(tmpl) });
        Ok(Linux {
            root,
            saved_max_queued: None,
            set_max_queued: None,
            cred: (0, 0),
            inst_cred: Default::default(),
        })
    }

    /// The absolute path of a scenario path.
    fn at(&self, path: &str) -> CString {
        cpath(&self.root.join(path))
    }

    /// Runs `f` with the credentials instance `inst` was made with.
    fn as_owner<T>(&mut self, inst: u64, f: impl FnOnce(&mut Self) -> T) -> T {
        let cur = self.cred;
        let owner = self.inst_cred.get(&inst).copied().unwrap_or(cur);
        set_fs_cred(owner);
        let r = f(self);
        set_fs_cred(cur);
        r
    }

    /// Whether `max_queued_events` no longer holds the value this scenario set: another
    /// process changed the machine-wide limit while the scenario ran, so the instances it
    /// made may have had another queue size than the scenario asked for. False when the
    /// scenario set no limit.
    pub fn max_queued_disturbed(&self) -> bool {
        let Some(set) = self.set_max_queued else {
            return false;
        };
        let now = std::fs::read_to_string(MAX_QUEUED_PROC).ok();
        now.and_then(|v| v.trim().parse::<u32>().ok()) != Some(set)
    }

    /// The scenario directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Linux {
    fn drop(&mut self) {
        set_fs_cred((0, 0));
        if let Some(v) = self.saved_max_queued.take() {
            let _ = std::fs::write(MAX_QUEUED_PROC, v);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Backend for Linux {
    fn name(&self) -> &'static str {
        "linux"
    }

    fn mkdir(&mut self, path: &str, mode: u32) -> Res<()> {
        // SAFETY: valid NUL-terminated path.
        check(unsafe { libc::mkdir(self.at(path).as_ptr(), mode) }.into()).map(drop)
    }

    fn rmdir(&mut self, path: &str) -> Res<()> {
        // SAFETY: valid NUL-terminated path.
        check(unsafe { libc::rmdir(self.at(path).as_ptr()) }.into()).map(drop)
    }

    fn open(&mut self, path: &str, f: OpenFlags, mode: u32) -> Res<u64> {
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
        // SAFETY: valid NUL-terminated path; the mode is passed as the variadic argument.
        let fd = unsafe { libc::open(self.at(path).as_ptr(), flags, mode as libc::c_uint) };
        check(fd.into()).map(|fd| fd as u64)
    }

    fn write(&mut self, fd: u64, data: &[u8]) -> Res<usize> {
        // SAFETY: `data` is valid for `data.len()` bytes.
        check(unsafe { libc::write(fd as i32, data.as_ptr().cast(), data.len()) } as libc::c_long)
            .map(|n| n as usize)
    }

    fn read(&mut self, fd: u64, len: usize) -> Res<usize> {
        let mut buf = vec![0u8; len];
        // SAFETY: `buf` is valid for `len` bytes.
        check(unsafe { libc::read(fd as i32, buf.as_mut_ptr().cast(), len) } as libc::c_long)
            .map(|n| n as usize)
    }

    fn close(&mut self, fd: u64) -> Res<()> {
        // SAFETY: closing a descriptor this backend opened.
        check(unsafe { libc::close(fd as i32) }.into()).map(drop)
    }

    fn truncate(&mut self, path: &str, len: u64) -> Res<()> {
        // SAFETY: valid NUL-terminated path.
        check(unsafe { libc::truncate(self.at(path).as_ptr(), len as libc::off_t) }.into())
            .map(drop)
    }

    fn ftruncate(&mut self, fd: u64, len: u64) -> Res<()> {
        // SAFETY: plain syscall on a descriptor.
        check(unsafe { libc::ftruncate(fd as i32, len as libc::off_t) }.into()).map(drop)
    }

    fn chmod(&mut self, path: &str, mode: u32) -> Res<()> {
        // SAFETY: valid NUL-terminated path.
        check(unsafe { libc::chmod(self.at(path).as_ptr(), mode) }.into()).map(drop)
    }

    fn chown(&mut self, path: &str, uid: u32, gid: u32) -> Res<()> {
        // SAFETY: valid NUL-terminated path.
        check(unsafe { libc::chown(self.at(path).as_ptr(), uid, gid) }.into()).map(drop)
    }

    fn utimes(&mut self, path: &str, times: Times) -> Res<()> {
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
        check(
            unsafe { libc::utimensat(libc::AT_FDCWD, self.at(path).as_ptr(), ts.as_ptr(), 0) }
                .into(),
        )
        .map(drop)
    }

    fn link(&mut self, old: &str, new: &str) -> Res<()> {
        // SAFETY: valid NUL-terminated paths.
        check(unsafe { libc::link(self.at(old).as_ptr(), self.at(new).as_ptr()) }.into()).map(drop)
    }

    fn symlink(&mut self, target: &str, path: &str) -> Res<()> {
        let t = CString::new(target).expect("no NUL");
        // SAFETY: valid NUL-terminated strings.
        check(unsafe { libc::symlink(t.as_ptr(), self.at(path).as_ptr()) }.into()).map(drop)
    }

    fn unlink(&mut self, path: &str) -> Res<()> {
        // SAFETY: valid NUL-terminated path.
        check(unsafe { libc::unlink(self.at(path).as_ptr()) }.into()).map(drop)
    }

    fn rename(&mut self, old: &str, new: &str) -> Res<()> {
        // SAFETY: valid NUL-terminated paths.
        check(unsafe { libc::rename(self.at(old).as_ptr(), self.at(new).as_ptr()) }.into())
            .map(drop)
    }

    fn listdir(&mut self, path: &str) -> Res<Vec<String>> {
        let rd = std::fs::read_dir(self.root.join(path))
            .map_err(|e| linux_errno_name(e.raw_os_error().unwrap_or(0)))?;
        let mut names = Vec::new();
        for e in rd {
            let e = e.map_err(|e| linux_errno_name(e.raw_os_error().unwrap_or(0)))?;
            names.push(e.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn stat(&mut self, path: &str) -> Res<StatInfo> {
        // SAFETY: an all-zero stat is a valid value to be overwritten.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid path and a valid out pointer.
        check(unsafe { libc::lstat(self.at(path).as_ptr(), &mut st) }.into())?;
        let kind = match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => Kind::File,
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            _ => Kind::Other,
        };
        Ok(StatInfo {
            kind,
            nlink: st.st_nlink,
            size: st.st_size as u64,
            ino: st.st_ino,
        })
    }

    fn init(&mut self, flags: InitFlags) -> Res<u64> {
        let mut f = flags.extra as i32;
        if flags.nonblock {
            f |= libc::IN_NONBLOCK;
        }
        if flags.cloexec {
            f |= libc::IN_CLOEXEC;
        }
        // SAFETY: plain syscall.
        let fd = check(unsafe { libc::inotify_init1(f) }.into())? as u64;
        self.inst_cred.insert(fd, self.cred);
        Ok(fd)
    }

    fn add_watch(&mut self, inst: u64, path: &str, mask: u32) -> Res<i32> {
        let p = self.at(path);
        self.as_owner(inst, |_| {
            // SAFETY: valid NUL-terminated path.
            check(unsafe { libc::inotify_add_watch(inst as i32, p.as_ptr(), mask) }.into())
                .map(|w| w as i32)
        })
    }

    fn rm_watch(&mut self, inst: u64, wd: i32) -> Res<()> {
        // SAFETY: plain syscall.
        check(unsafe { libc::inotify_rm_watch(inst as i32, wd) }.into()).map(drop)
    }

    fn read_events(&mut self, inst: u64, len: usize) -> Res<Vec<u8>> {
        let mut buf = vec![0u8; len];
        // SAFETY: `buf` is valid for `len` bytes.
        let n = check(
            unsafe { libc::read(inst as i32, buf.as_mut_ptr().cast(), len) } as libc::c_long,
        )?;
        buf.truncate(n as usize);
        Ok(buf)
    }

    fn queued_bytes(&mut self, inst: u64) -> Res<usize> {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        check(unsafe { libc::ioctl(inst as i32, libc::FIONREAD, &mut n) }.into())?;
        Ok(n as usize)
    }

    fn close_instance(&mut self, inst: u64) -> Res<()> {
        self.inst_cred.remove(&inst);
        self.close(inst)
    }

    fn set_user(&mut self, uid: u32, gid: u32) -> Res<()> {
        // The file system ids of this thread; supplementary groups stay those of the runner.
        self.cred = (uid, gid);
        set_fs_cred(self.cred);
        Ok(())
    }

    fn set_max_queued_events(&mut self, n: u32) -> Res<()> {
        if self.saved_max_queued.is_none() {
            let old = std::fs::read_to_string(MAX_QUEUED_PROC)
                .map_err(|e| linux_errno_name(e.raw_os_error().unwrap_or(0)))?;
            self.saved_max_queued = Some(old);
        }
        std::fs::write(MAX_QUEUED_PROC, format!("{n}\n"))
            .map_err(|e| linux_errno_name(e.raw_os_error().unwrap_or(0)))?;
        self.set_max_queued = Some(n);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs root (it writes the machine-wide limit); restores it on drop.
    #[test]
    fn a_limit_changed_by_another_process_is_noticed() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let mut linux = Linux::new().unwrap();
        assert!(!linux.max_queued_disturbed(), "no limit set yet");
        linux.set_max_queued_events(7).unwrap();
        assert!(!linux.max_queued_disturbed());
        std::fs::write(MAX_QUEUED_PROC, "9\n").unwrap();
        assert!(linux.max_queued_disturbed());
    }
}
