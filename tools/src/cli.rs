//! What `inotifywait` and `inotifywatch` share: the options both take, the list of paths to
//! watch, the start of a run, where messages go, and the body of each binary's `main`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use inotify_client::{Inotify, IN_CLOEXEC, IN_NONBLOCK};
use syscall::error::ENOSPC;

use crate::events;
use crate::getopt::{self, Found, Opt};
use crate::session::{strerror, Filter, Session};
use crate::sys::ToolOs;
use crate::EXIT_ERROR;

/// A command-line tool: its name, options, usage text, parser and run, for [`main`].
pub trait Tool {
    /// The program name, prefixed to its messages.
    const NAME: &'static str;
    /// The usage text (`-h`).
    const USAGE: &'static str;
    /// What the command line asks for.
    type Options;
    /// Parses the arguments after the program name: `Err` holds the messages to print on
    /// standard error (the exit status is then 1; `-h` prints the usage and also exits 1,
    /// as inotify-tools does).
    fn parse(args: &[String]) -> Result<Command<Self::Options>, String>;
    /// Runs the tool. Returns the exit status.
    fn run<O: ToolOs>(os: O, opts: &Self::Options, io: &mut Io<'_>) -> i32;
    /// Whether SIGINT, SIGTERM and SIGHUP ask the tool to stop and SIGUSR1 for the results
    /// so far (instead of ending the process).
    const CATCHES_STOP: bool = false;
    /// With `-d`: the output file (the run goes on in a background process).
    fn daemon_outfile(_opts: &Self::Options) -> Option<&str> {
        None
    }
}

/// What to do after parsing a tool's command line.
#[derive(Debug, PartialEq, Eq)]
pub enum Command<T> {
    /// Run the tool with these options.
    Run(T),
    /// Print the tool's usage text to standard output and exit 1.
    Help,
}

/// Where a run's output goes, and what it is told while it runs.
pub struct Io<'a> {
    /// Standard output (events, the table), unless `-o` names a file.
    pub out: &'a mut dyn Write,
    /// Standard error (set-up messages and errors).
    pub err: &'a mut dyn Write,
    /// The system log (`-s`, `-d`).
    pub syslog: &'a mut dyn Write,
    /// Called once every watch is established.
    pub ready: &'a mut dyn FnMut(),
    /// Set by a signal that asks the tool to stop (`inotifywatch`: SIGINT, SIGTERM,
    /// SIGHUP); a blocked read then returns `EINTR` and the tool checks it.
    pub stop: &'a AtomicBool,
    /// Set by a signal that asks for the results so far (`inotifywatch`: SIGUSR1); the tool
    /// clears it when it has printed them.
    pub print_now: &'a AtomicBool,
}

/// Writes a message to `err`, or to `syslog` when `to_syslog`.
pub fn say(err: &mut dyn Write, syslog: &mut dyn Write, to_syslog: bool, msg: &str) {
    let sink: &mut dyn Write = if to_syslog { syslog } else { err };
    let _ = sink.write_all(msg.as_bytes());
    let _ = sink.flush();
}

/// The options both tools take.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommonOptions {
    /// `-t`: seconds (0: no limit).
    pub timeout: u32,
    /// `-e`: the events (0 when not given: all).
    pub mask: u32,
    /// `-r`.
    pub recursive: bool,
    /// `-P`: do not follow symlinks (`IN_DONT_FOLLOW`).
    pub no_dereference: bool,
    /// `--fromfile`: a file with one path per line (`-`: standard input).
    pub fromfile: Option<String>,
    /// `--exclude`, `--excludei`, `--include`, `--includei`: the pattern, whether case is
    /// ignored, whether it includes.
    pub filter: Option<(String, bool, bool)>,
    /// The path operands (`@path` excludes `path` from a recursive watch).
    pub paths: Vec<String>,
}

