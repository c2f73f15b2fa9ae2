//! Name following, as `HostFs` and the redoxfs patch keep it: which handles hold which
//! names, what unlink and rename do to them, and when a removed inode is freed. Everything
//! here works on the interposer's own table; the inode facts come from probes of the target.

use inotify_abi::feed::{Fact, Subject};
use inotify_feed::names::{self, TableEntry};
use inotify_feed::NameUse;
use redox_scheme::Response;
use syscall::flag::EventFlags;

use super::{Handle, Interposer, Node, State, Target};

impl<T: Target> Node<T> {
    /// The subject of a fact through this handle for `what` (`None`: not reported).
    pub(crate) fn subject(&self, what: NameUse) -> Option<Subject<'_>> {
        inotify_feed::HeldName {
            dir: self.dir,
            name: self.name.as_bytes(),
            detach: self.detach_id,
        }
        .subject(self.ino, self.is_dir, self.silent, what)
    }
}

inotify_feed::follow_names!(Node<T>, Handle<T>, T: Target);

impl<T: Target> State<T> {
    /// A new handle id for `handle`.
    pub(crate) fn insert(&mut self, handle: Handle<T>) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        self.handles.insert(id, handle);
        id
    }

    /// The node behind `id`.
    pub(crate) fn node(&self, id: usize) -> Option<&Node<T>> {
        match self.handles.get(&id) {
            Some(Handle::Node(n)) => Some(n),
            _ => None,
        }
    }

    /// The inode of the live directory `comps` when an open handle holds it (the root
    /// always), so that no probe is needed.
    pub(crate) fn known_dir(&self, comps: &[String]) -> Option<u64> {
        self.handles.values().find_map(|h| match h {
            Handle::Node(n) if n.is_dir && !n.unlinked && n.comps == comps => Some(n.ino),
            _ => None,
        })
    }

    /// Whether any inode is watched: when none is, no fact can be recorded.
    pub(crate) fn any_interest(&mut self) -> bool {
        self.feed.producer().watched_count() > 0
    }

    /// The name `comps` of `ino` (in `parent`, `links_left` links after) was removed:
    /// detaches its handles and says whether the inode is freed now.
    pub(crate) fn detach(
        &mut self,
        comps: &[String],
        ino: u64,
        is_dir: bool,
        parent: u64,
        links_left: u64,
    ) -> bool {
        let detach = self.feed.handles_mut().next_detach();
        let freed = names::detach_name(
            &mut self.handles,
            &mut self.removed_dirs,
            detach,
            comps,
            (ino, is_dir),
            parent,
            links_left,
        );
        if !is_dir && links_left == 0 {
            self.mark_no_links(ino);
        }
        freed
    }

    /// The last link of file `ino` was removed through the interposer: its detached handles
    /// free it at their last close whatever the target's `fstat` says.
    fn mark_no_links(&mut self, ino: u64) {
        for n in self.handles.values_mut().filter_map(TableEntry::node_mut) {
            if n.unlinked && n.ino == ino && !n.is_dir {
                n.no_links = true;
            }
        }
    }

    /// Whether closing `node` (already out of the table) frees its inode, given the links
    /// the inode has now.
    pub(crate) fn frees_at_close(&self, node: &Node<T>, nlink: u64) -> bool {
        names::frees_at_close(&self.handles, node, nlink)
    }

    /// After a rename of `from` to `to`: handles below `from` now live below `to`, and those
    /// reached through the moved name itself have a new parent and name.
    pub(crate) fn move_handles(
        &mut self,
        from: &[String],
        to: &[String],
        ino: u64,
        new_dir: u64,
        new_name: &str,
    ) {
        names::move_names(&mut self.handles, (from, to), ino, new_dir, new_name);
    }
}

impl<T: Target> Interposer<T> {
    /// Records `fact`; on the empty -> readable edge, posts readiness on the feed handles.
    pub(crate) fn report(&self, st: &mut State<T>, fact: &Fact<'_>) {
        if st.feed.record(fact) {
            self.post_feeds(st);
        }
    }

    /// Records the fact `make` builds from the subject of node `id` for `what`, unless the
    /// handle does not report it.
    pub(crate) fn report_through(
        &self,
        st: &mut State<T>,
        id: usize,
        what: NameUse,
        make: impl for<'a> FnOnce(Subject<'a>) -> Fact<'a>,
    ) {
        let Some(Handle::Node(node)) = st.handles.get(&id) else {
            return;
        };
        let Some(at) = node.subject(what) else {
            return;
        };
        if st.feed.record(&make(at)) {
            self.post_feeds(st);
        }
    }

    /// Posts read readiness on every feed handle when a post is due.
    pub(crate) fn post_feeds(&self, st: &mut State<T>) {
        let poster = self
            .poster
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let _ = st.feed.handles_mut().post(|id| {
            if let Some(p) = &poster {
                p.respond(Response::post_fevent(id, EventFlags::EVENT_READ.bits()));
            }
            Ok::<(), ()>(())
        });
    }

    /// Reports `Freed` for every removed directory nothing holds any more, innermost first.
    pub(crate) fn free_released_dirs(&self, st: &mut State<T>) {
        while let Some(ino) = names::next_freed_dir(&st.handles, &mut st.removed_dirs) {
            self.report(st, &Fact::Freed { ino, is_dir: true });
        }
    }

    /// The last close of handle `id`: the facts of the close, then the target's fd goes
    /// (once no request uses it).
    pub(crate) fn on_close(&self, id: usize) {
        let taken = self.lock().handles.remove(&id);
        let node = match taken {
            Some(Handle::Node(node)) => node,
            Some(Handle::Feed) => {
                self.lock().feed.close(id);
                return;
            }
            None => return,
        };
        // Whether the inode has links left decides `Freed`; only a detached handle asks, and
        // only when no removal seen here left the inode without links.
        let nlink = if node.no_links {
            0
        } else if node.unlinked {
            self.target
                .fstat(super::Creds::OWN, node.real.fd)
                .map(|s| u64::from(s.st_nlink))
                .unwrap_or(0)
        } else {
            1
        };
        let mut st = self.lock();
        if let Some(at) = node.subject(NameUse::Data) {
            let wrote = node.for_write;
            self.report(&mut st, &Fact::Closed { at, wrote });
        }
        if st.frees_at_close(&node, nlink) {
            self.report(
                &mut st,
                &Fact::Freed {
                    ino: node.ino,
                    is_dir: node.is_dir,
                },
            );
        }
        if node.unlinked {
            self.free_released_dirs(&mut st);
        }
        drop(st);
        drop(node);
    }
}
