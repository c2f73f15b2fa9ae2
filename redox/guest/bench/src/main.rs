//! `guest-bench [DIR] [--secs S] [--samples N] [--reader-buf BYTES]`: the benchmarks that matter on Redox, with
//! every figure also given as a multiple of a baseline measured in the same run, because
//! absolute times in an emulated guest mean nothing. Runs on Redox (inotifyd through the
//! client library) and on Linux (the kernel's inotify), same workload, so both can be set side
//! by side.
//!
//! Baselines: a 1-byte read of `/scheme/zero` (`/dev/zero` on Linux; on Redox one scheme round
//! trip) and a 1-byte pipe ping-pong between two threads.
//!
//! Workloads, in a fresh directory under DIR (default `/tmp`), after the baselines and the
//! costs that explain the others (reading the monotonic clock, zero reads of 4 and 64 KiB,
//! and yielding the CPU with nothing else runnable):
//! - `op`: create, write 16 bytes, close, unlink one file. Unwatched with nothing watched,
//!   unwatched while another directory is watched, and watched (`IN_ALL_EVENTS`, one reader
//!   blocked in `read`; the time runs until the reader has every event). The marginal cost per
//!   event is (watched - unwatched) / events, in zero-read units.
//! - bursts: k operations, then wait until the reader has their events; events per round trip
//!   = events / ((time - k unwatched operations) / zero read).
//! - latency: from the return of a `mkdir` in a watched directory to the return of the blocked
//!   reader's `read` (p50/p99; 0 when the reader returned first), next to the same figure for
//!   a pipe write and a blocked pipe reader. Samples in which the clock ran backwards are
//!   dropped and counted. While a sample runs, the timing thread waits blocked in a read of a
//!   pipe the reader writes once it has the event: nothing else is runnable, as for a lone
//!   operation on an idle system (a waiter that spins would take the turns the daemon yields).
//!
//! Each loop runs for S seconds (default 1); the op loops alternate in three rounds and the
//! medians (of each figure, and of the ratios within a round) are reported. The first line is `inotifyd guest run: commit C`, the last
//! `guest-bench: done` (or `guest-bench: failed: why`).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use inotify_abi::consts::{IN_ALL_EVENTS, IN_CREATE, IN_Q_OVERFLOW};
use inotify_abi::event::Events;

/// Rounds of each alternating comparison (medians are reported).
const ROUNDS: usize = 3;
/// Burst sizes of the burst curve.
const BURSTS: [usize; 4] = [1, 4, 16, 64];
/// Operations per burst size.
const BURST_OPS: usize = 64;
/// How long a wait for the reader may take before the run counts events as lost.
const CATCH_UP: Duration = Duration::from_secs(30);

/// The inotify instance: inotifyd through the client library on Redox.
#[cfg(target_os = "redox")]
mod sys {
    use std::io;

    use inotify_client::{Inotify, RedoxOs, IN_CLOEXEC};

    /// The trivial scheme whose 1-byte read is the unit.
    pub const ZERO: &str = "/scheme/zero";

    /// A blocking inotify instance.
    pub struct Watcher(Inotify<RedoxOs>);

    fn err(e: syscall::Error) -> io::Error {
        io::Error::from_raw_os_error(e.errno)
    }

    impl Watcher {
        pub fn new() -> io::Result<Self> {
            Inotify::init1(RedoxOs, IN_CLOEXEC)
                .map(Watcher)
                .map_err(err)
        }
        pub fn add(&self, path: &str, mask: u32) -> io::Result<i32> {
            self.0.add_watch(path, mask).map_err(err)
        }
        pub fn rm(&self, wd: i32) -> io::Result<()> {
            self.0.rm_watch(wd).map_err(err)
        }
        pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read_raw(buf).map_err(err)
        }
    }
}

/// The inotify instance: the Linux kernel's.
#[cfg(not(target_os = "redox"))]
mod sys {
    use std::ffi::CString;
    use std::io;

    /// The trivial device whose 1-byte read is the unit.
    pub const ZERO: &str = "/dev/zero";

    /// A blocking inotify instance.
    pub struct Watcher(i32);

