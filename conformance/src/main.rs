//! `inotify-conform`: runs the conformance scenarios and the randomised differential run.
//!
//! ```text
//! inotify-conform [--backend linux|both] [--scenarios DIR] [--only NAME]
//!                 [--random N] [--start S] [--seed S] [--print-seed S] [--show] [--record FILE]
//!                 [--write-expected DIR]
//!                 [--no-close-barrier] [--small-queues] [--reduce] [--max-failures N] [-v]
//! ```
//! `--backend linux` runs each scenario twice on Linux (two fresh directories and
//! instances) and compares the two runs: this checks the expectations and that the
//! normalisation hides exactly what differs between runs. `--backend both` (the default
//! when inotifyd is built in) compares Linux with inotifyd. The last line printed is
//! `N passed, M failed`; the exit status is 0 only when nothing failed. `--write-expected
//! DIR` runs each selected scenario on Linux only and writes its normalised outputs to
//! `DIR/NAME.out` (what the Redox guest runner compares with).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use inotify_conformance::backend::Backend;
use inotify_conformance::exec::{self, Verdict};
use inotify_conformance::gen;
use inotify_conformance::linux::Linux;
use inotify_conformance::script::{self, Scenario};

/// Command-line options.
struct Opts {
    /// Which backends: `linux` (Linux against itself) or `both`.
    backend: String,
    /// Scenario directory.
    dir: PathBuf,
    /// Run only scenarios whose name contains this.
    only: Option<String>,
    /// Random scenarios to run.
    random: u64,
    /// Skip the second run through the interposer.
    no_interposed: bool,
    /// First random seed.
    start: u64,
    /// Replay one seed only (no files).
    seed: Option<u64>,
    /// Print the random scenario for a seed and exit.
    print_seed: Option<u64>,
    /// Print declared differences and every scenario name.
    verbose: bool,
    /// Random failures reported in full; later ones get one line each.
    max_failures: u64,
    /// Random scenarios may lower `max_queued_events` (machine-wide on Linux while they run).
    small_queues: bool,
    /// With `--seed`: shrink a failing random scenario before printing it.
    reduce: bool,
    /// Print this scenario file with the Linux outputs inserted as `>` lines.
    record: Option<PathBuf>,
    /// Print each selected scenario with the Linux outputs as `>` lines, run nothing else.
    show: bool,
    /// Write each selected scenario's Linux outputs to `DIR/NAME.out`, run nothing else.
    write_expected: Option<PathBuf>,
}