/// The options both tools take, for [`getopt::parse`].
pub(crate) const COMMON_OPTS: &[Opt] = &[
    Opt {
        short: Some('h'),
        long: "help",
        value: false,
    },
    Opt {
        short: Some('e'),
        long: "event",
        value: true,
    },
    Opt {
        short: Some('t'),
        long: "timeout",
        value: true,
    },
    Opt {
        short: Some('r'),
        long: "recursive",
        value: false,
    },
    Opt {
        short: Some('P'),
        long: "no-dereference",
        value: false,
    },
    Opt {
        short: Some('I'),
        long: "inotify",
        value: false,
    },
    Opt {
        short: None,
        long: "fromfile",
        value: true,
    },
    Opt {
        short: None,
        long: "exclude",
        value: true,
    },
    Opt {
        short: None,
        long: "excludei",
        value: true,
    },
    Opt {
        short: None,
        long: "include",
        value: true,
    },
    Opt {
        short: None,
        long: "includei",
        value: true,
    },
];

/// Parses the command line with the common options plus a tool's `own`; the tool's options
/// are returned for it to handle. `Ok(None)` for `-h`.
pub(crate) fn parse_common(
    prog: &str,
    own: &[Opt],
    args: &[String],
) -> Result<Option<(CommonOptions, Vec<Found>)>, String> {
    let table: Vec<Opt> = COMMON_OPTS.iter().chain(own).copied().collect();
    let (found, paths) = getopt::parse(&table, args).map_err(|e| format!("{prog}: {e}\n"))?;
    let mut c = CommonOptions {
        paths,
        ..Default::default()
    };
    let mut mine = Vec::new();
    let (mut exclude, mut excludei, mut include, mut includei) = (None, None, None, None);
    let mut excludes = (0, 0);
    for (name, value) in found {
        let v = value.clone().unwrap_or_default();
        match name {
            "help" => return Ok(None),
            "event" => c.mask |= events::parse_list(&v).map_err(|e| e + "\n")?,
            "timeout" => c.timeout = parse_timeout(&v)?,
            "recursive" => c.recursive = true,
            "no-dereference" => c.no_dereference = true,
            "inotify" => {}
            "fromfile" => {
                if c.fromfile.is_some() {
                    return Err("Multiple --fromfile options given.\n".into());
                }
                c.fromfile = Some(v);
            }
            "exclude" => {
                exclude = Some(v);
                excludes.0 += 1;
            }
            "excludei" => {
                excludei = Some(v);
                excludes.1 += 1;
            }
            "include" => include = Some(v),
            "includei" => includei = Some(v),
            _ => mine.push((name, value)),
        }
    }
    if exclude.is_some() && excludei.is_some() {
        return Err("--exclude and --excludei cannot both be specified.\n".into());
    }
    if include.is_some() && includei.is_some() {
        return Err("--include and --includei cannot both be specified.\n".into());
    }
    if (include.is_some() || includei.is_some()) && (exclude.is_some() || excludei.is_some()) {
        return Err("include and exclude regexp cannot both be specified.\n".into());
    }
    c.filter = exclude
        .map(|p| (p, false, false))
        .or(excludei.map(|p| (p, true, false)))
        .or(include.map(|p| (p, false, true)))
        .or(includei.map(|p| (p, true, true)));
    // inotify-tools warns (and keeps the last) when an exclude option is repeated.
    let mut warnings = String::new();
    if excludes.0 > 1 {
        warnings.push_str("--exclude: only the last option will be taken into consideration.\n");
    }
    if excludes.1 > 1 {
        warnings.push_str("--excludei: only the last option will be taken into consideration.\n");
    }
    if !warnings.is_empty() {
        mine.push(("warnings", Some(warnings)));
    }
    Ok(Some((c, mine)))
}