    impl Watcher {
        pub fn new() -> io::Result<Self> {
            // SAFETY: no pointers.
            let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Watcher(fd))
        }
        pub fn add(&self, path: &str, mask: u32) -> io::Result<i32> {
            let path = CString::new(path)?;
            // SAFETY: `path` is a NUL-terminated string that outlives the call.
            let wd = unsafe { libc::inotify_add_watch(self.0, path.as_ptr(), mask) };
            if wd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(wd)
        }
        pub fn rm(&self, wd: i32) -> io::Result<()> {
            // SAFETY: no pointers.
            if unsafe { libc::inotify_rm_watch(self.0, wd) } < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }
        pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
            // SAFETY: `buf` is valid for `buf.len()` bytes.
            let n = unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(n as usize)
        }
    }
}

use sys::Watcher;

/// What the reader thread has seen, shared with the timing thread.
#[derive(Default)]
struct Seen {
    /// Events read.
    events: AtomicU64,
    /// `IN_Q_OVERFLOW` records read.
    overflows: AtomicU64,
    /// Reads that returned.
    reads: AtomicU64,
    /// When the last read returned, in ns since the run's epoch.
    last_ns: AtomicU64,
    /// Written one byte after each read while a latency sample waits on its other end.
    done: Mutex<Option<io::PipeWriter>>,
}

impl Seen {
    /// Tells a waiting timing thread that a read returned (if one waits).
    fn tell_done(&self) {
        if let Some(w) = self.done.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            let _ = w.write_all(&[1]);
        }
    }
}

/// The timing thread's end of [`Seen::done`].
struct DoneWait(io::PipeReader);

impl DoneWait {
    /// Makes `seen`'s reader tell this end about each read from now on.
    fn attach(seen: &Seen) -> io::Result<DoneWait> {
        let (r, w) = io::pipe()?;
        *seen.done.lock().unwrap_or_else(|e| e.into_inner()) = Some(w);
        Ok(DoneWait(r))
    }

    /// Blocks until the reader has read `target` events; false if it stopped first.
    fn until(&mut self, seen: &Seen, target: u64) -> bool {
        let mut b = [0u8; 64];
        while seen.events.load(SeqCst) < target {
            if !matches!(self.0.read(&mut b), Ok(n) if n > 0) {
                return false;
            }
        }
        true
    }
}

/// Blocks in `read` forever, counting what arrives.
fn read_forever(watcher: Arc<Watcher>, seen: Arc<Seen>, epoch: Instant, len: usize) {
    let mut buf = vec![0u8; len];
    loop {
        let n = match watcher.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                println!("guest-bench: reader stopped: {e}");
                return;
            }
        };
        seen.last_ns.store(since(epoch), SeqCst);
        let mut events = 0;
        for ev in Events::new(&buf[..n]) {
            events += 1;
            if ev.mask & IN_Q_OVERFLOW != 0 {
                seen.overflows.fetch_add(1, SeqCst);
            }
        }
        seen.reads.fetch_add(1, SeqCst);
        seen.events.fetch_add(events, SeqCst);
        seen.tell_done();
    }
}

/// One latency sample in µs from the clock readings before and after the operation and at the
/// reader's return: 0 when the reader returned before the operation did (it was woken from
/// inside it), `None` when the clock ran backwards.
fn sample(before: u64, after: u64, woke: u64) -> Option<f64> {
    if after < before || woke < before {
        return None;
    }
    Some(woke.saturating_sub(after) as f64 / 1e3)
}

/// Nanoseconds since `epoch`.
fn since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// Waits, yielding, until the reader has read `target` events; false at [`CATCH_UP`].
fn catch_up(seen: &Seen, target: u64) -> bool {
    let start = Instant::now();
    while seen.events.load(SeqCst) < target {
        if start.elapsed() > CATCH_UP {
            return false;
        }
        thread::yield_now();
    }
    true
}

/// Runs `step` repeatedly for `secs` and returns the mean time of one step in µs.
fn per_step_us(secs: f64, mut step: impl FnMut() -> io::Result<()>) -> io::Result<f64> {
    let start = Instant::now();
    let mut steps = 0u64;
    while steps < 4 || start.elapsed().as_secs_f64() < secs {
        step()?;
        steps += 1;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / steps as f64)
}

/// The median of `v` (sorted in place); 0 when empty.
fn median(v: &mut [f64]) -> f64 {
    percentile(v, 50.0)
}

