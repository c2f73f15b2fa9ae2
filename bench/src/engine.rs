//! The engine's cost per event: feed bytes in, `inotify_event` records out.
//!
//! One feed batch (abi feed format, 64 KiB at most) holds the facts of 204 iterations of the
//! Linux loop: `Created`, `Opened`, `Modified`, `Closed{wrote}`, `Unlinked{freed}` for a file
//! with a 16-byte name in one directory (1,020 records of 64 bytes). One instance watches the
//! directory with `IN_ALL_EVENTS`, so each fact becomes one event (CREATE, OPEN, MODIFY,
//! CLOSE_WRITE, DELETE; 48-byte records). A timed pass parses the batch
//! (`Batch::new_checked` + `facts()`), applies every fact (`Engine::apply`), then reads the
//! queue empty with `Engine::read` into a 64 KiB buffer and counts the records read. The
//! figure is time / events read, median over the rounds. The second figure repeats this with
//! 100,000 other watches (10 other instances x 10,000 watched files) in the engine.

use std::hint::black_box;
use std::time::Instant;

use inotify_abi::consts::{
    IN_ALL_EVENTS, IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_MODIFY, IN_OPEN,
};
use inotify_abi::event::{Events, HEADER_LEN};
use inotify_abi::feed::{Batch, BatchHeader, Fact, Subject, BATCH_HEADER_LEN};
use inotify_engine::{errno, Engine, FsId, InodeKey, InstanceId, Limits, Target};

use crate::alloc::alloc_calls;
use crate::stats::{fmt_num, median, spread, Figure};
use crate::Effort;

/// The filesystem every fact comes from.
pub const FS: FsId = 1;
/// The watched directory.
pub const DIR: u64 = 2;
/// The name every file gets (16 bytes).
pub const NAME: &[u8; 16] = b"bench-file-00001";
/// Iterations of the five-fact loop per batch.
const ITERS_PER_BATCH: u64 = 204;
/// Facts (and events) per iteration.
const FACTS_PER_ITER: u64 = 5;
/// First inode number of the files the batch creates.
const FILE_BASE: u64 = 100;
/// First inode number of the other watches.
const OTHER_BASE: u64 = 10_000_000;
/// Size of the read buffer (and the bound on a batch).
const BUF: usize = 64 * 1024;

/// Limits roomy enough for every benchmark here.
pub fn roomy_limits() -> Limits {
    Limits {
        max_queued_events: 1 << 20,
        max_user_instances: 1024,
        max_user_watches: 4 << 20,
        max_watches: 4 << 20,
        max_user_queued_bytes: i32::MAX as u32,
        max_total_queued_bytes: i32::MAX as u32,
    }
}

/// The five facts of one loop iteration for inode `ino`.
fn iteration(ino: u64) -> [Fact<'static>; 5] {
    let at = Subject {
        ino,
        is_dir: false,
        dir: DIR,
        name: NAME,
        detached: false,
    };
    [
        Fact::Created {
            dir: DIR,
            name: NAME,
            ino,
            is_dir: false,
        },
        Fact::Opened(at),
        Fact::Modified(at),
        Fact::Closed { at, wrote: true },
        Fact::Unlinked {
            dir: DIR,
            name: NAME,
            ino,
            is_dir: false,
            links_left: 0,
            freed: true,
        },
    ]
}

/// One encoded feed batch of `ITERS_PER_BATCH` iterations.
pub fn build_batch() -> Vec<u8> {
    let mut buf = vec![0u8; BUF];
    let mut at = BATCH_HEADER_LEN;
    let mut count = 0u32;
    for i in 0..ITERS_PER_BATCH {
        for fact in iteration(FILE_BASE + i) {
            at += fact.emit(&mut buf[at..]).expect("batch fits in 64 KiB");
            count += 1;
        }
    }
    BatchHeader {
        first_seq: 0,
        count,
        total_len: at as u32,
    }
    .emit(&mut buf)
    .expect("header");
    buf.truncate(at);
    buf
}

