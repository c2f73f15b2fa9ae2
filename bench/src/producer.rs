//! The feed producer's cost per operation, as a filesystem pays it.
//!
//! The interest set holds 10,000 watched inodes (written with one `write_interest` message,
//! as the daemon would). `Modified` facts with a 16-byte name are recorded:
//! - unwatched: the inode and its parent are not in the set (two hash probes, nothing kept);
//!   the facts cycle over 4,096 distinct inodes;
//! - watched: the inode is in the set, so the record is encoded into the buffer. The buffer is
//!   drained with `read_batch` into a 64 KiB buffer after every 4,096 records, outside the
//!   timed span; a second series times the drain too.

use std::hint::black_box;
use std::time::Instant;

use inotify_abi::feed::{Fact, Interest, Subject, INTEREST_LEN};
use inotify_feed::Producer;

use crate::stats::{fmt_num, median, spread, Figure};
use crate::Effort;

/// Inodes in the interest set.
const WATCHED: u64 = 10_000;
/// First watched inode number.
const WATCHED_BASE: u64 = 1_000;
/// First unwatched inode number.
const UNWATCHED_BASE: u64 = 1_000_000;
/// Distinct facts cycled through.
const DISTINCT: usize = 4096;
/// Records between drains in the watched series.
const CHUNK: usize = 4096;
/// The name every fact carries (16 bytes).
const NAME: &[u8; 16] = b"bench-file-00001";

fn modified(ino: u64, dir: u64) -> Fact<'static> {
    Fact::Modified(Subject {
        ino,
        is_dir: false,
        dir,
        name: NAME,
        detached: false,
    })
}

/// A producer with `WATCHED` inodes in its interest set.
fn producer() -> Producer {
    let mut p = Producer::new(1 << 20);
    let mut msg = vec![0u8; WATCHED as usize * INTEREST_LEN];
    for (i, chunk) in msg.chunks_exact_mut(INTEREST_LEN).enumerate() {
        Interest::Add(WATCHED_BASE + i as u64)
            .emit(chunk)
            .expect("16-byte entry");
    }
    p.write_interest(&msg).expect("valid interest message");
    assert_eq!(p.watched_count(), WATCHED as usize);
    p
}

/// Drains every queued record; returns how many bytes came out.
fn drain(p: &mut Producer, out: &mut [u8]) -> usize {
    let mut total = 0;
    while let Ok(n) = p.read_batch(out) {
        if n == 0 {
            break;
        }
        total += n;
    }
    total
}

/// ns per unwatched `record` over `ops` calls.
fn unwatched_once(p: &mut Producer, facts: &[Fact<'_>], ops: usize) -> f64 {
    let t = Instant::now();
    for i in 0..ops {
        black_box(p.record(black_box(&facts[i % DISTINCT])));
    }
    let dt = t.elapsed().as_nanos() as f64;
    assert_eq!(p.recorded(), 0, "unwatched facts must not be recorded");
    dt / ops as f64
}

/// ns per watched `record` over `chunks` chunks; with `timed_drain`, the drains are inside.
fn watched_once(p: &mut Producer, facts: &[Fact<'_>], chunks: usize, timed_drain: bool) -> f64 {
    let mut out = vec![0u8; 64 * 1024];
    let mut ns = 0u128;
    let before = p.recorded();
    for _ in 0..chunks {
        let t = Instant::now();
        for fact in &facts[..CHUNK] {
            black_box(p.record(black_box(fact)));
        }
        if timed_drain {
            black_box(drain(p, &mut out));
            ns += t.elapsed().as_nanos();
        } else {
            ns += t.elapsed().as_nanos();
            drain(p, &mut out);
        }
    }
    assert_eq!(
        p.recorded() - before,
        (chunks * CHUNK) as u64,
        "every watched fact is kept"
    );
    assert_eq!(p.dropped(), 0);
    ns as f64 / (chunks * CHUNK) as f64
}

/// Measures `producer_ns_per_op_unwatched` and `producer_ns_per_op_watched`.
pub fn run(effort: Effort) -> Vec<Figure> {
    let unwatched: Vec<Fact<'static>> = (0..DISTINCT as u64)
        .map(|i| modified(UNWATCHED_BASE + 2 * i + 1, UNWATCHED_BASE + 2 * i))
        .collect();
    let watched: Vec<Fact<'static>> = (0..DISTINCT as u64)
        .map(|i| modified(WATCHED_BASE + 1 + (i % (WATCHED - 1)), WATCHED_BASE))
        .collect();
    let ops = effort.n(2_000_000) as usize;
    let chunks = effort.n(200) as usize;
    // Rounds are short (tens of ms): take more of them than elsewhere.
    let rounds = 3 * effort.rounds;

    let mut p = producer();
    unwatched_once(&mut p, &unwatched, ops / 10 + 1);
    let u: Vec<f64> = (0..rounds)
        .map(|_| unwatched_once(&mut p, &unwatched, ops))
        .collect();

    let mut p = producer();
    watched_once(&mut p, &watched, chunks / 10 + 1, false);
    let w: Vec<f64> = (0..rounds)
        .map(|_| watched_once(&mut p, &watched, chunks, false))
        .collect();
    let wd: Vec<f64> = (0..rounds)
        .map(|_| watched_once(&mut p, &watched, chunks, true))
        .collect();

    vec![
        Figure::new("producer_ns_per_op_unwatched", median(&u), "ns")
            .detail(format!(
                "Producer::record of Modified (16-byte name) on an inode and parent not in an \
                 interest set of {WATCHED} inodes; {ops} calls per run over {DISTINCT} distinct \
                 inodes"
            ))
            .detail(spread(&u)),
        Figure::new("producer_ns_per_op_watched", median(&w), "ns")
            .detail(format!(
                "Producer::record of Modified (16-byte name, 64-byte record) on a watched inode; \
                 {} records per run; drained with read_batch (64 KiB) every {CHUNK} records, \
                 outside the timed span",
                chunks * CHUNK
            ))
            .detail(format!(
                "with the read_batch drains inside the timed span: {} ns per op",
                fmt_num(median(&wd))
            ))
            .detail(spread(&w)),
    ]
}
