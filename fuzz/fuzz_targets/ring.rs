//! The feed ring from both sides, with the other side hostile.
//!
//! The first input byte picks the part:
//! - even: the daemon's view of memory a filesystem controls. The rest of the input becomes
//!   the ring's words (header included, padded with zeros); if `Ring::consumer` accepts
//!   them, frames are copied out from positions the input picks and parsed, as the daemon
//!   does.
//! - odd: the producer a filesystem links, mapped onto a ring, driven by a stream of
//!   operations: `0` record a fact (see `input.rs`), `1` the daemon consumes every frame
//!   honestly, `2` the daemon arms the ring, `3` a read of the feed handle, `4` the daemon
//!   writes garbage into `tail`, `waiting` or `pending_lost`.
//!
//! Checks: no panic anywhere; `copy_out` never gives more than asked; while the daemon is
//! honest, every frame parses, padding only runs to the end of the ring, sequence numbers
//! follow on from each other, and a `Lost` frame's count adds to the facts dropped: every
//! fact recorded is delivered or counted, none twice. After garbage, only "no panic" holds.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use inotify_abi::feed::{Fact, Interest, INTEREST_LEN};
use inotify_abi::ring::{
    ring_field, Frame, Ring, RingMemory, MAX_FRAME_LEN, MIN_RING_DATA_LEN, RING_HEADER_LEN,
};
use inotify_feed::{Producer, RingBox};
use libfuzzer_sys::fuzz_target;

#[path = "input.rs"]
mod input;

use input::{fact, Input};

/// Shared words, as a filesystem hands them over.
#[derive(Clone)]
struct Shared(Arc<[AtomicU64]>);

impl RingMemory for Shared {
    fn words(&self) -> &[AtomicU64] {
        &self.0
    }
}

/// `len` bytes of zeroed words.
fn shared(len: usize) -> Shared {
    Shared((0..len / 8).map(|_| AtomicU64::new(0)).collect())
}

/// The daemon's side over memory the input wrote.
fn consume_garbage(data: &[u8]) {
    let len = RING_HEADER_LEN + MIN_RING_DATA_LEN;
    let s = shared(len);
    for (w, chunk) in s.words().iter().zip(data.chunks(8)) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        w.store(u64::from_le_bytes(b), Ordering::Relaxed);
    }
    let Ok(ring) = Ring::consumer(s.words()) else {
        return;
    };
    let mut inp = Input(data.get(len..).unwrap_or(&[]));
    let mut buf = [0u8; MAX_FRAME_LEN];
    for _ in 0..64 {
        let pos = u64::from_le_bytes([inp.byte(), inp.byte(), inp.byte(), inp.byte(), 0, 0, 0, 0])
            ^ ring.head();
        let want = usize::from(inp.byte()) * 16 % (buf.len() + 1);
        let n = ring.copy_out(pos, &mut buf[..want]);
        assert!(n <= want);
        let _ = ring.to_end(pos);
        if let Ok((Frame::Record { record, .. }, len)) = Frame::parse(&buf[..n]) {
            assert!(len <= n);
            let _ = Fact::from_record(&record);
        }
    }
}

/// What the honest daemon has seen so far.
struct Daemon {
    /// Bytes consumed.
    tail: u64,
    /// The sequence number the next frame must carry.
    next_seq: u64,
    /// Facts delivered or counted lost.
    accounted: u64,
}

impl Daemon {
    /// Consumes every published frame, checking each.
    fn consume(&mut self, s: &Shared) {
        let ring = Ring::consumer(s.words()).expect("the producer's ring checks out");
        let head = ring.head();
        let mut buf = [0u8; MAX_FRAME_LEN];
        while self.tail != head {
            let n = ring.copy_out(self.tail, &mut buf);
            match Frame::parse(&buf[..n]).expect("an honest producer's frame parses") {
                (Frame::Pad, _) => {
                    self.tail += ring.to_end(self.tail) as u64;
                }
                (Frame::Record { seq, record }, len) => {
                    assert_eq!(seq, self.next_seq, "frames follow on");
                    self.next_seq += 1;
                    self.accounted += match Fact::from_record(&record).expect("a valid fact") {
                        Fact::Lost { count } => count,
                        _ => 1,
                    };
                    self.tail += len as u64;
                }
            }
            let left = head.wrapping_sub(self.tail);
            assert!(left <= ring.capacity() as u64, "frames end at head");
        }
        ring.set_tail(self.tail);
    }
}

/// The producer's side, with a daemon that may turn hostile.
fn produce(data: &[u8]) {
    let mut p = Producer::new(8 * 1024);
    // Interest in every inode the input can name, so that every fact is kept.
    let mut msg = vec![0u8; 8 * INTEREST_LEN];
    for ino in 0..8u64 {
        Interest::Add(ino)
            .emit(&mut msg[ino as usize * INTEREST_LEN..])
            .unwrap();
    }
    p.write_interest(&msg).unwrap();
    let len = RING_HEADER_LEN + MIN_RING_DATA_LEN;
    let s = shared(len);
    let mem = s.clone();
    if p.map_ring(len, move |_| Some(Box::new(mem) as RingBox))
        .is_err()
    {
        return;
    }
    let mut daemon = Daemon {
        tail: 0,
        next_seq: 0,
        accounted: 0,
    };
    let mut honest = true;
    let mut recorded = 0u64;
    let mut inp = Input(data);
    while !inp.0.is_empty() {
        match inp.byte() % 5 {
            0 => {
                let f = fact(&mut inp);
                // Facts that cannot be encoded (a name with NUL or `/`) are not a
                // filesystem's to record.
                let mut tmp = vec![0u8; f.buffer_len()];
                if f.emit(&mut tmp).is_ok() {
                    recorded += u64::from(p.is_relevant(&f));
                    p.record(&f);
                }
            }
            1 if honest => daemon.consume(&s),
            2 => {
                if let Ok(ring) = Ring::consumer(s.words()) {
                    ring.arm();
                }
            }
            3 => {
                let mut buf = [0u8; 64];
                let _ = p.read_batch(&mut buf);
            }
            4 => {
                honest = false;
                let field = [
                    ring_field::TAIL,
                    ring_field::WAITING,
                    ring_field::PENDING_LOST,
                ][usize::from(inp.byte()) % 3];
                let value = u64::from_le_bytes([
                    inp.byte(),
                    inp.byte(),
                    inp.byte(),
                    inp.byte(),
                    inp.byte(),
                    0,
                    0,
                    inp.byte(),
                ]);
                s.words()[field / 8].store(value, Ordering::SeqCst);
            }
            _ => {}
        }
    }
    if honest {
        daemon.consume(&s);
        // Every relevant fact was delivered, written as part of a Lost frame's count, or is
        // still owed as a drop not yet written.
        let owed = Ring::consumer(s.words()).unwrap().pending_lost();
        assert_eq!(daemon.accounted + owed, recorded);
    }
}

fuzz_target!(|data: &[u8]| {
    let [part, rest @ ..] = data else {
        return;
    };
    if part & 1 == 0 {
        consume_garbage(rest);
    } else {
        produce(rest);
    }
});