/// Parses a `-t` value as `strtol` does (leading blanks and a sign allowed; a negative value
/// wraps, as inotify-tools stores it unsigned).
pub fn parse_timeout(s: &str) -> Result<u32, String> {
    let t = s.trim_start();
    if s.is_empty() {
        return Err(
            "The provided value is not a valid timeout value.\nPlease specify a long int value.\n"
                .into(),
        );
    }
    t.parse::<i64>().map(|v| v as u32).map_err(|_| {
        format!("'{s}' is not a valid timeout value.\nPlease specify a long int value.\n")
    })
}

/// The paths to watch and the ones to leave out of a recursive watch: lines of the
/// `--fromfile` file first, then the operands; a leading `@` excludes, a lone `@` and empty
/// names are skipped. A `--fromfile` file that cannot be read is reported to `err`.
pub(crate) fn path_list(c: &CommonOptions, err: &mut dyn Write) -> (Vec<String>, Vec<String>) {
    let mut names = Vec::new();
    if let Some(file) = &c.fromfile {
        let text = if file == "-" {
            std::io::read_to_string(std::io::stdin())
        } else {
            std::fs::read_to_string(file)
        };
        match text {
            Ok(t) => names.extend(t.lines().map(String::from)),
            Err(e) => {
                let _ = writeln!(err, "Couldn't open {file}: {}", io_strerror(&e));
            }
        }
    }
    names.extend(c.paths.iter().cloned());
    let (mut watch, mut exclude) = (Vec::new(), Vec::new());
    for n in names {
        match n.strip_prefix('@') {
            _ if n.is_empty() || n == "@" => {}
            Some(x) => exclude.push(x.to_string()),
            None => watch.push(n),
        }
    }
    (watch, exclude)
}

/// The text of an I/O error, without std's " (os error N)".
pub fn io_strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Opens the instance (blocking without a timeout; with one non-blocking, as reads then wait
/// with an event queue and a timer) and compiles the filter. On failure the message is written and the exit status returned.
pub(crate) fn open_session<O: ToolOs>(
    os: O,
    c: &CommonOptions,
    err: &mut dyn Write,
) -> Result<Session<O>, i32> {
    let filter = match &c.filter {
        Some((pattern, icase, include)) => match Filter::new(pattern, *icase, *include) {
            Some(f) => Some(f),
            None => {
                let which = if *include { "include" } else { "exclude" };
                let _ = writeln!(err, "Error in `{which}' regular expression.");
                return Err(EXIT_ERROR);
            }
        },
        None => None,
    };
    let ino = match Inotify::init1(os, IN_CLOEXEC | if c.timeout > 0 { IN_NONBLOCK } else { 0 }) {
        Ok(i) => i,
        Err(e) => {
            let _ = writeln!(err, "Couldn't initialize inotify: {}", strerror(e));
            return Err(EXIT_ERROR);
        }
    };
    let mut s = Session::new(ino);
    s.filter = filter;
    Ok(s)
}

/// The message for a path that could not be watched (`verb`: "Couldn't watch" or
/// "Failed to watch").
pub(crate) fn watch_failure(verb: &str, path: &str, e: syscall::error::Error) -> String {
    if e.errno == ENOSPC {
        format!(
            "Failed to watch {path}; upper limit on inotify watches reached!\n\
             Please increase the amount of inotify watches allowed per user via \
             `/proc/sys/fs/inotify/max_user_watches'.\n"
        )
    } else {
        format!("{verb} {path}: {}\n", strerror(e))
    }
}

/// Set by the binary's signal handlers.
#[cfg_attr(not(target_os = "redox"), allow(dead_code))]
static STOP: AtomicBool = AtomicBool::new(false);
/// Set by the binary's SIGUSR1 handler.
#[cfg_attr(not(target_os = "redox"), allow(dead_code))]
static PRINT_NOW: AtomicBool = AtomicBool::new(false);

/// The body of a tool's `main`: parses the process's arguments, runs the tool with the
/// system's calls and exits with its status.
pub fn main<T: Tool>() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match T::parse(&args) {
        Ok(Command::Run(opts)) => opts,
        Ok(Command::Help) => {
            print!("{}", T::USAGE);
            std::process::exit(EXIT_ERROR);
        }
        Err(e) => {
            eprint!("{e}");
            std::process::exit(EXIT_ERROR);
        }
    };
    if let Some(outfile) = T::daemon_outfile(&opts) {
        if let Err(code) = daemonize(outfile) {
            std::process::exit(code);
        }
    }
    std::process::exit(run_here::<T>(&opts));
}

