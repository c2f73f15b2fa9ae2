//! Event names as inotify-tools spells them: on the command line (`-e create,modify`), in
//! event lines (`CLOSE_WRITE,CLOSE`) and as the heads of the `inotifywatch` table.

use inotify_abi::consts::*;

/// Every name `-e` accepts (case-insensitive), with its bits (`close`, `move` and
/// `all_events` stand for several).
const NAMES: [(&str, u32); 20] = [
    ("access", IN_ACCESS),
    ("modify", IN_MODIFY),
    ("attrib", IN_ATTRIB),
    ("close_write", IN_CLOSE_WRITE),
    ("close_nowrite", IN_CLOSE_NOWRITE),
    ("open", IN_OPEN),
    ("moved_from", IN_MOVED_FROM),
    ("moved_to", IN_MOVED_TO),
    ("create", IN_CREATE),
    ("delete", IN_DELETE),
    ("delete_self", IN_DELETE_SELF),
    ("unmount", IN_UNMOUNT),
    ("q_overflow", IN_Q_OVERFLOW),
    ("ignored", IN_IGNORED),
    ("close", IN_CLOSE),
    ("move_self", IN_MOVE_SELF),
    ("move", IN_MOVE),
    ("isdir", IN_ISDIR),
    ("oneshot", IN_ONESHOT),
    ("all_events", IN_ALL_EVENTS),
];

/// The names an event line shows, in inotify-tools' order (not Linux's bit order): `CLOSE`
/// follows either close bit and comes before `MOVE_SELF`.
const LINE_NAMES: [(&str, u32); 18] = [
    ("ACCESS", IN_ACCESS),
    ("MODIFY", IN_MODIFY),
    ("ATTRIB", IN_ATTRIB),
    ("CLOSE_WRITE", IN_CLOSE_WRITE),
    ("CLOSE_NOWRITE", IN_CLOSE_NOWRITE),
    ("OPEN", IN_OPEN),
    ("MOVED_FROM", IN_MOVED_FROM),
    ("MOVED_TO", IN_MOVED_TO),
    ("CREATE", IN_CREATE),
    ("DELETE", IN_DELETE),
    ("DELETE_SELF", IN_DELETE_SELF),
    ("UNMOUNT", IN_UNMOUNT),
    ("Q_OVERFLOW", IN_Q_OVERFLOW),
    ("IGNORED", IN_IGNORED),
    ("CLOSE", IN_CLOSE),
    ("MOVE_SELF", IN_MOVE_SELF),
    ("ISDIR", IN_ISDIR),
    ("ONESHOT", IN_ONESHOT),
];

/// The single-bit events with their lower-case names, in the column order of the
/// `inotifywatch` table.
pub const TABLE_EVENTS: [(u32, &str); 13] = [
    (IN_ACCESS, "access"),
    (IN_MODIFY, "modify"),
    (IN_ATTRIB, "attrib"),
    (IN_CLOSE_WRITE, "close_write"),
    (IN_CLOSE_NOWRITE, "close_nowrite"),
    (IN_OPEN, "open"),
    (IN_MOVED_FROM, "moved_from"),
    (IN_MOVED_TO, "moved_to"),
    (IN_MOVE_SELF, "move_self"),
    (IN_CREATE, "create"),
    (IN_DELETE, "delete"),
    (IN_DELETE_SELF, "delete_self"),
    (IN_UNMOUNT, "unmount"),
];

/// One name's bits; `None` when it is not an event name. The empty name is 0.
fn one(name: &str) -> Option<u32> {
    if name.is_empty() {
        return Some(0);
    }
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, b)| b)
}

/// Parses a comma-separated list of event names (case-insensitive) into a mask, as
/// inotify-tools does: an empty list, or one ending in a comma, is 0 (no events added).
pub fn parse_list(list: &str) -> Result<u32, String> {
    if list.ends_with(',') {
        return Ok(0);
    }
    let mut mask = 0;
    for name in list.split(',') {
        match one(name) {
            Some(0) => return Ok(0),
            Some(bits) => mask |= bits,
            None => {
                return Err(format!(
                    "'{list}' is not a valid event!  Run with the '--help' option to see a \
                     list of events."
                ))
            }
        }
    }
    Ok(mask)
}

/// The names of the bits in `mask` joined by `sep`, inotify-tools' way (`CLOSE_WRITE`
/// comes with `CLOSE`); a mask with no known bit is shown as `0x` and 8 hex digits.
pub fn to_str_sep(mask: u32, sep: char) -> String {
    let mut out = String::new();
    for (name, bit) in LINE_NAMES {
        if mask & bit != 0 {
            if !out.is_empty() {
                out.push(sep);
            }
            out.push_str(name);
        }
    }
    if out.is_empty() {
        out = format!("0x{mask:08x}");
    }
    out
}

/// The names of the bits in `mask`, comma-separated.
pub fn to_str(mask: u32) -> String {
    to_str_sep(mask, ',')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_like_inotify_tools() {
        assert_eq!(parse_list("create"), Ok(IN_CREATE));
        assert_eq!(
            parse_list("CREATE,modify,close"),
            Ok(IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)
        );
        assert_eq!(parse_list("move"), Ok(IN_MOVED_FROM | IN_MOVED_TO));
        assert_eq!(parse_list("all_events"), Ok(IN_ALL_EVENTS));
        assert!(parse_list("bogus")
            .unwrap_err()
            .starts_with("'bogus' is not a valid event!"));
        assert_eq!(parse_list("create,"), Ok(0));
        assert_eq!(parse_list(""), Ok(0));
    }

    #[test]
    fn close_bits_also_name_close() {
        assert_eq!(to_str(IN_CLOSE_WRITE), "CLOSE_WRITE,CLOSE");
        assert_eq!(
            to_str(IN_CLOSE_NOWRITE | IN_ISDIR),
            "CLOSE_NOWRITE,CLOSE,ISDIR"
        );
        assert_eq!(to_str_sep(IN_CREATE | IN_ISDIR, ':'), "CREATE:ISDIR");
        assert_eq!(to_str(IN_MOVE_SELF | IN_IGNORED), "IGNORED,MOVE_SELF");
        assert_eq!(to_str(0x0800_0000), "0x08000000");
    }

    #[test]
    fn every_table_column_is_one_bit() {
        for (bit, _) in TABLE_EVENTS {
            assert_eq!(bit.count_ones(), 1);
        }
    }
}
