//! A running inotifyd on the host kernel, for tests, tools and the demo.
//!
//! [`Harness::start`] makes a [`Kernel`], registers `inotify` and runs the daemon
//! ([`inotifyd::daemon::run`] over [`HostSys`]) on its own thread; [`Harness::process`] gives
//! client processes with chosen credentials. Filesystems (the fake one of the scheme tests, or
//! the host-directory one of the end-to-end tests) register on [`Harness::kernel`] like any
//! other scheme. [`ServedDir`] is the whole chain over a fresh host directory: inotifyd and
//! a `HostFs` serving it as `file`.

use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};

use inotify_engine::Limits;
use syscall::error::Result;

use super::hostfs::HostFs;
use super::interposed::InterposerThread;
use super::{HostSys, Kernel, Namespace, Process, SchemeThread};
use inotifyd::feed::Feeds;
use inotifyd::scheme::InotifyScheme;

pub use inotify_abi::proto::SCHEME_NAME;

/// The daemon on its thread, and the kernel it serves.
pub struct Harness {
    /// The kernel every process of the test lives in.
    kernel: Kernel,
    /// The daemon thread; returns the scheme when the request stream ends.
    daemon: Option<JoinHandle<InotifyScheme<HostSys>>>,
    /// The daemon's own process (its requests to filesystems are counted there).
    daemon_process: Process,
    /// The namespace the daemon and client processes live in (`None`: the kernel-wide one).
    namespace: Option<Namespace>,
}

impl Harness {
    /// A new kernel with inotifyd serving `/scheme/inotify` under `limits`.
    pub fn start(limits: Limits) -> Result<Harness> {
        Self::start_on(Kernel::new(), limits)
    }

    /// inotifyd serving `/scheme/inotify` on an existing `kernel`, for the filesystems of
    /// `inotifyd::feed::DEFAULT_FILESYSTEMS` (`file`).
    pub fn start_on(kernel: Kernel, limits: Limits) -> Result<Harness> {
        Self::start_serving(kernel, limits, inotifyd::feed::DEFAULT_FILESYSTEMS)
    }

    /// inotifyd on `kernel`, trusting the filesystems registered kernel-wide under
    /// `filesystems` (asked in this order; each anchor is opened at the first add_watch, in
    /// the daemon's own process).
    pub fn start_serving(kernel: Kernel, limits: Limits, filesystems: &[&str]) -> Result<Harness> {
        Self::start_in(kernel, None, limits, filesystems)
    }

    /// inotifyd on `kernel` with its process (and every client process [`Harness::process`]
    /// makes) in namespace `ns`, trusting the filesystems `filesystems` as named there.
    pub fn start_in(
        kernel: Kernel,
        ns: Option<Namespace>,
        limits: Limits,
        filesystems: &[&str],
    ) -> Result<Harness> {
        let root_id = InotifyScheme::<HostSys>::ROOT_ID;
        let socket = match &ns {
            Some(ns) => {
                let daemon = kernel.daemon_process();
                let daemon = kernel.process_in(ns, daemon.pid(), 0, 0);
                kernel.register_as(SCHEME_NAME, root_id, daemon)?
            }
            None => kernel.register(SCHEME_NAME, root_id)?,
        };
        let sys = HostSys::new(socket);
        let names: Vec<Vec<u8>> = filesystems.iter().map(|n| n.as_bytes().to_vec()).collect();
        let daemon_process = sys.process().clone();
        let daemon = thread::Builder::new()
            .name("inotifyd".into())
            .spawn(move || {
                let feeds = Feeds::with_filesystems(names.iter().map(Vec::as_slice));
                let mut scheme = InotifyScheme::with_feeds(sys, limits, feeds);
                if let Err(e) = inotifyd::daemon::run(&mut scheme) {
                    log::error!("inotifyd: {e}");
                }
                scheme
            })
            .expect("spawn the inotifyd thread");
        Ok(Harness {
            kernel,
            daemon: Some(daemon),
            daemon_process,
            namespace: ns,
        })
    }

    /// The kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// The daemon's own process: [`Process::requests_sent`] counts what the daemon asks of
    /// filesystems (feed reads, interest writes, `fstat`, `fpath`, `dup`).
    pub fn daemon_process(&self) -> &Process {
        &self.daemon_process
    }

    /// A client process with the given credentials.
    pub fn process(&self, pid: usize, uid: u32, gid: u32) -> Process {
        match &self.namespace {
            Some(ns) => self.kernel.process_in(ns, pid, uid, gid),
            None => self.kernel.process(pid, uid, gid),
        }
    }

    /// The namespace of the daemon and the client processes, if not the kernel-wide one.
    pub fn namespace(&self) -> Option<&Namespace> {
        self.namespace.as_ref()
    }

    /// Stops the daemon (its request stream ends) and returns its final state. Re-raises a
    /// panic of the daemon thread.
    pub fn stop(mut self) -> InotifyScheme<HostSys> {
        self.stop_inner().expect("the daemon runs until stopped")
    }

    /// Shuts the scheme down and joins the thread, once.
    fn stop_inner(&mut self) -> Option<InotifyScheme<HostSys>> {
        let handle = self.daemon.take()?;
        let _ = self.kernel.shutdown_scheme(SCHEME_NAME);
        Some(match handle.join() {
            Ok(s) => s,
            Err(p) => std::panic::resume_unwind(p),
        })
    }

