//! Fact reporting: every change a request makes, reported to the feed producer.

use std::sync::MutexGuard;

use inotify_abi::feed::{Fact, Subject};
use inotify_feed::Producer;

use syscall::error::{Error, Result, EINVAL};

use super::{Handle, HostFs, NodeFact};

impl HostFs {
    /// Locks the producer (a poisoned lock still holds a consistent producer: every
    /// producer method leaves it consistent before it could panic).
    pub(super) fn lock_producer(&self) -> MutexGuard<'_, Producer> {
        self.producer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a fact; on the empty -> non-empty edge, posts readiness on every feed handle.
    pub(super) fn report(&mut self, fact: &Fact<'_>) {
        let edge = self.lock_producer().record(fact);
        if edge {
            if let Some(notify) = self.notifier.as_mut() {
                for &id in &self.feeds {
                    notify(id);
                }
            }
        }
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
        let edge = self.lock_producer().record(&fact);
        if edge {
            if let Some(notify) = self.notifier.as_mut() {
                for &fid in &self.feeds {
                    notify(fid);
                }
            }
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
        match self.lock_producer().read_batch(buf) {
            Ok(0) => Err(Error::new(syscall::error::EAGAIN)),
            Ok(n) => Ok(n),
            Err(_) => Err(Error::new(EINVAL)),
        }
    }
}
