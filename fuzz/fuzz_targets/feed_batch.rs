//! A feed batch from a filesystem, parsed and applied to an engine, as the daemon's feed
//! consumer does. The first input byte picks the limits, the second how the rest is used:
//! even, as the batch itself (the parser meets any bytes); odd, as facts (see `input.rs`)
//! that are encoded into a batch first (the engine meets many well-formed facts).
//!
//! The first instance of each uid makes its watch on directory 1 an `IN_SUBTREE` watch, so
//! the facts (Exists, renames into and out of covered directories, cycles) also drive the
//! subtree tables.
//!
//! Checks: no panic; every read returns whole, well-formed `inotify_event` records and
//! lowers FIONREAD by exactly what it returned; only a subtree watch's names hold `/`, never
//! at either end or twice in a row; interest changes alternate Add/Remove per inode; each
//! subtree call is undone by exactly one RemoveSubtree; queue storage is the sum of the
//! per-uid figures and stays within the budgets (plus at most one 16-byte overflow block per
//! instance).
#![no_main]

use std::collections::HashSet;

use inotify_abi::consts::*;
use inotify_abi::event::{record_len, Events};
use inotify_abi::feed::{Batch, BatchHeader, Interest, BATCH_HEADER_LEN};
use inotify_engine::errno::{EAGAIN, EINVAL};
use inotify_engine::{Engine, FsId, InodeKey, InstanceId, InterestChange, Limits, Target};
use libfuzzer_sys::fuzz_target;

#[path = "input.rs"]
mod input;

use input::{fact, Input};

/// The one filesystem.
const FS: FsId = 3;
/// Uids owning the instances.
const UIDS: [u32; 2] = [1000, 2000];
/// Instances per uid.
const PER_UID: usize = 2;

/// Watches of each instance: (inode, is_dir, mask). Directories 1 and 2, files 3 to 5.
const WATCHES: [(u64, bool, u32); 5] = [
    (1, true, IN_ALL_EVENTS),
    (2, true, IN_ALL_EVENTS | IN_EXCL_UNLINK),
    (3, false, IN_ALL_EVENTS),
    (4, false, IN_MODIFY | IN_ONESHOT),
    (5, false, IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB),
];

struct Rig {
    e: Engine,
    /// Each instance, its uid and its subtree watch's wd (0: none).
    instances: Vec<(InstanceId, u32, i32)>,
    /// Subtree calls made and not yet undone by a RemoveSubtree.
    subtree_calls: i64,
    watched: HashSet<u64>,
    changes: Vec<InterestChange>,
    buf: Vec<u8>,
}

impl Rig {
    fn new(cfg: u8) -> Rig {
        let limits = Limits {
            max_queued_events: 1 + u32::from(cfg & 0x0f) * 3,
            max_user_queued_bytes: 64 << (cfg >> 4 & 7),
            max_total_queued_bytes: if cfg & 0x80 != 0 { 4096 } else { 1 << 20 },
            ..Limits::default()
        };
        let mut e = Engine::new(limits);
        let mut instances = Vec::new();
        let mut subtree_calls = 0;
        for uid in UIDS {
            for _ in 0..PER_UID {
                let inst = e.create_instance(uid).unwrap();
                for (ino, is_dir, mask) in WATCHES {
                    let key = InodeKey { fs: FS, ino };
                    e.add_watch(inst, Target { key, is_dir }, mask).unwrap();
                }
                let mut sub = 0;
                if instances.len() % PER_UID == 0 {
                    let key = InodeKey { fs: FS, ino: 1 };
                    let mask = IN_ALL_EVENTS | IN_SUBTREE;
                    sub = e
                        .add_subtree_watch(inst, Target { key, is_dir: true }, mask, 0)
                        .unwrap();
                    subtree_calls += 1;
                }
                instances.push((inst, uid, sub));
            }
        }
        let mut rig = Rig {
            e,
            instances,
            subtree_calls,
            watched: HashSet::new(),
            changes: Vec::new(),
            buf: vec![0u8; 64 * 1024],
        };
        rig.check_interest();
        rig
    }

    /// Interest changes: an Add only for an unwatched inode, a Remove only for a watched one.
    fn check_interest(&mut self) {
        self.e.take_interest(&mut self.changes);
        for c in self.changes.drain(..) {
            assert_eq!(c.fs, FS);
            match c.change {
                Interest::Add(ino) => assert!(self.watched.insert(ino), "second Add {ino}"),
                Interest::Remove(ino) => assert!(self.watched.remove(&ino), "Remove {ino}"),
                Interest::Clear => panic!("the engine never sends Clear"),
                Interest::RemoveSubtree(ino) => {
                    assert_eq!(ino, 1, "only directory 1 has subtree watches");
                    self.subtree_calls -= 1;
                    assert!(self.subtree_calls >= 0, "a RemoveSubtree for no call");
                }
            }
        }
        assert_eq!(self.watched.len(), self.e.watched_inodes());
    }

