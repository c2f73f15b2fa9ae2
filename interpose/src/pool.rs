//! Workers that run forwarded requests: one request of a key at a time, in arrival order,
//! and keys in parallel, so a filesystem that stops answering one request holds one worker
//! and the requests queued behind it on the same handle, never the others.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

/// What orders requests: those of one key run one at a time, in arrival order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// Requests on one handle (reads, writes, the close): a client's writes on a handle
    /// reach the filesystem in the order they arrived.
    Handle(usize),
    /// A request ordered with nothing else (opens, unlinks, renames, calls).
    Once(u64),
}

/// A unit of work.
pub type Job = Box<dyn FnOnce() + Send>;

/// Most workers alive at once; beyond it, ready keys wait for a free worker.
pub const MAX_WORKERS: usize = 64;

/// Shared state of the pool.
#[derive(Default)]
struct State {
    /// Queued jobs per key (a key is present while it has jobs or one running).
    queues: HashMap<Key, VecDeque<Job>>,
    /// Keys with a job to run and no job running.
    ready: VecDeque<Key>,
    /// Workers waiting for a ready key.
    idle: usize,
    /// Workers alive.
    alive: usize,
    /// No more jobs: workers end once the queues are empty.
    stop: bool,
}

/// The pool.
pub struct Pool {
    /// State and the condition workers wait on.
    shared: Arc<(Mutex<State>, Condvar)>,
    /// Worker threads, joined at the end.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Locks, ignoring poisoning (jobs do not panic while holding it).
fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Default for Pool {
    fn default() -> Self {
        Self::new()
    }
}

impl Pool {
    /// A pool with no workers yet (they start on demand).
    pub fn new() -> Self {
        Pool {
            shared: Arc::new((Mutex::new(State::default()), Condvar::new())),
            threads: Mutex::new(Vec::new()),
        }
    }

    /// Queues `job` behind the other jobs of `key`.
    pub fn submit(&self, key: Key, job: Job) {
        let (m, cv) = &*self.shared;
        let mut st = lock(m);
        match st.queues.get_mut(&key) {
            Some(q) => q.push_back(job),
            None => {
                st.queues.insert(key, VecDeque::from([job]));
                st.ready.push_back(key);
            }
        }
        if st.idle == 0 && st.alive < MAX_WORKERS {
            st.alive += 1;
            drop(st);
            let shared = Arc::clone(&self.shared);
            let spawned = thread::Builder::new()
                .name("interpose-worker".into())
                .spawn(move || work(&shared));
            match spawned {
                Ok(h) => self
                    .threads
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(h),
                Err(e) => {
                    log::error!("interposer: cannot start a worker: {e}");
                    lock(m).alive -= 1;
                }
            }
        } else {
            drop(st);
        }
        cv.notify_one();
    }

    /// Runs what is queued, then ends every worker and waits for them.
    pub fn finish(&self) {
        let (m, cv) = &*self.shared;
        lock(m).stop = true;
        cv.notify_all();
        let threads: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// A worker: takes a ready key, runs its oldest job, puts the key back when it has more.
fn work(shared: &(Mutex<State>, Condvar)) {
    let (m, cv) = shared;
    let mut st = lock(m);
    loop {
        let Some(key) = st.ready.pop_front() else {
            if st.stop {
                st.alive -= 1;
                return;
            }
            st.idle += 1;
            st = cv.wait(st).unwrap_or_else(|e| e.into_inner());
            st.idle -= 1;
            continue;
        };
        let job = st.queues.get_mut(&key).and_then(VecDeque::pop_front);
        drop(st);
        if let Some(job) = job {
            job();
        }
        st = lock(m);
        match st.queues.get(&key) {
            Some(q) if !q.is_empty() => st.ready.push_back(key),
            _ => {
                st.queues.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn jobs_of_one_key_run_in_order_and_a_stuck_key_holds_no_other() {
        let pool = Pool::new();
        let (stuck_tx, stuck_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel();
        pool.submit(
            Key::Handle(1),
            Box::new(move || {
                let _ = stuck_rx.recv();
            }),
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        for i in 0..20 {
            let seen = Arc::clone(&seen);
            let done = done_tx.clone();
            pool.submit(
                Key::Handle(2),
                Box::new(move || {
                    seen.lock().unwrap().push(i);
                    let _ = done.send(i);
                }),
            );
        }
        for _ in 0..20 {
            done_rx.recv().unwrap();
        }
        assert_eq!(*seen.lock().unwrap(), (0..20).collect::<Vec<_>>());
        drop(stuck_tx);
        pool.finish();
    }
}
