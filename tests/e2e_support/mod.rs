//! Shared pieces of the end-to-end tests: a unique temporary directory, a `HostFs` served
//! on a host kernel, and feed helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use inotify_abi::feed::{Batch, Fact, Interest, Subject, INTEREST_LEN};
use inotify_feed::Producer;
use inotifyd::host::hostfs::HostFs;
use inotifyd::host::{Kernel, Process, SchemeThread};

/// A temporary directory removed on drop.
pub struct TempDir {
    /// Its path.
    path: PathBuf,
}

impl TempDir {
    /// A fresh, empty directory under the system temporary directory, mode 0777 so that
    /// non-root test processes may create names in it.
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("inotifyd-e2e-{}-{}-{}", std::process::id(), tag, n));
        std::fs::create_dir(&path).expect("create the test directory");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))
            .expect("chmod the test directory");
        TempDir { path }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A `HostFs` over a temporary directory, served as `file` on a kernel.
pub struct Fs {
    /// The directory (removed last).
    pub dir: TempDir,
    /// The producer of the filesystem, for its counters.
    pub producer: Arc<Mutex<Producer>>,
    /// The scheme thread.
    pub thread: Option<SchemeThread<HostFs>>,
    /// The kernel it is served on.
    pub kernel: Kernel,
}

impl Fs {
    /// Serves a fresh temporary directory with a feed of `capacity` bytes on `kernel`.
    pub fn start(kernel: &Kernel, tag: &str, capacity: usize) -> Fs {
        let dir = TempDir::new(tag);
        let fs = HostFs::with_options(dir.path(), "file", capacity).expect("HostFs::new");
        let producer = fs.producer();
        let thread = fs.spawn(kernel).expect("serve the host filesystem");
        Fs {
            dir,
            producer,
            thread: Some(thread),
            kernel: kernel.clone(),
        }
    }

    /// Records queued by the producer since start (watched facts and Lost records only).
    pub fn recorded(&self) -> u64 {
        self.producer.lock().unwrap().recorded()
    }

    /// Facts dropped by the producer since start.
    pub fn dropped(&self) -> u64 {
        self.producer.lock().unwrap().dropped()
    }
}

impl Drop for Fs {
    fn drop(&mut self) {
        let _ = self.kernel.shutdown_scheme("file");
        if let Some(t) = self.thread.take() {
            if !std::thread::panicking() {
                t.join();
            }
        }
    }
}

/// A fact in one line, names as text: `Created 12/"a" -> 34`, `Closed 34 (12/"a") wrote`.
pub fn describe(fact: &Fact<'_>) -> String {
    let n = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let d = |is_dir: bool| if is_dir { " dir" } else { "" };
    match *fact {
        Fact::Created {
            dir,
            name,
            ino,
            is_dir,
        } => {
            format!("Created {dir}/{:?} -> {ino}{}", n(name), d(is_dir))
        }
        Fact::Linked { dir, name, ino } => format!("Linked {dir}/{:?} -> {ino}", n(name)),
        Fact::Unlinked {
            dir,
            name,
            ino,
            is_dir,
            links_left,
            freed,
        } => format!(
            "Unlinked {dir}/{:?} -> {ino}{} links={links_left}{}",
            n(name),
            d(is_dir),
            if freed { " freed" } else { "" }
        ),
        Fact::Renamed {
            old_dir,
            old_name,
            new_dir,
            new_name,
            ino,
            is_dir,
            replaced,
        } => {
            let mut s = format!(
                "Renamed {old_dir}/{:?} -> {new_dir}/{:?} ino={ino}{}",
                n(old_name),
                n(new_name),
                d(is_dir)
            );
            if let Some(r) = replaced {
                s += &format!(
                    " replaced={}{} links={}{}",
                    r.ino,
                    d(r.is_dir),
                    r.links_left,
                    if r.freed { " freed" } else { "" }
                );
            }
            s
        }
        Fact::Freed { ino, is_dir } => format!("Freed {ino}{}", d(is_dir)),
        Fact::Opened(at) => format!("Opened {}", subject(&at)),
        Fact::Accessed(at) => format!("Accessed {}", subject(&at)),
        Fact::Modified(at) => format!("Modified {}", subject(&at)),
        Fact::Attrib(at) => format!("Attrib {}", subject(&at)),
        Fact::Times { at, atime, mtime } => format!(
            "Times {}{}{}",
            subject(&at),
            if atime { " atime" } else { "" },
            if mtime { " mtime" } else { "" }
        ),
        Fact::Closed { at, wrote } => {
            format!(
                "Closed {}{}",
                subject(&at),
                if wrote { " wrote" } else { "" }
            )
        }
        Fact::Unmounted => "Unmounted".to_string(),
        Fact::Lost { count } => format!("Lost {count}"),
    }
}

/// A subject as `ino (dir/"name")`, with ` dir` for directories.
pub fn subject(at: &Subject<'_>) -> String {
    format!(
        "{} ({}/{:?}){}",
        at.ino,
        at.dir,
        String::from_utf8_lossy(at.name),
        if at.is_dir { " dir" } else { "" }
    )
}

/// Reads every batch queued on feed `fd` of `proc` (non-blocking) and returns the facts,
/// checking that sequence numbers continue from `*next_seq`.
pub fn drain_feed(proc: &Process, fd: usize, next_seq: &mut u64) -> Vec<String> {
    let mut facts = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match proc.read_nonblock(fd, &mut buf) {
            Ok(n) => n,
            Err(e) if e.errno == syscall::error::EAGAIN => break,
            Err(e) => panic!("reading the feed: {e}"),
        };
        let batch = Batch::new_checked(&buf[..n]).expect("a valid batch");
        assert_eq!(
            batch.header().first_seq,
            *next_seq,
            "sequence numbers are consecutive"
        );
        *next_seq += u64::from(batch.header().count);
        for fact in batch.facts() {
            facts.push(describe(&fact.expect("a valid record")));
        }
    }
    facts
}

/// An interest message.
pub fn interest(entries: &[Interest]) -> Vec<u8> {
    let mut out = vec![0u8; entries.len() * INTEREST_LEN];
    for (i, e) in entries.iter().enumerate() {
        e.emit(&mut out[i * INTEREST_LEN..]).unwrap();
    }
    out
}

/// The uid/gid test "users" run as: 1000 when the host process is root (it can give files
/// to them), else the host's own ids (so created files are theirs, as on a real system).
pub fn user_ids() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self").expect("stat /proc/self");
    if me.uid() == 0 {
        (1000, 1000)
    } else {
        (me.uid(), me.gid())
    }
}

/// Host inode number of `path`.
pub fn ino(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).expect("stat").ino()
}
