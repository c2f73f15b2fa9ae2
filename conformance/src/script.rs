//! The scenario format (see `docs/conformance.md`): parsing and printing.
//!
//! A scenario is a list of steps run on a fresh, empty directory. Each step is one operation;
//! lines starting with `>` after a step give the output the step must produce (checked on
//! every backend the step is not declared to differ on).

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::names::{is_errno_name, mask_name, parse_mask};

/// How `open` opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenFlags {
    /// Open for reading.
    pub read: bool,
    /// Open for writing.
    pub write: bool,
    /// `O_PATH`: a reference only (no read, no write, no event).
    pub path: bool,
    /// `O_TRUNC`.
    pub trunc: bool,
    /// `O_CREAT` (mode 0644).
    pub creat: bool,
    /// `O_EXCL`.
    pub excl: bool,
    /// `O_APPEND`.
    pub append: bool,
    /// `O_NOFOLLOW`.
    pub nofollow: bool,
    /// `O_DIRECTORY`.
    pub directory: bool,
}

impl OpenFlags {
    /// The flags as the scenario spells them (`rw trunc creat`).
    pub fn spell(&self) -> String {
        let mut s = match (self.path, self.read, self.write) {
            (true, _, _) => "path",
            (_, true, true) => "rw",
            (_, false, true) => "w",
            _ => "r",
        }
        .to_string();
        for (on, word) in [
            (self.trunc, "trunc"),
            (self.creat, "creat"),
            (self.excl, "excl"),
            (self.append, "append"),
            (self.nofollow, "nofollow"),
            (self.directory, "directory"),
        ] {
            if on {
                s.push(' ');
                s.push_str(word);
            }
        }
        s
    }
}

/// Which timestamps `utimes` sets (to the current time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// Access time only.
    Atime,
    /// Modification time only.
    Mtime,
    /// Both.
    Both,
}

/// `inotify_init1` flags of an `init` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InitFlags {
    /// `IN_NONBLOCK`.
    pub nonblock: bool,
    /// `IN_CLOEXEC` (not observable here without exec; passed through).
    pub cloexec: bool,
    /// Extra raw bits (Linux numbering), to provoke `EINVAL`.
    pub extra: u32,
}

/// A watch named in `rm_watch`: a name bound by `add_watch ... as W`, or a raw number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WdRef {
    /// The wd returned by the `add_watch` that bound this name.
    Named(String),
    /// A literal wd value.
    Raw(i32),
}

/// A tunable a scenario may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tunable {
    /// Events an instance queues before overflowing (applies to instances made afterwards
    /// on Linux; restored when the scenario ends).
    MaxQueuedEvents,
}

/// One operation. Fields are the step's arguments, named as in the step syntax.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `mkdir PATH [MODE]`.
    Mkdir { path: String, mode: u32 },
    /// `rmdir PATH`.
    Rmdir { path: String },
    /// `create PATH [MODE]`: `creat()` then `close()`.
    Create { path: String, mode: u32 },
    /// `open H PATH MODE [FLAGS]`.
    Open {
        handle: String,
        path: String,
        flags: OpenFlags,
    },
    /// `write H DATA`.
    Write { handle: String, data: Vec<u8> },
    /// `read H N` on a file handle.
    Read { handle: String, len: usize },
    /// `close H` (file handle or instance).
    Close { handle: String },
    /// `truncate PATH LEN`.
    Truncate { path: String, len: u64 },
    /// `ftruncate H LEN`.
    Ftruncate { handle: String, len: u64 },
    /// `chmod PATH MODE`.
    Chmod { path: String, mode: u32 },
    /// `chown PATH UID GID`.
    Chown { path: String, uid: u32, gid: u32 },
    /// `utimes PATH atime|mtime|both`.
    Utimes { path: String, times: Times },
    /// `link OLD NEW`.
    Link { old: String, new: String },
    /// `symlink TARGET PATH`.
    Symlink { target: String, path: String },
    /// `unlink PATH`.
    Unlink { path: String },
    /// `rename OLD NEW`.
    Rename { old: String, new: String },
    /// `listdir PATH`: open the directory, read all entries, close it.
    Listdir { path: String },
    /// `stat PATH` (lstat).
    Stat { path: String },
    /// `init I [nonblock] [cloexec] [flags=0xN]`.
    Init { inst: String, flags: InitFlags },
    /// `add_watch I PATH MASK [as W]`.
    AddWatch {
        inst: String,
        path: String,
        mask: u32,
        bind: Option<String>,
    },
    /// `rm_watch I W`.
    RmWatch { inst: String, wd: WdRef },
    /// `read I [BUFSIZE]` on an instance.
    ReadEvents { inst: String, buf: usize },
    /// `fionread I`.
    Fionread { inst: String },
    /// `set max_queued_events N`.
    Set { tunable: Tunable, value: u32 },
    /// `user UID GID`: later steps run with these file system credentials.
    User { uid: u32, gid: u32 },
}

