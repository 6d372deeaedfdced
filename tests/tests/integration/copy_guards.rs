//! What a copy or move may touch, against the real engine: an original changed after its copy
//! is never removed; a retried Keep both goes on under the name it was given; two files never
//! land on one name; a folder that is there is merged into; a copy into another Space carries
//! no grant that would reach into it; a quit leaves no file in two places.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;

use crate::moves::ask;
use crate::safety::put;
use crate::services::connected;
use spacedock::core::objects;
use spacedock::core::transfer::copy::CopyMode;
use spacedock::core::transfer::copy_batch;
use spacedock::core::transfer::{Conflict, FileState, TransferEvent};
use spacedock_tests::{fetch, new_space, new_user, owner_client, sandbox};

/// Writes `body` at `key` from another client, from inside a transfer's progress callback (which
/// runs on the transfer's own task): on a thread of its own, waited for.
fn write_now(client: &aws_sdk_s3::Client, space: &str, key: &str, body: &[u8]) {
    let (client, space, key, body) = (
        client.clone(),
        space.to_string(),
        key.to_string(),
        body.to_vec(),
    );
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(put(&client, &space, &key, &body));
    })
    .join()
    .expect("written");
}

/// True for the event that says a file's copy is stored (all its bytes, before its original is
/// removed).
fn copied(e: &TransferEvent, id: u32, size: u64) -> bool {
    e.id == id && e.state == FileState::Running && e.bytes == size && size > 0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_move_never_removes_an_original_changed_after_its_copy() {
    // A few originals are each looked at before they go; many are looked at by listing their
    // folder: both doors keep a changed one.
    for others in [1, 119] {
        a_move_keeps_the_original_changed_among(others).await;
    }
}

async fn a_move_keeps_the_original_changed_among(others: usize) {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "move-changed").await;
    put(&client, &space, "in/a.txt", b"first").await;
    for i in 0..others {
        put(&client, &space, &format!("in/b{i:03}.txt"), b"other").await;
    }
    let root = tempfile::tempdir().expect("tempdir");
    let s = connected(&sb, root.path(), &sb.endpoint.url).await;
    let planned = copy_batch::plan(&s, ask(&space, &["in/"], &space, "out/", CopyMode::Move))
        .await
        .expect("plan");
    let a = planned
        .files
        .iter()
        .find(|f| f.key == "in/a.txt")
        .expect("a")
        .id;
    let (other, sp) = (client.clone(), space.clone());
    // Another client writes the original the moment its copy is stored.
    let events = move |e: TransferEvent| {
        if copied(&e, a, 5) {
            write_now(&other, &sp, "in/a.txt", b"changed since");
        }
    };
    let summary = copy_batch::start(
        &s,
        planned.batch,
        Conflict::Overwrite,
        None,
        std::sync::Arc::new(events),
    )
    .await
    .expect("ran");
    assert_eq!(summary.done as usize, others, "{:?}", summary.problems);
    assert!(
        summary
            .problems
            .iter()
            .any(|p| p.path == "in/a.txt" && p.message.contains("changed after it was copied")),
        "{:?}",
        summary.problems
    );
    assert_eq!(
        fetch(&client, &space, "in/a.txt").await.as_deref(),
        Some(&b"changed since"[..])
    );
    assert_eq!(
        fetch(&client, &space, "out/in/a.txt").await.as_deref(),
        Some(&b"first"[..])
    );
    for i in [0, others - 1] {
        let key = format!("in/b{i:03}.txt");
        assert_eq!(fetch(&client, &space, &key).await, None, "{key} was moved");
        assert_eq!(
            fetch(&client, &space, &format!("out/{key}"))
                .await
                .as_deref(),
            Some(&b"other"[..])
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_keep_both_move_goes_on_under_the_name_it_was_given() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "keep-both-retry").await;
    put(&client, &space, "x/a.txt", b"v1").await;
    put(&client, &space, "y/a.txt", b"taken").await;
    let root = tempfile::tempdir().expect("tempdir");
    let s = connected(&sb, root.path(), &sb.endpoint.url).await;
    let planned = copy_batch::plan(&s, ask(&space, &["x/a.txt"], &space, "y/", CopyMode::Move))
        .await
        .expect("plan");
    assert_eq!(planned.existing_count, 1);
    let id = planned.files[0].id;
    let (other, sp) = (client.clone(), space.clone());
    // The original changes once copied, so it stays: the move is left half done.
    let events = move |e: TransferEvent| {
        if copied(&e, id, 2) {
            write_now(&other, &sp, "x/a.txt", b"v2");
        }
    };
    let first = copy_batch::start(
        &s,
        planned.batch,
        Conflict::KeepBoth,
        None,
        std::sync::Arc::new(events),
    )
    .await
    .expect("ran");
    assert_eq!(first.done, 0, "{first:?}");
    assert_eq!(
        fetch(&client, &space, "y/a (1).txt").await.as_deref(),
        Some(&b"v1"[..])
    );
    // The original is as it was copied again; the retry only removes it.
    put(&client, &space, "x/a.txt", b"v1").await;
    let retry = copy_batch::start(
        &s,
        planned.batch,
        Conflict::KeepBoth,
        Some(vec![id]),
        std::sync::Arc::new(|_| {}),
    )
    .await
    .expect("retried");
    assert_eq!(retry.done, 1, "{:?}", retry.problems);
    assert_eq!(fetch(&client, &space, "x/a.txt").await, None, "moved");
    assert_eq!(
        fetch(&client, &space, "y/a (2).txt").await,
        None,
        "no second copy"
    );
    assert_eq!(
        fetch(&client, &space, "y/a (1).txt").await.as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(
        fetch(&client, &space, "y/a.txt").await.as_deref(),
        Some(&b"taken"[..])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_files_never_land_on_one_name_and_a_folder_there_is_merged_into() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "one-name").await;
    put(&client, &space, "a/f.txt", b"from a").await;
    put(&client, &space, "b/f.txt", b"from b").await;
    let root = tempfile::tempdir().expect("tempdir");
    let s = connected(&sb, root.path(), &sb.endpoint.url).await;
    let planned = copy_batch::plan(
        &s,
        ask(
            &space,
            &["a/f.txt", "b/f.txt"],
            &space,
            "c/",
            CopyMode::Move,
        ),
    )
    .await
    .expect("plan");
    assert_eq!(planned.files.len(), 1, "{:?}", planned.files);
    assert!(
        planned
            .problems
            .iter()
            .any(|p| p.path == "b/f.txt" && p.message.contains("same new name")),
        "{:?}",
        planned.problems
    );
    copy_batch::start(
        &s,
        planned.batch,
        Conflict::Overwrite,
        None,
        std::sync::Arc::new(|_| {}),
    )
    .await
    .expect("ran");
    assert_eq!(
        fetch(&client, &space, "c/f.txt").await.as_deref(),
        Some(&b"from a"[..])
    );
    assert_eq!(
        fetch(&client, &space, "b/f.txt").await.as_deref(),
        Some(&b"from b"[..]),
        "kept"
    );

    // A folder (with its marker) copied onto one that is there: Keep both renames its files,
    // never the folder's marker.
    for key in ["photos/", "backup/photos/"] {
        put(&client, &space, key, b"").await;
    }
    put(&client, &space, "photos/x.jpg", b"new").await;
    put(&client, &space, "backup/photos/x.jpg", b"old").await;
    let planned = copy_batch::plan(
        &s,
        ask(&space, &["photos/"], &space, "backup/", CopyMode::Copy),
    )
    .await
    .expect("plan");
    let summary = copy_batch::start(
        &s,
        planned.batch,
        Conflict::KeepBoth,
        None,
        std::sync::Arc::new(|_| {}),
    )
    .await
    .expect("ran");
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let listed = client
        .list_objects_v2()
        .bucket(&space)
        .prefix("backup/")
        .send()
        .await;
    let mut keys: Vec<String> = listed
        .expect("list")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "backup/photos/",
            "backup/photos/x (1).jpg",
            "backup/photos/x.jpg"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_into_another_space_carries_no_grant_that_reaches_into_it() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let (from, to) = (
        new_space(&sb, "grants-from").await,
        new_space(&sb, "grants-to").await,
    );
    let stranger = new_user("grantee");
    let owner = client.list_buckets().send().await.expect("owner");
    let owner = owner
        .owner()
        .and_then(|o| o.id())
        .expect("owner id")
        .to_string();
    (client.put_object())
        .bucket(&from)
        .key("report.pdf")
        .body(ByteStream::from_static(b"report"))
        .grant_full_control(format!("id=\"{owner}\""))
        .grant_read(format!(
            "id=\"{}\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
            stranger.uid
        ))
        .send()
        .await
        .expect("put with grants");
    let root = tempfile::tempdir().expect("tempdir");
    let s = connected(&sb, root.path(), &sb.endpoint.url).await;
    let planned = copy_batch::plan(&s, ask(&from, &["report.pdf"], &to, "", CopyMode::Copy))
        .await
        .expect("plan");
    let summary = copy_batch::start(
        &s,
        planned.batch,
        Conflict::Overwrite,
        None,
        std::sync::Arc::new(|_| {}),
    )
    .await
    .expect("ran");
    assert_eq!(summary.done, 1, "{:?}", summary.problems);
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.message.contains(&stranger.uid)),
        "the grant left behind is said: {:?}",
        summary.notes
    );
    let url = sb.endpoint.url.as_str();
    let acl = objects::acl_of(&client, url, &to, "report.pdf", None, "")
        .await
        .expect("acl");
    let names: Vec<String> = acl
        .grants
        .iter()
        .map(|g| format!("{:?}", g.grantee))
        .collect();
    assert!(
        !names.iter().any(|n| n.contains(&stranger.uid)),
        "no grant to the first Space's user: {names:?}"
    );
    assert_eq!(
        objects::acl(&client, url, &to, "report.pdf")
            .await
            .expect("acl"),
        spacedock::core::transfer::FileAcl::Public,
        "still public"
    );
    // Within one Space the exact grants go with it.
    let planned = copy_batch::plan(
        &s,
        ask(&from, &["report.pdf"], &from, "copy/", CopyMode::Copy),
    )
    .await
    .expect("plan");
    copy_batch::start(
        &s,
        planned.batch,
        Conflict::Overwrite,
        None,
        std::sync::Arc::new(|_| {}),
    )
    .await
    .expect("ran");
    let same = objects::grants(&client, url, &from, "copy/report.pdf")
        .await
        .expect("grants");
    assert_eq!(
        same,
        objects::grants(&client, url, &from, "report.pdf")
            .await
            .expect("grants")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quit_during_a_move_leaves_no_file_in_two_places() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "move-quit").await;
    let count = 300;
    let putting = (0..count).map(|i| {
        let (client, space) = (client.clone(), space.clone());
        async move { put(&client, &space, &format!("in/{i:03}.txt"), b"x").await }
    });
    futures_util::future::join_all(putting).await;
    let root = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(connected(&sb, root.path(), &sb.endpoint.url).await);
    let planned = copy_batch::plan(&s, ask(&space, &["in/"], &space, "out/", CopyMode::Move))
        .await
        .expect("plan");
    let done = Arc::new(Mutex::new(0));
    let (seen, quitting) = (done.clone(), s.clone());
    let events = move |e: TransferEvent| {
        if copied(&e, e.id, 1) {
            let mut n = seen.lock().expect("count");
            *n += 1;
            // The app quits once a few files are copied (their originals still there).
            if *n == 10 {
                let q = quitting.clone();
                std::thread::spawn(move || q.stop_transfers(Duration::from_secs(20)));
            }
        }
    };
    let summary = copy_batch::start(
        &s,
        planned.batch,
        Conflict::Overwrite,
        None,
        std::sync::Arc::new(events),
    )
    .await
    .expect("ran");
    assert!(
        summary.cancelled > 0,
        "the quit stopped it half way: {summary:?}"
    );
    let listed = |prefix: &'static str| {
        let (client, space) = (client.clone(), space.clone());
        async move {
            let out = client
                .list_objects_v2()
                .bucket(&space)
                .prefix(prefix)
                .send()
                .await;
            out.expect("list")
                .contents()
                .iter()
                .filter_map(|o| o.key().map(|k| k[prefix.len()..].to_string()))
                .collect::<std::collections::HashSet<_>>()
        }
    };
    let (left, moved) = (listed("in/").await, listed("out/in/").await);
    let both: Vec<_> = left.intersection(&moved).collect();
    assert!(both.is_empty(), "in two places: {both:?}");
    assert_eq!(left.len() + moved.len(), count, "none lost");
}

