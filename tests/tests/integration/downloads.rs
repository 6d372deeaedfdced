//! Downloads at speed: a big file comes as parallel ranges written side by side into one file,
//! many small files come several at once, and every byte is the object's.

use std::sync::{Arc, Mutex};

use aws_sdk_s3::primitives::ByteStream;
use spacedock::core::transfer::download;
use spacedock::core::transfer::{Conflict, FileState, Target, TransferEvent};
use spacedock_tests::{new_space, owner_client, sandbox};

fn data(len: usize, seed: u32) -> Vec<u8> {
    // Not one repeated byte: a part written at the wrong offset would show.
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn big_and_many_files_arrive_byte_for_byte() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "downloads").await;
    // 40 MiB: three ranges (16 + 16 + 8 MiB), the last one short.
    let big = data(40 << 20, 7);
    let put = |key: String, body: Vec<u8>| {
        client
            .put_object()
            .bucket(&space)
            .key(key)
            .body(ByteStream::from(body))
            .send()
    };
    put("big.bin".into(), big.clone()).await.expect("put big");
    put("empty.txt".into(), Vec::new())
        .await
        .expect("put empty");
    for i in 0..30u32 {
        put(format!("many/{i:02}.txt"), data(1000 + i as usize, i))
            .await
            .expect("put small");
    }

    let dest = tempfile::tempdir().expect("dest");
    let keys = ["big.bin".to_string(), "empty.txt".into(), "many/".into()];
    let plan = download::plan(&client, &sb.endpoint.url, &space, &keys, dest.path())
        .await
        .expect("plan");
    assert_eq!(plan.files.len(), 32);
    let big_id = plan
        .files
        .iter()
        .find(|f| f.key == "big.bin")
        .expect("big")
        .id;
    let seen: Arc<Mutex<Vec<TransferEvent>>> = Arc::default();
    let record = {
        let seen = seen.clone();
        move |e: TransferEvent| seen.lock().expect("progress").push(e)
    };
    let summary = download::run(
        &Target::plain(&client, &sb.endpoint.url, &space),
        dest.path(),
        plan,
        Conflict::Overwrite,
        &record,
        Default::default(),
    )
    .await;
    assert_eq!(
        (summary.done, summary.problems.len()),
        (32, 0),
        "{:?}",
        summary.problems
    );

    let got = std::fs::read(dest.path().join("big.bin")).expect("big");
    assert!(
        got == big,
        "the big file differs ({} of {} bytes)",
        got.len(),
        big.len()
    );
    assert_eq!(
        std::fs::read(dest.path().join("empty.txt"))
            .expect("empty")
            .len(),
        0
    );
    for i in 0..30u32 {
        let path = dest.path().join("many").join(format!("{i:02}.txt"));
        assert_eq!(
            std::fs::read(&path).expect("small"),
            data(1000 + i as usize, i)
        );
    }
    let seen = seen.lock().expect("progress");
    let most = seen
        .iter()
        .filter(|e| e.id == big_id && e.state == FileState::Running)
        .map(|e| e.bytes)
        .max();
    assert_eq!(most, Some(40 << 20), "progress reaches the whole size");
    let done: std::collections::HashSet<u32> = seen
        .iter()
        .filter(|e| e.state == FileState::Done)
        .map(|e| e.id)
        .collect();
    assert_eq!(done.len(), 32, "each file is told done");
    // No temporary file is left beside the files.
    let names = walk(dest.path());
    assert_eq!(names.len(), 32, "{names:?}");
    assert!(
        names.iter().all(|n| !n.ends_with(".spacedock-part")),
        "{names:?}"
    );
}