/// Buffer size of `read I` without an explicit size.
pub const DEFAULT_EVENT_BUF: usize = 65536;

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based line in the scenario file (0 for generated steps).
    pub line: usize,
    /// The operation.
    pub op: Op,
    /// Expected output lines (`>` lines), if any were given.
    pub expect: Option<Vec<String>>,
    /// Why inotifyd may differ from Linux on this step, if declared.
    pub differs: Option<String>,
}

/// A parsed scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scenario {
    /// Name (the file stem, or `random-<seed>`).
    pub name: String,
    /// Provenance: the `# from:` lines.
    pub from: Vec<String>,
    /// Why inotifyd may differ anywhere in this scenario, if declared.
    pub differs: Option<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// A parse error with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

/// Splits a line into words; `"..."` is one word with `\n \t \\ \" \xNN` escapes.
fn tokenize(line: &str) -> Result<Vec<Word>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '"' {
            chars.next();
            let mut bytes = Vec::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated string".into()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => bytes.push(b'\n'),
                        Some('t') => bytes.push(b'\t'),
                        Some('0') => bytes.push(0),
                        Some('\\') => bytes.push(b'\\'),
                        Some('"') => bytes.push(b'"'),
                        Some('x') => {
                            let h: String = chars.by_ref().take(2).collect();
                            let b = u8::from_str_radix(&h, 16)
                                .map_err(|_| format!("bad escape \\x{h}"))?;
                            bytes.push(b);
                        }
                        other => return Err(format!("bad escape \\{}", other.unwrap_or(' '))),
                    },
                    Some(c) => {
                        let mut b = [0u8; 4];
                        bytes.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                    }
                }
            }
            words.push(Word::Quoted(bytes));
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
            words.push(Word::Bare(w));
        }
    }
    Ok(words)
}

/// A word of a step line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    /// Unquoted.
    Bare(String),
    /// Quoted (bytes after escapes).
    Quoted(Vec<u8>),
}

impl Word {
    /// The word as text (quoted words must be UTF-8).
    fn text(&self) -> String {
        match self {
            Word::Bare(s) => s.clone(),
            Word::Quoted(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }
}

/// Checks a scenario path: relative, not empty, and no `..` that climbs above the scenario
/// directory as written (`d/..` is the directory itself; `..` and `d/../..` are refused).
fn check_path(p: &str) -> Result<String, String> {
    let mut depth = 0usize;
    let climbs_out = p.split('/').any(|c| match c {
        "" | "." => false,
        ".." => match depth.checked_sub(1) {
            Some(d) => {
                depth = d;
                false
            }
            None => true,
        },
        _ => {
            depth += 1;
            false
        }
    });
    if p.is_empty() || p.starts_with('/') || climbs_out {
        return Err(format!(
            "path `{p}` must be relative to the scenario directory, without `..` above it"
        ));
    }
    Ok(p.to_string())
}

/// Parses a number, decimal or `0x` hex.
fn num<T: TryFrom<u64>>(s: &str) -> Result<T, String> {
    let v = if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16)
    } else {
        s.parse::<u64>()
    }
    .map_err(|_| format!("`{s}` is not a number"))?;
    T::try_from(v).map_err(|_| format!("`{s}` is out of range"))
}