// A big file copied in parts takes a while: a file that reaches its new name meanwhile is never
// replaced when the parts are put together.
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_in_parts_never_replaces_what_reached_its_name_meanwhile() {
    use spacedock::core::transfer::copy::{self, Between, CopySettings};
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = new_space(&sb, "parts-taken").await;
    let big = spacedock_tests::noise(12 << 20, 3);
    put(&client, &space, "big.bin", &big).await;
    let b = Between::new(&client, url, &space, &space);
    let settings = CopySettings {
        files_at_once: 1,
        single_limit: 8 << 20,
        part_size: 5 << 20,
        ..CopySettings::default()
    };
    let keys = ["big.bin".to_string()];
    let plan = copy::plan(&b, &keys, "copies/", None, CopyMode::Copy)
        .await
        .expect("plan");
    let (other, sp) = (client.clone(), space.clone());
    let once = std::sync::atomic::AtomicBool::new(false);
    // Someone uploads to the new name while the parts are being copied.
    let events = move |e: TransferEvent| {
        let part_done = e.state == FileState::Running && e.bytes > 0 && e.bytes < 12 << 20;
        if part_done && !once.swap(true, std::sync::atomic::Ordering::SeqCst) {
            write_now(&other, &sp, "copies/big.bin", b"someone else's");
        }
    };
    let summary = copy::run(
        &b,
        plan,
        CopyMode::Copy,
        (Conflict::Overwrite, &Default::default()),
        &Default::default(),
        settings,
        &|_, _| {},
        &events,
    )
    .await;
    assert_eq!(summary.done, 0, "{summary:?}");
    assert!(
        summary.problems[0].message.contains("came there"),
        "{:?}",
        summary.problems
    );
    assert_eq!(
        fetch(&client, &space, "copies/big.bin").await.as_deref(),
        Some(&b"someone else's"[..])
    );
    let uploads = client.list_multipart_uploads().bucket(&space).send().await;
    assert!(
        uploads.expect("uploads").uploads().is_empty(),
        "no parts left"
    );
}

