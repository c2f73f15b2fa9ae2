//! The daemon under file churn, and what the conversation costs per event.
//!
//! Both groups run the whole host chain: the host kernel, `HostFs` serving a scratch
//! directory as `/scheme/file`, inotifyd on its thread, client processes on their own threads.
//!
//! - `churn_request_latency_us_p99`, `churn_events_per_s`: two writers (non-root processes)
//!   loop create/close/unlink in two watched directories as fast as they can, a reader drains
//!   the events of both, and a third process times each of its requests to the daemon in
//!   turn: `inotify_init1`, `inotify_add_watch` on an unwatched directory, `inotify_rm_watch`,
//!   `close`.
//! - `host_round_trips_per_event`: one writer loops create/write/close/unlink in a watched
//!   directory without waiting for anyone, one reader sits in a blocking `read`; the host
//!   kernel counts the requests and readiness posts of the conversation (the reader's requests
//!   to inotifyd, the daemon's requests to the filesystem, the filesystem's and the daemon's
//!   readiness posts), divided by the events the reader received. The same count is made for
//!   bursts of a given number of iterations, each burst waiting for the reader to catch up.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use inotify_abi::consts::{IN_ALL_EVENTS, IN_Q_OVERFLOW};
use inotify_abi::event::Events;
use inotify_client::Inotify;
use inotify_engine::Limits;
use inotify_host::harness::{Harness, ServedFs};
use inotify_host::{Kernel, Process};
use syscall::flag::{O_CREAT, O_WRONLY};

use crate::stats::{fmt_num, median, percentile, Figure};
use crate::Effort;

/// The uid of every process of these groups: not root, as in the reported attack.
const UID: u32 = 1000;

/// A scratch directory with subdirectories, served by `HostFs`, and inotifyd; stopped and
/// removed on drop.
struct Rig {
    /// The host directory.
    dir: PathBuf,
    /// The daemon and the filesystem (stopped on drop, before the directory goes).
    served: Option<ServedFs>,
}

impl Rig {
    /// Serves a fresh directory holding `subdirs` (all mode 0777).
    fn start(tag: &str, subdirs: &[&str]) -> Result<Rig, String> {
        Self::start_with_ring(tag, subdirs, true)
    }

