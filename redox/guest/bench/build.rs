//! Embeds the repository's commit.

include!("../commit.rs");

fn main() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    println!("cargo:rustc-env=GUEST_COMMIT={}", guest_commit(&repo));
    println!(
        "cargo:rerun-if-changed={}",
        repo.join(".git/HEAD").display()
    );
}
