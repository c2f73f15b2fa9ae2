# inotifyd: every entry point. `make demo` is the main job on a host; `make test` is the
# full test run CI uses (.ci/run calls it).
CARGO ?= cargo

.PHONY: all build demo test fmt-check clippy unit tools-parity check-redox check-redoxfs check-recipe check-clients redoxfs-tree redoxfs-patch conformance conformance-long bench fuzz

all: build

build:
	$(CARGO) build --workspace --all-targets

# The main job: inotifyd serving a real host directory, a workload, the events shown.
# `make demo DEMO_DIR=/some/dir` serves that directory (default: a fresh temporary one);
# `make demo INTERPOSE=1` serves it by a filesystem without a feed, through the interposer.
demo:
	INTERPOSE=$(INTERPOSE) $(CARGO) run --release -p inotify-host --bin inotifyd-demo -- $(DEMO_DIR)

# Everything CI checks (.ci/run runs this on a fresh machine): formatting, host clippy, every
# host test, the Redox compile checks, and the conformance run against the Linux kernel.
test: fmt-check clippy unit check-redox check-redoxfs check-recipe check-clients conformance

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Every host test, including the tools' parity run against inotify-tools (tools-parity).
unit:
	$(CARGO) test --workspace

# inotifywait/inotifywatch against Debian's inotify-tools on the Linux kernel, same workloads
# and command lines; prints `tools-parity: N passed, M failed`. Part of `unit`; alone with
# `make tools-parity`, one case with `make tools-parity CASE='watch table'`.
tools-parity:
	$(CARGO) test -q -p inotify-tools --test parity -- "$(CASE)"

# Every workspace crate but the host tools (bench, conformance) for x86_64-unknown-redox: cargo
# check, then clippy -D warnings (std built from source with Debian's rustc; installs it if
# missing). Redox executables cannot be linked here (no relibc), so this is a compile check.
check-redox:
	bash .ci/redox.sh check

# redoxfs 0.9.1 from crates.io + recipes/redoxfs/inotify.patch, compile-checked for Redox
# (--lib --bins) against this checkout's abi/ and feed/.
check-redoxfs:
	bash .ci/redox.sh redoxfs

# recipe.toml's build script run in the cookbook's environment (its prelude, cookbook_cargo,
# install_flags, postlude: .ci/cookbook/), with the host as the target: every file the package
# installs (daemon, tools, smoke check, C library and header, service) must be staged. Needs an
# up-to-date committed Cargo.lock (the recipe builds with --locked). RECIPE=file checks another.
check-recipe:
	bash .ci/redox.sh recipe

# notify 8.2.2 and inotify 0.11.5 from crates.io + patches/*.patch, compile-checked for Redox
# (notify's inotify backend, inotify's tokio stream); asserts that notify::RecommendedWatcher
# is notify::INotifyWatcher there. See docs/clients.md, "Rust programs".
check-clients:
	bash .ci/redox.sh clients

# To change the redoxfs patch: `make redoxfs-tree`, edit target/redoxfs/patched, then
# `make redoxfs-patch` rewrites recipes/redoxfs/inotify.patch; `make check-redoxfs` checks it.
redoxfs-tree:
	bash .ci/redox.sh redoxfs-tree

redoxfs-patch:
	bash .ci/redox.sh redoxfs-diff

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

# The same with 100000 more random sequences (seeds after the default run's); a quarter of them
# lower max_queued_events to 2..12 first (machine-wide on Linux while each one runs).
conformance-long:
	$(CARGO) run -q -p inotify-conformance --bin inotify-conform -- --random 100000 --start 5001 --small-queues

# Fuzzing (not part of `test`): each target in fuzz/ runs for FUZZ_SECONDS under libFuzzer
# (cargo-fuzz, nightly toolchain; cargo-fuzz is installed if missing). The corpus grows in
# fuzz/corpus/<target>, a failing input lands in fuzz/artifacts/<target>; replay one with
# `cd fuzz && cargo +nightly fuzz run -s none <target> <file>`. No sanitizer: abi, engine and
# feed forbid unsafe code, and without AddressSanitizer the targets run about 15x faster.
# docs/conformance.md lists the targets.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= feed_batch client_proto producer ring

fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$(CARGO) +nightly fuzz run -s none $$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done
