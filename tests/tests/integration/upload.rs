//! The upload engine against the real RGW: permissions, multipart, cancel, odd names.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use spacedock::core::s3;
use spacedock::core::space::{self, FileListing};
use spacedock::core::transfer::{self, Cancel, FileAcl, FileState, QueuedFile, Settings, Target};
use spacedock::core::urls;
use spacedock_tests::{anonymous_get_bytes, sandbox, unique, SandboxInfo};

/// Parts of 5 MiB (the S3 minimum) so a test file of a few MiB goes multipart.
const SMALL_PARTS: Settings = Settings {
    multipart_threshold: 5 << 20,
    part_size: 5 << 20,
    requests_in_flight: 4,
};

async fn new_space(sb: &SandboxInfo, prefix: &str) -> Target {
    let client = s3::client(&sb.endpoint, &sb.owner_access_key, &sb.owner_secret);
    let name = unique(prefix);
    space::create(&client, &sb.endpoint.url, &name, FileListing::Restricted)
        .await
        .expect("create");
    Target {
        client,
        endpoint: sb.endpoint.url.clone(),
        space: name,
        unfinished: None,
    }
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn url_of(sb: &SandboxInfo, target: &Target, key: &str) -> String {
    let origin = urls::space_urls(
        &spacedock::core::connection::Provider::Sandbox,
        &sb.endpoint,
        &target.space,
        "local",
    )
    .origin;
    urls::file_url(&origin, key)
}

async fn run(
    target: &Target,
    files: Vec<transfer::PlannedFile>,
    acl: FileAcl,
    settings: Settings,
) -> (transfer::Summary, Vec<transfer::TransferEvent>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let queued = files
        .into_iter()
        .enumerate()
        .map(|(i, file)| QueuedFile {
            id: i as u32,
            file,
            cancel: Cancel::default(),
        })
        .collect();
    let summary = transfer::upload_all(
        target.clone(),
        queued,
        acl,
        settings,
        Arc::new(move |e| sink.lock().expect("events").push(e)),
    )
    .await;
    let events = events.lock().expect("events").clone();
    (summary, events)
}

#[tokio::test]
async fn multipart_uploads_keep_their_permission_and_bytes() {
    let sb = sandbox();
    let target = new_space(&sb, "multipart").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let public_bytes = data(12 << 20 | 12345, 1);
    let private_bytes = data(6 << 20, 2);
    std::fs::write(dir.path().join("public.bin"), &public_bytes).expect("write");
    std::fs::write(dir.path().join("private.bin"), &private_bytes).expect("write");

    let plan = transfer::plan(&[dir.path().join("public.bin")], "big/");
    let (summary, events) = run(&target, plan.files, FileAcl::Public, SMALL_PARTS).await;
    assert_eq!(summary.done, 1, "{events:?}");
    let progress: Vec<u64> = events
        .iter()
        .filter(|e| e.state == FileState::Uploading)
        .map(|e| e.bytes)
        .collect();
    assert!(progress.len() >= 3, "progress per part: {progress:?}");
    let (status, body) = anonymous_get_bytes(&url_of(&sb, &target, "big/public.bin"));
    assert_eq!(
        status, 200,
        "Public on a multipart upload: anyone can read it"
    );
    assert!(
        body == public_bytes,
        "the bytes match ({} vs {})",
        body.len(),
        public_bytes.len()
    );
    let head = target
        .client
        .head_object()
        .bucket(&target.space)
        .key("big/public.bin")
        .send()
        .await
        .expect("head");
    assert!(
        head.e_tag().unwrap_or_default().contains('-'),
        "it really went multipart"
    );

    let plan = transfer::plan(&[dir.path().join("private.bin")], "big/");
    let (summary, _) = run(&target, plan.files, FileAcl::Private, SMALL_PARTS).await;
    assert_eq!(summary.done, 1);
    assert_eq!(
        anonymous_get_bytes(&url_of(&sb, &target, "big/private.bin")).0,
        403,
        "Private stays private"
    );
}

#[tokio::test]
async fn folders_empty_files_and_odd_names_round_trip() {
    let sb = sandbox();
    let target = new_space(&sb, "names").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("trip");
    std::fs::create_dir_all(root.join("a b/c+d/ünï")).expect("dirs");
    std::fs::write(root.join("empty.txt"), b"").expect("write");
    std::fs::write(root.join("a b/one two+three.txt"), b"one").expect("write");
    std::fs::write(root.join("a b/c+d/ünï/名前.md"), "名前".as_bytes()).expect("write");
    let plan = transfer::plan(&[root], "");
    assert_eq!(plan.files.len(), 3);
    let (summary, _) = run(&target, plan.files, FileAcl::Public, Settings::default()).await;
    assert_eq!(summary.done, 3);
    for (key, want) in [
        ("trip/empty.txt", &b""[..]),
        ("trip/a b/one two+three.txt", b"one"),
        ("trip/a b/c+d/ünï/名前.md", "名前".as_bytes()),
    ] {
        let got = target
            .client
            .get_object()
            .bucket(&target.space)
            .key(key)
            .send()
            .await
            .expect(key);
        assert_eq!(
            got.body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .as_ref(),
            want,
            "{key}"
        );
        let (status, body) = anonymous_get_bytes(&url_of(&sb, &target, key));
        assert_eq!(
            (status, body.as_slice()),
            (200, want),
            "{key} through its percent-encoded URL"
        );
    }
    let head = target
        .client
        .head_object()
        .bucket(&target.space)
        .key("trip/a b/c+d/ünï/名前.md")
        .send()
        .await
        .expect("head");
    assert_eq!(head.content_type(), Some("text/markdown"));
}

#[tokio::test]
async fn cancelling_a_multipart_upload_leaves_nothing_behind() {
    let sb = sandbox();
    let target = new_space(&sb, "cancel").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.bin");
    let mut f = std::fs::File::create(&path).expect("create");
    for i in 0..48u8 {
        f.write_all(&data(1 << 20, i)).expect("write");
    }
    drop(f);
    let plan = transfer::plan(&[path], "");
    let cancel = Cancel::default();
    let trigger = cancel.file.clone();
    let settings = Settings {
        requests_in_flight: 1,
        ..SMALL_PARTS
    };
    let queued = vec![QueuedFile {
        id: 7,
        file: plan.files[0].clone(),
        cancel,
    }];
    let summary = transfer::upload_all(
        target.clone(),
        queued,
        FileAcl::Private,
        settings,
        Arc::new(move |e| {
            // Cancel as soon as the first part is in.
            if e.bytes > 0 {
                trigger.store(true, Ordering::Relaxed);
            }
        }),
    )
    .await;
    assert_eq!(summary.cancelled, 1, "{summary:?}");
    let uploads = target
        .client
        .list_multipart_uploads()
        .bucket(&target.space)
        .send()
        .await
        .expect("list uploads");
    assert!(
        uploads.uploads().is_empty(),
        "no multipart upload left: {:?}",
        uploads.uploads()
    );
    assert!(
        target
            .client
            .head_object()
            .bucket(&target.space)
            .key("big.bin")
            .send()
            .await
            .is_err(),
        "no object"
    );
}

#[tokio::test]
async fn a_vanished_file_fails_alone() {
    let sb = sandbox();
    let target = new_space(&sb, "vanish").await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("stays.txt"), b"here").expect("write");
    std::fs::write(dir.path().join("goes.txt"), b"gone soon").expect("write");
    let plan = transfer::plan(
        &[dir.path().join("stays.txt"), dir.path().join("goes.txt")],
        "",
    );
    std::fs::remove_file(dir.path().join("goes.txt")).expect("remove");
    let (summary, events) = run(&target, plan.files, FileAcl::Private, Settings::default()).await;
    assert_eq!((summary.done, summary.failed), (1, 1), "{events:?}");
    let failure = events.iter().find_map(|e| match &e.state {
        FileState::Failed { message, .. } => Some(message.clone()),
        _ => None,
    });
    assert!(failure.is_some_and(|m| m.contains("vanished")));
    target
        .client
        .head_object()
        .bucket(&target.space)
        .key("stays.txt")
        .send()
        .await
        .expect("the other file arrived");
    assert!(target
        .client
        .head_object()
        .bucket(&target.space)
        .key("goes.txt")
        .send()
        .await
        .is_err());
}

mod files {
    use super::*;
    use aws_sdk_s3::primitives::ByteStream;
    use spacedock::core::objects::{self, Metadata};
    use spacedock_tests::anonymous_get;

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
            &bad
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
        let n = objects::delete(
            &target.client,
            &target.endpoint,
            &target.space,
            &["old/".to_string()],
        )
        .await
        .expect("delete");
        assert_eq!(n, 3);
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
            &target.client,
            &target.endpoint,
            &target.space,
            "photo ünï+.bin",
            dir.path(),
            &dest,
            &move |b| *s.lock().expect("lock") = b,
        )
        .await
        .expect("download");
        assert_eq!(n, 10);
        assert_eq!(*seen.lock().expect("lock"), 10);
        assert_eq!(std::fs::read(&dest).expect("read"), b"0123456789");
        let missing = dir.path().join("missing.bin");
        assert!(transfer::download::download_file(
            &target.client,
            &target.endpoint,
            &target.space,
            "nope",
            dir.path(),
            &missing,
            &|_| {}
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
}
