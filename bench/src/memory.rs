//! Heap bytes per watch and per queued event, and the daemon's heap under a memory attack,
//! from the counting allocator.
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

/// Uids in `max_daemon_bytes_under_attack`.
const ATTACKERS: u32 = 4;
/// Facts per attack: enough to fill a queue to Linux's default `max_queued_events`.
const ATTACK_FACTS: u64 = 16_384;

/// Live heap of an engine with default limits after [`ATTACKERS`] uids each open
/// `max_user_instances` instances watching one directory and [`ATTACK_FACTS`] files with
/// 255-byte names are created there (every queue is filled to its limit or its budget).
/// Returns (live bytes, queue storage, events queued, events dropped, instances).
fn attack() -> (i64, usize, usize, u64, usize) {
    let before = live_bytes();
    let limits = Limits::default();
    let mut e = Engine::new(limits);
    let key = InodeKey { fs: FS, ino: DIR };
    let mut instances = Vec::new();
    for uid in 0..ATTACKERS {
        for _ in 0..limits.max_user_instances {
            let inst = e.create_instance(5000 + uid).expect("instance");
            e.add_watch(inst, Target { key, is_dir: true }, IN_ALL_EVENTS)
                .expect("dir watch");
            instances.push(inst);
        }
    }
    let mut name = [b'x'; 255];
    let mut woken = Vec::with_capacity(instances.len());
    let mut interest = Vec::new();
    e.take_interest(&mut interest);
    for i in 0..ATTACK_FACTS {
        name[..16].copy_from_slice(format!("{i:016}").as_bytes());
        e.apply(
            FS,
            &Fact::Created {
                dir: DIR,
                name: &name,
                ino: BASE + i,
                is_dir: false,
            },
        );
        e.take_woken(&mut woken);
        woken.clear();
    }
    let heap = live_bytes() - before;
    let queued: usize = instances.iter().map(|&i| e.queued_bytes(i)).sum();
    let storage = e.queue_storage();
    assert_eq!(
        storage,
        (0..ATTACKERS)
            .map(|u| e.user_queue_storage(5000 + u))
            .sum::<usize>()
    );
    let drops = e.event_drops();
    drop(e);
    (
        heap,
        storage,
        queued / record_len(255),
        drops,
        instances.len(),
    )
}

/// Measures `bytes_per_watch`, `bytes_per_queued_event` and
/// `max_daemon_bytes_under_attack`.
pub fn run() -> Vec<Figure> {
    let (heap, storage, events, drops, instances) = attack();
    let limits = Limits::default();
    let cap = limits.max_total_queued_bytes as f64;
    let linux_would = instances as f64 * ATTACK_FACTS as f64 * record_len(255) as f64;
    let attack_fig = Figure::new("max_daemon_bytes_under_attack", heap as f64, "B")
        .detail(format!(
            "cap (max_total_queued_bytes) {} B; {} ({:.0} % of the cap)",
            limits.max_total_queued_bytes,
            if (heap as f64) < cap {
                "under the cap"
            } else {
                "OVER THE CAP"
            },
            100.0 * heap as f64 / cap
        ))
        .detail(format!(
            "{ATTACKERS} uids x {} instances (max_user_instances), each watching one directory \
             where {ATTACK_FACTS} files with 255-byte names are created; live heap of the \
             engine (queues and tables) after - before",
            limits.max_user_instances
        ))
        .detail(format!(
            "queue storage {storage} B ({} B per uid, max_user_queued_bytes {}); {events} \
             events queued ({} B each), {drops} dropped",
            storage / ATTACKERS as usize,
            limits.max_user_queued_bytes,
            record_len(255)
        ))
        .detail(format!(
            "without the budgets the same queues would hold {} MiB (max_queued_events {} per \
             instance)",
            fmt_num(linux_would / f64::from(1 << 20)),
            limits.max_queued_events
        ));
    let (w, count) = per_watch(WATCHES);
    let (w_small, _) = per_watch(1_000);
    let (ev, queued) = per_event(EVENTS);
    vec![
        attack_fig,
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
