//! Redox: the target reached through the interposer's own fds, credential workers, and
//! installation in a namespace (docs/redox.md, "The interposer").
//!
//! Credentials: the kernel copies the calling context's `euid`/`egid` into every request,
//! and the process manager sets them for all threads of a process at once. So forwards as
//! callers other than the interposer go to a worker process per credential pair
//! ([`Workers`]): the interposer's own binary, started with [`WORKER_ARG`], which drops to
//! the caller's ids for good (real, effective and saved) before it serves, and reaches the
//! target only through the root fd it inherits. The interposer's own process forwards as
//! itself (root), and as a caller only in the fallback cases of [`Workers`], through a
//! [`CredGate`] that switches its ids (`setresuid`/`setresgid`; uid 0 stays the saved id to
//! switch back): forwards with the same ids run together, a switch waits until none is in
//! flight.

use std::io;
use std::process::{Command, Stdio};
use std::sync::Arc;

use inotify_abi::proto::INIT_NOTIFY_ENV;
use libredox::call as rc;
use libredox::flag;
use libredox::protocol::NsDup;
use syscall::error::{Error, Result, EINVAL, EPERM};
use syscall::flag::EventFlags;
use syscall::number::{SYS_FEVENT, SYS_READ2, SYS_WRITE2};
use syscall::{Stat, TimeSpec};

use redox_scheme::{Response, SignalBehavior, Socket};

use super::gate::CredGate;
use super::redox_calls as calls;
use super::workers::{Link, Spawn, Workers};
use super::{worker, Creds, Interposer, Respond, Target, DEFAULT_FEED_CAPACITY, ROOT_ID};

extern "C" {
    /// relibc: sets real, effective and saved user ids (`-1`: unchanged).
    fn setresuid(ruid: u32, euid: u32, suid: u32) -> i32;
    /// relibc: sets real, effective and saved group ids (`-1`: unchanged).
    fn setresgid(rgid: u32, egid: u32, sgid: u32) -> i32;
    /// relibc: the real, effective and saved user ids.
    fn getresuid(ruid: *mut u32, euid: *mut u32, suid: *mut u32) -> i32;
    /// relibc: the real, effective and saved group ids.
    fn getresgid(rgid: *mut u32, egid: *mut u32, sgid: *mut u32) -> i32;
}

/// The first argument that makes the interposer's binary a worker:
/// `inotify-interposer --worker ROOT_FD NAME UID GID`.
pub const WORKER_ARG: &str = "--worker";

/// Unchanged id for `setres*id`.
const KEEP: u32 = u32::MAX;

/// The target filesystem through the interposer's fds.
pub struct RedoxTarget {
    /// Fd on the target's root, opened before the interposer took the name.
    root: usize,
    /// The target's scheme name.
    name: String,
    /// The process's effective ids and the forwards in flight with them.
    gate: CredGate,
    /// The process manager's capability to read any process's ids (as redoxfs opens it).
    proc_creds: Option<usize>,
}

impl RedoxTarget {
    /// Opens the root of scheme `name` in the current namespace (do this before taking the
    /// name). The process must run as root.
    pub fn open(name: &str) -> Result<Self> {
        let root = rc::open(
            format!("/scheme/{name}"),
            flag::O_DIRECTORY | flag::O_PATH,
            0,
        )
        .map_err(|e| Error::new(e.errno()))?;
        Ok(RedoxTarget {
            root,
            name: name.to_string(),
            gate: CredGate::new(Creds::OWN),
            // Close-on-exec: no worker inherits it.
            proc_creds: rc::open(
                "/scheme/proc/proc-creds-capability",
                flag::O_RDONLY | flag::O_CLOEXEC,
                0,
            )
            .ok(),
        })
    }

    /// The target through root fd `root` (inherited), for a worker that runs as `who`.
    fn inherited(root: usize, name: &str, who: Creds) -> Self {
        RedoxTarget {
            root,
            name: name.to_string(),
            gate: CredGate::new(who),
            proc_creds: None,
        }
    }

    /// Runs `f` with the process's effective ids set to `who`.
    fn as_<R>(&self, who: Creds, f: impl FnOnce() -> Result<R>) -> Result<R> {
        self.gate.run(who, switch_ids, f)
    }
}

/// Sets the process's real and effective ids to `who`, keeping the saved uid 0 to come back:
/// back to euid 0 first, then the group, then the user, so that each step is allowed. The
/// real ids change too because a filesystem that asks the process manager for a request's
/// ids (redoxfs does, for requests that carry none) reads the real ones.
fn switch_ids(who: Creds) -> Result<()> {
    // SAFETY: plain libc calls with integer arguments.
    let ok = unsafe {
        setresuid(KEEP, 0, KEEP) == 0
            && setresgid(who.gid, who.gid, KEEP) == 0
            && setresuid(who.uid, who.uid, KEEP) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(Error::new(EPERM))
    }
}

