//! Name-following: which handles hold which names, and what unlink, rename and link do to
//! them (a handle follows its inode's name; an unlinked inode is freed at its last close).

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;

use inotify_abi::feed::{Fact, Replaced};
use inotify_feed::NameUse;

use redox_scheme::CallerCtx;
use syscall::error::{Error, Result, EBUSY, EEXIST, EINVAL, EISDIR, ENOENT, ENOTDIR, EPERM};
use syscall::flag::AT_REMOVEDIR;

use super::{check_last_component, host_err, links_after_unlink, Handle, HostFs, Lookup, Node};

impl HostFs {
    /// Whether an open handle holds the name `comps` of inode `ino` (Linux: the name's
    /// dentry is in use, so removing it leaves the inode's end to the last close).
    pub(super) fn name_held(&self, comps: &[String], ino: u64) -> bool {
        self.handles
            .values()
            .any(|h| matches!(h, Handle::Node(n) if n.holds(comps, ino)))
    }

    /// Whether a `Freed` is due at the close of `node`: its name was removed, no other open
    /// handle holds that removed name, and the inode has no links left.
    pub(super) fn frees_at_close(&self, node: &Node) -> bool {
        if !node.unlinked || node.pending_symlink {
            return false;
        }
        debug_assert_ne!(node.detach_id, 0);
        let shared = self
            .handles
            .values()
            .any(|h| matches!(h, Handle::Node(n) if n.unlinked && n.detach_id == node.detach_id));
        let links = match node.file.as_ref().map(File::metadata) {
            Some(Ok(meta)) => meta.nlink(),
            _ => 0,
        };
        !shared && links == 0
    }

    /// Detaches the handles holding the name `comps` of `ino`: the name was removed.
    pub(super) fn mark_unlinked(&mut self, comps: &[String], ino: u64) {
        let id = self.feed.handles_mut().next_detach();
        for h in self.handles.values_mut() {
            if let Handle::Node(n) = h {
                if n.holds(comps, ino) {
                    n.unlinked = true;
                    n.detach_id = id;
                }
            }
        }
    }

    /// `unlinkat` once the base is known.
    pub(super) fn unlink_from(
        &mut self,
        base: &[String],
        path: &str,
        flags: usize,
        ctx: &CallerCtx,
    ) -> Result<()> {
        check_last_component(path)?;
        let found = self.lookup(base, path, false, ctx)?;
        let meta = found.meta.ok_or(Error::new(ENOENT))?;
        let Some((name, parent)) = found.comps.split_last() else {
            return Err(Error::new(EBUSY));
        };
        self.check_dir_writable(parent, ctx)?;
        let host = self.host_path(&found.comps);
        if flags & AT_REMOVEDIR != 0 {
            if !meta.is_dir() {
                return Err(Error::new(ENOTDIR));
            }
            fs::remove_dir(&host).map_err(host_err)?;
        } else {
            if meta.is_dir() {
                return Err(Error::new(EISDIR));
            }
            fs::remove_file(&host).map_err(host_err)?;
        }
        let dir = self.dir_ino(parent)?;
        let ino = meta.ino();
        let links_left = links_after_unlink(&meta);
        let freed = links_left == 0 && !self.name_held(&found.comps, ino);
        self.mark_unlinked(&found.comps, ino);
        self.report(&Fact::Unlinked {
            dir,
            name: name.as_bytes(),
            ino,
            is_dir: meta.is_dir(),
            links_left,
            freed,
        });
        Ok(())
    }

