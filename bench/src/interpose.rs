//! The interposer's forwarding cost: a 16-byte `pwrite` through the host kernel, directly to
//! an instrumented `HostFs` and through the interposer in front of a `HostFs` without a feed,
//! each with the file unwatched and watched; and through the interposer as a user other
//! than root, whose forwards go through that user's credential worker (one more hand-off
//! each way over a socket pair to the worker's thread, and the frames of the link).
//!
//! Each rig serves a fresh directory (in /dev/shm when it exists) with inotifyd running; a
//! process writes 16 bytes at offset 0 of one open file 2,000 times and the mean per write is
//! one sample; 70 rounds alternate between the five cases and the median is reported. Watched:
//! an instance watches the file with `IN_MODIFY` (the events coalesce into one queued
//! record, so the queue does not grow). The difference between a case through the
//! interposer and the direct one is what the interposer adds per operation on the host: one
//! more request and answer through the host kernel (two thread hand-offs), the interest
//! probe, and the fact when watched.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use inotify_abi::consts::IN_MODIFY;
use inotify_client::Inotify;
use inotify_host::harness::ServedFs;
use syscall::flag::{O_CREAT, O_WRONLY};

use crate::stats::{fmt_num, median, Figure};
use crate::Effort;

/// A directory removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory for `tag`.
fn scratch(tag: &str) -> Scratch {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = base.join(format!(
        "inotify-bench-interpose-{}-{tag}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).expect("scratch directory");
    Scratch(path)
}

/// One rig: the served directory, an open file and, when watched, the watching instance.
struct Rig {
    /// Daemon, filesystem (and interposer).
    _served: ServedFs,
    /// The writing process and its fd.
    writer: (inotify_host::Process, usize),
    /// Keeps the watch alive.
    _watch: Option<Inotify<inotify_host::Process>>,
    /// Removed last.
    _dir: Scratch,
}

impl Rig {
    /// A rig, interposed or direct, with the file watched or not, written by user `uid`.
    fn new(interposed: bool, watched: bool, uid: u32) -> Rig {
        let dir = scratch(&format!("{interposed}-{watched}-{uid}"));
        let served = if interposed {
            ServedFs::start_interposed(&dir.0, Default::default())
        } else {
            ServedFs::start(&dir.0, Default::default())
        }
        .expect("serve the directory");
        let root = served.harness().process(900, 0, 0);
        let fd = root
            .open("/scheme/file/f", O_CREAT | O_WRONLY | 0o644)
            .expect("open the file");
        let (p, fd) = if uid == 0 {
            (root, fd)
        } else {
            root.close(fd).expect("close");
            let f = dir.0.join("f");
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).expect("chmod");
            let p = served.harness().process(902, uid, uid);
            let fd = p
                .open("/scheme/file/f", O_WRONLY)
                .expect("open as the user");
            (p, fd)
        };
        let watch = watched.then(|| {
            let w = Inotify::init(served.harness().process(901, 0, 0)).expect("inotify_init");
            w.add_watch("/scheme/file/f", IN_MODIFY).expect("add_watch");
            w
        });
        Rig {
            _served: served,
            writer: (p, fd),
            _watch: watch,
            _dir: dir,
        }
    }

    /// Mean ns per write over `n` writes.
    fn sample(&self, n: u64) -> f64 {
        let (p, fd) = &self.writer;
        let buf = [7u8; 16];
        let t = Instant::now();
        for _ in 0..n {
            p.write_at(*fd, &buf, 0).expect("write");
        }
        t.elapsed().as_nanos() as f64 / n as f64
    }
}

/// The figures.
pub fn run(effort: Effort) -> Vec<Figure> {
    // Short samples, many rounds: the four cases alternate every few tens of ms, so load
    // from other work hits them alike.
    let n = effort.n(2_000);
    let rounds = 10 * effort.rounds;
    let cases = [
        (false, false, 0),
        (true, false, 0),
        (false, true, 0),
        (true, true, 0),
        (true, false, 1000),
    ];
    let rigs: Vec<Rig> = cases.iter().map(|&(i, w, u)| Rig::new(i, w, u)).collect();
    let mut samples = vec![Vec::new(); rigs.len()];
    for rig in &rigs {
        rig.sample(n / 10 + 1); // warm up
    }
    for _ in 0..rounds {
        for (rig, s) in rigs.iter().zip(samples.iter_mut()) {
            s.push(rig.sample(n));
        }
    }
    let m: Vec<f64> = samples.iter().map(|s| median(s)).collect();
    let (direct, interposed, direct_w, interposed_w, worker) = (m[0], m[1], m[2], m[3], m[4]);
    drop(rigs);
    vec![
        Figure::new("interposer_ns_per_forwarded_op", interposed, "ns")
            .detail(format!(
                "16-byte pwrite, unwatched: direct {} ns, through the interposer {} ns (+{} ns, \
             {} x)",
                fmt_num(direct),
                fmt_num(interposed),
                fmt_num(interposed - direct),
                fmt_num(interposed / direct)
            ))
            .detail(format!(
                "watched (IN_MODIFY on the file): direct {} ns, through the interposer {} ns \
             (+{} ns, {} x)",
                fmt_num(direct_w),
                fmt_num(interposed_w),
                fmt_num(interposed_w - direct_w),
                fmt_num(interposed_w / direct_w)
            ))
            .detail(format!(
                "unwatched, written by uid 1000 (through its credential worker): {} ns \
             (+{} ns over root's forwards in-process, {} x; +{} ns over direct)",
                fmt_num(worker),
                fmt_num(worker - interposed),
                fmt_num(worker / interposed),
                fmt_num(worker - direct)
            ))
            .detail(format!(
                "{} writes per sample, median of {} rounds",
                n, rounds
            )),
    ]
}
