//! Whole batches across a quit: a 2,000-file upload and a 1,000-file move stopped half way are
//! offered at the next start with every file they had not finished, and resumed to exactly the
//! planned end: each file once, where it was planned, with its bytes, nothing left behind. The
//! marks a crash would lose (a file finished, its note not yet on disk) are taken away by hand,
//! and the resume recognises those files as done instead of sending them again or beside.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use futures_util::StreamExt;

use crate::moves::ask;
use crate::services::connected;
use spacedock::core::services::Services;
use spacedock::core::transfer::copy::CopyMode;
use spacedock::core::transfer::resume::{self, Direction, Interrupted};
use spacedock::core::transfer::{copy_batch, upload_batch};
use spacedock::core::transfer::{Conflict, FileAcl, FileState, TransferEvent};
use spacedock_tests::proxy::counting_proxy;
use spacedock_tests::{noise, owner_client, sandbox};

/// Every key below `prefix`, with its ETag (bare).
async fn etags_below(
    client: &aws_sdk_s3::Client,
    space: &str,
    prefix: &str,
) -> BTreeMap<String, String> {
    let mut pages = (client.list_objects_v2())
        .bucket(space)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut found = BTreeMap::new();
    while let Some(page) = pages.next().await {
        for o in page.expect("list").contents() {
            let etag = o.e_tag().unwrap_or_default().trim_matches('"').to_string();
            found.insert(o.key().unwrap_or_default().to_string(), etag);
        }
    }
    found
}

fn md5_hex(bytes: &[u8]) -> String {
    use spacedock::core::transfer::integrity;
    integrity::hex(&integrity::md5_of(bytes))
}

/// Counts files done, as the window would see them.
fn counting(done: &Arc<AtomicUsize>) -> Arc<dyn Fn(TransferEvent) + Send + Sync> {
    let done = done.clone();
    Arc::new(move |e: TransferEvent| {
        if e.state == FileState::Done {
            done.fetch_add(1, Ordering::SeqCst);
        }
    })
}

async fn wait_for(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what} did not happen in time");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Quits as the app does, on a thread that may block.
fn quit(s: &Services) {
    tokio::task::block_in_place(|| s.stop_transfers(Duration::from_secs(30)));
}

/// Takes back the marks of `n` finished files, as a crash right after they finished would.
fn lose_marks(data: &Path, n: usize) -> usize {
    let conn = rusqlite::Connection::open(data.join("transfers.sqlite3")).expect("journal");
    conn.execute(
        "UPDATE files SET state = 'waiting' WHERE rowid IN (SELECT rowid FROM files WHERE state = 'done' LIMIT ?1)",
        [n as i64],
    )
    .or_else(|_| {
        // WITHOUT ROWID: by (batch, id).
        conn.execute(
            "UPDATE files SET state = 'waiting' WHERE (batch, id) IN (SELECT batch, id FROM files WHERE state = 'done' ORDER BY id LIMIT ?1)",
            [n as i64],
        )
    })
    .expect("marks taken back")
}