/// The `p`th percentile of `v` (nearest rank, sorted in place); 0 when empty.
fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// One operation of the loop: create, write 16 bytes, close, unlink.
fn op(path: &str) -> io::Result<()> {
    File::create(path)?.write_all(&[b'x'; 16])?;
    fs::remove_file(path)
}

/// The mean time of a 1-byte read of [`sys::ZERO`], in µs.
fn zero_read_us(secs: f64) -> io::Result<f64> {
    let mut zero = File::open(sys::ZERO)?;
    let mut b = [0u8; 1];
    per_step_us(secs, || zero.read_exact(&mut b))
}

/// The mean time of a read of `len` bytes from [`sys::ZERO`], in µs.
fn zero_read_len_us(secs: f64, len: usize) -> io::Result<f64> {
    let mut zero = File::open(sys::ZERO)?;
    let mut b = vec![0u8; len];
    per_step_us(secs, || zero.read_exact(&mut b))
}

/// The mean time of reading the monotonic clock (a system call on Redox), in µs.
fn clock_read_us(secs: f64) -> io::Result<f64> {
    per_step_us(secs, || {
        std::hint::black_box(Instant::now());
        Ok(())
    })
}

/// The mean time of yielding the CPU with nothing else runnable, in µs.
fn yield_us(secs: f64) -> io::Result<f64> {
    per_step_us(secs, || {
        thread::yield_now();
        Ok(())
    })
}

/// The mean time of a 1-byte pipe ping-pong between two threads, in µs.
fn pipe_round_trip_us(secs: f64) -> io::Result<f64> {
    let (mut ping_r, mut ping_w) = io::pipe()?;
    let (mut pong_r, mut pong_w) = io::pipe()?;
    let echo = thread::spawn(move || {
        let mut b = [0u8; 1];
        while ping_r.read_exact(&mut b).is_ok() && b[0] != 0 {
            if pong_w.write_all(&b).is_err() {
                break;
            }
        }
    });
    let mut b = [1u8; 1];
    let us = per_step_us(secs, || {
        ping_w.write_all(&[1])?;
        pong_r.read_exact(&mut b)
    });
    ping_w.write_all(&[0])?;
    let _ = echo.join();
    us
}

/// One-way latencies (µs) from the return of a pipe write to the return of a blocked read
/// on the other end, and the number of samples dropped because the clock ran backwards.
fn pipe_latency_us(samples: usize, epoch: Instant) -> io::Result<(Vec<f64>, usize)> {
    let (mut rd, mut wr) = io::pipe()?;
    let seen = Arc::new(Seen::default());
    let seen2 = seen.clone();
    let reader = thread::spawn(move || {
        let mut b = [0u8; 1];
        while rd.read_exact(&mut b).is_ok() && b[0] != 0 {
            seen2.last_ns.store(since(epoch), SeqCst);
            seen2.events.fetch_add(1, SeqCst);
            seen2.tell_done();
        }
    });
    let mut done = DoneWait::attach(&seen)?;
    let (mut lat, mut dropped) = (Vec::with_capacity(samples), 0);
    for i in 0..samples as u64 {
        // Let the reader block in read first.
        thread::yield_now();
        let before = since(epoch);
        wr.write_all(&[1])?;
        let after = since(epoch);
        if !done.until(&seen, i + 1) {
            return Err(io::Error::other("pipe reader never woke"));
        }
        match sample(before, after, seen.last_ns.load(SeqCst)) {
            Some(us) => lat.push(us),
            None => dropped += 1,
        }
    }
    wr.write_all(&[0])?;
    let _ = reader.join();
    Ok((lat, dropped))
}

/// The daemon's system-call counts from its status view (`sys` line; inotifyd on Redox,
/// root only), by name.
fn daemon_counts() -> Option<Vec<(String, u64)>> {
    let text = fs::read_to_string("/scheme/inotify/status").ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("sys "))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .chunks(2)
        .map(|kv| Some((kv[0].to_string(), kv.get(1)?.parse().ok()?)))
        .collect()
}

/// A snapshot of the daemon's counts and the time it was taken.
type Snapshot = (Instant, Option<Vec<(String, u64)>>);

/// Takes a [`Snapshot`].
fn snapshot() -> Snapshot {
    (Instant::now(), daemon_counts())
}

