//! Transfer limits: checked before they are kept, kept across starts, and obeyed by uploads
//! and downloads alike. (A limit is a ceiling, so only "no faster than" is asserted.)

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use spacedock::core::settings::TransferLimits;
use spacedock::core::transfer::{download_batch, limits, upload_batch};
use spacedock::core::transfer::{Conflict, FileAcl, FileState, TransferEvent};
use spacedock::core::ErrorKind;
use spacedock_tests::{new_space, sandbox};

use super::services::{connected, services};

const RATE: u64 = 2_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn limits_are_checked_kept_and_obeyed() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("tempdir");
    let s = services(root.path());
    let refused = [
        TransferLimits {
            upload_limit: Some(1_000),
            ..Default::default()
        },
        TransferLimits {
            files_at_once: Some(0),
            ..Default::default()
        },
        TransferLimits {
            files_at_once: Some(limits::MOST_FILES + 1),
            ..Default::default()
        },
    ];
    for bad in refused {
        let e = limits::set(&s, bad).expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    assert_eq!(limits::get(&s), TransferLimits::default(), "nothing kept");
    let chosen = TransferLimits {
        upload_limit: Some(RATE),
        download_limit: Some(RATE),
        files_at_once: Some(1),
    };
    limits::set(&s, chosen).expect("kept");
    drop(s);

    // The next start reads them back and applies them.
    let s = connected(&sb, root.path(), &sb.endpoint.url).await;
    assert_eq!(limits::get(&s), chosen);
    assert_eq!(s.queue().rates(), (Some(RATE), Some(RATE)));
    let space = new_space(&sb, "limits").await;

    let local = root.path().join("six");
    std::fs::create_dir(&local).expect("folder");
    for i in 0..6u8 {
        std::fs::write(local.join(format!("f{i}.bin")), vec![i; 1_000_000]).expect("file");
    }
    let plan = upload_batch::plan(&s, &space, None, "", vec![local.clone()])
        .await
        .expect("plan");
    let (now, most) = (
        Arc::new(Mutex::new(HashSet::new())),
        Arc::new(Mutex::new(0)),
    );
    let events = {
        let (now, most) = (now.clone(), most.clone());
        Arc::new(move |e: TransferEvent| {
            let mut now = now.lock().expect("now");
            match e.state {
                FileState::Running => now.insert(e.id),
                _ => now.remove(&e.id),
            };
            let mut most = most.lock().expect("most");
            *most = (*most).max(now.len());
        })
    };
    let started = Instant::now();
    let summary = upload_batch::start(
        &s,
        plan.batch,
        FileAcl::Private,
        Conflict::Overwrite,
        None,
        events,
    )
    .await
    .expect("upload");
    let up = started.elapsed().as_secs_f64();
    assert_eq!(summary.done, 6);
    assert_eq!(*most.lock().expect("most"), 1, "one file at a time");
    // 6 MB at 2 MB/s, less the quarter second of burst idle time earns.
    assert!(up >= 2.5, "6 MB went up in {up:.2} s at a 2 MB/s limit");

    let dest = root.path().join("down");
    std::fs::create_dir(&dest).expect("dest");
    let planned = download_batch::plan(&s, &space, None, &["six/".to_string()], dest.clone())
        .await
        .expect("plan");
    let started = Instant::now();
    let done = download_batch::start(
        &s,
        planned.batch,
        Conflict::Overwrite,
        None,
        std::sync::Arc::new(|_| {}),
    )
    .await
    .expect("download");
    let down = started.elapsed().as_secs_f64();
    assert_eq!(done.done, 6, "{:?}", done.problems);
    assert!(
        down >= 2.5,
        "6 MB came down in {down:.2} s at a 2 MB/s limit"
    );
    for i in 0..6u8 {
        let got = std::fs::read(dest.join("six").join(format!("f{i}.bin"))).expect("file");
        assert!(got == vec![i; 1_000_000]);
    }
    // A big file goes in parts, whose bodies stream from disk at the limit.
    limits::set(
        &s,
        TransferLimits {
            upload_limit: Some(4 * RATE),
            ..Default::default()
        },
    )
    .expect("kept");
    let big = root.path().join("big.bin");
    let content: Vec<u8> = (0..24u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(&big, &content).expect("big");
    let plan = upload_batch::plan(&s, &space, None, "", vec![big])
        .await
        .expect("plan");
    let started = Instant::now();
    let summary = upload_batch::start(
        &s,
        plan.batch,
        FileAcl::Private,
        Conflict::Overwrite,
        None,
        Arc::new(|_| {}),
    )
    .await
    .expect("upload");
    let parts = started.elapsed().as_secs_f64();
    assert_eq!(summary.done, 1);
    assert!(
        parts >= 2.9,
        "25 MB went up in {parts:.2} s at an 8 MB/s limit"
    );
    let stored =
        spacedock_tests::fetch(&spacedock_tests::owner_client(&sb), &space, "big.bin").await;
    assert!(
        stored.as_deref() == Some(content.as_slice()),
        "the paced body arrived whole"
    );
    eprintln!(
        "limits: 6 MB at 2 MB/s, one file at a time: up {up:.2} s, down {down:.2} s; 25 MB in parts at 8 MB/s: {parts:.2} s"
    );
}
