//! The build folder the `.ci` scripts use (and run the app from) is the user's own: one another
//! user owns, or may write to, is refused before anything is built into it or started from it.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

/// Sources `.ci/env` with `CARGO_TARGET_DIR` set to `dir`; returns whether it went on, and what
/// it said.
fn sourced_with(dir: &std::path::Path) -> (bool, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .args(["-c", ". .ci/env && echo sourced"])
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", dir)
        .output()
        .expect("bash");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    (said.contains("sourced"), said)
}

#[test]
fn a_build_folder_others_own_or_may_write_to_is_refused() {
    let base = tempfile::tempdir().expect("tempdir");
    // Made when missing, private.
    let fresh = base.path().join("fresh");
    let (went_on, said) = sourced_with(&fresh);
    assert!(went_on, "{said}");
    let mode = std::fs::metadata(&fresh)
        .expect("made")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
    // Writable by others: refused.
    let open = base.path().join("open");
    std::fs::create_dir(&open).expect("dir");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let (went_on, said) = sourced_with(&open);
    assert!(!went_on, "{said}");
    assert!(said.contains("others may write"), "{said}");
    // A link: refused.
    let link = base.path().join("link");
    std::os::unix::fs::symlink(&fresh, &link).expect("link");
    assert!(!sourced_with(&link).0);
    // Another user's (only root can make one here).
    let theirs = base.path().join("theirs");
    std::fs::create_dir(&theirs).expect("dir");
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let chowned = std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).is_ok();
    if chowned && std::fs::metadata(&theirs).expect("meta").uid() == 65534 {
        let (went_on, said) = sourced_with(&theirs);
        assert!(!went_on, "{said}");
        assert!(said.contains("another user"), "{said}");
    } else {
        eprintln!("not root: a folder of another user's can't be made here; that case is skipped");
    }
}
