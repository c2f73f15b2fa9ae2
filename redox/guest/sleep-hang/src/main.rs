//! Reproducer for sleeping processes that never wake up on Redox.
//!
//! `sleep-hang [SECS] [--sleepers N] [--pollers N] [--interval-ms MS] [--no-scheme]` starts:
//! - a scheme daemon (`serve`) that registers `sleephang` and waits for requests blocked on an
//!   event queue, answering every read with `EAGAIN` (like an empty non-blocking instance);
//! - `--pollers` processes that read `/scheme/sleephang` and then sleep MS milliseconds, in a
//!   loop, so each one wakes the daemon's event queue 1000/MS times a second;
//! - `--sleepers` processes that only sleep MS milliseconds in a loop and use no scheme.
//!
//! Every process has a watchdog thread that sleeps one second at a time and reports when the
//! main loop has made no progress for two seconds (`STUCK`) and when it moves again. After
//! SECS seconds each process prints a summary and exits with status 1 if its main loop is
//! stuck at that moment; the parent prints `sleep-hang: RESULT ...` with the count.
//! `--no-scheme` leaves out the daemon and the pollers (the control run).
//!
//! `sleep-hang timed-wait [N]` measures something else: N times, a thread sends on a channel
//! 5 ms after the main thread started `recv_timeout(3 s)` on it, and the time until
//! `recv_timeout` returns is printed (median and maximum). A kernel that only resumes a
//! timed waiter at its timeout shows about 3 s instead of about 5 ms.
//!
//! `sleep-hang clock [SECS]` reads CLOCK_MONOTONIC in a loop for SECS seconds and prints how
//! often and how far it went backwards.

use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Name the daemon registers.
const SCHEME: &str = "sleephang";
/// Seconds without progress before a main loop counts as stuck.
const STUCK_AFTER_S: u64 = 2;

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
}

