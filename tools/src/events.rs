//! Event names as the command line spells them (`-e create,modify`), and as the
//! `inotifywatch` table heads them (lower case, inotify-tools' spelling).

use inotify_abi::consts::*;

/// Every name `-e` accepts, with its bits (`close` and `move` are two events each).
pub const EVENT_NAMES: [(&str, u32); 15] = [
    ("access", IN_ACCESS),
    ("modify", IN_MODIFY),
    ("attrib", IN_ATTRIB),
    ("close_write", IN_CLOSE_WRITE),
    ("close_nowrite", IN_CLOSE_NOWRITE),
    ("close", IN_CLOSE),
    ("open", IN_OPEN),
    ("moved_to", IN_MOVED_TO),
    ("moved_from", IN_MOVED_FROM),
    ("move", IN_MOVE),
    ("move_self", IN_MOVE_SELF),
    ("create", IN_CREATE),
    ("delete", IN_DELETE),
    ("delete_self", IN_DELETE_SELF),
    ("unmount", IN_UNMOUNT),
];

/// The single-bit events, in Linux's bit order, with their lower-case names (the columns of
/// the `inotifywatch` table).
pub const SINGLE_EVENTS: [(u32, &str); 13] = [
    (IN_ACCESS, "access"),
    (IN_MODIFY, "modify"),
    (IN_ATTRIB, "attrib"),
    (IN_CLOSE_WRITE, "close_write"),
    (IN_CLOSE_NOWRITE, "close_nowrite"),
    (IN_OPEN, "open"),
    (IN_MOVED_FROM, "moved_from"),
    (IN_MOVED_TO, "moved_to"),
    (IN_CREATE, "create"),
    (IN_DELETE, "delete"),
    (IN_DELETE_SELF, "delete_self"),
    (IN_MOVE_SELF, "move_self"),
    (IN_UNMOUNT, "unmount"),
];

/// Parses a comma-separated list of event names (case-insensitive) into a mask.
pub fn parse_list(list: &str) -> Result<u32, String> {
    let mut mask = 0;
    for name in list.split(',') {
        let name = name.trim();
        let bits = EVENT_NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, b)| b)
            .ok_or_else(|| format!("invalid event '{name}'"))?;
        mask |= bits;
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(parse_list("create"), Ok(IN_CREATE));
        assert_eq!(
            parse_list("CREATE,modify, close"),
            Ok(IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)
        );
        assert_eq!(parse_list("move"), Ok(IN_MOVED_FROM | IN_MOVED_TO));
        assert_eq!(parse_list("bogus"), Err("invalid event 'bogus'".into()));
        assert_eq!(parse_list("create,"), Err("invalid event ''".into()));
    }

    #[test]
    fn every_single_event_has_one_bit() {
        for (bit, _) in SINGLE_EVENTS {
            assert_eq!(bit.count_ones(), 1);
        }
    }
}
