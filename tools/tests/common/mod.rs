//! What the tools' tests share: a process of the in-process kernel as the tools' system.

use std::time::Duration;

use inotify_client::Os;
use inotify_host::{Interrupt, Process};
use inotify_tools::sys::ToolOs;
use syscall::Stat;

/// A process of the in-process kernel whose blocking reads a signal stand-in interrupts.
#[derive(Clone)]
pub struct Signalled {
    /// The process.
    pub p: Process,
    /// Fired to interrupt its read.
    pub intr: Interrupt,
    /// Whether `-r` uses inotifyd's subtree watches (as on Redox); false: inotify-tools'
    /// watch per directory, as the parity run compares.
    pub subtree: bool,
}

impl Os for Signalled {
    fn open(&self, path: &str, flags: usize) -> syscall::Result<usize> {
        Os::open(&self.p, path, flags)
    }
    /// A read that a fired interrupt ends once with `EINTR` (like one signal).
    fn read(&self, fd: usize, buf: &mut [u8]) -> syscall::Result<usize> {
        let r = self.p.read_interruptible(fd, buf, &self.intr);
        if matches!(r, Err(e) if e.errno == syscall::error::EINTR) {
            self.intr.reset();
        }
        r
    }
    fn close(&self, fd: usize) -> syscall::Result<()> {
        Os::close(&self.p, fd)
    }
    fn fcntl(&self, fd: usize, cmd: usize, arg: usize) -> syscall::Result<usize> {
        Os::fcntl(&self.p, fd, cmd, arg)
    }
    fn fstat(&self, fd: usize) -> syscall::Result<Stat> {
        Os::fstat(&self.p, fd)
    }
    fn sendfd(&self, target: usize, fd: usize, arg: u64) -> syscall::Result<()> {
        Os::sendfd(&self.p, target, fd, arg)
    }
    fn call(&self, fd: usize, payload: &mut [u8], metadata: &[u64]) -> syscall::Result<usize> {
        Os::call(&self.p, fd, payload, metadata)
    }
    fn wait_readable(&self, fd: usize, timeout: Option<Duration>) -> syscall::Result<bool> {
        Os::wait_readable(&self.p, fd, timeout)
    }
}

impl ToolOs for Signalled {
    fn list_dir(&self, path: &str) -> syscall::Result<Vec<String>> {
        self.p.list_dir(path)
    }
    fn subtree_watches(&self) -> bool {
        self.subtree
    }
}

impl Signalled {
    /// `p`, with an interrupt that nothing fires unless the test does.
    pub fn new(p: Process) -> Self {
        Signalled {
            p,
            intr: Interrupt::new(),
            subtree: false,
        }
    }
}
