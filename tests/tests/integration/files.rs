//! A file's details, permission and metadata, on files uploaded the app's way.

use std::sync::{Arc, Mutex};

use crate::upload::{new_space, url_of};
use aws_sdk_s3::primitives::ByteStream;
use spacedock::core::objects::{self, Metadata};
use spacedock::core::transfer::{self, FileAcl, Target};
use spacedock_tests::{anonymous_get, sandbox};

async fn put(target: &Target, key: &str, body: &'static [u8]) {
    target
        .client
        .put_object()
        .bucket(&target.space)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .expect("put");
}

#[tokio::test]
async fn share_links_work_and_then_expire() {
    let sb = sandbox();
    let target = new_space(&sb, "share").await;
    put(&target, "secret plan+.txt", b"the plan").await;
    let link = objects::share_link(&target.client, &target.space, "secret plan+.txt", 2)
        .await
        .expect("link");
    assert_eq!(
        anonymous_get(&url_of(&sb, &target, "secret plan+.txt")).0,
        403,
        "the file itself is private"
    );
    let (status, body) = anonymous_get(&link);
    assert_eq!(
        (status, body.as_str()),
        (200, "the plan"),
        "the link opens it"
    );
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        anonymous_get(&link).0,
        403,
        "an expired link no longer works"
    );
    assert!(
        objects::share_link(&target.client, &target.space, "x", 8 * 86_400)
            .await
            .is_err(),
        "longer than 7 days"
    );
}

#[tokio::test]
async fn permissions_in_bulk_and_metadata_edits_keep_each_other() {
    let sb = sandbox();
    let target = new_space(&sb, "acl").await;
    for key in ["a.txt", "b.txt", "dir/c.txt"] {
        put(&target, key, b"x").await;
    }
    let keys: Vec<String> = ["a.txt", "b.txt", "dir/"].map(String::from).to_vec();
    let failed = objects::set_acl(
        &target.client,
        &target.endpoint,
        &target.space,
        &keys,
        FileAcl::Public,
    )
    .await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(anonymous_get(&url_of(&sb, &target, "a.txt")).0, 200);
    assert_eq!(anonymous_get(&url_of(&sb, &target, "b.txt")).0, 200);
    assert_eq!(
        anonymous_get(&url_of(&sb, &target, "dir/c.txt")).0,
        403,
        "a folder has no permission of its own"
    );

    let edit = Metadata {
        content_type: Some("text/plain; charset=utf-8".into()),
        cache_control: Some("max-age=60".into()),
        content_disposition: Some("attachment".into()),
        content_encoding: None,
        custom: vec![("owner".into(), "ana".into())],
    };
    let details = objects::set_metadata(
        &target.client,
        &target.endpoint,
        &target.space,
        "a.txt",
        &edit,
        None,
    )
    .await
    .expect("edit");
    assert_eq!(details.metadata, edit);
    assert_eq!(
        details.acl,
        Some(FileAcl::Public),
        "editing metadata keeps the permission"
    );
    assert_eq!(
        anonymous_get(&url_of(&sb, &target, "a.txt")),
        (200, "x".to_string()),
        "and the bytes"
    );
    let bad = Metadata {
        custom: vec![("no spaces".into(), "v".into())],
        ..edit
    };
    assert!(objects::set_metadata(
        &target.client,
        &target.endpoint,
        &target.space,
        "a.txt",
        &bad,
        None
    )
    .await
    .is_err());
}

#[tokio::test]
async fn deleting_a_folder_takes_everything_in_it() {
    let sb = sandbox();
    let target = new_space(&sb, "del").await;
    for key in ["keep.txt", "old/", "old/a.txt", "old/deep/b.txt"] {
        put(&target, key, b"").await;
    }
    let n = spacedock_tests::delete_keys(
        &target.client,
        &target.endpoint,
        &target.space,
        &["old/".to_string()],
    )
    .await
    .expect("delete");
    assert_eq!(n.deleted, 3);
    let left = target
        .client
        .list_objects_v2()
        .bucket(&target.space)
        .send()
        .await
        .expect("list");
    let keys: Vec<_> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["keep.txt"]);
}

#[tokio::test]
async fn downloads_arrive_whole_or_not_at_all() {
    let sb = sandbox();
    let target = new_space(&sb, "down").await;
    put(&target, "photo ünï+.bin", b"0123456789").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("photo ünï+.bin");
    let seen = Arc::new(Mutex::new(0u64));
    let s = seen.clone();
    let n = transfer::download::download_file(
        &target,
        "photo ünï+.bin",
        (dir.path(), &dest),
        &move |b| *s.lock().expect("lock") = b,
        None,
        None,
    )
    .await
    .expect("download");
    assert_eq!(n, 10);
    assert_eq!(*seen.lock().expect("lock"), 10);
    assert_eq!(std::fs::read(&dest).expect("read"), b"0123456789");
    let missing = dir.path().join("missing.bin");
    assert!(transfer::download::download_file(
        &target,
        "nope",
        (dir.path(), &missing),
        &|_| {},
        None,
        None,
    )
    .await
    .is_err());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "no partial file left behind: {names:?}");
}
