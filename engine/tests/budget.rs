//! The queue storage budget: per uid (`max_user_queued_bytes`) and for the whole engine
//! (`max_total_queued_bytes`). A queue that cannot grow gets IN_Q_OVERFLOW, as a full one.

mod common;

use common::*;
use inotify_abi::consts::*;
use inotify_engine::{Engine, Fact, InstanceId, Limits};

/// One record with a 255-byte name: a 16-byte header and 16 blocks of name (the wire
/// record is as long: 16 + 256).
const RECORD_255: usize = 16 + 256;

/// The name of the `n`th created file: 255 bytes, distinct per `n`.
fn long_name(n: usize) -> Vec<u8> {
    let mut name = format!("{n:08}").into_bytes();
    name.resize(255, b'x');
    name
}

/// `n` files created in DIR, numbered from `first`.
fn create_files(e: &mut Engine, first: usize, n: usize) {
    for k in first..first + n {
        let name = long_name(k);
        e.apply(
            FS,
            &Fact::Created {
                dir: DIR,
                name: &name,
                ino: 1000 + k as u64,
                is_dir: false,
            },
        );
    }
}

/// A new instance of `uid` watching DIR for IN_CREATE (wd 1).
fn watcher(e: &mut Engine, uid: u32) -> InstanceId {
    let i = e.create_instance(uid).unwrap();
    assert_eq!(e.add_watch(i, dir(DIR), IN_CREATE), Ok(1));
    i
}

/// The numbers of the created files in `events` (all IN_CREATE on wd 1), and whether the
/// last record is IN_Q_OVERFLOW (the only one).
fn created_numbers(events: &[Ev]) -> (Vec<usize>, bool) {
    let overflowed = events.last().map(|e| e.1) == Some(IN_Q_OVERFLOW);
    let body = &events[..events.len() - usize::from(overflowed)];
    let numbers = body
        .iter()
        .map(|e| {
            assert_eq!((e.0, e.1), (1, IN_CREATE), "{e:?}");
            e.3[..8].parse().unwrap()
        })
        .collect();
    (numbers, overflowed)
}

#[test]
fn a_uid_over_its_budget_gets_overflow_while_another_uids_queue_still_grows() {
    let budget = 64 * 1024;
    let mut e = Engine::new(Limits {
        max_user_queued_bytes: budget as u32,
        ..Limits::default()
    });
    let greedy = watcher(&mut e, 1000);
    create_files(&mut e, 0, 300);
    assert!(e.user_queue_storage(1000) <= budget);
    // uid 1000 is at its budget: its new instance gets only the overflow record, while a
    // new instance of uid 2000 takes every event.
    let greedy2 = watcher(&mut e, 1000);
    let other = watcher(&mut e, 2000);
    create_files(&mut e, 300, 100);
    assert!(e.user_queue_storage(1000) <= budget + 16);
    assert!(e.user_queue_storage(2000) >= 100 * RECORD_255);
    assert_eq!(
        e.queue_storage(),
        e.user_queue_storage(1000) + e.user_queue_storage(2000)
    );
    let (kept, overflowed) = created_numbers(&drain(&mut e, greedy));
    assert!(overflowed);
    assert!(
        kept.len() * RECORD_255 <= budget && kept.len() > 200,
        "{}",
        kept.len()
    );
    assert_eq!(kept, (0..kept.len()).collect::<Vec<_>>());
    assert_eq!(
        drain(&mut e, greedy2),
        [ev(-1, IN_Q_OVERFLOW, 0, "")],
        "one overflow record, whatever was dropped"
    );
    let (all, overflowed) = created_numbers(&drain(&mut e, other));
    assert!(!overflowed);
    assert_eq!(all, (300..400).collect::<Vec<_>>());
    // Every refused event is a drop: 400 - kept for the first, 100 for the second.
    assert_eq!(e.event_drops(), (500 - kept.len()) as u64);
}

