//! Lookup and permissions: resolving a path component by component below the root
//! (symlinks followed inside it), and the mode-bit checks for the caller.

use std::collections::VecDeque;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;

use inotify_abi::consts::NAME_MAX;

use redox_scheme::CallerCtx;
use syscall::error::{Error, Result, EACCES, EINVAL, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, EPERM};

use super::{host_err, may, HostFs, Lookup, Node, MAX_SYMLINK_HOPS, MAY_EXEC, MAY_WRITE, PATH_MAX};

/// The last component of a path, classified as Linux's `filename_parentat` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Last<'p> {
    /// No component at all: the path names the root.
    Root,
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// A name, and whether slashes followed it (`name/`).
    Name { name: &'p str, slash: bool },
}

/// `ENAMETOOLONG` for a path that does not fit Linux's `PATH_MAX` with its terminating NUL.
pub(super) fn check_path_len(path: &str) -> Result<()> {
    if path.len() >= PATH_MAX {
        return Err(Error::new(ENAMETOOLONG));
    }
    Ok(())
}

impl HostFs {
    /// `ctx` with the credentials handle `id` was opened with: two-handle requests carry the
    /// second handle's id where the caller's uid and gid would be (redox-scheme 0.12), so
    /// those calls act with the credentials of the caller that opened the first handle
    /// (`Process::rename` opens it just before).
    pub(super) fn opener_ctx(&self, id: usize, ctx: &CallerCtx) -> Result<CallerCtx> {
        let (uid, gid) = self.node(id)?.opener;
        Ok(CallerCtx {
            pid: ctx.pid,
            uid,
            gid,
            id: ctx.id,
        })
    }

