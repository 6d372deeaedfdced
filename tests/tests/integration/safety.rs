//! Nothing lost, nothing misplaced: each test here is a defect that once existed, shown against
//! the real sandbox (or a misbehaving server where only one can show it).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use spacedock::core::destroy;
use spacedock::core::error::ErrorKind;
use spacedock::core::objects::{self, Metadata};
use spacedock::core::s3;
use spacedock::core::transfer::download::{self, DownloadSummary};
use spacedock::core::transfer::{self, Conflict, Target};
use spacedock::core::urls;
use spacedock_tests::{anonymous_get, fetch, new_space, owner_client, sandbox, SandboxInfo};

async fn put(client: &aws_sdk_s3::Client, space: &str, key: &str, body: &[u8]) {
    client
        .put_object()
        .bucket(space)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key:?}: {e:?}"));
}

/// Every file below `root`, as paths relative to it.
fn files_below(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(
                    path.strip_prefix(root)
                        .expect("below")
                        .to_string_lossy()
                        .to_string(),
                );
            }
        }
    }
    found.sort();
    found
}

async fn download_into(
    sb: &SandboxInfo,
    space: &str,
    keys: &[&str],
    dest: &Path,
    conflict: Conflict,
) -> DownloadSummary {
    let client = owner_client(sb);
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let plan = download::plan(&client, &sb.endpoint.url, space, &keys, dest)
        .await
        .expect("plan");
    download::run(
        &client,
        &sb.endpoint.url,
        space,
        dest,
        plan,
        conflict,
        &|_| {},
    )
    .await
}

// 1. A hostile key can't make a download write outside the chosen folder.
#[tokio::test]
async fn downloads_never_write_outside_the_chosen_folder() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "hostile-keys").await;
    let long = format!("deep/{}.txt", "x".repeat(256));
    let hostile = [
        "/etc-passwd.txt",
        "/deep/abs.txt",
        "deep//empty.txt",
        "deep/./dot.txt",
        "deep/../../escape.txt",
        "deep/back\\slash.txt",
        "C:evil.txt",
        long.as_str(),
    ];
    for key in hostile {
        put(&client, &space, key, b"hostile").await;
    }
    put(&client, &space, "deep/fine.txt", b"fine").await;
    put(&client, &space, "top.txt", b"top").await;
    // What the server really holds (it may tidy some names): every one of them is tried below.
    let mut stored = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(&space)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for o in page.expect("list").contents() {
            stored.push(o.key().expect("key").to_string());
        }
    }
    assert!(stored.len() >= 8, "{stored:?}");

    for (what, keys) in [
        ("the whole Space", vec![""]),
        ("a folder", vec!["deep/"]),
        ("the folder “/”", vec!["/"]),
    ] {
        let outer = tempfile::tempdir().expect("tempdir");
        let dest = outer.path().join("chosen");
        std::fs::create_dir(&dest).expect("dest");
        let summary = download_into(&sb, &space, &keys, &dest, Conflict::Overwrite).await;
        // Nothing outside the chosen folder, in it or above it.
        assert_eq!(
            files_below(outer.path())
                .iter()
                .filter(|f| !f.starts_with("chosen/"))
                .count(),
            0,
            "{what}: {:?}",
            files_below(outer.path())
        );
        let written = files_below(&dest);
        for file in &written {
            let path = dest.join(file);
            assert!(path.starts_with(&dest), "{what}: {file}");
        }
        // Each refused file is named, with why.
        let refused: HashSet<&str> = summary.problems.iter().map(|p| p.path.as_str()).collect();
        for key in stored.iter().filter(|k| k.starts_with(keys[0])) {
            let safe = matches!(key.as_str(), "deep/fine.txt" | "top.txt");
            if !safe {
                assert!(
                    refused.contains(key.as_str()),
                    "{what}: {key:?} was not refused: {:?}",
                    summary.problems
                );
            }
        }
        assert!(summary
            .problems
            .iter()
            .all(|p| p.message.starts_with("Not downloaded:")));
        match what {
            "the whole Space" => {
                assert_eq!(written, ["deep/fine.txt", "top.txt"], "{what}");
                assert_eq!(std::fs::read(dest.join("top.txt")).expect("top"), b"top");
            }
            "a folder" => assert_eq!(written, ["deep/fine.txt"], "{what}"),
            _ => assert!(written.is_empty(), "{what}: {written:?}"),
        }
    }
}

