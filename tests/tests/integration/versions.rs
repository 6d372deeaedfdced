//! Versions and undelete against the real engine: an old version put back, a deleted file
//! brought back, one version deleted for good, a versioned Space destroyed.

use crate::safety::put;
use spacedock::core::destroy;
use spacedock::core::error::ErrorKind;
use spacedock::core::objects;
use spacedock::core::transfer::download::{self, DownloadFile};
use spacedock::core::transfer::local::LocalClaims;
use spacedock::core::transfer::FileAcl;
use spacedock::core::transfer::{Conflict, Target};
use spacedock::core::urls;
use spacedock::core::versions::{self, Replaced, Versioning};
use spacedock_tests::{anonymous_get, fetch, new_space, owner_client, sandbox, SandboxInfo};

async fn versioned_space(sb: &SandboxInfo, prefix: &str) -> String {
    let client = owner_client(sb);
    let space = new_space(sb, prefix).await;
    let url = &sb.endpoint.url;
    let before = versions::versioning(&client, url, &space).await;
    assert_eq!(before.expect("versioning"), Versioning::Off);
    let now = versions::set_versioning(&client, url, &space, true).await;
    assert_eq!(now.expect("enable"), Versioning::Enabled, "read back");
    space
}

fn origin(sb: &SandboxInfo, space: &str) -> String {
    let provider = spacedock::core::connection::Provider::Sandbox;
    urls::space_urls(&provider, &sb.endpoint, space, "local").origin
}

#[tokio::test]
async fn restoring_the_first_version_brings_its_bytes_back_with_the_files_permission() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = versioned_space(&sb, "ver-restore").await;
    // Sizes tell the versions apart: three written in one second have one date.
    put(&client, &space, "notes.txt", b"one").await;
    put(&client, &space, "notes.txt", b"two!").await;
    put(&client, &space, "notes.txt", b"three").await;
    // A longer key under the same prefix is another file, not a version of this one.
    put(&client, &space, "notes.txt.bak", b"other").await;
    let keys = ["notes.txt".to_string()];
    objects::set_acl(&client, url, &space, &keys, FileAcl::Public).await;

    let listed = versions::file_versions(&client, url, &space, "notes.txt").await;
    let listed = listed.expect("versions");
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed[0].current && !listed[0].deleted);
    assert_eq!(listed.iter().filter(|v| v.current).count(), 1);
    assert_eq!(listed[0].size, 5, "the current one first");
    let sized = |n: u64| {
        let v = listed
            .iter()
            .find(|v| v.size == n)
            .expect("a version of that size");
        v.version_id.clone()
    };

    let first = sized(3);
    let replaced =
        spacedock_tests::restore_version(&client, url, &space, "notes.txt", &first, None)
            .await
            .expect("restore");
    assert_eq!(replaced, Replaced::Kept);
    assert_eq!(
        fetch(&client, &space, "notes.txt").await.as_deref(),
        Some(&b"one"[..])
    );
    let after = versions::file_versions(&client, url, &space, "notes.txt").await;
    assert_eq!(
        after.expect("versions").len(),
        4,
        "the replaced one is kept"
    );
    // Still public: anyone reads the restored bytes.
    let file = urls::file_url(&origin(&sb, &space), "notes.txt");
    assert_eq!(anonymous_get(&file), (200, "one".to_string()));

    // A version saved to disk holds that version's bytes; two versions saved into one folder
    // at once both stay, under two names.
    let dest = tempfile::tempdir().expect("tempdir");
    let (second, third) = (sized(4), sized(5));
    let target = Target::plain(&client, url, &space);
    let claims = LocalClaims::default();
    let mut plan = download::plan_version(&client, url, &space, "notes.txt", &second, dest.path())
        .await
        .expect("plan a version");
    let other = download::plan_version(&client, url, &space, "notes.txt", &third, dest.path())
        .await
        .expect("plan another version");
    plan.files
        .extend(other.files.into_iter().map(|f| DownloadFile { id: 1, ..f }));
    let options = download::Options {
        claims: Some(&claims),
        ..Default::default()
    };
    let summary = download::run(
        &target,
        dest.path(),
        plan,
        Conflict::KeepBoth,
        &|_| {},
        options,
    )
    .await;
    assert_eq!(summary.done, 2, "{:?}", summary.problems);
    let two = std::fs::read(dest.path().join("notes.txt")).expect("saved");
    let three = std::fs::read(dest.path().join("notes (1).txt")).expect("saved beside");
    assert_eq!((two, three), (b"two!".to_vec(), b"three".to_vec()));
}

