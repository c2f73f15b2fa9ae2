# inotifyd: every entry point. `make demo` is the main job on a host; `make test` is the
# full test run CI uses (.ci/run calls it).
CARGO ?= cargo

.PHONY: all build demo test fmt-check clippy unit check-redox check-redoxfs conformance conformance-long bench

all: build

build:
	$(CARGO) build --workspace --all-targets

# The main job: inotifyd serving a real host directory, a workload, the events shown.
# `make demo DEMO_DIR=/some/dir` serves that directory (default: a fresh temporary one).
demo:
	$(CARGO) run --release --bin inotifyd-demo -- $(DEMO_DIR)

# Everything CI checks.
test: fmt-check clippy unit

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

# Performance figures (release build, one `name: value unit` line each); see docs/performance.md.
bench:
	$(CARGO) build --release -p inotify-bench
	$(CARGO) run --release -q -p inotify-bench

# Conformance: every scenario in conformance/scenarios plus 5000 seeded random sequences, each
# run on the Linux kernel's inotify (the oracle) and on inotifyd over HostFs, streams compared.
# Replay a random failure with `cargo run -p inotify-conformance -- --seed N`. Needs root (the
# overflow scenarios lower /proc/sys/fs/inotify/max_queued_events and restore it).
conformance:
	$(CARGO) run -q -p inotify-conformance --bin inotify-conform -- --random 5000

# The same with 100000 more random sequences (seeds after the default run's).
conformance-long:
	$(CARGO) run -q -p inotify-conformance --bin inotify-conform -- --random 100000 --start 5001 --max-failures 50
