//! `inotify-bench`: the inotifyd benchmark suite (`make bench`).
//!
//! Prints one line per figure, `name: value unit`, with detail lines indented below it. Every
//! figure comes from the same run. Arguments: `--quick` (fewer, shorter repetitions, for a
//! smoke test) and any of `linux engine producer memory latency interpose churn roundtrips` to run only those groups
//! (the ratio needs `linux` and `engine`). docs/performance.md describes each method.

mod alloc;
mod churn;
mod engine;
mod interpose;
mod latency;
mod linux;
mod memory;
mod producer;
mod stats;

use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use stats::{fmt_num, Figure};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// How much work each group does.
#[derive(Clone, Copy)]
pub struct Effort {
    /// Repetitions whose median is reported.
    pub rounds: usize,
    /// Scale factor on loop lengths (1.0 = full).
    pub scale: f64,
}

impl Effort {
    /// `n` scaled, at least 1.
    pub fn n(&self, n: u64) -> u64 {
        ((n as f64 * self.scale) as u64).max(1)
    }
}

/// Runs `f`, turning a panic (e.g. a part not implemented yet) into a missing figure.
fn guarded(name: &'static str, unit: &'static str, f: impl FnOnce() -> Vec<Figure>) -> Vec<Figure> {
    let prev = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let out = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(prev);
    match out {
        Ok(figs) => figs,
        Err(e) => {
            let msg = e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| e.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            vec![Figure::missing(name, unit, format!("not measured: {msg}"))]
        }
    }
}

/// Runs `f`; NaNs if it panics.
fn guarded_value(f: impl FnOnce() -> (f64, f64)) -> (f64, f64) {
    let prev = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let out = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(prev);
    out.unwrap_or((f64::NAN, f64::NAN))
}

fn emit(figs: Vec<Figure>, all: &mut Vec<Figure>) {
    for f in figs {
        print!("{}", f.render());
        all.push(f);
    }
}

fn value(all: &[Figure], name: &str) -> f64 {
    all.iter()
        .find(|f| f.name == name)
        .map_or(f64::NAN, |f| f.value)
}

/// The 1-minute load average (other work on the machine skews every figure).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "n/a".into())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let groups: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let want = |g: &str| groups.is_empty() || groups.contains(&g);
    let effort = if quick {
        Effort {
            rounds: 3,
            scale: 0.1,
        }
    } else {
        Effort {
            rounds: 7,
            scale: 1.0,
        }
    };
    let start = Instant::now();
    let load0 = loadavg();
    let mut all = Vec::new();

    if want("linux") {
        let figs = guarded("linux_marginal_ns_per_event", "ns", || {
            // The noisiest figure (a small difference of two large times): many short rounds,
            // so that each watched loop runs close in time to its unwatched partner.
            vec![linux::run(6 * effort.rounds - 1, effort.n(5_000))]
        });
        emit(figs, &mut all);
    }
    if want("engine") {
        let figs = guarded("engine_ns_per_event", "ns", || engine::run(effort));
        emit(figs, &mut all);
    }
    if want("producer") {
        let figs = guarded("producer_ns_per_op", "ns", || producer::run(effort));
        emit(figs, &mut all);
    }
    if want("memory") {
        let figs = guarded("bytes_per_watch", "B", memory::run);
        emit(figs, &mut all);
    }
    if want("latency") {
        let figs = guarded("latency_us_p50", "us", || latency::run(effort));
        emit(figs, &mut all);
    }
    if want("interpose") {
        let figs = guarded("interposer_ns_per_forwarded_op", "ns", || {
            interpose::run(effort)
        });
        emit(figs, &mut all);
    }
    if want("churn") {
        let figs = guarded("churn_request_latency_us_p99", "us", || churn::run(effort));
        emit(figs, &mut all);
    }
    if want("roundtrips") {
        let figs = guarded("host_round_trips_per_event", "", || {
            churn::round_trips(effort)
        });
        emit(figs, &mut all);
    }
    if want("linux") && want("engine") {
        let l = value(&all, "linux_marginal_ns_per_event");
        let e = value(&all, "engine_ns_per_event");
        let (p, records) = guarded_value(|| engine::pipeline(effort));
        let ratio = Figure::new("ratio_linux_over_engine", l / e, "x")
            .detail(format!(
                "linux_marginal_ns_per_event {} / engine_ns_per_event {}",
                fmt_num(l),
                fmt_num(e)
            ))
            .detail(format!(
                "whole pipeline in one process, no IPC (Producer::record + read_batch + parse + \
                 apply + read): {} ns per event ({} feed records per event); Linux / \
                 pipeline = {} x",
                fmt_num(p),
                fmt_num(records),
                fmt_num(l / p)
            ));
        emit(vec![ratio], &mut all);
    }
    println!(
        "total time: {:.1} s; {} CPUs; load average at start {}, at end {}",
        start.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load0,
        loadavg()
    );
}
