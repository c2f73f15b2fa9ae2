//! The Linux baseline: what the host kernel's inotify adds to each event.
//!
//! A loop of `openat(O_CREAT) / write(16 bytes) / close / unlinkat` on one 16-byte name runs
//! in a tmpfs directory twice per round: unwatched (no watch on the directory) and watched
//! (`IN_ALL_EVENTS` on the directory, five events per iteration: CREATE, OPEN, MODIFY,
//! CLOSE_WRITE, DELETE), with a reader thread blocked in `read` on the inotify fd, counting
//! the records it receives. The watched time runs from the first operation to the later of
//! the loop's end and the reader's last read; the marginal cost per event is
//! `(watched - unwatched) / events received`. The median over the rounds is the figure.

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;
use std::thread;
use std::time::{Duration, Instant};

use inotify_abi::consts::{IN_ALL_EVENTS, IN_IGNORED, IN_Q_OVERFLOW};
use inotify_abi::event::Events;

use crate::stats::{fmt_num, median, spread, Figure};

/// Events the watched loop produces per iteration.
const EVENTS_PER_ITER: u64 = 5;

/// Where the loop runs: a tmpfs of our own, or `/dev/shm` when mounting is not allowed.
struct Place {
    /// The directory the loop creates files in.
    dir: String,
    /// The mount point to unmount when done (None for `/dev/shm`).
    mounted: Option<String>,
}

impl Place {
    /// Mounts a private tmpfs under /tmp, or falls back to a directory in /dev/shm.
    fn set_up() -> io::Result<Place> {
        let mnt = format!("/tmp/inotify-bench-{}", std::process::id());
        std::fs::create_dir_all(&mnt)?;
        let c_mnt = cstr(&mnt);
        let src = cstr("tmpfs");
        let opts = cstr("size=16m");
        // SAFETY: all pointers are valid NUL-terminated strings for the duration of the call.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                c_mnt.as_ptr(),
                src.as_ptr(),
                0,
                opts.as_ptr().cast(),
            )
        };
        if rc == 0 {
            return Ok(Place {
                dir: mnt.clone(),
                mounted: Some(mnt),
            });
        }
        let _ = std::fs::remove_dir(&mnt);
        let dir = format!("/dev/shm/inotify-bench-{}", std::process::id());
        std::fs::create_dir_all(&dir)?;
        Ok(Place { dir, mounted: None })
    }

    /// Says where the loop ran.
    fn describe(&self) -> String {
        match &self.mounted {
            Some(m) => format!("directory: private tmpfs mounted at {m}"),
            None => format!(
                "directory: {} (tmpfs /dev/shm; mounting a tmpfs failed)",
                self.dir
            ),
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Some(m) = &self.mounted {
            let c = cstr(m);
            // SAFETY: valid NUL-terminated path.
            unsafe { libc::umount(c.as_ptr()) };
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in bench paths")
}

/// The outcome of one loop.
struct Run {
    /// Wall time from the first operation to the last event read (watched) or loop end.
    wall: Duration,
    /// CPU time of the whole process (writer and reader) over the same span.
    cpu: Duration,
    /// Events the reader received (0 unwatched).
    events: u64,
    /// IN_Q_OVERFLOW records seen.
    overflows: u64,
    /// `read` calls the reader made.
    reads: u64,
}

fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn check(rc: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(rc)
}

/// The create/open/write/close/unlink loop, `iters` times.
fn file_loop(dirfd: RawFd, name: &CString, iters: u64) -> io::Result<()> {
    let data = [0x5au8; 16];
    for _ in 0..iters {
        // SAFETY: valid fd and NUL-terminated name; `data` outlives the write.
        unsafe {
            let fd = check(
                libc::openat(
                    dirfd,
                    name.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_CLOEXEC,
                    0o644,
                ),
                "openat",
            )?;
            libc::write(fd, data.as_ptr().cast(), data.len());
            libc::close(fd);
            check(libc::unlinkat(dirfd, name.as_ptr(), 0), "unlinkat")?;
        }
    }
    Ok(())
}

/// What the reader thread saw.
struct Received {
    events: u64,
    overflows: u64,
    reads: u64,
    last: Option<Instant>,
}

/// Reads the inotify fd until IN_IGNORED, counting records. With `pause`, the reader sleeps
/// that long after each read so that events accumulate and one read carries many of them.
fn drain(fd: RawFd, pause: Option<Duration>) -> Received {
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = Received {
        events: 0,
        overflows: 0,
        reads: 0,
        last: None,
    };
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return got;
        }
        got.reads += 1;
        let mut done = false;
        let mut fresh = 0;
        for ev in Events::new(&buf[..n as usize]) {
            match ev.mask {
                m if m & IN_IGNORED != 0 => done = true,
                m if m & IN_Q_OVERFLOW != 0 => got.overflows += 1,
                _ => fresh += 1,
            }
        }
        if fresh > 0 {
            got.events += fresh;
            got.last = Some(Instant::now());
        }
        if done {
            return got;
        }
        if let Some(p) = pause {
            thread::sleep(p);
        }
    }
}

