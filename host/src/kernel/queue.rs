//! Event queues: readiness posts of subscribed fds, delivered in order.

use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use syscall::error::Result;
use syscall::flag::EventFlags;

use super::*;

/// An event queue of a process: readiness posts of subscribed fds, in order.
pub struct EventQueue {
    /// The owning process (fds are its fds).
    pub(super) process: Process,
    /// Subscriber identity.
    pub(super) owner: u64,
    /// Cloned into each subscription.
    pub(super) tx: Sender<(usize, EventFlags)>,
    /// Events.
    pub(super) rx: Receiver<(usize, EventFlags)>,
}

impl EventQueue {
    /// Subscribes `fd` for `flags`: sends an `Fevent` request to its scheme and queues an
    /// event at once when the answer says ready; later posts on the description are queued.
    pub fn subscribe(&self, fd: usize, flags: EventFlags) -> Result<()> {
        let target = Target::Queue(self.tx.clone());
        let (_desc, ready) = self.process.subscribe(fd, flags, target, self.owner)?;
        if !ready.is_empty() {
            let _ = self.tx.send((fd, ready));
        }
        Ok(())
    }

    /// Ends the subscription of `fd`.
    pub fn unsubscribe(&self, fd: usize) -> Result<()> {
        let desc = self.process.desc(fd)?;
        desc.scheme.unsubscribe(desc.serial, self.owner, Some(fd));
        Ok(())
    }

    /// The next event, waiting up to `timeout`.
    pub fn wait(&self, timeout: Duration) -> Option<(usize, EventFlags)> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// The next event if one is queued.
    pub fn try_next(&self) -> Option<(usize, EventFlags)> {
        self.rx.try_recv().ok()
    }
}
