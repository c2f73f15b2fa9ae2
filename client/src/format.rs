//! inotifywait-style text for events: `"<watch> <MASK,NAMES> <name>"`.
//!
//! Mask names are listed in Linux's bit order (`ACCESS` first, `ONESHOT` last), without the
//! `IN_` prefix, joined by commas; the name part is left out when the event has none (where
//! inotifywait's `%w %e %f` would print a trailing space).

use alloc::format;
use alloc::string::String;

use inotify_abi::consts::*;

use super::OwnedEvent;

/// The names of the bits in `mask`, comma-separated; unknown bits as one hex value.
pub fn mask(mask: u32) -> String {
    let mut out = String::new();
    let mut known = 0;
    for (c_name, bit) in MASK_NAMES {
        let name = c_name.strip_prefix("IN_").unwrap_or(c_name);
        known |= bit;
        if mask & bit != 0 {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(name);
        }
    }
    let unknown = mask & !known;
    if unknown != 0 {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&format!("{unknown:#x}"));
    }
    out
}

/// One line for `ev`, with `watch` naming the watched object (e.g. `"dir/"`).
pub fn event(watch: &str, ev: &OwnedEvent) -> String {
    if ev.name.is_empty() {
        format!("{} {}", watch, mask(ev.mask))
    } else {
        format!("{} {} {}", watch, mask(ev.mask), ev.name_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn names_in_linux_order() {
        assert_eq!(mask(IN_ISDIR | IN_CREATE), "CREATE,ISDIR");
        assert_eq!(mask(IN_CLOSE_WRITE | IN_ACCESS), "ACCESS,CLOSE_WRITE");
        assert_eq!(mask(IN_Q_OVERFLOW), "Q_OVERFLOW");
        assert_eq!(mask(0x1000 | IN_OPEN), "OPEN,0x1000");
        assert_eq!(mask(0), "");
    }

    #[test]
    fn lines() {
        let ev = OwnedEvent {
            wd: 1,
            mask: IN_CREATE | IN_ISDIR,
            cookie: 0,
            name: b"sub".to_vec(),
        };
        assert_eq!(event("DIR/", &ev), "DIR/ CREATE,ISDIR sub");
        let ev = OwnedEvent {
            wd: 1,
            mask: IN_DELETE_SELF,
            cookie: 0,
            name: Vec::new(),
        };
        assert_eq!(event("DIR/f", &ev), "DIR/f DELETE_SELF");
    }
}