/// Parses the command line.
fn opts() -> Result<Opts, String> {
    let mut o = Opts {
        backend: default_backend().to_string(),
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"),
        only: None,
        random: 0,
        no_interposed: false,
        start: 1,
        seed: None,
        print_seed: None,
        verbose: false,
        show: false,
        max_failures: 10,
        small_queues: false,
        reduce: false,
        record: None,
        write_expected: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--backend" => o.backend = val()?,
            "--scenarios" => o.dir = PathBuf::from(val()?),
            "--only" => o.only = Some(val()?),
            "--random" => o.random = val()?.parse().map_err(|_| "bad --random")?,
            "--start" => o.start = val()?.parse().map_err(|_| "bad --start")?,
            "--seed" => o.seed = Some(val()?.parse().map_err(|_| "bad --seed")?),
            "--print-seed" => o.print_seed = Some(val()?.parse().map_err(|_| "bad --print-seed")?),
            "-v" | "--verbose" => o.verbose = true,
            "--show" => o.show = true,
            "--small-queues" => o.small_queues = true,
            "--reduce" => o.reduce = true,
            "--record" => o.record = Some(PathBuf::from(val()?)),
            "--write-expected" => o.write_expected = Some(PathBuf::from(val()?)),
            "--max-failures" => {
                o.max_failures = val()?.parse().map_err(|_| "bad --max-failures")?
            }
            #[cfg(feature = "inotifyd")]
            "--no-interposed" => o.no_interposed = true,
            "--no-close-barrier" => inotify_conformance::inotifyd::set_close_barrier(false),
            "-h" | "--help" => {
                println!("usage: inotify-conform [--backend linux|both] [--scenarios DIR] [--only NAME] [--random N] [--start S] [--seed S] [--print-seed S] [--show] [--record FILE] [--write-expected DIR] [--no-close-barrier] [--small-queues] [--reduce] [--max-failures N] [-v]");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if o.backend != "linux" && o.backend != "both" {
        return Err(format!("unknown backend {}", o.backend));
    }
    Ok(o)
}

/// `both` when the inotifyd backend is available.
fn default_backend() -> &'static str {
    if inotifyd_available() {
        "both"
    } else {
        "linux"
    }
}

/// Whether this build has the inotifyd backend.
fn inotifyd_available() -> bool {
    cfg!(feature = "inotifyd")
}

/// A fresh second backend for a comparison run.
fn second_backend(which: &str) -> Result<Box<dyn Backend>, String> {
    match which {
        "linux" => Ok(Box::new(Linux::new().map_err(|e| e.to_string())?)),
        #[cfg(feature = "inotifyd")]
        _ => Ok(Box::new(inotify_conformance::inotifyd::Inotifyd::new()?)),
        #[cfg(not(feature = "inotifyd"))]
        _ => Err("this build has no inotifyd backend (feature `inotifyd`)".into()),
    }
}

/// Runs one scenario on Linux and on the second backend; returns the verdict.
fn run_one(sc: &Scenario, backend: &str) -> Verdict {
    run_pair(sc, backend, false).0
}

/// Runs one scenario on Linux, on the second backend and, with `interposed` (and the
/// inotifyd backend), once more on inotifyd fed by the interposer; returns both verdicts.
fn run_pair(sc: &Scenario, backend: &str, interposed: bool) -> (Verdict, Option<Verdict>) {
    let mut v = Verdict::default();
    let outs_linux = match run_linux(sc) {
        Ok(outs) => outs,
        Err(e) => {
            v.failures
                .push(format!("{}: cannot set up linux: {e}", sc.name));
            return (v, None);
        }
    };
    let mut checked = Verdict::default();
    exec::check_expectations(sc, "linux", true, &outs_linux, &mut checked);
    let other = second_backend(backend);
    let v = compare_with(sc, &outs_linux, &checked, other, backend == "linux");
    let second = interposed.then(|| {
        let other = interposed_backend();
        compare_with(sc, &outs_linux, &checked, other, false)
    });
    (v, second)
}

/// The inotifyd backend fed by the interposer.
fn interposed_backend() -> Result<Box<dyn Backend>, String> {
    #[cfg(feature = "inotifyd")]
    return Ok(Box::new(
        inotify_conformance::inotifyd::Inotifyd::interposed()?,
    ));
    #[cfg(not(feature = "inotifyd"))]
    Err("this build has no inotifyd backend (feature `inotifyd`)".into())
}

/// Runs `sc` on `other` and compares with Linux's outputs (already checked into `checked`).
fn compare_with(
    sc: &Scenario,
    outs_linux: &[exec::StepOut],
    checked: &Verdict,
    other: Result<Box<dyn Backend>, String>,
    second_linux: bool,
) -> Verdict {
    let mut v = checked.clone();
    let mut other = match other {
        Ok(b) => b,
        Err(e) => {
            v.failures.push(format!("{}: {e}", sc.name));
            return v;
        }
    };
    let name = if second_linux {
        "linux(2)"
    } else {
        other.name()
    };
    let outs_other = exec::run(sc, other.as_mut());
    drop(other);
    exec::check_expectations(sc, name, second_linux, &outs_other, &mut v);
    exec::compare(sc, ["linux", name], outs_linux, &outs_other, &mut v);
    v
}

/// Runs `sc` on Linux. When another process changed the machine-wide `max_queued_events`
/// while a scenario that sets it ran, the oracle's output cannot be trusted: the scenario
/// runs once more, and the run says so.
fn run_linux(sc: &Scenario) -> std::io::Result<Vec<exec::StepOut>> {
    let mut b = Linux::new()?;
    let outs = exec::run(sc, &mut b);
    if !b.max_queued_disturbed() {
        return Ok(outs);
    }
    drop(b);
    println!(
        "rerun {}: max_queued_events was changed by another process during the run",
        sc.name
    );
    let mut b = Linux::new()?;
    let outs = exec::run(sc, &mut b);
    if b.max_queued_disturbed() {
        println!(
            "{}: max_queued_events changed again during the rerun",
            sc.name
        );
    }
    Ok(outs)
}

/// Loads every `*.scn` file of `dir`, sorted by name.
fn load(dir: &Path) -> Result<Vec<Scenario>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let name = f
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        out.push(script::parse(&name, &text).map_err(|e| format!("{}: {e}", f.display()))?);
    }
    Ok(out)
}

