//! The scheme's handle table entries.

use std::collections::VecDeque;

use hashbrown::HashMap;

use inotify_engine::{Errno, InstanceId};

use super::tunable::Tunable;

/// Most add_watch results kept per instance handle before the oldest is dropped (a client that
/// sends fds but never collects the results cannot grow the daemon without bound).
pub const MAX_PENDING_RESULTS: usize = 64;

/// Bytes of add_watch paths the daemon keeps for one uid's instances (for the watch
/// listing); a path that would go beyond is not kept (the watch is listed without one).
pub const MAX_USER_PATH_BYTES: usize = 4 << 20;

/// One entry of the handle table.
#[derive(Debug)]
pub enum Handle {
    /// The scheme root: the capability `openat` is called on.
    Root,
    /// An inotify instance (`inotify_init1`).
    Instance(InstanceHandle),
    /// A tunable (`/scheme/inotify/<name>`).
    Tunable(TunableHandle),
    /// The daemon-wide status (`/scheme/inotify/status`, root only): the text snapshot taken
    /// when it was opened.
    Status(Vec<u8>),
}

/// An open inotify instance.
#[derive(Debug)]
pub struct InstanceHandle {
    /// The engine's instance.
    pub inst: InstanceId,
    /// Description flags: access mode plus the `O_FCNTL_MASK` bits (`F_GETFL`/`F_SETFL`).
    pub flags: usize,
    /// Whether an event queue subscribed to read readiness (`fevent` with `EVENT_READ`).
    pub subscribed: bool,
    /// add_watch results not yet collected with `TakeResult`, oldest first.
    pub results: VecDeque<AddResult>,
    /// The path each watch was created with, by wd (from `TakeResultPath`; entries of
    /// removed watches are pruned when the table outgrows the live watches).
    pub paths: HashMap<i32, Box<[u8]>>,
    /// Bytes of `paths`, charged to the uid's [`MAX_USER_PATH_BYTES`].
    pub path_bytes: usize,
    /// The uid that opened the instance.
    pub uid: u32,
}

/// The outcome of one add_watch, waiting for its `TakeResult` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddResult {
    /// The process that sent the fd (only it may collect the result).
    pub pid: usize,
    /// The token chosen by the client.
    pub token: u32,
    /// The wd, or the errno.
    pub result: Result<i32, Errno>,
}

impl InstanceHandle {
    /// A new handle on `inst` of `uid` with description flags `flags`.
    pub fn new(inst: InstanceId, uid: u32, flags: usize) -> Self {
        InstanceHandle {
            inst,
            flags,
            subscribed: false,
            results: VecDeque::new(),
            paths: HashMap::new(),
            path_bytes: 0,
            uid,
        }
    }

    /// Stores a result, replacing one with the same key and dropping the oldest at the bound.
    pub fn store_result(&mut self, res: AddResult) {
        self.results
            .retain(|r| (r.pid, r.token) != (res.pid, res.token));
        if self.results.len() >= MAX_PENDING_RESULTS {
            self.results.pop_front();
        }
        self.results.push_back(res);
        debug_assert!(self.results.len() <= MAX_PENDING_RESULTS);
    }

    /// Removes and returns the result for `(pid, token)`, if any.
    pub fn take_result(&mut self, pid: usize, token: u32) -> Option<Result<i32, Errno>> {
        let at = self
            .results
            .iter()
            .position(|r| r.pid == pid && r.token == token)?;
        self.results.remove(at).map(|r| r.result)
    }
}

/// An open tunable.
#[derive(Debug, Clone, Copy)]
pub struct TunableHandle {
    /// Which value.
    pub which: Tunable,
    /// Whether writes are allowed (opened for writing by uid 0).
    pub writable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_bounded_and_keyed() {
        let mut h = InstanceHandle::new(1, 1000, 0);
        for t in 0..(MAX_PENDING_RESULTS as u32 + 3) {
            h.store_result(AddResult {
                pid: 7,
                token: t,
                result: Ok(t as i32),
            });
        }
        assert_eq!(h.results.len(), MAX_PENDING_RESULTS);
        assert_eq!(h.take_result(7, 0), None);
        assert_eq!(h.take_result(7, 2), None);
        assert_eq!(h.take_result(7, 3), Some(Ok(3)));
        assert_eq!(h.take_result(7, 3), None);
        assert_eq!(h.take_result(8, 4), None);
        h.store_result(AddResult {
            pid: 7,
            token: 4,
            result: Err(13),
        });
        assert_eq!(h.take_result(7, 4), Some(Err(13)));
    }
}