// A retried move removes the original only if its copy is still the one made: a copy changed or
// removed meanwhile leaves the original where it is.
#[tokio::test(flavor = "multi_thread")]
async fn a_retried_move_keeps_the_original_when_its_copy_changed() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "retry-copy-gone").await;
    put(&client, &space, "x/a.txt", b"v1").await;
    let root = tempfile::tempdir().expect("tempdir");
    let s = connected(&sb, root.path(), &sb.endpoint.url).await;
    let planned = copy_batch::plan(&s, ask(&space, &["x/a.txt"], &space, "y/", CopyMode::Move))
        .await
        .expect("plan");
    let id = planned.files[0].id;
    let (other, sp) = (client.clone(), space.clone());
    let events = move |e: TransferEvent| {
        if copied(&e, id, 2) {
            write_now(&other, &sp, "x/a.txt", b"v2");
        }
    };
    let first = copy_batch::start(
        &s,
        planned.batch,
        Conflict::Overwrite,
        None,
        std::sync::Arc::new(events),
    )
    .await
    .expect("ran");
    assert_eq!(first.done, 0);
    // The original back as it was copied; the copy, meanwhile, replaced by someone.
    put(&client, &space, "x/a.txt", b"v1").await;
    put(&client, &space, "y/a.txt", b"theirs").await;
    let retry = copy_batch::start(
        &s,
        planned.batch,
        Conflict::Overwrite,
        Some(vec![id]),
        std::sync::Arc::new(|_| {}),
    )
    .await
    .expect("retried");
    assert_eq!(retry.done, 0, "{retry:?}");
    assert!(
        retry.problems[0].message.contains("no longer the one made"),
        "{:?}",
        retry.problems
    );
    assert_eq!(
        fetch(&client, &space, "x/a.txt").await.as_deref(),
        Some(&b"v1"[..]),
        "kept"
    );
}
