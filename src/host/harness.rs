//! A running inotifyd on the host kernel, for tests, tools and the demo.
//!
//! [`Harness::start`] makes a [`Kernel`], registers `inotify` and runs the daemon
//! ([`crate::daemon::run`] over [`HostSys`]) on its own thread; [`Harness::process`] gives
//! client processes with chosen credentials. Filesystems (the fake one of the scheme tests, or
//! the host-directory one of the end-to-end tests) register on [`Harness::kernel`] like any
//! other scheme.

use std::thread::{self, JoinHandle};

use inotify_engine::Limits;
use syscall::error::Result;

use super::{HostSys, Kernel, Process};
use crate::scheme::InotifyScheme;

/// The scheme name the daemon registers.
pub const SCHEME_NAME: &str = "inotify";

/// The daemon on its thread, and the kernel it serves.
pub struct Harness {
    /// The kernel every process of the test lives in.
    kernel: Kernel,
    /// The daemon thread; returns the scheme when the request stream ends.
    daemon: Option<JoinHandle<InotifyScheme<HostSys>>>,
}

impl Harness {
    /// A new kernel with inotifyd serving `/scheme/inotify` under `limits`.
    pub fn start(limits: Limits) -> Result<Harness> {
        Self::start_on(Kernel::new(), limits)
    }

    /// inotifyd serving `/scheme/inotify` on an existing `kernel`.
    pub fn start_on(kernel: Kernel, limits: Limits) -> Result<Harness> {
        let socket = kernel.register(SCHEME_NAME, InotifyScheme::<HostSys>::ROOT_ID)?;
        let sys = HostSys::new(socket);
        let daemon = thread::Builder::new()
            .name("inotifyd".into())
            .spawn(move || {
                let mut scheme = InotifyScheme::new(sys, limits);
                if let Err(e) = crate::daemon::run(&mut scheme) {
                    log::error!("inotifyd: {e}");
                }
                scheme
            })
            .expect("spawn the inotifyd thread");
        Ok(Harness {
            kernel,
            daemon: Some(daemon),
        })
    }

    /// The kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// A client process with the given credentials.
    pub fn process(&self, pid: usize, uid: u32, gid: u32) -> Process {
        self.kernel.process(pid, uid, gid)
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
