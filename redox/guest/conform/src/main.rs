//! `guest-conform [DIR [NAME]]` (or `guest-conform --print FILE...`): replays the conformance scenarios (`conformance/scenarios`) inside
//! Redox, against `/scheme/inotify` through the client library and relibc's file calls on
//! a fresh directory under DIR (default `/tmp`), and compares each step's normalised output
//! with the Linux kernel's, recorded on the host by `inotify-conform --write-expected`
//! (`conformance/expected`). Steps and scenarios declared to differ (`differs`) may differ,
//! and so may the steps where Redox's filesystem and C library are declared to differ
//! (`inotify_conformance::redox`, `docs/semantics.md` R1...); such a declared step that gives
//! Linux's output after all fails the scenario (the declaration is stale).
//! Prints `inotifyd guest run: commit C` first and `guest-conformance: N passed, M failed`
//! last; scenarios that cannot run here are listed as `skip NAME: why` and not counted.

use std::collections::HashMap;
use std::path::PathBuf;

use inotify_client::{Inotify, RedoxOs, IN_CLOEXEC, IN_NONBLOCK};
use inotify_conformance::backend::{Backend, Errno, Res};
use inotify_conformance::exec::{self, Verdict};
use inotify_conformance::names::redox_errno_name;
use inotify_conformance::posix::Posix;
use inotify_conformance::redox;
use inotify_conformance::script::{self, InitFlags, Op, Scenario};

/// (name, scenario text, recorded Linux outputs) for every scenario file.
const SCENARIOS: &[(&str, &str, Option<&str>)] =
    include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));

/// The tunable file of the queue limit.
const MAX_QUEUED: &str = "/scheme/inotify/max_queued_events";

/// The current errno as a name.
fn errno() -> Errno {
    redox_errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// A client error as a name.
fn name(e: syscall::Error) -> Errno {
    redox_errno_name(e.errno)
}

/// Maps a `-1`-on-error return to a result.
fn check(r: isize) -> Res<isize> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// Sets the effective uid and gid (the real and saved ids stay root's, so root can come back).
fn set_cred((uid, gid): (u32, u32)) -> Res<()> {
    let keep = u32::MAX;
    // SAFETY: plain calls on this process's credentials.
    unsafe {
        check(libc::setresuid(keep, 0, keep) as isize)?;
        check(libc::setresgid(keep, gid, keep) as isize)?;
        check(libc::setresuid(keep, uid, keep) as isize)?;
    }
    Ok(())
}

/// The Redox backend: a fresh directory on the root filesystem and inotifyd.
struct Redox {
    /// The scenario directory (removed on drop) and relibc's file calls on it.
    fs: Posix,
    /// Instances by fd, with the credentials they were made with.
    insts: HashMap<u64, (Inotify<RedoxOs>, (u32, u32))>,
    /// Current credentials (`user` steps).
    cred: (u32, u32),
    /// The queue limit before the scenario changed it.
    saved_max_queued: Option<String>,
}

impl Redox {
    /// A backend on the new directory `root`.
    fn new(root: PathBuf) -> std::io::Result<Self> {
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root)?;
        Ok(Redox {
            fs: Posix::new(root, redox_errno_name),
            insts: HashMap::new(),
            cred: (0, 0),
            saved_max_queued: None,
        })
    }

    /// Runs `f` with the credentials instance `inst` was made with.
    fn as_owner<T>(&mut self, inst: u64, f: impl FnOnce(&mut Self) -> T) -> T {
        let cur = self.cred;
        let owner = self.insts.get(&inst).map(|i| i.1).unwrap_or(cur);
        let _ = set_cred(owner);
        let r = f(self);
        let _ = set_cred(cur);
        r
    }

    /// The instance behind a handle.
    fn inst(&self, inst: u64) -> Res<&Inotify<RedoxOs>> {
        self.insts
            .get(&inst)
            .map(|i| &i.0)
            .ok_or_else(|| "EBADF".to_string())
    }
}

impl Drop for Redox {
    fn drop(&mut self) {
        let _ = set_cred((0, 0));
        self.insts.clear();
        if let Some(v) = self.saved_max_queued.take() {
            let _ = std::fs::write(MAX_QUEUED, v);
        }
        let _ = std::fs::remove_dir_all(self.fs.root());
    }
}

impl Backend for Redox {
    fn name(&self) -> &'static str {
        "redox"
    }

    inotify_conformance::posix_file_ops!(fs);

    fn init(&mut self, flags: InitFlags) -> Res<u64> {
        let mut f = flags.extra;
        if flags.nonblock {
            f |= IN_NONBLOCK;
        }
        if flags.cloexec {
            f |= IN_CLOEXEC;
        }
        let ino = Inotify::init1(RedoxOs, f).map_err(name)?;
        let fd = ino.raw_fd() as u64;
        self.insts.insert(fd, (ino, self.cred));
        Ok(fd)
    }

    fn add_watch(&mut self, inst: u64, path: &str, mask: u32) -> Res<i32> {
        let p = self.fs.path(path);
        self.as_owner(inst, |b| b.inst(inst)?.add_watch(&p, mask).map_err(name))
    }

    fn rm_watch(&mut self, inst: u64, wd: i32) -> Res<()> {
        self.inst(inst)?.rm_watch(wd).map_err(name)
    }

    fn read_events(&mut self, inst: u64, len: usize) -> Res<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let n = self.inst(inst)?.read_raw(&mut buf).map_err(name)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn queued_bytes(&mut self, inst: u64) -> Res<usize> {
        self.inst(inst)?.queued_bytes().map_err(name)
    }

    fn close_instance(&mut self, inst: u64) -> Res<()> {
        // Dropping the instance closes it.
        self.insts
            .remove(&inst)
            .map(drop)
            .ok_or_else(|| "EBADF".to_string())
    }

    fn set_user(&mut self, uid: u32, gid: u32) -> Res<()> {
        set_cred((uid, gid))?;
        self.cred = (uid, gid);
        Ok(())
    }

    fn set_max_queued_events(&mut self, n: u32) -> Res<()> {
        let err = |e: std::io::Error| redox_errno_name(e.raw_os_error().unwrap_or(0));
        if self.saved_max_queued.is_none() {
            self.saved_max_queued = Some(std::fs::read_to_string(MAX_QUEUED).map_err(err)?);
        }
        std::fs::write(MAX_QUEUED, format!("{n}\n")).map_err(err)
    }
}

