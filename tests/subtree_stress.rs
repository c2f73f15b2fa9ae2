//! Acceptance run for `IN_SUBTREE` watches: a seeded, replayable workload (mkdir -p bursts,
//! files deep in brand-new directories, subtrees moved into, within and out of the watched
//! tree, and deleted) runs on one thread while a reader holding one subtree watch reads
//! concurrently on another. Every event below the root must arrive exactly once, in the
//! order of the operation log, with its path relative to the root
//! (`inotify_host::subtree_load`).
//!
//! The same runs go through the interposer in front of a filesystem without a feed (its
//! walks and coverage updates are its own, not `HostFs`'s).
//!
//! `SUBTREE_SEED=N` replays one seed (both ways); `SUBTREE_SEEDS=N` runs seeds 0..N
//! (default 12 direct, 6 through the interposer).

mod e2e_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_support::{user_ids, TempDir, World};
use inotify_abi::consts::*;
use inotify_client::Inotify;
use inotify_host::harness::ServedFs;
use inotify_host::subtree_load::{self, Op, Seen, Workload, MASK, ROOT};
use inotify_host::Process;
use syscall::flag::{O_CREAT, O_EXCL, O_WRONLY};

/// Steps per seed.
const STEPS: usize = 150;

fn run(p: &Process, op: &Op) {
    let at = |rel: &str| format!("/scheme/file/{rel}");
    let r = match op {
        Op::Mkdir(d) => p.mkdir(&at(d), 0o755),
        Op::Create(f) | Op::Write(f) => {
            let excl = if matches!(op, Op::Create(_)) {
                O_CREAT | O_EXCL
            } else {
                0
            };
            p.open(&at(f), excl | O_WRONLY | 0o644).and_then(|fd| {
                p.write(fd, b"x")?;
                p.close(fd)
            })
        }
        Op::Unlink(f) => p.unlink(&at(f)),
        Op::Rmdir(d) => p.rmdir(&at(d)),
        Op::Rename(a, b) => p.rename(&at(a), &at(b)),
    };
    r.unwrap_or_else(|e| panic!("{op:?}: {e}"));
}

/// Runs seed `seed` on a `HostFs` with the feed, or (`interposed`) through the interposer in
/// front of one without.
fn one_seed(seed: u64, interposed: bool) {
    let load = subtree_load::generate(seed, STEPS);
    if !interposed {
        let w = World::new(&format!("subtree{seed}"), 1 << 20);
        return exercise(seed, &load, &w.user, &w.inotify);
    }
    let dir = TempDir::new(&format!("subtree-interposed{seed}"));
    let served = ServedFs::start_interposed(dir.path(), Default::default()).expect("start");
    let (uid, gid) = user_ids();
    let user = served.harness().process(1000, uid, gid);
    let inotify = Inotify::init1(user.clone(), inotify_client::IN_NONBLOCK).expect("init");
    exercise(seed, &load, &user, &inotify);
    drop(inotify);
    drop(served);
}

/// The set-up, one subtree watch on the root, the operations on a writer thread while this
/// one reads, then the check against the model.
fn exercise(seed: u64, load: &Workload, user: &Process, inotify: &Inotify<Process>) {
    for op in &load.setup {
        run(user, op);
    }
    let wd = inotify
        .add_watch(&format!("/scheme/file/{ROOT}"), MASK | IN_SUBTREE)
        .expect("add_watch");
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (user, ops, done) = (user.clone(), load.ops.clone(), done.clone());
        std::thread::spawn(move || {
            for op in &ops {
                run(&user, op);
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    // Read while the writer works, until every expected event came (or 20 s passed).
    let mut got: Vec<Seen> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut settled = 0;
    loop {
        match inotify.read_events(&mut buf) {
            Ok(evs) => {
                for e in evs {
                    assert_eq!(e.wd, wd, "seed {seed}: {e:?}");
                    got.push((e.mask, e.cookie, String::from_utf8(e.name).unwrap()));
                }
            }
            Err(e) if e.errno == syscall::error::EAGAIN => {
                if done.load(Ordering::SeqCst) && got.len() >= load.expected.len() {
                    settled += 1;
                    if settled > 20 {
                        break;
                    }
                }
                if Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("seed {seed}: read: {e}"),
        }
    }
    writer.join().unwrap();
    if let Err(e) = subtree_load::check(&load.expected, &got) {
        panic!(
            "seed {seed} (replay with SUBTREE_SEED={seed}): {e}\nops: {:#?}",
            load.ops
        );
    }
    let loss = inotify.loss_report().unwrap();
    assert_eq!(loss.dropped + loss.feed_lost, 0, "seed {seed}");
}

/// The seeds to run: `SUBTREE_SEED` alone, else 0..`SUBTREE_SEEDS` (default `default`).
fn seeds(default: u64) -> std::ops::Range<u64> {
    if let Some(seed) = std::env::var("SUBTREE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return seed..seed + 1;
    }
    let n = std::env::var("SUBTREE_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    0..n
}

#[test]
fn every_event_below_a_subtree_root_arrives_once_in_order_with_its_relative_path() {
    for seed in seeds(12) {
        one_seed(seed, false);
    }
}

#[test]
fn through_the_interposer_every_event_below_a_subtree_root_arrives_once_in_order() {
    for seed in seeds(6) {
        one_seed(seed, true);
    }
}