    /// Resolves the parent directory of `path` from `base`, as Linux's `filename_parentat`:
    /// every component but the last, which is classified as written ([`Last`]). `ENOTDIR`
    /// when the parent is not a directory, `EACCES` without search permission on it (Linux
    /// checks it before looking at the last component, whatever its kind).
    pub(super) fn parent_of<'p>(
        &self,
        base: &[String],
        path: &'p str,
        ctx: &CallerCtx,
    ) -> Result<(Vec<String>, Last<'p>)> {
        check_path_len(path)?;
        let trimmed = path.trim_end_matches('/');
        let (parent, last) = match trimmed.rfind('/') {
            Some(cut) => (&path[..=cut], &path[cut + 1..]),
            None if trimmed.is_empty() && path.starts_with('/') => ("/", ""),
            None => ("", path),
        };
        let found = self.lookup(base, parent, true, ctx)?;
        let meta = match found.meta {
            Some(meta) if meta.is_dir() => meta,
            Some(_) => return Err(Error::new(ENOTDIR)),
            None => return Err(Error::new(ENOENT)),
        };
        let name = last.trim_end_matches('/');
        let last = match name {
            "" => return Ok((found.comps, Last::Root)),
            "." => Last::Dot,
            ".." => Last::DotDot,
            _ => Last::Name {
                name,
                slash: name.len() < last.len(),
            },
        };
        if !may(&meta, ctx.uid, ctx.gid, MAY_EXEC) {
            return Err(Error::new(EACCES));
        }
        Ok((found.comps, last))
    }

    /// The entry `name` of directory `parent` as it is (a final symlink not followed):
    /// `ENAMETOOLONG` for a name over `NAME_MAX`, `meta` `None` when there is none.
    pub(super) fn child(&self, parent: &[String], name: &str) -> Result<Lookup> {
        if name.len() > NAME_MAX {
            return Err(Error::new(ENAMETOOLONG));
        }
        let mut comps = parent.to_vec();
        comps.push(name.to_string());
        let meta = match fs::symlink_metadata(self.host_path(&comps)) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(host_err(e)),
        };
        Ok(Lookup { comps, meta })
    }

    /// The components of directory handle `id` (a base for relative lookups).
    pub(super) fn base_dir(&self, id: usize) -> Result<Vec<String>> {
        let node = self.node(id)?;
        if !node.is_dir {
            return Err(Error::new(ENOTDIR));
        }
        if node.unlinked {
            return Err(Error::new(ENOENT));
        }
        Ok(node.comps.clone())
    }

    /// Resolves `path` from `base` for a caller: components are looked up one by one,
    /// symlinks are followed inside the root (the last one only when `follow_last`), search
    /// permission is checked on every directory passed, and `..` never leaves the root.
    pub(super) fn lookup(
        &self,
        base: &[String],
        path: &str,
        follow_last: bool,
        ctx: &CallerCtx,
    ) -> Result<Lookup> {
        check_path_len(path)?;
        let mut comps: Vec<String> = if path.starts_with('/') {
            Vec::new()
        } else {
            base.to_vec()
        };
        let mut pending: VecDeque<String> = path.split('/').map(str::to_string).collect();
        let mut hops = 0u32;
        let mut meta = self.lstat(&comps)?;
        loop {
            // Skip empty components (`.` is looked up below, so `file/.` is ENOTDIR).
            while pending.front().is_some_and(String::is_empty) {
                pending.pop_front();
            }
            let Some(comp) = pending.pop_front() else {
                return Ok(Lookup {
                    comps,
                    meta: Some(meta),
                });
            };
            if !meta.is_dir() {
                return Err(Error::new(ENOTDIR));
            }
            if !may(&meta, ctx.uid, ctx.gid, MAY_EXEC) {
                return Err(Error::new(EACCES));
            }
            if comp == "." {
                continue;
            }
            if comp == ".." {
                if comps.pop().is_none() {
                    return Err(Error::new(EACCES));
                }
                meta = self.lstat(&comps)?;
                continue;
            }
            if comp.len() > NAME_MAX {
                return Err(Error::new(ENAMETOOLONG));
            }
            // The last component is followed by slashes only; one followed by `.` or `..`
            // must exist and be a directory (Linux walks it like any other).
            let last = pending.iter().all(String::is_empty);
            let trailing_slash = last && !pending.is_empty();
            comps.push(comp);
            let child = match fs::symlink_metadata(self.host_path(&comps)) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound && last => {
                    return Ok(Lookup { comps, meta: None });
                }
                Err(e) => return Err(host_err(e)),
            };
            if child.file_type().is_symlink() && (!last || follow_last || trailing_slash) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(Error::new(ELOOP));
                }
                let target = fs::read_link(self.host_path(&comps)).map_err(host_err)?;
                let target = target.to_str().ok_or(Error::new(EINVAL))?.to_string();
                comps.pop();
                if target.starts_with('/') {
                    comps.clear();
                }
                for part in target.split('/').rev() {
                    pending.push_front(part.to_string());
                }
                meta = self.lstat(&comps)?;
                continue;
            }
            if trailing_slash && !child.is_dir() {
                return Err(Error::new(ENOTDIR));
            }
            meta = child;
        }
    }

    /// Checks that a caller may add or remove names in directory `comps`.
    pub(super) fn check_dir_writable(&self, comps: &[String], ctx: &CallerCtx) -> Result<Metadata> {
        let meta = self.lstat(comps)?;
        if !meta.is_dir() {
            return Err(Error::new(ENOTDIR));
        }
        if !may(&meta, ctx.uid, ctx.gid, MAY_WRITE | MAY_EXEC) {
            return Err(Error::new(EACCES));
        }
        Ok(meta)
    }

    /// Checks that the caller owns the node (or is root): the rule for chmod and times.
    pub(super) fn check_owner(&self, node: &Node, ctx: &CallerCtx) -> Result<Metadata> {
        let meta = self.node_meta(node)?;
        if ctx.uid != 0 && meta.uid() != ctx.uid {
            return Err(Error::new(EPERM));
        }
        Ok(meta)
    }
}
