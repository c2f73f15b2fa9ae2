//! Name-following: which handles hold which names, and what unlink, rename and link do to
//! them (a handle follows its inode's name; an unlinked inode is freed at its last close).

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;

use inotify_abi::feed::{Fact, Replaced};
use inotify_feed::{names, NameUse};

use redox_scheme::CallerCtx;
use syscall::error::{
    Error, Result, EBUSY, EEXIST, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY, EPERM,
};
use syscall::flag::AT_REMOVEDIR;

use super::lookup::Last;
use super::{host_err, links_after_unlink, HostFs, Lookup, Node};

impl HostFs {
    /// Whether a `Freed` is due at the close of `node` (already out of the table): its name
    /// was removed, no other open handle holds that removed name, and the inode has no links
    /// left. Directories are freed by [`HostFs::free_released_dirs`] instead.
    pub(super) fn frees_at_close(&self, node: &Node) -> bool {
        let links = match node.file.as_ref().map(File::metadata) {
            Some(Ok(meta)) => meta.nlink(),
            _ => 0,
        };
        names::frees_at_close(&self.handles, node, links)
    }

    /// The name `comps` of `ino` (in directory `parent`, with `links_left` links after the
    /// removal) was removed: detaches its handles and says whether the inode is freed now
    /// (a directory once nothing holds it, by [`HostFs::free_released_dirs`]).
    pub(super) fn detach(
        &mut self,
        comps: &[String],
        ino: u64,
        is_dir: bool,
        parent: u64,
        links_left: u64,
    ) -> bool {
        let detach = self.feed.handles_mut().next_detach();
        names::detach_name(
            &mut self.handles,
            &mut self.removed_dirs,
            detach,
            comps,
            (ino, is_dir),
            parent,
            links_left,
        )
    }

    /// Reports `Freed` for every removed directory nothing holds any more, innermost first
    /// (Linux releases a dentry, then its parent).
    pub(super) fn free_released_dirs(&mut self) {
        while let Some(ino) = names::next_freed_dir(&self.handles, &mut self.removed_dirs) {
            self.report(&Fact::Freed { ino, is_dir: true });
        }
    }

