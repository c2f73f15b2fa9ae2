//! What a client sends and reads: call metadata words, the sendfd argument word of an
//! add_watch, `inotify_event` records (as `read` returns them), and the answers of the
//! inotifyd extensions (a loss report, watch listing records).
//!
//! Checks: no panic; a call that parses emits words that parse to the same call, and a call
//! refused is refused for a reason the format gives (unknown opcode, argument out of range,
//! no word); the sendfd word splits and packs back to itself; a record view and the record
//! iterator agree, every record they yield emits back to bytes that parse to the same event,
//! and the iterator never reads past the buffer or loops; a loss report or a listing record
//! that parses emits back to the same bytes' meaning, and walking listing records never
//! reads past the buffer.
#![no_main]

use inotify_abi::event::{record_len, Event, EventRepr, Events, HEADER_LEN};
use inotify_abi::proto::{
    AddWatchArg, CallRepr, LossReport, WatchInfo, CALL_LIST_WATCHES, CALL_LOSS_REPORT,
    CALL_QUEUED_BYTES, CALL_RM_WATCH, CALL_TAKE_RESULT, CALL_TAKE_RESULT_PATH,
    LOSS_REPORT_LEN, LOSS_WDS, WATCH_INFO_HEADER_LEN,
};
use inotify_abi::WireError;
use libfuzzer_sys::fuzz_target;

/// Native-endian u64 words from `bytes` (a short tail is dropped).
fn words(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
        .collect()
}

fn check_call(meta: &[u64]) {
    match CallRepr::parse(meta) {
        Ok(call) => {
            let again = call.emit();
            assert_eq!(CallRepr::parse(&again), Ok(call));
            assert_eq!(again[0], meta[0]);
        }
        Err(WireError::Truncated) => assert!(meta.is_empty()),
        Err(WireError::Malformed) => {
            let arg = meta.get(1).copied().unwrap_or(0);
            let extra = meta.iter().skip(2).any(|&w| w != 0);
            let known = [
                CALL_TAKE_RESULT,
                CALL_RM_WATCH,
                CALL_QUEUED_BYTES,
                CALL_TAKE_RESULT_PATH,
                CALL_LOSS_REPORT,
                CALL_LIST_WATCHES,
            ];
            let token_op = [CALL_TAKE_RESULT, CALL_TAKE_RESULT_PATH].contains(&meta[0]);
            let wd_op = [CALL_RM_WATCH, CALL_LIST_WATCHES].contains(&meta[0]);
            let no_arg_op = [CALL_QUEUED_BYTES, CALL_LOSS_REPORT].contains(&meta[0]);
            assert!(
                extra
                    || !known.contains(&meta[0])
                    || (token_op && arg > u64::from(u32::MAX))
                    || (wd_op && i32::try_from(arg as i64).is_err())
                    || (no_arg_op && arg != 0),
                "{meta:?} refused"
            );
        }
        Err(e) => panic!("{e:?} from parse"),
    }
}

fn check_loss_report(buf: &[u8]) {
    match LossReport::parse(buf) {
        Ok(r) => {
            assert!(r.wds().len() <= LOSS_WDS);
            let mut out = [0u8; LOSS_REPORT_LEN];
            assert_eq!(r.emit(&mut out), Ok(LOSS_REPORT_LEN));
            assert_eq!(LossReport::parse(&out), Ok(r));
        }
        Err(WireError::Truncated) => assert!(buf.len() < LOSS_REPORT_LEN),
        Err(_) => {}
    }
}

fn check_watch_infos(buf: &[u8]) {
    let mut rest = buf;
    while let Ok((w, len)) = WatchInfo::parse(rest) {
        assert!(len >= WATCH_INFO_HEADER_LEN && len <= rest.len() && len % 8 == 0);
        assert_eq!(w.len(), len);
        let mut out = vec![0u8; len];
        assert_eq!(w.emit(&mut out), Ok(len));
        assert_eq!(WatchInfo::parse(&out), Ok((w, len)));
        rest = &rest[len..];
    }
}

fn check_events(buf: &[u8]) {
    let mut rest = buf;
    let mut count = 0;
    for repr in Events::new(buf) {
        let ev = Event::new_checked(rest).expect("the iterator yields only checked records");
        assert_eq!(EventRepr::parse(&ev), repr);
        let total = ev.total_len();
        assert!(total >= HEADER_LEN && total <= rest.len());
        rest = &rest[total..];
        count += 1;
        // Emitting the parsed record gives Linux's padding; that parses back the same.
        let mut out = vec![0u8; repr.buffer_len()];
        assert_eq!(repr.emit(&mut out), Ok(record_len(repr.name.len())));
        let back = Event::new_checked(&out[..]).unwrap();
        assert_eq!(EventRepr::parse(&back), repr);
        assert!(repr.emit(&mut out[..repr.buffer_len() - 1]).is_err());
    }
    // Iteration stops at the first incomplete record, and only there.
    assert!(Event::new_checked(rest).is_err());
    assert!(count <= buf.len() / HEADER_LEN);
}

fuzz_target!(|data: &[u8]| {
    let w = words(data);
    check_call(&w[..w.len().min(3)]);
    if let Some(&word) = w.first() {
        let arg = AddWatchArg::parse(word);
        assert_eq!(arg.emit(), word);
        assert_eq!((arg.mask, arg.token), (word as u32, (word >> 32) as u32));
    }
    check_events(data);
    check_loss_report(data);
    check_watch_infos(data);
});
