//! Transfers that survive a restart: the app's engine is killed (SIGKILL) half way through an
//! upload or a download, or the app quits during one; the next start lists it, and Resume
//! finishes it byte-identical while sending only what was missing (counted on the wire by a
//! proxy), or Discard leaves no multipart upload and no partial file.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use spacedock::core::services::Services;
use spacedock::core::transfer::resume::{self, Direction, Interrupted};
use spacedock::core::transfer::unfinished::{PartialDownloads, Unfinished, UnfinishedUpload};
use spacedock::core::transfer::upload_batch;
use spacedock::core::transfer::{local, Conflict, FileAcl};
use spacedock_tests::proxy::{counting_proxy, CountingProxy};
use spacedock_tests::{new_space, noise, owner_client, sandbox, SandboxInfo};

use super::faults::{kill, multipart_uploads, victim};
use super::services::connected;

const MIB: u64 = 1 << 20;

/// The app as it starts again: services on the same data folder, connected through `proxy`.
async fn started_again(sb: &SandboxInfo, root: &Path, proxy: &CountingProxy) -> Services {
    connected(sb, root, &proxy.url).await
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what} did not happen in time");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts uploading `file` as `key` in a process of its own, and kills it once the server holds
/// at least `parts` parts. Returns the upload id.
async fn upload_killed(
    sb: &SandboxInfo,
    proxy: &CountingProxy,
    root: &Path,
    space: &str,
    key: &str,
    file: &Path,
    parts: usize,
) -> String {
    let record = root.join("data").join("unfinished-uploads.json");
    let mut child = victim(
        sb,
        &[
            "upload",
            &proxy.url,
            &sb.owner_access_key,
            space,
            key,
            &file.to_string_lossy(),
            &record.to_string_lossy(),
        ],
    );
    let noted = Unfinished::new(&record);
    wait_until("a multipart upload", Duration::from_secs(30), || {
        !noted.list().is_empty()
    });
    let id = noted.list()[0].upload_id.clone();
    let client = owner_client(sb);
    let started = Instant::now();
    loop {
        let listed = client
            .list_parts()
            .bucket(space)
            .key(key)
            .upload_id(&id)
            .send()
            .await
            .expect("list parts");
        if listed.parts().len() >= parts {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no parts came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    kill(&mut child);
    id
}

/// Starts downloading `key` to `dest` in a process of its own, and kills it once `ranges`
/// ranges are noted as on disk.
fn download_killed(
    sb: &SandboxInfo,
    proxy: &CountingProxy,
    root: &Path,
    space: &str,
    key: &str,
    dest: &Path,
    ranges: usize,
) {
    let record = root.join("data").join("partial-downloads.json");
    let mut child = victim(
        sb,
        &[
            "download",
            &proxy.url,
            &sb.owner_access_key,
            space,
            key,
            &dest.to_string_lossy(),
            &record.to_string_lossy(),
        ],
    );
    let noted = PartialDownloads::new(&record);
    wait_until("ranges on disk", Duration::from_secs(60), || {
        noted.list().first().is_some_and(|d| d.done.len() >= ranges)
    });
    kill(&mut child);
}

fn only_one(found: Vec<Interrupted>, direction: Direction) -> Interrupted {
    assert_eq!(found.len(), 1, "{found:?}");
    let one = found.into_iter().next().expect("one");
    assert_eq!(one.direction, direction);
    assert_eq!(one.blocked, None);
    one
}

fn partial_files(folder: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(folder)
        .expect("folder")
        .flatten()
        .filter(|e| local::is_partial(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_killed_half_way_resumes_sending_only_the_missing_parts() {
    let sb = sandbox();
    // Held to 40 MB/s, so the kill lands half way.
    let proxy = counting_proxy(&sb.endpoint.url, Some(40_000_000));
    let space = new_space(&sb, "resume-up").await;
    let root = tempfile::tempdir().expect("tempdir");
    let file = root.path().join("big.bin");
    let size = 200 * MIB;
    std::fs::write(&file, noise(size, 7)).expect("file");
    let id = upload_killed(&sb, &proxy, root.path(), &space, "big.bin", &file, 8).await;

    let s = started_again(&sb, root.path(), &proxy).await;
    let client = owner_client(&sb);
    assert_eq!(
        multipart_uploads(&client, &space).await,
        1,
        "connecting kept it, to resume"
    );
    let found = only_one(
        resume::interrupted(&s).await.expect("list"),
        Direction::Upload,
    );
    assert_eq!(
        (found.id.as_str(), found.key.as_str()),
        (id.as_str(), "big.bin")
    );
    assert_eq!((found.space.as_str(), found.size), (space.as_str(), size));

    let before = proxy.up.load(Ordering::Relaxed);
    let resumed = resume::resume(&s, &id, std::sync::Arc::new(|_| {}))
        .await
        .expect("resume");
    let sent = proxy.up.load(Ordering::Relaxed) - before;
    assert!(resumed.kept >= 8 * 5 * MIB, "{resumed:?}");
    assert_eq!(resumed.kept + resumed.moved, size);
    assert!(
        sent >= resumed.moved && sent < size,
        "{sent} bytes went up to finish a {size}-byte file"
    );
    let stored = client
        .get_object()
        .bucket(&space)
        .key("big.bin")
        .send()
        .await
        .expect("get");
    let stored = stored.body.collect().await.expect("body").into_bytes();
    assert!(
        stored.as_ref() == std::fs::read(&file).expect("file"),
        "resumed upload differs"
    );
    assert_eq!(multipart_uploads(&client, &space).await, 0);
    assert!(s.queue().unfinished().list().is_empty());
    assert!(resume::interrupted(&s).await.expect("list").is_empty());
    eprintln!(
        "resume: upload of {} MiB killed; resumed with {:.1} MiB on the wire ({:.1} MiB kept on the server)",
        size / MIB,
        sent as f64 / MIB as f64,
        resumed.kept as f64 / MIB as f64
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_download_killed_half_way_resumes_fetching_only_the_missing_ranges() {
    let sb = sandbox();
    let proxy = counting_proxy(&sb.endpoint.url, Some(40_000_000));
    let space = new_space(&sb, "resume-down").await;
    let size = 200 * MIB;
    let content = noise(size, 11);
    let client = owner_client(&sb);
    client
        .put_object()
        .bucket(&space)
        .key("movie.bin")
        .body(ByteStream::from(content.clone()))
        .send()
        .await
        .expect("put");
    let root = tempfile::tempdir().expect("tempdir");
    let down = root.path().join("down");
    std::fs::create_dir(&down).expect("down");
    let dest = down.join("movie.bin");
    download_killed(&sb, &proxy, root.path(), &space, "movie.bin", &dest, 3);
    assert!(!dest.exists(), "a partial file under the final name");

    let s = started_again(&sb, root.path(), &proxy).await;
    let found = only_one(
        resume::interrupted(&s).await.expect("list"),
        Direction::Download,
    );
    assert_eq!((found.key.as_str(), found.size), ("movie.bin", size));
    assert_eq!(found.path, dest.to_string_lossy());
    let on_disk = found.done.expect("bytes on disk");
    assert!(on_disk >= 3 * 16 * MIB, "{on_disk}");

    let before = proxy.down.load(Ordering::Relaxed);
    let resumed = resume::resume(&s, &found.id, std::sync::Arc::new(|_| {}))
        .await
        .expect("resume");
    let fetched = proxy.down.load(Ordering::Relaxed) - before;
    assert_eq!(resumed.kept, on_disk);
    assert_eq!(resumed.kept + resumed.moved, size);
    assert!(
        fetched >= resumed.moved && fetched < size,
        "{fetched} bytes came down to finish a {size}-byte file"
    );
    assert!(
        std::fs::read(&dest).expect("file") == content,
        "resumed download differs"
    );
    assert!(partial_files(&down).is_empty());
    assert!(s.queue().partials().list().is_empty());
    eprintln!(
        "resume: download of {} MiB killed; resumed with {:.1} MiB on the wire ({:.1} MiB kept on disk)",
        size / MIB,
        fetched as f64 / MIB as f64,
        resumed.kept as f64 / MIB as f64
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_download_whose_file_was_replaced_since_starts_over() {
    let sb = sandbox();
    // Big beside the ranges in flight, so one range is on disk well before the last: the kill
    // must find the download half done, not finished.
    let proxy = counting_proxy(&sb.endpoint.url, Some(40_000_000));
    let space = new_space(&sb, "resume-replaced").await;
    let client = owner_client(&sb);
    let put = |content: Vec<u8>| {
        client
            .put_object()
            .bucket(&space)
            .key("doc.bin")
            .body(ByteStream::from(content))
            .send()
    };
    put(noise(192 * MIB, 3)).await.expect("put");
    let root = tempfile::tempdir().expect("tempdir");
    let down = root.path().join("down");
    std::fs::create_dir(&down).expect("down");
    let dest = down.join("doc.bin");
    download_killed(&sb, &proxy, root.path(), &space, "doc.bin", &dest, 1);
    let newer = noise(48 * MIB, 5);
    put(newer.clone()).await.expect("replace");

    let s = started_again(&sb, root.path(), &proxy).await;
    let found = only_one(
        resume::interrupted(&s).await.expect("list"),
        Direction::Download,
    );
    let resumed = resume::resume(&s, &found.id, std::sync::Arc::new(|_| {}))
        .await
        .expect("resume");
    assert_eq!((resumed.kept, resumed.moved), (0, 48 * MIB));
    assert!(
        std::fs::read(&dest).expect("file") == newer,
        "not the new version, whole"
    );
    assert!(partial_files(&down).is_empty());
    assert!(s.queue().partials().list().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn discard_leaves_no_multipart_upload_and_no_partial_file() {
    let sb = sandbox();
    let proxy = counting_proxy(&sb.endpoint.url, Some(40_000_000));
    let space = new_space(&sb, "resume-discard").await;
    let client = owner_client(&sb);
    client
        .put_object()
        .bucket(&space)
        .key("movie.bin")
        .body(ByteStream::from(noise(96 * MIB, 13)))
        .send()
        .await
        .expect("put");
    let root = tempfile::tempdir().expect("tempdir");
    let file = root.path().join("big.bin");
    std::fs::write(&file, noise(100 * MIB, 17)).expect("file");
    upload_killed(&sb, &proxy, root.path(), &space, "big.bin", &file, 2).await;
    let down = root.path().join("down");
    std::fs::create_dir(&down).expect("down");
    download_killed(
        &sb,
        &proxy,
        root.path(),
        &space,
        "movie.bin",
        &down.join("movie.bin"),
        1,
    );
    assert_eq!(partial_files(&down).len(), 1);
    // An upload noted by an older version, with no file to resume from, is aborted on connecting.
    let stale = client
        .create_multipart_upload()
        .bucket(&space)
        .key("stale.bin")
        .send()
        .await
        .expect("begin");
    Unfinished::new(root.path().join("data").join("unfinished-uploads.json")).add(
        UnfinishedUpload {
            endpoint: proxy.url.clone(),
            space: space.clone(),
            key: "stale.bin".into(),
            upload_id: stale.upload_id().expect("id").to_string(),
            source: None,
            expect: Default::default(),
        },
    );
    assert_eq!(multipart_uploads(&client, &space).await, 2);

    let s = started_again(&sb, root.path(), &proxy).await;
    assert_eq!(
        multipart_uploads(&client, &space).await,
        1,
        "the stale one was aborted, the resumable one kept"
    );
    let found = resume::interrupted(&s).await.expect("list");
    assert_eq!(found.len(), 2, "{found:?}");
    for one in &found {
        resume::discard(&s, &one.id).await.expect("discard");
    }
    assert_eq!(multipart_uploads(&client, &space).await, 0);
    assert!(partial_files(&down).is_empty());
    assert!(std::fs::read_dir(&down).expect("down").next().is_none());
    assert!(s.queue().unfinished().list().is_empty() && s.queue().partials().list().is_empty());
    assert!(resume::interrupted(&s).await.expect("list").is_empty());
    assert!(
        file.exists(),
        "the local file an upload read is never touched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn quitting_during_an_upload_keeps_it_to_resume() {
    let sb = sandbox();
    let proxy = counting_proxy(&sb.endpoint.url, Some(40_000_000));
    let space = new_space(&sb, "resume-quit").await;
    let root = tempfile::tempdir().expect("tempdir");
    let file = root.path().join("video.bin");
    // Six 32 MiB parts and a 1 MiB last one, all in flight at once through the paced proxy:
    // the small one is stored long before the others, so the quit lands with parts to go.
    let size = 6 * 32 * MIB + MIB;
    std::fs::write(&file, noise(size, 19)).expect("file");
    let s = Arc::new(started_again(&sb, root.path(), &proxy).await);
    let plan = upload_batch::plan(&s, &space, None, "", vec![file.clone()])
        .await
        .expect("plan");
    let running = {
        let s = s.clone();
        tokio::spawn(async move {
            let events = Arc::new(|_| {});
            upload_batch::start(
                &s,
                plan.batch,
                FileAcl::Private,
                Conflict::Overwrite,
                None,
                events,
            )
            .await
        })
    };
    let client = owner_client(&sb);
    let started = Instant::now();
    loop {
        if let Some(u) = s.queue().unfinished().list().first() {
            let asked = client.list_parts().bucket(&space).key("video.bin");
            let listed = asked.upload_id(&u.upload_id).send().await.expect("parts");
            if !listed.parts().is_empty() {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no parts came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // What the app does when it quits.
    let quitting = s.clone();
    tokio::task::spawn_blocking(move || quitting.stop_transfers(Duration::from_secs(5)))
        .await
        .expect("stopped");
    let summary = running.await.expect("joined").expect("ran");
    assert_eq!((summary.done, summary.cancelled), (0, 1));
    assert_eq!(
        multipart_uploads(&client, &space).await,
        1,
        "kept, to resume"
    );
    drop(s);

    let s = started_again(&sb, root.path(), &proxy).await;
    let found = only_one(
        resume::interrupted(&s).await.expect("list"),
        Direction::Upload,
    );
    let resumed = resume::resume(&s, &found.id, std::sync::Arc::new(|_| {}))
        .await
        .expect("resume");
    assert!(resumed.kept > 0, "{resumed:?}");
    let stored = client
        .get_object()
        .bucket(&space)
        .key("video.bin")
        .send()
        .await
        .expect("get");
    let stored = stored.body.collect().await.expect("body").into_bytes();
    assert!(stored.as_ref() == std::fs::read(&file).expect("file"));
    assert_eq!(multipart_uploads(&client, &space).await, 0);
}