    /// `unlinkat` once the base is known, in Linux's order: the parent, the kind of the
    /// last component (`unlink` of `.`/`..` is `EISDIR`; `rmdir` of `.` is `EINVAL`, of
    /// `..` `ENOTEMPTY`), the name, a trailing slash (`unlink` only: `EISDIR` for a
    /// directory, else `ENOTDIR`; a symlink is not followed), permission, the object's kind.
    pub(super) fn unlink_from(
        &mut self,
        base: &[String],
        path: &str,
        flags: usize,
        ctx: &CallerCtx,
    ) -> Result<()> {
        let rmdir = flags & AT_REMOVEDIR != 0;
        let (parent, last) = self.parent_of(base, path, ctx)?;
        let (name, slash) = match last {
            Last::Name { name, slash } => (name, slash),
            _ if !rmdir => return Err(Error::new(EISDIR)),
            Last::Dot => return Err(Error::new(EINVAL)),
            Last::DotDot => return Err(Error::new(ENOTEMPTY)),
            Last::Root => return Err(Error::new(EBUSY)),
        };
        let found = self.child(&parent, name)?;
        let meta = found.meta.ok_or(Error::new(ENOENT))?;
        if slash && !rmdir {
            return Err(Error::new(if meta.is_dir() { EISDIR } else { ENOTDIR }));
        }
        self.check_dir_writable(&parent, ctx)?;
        let host = self.host_path(&found.comps);
        if rmdir {
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
        let dir = self.dir_ino(&parent)?;
        let ino = meta.ino();
        let links_left = links_after_unlink(&meta);
        let freed = self.detach(&found.comps, ino, meta.is_dir(), dir, links_left);
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

    /// `renameat`: both parents (old first), then, as Linux's `do_renameat2`: `.`/`..` as
    /// either last component is `EBUSY`, a missing source `ENOENT`, a trailing slash on
    /// either name when the source is not a directory `ENOTDIR` (a symlink is not followed).
    pub(super) fn rename_at(
        &mut self,
        old_base: &[String],
        old_path: &str,
        new_base: &[String],
        new_path: &str,
        ctx: &CallerCtx,
    ) -> Result<usize> {
        let (old_parent, old_last) = self.parent_of(old_base, old_path, ctx)?;
        let (new_parent, new_last) = self.parent_of(new_base, new_path, ctx)?;
        let (
            Last::Name {
                name: old_name,
                slash: old_slash,
            },
            Last::Name {
                name: new_name,
                slash: new_slash,
            },
        ) = (old_last, new_last)
        else {
            return Err(Error::new(EBUSY));
        };
        let from = self.child(&old_parent, old_name)?;
        let src = from.meta.as_ref().ok_or(Error::new(ENOENT))?;
        let to = self.child(&new_parent, new_name)?;
        if !src.is_dir() && (old_slash || new_slash) {
            return Err(Error::new(ENOTDIR));
        }
        self.rename(from, to, ctx)
    }

    /// `frename`: the name handle `id` was opened by moves to `path` (from the root), with
    /// the target rules of [`HostFs::rename_at`].
    pub(super) fn rename_handle(
        &mut self,
        id: usize,
        path: &str,
        ctx: &CallerCtx,
    ) -> Result<usize> {
        let node = self.node(id)?;
        if node.unlinked || node.pending_symlink {
            return Err(Error::new(ENOENT));
        }
        let comps = node.comps.clone();
        let ino = node.ino;
        let (new_parent, new_last) = self.parent_of(&[], path, ctx)?;
        let Last::Name { name, slash } = new_last else {
            return Err(Error::new(EBUSY));
        };
        let meta = self.lstat(&comps)?;
        if meta.ino() != ino {
            return Err(Error::new(ENOENT));
        }
        if comps.is_empty() {
            return Err(Error::new(EBUSY));
        }
        let to = self.child(&new_parent, name)?;
        if !meta.is_dir() && slash {
            return Err(Error::new(ENOTDIR));
        }
        let from = Lookup {
            comps,
            meta: Some(meta),
        };
        self.rename(from, to, ctx)
    }

    /// `linkat` of handle `id` as `path` from `base`: the new name follows Linux's
    /// `filename_create` (`.`/`..` or an existing name `EEXIST`, a missing name with a
    /// trailing slash `ENOENT`), then [`HostFs::link`].
    pub(super) fn link_at(
        &mut self,
        id: usize,
        base: &[String],
        path: &str,
        ctx: &CallerCtx,
    ) -> Result<usize> {
        self.node(id)?;
        let (parent, last) = self.parent_of(base, path, ctx)?;
        let to = self.new_name(&parent, last)?;
        self.link(id, to, ctx)
    }

    /// The entry a creating call (`link`, `symlink`, `mkdir`) makes, as Linux's
    /// `filename_create`: `EEXIST` for `.`, `..`, the root or an existing name (a symlink
    /// is not followed), `ENOENT` for a missing name written with a trailing slash unless
    /// `dir`.
    pub(super) fn new_entry(&self, parent: &[String], last: Last<'_>, dir: bool) -> Result<Lookup> {
        let Last::Name { name, slash } = last else {
            return Err(Error::new(EEXIST));
        };
        let found = self.child(parent, name)?;
        if found.meta.is_some() {
            return Err(Error::new(EEXIST));
        }
        if slash && !dir {
            return Err(Error::new(ENOENT));
        }
        Ok(found)
    }

    /// [`HostFs::new_entry`] for a name that is not a directory.
    fn new_name(&self, parent: &[String], last: Last<'_>) -> Result<Lookup> {
        self.new_entry(parent, last, false)
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
            return Err(Error::new(ENOTEMPTY));
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
            let freed = self.detach(&to.comps, dst.ino(), dst.is_dir(), new_dir, links_left);
            Replaced {
                ino: dst.ino(),
                is_dir: dst.is_dir(),
                links_left,
                freed,
            }
        });
        names::move_names(
            &mut self.handles,
            (&from.comps, &to.comps),
            src.ino(),
            new_dir,
            new_name,
        );
        self.report(&Fact::Renamed {
            old_dir,
            old_name: old_name.as_bytes(),
            new_dir,
            new_name: new_name.as_bytes(),
            ino: src.ino(),
            is_dir: src.is_dir(),
            replaced,
        });
        self.walk_moved(&to.comps);
        Ok(0)
    }

    /// Links the inode behind handle `id` as `to` (a name [`HostFs::new_entry`] allowed), in
    /// Linux's order after the name: permission on the directory, a directory source
    /// `EPERM`, a source with no name left `ENOENT`.
    pub(super) fn link(&mut self, id: usize, to: Lookup, ctx: &CallerCtx) -> Result<usize> {
        if to.meta.is_some() {
            return Err(Error::new(EEXIST));
        }
        let Some((new_name, new_parent)) = to.comps.split_last() else {
            return Err(Error::new(EEXIST));
        };
        self.check_dir_writable(new_parent, ctx)?;
        let node = self.node(id)?;
        if node.is_dir {
            return Err(Error::new(EPERM));
        }
        if node.unlinked || node.pending_symlink {
            return Err(Error::new(ENOENT));
        }
        let (ino, src) = (node.ino, node.comps.clone());
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
        if node.unlinked {
            self.free_released_dirs();
        }
    }
}
