//! Parity with inotify-tools: the same workloads and command lines run through Debian's
//! `inotifywait`/`inotifywatch` (inotify-tools 3.22.6) on the Linux kernel and through our
//! tools on inotifyd over `HostFs` (the in-process kernel); exit status, standard output,
//! standard error and any `-o` file are compared after replacing the watched directory's
//! prefix (and the scratch directory of `-o`/`--fromfile` files) and the times `%T` prints.
//! Prints `tools-parity: N passed, M failed` and fails when M > 0.
//!
//! Timing: the workload starts when the tool is ready (its message, or for a quiet one its
//! wait channel in `select`; ours: the `ready` callback), `-r` workloads sleep after making
//! a directory so the tool can watch it first (inotify-tools' race, which both share), and
//! SIGINT comes after a pause that lets the tool read the last events.
//!
//! Runs with `cargo test -p inotify-tools --test parity` (`make tools-parity`). Without
//! `inotifywait` installed it says so and passes, unless `CI` is set (then it fails).

mod common;

use common::Signalled;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use inotify_host::harness::ServedDir;
use inotify_host::{Process, O_PATH};
use inotify_tools::cli::{Command, Io, Tool};
use inotify_tools::wait::Wait;
use inotify_tools::watch::Watch;
use syscall::flag::{O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};

/// One step of a workload, on paths relative to the watched directory.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// `mkdir`.
    Mkdir(&'static str),
    /// `rmdir`.
    Rmdir(&'static str),
    /// Create or truncate, write the bytes, close.
    Write(&'static str, &'static [u8]),
    /// Create or truncate, close.
    Touch(&'static str),
    /// Open for appending, write the bytes, close (one `MODIFY`: truncating a file that has
    /// data and writing to it makes two, which Linux merges or not depending on when the
    /// reader runs).
    Append(&'static str, &'static [u8]),
    /// Open, read to the end, close.
    Read(&'static str),
    /// `unlink`.
    Unlink(&'static str),
    /// `rename`.
    Rename(&'static str, &'static str),
    /// `chmod`.
    Chmod(&'static str, u16),
    /// Give the tool time (to read an event and add a watch, under `-r`).
    Sleep(u64),
}

/// How a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The tool exits by itself (first event, `-t`, an error).
    Exit,
    /// SIGINT after the workload (for ours: the stop flag and an interrupted read).
    Interrupt,
    /// SIGUSR1 after the workload, then SIGINT (for ours: the flags and interrupted reads).
    Usr1ThenInterrupt,
}

/// Which tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    /// `inotifywait`.
    Wait,
    /// `inotifywatch`.
    Watch,
}

/// One parity case.
struct Case {
    /// Which tool.
    tool: Which,
    /// Its arguments: `{D}` is the watched directory (no trailing `/`), `{O}` the scratch
    /// directory for `-o` and `--fromfile` files.
    args: &'static [&'static str],
    /// Made (with plain file system calls) before the tool starts, after `sub/` and `file`.
    setup: &'static [Op],
    /// Symlinks made before the tool starts: (target, path).
    links: &'static [(&'static str, &'static str)],
    /// Files in `{O}` before the tool starts (contents with `{D}` replaced).
    files: &'static [(&'static str, &'static str)],
    /// The workload.
    work: &'static [Op],
    /// How it ends.
    stop: Stop,
    /// `-d`: the tool goes to the background; only the `-o` file is compared.
    daemon: bool,
    /// The file in `{O}` whose contents are compared too.
    outfile: Option<&'static str>,
    /// Compare standard output (not for `-h`, whose text is ours).
    stdout: bool,
}

/// A case with the defaults: `inotifywait`, nothing set up, ends by itself.
const fn wait(args: &'static [&'static str], work: &'static [Op]) -> Case {
    Case {
        tool: Which::Wait,
        args,
        setup: &[],
        links: &[],
        files: &[],
        work,
        stop: Stop::Exit,
        daemon: false,
        outfile: None,
        stdout: true,
    }
}

/// An `inotifywatch` case.
const fn watch(args: &'static [&'static str], work: &'static [Op]) -> Case {
    Case {
        tool: Which::Watch,
        ..wait(args, work)
    }
}