/// One loop of `iters` iterations, watched or not.
fn one_run(dir: &str, iters: u64, watched: bool, pause: Option<Duration>) -> io::Result<Run> {
    let c_dir = cstr(dir);
    let name = cstr("bench-file-00001");
    // SAFETY: plain syscalls on valid arguments; every fd opened here is closed below.
    unsafe {
        let dirfd = check(
            libc::open(
                c_dir.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            ),
            "open dir",
        )?;
        let ifd = check(libc::inotify_init1(libc::IN_CLOEXEC), "inotify_init1")?;
        let wd = if watched {
            check(
                libc::inotify_add_watch(ifd, c_dir.as_ptr(), IN_ALL_EVENTS),
                "add_watch",
            )?
        } else {
            -1
        };
        let reader = watched.then(|| thread::spawn(move || drain(ifd, pause)));
        // Let the reader block in read() before the clock starts.
        thread::sleep(Duration::from_millis(5));
        let cpu0 = process_cpu();
        let t0 = Instant::now();
        let res = file_loop(dirfd, &name, iters);
        let t1 = Instant::now();
        let mut run = Run {
            wall: t1 - t0,
            cpu: Duration::ZERO,
            events: 0,
            overflows: 0,
            reads: 0,
        };
        if let Some(reader) = reader {
            libc::inotify_rm_watch(ifd, wd);
            let got = reader.join().expect("reader thread");
            let end = got.last.map_or(t1, |l| l.max(t1));
            run.wall = end - t0;
            run.events = got.events;
            run.overflows = got.overflows;
            run.reads = got.reads;
        }
        // The reader has been joined; the CPU span includes its work.
        run.cpu = process_cpu() - cpu0;
        libc::close(ifd);
        libc::close(dirfd);
        res?;
        Ok(run)
    }
}

/// How long the batching reader sleeps between reads.
const PAUSE: Duration = Duration::from_millis(1);

/// Per-mode results over the rounds.
#[derive(Default)]
struct Series {
    /// Marginal wall ns per event, per round.
    marginal: Vec<f64>,
    /// Marginal process-CPU ns per event, per round.
    marginal_cpu: Vec<f64>,
    /// Events received in the last round.
    events: u64,
    /// IN_Q_OVERFLOW records over all rounds.
    overflows: u64,
    /// Reads over all rounds.
    reads: u64,
}

impl Series {
    fn push(&mut self, u: &Run, w: &Run) {
        let n = w.events.max(1) as f64;
        self.marginal
            .push((w.wall.as_nanos() as f64 - u.wall.as_nanos() as f64) / n);
        self.marginal_cpu
            .push((w.cpu.as_nanos() as f64 - u.cpu.as_nanos() as f64) / n);
        self.events = w.events;
        self.overflows += w.overflows;
        self.reads += w.reads;
    }

    fn describe(&self, what: &str, rounds: usize) -> String {
        format!(
            "{what}: marginal {} ns/event (process CPU: {} ns/event), {} events/run, {} \
             reads/run, IN_Q_OVERFLOW {}",
            fmt_num(median(&self.marginal)),
            fmt_num(median(&self.marginal_cpu)),
            self.events,
            self.reads / rounds.max(1) as u64,
            self.overflows
        )
    }
}

/// Measures `linux_marginal_ns_per_event`.
pub fn run(rounds: usize, iters: u64) -> Figure {
    const NAME: &str = "linux_marginal_ns_per_event";
    let place = match Place::set_up() {
        Ok(p) => p,
        Err(e) => return Figure::missing(NAME, "ns", format!("no tmpfs directory: {e}")),
    };
    let fail = |e: io::Error| Figure::missing(NAME, "ns", format!("loop failed: {e}"));
    // Warm-up: one short loop of each kind (dentries, page cache, thread start).
    for (watched, pause) in [(false, None), (true, None), (true, Some(PAUSE))] {
        if let Err(e) = one_run(&place.dir, iters / 10 + 1, watched, pause) {
            return fail(e);
        }
    }
    let mut blocking = Series::default();
    let mut batched = Series::default();
    let mut unwatched = Vec::new();
    for _ in 0..rounds {
        let u = match one_run(&place.dir, iters, false, None) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let wb = match one_run(&place.dir, iters, true, None) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let wp = match one_run(&place.dir, iters, true, Some(PAUSE)) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        unwatched.push(u.wall.as_nanos() as f64 / (iters * EVENTS_PER_ITER) as f64);
        blocking.push(&u, &wb);
        batched.push(&u, &wp);
    }
    Figure::new(NAME, median(&batched.marginal), "ns")
        .detail(place.describe())
        .detail(format!(
            "loop: {iters} x (openat O_CREAT, write 16 B, close, unlinkat), 16-byte name; \
             watched: IN_ALL_EVENTS on the directory, {EVENTS_PER_ITER} events per iteration \
             (expected {} per run)",
            iters * EVENTS_PER_ITER
        ))
        .detail(format!(
            "unwatched loop: {} ns per event-equivalent (iteration / {EVENTS_PER_ITER})",
            fmt_num(median(&unwatched))
        ))
        .detail(batched.describe(
            "reader sleeping 1 ms between 64 KiB reads (the figure)",
            rounds,
        ))
        .detail(blocking.describe("reader blocked in read, woken per event burst", rounds))
        .detail(spread(&batched.marginal))
}
