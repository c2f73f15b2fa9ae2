/work/wt/gbench/redox/guest/bench/target/release/deps/guest_bench-3f81f9950d6058db.d: src/main.rs

/work/wt/gbench/redox/guest/bench/target/release/deps/guest_bench-3f81f9950d6058db: src/main.rs

src/main.rs:

# env-dep:GUEST_COMMIT=ba95586-dirty