/// Parses an octal mode like `0755` or `755`.
fn mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .map_err(|_| format!("`{s}` is not an octal mode"))
}

/// Parser state across lines: which names are instances, file handles, watches.
#[derive(Default)]
struct Names {
    /// Names bound by `init`.
    instances: HashSet<String>,
    /// Names bound by `open`.
    files: HashSet<String>,
    /// Names bound by `add_watch ... as`.
    watches: HashSet<String>,
}

impl Names {
    /// Fails unless `n` is an instance.
    fn instance(&self, n: &str) -> Result<String, String> {
        if self.instances.contains(n) {
            Ok(n.to_string())
        } else {
            Err(format!(
                "`{n}` is not an instance (bind it with `init {n}`)"
            ))
        }
    }
    /// Fails unless `n` is a file handle.
    fn file(&self, n: &str) -> Result<String, String> {
        if self.files.contains(n) {
            Ok(n.to_string())
        } else {
            Err(format!(
                "`{n}` is not a file handle (bind it with `open {n} ...`)"
            ))
        }
    }
    /// Binds a new handle name; instances and files share one namespace.
    fn bind(&mut self, n: &str, instance: bool) -> Result<String, String> {
        if n.is_empty() || n.contains('/') {
            return Err(format!("bad handle name `{n}`"));
        }
        if instance {
            self.files.remove(n);
            self.instances.insert(n.to_string());
        } else {
            self.instances.remove(n);
            self.files.insert(n.to_string());
        }
        Ok(n.to_string())
    }
}

