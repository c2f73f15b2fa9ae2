//! Name following over a filesystem's handle table: which open handles hold which names, what
//! a removal and a rename do to them, and when a removed inode is freed. `HostFs` and the
//! interposer keep their handles by path from the root; both run these rules on their own
//! table through [`FollowsName`] and [`TableEntry`].
//!
//! The rule is Linux's: a handle follows the name it was opened by through renames (its
//! dentry), a removal detaches every handle holding the removed name under one number
//! ([`crate::FeedHandles::next_detach`]), and an inode with no links left is freed when the
//! last handle holding a removed name of it closes; a removed directory waits as
//! [`RemovedDirs`] says.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::{RemovedDir, RemovedDirs};

/// What name following reads and changes in one open node handle.
pub trait FollowsName {
    /// Path from the filesystem's root (empty: the root itself).
    fn path(&self) -> &[String];
    /// The same, to rewrite after a rename.
    fn path_mut(&mut self) -> &mut Vec<String>;
    /// Inode number.
    fn ino(&self) -> u64;
    /// Whether the inode is a directory.
    fn is_dir(&self) -> bool;
    /// Parent directory inode of the name it holds.
    fn held_dir(&self) -> u64;
    /// The removal that detached it from its name (0 while the name exists).
    fn detach(&self) -> u64;
    /// Its name was removed, by the removal numbered `detach` (never 0).
    fn set_detach(&mut self, detach: u64);
    /// The name it holds is now `name` in directory `dir` (a rename moved it).
    fn set_name(&mut self, dir: u64, name: &str);
    /// Whether it is a symlink still being made (it holds no name yet).
    fn makes_symlink(&self) -> bool;
}

/// An entry of a handle table: a node handle that holds a name, or another kind (a feed
/// handle) that name following passes over.
pub trait TableEntry {
    /// The node handle type.
    type Node: FollowsName;
    /// The node, when this entry is one.
    fn node(&self) -> Option<&Self::Node>;
    /// The same, to change.
    fn node_mut(&mut self) -> Option<&mut Self::Node>;
}

/// Implements [`FollowsName`] for a node type and [`TableEntry`] for its handle enum, for a
/// filesystem that keeps a handle's name as `HostFs` and the interposer do: node fields
/// `comps: Vec<String>`, `ino: u64`, `is_dir: bool`, `dir: u64`, `name: String`,
/// `unlinked: bool`, `detach_id: u64` and `pending_symlink: bool`, and a handle enum whose
/// `Node(node)` variant is the only one holding a node. Written
/// `follow_names!(Node, Handle)`, or with one type parameter
/// `follow_names!(Node<T>, Handle<T>, T: Bound)`.
#[macro_export]
macro_rules! follow_names {
    ($node:ty, $handle:ident $(<$p:ident>)? $(, $g:ident : $bound:path)?) => {
        impl $(<$g: $bound>)? $crate::names::FollowsName for $node {
            fn path(&self) -> &[String] {
                &self.comps
            }
            fn path_mut(&mut self) -> &mut Vec<String> {
                &mut self.comps
            }
            fn ino(&self) -> u64 {
                self.ino
            }
            fn is_dir(&self) -> bool {
                self.is_dir
            }
            fn held_dir(&self) -> u64 {
                self.dir
            }
            fn detach(&self) -> u64 {
                if self.unlinked {
                    self.detach_id
                } else {
                    0
                }
            }
            fn set_detach(&mut self, detach: u64) {
                self.unlinked = true;
                self.detach_id = detach;
            }
            fn set_name(&mut self, dir: u64, name: &str) {
                self.dir = dir;
                self.name.clear();
                self.name.push_str(name);
            }
            fn makes_symlink(&self) -> bool {
                self.pending_symlink
            }
        }

        impl $(<$g: $bound>)? $crate::names::TableEntry for $handle $(<$p>)? {
            type Node = $node;
            fn node(&self) -> Option<&$node> {
                match self {
                    $handle::Node(n) => Some(n),
                    _ => None,
                }
            }
            fn node_mut(&mut self) -> Option<&mut $node> {
                match self {
                    $handle::Node(n) => Some(n),
                    _ => None,
                }
            }
        }
    };
}

