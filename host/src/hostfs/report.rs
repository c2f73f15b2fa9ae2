//! Fact reporting: every change a request makes, reported to the feed producer.

use inotify_abi::feed::{Fact, Subject};
use inotify_feed::{FoundDir, NameUse};
use std::os::unix::fs::MetadataExt;

use syscall::error::{Error, Result, ENOTDIR};

use super::{Handle, HostFs, NodeFact};

impl HostFs {
    /// Records a fact; on the empty -> non-empty edge, posts readiness on every feed handle.
    pub(super) fn report(&mut self, fact: &Fact<'_>) {
        if self.instrumented && self.feed.record(fact) {
            self.post_feeds();
        }
    }

    /// Posts read readiness on every feed handle when a post is due.
    pub(super) fn post_feeds(&mut self) {
        let notifier = &mut self.notifier;
        let _ = self.feed.handles_mut().post(|id| {
            if let Some(notify) = notifier.as_mut() {
                notify(id);
            }
            Ok::<(), ()>(())
        });
    }

    /// Records the fact `make` builds from the subject of node handle `id` for `what`,
    /// unless the handle does not report it (see `inotify_feed::NameUse`).
    fn report_through(
        &mut self,
        id: usize,
        what: NameUse,
        make: impl for<'a> FnOnce(Subject<'a>) -> Fact<'a>,
    ) {
        let Some(Handle::Node(node)) = self.handles.get(&id).filter(|_| self.instrumented) else {
            return;
        };
        let Some(at) = node.subject(what) else {
            return;
        };
        if self.feed.record(&make(at)) {
            self.post_feeds();
        }
    }

    /// Records an open, access or modification through node handle `id`, unless the handle
    /// is silent.
    // The closures are needed: a variant's constructor is not general over the subject's
    // lifetime, which `report_through` asks for.
    #[allow(clippy::redundant_closure)]
    pub(super) fn report_node(&mut self, id: usize, what: NodeFact) {
        match what {
            NodeFact::Opened => self.report_through(id, NameUse::Data, |at| Fact::Opened(at)),
            NodeFact::Accessed => self.report_through(id, NameUse::Data, |at| Fact::Accessed(at)),
            NodeFact::Written => self.report_through(id, NameUse::Data, |at| Fact::Modified(at)),
            NodeFact::Truncated => {
                self.report_through(id, NameUse::Truncate, |at| Fact::Modified(at))
            }
        }
    }

    /// Reports an `Attrib` fact for handle `id` (even on silent handles: metadata changes
    /// are not opens or closes).
    #[allow(clippy::redundant_closure)]
    pub(super) fn report_attrib(&mut self, id: usize) {
        self.report_through(id, NameUse::Meta, |at| Fact::Attrib(at));
    }

    /// Reports `Times` for handle `id`.
    pub(super) fn report_times(&mut self, id: usize, atime: bool, mtime: bool) {
        self.report_through(id, NameUse::Meta, |at| Fact::Times { at, atime, mtime });
    }

    /// After a rename to `comps`: when the producer asks (a directory moved into a
    /// directory below a subtree root), reports every directory below the moved one as
    /// `Exists`, parent before child, before this request is answered.
    pub(super) fn walk_moved(&mut self, comps: &[String]) {
        let Some(ino) = self.feed.take_walk() else {
            return;
        };
        let found = self.walk_dirs(comps, ino);
        if self.feed.record_walk(&found) {
            self.post_feeds();
        }
    }

    /// The subtree call on directory handle `id`: walks it and hands the walk to the feed
    /// (`inotify_feed::FeedEndpoint::add_subtree`), which answers into `payload`.
    pub(super) fn subtree_call(&mut self, id: usize, payload: &mut [u8]) -> Result<usize> {
        let node = self.node(id)?;
        if !node.is_dir {
            return Err(Error::new(ENOTDIR));
        }
        let (comps, root) = (node.comps.clone(), node.ino);
        let found = self.walk_dirs(&comps, root);
        let n = self
            .feed
            .add_subtree_walk(root, &found, payload)
            .map_err(|e| Error::new(e.errno()))?;
        self.post_feeds();
        Ok(n)
    }

    /// Every directory below the directory at `comps` (inode `ino`), parent before child:
    /// `(parent inode, name, inode)`. Symlinks are not followed; entries that vanish or
    /// cannot be read are skipped.
    fn walk_dirs(&self, comps: &[String], ino: u64) -> Vec<FoundDir> {
        inotify_feed::walk_dirs(comps, ino, |dir| {
            let Ok(entries) = std::fs::read_dir(self.host_path(dir)) else {
                return Vec::new();
            };
            entries
                .flatten()
                .filter_map(|e| {
                    let meta = e.path().symlink_metadata().ok()?;
                    let name = e.file_name().into_string().ok()?;
                    meta.is_dir().then(|| (name, meta.ino()))
                })
                .collect()
        })
    }

    /// Reads a feed batch.
    pub(super) fn read_feed(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.feed.read(buf).map_err(|e| Error::new(e.errno()))
    }
}