fn walk(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).expect("dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.path().is_dir() {
            out.extend(walk(&entry.path()));
        } else {
            out.push(name);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_replaced_while_it_downloads_is_never_a_mix() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "replaced").await;
    // Thirteen ranges of 16 MiB, eight in flight: the last five are asked for only after the
    // object was replaced.
    let old = data(208 << 20, 3);
    let put = |body: Vec<u8>| {
        client
            .put_object()
            .bucket(&space)
            .key("moving.bin")
            .body(ByteStream::from(body))
            .send()
    };
    put(old.clone()).await.expect("put");
    let dest = tempfile::tempdir().expect("dest");
    let path = dest.path().join("moving.bin");
    // The first bytes to arrive replace the object on the server.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = Mutex::new(Some(tx));
    let replace = tokio::spawn({
        let client = client.clone();
        let space = space.clone();
        async move {
            rx.await.expect("first bytes");
            client
                .put_object()
                .bucket(&space)
                .key("moving.bin")
                .body(ByteStream::from_static(b"version two"))
                .send()
                .await
                .expect("replace");
        }
    });
    let progress = move |_| {
        if let Some(tx) = tx.lock().expect("tx").take() {
            let _ = tx.send(());
        }
    };
    let result = download::download_file(
        &Target::plain(&client, &sb.endpoint.url, &space),
        "moving.bin",
        (dest.path(), &path),
        &progress,
        None,
        None,
    )
    .await;
    replace.await.expect("replaced");
    match result {
        // Every range was answered before the replacement: the old version, whole.
        Ok(n) => {
            assert_eq!(n, old.len() as u64);
            assert!(std::fs::read(&path).expect("file") == old, "a mixed file");
            eprintln!("replaced after every range was answered: the old version arrived whole");
        }
        Err(e) => {
            assert_eq!(e.kind(), spacedock::core::ErrorKind::FileChanged, "{e}");
            assert!(walk(dest.path()).is_empty(), "nothing is kept");
            eprintln!("replaced mid-download: refused, nothing kept");
        }
    }
}

/// The download queue as the window drives it: a file cancelled mid-way leaves no partial file;
/// its retry keeps the batch's first choice (Keep both), and a finished batch is freed.
#[tokio::test(flavor = "multi_thread")]
async fn the_queue_cancels_one_file_and_retries_it_with_the_first_choice() {
    use spacedock::core::settings::TransferLimits;
    use spacedock::core::transfer::{download_batch, limits, local};
    use spacedock::core::ErrorKind;

    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "down-queue").await;
    let big = data(64 << 20, 3);
    let put = |key: &str, body: Vec<u8>| {
        client
            .put_object()
            .bucket(&space)
            .key(key)
            .body(ByteStream::from(body))
            .send()
    };
    put("set/big.bin", big.clone()).await.expect("put big");
    for i in 0..4u32 {
        put(&format!("set/s{i}.txt"), data(2000, i))
            .await
            .expect("put small");
    }
    let root = tempfile::tempdir().expect("tempdir");
    let s = super::services::connected(&sb, root.path(), &sb.endpoint.url).await;
    // Slow enough to cancel the big file half way.
    let slow = TransferLimits {
        download_limit: Some(20_000_000),
        ..Default::default()
    };
    limits::set(&s, slow).expect("limit");
    let dest = root.path().join("down");
    std::fs::create_dir_all(dest.join("set")).expect("dest");
    std::fs::write(dest.join("set/big.bin"), b"mine").expect("mine");

    let planned = download_batch::plan(&s, &space, None, &["set/".to_string()], dest.clone())
        .await
        .expect("plan");
    assert_eq!(planned.existing_count, 1);
    let big_id = planned
        .files
        .iter()
        .find(|f| f.key == "set/big.bin")
        .expect("big")
        .id;
    let seen: Arc<Mutex<Vec<TransferEvent>>> = Arc::default();
    let events = {
        let seen = seen.clone();
        move |e: TransferEvent| seen.lock().expect("events").push(e)
    };
    let s = Arc::new(s);
    let running = {
        let s = s.clone();
        let batch = planned.batch;
        tokio::spawn(async move {
            download_batch::start(
                &s,
                batch,
                Conflict::KeepBoth,
                None,
                std::sync::Arc::new(events),
            )
            .await
        })
    };
    let started = std::time::Instant::now();
    loop {
        let halfway = seen
            .lock()
            .expect("events")
            .iter()
            .any(|e| e.id == big_id && e.state == FileState::Running && e.bytes > 8 << 20);
        if halfway {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "the big file never got going"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    download_batch::cancel(&s, planned.batch, Some(big_id));
    let summary = running.await.expect("joined").expect("ran");
    assert_eq!((summary.done, summary.cancelled), (4, 1), "{summary:?}");
    let last = seen
        .lock()
        .expect("events")
        .iter()
        .rev()
        .find(|e| e.id == big_id)
        .cloned();
    assert_eq!(last.map(|e| e.state), Some(FileState::Cancelled));
    let leftovers: Vec<String> = walk(&dest)
        .into_iter()
        .filter(|n| local::is_partial(n.rsplit('/').next().unwrap_or(n)))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(
        s.queue().partials().list().is_empty(),
        "a cancelled download is not kept to resume"
    );

    // Retried (the page asks with Overwrite, as a new batch would): Keep both still holds.
    limits::set(&s, TransferLimits::default()).expect("no limit");
    let retried = download_batch::start(
        &s,
        planned.batch,
        Conflict::Overwrite,
        Some(vec![big_id]),
        std::sync::Arc::new(|_| {}),
    )
    .await
    .expect("retry");
    assert_eq!((retried.done, retried.cancelled), (1, 0));
    assert_eq!(
        std::fs::read(dest.join("set/big.bin")).expect("mine"),
        b"mine"
    );
    assert!(std::fs::read(dest.join("set/big (1).bin")).expect("kept both") == big);
    let gone = download_batch::start(
        &s,
        planned.batch,
        Conflict::Overwrite,
        None,
        std::sync::Arc::new(|_| {}),
    )
    .await;
    assert_eq!(gone.expect_err("freed").kind(), ErrorKind::Gone);
}

/// The files below `dir` with their bytes, by path relative to it.
fn files_in(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut found = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(at) = todo.pop() {
        for entry in std::fs::read_dir(&at).expect("dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .expect("below")
                    .to_string_lossy()
                    .to_string();
                found.insert(name, std::fs::read(&path).expect("read"));
            }
        }
    }
    found
}

