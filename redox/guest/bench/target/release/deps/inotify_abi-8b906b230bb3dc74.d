/work/wt/gbench/redox/guest/bench/target/release/deps/inotify_abi-8b906b230bb3dc74.d: /work/wt/gbench/abi/src/lib.rs /work/wt/gbench/abi/src/consts.rs /work/wt/gbench/abi/src/event.rs /work/wt/gbench/abi/src/feed.rs /work/wt/gbench/abi/src/proto.rs

/work/wt/gbench/redox/guest/bench/target/release/deps/libinotify_abi-8b906b230bb3dc74.rlib: /work/wt/gbench/abi/src/lib.rs /work/wt/gbench/abi/src/consts.rs /work/wt/gbench/abi/src/event.rs /work/wt/gbench/abi/src/feed.rs /work/wt/gbench/abi/src/proto.rs

/work/wt/gbench/redox/guest/bench/target/release/deps/libinotify_abi-8b906b230bb3dc74.rmeta: /work/wt/gbench/abi/src/lib.rs /work/wt/gbench/abi/src/consts.rs /work/wt/gbench/abi/src/event.rs /work/wt/gbench/abi/src/feed.rs /work/wt/gbench/abi/src/proto.rs

/work/wt/gbench/abi/src/lib.rs:
/work/wt/gbench/abi/src/consts.rs:
/work/wt/gbench/abi/src/event.rs:
/work/wt/gbench/abi/src/feed.rs:
/work/wt/gbench/abi/src/proto.rs:
