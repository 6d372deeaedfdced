//! Nothing changes behind the user's back: saving metadata keeps exactly who may read a file,
//! and a file that changes while it uploads never replaces the version already there.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::safety::put;
use spacedock::core::error::ErrorKind;
use spacedock::core::objects::{self, Metadata};
use spacedock::core::s3;
use spacedock::core::transfer::{self, Target};
use spacedock::core::urls;
use spacedock_tests::{anonymous_get, fetch, new_space, owner_client, sandbox};

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
    let saved = objects::set_metadata(
        &client,
        &sb.endpoint.url,
        &space,
        "public.txt",
        &metadata,
        None,
    )
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
    let err = objects::set_metadata(
        &limited,
        &sb.endpoint.url,
        &space,
        "public.txt",
        &other,
        None,
    )
    .await
    .expect_err("refused without the ACL");
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
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
        pace: Default::default(),
        link: Default::default(),
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
    let mut there = b"version one".to_vec();
    for _ in 0..5 {
        let (summary, events) = run_one(&target, &path, "log.txt", size as u64).await;
        let body = fetch(&client, &space, "log.txt")
            .await
            .expect("the object is never deleted");
        if summary.done == 1 {
            // What was sent is one whole version of the file, never a mix.
            assert!(body.iter().all(|b| *b == body[0]), "a mixed object");
        } else {
            // Refused as changed: the version there before this attempt is untouched.
            assert!(body == there, "replaced by a refused upload: {events:?}");
        }
        there = body;
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
            parts_in_flight: 1,
            ..Default::default()
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
        expect: Default::default(),
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
