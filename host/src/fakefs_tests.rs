//! Tests of the scripted filesystem.

use std::time::Duration;

use inotify_abi::feed::{Batch, Fact, Interest, Subject, INTEREST_LEN};
use inotify_abi::proto::FEED_DUP_NAME;
use inotify_abi::WireError;
use syscall::error::{
    Error, EACCES, EAGAIN, EEXIST, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, EOPNOTSUPP, EROFS,
};
use syscall::flag::{
    EventFlags, MODE_DIR, MODE_FILE, MODE_SYMLINK, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW,
    O_RDONLY, O_RDWR, O_WRONLY,
};

use super::*;
use crate::{Kernel, O_PATH};

/// A tree: /d (2), /d/f (3, "hello"), /d/sub (4), /ln -> d/f (5), /up -> d/sub/.. (6),
/// /loop -> loop (7).
fn tree() -> (Kernel, FakeFs) {
    let kernel = Kernel::new();
    let fs = FakeFs::start(&kernel).unwrap();
    fs.mkdir("d", 2, 0o750, 1000, 100);
    fs.create("d/f", 3, 0o640, 1000, 100);
    fs.set_contents("d/f", b"hello");
    fs.mkdir("d/sub", 4, 0o700, 0, 0);
    fs.symlink("ln", "d/f", 5);
    fs.symlink("up", "/d/sub/..", 6);
    fs.symlink("loop", "loop", 7);
    (kernel, fs)
}

#[test]
fn lookup_stat_and_path() {
    let (kernel, _fs) = tree();
    let p = kernel.process(10, 1000, 100);
    let root = p.open("/scheme/file", O_RDONLY).unwrap();
    let st = p.fstat(root).unwrap();
    assert_eq!(
        (st.st_ino, st.st_mode, st.st_nlink),
        (ROOT_INO, MODE_DIR | 0o755, 3)
    );
    assert_eq!(p.fpath_string(root).unwrap(), "/scheme/file");
    let f = p.open("/d/f", O_RDONLY).unwrap();
    let st = p.fstat(f).unwrap();
    assert_eq!(
        (st.st_ino, st.st_mode, st.st_uid, st.st_gid),
        (3, MODE_FILE | 0o640, 1000, 100)
    );
    assert_eq!(st.st_size, 5);
    assert_eq!(p.fpath_string(f).unwrap(), "/scheme/file/d/f");
    let mut buf = [0u8; 3];
    assert_eq!(p.read(f, &mut buf).unwrap(), 3);
    assert_eq!(p.read(f, &mut buf).unwrap(), 2);
    assert_eq!(&buf[..2], b"lo");
    // Symlinks are followed, and the path is the resolved one.
    let ln = p.open("/ln", O_RDONLY).unwrap();
    assert_eq!(p.fstat(ln).unwrap().st_ino, 3);
    assert_eq!(p.fpath_string(ln).unwrap(), "/scheme/file/d/f");
    let up = p.open("/up", O_RDONLY | O_DIRECTORY).unwrap();
    assert_eq!(p.fstat(up).unwrap().st_ino, 2);
    // O_NOFOLLOW with O_PATH opens the link itself; without, ELOOP.
    let link = p.open("/ln", O_PATH | O_NOFOLLOW).unwrap();
    let st = p.fstat(link).unwrap();
    assert_eq!((st.st_ino, st.st_mode), (5, MODE_SYMLINK | 0o777));
    assert_eq!(
        p.open("/ln", O_RDONLY | O_NOFOLLOW).unwrap_err(),
        Error::new(ELOOP)
    );
    assert_eq!(p.open("/loop", O_RDONLY).unwrap_err(), Error::new(ELOOP));
    // Relative to a directory fd.
    let d = p.open("/d", O_RDONLY | O_DIRECTORY).unwrap();
    let sub = p.openat(d, "sub", O_PATH).unwrap();
    assert_eq!(p.fstat(sub).unwrap().st_ino, 4);
    assert_eq!(p.fpath_string(sub).unwrap(), "/scheme/file/d/sub");
    // Errors.
    assert_eq!(
        p.open("/d/f", O_RDONLY | O_DIRECTORY).unwrap_err(),
        Error::new(ENOTDIR)
    );
    assert_eq!(p.open("/d/f/x", O_RDONLY).unwrap_err(), Error::new(ENOTDIR));
    assert_eq!(p.open("/d/nope", O_RDONLY).unwrap_err(), Error::new(ENOENT));
    assert_eq!(p.open("/d", O_WRONLY).unwrap_err(), Error::new(EISDIR));
    assert_eq!(
        p.open("/d/new", O_CREAT | O_WRONLY).unwrap_err(),
        Error::new(EROFS)
    );
    assert_eq!(
        p.open("/d/f", O_CREAT | O_EXCL | O_RDWR).unwrap_err(),
        Error::new(EEXIST)
    );
    assert_eq!(
        p.open("/x/new", O_CREAT | O_WRONLY).unwrap_err(),
        Error::new(ENOENT)
    );
}

