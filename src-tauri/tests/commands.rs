//! A command's name is written in four places: `build.rs` (which makes it deniable),
//! `generate_handler!` in `lib.rs`, the capability that allows it, and the page's `invoke`.
//! `build.rs` is the one list; this test fails when any other place leaves one behind.

use std::collections::BTreeSet;

fn quoted_in(text: &str, after: &str, before: &str) -> BTreeSet<String> {
    let start = text.find(after).expect("start marker") + after.len();
    let end = start + text[start..].find(before).expect("end marker");
    text[start..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn declared() -> BTreeSet<String> {
    quoted_in(include_str!("../build.rs"), "let commands = &[", "];")
}

#[test]
fn every_command_is_registered_allowed_and_called() {
    let declared = declared();
    assert!(declared.len() > 30, "{declared:?}");

    let lib = include_str!("../src/lib.rs");
    let start = lib.find("generate_handler![").expect("generate_handler!");
    let end = start + lib[start..].find("])").expect("end of the handler list");
    let registered: BTreeSet<String> = lib[start..end]
        .split(',')
        .filter_map(|path| path.trim().rsplit("::").next())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty() && !name.starts_with("generate_handler"))
        .collect();
    assert_eq!(registered, declared, "generate_handler! in lib.rs");

    let capability: serde_json::Value =
        serde_json::from_str(include_str!("../capabilities/main.json")).expect("JSON");
    let allowed: BTreeSet<String> = capability["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
        .map(|name| name.replace('-', "_"))
        .collect();
    assert_eq!(allowed, declared, "capabilities/main.json");

    let backend = include_str!("../../ui/src/lib/backend.ts");
    let called: BTreeSet<String> = backend
        .split("invoke(")
        .skip(1)
        .filter_map(|rest| rest.strip_prefix('\'')?.split('\'').next())
        .map(str::to_string)
        .collect();
    assert_eq!(called, declared, "ui/src/lib/backend.ts");
}
