//! `IN_*` constants with the Linux values (`include/uapi/linux/inotify.h`).

/// File was accessed (read, or a directory listed).
pub const IN_ACCESS: u32 = 0x0000_0001;
/// File was modified (write, truncate).
pub const IN_MODIFY: u32 = 0x0000_0002;
/// Metadata changed (mode, owner, times, link count).
pub const IN_ATTRIB: u32 = 0x0000_0004;
/// A file opened for writing was closed.
pub const IN_CLOSE_WRITE: u32 = 0x0000_0008;
/// A file not opened for writing was closed.
pub const IN_CLOSE_NOWRITE: u32 = 0x0000_0010;
/// File was opened.
pub const IN_OPEN: u32 = 0x0000_0020;
/// A child was moved out of the watched directory.
pub const IN_MOVED_FROM: u32 = 0x0000_0040;
/// A child was moved into the watched directory.
pub const IN_MOVED_TO: u32 = 0x0000_0080;
/// A child was created in the watched directory.
pub const IN_CREATE: u32 = 0x0000_0100;
/// A child was deleted from the watched directory.
pub const IN_DELETE: u32 = 0x0000_0200;
/// The watched object itself was deleted (last link gone).
pub const IN_DELETE_SELF: u32 = 0x0000_0400;
/// The watched object itself was moved.
pub const IN_MOVE_SELF: u32 = 0x0000_0800;

/// The filesystem holding the watched object was unmounted.
pub const IN_UNMOUNT: u32 = 0x0000_2000;
/// The event queue overflowed (`wd` is -1).
pub const IN_Q_OVERFLOW: u32 = 0x0000_4000;
/// The watch was removed (explicitly, or because its object or filesystem went away).
pub const IN_IGNORED: u32 = 0x0000_8000;

/// Both close events.
pub const IN_CLOSE: u32 = IN_CLOSE_WRITE | IN_CLOSE_NOWRITE;
/// Both move events.
pub const IN_MOVE: u32 = IN_MOVED_FROM | IN_MOVED_TO;

/// Watch only if the path is a directory (else `ENOTDIR`).
pub const IN_ONLYDIR: u32 = 0x0100_0000;
/// Do not follow a final symbolic link.
pub const IN_DONT_FOLLOW: u32 = 0x0200_0000;
/// No events for children after they are unlinked.
pub const IN_EXCL_UNLINK: u32 = 0x0400_0000;
/// Fail with `EEXIST` if the object is already watched by this instance.
pub const IN_MASK_CREATE: u32 = 0x1000_0000;
/// OR the mask into an existing watch instead of replacing it.
pub const IN_MASK_ADD: u32 = 0x2000_0000;
/// The subject of the event is a directory.
pub const IN_ISDIR: u32 = 0x4000_0000;
/// Deliver one event, then remove the watch.
pub const IN_ONESHOT: u32 = 0x8000_0000;

/// Every event a watch can ask for.
pub const IN_ALL_EVENTS: u32 = IN_ACCESS
    | IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_CLOSE_NOWRITE
    | IN_OPEN
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF;

/// Flag bits accepted in an `inotify_add_watch` mask besides the events.
pub const IN_WATCH_FLAGS: u32 =
    IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_CREATE | IN_MASK_ADD | IN_ONESHOT;

/// Every bit `inotify_add_watch` accepts; anything else is `EINVAL` (Linux's `ALL_INOTIFY_BITS`
/// less the read-only bits `IN_UNMOUNT`, `IN_Q_OVERFLOW`, `IN_IGNORED` and `IN_ISDIR`, which
/// Linux silently ignores: they are accepted here too and have no effect).
pub const IN_VALID_MASK: u32 =
    IN_ALL_EVENTS | IN_WATCH_FLAGS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED | IN_ISDIR;

/// inotifyd extension (not Linux): one watch on a directory covers its whole subtree. Events
/// anywhere below carry the path relative to the watched directory in the name field
/// (`a/b/f`); directories created or moved in later are covered from the fact that makes
/// them, moved-out ones stop being covered. Linux refuses this bit (`EINVAL`), so no Linux
/// program sets it; only directories (`ENOTDIR`) on filesystems that support it (else
/// `EOPNOTSUPP`). See docs/semantics.md, "Beyond Linux".
pub const IN_SUBTREE: u32 = 0x0800_0000;

/// Every bit inotifyd's `inotify_add_watch` accepts: Linux's [`IN_VALID_MASK`] and the
/// extension [`IN_SUBTREE`].
pub const IN_ADD_WATCH_MASK: u32 = IN_VALID_MASK | IN_SUBTREE;

