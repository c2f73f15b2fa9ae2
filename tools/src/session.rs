//! What inotify-tools' library does for both tools: the instance and the name of each watch,
//! recursive watching, the event filter (`--exclude`/`--include`), the next event with a
//! timeout, and the bookkeeping that keeps a recursive watch set up to date.
//!
//! Recursive watching (`-r`) works as inotify-tools does it: one watch per directory, added
//! depth first (a directory's subdirectories before the directory itself), and with `-m`
//! (`inotifywait`) or always (`inotifywatch`) a watch added for each directory that is
//! created or moved into a watched one when its event is read. That has inotify-tools'
//! race: whatever happens inside a new directory before its watch exists (between the
//! `mkdir` and the moment the tool reads `CREATE,ISDIR` and adds the watch) is missed, and
//! so are the subdirectories made in that window. A directory moved out of the tree keeps its
//! watch until the next event that is not its `MOVED_TO`, then the watch is removed.
//!
//! Where the system offers it ([`ToolOs::subtree_watches`], on Redox), `-r` on a path
//! without exclusions first asks inotifyd for one subtree watch (`IN_SUBTREE`), which
//! covers new directories from the operation that makes them, so nothing is missed. Its
//! events name the path below the watched directory (`x/y/f`); the session presents each as
//! inotify-tools would, from the directory it happened in (`sub/x/y/` and `f`), so the
//! output keeps its format. What differs: the directories below report no self events
//! (`DELETE_SELF`, `MOVE_SELF`, their `IGNORED`), and a directory moved out is silent at
//! once. A daemon or filesystem without subtree support falls back to a watch per
//! directory.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use inotify_abi::consts::{IN_CREATE, IN_ISDIR, IN_MOVED_FROM, IN_MOVED_TO};
use inotify_client::{Inotify, OwnedEvent};
use regex::Regex;
use syscall::error::{Error, Result, EACCES, EINVAL, ELOOP, ENOENT, ENOTDIR, EOPNOTSUPP};

use crate::sys::{lstat_is_dir, ToolOs};

/// `--exclude`/`--excludei` (drop matching events) or `--include`/`--includei` (keep only
/// matching ones), matched against the watch's name followed by the event's name.
pub struct Filter {
    /// The expression.
    pub regex: Regex,
    /// True for `--include`: drop what does not match.
    pub include: bool,
}

impl Filter {
    /// Compiles `pattern` (POSIX extended syntax as far as the `regex` crate shares it).
    pub fn new(pattern: &str, ignore_case: bool, include: bool) -> Option<Filter> {
        regex::RegexBuilder::new(pattern)
            .case_insensitive(ignore_case)
            .build()
            .ok()
            .map(|regex| Filter { regex, include })
    }

    /// Whether an event on `path` is dropped.
    fn drops(&self, path: &str) -> bool {
        self.regex.is_match(path) != self.include
    }
}

/// An instance, its watches by wd and their names, and events read but not yet returned.
pub struct Session<O: ToolOs> {
    /// The instance; reads wait with [`Inotify::read_events_timeout`].
    pub ino: Inotify<O>,
    /// The name of each watch: the path as given, with `/` added for a directory.
    names: BTreeMap<i32, String>,
    /// Events read and not yet returned.
    pending: VecDeque<OwnedEvent>,
    /// The event filter.
    pub filter: Option<Filter>,
    /// The read buffer.
    buf: Vec<u8>,
    /// Whether `-r` tries subtree watches first.
    subtree: bool,
    /// The subtree watches.
    roots: BTreeSet<i32>,
    /// Directories below a subtree watch that events came from, with the stand-in wd their
    /// events are given (counting down from `i32::MAX`, never a real wd in practice).
    below: BTreeMap<String, i32>,
}

impl<O: ToolOs> Session<O> {
    /// A session over an open instance.
    pub fn new(ino: Inotify<O>) -> Self {
        let subtree = ino.os().subtree_watches();
        Session {
            ino,
            names: BTreeMap::new(),
            pending: VecDeque::new(),
            filter: None,
            buf: vec![0u8; 64 * 1024],
            subtree,
            roots: BTreeSet::new(),
            below: BTreeMap::new(),
        }
    }

