//! The feed producer a filesystem links: facts recorded, interest messages written and
//! batches read in an order the input decides, with a small record buffer so that it fills.
//!
//! Input: a stream of operations, each a tag byte and its operands:
//! - `0`: write an interest message of `n` entries (opcode byte, inode byte), or raw bytes;
//! - `1`: record a fact (kind, inode, directory, flags, names taken from the input);
//! - `2`: read a batch into a buffer whose size the input picks;
//! - `3`: a subtree call on a directory, with up to three `Exists` facts as its walk;
//! - `4`: the filesystem's walk after a rename into a covered directory, when one is due.
//!
//! Checks: no panic; `record` keeps exactly the relevant facts (by the interest set the
//! target models itself; once subtree calls are made, at least those, and exactly what
//! `is_relevant` says) and reports the empty -> non-empty edge; every batch parses, its
//! sequence numbers follow the previous batch's, its records are the facts recorded, in
//! order, with the dropped ones replaced by `Lost` records whose counts add up: every
//! relevant fact is delivered or counted, none twice.
#![no_main]

use std::collections::{HashMap, VecDeque};

use inotify_abi::feed::{Batch, Fact, Interest, BATCH_HEADER_LEN, INTEREST_LEN};
use inotify_abi::WireError;
use inotify_feed::Producer;
use libfuzzer_sys::fuzz_target;

#[path = "input.rs"]
mod input;

use input::{fact, Input};

/// Whether the target's own model of the interest set makes `fact` relevant.
fn relevant(set: &HashMap<u64, u32>, fact: &Fact<'_>) -> bool {
    let w = |ino: u64| set.contains_key(&ino);
    let d = |dir: u64| dir != 0 && w(dir);
    match *fact {
        Fact::Created { dir, ino, .. }
        | Fact::Linked { dir, ino, .. }
        | Fact::Unlinked { dir, ino, .. } => w(ino) || d(dir),
        Fact::Renamed {
            old_dir,
            new_dir,
            ino,
            replaced,
            ..
        } => w(ino) || d(old_dir) || d(new_dir) || replaced.is_some_and(|r| w(r.ino)),
        Fact::Freed { ino, .. } => w(ino),
        Fact::Opened(at)
        | Fact::Accessed(at)
        | Fact::Modified(at)
        | Fact::Attrib(at)
        | Fact::Times { at, .. }
        | Fact::Closed { at, .. } => w(at.ino) || d(at.dir),
        Fact::Unmounted | Fact::Lost { .. } => true,
        Fact::Exists { dir, .. } => d(dir),
    }
}

/// The state the target keeps next to the producer.
#[derive(Default)]
struct Model {
    /// The interest set, with counts.
    set: HashMap<u64, u32>,
    /// Relevant facts recorded and not yet read, encoded (empty when it cannot be encoded).
    expected: VecDeque<Vec<u8>>,
    /// The sequence number the next batch must start with.
    next_seq: u64,
    /// Facts the batches so far reported lost and not yet matched to expected facts.
    lost: u64,
    /// Whether a subtree call was made (coverage makes more facts relevant).
    subtree: bool,
}

impl Model {
    fn write_interest(&mut self, p: &mut Producer, msg: &[u8]) {
        let parsed: Result<Vec<Interest>, WireError> = Interest::parse_all(msg).collect();
        match (p.write_interest(msg), parsed) {
            (Ok(n), Ok(entries)) => {
                assert_eq!(n, msg.len());
                for entry in entries {
                    match entry {
                        Interest::Add(ino) => *self.set.entry(ino).or_insert(0) += 1,
                        Interest::Remove(ino) => {
                            if let Some(n) = self.set.get_mut(&ino) {
                                *n -= 1;
                                if *n == 0 {
                                    self.set.remove(&ino);
                                }
                            }
                        }
                        Interest::Clear => self.set.clear(),
                        Interest::RemoveSubtree(_) => {}
                    }
                }
            }
            (Err(_), Err(_)) => {}
            (got, want) => panic!("write_interest {got:?}, entries {want:?}"),
        }
        assert_eq!(p.watched_count(), self.set.len());
    }

    /// Expects `fact` in the feed (as the encoding of it, or a loss).
    fn expect(&mut self, fact: &Fact<'_>) {
        let mut enc = vec![0u8; fact.buffer_len()];
        if fact.emit(&mut enc).is_err() {
            enc.clear();
        }
        self.expected.push_back(enc);
    }

