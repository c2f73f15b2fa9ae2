//! The oracle: the Linux kernel's own inotify on a fresh temporary directory, through
//! direct system calls.

use std::path::{Path, PathBuf};

use crate::backend::{Backend, Res};
use crate::names::linux_errno_name;
use crate::posix::Posix;
use crate::script::InitFlags;

/// Where Linux keeps the queue limit.
const MAX_QUEUED_PROC: &str = "/proc/sys/fs/inotify/max_queued_events";

/// The Linux backend: a temporary directory and the kernel's inotify.
pub struct Linux {
    /// The scenario directory (removed on drop) and the file calls on it.
    fs: Posix,
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

/// Sets this thread's file system uid and gid.
fn set_fs_cred((uid, gid): (u32, u32)) {
    // SAFETY: plain syscalls on the calling thread's credentials.
    unsafe {
        libc::setfsgid(gid);
        libc::setfsuid(uid);
    }
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
            fs: Posix::new(root, linux_errno_name),
            saved_max_queued: None,
            set_max_queued: None,
            cred: (0, 0),
            inst_cred: Default::default(),
        })
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
        self.fs.root()
    }
}

impl Drop for Linux {
    fn drop(&mut self) {
        set_fs_cred((0, 0));
        if let Some(v) = self.saved_max_queued.take() {
            let _ = std::fs::write(MAX_QUEUED_PROC, v);
        }
        let _ = std::fs::remove_dir_all(self.fs.root());
    }
}

impl Backend for Linux {
    fn name(&self) -> &'static str {
        "linux"
    }

    crate::posix_file_ops!(fs);

    fn init(&mut self, flags: InitFlags) -> Res<u64> {
        let mut f = flags.extra as i32;
        if flags.nonblock {
            f |= libc::IN_NONBLOCK;
        }
        if flags.cloexec {
            f |= libc::IN_CLOEXEC;
        }
        // SAFETY: plain syscall.
        let fd = self.fs.check(unsafe { libc::inotify_init1(f) } as isize)? as u64;
        self.inst_cred.insert(fd, self.cred);
        Ok(fd)
    }

    fn add_watch(&mut self, inst: u64, path: &str, mask: u32) -> Res<i32> {
        let p = self.fs.at(path);
        self.as_owner(inst, |b| {
            // SAFETY: valid NUL-terminated path.
            b.fs.check(unsafe { libc::inotify_add_watch(inst as i32, p.as_ptr(), mask) } as isize)
                .map(|w| w as i32)
        })
    }

    fn rm_watch(&mut self, inst: u64, wd: i32) -> Res<()> {
        // SAFETY: plain syscall.
        self.fs
            .check(unsafe { libc::inotify_rm_watch(inst as i32, wd) } as isize)
            .map(drop)
    }

    fn read_events(&mut self, inst: u64, len: usize) -> Res<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let n = self.fs.read_into(inst, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn queued_bytes(&mut self, inst: u64) -> Res<usize> {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        self.fs
            .check(unsafe { libc::ioctl(inst as i32, libc::FIONREAD, &mut n) } as isize)?;
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