// Names that differ in case (or Unicode form) are one file on many disks (FAT and exFAT
// sticks, SMB, macOS): two files of one download, or of two at once, never land on one path.
#[tokio::test(flavor = "multi_thread")]
async fn no_two_files_of_running_downloads_land_on_one_path() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "fold").await;
    for (key, body) in [
        ("pics/Photo.JPG", &b"upper"[..]),
        ("pics/photo.jpg", b"lower"),
        ("pics/cafe\u{301}.txt", b"decomposed"),
        ("pics/caf\u{e9}.txt", b"composed"),
    ] {
        (client.put_object())
            .bucket(&space)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .expect("put");
    }
    let root = tempfile::tempdir().expect("tempdir");
    let s = crate::services::connected(&sb, root.path(), &sb.endpoint.url).await;
    let dest = tempfile::tempdir().expect("dest");
    let keys = ["pics/".to_string()];
    use spacedock::core::transfer::download_batch;
    let one = download_batch::plan(&s, &space, None, &keys, dest.path().to_path_buf())
        .await
        .expect("plan");
    let got = download_batch::start(
        &s,
        one.batch,
        Conflict::KeepBoth,
        None,
        std::sync::Arc::new(|_| {}),
    )
    .await
    .expect("ran");
    assert_eq!(got.done, 4, "{:?}", got.problems);
    assert_eq!(got.notes.len(), 2, "two saved beside: {:?}", got.notes);
    let on_disk = files_in(dest.path());
    let mut bodies: Vec<&[u8]> = on_disk.values().map(Vec::as_slice).collect();
    bodies.sort();
    assert_eq!(
        bodies,
        [&b"composed"[..], b"decomposed", b"lower", b"upper"],
        "{on_disk:?}"
    );

    // The same folder twice at once into one folder, with Keep both: every file of both kept.
    let twice = tempfile::tempdir().expect("dest");
    let plans = [
        download_batch::plan(&s, &space, None, &keys, twice.path().to_path_buf()).await,
        download_batch::plan(&s, &space, None, &keys, twice.path().to_path_buf()).await,
    ];
    let [a, b] = plans.map(|p| p.expect("plan").batch);
    let (ra, rb) = tokio::join!(
        download_batch::start(&s, a, Conflict::KeepBoth, None, std::sync::Arc::new(|_| {})),
        download_batch::start(&s, b, Conflict::KeepBoth, None, std::sync::Arc::new(|_| {})),
    );
    assert_eq!((ra.expect("a").done, rb.expect("b").done), (4, 4));
    let on_disk = files_in(twice.path());
    assert_eq!(on_disk.len(), 8, "{:?}", on_disk.keys());
    let mut bodies: Vec<&[u8]> = on_disk.values().map(Vec::as_slice).collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 4);
}

