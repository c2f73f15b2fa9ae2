//! Opening and creating: host files behind handles, files, directories and symlinks made
//! with `open(O_CREAT ...)`.

use std::fs::{self, File, Metadata, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};

use inotify_abi::feed::Fact;

use redox_scheme::{CallerCtx, OpenResult};
use syscall::error::{Error, Result, EACCES, EEXIST, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR};
use syscall::flag::{
    MODE_PERM, O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_FCNTL_MASK, O_NOFOLLOW, O_RDONLY, O_RDWR,
    O_STAT, O_SYMLINK, O_TRUNC, O_WRONLY,
};
use syscall::schemev2::NewFdFlags;

use super::lookup::Last;
use super::{host_err, may, Handle, HostFs, Lookup, Node, NodeFact};
#[cfg(target_os = "linux")]
use super::{HOST_O_NOFOLLOW, HOST_O_PATH};
use super::{MAY_READ, MAY_WRITE};

impl HostFs {
    /// Gives a new host file to the caller, when the host process can.
    pub(super) fn give_to_caller(&self, comps: &[String], ctx: &CallerCtx) {
        if self.host_is_root {
            // Best effort: a failure leaves the file owned by root, which only tightens access.
            let _ = std::os::unix::fs::lchown(self.host_path(comps), Some(ctx.uid), Some(ctx.gid));
        }
    }

    /// Opens the host file behind `comps` for a new handle.
    pub(super) fn host_open(
        &self,
        comps: &[String],
        meta: &Metadata,
        flags: usize,
    ) -> Result<(File, bool)> {
        let path = self.host_path(comps);
        let acc = flags & O_ACCMODE;
        let stat_only =
            flags & O_STAT != 0 || (acc != O_RDONLY && acc != O_WRONLY && acc != O_RDWR);
        if meta.file_type().is_symlink() || stat_only {
            return Self::host_open_path(&path, meta.file_type().is_symlink()).map(|f| (f, false));
        }
        let mut opts = OpenOptions::new();
        if meta.is_dir() {
            opts.read(true);
        } else {
            opts.read(acc == O_RDONLY || acc == O_RDWR);
            opts.write(acc == O_WRONLY || acc == O_RDWR);
        }
        let file = opts.open(&path).map_err(host_err)?;
        Ok((file, true))
    }