// 2. Downloads ask before replacing: Overwrite, Skip or Keep both, for the whole batch.
#[tokio::test]
async fn downloads_overwrite_skip_or_keep_both_as_chosen() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "dl-conflict").await;
    put(&client, &space, "docs/a.txt", b"from the Space").await;
    put(&client, &space, "docs/b.txt", b"new b").await;
    let dest = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dest.path().join("docs")).expect("docs");
    std::fs::write(dest.path().join("docs/a.txt"), b"mine").expect("mine");

    let plan = download::plan(
        &client,
        &sb.endpoint.url,
        &space,
        &["docs/".to_string()],
        dest.path(),
    )
    .await
    .expect("plan");
    assert_eq!(plan.existing().len(), 1, "a.txt is already there");

    let skipped = download_into(&sb, &space, &["docs/"], dest.path(), Conflict::Skip).await;
    assert_eq!((skipped.done, skipped.skipped), (1, 1));
    assert_eq!(
        std::fs::read(dest.path().join("docs/a.txt")).expect("a"),
        b"mine"
    );

    let kept = download_into(&sb, &space, &["docs/"], dest.path(), Conflict::KeepBoth).await;
    assert_eq!(kept.done, 2);
    assert_eq!(
        std::fs::read(dest.path().join("docs/a.txt")).expect("a"),
        b"mine"
    );
    assert_eq!(
        std::fs::read(dest.path().join("docs/a (1).txt")).expect("a (1)"),
        b"from the Space"
    );
    assert!(dest.path().join("docs/b (1).txt").exists());

    let replaced = download_into(
        &sb,
        &space,
        &["docs/a.txt"],
        dest.path(),
        Conflict::Overwrite,
    )
    .await;
    assert_eq!(replaced.done, 1);
    assert_eq!(
        std::fs::read(dest.path().join("a.txt")).expect("a"),
        b"from the Space"
    );
    let again = download_into(&sb, &space, &["docs/"], dest.path(), Conflict::Overwrite).await;
    assert_eq!(again.done, 2);
    assert_eq!(
        std::fs::read(dest.path().join("docs/a.txt")).expect("a"),
        b"from the Space"
    );
    // No temporary file is left anywhere.
    assert!(
        files_below(dest.path())
            .iter()
            .all(|f| !f.ends_with(".spacedock-part")),
        "{:?}",
        files_below(dest.path())
    );
}

// 3. Keep both picks a name free on the server, not only in this batch.
#[tokio::test]
async fn keep_both_never_replaces_an_earlier_copy() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "keep-both").await;
    let target = Target {
        client: client.clone(),
        endpoint: sb.endpoint.url.clone(),
        space: space.clone(),
        unfinished: None,
    };
    put(&client, &space, "photos/a.jpg", b"first").await;
    for (n, body) in [(1, b"second"), (2, b"third!")] {
        let key = transfer::free_key(&target, "photos/a.jpg", &HashSet::new())
            .await
            .expect("free key");
        assert_eq!(key, format!("photos/a ({n}).jpg"));
        put(&client, &space, &key, body).await;
    }
    assert_eq!(
        fetch(&client, &space, "photos/a.jpg").await.as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(
        fetch(&client, &space, "photos/a (1).jpg").await.as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(
        fetch(&client, &space, "photos/a (2).jpg").await.as_deref(),
        Some(&b"third!"[..])
    );
    // A name taken by the batch itself is not handed out again.
    let taken = HashSet::from(["photos/a (3).jpg".to_string()]);
    assert_eq!(
        transfer::free_key(&target, "photos/a.jpg", &taken)
            .await
            .expect("free key"),
        "photos/a (4).jpg"
    );
}

// 5. Saving metadata keeps the file's exact permission, or refuses.
#[tokio::test]
async fn saving_metadata_never_changes_who_may_read_a_file() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "meta-acl").await;
    let origin = urls::space_urls(
        &spacedock::core::connection::Provider::Sandbox,
        &sb.endpoint,
        &space,
        "local",
    )
    .origin;
    put(&client, &space, "public.txt", b"hello").await;
    objects::set_acl(
        &client,
        &sb.endpoint.url,
        &space,
        &["public.txt".to_string()],
        transfer::FileAcl::Public,
    )
    .await;
    let url = urls::file_url(&origin, "public.txt");
    assert_eq!(anonymous_get(&url).0, 200);
    // A grant to one other user, beside the public one.
    let friend = spacedock_tests::new_user("meta-friend");
    let acl = client
        .get_object_acl()
        .bucket(&space)
        .key("public.txt")
        .send()
        .await
        .expect("acl");
    let owner_id = acl
        .owner()
        .and_then(|o| o.id())
        .expect("owner id")
        .to_string();
    client
        .put_object_acl()
        .bucket(&space)
        .key("public.txt")
        .grant_full_control(format!("id=\"{owner_id}\""))
        .grant_read(format!(
            "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\", id=\"{}\"",
            friend.uid
        ))
        .send()
        .await
        .expect("grant");
    let friend_client = s3::client(&sb.endpoint, &friend.access_key, &friend.secret);
    assert!(fetch(&friend_client, &space, "public.txt").await.is_some());

    let metadata = Metadata {
        content_type: Some("text/plain".into()),
        cache_control: Some("max-age=60".into()),
        content_disposition: None,
        content_encoding: None,
        custom: vec![("team".into(), "blue".into())],
    };
    let saved = objects::set_metadata(&client, &sb.endpoint.url, &space, "public.txt", &metadata)
        .await
        .expect("metadata saved");
    assert_eq!(saved.metadata.cache_control.as_deref(), Some("max-age=60"));
    assert_eq!(anonymous_get(&url).0, 200, "still public");
    assert!(
        fetch(&friend_client, &space, "public.txt").await.is_some(),
        "the other user's grant is kept"
    );

    // A key that can't read the permission is refused, and nothing changes.
    let writer = spacedock_tests::new_user("meta-writer");
    spacedock::core::keys::policy::grant(
        &client,
        &sb.endpoint.url,
        &space,
        &writer.uid,
        spacedock::core::keys::Permission::ReadWrite,
    )
    .await
    .expect("grant read/write");
    let limited = s3::client(&sb.endpoint, &writer.access_key, &writer.secret);
    let mut other = metadata.clone();
    other.cache_control = Some("no-store".into());
    let err = objects::set_metadata(&limited, &sb.endpoint.url, &space, "public.txt", &other)
        .await
        .expect_err("refused without the ACL");
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
    assert!(
        err.to_string().contains("metadata was not changed"),
        "{err}"
    );
    assert_eq!(anonymous_get(&url).0, 200, "still public after the refusal");
    let head = objects::details(&client, &sb.endpoint.url, &space, "public.txt")
        .await
        .expect("details");
    assert_eq!(head.metadata.cache_control.as_deref(), Some("max-age=60"));
}