#[test]
fn the_daemon_wide_cap_overflows_a_uid_still_under_its_own_budget() {
    let cap = 128 * 1024;
    let mut e = Engine::new(Limits {
        max_total_queued_bytes: cap as u32,
        ..Limits::default()
    });
    let first = watcher(&mut e, 1000);
    create_files(&mut e, 0, 1000);
    assert!(e.queue_storage() <= cap + 16);
    let (kept, overflowed) = created_numbers(&drain(&mut e, first));
    assert!(overflowed && kept.len() > 200, "{}", kept.len());
    // Emptying the large buffer gave it back; another uid fills the engine this time, and
    // the first, with nothing queued, gets only the overflow record.
    assert_eq!(e.queue_storage(), 0);
    let second = watcher(&mut e, 2000);
    create_files(&mut e, 1000, 1000);
    let (kept_first, overflowed_first) = created_numbers(&drain(&mut e, first));
    let (kept_second, overflowed_second) = created_numbers(&drain(&mut e, second));
    assert!(overflowed_first && overflowed_second);
    assert!(e.user_queue_storage(1000) + e.user_queue_storage(2000) <= cap + 2 * 16);
    // They shared the cap, each in order from the first event.
    assert_eq!(
        kept_first,
        (1000..1000 + kept_first.len()).collect::<Vec<_>>()
    );
    assert_eq!(
        kept_second,
        (1000..1000 + kept_second.len()).collect::<Vec<_>>()
    );
    assert!(kept_first.len() + kept_second.len() <= cap / RECORD_255);
    assert!(kept_first.len() + kept_second.len() > 200);
}

#[test]
fn reading_frees_budget_for_the_uids_other_queues() {
    let budget = 256 * 1024;
    let mut e = Engine::new(Limits {
        max_user_queued_bytes: budget as u32,
        ..Limits::default()
    });
    let a = watcher(&mut e, 1000);
    create_files(&mut e, 0, 2000);
    let b = watcher(&mut e, 1000);
    // `a` holds the budget: `b`'s first event overflows.
    create_files(&mut e, 2000, 1);
    assert_eq!(drain(&mut e, b), [ev(-1, IN_Q_OVERFLOW, 0, "")]);
    let held = e.user_queue_storage(1000);
    assert!(held > budget / 2, "{held}");
    // Reading `a` empty releases its buffer; `b` can take the whole budget now.
    let (kept, overflowed) = created_numbers(&drain(&mut e, a));
    assert!(overflowed && !kept.is_empty());
    assert!(e.user_queue_storage(1000) < held / 4);
    e.rm_watch(a, 1).unwrap();
    create_files(&mut e, 3000, kept.len());
    let (again, overflowed) = created_numbers(&drain(&mut e, b));
    assert!(!overflowed);
    assert_eq!(again, (3000..3000 + kept.len()).collect::<Vec<_>>());
}

#[test]
fn destroying_an_instance_returns_its_storage_and_raising_the_budget_lets_queues_grow() {
    let mut e = Engine::new(Limits {
        max_user_queued_bytes: 8 * 1024,
        ..Limits::default()
    });
    let a = watcher(&mut e, 1000);
    create_files(&mut e, 0, 100);
    assert!(e.user_queue_storage(1000) > 0);
    e.destroy_instance(a);
    assert_eq!((e.user_queue_storage(1000), e.queue_storage()), (0, 0));

    let b = watcher(&mut e, 1000);
    create_files(&mut e, 0, 100);
    let limits = e.limits();
    e.set_limits(Limits {
        max_user_queued_bytes: 1 << 20,
        ..limits
    });
    create_files(&mut e, 100, 100);
    let events = drain(&mut e, b);
    // The overflow record sits where the first drops were; later events follow it.
    let at = events.iter().position(|x| x.1 == IN_Q_OVERFLOW).unwrap();
    let (before, _) = created_numbers(&events[..=at]);
    let (after, overflowed) = created_numbers(&events[at + 1..]);
    assert!(!overflowed);
    assert_eq!(before, (0..before.len()).collect::<Vec<_>>());
    assert_eq!(after, (100..200).collect::<Vec<_>>());
}