/// A handle table: entries by handle id.
pub type Table<H> = BTreeMap<usize, H>;

/// The node handles of `handles`.
fn nodes<H: TableEntry>(handles: &Table<H>) -> impl Iterator<Item = &H::Node> {
    handles.values().filter_map(TableEntry::node)
}

/// Whether `node` holds the existing name `path` of inode `ino`.
fn holds<N: FollowsName>(node: &N, path: &[String], ino: u64) -> bool {
    node.detach() == 0 && !node.makes_symlink() && node.ino() == ino && node.path() == path
}

/// Whether an open handle holds the removed name detached as `detach`, or (with `Some(dir)`)
/// a removed name in directory `dir`.
pub fn holds_removed<H: TableEntry>(handles: &Table<H>, detach: u64, dir: Option<u64>) -> bool {
    nodes(handles).any(|n| {
        n.detach() != 0 && !n.makes_symlink() && (n.detach() == detach || Some(n.held_dir()) == dir)
    })
}

/// The name `path` of inode `ino` (in directory `parent`, with `links_left` links after the
/// removal) was removed: detaches the handles holding it under `detach` (a new number from
/// [`crate::FeedHandles::next_detach`]) and says whether the inode is freed now. A directory
/// is kept in `removed` while anything holds it, and freed by [`next_freed_dir`].
pub fn detach_name<H: TableEntry>(
    handles: &mut Table<H>,
    removed: &mut RemovedDirs,
    detach: u64,
    path: &[String],
    (ino, is_dir): (u64, bool),
    parent: u64,
    links_left: u64,
) -> bool {
    for node in handles.values_mut().filter_map(TableEntry::node_mut) {
        if holds(node, path, ino) {
            node.set_detach(detach);
        }
    }
    if !is_dir {
        return links_left == 0 && !holds_removed(handles, detach, None);
    }
    let dir = RemovedDir {
        ino,
        parent,
        detach,
    };
    removed.removed(dir, |detach, dir| holds_removed(handles, detach, Some(dir)))
}

/// Whether closing `node` (already out of `handles`) frees its inode, which has `nlink`
/// links now: its name was removed and no other handle holds that removed name.
/// Directories are freed by [`next_freed_dir`] instead.
pub fn frees_at_close<H: TableEntry>(handles: &Table<H>, node: &H::Node, nlink: u64) -> bool {
    if node.detach() == 0 || node.makes_symlink() || node.is_dir() {
        return false;
    }
    nlink == 0 && !holds_removed(handles, node.detach(), None)
}

/// After a handle holding a removed name closed: the next removed directory nothing holds any
/// more (innermost first; call until `None` and report each `Freed`).
pub fn next_freed_dir<H: TableEntry>(handles: &Table<H>, removed: &mut RemovedDirs) -> Option<u64> {
    if removed.is_empty() {
        return None;
    }
    removed.next_released(|detach, dir| holds_removed(handles, detach, Some(dir)))
}