/// An errno from libredox.
fn lr<T>(r: core::result::Result<T, libredox::error::Error>) -> Result<T> {
    r.map_err(|e| Error::new(e.errno()))
}

impl Target for RedoxTarget {
    fn root(&self) -> usize {
        self.root
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn openat(&self, who: Creds, dir: usize, path: &str, flags: usize) -> Result<usize> {
        let fcntl = (flags & (syscall::flag::O_ACCMODE | syscall::flag::O_FCNTL_MASK)) as u32;
        self.as_(who, || lr(rc::openat(dir, path, flags as i32, fcntl)))
    }
    fn close(&self, fd: usize) {
        let _ = rc::close(fd);
    }
    fn dup(&self, who: Creds, fd: usize, name: &[u8]) -> Result<usize> {
        self.as_(who, || lr(rc::dup(fd, name)))
    }
    fn read(
        &self,
        who: Creds,
        fd: usize,
        buf: &mut [u8],
        offset: u64,
        flags: usize,
    ) -> Result<usize> {
        // As in `write`: an empty buffer of our own.
        let mut none = [0u8; 1];
        let buf = if buf.is_empty() { &mut none[..0] } else { buf };
        let (ptr, len) = (buf.as_mut_ptr() as usize, buf.len());
        // SAFETY: `buf` is valid for writes of `len` bytes for the whole call.
        self.as_(who, || unsafe {
            syscall::syscall5(SYS_READ2, fd, ptr, len, offset as usize, flags)
        })
    }
    fn write(&self, who: Creds, fd: usize, buf: &[u8], offset: u64) -> Result<usize> {
        // An empty request buffer may come at an address the kernel refuses in a request of
        // ours (a zero-byte write was answered EFAULT): forward one of our own.
        let none = [0u8; 1];
        let buf = if buf.is_empty() { &none[..0] } else { buf };
        let (ptr, len) = (buf.as_ptr() as usize, buf.len());
        // SAFETY: `buf` is valid for reads of `len` bytes for the whole call.
        self.as_(who, || unsafe {
            syscall::syscall5(SYS_WRITE2, fd, ptr, len, offset as usize, usize::MAX)
        })
    }
    fn fstat(&self, who: Creds, fd: usize) -> Result<Stat> {
        self.as_(who, || {
            let mut st = Stat::default();
            syscall::fstat(fd, &mut st)?;
            Ok(st)
        })
    }
    fn fpath(&self, who: Creds, fd: usize, buf: &mut [u8]) -> Result<usize> {
        self.as_(who, || syscall::fpath(fd, buf))
    }
    fn fsize(&self, who: Creds, fd: usize) -> Result<u64> {
        self.fstat(who, fd).map(|s| s.st_size)
    }
    fn fchmod(&self, who: Creds, fd: usize, mode: u16) -> Result<()> {
        self.as_(who, || lr(rc::fchmod(fd, mode)))
    }
    fn fchown(&self, who: Creds, fd: usize, uid: u32, gid: u32) -> Result<()> {
        self.as_(who, || lr(rc::fchown(fd, uid, gid)))
    }
    fn ftruncate(&self, who: Creds, fd: usize, len: u64) -> Result<()> {
        self.as_(who, || lr(rc::ftruncate(fd, len as usize)))
    }
    fn fsync(&self, who: Creds, fd: usize) -> Result<()> {
        self.as_(who, || lr(rc::fsync(fd)))
    }
    fn futimens(&self, who: Creds, fd: usize, times: &[TimeSpec]) -> Result<()> {
        let omit = TimeSpec {
            tv_sec: 0,
            tv_nsec: (1 << 30) - 2,
        };
        let now = TimeSpec {
            tv_sec: 0,
            tv_nsec: (1 << 30) - 1,
        };
        let pair = match times {
            [] => [now, now],
            [a] => [*a, omit],
            [a, m, ..] => [*a, *m],
        }
        .map(|t| libredox::data::TimeSpec {
            tv_sec: t.tv_sec,
            tv_nsec: t.tv_nsec.into(),
        });
        self.as_(who, || lr(rc::futimens(fd, &pair)))
    }
    fn fcntl(&self, who: Creds, fd: usize, cmd: usize, arg: usize) -> Result<usize> {
        self.as_(who, || syscall::fcntl(fd, cmd, arg))
    }
    fn fevent(&self, who: Creds, fd: usize, flags: EventFlags) -> Result<EventFlags> {
        // SAFETY: no pointers.
        self.as_(who, || unsafe {
            syscall::syscall2(SYS_FEVENT, fd, flags.bits())
        })
        .map(EventFlags::from_bits_retain)
    }
    fn getdents(
        &self,
        who: Creds,
        fd: usize,
        buf: &mut [u8],
        header_size: u16,
        opaque: u64,
    ) -> Result<usize> {
        if usize::from(header_size) != size_of::<syscall::dirent::DirentHeader>() {
            return Err(Error::new(EINVAL));
        }
        self.as_(who, || lr(rc::getdents(fd, buf, opaque)))
    }
    fn unlinkat(&self, who: Creds, dir: usize, path: &str, flags: usize) -> Result<()> {
        self.as_(who, || syscall::unlinkat(dir, path, flags).map(drop))
    }
    fn frenameat(
        &self,
        who: Creds,
        old_dir: usize,
        old: &str,
        new_dir: usize,
        new: &str,
        flags: usize,
    ) -> Result<()> {
        self.as_(who, || calls::frenameat(old_dir, old, new_dir, new, flags))
    }
    fn flinkat(&self, who: Creds, fd: usize, dir: usize, path: &str, f: usize) -> Result<()> {
        self.as_(who, || calls::flinkat(fd, dir, path, f))
    }
    fn frename(&self, who: Creds, fd: usize, path: &str) -> Result<()> {
        let full = format!("/scheme/{}/{}", self.name, path.trim_start_matches('/'));
        self.as_(who, || syscall::frename(fd, &full).map(drop))
    }
    fn flink(&self, who: Creds, fd: usize, path: &str) -> Result<()> {
        let full = format!("/scheme/{}/{}", self.name, path.trim_start_matches('/'));
        self.as_(who, || syscall::flink(fd, &full).map(drop))
    }
    fn caller_creds(&self, pid: usize) -> Option<Creds> {
        // `libredox::protocol::ProcMeta`: pid, pgid, ppid, ruid, euid, suid, rgid, egid, ...
        let mut meta = [0u8; 11 * 4];
        rc::get_proc_credentials(self.proc_creds?, pid, &mut meta).ok()?;
        let word = |i: usize| u32::from_ne_bytes([meta[i], meta[i + 1], meta[i + 2], meta[i + 3]]);
        Some(Creds {
            uid: word(4 * 4),
            gid: word(7 * 4),
        })
    }
    fn call(&self, who: Creds, fd: usize, payload: &mut [u8], metadata: &[u64]) -> Result<usize> {
        self.as_(who, || {
            lr(rc::call_rw(
                fd,
                payload,
                syscall::flag::CallFlags::empty(),
                metadata,
            ))
        })
    }
}

/// Takes scheme `name` in the current namespace for the scheme capability `cap_fd`: the
/// old entry (the real filesystem, already opened with [`RedoxTarget::open`]) is removed
/// and `cap_fd` registered in its place, through the namespace manager (`unlinkat` on the
/// namespace fd needs its `DELETE` permission, the register capability its `INSERT`).
/// `cap_fd` moves to the namespace manager. Every open of `/scheme/<name>/...` in this
/// namespace from then on reaches the interposer; fds opened before stay on the real
/// filesystem.
pub fn take_name(name: &str, cap_fd: usize) -> Result<()> {
    let ns = lr(rc::getns())?;
    // The register capability first, so that nothing fails between removing the name and
    // registering it again.
    let mut req = Vec::with_capacity(size_of::<usize>() + name.len());
    req.extend_from_slice(&(NsDup::IssueRegister as usize).to_ne_bytes());
    req.extend_from_slice(name.as_bytes());
    let register = lr(rc::dup(ns, &req))?;
    let taken = syscall::unlinkat(ns, format!("/scheme/{name}"), 0).and_then(|_| {
        // With CallFlags::FD the fd moves to the namespace manager.
        lr(rc::call_wo(
            register,
            &cap_fd.to_ne_bytes(),
            syscall::flag::CallFlags::FD,
            &[],
        ))
    });
    let _ = rc::close(register);
    taken.map(drop)
}

/// Responses through the scheme socket.
struct SocketRespond(Arc<Socket>);

impl Respond for SocketRespond {
    fn respond(&self, resp: Response) {
        if let Err(e) = self.0.write_response(resp, SignalBehavior::Restart) {
            log::warn!("interposer: write_response: {e}");
        }
    }
}

/// Tells init that the name is taken, when started as a service of `type = "notify"`: init
/// waits for one byte on the fd it passes in `INIT_NOTIFY` before it starts the next
/// service, so every later service opens `name` through the interposer. Started by hand
/// (no `INIT_NOTIFY`), nothing to do.
fn notify_init() -> Result<()> {
    let Ok(value) = std::env::var(INIT_NOTIFY_ENV) else {
        return Ok(());
    };
    let fd: usize = value.trim().parse().map_err(|_| Error::new(EINVAL))?;
    let sent = lr(rc::write(fd, &[1]));
    let _ = rc::close(fd);
    sent.map(drop)
}

/// Starts workers: this program again, with [`WORKER_ARG`], the root fd (inherited: it is
/// opened without `O_CLOEXEC`; the interposer's other fds are close-on-exec) and the ids;
/// requests on its standard input, replies on its standard output.
struct ExecSpawn {
    /// This program.
    exe: std::path::PathBuf,
    /// The target's root fd.
    root: usize,
    /// The target's scheme name.
    name: String,
}

impl Spawn for ExecSpawn {
    fn spawn(&self, who: Creds) -> io::Result<Link> {
        let mut child = Command::new(&self.exe)
            .arg(WORKER_ARG)
            .arg(self.root.to_string())
            .arg(&self.name)
            .arg(who.uid.to_string())
            .arg(who.gid.to_string())
            .env_remove(INIT_NOTIFY_ENV)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (Some(to), Some(from)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("worker pipes"));
        };
        log::info!(
            "worker for uid {} gid {} started (pid {})",
            who.uid,
            who.gid,
            child.id()
        );
        Ok(Link {
            to: Box::new(to),
            from: Box::new(from),
            end: Box::new(move || {
                let _ = child.kill();
                let _ = child.wait();
            }),
        })
    }
}