/// Parses one step line (after any `expect-error` prefix was removed).
fn parse_op(words: &[Word], names: &mut Names) -> Result<Op, String> {
    let w: Vec<String> = words.iter().map(Word::text).collect();
    let argc = |n: std::ops::RangeInclusive<usize>| -> Result<(), String> {
        if n.contains(&(w.len() - 1)) {
            Ok(())
        } else {
            Err(format!(
                "`{}` takes {:?} arguments, got {}",
                w[0],
                n,
                w.len() - 1
            ))
        }
    };
    let op = match w[0].as_str() {
        "mkdir" => {
            argc(1..=2)?;
            Op::Mkdir {
                path: check_path(&w[1])?,
                mode: w.get(2).map(|m| mode(m)).transpose()?.unwrap_or(0o755),
            }
        }
        "rmdir" => {
            argc(1..=1)?;
            Op::Rmdir {
                path: check_path(&w[1])?,
            }
        }
        "create" => {
            argc(1..=2)?;
            Op::Create {
                path: check_path(&w[1])?,
                mode: w.get(2).map(|m| mode(m)).transpose()?.unwrap_or(0o644),
            }
        }
        "open" => {
            if w.len() < 4 {
                return Err("usage: open H PATH r|w|rw|path [trunc] [creat] [excl] [append] [nofollow] [directory]".into());
            }
            let mut flags = OpenFlags::default();
            match w[3].as_str() {
                "r" => flags.read = true,
                "w" => flags.write = true,
                "rw" => {
                    flags.read = true;
                    flags.write = true
                }
                "path" => flags.path = true,
                m => return Err(format!("bad open mode `{m}`")),
            }
            for f in &w[4..] {
                match f.as_str() {
                    "trunc" => flags.trunc = true,
                    "creat" => flags.creat = true,
                    "excl" => flags.excl = true,
                    "append" => flags.append = true,
                    "nofollow" => flags.nofollow = true,
                    "directory" => flags.directory = true,
                    f => return Err(format!("bad open flag `{f}`")),
                }
            }
            let path = check_path(&w[2])?;
            Op::Open {
                handle: names.bind(&w[1], false)?,
                path,
                flags,
            }
        }
        "write" => {
            argc(2..=2)?;
            let data = match &words[2] {
                Word::Quoted(b) => b.clone(),
                Word::Bare(n) => vec![b'x'; num::<usize>(n)?],
            };
            Op::Write {
                handle: names.file(&w[1])?,
                data,
            }
        }
        "read" => {
            argc(1..=2)?;
            if names.instances.contains(&w[1]) {
                let buf = w
                    .get(2)
                    .map(|n| num::<usize>(n))
                    .transpose()?
                    .unwrap_or(DEFAULT_EVENT_BUF);
                Op::ReadEvents {
                    inst: w[1].clone(),
                    buf,
                }
            } else {
                argc(2..=2)?;
                Op::Read {
                    handle: names.file(&w[1])?,
                    len: num(&w[2])?,
                }
            }
        }
        "close" => {
            argc(1..=1)?;
            if !names.instances.contains(&w[1]) {
                names.file(&w[1])?;
            }
            Op::Close {
                handle: w[1].clone(),
            }
        }
        "truncate" => {
            argc(2..=2)?;
            Op::Truncate {
                path: check_path(&w[1])?,
                len: num(&w[2])?,
            }
        }
        "ftruncate" => {
            argc(2..=2)?;
            Op::Ftruncate {
                handle: names.file(&w[1])?,
                len: num(&w[2])?,
            }
        }
        "chmod" => {
            argc(2..=2)?;
            Op::Chmod {
                path: check_path(&w[1])?,
                mode: mode(&w[2])?,
            }
        }
        "chown" => {
            argc(3..=3)?;
            Op::Chown {
                path: check_path(&w[1])?,
                uid: num(&w[2])?,
                gid: num(&w[3])?,
            }
        }
        "utimes" => {
            argc(2..=2)?;
            let times = match w[2].as_str() {
                "atime" => Times::Atime,
                "mtime" => Times::Mtime,
                "both" => Times::Both,
                t => return Err(format!("utimes takes atime|mtime|both, not `{t}`")),
            };
            Op::Utimes {
                path: check_path(&w[1])?,
                times,
            }
        }
        "link" => {
            argc(2..=2)?;
            Op::Link {
                old: check_path(&w[1])?,
                new: check_path(&w[2])?,
            }
        }
        "symlink" => {
            argc(2..=2)?;
            // The target is stored as given (it may dangle or point anywhere relative).
            Op::Symlink {
                target: w[1].clone(),
                path: check_path(&w[2])?,
            }
        }
        "unlink" => {
            argc(1..=1)?;
            Op::Unlink {
                path: check_path(&w[1])?,
            }
        }
        "rename" => {
            argc(2..=2)?;
            Op::Rename {
                old: check_path(&w[1])?,
                new: check_path(&w[2])?,
            }
        }
        "listdir" => {
            argc(1..=1)?;
            Op::Listdir {
                path: check_path(&w[1])?,
            }
        }
        "stat" => {
            argc(1..=1)?;
            Op::Stat {
                path: check_path(&w[1])?,
            }
        }
        "init" => {
            if w.len() < 2 {
                return Err("usage: init I [nonblock] [cloexec] [flags=0xN]".into());
            }
            let mut flags = InitFlags::default();
            for f in &w[2..] {
                match f.as_str() {
                    "nonblock" => flags.nonblock = true,
                    "cloexec" => flags.cloexec = true,
                    f if f.starts_with("flags=") => flags.extra = num(&f[6..])?,
                    f => return Err(format!("bad init flag `{f}`")),
                }
            }
            Op::Init {
                inst: names.bind(&w[1], true)?,
                flags,
            }
        }
        "add_watch" => {
            if !(w.len() == 4 || (w.len() == 6 && w[4] == "as")) {
                return Err("usage: add_watch I PATH MASK [as W]".into());
            }
            let bind = if w.len() == 6 {
                names.watches.insert(w[5].clone());
                Some(w[5].clone())
            } else {
                None
            };
            Op::AddWatch {
                inst: names.instance(&w[1])?,
                path: check_path(&w[2])?,
                mask: parse_mask(&w[3])?,
                bind,
            }
        }
        "rm_watch" => {
            argc(2..=2)?;
            let wd = if names.watches.contains(&w[2]) {
                WdRef::Named(w[2].clone())
            } else if let Ok(n) = w[2].parse::<i32>() {
                WdRef::Raw(n)
            } else {
                return Err(format!("`{}` is neither a bound watch nor a number", w[2]));
            };
            Op::RmWatch {
                inst: names.instance(&w[1])?,
                wd,
            }
        }
        "fionread" => {
            argc(1..=1)?;
            Op::Fionread {
                inst: names.instance(&w[1])?,
            }
        }
        "set" => {
            argc(2..=2)?;
            let tunable = match w[1].as_str() {
                "max_queued_events" => Tunable::MaxQueuedEvents,
                t => return Err(format!("unknown tunable `{t}`")),
            };
            Op::Set {
                tunable,
                value: num(&w[2])?,
            }
        }
        "user" => {
            argc(2..=2)?;
            Op::User {
                uid: num(&w[1])?,
                gid: num(&w[2])?,
            }
        }
        other => return Err(format!("unknown operation `{other}`")),
    };
    Ok(op)
}