/// After a rename of `from` to `to` (inode `ino`, now named `new_name` in `new_dir`): handles
/// below `from` now live below `to`, and those reached through the moved name itself hold
/// the new name.
pub fn move_names<H: TableEntry>(
    handles: &mut Table<H>,
    (from, to): (&[String], &[String]),
    ino: u64,
    new_dir: u64,
    new_name: &str,
) {
    for node in handles.values_mut().filter_map(TableEntry::node_mut) {
        if node.detach() != 0 || !node.path().starts_with(from) {
            continue;
        }
        if node.path().len() == from.len() && node.ino() == ino {
            node.set_name(new_dir, new_name);
        }
        let path = node.path_mut();
        let rest = path.split_off(from.len());
        path.clear();
        path.extend_from_slice(to);
        path.extend(rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    /// A node handle as a filesystem keeps it, reduced to what name following reads.
    #[derive(Debug, Clone, PartialEq)]
    struct Node {
        /// Path from the root.
        comps: Vec<String>,
        /// Inode.
        ino: u64,
        /// A directory.
        is_dir: bool,
        /// Parent of the held name.
        dir: u64,
        /// The held name.
        name: String,
        /// Its name was removed.
        unlinked: bool,
        /// Detach number.
        detach_id: u64,
        /// A symlink being made.
        pending_symlink: bool,
    }

    /// A table entry: a node or a feed handle.
    enum Handle {
        /// A node.
        Node(Node),
        /// A feed handle.
        Feed,
    }

    crate::follow_names!(Node, Handle);

    /// A node for `path` ("a/b"), inode `ino`, in directory `parent`.
    fn node(path: &str, ino: u64, dir: bool, parent: u64) -> Node {
        let path: Vec<String> = path.split('/').map(str::to_string).collect();
        Node {
            name: path.last().cloned().unwrap_or_default(),
            comps: path,
            ino,
            is_dir: dir,
            dir: parent,
            unlinked: false,
            detach_id: 0,
            pending_symlink: false,
        }
    }

    /// A table of `nodes` (ids from 1) and one feed handle (id 0).
    fn table(nodes: Vec<Node>) -> Table<Handle> {
        let mut t: Table<Handle> = nodes
            .into_iter()
            .enumerate()
            .map(|(i, n)| (i + 1, Handle::Node(n)))
            .collect();
        t.insert(0, Handle::Feed);
        t
    }

    /// The node behind id `id`.
    fn get(t: &Table<Handle>, id: usize) -> &Node {
        t[&id].node().expect("a node")
    }

    /// The path `s` as components.
    fn p(s: &str) -> Vec<String> {
        s.split('/').map(str::to_string).collect()
    }

    #[test]
    fn removing_an_unopened_file_with_no_links_frees_it_at_once() {
        let mut t = table(vec![node("d", 2, true, 1)]);
        let mut removed = RemovedDirs::new();
        assert!(detach_name(
            &mut t,
            &mut removed,
            1,
            &p("d/f"),
            (5, false),
            2,
            0
        ));
        assert_eq!(
            get(&t, 1).detach_id,
            0,
            "the directory's handle holds another name"
        );
    }

    #[test]
    fn an_open_file_is_freed_at_the_last_close_of_the_handles_holding_the_removed_name() {
        let mut t = table(vec![node("d/f", 5, false, 2), node("d/f", 5, false, 2)]);
        let mut removed = RemovedDirs::new();
        assert!(!detach_name(
            &mut t,
            &mut removed,
            7,
            &p("d/f"),
            (5, false),
            2,
            0
        ));
        assert_eq!((get(&t, 1).detach_id, get(&t, 2).detach_id), (7, 7));
        let Some(Handle::Node(first)) = t.remove(&1) else {
            panic!("a node")
        };
        assert!(
            !frees_at_close(&t, &first, 0),
            "the other handle still holds the name"
        );
        let Some(Handle::Node(last)) = t.remove(&2) else {
            panic!("a node")
        };
        assert!(frees_at_close(&t, &last, 0));
        assert!(
            !frees_at_close(&t, &last, 1),
            "a link made meanwhile keeps it"
        );
    }

    #[test]
    fn a_file_with_links_left_is_not_freed() {
        let mut t = table(vec![node("d/f", 5, false, 2)]);
        let mut removed = RemovedDirs::new();
        assert!(!detach_name(
            &mut t,
            &mut removed,
            3,
            &p("d/f"),
            (5, false),
            2,
            1
        ));
        let Some(Handle::Node(n)) = t.remove(&1) else {
            panic!("a node")
        };
        assert!(frees_at_close(&t, &n, 0));
        assert!(!frees_at_close(&t, &n, 1));
    }

    #[test]
    fn a_handle_on_another_name_of_the_inode_is_not_detached() {
        let mut t = table(vec![node("d/f", 5, false, 2), node("d/g", 5, false, 2)]);
        let mut removed = RemovedDirs::new();
        detach_name(&mut t, &mut removed, 4, &p("d/f"), (5, false), 2, 1);
        assert_eq!((get(&t, 1).detach_id, get(&t, 2).detach_id), (4, 0));
        let Some(Handle::Node(n)) = t.remove(&2) else {
            panic!("a node")
        };
        assert!(
            !frees_at_close(&t, &n, 0),
            "a handle whose name exists frees nothing"
        );
    }

    #[test]
    fn a_symlink_being_made_holds_no_name() {
        let mut pending = node("d/l", 9, false, 2);
        pending.pending_symlink = true;
        let mut t = table(vec![pending]);
        let mut removed = RemovedDirs::new();
        assert!(detach_name(
            &mut t,
            &mut removed,
            2,
            &p("d/l"),
            (9, false),
            2,
            0
        ));
        assert_eq!(get(&t, 1).detach_id, 0);
    }

    #[test]
    fn a_removed_directory_waits_for_a_removed_name_in_it_and_is_freed_after_it() {
        // d (ino 2) holds f (ino 5) open; f is removed, then d.
        let mut t = table(vec![node("d/f", 5, false, 2)]);
        let mut removed = RemovedDirs::new();
        assert!(!detach_name(
            &mut t,
            &mut removed,
            1,
            &p("d/f"),
            (5, false),
            2,
            0
        ));
        assert!(!detach_name(
            &mut t,
            &mut removed,
            2,
            &p("d"),
            (2, true),
            1,
            0
        ));
        assert!(removed.contains(2));
        assert_eq!(next_freed_dir(&t, &mut removed), None);
        let Some(Handle::Node(n)) = t.remove(&1) else {
            panic!("a node")
        };
        assert!(frees_at_close(&t, &n, 0));
        assert_eq!(next_freed_dir(&t, &mut removed), Some(2));
        assert_eq!(next_freed_dir(&t, &mut removed), None);
    }

    #[test]
    fn nested_removed_directories_are_freed_innermost_first() {
        // a (2) and a/b (3) removed while b is open.
        let mut t = table(vec![node("a/b", 3, true, 2)]);
        let mut removed = RemovedDirs::new();
        assert!(!detach_name(
            &mut t,
            &mut removed,
            1,
            &p("a/b"),
            (3, true),
            2,
            0
        ));
        assert!(!detach_name(
            &mut t,
            &mut removed,
            2,
            &p("a"),
            (2, true),
            1,
            0
        ));
        t.remove(&1);
        assert_eq!(next_freed_dir(&t, &mut removed), Some(3));
        assert_eq!(next_freed_dir(&t, &mut removed), Some(2));
        assert_eq!(next_freed_dir(&t, &mut removed), None);
    }

    #[test]
    fn a_rename_moves_the_handles_below_it_and_renames_the_moved_one() {
        let mut t = table(vec![
            node("a", 2, true, 1),
            node("a/f", 5, false, 2),
            node("ab", 6, false, 1),
            node("x/a", 7, false, 8),
        ]);
        move_names(&mut t, (&p("a"), &p("x/y")), 2, 8, "y");
        assert_eq!((get(&t, 1).comps.clone(), get(&t, 1).dir), (p("x/y"), 8));
        assert_eq!(get(&t, 1).name, "y");
        assert_eq!(get(&t, 2).comps, p("x/y/f"));
        assert_eq!((get(&t, 2).dir, get(&t, 2).name.as_str()), (2, "f"));
        assert_eq!(
            get(&t, 3).comps,
            p("ab"),
            "a name that only starts alike stays"
        );
        assert_eq!(get(&t, 4).comps, p("x/a"));
    }

    #[test]
    fn a_rename_leaves_detached_handles_where_they_are() {
        let mut t = table(vec![node("a/f", 5, false, 2)]);
        let mut removed = RemovedDirs::new();
        detach_name(&mut t, &mut removed, 3, &p("a/f"), (5, false), 2, 0);
        move_names(&mut t, (&p("a"), &p("b")), 2, 1, "b");
        assert_eq!(get(&t, 1).comps, p("a/f"));
    }
}
