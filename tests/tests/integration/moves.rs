//! Server-side moves, copies and renames against the real engine: a folder of 1,000 files moved
//! with its bytes, permissions and metadata, nothing left behind; renames and copies to another
//! Space; names already taken; a file changed after the plan; a big file copied in parts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ObjectCannedAcl;
use futures_util::StreamExt;

use crate::safety::put;
use crate::services::connected;
use spacedock::core::error::ErrorKind;
use spacedock::core::objects::{self, Grants};
use spacedock::core::transfer::copy::{self, Between, CopyMode, CopySettings};
use spacedock::core::transfer::copy_batch::{self, CopyRequest};
use spacedock::core::transfer::{Conflict, FileAcl, FileState, TransferEvent};
use spacedock_tests::{fetch, new_space, noise, owner_client, sandbox};

pub(crate) fn ask(
    space: &str,
    keys: &[&str],
    to_space: &str,
    folder: &str,
    mode: CopyMode,
) -> CopyRequest {
    CopyRequest {
        space: space.into(),
        region: None,
        keys: keys.iter().map(|k| k.to_string()).collect(),
        to_space: to_space.into(),
        folder: folder.into(),
        rename: None,
        mode,
    }
}

fn renaming(space: &str, key: &str, name: &str) -> CopyRequest {
    CopyRequest {
        rename: Some(name.into()),
        ..ask(space, &[key], space, "", CopyMode::Move)
    }
}

/// Every key below `prefix`.
async fn keys_below(client: &aws_sdk_s3::Client, space: &str, prefix: &str) -> Vec<String> {
    let mut pages = (client.list_objects_v2())
        .bucket(space)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.expect("list");
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(String::from)),
        );
    }
    keys
}

async fn grants(client: &aws_sdk_s3::Client, url: &str, space: &str, key: &str) -> Grants {
    objects::grants(client, url, space, key)
        .await
        .expect("grants")
}