/// Every named single bit with its C name, in bit order (the order masks are printed in).
pub const MASK_NAMES: [(&str, u32); 22] = [
    ("IN_ACCESS", IN_ACCESS),
    ("IN_MODIFY", IN_MODIFY),
    ("IN_ATTRIB", IN_ATTRIB),
    ("IN_CLOSE_WRITE", IN_CLOSE_WRITE),
    ("IN_CLOSE_NOWRITE", IN_CLOSE_NOWRITE),
    ("IN_OPEN", IN_OPEN),
    ("IN_MOVED_FROM", IN_MOVED_FROM),
    ("IN_MOVED_TO", IN_MOVED_TO),
    ("IN_CREATE", IN_CREATE),
    ("IN_DELETE", IN_DELETE),
    ("IN_DELETE_SELF", IN_DELETE_SELF),
    ("IN_MOVE_SELF", IN_MOVE_SELF),
    ("IN_UNMOUNT", IN_UNMOUNT),
    ("IN_Q_OVERFLOW", IN_Q_OVERFLOW),
    ("IN_IGNORED", IN_IGNORED),
    ("IN_ONLYDIR", IN_ONLYDIR),
    ("IN_DONT_FOLLOW", IN_DONT_FOLLOW),
    ("IN_EXCL_UNLINK", IN_EXCL_UNLINK),
    ("IN_MASK_CREATE", IN_MASK_CREATE),
    ("IN_MASK_ADD", IN_MASK_ADD),
    ("IN_ISDIR", IN_ISDIR),
    ("IN_ONESHOT", IN_ONESHOT),
];

/// Linux's `IN_NONBLOCK` for `inotify_init1` (= Linux `O_NONBLOCK`).
pub const IN_NONBLOCK_LINUX: u32 = 0o4000;
/// Linux's `IN_CLOEXEC` for `inotify_init1` (= Linux `O_CLOEXEC`).
pub const IN_CLOEXEC_LINUX: u32 = 0o2000000;

/// Redox's `O_CLOEXEC` (relibc's and libredox's value; `syscall::flag` does not define it).
/// `IN_CLOEXEC` has this value on Redox.
pub const O_CLOEXEC_REDOX: usize = 0x0100_0000;

/// Linux's checks of an `inotify_add_watch` mask that come before anything else (the fd,
/// the path): a bit outside [`IN_ADD_WATCH_MASK`] (Linux's bits and [`IN_SUBTREE`]), no
/// Linux bit at all, or [`IN_MASK_ADD`] together with [`IN_MASK_CREATE`] make the call fail
/// with `EINVAL` (`false` here). [`IN_SUBTREE`] with [`IN_ONESHOT`] is `EINVAL` too.
pub const fn add_watch_mask_is_valid(mask: u32) -> bool {
    let both = IN_MASK_ADD | IN_MASK_CREATE;
    let subtree_oneshot = IN_SUBTREE | IN_ONESHOT;
    mask & !IN_ADD_WATCH_MASK == 0
        && mask & IN_VALID_MASK != 0
        && mask & both != both
        && mask & subtree_oneshot != subtree_oneshot
}

/// Longest name an event carries (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_names_are_the_valid_bits_in_order() {
        let mut all = 0;
        let mut last = 0;
        for (name, bit) in MASK_NAMES {
            assert_eq!(bit.count_ones(), 1, "{name}");
            assert!(bit > last, "{name} out of order");
            assert!(name.starts_with("IN_"), "{name}");
            all |= bit;
            last = bit;
        }
        assert_eq!(all, IN_VALID_MASK);
    }

    #[test]
    fn add_watch_accepts_events_flags_alone_and_read_only_bits() {
        assert!(add_watch_mask_is_valid(IN_ALL_EVENTS));
        assert!(add_watch_mask_is_valid(IN_CREATE));
        assert!(add_watch_mask_is_valid(IN_DONT_FOLLOW));
        assert!(add_watch_mask_is_valid(IN_IGNORED));
        assert!(add_watch_mask_is_valid(IN_CREATE | IN_MASK_ADD));
    }

    #[test]
    fn add_watch_refuses_unknown_bits_no_bits_and_mask_add_with_mask_create() {
        assert!(!add_watch_mask_is_valid(0));
        assert!(!add_watch_mask_is_valid(0x1000));
        assert!(!add_watch_mask_is_valid(IN_CREATE | 0x1000));
        assert!(!add_watch_mask_is_valid(
            IN_OPEN | IN_MASK_ADD | IN_MASK_CREATE
        ));
    }

    #[test]
    fn the_subtree_bit_is_no_linux_bit_and_is_accepted_only_with_an_event_and_without_oneshot() {
        assert_eq!(IN_SUBTREE & IN_VALID_MASK, 0);
        assert_eq!(IN_SUBTREE.count_ones(), 1);
        assert!(add_watch_mask_is_valid(IN_CREATE | IN_SUBTREE));
        assert!(!add_watch_mask_is_valid(IN_SUBTREE));
        assert!(!add_watch_mask_is_valid(
            IN_CREATE | IN_SUBTREE | IN_ONESHOT
        ));
        assert!(!add_watch_mask_is_valid(
            IN_CREATE | IN_SUBTREE | 0x0001_0000
        ));
    }
}