fn the_batch(found: Vec<Interrupted>, direction: Direction) -> Interrupted {
    let batches: Vec<_> = found.into_iter().filter(|i| i.files.is_some()).collect();
    assert_eq!(batches.len(), 1, "{batches:?}");
    let b = batches.into_iter().next().expect("one");
    assert_eq!(b.direction, direction);
    b
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quit_during_a_2000_file_upload_resumes_to_exactly_the_planned_files() {
    let sb = sandbox();
    // Slow enough that a quit finds it half way.
    let proxy = counting_proxy(&sb.endpoint.url, Some(1_500_000));
    let root = tempfile::tempdir().expect("tempdir");
    let local = root.path().join("photos");
    std::fs::create_dir_all(local.join("2026")).expect("folder");
    let mut planned = BTreeMap::new();
    for i in 0..2000u64 {
        let name = format!("2026/img-{i:04}.jpg");
        let body = noise(4096, i + 1);
        planned.insert(format!("in/photos/{name}"), md5_hex(&body));
        std::fs::write(local.join(&name), body).expect("file");
    }
    let s = Arc::new(connected(&sb, root.path(), &proxy.url).await);
    let space = spacedock_tests::new_space(&sb, "batch-up").await;
    let plan = upload_batch::plan(&s, &space, None, "in/", vec![local.clone()])
        .await
        .expect("plan");
    assert_eq!(plan.files.len(), 2000);
    let done = Arc::new(AtomicUsize::new(0));
    let run = tokio::spawn({
        let (s, events) = (s.clone(), counting(&done));
        async move {
            upload_batch::start(
                &s,
                plan.batch,
                FileAcl::Private,
                Conflict::Overwrite,
                None,
                events,
            )
            .await
        }
    });
    wait_for("half the upload", Duration::from_secs(120), || {
        done.load(Ordering::SeqCst) >= 700
    })
    .await;
    quit(&s);
    let summary = run.await.expect("joined").expect("ran");
    let finished = done.load(Ordering::SeqCst);
    assert!(finished < 2000, "the quit came after the end");
    assert_eq!(summary.done as usize, finished);
    drop(s);

    // Marks a crash would have lost: files on the server that the journal says are waiting.
    let lost = lose_marks(&root.path().join("data"), 50);
    assert_eq!(lost, 50);

    let s = connected(&sb, root.path(), &proxy.url).await;
    let batch = the_batch(
        resume::interrupted(&s).await.expect("list"),
        Direction::Upload,
    );
    assert_eq!(batch.total, Some(2000));
    assert_eq!(batch.files, Some((2000 - finished + lost) as u32));
    let resumed = resume::resume(&s, &batch.id, Arc::new(|_| {}))
        .await
        .expect("resume");
    assert!(resumed.problems.is_empty(), "{:?}", resumed.problems);
    assert_eq!(resumed.files as usize, 2000 - finished + lost);
    // The 50, and any the quit stopped after the server had stored them, were recognised as
    // done, not sent again.
    assert!(resumed.kept >= 50 * 4096, "{}", resumed.kept);

    let client = owner_client(&sb);
    assert_eq!(
        etags_below(&client, &space, "").await,
        planned,
        "exactly the planned files"
    );
    let open = client
        .list_multipart_uploads()
        .bucket(&space)
        .send()
        .await
        .expect("uploads");
    assert!(open.uploads().is_empty());
    assert!(resume::interrupted(&s).await.expect("list").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quit_during_a_1000_file_move_resumes_to_exactly_the_planned_end() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = spacedock_tests::new_space(&sb, "batch-move").await;
    let mut planned = BTreeMap::new();
    let puts = futures_util::stream::iter((0..1000u64).map(|i| {
        let (client, space) = (client.clone(), space.clone());
        async move {
            let body = noise(4096, 7 * i + 3);
            let etag = md5_hex(&body);
            client
                .put_object()
                .bucket(&space)
                .key(format!("src/{:02}/f-{i:04}.bin", i % 10))
                .body(ByteStream::from(body))
                .send()
                .await
                .expect("put");
            (format!("dst/src/{:02}/f-{i:04}.bin", i % 10), etag)
        }
    }))
    .buffer_unordered(32);
    let mut puts = std::pin::pin!(puts);
    while let Some((key, etag)) = puts.next().await {
        planned.insert(key, etag);
    }

    let root = tempfile::tempdir().expect("tempdir");
    // Through a proxy that holds requests back a little, so a quit finds it half way.
    let proxy = counting_proxy(&sb.endpoint.url, Some(400_000));
    let s = Arc::new(connected(&sb, root.path(), &proxy.url).await);
    let plan = copy_batch::plan(&s, ask(&space, &["src/"], &space, "dst/", CopyMode::Move))
        .await
        .expect("plan");
    assert_eq!(plan.files.len(), 1000);
    let done = Arc::new(AtomicUsize::new(0));
    let run = tokio::spawn({
        let (s, events) = (s.clone(), counting(&done));
        async move { copy_batch::start(&s, plan.batch, Conflict::Overwrite, None, events).await }
    });
    wait_for("a third of the move", Duration::from_secs(120), || {
        done.load(Ordering::SeqCst) >= 300
    })
    .await;
    quit(&s);
    let summary = run.await.expect("joined").expect("ran");
    let finished = done.load(Ordering::SeqCst);
    assert!(finished < 1000, "the quit came after the end");
    assert_eq!(summary.done as usize, finished);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    // No file is in two places, even now: each finished file is only under dst/.
    let now = etags_below(&client, &space, "").await;
    assert_eq!(now.len(), 1000);
    drop(s);

    let lost = lose_marks(&root.path().join("data"), 40);
    assert_eq!(lost, 40);

    let s = connected(&sb, root.path(), &proxy.url).await;
    let batch = the_batch(
        resume::interrupted(&s).await.expect("list"),
        Direction::Move,
    );
    assert_eq!(batch.files, Some((1000 - finished + lost) as u32));
    let resumed = resume::resume(&s, &batch.id, Arc::new(|_| {}))
        .await
        .expect("resume");
    assert!(resumed.problems.is_empty(), "{:?}", resumed.problems);
    assert_eq!(resumed.files as usize, 1000 - finished + lost);

    assert_eq!(
        etags_below(&client, &space, "").await,
        planned,
        "every file moved once, to where it was planned, with its bytes; nothing left in src/"
    );
    assert!(resume::interrupted(&s).await.expect("list").is_empty());
}

/// A folder delete a quit stopped half way is offered at the next start with the files it had
/// not deleted, and finished; a file another client changed meanwhile is kept and named, and a
/// file that came since is left alone: a delete acts on the versions it planned, nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn a_quit_during_a_folder_delete_is_finished_at_the_next_start_and_keeps_what_changed() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("tempdir");
    let client = owner_client(&sb);
    let space = crate::upload::new_space(&sb, "del-quit").await.space;
    let keys: Vec<String> = (0..2500).map(|i| format!("f/{i:05}.txt")).collect();
    spacedock_tests::put_many(&client, &space, &keys).await;

    let s = Arc::new(connected(&sb, root.path(), &sb.endpoint.url).await);
    // Once the first thousand are gone: another client changes a file the delete has not
    // reached and adds one, then the app quits.
    let progress = {
        let (s, client, space) = (s.clone(), client.clone(), space.clone());
        move |n: u64| {
            assert_eq!(n, 1000, "the quit comes after the first request");
            let handle = tokio::runtime::Handle::current();
            tokio::task::block_in_place(|| {
                handle.block_on(async {
                    for (key, body) in [("f/02000.txt", "changed"), ("f/02000-new.txt", "new")] {
                        (client.put_object().bucket(&space).key(key))
                            .body(ByteStream::from_static(body.as_bytes()))
                            .send()
                            .await
                            .expect("put");
                    }
                })
            });
            // A delete running now is not an interrupted one.
            let listed = tokio::task::block_in_place(|| handle.block_on(resume::interrupted(&s)));
            let listed = listed.expect("list");
            assert!(listed.is_empty(), "{listed:?}");
            quit(&s);
        }
    };
    let chosen = (&["f/".to_string()][..], &Default::default());
    let done = spacedock::core::files::delete(&s, &space, None, chosen, None, &progress)
        .await
        .expect("a quit is not an error");
    assert!(done.stopped && done.deleted == 1000, "{done:?}");
    drop(progress);
    drop(Arc::into_inner(s).expect("the only one"));

    let s = connected(&sb, root.path(), &sb.endpoint.url).await;
    let batch = the_batch(
        resume::interrupted(&s).await.expect("list"),
        Direction::Delete,
    );
    assert_eq!((batch.files, batch.total), (Some(1500), Some(2500)));
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hear = {
        let heard = heard.clone();
        Arc::new(move |n: u64| heard.lock().expect("heard").push(n))
    };
    let resumed = resume::resume(&s, &batch.id, hear).await.expect("resume");
    assert_eq!(resumed.files, 1499, "{resumed:?}");
    // Its progress counts files: the last it heard is all those deleted.
    assert_eq!(heard.lock().expect("heard").last(), Some(&1499));
    let kept: Vec<&str> = resumed.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(kept, ["f/02000.txt"]);
    let left = etags_below(&client, &space, "f/").await;
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        ["f/02000-new.txt", "f/02000.txt"],
        "only what changed or came since"
    );
    assert_eq!(left["f/02000.txt"], md5_hex(b"changed"));
    assert!(resume::interrupted(&s).await.expect("list").is_empty());
}