/// An engine with the measured instance watching `DIR`, and `others` more watches spread
/// over 10 other instances. Returns the engine and the measured instance.
fn set_up(others: u64) -> (Engine, InstanceId) {
    let mut e = Engine::new(roomy_limits());
    let per = others.div_ceil(10).max(1);
    let mut added = 0;
    while added < others {
        let inst = e.create_instance(1000).expect("instance");
        for k in 0..per.min(others - added) {
            let key = InodeKey {
                fs: FS,
                ino: OTHER_BASE + added + k,
            };
            e.add_watch(inst, Target { key, is_dir: false }, IN_ALL_EVENTS)
                .expect("watch");
        }
        added += per.min(others - added);
    }
    let inst = e.create_instance(1000).expect("instance");
    let key = InodeKey { fs: FS, ino: DIR };
    e.add_watch(inst, Target { key, is_dir: true }, IN_ALL_EVENTS)
        .expect("dir watch");
    let (mut woken, mut interest) = (Vec::new(), Vec::new());
    e.take_woken(&mut woken);
    e.take_interest(&mut interest);
    assert_eq!(e.watch_count() as u64, others + 1);
    (e, inst)
}

/// Counts the `inotify_event` records in `buf` by walking their lengths (what any reader
/// must do at least; names are not looked at).
fn count_records(buf: &[u8]) -> u64 {
    let mut at = 0;
    let mut n = 0;
    while at + HEADER_LEN <= buf.len() {
        let len = u32::from_ne_bytes(buf[at + 12..at + 16].try_into().expect("4 bytes"));
        at += HEADER_LEN + len as usize;
        n += 1;
    }
    debug_assert_eq!(at, buf.len());
    n
}

/// Parses and applies one batch, then reads the queue empty. Returns the events read.
fn pass(e: &mut Engine, inst: InstanceId, batch: &[u8], out: &mut [u8]) -> u64 {
    let b = Batch::new_checked(black_box(batch)).expect("valid batch");
    for fact in b.facts() {
        e.apply(FS, &fact.expect("valid record"));
    }
    let mut events = 0;
    loop {
        match e.read(inst, out) {
            Ok(n) => events += count_records(&out[..n]),
            Err(err) => {
                debug_assert_eq!(err, errno::EAGAIN);
                break;
            }
        }
    }
    black_box(out[0]);
    events
}

/// Checks, once, that a pass yields the expected events in order.
fn check_events(e: &mut Engine, inst: InstanceId, batch: &[u8], out: &mut [u8]) {
    let b = Batch::new_checked(batch).expect("valid batch");
    for fact in b.facts() {
        e.apply(FS, &fact.expect("valid record"));
    }
    let n = e.read(inst, out).expect("events queued");
    let masks: Vec<u32> = Events::new(&out[..n]).take(5).map(|ev| ev.mask).collect();
    assert_eq!(
        masks,
        [IN_CREATE, IN_OPEN, IN_MODIFY, IN_CLOSE_WRITE, IN_DELETE]
    );
    while e.read(inst, out).is_ok() {}
}

/// One measured engine: its set-up, and what its rounds measured.
struct Series {
    /// The engine.
    e: Engine,
    /// The instance watching `DIR`.
    inst: InstanceId,
    /// ns per event, per round.
    ns: Vec<f64>,
    /// Events read per pass (last round).
    per_pass: u64,
    /// Events read over all rounds.
    events: u64,
    /// Allocation calls over all rounds.
    allocs: u64,
}

impl Series {
    /// Sets up an engine with `others` other watches, checks the events once and warms up.
    fn new(others: u64, batch: &[u8], out: &mut [u8], warm: u64) -> Series {
        let (mut e, inst) = set_up(others);
        check_events(&mut e, inst, batch, out);
        for _ in 0..warm {
            pass(&mut e, inst, batch, out);
        }
        Series {
            e,
            inst,
            ns: Vec::new(),
            per_pass: 0,
            events: 0,
            allocs: 0,
        }
    }

    /// One timed round of `passes` passes.
    fn round(&mut self, batch: &[u8], out: &mut [u8], passes: u64) {
        let calls0 = alloc_calls();
        let mut events = 0;
        let t = Instant::now();
        for _ in 0..passes {
            events += pass(&mut self.e, self.inst, batch, out);
        }
        let dt = t.elapsed().as_nanos() as f64;
        self.allocs += alloc_calls() - calls0;
        self.ns.push(dt / events.max(1) as f64);
        self.per_pass = events / passes;
        self.events += events;
    }

    /// Allocation calls per event.
    fn allocs_per_event(&self) -> f64 {
        self.allocs as f64 / self.events.max(1) as f64
    }
}

