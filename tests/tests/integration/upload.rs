//! The upload engine against the real RGW: permissions, multipart, cancel, odd names.

use std::io::Write;
use std::sync::{Arc, Mutex};

use spacedock::core::s3;
use spacedock::core::space::{self, FileListing};
use spacedock::core::transfer::{self, Cancel, FileAcl, FileState, QueuedFile, Settings, Target};
use spacedock::core::urls;
use spacedock::core::ErrorKind;
use spacedock_tests::{anonymous_get_bytes, sandbox, unique, SandboxInfo};

/// Parts of 5 MiB (the S3 minimum) so a test file of a few MiB goes multipart.
pub(crate) const SMALL_PARTS: Settings = Settings {
    multipart_threshold: 5 << 20,
    part_size: 5 << 20,
    requests_in_flight: 4,
    parts_in_flight: 4,
    files_at_once: 4,
    memory: 64 << 20,
};

pub(crate) async fn new_space(sb: &SandboxInfo, prefix: &str) -> Target {
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
        pace: Default::default(),
        link: Default::default(),
    }
}

pub(crate) fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

pub(crate) fn url_of(sb: &SandboxInfo, target: &Target, key: &str) -> String {
    let origin = urls::space_urls(
        &spacedock::core::connection::Provider::Sandbox,
        &sb.endpoint,
        &target.space,
        "local",
    )
    .origin;
    urls::file_url(&origin, key)
}

pub(crate) async fn run(
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
            expect: Default::default(),
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
        .filter(|e| e.state == FileState::Running)
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
    let trigger = cancel.token();
    let settings = Settings {
        requests_in_flight: 1,
        parts_in_flight: 1,
        ..SMALL_PARTS
    };
    let queued = vec![QueuedFile {
        id: 7,
        file: plan.files[0].clone(),
        cancel,
        expect: Default::default(),
    }];
    let summary = transfer::upload_all(
        target.clone(),
        queued,
        FileAcl::Private,
        settings,
        Arc::new(move |e| {
            // Cancel as soon as the first part is in.
            if e.bytes > 0 {
                trigger.cancel();
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
        FileState::Failed { kind, .. } => Some(*kind),
        _ => None,
    });
    assert_eq!(failure, Some(ErrorKind::FileChanged));
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

#[tokio::test]
async fn small_files_held_in_memory_stay_within_the_budget() {
    let sb = sandbox();
    let target = new_space(&sb, "budget").await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Twenty files of 1 MiB and one of 3 MiB, bigger than the whole budget on its own.
    let mut paths = Vec::new();
    for i in 0..20u8 {
        let path = dir.path().join(format!("f{i:02}.bin"));
        std::fs::write(&path, data(1 << 20, i)).expect("write");
        paths.push(path);
    }
    let big = dir.path().join("big.bin");
    std::fs::write(&big, data(3 << 20, 99)).expect("write");
    paths.push(big);
    let plan = transfer::plan(&paths, "");
    let settings = Settings {
        requests_in_flight: 64,
        memory: 2 << 20,
        ..Settings::default()
    };
    let (summary, events) = run(&target, plan.files, FileAcl::Private, settings).await;
    assert_eq!(
        (summary.done, summary.failed),
        (21, 0),
        "nothing waits forever"
    );
    // Files read whole at once, from the page's events: a file starts, then ends Done.
    let (mut now, mut most) = (0i32, 0i32);
    let mut started = std::collections::HashSet::new();
    for e in &events {
        match e.state {
            FileState::Running if started.insert(e.id) => now += 1,
            FileState::Done => now -= 1,
            _ => {}
        }
        most = most.max(now);
    }
    assert!(
        most <= 2,
        "{most} files of 1 MiB held at once with a 2 MiB budget"
    );
    assert!(most >= 1);
}
