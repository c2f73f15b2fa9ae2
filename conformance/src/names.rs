//! Symbolic names: `IN_*` mask bits and errno values, in both directions.

use inotify_abi::consts::*;

/// Named groups accepted when parsing (never printed).
const MASK_GROUPS: [(&str, u32); 4] = [
    ("IN_ALL_EVENTS", IN_ALL_EVENTS),
    ("all", IN_ALL_EVENTS),
    ("IN_CLOSE", IN_CLOSE),
    ("IN_MOVE", IN_MOVE),
];

/// Parses `IN_CREATE|IN_ONLYDIR`, `all`, `0x1000`, `0` or a mix joined by `|`.
pub fn parse_mask(s: &str) -> Result<u32, String> {
    let mut mask = 0u32;
    for part in s.split('|') {
        let part = part.trim();
        if let Some(hex) = part.strip_prefix("0x") {
            mask |= u32::from_str_radix(hex, 16).map_err(|_| format!("bad hex mask `{part}`"))?;
        } else if let Ok(n) = part.parse::<u32>() {
            mask |= n;
        } else if let Some((_, v)) = MASK_NAMES
            .iter()
            .chain(MASK_GROUPS.iter())
            .find(|(n, _)| *n == part)
        {
            mask |= v;
        } else {
            return Err(format!("unknown mask name `{part}`"));
        }
    }
    Ok(mask)
}

/// Prints a mask as `IN_A|IN_B`, unknown bits as one trailing hex number, `0` for none.
pub fn mask_name(mask: u32) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut rest = mask;
    if mask & IN_ALL_EVENTS == IN_ALL_EVENTS {
        parts.push("IN_ALL_EVENTS".to_string());
        rest &= !IN_ALL_EVENTS;
    }
    for (name, bit) in MASK_NAMES {
        if rest & bit == 0 {
            continue;
        }
        parts.push(name.to_string());
        rest &= !bit;
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        "0".to_string()
    } else {
        parts.join("|")
    }
}

/// Linux errno numbers and names (x86_64), for the values this suite can meet.
const LINUX_ERRNO: [(&str, i32); 26] = [
    ("EPERM", 1),
    ("ENOENT", 2),
    ("EINTR", 4),
    ("EIO", 5),
    ("EBADF", 9),
    ("EAGAIN", 11),
    ("ENOMEM", 12),
    ("EACCES", 13),
    ("EFAULT", 14),
    ("EBUSY", 16),
    ("EEXIST", 17),
    ("EXDEV", 18),
    ("ENOTDIR", 20),
    ("EISDIR", 21),
    ("EINVAL", 22),
    ("ENFILE", 23),
    ("EMFILE", 24),
    ("EFBIG", 27),
    ("ENOSPC", 28),
    ("EROFS", 30),
    ("EMLINK", 31),
    ("ENAMETOOLONG", 36),
    ("ENOSYS", 38),
    ("ENOTEMPTY", 39),
    ("ELOOP", 40),
    ("EOPNOTSUPP", 95),
];

/// Name of a Linux errno value (`E?123` when unknown).
pub fn linux_errno_name(e: i32) -> String {
    match LINUX_ERRNO.iter().find(|(_, v)| *v == e) {
        Some((n, _)) => n.to_string(),
        None => format!("E?{e}"),
    }
}

/// Name of a Redox errno value. Redox numbers its errno values like Linux except
/// `EWOULDBLOCK` (41 on Redox, an alias of `EAGAIN` on Linux).
pub fn redox_errno_name(e: i32) -> String {
    if e == 41 {
        "EWOULDBLOCK".to_string()
    } else {
        linux_errno_name(e)
    }
}

/// Whether `s` names an errno this suite knows (for `expect-error`).
pub fn is_errno_name(s: &str) -> bool {
    LINUX_ERRNO.iter().any(|(n, _)| *n == s) || s == "EWOULDBLOCK"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_round_trip() {
        let m = parse_mask("IN_CREATE|IN_ONLYDIR").unwrap();
        assert_eq!(m, IN_CREATE | IN_ONLYDIR);
        assert_eq!(mask_name(m), "IN_CREATE|IN_ONLYDIR");
        assert_eq!(parse_mask("all").unwrap(), IN_ALL_EVENTS);
        assert_eq!(parse_mask("0x1000|IN_ACCESS").unwrap(), 0x1001);
        assert_eq!(mask_name(0x1001), "IN_ACCESS|0x1000");
        assert_eq!(mask_name(0), "0");
        assert_eq!(
            mask_name(IN_ALL_EVENTS | IN_ONLYDIR),
            "IN_ALL_EVENTS|IN_ONLYDIR"
        );
        assert!(parse_mask("IN_NOPE").is_err());
    }

    #[test]
    fn errno_names() {
        assert_eq!(linux_errno_name(2), "ENOENT");
        assert_eq!(redox_errno_name(41), "EWOULDBLOCK");
        assert_eq!(linux_errno_name(999), "E?999");
        assert!(is_errno_name("EINVAL"));
        assert!(!is_errno_name("ENOPE"));
    }
}
