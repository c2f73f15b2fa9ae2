//! Fact reporting: every change a request makes, reported to the feed producer.

use inotify_abi::feed::{Fact, Subject};
use syscall::error::{Error, Result};

use super::{Handle, HostFs, NodeFact};

impl HostFs {
    /// Records a fact; on the empty -> non-empty edge, posts readiness on every feed handle.
    pub(super) fn report(&mut self, fact: &Fact<'_>) {
        if self.feed.record(fact) {
            self.post_feeds();
        }
    }

    /// Posts read readiness on every feed handle when a post is due.
    fn post_feeds(&mut self) {
        let notifier = &mut self.notifier;
        let _ = self.feed.handles_mut().post(|id| {
            if let Some(notify) = notifier.as_mut() {
                notify(id);
            }
            Ok::<(), ()>(())
        });
    }

    /// Records an open, access or modification through node handle `id`, unless the handle
    /// is silent.
    pub(super) fn report_node(&mut self, id: usize, what: NodeFact) {
        let Some(Handle::Node(node)) = self.handles.get(&id) else {
            return;
        };
        if node.silent {
            return;
        }
        let at = node.subject();
        let fact = match what {
            NodeFact::Opened => Fact::Opened(at),
            NodeFact::Accessed => Fact::Accessed(at),
            NodeFact::Written => Fact::Modified(at),
            NodeFact::Truncated => Fact::Modified(node.attr_subject()),
        };
        if self.feed.record(&fact) {
            self.post_feeds();
        }
    }

    /// Reports an `Attrib` fact for handle `id` (even on silent handles: metadata changes
    /// are not opens or closes).
    pub(super) fn report_attrib(&mut self, id: usize) {
        if let Ok(node) = self.node(id) {
            let subject = node.subject();
            let (ino, is_dir, dir, name) = (
                subject.ino,
                subject.is_dir,
                subject.dir,
                subject.name.to_vec(),
            );
            self.report(&Fact::Attrib(Subject {
                ino,
                is_dir,
                dir,
                name: &name,
                detached: false,
            }));
        }
    }

    /// Reports `Times` for handle `id`.
    pub(super) fn report_times(&mut self, id: usize, atime: bool, mtime: bool) {
        if let Ok(node) = self.node(id) {
            let (ino, is_dir, dir, name) = (node.ino, node.is_dir, node.dir, node.name.clone());
            let at = Subject {
                ino,
                is_dir,
                dir,
                name: name.as_bytes(),
                detached: false,
            };
            self.report(&Fact::Times { at, atime, mtime });
        }
    }

    /// Reads a feed batch.
    pub(super) fn read_feed(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.feed.read(buf).map_err(|e| Error::new(e.errno()))
    }
}
