//! Heap bytes per watch and per queued event, from the counting allocator.
//!
//! Both figures are `(live bytes after - live bytes before) / count`, where "before" is taken
//! with the engine and its instance already built and every input prepared, so only what the
//! engine keeps for the watches or events is counted. Interest changes and wake-ups are taken
//! out of the engine as the daemon does (into vectors allocated before the first reading).

use inotify_abi::consts::IN_ALL_EVENTS;
use inotify_abi::event::record_len;
use inotify_abi::feed::Fact;
use inotify_engine::{Engine, InodeKey, Limits, Target};

use crate::alloc::live_bytes;
use crate::engine::{roomy_limits, DIR, FS};
use crate::stats::{fmt_num, Figure};

/// Watches for `bytes_per_watch`.
const WATCHES: u64 = 1_000_000;
/// Events for `bytes_per_queued_event`.
const EVENTS: u64 = 16_384;
/// Interest changes / wake-ups taken out of the engine at a time.
const TAKE_EVERY: u64 = 4096;
/// First inode of the watched files.
const BASE: u64 = 1_000;

/// Live bytes after adding `n` watches (one instance, distinct file inodes), per watch.
fn per_watch(n: u64) -> (f64, usize) {
    let mut e = Engine::new(roomy_limits());
    let inst = e.create_instance(1000).expect("instance");
    let mut interest = Vec::with_capacity(2 * TAKE_EVERY as usize);
    let before = live_bytes();
    for i in 0..n {
        let key = InodeKey {
            fs: FS,
            ino: BASE + i,
        };
        e.add_watch(inst, Target { key, is_dir: false }, IN_ALL_EVENTS)
            .expect("watch");
        if i % TAKE_EVERY == TAKE_EVERY - 1 {
            e.take_interest(&mut interest);
            interest.clear();
        }
    }
    e.take_interest(&mut interest);
    interest.clear();
    let after = live_bytes();
    assert_eq!(e.watch_count() as u64, n);
    ((after - before) as f64 / n as f64, e.watch_count())
}

/// Live bytes after queueing `n` events with distinct 16-byte names, per event.
fn per_event(n: u64) -> (f64, usize) {
    let limits = Limits {
        max_queued_events: 4 * n as u32,
        ..roomy_limits()
    };
    let mut e = Engine::new(limits);
    let inst = e.create_instance(1000).expect("instance");
    let key = InodeKey { fs: FS, ino: DIR };
    e.add_watch(inst, Target { key, is_dir: true }, IN_ALL_EVENTS)
        .expect("dir watch");
    let names: Vec<[u8; 16]> = (0..n)
        .map(|i| {
            *format!("bench-file-{i:05}")
                .as_bytes()
                .first_chunk()
                .unwrap()
        })
        .collect();
    let mut woken = Vec::with_capacity(16);
    let mut interest = Vec::with_capacity(16);
    e.take_woken(&mut woken);
    e.take_interest(&mut interest);
    woken.clear();
    let before = live_bytes();
    for (i, name) in names.iter().enumerate() {
        let fact = Fact::Created {
            dir: DIR,
            name,
            ino: BASE + i as u64,
            is_dir: false,
        };
        e.apply(FS, &fact);
    }
    e.take_woken(&mut woken);
    let after = live_bytes();
    let queued = e.queued_bytes(inst);
    assert_eq!(
        queued,
        n as usize * record_len(16),
        "every event queued, none coalesced"
    );
    ((after - before) as f64 / n as f64, queued)
}

/// Measures `bytes_per_watch` and `bytes_per_queued_event`.
pub fn run() -> Vec<Figure> {
    let (w, count) = per_watch(WATCHES);
    let (w_small, _) = per_watch(1_000);
    let (ev, queued) = per_event(EVENTS);
    vec![
        Figure::new("bytes_per_watch", w, "B")
            .detail(format!(
                "{count} watches on distinct file inodes in one instance (IN_ALL_EVENTS); live \
                 heap bytes after - before, / watches; hash tables at whatever load factor \
                 their growth leaves at this count"
            ))
            .detail(format!("at 1000 watches: {} B per watch", fmt_num(w_small))),
        Figure::new("bytes_per_queued_event", ev, "B").detail(format!(
            "{EVENTS} IN_CREATE events with distinct 16-byte names queued on one instance \
                 ({queued} bytes of inotify_event records, {} B each on the wire)",
            record_len(16)
        )),
    ]
}
