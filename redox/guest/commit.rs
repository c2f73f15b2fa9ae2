// The repository commit a guest program is built from, for its first output line
// (`inotifyd guest run: commit C`). Included by the guest crates' build scripts.

/// INOTIFYD_COMMIT when the build sets it (a source tree without .git), else `git rev-parse`
/// with `-dirty` when tracked files differ from it, else `unknown`.
fn guest_commit(repo: &std::path::Path) -> String {
    use std::process::Command;
    println!("cargo:rerun-if-env-changed=INOTIFYD_COMMIT");
    if let Ok(c) = std::env::var("INOTIFYD_COMMIT") {
        return c;
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_string();
    };
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|o| !o.stdout.is_empty());
    if dirty {
        format!("{head}-dirty")
    } else {
        head
    }
}