    /// Whether the daemon thread has ended (it should only end when stopped).
    pub fn daemon_finished(&self) -> bool {
        self.daemon.as_ref().is_none_or(|h| h.is_finished())
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Do not join a daemon that may be stuck behind the failing test.
            let _ = self.kernel.shutdown_scheme(SCHEME_NAME);
            return;
        }
        let _ = self.stop_inner();
    }
}

/// inotifyd and a `HostFs` serving a host directory as `file`, on one kernel. Dropping it
/// stops the daemon, then the filesystem (whose thread is joined unless the drop happens
/// during a panic).
pub struct ServedFs {
    /// The filesystem thread.
    fs: Option<SchemeThread<HostFs>>,
    /// The interposer in front of it, when interposed.
    interposer: Option<InterposerThread>,
    /// The daemon and its kernel.
    harness: Option<Harness>,
}

impl ServedFs {
    /// Starts the daemon with `limits` and serves `dir` (which must exist); the error says
    /// which part failed.
    pub fn start(dir: &Path, limits: Limits) -> std::result::Result<ServedFs, String> {
        Self::start_with_ring(dir, limits, true)
    }

    /// Like [`ServedFs::start`]; without `ring` the filesystem's feed cannot be mapped
    /// (`HostFs::without_ring`), so the daemon reads it.
    pub fn start_with_ring(
        dir: &Path,
        limits: Limits,
        ring: bool,
    ) -> std::result::Result<ServedFs, String> {
        let harness = Harness::start(limits).map_err(|e| format!("inotifyd: {e}"))?;
        let fs = HostFs::new(dir).map_err(|e| format!("HostFs: {e}"))?;
        let fs = if ring { fs } else { fs.without_ring() };
        let fs = fs
            .spawn(harness.kernel())
            .map_err(|e| format!("serving {}: {e}", dir.display()))?;
        Ok(ServedFs {
            fs: Some(fs),
            interposer: None,
            harness: Some(harness),
        })
    }

    /// Like [`ServedFs::start`], with `dir` served by a `HostFs` without a feed and the
    /// interposer in front of it: `file` in the namespace of the daemon and the client
    /// processes is the interposer, which reaches the real `file` from the kernel-wide one.
    pub fn start_interposed(dir: &Path, limits: Limits) -> std::result::Result<ServedFs, String> {
        let kernel = Kernel::new();
        let fs = HostFs::uninstrumented(dir)
            .map_err(|e| format!("HostFs: {e}"))?
            .spawn(&kernel)
            .map_err(|e| format!("serving {}: {e}", dir.display()))?;
        let ns = kernel.namespace();
        let interposer = InterposerThread::spawn(&kernel, &ns, "file", "file")
            .map_err(|e| format!("interposer: {e}"))?;
        let filesystems = inotifyd::feed::DEFAULT_FILESYSTEMS;
        let harness = Harness::start_in(kernel, Some(ns), limits, filesystems)
            .map_err(|e| format!("inotifyd: {e}"))?;
        Ok(ServedFs {
            fs: Some(fs),
            interposer: Some(interposer),
            harness: Some(harness),
        })
    }

    /// The interposer, when interposed.
    pub fn interposer(&self) -> Option<&InterposerThread> {
        self.interposer.as_ref()
    }

    /// The daemon and its kernel.
    pub fn harness(&self) -> &Harness {
        let harness = self.harness.as_ref();
        debug_assert!(harness.is_some(), "the daemon runs until drop");
        harness.unwrap()
    }
}

impl Drop for ServedFs {
    fn drop(&mut self) {
        if let Some(h) = self.harness.take() {
            let kernel = h.kernel().clone();
            let ns = h.namespace().cloned();
            drop(h);
            if let (Some(ns), Some(i)) = (ns, self.interposer.take()) {
                let _ = ns.shutdown_scheme("file");
                if !thread::panicking() {
                    i.join();
                }
            }
            let _ = kernel.shutdown_scheme("file");
            if let Some(fs) = self.fs.take() {
                if !thread::panicking() {
                    fs.join();
                }
            }
        }
    }
}

/// [`ServedFs`] over a fresh host directory holding `sub/` and `file`. Dropping it stops
/// both, then removes the directory.
pub struct ServedDir {
    /// The served directory.
    dir: PathBuf,
    /// The daemon and the filesystem (stopped on drop, before the directory goes).
    served: Option<ServedFs>,
}

impl ServedDir {
    /// Starts the daemon and serves a new directory `inotify-<prefix>-<pid>-<tag>` under the
    /// system temporary directory (removed first if it exists), holding `sub/` and `file`.
    /// Panics when any of it cannot be set up (a test fixture).
    pub fn start(prefix: &str, tag: &str) -> ServedDir {
        let dir =
            std::env::temp_dir().join(format!("inotify-{prefix}-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("file"), b"x").unwrap();
        let served = ServedFs::start(&dir, Default::default()).unwrap();
        ServedDir {
            dir,
            served: Some(served),
        }
    }

    /// The served directory on the host.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The kernel the daemon and the filesystem serve.
    pub fn kernel(&self) -> &super::Kernel {
        self.served().harness().kernel()
    }

    /// A process running as the owner of the directory.
    pub fn process(&self, pid: usize) -> Process {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&self.dir).unwrap();
        self.served().harness().process(pid, m.uid(), m.gid())
    }

    /// The daemon and the filesystem.
    fn served(&self) -> &ServedFs {
        let served = self.served.as_ref();
        debug_assert!(served.is_some(), "served until drop");
        served.unwrap()
    }
}

impl Drop for ServedDir {
    fn drop(&mut self) {
        drop(self.served.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