    /// Renames `from` (an existing name) to `to`, for a caller.
    pub(super) fn rename(&mut self, from: Lookup, to: Lookup, ctx: &CallerCtx) -> Result<usize> {
        let src = from.meta.as_ref().ok_or(Error::new(ENOENT))?;
        let (Some((old_name, old_parent)), Some((new_name, new_parent))) =
            (from.comps.split_last(), to.comps.split_last())
        else {
            return Err(Error::new(EBUSY));
        };
        // Linux checks ancestry before permissions and kinds: a directory into its own
        // subtree, or a target that is an ancestor of the source.
        if src.is_dir() && to.comps.starts_with(&from.comps) && to.comps != from.comps {
            return Err(Error::new(EINVAL));
        }
        if from.comps.starts_with(&to.comps) && to.comps != from.comps {
            return Err(Error::new(syscall::error::ENOTEMPTY));
        }
        self.check_dir_writable(old_parent, ctx)?;
        self.check_dir_writable(new_parent, ctx)?;
        if let Some(dst) = &to.meta {
            if dst.ino() == src.ino() && dst.dev() == src.dev() {
                return Ok(0); // Same inode: nothing happens, nothing is reported.
            }
            if src.is_dir() && !dst.is_dir() {
                return Err(Error::new(ENOTDIR));
            }
            if !src.is_dir() && dst.is_dir() {
                return Err(Error::new(EISDIR));
            }
        }
        fs::rename(self.host_path(&from.comps), self.host_path(&to.comps)).map_err(host_err)?;
        let old_dir = self.dir_ino(old_parent)?;
        let new_dir = self.dir_ino(new_parent)?;
        let replaced = to.meta.as_ref().map(|dst| {
            let links_left = links_after_unlink(dst);
            Replaced {
                ino: dst.ino(),
                is_dir: dst.is_dir(),
                links_left,
                freed: links_left == 0 && !self.name_held(&to.comps, dst.ino()),
            }
        });
        if let Some(r) = replaced {
            self.mark_unlinked(&to.comps, r.ino);
        }
        self.move_handles(&from.comps, &to.comps, src.ino(), new_dir, new_name);
        self.report(&Fact::Renamed {
            old_dir,
            old_name: old_name.as_bytes(),
            new_dir,
            new_name: new_name.as_bytes(),
            ino: src.ino(),
            is_dir: src.is_dir(),
            replaced,
        });
        Ok(0)
    }

    /// After a rename of `from` to `to`: handles below `from` now live below `to`, and those
    /// reached through the moved name itself have a new parent and name.
    pub(super) fn move_handles(
        &mut self,
        from: &[String],
        to: &[String],
        ino: u64,
        new_dir: u64,
        new_name: &str,
    ) {
        for h in self.handles.values_mut() {
            let Handle::Node(n) = h else { continue };
            if n.unlinked || !n.comps.starts_with(from) {
                continue;
            }
            if n.comps.len() == from.len() && n.ino == ino {
                n.dir = new_dir;
                n.name = new_name.to_string();
            }
            let rest = n.comps.split_off(from.len());
            n.comps = to.to_vec();
            n.comps.extend(rest);
        }
    }

    /// Links the inode behind handle `id` as `to`.
    pub(super) fn link(&mut self, id: usize, to: Lookup, ctx: &CallerCtx) -> Result<usize> {
        let node = self.node(id)?;
        if node.unlinked || node.pending_symlink {
            return Err(Error::new(ENOENT));
        }
        if to.meta.is_some() {
            return Err(Error::new(EEXIST));
        }
        if node.is_dir {
            return Err(Error::new(EPERM));
        }
        let (ino, src) = (node.ino, node.comps.clone());
        let Some((new_name, new_parent)) = to.comps.split_last() else {
            return Err(Error::new(EEXIST));
        };
        self.check_dir_writable(new_parent, ctx)?;
        fs::hard_link(self.host_path(&src), self.host_path(&to.comps)).map_err(host_err)?;
        let dir = self.dir_ino(new_parent)?;
        self.report(&Fact::Linked {
            dir,
            name: new_name.as_bytes(),
            ino,
        });
        Ok(0)
    }

    /// Closes a node handle: `Closed` unless silent, then `Freed` when it was the last
    /// handle holding a removed name of an inode with no links left (Linux: the dentry of
    /// that name is released with `i_nlink == 0`).
    pub(super) fn close_node(&mut self, node: Node) {
        if let Some(at) = node.subject(NameUse::Data) {
            let wrote = node.for_write;
            self.report(&Fact::Closed { at, wrote });
        }
        if self.frees_at_close(&node) {
            self.report(&Fact::Freed {
                ino: node.ino,
                is_dir: node.is_dir,
            });
        }
    }
}
