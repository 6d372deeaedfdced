//! About and Check requirements, on this computer: the real keychain answers, Ceph is installed
//! (the test command installs it).

use spacedock::core::about;

use crate::services::services;

#[test]
fn about_names_the_version_and_where_the_files_are() {
    let root = tempfile::tempdir().expect("tempdir");
    let s = services(root.path());
    let a = about::about(&s);
    assert_eq!(a.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(a.licence, "MIT");
    assert_eq!(
        a.data_folder,
        Some(root.path().join("data").display().to_string())
    );
    let log = a.log_file.expect("a log file");
    assert!(
        log.starts_with(&root.path().join("logs").display().to_string()),
        "{log}"
    );
}

#[test]
fn requirements_are_checked_on_this_computer() {
    let root = tempfile::tempdir().expect("tempdir");
    let s = services(root.path());
    let found = about::check(&s);
    let names: Vec<&str> = found.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Keychain", "Ceph"]);
    assert!(found.iter().all(|r| r.ok), "{found:?}");
}
