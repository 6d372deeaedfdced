//! Dragging out of the window: rows of the file browser are dragged (a real X pointer, held and
//! moved) onto a GTK drop target that copies what it gets as a file manager does; the files come
//! through the transfer queue and arrive byte for byte, odd names and folders included. (On the
//! way, the Settings page's About and Check requirements are looked at too.)

use std::io::BufRead;

use super::desktop::{drag_row_onto_row, drag_through, start_dragging_row, wait_for_window, xdo};
use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn files_and_folders_dragged_out_arrive_whole() {
    let (home, app, client, space) = harness::on_sandbox_with_space("drag-out").await;
    let keychain = Keychain::new(IDENTIFIER);
    let photo: Vec<u8> = (0..(3u32 << 20)).map(|i| (i % 253) as u8).collect();
    let files: [(&str, Vec<u8>); 3] = [
        ("photo one ü.jpg", photo),
        ("docs/a.txt", b"first".to_vec()),
        ("docs/sub/b%20c.txt", b"second".to_vec()),
    ];
    for (key, body) in &files {
        client
            .put_object()
            .bucket(&space)
            .key(*key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body.clone()))
            .send()
            .await
            .expect("put");
    }
    // Slow downloads: the drop comes before the photo is down, and must wait for it whole.
    app.click(Locator::Id("nav-settings")).await;
    app.click(Locator::Id("download-limited")).await;
    app.type_into("download-rate", "1").await;
    app.click(Locator::Id("save-settings")).await;
    app.wait_for(Locator::Id("settings-saved"), 10).await;
    // On the same page: About and Check requirements, on this computer.
    let version = app.text(Locator::Id("about-version")).await;
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    app.click(Locator::Id("check-requirements")).await;
    for name in ["Keychain", "Ceph", "WebKitGTK"] {
        let found = format!("#requirements li[data-name='{name}'][data-ok='true']");
        app.wait_for(Locator::Css(&found), 20).await;
    }
    let webkit = app
        .text(Locator::Css("#requirements li[data-name='WebKitGTK']"))
        .await;
    assert!(webkit.contains("2."), "a WebKitGTK version: {webkit}");
    app.shot("39-about").await;
    app.click(Locator::Css("nav a[href='#spaces']")).await;
    app.click(Locator::Id("refresh-spaces")).await;
    app.click(Locator::XPath(&format!("//td//button[.='{space}']")))
        .await;
    // Both selected; the drag starts on the photo's row and takes the selection.
    for key in ["docs/", "photo one ü.jpg"] {
        app.click(Locator::Css(&format!(
            "[data-key='{key}'] input[type='checkbox']"
        )))
        .await;
    }
    let dest = tempfile::tempdir().expect("dest");
    let target = DropTarget::open(dest.path());
    carry_row_to_target(&app, "photo one ü.jpg").await;
    app.shot("40-dragging-out").await;
    // The download began with the drag, before anything was dropped: the small files are in
    // the staging folder already (the photo, at 1 MB/s, is still coming).
    let staging = home.path().join(".cache/io.spacedock.app/drag-out");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !found_in(&staging, "b%20c.txt") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        found_in(&staging, "b%20c.txt"),
        "nothing downloaded while the drag was held"
    );
    xdo(&["sleep", "0.3", "mouseup", "1"]);
    let said = target.said();
    assert_eq!(
        said.as_deref(),
        Some("dropped 2"),
        "the drop target got both"
    );
    for (key, body) in &files {
        let got = std::fs::read(dest.path().join(key)).unwrap_or_else(|_| panic!("{key}"));
        assert!(&got == body, "{key} differs");
    }
    // They came through the transfer queue.
    app.wait_for(
        Locator::XPath(
            "//li[@data-key='docs/sub/b%20c.txt'][@data-direction='download'][@data-state='done']",
        ),
        20,
    )
    .await;
    // Nothing was uploaded back: the drag passed over the window on its way out.
    let listed = client
        .list_objects_v2()
        .bucket(&space)
        .send()
        .await
        .expect("list");
    assert_eq!(listed.key_count(), Some(3), "{:?}", listed.contents());
    app.shot("41-dragged-out").await;
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));
    let _ = keychain.delete("sandbox-owner");
}

/// Whether a file named `name` is anywhere below `dir`.
fn found_in(dir: &std::path::Path, name: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        match path.is_dir() {
            true => found_in(&path, name),
            false => e.file_name() == name,
        }
    })
}

