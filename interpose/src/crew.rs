//! The threads that serve the interposer: each takes the next request from the socket itself
//! and answers it (leader/followers: a request reaches a thread already waiting for it, with
//! no hand-off in between). A thread that takes a request while no other waits starts one
//! more, up to [`MAX_THREADS`], so a target that stops answering some requests holds only
//! the threads that forwarded them and every other request is still taken and answered.
//!
//! Requests of one client thread are sequential (each waits for its answer), so they reach
//! the target in order whichever threads forward them; requests in flight together (several
//! client threads on one fd) have no order to keep, as on Linux.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// Most serving threads alive at once. When that many forwards are stuck, the next request
/// waits for one of them.
pub const MAX_THREADS: usize = 64;

/// Counters shared by the serving threads.
#[derive(Default)]
pub struct Crew {
    /// Threads waiting for a request (at most one inside `next`, the others for the turn).
    waiting: AtomicUsize,
    /// Threads alive.
    alive: AtomicUsize,
    /// Taking turns at `next`: the taker handles *in turn* what must be done before the
    /// next request is taken.
    turn: Mutex<()>,
}

/// What a serving thread does with a request taken from the stream.
pub trait Serve: Send + Sync + 'static {
    /// A request as taken from the stream.
    type Req;
    /// The work left of a request after its turn.
    type Work;
    /// The next request; `None` once the stream ended.
    fn next(&self) -> Option<Self::Req>;
    /// Handles what must be done before the next request is taken (the last close of a
    /// handle, whose facts a later request must see; quick answers); returns the work
    /// left to do after the turn.
    fn in_turn(&self, req: Self::Req) -> Option<Self::Work>;
    /// Does the work (forwarding, possibly for a long time) and answers.
    fn handle(&self, work: Self::Work);
}

impl Crew {
    /// Serves with `serve` on this thread and as many more as needed; returns when the
    /// stream ended and every thread finished.
    pub fn run<S: Serve>(serve: Arc<S>) {
        let crew = Arc::new(Crew::default());
        crew.alive.fetch_add(1, Ordering::SeqCst);
        let mut threads = Vec::new();
        let spawned = Arc::new(Mutex::new(Vec::new()));
        work(&crew, &serve, &spawned);
        // This thread saw the end: wait for the others (they see it too).
        loop {
            let more: Vec<thread::JoinHandle<()>> =
                std::mem::take(&mut *spawned.lock().unwrap_or_else(|e| e.into_inner()));
            if more.is_empty() {
                break;
            }
            threads.extend(more);
            for t in threads.drain(..) {
                let _ = t.join();
            }
        }
    }
}

/// One serving thread's loop.
fn work<S: Serve>(
    crew: &Arc<Crew>,
    serve: &Arc<S>,
    spawned: &Arc<Mutex<Vec<thread::JoinHandle<()>>>>,
) {
    loop {
        crew.waiting.fetch_add(1, Ordering::SeqCst);
        let taken = {
            let _turn = crew.turn.lock().unwrap_or_else(|e| e.into_inner());
            serve.next().map(|req| serve.in_turn(req))
        };
        let others_waiting = crew.waiting.fetch_sub(1, Ordering::SeqCst) - 1;
        let Some(req) = taken else {
            break;
        };
        let Some(req) = req else {
            continue;
        };
        if others_waiting == 0 && crew.alive.load(Ordering::SeqCst) < MAX_THREADS {
            crew.alive.fetch_add(1, Ordering::SeqCst);
            let (c, s, sp) = (Arc::clone(crew), Arc::clone(serve), Arc::clone(spawned));
            let started = thread::Builder::new()
                .name("interpose".into())
                .spawn(move || work(&c, &s, &sp));
            match started {
                Ok(h) => spawned.lock().unwrap_or_else(|e| e.into_inner()).push(h),
                Err(e) => {
                    crew.alive.fetch_sub(1, Ordering::SeqCst);
                    log::error!("interposer: cannot start a thread: {e}");
                }
            }
        }
        serve.handle(req);
    }
    crew.alive.fetch_sub(1, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Requests are numbers from a channel; 0 blocks its thread until released.
    struct Numbers {
        rx: Mutex<mpsc::Receiver<u32>>,
        release: Mutex<mpsc::Receiver<()>>,
        done: Mutex<mpsc::Sender<u32>>,
    }

    impl Serve for Numbers {
        type Req = u32;
        type Work = u32;
        fn next(&self) -> Option<u32> {
            self.rx.lock().unwrap().recv().ok()
        }
        fn in_turn(&self, req: u32) -> Option<u32> {
            Some(req)
        }
        fn handle(&self, req: u32) {
            if req == 0 {
                let _ = self.release.lock().unwrap().recv();
            }
            let _ = self.done.lock().unwrap().send(req);
        }
    }

    #[test]
    fn a_request_that_never_finishes_holds_one_thread_and_the_others_are_served() {
        let (tx, rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        let serve = Arc::new(Numbers {
            rx: Mutex::new(rx),
            release: Mutex::new(release_rx),
            done: Mutex::new(done_tx),
        });
        let runner = thread::spawn(move || Crew::run(serve));
        tx.send(0).unwrap();
        for i in 1..=20 {
            tx.send(i).unwrap();
            assert_eq!(done_rx.recv_timeout(Duration::from_secs(10)).unwrap(), i);
        }
        release_tx.send(()).unwrap();
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(10)).unwrap(), 0);
        drop(tx);
        runner.join().unwrap();
    }
}