/// Rounds of the two engines alternate, so that other work on the machine hits both alike.
fn both(effort: Effort) -> (Series, Series) {
    let batch = build_batch();
    let mut out = vec![0u8; BUF];
    let passes = effort.n(100);
    let mut one = Series::new(0, &batch, &mut out, passes / 10 + 1);
    let mut many = Series::new(100_000, &batch, &mut out, passes / 10 + 1);
    for _ in 0..ROUNDS_FACTOR * effort.rounds {
        one.round(&batch, &mut out, passes);
        many.round(&batch, &mut out, passes);
    }
    (one, many)
}

/// The engine rounds are short (about 10 ms), so there are more of them than elsewhere.
const ROUNDS_FACTOR: usize = 3;

/// Measures `engine_ns_per_event` and `engine_ns_per_event_100k_watches`.
pub fn run(effort: Effort) -> Vec<Figure> {
    let (one, many) = both(effort);
    let (per_pass, allocs1, allocs2) = (
        one.per_pass,
        one.allocs_per_event(),
        many.allocs_per_event(),
    );
    let (one, many) = (one.ns, many.ns);
    let expected = ITERS_PER_BATCH * FACTS_PER_ITER;
    let a = median(&one);
    let b = median(&many);
    vec![
        Figure::new("engine_ns_per_event", a, "ns")
            .detail(format!(
                "per pass: parse one {}-byte feed batch of {expected} records (64-byte records, \
                 16-byte names), Engine::apply each, Engine::read into 64 KiB until EAGAIN, records counted by length; \
                 {per_pass} events read per pass",
                build_batch().len()
            ))
            .detail(format!(
                "one instance, one directory watch (IN_ALL_EVENTS); allocation calls per \
                 event: {}",
                fmt_num(allocs1)
            ))
            .detail(spread(&one)),
        Figure::new("engine_ns_per_event_100k_watches", b, "ns")
            .detail(format!(
                "same, with 100000 other watches (10 instances x 10000 files) present; \
                 {} x engine_ns_per_event; allocation calls per event: {}",
                fmt_num(b / a),
                fmt_num(allocs2)
            ))
            .detail(spread(&many)),
    ]
}

/// The whole in-process pipeline per event, without IPC: the filesystem side records the
/// same facts with `Producer::record` (the watched directory is in its interest set), the
/// daemon side takes them with `Producer::read_batch` into 64 KiB and runs a [`pass`] over
/// the batch. Returns the median ns per event read over the rounds, and the feed records per
/// event.
pub fn pipeline(effort: Effort) -> (f64, f64) {
    use inotify_abi::feed::{Interest, INTEREST_LEN};
    use inotify_feed::Producer;

    let facts: Vec<Fact<'static>> = (0..ITERS_PER_BATCH)
        .flat_map(|i| iteration(FILE_BASE + i))
        .collect();
    let mut producer = Producer::new(256 * 1024);
    let mut msg = [0u8; INTEREST_LEN];
    Interest::Add(DIR).emit(&mut msg).expect("16-byte entry");
    producer.write_interest(&msg).expect("valid interest");
    let (mut e, inst) = set_up(0);
    let mut batch = vec![0u8; BUF];
    let mut out = vec![0u8; BUF];
    let mut one = |e: &mut Engine, producer: &mut Producer| -> u64 {
        for fact in &facts {
            black_box(producer.record(black_box(fact)));
        }
        let mut events = 0;
        while let Ok(n) = producer.read_batch(&mut batch) {
            if n == 0 {
                break;
            }
            events += pass(e, inst, &batch[..n], &mut out);
        }
        events
    };
    let passes = effort.n(100);
    for _ in 0..passes / 10 + 1 {
        one(&mut e, &mut producer);
    }
    let mut ns = Vec::new();
    let recorded0 = producer.recorded();
    let mut total = 0;
    for _ in 0..ROUNDS_FACTOR * effort.rounds {
        let mut events = 0;
        let t = Instant::now();
        for _ in 0..passes {
            events += one(&mut e, &mut producer);
        }
        total += events;
        ns.push(t.elapsed().as_nanos() as f64 / events.max(1) as f64);
        assert_eq!(
            events,
            passes * ITERS_PER_BATCH * FACTS_PER_ITER,
            "every fact became an event"
        );
    }
    let records = (producer.recorded() - recorded0) as f64 / total.max(1) as f64;
    (median(&ns), records)
}