use Op::*;

/// A workload touching most events in `sub/`.
const MIXED: &[Op] = &[
    Write("sub/a", b"hi"),
    Read("sub/a"),
    Chmod("sub/a", 0o600),
    Rename("sub/a", "sub/b"),
    Unlink("sub/b"),
    Mkdir("sub/d"),
    Rmdir("sub/d"),
];

/// Files with names that need CSV quoting, and a write to them.
const ODD_NAMES: &[Op] = &[
    Write("sub/a,b", b"1"),
    Touch("sub/ c"),
    Write("sub/q\"x", b"2"),
];

/// Files for the filters.
const FILTERED: &[Op] = &[
    Touch("sub/a.tmp"),
    Touch("sub/B.TMP"),
    Write("sub/keep.txt", b"k"),
    Touch("sub/b.log"),
];

/// A tree for `-r`.
const TREE: &[Op] = &[Mkdir("sub/x"), Mkdir("sub/x/y"), Mkdir("sub/e")];

/// Changes all over the tree, with new directories given time to be watched.
const TREE_WORK: &[Op] = &[
    Touch("sub/x/y/f"),
    Mkdir("sub/n"),
    Sleep(500),
    Touch("sub/n/g"),
    Rename("sub/x", "sub/z"),
    Sleep(400),
    Touch("sub/z/y/h"),
    Touch("sub/e/i"),
    Rename("sub/z", "z"),
    Sleep(400),
    Touch("z/y/lost"),
    Touch("sub/n/after"),
];

