//! Forwarding as callers when the effective ids belong to the whole process (Redox): a
//! [`CredGate`] lets forwards with the process's current ids run together, and switches the
//! ids only when no forward is in flight. A forward that never returns then holds back only
//! the callers with other ids; callers with the same ids go on.

use std::sync::{Condvar, Mutex, MutexGuard};

use syscall::error::Result;

use super::Creds;

/// The process's effective ids and the forwards in flight with them.
pub struct CredGate {
    /// The current ids, the forwards in flight with them, and the forwards waiting for a
    /// switch (while any waits, new forwards with the current ids wait too, so a stream of
    /// them cannot hold a switch off).
    state: Mutex<(Creds, usize, usize)>,
    /// Signalled when a forward ends.
    ended: Condvar,
}

impl CredGate {
    /// A gate for a process whose effective ids are `now`.
    pub fn new(now: Creds) -> Self {
        CredGate {
            state: Mutex::new((now, 0, 0)),
            ended: Condvar::new(),
        }
    }

    /// Locks the state.
    fn lock(&self) -> MutexGuard<'_, (Creds, usize, usize)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` while the process's effective ids are `who`: waits until no forward with
    /// other ids is in flight, switches with `switch` when needed (its error is returned
    /// and the ids are considered unknown until a later switch succeeds), and keeps them
    /// until `f` returns.
    pub fn run<R>(
        &self,
        who: Creds,
        switch: impl FnOnce(Creds) -> Result<()>,
        f: impl FnOnce() -> Result<R>,
    ) -> Result<R> {
        let mut st = self.lock();
        let mut queued = false;
        loop {
            if st.1 == 0 || (st.0 == who && (st.2 == 0 || queued)) {
                break;
            }
            if !queued {
                st.2 += 1;
                queued = true;
            }
            st = self.ended.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        if queued {
            st.2 -= 1;
        }
        if st.0 != who {
            if let Err(e) = switch(who) {
                // Nobody's ids: the next forward switches again.
                st.0 = Creds {
                    uid: u32::MAX,
                    gid: u32::MAX,
                };
                return Err(e);
            }
            st.0 = who;
        }
        st.1 += 1;
        drop(st);
        let out = f();
        let mut st = self.lock();
        st.1 -= 1;
        drop(st);
        self.ended.notify_all();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{mpsc, Arc};
    use std::thread;
    use std::time::Duration;

    const A: Creds = Creds {
        uid: 1000,
        gid: 1000,
    };
    const B: Creds = Creds {
        uid: 1001,
        gid: 1001,
    };

    /// Records the ids a switch set.
    fn set(ids: &Mutex<Creds>, c: Creds) -> Result<()> {
        *ids.lock().unwrap() = c;
        Ok(())
    }

    #[test]
    fn a_stuck_forward_holds_back_other_ids_only_and_no_forward_runs_with_wrong_ids() {
        let gate = Arc::new(CredGate::new(Creds::OWN));
        let ids = Arc::new(Mutex::new(Creds::OWN));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (g, i) = (Arc::clone(&gate), Arc::clone(&ids));
        let stuck = thread::spawn(move || {
            g.run(
                A,
                |c| set(&i, c),
                || {
                    let _ = release_rx.recv();
                    Ok(*i.lock().unwrap())
                },
            )
        });
        thread::sleep(Duration::from_millis(20));
        // Same ids: runs at once, with A's ids.
        let seen = gate.run(A, |c| set(&ids, c), || Ok(*ids.lock().unwrap()));
        assert_eq!(seen.unwrap(), A);
        // Other ids: waits for the stuck forward.
        let (done_tx, done_rx) = mpsc::channel();
        let (g, i) = (Arc::clone(&gate), Arc::clone(&ids));
        let other = thread::spawn(move || {
            let r = g.run(B, |c| set(&i, c), || Ok(*i.lock().unwrap()));
            let _ = done_tx.send(());
            r
        });
        assert!(done_rx.recv_timeout(Duration::from_millis(50)).is_err());
        release_tx.send(()).unwrap();
        assert_eq!(
            stuck.join().unwrap().unwrap(),
            A,
            "kept A's ids while in flight"
        );
        assert_eq!(other.join().unwrap().unwrap(), B);
    }

    #[test]
    fn a_failed_switch_runs_nothing() {
        let gate = CredGate::new(Creds::OWN);
        let r = gate.run(
            A,
            |_| Err(syscall::error::Error::new(syscall::error::EPERM)),
            || -> Result<()> { panic!("must not run") },
        );
        assert_eq!(r.unwrap_err().errno, syscall::error::EPERM);
        let r = gate.run(Creds::OWN, |_| Ok(()), || Ok(7));
        assert_eq!(r.unwrap(), 7, "the ids are switched again after a failure");
    }
}
