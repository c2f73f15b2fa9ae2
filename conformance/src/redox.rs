//! Redox's own behaviours: the steps where redoxfs 0.9.1 and relibc 433eb0dc do something
//! other than Linux, declared per scenario for the Redox guest runner (`redox/guest/conform`).
//! Each entry names its description in `docs/semantics.md` ("Redox filesystem and C library
//! differences", `R1`...), and lists only the steps where a guest run showed the difference.

use crate::script::Scenario;

/// The steps of one scenario where a Redox difference shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedoxDifference {
    /// The scenario (file stem).
    pub scenario: &'static str,
    /// The entry in `docs/semantics.md` (`R1`...).
    pub entry: &'static str,
    /// Scenario file lines of the steps that differ.
    pub lines: &'static [usize],
    /// Every step from this line on may differ: the first difference changed the state the
    /// later steps see.
    pub from: Option<usize>,
}

impl RedoxDifference {
    /// Whether the step at scenario file line `line` is declared.
    pub fn covers(&self, line: usize) -> bool {
        self.lines.contains(&line) || self.from.is_some_and(|from| line >= from)
    }

    /// The lines a guest run must show differing for the declaration to be current: the
    /// listed ones and the first of a `from` range.
    pub fn must_differ(&self) -> impl Iterator<Item = usize> + '_ {
        self.lines.iter().copied().chain(self.from)
    }
}

/// The declared Redox differences, by scenario (`docs/semantics.md`, R1-R11).
pub const REDOX_DIFFERENCES: &[RedoxDifference] = &[
    RedoxDifference {
        scenario: "kqueue-notifications",
        entry: "R1",
        lines: &[15],
        from: None,
    },
    RedoxDifference {
        scenario: "kqueue-notifications-dir",
        entry: "R1",
        lines: &[13, 24],
        from: None,
    },
    RedoxDifference {
        scenario: "sem-attrib-modify-access",
        entry: "R1",
        lines: &[28, 31, 34],
        from: None,
    },
    RedoxDifference {
        scenario: "sem-permissions",
        entry: "R2",
        lines: &[19, 20],
        from: None,
    },
    RedoxDifference {
        scenario: "diff-listdir-access-per-getdents",
        entry: "R3",
        lines: &[14],
        from: None,
    },
    RedoxDifference {
        scenario: "diff-path-handle-ftruncate",
        entry: "R4",
        lines: &[13],
        from: None,
    },
    RedoxDifference {
        scenario: "diff-dir-handle-errors",
        entry: "R4",
        lines: &[9],
        from: None,
    },
    RedoxDifference {
        scenario: "diff-dir-handle-errors",
        entry: "R5",
        lines: &[11, 12],
        from: None,
    },
    RedoxDifference {
        scenario: "diff-open-dir-trunc",
        entry: "R6",
        lines: &[8, 9],
        from: None,
    },
    RedoxDifference {
        scenario: "diff-creat-directory",
        entry: "R7",
        lines: &[18, 23],
        from: None,
    },
    RedoxDifference {
        scenario: "kqueue-symlink",
        entry: "R8",
        lines: &[43],
        from: None,
    },
    RedoxDifference {
        scenario: "diff-rename-errors",
        entry: "R9",
        lines: &[9, 10, 11],
        from: None,
    },
    RedoxDifference {
        scenario: "diff-path-trailing-slash",
        entry: "R10",
        lines: &[],
        from: Some(18),
    },
    RedoxDifference {
        scenario: "diff-path-dot-last",
        entry: "R11",
        lines: &[12, 14, 16, 18, 20, 24, 26],
        from: Some(28),
    },
];

/// The declarations for scenario `name`.
pub fn differences(name: &str) -> impl Iterator<Item = &'static RedoxDifference> + '_ {
    REDOX_DIFFERENCES.iter().filter(move |d| d.scenario == name)
}

/// Marks the steps of `sc` that a Redox difference covers as declared to differ (`differs`,
/// naming the entry), unless the scenario already declares them. Returns how many it marked.
pub fn declare(sc: &mut Scenario) -> usize {
    let mut marked = 0;
    let name = sc.name.clone();
    for step in &mut sc.steps {
        if step.differs.is_some() {
            continue;
        }
        if let Some(d) = differences(&name).find(|d| d.covers(step.line)) {
            step.differs = Some(format!(
                "Redox {}, docs/semantics.md (redoxfs 0.9.1 / relibc 433eb0dc)",
                d.entry
            ));
            marked += 1;
        }
    }
    marked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script;

    #[test]
    fn declared_lines_mark_only_those_steps_and_a_range_marks_the_rest() {
        let text = "# from: test\nmkdir a\nmkdir b\nmkdir c\nmkdir d\n";
        let mut sc = script::parse("diff-path-dot-last", text).unwrap();
        let d = RedoxDifference {
            scenario: "x",
            entry: "R0",
            lines: &[2],
            from: Some(4),
        };
        let covered: Vec<bool> = sc.steps.iter().map(|s| d.covers(s.line)).collect();
        assert_eq!(covered, [true, false, true, true]);
        // The real table: diff-path-dot-last declares none of lines 2..5.
        assert_eq!(declare(&mut sc), 0);
        assert!(sc.steps.iter().all(|s| s.differs.is_none()));
    }

    #[test]
    fn a_step_the_scenario_declares_keeps_its_own_reason() {
        // diff-dir-handle-errors: R4 declares line 9, R5 lines 11 and 12.
        let mut text = String::from("# from: test\n");
        for n in 2..=9 {
            text.push_str(&format!("mkdir a{n}\n"));
        }
        text.push_str("differs: own\nmkdir b\nmkdir c\n");
        let mut sc = script::parse("diff-dir-handle-errors", &text).unwrap();
        let lines: Vec<usize> = sc.steps.iter().map(|s| s.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7, 8, 9, 11, 12]);
        assert_eq!(declare(&mut sc), 2);
        assert!(sc.steps[7]
            .differs
            .as_deref()
            .unwrap()
            .starts_with("Redox R4,"));
        assert_eq!(sc.steps[8].differs.as_deref(), Some("own"));
        assert!(sc.steps[9]
            .differs
            .as_deref()
            .unwrap()
            .starts_with("Redox R5,"));
        assert!(sc.steps[..7].iter().all(|s| s.differs.is_none()));
    }
}