/// Tallies and prints results.
#[derive(Default)]
struct Tally {
    /// Scenarios that passed.
    passed: u64,
    /// Scenarios that failed.
    failed: u64,
}

impl Tally {
    /// Records and prints one verdict.
    fn record(&mut self, sc: &Scenario, v: &Verdict, verbose: bool, show_text: bool) {
        if v.passed() {
            self.passed += 1;
            if verbose {
                println!("pass {}", sc.name);
            }
            for d in &v.declared {
                println!("{d}");
            }
        } else {
            self.failed += 1;
            println!("FAIL {} (from: {})", sc.name, sc.from.join("; "));
            for f in &v.failures {
                println!("{f}");
            }
            if show_text {
                println!("--- scenario {} ---\n{}---", sc.name, sc.to_text());
            }
        }
    }
}

/// Shrinks a failing scenario: drops steps one at a time, last first, keeping each removal
/// after which the scenario still fails with its first undeclared difference on the same
/// kind of operation. Repeats until no step can go. Returns `sc` unchanged if it passes.
fn reduce(mut sc: Scenario, backend: &str) -> Scenario {
    let kind = |sc: &Scenario| run_one(sc, backend).first.map(|(_, op, _, _)| op);
    let Some(want) = kind(&sc) else {
        return sc;
    };
    loop {
        let mut shrunk = false;
        let mut i = sc.steps.len();
        while i > 0 {
            i -= 1;
            let mut trial = sc.clone();
            trial.steps.remove(i);
            if kind(&trial).as_ref() == Some(&want) {
                sc = trial;
                shrunk = true;
            }
        }
        if !shrunk {
            return sc;
        }
    }
}

/// Prints `sc` with its Linux outputs as `>` lines (to review what the oracle does).
fn show(sc: &Scenario) {
    let outs = match Linux::new() {
        Ok(mut b) => exec::run(sc, &mut b),
        Err(e) => {
            println!("{}: cannot set up linux: {e}", sc.name);
            return;
        }
    };
    println!("=== {}", sc.name);
    for (step, out) in sc.steps.iter().zip(&outs) {
        println!("{}", step.op.spell());
        for l in &out.lines {
            println!("> {l}");
        }
        if let Some(d) = &out.detail {
            println!("# [{d}]");
        }
    }
}

/// Prints the scenario file `path` with the Linux outputs inserted as `>` lines after each
/// step that has none yet, except plain `ok` results and steps inside `repeat` blocks whose
/// copies differ. A drafting aid: every inserted line must be checked against the
/// source test before it is kept.
fn record(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let name = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let sc = script::parse(&name, &text).map_err(|e| e.to_string())?;
    let outs = exec::run(&sc, &mut Linux::new().map_err(|e| e.to_string())?);
    let mut per_line: std::collections::HashMap<usize, Vec<usize>> =
        std::collections::HashMap::new();
    for (i, st) in sc.steps.iter().enumerate() {
        per_line.entry(st.line).or_default().push(i);
    }
    for (n, l) in text.lines().enumerate() {
        println!("{l}");
        let Some(idx) = per_line.get(&(n + 1)) else {
            continue;
        };
        // Inside a repeat block, only when every copy gave the same output.
        let i = idx[0];
        if idx.iter().any(|&j| outs[j] != outs[i]) {
            continue;
        }
        let (st, out) = (&sc.steps[i], &outs[i]);
        if st.expect.is_some() || out.lines == ["ok"] {
            continue;
        }
        for line in &out.lines {
            println!("> {line}");
        }
    }
    Ok(())
}

/// Writes the Linux outputs of each scenario of `scenarios` to `dir/NAME.out`; checks the
/// `>` expectations on the way and fails when one does not hold.
fn write_expected(scenarios: &[&Scenario], dir: &Path) -> Result<usize, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for sc in scenarios {
        let outs = run_linux(sc).map_err(|e| format!("{}: cannot set up linux: {e}", sc.name))?;
        let mut v = Verdict::default();
        exec::check_expectations(sc, "linux", true, &outs, &mut v);
        if !v.passed() {
            return Err(v.failures.join(""));
        }
        let f = dir.join(format!("{}.out", sc.name));
        std::fs::write(&f, exec::render_outputs(sc, &outs))
            .map_err(|e| format!("{}: {e}", f.display()))?;
    }
    Ok(scenarios.len())
}

