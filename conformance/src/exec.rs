//! Running a scenario on a backend, normalising what must differ, and comparing backends.
//!
//! Each step produces a [`StepOut`]: its result lines (checked against `>` expectations and
//! compared between backends) and a detail (compared between backends only: the byte count
//! of an event read, which checks the name padding).
//!
//! Normalisation: wds are renamed `w1, w2, ...` by order of first appearance per instance
//! (`-1` stays); cookies `cookie=1, 2, ...` by order of first appearance across the scenario
//! (0 stays absent); inode numbers `i1, i2, ...` by order of first appearance.

use std::collections::HashMap;
use std::fmt::Write as _;

use inotify_abi::consts::IN_Q_OVERFLOW;
use inotify_abi::event::{Event, HEADER_LEN};

use crate::backend::{Backend, Kind, Res};
use crate::names::mask_name;
use crate::script::{quote_bytes, Op, Scenario, Tunable, WdRef};

/// The normalised output of one step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepOut {
    /// Result lines.
    pub lines: Vec<String>,
    /// Extra facts compared between backends only.
    pub detail: Option<String>,
}

impl StepOut {
    /// A one-line output.
    fn line(s: impl Into<String>) -> Self {
        StepOut {
            lines: vec![s.into()],
            detail: None,
        }
    }
    /// The output in one line (for side-by-side printing).
    pub fn joined(&self) -> String {
        let mut s = self.lines.join(" ; ");
        if let Some(d) = &self.detail {
            let _ = write!(s, " [{d}]");
        }
        s
    }
}

/// What a handle name is bound to on one backend.
#[derive(Debug, Clone, Copy)]
enum Bound {
    /// A file handle.
    File(u64),
    /// An instance, with whether it is non-blocking.
    Instance(u64, bool),
}

/// Per-run renaming of wds, cookies and inode numbers.
#[derive(Default)]
struct Normaliser {
    /// Per instance name: raw wd -> ordinal.
    wds: HashMap<String, HashMap<i32, usize>>,
    /// Raw cookie -> ordinal.
    cookies: HashMap<u32, usize>,
    /// Raw inode -> ordinal.
    inos: HashMap<u64, usize>,
}

impl Normaliser {
    /// `w<n>` for a wd of `inst`; `-1` and other negatives print raw.
    fn wd(&mut self, inst: &str, wd: i32) -> String {
        if wd < 0 {
            return wd.to_string();
        }
        let m = self.wds.entry(inst.to_string()).or_default();
        let next = m.len() + 1;
        format!("w{}", m.entry(wd).or_insert(next))
    }
    /// Ordinal of a non-zero cookie.
    fn cookie(&mut self, c: u32) -> usize {
        let next = self.cookies.len() + 1;
        *self.cookies.entry(c).or_insert(next)
    }
    /// `i<n>` for an inode number.
    fn ino(&mut self, ino: u64) -> String {
        let next = self.inos.len() + 1;
        format!("i{}", self.inos.entry(ino).or_insert(next))
    }
}

/// Prints one event record, normalised: `w1 IN_MOVED_FROM cookie=1 "name"`.
fn event_line(
    norm: &mut Normaliser,
    inst: &str,
    wd: i32,
    mask: u32,
    cookie: u32,
    name: &[u8],
) -> String {
    let mut s = format!("{} {}", norm.wd(inst, wd), mask_name(mask));
    if cookie != 0 {
        let _ = write!(s, " cookie={}", norm.cookie(cookie));
    }
    if !name.is_empty() {
        let _ = write!(s, " {}", quote_bytes(name));
    }
    s
}

/// Decodes the bytes of an event read into lines; reports records that are cut off or
/// padded unlike Linux.
fn event_lines(norm: &mut Normaliser, inst: &str, bytes: &[u8]) -> StepOut {
    let mut out = StepOut::default();
    let mut at = 0;
    let mut problems = Vec::new();
    while at < bytes.len() {
        let Ok(ev) = Event::new_checked(&bytes[at..]) else {
            problems.push(format!("partial record at byte {at}"));
            break;
        };
        let name = ev.name();
        let want_len = inotify_abi::event::padded_name_len(name.len()) as u32;
        if ev.len() != want_len {
            problems.push(format!("len {} (Linux pads to {want_len})", ev.len()));
        }
        if ev.mask() & IN_Q_OVERFLOW != 0 && (ev.wd() != -1 || ev.cookie() != 0 || !ev.is_empty()) {
            problems.push("overflow record not {wd -1, cookie 0, len 0}".to_string());
        }
        out.lines.push(event_line(
            norm,
            inst,
            ev.wd(),
            ev.mask(),
            ev.cookie(),
            name,
        ));
        at += HEADER_LEN.max(ev.total_len());
    }
    if out.lines.is_empty() {
        out.lines.push("(0 bytes)".to_string());
    }
    let mut d = format!("{} bytes", bytes.len());
    for p in problems {
        let _ = write!(d, "; {p}");
    }
    out.detail = Some(d);
    out
}

