//! `inotifyctl`: inotifyd's daemon-wide view and its limits, for administrators.
//!
//! ```text
//! inotifyctl [status]   the daemon-wide status (root only): instances and watches per uid,
//!                       each instance's queue and unreported losses, each feed's sequence
//!                       position and losses (the text of /scheme/inotify/status)
//! inotifyctl limits     every tunable under /scheme/inotify/, as `name value`
//! ```
//!
//! A process's own watches are not shown here: an instance is an fd of the process that
//! opened it, which another process cannot reach. Programs list their own watches with
//! `Inotify::watches` (Rust) or the `ListWatches` call (docs/protocols.md).

use inotify_abi::proto::{STATUS_NAME, TUNABLES};
use inotify_client::{Os, SCHEME_PATH};
use syscall::error::{Error, Result, EACCES};
use syscall::flag::O_RDONLY;

use crate::cli::{Command, Io, Tool};
use crate::session::strerror;
use crate::sys::ToolOs;
use crate::{EXIT_ERROR, EXIT_EVENT};

/// What `inotifyctl` was asked to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctl {
    /// `status`: the daemon-wide view.
    Status,
    /// `limits`: the tunables.
    Limits,
}

/// The `inotifyctl` tool.
pub struct InotifyCtl;

/// Reads the whole of `/scheme/inotify/<name>`.
fn read_file(os: &impl Os, name: &str) -> Result<Vec<u8>> {
    let fd = os.open(&format!("{SCHEME_PATH}/{name}"), O_RDONLY)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let r = loop {
        match os.read(fd, &mut buf) {
            Ok(0) => break Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
    };
    let _ = os.close(fd);
    r
}

impl Tool for InotifyCtl {
    const NAME: &'static str = "inotifyctl";
    const USAGE: &'static str = "inotifyctl - inotifyd's daemon-wide view and limits\n\
Usage: inotifyctl [ status | limits ]\n\
\tstatus\tinstances and watches per uid, queued bytes, memory, feeds\n\
\t\twith their sequence position and losses (root only; the default)\n\
\tlimits\tevery tunable under /scheme/inotify/ as `name value`\n\
A program lists its own watches with the client API (Inotify::watches).\n";
    type Options = Ctl;

    fn parse(args: &[String]) -> core::result::Result<Command<Ctl>, String> {
        match args {
            [] => Ok(Command::Run(Ctl::Status)),
            [a] if a == "status" => Ok(Command::Run(Ctl::Status)),
            [a] if a == "limits" => Ok(Command::Run(Ctl::Limits)),
            [a] if a == "-h" || a == "--help" => Ok(Command::Help),
            _ => Err(Self::USAGE.to_string()),
        }
    }

    fn run<O: ToolOs>(os: O, opts: &Ctl, io: &mut Io<'_>) -> i32 {
        let text = match opts {
            Ctl::Status => read_file(&os, STATUS_NAME),
            Ctl::Limits => TUNABLES.iter().try_fold(Vec::new(), |mut out, name| {
                let value = read_file(&os, name)?;
                out.extend_from_slice(format!("{name} ").as_bytes());
                out.extend_from_slice(&value);
                Ok::<_, Error>(out)
            }),
        };
        match text {
            Ok(text) => {
                let _ = io.out.write_all(&text);
                let _ = io.out.flush();
                (io.ready)();
                EXIT_EVENT
            }
            Err(e) => {
                let why = if e.errno == EACCES && *opts == Ctl::Status {
                    " (the daemon-wide status is root's)"
                } else {
                    ""
                };
                let _ = writeln!(io.err, "inotifyctl: {}{why}", strerror(e));
                (io.ready)();
                EXIT_ERROR
            }
        }
    }
}
