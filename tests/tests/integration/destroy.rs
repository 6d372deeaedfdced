//! Destroying a Space: versioned Spaces are emptied, and a stopped destroy keeps what is left.

use std::time::Duration;

use crate::safety::put;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use spacedock::core::destroy;
use spacedock::core::error::ErrorKind;
use spacedock_tests::{new_space, owner_client, sandbox};

#[tokio::test]
async fn destroy_empties_a_versioned_space() {
    let sb = sandbox();
    let client = owner_client(&sb);
    for status in [
        BucketVersioningStatus::Enabled,
        BucketVersioningStatus::Suspended,
    ] {
        let space = new_space(&sb, "versioned").await;
        for i in 0..3 {
            put(&client, &space, &format!("before-{i}.txt"), b"null version").await;
        }
        let set = |s: BucketVersioningStatus| {
            client
                .put_bucket_versioning()
                .bucket(&space)
                .versioning_configuration(VersioningConfiguration::builder().status(s).build())
                .send()
        };
        set(BucketVersioningStatus::Enabled).await.expect("enable");
        put(&client, &space, "before-0.txt", b"v2").await;
        put(&client, &space, "after.txt", b"v1").await;
        client
            .delete_object()
            .bucket(&space)
            .key("before-1.txt")
            .send()
            .await
            .expect("delete marker");
        if status == BucketVersioningStatus::Suspended {
            set(BucketVersioningStatus::Suspended)
                .await
                .expect("suspend");
            put(&client, &space, "suspended.txt", b"null again").await;
            client
                .delete_object()
                .bucket(&space)
                .key("after.txt")
                .send()
                .await
                .expect("null delete marker");
        }
        let cancel = spacedock::core::CancellationToken::new();
        let destroyed = tokio::time::timeout(
            Duration::from_secs(120),
            destroy::destroy(
                &client,
                &sb.endpoint.url,
                &space,
                &space,
                true,
                &cancel,
                |_| {},
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("{status:?}: Destroy did not end in 2 minutes"));
        let deleted = destroyed.unwrap_or_else(|e| panic!("{status:?}: {e}"));
        // 3 null versions, a second version, a new file and a delete marker; suspended adds a
        // null version and a null delete marker.
        let expected = if status == BucketVersioningStatus::Enabled {
            6
        } else {
            8
        };
        assert_eq!(
            deleted, expected,
            "{status:?}: versions and markers deleted"
        );
        let gone = client.head_bucket().bucket(&space).send().await;
        assert!(gone.is_err(), "{status:?}: the Space is gone");
    }
}

// Stopping a Destroy part way keeps the Space and every file not yet deleted.
#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_destroy_keeps_the_space_and_the_rest() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "destroy-stop").await;
    let mut puts = tokio::task::JoinSet::new();
    for i in 0..1_200u32 {
        let (client, space) = (client.clone(), space.clone());
        puts.spawn(async move {
            client
                .put_object()
                .bucket(&space)
                .key(format!("f/{i:04}.txt"))
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
        });
        while puts.len() >= 16 {
            puts.join_next()
                .await
                .expect("task")
                .expect("task")
                .expect("put");
        }
    }
    while let Some(done) = puts.join_next().await {
        done.expect("task").expect("put");
    }
    // Stop is pressed as soon as the first batch of 1,000 is reported.
    let cancel = spacedock::core::CancellationToken::new();
    let err = destroy::destroy(
        &client,
        &sb.endpoint.url,
        &space,
        &space,
        true,
        &cancel,
        |p| {
            if p.deleted > 0 {
                cancel.cancel();
            }
        },
    )
    .await
    .expect_err("stopped");
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert!(err.to_string().contains("1000 files were deleted"), "{err}");
    client
        .head_bucket()
        .bucket(&space)
        .send()
        .await
        .expect("the Space remains");
    let mut left = 0;
    let mut pages = client
        .list_objects_v2()
        .bucket(&space)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        left += page.expect("list").contents().len();
    }
    assert_eq!(left, 200, "the files not yet deleted remain");
}
