//! Embeds the scenario files, their recorded Linux outputs and the repository's commit.

use std::fmt::Write as _;
use std::path::Path;

include!("../commit.rs");

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let scenarios = repo.join("conformance/scenarios");
    let expected = repo.join("conformance/expected");
    println!("cargo:rerun-if-changed={}", scenarios.display());
    println!("cargo:rerun-if-changed={}", expected.display());
    println!("cargo:rerun-if-env-changed=INOTIFYD_COMMIT");
    let mut names: Vec<String> = std::fs::read_dir(&scenarios)
        .expect("conformance/scenarios")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".scn").map(str::to_string)
        })
        .collect();
    names.sort();
    let mut table = String::from("&[\n");
    for n in &names {
        let scn = scenarios.join(format!("{n}.scn"));
        let out = expected.join(format!("{n}.out"));
        let out = if out.exists() {
            format!("Some(include_str!({:?}))", out.canonicalize().unwrap())
        } else {
            "None".to_string()
        };
        let _ = writeln!(
            table,
            "    ({n:?}, include_str!({:?}), {out}),",
            scn.canonicalize().unwrap()
        );
    }
    table.push(']');
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("scenarios.rs");
    std::fs::write(dest, table).unwrap();
    let commit = guest_commit(&repo);
    println!("cargo:rustc-env=GUEST_COMMIT={commit}");
    println!(
        "cargo:rerun-if-changed={}",
        repo.join(".git/HEAD").display()
    );
}