// F4: with versioning suspended a restore writes the “null” version, which replaces the one
// there for good: it is asked about first, and done only for that version.
#[tokio::test]
async fn a_restore_that_would_replace_a_version_for_good_asks_first() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = versioned_space(&sb, "ver-suspended").await;
    // Sizes tell the versions apart: those written in one second have one date.
    put(&client, &space, "notes.txt", b"v1").await;
    put(&client, &space, "notes.txt", b"v22").await;
    let suspended = versions::set_versioning(&client, url, &space, false).await;
    assert_eq!(suspended.expect("suspend"), Versioning::Suspended);
    put(&client, &space, "notes.txt", b"v333").await;
    let listed = versions::file_versions(&client, url, &space, "notes.txt")
        .await
        .expect("versions");
    let first = listed.iter().find(|v| v.size == 2).expect("v1");
    let null = &listed[0];
    assert_eq!((null.version_id.as_str(), null.current), ("null", true));
    let asked = spacedock_tests::restore_version(
        &client,
        url,
        &space,
        "notes.txt",
        &first.version_id,
        None,
    )
    .await;
    let asked = asked.expect_err("asked first");
    assert_eq!(asked.kind(), ErrorKind::ReplacesForGood, "{asked}");
    assert_eq!(
        fetch(&client, &space, "notes.txt").await.as_deref(),
        Some(&b"v333"[..]),
        "nothing replaced before the answer"
    );
    // Agreed for v3; then v4 comes in: v4 is not replaced unasked.
    let etag = null.etag.clone().expect("etag");
    put(&client, &space, "notes.txt", b"v4444").await;
    let changed = spacedock_tests::restore_version(
        &client,
        url,
        &space,
        "notes.txt",
        &first.version_id,
        Some(&etag),
    )
    .await;
    assert!(matches!(
        changed.expect_err("changed").kind(),
        ErrorKind::ReplacesForGood | ErrorKind::FileChanged
    ));
    assert_eq!(
        fetch(&client, &space, "notes.txt").await.as_deref(),
        Some(&b"v4444"[..])
    );
    let now = versions::file_versions(&client, url, &space, "notes.txt")
        .await
        .expect("versions");
    let null_now = now
        .iter()
        .find(|v| v.version_id == "null")
        .expect("the null version");
    let etag = null_now.etag.clone().expect("etag");
    let done = spacedock_tests::restore_version(
        &client,
        url,
        &space,
        "notes.txt",
        &first.version_id,
        Some(&etag),
    )
    .await;
    assert_eq!(done.expect("agreed"), Replaced::ForGood);
    assert_eq!(
        fetch(&client, &space, "notes.txt").await.as_deref(),
        Some(&b"v1"[..])
    );
}

#[tokio::test]
async fn a_deleted_file_is_shown_as_deleted_and_undeleted() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = versioned_space(&sb, "ver-undelete").await;
    put(&client, &space, "docs/report.pdf", b"v1").await;
    put(&client, &space, "docs/report.pdf", b"v2 longer").await;
    put(&client, &space, "docs/kept.txt", b"kept").await;
    put(&client, &space, "docs/deeper/x.txt", b"x").await;
    let keys = ["docs/report.pdf".to_string(), "docs/deeper/".to_string()];
    spacedock_tests::delete_keys(&client, url, &space, &keys)
        .await
        .expect("delete");
    assert_eq!(fetch(&client, &space, "docs/report.pdf").await, None);

    let deleted = versions::deleted_files(&client, url, &space, "docs/").await;
    let deleted = deleted.expect("deleted files");
    // This folder's own deleted file only; the subfolder's is listed when it is opened.
    let names: Vec<&str> = deleted.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(names, ["docs/report.pdf"]);
    assert_eq!(
        deleted[0].size, 9,
        "the size of the version under the marker"
    );
    let deeper = versions::deleted_files(&client, url, &space, "docs/deeper/").await;
    assert_eq!(deeper.expect("deeper").len(), 1);

    let removed = versions::undelete(&client, url, &space, "docs/report.pdf").await;
    assert_eq!(removed.expect("undelete"), 1);
    let back = fetch(&client, &space, "docs/report.pdf").await;
    assert_eq!(back.as_deref(), Some(&b"v2 longer"[..]));
    let left = versions::deleted_files(&client, url, &space, "docs/").await;
    assert!(left.expect("deleted files").is_empty());
    assert_eq!(
        fetch(&client, &space, "docs/kept.txt").await.as_deref(),
        Some(&b"kept"[..])
    );
}

#[tokio::test]
async fn one_version_deleted_for_good_and_the_others_kept() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = versioned_space(&sb, "ver-delete").await;
    for body in [&b"a"[..], b"bb", b"ccc"] {
        put(&client, &space, "f.bin", body).await;
    }
    let listed = versions::file_versions(&client, url, &space, "f.bin").await;
    let listed = listed.expect("versions");
    let middle = listed[1].version_id.clone();
    versions::delete_version(&client, url, &space, "f.bin", &middle)
        .await
        .expect("delete one version");
    let left = versions::file_versions(&client, url, &space, "f.bin").await;
    let sizes: Vec<u64> = left.expect("versions").iter().map(|v| v.size).collect();
    assert_eq!(sizes, [3, 1]);
    assert_eq!(
        fetch(&client, &space, "f.bin").await.as_deref(),
        Some(&b"ccc"[..])
    );

    // A delete marker can't be restored: it has no bytes.
    spacedock_tests::delete_keys(&client, url, &space, &["f.bin".to_string()])
        .await
        .expect("delete");
    let listed = versions::file_versions(&client, url, &space, "f.bin").await;
    let marker = listed.expect("versions")[0].clone();
    assert!(marker.deleted && marker.current);
    let refused =
        spacedock_tests::restore_version(&client, url, &space, "f.bin", &marker.version_id, None)
            .await;
    assert!(refused.is_err(), "a delete marker has nothing to restore");

    // Suspended keeps the versions there are.
    let now = versions::set_versioning(&client, url, &space, false).await;
    assert_eq!(now.expect("suspend"), Versioning::Suspended);
    let kept = versions::file_versions(&client, url, &space, "f.bin").await;
    assert_eq!(kept.expect("versions").len(), 3);
}

#[tokio::test]
async fn a_versioned_space_is_destroyed_with_every_version() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = versioned_space(&sb, "ver-destroy").await;
    put(&client, &space, "a.txt", b"1").await;
    put(&client, &space, "a.txt", b"2").await;
    spacedock_tests::delete_keys(&client, url, &space, &["a.txt".to_string()])
        .await
        .expect("delete");
    let stop = spacedock::core::CancellationToken::new();
    destroy::destroy(&client, url, &space, &space, true, &stop, |_| {})
        .await
        .expect("destroy a versioned Space");
    let gone = client.head_bucket().bucket(&space).send().await;
    assert!(gone.is_err(), "the Space is gone");
}