#[test]
fn feed_is_root_only() {
    let (kernel, fs) = tree();
    let user = kernel.process(10, 1000, 100);
    let fd = user.open("/d", O_RDONLY).unwrap();
    assert_eq!(user.dup(fd, FEED_DUP_NAME).unwrap_err(), Error::new(EACCES));
    assert_eq!(user.dup(fd, b"other").unwrap_err(), Error::new(EINVAL));
    let root = kernel.process(11, 0, 0);
    let fd = root.open("/d", O_RDONLY).unwrap();
    fs.set_feed_enabled(false);
    assert_eq!(
        root.dup(fd, FEED_DUP_NAME).unwrap_err(),
        Error::new(EOPNOTSUPP)
    );
    fs.set_feed_enabled(true);
    root.dup(fd, FEED_DUP_NAME).unwrap();
    assert_eq!(fs.feed_opens(), 1);
}

/// Reads one feed batch (non-blocking) and returns its first seq and facts, owned.
fn read_batch(p: &crate::Process, feed: usize, buf: &mut [u8]) -> (u64, usize, Vec<u8>) {
    let n = p.read(feed, buf).unwrap();
    let batch = Batch::new_checked(&buf[..n]).unwrap();
    let facts = batch
        .facts()
        .collect::<Result<Vec<_>, WireError>>()
        .unwrap();
    (batch.header().first_seq, facts.len(), buf[..n].to_vec())
}

