//! Ordering: the events of an operation that has returned are readable by the program's next
//! read, even when the filesystem's readiness post has not reached inotifyd yet (on Redox the
//! post and the next request can arrive in either order).

mod e2e_support;

use e2e_support::{line, World};
use inotify_abi::consts::{IN_ATTRIB, IN_CREATE};

#[test]
fn a_read_sees_facts_whose_readiness_has_not_arrived() {
    let (w, gate) = World::gated("order", 64 * 1024);
    let d = w.watch("", IN_CREATE | IN_ATTRIB);
    gate.close();
    w.user.create(&w.p("a"), 0o644).unwrap();
    // One non-blocking read, no retry: the event must already be there.
    let mut buf = vec![0u8; 4096];
    let evs = w
        .inotify
        .read_events(&mut buf)
        .expect("the CREATE is queued");
    assert_eq!(
        evs.iter().map(line).collect::<Vec<_>>(),
        [format!("{d} CREATE a")]
    );
    // FIONREAD sees facts the same way.
    let fd = w.user.open(&w.p("a"), inotify_host::O_PATH).unwrap();
    w.user.fchmod(fd, 0o600).unwrap();
    w.user.close(fd).unwrap();
    assert_eq!(w.inotify.queued_bytes().unwrap(), 32);
    gate.open();
    assert_eq!(w.lines(1), [format!("{d} ATTRIB a")]);
}
