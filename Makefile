# inotifyd: every entry point. `make demo` is the main job on a host; `make test` is the
# full test run CI uses (.ci/run calls it).
CARGO ?= cargo

.PHONY: all build demo test fmt-check clippy unit check-redox check-redoxfs conformance conformance-long bench

all: build

build:
	$(CARGO) build --workspace --all-targets

# The main job: inotifyd serving a real host directory, a workload, the events shown.
demo:
	@echo "demo: not yet wired"

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