/// Every case.
fn cases() -> Vec<(&'static str, Case)> {
    vec![
        (
            "first event",
            wait(&["-t", "5", "{D}/sub"], &[Touch("sub/a")]),
        ),
        (
            "monitor, watches go, no IGNORED",
            wait(
                &["-m", "-t", "1", "{D}/sub", "{D}/file"],
                &[
                    Write("sub/a", b"hi"),
                    Append("file", b"y"),
                    Unlink("file"),
                    Touch("sub/later"),
                ],
            ),
        ),
        ("mixed workload", wait(&["-m", "-t", "1", "{D}/sub"], MIXED)),
        (
            "close names",
            wait(
                &["-m", "-t", "1", "-e", "close", "{D}/sub"],
                &[Write("sub/a", b"x"), Read("sub/a")],
            ),
        ),
        ("quiet", wait(&["-q", "-m", "-t", "1", "{D}/sub"], MIXED)),
        (
            "quiet twice",
            wait(&["-q", "-q", "-m", "-t", "1", "{D}/sub"], MIXED),
        ),
        ("bundled -qq", wait(&["-mqqt", "1", "{D}/sub"], MIXED)),
        (
            "delete_self asked",
            wait(
                &["-e", "delete_self", "-t", "5", "{D}/file"],
                &[Unlink("file")],
            ),
        ),
        (
            "event not asked for exits 1",
            wait(&["-e", "modify", "-t", "5", "{D}/file"], &[Unlink("file")]),
        ),
        ("timeout exits 2", wait(&["-t", "1", "{D}/sub"], &[])),
        (
            "timeout with monitor exits 2",
            wait(
                &["-m", "-t", "1", "-e", "delete", "{D}/sub"],
                &[Touch("sub/a")],
            ),
        ),
        (
            "events create,delete",
            wait(&["-m", "-t", "1", "-e", "create,delete", "{D}/sub"], MIXED),
        ),
        (
            "move events",
            wait(
                &["-m", "-t", "1", "-e", "move", "{D}/sub"],
                &[Touch("sub/a"), Rename("sub/a", "sub/b")],
            ),
        ),
        (
            "file watch",
            wait(
                &["-m", "-t", "1", "-e", "access,modify,attrib", "{D}/file"],
                &[Append("file", b"z"), Read("file"), Chmod("file", 0o600)],
            ),
        ),
        (
            "root with slash",
            wait(&["-m", "-t", "1", "{D}/"], &[Touch("new"), Mkdir("dir")]),
        ),
        (
            "format %w|%f|%e",
            wait(&["-m", "-t", "1", "--format", "%w|%f|%e", "{D}/sub"], MIXED),
        ),
        (
            "format %Xe",
            wait(&["-m", "-t", "1", "--format", "%:e %f", "{D}/sub"], MIXED),
        ),
        (
            "format %0 no newline",
            wait(
                &[
                    "-m",
                    "-t",
                    "1",
                    "--format",
                    "%w%f%0",
                    "--no-newline",
                    "{D}/sub",
                ],
                MIXED,
            ),
        ),
        (
            "format %c %n %% and unknown",
            wait(
                &["-m", "-t", "1", "--format", "[%c]%n%%%q %e", "{D}/sub"],
                &[Write("sub/a", b"1"), Unlink("sub/a")],
            ),
        ),
        (
            "format %T timefmt",
            wait(
                &[
                    "-m",
                    "-t",
                    "1",
                    "--timefmt",
                    "%H:%M:%S",
                    "--format",
                    "%T %e %f",
                    "{D}/sub",
                ],
                &[Touch("sub/a")],
            ),
        ),
        (
            "csv",
            wait(
                &["-m", "-t", "1", "-c", "{D}/sub", "{D}/file"],
                &[
                    Write("sub/a,b", b"1"),
                    Touch("sub/ c"),
                    Write("sub/q\"x", b"2"),
                    Append("file", b"f"),
                ],
            ),
        ),
        (
            "csv long",
            wait(
                &["--monitor", "--timeout", "1", "--csv", "{D}/sub"],
                ODD_NAMES,
            ),
        ),
        (
            "exclude",
            wait(
                &["-m", "-t", "1", "--exclude", "\\.tmp$", "{D}/sub"],
                FILTERED,
            ),
        ),
        (
            "excludei",
            wait(
                &["-m", "-t", "1", "--excludei", "\\.tmp$", "{D}/sub"],
                FILTERED,
            ),
        ),
        (
            "include",
            wait(&["-m", "-t", "1", "--include", "keep", "{D}/sub"], FILTERED),
        ),
        (
            "includei",
            wait(
                &["-m", "-t", "1", "--includei", "KEEP|LOG", "{D}/sub"],
                FILTERED,
            ),
        ),
        (
            "exclude twice warns",
            wait(
                &[
                    "-m",
                    "-t",
                    "1",
                    "--exclude",
                    "a",
                    "--exclude",
                    "\\.tmp",
                    "{D}/sub",
                ],
                FILTERED,
            ),
        ),
        (
            "recursive monitor",
            Case {
                setup: TREE,
                ..wait(&["-m", "-r", "-t", "1", "{D}/sub"], TREE_WORK)
            },
        ),
        (
            "recursive with format",
            Case {
                setup: TREE,
                ..wait(
                    &[
                        "-m", "-r", "-q", "-t", "1", "-e", "create", "--format", "%w%f", "{D}/sub",
                    ],
                    TREE_WORK,
                )
            },
        ),
        (
            "recursive exclusion",
            Case {
                setup: TREE,
                ..wait(&["-m", "-r", "-t", "1", "{D}/sub", "@{D}/sub/x"], TREE_WORK)
            },
        ),
        (
            "recursive first event",
            Case {
                setup: TREE,
                ..wait(&["-r", "-t", "5", "{D}/sub"], &[Touch("sub/x/y/f")])
            },
        ),
        (
            "fromfile",
            Case {
                files: &[("list", "{D}/sub\n\n{D}/file\n")],
                ..wait(
                    &["-m", "-t", "1", "--fromfile", "{O}/list"],
                    &[Touch("sub/a"), Append("file", b"1")],
                )
            },
        ),
        (
            "fromfile with exclusion",
            Case {
                setup: TREE,
                files: &[("list", "{D}/sub\n@{D}/sub/x\n@\n")],
                ..wait(
                    &["-m", "-r", "-t", "1", "--fromfile", "{O}/list"],
                    TREE_WORK,
                )
            },
        ),
        (
            "outfile",
            Case {
                outfile: Some("out"),
                ..wait(&["-m", "-t", "1", "-o", "{O}/out", "{D}/sub"], MIXED)
            },
        ),
        (
            "daemon",
            Case {
                daemon: true,
                outfile: Some("out"),
                files: &[("out", "")],
                ..wait(&["-d", "-o", "{O}/out", "-t", "1", "{D}/sub"], MIXED)
            },
        ),
        (
            "daemon without the file",
            wait(&["-d", "-o", "{O}/missing", "-t", "1", "{D}/sub"], &[]),
        ),
        ("syslog", wait(&["-s", "-m", "-t", "1", "{D}/sub"], MIXED)),
        ("syslog with an error", wait(&["-s", "{D}/missing"], &[])),
        (
            "follows symlinks",
            Case {
                links: &[("file", "link")],
                ..wait(
                    &["-t", "2", "-e", "attrib", "{D}/link"],
                    &[Chmod("file", 0o600)],
                )
            },
        ),
        (
            "no-dereference",
            Case {
                links: &[("file", "link")],
                ..wait(
                    &["-P", "-t", "1", "-e", "attrib", "{D}/link"],
                    &[Chmod("file", 0o600)],
                )
            },
        ),
        (
            "long options with =",
            wait(
                &[
                    "--mon",
                    "--timeout=1",
                    "--event=create",
                    "--quiet",
                    "{D}/sub",
                ],
                MIXED,
            ),
        ),
        (
            "options after paths",
            wait(&["{D}/sub", "-m", "-e", "delete", "-t1"], MIXED),
        ),
        ("missing path", wait(&["{D}/sub", "{D}/missing"], &[])),
        ("bad event", wait(&["-e", "bogus", "{D}/sub"], &[])),
        ("bad option", wait(&["-x", "{D}/sub"], &[])),
        ("ambiguous option", wait(&["--excl", "a", "{D}/sub"], &[])),
        (
            "csv and format",
            wait(&["-c", "--format", "%w", "{D}/sub"], &[]),
        ),
        (
            "timefmt without format",
            wait(&["--timefmt", "%H", "{D}/sub"], &[]),
        ),
        ("no files", wait(&["-m"], &[])),
        ("bad timeout", wait(&["-t", "1x", "{D}/sub"], &[])),
        (
            "help",
            Case {
                stdout: false,
                ..wait(&["-h"], &[])
            },
        ),
        (
            "watch table",
            watch(
                &["-t", "1", "{D}/sub", "{D}/file"],
                &[
                    Write("sub/a", b"hi"),
                    Read("sub/a"),
                    Append("file", b"y"),
                    Mkdir("sub/d"),
                ],
            ),
        ),
        (
            "watch events",
            watch(&["-t", "1", "-e", "create,delete", "{D}/sub"], MIXED),
        ),
        (
            "watch zero",
            watch(&["-z", "-t", "1", "{D}/sub", "{D}/file"], &[Touch("sub/a")]),
        ),
        (
            "watch ascending total",
            watch(
                &["-a", "total", "-t", "1", "{D}/sub", "{D}/file"],
                &[Touch("sub/a"), Append("file", b"1")],
            ),
        ),
        (
            "watch descending modify",
            watch(
                &["-d", "modify", "-t", "1", "{D}/sub", "{D}/file"],
                &[
                    Write("sub/a", b"1"),
                    Append("file", b"1"),
                    Append("file", b"2"),
                ],
            ),
        ),
        (
            "watch ascending create",
            watch(
                &["--ascending", "create", "-t", "1", "{D}/sub", "{D}/file"],
                &[Touch("sub/a"), Append("file", b"1")],
            ),
        ),
        (
            "watch verbose recursive",
            Case {
                setup: TREE,
                ..watch(&["-v", "-r", "-t", "1", "{D}/sub"], TREE_WORK)
            },
        ),
        (
            "watch recursive",
            Case {
                setup: TREE,
                ..watch(&["-r", "-t", "1", "{D}/sub"], TREE_WORK)
            },
        ),
        (
            "watch interrupted",
            Case {
                stop: Stop::Interrupt,
                ..watch(&["{D}/sub", "{D}/file"], MIXED)
            },
        ),
        (
            "watch SIGUSR1 then SIGINT",
            Case {
                stop: Stop::Usr1ThenInterrupt,
                ..watch(&["{D}/sub"], MIXED)
            },
        ),
        (
            "watch SIGUSR1 with nothing",
            Case {
                stop: Stop::Usr1ThenInterrupt,
                ..watch(&["{D}/sub"], &[])
            },
        ),
        (
            "watch deleted file",
            watch(&["-t", "1", "{D}/file"], &[Unlink("file")]),
        ),
        (
            "watch exclude",
            watch(&["-t", "1", "--exclude", "\\.tmp$", "{D}/sub"], FILTERED),
        ),
        (
            "watch includei",
            watch(&["-t", "1", "--includei", "TXT$", "{D}/sub"], FILTERED),
        ),
        (
            "watch nothing happened",
            watch(&["-t", "1", "{D}/sub"], &[]),
        ),
        (
            "watch fromfile",
            Case {
                files: &[("list", "{D}/file\n{D}/sub\n")],
                ..watch(
                    &["-t", "1", "--fromfile", "{O}/list"],
                    &[Touch("sub/a"), Append("file", b"1")],
                )
            },
        ),
        (
            "watch no-dereference",
            Case {
                links: &[("file", "link")],
                ..watch(
                    &["-P", "-t", "1", "{D}/link", "{D}/sub"],
                    &[Chmod("file", 0o600), Touch("sub/x")],
                )
            },
        ),
        ("watch sort by move", watch(&["-a", "move", "{D}/sub"], &[])),
        (
            "watch sort key unknown",
            watch(&["-d", "nope", "{D}/sub"], &[]),
        ),
        (
            "watch sort key not watched",
            watch(&["-e", "create", "-d", "modify", "{D}/sub"], &[]),
        ),
        ("watch missing path", watch(&["{D}/missing"], &[])),
    ]
}

