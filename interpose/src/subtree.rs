//! Subtree watches through the interposer: the subtree call and the walk after a directory
//! is moved into a covered one, as `HostFs` and the redoxfs patch serve them. The walks are
//! made on the target with the interposer's own credentials (the daemon checked the
//! caller's access to the root; the filesystem walks itself the same way), with forwarded
//! `getdents` and `fstat`; the producer keeps the covered set from the facts.

use syscall::error::{Error, Result, ENOTDIR};
use syscall::flag::{O_DIRECTORY, O_NOFOLLOW, O_RDONLY, O_STAT};

use super::{Creds, Interposer, Target};

/// Bytes of a `getdents` record header (`syscall::dirent::DirentHeader`, packed): inode,
/// next opaque id, record length, kind.
const DIRENT_HEADER: usize = 8 + 8 + 2 + 1;

/// `DirentKind::Unspecified` and `DirentKind::Directory` (`syscall::dirent`).
const KIND_UNSPECIFIED: u8 = 0;
/// See [`KIND_UNSPECIFIED`].
const KIND_DIRECTORY: u8 = 4;

/// Bytes asked of the target per `getdents`.
const DIRENT_BUF: usize = 4096;

/// One directory a walk found: its parent's inode, its name, its inode.
use inotify_feed::FoundDir as Found;

/// One `getdents` record: the entry's name, its kind, and the opaque id of the next one.
struct Dirent<'a> {
    /// The name (without its NUL).
    name: &'a [u8],
    /// `DirentKind` as a byte.
    kind: u8,
    /// Where the next `getdents` goes on.
    next: u64,
}

/// The records in the first `len` bytes of a `getdents` answer; stops at the first malformed
/// one (a target's answer is never trusted to be well formed).
fn dirents(buf: &[u8]) -> impl Iterator<Item = Dirent<'_>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        let entry = next_dirent(rest);
        match entry {
            Some((dirent, len)) => {
                rest = &rest[len..];
                Some(dirent)
            }
            None => {
                rest = &[];
                None
            }
        }
    })
}

/// The record at the start of `buf` and its length; `None` at the end or when malformed.
fn next_dirent(buf: &[u8]) -> Option<(Dirent<'_>, usize)> {
    let head = buf.get(..DIRENT_HEADER)?;
    let next = u64::from_ne_bytes(head[8..16].try_into().ok()?);
    let len = usize::from(u16::from_ne_bytes(head[16..18].try_into().ok()?));
    if len <= DIRENT_HEADER {
        return None;
    }
    let record = buf.get(DIRENT_HEADER..len)?;
    let end = record.iter().position(|&b| b == 0).unwrap_or(record.len());
    let dirent = Dirent {
        name: &record[..end],
        kind: head[18],
        next,
    };
    Some((dirent, len))
}

impl<T: Target> Interposer<T> {
    /// The subtree call on directory handle `id` (the daemon's, through a feed handle): walks
    /// it and hands the walk to the feed, which answers into `payload`.
    pub(crate) fn subtree_call(&self, id: usize, payload: &mut [u8]) -> Result<usize> {
        let (comps, root, dir) = {
            let st = self.lock();
            let node = st.node(id).ok_or(Error::new(syscall::error::EBADF))?;
            (node.comps.clone(), node.ino, node.is_dir)
        };
        if !dir {
            return Err(Error::new(ENOTDIR));
        }
        let found = self.walk_dirs(&comps, root);
        let mut st = self.lock();
        let n = st
            .feed
            .add_subtree_walk(root, &found, payload)
            .map_err(|e| Error::new(e.errno()))?;
        self.post_feeds(&mut st);
        Ok(n)
    }

    /// After a rename to `comps`, when the producer asked for it (a directory, inode `ino`,
    /// moved into a covered directory): reports every directory below it as `Exists`,
    /// parent before child, before the rename is answered.
    pub(crate) fn walk_moved(&self, comps: &[String], ino: u64) {
        let found = self.walk_dirs(comps, ino);
        let mut st = self.lock();
        if st.feed.record_walk(&found) {
            self.post_feeds(&mut st);
        }
    }

