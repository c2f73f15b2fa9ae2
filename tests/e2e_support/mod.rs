//! Shared pieces of the end-to-end tests: a unique temporary directory, a `HostFs` served
//! on a host kernel, and feed helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use inotify_abi::feed::{Batch, Fact, Interest, Subject, INTEREST_LEN};
use inotify_feed::Producer;
use inotify_host::hostfs::HostFs;
use inotify_host::{Kernel, Process, SchemeThread};

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

/// Holds back a filesystem's readiness posts, so that the daemon does not pull its feed
/// until [`Gate::open`] (a slow consumer, made deterministic).
pub struct Gate {
    /// Whether posts are held back.
    closed: Arc<std::sync::atomic::AtomicBool>,
    /// Feed ids whose post was held back.
    missed: Arc<Mutex<std::collections::BTreeSet<usize>>>,
    /// Posts on the filesystem's socket.
    poster: inotify_host::FeventPoster,
}

impl Gate {
    /// Holds back posts from now on.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Lets posts through again and sends those held back.
    pub fn open(&self) {
        self.closed.store(false, Ordering::SeqCst);
        let missed = std::mem::take(&mut *self.missed.lock().unwrap());
        for id in missed {
            self.poster
                .post_fevent(id, syscall::flag::EventFlags::EVENT_READ);
        }
    }
}

impl Fs {
    /// Like [`Fs::start`], with a [`Gate`] on the readiness posts.
    pub fn start_gated(kernel: &Kernel, tag: &str, capacity: usize) -> (Fs, Gate) {
        let dir = TempDir::new(tag);
        let mut fs = HostFs::with_options(dir.path(), "file", capacity).expect("HostFs::new");
        let producer = fs.producer();
        let root_id = redox_scheme::scheme::SchemeSync::scheme_root(&mut fs).unwrap();
        let socket = kernel.register("file", root_id).expect("register file");
        let gate = Gate {
            closed: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            missed: Arc::new(Mutex::new(Default::default())),
            poster: socket.poster(),
        };
        let (closed, missed, poster) = (gate.closed.clone(), gate.missed.clone(), socket.poster());
        fs.set_feed_notifier(Box::new(move |id| {
            if closed.load(Ordering::SeqCst) {
                missed.lock().unwrap().insert(id);
            } else {
                poster.post_fevent(id, syscall::flag::EventFlags::EVENT_READ);
            }
        }));
        let thread = inotify_host::spawn_scheme_thread(socket, fs);
        (
            Fs {
                dir,
                producer,
                thread: Some(thread),
                kernel: kernel.clone(),
            },
            gate,
        )
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
        Fact::Exists { dir, name, ino } => format!("Exists {dir}/{:?} -> {ino} dir", n(name)),
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

/// A subject as `ino (dir/"name")`, with ` dir` for directories and ` detached` when the
/// handle's name was removed.
pub fn subject(at: &Subject<'_>) -> String {
    format!(
        "{} ({}/{:?}){}{}",
        at.ino,
        at.dir,
        String::from_utf8_lossy(at.name),
        if at.is_dir { " dir" } else { "" },
        if at.detached { " detached" } else { "" }
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

/// The whole chain: a user process and its inotify instance, inotifyd, and a `HostFs` over
/// a temporary directory, on one host kernel.
pub struct World {
    /// The instance (closed first).
    pub inotify: inotify_client::Inotify<Process>,
    /// The user process making the changes and reading the events.
    pub user: Process,
    /// The filesystem.
    pub fs: Fs,
    /// The kernel and the daemon (stopped last).
    pub harness: inotify_host::harness::Harness,
}

/// One event as `"<wd> <MASK,NAMES>[ <name>]"`.
pub fn line(ev: &inotify_client::OwnedEvent) -> String {
    inotify_client::format::event(&ev.wd.to_string(), ev)
}

impl World {
    /// Starts everything; the feed holds `feed_capacity` bytes.
    pub fn new(tag: &str, feed_capacity: usize) -> World {
        let harness =
            inotify_host::harness::Harness::start(Default::default()).expect("start inotifyd");
        let fs = Fs::start(harness.kernel(), tag, feed_capacity);
        Self::with(harness, fs)
    }

    /// Starts everything with the daemon under `limits`.
    pub fn with_limits(tag: &str, feed_capacity: usize, limits: inotify_engine::Limits) -> World {
        let harness = inotify_host::harness::Harness::start(limits).expect("start inotifyd");
        let fs = Fs::start(harness.kernel(), tag, feed_capacity);
        Self::with(harness, fs)
    }

    /// Starts everything with a [`Gate`] on the feed's readiness posts.
    pub fn gated(tag: &str, feed_capacity: usize) -> (World, Gate) {
        let harness =
            inotify_host::harness::Harness::start(Default::default()).expect("start inotifyd");
        let (fs, gate) = Fs::start_gated(harness.kernel(), tag, feed_capacity);
        (Self::with(harness, fs), gate)
    }

    /// The user side over a running daemon and filesystem.
    fn with(harness: inotify_host::harness::Harness, fs: Fs) -> World {
        let (uid, gid) = user_ids();
        let user = harness.process(1000, uid, gid);
        let inotify = inotify_client::Inotify::init1(user.clone(), inotify_client::IN_NONBLOCK)
            .expect("inotify_init1");
        World {
            inotify,
            user,
            fs,
            harness,
        }
    }

    /// The kernel path of `rel` (relative to the served directory).
    pub fn p(&self, rel: &str) -> String {
        format!("/scheme/file/{rel}")
    }

    /// The host path of `rel`.
    pub fn host(&self, rel: &str) -> PathBuf {
        self.fs.dir.path().join(rel)
    }

    /// `inotify_add_watch`.
    pub fn watch(&self, rel: &str, mask: u32) -> i32 {
        self.inotify
            .add_watch(&self.p(rel), mask)
            .expect("add_watch")
    }

    /// Waits for `n` events (up to 5 s), then makes sure no other event follows soon.
    pub fn events(&self, n: usize) -> Vec<inotify_client::OwnedEvent> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut settle = 0;
        loop {
            match self.inotify.read_events(&mut buf) {
                Ok(evs) => out.extend(evs),
                Err(e) if e.errno == syscall::error::EAGAIN => {
                    if out.len() >= n {
                        settle += 1;
                        if settle > 20 {
                            break;
                        }
                    } else if std::time::Instant::now() > deadline {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(e) => panic!("reading events: {e}"),
            }
        }
        out
    }

    /// [`World::events`] as lines.
    pub fn lines(&self, n: usize) -> Vec<String> {
        self.events(n).iter().map(line).collect()
    }
}