/// What a run left, normalised.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Exit status (`None`: not compared).
    code: Option<i32>,
    /// Standard output.
    out: String,
    /// Standard error.
    err: String,
    /// The compared `-o` file.
    file: String,
}

/// A fresh directory under the system's temporary directory.
fn fresh(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("inotify-parity-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `s` with `{D}` and `{O}` replaced.
fn subst(s: &str, d: &str, o: &str) -> String {
    s.replace("{D}", d).replace("{O}", o)
}

/// Replaces the directories in `s` by their placeholders, and times (`12:34:56`) by `T`.
fn normalise(s: &str, d: &str, o: &str) -> String {
    let mut s = s.replace(o, "{O}");
    if !d.is_empty() {
        s = s.replace(d, "");
    }
    let re = regex::Regex::new(r"\d\d:\d\d:\d\d").unwrap();
    re.replace_all(&s, "T").into_owned()
}

/// Makes the fixed tree (`sub/`, `file` holding `x`), the case's setup and links, with plain
/// file system calls (no tool watches yet).
fn prepare(root: &Path, case: &Case, scratch: &Path, d: &str) {
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("file"), b"x").unwrap();
    for op in case.setup {
        if let Mkdir(p) = op {
            std::fs::create_dir(root.join(p)).unwrap();
        }
    }
    for (target, path) in case.links {
        std::os::unix::fs::symlink(target, root.join(path)).unwrap();
    }
    for (name, text) in case.files {
        std::fs::write(
            scratch.join(name),
            subst(text, d, &scratch.to_string_lossy()),
        )
        .unwrap();
    }
}

/// The workload with std (Linux's system calls).
fn work_linux(root: &Path, ops: &[Op]) {
    for op in ops {
        let p = |rel: &str| root.join(rel);
        let _ = match *op {
            Mkdir(a) => std::fs::create_dir(p(a)),
            Rmdir(a) => std::fs::remove_dir(p(a)),
            Write(a, data) => std::fs::write(p(a), data),
            Touch(a) => std::fs::File::create(p(a)).map(drop),
            Append(a, data) => std::fs::OpenOptions::new()
                .append(true)
                .open(p(a))
                .and_then(|mut f| f.write_all(data)),
            Read(a) => std::fs::File::open(p(a)).and_then(|mut f| {
                let mut buf = [0u8; 4096];
                while f.read(&mut buf)? > 0 {}
                Ok(())
            }),
            Unlink(a) => std::fs::remove_file(p(a)),
            Rename(a, b) => std::fs::rename(p(a), p(b)),
            Chmod(a, mode) => {
                std::fs::set_permissions(p(a), std::fs::Permissions::from_mode(mode.into()))
            }
            Sleep(ms) => {
                thread::sleep(Duration::from_millis(ms));
                Ok(())
            }
        };
    }
}

/// The workload through the in-process kernel; each operation is followed by a request to
/// the filesystem, so its one-way closes are handled before the next step.
fn work_ours(p: &Process, ops: &[Op]) {
    let barrier = p.open("/", O_PATH).unwrap();
    let at = |rel: &str| format!("/{rel}");
    for op in ops {
        let _ = match *op {
            Mkdir(a) => p.mkdir(&at(a), 0o755),
            Rmdir(a) => p.rmdir(&at(a)),
            Write(a, _) | Touch(a) => {
                let data: &[u8] = if let Write(_, d) = *op { d } else { &[] };
                p.open(&at(a), O_WRONLY | O_CREAT | O_TRUNC | 0o644)
                    .and_then(|fd| {
                        if !data.is_empty() {
                            p.write(fd, data)?;
                        }
                        p.close(fd)
                    })
            }
            Append(a, data) => p.open(&at(a), O_WRONLY | O_APPEND).and_then(|fd| {
                p.write(fd, data)?;
                p.close(fd)
            }),
            Read(a) => p.open(&at(a), O_RDONLY).and_then(|fd| {
                let mut buf = [0u8; 4096];
                while p.read(fd, &mut buf)? > 0 {}
                p.close(fd)
            }),
            Unlink(a) => p.unlink(&at(a)),
            Rename(a, b) => p.rename(&at(a), &at(b)),
            Chmod(a, mode) => p.open(&at(a), O_PATH).and_then(|fd| {
                let r = p.fchmod(fd, mode);
                p.close(fd).and(r)
            }),
            Sleep(ms) => {
                thread::sleep(Duration::from_millis(ms));
                Ok(())
            }
        };
        let _ = p.fstat(barrier);
    }
    let _ = p.close(barrier);
}

/// Whether `err` says the tool is ready.
fn says_ready(err: &str) -> bool {
    err.contains("Watches established.") || err.contains("now collecting statistics.")
}

/// The longest wait for a tool to be ready (or a background one to end).
const READY_LIMIT: Duration = Duration::from_secs(10);
/// How long the tool gets to read the last events before SIGINT.
const SETTLE: Duration = Duration::from_millis(400);

/// Runs `case` through inotify-tools on the Linux kernel. The workload starts once the tool
/// says its watches are established, or, when it says nothing, once it waits in `select`.
fn run_linux(i: usize, case: &Case) -> Outcome {
    let root = fresh(&format!("linux-{i}"));
    let scratch = fresh(&format!("linux-o-{i}"));
    let d = root.to_string_lossy().into_owned();
    let o = scratch.to_string_lossy().into_owned();
    prepare(&root, case, &scratch, &d);
    let prog = match case.tool {
        Which::Wait => "inotifywait",
        Which::Watch => "inotifywatch",
    };
    let args: Vec<String> = case.args.iter().map(|a| subst(a, &d, &o)).collect();
    let mut child = Proc::new(prog)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run inotify-tools");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_thread = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let (tx, rx) = mpsc::channel();
    let err_thread = thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 1024];
        let mut told = false;
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            if !told && says_ready(&String::from_utf8_lossy(&all)) {
                told = true;
                let _ = tx.send(());
            }
        }
        all
    });
    if case.daemon {
        // The background process announces nothing: find it by its output file.
        let out = scratch.join(case.outfile.unwrap_or("out"));
        let start = Instant::now();
        while start.elapsed() < READY_LIMIT {
            if pid_with_arg(&out.to_string_lossy()).is_some_and(blocked) {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
    } else {
        let start = Instant::now();
        while start.elapsed() < READY_LIMIT {
            // Ready when it says so, or (quiet) once it sits in select(); or gone.
            if rx.try_recv().is_ok()
                || blocked(child.id())
                || child.try_wait().ok().flatten().is_some()
            {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
    work_linux(&root, case.work);
    if case.stop != Stop::Exit {
        let pid = child.id() as i32;
        if case.stop == Stop::Usr1ThenInterrupt {
            thread::sleep(SETTLE);
            // SAFETY: kill only sends a signal to the child this function started.
            unsafe { libc::kill(pid, libc::SIGUSR1) };
        }
        thread::sleep(SETTLE);
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGINT) };
    }
    let code = wait_child(&mut child);
    if case.daemon {
        // The background process ends on its own after its -t.
        let out = scratch.join(case.outfile.unwrap_or("out"));
        let start = Instant::now();
        while pid_with_arg(&out.to_string_lossy()).is_some() && start.elapsed() < READY_LIMIT {
            thread::sleep(Duration::from_millis(50));
        }
    }
    let out = String::from_utf8_lossy(&out_thread.join().unwrap()).into_owned();
    let err = String::from_utf8_lossy(&err_thread.join().unwrap()).into_owned();
    let file = read_outfile(case, &scratch);
    let r = finish(case, code, &out, &err, &file, &d, &o);
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&scratch);
    r
}

/// Whether process `pid` is blocked in `select`/`poll` (its wait channel), i.e. waiting for
/// events with its watches set up.
fn blocked(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("poll_schedule"))
}

