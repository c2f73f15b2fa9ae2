//! What the tools need from the system beyond the inotify client calls: directory listings
//! (for `-r`) and whether a path is a directory without following a final symlink.

use inotify_client::{Os, O_CLOEXEC, O_PATH};
use syscall::error::{Result, ELOOP};
use syscall::flag::{MODE_DIR, MODE_TYPE, O_NOFOLLOW};

/// The client calls plus a directory listing.
pub trait ToolOs: Os {
    /// The names in directory `path` (without `.` and `..`), in the filesystem's order. The
    /// directory is opened, read to the end and closed, as `opendir`/`readdir` do, so a watch
    /// on it sees `OPEN`, `ACCESS` and `CLOSE_NOWRITE` as on Linux. `ENOTDIR` for a file.
    fn list_dir(&self, path: &str) -> Result<Vec<String>>;

    /// Whether `-r` first tries one subtree watch per path (inotifyd's `IN_SUBTREE`, which
    /// loses nothing in new directories) before inotify-tools' watch per directory. True on
    /// Redox; false by default, so a host run keeps inotify-tools' behaviour.
    fn subtree_watches(&self) -> bool {
        false
    }
}

impl<T: ToolOs + ?Sized> ToolOs for &T {
    fn list_dir(&self, path: &str) -> Result<Vec<String>> {
        (**self).list_dir(path)
    }
    fn subtree_watches(&self) -> bool {
        (**self).subtree_watches()
    }
}

/// Whether `path` is a directory, not following a final symlink (`lstat`): false for a
/// symlink, `Err` when it cannot be looked up.
pub fn lstat_is_dir(os: &impl Os, path: &str) -> Result<bool> {
    let fd = match os.open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC) {
        Ok(fd) => fd,
        Err(e) if e.errno == ELOOP => return Ok(false),
        Err(e) => return Err(e),
    };
    let st = os.fstat(fd);
    let _ = os.close(fd);
    Ok(st?.st_mode & MODE_TYPE == MODE_DIR)
}

#[cfg(target_os = "redox")]
impl ToolOs for inotify_client::RedoxOs {
    fn subtree_watches(&self) -> bool {
        true
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>> {
        use syscall::error::{Error, EIO};
        let to_err = |e: std::io::Error| Error::new(e.raw_os_error().unwrap_or(EIO));
        let mut names = Vec::new();
        for ent in std::fs::read_dir(path).map_err(to_err)? {
            names.push(
                ent.map_err(to_err)?
                    .file_name()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        Ok(names)
    }
}