// 6. A file that changes while it uploads never deletes the object it would have replaced.
#[tokio::test(flavor = "multi_thread")]
async fn a_changing_file_never_costs_the_version_already_there() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "changing").await;
    let target = Target {
        client: client.clone(),
        endpoint: sb.endpoint.url.clone(),
        space: space.clone(),
        unfinished: None,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log.txt");
    let size = 2 << 20;
    std::fs::write(&path, vec![b'a'; size]).expect("file");
    put(&client, &space, "log.txt", b"version one").await;

    // Another program keeps rewriting the file (same size, new time) while it uploads.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u8;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n = n.wrapping_add(1);
                let _ = std::fs::write(&path, vec![b'b'.wrapping_add(n % 20); size]);
            }
        })
    };
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        let (summary, events) = run_one(&target, &path, "log.txt", size as u64).await;
        let body = fetch(&client, &space, "log.txt")
            .await
            .expect("the object is never deleted");
        if summary.done == 1 {
            // What was sent is one whole version of the file, never a mix.
            assert!(body.iter().all(|b| *b == body[0]), "a mixed object");
        } else {
            assert_eq!(body, b"version one", "{events:?}");
        }
        outcomes.push(summary.done);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().expect("writer");
    eprintln!("changing-file uploads done: {outcomes:?} (1 = uploaded, 0 = refused as changed)");

    // Multipart: the change is caught before CompleteMultipartUpload, and the upload aborted.
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 12 << 20]).expect("big");
    put(&client, &space, "big.bin", b"big version one").await;
    let events = Arc::new(std::sync::Mutex::new(0u32));
    let touched = {
        let (big, events) = (big.clone(), events.clone());
        move |_: transfer::TransferEvent| {
            let mut n = events.lock().expect("events");
            *n += 1;
            if *n == 2 {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&big)
                    .expect("open");
                f.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
                    .expect("touch");
            }
        }
    };
    let summary = transfer::upload_all(
        target.clone(),
        vec![queued(&big, "big.bin", 12 << 20)],
        transfer::FileAcl::Private,
        transfer::Settings {
            multipart_threshold: 5 << 20,
            part_size: 5 << 20,
            requests_in_flight: 1,
        },
        Arc::new(touched),
    )
    .await;
    assert_eq!(summary.failed, 1, "the change is noticed");
    assert_eq!(
        fetch(&client, &space, "big.bin").await.as_deref(),
        Some(&b"big version one"[..])
    );
    let uploads = client
        .list_multipart_uploads()
        .bucket(&space)
        .send()
        .await
        .expect("uploads");
    assert!(uploads.uploads().is_empty(), "aborted");
}

fn queued(path: &Path, key: &str, size: u64) -> transfer::QueuedFile {
    transfer::QueuedFile {
        id: 0,
        file: transfer::PlannedFile {
            path: path.to_path_buf(),
            key: key.into(),
            size,
        },
        cancel: transfer::Cancel::default(),
    }
}

async fn run_one(
    target: &Target,
    path: &Path,
    key: &str,
    size: u64,
) -> (transfer::Summary, Vec<transfer::TransferEvent>) {
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = events.clone();
    let summary = transfer::upload_all(
        target.clone(),
        vec![queued(path, key, size)],
        transfer::FileAcl::Private,
        transfer::Settings::default(),
        Arc::new(move |e| sink.lock().expect("events").push(e)),
    )
    .await;
    let events = events.lock().expect("events").clone();
    (summary, events)
}

// 8. Destroy ends on a versioned Space, enabled or suspended, with versions from before.
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
        let cancel = std::sync::atomic::AtomicBool::new(false);
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
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let err = destroy::destroy(
        &client,
        &sb.endpoint.url,
        &space,
        &space,
        true,
        &cancel,
        |p| {
            if p.deleted > 0 {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
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