/// Parses a scenario file. `name` is used in reports.
pub fn parse(name: &str, text: &str) -> Result<Scenario, ParseError> {
    let mut sc = Scenario {
        name: name.to_string(),
        ..Scenario::default()
    };
    let mut names = Names::default();
    let mut pending_differs: Option<String> = None;
    // Open `repeat N` blocks: (count, index of the block's first step, line).
    let mut repeats: Vec<(usize, usize, usize)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |msg: String| ParseError { line, msg };
        let t = raw.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(c) = t.strip_prefix('#') {
            if let Some(src) = c.trim().strip_prefix("from:") {
                sc.from.push(src.trim().to_string());
            }
            continue;
        }
        if let Some(reason) = t.strip_prefix("differs:") {
            let reason = reason.trim().to_string();
            if reason.is_empty() {
                return Err(err("`differs:` needs a reason".into()));
            }
            if sc.steps.is_empty() {
                if sc.differs.is_some() {
                    return Err(err("a second scenario-wide `differs:`".into()));
                }
                sc.differs = Some(reason);
            } else {
                pending_differs = Some(reason);
            }
            continue;
        }
        if let Some(exp) = t.strip_prefix('>') {
            let Some(step) = sc.steps.last_mut() else {
                return Err(err("`>` before any step".into()));
            };
            step.expect
                .get_or_insert_with(Vec::new)
                .push(exp.trim().to_string());
            continue;
        }
        if let Some(n) = t.strip_prefix("repeat ") {
            let n: usize = num(n.trim()).map_err(err)?;
            if n == 0 || n > 1_000_000 {
                return Err(err("repeat count must be 1..=1000000".into()));
            }
            repeats.push((n, sc.steps.len(), line));
            continue;
        }
        if t == "end" {
            let Some((n, start, _)) = repeats.pop() else {
                return Err(err("`end` without `repeat`".into()));
            };
            let block: Vec<Step> = sc.steps[start..].to_vec();
            for _ in 1..n {
                sc.steps.extend(block.iter().cloned());
            }
            continue;
        }
        let mut words = tokenize(t).map_err(err)?;
        let mut expect = None;
        if matches!(words.first(), Some(Word::Bare(w)) if w == "expect-error") {
            let e = words.get(1).map(Word::text).unwrap_or_default();
            if !is_errno_name(&e) || words.len() < 3 {
                return Err(err("usage: expect-error ERRNO STEP...".into()));
            }
            expect = Some(vec![e]);
            words.drain(..2);
        }
        let op = parse_op(&words, &mut names).map_err(err)?;
        sc.steps.push(Step {
            line,
            op,
            expect,
            differs: pending_differs.take(),
        });
    }
    if let Some((_, _, line)) = repeats.pop() {
        return Err(ParseError {
            line,
            msg: "`repeat` without `end`".into(),
        });
    }
    if sc.from.is_empty() {
        return Err(ParseError {
            line: 1,
            msg: "missing `# from:` provenance line".into(),
        });
    }
    if pending_differs.is_some() {
        return Err(ParseError {
            line: text.lines().count(),
            msg: "`differs:` after the last step".into(),
        });
    }
    Ok(sc)
}

/// Quotes a path or name for printing when it needs it.
fn q(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        s.to_string()
    } else {
        quote_bytes(s.as_bytes())
    }
}