/// Result of `Res<()>` as a line.
fn unit(r: Res<()>) -> StepOut {
    StepOut::line(match r {
        Ok(()) => "ok".to_string(),
        Err(e) => e,
    })
}

/// Runs every step of `sc` on `b` and returns the normalised outputs, one per step.
pub fn run(sc: &Scenario, b: &mut dyn Backend) -> Vec<StepOut> {
    let mut handles: HashMap<String, Bound> = HashMap::new();
    let mut watches: HashMap<String, i32> = HashMap::new();
    let mut norm = Normaliser::default();
    let mut leaked: Vec<Bound> = Vec::new();
    let mut outs = Vec::with_capacity(sc.steps.len());
    let unbound = |n: &str| StepOut::line(format!("(no handle {n})"));
    for step in &sc.steps {
        let out = match &step.op {
            Op::Mkdir { path, mode } => unit(b.mkdir(path, *mode)),
            Op::Rmdir { path } => unit(b.rmdir(path)),
            Op::Create { path, mode } => {
                let f = crate::script::OpenFlags {
                    write: true,
                    creat: true,
                    trunc: true,
                    ..Default::default()
                };
                unit(b.open(path, f, *mode).and_then(|fd| b.close(fd)))
            }
            Op::Open {
                handle,
                path,
                flags,
            } => match b.open(path, *flags, 0o644) {
                Ok(fd) => {
                    // A rebound name leaves its old file open, as a program would; it is
                    // closed with the rest when the scenario ends.
                    if let Some(old) = handles.insert(handle.clone(), Bound::File(fd)) {
                        leaked.push(old);
                    }
                    StepOut::line("ok")
                }
                Err(e) => {
                    leaked.extend(handles.remove(handle));
                    StepOut::line(e)
                }
            },
            Op::Write { handle, data } => match handles.get(handle) {
                Some(Bound::File(fd)) => {
                    StepOut::line(b.write(*fd, data).map_or_else(|e| e, |n| n.to_string()))
                }
                _ => unbound(handle),
            },
            Op::Read { handle, len } => match handles.get(handle) {
                Some(Bound::File(fd)) => {
                    StepOut::line(b.read(*fd, *len).map_or_else(|e| e, |n| n.to_string()))
                }
                _ => unbound(handle),
            },
            Op::Close { handle } => match handles.remove(handle) {
                Some(Bound::File(fd)) => unit(b.close(fd)),
                Some(Bound::Instance(fd, _)) => unit(b.close_instance(fd)),
                None => unbound(handle),
            },
            Op::Truncate { path, len } => unit(b.truncate(path, *len)),
            Op::Ftruncate { handle, len } => match handles.get(handle) {
                Some(Bound::File(fd)) => unit(b.ftruncate(*fd, *len)),
                _ => unbound(handle),
            },
            Op::Chmod { path, mode } => unit(b.chmod(path, *mode)),
            Op::Chown { path, uid, gid } => unit(b.chown(path, *uid, *gid)),
            Op::Utimes { path, times } => unit(b.utimes(path, *times)),
            Op::Link { old, new } => unit(b.link(old, new)),
            Op::Symlink { target, path } => unit(b.symlink(target, path)),
            Op::Unlink { path } => unit(b.unlink(path)),
            Op::Rename { old, new } => unit(b.rename(old, new)),
            Op::Listdir { path } => StepOut::line(match b.listdir(path) {
                Ok(names) if names.is_empty() => "(empty)".to_string(),
                Ok(names) => names.join(" "),
                Err(e) => e,
            }),
            Op::Stat { path } => StepOut::line(match b.stat(path) {
                Ok(st) => {
                    let ino = norm.ino(st.ino);
                    match st.kind {
                        Kind::Dir => format!("dir nlink={} ino={ino}", st.nlink),
                        Kind::File => format!("file nlink={} size={} ino={ino}", st.nlink, st.size),
                        Kind::Symlink => format!("symlink size={} ino={ino}", st.size),
                        Kind::Other => format!("other nlink={} ino={ino}", st.nlink),
                    }
                }
                Err(e) => e,
            }),
            Op::Init { inst, flags } => match b.init(*flags) {
                Ok(fd) => {
                    if let Some(old) =
                        handles.insert(inst.clone(), Bound::Instance(fd, flags.nonblock))
                    {
                        leaked.push(old);
                    }
                    StepOut::line("ok")
                }
                Err(e) => {
                    leaked.extend(handles.remove(inst));
                    StepOut::line(e)
                }
            },
            Op::AddWatch {
                inst,
                path,
                mask,
                bind,
            } => match handles.get(inst) {
                Some(Bound::Instance(fd, _)) => match b.add_watch(*fd, path, *mask) {
                    Ok(wd) => {
                        if let Some(w) = bind {
                            watches.insert(w.clone(), wd);
                        }
                        StepOut::line(norm.wd(inst, wd))
                    }
                    Err(e) => {
                        if let Some(w) = bind {
                            watches.remove(w);
                        }
                        StepOut::line(e)
                    }
                },
                _ => unbound(inst),
            },
            Op::RmWatch { inst, wd } => match (handles.get(inst), wd) {
                (Some(Bound::Instance(fd, _)), WdRef::Raw(n)) => unit(b.rm_watch(*fd, *n)),
                (Some(Bound::Instance(fd, _)), WdRef::Named(w)) => match watches.get(w) {
                    Some(n) => unit(b.rm_watch(*fd, *n)),
                    None => StepOut::line(format!("(no watch {w})")),
                },
                _ => unbound(inst),
            },
            Op::ReadEvents { inst, buf } => match handles.get(inst) {
                Some(&Bound::Instance(fd, nonblock)) => {
                    // A blocking read on an empty queue would hang: report it instead.
                    let empty = !nonblock && matches!(b.queued_bytes(fd), Ok(0));
                    if empty {
                        StepOut::line("would-block")
                    } else {
                        match b.read_events(fd, *buf) {
                            Ok(bytes) => event_lines(&mut norm, inst, &bytes),
                            Err(e) => StepOut::line(e),
                        }
                    }
                }
                _ => unbound(inst),
            },
            Op::Fionread { inst } => match handles.get(inst) {
                Some(Bound::Instance(fd, _)) => {
                    StepOut::line(b.queued_bytes(*fd).map_or_else(|e| e, |n| n.to_string()))
                }
                _ => unbound(inst),
            },
            Op::Set {
                tunable: Tunable::MaxQueuedEvents,
                value,
            } => unit(b.set_max_queued_events(*value)),
            Op::User { uid, gid } => unit(b.set_user(*uid, *gid)),
        };
        outs.push(out);
    }
    // Close what the scenario left open, instances last, so nothing leaks between runs.
    let mut left: Vec<Bound> = handles.into_values().chain(leaked).collect();
    left.sort_by_key(|h| matches!(h, Bound::Instance(..)));
    for h in left {
        let _ = match h {
            Bound::File(fd) => b.close(fd),
            Bound::Instance(fd, _) => b.close_instance(fd),
        };
    }
    outs
}