    /// A subtree call on `root` whose walk found `found`.
    fn subtree(&mut self, p: &mut Producer, root: u64, found: &[Fact<'_>]) {
        if p.add_subtree(root, found).is_ok() {
            self.subtree = true;
            for f in found {
                self.expect(f);
            }
        }
    }

    /// The filesystem's walk of a directory a rename moved into a covered one.
    fn walk(&mut self, p: &mut Producer, name: &[u8], child: u64) {
        if let Some(dir) = p.take_walk() {
            let covered = p.is_covered(dir);
            p.record_exists(dir, name, child);
            if covered {
                self.expect(&Fact::Exists {
                    dir,
                    name,
                    ino: child,
                });
            }
        }
    }

    fn record(&mut self, p: &mut Producer, fact: &Fact<'_>) {
        let modelled = relevant(&self.set, fact);
        let relevant = p.is_relevant(fact);
        if self.subtree {
            assert!(relevant || !modelled, "{fact:?}");
        } else {
            assert_eq!(relevant, modelled, "{fact:?}");
        }
        let was_readable = p.is_readable();
        let edge = p.record(fact);
        // The edge is the record buffer's: a pending loss report alone makes the feed
        // readable without a record, so only "not readable before" forces it.
        assert!(!edge || p.is_readable());
        assert!(edge || !relevant || was_readable, "no edge for {fact:?}");
        if relevant {
            self.expect(fact);
            assert!(p.is_readable());
        } else {
            assert!(!edge);
        }
    }

    /// Reads one batch into `len` bytes and matches it against the expected facts.
    fn read(&mut self, p: &mut Producer, len: usize) {
        let mut out = vec![0u8; len];
        let n = match p.read_batch(&mut out) {
            Ok(0) => {
                assert!(!p.is_readable());
                return;
            }
            Ok(n) => n,
            Err(WireError::NoSpace) => {
                assert!(p.is_readable());
                return;
            }
            Err(e) => panic!("read_batch: {e:?}"),
        };
        let batch = Batch::new_checked(&out[..n]).expect("a batch the producer wrote");
        assert_eq!(batch.total_len() as usize, n);
        assert_eq!(
            batch.first_seq(),
            self.next_seq,
            "sequence numbers follow on"
        );
        assert!(n > BATCH_HEADER_LEN);
        let mut count = 0u64;
        for fact in batch.facts() {
            let fact = fact.expect("records the producer wrote parse");
            count += 1;
            if let Fact::Lost { count } = fact {
                assert!(count > 0);
                self.lost += count;
                continue;
            }
            // Facts dropped before this one were announced by Lost records before it.
            let mut enc = vec![0u8; fact.buffer_len()];
            fact.emit(&mut enc).unwrap();
            loop {
                let want = self.expected.pop_front().expect("a fact never recorded");
                if want == enc {
                    break;
                }
                assert!(self.lost > 0, "fact skipped without a Lost record");
                self.lost -= 1;
            }
        }
        assert_eq!(count, u64::from(batch.count()));
        self.next_seq += count;
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let cap = 1 + usize::from(inp.byte()) * 16;
    let mut p = Producer::new(cap);
    let mut m = Model::default();
    while !inp.0.is_empty() {
        match inp.byte() % 5 {
            0 => {
                let n = usize::from(inp.byte() % 4);
                let msg = if inp.byte() % 8 == 0 {
                    let odd = usize::from(inp.byte() % 2);
                    inp.bytes(n * INTEREST_LEN + odd).to_vec()
                } else {
                    let mut msg = vec![0u8; n * INTEREST_LEN];
                    for chunk in msg.chunks_exact_mut(INTEREST_LEN) {
                        let entry = match inp.byte() % 6 {
                            0 | 1 => Interest::Add(inp.ino()),
                            2 | 3 => Interest::Remove(inp.ino()),
                            4 => Interest::RemoveSubtree(inp.ino()),
                            _ => Interest::Clear,
                        };
                        entry.emit(chunk).unwrap();
                    }
                    msg
                };
                m.write_interest(&mut p, &msg);
            }
            1 => {
                let f = fact(&mut inp);
                m.record(&mut p, &f);
            }
            2 => {
                let len = usize::from(inp.byte()) * 32;
                m.read(&mut p, len);
            }
            3 => {
                let root = inp.ino();
                let found: Vec<Fact<'_>> = (0..inp.byte() % 4)
                    .map(|_| Fact::Exists {
                        dir: inp.ino(),
                        name: inp.name(),
                        ino: inp.ino(),
                    })
                    .collect();
                m.subtree(&mut p, root, &found);
            }
            _ => {
                let name = inp.name();
                let child = inp.ino();
                m.walk(&mut p, name, child);
            }
        }
    }
    // Drain: everything recorded is delivered or counted lost, exactly.
    let mut reads = 0;
    while p.is_readable() {
        m.read(&mut p, 1 << 16);
        reads += 1;
        assert!(reads < 10_000, "the feed does not drain");
    }
    let unmatched = m.expected.len() as u64;
    assert_eq!(
        m.lost, unmatched,
        "lost counts match the facts not delivered"
    );
});
