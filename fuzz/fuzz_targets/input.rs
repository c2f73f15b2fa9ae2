//! Decoding fuzz input into operands and filesystem facts (shared by the targets that need
//! facts; each target includes it with `#[path]`).
#![allow(dead_code)]

use inotify_abi::feed::{Fact, Replaced, Subject};

/// Reads operands from the input; zeros once it runs out.
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    /// The next byte.
    pub fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }
    /// The next `n` bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    /// An inode number, 0 to 7 (0 also stands for "unknown directory").
    pub fn ino(&mut self) -> u64 {
        u64::from(self.byte() % 8)
    }
    /// A name of up to 255 bytes, any bytes (NUL and `/` included: those cannot be encoded).
    pub fn name(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte());
        self.bytes(n)
    }
    /// A subject: flags byte, inode, directory, name.
    pub fn subject(&mut self) -> Subject<'a> {
        let flags = self.byte();
        Subject {
            ino: self.ino(),
            is_dir: flags & 1 != 0,
            dir: self.ino(),
            name: self.name(),
            detached: flags & 2 != 0,
        }
    }
}

/// A fact decoded from the input (never `Lost`: only the producer writes those).
pub fn fact<'a>(inp: &mut Input<'a>) -> Fact<'a> {
    let kind = inp.byte();
    let flags = inp.byte();
    let f = |bit: u8| flags & bit != 0;
    match kind % 14 {
        0 => Fact::Created {
            dir: inp.ino(),
            name: inp.name(),
            ino: inp.ino(),
            is_dir: f(1),
        },
        1 => Fact::Linked {
            dir: inp.ino(),
            name: inp.name(),
            ino: inp.ino(),
        },
        2 => Fact::Unlinked {
            dir: inp.ino(),
            name: inp.name(),
            ino: inp.ino(),
            is_dir: f(1),
            links_left: u64::from(inp.byte() % 3),
            freed: f(2),
        },
        3 => Fact::Renamed {
            old_dir: inp.ino(),
            old_name: inp.name(),
            new_dir: inp.ino(),
            new_name: inp.name(),
            ino: inp.ino(),
            is_dir: f(1),
            replaced: f(2).then(|| Replaced {
                ino: inp.ino(),
                is_dir: f(4),
                links_left: u64::from(f(8)),
                freed: f(16),
            }),
        },
        4 => Fact::Freed {
            ino: inp.ino(),
            is_dir: f(1),
        },
        5 => Fact::Opened(inp.subject()),
        6 => Fact::Accessed(inp.subject()),
        7 => Fact::Modified(inp.subject()),
        8 => Fact::Attrib(inp.subject()),
        9 => Fact::Times {
            at: inp.subject(),
            atime: f(1),
            mtime: f(2),
        },
        10 | 11 => Fact::Closed {
            at: inp.subject(),
            wrote: f(1),
        },
        12 => Fact::Exists {
            dir: inp.ino(),
            name: inp.name(),
            ino: inp.ino(),
        },
        _ => Fact::Unmounted,
    }
}