    /// [`Rig::start`]; without `ring` the daemon reads the feed instead of mapping it.
    fn start_with_ring(tag: &str, subdirs: &[&str], ring: bool) -> Result<Rig, String> {
        use std::os::unix::fs::PermissionsExt;
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("inotify-bench-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let perm = || std::fs::Permissions::from_mode(0o777);
        std::fs::create_dir_all(&dir).map_err(|e| format!("scratch directory: {e}"))?;
        let mut rig = Rig { dir, served: None };
        std::fs::set_permissions(&rig.dir, perm()).map_err(|e| e.to_string())?;
        for sub in subdirs {
            std::fs::create_dir_all(rig.dir.join(sub)).map_err(|e| e.to_string())?;
            std::fs::set_permissions(rig.dir.join(sub), perm()).map_err(|e| e.to_string())?;
        }
        rig.served = Some(ServedFs::start_with_ring(
            &rig.dir,
            Limits::default(),
            ring,
        )?);
        Ok(rig)
    }

    fn harness(&self) -> &Harness {
        self.served.as_ref().expect("running until drop").harness()
    }

    fn kernel(&self) -> &Kernel {
        self.harness().kernel()
    }

    fn process(&self, pid: usize) -> Process {
        self.harness().process(pid, UID, UID)
    }

    /// The conversation's counters now.
    fn counters(&self) -> Counters {
        let k = self.kernel();
        Counters {
            to_daemon: k.requests("inotify").unwrap_or(0),
            from_daemon: self.harness().daemon_process().requests_sent(),
            fs_posts: k.posts("file").unwrap_or(0),
            daemon_posts: k.posts("inotify").unwrap_or(0),
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        drop(self.served.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the host kernel counted of the conversation between reader, daemon and filesystem.
#[derive(Clone, Copy, Default)]
struct Counters {
    /// Requests to inotifyd (the reader's reads, in these loops).
    to_daemon: u64,
    /// Requests inotifyd made (feed reads, interest writes).
    from_daemon: u64,
    /// Readiness posts of the filesystem (feed readable).
    fs_posts: u64,
    /// Readiness posts of inotifyd (instance readable).
    daemon_posts: u64,
}

impl Counters {
    fn since(self, before: Counters) -> Counters {
        Counters {
            to_daemon: self.to_daemon - before.to_daemon,
            from_daemon: self.from_daemon - before.from_daemon,
            fs_posts: self.fs_posts - before.fs_posts,
            daemon_posts: self.daemon_posts - before.daemon_posts,
        }
    }

    fn total(self) -> u64 {
        self.to_daemon + self.from_daemon + self.fs_posts + self.daemon_posts
    }

    fn per(self, events: u64) -> String {
        let e = events.max(1) as f64;
        format!(
            "reader requests {} + daemon requests {} + filesystem posts {} + daemon posts {} \
             per event",
            fmt_num(self.to_daemon as f64 / e),
            fmt_num(self.from_daemon as f64 / e),
            fmt_num(self.fs_posts as f64 / e),
            fmt_num(self.daemon_posts as f64 / e)
        )
    }
}

/// A reader thread: blocking 64 KiB reads until `stop` is set and a read returns.
struct Reader {
    /// Events received so far.
    events: Arc<AtomicU64>,
    /// `IN_Q_OVERFLOW` records received so far.
    overflows: Arc<AtomicU64>,
    /// Set to end the thread (after its next read returns).
    stop: Arc<AtomicBool>,
    /// The thread.
    thread: JoinHandle<()>,
}

impl Reader {
    /// Watches `dirs` (paths under `/scheme/file`) with `IN_ALL_EVENTS` and starts reading.
    fn start(process: Process, dirs: &[&str]) -> Result<Reader, String> {
        let inotify = Inotify::init(process).map_err(|e| format!("inotify_init: {e}"))?;
        for d in dirs {
            inotify
                .add_watch(&format!("/scheme/file/{d}"), IN_ALL_EVENTS)
                .map_err(|e| format!("add_watch {d}: {e}"))?;
        }
        let events = Arc::new(AtomicU64::new(0));
        let overflows = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (ev, ov, st) = (events.clone(), overflows.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = inotify.read_raw(&mut buf) {
                let mut count = 0;
                for e in Events::new(&buf[..n]) {
                    if e.mask & IN_Q_OVERFLOW != 0 {
                        ov.fetch_add(1, Ordering::Relaxed);
                    }
                    count += 1;
                }
                ev.fetch_add(count, Ordering::Relaxed);
                if st.load(Ordering::SeqCst) {
                    break;
                }
            }
        });
        Ok(Reader {
            events,
            overflows,
            stop,
            thread,
        })
    }

    fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// Waits until at least `n` events arrived, or `limit` passed; returns whether they did.
    fn wait_for(&self, n: u64, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while self.events() < n {
            if Instant::now() > until {
                return false;
            }
            thread::yield_now();
        }
        true
    }

    /// Waits until at least `n` events arrived, or none arrived for `quiet`; returns whether
    /// all `n` did.
    fn wait_until_quiet(&self, n: u64, quiet: Duration) -> bool {
        let mut last = (self.events(), Instant::now());
        while self.events() < n {
            let now = self.events();
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > quiet {
                return false;
            }
            thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Stops the thread: one more event from `writer` in `dir` ends its read.
    fn stop(self, writer: &Process, dir: &str) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = writer.mkdir(&format!("/scheme/file/{dir}/stop"), 0o755);
        let _ = self.thread.join();
    }
}

/// One create/write/close/unlink iteration on `path` (five events when watched:
/// `IN_CREATE`, `IN_OPEN`, `IN_MODIFY`, `IN_CLOSE_WRITE`, `IN_DELETE`).
fn iteration(p: &Process, path: &str, write: bool) -> syscall::error::Result<()> {
    let fd = p.open(path, O_CREAT | O_WRONLY | 0o644)?;
    if write {
        p.write(fd, b"x")?;
    }
    p.close(fd)?;
    p.unlink(path)
}

/// Measures `churn_request_latency_us_p99` and `churn_events_per_s`: three windows (one with
/// `--quick`), each on a fresh rig; the figures of the window with the median p99 are
/// reported, the other p99s in a detail line.
pub fn run(effort: Effort) -> Vec<Figure> {
    let windows = if effort.scale < 1.0 { 1 } else { 3 };
    let mut rounds = Vec::new();
    for _ in 0..windows {
        match churn(effort) {
            Ok(round) => rounds.push(round),
            Err(why) => {
                return vec![
                    Figure::missing("churn_request_latency_us_p99", "us", why.clone()),
                    Figure::missing("churn_events_per_s", "ev/s", why),
                ]
            }
        }
    }
    rounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let p99s: Vec<String> = rounds.iter().map(|r| fmt_num(r.0)).collect();
    let mut figs = rounds.swap_remove(rounds.len() / 2).1;
    figs[0].details.push(format!(
        "p99 of each window (the median one reported): {} us",
        p99s.join(", ")
    ));
    figs
}

/// One churn window: its request p99 and its figures.
fn churn(effort: Effort) -> Result<(f64, Vec<Figure>), String> {
    let rig = Rig::start("churn", &["w1", "w2", "r"])?;
    let reader = Reader::start(rig.process(100), &["w1", "w2"])?;
    let window = Duration::from_secs_f64((1.5 * effort.scale).max(0.3));

    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let writers: Vec<JoinHandle<Option<String>>> = (1..=2)
        .map(|i| {
            let p = rig.process(200 + i);
            let (stop, ops) = (stop.clone(), ops.clone());
            thread::spawn(move || {
                let path = format!("/scheme/file/w{i}/churn");
                while !stop.load(Ordering::Relaxed) {
                    // create (open O_CREAT), close, unlink: three operations, four events.
                    if let Err(e) = iteration(&p, &path, false) {
                        return Some(format!("writer {i}: {e}"));
                    }
                    ops.fetch_add(1, Ordering::Relaxed);
                }
                None
            })
        })
        .collect();

    // Let the churn get going, then time requests until the window ends.
    thread::sleep(Duration::from_millis(50));
    let client = rig.process(300);
    let mut lat = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let ev0 = reader.events();
    let ops0 = ops.load(Ordering::Relaxed);
    let t0 = Instant::now();
    // The writers stop when the window ends, whether or not a request is still waiting.
    let timer = {
        let stop = stop.clone();
        thread::spawn(move || {
            thread::sleep(window);
            stop.store(true, Ordering::Relaxed);
        })
    };
    let mut failure = None;
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let inotify = match Inotify::init(client.clone()) {
            Ok(i) => i,
            Err(e) => {
                failure = Some(format!("inotify_init during churn: {e}"));
                break;
            }
        };
        lat[0].push(t.elapsed());
        let t = Instant::now();
        let wd = match inotify.add_watch("/scheme/file/r", IN_ALL_EVENTS) {
            Ok(wd) => wd,
            Err(e) => {
                failure = Some(format!("add_watch during churn: {e}"));
                break;
            }
        };
        lat[1].push(t.elapsed());
        let t = Instant::now();
        if let Err(e) = inotify.rm_watch(wd) {
            failure = Some(format!("rm_watch during churn: {e}"));
            break;
        }
        lat[2].push(t.elapsed());
        let t = Instant::now();
        drop(inotify);
        lat[3].push(t.elapsed());
    }
    let _ = timer.join();
    let elapsed = t0.elapsed().as_secs_f64();
    let ev1 = reader.events();
    let ops1 = ops.load(Ordering::Relaxed);
    for w in writers {
        if let Some(why) = w.join().unwrap_or(Some("writer panicked".into())) {
            failure.get_or_insert(why);
        }
    }
    // Every operation's events, and nothing lost without an overflow record.
    let iterations = ops.load(Ordering::Relaxed);
    let expected = iterations * EVENTS_PER_CHURN_ITERATION;
    let drained = reader.wait_until_quiet(expected, Duration::from_millis(300));
    let delivered = reader.events();
    let overflows = reader.overflows.load(Ordering::Relaxed);
    reader.stop(&rig.process(400), "w1");
    drop(rig);
    if let Some(why) = failure {
        return Err(why);
    }
    let us = |v: &[Duration]| -> Vec<f64> {
        v.iter()
            .map(|d| d.as_nanos() as f64 / 1000.0)
            .collect::<Vec<_>>()
    };
    let all: Vec<f64> = lat.iter().flat_map(|v| us(v)).collect();
    let names = ["init1", "add_watch", "rm_watch", "close"];
    let per_call: Vec<String> = names
        .iter()
        .zip(&lat)
        .map(|(n, v)| {
            format!(
                "{n} p50 {} p99 {}",
                fmt_num(median(&us(v))),
                fmt_num(percentile(&us(v), 99.0))
            )
        })
        .collect();
    let churn_rate = 3.0 * (ops1 - ops0) as f64 / elapsed;
    let events_per_s = (ev1 - ev0) as f64 / elapsed;
    let p99 = percentile(&all, 99.0);
    Ok((
        p99,
        vec![
            Figure::new("churn_request_latency_us_p99", p99, "us")
                .detail(format!(
                    "{} requests in {:.2} s ({} cycles of init1/add_watch/rm_watch/close) while 2 \
                 writers looped create/close/unlink in 2 watched directories (uid {UID}); \
                 p50 {} us, max {} us",
                    all.len(),
                    elapsed,
                    lat[3].len(),
                    fmt_num(median(&all)),
                    fmt_num(percentile(&all, 100.0))
                ))
                .detail(per_call.join("; ")),
            Figure::new("churn_events_per_s", events_per_s, "ev/s").detail(format!(
                "churn rate {} ops/s (create, close, unlink: 4 events per 3 ops); {} events \
             delivered during the window; {} in all of the {} the churn made ({}), {} \
             IN_Q_OVERFLOW",
                fmt_num(churn_rate),
                ev1 - ev0,
                delivered,
                expected,
                if drained {
                    "all delivered"
                } else {
                    "the rest lost to queue overflow"
                },
                overflows
            )),
        ],
    ))
}

/// Measures `host_round_trips_per_event`, and events per round trip for bursts.
/// The same loop with the feed read instead of mapped (a filesystem that cannot share
/// memory) gives `host_round_trips_per_event_read_path`, measured in the same run.
pub fn round_trips(effort: Effort) -> Vec<Figure> {
    let mut figs = match round_trips_inner(effort, true) {
        Ok(figs) => figs,
        Err(why) => vec![Figure::missing("host_round_trips_per_event", "", why)],
    };
    match round_trips_inner(effort, false) {
        Ok(read) => figs.extend(read),
        Err(why) => figs.push(Figure::missing(
            "host_round_trips_per_event_read_path",
            "",
            why,
        )),
    }
    figs
}

/// Events of one iteration of [`iteration`] without a write (`IN_CREATE`, `IN_OPEN`,
/// `IN_CLOSE_WRITE`, `IN_DELETE`).
const EVENTS_PER_CHURN_ITERATION: u64 = 4;

/// Events of one iteration of [`iteration`] with a write.
const EVENTS_PER_ITERATION: u64 = 5;

fn round_trips_inner(effort: Effort, ring: bool) -> Result<Vec<Figure>, String> {
    let rig = Rig::start_with_ring(
        if ring {
            "roundtrips"
        } else {
            "roundtrips-read"
        },
        &["w"],
        ring,
    )?;
    let name = if ring {
        "host_round_trips_per_event"
    } else {
        "host_round_trips_per_event_read_path"
    };
    let reader = Reader::start(rig.process(100), &["w"])?;
    let writer = rig.process(200);
    let path = "/scheme/file/w/f";
    let limit = Duration::from_secs(10);

    // Warm-up, then the continuous loop.
    for _ in 0..20 {
        iteration(&writer, path, true).map_err(|e| e.to_string())?;
    }
    let mut want = 20 * EVENTS_PER_ITERATION;
    if !reader.wait_for(want, limit) {
        return Err(format!("warm-up: {} of {want} events", reader.events()));
    }
    let n = effort.n(2000);
    let ev0 = reader.events();
    let c0 = rig.counters();
    for _ in 0..n {
        iteration(&writer, path, true).map_err(|e| e.to_string())?;
    }
    want += n * EVENTS_PER_ITERATION;
    if !reader.wait_for(want, limit) {
        return Err(format!("loop: {} of {want} events", reader.events()));
    }
    // The reader's next read is kept before the counters are read again.
    thread::sleep(Duration::from_millis(20));
    let c = rig.counters().since(c0);
    let events = reader.events() - ev0;
    let per_event = c.total() as f64 / events as f64;

    let mut curve = Vec::new();
    for burst in [1u64, 4, 16, 64, 256] {
        let bursts = (effort.n(1000) / burst).max(4);
        let ev0 = reader.events();
        let c0 = rig.counters();
        for _ in 0..bursts {
            for _ in 0..burst {
                iteration(&writer, path, true).map_err(|e| e.to_string())?;
            }
            want += burst * EVENTS_PER_ITERATION;
            if !reader.wait_for(want, limit) {
                return Err(format!(
                    "burst {burst}: {} of {want} events",
                    reader.events()
                ));
            }
        }
        thread::sleep(Duration::from_millis(20));
        let c = rig.counters().since(c0);
        let events = reader.events() - ev0;
        curve.push(format!(
            "{burst}: {} ({} round trips per event)",
            fmt_num(events as f64 / c.total() as f64),
            fmt_num(c.total() as f64 / events as f64)
        ));
    }
    let overflows = reader.overflows.load(Ordering::Relaxed);
    reader.stop(&writer, "w");
    drop(rig);
    Ok(vec![Figure::new(name, per_event, "")
        .detail(format!(
            "{n} iterations of create/write/close/unlink ({events} events, {overflows} \
             IN_Q_OVERFLOW) in a watched directory, the writer not waiting, one reader blocked \
             in read: {}",
            c.per(events)
        ))
        .detail(format!(
            "events per round trip for bursts of N iterations, each burst waiting for the \
             reader: {}",
            curve.join(", ")
        ))])
}