#[test]
fn feed_end_to_end() {
    let (kernel, fs) = tree();
    let root = kernel.process(11, 0, 0);
    let dir = root.open("/d", O_RDONLY).unwrap();
    let feed = root.dup(dir, FEED_DUP_NAME).unwrap();
    let q = root.event_queue();
    q.subscribe(feed, EventFlags::EVENT_READ).unwrap();
    assert_eq!(q.try_next(), None);
    let mut buf = [0u8; 4096];
    assert_eq!(root.read(feed, &mut buf).unwrap_err(), Error::new(EAGAIN));

    let at = Subject {
        ino: 3,
        is_dir: false,
        dir: 2,
        name: b"f",
        detached: false,
    };
    let facts = [
        Fact::Created {
            dir: 2,
            name: b"g",
            ino: 9,
            is_dir: false,
        },
        Fact::Modified(at),
        Fact::Closed { at, wrote: true },
    ];
    fs.push(&facts);
    assert_eq!(
        q.wait(Duration::from_secs(5)),
        Some((feed, EventFlags::EVENT_READ))
    );
    // A push onto a non-empty feed posts nothing more.
    fs.push(&[Fact::Unmounted]);
    assert_eq!(q.try_next(), None);
    let n = root.read(feed, &mut buf).unwrap();
    let batch = Batch::new_checked(&buf[..n]).unwrap();
    assert_eq!((batch.header().first_seq, batch.header().count), (1, 4));
    let got: Vec<_> = batch.facts().map(Result::unwrap).collect();
    assert_eq!(got[..3], facts);
    assert_eq!(got[3], Fact::Unmounted);
    assert_eq!(root.read(feed, &mut buf).unwrap_err(), Error::new(EAGAIN));

    // Small reads split batches; seqs stay consecutive.
    fs.push(&facts);
    assert_eq!(
        q.wait(Duration::from_secs(5)),
        Some((feed, EventFlags::EVENT_READ))
    );
    let mut small = [0u8; 24 + 56];
    let (seq, count, _) = read_batch(&root, feed, &mut small);
    assert_eq!((seq, count), (5, 1));
    // What a read leaves behind is announced again (the reader may stop at a short read).
    assert_eq!(q.try_next(), Some((feed, EventFlags::EVENT_READ)));
    let (seq, count, _) = read_batch(&root, feed, &mut buf);
    assert_eq!((seq, count), (6, 2));
    assert_eq!(
        root.read(feed, &mut [0u8; 30]).unwrap_err(),
        Error::new(EAGAIN)
    );

    // A gap ends a batch; the next one starts past it.
    fs.push(&facts[..1]);
    fs.skip_seqs(5);
    fs.push(&facts[..1]);
    let (seq, count, _) = read_batch(&root, feed, &mut buf);
    assert_eq!((seq, count), (8, 1));
    let (seq, count, _) = read_batch(&root, feed, &mut buf);
    assert_eq!((seq, count), (14, 1));
    // The push's edge, then the batch the first read left behind.
    assert_eq!(q.try_next(), Some((feed, EventFlags::EVENT_READ)));
    assert_eq!(q.try_next(), Some((feed, EventFlags::EVENT_READ)));
    assert_eq!(q.try_next(), None);

    // Raw bytes come back as they are; too small a buffer is EINVAL.
    fs.push_raw_batch(b"garbage");
    assert_eq!(
        q.wait(Duration::from_secs(5)),
        Some((feed, EventFlags::EVENT_READ))
    );
    assert_eq!(
        root.read(feed, &mut [0u8; 3]).unwrap_err(),
        Error::new(EINVAL)
    );
    let n = root.read(feed, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"garbage");
    assert_eq!(
        Batch::new_checked(&buf[..n]).unwrap_err(),
        WireError::Truncated
    );
    assert!(!fs.feed_pending());

    // Subscribing while facts are pending reports them at once.
    fs.push(&facts[..1]);
    let q2 = root.event_queue();
    q2.subscribe(feed, EventFlags::EVENT_READ).unwrap();
    assert_eq!(q2.try_next(), Some((feed, EventFlags::EVENT_READ)));
}

#[test]
fn interest_messages_are_recorded() {
    let (kernel, fs) = tree();
    let root = kernel.process(11, 0, 0);
    let dir = root.open("/d", O_RDONLY).unwrap();
    let feed = root.dup(dir, FEED_DUP_NAME).unwrap();
    let msgs = [
        Interest::Add(2),
        Interest::Add(3),
        Interest::Add(2),
        Interest::Remove(2),
    ];
    let mut buf = vec![0u8; msgs.len() * INTEREST_LEN];
    for (i, m) in msgs.iter().enumerate() {
        m.emit(&mut buf[i * INTEREST_LEN..]).unwrap();
    }
    assert_eq!(root.write(feed, &buf).unwrap(), buf.len());
    assert_eq!(fs.interests(), msgs);
    assert_eq!(
        fs.interest_set().into_iter().collect::<Vec<_>>(),
        [(2, 1), (3, 1)]
    );
    // A malformed message changes nothing.
    assert_eq!(
        root.write(feed, &buf[..17]).unwrap_err(),
        Error::new(EINVAL)
    );
    let mut clear = [0u8; INTEREST_LEN];
    Interest::Clear.emit(&mut clear).unwrap();
    root.write(feed, &clear).unwrap();
    assert!(fs.interest_set().is_empty());
    assert_eq!(fs.interests().len(), 5);
    // Closing handles is seen by the filesystem.
    root.close(feed).unwrap();
    root.close(dir).unwrap();
    root.fstat(root.open("/d", O_RDONLY).unwrap()).unwrap();
    assert_eq!(fs.closed().len(), 2);
}
