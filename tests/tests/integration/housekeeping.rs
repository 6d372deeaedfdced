//! The test sandboxes kept between runs: one that has filled its disk is started anew; one that a
//! running test holds, or that the tests did not make (the app's own, say), is never touched. One
//! whose owner holds too many Spaces is started anew too; the count it goes by is checked here.

use std::fs::File;
use std::path::Path;

use spacedock_tests::{
    new_space, owner_client, owner_spaces, sandbox, start_anew_when_full, MADE_BY_THE_TESTS,
};

/// A sandbox folder the tests made, whose OSD holds `bytes` of real (not sparse) data.
fn sandbox_with(bytes: usize) -> tempfile::TempDir {
    let root = not_made_by_the_tests(bytes);
    std::fs::write(root.path().join(MADE_BY_THE_TESTS), "").expect("marker");
    root
}

/// The same, as the app's own sandbox would be: no mark of the tests.
fn not_made_by_the_tests(bytes: usize) -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(root.path().join("osd/ceph-0")).expect("osd folder");
    std::fs::write(root.path().join("osd/ceph-0/block"), vec![7u8; bytes]).expect("block");
    std::fs::write(root.path().join("ceph.conf"), "[global]\n").expect("conf");
    root
}

fn lock_of(root: &Path) -> File {
    let lock = File::create(root.join("sandbox.lock")).expect("lock file");
    lock.try_lock().expect("the lock is free");
    lock
}

#[test]
fn a_full_test_sandbox_is_started_anew_unless_a_test_holds_it_or_the_tests_did_not_make_it() {
    // Under the limit: kept, whole.
    let small = sandbox_with(256 << 10);
    assert!(!start_anew_when_full(small.path(), 1 << 20));
    assert!(small.path().join("osd/ceph-0/block").exists());

    // Over the limit, free, but not made by the tests (a user's own sandbox): kept, whole.
    let users = not_made_by_the_tests(2 << 20);
    assert!(!start_anew_when_full(users.path(), 1 << 20));
    assert!(users.path().join("osd/ceph-0/block").exists());

    // Over the limit while a running test holds its lock: kept, whole.
    let held = sandbox_with(2 << 20);
    let lock = lock_of(held.path());
    assert!(!start_anew_when_full(held.path(), 1 << 20));
    assert!(held.path().join("osd/ceph-0/block").exists());
    assert!(held.path().join("ceph.conf").exists());

    // Over the limit and free: removed, so the next start makes a new, empty cluster.
    drop(lock);
    assert!(start_anew_when_full(held.path(), 1 << 20));
    assert!(!held.path().exists());
}

#[tokio::test]
async fn the_spaces_the_start_counts_are_the_owners() {
    let sb = sandbox();
    let name = new_space(&sb, "counted").await;
    let counted = owner_spaces();
    owner_client(&sb)
        .delete_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("delete");
    assert!(counted.contains(&name), "{name} not among {counted:?}");
    assert!(!owner_spaces().contains(&name));
}
