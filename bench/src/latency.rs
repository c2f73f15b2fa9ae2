//! End-to-end latency: a filesystem operation on the host filesystem to the event being in
//! the hands of a reader that was blocked in `read`.
//!
//! Every layer of the host build takes part: the host kernel emulation (processes, fd
//! tables, scheme request queues), `HostFs` serving a directory as `/scheme/file` (it records
//! facts with the feed producer and posts feed readiness), inotifyd on its own thread
//! (pulling the feed, `Engine::apply`, answering the kept read) and the client library.
//!
//! The watched directory gets `IN_ALL_EVENTS`. A reader thread sits in a blocking
//! `Inotify::read_raw`; when it returns, the reader takes a timestamp and hands it over. The
//! writer takes a timestamp, makes one directory (`mkdir`, one `IN_CREATE | IN_ISDIR`) or
//! removes it (`rmdir`, one `IN_DELETE | IN_ISDIR`) through the host kernel, and waits for
//! the reader's timestamp. Between operations the writer pauses 200 µs so that the reader is
//! blocked again (its read kept by the daemon) when the next operation starts.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use inotify_abi::consts::{IN_ALL_EVENTS, IN_CREATE, IN_DELETE, IN_ISDIR};
use inotify_abi::event::Events;
use inotify_client::Inotify;
use inotify_engine::Limits;
use inotify_host::harness::Harness;
use inotify_host::hostfs::HostFs;

use crate::stats::{fmt_num, median, percentile, Figure};
use crate::Effort;

/// Pause between operations, so the reader is blocked again.
const PAUSE: Duration = Duration::from_micros(200);

