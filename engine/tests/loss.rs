//! Loss reports (an inotifyd extension): every path that drops events is counted per
//! instance, with the wds that lost events and the clock of the first and last loss, and
//! the IN_Q_OVERFLOW records stay as Linux's.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use inotify_abi::consts::*;
use inotify_abi::proto::LOSS_WDS;
use inotify_engine::{Engine, Fact, InstanceId, Limits, LossReport};

/// A test clock: each reading is one more than the last.
static NOW: AtomicU64 = AtomicU64::new(100);

fn tick() -> u64 {
    NOW.fetch_add(1, Ordering::SeqCst) + 1
}

/// `n` files created in `dir`, named `f<first>..`.
fn create(e: &mut Engine, dir: u64, first: usize, n: usize) {
    for k in first..first + n {
        let name = format!("f{k:0250}");
        e.apply(
            FS,
            &Fact::Created {
                dir,
                name: name.as_bytes(),
                ino: 10_000 + k as u64,
                is_dir: false,
            },
        );
    }
}

/// The only IN_Q_OVERFLOW record is the last one read, as Linux's.
fn assert_one_linux_overflow(events: &[Ev]) {
    let overflows: Vec<&Ev> = events.iter().filter(|e| e.1 == IN_Q_OVERFLOW).collect();
    assert_eq!(overflows, vec![&ev(-1, IN_Q_OVERFLOW, 0, "")]);
    assert_eq!(events.last().unwrap().1, IN_Q_OVERFLOW);
}

fn engine(limits: Limits) -> (Engine, InstanceId) {
    let mut e = Engine::new(limits);
    e.set_clock(tick);
    let i = e.create_instance(1000).unwrap();
    (e, i)
}

#[test]
fn a_full_queue_reports_each_dropped_event_and_the_wds_they_were_for() {
    let (mut e, i) = engine(Limits {
        max_queued_events: 4,
        ..Limits::default()
    });
    assert_eq!(e.add_watch(i, dir(DIR), IN_CREATE), Ok(1));
    assert_eq!(e.add_watch(i, dir(DIR2), IN_CREATE), Ok(2));
    assert_eq!(e.take_loss_report(i), Ok(LossReport::default()));
    create(&mut e, DIR, 0, 4);
    // Four records queued (then the overflow): 1 event of DIR and 2 of DIR2 are dropped.
    let before = NOW.load(Ordering::SeqCst);
    create(&mut e, DIR, 3, 1);
    e.new_turn();
    create(&mut e, DIR2, 4, 2);
    let r = e.take_loss_report(i).unwrap();
    assert_eq!((r.dropped, r.feed_lost), (3, 0));
    assert_eq!(r.wds(), &[1, 2]);
    assert_eq!(r.more_wds, 0);
    // One clock reading per turn: two turns had losses.
    assert!(r.first_ns > before && r.last_ns > r.first_ns, "{r:?}");
    assert_one_linux_overflow(&drain(&mut e, i));
    // Reported once: the next report is empty, and new drops start a new one.
    assert_eq!(e.take_loss_report(i), Ok(LossReport::default()));
    e.new_turn();
    create(&mut e, DIR2, 10, 5);
    let r = e.take_loss_report(i).unwrap();
    assert_eq!((r.dropped, r.wds()), (1, &[2][..]));
    assert_eq!(r.first_ns, r.last_ns);
}

#[test]
fn the_byte_budget_reports_what_it_refused() {
    let budget = 64 * 1024;
    let (mut e, i) = engine(Limits {
        max_user_queued_bytes: budget as u32,
        ..Limits::default()
    });
    assert_eq!(e.add_watch(i, dir(DIR), IN_CREATE), Ok(1));
    create(&mut e, DIR, 0, 300);
    let events = drain(&mut e, i);
    assert_one_linux_overflow(&events);
    let queued = events.len() as u64 - 1;
    assert!(queued < 300);
    let r = e.take_loss_report(i).unwrap();
    assert_eq!((r.dropped, r.feed_lost), (300 - queued, 0));
    assert_eq!(r.wds(), &[1]);
}

#[test]
fn the_daemon_wide_byte_budget_reports_what_it_refused_to_each_instance() {
    let (mut e, i) = engine(Limits {
        max_total_queued_bytes: 32 * 1024,
        ..Limits::default()
    });
    let j = e.create_instance(2000).unwrap();
    assert_eq!(e.add_watch(i, dir(DIR), IN_CREATE), Ok(1));
    assert_eq!(e.add_watch(j, dir(DIR), IN_CREATE), Ok(1));
    create(&mut e, DIR, 0, 200);
    for inst in [i, j] {
        let queued = drain(&mut e, inst).len() as u64 - 1;
        let r = e.take_loss_report(inst).unwrap();
        assert_eq!((r.dropped, r.wds()), (200 - queued, &[1][..]));
    }
}