fn main() -> ExitCode {
    let o = match opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("inotify-conform: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(seed) = o.print_seed {
        print!("{}", gen::scenario_with(seed, o.small_queues).to_text());
        return ExitCode::SUCCESS;
    }
    let mut t = Tally::default();
    if let Some(p) = &o.record {
        return match record(p) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("inotify-conform: {e}");
                ExitCode::from(2)
            }
        };
    }
    if let Some(dir) = &o.write_expected {
        let all = load(&o.dir).unwrap_or_default();
        let picked: Vec<&Scenario> = all
            .iter()
            .filter(|s| o.only.as_ref().is_none_or(|n| s.name.contains(n.as_str())))
            .collect();
        return match write_expected(&picked, dir) {
            Ok(n) => {
                println!("wrote {n} files to {}", dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("inotify-conform: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if o.show {
        if let Some(seed) = o.seed {
            show(&gen::scenario_with(seed, o.small_queues));
        }
        for sc in load(&o.dir)
            .unwrap_or_default()
            .iter()
            .filter(|s| o.only.as_ref().is_some_and(|n| s.name.contains(n.as_str())))
        {
            show(sc);
        }
        return ExitCode::SUCCESS;
    }
    // The second run, inotifyd fed by the interposer in front of a filesystem without a
    // feed, with its own tally.
    let interposed = o.backend == "both" && inotifyd_available() && !o.no_interposed;
    let mut ti = Tally::default();
    if let Some(seed) = o.seed {
        let mut sc = gen::scenario_with(seed, o.small_queues);
        if o.reduce {
            sc = reduce(sc, &o.backend);
        }
        let (v, second) = run_pair(&sc, &o.backend, interposed);
        t.record(&sc, &v, true, true);
        if let Some(v) = second {
            ti.record(&sc, &v, true, true);
        }
    } else {
        let scenarios = match load(&o.dir) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("inotify-conform: {e}");
                return ExitCode::from(2);
            }
        };
        for sc in scenarios
            .iter()
            .filter(|s| o.only.as_ref().is_none_or(|n| s.name.contains(n.as_str())))
        {
            let (v, second) = run_pair(sc, &o.backend, interposed);
            t.record(sc, &v, o.verbose, false);
            if let Some(v) = second {
                ti.record(sc, &v, o.verbose, false);
            }
        }
        if o.random > 0 {
            let before = t.failed;
            // First differences of the failures: (operation, linux, other) -> seeds.
            let mut kinds: std::collections::BTreeMap<(String, String, String), Vec<u64>> =
                Default::default();
            for seed in o.start..o.start + o.random {
                let sc = gen::scenario_with(seed, o.small_queues);
                let (v, second) = run_pair(&sc, &o.backend, interposed);
                if let Some(vi) = second {
                    if vi.passed() || ti.failed < o.max_failures {
                        ti.record(&sc, &vi, false, true);
                    } else {
                        ti.failed += 1;
                        println!("FAIL interposed {}: {}", sc.name, vi.failures.join(" "));
                    }
                }
                if v.passed() || t.failed - before < o.max_failures {
                    t.record(&sc, &v, false, true);
                } else {
                    t.failed += 1;
                    match &v.first {
                        Some((n, op, x, y)) => {
                            println!("FAIL {}: step {n} `{op}`: {x} | {y}", sc.name)
                        }
                        None => println!("FAIL {}: {}", sc.name, v.failures.join(" ")),
                    }
                }
                if let Some((_, op, x, y)) = v.first {
                    kinds.entry((op, x, y)).or_default().push(seed);
                }
            }
            println!(
                "random: seeds {}..{} against {}",
                o.start,
                o.start + o.random,
                o.backend
            );
            if !kinds.is_empty() {
                println!("random failures by first difference (operation: linux | other):");
                let mut kinds: Vec<_> = kinds.into_iter().collect();
                kinds.sort_by_key(|(_, seeds)| std::cmp::Reverse(seeds.len()));
                for ((op, x, y), seeds) in kinds {
                    let some: Vec<String> = seeds.iter().take(5).map(u64::to_string).collect();
                    println!(
                        "  {:>5} {op}: {x} | {y}  (seeds {})",
                        seeds.len(),
                        some.join(", ")
                    );
                }
            }
        }
    }
    println!("{} passed, {} failed", t.passed, t.failed);
    if interposed {
        println!("interposed: {} passed, {} failed", ti.passed, ti.failed);
    }
    if t.failed == 0 && ti.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
