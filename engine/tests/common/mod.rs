//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use inotify_abi::event::Events;
use inotify_engine::{Engine, FsId, InodeKey, InstanceId, Limits, Subject, Target};

/// The filesystem most tests use.
pub const FS: FsId = 7;
/// A directory inode.
pub const DIR: u64 = 2;
/// A second directory inode.
pub const DIR2: u64 = 3;
/// A file inode.
pub const FILE: u64 = 10;
/// A second file inode.
pub const FILE2: u64 = 11;

/// One event as read: (wd, mask, cookie, name).
pub type Ev = (i32, u32, u32, String);

/// Builds an expected event.
pub fn ev(wd: i32, mask: u32, cookie: u32, name: &str) -> Ev {
    (wd, mask, cookie, name.to_string())
}

/// Parses a read buffer into events.
pub fn parse(buf: &[u8]) -> Vec<Ev> {
    Events::new(buf)
        .map(|e| {
            (
                e.wd,
                e.mask,
                e.cookie,
                String::from_utf8(e.name.to_vec()).unwrap(),
            )
        })
        .collect()
}

/// Reads everything queued on `inst` (empty when nothing is).
pub fn drain(e: &mut Engine, inst: InstanceId) -> Vec<Ev> {
    let mut buf = vec![0u8; 1 << 20];
    match e.read(inst, &mut buf) {
        Ok(n) => {
            assert_eq!(e.queued_bytes(inst), 0, "one big read takes everything");
            parse(&buf[..n])
        }
        Err(_) => Vec::new(),
    }
}

/// An engine with default limits and one instance for uid 1000.
pub fn setup() -> (Engine, InstanceId) {
    let mut e = Engine::new(Limits::default());
    let i = e.create_instance(1000).unwrap();
    (e, i)
}

/// A target on [`FS`].
pub fn file(ino: u64) -> Target {
    Target {
        key: InodeKey { fs: FS, ino },
        is_dir: false,
    }
}

/// A directory target on [`FS`].
pub fn dir(ino: u64) -> Target {
    Target {
        key: InodeKey { fs: FS, ino },
        is_dir: true,
    }
}

/// A subject reached as `name` in `dir`.
pub fn at(ino: u64, dir: u64, name: &'static str) -> Subject<'static> {
    Subject {
        ino,
        is_dir: false,
        dir,
        name: name.as_bytes(),
        detached: false,
    }
}

/// A subject reached through a handle opened as `name` in `dir`, a name removed since.
pub fn gone(ino: u64, dir: u64, name: &'static str) -> Subject<'static> {
    Subject {
        detached: true,
        ..at(ino, dir, name)
    }
}