    /// Storage accounting against the limits.
    fn check_storage(&self) {
        let l = self.e.limits();
        let slack = 16 * self.instances.len();
        let users: usize = UIDS.iter().map(|&u| self.e.user_queue_storage(u)).sum();
        assert_eq!(users, self.e.queue_storage());
        for uid in UIDS {
            assert!(self.e.user_queue_storage(uid) <= l.max_user_queued_bytes as usize + slack);
        }
        assert!(self.e.queue_storage() <= l.max_total_queued_bytes as usize + slack);
    }

    /// Reads instance `k` with a buffer of `len` bytes and checks what comes out.
    fn read(&mut self, k: usize, len: usize) {
        let (inst, _, sub) = self.instances[k];
        let before = self.e.queued_bytes(inst);
        match self.e.read(inst, &mut self.buf[..len]) {
            Ok(n) => {
                assert!(n > 0 && n <= len);
                assert_eq!(self.e.queued_bytes(inst), before - n);
                let mut seen = 0;
                for ev in Events::new(&self.buf[..n]) {
                    // Names never hold a NUL, so the stripped name gives the record's size.
                    seen += record_len(ev.name.len());
                    assert!(ev.wd != 0);
                    assert_eq!(ev.wd == -1, ev.mask == IN_Q_OVERFLOW, "{ev:?}");
                    if ev.wd == sub && sub != 0 {
                        assert!(!ev.name.starts_with(b"/") && !ev.name.ends_with(b"/"));
                        assert!(!ev.name.windows(2).any(|w| w == b"//"), "{ev:?}");
                        assert!(ev.name.len() <= 4095);
                    } else {
                        assert!(!ev.name.contains(&b'/'));
                    }
                }
                assert_eq!(seen, n, "whole records only");
            }
            Err(errno) => {
                assert!(errno == EAGAIN || errno == EINVAL, "errno {errno}");
                assert_eq!(errno == EAGAIN, before == 0);
            }
        }
    }
}

/// A batch of the facts decoded from `data` (those that can be encoded), numbered from
/// `first_seq`.
fn encode(data: &[u8], first_seq: u64) -> Vec<u8> {
    let mut out = vec![0u8; BATCH_HEADER_LEN];
    let mut inp = Input(data);
    let mut count = 0;
    while !inp.0.is_empty() {
        let f = fact(&mut inp);
        let at = out.len();
        out.resize(at + f.buffer_len(), 0);
        match f.emit(&mut out[at..]) {
            Ok(n) => {
                out.truncate(at + n);
                count += 1;
            }
            Err(_) => out.truncate(at),
        }
    }
    let header = BatchHeader {
        first_seq,
        count,
        total_len: out.len() as u32,
    };
    header.emit(&mut out).unwrap();
    out
}

fuzz_target!(|data: &[u8]| {
    let [cfg, mode, rest @ ..] = data else {
        return;
    };
    let mut rig = Rig::new(*cfg);
    let encoded;
    let rest = if mode & 1 == 0 {
        rest
    } else {
        encoded = encode(rest, u64::from(*mode));
        let batch = Batch::new_checked(&encoded).expect("an encoded batch");
        assert!(batch.facts().all(|f| f.is_ok()), "encoded facts parse");
        &encoded[..]
    };
    if let Ok(batch) = Batch::new_checked(rest) {
        for (i, fact) in batch.facts().enumerate() {
            let Ok(fact) = fact else {
                break;
            };
            rig.e.apply(FS, &fact);
            rig.check_interest();
            rig.check_storage();
            // Now and then a reader takes some records, with a buffer sized by the input.
            let pick = rest.get(i).copied().unwrap_or(0) as usize;
            if pick.is_multiple_of(3) {
                rig.read(pick % rig.instances.len(), 16 + pick * 4);
            }
        }
    }
    for k in 0..rig.instances.len() {
        while rig.e.queued_bytes(rig.instances[k].0) > 0 {
            rig.read(k, 64 * 1024);
        }
    }
    rig.check_storage();
    for (inst, _, _) in std::mem::take(&mut rig.instances) {
        rig.e.destroy_instance(inst);
    }
    rig.check_interest();
    assert_eq!((rig.e.queue_storage(), rig.e.watch_count()), (0, 0));
    assert!(rig.watched.is_empty());
    assert_eq!(rig.subtree_calls, 0, "every subtree call undone once");
});
