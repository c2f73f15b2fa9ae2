//! The relibc patch (`recipes/relibc/inotify.patch`) carries its own copies of the ABI: the
//! `IN_*` values in `sys/inotify.h`, and the protocol constants of its Redox implementation.
//! relibc cannot depend on this crate, so these tests read the patch and check every copy
//! against `inotify_abi`.

use std::collections::BTreeMap;

use inotify_abi::consts::{
    IN_ALL_EVENTS, IN_CLOEXEC_LINUX, IN_CLOSE, IN_MOVE, IN_NONBLOCK_LINUX, IN_VALID_MASK,
    MASK_NAMES,
};
use inotify_abi::event::HEADER_LEN;
use inotify_abi::proto::{AddWatchArg, CallRepr, CALL_RM_WATCH, CALL_TAKE_RESULT};

const PATCH: &str = include_str!("../../recipes/relibc/inotify.patch");

/// The files the patch adds: their text, from the `+` lines of each file's diff.
fn new_file(path: &str) -> String {
    let header = format!("diff --git a/{path} b/{path}\n");
    let start = PATCH
        .find(&header)
        .unwrap_or_else(|| panic!("the patch does not touch {path}"));
    let section = &PATCH[start + header.len()..];
    let section = &section[..section.find("\ndiff --git ").unwrap_or(section.len())];
    assert!(
        section.contains("new file mode"),
        "{path} is not a new file in the patch"
    );
    section
        .lines()
        .filter(|l| !l.starts_with("+++"))
        .filter_map(|l| l.strip_prefix('+'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A value the patch gives a constant.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Int(i64),
    CStr(String),
}

/// Reads an integer literal in Rust syntax (`0x..`, `0o..`, decimal, with `_`).
fn literal(token: &str) -> Option<i64> {
    let t = token.replace('_', "");
    let t = t.trim_start_matches('-');
    let v = if let Some(h) = t.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = t.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else {
        t.parse().ok()?
    };
    Some(if token.starts_with('-') { -v } else { v })
}

/// Every `const NAME: TYPE = EXPR;` of `text`, keyed by name and by the `target_os` of a
/// `#[cfg(target_os = "..")]` just before it ("" when there is none), added to `known`.
/// `EXPR` is a literal, a C string literal, or constants of the same target (or of none)
/// joined by `|`.
fn constants(
    text: &str,
    known: BTreeMap<(String, String), Value>,
) -> BTreeMap<(String, String), Value> {
    let mut out = known;
    let mut target = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if let Some(os) = line
            .strip_prefix("#[cfg(target_os = \"")
            .and_then(|r| r.strip_suffix("\")]"))
        {
            target = os.to_string();
            continue;
        }
        if line.starts_with("///") || line.starts_with("#[") {
            continue;
        }
        let decl = line.strip_prefix("pub ").unwrap_or(line);
        let Some(decl) = decl.strip_prefix("const ") else {
            target.clear();
            continue;
        };
        let mut stmt = decl.to_string();
        while !stmt.ends_with(';') {
            stmt.push(' ');
            stmt.push_str(lines.next().expect("unterminated const").trim());
        }
        let os = std::mem::take(&mut target);
        let (name, rest) = stmt.split_once(':').expect("const without a type");
        if name == "_" {
            continue;
        }
        let (_, expr) = rest.split_once('=').expect("const without a value");
        let expr = expr.trim().trim_end_matches(';').trim();
        let value = if let Some(s) = expr.strip_prefix("c\"").and_then(|s| s.strip_suffix('"')) {
            Value::CStr(s.to_string())
        } else {
            let mut v = 0;
            for term in expr.split('|').map(str::trim) {
                v |= literal(term).unwrap_or_else(|| {
                    let key = (term.to_string(), os.clone());
                    let any = (term.to_string(), String::new());
                    match out.get(&key).or_else(|| out.get(&any)) {
                        Some(Value::Int(v)) => *v,
                        _ => panic!("{name}: cannot evaluate {term:?}"),
                    }
                });
            }
            Value::Int(v)
        };
        out.insert((name.trim().to_string(), os), value);
    }
    out
}

/// The integer constant `name` of `consts` for `target` ("" for every target).
fn int(consts: &BTreeMap<(String, String), Value>, name: &str, target: &str) -> i64 {
    match consts.get(&(name.to_string(), target.to_string())) {
        Some(Value::Int(v)) => *v,
        other => panic!("{name} ({target:?}) is {other:?} in the patch"),
    }
}

fn header() -> BTreeMap<(String, String), Value> {
    constants(&new_file("src/header/sys_inotify/mod.rs"), BTreeMap::new())
}

fn redox() -> (String, BTreeMap<(String, String), Value>) {
    let text = new_file("src/platform/redox/inotify.rs");
    let consts = constants(&text, header());
    (text, consts)
}

#[test]
fn every_mask_bit_in_the_relibc_header_equals_the_abi_and_there_are_no_others() {
    let consts = header();
    for (name, bit) in MASK_NAMES {
        assert_eq!(int(&consts, name, ""), i64::from(bit), "{name}");
    }
    assert_eq!(int(&consts, "IN_CLOSE", ""), i64::from(IN_CLOSE));
    assert_eq!(int(&consts, "IN_MOVE", ""), i64::from(IN_MOVE));
    assert_eq!(int(&consts, "IN_ALL_EVENTS", ""), i64::from(IN_ALL_EVENTS));
    let known: Vec<&str> = MASK_NAMES
        .iter()
        .map(|(n, _)| *n)
        .chain([
            "IN_CLOSE",
            "IN_MOVE",
            "IN_ALL_EVENTS",
            "IN_NONBLOCK",
            "IN_CLOEXEC",
        ])
        .collect();
    for (name, _) in consts.keys() {
        assert!(known.contains(&name.as_str()), "{name} is not in the abi");
    }
}

#[test]
fn the_init1_flags_are_linuxs_on_linux_and_relibcs_open_flags_on_redox() {
    let consts = header();
    assert_eq!(
        int(&consts, "IN_NONBLOCK", "linux"),
        i64::from(IN_NONBLOCK_LINUX)
    );
    assert_eq!(
        int(&consts, "IN_CLOEXEC", "linux"),
        i64::from(IN_CLOEXEC_LINUX)
    );
    // On both targets relibc checks them against its own O_NONBLOCK and O_CLOEXEC when it
    // compiles; the Redox values have no copy in the abi to compare with.
    int(&consts, "IN_NONBLOCK", "redox");
    int(&consts, "IN_CLOEXEC", "redox");
    assert!(new_file("src/header/sys_inotify/mod.rs")
        .contains("const _: () = assert!(IN_CLOEXEC == O_CLOEXEC && IN_NONBLOCK == O_NONBLOCK);"));
}

#[test]
fn the_redox_add_watch_mask_check_accepts_exactly_the_abis_valid_bits() {
    let (_, consts) = redox();
    assert_eq!(int(&consts, "IN_VALID_MASK", ""), i64::from(IN_VALID_MASK));
}

#[test]
fn the_redox_implementation_opens_the_scheme_path_and_uses_the_abis_call_opcodes() {
    let (text, consts) = redox();
    assert_eq!(
        consts.get(&("SCHEME_PATH".to_string(), String::new())),
        Some(&Value::CStr("/scheme/inotify".to_string()))
    );
    assert_eq!(
        int(&consts, "CALL_TAKE_RESULT", ""),
        CALL_TAKE_RESULT as i64
    );
    assert_eq!(int(&consts, "CALL_RM_WATCH", ""), CALL_RM_WATCH as i64);
    // The metadata words are the abi's: [opcode, argument, 0].
    assert_eq!(CallRepr::TakeResult { token: 7 }.emit().len(), 3);
    assert!(text.contains("&[CALL_TAKE_RESULT, u64::from(token), 0]"));
    assert_eq!(
        CallRepr::RmWatch { wd: -1 }.emit(),
        [CALL_RM_WATCH, -1i64 as u64, 0]
    );
    assert!(text.contains("&[CALL_RM_WATCH, i64::from(wd) as u64, 0]"));
}

#[test]
fn the_redox_sendfd_word_packs_mask_and_token_as_the_abi_does() {
    let (text, consts) = redox();
    let shift = int(&consts, "TOKEN_SHIFT", "");
    assert!(text.contains("let word = u64::from(mask) | (u64::from(token) << TOKEN_SHIFT);"));
    for (mask, token) in [(0x8000_0fff_u32, 0xdead_beef_u32), (1, 1), (u32::MAX, 0)] {
        let word = u64::from(mask) | (u64::from(token) << shift);
        assert_eq!(AddWatchArg { mask, token }.emit(), word);
        assert_eq!(AddWatchArg::parse(word), AddWatchArg { mask, token });
    }
}

#[test]
fn the_relibc_event_record_has_the_abis_layout() {
    let cbindgen = new_file("src/header/sys_inotify/cbindgen.toml");
    let body = cbindgen
        .split_once("struct inotify_event {")
        .and_then(|(_, rest)| rest.split_once("};"))
        .expect("struct inotify_event in cbindgen.toml")
        .0;
    let fields: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        fields,
        [
            "int wd;",
            "uint32_t mask;",
            "uint32_t cookie;",
            "uint32_t len;",
            "char name[];"
        ]
    );
    // Four 4-byte fields, then the name: the abi's header length.
    assert_eq!(HEADER_LEN, 4 * 4);
}