/// Writes one backend's outputs of `sc` as text (the format of `conformance/expected/`):
/// per step a line `step N OP`, then `= LINE` for each result line and `+ DETAIL` for the
/// detail. [`parse_outputs`] reads it back.
pub fn render_outputs(sc: &Scenario, outs: &[StepOut]) -> String {
    let mut s = String::new();
    for (i, (step, out)) in sc.steps.iter().zip(outs).enumerate() {
        let _ = writeln!(s, "step {} {}", i + 1, step.op.spell());
        for l in &out.lines {
            let _ = writeln!(s, "= {l}");
        }
        if let Some(d) = &out.detail {
            let _ = writeln!(s, "+ {d}");
        }
    }
    s
}

/// Reads outputs written by [`render_outputs`] for `sc`; an error when the text does not
/// have one block per step of `sc`, in order, with the same operations.
pub fn parse_outputs(sc: &Scenario, text: &str) -> Result<Vec<StepOut>, String> {
    let mut outs: Vec<StepOut> = Vec::new();
    for (n, l) in text.lines().enumerate() {
        if let Some(rest) = l.strip_prefix("step ") {
            let i = outs.len();
            let want = format!(
                "{} {}",
                i + 1,
                sc.steps.get(i).map(|s| s.op.spell()).unwrap_or_default()
            );
            if i >= sc.steps.len() || rest != want {
                return Err(format!(
                    "line {}: `step {rest}`, expected `step {want}`",
                    n + 1
                ));
            }
            outs.push(StepOut::default());
        } else if let (Some(l), Some(out)) = (l.strip_prefix("= "), outs.last_mut()) {
            out.lines.push(l.to_string());
        } else if let (Some(d), Some(out)) = (l.strip_prefix("+ "), outs.last_mut()) {
            out.detail = Some(d.to_string());
        } else {
            return Err(format!("line {}: unreadable `{l}`", n + 1));
        }
    }
    if outs.len() != sc.steps.len() {
        return Err(format!(
            "{} steps recorded, the scenario has {}",
            outs.len(),
            sc.steps.len()
        ));
    }
    Ok(outs)
}