/// Seconds since the kernel started (relibc's CLOCK_MONOTONIC is 1).
fn uptime() -> f64 {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { clock_gettime(1, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Progress of one process's main loop, shared with its watchdog.
struct Progress {
    count: AtomicU64,
    /// Longest single iteration so far, in microseconds.
    longest_us: AtomicU64,
    /// Set by the main loop when it has finished on its own.
    done: AtomicBool,
}

/// Starts the watchdog thread: reports stalls, and ends the process after `secs` seconds.
fn watchdog(role: &'static str, secs: u64, progress: Arc<Progress>) {
    thread::spawn(move || {
        let pid = std::process::id();
        let start = Instant::now();
        let mut last = progress.count.load(Ordering::Relaxed);
        let mut still = 0u64;
        let mut stalls = 0u64;
        let mut stuck = false;
        loop {
            thread::sleep(Duration::from_secs(1));
            let now = progress.count.load(Ordering::Relaxed);
            if now == last {
                still += 1;
                if still == STUCK_AFTER_S {
                    stalls += 1;
                    stuck = true;
                    println!(
                        "sleep-hang: {role} pid {pid}: STUCK at uptime {:.1} s after {now} iterations",
                        uptime() - STUCK_AFTER_S as f64
                    );
                }
            } else {
                if stuck {
                    println!(
                        "sleep-hang: {role} pid {pid}: moving again at uptime {:.1} s after {still} s",
                        uptime()
                    );
                }
                still = 0;
                stuck = false;
                last = now;
            }
            if start.elapsed() >= Duration::from_secs(secs) || progress.done.load(Ordering::Relaxed)
            {
                println!(
                    "sleep-hang: {role} pid {pid}: {now} iterations, longest {} us, stalls {stalls}, {}",
                    progress.longest_us.load(Ordering::Relaxed),
                    if stuck { "HUNG" } else { "ok" }
                );
                std::process::exit(i32::from(stuck));
            }
        }
    });
}

/// Runs `step` forever, counting iterations and timing each one.
fn main_loop(progress: &Progress, mut step: impl FnMut()) -> ! {
    loop {
        let t = Instant::now();
        step();
        let us = Instant::now().saturating_duration_since(t).as_micros() as u64;
        progress.longest_us.fetch_max(us, Ordering::Relaxed);
        progress.count.fetch_add(1, Ordering::Relaxed);
    }
}

fn new_progress() -> Arc<Progress> {
    Arc::new(Progress {
        count: AtomicU64::new(0),
        longest_us: AtomicU64::new(0),
        done: AtomicBool::new(false),
    })
}

fn sleeper(secs: u64, interval: Duration) -> ! {
    let progress = new_progress();
    watchdog("sleeper", secs, progress.clone());
    main_loop(&progress, || thread::sleep(interval))
}

fn poller(secs: u64, interval: Duration) -> ! {
    use std::io::Read;
    let progress = new_progress();
    watchdog("poller", secs, progress.clone());
    let mut file = std::fs::File::open(format!("/scheme/{SCHEME}")).expect("open scheme");
    let mut byte = [0u8; 1];
    main_loop(&progress, || {
        let _ = file.read(&mut byte);
        thread::sleep(interval);
    })
}

mod serve {
    use super::*;
    use event::{EventFlags, EventQueue};
    use redox_scheme::scheme::{register_sync_scheme, SchemeState, SchemeSync};
    use redox_scheme::{CallerCtx, OpenResult, RequestKind, SignalBehavior, Socket};
    use syscall::error::{Error, Result, EAGAIN, EWOULDBLOCK};
    use syscall::flag::{F_GETFL, F_SETFL, O_NONBLOCK};
    use syscall::schemev2::NewFdFlags;

    /// A scheme whose handles are always empty.
    struct Empty {
        next: usize,
    }

    impl SchemeSync for Empty {
        fn scheme_root(&mut self) -> Result<usize> {
            Ok(0)
        }
        fn openat(
            &mut self,
            _fd: usize,
            _path: &str,
            _flags: usize,
            _fcntl_flags: u32,
            _ctx: &CallerCtx,
        ) -> Result<OpenResult> {
            self.next += 1;
            Ok(OpenResult::ThisScheme {
                number: self.next,
                flags: NewFdFlags::empty(),
            })
        }
        fn read(
            &mut self,
            _id: usize,
            _buf: &mut [u8],
            _offset: u64,
            _fcntl_flags: u32,
            _ctx: &CallerCtx,
        ) -> Result<usize> {
            Err(Error::new(EAGAIN))
        }
    }

    pub fn run(secs: u64) -> ! {
        let progress = new_progress();
        watchdog("daemon", secs, progress.clone());
        let socket = Socket::create().expect("scheme socket");
        let raw = socket.inner().raw();
        let flags = libredox::call::fcntl(raw, F_GETFL, 0).expect("F_GETFL");
        libredox::call::fcntl(raw, F_SETFL, flags | O_NONBLOCK).expect("F_SETFL");
        let mut scheme = Empty { next: 0 };
        let mut state = SchemeState::new();
        register_sync_scheme(&socket, SCHEME, &mut scheme).expect("register scheme");
        let queue = EventQueue::<usize>::new().expect("event queue");
        queue
            .subscribe(raw, 0, EventFlags::READ)
            .expect("subscribe");
        println!(
            "sleep-hang: daemon pid {}: serving /scheme/{SCHEME}",
            std::process::id()
        );
        loop {
            // Drain the socket, then block on the event queue.
            loop {
                match socket.next_request(SignalBehavior::Restart) {
                    Ok(Some(req)) => {
                        if let RequestKind::Call(call) = req.kind() {
                            let resp = call.handle_sync(&mut scheme, &mut state);
                            socket
                                .write_response(resp, SignalBehavior::Restart)
                                .expect("write response");
                        }
                        progress.count.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(None) => std::process::exit(0),
                    Err(e) if e.errno == EAGAIN || e.errno == EWOULDBLOCK => break,
                    Err(e) => panic!("next_request: {e}"),
                }
            }
            let _ = queue.next_event();
        }
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
fn monotonic_ns() -> i128 {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { clock_gettime(1, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

fn clock(secs: u64) {
    let start = monotonic_ns();
    let end = start + i128::from(secs) * 1_000_000_000;
    let (mut reads, mut back, mut max_back) = (0u64, 0u64, 0i128);
    let mut last = start;
    let mut high = start;
    while high < end {
        let now = monotonic_ns();
        reads += 1;
        if now < last {
            back += 1;
            max_back = max_back.max(last - now);
        }
        last = now;
        high = high.max(now);
    }
    println!(
        "sleep-hang: clock: {reads} reads in {secs} s, {back} went backwards, largest step back {} us",
        max_back / 1000
    );
}

fn timed_wait(rounds: u64) {
    let mut took = Vec::new();
    let mut timeouts = 0;
    for _ in 0..rounds {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let sender = thread::spawn(move || {
            thread::sleep(Duration::from_millis(5));
            let _ = tx.send(());
        });
        let t = Instant::now();
        if rx.recv_timeout(Duration::from_secs(3)).is_err() {
            timeouts += 1;
        }
        took.push(Instant::now().saturating_duration_since(t).as_micros() as u64);
        let _ = sender.join();
    }
    took.sort_unstable();
    println!(
        "sleep-hang: timed-wait: {rounds} rounds, send after 5 ms, recv_timeout(3 s) returned after \
         median {} us, max {} us; {timeouts} timed out",
        took[took.len() / 2],
        took[took.len() - 1]
    );
}

fn spawn(role: &str, secs: u64, interval_ms: u64) -> Child {
    Command::new(std::env::current_exe().expect("current_exe"))
        .args([role, &secs.to_string(), &interval_ms.to_string()])
        .spawn()
        .expect("spawn")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: u64| -> u64 {
        args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
    };
    match args.first().map(String::as_str) {
        Some("sleeper") => sleeper(num(1, 60), Duration::from_millis(num(2, 5))),
        Some("poller") => poller(num(1, 60), Duration::from_millis(num(2, 5))),
        Some("serve") => serve::run(num(1, 60)),
        Some("timed-wait") => return timed_wait(num(1, 20)),
        Some("clock") => return clock(num(1, 10)),
        _ => {}
    }

    let mut secs = 60;
    let mut sleepers = 3;
    let mut pollers = 2;
    let mut interval_ms = 5;
    let mut with_scheme = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().and_then(|v| v.parse().ok()).expect("number");
        match a.as_str() {
            "--sleepers" => sleepers = value(),
            "--pollers" => pollers = value(),
            "--interval-ms" => interval_ms = value(),
            "--no-scheme" => with_scheme = false,
            s => secs = s.parse().expect("SECS"),
        }
    }
    if !with_scheme {
        pollers = 0;
    }
    println!(
        "sleep-hang: start at uptime {:.1} s: {secs} s, {sleepers} sleepers, {pollers} pollers, \
         {interval_ms} ms interval, daemon {}",
        uptime(),
        if with_scheme { "yes" } else { "no" }
    );
    let mut children = Vec::new();
    let mut daemon = None;
    if with_scheme {
        // Outlives the others; ended once they are done (its watchdog reports stalls only).
        daemon = Some(spawn("serve", secs + 30, interval_ms));
        let t = Instant::now();
        while std::fs::File::open(format!("/scheme/{SCHEME}")).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "daemon did not start"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
    for _ in 0..pollers {
        children.push(spawn("poller", secs, interval_ms));
    }
    for _ in 0..sleepers {
        children.push(spawn("sleeper", secs, interval_ms));
    }
    // Halfway through, show the kernel's view of every context (status S = blocked with a
    // wake-up time, B = blocked without one, R = runnable).
    thread::spawn(move || {
        thread::sleep(Duration::from_secs(secs / 2));
        match std::fs::read_to_string("/scheme/sys/context") {
            Ok(table) => {
                println!(
                    "sleep-hang: /scheme/sys/context at uptime {:.1} s:",
                    uptime()
                );
                for line in table.lines() {
                    println!("sleep-hang: | {line}");
                }
            }
            Err(e) => println!("sleep-hang: /scheme/sys/context: {e}"),
        }
    });
    let total = children.len();
    let mut hung = 0;
    for mut child in children {
        match child.wait() {
            Ok(status) if status.success() => {}
            _ => hung += 1,
        }
    }
    if let Some(mut daemon) = daemon {
        let _ = daemon.kill();
        let _ = daemon.wait();
    }
    println!(
        "sleep-hang: RESULT {hung} of {total} processes hung (end at uptime {:.1} s)",
        uptime()
    );
}
