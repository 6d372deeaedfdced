//! The Transfers panel is the queue's own rows: a window loaded again gets every row as the
//! engine has it, and Cancel, Retry and Clear act there with each batch's first choices.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spacedock::core::space::page;
use spacedock::core::space::FileListing;
use spacedock::core::transfer::board::{self, TransferRow};
use spacedock::core::transfer::upload_batch;
use spacedock::core::transfer::{Conflict, FileAcl, FileState};
use spacedock::core::ErrorKind;
use spacedock_tests::{fetch, sandbox, unique};

use crate::services::connected;

/// The rows a window watching since `watch` sees, changes applied as they came.
#[derive(Clone, Default)]
struct Window(Arc<Mutex<BTreeMap<u32, TransferRow>>>);

impl Window {
    fn rows(&self) -> Vec<TransferRow> {
        self.0.lock().expect("rows").values().cloned().collect()
    }

    fn by_key(&self) -> BTreeMap<String, FileState> {
        (self.rows().into_iter())
            .map(|r| (r.key, r.state))
            .collect()
    }
}

async fn settled() {
    // Changes go out at most every 100 ms.
    tokio::time::sleep(Duration::from_millis(400)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_transfers_panel_is_the_queues_rows_and_retry_keeps_the_first_choices() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("root");
    let s = connected(&sb, root.path(), &sb.endpoint.url).await;
    let space = unique("board");
    page::create(&s, &space, "us-east-1", FileListing::Restricted, None)
        .await
        .expect("create");
    let owner = spacedock_tests::owner_client(&sb);

    let window = Window::default();
    let seen = window.0.clone();
    let first = board::watch(
        &s,
        Arc::new(move |c| {
            let mut rows = seen.lock().expect("rows");
            for r in c.rows {
                rows.insert(r.row, r);
            }
            for gone in c.removed {
                rows.remove(&gone);
            }
        }),
    );
    assert!(first.is_empty(), "a new queue has no rows");

    let local = tempfile::tempdir().expect("local");
    let (a, b) = (local.path().join("a.txt"), local.path().join("b.txt"));
    std::fs::write(&a, b"a").expect("a");
    std::fs::write(&b, b"b").expect("b");
    let missing = local.path().join("never-there.txt");
    let plan = upload_batch::plan(&s, &space, None, "in/", vec![a, b.clone(), missing])
        .await
        .expect("plan");
    assert_eq!(plan.problems.len(), 1, "{:?}", plan.problems);
    // Gone before it runs: that file fails, the other goes.
    std::fs::remove_file(&b).expect("remove b");
    let none = Arc::new(|_| {});
    let done = upload_batch::start(&s, plan.batch, FileAcl::Public, Conflict::Skip, None, none)
        .await
        .expect("run");
    assert_eq!((done.done, done.failed), (1, 1));
    settled().await;

    let rows = window.by_key();
    assert_eq!(
        rows.len(),
        3,
        "two files and what can't be uploaded: {rows:?}"
    );
    assert_eq!(rows.get("in/a.txt"), Some(&FileState::Done));
    assert!(
        matches!(rows.get("in/b.txt"), Some(FileState::Failed { .. })),
        "{rows:?}"
    );
    let problem = window.rows().into_iter().find(|r| r.file.is_none());
    assert!(
        problem.is_some_and(|p| p.key.ends_with("never-there.txt")),
        "{:?}",
        window.rows()
    );
    // A window loaded again is handed exactly the rows the first one built from changes.
    assert_eq!(
        board::watch(&s, Arc::new(|_| {})),
        window.rows(),
        "a window loaded again sees the same rows"
    );

    // Watching again with the first window, then Retry: the failed file runs again, public
    // as the first run chose, and its row says so.
    let seen = window.0.clone();
    board::watch(
        &s,
        Arc::new(move |c| {
            let mut rows = seen.lock().expect("rows");
            for r in c.rows {
                rows.insert(r.row, r);
            }
        }),
    );
    std::fs::write(&b, b"b").expect("b again");
    assert_eq!(board::retry(&s, plan.batch).await.expect("retry"), 1);
    settled().await;
    assert_eq!(window.by_key().get("in/b.txt"), Some(&FileState::Done));
    assert_eq!(
        fetch(&owner, &space, "in/b.txt").await.as_deref(),
        Some(&b"b"[..])
    );
    let acl = owner
        .get_object_acl()
        .bucket(&space)
        .key("in/b.txt")
        .send()
        .await
        .expect("acl");
    let public = acl.grants().iter().any(|g| {
        g.grantee()
            .and_then(|w| w.uri())
            .is_some_and(|u| u.ends_with("AllUsers"))
    });
    assert!(public, "the retry kept the first run's permission");
    assert_eq!(board::retry(&s, plan.batch).await.expect("nothing"), 0);

    // Keep both: the row shows the name the file took.
    let plan = upload_batch::plan(&s, &space, None, "in/", vec![local.path().join("a.txt")])
        .await
        .expect("plan");
    let none = Arc::new(|_| {});
    upload_batch::start(
        &s,
        plan.batch,
        FileAcl::Private,
        Conflict::KeepBoth,
        None,
        none,
    )
    .await
    .expect("keep both");
    let rows = board::watch(&s, Arc::new(|_| {}));
    assert!(
        rows.iter().any(|r| r.batch == plan.batch
            && r.key == "in/a (1).txt"
            && r.state == FileState::Done),
        "{rows:?}"
    );

    // Clear: rows of finished files go, and a batch with no row left is forgotten.
    board::clear(&s, None);
    assert!(board::watch(&s, Arc::new(|_| {})).is_empty());
    let none = Arc::new(|_| {});
    let gone = upload_batch::start(&s, plan.batch, FileAcl::Private, Conflict::Skip, None, none)
        .await
        .expect_err("forgotten");
    assert_eq!(gone.kind(), ErrorKind::Gone);
}

/// Retry waits for a batch's run to end: two runs of one batch would each act on its files
/// (a move's file copied twice, a journal entry dropped under a run still going).
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_still_running_is_not_retried() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("root");
    // Slow enough that the batch still runs when its first file has failed.
    let proxy = spacedock_tests::proxy::counting_proxy(&sb.endpoint.url, Some(400_000));
    let s = Arc::new(connected(&sb, root.path(), &proxy.url).await);
    let space = unique("board-busy");
    page::create(&s, &space, "us-east-1", FileListing::Restricted, None)
        .await
        .expect("create");
    let local = tempfile::tempdir().expect("local");
    let (gone, big) = (local.path().join("gone.txt"), local.path().join("big.bin"));
    std::fs::write(&gone, b"g").expect("gone");
    std::fs::write(&big, vec![7u8; 2 << 20]).expect("big");
    let plan = upload_batch::plan(&s, &space, None, "", vec![gone.clone(), big])
        .await
        .expect("plan");
    std::fs::remove_file(&gone).expect("remove");
    let run = tokio::spawn({
        let (s, batch) = (s.clone(), plan.batch);
        let none = Arc::new(|_| {});
        async move { upload_batch::start(&s, batch, FileAcl::Private, Conflict::Skip, None, none).await }
    });
    let failed_while_running = async {
        loop {
            let rows = board::watch(&s, Arc::new(|_| {}));
            if rows.is_empty() {
                // Not begun yet: its rows come with its first run.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            let failed = rows
                .iter()
                .any(|r| matches!(r.state, FileState::Failed { .. }));
            let running = rows
                .iter()
                .any(|r| matches!(r.state, FileState::Running | FileState::Queued));
            if failed && running {
                return;
            }
            assert!(
                running,
                "the batch ended before the test could ask: {rows:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    failed_while_running.await;
    let busy = board::retry(&s, plan.batch)
        .await
        .expect_err("still running");
    assert_eq!(busy.kind(), ErrorKind::InvalidInput, "{busy}");
    let summary = run.await.expect("joined").expect("ran");
    assert_eq!((summary.done, summary.failed), (1, 1));
    // Ended: now it runs again (and the file, still gone, fails again).
    assert_eq!(board::retry(&s, plan.batch).await.expect("retry"), 1);
}

/// A version put back is a job of the queue like any copy: it is on the Transfers panel, and
/// it replaces only what the file held when it was planned.
#[tokio::test(flavor = "multi_thread")]
async fn a_restore_is_a_job_of_the_queue() {
    use spacedock::core::transfer::board::Direction;
    use spacedock::core::versions::{self, Replaced};
    let sb = sandbox();
    let root = tempfile::tempdir().expect("root");
    let s = connected(&sb, root.path(), &sb.endpoint.url).await;
    let space = unique("board-restore");
    page::create(&s, &space, "us-east-1", FileListing::Restricted, None)
        .await
        .expect("create");
    versions::service::set_versioning(&s, &space, None, true)
        .await
        .expect("versioning");
    let owner = spacedock_tests::owner_client(&sb);
    for body in [&b"one"[..], b"two two"] {
        (owner.put_object().bucket(&space).key("notes.txt"))
            .body(aws_sdk_s3::primitives::ByteStream::from_static(body))
            .send()
            .await
            .expect("put");
    }
    let listed = versions::service::file_versions(&s, &space, None, "notes.txt", None)
        .await
        .expect("versions");
    let first = listed
        .iter()
        .find(|v| v.size == 3)
        .expect("the first version");
    let restored =
        versions::service::restore(&s, &space, None, "notes.txt", &first.version_id, None, None)
            .await
            .expect("restored");
    assert_eq!(restored.replaced, Replaced::Kept);
    assert_eq!(
        fetch(&owner, &space, "notes.txt").await.as_deref(),
        Some(&b"one"[..])
    );
    let rows = board::watch(&s, Arc::new(|_| {}));
    assert!(
        rows.iter().any(|r| r.direction == Direction::Restore
            && r.key == "notes.txt"
            && r.state == FileState::Done),
        "{rows:?}"
    );

    // Planned, then the file changes before the copy: the new version is not replaced.
    use spacedock::core::transfer::queue::{Queue, QueueSetup, RestoredVersion};
    let dir = tempfile::tempdir().expect("queue dir");
    let queue = Queue::new(QueueSetup::in_folder(dir.path()));
    let at = spacedock::core::SpaceRef::new(&owner, &sb.endpoint.url, &space);
    let version = RestoredVersion {
        id: first.version_id.clone(),
        etag: first.etag.clone().expect("etag"),
        size: first.size,
    };
    // As the versions are listed now (the restore above made a version of its own).
    let listed_now = versions::file_versions(&owner, &sb.endpoint.url, &space, "notes.txt")
        .await
        .expect("versions");
    let current = listed_now
        .iter()
        .find(|v| v.current)
        .and_then(|v| v.etag.as_deref());
    let planned = queue
        .plan_restore(&at, "tests", "notes.txt", version, current)
        .await
        .expect("planned");
    (owner.put_object().bucket(&space).key("notes.txt"))
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"three"))
        .send()
        .await
        .expect("put");
    let none = Arc::new(|_| {});
    let summary = queue
        .run_copy(planned.batch, Conflict::Overwrite, None, none)
        .await
        .expect("ran");
    assert_eq!(summary.done, 0, "{summary:?}");
    assert!(
        summary
            .problems
            .iter()
            .any(|p| p.message.contains("changed after")),
        "{summary:?}"
    );
    assert_eq!(
        fetch(&owner, &space, "notes.txt").await.as_deref(),
        Some(&b"three"[..]),
        "what came since is kept"
    );
    // A restore that did not happen is not tried again later unasked.
    let again = queue.retry(planned.batch).await.expect_err("forgotten");
    assert_eq!(again.kind(), ErrorKind::Gone, "{again}");

    // Planned from versions listed before the file changed: refused at once.
    let stale = RestoredVersion {
        id: first.version_id.clone(),
        etag: first.etag.clone().expect("etag"),
        size: first.size,
    };
    let listed_then = listed
        .iter()
        .find(|v| v.current)
        .and_then(|v| v.etag.as_deref());
    let refused = queue
        .plan_restore(&at, "tests", "notes.txt", stale.clone(), listed_then)
        .await
        .expect_err("the file changed since its versions were listed");
    assert_eq!(refused.kind(), ErrorKind::FileChanged, "{refused}");

    // Planned, then the file is deleted: it is not brought back.
    let now = versions::file_versions(&owner, &sb.endpoint.url, &space, "notes.txt")
        .await
        .expect("versions");
    let live = now.iter().find(|v| v.current).and_then(|v| v.etag.clone());
    let planned = queue
        .plan_restore(&at, "tests", "notes.txt", stale, live.as_deref())
        .await
        .expect("planned");
    spacedock_tests::delete_keys(&owner, &sb.endpoint.url, &space, &["notes.txt".to_string()])
        .await
        .expect("deleted");
    let none = Arc::new(|_| {});
    let summary = queue
        .run_copy(planned.batch, Conflict::Overwrite, None, none)
        .await
        .expect("ran");
    assert!(
        summary
            .problems
            .iter()
            .any(|p| p.message.contains("was deleted after")),
        "{summary:?}"
    );
    assert_eq!(
        fetch(&owner, &space, "notes.txt").await,
        None,
        "still deleted"
    );
}

/// A restore a quit stopped is never carried out at the next start: it is done if the file
/// already holds the version, and otherwise the user is told to do it again.
#[tokio::test(flavor = "multi_thread")]
async fn a_restore_a_quit_stopped_is_only_looked_at_the_next_start() {
    use spacedock::core::transfer::board::Direction;
    use spacedock::core::transfer::queue::{Queue, QueueSetup, RestoredVersion};
    use spacedock::core::versions;
    let sb = sandbox();
    let owner = spacedock_tests::owner_client(&sb);
    let space = spacedock_tests::new_space(&sb, "restore-quit").await;
    versions::set_versioning(&owner, &sb.endpoint.url, &space, true)
        .await
        .expect("versioning");
    let put = |body: &'static [u8]| {
        (owner.put_object().bucket(&space).key("a.txt"))
            .body(aws_sdk_s3::primitives::ByteStream::from_static(body))
            .send()
    };
    put(b"old").await.expect("put");
    put(b"new!").await.expect("put");
    let at = spacedock::core::SpaceRef::new(&owner, &sb.endpoint.url, &space);
    let data = tempfile::tempdir().expect("data");

    // Three times: the file still holds what it held (the restore would still go through:
    // it is not carried out unasked), it changed meanwhile, and it holds the version already
    // (the copy went, its mark did not).
    for (changed, already_done) in [(false, false), (true, false), (false, true)] {
        let listed = versions::file_versions(&owner, &sb.endpoint.url, &space, "a.txt")
            .await
            .expect("versions");
        let old = listed
            .iter()
            .find(|v| v.size == 3)
            .expect("the old version");
        let current = listed
            .iter()
            .find(|v| v.current)
            .and_then(|v| v.etag.clone());
        let queue = Queue::new(QueueSetup::in_folder(data.path()));
        let version = RestoredVersion {
            id: old.version_id.clone(),
            etag: old.etag.clone().expect("etag"),
            size: old.size,
        };
        let planned = queue
            .plan_restore(&at, "tests", "a.txt", version, current.as_deref())
            .await
            .expect("planned");
        // The app quits as the restore begins: it is journaled, and nothing is copied.
        queue.stop_all(Duration::from_secs(1));
        let none = Arc::new(|_| {});
        let ran = queue
            .run_copy(planned.batch, Conflict::Overwrite, None, none)
            .await
            .expect("ran");
        assert_eq!((ran.done, ran.cancelled), (0, 1), "{ran:?}");
        drop(queue);
        if already_done {
            let source = format!("{space}/a.txt?versionId={}", old.version_id);
            (owner
                .copy_object()
                .bucket(&space)
                .key("a.txt")
                .copy_source(source))
            .send()
            .await
            .expect("copied by hand");
        } else if changed {
            put(b"newer").await.expect("changed meanwhile");
        }
        let before = fetch(&owner, &space, "a.txt").await;

        let queue = Queue::new(QueueSetup::in_folder(data.path()));
        let interrupted = queue.interrupted_batches().expect("listed");
        let batch = (interrupted.iter())
            .find(|b| b.kind == Direction::Restore)
            .unwrap_or_else(|| panic!("the restore is offered: {interrupted:?}"));
        let resumed = queue
            .resume_batch(&batch.id, &at, Arc::new(|_| {}))
            .await
            .expect("resumed");
        assert_eq!(
            fetch(&owner, &space, "a.txt").await,
            before,
            "nothing is copied at the next start"
        );
        match already_done {
            true => assert_eq!(
                (resumed.files, resumed.problems.len()),
                (1, 0),
                "{resumed:?}"
            ),
            false => {
                assert_eq!(resumed.files, 0, "{resumed:?}");
                assert!(
                    resumed
                        .problems
                        .iter()
                        .any(|p| p.message.contains("restore the version again")),
                    "{resumed:?}"
                );
            }
        }
        assert!(queue.interrupted_batches().expect("listed").is_empty());
    }
}