#[test]
fn feed_loss_is_counted_once_per_instance_and_names_each_watch_on_that_filesystem() {
    let (mut e, i) = engine(Limits::default());
    let other = e.create_instance(2000).unwrap();
    let elsewhere = e.create_instance(3000).unwrap();
    assert_eq!(e.add_watch(i, dir(DIR), IN_CREATE), Ok(1));
    assert_eq!(e.add_watch(i, file(FILE), IN_MODIFY), Ok(2));
    assert_eq!(e.add_watch(other, file(FILE), IN_MODIFY), Ok(1));
    let mut off_fs = dir(DIR);
    off_fs.key.fs = FS + 1;
    assert_eq!(e.add_watch(elsewhere, off_fs, IN_CREATE), Ok(1));
    e.apply(FS, &Fact::Lost { count: 12 });
    e.apply(FS, &Fact::Lost { count: 5 });
    let r = e.take_loss_report(i).unwrap();
    assert_eq!((r.dropped, r.feed_lost), (0, 17));
    assert_eq!(r.wds(), &[1, 2]);
    let r = e.take_loss_report(other).unwrap();
    assert_eq!((r.feed_lost, r.wds()), (17, &[1][..]));
    assert_eq!(e.take_loss_report(elsewhere), Ok(LossReport::default()));
    assert_eq!(drain(&mut e, i), vec![ev(-1, IN_Q_OVERFLOW, 0, "")]);
}

#[test]
fn wds_beyond_the_list_are_counted_and_each_wd_is_named_once() {
    let (mut e, i) = engine(Limits {
        max_queued_events: 1,
        ..Limits::default()
    });
    let n = LOSS_WDS as u64 + 3;
    for d in 0..n {
        assert_eq!(e.add_watch(i, dir(100 + d), IN_CREATE), Ok(d as i32 + 1));
    }
    // The first record is the overflow; then every event is dropped, twice per directory.
    for round in 0..2 {
        for d in 0..n {
            create(&mut e, 100 + d, (round * 100 + d) as usize, 1);
        }
    }
    let r = e.take_loss_report(i).unwrap();
    assert_eq!(r.dropped, 2 * n - 1);
    // wd 1 queued the one record; the others lost first, then wd 1 in the second round.
    assert_eq!(r.wds(), (2..=LOSS_WDS as i32 + 1).collect::<Vec<_>>());
    assert_eq!(r.more_wds, 3);
}

#[test]
fn a_mask_change_keeps_a_watch_named_once_and_a_report_clears_every_mark() {
    let (mut e, i) = engine(Limits {
        max_queued_events: 1,
        ..Limits::default()
    });
    assert_eq!(e.add_watch(i, dir(DIR), IN_CREATE), Ok(1));
    create(&mut e, DIR, 0, 2);
    assert_eq!(e.add_watch(i, dir(DIR), IN_CREATE | IN_DELETE), Ok(1));
    create(&mut e, DIR, 2, 1);
    let r = e.take_loss_report(i).unwrap();
    assert_eq!((r.dropped, r.wds()), (2, &[1][..]));
    create(&mut e, DIR, 3, 1);
    assert_eq!(e.take_loss_report(i).unwrap().wds(), &[1]);
}

#[test]
fn listing_shows_each_watch_in_wd_order_from_the_asked_wd() {
    let (mut e, i) = setup();
    assert_eq!(e.add_watch(i, dir(DIR), IN_CREATE | IN_ONESHOT), Ok(1));
    assert_eq!(e.add_watch(i, file(FILE), IN_MODIFY), Ok(2));
    assert_eq!(e.add_watch(i, file(FILE2), IN_ATTRIB), Ok(3));
    assert_eq!(e.rm_watch(i, 2), Ok(()));
    let mut out = Vec::new();
    e.list_watches(i, 0, &mut out).unwrap();
    let got: Vec<(i32, u32, u64)> = out.iter().map(|w| (w.wd, w.mask, w.key.ino)).collect();
    assert_eq!(
        got,
        vec![(1, IN_CREATE | IN_ONESHOT, DIR), (3, IN_ATTRIB, FILE2)]
    );
    e.list_watches(i, 2, &mut out).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(e.list_watches(i + 12345, 0, &mut out), Err(EINVAL_ERRNO));
    assert_eq!(e.take_loss_report(i + 12345), Err(EINVAL_ERRNO));
}

/// EINVAL.
const EINVAL_ERRNO: i32 = 22;

#[test]
fn the_clock_is_read_once_per_turn_and_again_after_a_new_turn() {
    static READS: AtomicU64 = AtomicU64::new(0);
    fn counting() -> u64 {
        READS.fetch_add(1, Ordering::SeqCst) + 1
    }
    let (mut e, i) = engine(Limits {
        max_queued_events: 1,
        ..Limits::default()
    });
    e.set_clock(counting);
    assert_eq!(e.add_watch(i, dir(DIR), IN_CREATE), Ok(1));
    create(&mut e, DIR, 0, 50);
    assert_eq!(READS.load(Ordering::SeqCst), 1);
    e.new_turn();
    create(&mut e, DIR, 50, 1);
    let r = e.take_loss_report(i).unwrap();
    assert_eq!((r.dropped, r.first_ns, r.last_ns), (50, 1, 2));
}