/// Prints what the daemon did per event since a [`Snapshot`], and the time it was not
/// blocked (busy or waiting for the CPU) per event.
fn print_counts_per_event(before: &Snapshot, events: u64) {
    let (Some(counts), Some(after)) = (&before.1, daemon_counts()) else {
        return;
    };
    let per = |d: u64| d as f64 / events.max(1) as f64;
    let mut line = String::from("bench daemon calls per event:");
    let mut blocked = 0;
    for ((name, b), (_, a)) in counts.iter().zip(&after) {
        line += &format!(" {name} {:.3}", per(a - b));
        if name == "blocked_us" {
            blocked = a - b;
        }
    }
    let wall = before.0.elapsed().as_micros() as u64;
    line += &format!(" unblocked_us {:.1}", per(wall.saturating_sub(blocked)));
    println!("{line}");
}

/// Prints what the reader saw and the daemon's status view, when events did not arrive.
/// The view's text is taken at `open`, which pulls no feed: the first one shows the daemon's
/// state as the reader waited; it is read after two seconds in which that `open` (a request)
/// has woken the daemon. The second is taken after everything that followed.
fn diagnose(seen: &Seen) {
    println!(
        "guest-bench: reader saw {} events in {} reads",
        seen.events.load(SeqCst),
        seen.reads.load(SeqCst)
    );
    let first = File::open("/scheme/inotify/status");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        thread::yield_now();
    }
    println!(
        "guest-bench: two seconds after a request: {} events in {} reads",
        seen.events.load(SeqCst),
        seen.reads.load(SeqCst)
    );
    let mut text = String::new();
    if first.and_then(|mut f| f.read_to_string(&mut text)).is_ok() {
        for line in text.lines() {
            println!("guest-bench: status as the reader waited: {line}");
        }
    }
    if let Ok(text) = fs::read_to_string("/scheme/inotify/status") {
        for line in text.lines() {
            println!("guest-bench: status after: {line}");
        }
    }
}

/// Command-line settings.
struct Args {
    base: String,
    secs: f64,
    samples: usize,
    /// The reader's buffer (default 64 KiB).
    reader_buf: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        base: "/tmp".into(),
        secs: 1.0,
        samples: 100,
        reader_buf: 64 * 1024,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |what: &str| it.next().ok_or(format!("{arg} needs {what}"));
        match arg.as_str() {
            "--secs" => a.secs = value("seconds")?.parse().map_err(|e| format!("{e}"))?,
            "--samples" => a.samples = value("a count")?.parse().map_err(|e| format!("{e}"))?,
            "--reader-buf" => {
                a.reader_buf = value("bytes")?.parse().map_err(|e| format!("{e}"))?;
            }
            s if !s.starts_with('-') => a.base = s.to_string(),
            s => return Err(format!("unknown option {s}")),
        }
    }
    Ok(a)
}