    /// One subtree watch on directory `path`, when the system offers them: `Ok(true)` when
    /// it is set up, `Ok(false)` when a watch per directory must do (not supported, or not
    /// a directory).
    fn watch_subtree(&mut self, path: &str, mask: u32) -> Result<bool> {
        if !self.subtree {
            return Ok(false);
        }
        match self.ino.add_subtree_watch(path, mask) {
            Ok(wd) => {
                let name = if path.ends_with('/') {
                    path.to_string()
                } else {
                    format!("{path}/")
                };
                self.names.entry(wd).or_insert(name);
                self.roots.insert(wd);
                Ok(true)
            }
            Err(e) if [EOPNOTSUPP, EINVAL, ENOTDIR].contains(&e.errno) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// An event of a subtree watch as inotify-tools would show it: from the directory it
    /// happened in (a stand-in wd named `root/x/y/`) with the last path component as name.
    fn shown_from_its_directory(&mut self, mut ev: OwnedEvent) -> OwnedEvent {
        if !self.roots.contains(&ev.wd) {
            return ev;
        }
        let Some(cut) = ev.name.iter().rposition(|&b| b == b'/') else {
            return ev;
        };
        let dir = format!(
            "{}{}/",
            self.name(ev.wd),
            String::from_utf8_lossy(&ev.name[..cut])
        );
        let next = i32::MAX - self.below.len() as i32;
        let wd = *self.below.entry(dir.clone()).or_insert(next);
        self.names.entry(wd).or_insert(dir);
        ev.name.drain(..=cut);
        ev.wd = wd;
        ev
    }

    /// Watches `path` for `mask`; its name gets a `/` when it is a directory (not following
    /// a final symlink, as inotify-tools checks).
    pub fn watch_file(&mut self, path: &str, mask: u32) -> Result<i32> {
        let wd = self.ino.add_watch(path, mask)?;
        let name = if !path.ends_with('/') && lstat_is_dir(self.ino.os(), path).unwrap_or(false) {
            format!("{path}/")
        } else {
            path.to_string()
        };
        self.names.entry(wd).or_insert(name);
        Ok(wd)
    }

    /// Watches `path` and every directory below it (not through symlinks), skipping the
    /// directories in `exclude` (with or without a trailing `/`): subdirectories first,
    /// `path` last. A file is watched alone. Errors on a subdirectory that is gone, not
    /// accessible or a loop are skipped; others end the walk.
    pub fn watch_recursively(&mut self, path: &str, mask: u32, exclude: &[String]) -> Result<()> {
        if exclude.is_empty() && self.watch_subtree(path, mask)? {
            return Ok(());
        }
        let entries = match self.ino.os().list_dir(path) {
            Ok(entries) => entries,
            Err(e) if e.errno == ENOTDIR => return self.watch_file(path, mask).map(drop),
            Err(e) => return Err(e),
        };
        let dir = if path.ends_with('/') {
            path.to_string()
        } else {
            format!("{path}/")
        };
        for name in entries {
            let child = format!("{dir}{name}");
            match lstat_is_dir(self.ino.os(), &child) {
                Err(e) if e.errno != EACCES => return Err(e),
                Ok(true) => {
                    let excluded = exclude.iter().any(|x| x.trim_end_matches('/') == child);
                    if excluded {
                        continue;
                    }
                    if let Err(e) = self.watch_recursively(&format!("{child}/"), mask, exclude) {
                        if ![EACCES, ENOENT, ELOOP].contains(&e.errno) {
                            return Err(e);
                        }
                    }
                }
                _ => {}
            }
        }
        self.watch_file(&dir, mask).map(drop)
    }

    /// The name of watch `wd` ("" when unknown, as for an overflow).
    pub fn name(&self, wd: i32) -> &str {
        self.names.get(&wd).map(String::as_str).unwrap_or("")
    }

    /// How many watches are known.
    pub fn watch_count(&self) -> usize {
        self.names.len()
    }

    /// The watches, by wd.
    pub fn watches(&self) -> &BTreeMap<i32, String> {
        &self.names
    }

    /// The next event that passes the filter; `None` when `timeout` passes without one
    /// (`None`: wait for ever). The timeout starts again after each filtered-out event.
    pub fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<OwnedEvent>> {
        loop {
            if self.pending.is_empty() {
                match self.ino.read_events_timeout(&mut self.buf, timeout)? {
                    Some(events) => self.pending.extend(events),
                    None => return Ok(None),
                }
            }
            let Some(ev) = self.pending.pop_front() else {
                continue;
            };
            let ev = self.shown_from_its_directory(ev);
            if let Some(f) = &self.filter {
                if f.drops(&format!("{}{}", self.name(ev.wd), ev.name_str())) {
                    continue;
                }
            }
            return Ok(Some(ev));
        }
    }

    /// The path of the directory an event with `IN_ISDIR` names: the watch's name, the
    /// event's name and `/`. `None` for other events.
    fn dirpath(&self, ev: &OwnedEvent) -> Option<String> {
        let watch = self.name(ev.wd);
        (ev.mask & IN_ISDIR != 0 && !watch.is_empty()).then(|| format!("{watch}{}/", ev.name_str()))
    }

    /// Keeps a recursive watch set current after `ev` (inotify-tools' rules): a directory
    /// created or moved in is watched (recursively), one moved within the tree is renamed,
    /// one moved out is unwatched. `moved_from` carries a pending move between events.
    /// Failures are reported through `report`.
    pub fn follow_tree(
        &mut self,
        ev: &OwnedEvent,
        mask: u32,
        moved_from: &mut Option<String>,
        report: &mut dyn FnMut(String),
    ) {
        if self.roots.contains(&ev.wd) || self.below.values().any(|&wd| wd == ev.wd) {
            return; // A subtree watch follows the tree itself.
        }
        if ev.mask & IN_MOVED_TO == 0 {
            if let Some(old) = moved_from.take() {
                if let Some(wd) = self.wd_of(&old) {
                    match self.ino.rm_watch(wd) {
                        Ok(()) => {
                            self.names.remove(&wd);
                        }
                        Err(e) => report(format!("Error removing watch on {old}: {e}")),
                    }
                }
            }
        }
        if ev.mask & IN_CREATE != 0 || (moved_from.is_none() && ev.mask & IN_MOVED_TO != 0) {
            if let Some(dir) = self.dirpath(ev) {
                if lstat_is_dir(self.ino.os(), &dir).unwrap_or(false) {
                    if let Err(e) = self.watch_recursively(&dir, mask, &[]) {
                        report(format!("Couldn't watch new directory {dir}: {e}"));
                    }
                }
            }
        } else if ev.mask & IN_MOVED_FROM != 0 {
            *moved_from = self.dirpath(ev).filter(|d| self.wd_of(d).is_some());
        } else if ev.mask & IN_MOVED_TO != 0 {
            if let (Some(old), Some(new)) = (moved_from.take(), self.dirpath(ev)) {
                self.replace_prefix(&old, &new);
            }
        }
    }

    /// The wd watching exactly `name`.
    fn wd_of(&self, name: &str) -> Option<i32> {
        self.names
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(&wd, _)| wd)
    }

    /// Renames every watch whose name starts with `old` to start with `new` instead.
    fn replace_prefix(&mut self, old: &str, new: &str) {
        if old.is_empty() || new.is_empty() {
            return;
        }
        for name in self.names.values_mut() {
            if let Some(rest) = name.strip_prefix(old) {
                *name = format!("{new}{rest}");
            }
        }
    }
}

/// The text of an error, as `strerror` gives it.
pub fn strerror(e: Error) -> String {
    e.to_string()
}