/// A process whose command line holds `arg` (the background process of `-d`).
fn pid_with_arg(arg: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        cmd.split(|&b| b == 0)
            .any(|a| a == arg.as_bytes())
            .then_some(pid)
    })
}

/// Waits up to 15 s for `child`; kills it after that.
fn wait_child(child: &mut std::process::Child) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return st.code();
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The compared `-o` file's contents.
fn read_outfile(case: &Case, scratch: &Path) -> String {
    case.outfile
        .map(|f| {
            String::from_utf8_lossy(&std::fs::read(scratch.join(f)).unwrap_or_default())
                .into_owned()
        })
        .unwrap_or_default()
}

/// The normalised outcome (for `-d`: only the file).
fn finish(
    case: &Case,
    code: Option<i32>,
    out: &str,
    err: &str,
    file: &str,
    d: &str,
    o: &str,
) -> Outcome {
    if case.daemon {
        return Outcome {
            code: None,
            out: String::new(),
            err: String::new(),
            file: normalise(file, d, o),
        };
    }
    Outcome {
        code,
        out: if case.stdout {
            normalise(out, d, o)
        } else {
            String::new()
        },
        err: normalise(err, d, o),
        file: normalise(file, d, o),
    }
}

/// Runs tool `T` with `args` in a new process of `w`; `work` runs once it is ready.
fn run_ours_tool<T: Tool>(
    w: &ServedDir,
    case: &Case,
    args: &[String],
) -> (Option<i32>, String, String)
where
    T::Options: Send + 'static,
{
    let opts = match T::parse(args) {
        Ok(Command::Run(o)) => o,
        Ok(Command::Help) => return (Some(1), T::USAGE.to_string(), String::new()),
        Err(e) => return (Some(1), String::new(), e),
    };
    let os = Signalled::new(w.process(100));
    let intr = os.intr.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let print_now = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let tool_stop = stop.clone();
    let tool_print_now = print_now.clone();
    let handle = thread::spawn(move || {
        let (mut out, mut err, mut syslog) = (Vec::new(), Vec::new(), Vec::new());
        let mut io = Io {
            out: &mut out,
            err: &mut err,
            syslog: &mut syslog,
            ready: &mut || {
                let _ = tx.send(());
            },
            stop: &tool_stop,
            print_now: &tool_print_now,
        };
        let code = T::run(os, &opts, &mut io);
        (code, out, err)
    });
    let _ = rx.recv_timeout(Duration::from_secs(10));
    work_ours(&w.process(200), case.work);
    if case.stop != Stop::Exit {
        if case.stop == Stop::Usr1ThenInterrupt {
            thread::sleep(SETTLE);
            print_now.store(true, Ordering::SeqCst);
            intr.fire();
        }
        thread::sleep(SETTLE);
        stop.store(true, Ordering::SeqCst);
        intr.fire();
    }
    let (code, out, err) = handle.join().unwrap();
    (
        Some(code),
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

/// Runs `case` through our tools on inotifyd over `HostFs`.
fn run_ours(i: usize, case: &Case) -> Outcome {
    let w = ServedDir::start("parity", &i.to_string());
    let scratch = fresh(&format!("ours-o-{i}"));
    let o = scratch.to_string_lossy().into_owned();
    prepare(w.dir(), case, &scratch, "");
    let args: Vec<String> = case.args.iter().map(|a| subst(a, "", &o)).collect();
    let (code, out, err) = match case.tool {
        Which::Wait => run_ours_tool::<Wait>(&w, case, &args),
        Which::Watch => run_ours_tool::<Watch>(&w, case, &args),
    };
    let file = read_outfile(case, &scratch);
    let r = finish(case, code, &out, &err, &file, "", &o);
    let _ = std::fs::remove_dir_all(&scratch);
    r
}

fn main() {
    let have = Proc::new("inotifywait")
        .arg("--help")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if !have {
        println!(
            "tools-parity: skipped (inotify-tools is not installed: apt-get install inotify-tools)"
        );
        if std::env::var_os("CI").is_some() {
            std::process::exit(1);
        }
        return;
    }
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let cases: Vec<(usize, &'static str, Case)> = cases()
        .into_iter()
        .enumerate()
        .map(|(i, (n, c))| (i, n, c))
        .filter(|(_, n, _)| filter.as_deref().is_none_or(|f| n.contains(f)))
        .collect();
    let results = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some((i, name, case)) = cases.get(k) else {
                    break;
                };
                let linux = thread::scope(|s2| {
                    let l = s2.spawn(|| run_linux(*i, case));
                    let ours = run_ours(*i, case);
                    (l.join().unwrap(), ours)
                });
                results.lock().unwrap().push((*i, *name, case.args, linux));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);
    // Four cases run at once, each on both systems, so a case whose output depends on when a
    // reader runs (event coalescing, `-t` expiry) can differ under load. A case that differs
    // runs once more, alone; it passes only if that run agrees, and the run says so.
    for (i, name, _, outcome) in &mut results {
        if outcome.0 != outcome.1 {
            let case = &cases.iter().find(|c| c.0 == *i).expect("a case").2;
            let again = thread::scope(|s| {
                let l = s.spawn(|| run_linux(*i, case));
                let ours = run_ours(*i, case);
                (l.join().unwrap(), ours)
            });
            println!(
                "rerun {name}: differed with other cases running; alone it {}",
                if again.0 == again.1 {
                    "agrees"
                } else {
                    "differs again"
                }
            );
            *outcome = again;
        }
    }
    let (mut passed, mut failed) = (0, 0);
    let mut stdout = std::io::stdout().lock();
    for (_, name, args, (linux, ours)) in &results {
        if linux == ours {
            passed += 1;
            let _ = writeln!(stdout, "ok - {name}");
        } else {
            failed += 1;
            let _ = writeln!(
                stdout,
                "FAIL - {name} ({})\n  inotify-tools: {linux:?}\n  ours:          {ours:?}",
                args.join(" ")
            );
        }
    }
    let _ = writeln!(stdout, "tools-parity: {passed} passed, {failed} failed");
    drop(stdout);
    if failed > 0 {
        std::process::exit(1);
    }
}
