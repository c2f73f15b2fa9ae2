//! Acceptance run for `IN_SUBTREE` watches: a seeded, replayable workload (mkdir -p bursts,
//! files deep in brand-new directories, subtrees moved into, within and out of the watched
//! tree, and deleted) runs on one thread while a reader holding one subtree watch reads
//! concurrently on another. Every event below the root must arrive exactly once, in the
//! order of the operation log, with its path relative to the root
//! (`inotify_host::subtree_load`).
//!
//! `SUBTREE_SEED=N` replays one seed; `SUBTREE_SEEDS=N` runs seeds 0..N (default 12).

mod e2e_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_support::World;
use inotify_abi::consts::*;
use inotify_host::subtree_load::{self, Op, Seen, MASK, ROOT};
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

fn one_seed(seed: u64) {
    let load = subtree_load::generate(seed, STEPS);
    let w = World::new(&format!("subtree{seed}"), 1 << 20);
    for op in &load.setup {
        run(&w.user, op);
    }
    let wd = w.watch(ROOT, MASK | IN_SUBTREE);
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (user, ops, done) = (w.user.clone(), load.ops.clone(), done.clone());
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
        match w.inotify.read_events(&mut buf) {
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
    let loss = w.inotify.loss_report().unwrap();
    assert_eq!(loss.dropped + loss.feed_lost, 0, "seed {seed}");
}

#[test]
fn every_event_below_a_subtree_root_arrives_once_in_order_with_its_relative_path() {
    if let Some(seed) = std::env::var("SUBTREE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return one_seed(seed);
    }
    let seeds: u64 = std::env::var("SUBTREE_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    for seed in 0..seeds {
        one_seed(seed);
    }
}
