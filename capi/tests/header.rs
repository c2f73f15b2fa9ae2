//! `include/sys/inotify.h` checked with the host C compiler: one program built against our
//! header and one against the C library's `<sys/inotify.h>` (they cannot share a translation
//! unit) print every `IN_*` value; the values must match each other (except `IN_NONBLOCK` and
//! `IN_CLOEXEC`, which are Redox's `O_*` values by design) and `inotify_abi`'s. The same
//! program asserts at compile time the `struct inotify_event` layout and the prototypes.
//! Skipped, saying why, when there is no `cc`.

use std::path::{Path, PathBuf};
use std::process::Command;

use inotify_abi::consts::*;

/// Every macro the header must define, with the value the daemon's ABI gives it.
fn expected() -> Vec<(&'static str, u32)> {
    let mut all = MASK_NAMES.to_vec();
    all.extend([
        ("IN_CLOSE", IN_CLOSE),
        ("IN_MOVE", IN_MOVE),
        ("IN_ALL_EVENTS", IN_ALL_EVENTS),
        ("IN_NONBLOCK", inotify_capi::IN_NONBLOCK),
        ("IN_CLOEXEC", inotify_capi::IN_CLOEXEC),
    ]);
    all
}

/// The values Linux gives `IN_NONBLOCK` and `IN_CLOEXEC` (ours differ by design).
fn linux_init_flags() -> [(&'static str, u32); 2] {
    [
        ("IN_NONBLOCK", IN_NONBLOCK_LINUX),
        ("IN_CLOEXEC", IN_CLOEXEC_LINUX),
    ]
}

/// The C program: prints `NAME VALUE` for every macro, after compile-time checks of the
/// record layout and the prototypes (identical in our header and in glibc's).
fn program() -> String {
    let mut c = format!("#define IN_SUBTREE_ABI {IN_SUBTREE}u\n");
    c.push_str(
        "#include <stddef.h>\n#include <stdio.h>\n#include <stdint.h>\n#include <sys/inotify.h>\n\
         _Static_assert(sizeof(struct inotify_event) == 16, \"record header is 16 bytes\");\n\
         _Static_assert(offsetof(struct inotify_event, wd) == 0, \"wd at 0\");\n\
         _Static_assert(offsetof(struct inotify_event, mask) == 4, \"mask at 4\");\n\
         _Static_assert(offsetof(struct inotify_event, cookie) == 8, \"cookie at 8\");\n\
         _Static_assert(offsetof(struct inotify_event, len) == 12, \"len at 12\");\n\
         _Static_assert(offsetof(struct inotify_event, name) == 16, \"name at 16\");\n\
         #define SAME(f, t) _Static_assert(__builtin_types_compatible_p(__typeof__(f), t), #f)\n\
         SAME(inotify_init, int(void));\n\
         SAME(inotify_init1, int(int));\n\
         SAME(inotify_add_watch, int(int, const char *, uint32_t));\n\
         SAME(inotify_rm_watch, int(int, int));\n\
         #ifdef INOTIFY_LOSS_WDS\n\
         _Static_assert(sizeof(struct inotify_loss_report) == 80, \"loss report is 80 bytes\");\n\
         _Static_assert(offsetof(struct inotify_loss_report, wd_count) == 32, \"wd_count at 32\");\n\
         _Static_assert(offsetof(struct inotify_loss_report, wds) == 48, \"wds at 48\");\n\
         SAME(inotify_loss_report, int(int, struct inotify_loss_report *));\n\
         _Static_assert(IN_SUBTREE == IN_SUBTREE_ABI, \"IN_SUBTREE is the ABI's bit\");\n\
         #endif\n\
         int main(void) {\n",
    );
    for (name, _) in expected() {
        c.push_str(&format!(
            "    printf(\"%s %lu\\n\", \"{name}\", (unsigned long)(uint32_t)({name}));\n"
        ));
    }
    c.push_str("    return 0;\n}\n");
    c
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Compiles `src` (with `include` first on the include path, if any) and runs it; returns
/// the `NAME VALUE` pairs it printed.
fn build_and_run(dir: &Path, tag: &str, src: &str, include: Option<&Path>) -> Vec<(String, u32)> {
    let c = dir.join(format!("{tag}.c"));
    let exe = dir.join(tag);
    std::fs::write(&c, src).unwrap();
    let mut cmd = Command::new("cc");
    cmd.args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(&c);
    if let Some(inc) = include {
        cmd.arg("-I").arg(inc);
    }
    let out = cmd.output().expect("run cc");
    assert!(
        out.status.success(),
        "cc failed for {tag}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().expect("run the program");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (n, v) = l.split_once(' ').unwrap();
            (n.to_string(), v.parse().unwrap())
        })
        .collect()
}

/// Whether a C compiler is there.
fn have_cc() -> bool {
    Command::new("cc")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn header_values_match_the_abi_and_linux() {
    if !have_cc() {
        eprintln!("header test skipped: no `cc` on PATH to compile include/sys/inotify.h");
        return;
    }
    let dir = Scratch(std::env::temp_dir().join(format!("inotify-capi-h-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    assert!(include.join("sys/inotify.h").is_file());

    let ours = build_and_run(&dir.0, "ours", &program(), Some(&include));
    let expected = expected();
    assert_eq!(ours.len(), expected.len());
    for ((name, value), (want_name, want)) in ours.iter().zip(&expected) {
        assert_eq!(name, want_name);
        assert_eq!(*value, *want, "{name}: header {value:#x}, ABI {want:#x}");
    }

    // The C library's header, where there is one (glibc, musl): same program, same values,
    // except the two init flags, which must be Linux's there.
    let probe = "#include <sys/inotify.h>\nint main(void) { return 0; }\n";
    std::fs::write(dir.0.join("probe.c"), probe).unwrap();
    let has_libc_header = Command::new("cc")
        .args(["-fsyntax-only"])
        .arg(dir.0.join("probe.c"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_libc_header {
        eprintln!("comparison with the C library skipped: it has no <sys/inotify.h>");
        return;
    }
    let libc = build_and_run(&dir.0, "libc", &program(), None);
    assert_eq!(libc.len(), ours.len());
    let linux_flags = linux_init_flags();
    for ((name, value), (_, theirs)) in ours.iter().zip(&libc) {
        match linux_flags.iter().find(|(n, _)| n == name) {
            Some((_, linux)) => {
                assert_eq!(theirs, linux, "C library's {name}");
                assert_ne!(value, theirs, "{name} is Redox's O_* value, not Linux's");
            }
            None => assert_eq!(
                value, theirs,
                "{name}: ours {value:#x}, C library {theirs:#x}"
            ),
        }
    }
}