#[test]
fn every_hunk_of_the_patch_has_the_line_counts_its_header_states() {
    let mut hunks = 0;
    let mut lines = PATCH.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(ranges) = line.strip_prefix("@@ -") else {
            continue;
        };
        let count = |range: &str| -> usize {
            range
                .split_once(',')
                .map_or(1, |(_, n)| n.parse().expect("hunk length"))
        };
        let (old, rest) = ranges.split_once(" +").expect("hunk header");
        let new = rest.split_once(" @@").expect("hunk header").0;
        let (mut want_old, mut want_new) = (count(old), count(new));
        while want_old + want_new > 0 {
            let body = lines
                .next()
                .unwrap_or_else(|| panic!("hunk {line} ends early"));
            match body.chars().next() {
                Some('-') => want_old -= 1,
                Some('+') => want_new -= 1,
                Some(' ') | None => {
                    want_old -= 1;
                    want_new -= 1;
                }
                _ => panic!("hunk {line}: unexpected line {body:?}"),
            }
        }
        assert!(
            lines
                .peek()
                .is_none_or(|next| !next.starts_with([' ', '+', '-'])
                    || next.starts_with("--- ")
                    || next.starts_with("+++ ")),
            "hunk {line} is longer than its header says"
        );
        hunks += 1;
    }
    assert!(hunks > 0, "no hunks in the patch");
}