    /// A host handle that only names the inode.
    #[cfg(target_os = "linux")]
    pub(super) fn host_open_path(path: &std::path::Path, nofollow: bool) -> Result<File> {
        let flags = HOST_O_PATH | if nofollow { HOST_O_NOFOLLOW } else { 0 };
        OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)
            .map_err(host_err)
    }

    /// A host handle that only names the inode (read access where `O_PATH` is unknown).
    #[cfg(not(target_os = "linux"))]
    pub(super) fn host_open_path(path: &std::path::Path, _nofollow: bool) -> Result<File> {
        OpenOptions::new().read(true).open(path).map_err(host_err)
    }

    /// Current metadata of a node (through its host handle when it has one).
    pub(super) fn node_meta(&self, node: &Node) -> Result<Metadata> {
        match &node.file {
            Some(f) => f.metadata().map_err(host_err),
            None => self.lstat(&node.comps),
        }
    }

    /// Creates the object named by `found` for an `O_CREAT` open; returns its metadata and
    /// whether the new handle is silent (directories and symlinks).
    pub(super) fn create(
        &mut self,
        found: &Lookup,
        flags: usize,
        ctx: &CallerCtx,
    ) -> Result<Option<(Metadata, bool)>> {
        let Some((name, parent)) = found.comps.split_last() else {
            return Err(Error::new(EEXIST)); // the root always exists
        };
        self.check_dir_writable(parent, ctx)?;
        let path = self.host_path(&found.comps);
        let mode = (flags & usize::from(MODE_PERM)) as u32;
        if flags & O_SYMLINK != 0 {
            // Created at the first write, when the target is known.
            return Ok(None);
        }
        if flags & O_DIRECTORY != 0 {
            fs::DirBuilder::new()
                .mode(mode)
                .create(&path)
                .map_err(host_err)?;
        } else {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&path)
                .map_err(host_err)?;
        }
        // The caller's umask was applied by its libc; the host's must not apply again.
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(host_err)?;
        self.give_to_caller(&found.comps, ctx);
        let meta = self.lstat(&found.comps)?;
        let dir = self.dir_ino(parent)?;
        self.report(&Fact::Created {
            dir,
            name: name.as_bytes(),
            ino: meta.ino(),
            is_dir: meta.is_dir(),
        });
        Ok(Some((meta, flags & O_DIRECTORY != 0)))
    }

    /// What an `O_CREAT` open of `path` acts on: an existing object to open (`meta` set) or
    /// the entry to create (`meta` `None`). Three kinds, each with Linux's rules for its
    /// path: a file (`open(O_CREAT)`: a trailing slash is `EISDIR` whether or not the name
    /// exists, `.`/`..` are `EEXIST` with `O_EXCL` and else `EISDIR`, an existing
    /// directory is `EISDIR`, a final symlink is followed unless `O_EXCL` or `O_NOFOLLOW`),
    /// and Redox's directory (`O_DIRECTORY`, relibc's `mkdir`) and symlink (`O_SYMLINK`)
    /// creations, which follow `mkdir(2)` and `symlink(2)` ([`HostFs::new_entry`]). A
    /// directory creation asking for write access or `O_TRUNC` is `EISDIR` before anything
    /// is made.
    fn create_target(
        &self,
        base: &[String],
        path: &str,
        flags: usize,
        want_write: bool,
        ctx: &CallerCtx,
    ) -> Result<Lookup> {
        let excl = flags & O_EXCL != 0;
        let is_dir = flags & O_DIRECTORY != 0 && flags & O_SYMLINK == 0;
        if is_dir && (want_write || flags & O_TRUNC != 0) {
            return Err(Error::new(EISDIR));
        }
        let (parent, last) = self.parent_of(base, path, ctx)?;
        if flags & (O_DIRECTORY | O_SYMLINK) != 0 {
            return match self.new_entry(&parent, last, is_dir) {
                // Redox opens an existing directory for `O_CREAT | O_DIRECTORY`.
                Err(e) if e.errno == EEXIST && is_dir && !excl => {
                    self.lookup(base, path, flags & O_NOFOLLOW == 0, ctx)
                }
                other => other,
            };
        }
        let name = match last {
            Last::Name { slash: true, .. } => return Err(Error::new(EISDIR)),
            Last::Name { name, .. } => name,
            _ if excl => return Err(Error::new(EEXIST)),
            _ => return Err(Error::new(EISDIR)),
        };
        // O_CREAT | O_EXCL never follows a final symlink: a dangling one is EEXIST.
        let follow = flags & (O_NOFOLLOW | O_EXCL) == 0;
        let found = self.lookup(&parent, name, follow, ctx)?;
        match &found.meta {
            Some(_) if excl => Err(Error::new(EEXIST)),
            Some(meta) if meta.is_dir() => Err(Error::new(EISDIR)),
            _ => Ok(found),
        }
    }

    /// `openat`, once the base directory is known.
    pub(super) fn open_from(
        &mut self,
        base: &[String],
        path: &str,
        flags: usize,
        ctx: &CallerCtx,
    ) -> Result<OpenResult> {
        let acc = flags & O_ACCMODE;
        let stat_only = flags & O_STAT != 0;
        let want_write = !stat_only && (acc == O_WRONLY || acc == O_RDWR);
        let want_read = !stat_only && (acc == O_RDONLY || acc == O_RDWR);
        let found = if flags & O_CREAT != 0 {
            self.create_target(base, path, flags, want_write, ctx)?
        } else {
            let follow = flags & (O_NOFOLLOW | O_SYMLINK) == 0;
            self.lookup(base, path, follow, ctx)?
        };
        let (meta, created, silent_create) = match &found.meta {
            Some(meta) => (meta.clone(), false, false),
            None if flags & O_CREAT != 0 => match self.create(&found, flags, ctx)? {
                Some((meta, silent)) => (meta, true, silent),
                None => return self.open_pending_symlink(found, flags, ctx),
            },
            None => return Err(Error::new(ENOENT)),
        };
        let is_dir = meta.is_dir();
        let is_symlink = meta.file_type().is_symlink();
        if is_symlink && !stat_only && flags & O_SYMLINK == 0 {
            return Err(Error::new(ELOOP));
        }
        if flags & O_DIRECTORY != 0 && !is_dir && !stat_only {
            return Err(Error::new(ENOTDIR));
        }
        if is_dir && (want_write || flags & O_TRUNC != 0) {
            return Err(Error::new(EISDIR));
        }
        if !created {
            let mut want = 0;
            if want_read {
                want |= MAY_READ;
            }
            if want_write || (flags & O_TRUNC != 0 && !is_dir) {
                want |= MAY_WRITE;
            }
            if !may(&meta, ctx.uid, ctx.gid, want) {
                return Err(Error::new(EACCES));
            }
        }
        let (file, io) = self.host_open(&found.comps, &meta, flags)?;
        let (dir, name) = match found.comps.split_last() {
            Some((name, parent)) => (self.dir_ino(parent)?, name.clone()),
            None => (0, String::new()),
        };
        let truncate = flags & O_TRUNC != 0 && !created && meta.is_file() && !stat_only;
        if truncate {
            OpenOptions::new()
                .write(true)
                .open(self.host_path(&found.comps))
                .and_then(|f| f.set_len(0))
                .map_err(host_err)?;
        }
        let node = Node {
            comps: found.comps,
            file: Some(file),
            io,
            ino: meta.ino(),
            is_dir,
            is_symlink,
            dir,
            name,
            flags: flags & (O_ACCMODE | O_FCNTL_MASK | O_STAT | O_SYMLINK | O_DIRECTORY),
            for_write: want_write,
            silent: stat_only || silent_create,
            unlinked: false,
            detach_id: 0,
            opener: (ctx.uid, ctx.gid),
            pending_symlink: false,
            dirents: Vec::new(),
        };
        let positioned = meta.is_file() || is_symlink;
        let id = self.insert(Handle::Node(node));
        self.report_node(id, NodeFact::Opened);
        if truncate {
            self.report_node(id, NodeFact::Truncated);
        }
        let flags = if positioned {
            NewFdFlags::POSITIONED
        } else {
            NewFdFlags::empty()
        };
        Ok(OpenResult::ThisScheme { number: id, flags })
    }

    /// A handle for `open(O_CREAT | O_SYMLINK)` of a new name: the symlink is made when its
    /// target is written.
    pub(super) fn open_pending_symlink(
        &mut self,
        found: Lookup,
        flags: usize,
        ctx: &CallerCtx,
    ) -> Result<OpenResult> {
        let (dir, name) = match found.comps.split_last() {
            Some((name, parent)) => (self.dir_ino(parent)?, name.clone()),
            None => return Err(Error::new(EEXIST)),
        };
        let node = Node {
            comps: found.comps,
            file: None,
            io: false,
            ino: 0,
            is_dir: false,
            is_symlink: true,
            dir,
            name,
            flags: flags & (O_ACCMODE | O_FCNTL_MASK | O_SYMLINK),
            for_write: true,
            silent: true,
            unlinked: false,
            detach_id: 0,
            opener: (ctx.uid, ctx.gid),
            pending_symlink: true,
            dirents: Vec::new(),
        };
        let id = self.insert(Handle::Node(node));
        Ok(OpenResult::ThisScheme {
            number: id,
            flags: NewFdFlags::empty(),
        })
    }

    /// Writes the target of a pending symlink: creates the link.
    pub(super) fn write_symlink_target(
        &mut self,
        id: usize,
        buf: &[u8],
        ctx: &CallerCtx,
    ) -> Result<usize> {
        let node = self.node(id)?;
        let target = std::str::from_utf8(buf).map_err(|_| Error::new(EINVAL))?;
        if target.is_empty() || target.contains('\0') {
            return Err(Error::new(ENOENT));
        }
        let comps = node.comps.clone();
        let (dir, name) = (node.dir, node.name.clone());
        std::os::unix::fs::symlink(target, self.host_path(&comps)).map_err(host_err)?;
        self.give_to_caller(&comps, ctx);
        let meta = self.lstat(&comps)?;
        let file = Self::host_open_path(&self.host_path(&comps), true).ok();
        let node = self.node_mut(id)?;
        node.ino = meta.ino();
        node.file = file;
        node.pending_symlink = false;
        self.report(&Fact::Created {
            dir,
            name: name.as_bytes(),
            ino: meta.ino(),
            is_dir: false,
        });
        Ok(buf.len())
    }
}