/// Quotes bytes in the scenario string syntax.
pub fn quote_bytes(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

impl Op {
    /// The step line that parses back to this operation.
    pub fn spell(&self) -> String {
        match self {
            Op::Mkdir { path, mode } => format!("mkdir {} {mode:04o}", q(path)),
            Op::Rmdir { path } => format!("rmdir {}", q(path)),
            Op::Create { path, mode } => format!("create {} {mode:04o}", q(path)),
            Op::Open {
                handle,
                path,
                flags,
            } => format!("open {handle} {} {}", q(path), flags.spell()),
            Op::Write { handle, data } => {
                if !data.is_empty() && data.iter().all(|&b| b == b'x') {
                    format!("write {handle} {}", data.len())
                } else {
                    format!("write {handle} {}", quote_bytes(data))
                }
            }
            Op::Read { handle, len } => format!("read {handle} {len}"),
            Op::Close { handle } => format!("close {handle}"),
            Op::Truncate { path, len } => format!("truncate {} {len}", q(path)),
            Op::Ftruncate { handle, len } => format!("ftruncate {handle} {len}"),
            Op::Chmod { path, mode } => format!("chmod {} {mode:04o}", q(path)),
            Op::Chown { path, uid, gid } => format!("chown {} {uid} {gid}", q(path)),
            Op::Utimes { path, times } => {
                let t = match times {
                    Times::Atime => "atime",
                    Times::Mtime => "mtime",
                    Times::Both => "both",
                };
                format!("utimes {} {t}", q(path))
            }
            Op::Link { old, new } => format!("link {} {}", q(old), q(new)),
            Op::Symlink { target, path } => format!("symlink {} {}", q(target), q(path)),
            Op::Unlink { path } => format!("unlink {}", q(path)),
            Op::Rename { old, new } => format!("rename {} {}", q(old), q(new)),
            Op::Listdir { path } => format!("listdir {}", q(path)),
            Op::Stat { path } => format!("stat {}", q(path)),
            Op::Init { inst, flags } => {
                let mut s = format!("init {inst}");
                if flags.nonblock {
                    s.push_str(" nonblock");
                }
                if flags.cloexec {
                    s.push_str(" cloexec");
                }
                if flags.extra != 0 {
                    let _ = write!(s, " flags={:#x}", flags.extra);
                }
                s
            }
            Op::AddWatch {
                inst,
                path,
                mask,
                bind,
            } => {
                let mut s = format!("add_watch {inst} {} {}", q(path), mask_name(*mask));
                if let Some(b) = bind {
                    let _ = write!(s, " as {b}");
                }
                s
            }
            Op::RmWatch { inst, wd } => match wd {
                WdRef::Named(n) => format!("rm_watch {inst} {n}"),
                WdRef::Raw(n) => format!("rm_watch {inst} {n}"),
            },
            Op::ReadEvents { inst, buf } => format!("read {inst} {buf}"),
            Op::Fionread { inst } => format!("fionread {inst}"),
            Op::Set {
                tunable: Tunable::MaxQueuedEvents,
                value,
            } => format!("set max_queued_events {value}"),
            Op::User { uid, gid } => format!("user {uid} {gid}"),
        }
    }
}

impl Scenario {
    /// The scenario as text in the file format (parses back to an equal scenario, up to
    /// line numbers and the name).
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for f in &self.from {
            let _ = writeln!(s, "# from: {f}");
        }
        if let Some(d) = &self.differs {
            let _ = writeln!(s, "differs: {d}");
        }
        for st in &self.steps {
            if let Some(d) = &st.differs {
                let _ = writeln!(s, "differs: {d}");
            }
            let _ = writeln!(s, "{}", st.op.spell());
            for e in st.expect.iter().flatten() {
                let _ = writeln!(s, "> {e}");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inotify_abi::consts::*;

    const SAMPLE: &str = r#"
# from: LTP inotify02
# a comment
differs: whole scenario reason
mkdir d
init I nonblock
add_watch I d IN_CREATE|IN_ONLYDIR as W
> w1
open h d/f w creat trunc
write h "hi\n"
write h 3
read I 64
> w1 IN_CREATE "f"
differs: step reason
expect-error EINVAL rm_watch I 99
rm_watch I W
close h
close I
set max_queued_events 10
"#;

    #[test]
    fn parses_every_form() {
        let sc = parse("sample", SAMPLE).unwrap();
        assert_eq!(sc.from, vec!["LTP inotify02".to_string()]);
        assert_eq!(sc.differs.as_deref(), Some("whole scenario reason"));
        assert_eq!(sc.steps.len(), 12);
        assert_eq!(
            sc.steps[2].op,
            Op::AddWatch {
                inst: "I".into(),
                path: "d".into(),
                mask: IN_CREATE | IN_ONLYDIR,
                bind: Some("W".into())
            }
        );
        assert_eq!(sc.steps[2].expect, Some(vec!["w1".to_string()]));
        assert_eq!(
            sc.steps[4].op,
            Op::Write {
                handle: "h".into(),
                data: b"hi\n".to_vec()
            }
        );
        assert_eq!(
            sc.steps[5].op,
            Op::Write {
                handle: "h".into(),
                data: b"xxx".to_vec()
            }
        );
        assert_eq!(
            sc.steps[6].op,
            Op::ReadEvents {
                inst: "I".into(),
                buf: 64
            }
        );
        assert_eq!(sc.steps[7].differs.as_deref(), Some("step reason"));
        assert_eq!(sc.steps[7].expect, Some(vec!["EINVAL".to_string()]));
        assert_eq!(
            sc.steps[7].op,
            Op::RmWatch {
                inst: "I".into(),
                wd: WdRef::Raw(99)
            }
        );
        assert_eq!(
            sc.steps[8].op,
            Op::RmWatch {
                inst: "I".into(),
                wd: WdRef::Named("W".into())
            }
        );
        assert_eq!(sc.steps[8].differs, None);
    }

    #[test]
    fn prints_back_to_the_same_scenario() {
        let sc = parse("sample", SAMPLE).unwrap();
        let again = parse("sample", &sc.to_text()).unwrap();
        let strip = |s: &Scenario| {
            s.steps
                .iter()
                .map(|st| (st.op.clone(), st.expect.clone(), st.differs.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&sc), strip(&again));
        assert_eq!(sc.differs, again.differs);
    }

    #[test]
    fn repeat_blocks_expand() {
        let sc = parse("r", "# from: x\nopen h f rw creat\nrepeat 3\nread h 1\nrepeat 2\nwrite h 1\n> 1\nend\nend\nclose h\n").unwrap();
        let ops: Vec<String> = sc.steps.iter().map(|s| s.op.spell()).collect();
        let mut want = vec!["open h f rw creat".to_string()];
        for _ in 0..3 {
            want.extend(["read h 1", "write h 1", "write h 1"].map(String::from));
        }
        want.push("close h".into());
        assert_eq!(ops, want);
        assert_eq!(sc.steps[2].expect, Some(vec!["1".to_string()]));
        assert!(parse("r", "# from: x\nrepeat 2\nmkdir d\n")
            .unwrap_err()
            .msg
            .contains("without `end`"));
        assert!(parse("r", "# from: x\nend\n")
            .unwrap_err()
            .msg
            .contains("without `repeat`"));
    }

    #[test]
    fn refuses_bad_input() {
        let e = |t: &str| parse("x", t).unwrap_err();
        assert_eq!(e("mkdir d\n").msg, "missing `# from:` provenance line");
        assert_eq!(e("# from: x\nfrobnicate d\n").line, 2);
        assert!(e("# from: x\nmkdir ../up\n").msg.contains("relative"));
        assert!(e("# from: x\nread h 3\n").msg.contains("not a file handle"));
        assert!(e("# from: x\ninit I\nadd_watch I d IN_BOGUS\n")
            .msg
            .contains("unknown mask"));
        assert!(e("# from: x\n> ok\n").msg.contains("before any step"));
        assert!(e("# from: x\nmkdir d\ndiffers: why\n")
            .msg
            .contains("after the last step"));
        assert!(e("# from: x\nexpect-error ENOPE mkdir d\n")
            .msg
            .contains("expect-error"));
        assert!(e("# from: x\nwrite h \"abc\n").msg.contains("unterminated"));
    }
}
