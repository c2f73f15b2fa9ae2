//! The declared Redox differences (`inotify_conformance::redox`) name real steps of real
//! scenarios, each described in `docs/semantics.md`.

use std::path::Path;

use inotify_conformance::redox::REDOX_DIFFERENCES;
use inotify_conformance::script;

#[test]
fn every_declared_redox_difference_names_steps_of_its_scenario_and_a_documented_entry() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let semantics = std::fs::read_to_string(root.join("../docs/semantics.md")).unwrap();
    for d in REDOX_DIFFERENCES {
        let file = root.join("scenarios").join(format!("{}.scn", d.scenario));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let sc = script::parse(d.scenario, &text).unwrap();
        for line in d.must_differ() {
            let step = sc.steps.iter().find(|s| s.line == line);
            let step = step.unwrap_or_else(|| panic!("{}: no step at line {line}", d.scenario));
            assert!(
                step.differs.is_none(),
                "{}: line {line} is already declared in the scenario",
                d.scenario
            );
        }
        let entry = semantics
            .split("\n- **")
            .find(|e| e.starts_with(&format!("{} ", d.entry)))
            .unwrap_or_else(|| panic!("docs/semantics.md has no entry {}", d.entry));
        assert!(
            entry.contains(&format!("`{}`", d.scenario)),
            "docs/semantics.md {} does not name {}",
            d.entry,
            d.scenario
        );
    }
}