/// Set in the environment of the background process `-d` starts.
const DAEMON_CHILD: &str = "INOTIFY_TOOLS_DAEMON_CHILD";

/// `-d`: checks that `outfile` exists (inotify-tools resolves it with `realpath` first),
/// then starts the same command line again as a background process with standard input,
/// output and error on the null device, and exits 0. Returns in that background process.
/// Unlike `daemon(3)` the background process keeps the working directory, so relative
/// paths mean the same in it.
fn daemonize(outfile: &str) -> Result<(), i32> {
    if std::env::var_os(DAEMON_CHILD).is_some() {
        return Ok(());
    }
    if let Err(e) = std::fs::canonicalize(outfile) {
        eprintln!("{}: {outfile}", io_strerror(&e));
        return Err(EXIT_ERROR);
    }
    let exe = std::env::current_exe().map_err(|_| EXIT_ERROR)?;
    let spawned = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(DAEMON_CHILD, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match spawned {
        Ok(_) => Err(0),
        Err(_) => {
            eprintln!("Failed to daemonize!");
            Err(EXIT_ERROR)
        }
    }
}

/// Runs the tool with Redox's system calls: messages for the system log go to the `log`
/// scheme (standard error when it cannot be opened).
#[cfg(target_os = "redox")]
fn run_here<T: Tool>(opts: &T::Options) -> i32 {
    use std::fs::OpenOptions;
    if T::CATCHES_STOP {
        catch_stop_signals();
    }
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    let mut syslog: Box<dyn Write> = match OpenOptions::new().write(true).open("/scheme/log") {
        Ok(f) => Box::new(SyslogLines {
            prog: T::NAME,
            sink: f,
        }),
        Err(_) => Box::new(SyslogLines {
            prog: T::NAME,
            sink: std::io::stderr(),
        }),
    };
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        syslog: &mut *syslog,
        ready: &mut || {},
        stop: &STOP,
        print_now: &PRINT_NOW,
    };
    T::run(inotify_client::RedoxOs, opts, &mut io)
}

/// On a host there is no `/scheme/inotify`.
#[cfg(not(target_os = "redox"))]
fn run_here<T: Tool>(_opts: &T::Options) -> i32 {
    eprintln!(
        "{}: this build talks to inotifyd on Redox; on a host it runs only inside the \
         tests (cargo test -p inotify-tools), see docs/clients.md",
        T::NAME
    );
    EXIT_ERROR
}

/// Messages for the system log, one line each, prefixed with the program name and pid.
pub struct SyslogLines<W: Write> {
    /// The program name.
    pub prog: &'static str,
    /// Where the lines go.
    pub sink: W,
}

impl<W: Write> Write for SyslogLines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        for line in text.lines() {
            writeln!(self.sink, "{}[{}]: {line}", self.prog, std::process::id())?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.sink.flush()
    }
}

/// Makes SIGINT, SIGTERM and SIGHUP set [`STOP`], and SIGUSR1 [`PRINT_NOW`], and interrupt
/// a blocked read (no `SA_RESTART`), for `inotifywatch`'s table on a signal.
#[cfg(target_os = "redox")]
pub fn catch_stop_signals() {
    extern "C" fn on_signal(sig: libc::c_int) {
        if sig == libc::SIGUSR1 {
            PRINT_NOW.store(true, Ordering::SeqCst);
        } else {
            STOP.store(true, Ordering::SeqCst);
        }
    }
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an atomic.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Whether a stop was asked for.
pub fn stopped(stop: &AtomicBool) -> bool {
    stop.load(Ordering::SeqCst)
}