/// Why a scenario cannot run here, if it cannot: checked before it runs.
fn cannot_run(sc: &Scenario, recorded: Option<&str>) -> Option<String> {
    if recorded.is_none() {
        return Some("no recorded Linux output (conformance/expected)".into());
    }
    // `user` steps need a process that can switch its effective ids and back.
    if sc.steps.iter().any(|s| matches!(s.op, Op::User { .. })) {
        let ok = set_cred((1000, 1000)).is_ok() && set_cred((0, 0)).is_ok();
        if !ok {
            return Some(format!(
                "`user` steps: setresuid/setresgid failed: {}",
                errno()
            ));
        }
    }
    if sc.steps.iter().any(|s| matches!(s.op, Op::Set { .. }))
        && std::fs::OpenOptions::new()
            .write(true)
            .open(MAX_QUEUED)
            .is_err()
    {
        return Some(format!(
            "`set max_queued_events`: cannot open {MAX_QUEUED} for writing"
        ));
    }
    None
}

/// `--print FILE...`: runs scenario files (not the embedded ones) and prints their outputs
/// in the recorded format, to see what Redox does.
fn print_outputs(base: &std::path::Path, files: impl Iterator<Item = String>) {
    for (n, f) in files.enumerate() {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                println!("{f}: {e}");
                continue;
            }
        };
        let sc = match script::parse(&f, &text) {
            Ok(sc) => sc,
            Err(e) => {
                println!("{f}: {e}");
                continue;
            }
        };
        match Redox::new(base.join(format!("print-{n}"))) {
            Ok(mut b) => {
                let outs = exec::run(&sc, &mut b);
                println!("=== {f}\n{}", exec::render_outputs(&sc, &outs));
            }
            Err(e) => println!("{f}: cannot make its directory: {e}"),
        }
    }
}

/// The lines a Redox difference declares, as text.
fn spell_lines(d: &redox::RedoxDifference) -> String {
    let mut parts: Vec<String> = d.lines.iter().map(|l| format!("line {l}")).collect();
    if let Some(from) = d.from {
        parts.push(format!("from line {from} on"));
    }
    parts.join(", ")
}

fn main() {
    println!("inotifyd guest run: commit {}", env!("GUEST_COMMIT"));
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "--print") {
        args.next();
        print_outputs(std::path::Path::new("/tmp"), args);
        return;
    }
    let base = PathBuf::from(args.next().unwrap_or_else(|| "/tmp".into()));
    let only = args.next();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (n, (sname, text, recorded)) in SCENARIOS.iter().enumerate() {
        if only.as_ref().is_some_and(|o| !sname.contains(o.as_str())) {
            continue;
        }
        let mut sc = match script::parse(sname, text) {
            Ok(sc) => sc,
            Err(e) => {
                println!("FAIL {sname}: does not parse: {e}");
                failed += 1;
                continue;
            }
        };
        if let Some(why) = cannot_run(&sc, *recorded) {
            println!("skip {sname}: {why}");
            skipped += 1;
            continue;
        }
        let linux = match exec::parse_outputs(&sc, recorded.unwrap_or_default()) {
            Ok(o) => o,
            Err(e) => {
                println!("FAIL {sname}: recorded output unreadable: {e}");
                failed += 1;
                continue;
            }
        };
        let mut b = match Redox::new(base.join(format!("conform-{n}"))) {
            Ok(b) => b,
            Err(e) => {
                println!("FAIL {sname}: cannot make its directory: {e}");
                failed += 1;
                continue;
            }
        };
        let outs = exec::run(&sc, &mut b);
        drop(b);
        redox::declare(&mut sc);
        let mut v = Verdict::default();
        exec::check_expectations(&sc, "redox", false, &outs, &mut v);
        exec::compare(&sc, ["linux", "redox"], &linux, &outs, &mut v);
        for d in redox::differences(sname) {
            for line in d.must_differ() {
                let same = sc
                    .steps
                    .iter()
                    .position(|s| s.line == line)
                    .is_some_and(|i| linux.get(i) == outs.get(i));
                if same {
                    v.failures.push(format!(
                        "{sname}: line {line}: declared Redox difference {} gave Linux's output \
                         (stale declaration)",
                        d.entry
                    ));
                }
            }
        }
        if v.passed() {
            passed += 1;
            println!("pass {sname}");
            for d in &v.declared {
                println!("{d}");
            }
            for d in redox::differences(sname) {
                println!(
                    "{sname}: declared Redox difference {} (docs/semantics.md): {}",
                    d.entry,
                    spell_lines(d)
                );
            }
        } else {
            failed += 1;
            println!("FAIL {sname}");
            for f in &v.failures {
                println!("{f}");
            }
        }
    }
    if skipped > 0 {
        println!("guest-conformance: {skipped} scenarios skipped (listed above)");
    }
    println!("guest-conformance: {passed} passed, {failed} failed");
}