    /// Every directory below the directory at `comps` (inode `ino`), parent before child.
    /// Symlinks are not followed; entries that vanish or cannot be read are skipped.
    fn walk_dirs(&self, comps: &[String], ino: u64) -> Vec<Found> {
        inotify_feed::walk_dirs(comps, ino, |dir| self.subdirs(dir))
    }

    /// The directories in the directory at `comps`: name and inode (from the target's
    /// `fstat`, as every fact names inodes). Empty when it cannot be listed.
    fn subdirs(&self, comps: &[String]) -> Vec<(String, u64)> {
        let path = comps.join("/");
        let root = self.target.root();
        let flags = O_DIRECTORY | O_RDONLY | O_NOFOLLOW;
        let Ok(fd) = self.target.openat(Creds::OWN, root, &path, flags) else {
            return Vec::new();
        };
        let fd = self.own(fd);
        let mut out = Vec::new();
        let mut buf = vec![0u8; DIRENT_BUF];
        let mut opaque = 0;
        loop {
            let header = DIRENT_HEADER as u16;
            let Ok(n) = self
                .target
                .getdents(Creds::OWN, fd.fd, &mut buf, header, opaque)
            else {
                break;
            };
            let mut next = opaque;
            for entry in dirents(&buf[..n.min(buf.len())]) {
                next = entry.next;
                if let Some(found) = self.subdir(fd.fd, &entry) {
                    out.push(found);
                }
            }
            // The end, or a target that does not move on: either way the listing is done.
            if n == 0 || next == opaque {
                break;
            }
            opaque = next;
        }
        out
    }

    /// The name and inode of `entry` in directory `dir` when it is a directory (not a
    /// symlink to one); `None` otherwise.
    fn subdir(&self, dir: usize, entry: &Dirent<'_>) -> Option<(String, u64)> {
        if entry.kind != KIND_DIRECTORY && entry.kind != KIND_UNSPECIFIED {
            return None;
        }
        let name = std::str::from_utf8(entry.name).ok()?;
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return None;
        }
        let flags = O_STAT | O_NOFOLLOW;
        let fd = self.own(self.target.openat(Creds::OWN, dir, name, flags).ok()?);
        let stat = self.target.fstat(Creds::OWN, fd.fd).ok()?;
        super::scheme::is_dir(&stat).then(|| (name.to_string(), stat.st_ino))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `getdents` record as a target writes it.
    fn record(ino: u64, next: u64, kind: u8, name: &str) -> Vec<u8> {
        let len = (DIRENT_HEADER + name.len() + 1) as u16;
        let mut r = Vec::new();
        r.extend_from_slice(&ino.to_ne_bytes());
        r.extend_from_slice(&next.to_ne_bytes());
        r.extend_from_slice(&len.to_ne_bytes());
        r.push(kind);
        r.extend_from_slice(name.as_bytes());
        r.push(0);
        r
    }

    #[test]
    fn getdents_records_are_read_with_their_names_kinds_and_next_ids() {
        let mut buf = record(5, 1, KIND_DIRECTORY, "a");
        buf.extend(record(6, 2, 8, "file"));
        let got: Vec<(Vec<u8>, u8, u64)> = dirents(&buf)
            .map(|d| (d.name.to_vec(), d.kind, d.next))
            .collect();
        assert_eq!(
            got,
            vec![(b"a".to_vec(), KIND_DIRECTORY, 1), (b"file".to_vec(), 8, 2)]
        );
    }

    #[test]
    fn a_malformed_getdents_record_ends_the_listing_without_a_panic() {
        let good = record(5, 1, KIND_DIRECTORY, "a");
        for len in [0u16, 3, DIRENT_HEADER as u16, 500] {
            let mut bad = record(6, 2, KIND_DIRECTORY, "b");
            bad[16..18].copy_from_slice(&len.to_ne_bytes());
            let mut buf = good.clone();
            buf.extend(&bad);
            assert_eq!(dirents(&buf).count(), 1, "record length {len}");
        }
        let cut = &good[..DIRENT_HEADER - 1];
        assert_eq!(dirents(cut).count(), 0);
    }
}