// A crash (or a kill) mid-download leaves hidden partial files: the next start removes them,
// but not one a noted big download can still resume, nor any file of the user's.
#[tokio::test(flavor = "multi_thread")]
async fn partial_files_a_crash_left_are_removed_at_the_next_start() {
    use spacedock::core::transfer::local::partial_path;
    use spacedock::core::transfer::unfinished::{PartialDownload, WritingInto};
    let root = tempfile::tempdir().expect("tempdir");
    let folder = tempfile::tempdir().expect("folder");
    let left = partial_path(&folder.path().join("small.txt"));
    let resumable = partial_path(&folder.path().join("big.bin"));
    let mine = folder.path().join("notes.txt");
    for f in [&left, &resumable, &mine] {
        std::fs::write(f, b"x").expect("write");
    }
    {
        let s = crate::services::services(root.path());
        s.queue().writing().add(WritingInto {
            batch: "crashed".into(),
            folders: vec![folder.path().to_path_buf()],
        });
        s.queue().partials().add(PartialDownload {
            endpoint: "http://e".into(),
            space: "s".into(),
            key: "big.bin".into(),
            version: None,
            path: folder.path().join("big.bin"),
            partial: resumable.clone(),
            dest: folder.path().to_path_buf(),
            size: 100 << 20,
            etag: "\"e\"".into(),
            part_size: 16 << 20,
            done: vec![0],
            replace: false,
            replaces: None,
        });
    } // the "crash": these services go without settling anything
    let s = crate::services::services(root.path());
    s.sweep_left_partials();
    assert!(!left.exists(), "the crash's partial file is removed");
    assert!(resumable.exists(), "a resumable one stays");
    assert!(mine.exists(), "the user's file stays");
    assert!(s.queue().writing().list().is_empty());
}

// A folder in the chosen one that is a link to elsewhere: nothing is made through it, not even
// empty folders.
#[tokio::test(flavor = "multi_thread")]
async fn no_folder_is_made_through_a_link_out_of_the_chosen_one() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "link-out").await;
    (client.put_object())
        .bucket(&space)
        .key("photos/2024/a.jpg")
        .body(ByteStream::from_static(b"a"))
        .send()
        .await
        .expect("put");
    let dest = tempfile::tempdir().expect("dest");
    let elsewhere = tempfile::tempdir().expect("elsewhere");
    std::os::unix::fs::symlink(elsewhere.path(), dest.path().join("photos")).expect("link");
    let target = Target::plain(&client, &sb.endpoint.url, &space);
    let keys = ["photos/".to_string()];
    let plan = download::plan(&client, &sb.endpoint.url, &space, &keys, dest.path())
        .await
        .expect("plan");
    let options = download::Options::default();
    let summary = download::run(
        &target,
        dest.path(),
        plan,
        Conflict::KeepBoth,
        &|_| {},
        options,
    )
    .await;
    assert_eq!(summary.done, 0);
    assert_eq!(summary.problems.len(), 1, "{:?}", summary.problems);
    assert!(
        std::fs::read_dir(elsewhere.path())
            .expect("dir")
            .next()
            .is_none(),
        "nothing was made outside the chosen folder"
    );
}