/// A directory removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory, in /dev/shm when it exists (no disk I/O), else the temp directory.
fn scratch() -> std::io::Result<Scratch> {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = base.join(format!("inotify-bench-latency-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(path.join("w"))?;
    Ok(Scratch(path))
}

/// Median round trip, in µs, of a message to a blocked thread and its answer (two
/// `std::sync::mpsc` hand-offs): the unit cost of every hop in the host transport.
fn thread_round_trip_us(n: usize) -> f64 {
    let (to_tx, to_rx) = mpsc::channel::<Instant>();
    let (back_tx, back_rx) = mpsc::channel::<Instant>();
    let echo = thread::spawn(move || {
        while let Ok(t) = to_rx.recv() {
            if back_tx.send(t).is_err() {
                break;
            }
        }
    });
    let mut rt = Vec::with_capacity(n);
    for _ in 0..n {
        thread::sleep(PAUSE);
        let t0 = Instant::now();
        to_tx.send(t0).expect("echo thread alive");
        back_rx.recv().expect("echo thread alive");
        rt.push(t0.elapsed().as_nanos() as f64 / 1000.0);
    }
    drop(to_tx);
    let _ = echo.join();
    median(&rt)
}

/// Measures `latency_us_p50` and `latency_us_p99`.
pub fn run(effort: Effort) -> Vec<Figure> {
    let missing = |why: String| {
        vec![
            Figure::missing("latency_us_p50", "us", why.clone()),
            Figure::missing("latency_us_p99", "us", why),
        ]
    };
    let dir = match scratch() {
        Ok(d) => d,
        Err(e) => return missing(format!("no scratch directory: {e}")),
    };
    let harness = match Harness::start(Limits::default()) {
        Ok(h) => h,
        Err(e) => return missing(format!("starting inotifyd: {e}")),
    };
    let fs = match HostFs::new(&dir.0) {
        Ok(fs) => fs,
        Err(e) => return missing(format!("HostFs: {e}")),
    };
    let fs_thread = match fs.spawn(harness.kernel()) {
        Ok(t) => t,
        Err(e) => return missing(format!("serving the directory: {e}")),
    };

    let watcher = harness.process(100, 0, 0);
    let inotify = match Inotify::init(watcher) {
        Ok(i) => i,
        Err(e) => return missing(format!("inotify_init: {e}")),
    };
    let wd = match inotify.add_watch("/scheme/file/w", IN_ALL_EVENTS) {
        Ok(wd) => wd,
        Err(e) => return missing(format!("add_watch: {e}")),
    };

    let (tx, rx) = mpsc::channel::<(Instant, u32, usize)>();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_reader = stop.clone();
    let reader = thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = inotify.read_raw(&mut buf) {
            if stop_reader.load(Ordering::SeqCst) {
                break;
            }
            let t = Instant::now();
            let mut mask = 0;
            let mut count = 0;
            for ev in Events::new(&buf[..n]) {
                if ev.wd == wd {
                    mask |= ev.mask;
                }
                count += 1;
            }
            if tx.send((t, mask, count)).is_err() {
                break;
            }
        }
    });

    let writer = harness.process(200, 0, 0);
    let ops = effort.n(2000) as usize;
    let warm = ops / 10 + 1;
    let mut lat = Vec::with_capacity(ops);
    let mut op_time = Vec::with_capacity(ops);
    let mut after_op = Vec::with_capacity(ops);
    let mut extra_events = 0;
    let mut failure = None;
    for i in 0..warm + ops {
        thread::sleep(PAUSE);
        let making = i % 2 == 0;
        let t0 = Instant::now();
        let res = if making {
            writer.mkdir("/scheme/file/w/bench-dir-000001", 0o755)
        } else {
            writer.rmdir("/scheme/file/w/bench-dir-000001")
        };
        let t_op = Instant::now();
        if let Err(e) = res {
            failure = Some(format!("operation {i}: {e}"));
            break;
        }
        let (t1, mask, count) = match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(got) => got,
            Err(_) => {
                failure = Some(format!("operation {i}: no event within 5 s"));
                break;
            }
        };
        let want = if making {
            IN_CREATE | IN_ISDIR
        } else {
            IN_DELETE | IN_ISDIR
        };
        if mask != want {
            failure = Some(format!(
                "operation {i}: got mask {mask:#x}, expected {want:#x}"
            ));
            break;
        }
        extra_events += count - 1;
        if i >= warm {
            lat.push((t1 - t0).as_nanos() as f64 / 1000.0);
            op_time.push((t_op - t0).as_nanos() as f64 / 1000.0);
            after_op.push(t1.saturating_duration_since(t_op).as_nanos() as f64 / 1000.0);
        }
    }
    // Stop the reader with one more event, then the filesystem, then the daemon.
    stop.store(true, Ordering::SeqCst);
    let _ = writer.mkdir("/scheme/file/w/bench-stop", 0o755);
    let _ = reader.join();
    let _ = harness.kernel().shutdown_scheme("file");
    fs_thread.join();
    drop(harness);
    if let Some(why) = failure {
        return missing(why);
    }
    let method = format!(
        "{ops} ops (after {warm} warm-up) alternating mkdir/rmdir through the host kernel on \
         HostFs (directory in {}), one event each; from the timestamp before the op to the \
         blocked reader's timestamp after read returns",
        dir.0
            .parent()
            .map_or("?".into(), |p| p.display().to_string())
    );
    let hop = thread_round_trip_us(ops / 4 + 1);
    vec![
        Figure::new("latency_us_p50", median(&lat), "us")
            .detail(method)
            .detail(format!(
                "calibration: a round trip to a blocked thread and back (two mpsc hand-offs, \
                 after the same 200 us pause) takes {} us on this machine",
                fmt_num(hop)
            ))
            .detail(format!(
                "the operation itself (until mkdir/rmdir returned): median {} us; from its \
                 return to the reader's: median {} us; extra events seen: {extra_events}",
                fmt_num(median(&op_time)),
                fmt_num(median(&after_op))
            )),
        Figure::new("latency_us_p99", percentile(&lat, 99.0), "us").detail(format!(
            "p90 {} us, max {} us",
            fmt_num(percentile(&lat, 90.0)),
            fmt_num(percentile(&lat, 100.0))
        )),
    ]
}