fn content(i: usize) -> Vec<u8> {
    format!("file {i} ").repeat(1 + i % 7).into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn moving_a_folder_of_1000_files_keeps_bytes_permissions_and_metadata_and_leaves_nothing() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = new_space(&sb, "move-1000").await;
    let key = |i: usize| match i % 3 {
        0 => format!("photos/{i:04}.jpg"),
        _ => format!("photos/{}/{i:04}.jpg", 2020 + i % 5),
    };
    // Every tenth file public, every file with its own metadata.
    let putting = futures_util::stream::iter(0..1000).map(|i| {
        let (client, space, key) = (client.clone(), space.clone(), key(i));
        async move {
            let acl = match i % 10 {
                0 => ObjectCannedAcl::PublicRead,
                _ => ObjectCannedAcl::Private,
            };
            (client.put_object())
                .bucket(&space)
                .key(&key)
                .body(ByteStream::from(content(i)))
                .content_type("image/jpeg")
                .cache_control(format!("max-age={i}"))
                .metadata("taken", format!("day {i}"))
                .acl(acl)
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
        }
    });
    putting.buffer_unordered(32).collect::<Vec<()>>().await;
    // A name that begins like the folder is another file: it stays.
    put(&client, &space, "photos-old.txt", b"stays").await;
    let public = grants(&client, url, &space, &key(0)).await;
    let private = grants(&client, url, &space, &key(1)).await;
    assert_ne!(public, private, "the two permissions differ");

    let root = tempfile::tempdir().expect("tempdir");
    let s = connected(&sb, root.path(), url).await;
    let planned = copy_batch::plan(
        &s,
        ask(&space, &["photos/"], &space, "archive/", CopyMode::Move),
    )
    .await
    .expect("plan");
    assert_eq!((planned.files.len(), planned.existing_count), (1000, 0));
    assert!(planned.problems.is_empty(), "{:?}", planned.problems);
    let events = std::sync::Arc::new(Mutex::new(HashMap::new()));
    let started = Instant::now();
    let seen = events.clone();
    let summary = copy_batch::start(
        &s,
        planned.batch,
        Conflict::Overwrite,
        None,
        std::sync::Arc::new(move |e: TransferEvent| {
            seen.lock().expect("lock").insert(e.id, e.state);
        }),
    )
    .await
    .expect("move");
    let took = started.elapsed();
    println!(
        "moved a folder of 1,000 files in {:.2} s",
        took.as_secs_f64()
    );
    assert_eq!(
        (summary.done, summary.skipped, summary.cancelled),
        (1000, 0, 0)
    );
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let events = std::mem::take(&mut *events.lock().expect("lock"));
    assert_eq!(events.len(), 1000);
    assert!(events.values().all(|s| *s == FileState::Done));

    assert!(
        keys_below(&client, &space, "photos/").await.is_empty(),
        "none left behind"
    );
    assert_eq!(
        fetch(&client, &space, "photos-old.txt").await.as_deref(),
        Some(&b"stays"[..])
    );
    assert_eq!(
        keys_below(&client, &space, "archive/photos/").await.len(),
        1000
    );
    let checking = futures_util::stream::iter(0..1000).map(|i| {
        let (client, space) = (client.clone(), space.clone());
        let (public, private) = (&public, &private);
        async move {
            let moved = format!("archive/{}", key(i));
            let got = fetch(&client, &space, &moved).await;
            assert_eq!(got, Some(content(i)), "{moved}");
            let head = (client.head_object())
                .bucket(&space)
                .key(&moved)
                .send()
                .await;
            let head = head.expect("head");
            assert_eq!(head.content_type(), Some("image/jpeg"), "{moved}");
            assert_eq!(head.cache_control(), Some(format!("max-age={i}").as_str()));
            let taken = head.metadata().and_then(|m| m.get("taken"));
            assert_eq!(taken.map(String::as_str), Some(format!("day {i}").as_str()));
            let want = if i % 10 == 0 { public } else { private };
            assert_eq!(&grants(&client, url, &space, &moved).await, want, "{moved}");
        }
    });
    checking.buffer_unordered(32).collect::<Vec<()>>().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn renames_copies_to_another_space_and_names_already_taken() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = new_space(&sb, "rename").await;
    let other = new_space(&sb, "rename-to").await;
    put(&client, &space, "docs/a.txt", b"alpha").await;
    put(&client, &space, "docs/b.txt", b"beta").await;
    put(&client, &space, "docs/deep/c.txt", b"gamma").await;
    objects::set_acl(
        &client,
        url,
        &space,
        &["docs/a.txt".into()],
        FileAcl::Public,
    )
    .await;
    let root = tempfile::tempdir().expect("tempdir");
    let s = connected(&sb, root.path(), url).await;
    let run = |batch| {
        copy_batch::start(
            &s,
            batch,
            Conflict::Overwrite,
            None,
            std::sync::Arc::new(|_| {}),
        )
    };

    // A file renamed where it is: the old name is gone, the permission kept.
    let planned = copy_batch::plan(&s, renaming(&space, "docs/a.txt", "first.txt")).await;
    let planned = planned.expect("plan a rename");
    assert_eq!(planned.files[0].to, "docs/first.txt");
    assert_eq!(run(planned.batch).await.expect("rename").done, 1);
    assert_eq!(fetch(&client, &space, "docs/a.txt").await, None);
    assert_eq!(
        fetch(&client, &space, "docs/first.txt").await.as_deref(),
        Some(&b"alpha"[..])
    );
    let kept = grants(&client, url, &space, "docs/first.txt").await;
    assert!(
        kept.read.is_some_and(|r| r.contains("AllUsers")),
        "still public"
    );

    // Onto a name that is taken: Skip leaves both as they were; Keep both numbers the new one.
    let planned = copy_batch::plan(&s, renaming(&space, "docs/b.txt", "first.txt")).await;
    let planned = planned.expect("plan onto a taken name");
    assert_eq!(planned.existing, ["docs/first.txt"]);
    let skipped = copy_batch::start(
        &s,
        planned.batch,
        Conflict::Skip,
        None,
        std::sync::Arc::new(|_| {}),
    )
    .await;
    assert_eq!(skipped.expect("skip").skipped, 1);
    assert_eq!(
        fetch(&client, &space, "docs/b.txt").await.as_deref(),
        Some(&b"beta"[..])
    );
    assert_eq!(
        fetch(&client, &space, "docs/first.txt").await.as_deref(),
        Some(&b"alpha"[..])
    );
    let planned = copy_batch::plan(&s, renaming(&space, "docs/b.txt", "first.txt")).await;
    let planned = planned.expect("plan again");
    let both = copy_batch::start(
        &s,
        planned.batch,
        Conflict::KeepBoth,
        None,
        std::sync::Arc::new(|_| {}),
    )
    .await;
    assert_eq!(both.expect("keep both").done, 1);
    assert_eq!(
        fetch(&client, &space, "docs/first (1).txt")
            .await
            .as_deref(),
        Some(&b"beta"[..])
    );
    assert_eq!(
        fetch(&client, &space, "docs/first.txt").await.as_deref(),
        Some(&b"alpha"[..])
    );

    // A folder renamed: everything below it moves.
    let planned = copy_batch::plan(&s, renaming(&space, "docs/", "papers")).await;
    assert_eq!(
        run(planned.expect("plan").batch)
            .await
            .expect("rename a folder")
            .done,
        3
    );
    assert!(keys_below(&client, &space, "docs/").await.is_empty());
    assert_eq!(
        fetch(&client, &space, "papers/deep/c.txt").await.as_deref(),
        Some(&b"gamma"[..])
    );

    // Copied to another Space of the region: both have it.
    let planned = copy_batch::plan(&s, ask(&space, &["papers/"], &other, "", CopyMode::Copy)).await;
    assert_eq!(
        run(planned.expect("plan a copy").batch)
            .await
            .expect("copy")
            .done,
        3
    );
    for k in [
        "papers/first.txt",
        "papers/first (1).txt",
        "papers/deep/c.txt",
    ] {
        assert_eq!(
            fetch(&client, &other, k).await,
            fetch(&client, &space, k).await,
            "{k}"
        );
        assert!(fetch(&client, &other, k).await.is_some(), "{k}");
    }
    let public = grants(&client, url, &other, "papers/first.txt").await;
    assert!(
        public.read.is_some_and(|r| r.contains("AllUsers")),
        "public in the other Space"
    );

    // Refused before anything is sent.
    let into_itself = copy_batch::plan(
        &s,
        ask(&space, &["papers/"], &space, "papers/deep/", CopyMode::Move),
    );
    let into_itself = into_itself.await.expect("plan");
    assert!(into_itself.files.is_empty());
    assert!(
        into_itself.problems[0].message.contains("inside itself"),
        "{:?}",
        into_itself.problems
    );
    let bad = copy_batch::plan(&s, renaming(&space, "papers/first.txt", "a/b")).await;
    assert_eq!(bad.expect_err("a slash").kind(), ErrorKind::InvalidInput);
    let gone = copy_batch::plan(&s, renaming(&space, "papers/nothing.txt", "x")).await;
    assert!(gone.expect("plan").problems[0]
        .message
        .contains("no longer there"));

    // Changed after the plan: not copied, and (a move) the changed original stays.
    let planned = copy_batch::plan(&s, renaming(&space, "papers/deep/c.txt", "d.txt")).await;
    let planned = planned.expect("plan");
    put(&client, &space, "papers/deep/c.txt", b"newer").await;
    let changed = run(planned.batch).await.expect("ran");
    assert_eq!(changed.done, 0);
    assert!(
        changed.problems[0].message.contains("changed after"),
        "{:?}",
        changed.problems
    );
    assert_eq!(
        fetch(&client, &space, "papers/deep/c.txt").await.as_deref(),
        Some(&b"newer"[..])
    );
    assert_eq!(fetch(&client, &space, "papers/deep/d.txt").await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_over_the_single_copy_limit_is_copied_in_parts_and_a_failed_one_leaves_no_parts() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = new_space(&sb, "copy-parts").await;
    let bytes = noise(21 << 20, 5);
    (client.put_object())
        .bucket(&space)
        .key("big.bin")
        .body(ByteStream::from(bytes.clone()))
        .content_type("application/x-test")
        .content_disposition("attachment")
        .metadata("origin", "camera")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .expect("put");
    let b = Between::new(&client, url, &space, &space);
    // Parts of 5 MiB above 8 MiB: the same path as over 5 GiB, at a size a test can hold.
    let settings = CopySettings {
        files_at_once: 4,
        single_limit: 8 << 20,
        part_size: 5 << 20,
        ..CopySettings::default()
    };
    let keys = ["big.bin".to_string()];
    let plan = copy::plan(&b, &keys, "copies/", None, CopyMode::Copy)
        .await
        .expect("plan");
    let progress = Mutex::new(Vec::new());
    let events = |e: TransferEvent| progress.lock().expect("lock").push(e.bytes);
    let nothing = Default::default();
    let no_cancels = HashMap::new();
    let run = copy::run(
        &b,
        plan,
        CopyMode::Copy,
        (Conflict::Overwrite, &nothing),
        &no_cancels,
        settings,
        &|_, _| {},
        &events,
    );
    let summary = run.await;
    assert_eq!(summary.done, 1, "{:?}", summary.problems);
    let seen = progress.into_inner().expect("lock");
    assert!(seen.len() >= 6, "progress by part: {seen:?}");
    assert_eq!(fetch(&client, &space, "copies/big.bin").await, Some(bytes));
    let head = (client.head_object())
        .bucket(&space)
        .key("copies/big.bin")
        .send()
        .await;
    let head = head.expect("head");
    assert!(
        head.e_tag().is_some_and(|t| t.ends_with("-5\"")),
        "five parts: {:?}",
        head.e_tag()
    );
    assert_eq!(head.content_type(), Some("application/x-test"));
    assert_eq!(head.content_disposition(), Some("attachment"));
    let origin = head.metadata().and_then(|m| m.get("origin"));
    assert_eq!(origin.map(String::as_str), Some("camera"));
    assert_eq!(
        grants(&client, url, &space, "copies/big.bin").await,
        grants(&client, url, &space, "big.bin").await
    );

    // The original changes after the plan: the parts are refused and the upload aborted.
    let plan = copy::plan(&b, &keys, "again/", None, CopyMode::Move)
        .await
        .expect("plan");
    put(&client, &space, "big.bin", &noise(9 << 20, 6)).await;
    let run = copy::run(
        &b,
        plan,
        CopyMode::Move,
        (Conflict::Overwrite, &nothing),
        &no_cancels,
        settings,
        &|_, _| {},
        &|_| {},
    );
    let failed = run.await;
    assert_eq!(failed.done, 0);
    assert!(
        failed.problems[0].message.contains("changed after"),
        "{:?}",
        failed.problems
    );
    let uploads = client.list_multipart_uploads().bucket(&space).send().await;
    assert!(
        uploads.expect("uploads").uploads().is_empty(),
        "no parts left"
    );
    assert_eq!(fetch(&client, &space, "again/big.bin").await, None);
    assert_eq!(
        fetch(&client, &space, "big.bin").await.map(|b| b.len()),
        Some(9 << 20)
    );
}
