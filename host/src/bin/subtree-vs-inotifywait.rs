//! `subtree-vs-inotifywait [SEEDS] [STEPS]`: the subtree workload of
//! `inotify_host::subtree_load` (seeds `0..SEEDS`, default 20; `STEPS` steps each, default
//! 150, as tests/subtree_stress.rs) on the Linux kernel, watched by Debian inotify-tools'
//! `inotifywait -r -m`, which adds a watch per directory as it sees them made. Prints per
//! seed and in total how many of the events a subtree watch must report did not reach
//! `inotifywait`. inotifyd's subtree watch misses none of them on the same seeds (the test).
//! A reported event counts when an expected one has the same mask and path; "not at all"
//! compares the last path component only (`inotifywait -r` keeps the old paths of moved
//! directories). `SUBTREE_DEBUG=1` lists each expected event (`--` when not reported with
//! its path) and what was reported, on stderr. Linux only; needs `inotifywait` on the PATH.

#[cfg(target_os = "linux")]
fn main() {
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let (seeds, steps) = (arg(1, 20), arg(2, 150) as usize);
    let (mut expected, mut missed, mut lost) = (0, 0, 0);
    for seed in 0..seeds {
        match linux::one_seed(seed, steps) {
            Ok((e, m, l)) => {
                println!(
                    "seed {seed}: {e} events, inotifywait -r: {m} not reported with their path, {l} of them not at all"
                );
                expected += e;
                missed += m;
                lost += l;
            }
            Err(err) => {
                eprintln!("subtree-vs-inotifywait: seed {seed}: {err}");
                std::process::exit(1);
            }
        }
    }
    let pct = |n: usize| 100.0 * n as f64 / expected.max(1) as f64;
    println!(
        "total: {seeds} seeds x {steps} steps, {expected} events; inotifywait -r: {missed} not reported with their path ({:.1}%), {lost} not reported at all ({:.1}%)",
        pct(missed),
        pct(lost)
    );
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("subtree-vs-inotifywait runs the workload on the Linux kernel only");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use inotify_abi::consts::*;
    use inotify_host::subtree_load::{self, Op, ROOT};

    fn run(base: &Path, op: &Op) -> std::io::Result<()> {
        let at = |rel: &str| base.join(rel);
        match op {
            Op::Mkdir(d) => std::fs::create_dir(at(d)),
            Op::Create(f) => std::fs::File::create_new(at(f))?.write_all(b"x"),
            Op::Write(f) => std::fs::OpenOptions::new()
                .write(true)
                .open(at(f))?
                .write_all(b"x"),
            Op::Unlink(f) => std::fs::remove_file(at(f)),
            Op::Rmdir(d) => std::fs::remove_dir(at(d)),
            Op::Rename(a, b) => std::fs::rename(at(a), at(b)),
        }
    }

    /// inotifywait's `%e` as a mask.
    fn mask(events: &str) -> u32 {
        events
            .split(',')
            .map(|e| match e {
                "CREATE" => IN_CREATE,
                "DELETE" => IN_DELETE,
                "MOVED_FROM" => IN_MOVED_FROM,
                "MOVED_TO" => IN_MOVED_TO,
                "MODIFY" => IN_MODIFY,
                "ISDIR" => IN_ISDIR,
                _ => 0,
            })
            .fold(0, |a, b| a | b)
    }

    /// Runs seed `seed`: returns (events expected, events inotifywait did not report with
    /// their path, events it did not report at all).
    pub fn one_seed(seed: u64, steps: usize) -> Result<(usize, usize, usize), String> {
        let load = subtree_load::generate(seed, steps);
        let base: PathBuf = std::env::temp_dir().join(format!(
            "subtree-vs-inotifywait-{}-{seed}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir(&base).map_err(|e| e.to_string())?;
        for op in &load.setup {
            run(&base, op).map_err(|e| format!("{op:?}: {e}"))?;
        }
        let root = base.join(ROOT);
        let mut child = Command::new("inotifywait")
            .args(["-r", "-m", "-e", "create,delete,moved_from,moved_to,modify"])
            .args(["--format", "%e|%w%f"])
            .arg(&root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("inotifywait: {e}"))?;
        // Wait for "Watches established."
        let mut err = BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        while !line.contains("established") {
            line.clear();
            if err.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err("inotifywait ended before it watched".into());
            }
        }
        for op in &load.ops {
            run(&base, op).map_err(|e| format!("{op:?}: {e}"))?;
        }
        std::thread::sleep(Duration::from_millis(500));
        let _ = child.kill();
        let mut out = String::new();
        child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .map_err(|e| e.to_string())?;
        let _ = child.wait();
        let prefix = format!("{}/", root.display());
        let got: Vec<(u32, String)> = out
            .lines()
            .filter_map(|l| {
                let (e, path) = l.split_once('|')?;
                Some((mask(e), path.strip_prefix(&prefix)?.to_string()))
            })
            .collect();
        let _ = std::fs::remove_dir_all(&base);
        if std::env::var_os("SUBTREE_DEBUG").is_some() {
            for e in &load.expected {
                let seen = got.iter().any(|(m, n)| *m == e.mask && *n == e.name);
                eprintln!(
                    "{} {:#x} {}",
                    if seen { "  " } else { "--" },
                    e.mask,
                    e.name
                );
            }
            for (m, n) in &got {
                eprintln!("got {m:#x} {n}");
            }
        }
        Ok((
            load.expected.len(),
            subtree_load::missing(&load.expected, &got),
            subtree_load::missing_anywhere(&load.expected, &got),
        ))
    }
}