/// Sets all of this process's ids (real, effective, saved) to `who`, for good, and checks
/// that they are: a worker can never act as anyone else.
fn become_for_good(who: Creds) -> Result<()> {
    let (mut u, mut g) = ([0u32; 3], [0u32; 3]);
    // SAFETY: libc calls with integer arguments and pointers to live locals.
    let ok = unsafe {
        setresgid(who.gid, who.gid, who.gid) == 0
            && setresuid(who.uid, who.uid, who.uid) == 0
            && getresuid(&mut u[0], &mut u[1], &mut u[2]) == 0
            && getresgid(&mut g[0], &mut g[1], &mut g[2]) == 0
    };
    if ok && u == [who.uid; 3] && g == [who.gid; 3] {
        Ok(())
    } else {
        Err(Error::new(EPERM))
    }
}

/// The worker: `args` are what follows [`WORKER_ARG`] (root fd, scheme name, uid, gid). Drops
/// to the ids for good, checks the inherited root fd, and serves requests from standard
/// input until it ends, then exits. Returns only on a failure before serving.
pub fn run_worker(args: &[String]) -> Result<std::convert::Infallible> {
    let [root, name, uid, gid] = args else {
        return Err(Error::new(EINVAL));
    };
    let num = |s: &String| s.parse::<u32>().map_err(|_| Error::new(EINVAL));
    let root: usize = root.parse().map_err(|_| Error::new(EINVAL))?;
    let who = Creds {
        uid: num(uid)?,
        gid: num(gid)?,
    };
    become_for_good(who)?;
    let target = RedoxTarget::inherited(root, name, who);
    target.fstat(who, root)?;
    worker::serve(Arc::new(target), who, io::stdin(), io::stdout(), || {
        std::process::exit(0)
    });
    std::process::exit(0)
}

/// The whole service: opens the real `name` (its root), creates the scheme socket, takes
/// `name` in the current namespace, tells init (service `type = "notify"`) and serves until
/// the socket closes. Run as root, in the namespace whose processes are to see the
/// interposer, before they open `name`.
pub fn run(name: &str) -> Result<()> {
    let local = RedoxTarget::open(name)?;
    // Without a path to this program, no worker starts: forwards fall back to the gate.
    let exe = std::env::current_exe().unwrap_or_else(|_| "inotify-interposer".into());
    let spawn = ExecSpawn {
        exe,
        root: local.root,
        name: name.to_string(),
    };
    let target = Workers::new(local, spawn);
    let socket = Arc::new(Socket::create()?);
    let interposer = Interposer::new(target, name, DEFAULT_FEED_CAPACITY)?;
    let cap_fd = socket.create_this_scheme_fd(0, ROOT_ID, 0, 0)?;
    take_name(name, cap_fd)?;
    notify_init()?;
    let requests = Arc::clone(&socket);
    let next = move || {
        requests
            .next_request(SignalBehavior::Restart)
            .ok()
            .flatten()
    };
    super::serve(&interposer, next, SocketRespond(socket));
    Ok(())
}