/// The baselines figures are given in: the zero read and the pipe round trip, in µs.
type Units = [(&'static str, f64)];

/// Prints one figure: `bench NAME VALUE` and its ratio to each unit.
fn figure(name: &str, value: f64, units: &Units) {
    let mut line = format!("bench {name} {value:.2}");
    for (unit, u) in units.iter().filter(|(_, u)| *u > 0.0) {
        line += &format!(" ({:.3} {unit})", value / u);
    }
    println!("{line}");
}

fn main() -> std::process::ExitCode {
    println!("inotifyd guest run: commit {}", env!("GUEST_COMMIT"));
    let result = args().map_err(io::Error::other).and_then(|a| run(&a));
    // Without a flush the reader thread, still blocked, may keep the output.
    let _ = io::stdout().flush();
    match result {
        Ok(()) => {
            println!("guest-bench: done");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            println!("guest-bench: failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(a: &Args) -> io::Result<()> {
    let epoch = Instant::now();
    let root = format!("{}/guest-bench-{}", a.base, std::process::id());
    let (unwatched, watched, latency) = (
        format!("{root}/unwatched"),
        format!("{root}/watched"),
        format!("{root}/latency"),
    );
    let _ = fs::remove_dir_all(&root);
    for d in [&root, &unwatched, &watched, &latency] {
        fs::create_dir(d)?;
    }
    println!(
        "guest-bench: os {}, dir {root}, {} s per loop, {} latency samples, reader buffer {} bytes",
        std::env::consts::OS,
        a.secs,
        a.samples,
        a.reader_buf
    );

    // Baselines and the unwatched loop before any watch exists (so before inotifyd opens the
    // filesystem's feed), alternating.
    let (mut zero, mut nothing) = (Vec::new(), Vec::new());
    let f = format!("{unwatched}/f");
    for _ in 0..ROUNDS {
        zero.push(zero_read_us(a.secs)?);
        nothing.push(per_step_us(a.secs, || op(&f))?);
    }
    let zero = median(&mut zero);
    figure("zero_read_us", zero, &[]);
    let pipe = pipe_round_trip_us(a.secs)?;
    figure("pipe_round_trip_us", pipe, &[("zero reads", zero)]);
    let z: &Units = &[("zero reads", zero), ("pipe round trips", pipe)];
    figure("clock_read_us", clock_read_us(a.secs)?, z);
    for len in [4096, 65536] {
        figure(
            &format!("zero_read_{len}_us"),
            zero_read_len_us(a.secs, len)?,
            z,
        );
    }
    figure("yield_us", yield_us(a.secs)?, z);
    figure("op_unwatched_nothing_watched_us", median(&mut nothing), z);

    let watcher = match Watcher::new() {
        Ok(w) => Arc::new(w),
        Err(e) => {
            println!("guest-bench: no inotify instance ({e}): unwatched figures only");
            return Ok(());
        }
    };
    let mut wd = watcher.add(&watched, IN_ALL_EVENTS)?;
    let seen = Arc::new(Seen::default());
    {
        let (w, s) = (watcher.clone(), seen.clone());
        let len = a.reader_buf;
        thread::spawn(move || read_forever(w, s, epoch, len));
    }

    // Events per operation, from a few operations.
    let g = format!("{watched}/f");
    for _ in 0..8 {
        op(&g)?;
    }
    thread::sleep(Duration::from_millis(500));
    let per_op = seen.events.load(SeqCst) as f64 / 8.0;
    figure("events_per_op", per_op, &[]);
    if per_op < 1.0 {
        return Err(io::Error::other("the watched loop reports no events"));
    }

    // Rounds of three: nothing watched with the feed open, another directory watched, and
    // the watched directory; each compared with the others of its round.
    let (mut idle, mut other, mut hot) = (Vec::new(), Vec::new(), Vec::new());
    let (mut lost, mut events_total, mut hot_secs) = (0u64, 0u64, 0f64);
    let counts = snapshot();
    for round in 0..ROUNDS {
        let before = seen.events.load(SeqCst);
        watcher.rm(wd)?;
        if !catch_up(&seen, before + 1) {
            diagnose(&seen);
            return Err(io::Error::other(format!(
                "round {round}: rm_watch {wd}: no IN_IGNORED after {before} events"
            )));
        }
        idle.push(per_step_us(a.secs, || op(&f))?);
        wd = watcher.add(&watched, IN_ALL_EVENTS)?;
        other.push(per_step_us(a.secs, || op(&f))?);
        let before = seen.events.load(SeqCst);
        let start = Instant::now();
        let mut ops = 0u64;
        while ops < 4 || start.elapsed().as_secs_f64() < a.secs {
            op(&g)?;
            ops += 1;
        }
        let target = before + (ops as f64 * per_op).round() as u64;
        if !catch_up(&seen, target) {
            diagnose(&seen);
            lost += target - seen.events.load(SeqCst).min(target);
        }
        println!(
            "guest-bench: round {round}: {ops} ops, {} events",
            seen.events.load(SeqCst) - before
        );
        let secs = start.elapsed().as_secs_f64();
        hot.push(secs * 1e6 / ops as f64);
        events_total += seen.events.load(SeqCst) - before;
        hot_secs += secs;
    }
    // Counted over whole rounds: the unwatched loops add nothing, the rm_watch one event.
    print_counts_per_event(&counts, events_total);
    let mut feed_cost: Vec<f64> = other.iter().zip(&idle).map(|(o, i)| o / i).collect();
    let mut slowdown: Vec<f64> = hot.iter().zip(&other).map(|(h, o)| h / o).collect();
    let mut marginal: Vec<f64> = hot
        .iter()
        .zip(&other)
        .map(|(h, o)| (h - o) / per_op)
        .collect();
    figure("op_unwatched_feed_open_us", median(&mut idle), z);
    let other = median(&mut other);
    figure("op_unwatched_other_watched_us", other, z);
    figure("op_watched_us", median(&mut hot), z);
    figure("other_watched_over_feed_open", median(&mut feed_cost), &[]);
    figure("watched_slowdown", median(&mut slowdown), &[]);
    figure("marginal_us_per_event", median(&mut marginal), z);
    figure("events_per_s", events_total as f64 / hot_secs, &[]);
    println!(
        "bench delivery: {events_total} events read, {lost} missing, {} overflows",
        seen.overflows.load(SeqCst)
    );

    // Watched by an instance that is never read: the filesystem's and the daemon's share
    // without the reader's (few enough operations that the queue cannot overflow).
    let unread = format!("{root}/unread");
    fs::create_dir(&unread)?;
    let idle = Watcher::new()?;
    idle.add(&unread, IN_ALL_EVENTS)?;
    let h = format!("{unread}/f");
    let counts = snapshot();
    let start = Instant::now();
    let mut ops = 0u64;
    while ops < 4 || (start.elapsed().as_secs_f64() < a.secs && ops < 2000) {
        op(&h)?;
        ops += 1;
    }
    let unread_us = start.elapsed().as_secs_f64() * 1e6 / ops as f64;
    figure("op_watched_unread_us", unread_us, z);
    figure(
        "marginal_unread_us_per_event",
        (unread_us - other) / per_op,
        z,
    );
    print_counts_per_event(&counts, (ops as f64 * per_op) as u64);
    drop(idle);

    // Bursts.
    for k in BURSTS {
        let counts = snapshot();
        let start = Instant::now();
        let before = seen.events.load(SeqCst);
        for _ in 0..BURST_OPS / k {
            let target = seen.events.load(SeqCst) + (k as f64 * per_op).round() as u64;
            for _ in 0..k {
                op(&g)?;
            }
            if !catch_up(&seen, target) {
                diagnose(&seen);
                return Err(io::Error::other(format!(
                    "burst {k}: {} of {target} events",
                    seen.events.load(SeqCst)
                )));
            }
        }
        let us = start.elapsed().as_secs_f64() * 1e6;
        let events = (seen.events.load(SeqCst) - before) as f64;
        let marginal = us - BURST_OPS as f64 * other;
        println!(
            "bench burst {k}: {:.2} us per op, {:.2} events per zero read, {:.2} events per pipe round trip",
            us / BURST_OPS as f64,
            events / (marginal / zero),
            events / (marginal / pipe),
        );
        print_counts_per_event(&counts, events as u64);
    }

    watcher.add(&latency, IN_CREATE)?;
    // Latency: mkdir to the blocked reader's return, then the same for a pipe.
    let (mut lat, mut dropped) = (Vec::with_capacity(a.samples), 0);
    let counts = snapshot();
    let mut done = DoneWait::attach(&seen)?;
    for i in 0..a.samples {
        let d = format!("{latency}/d{i}");
        thread::yield_now();
        let target = seen.events.load(SeqCst) + 1;
        let before = since(epoch);
        fs::create_dir(&d)?;
        let after = since(epoch);
        if !done.until(&seen, target) {
            diagnose(&seen);
            return Err(io::Error::other("latency: the reader never woke"));
        }
        match sample(before, after, seen.last_ns.load(SeqCst)) {
            Some(us) => lat.push(us),
            None => dropped += 1,
        }
        fs::remove_dir(&d)?;
    }
    drop(done);
    *seen.done.lock().unwrap_or_else(|e| e.into_inner()) = None;
    print_counts_per_event(&counts, a.samples as u64);
    let (mut plat, pdropped) = pipe_latency_us(a.samples, epoch)?;
    for (name, v, dropped) in [
        ("latency_mkdir", &mut lat, dropped),
        ("latency_pipe", &mut plat, pdropped),
    ] {
        let (p50, p99) = (percentile(v, 50.0), percentile(v, 99.0));
        figure(&format!("{name}_p50_us"), p50, z);
        figure(&format!("{name}_p99_us"), p99, z);
        println!("bench {name}: {} samples, {dropped} dropped", v.len());
    }
    let _ = fs::remove_dir_all(&root);
    Ok(())
}
