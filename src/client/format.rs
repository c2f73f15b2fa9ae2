//! inotifywait-style text for events: `"<watch> <MASK,NAMES> <name>"`.
//!
//! Mask names are listed in Linux's bit order (`ACCESS` first, `ONESHOT` last), without the
//! `IN_` prefix, joined by commas; the name part is left out when the event has none (where
//! inotifywait's `%w %e %f` would print a trailing space).

use inotify_abi::consts::*;

use super::OwnedEvent;

/// Every named bit, in Linux's order.
pub const MASK_NAMES: [(u32, &str); 22] = [
    (IN_ACCESS, "ACCESS"),
    (IN_MODIFY, "MODIFY"),
    (IN_ATTRIB, "ATTRIB"),
    (IN_CLOSE_WRITE, "CLOSE_WRITE"),
    (IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"),
    (IN_OPEN, "OPEN"),
    (IN_MOVED_FROM, "MOVED_FROM"),
    (IN_MOVED_TO, "MOVED_TO"),
    (IN_CREATE, "CREATE"),
    (IN_DELETE, "DELETE"),
    (IN_DELETE_SELF, "DELETE_SELF"),
    (IN_MOVE_SELF, "MOVE_SELF"),
    (IN_UNMOUNT, "UNMOUNT"),
    (IN_Q_OVERFLOW, "Q_OVERFLOW"),
    (IN_IGNORED, "IGNORED"),
    (IN_ONLYDIR, "ONLYDIR"),
    (IN_DONT_FOLLOW, "DONT_FOLLOW"),
    (IN_EXCL_UNLINK, "EXCL_UNLINK"),
    (IN_MASK_CREATE, "MASK_CREATE"),
    (IN_MASK_ADD, "MASK_ADD"),
    (IN_ISDIR, "ISDIR"),
    (IN_ONESHOT, "ONESHOT"),
];

/// The names of the bits in `mask`, comma-separated; unknown bits as one hex value.
pub fn mask(mask: u32) -> String {
    let mut out = String::new();
    let mut known = 0;
    for (bit, name) in MASK_NAMES {
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