/// How one scenario went.
#[derive(Debug, Default, Clone)]
pub struct Verdict {
    /// Failures (expectation misses and undeclared differences), as printable text.
    pub failures: Vec<String>,
    /// Declared differences that did occur, as printable text.
    pub declared: Vec<String>,
    /// The first undeclared difference: (step line or index, operation name, first output
    /// line of each backend). For one-line reports and summaries.
    pub first: Option<(usize, String, String, String)>,
}

impl Verdict {
    /// Whether the scenario passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Checks `>` expectations on one backend's outputs. On a backend other than the oracle,
/// steps declared to differ (or a scenario declared to differ) are not checked.
pub fn check_expectations(
    sc: &Scenario,
    backend: &str,
    oracle: bool,
    outs: &[StepOut],
    v: &mut Verdict,
) {
    for (step, out) in sc.steps.iter().zip(outs) {
        let Some(want) = &step.expect else { continue };
        if !oracle && (step.differs.is_some() || sc.differs.is_some()) {
            continue;
        }
        if *want != out.lines {
            let mut s = format!(
                "{}: line {}: `{}` on {backend}:\n",
                sc.name,
                step.line,
                step.op.spell()
            );
            for w in want {
                let _ = writeln!(s, "    expected> {w}");
            }
            for g in &out.lines {
                let _ = writeln!(s, "    got     > {g}");
            }
            v.failures.push(s);
        }
    }
}

/// Compares two backends' outputs step by step; prints both streams side by side when they
/// differ anywhere.
pub fn compare(sc: &Scenario, names: [&str; 2], a: &[StepOut], b: &[StepOut], v: &mut Verdict) {
    let mut undeclared = false;
    let mut any = false;
    for (i, (step, (x, y))) in sc.steps.iter().zip(a.iter().zip(b)).enumerate() {
        if x != y {
            any = true;
            let why = step.differs.as_ref().or(sc.differs.as_ref());
            if why.is_none() {
                if !undeclared && v.first.is_none() {
                    let n = if step.line == 0 { i + 1 } else { step.line };
                    let op = step.op.spell().split(' ').next().unwrap_or("").to_string();
                    // The first output line that differs (or the detail).
                    let k = (0..x.lines.len().max(y.lines.len()))
                        .find(|&k| x.lines.get(k) != y.lines.get(k));
                    let pick = |o: &StepOut| match k {
                        Some(k) => o
                            .lines
                            .get(k)
                            .cloned()
                            .unwrap_or_else(|| "(nothing)".into()),
                        None => o.detail.clone().unwrap_or_default(),
                    };
                    v.first = Some((n, op, pick(x), pick(y)));
                }
                undeclared = true;
            }
        }
    }
    if !any {
        return;
    }
    let table = side_by_side(sc, names, a, b);
    if undeclared {
        v.failures.push(format!(
            "{}: {} and {} differ:\n{table}",
            sc.name, names[0], names[1]
        ));
    } else {
        let why = sc
            .differs
            .clone()
            .unwrap_or_else(|| "see marked steps".into());
        v.declared.push(format!(
            "{}: declared difference ({why}):\n{table}",
            sc.name
        ));
    }
}

/// The two streams side by side; differing steps are marked `!` (undeclared) or `~`
/// (declared).
pub fn side_by_side(sc: &Scenario, names: [&str; 2], a: &[StepOut], b: &[StepOut]) -> String {
    const W: usize = 44;
    let mut s = format!("      {:<30} | {:<W$} | {}\n", "step", names[0], names[1]);
    for (i, (step, (x, y))) in sc.steps.iter().zip(a.iter().zip(b)).enumerate() {
        let mark = if x == y {
            ' '
        } else if step.differs.is_some() || sc.differs.is_some() {
            '~'
        } else {
            '!'
        };
        let xs = x
            .lines
            .iter()
            .cloned()
            .chain(x.detail.iter().map(|d| format!("[{d}]")));
        let ys: Vec<String> = y
            .lines
            .iter()
            .cloned()
            .chain(y.detail.iter().map(|d| format!("[{d}]")))
            .collect();
        let xs: Vec<String> = xs.collect();
        let rows = xs.len().max(ys.len());
        for r in 0..rows {
            let op = if r == 0 {
                step.op.spell()
            } else {
                String::new()
            };
            let n = if step.line == 0 { i + 1 } else { step.line };
            let ln = if r == 0 {
                format!("{n:>4}")
            } else {
                "    ".into()
            };
            let _ = writeln!(
                s,
                "{mark}{ln} {:<30} | {:<W$} | {}",
                op,
                xs.get(r).map(String::as_str).unwrap_or(""),
                ys.get(r).map(String::as_str).unwrap_or("")
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linux::Linux;
    use crate::script::parse;

    #[test]
    fn recorded_outputs_read_back_as_they_were_written() {
        let sc = parse(
            "t",
            "# from: test\ninit i nonblock\nmkdir d\nadd_watch i d IN_ALL_EVENTS\ncreate d/f\nread i\n",
        )
        .unwrap();
        let outs = run(&sc, &mut Linux::new().unwrap());
        let text = render_outputs(&sc, &outs);
        assert!(text.contains("= w1 IN_CREATE \"f\""), "{text}");
        assert_eq!(parse_outputs(&sc, &text).unwrap(), outs);
        let other = parse("t", "# from: test\ninit i nonblock\nmkdir e\n").unwrap();
        assert!(parse_outputs(&other, &text).is_err());
    }

    const SC: &str = "# from: test\nmkdir a\nmkdir b\ninit I nonblock\nadd_watch I b IN_MOVE\nadd_watch I a IN_MOVE\ncreate a/f\nrename a/f b/g\nread I\nread I 15\n";

    #[test]
    fn linux_run_is_normalised() {
        let sc = parse("t", SC).unwrap();
        let outs = run(&sc, &mut Linux::new().unwrap());
        let lines: Vec<&[String]> = outs.iter().map(|o| o.lines.as_slice()).collect();
        // The second watch is w2 whatever number the kernel gave; the cookie is 1.
        assert_eq!(lines[3], ["w1"]);
        assert_eq!(lines[4], ["w2"]);
        assert_eq!(
            lines[7],
            [
                "w2 IN_MOVED_FROM cookie=1 \"f\"",
                "w1 IN_MOVED_TO cookie=1 \"g\""
            ]
        );
        assert_eq!(outs[7].detail.as_deref(), Some("64 bytes"));
        assert_eq!(lines[8], ["EAGAIN"]);
    }

    #[test]
    fn undeclared_differences_fail_and_declared_ones_pass() {
        let text = "# from: test\nmkdir a\ndiffers: because\nmkdir b\n";
        let sc = parse("t", text).unwrap();
        let same = vec![StepOut::line("ok"), StepOut::line("ok")];
        let other_first = vec![StepOut::line("EEXIST"), StepOut::line("ok")];
        let other_second = vec![StepOut::line("ok"), StepOut::line("EEXIST")];
        let mut v = Verdict::default();
        compare(&sc, ["x", "y"], &same, &same, &mut v);
        assert!(v.passed() && v.declared.is_empty());
        let mut v = Verdict::default();
        compare(&sc, ["x", "y"], &same, &other_second, &mut v);
        assert!(v.passed());
        assert_eq!(v.declared.len(), 1);
        assert!(v.declared[0].contains("~   4 mkdir b"), "{}", v.declared[0]);
        let mut v = Verdict::default();
        compare(&sc, ["x", "y"], &same, &other_first, &mut v);
        assert!(!v.passed());
        assert!(v.failures[0].contains("!   2 mkdir a"), "{}", v.failures[0]);
    }

    #[test]
    fn expectations_are_checked_except_where_declared_on_the_other_backend() {
        let sc = parse(
            "t",
            "# from: test\nmkdir a\n> ok\ndiffers: why\nmkdir b\n> ok\n",
        )
        .unwrap();
        let outs = vec![StepOut::line("ok"), StepOut::line("EIO")];
        let mut v = Verdict::default();
        check_expectations(&sc, "other", false, &outs, &mut v);
        assert!(v.passed());
        check_expectations(&sc, "linux", true, &outs, &mut v);
        assert_eq!(v.failures.len(), 1);
        assert!(v.failures[0].contains("line 5"));
    }
}
