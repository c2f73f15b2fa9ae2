//! The recorded Linux outputs (`conformance/expected`, read by the Redox guest runner) stay in
//! step with the scenario files: re-record with `inotify-conform --write-expected
//! conformance/expected` after changing a scenario.

use std::path::Path;

use inotify_conformance::{exec, script};

#[test]
fn every_scenario_has_a_recording_with_the_same_steps_and_no_recording_is_orphaned() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for e in std::fs::read_dir(root.join("scenarios")).unwrap() {
        let p = e.unwrap().path();
        let Some(name) = p.file_stem().and_then(|n| n.to_str()) else {
            continue;
        };
        if p.extension().is_none_or(|x| x != "scn") {
            continue;
        }
        let sc = script::parse(name, &std::fs::read_to_string(&p).unwrap()).unwrap();
        let out = root.join("expected").join(format!("{name}.out"));
        let text = std::fs::read_to_string(&out)
            .unwrap_or_else(|e| panic!("{}: {e} (not recorded)", out.display()));
        if let Err(e) = exec::parse_outputs(&sc, &text) {
            panic!(
                "{}: {e} (recorded before the scenario changed?)",
                out.display()
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no scenario files found");
    for e in std::fs::read_dir(root.join("expected")).unwrap() {
        let p = e.unwrap().path();
        let stem = p.file_stem().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(
            root.join("scenarios").join(format!("{stem}.scn")).exists(),
            "{} has no scenario file",
            p.display()
        );
    }
}