/// Sets the download limit to 1 MB/s on the Settings page, then goes back to the Space.
async fn slow_downloads(app: &App, space: &str) {
    app.click(Locator::Id("nav-settings")).await;
    app.click(Locator::Id("download-limited")).await;
    app.type_into("download-rate", "1").await;
    app.click(Locator::Id("save-settings")).await;
    app.wait_for(Locator::Id("settings-saved"), 10).await;
    app.click(Locator::Css("nav a[href='#spaces']")).await;
    app.click(Locator::Id("refresh-spaces")).await;
    app.click(Locator::XPath(&format!("//td//button[.='{space}']")))
        .await;
}

/// A GTK drop target that copies what it gets as a file manager does (`drop_target.py`).
struct DropTarget(std::process::Child);

impl DropTarget {
    fn open(dest: &std::path::Path) -> DropTarget {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/drop_target.py");
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(dest)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 with GTK (python3-gi)");
        wait_for_window("droptarget");
        DropTarget(child)
    }

    /// What it said of a drop ("dropped N"), if anything within a minute.
    fn said(mut self) -> Option<String> {
        let out = self.0.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let line = std::io::BufReader::new(out).lines().next();
            let _ = tx.send(line.and_then(Result::ok));
        });
        let said = rx.recv_timeout(Duration::from_secs(60)).ok().flatten();
        let _ = self.0.kill();
        let _ = self.0.wait();
        said
    }
}

/// Takes the row of `key` with the real pointer and carries it over the drop target's window,
/// the button still held.
async fn carry_row_to_target(app: &App, key: &str) {
    let row = app
        .wait_for(Locator::Css(&format!("[data-key='{key}'] .col-size")), 20)
        .await;
    let (x, y, w, h) = row.rectangle().await.expect("row");
    start_dragging_row((x + w / 2.0) as i32, (y + h / 2.0) as i32);
    drag_through(&[
        (700, 300),
        (900, 220),
        (1050, 170),
        (1100, 160),
        (1110, 170),
    ]);
}

// A folder that can't come whole (one of its files can't be saved under its name) is handed
// over as nothing, never as a folder that looks whole and is not.
#[tokio::test(flavor = "multi_thread")]
async fn a_folder_that_cant_come_whole_is_handed_over_as_nothing() {
    let (home, app, client, space) = harness::on_sandbox_with_space("drag-part").await;
    for (key, body) in [
        ("docs/a.txt", &b"first"[..]),
        ("docs/b\\c.txt", b"no such name here"),
    ] {
        (client.put_object())
            .bucket(&space)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body.to_vec()))
            .send()
            .await
            .expect("put");
    }
    app.click(Locator::Id("refresh-spaces")).await;
    app.click(Locator::XPath(&format!("//td//button[.='{space}']")))
        .await;
    let dest = tempfile::tempdir().expect("dest");
    let target = DropTarget::open(dest.path());
    carry_row_to_target(&app, "docs/").await;
    xdo(&["sleep", "0.3", "mouseup", "1"]);
    let said = target.said();
    assert_eq!(said.as_deref(), Some("dropped 0"), "nothing handed over");
    assert!(
        std::fs::read_dir(dest.path())
            .expect("dest")
            .next()
            .is_none(),
        "no part of the folder was copied"
    );
    // The queue says which file could not come.
    app.wait_for(
        Locator::XPath("//li[@data-key='docs/b\\c.txt'][@data-state='failed']"),
        20,
    )
    .await;
    app.shot("41b-dragged-out-part-refused").await;
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));
}

// A row dragged onto a folder's row in the window is moved on the server at once: nothing is
// downloaded for it first.
#[tokio::test(flavor = "multi_thread")]
async fn a_row_dragged_onto_a_folder_moves_without_downloading_it() {
    let (home, app, client, space) = harness::on_sandbox_with_space("drag-move").await;
    let clip = vec![9u8; 8 << 20];
    for (key, body) in [("clip.bin", clip.clone()), ("inbox/x.txt", b"x".to_vec())] {
        (client.put_object())
            .bucket(&space)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body))
            .send()
            .await
            .expect("put");
    }
    // At 1 MB/s the clip would take 8 s to come down.
    slow_downloads(&app, &space).await;
    drag_row_onto_row(&app, "clip.bin", "inbox/").await;
    app.wait_for(Locator::Id("moved-note"), 60).await;
    assert_eq!(
        spacedock_tests::fetch(&client, &space, "inbox/clip.bin")
            .await
            .map(|b| b.len()),
        Some(clip.len())
    );
    // Moved before any of it came down whole: its staged download was stopped and removed.
    let staging = home.path().join(".cache/io.spacedock.app/drag-out");
    assert!(
        !found_in(&staging, "clip.bin"),
        "the clip was downloaded first"
    );
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));
}
