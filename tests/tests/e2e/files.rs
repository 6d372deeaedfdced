//! Files: a real folder drop with progress, details, and a download through the folder dialog.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_folder_uploads_it_with_progress_and_the_chosen_permission() {
    let (home, app, _, space) = harness::on_sandbox_with_space("drop").await;
    let keychain = Keychain::new(IDENTIFIER);
    app.click(Locator::Id("refresh-spaces")).await;
    app.click(Locator::XPath(&format!("//td//button[.='{space}']")))
        .await;
    app.wait_for(Locator::Id("files-empty"), 20).await;
    let acl = app
        .wait_for(Locator::Css("#upload-acl option[value='public']"), 10)
        .await;
    acl.click().await.expect("choose Public");

    // A folder with a big file (multipart, with progress), a nested one, an odd name, an empty file.
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("holiday");
    std::fs::create_dir_all(folder.join("day 2")).expect("dirs");
    let big: Vec<u8> = (0..(96u32 << 20)).map(|i| (i % 251) as u8).collect();
    std::fs::write(folder.join("video.bin"), &big).expect("write");
    std::fs::write(folder.join("day 2/notes+ünï.txt"), b"sunny").expect("write");
    std::fs::write(folder.join("empty.txt"), b"").expect("write");

    drop_onto_window(&[&folder]);
    app.wait_for(Locator::Id("transfer-queue"), 20).await;
    app.shot("15-transfer-queue").await;
    app.wait_for(
        Locator::XPath("//li[@data-key='holiday/video.bin'][@data-state='done']"),
        120,
    )
    .await;
    app.wait_for(
        Locator::XPath("//li[@data-key='holiday/day 2/notes+ünï.txt'][@data-state='done']"),
        30,
    )
    .await;
    app.wait_for(
        Locator::XPath("//li[@data-key='holiday/empty.txt'][@data-state='done']"),
        30,
    )
    .await;
    let summary = app.text(Locator::Id("transfer-summary")).await;
    assert!(summary.starts_with("3 of 3 files"), "{summary}");
    app.wait_for(Locator::Css("[data-key='holiday/'] button"), 20)
        .await;
    app.click(Locator::Css("[data-key='holiday/'] button"))
        .await;
    app.wait_for(Locator::Css("[data-key='holiday/video.bin']"), 20)
        .await;
    app.shot("16-after-drop").await;

    // Uploaded with the permission chosen: anyone can read them, and the bytes match.
    let origin = app.text(Locator::Id("url-origin")).await;
    let (status, body) =
        spacedock_tests::anonymous_get_bytes(&format!("{origin}/holiday/video.bin"));
    assert_eq!(status, 200);
    assert!(body == big, "the dropped file arrived whole");
    let (status, body) = spacedock_tests::anonymous_get_bytes(&format!(
        "{origin}/holiday/day%202/notes%2B%C3%BCn%C3%AF.txt"
    ));
    assert_eq!((status, body.as_slice()), (200, &b"sunny"[..]));

    // A file's details: its permission from the server, a share link that opens it.
    app.click(Locator::XPath(
        "//div[@data-key='holiday/empty.txt']//button",
    ))
    .await;
    let acl = app.wait_for(Locator::Id("file-acl"), 20).await;
    assert_eq!(acl.text().await.expect("text"), "Public");
    // Its MD5 as stored with it (rclone's form), shown apart from the metadata one may edit.
    assert_eq!(
        app.text(Locator::Id("file-md5")).await,
        "1B2M2Y8AsgTpgAmY7PhCfg=="
    );
    // No CDN here: no word about one by the signed link.
    assert!(app
        .client
        .find(Locator::Id("share-cdn-note"))
        .await
        .is_err());
    app.click(Locator::Id("share-create")).await;
    let link = app.text(Locator::Id("share-link")).await;
    assert!(link.contains("X-Amz-Signature="), "{link}");
    assert_eq!(spacedock_tests::anonymous_get(&link).0, 200);
    app.shot("17-file-details").await;
    fits_a_small_window(&app, "17b-file-details-at-1024").await;

    // In bulk: select both files, make them private.
    for key in ["holiday/empty.txt", "holiday/video.bin"] {
        app.click(Locator::Css(&format!(
            "[data-key='{key}'] input[type='checkbox']"
        )))
        .await;
    }
    app.click(Locator::Id("bulk-private")).await;
    app.wait_for(
        Locator::XPath("//p[@id='bulk-message'][.='2 files made private.']"),
        20,
    )
    .await;
    assert_eq!(
        spacedock_tests::anonymous_get_bytes(&format!("{origin}/holiday/video.bin")).0,
        403
    );
    app.shot("18-bulk").await;

    // Dropping the same folder again asks before overwriting; Skip leaves them as they are.
    app.click(Locator::Css("#breadcrumbs button")).await;
    app.click(Locator::Id("clear-finished")).await;
    drop_onto_window(&[&folder]);
    app.wait_for(Locator::Id("conflict-dialog"), 20).await;
    assert!(app
        .text(Locator::Id("conflict-text"))
        .await
        .starts_with("3 files already exist"));
    app.shot("19-overwrite-question").await;
    app.click(Locator::Id("conflict-skip")).await;
    app.wait_for(
        Locator::XPath("//li[@data-key='holiday/video.bin'][@data-state='skipped']"),
        20,
    )
    .await;
    assert_eq!(
        spacedock_tests::anonymous_get_bytes(&format!("{origin}/holiday/video.bin")).0,
        403,
        "skipped: untouched"
    );

    // Download the folder into one that already holds one of its files: asked, Keep both.
    let downloads = tempfile::tempdir().expect("downloads");
    std::fs::create_dir(downloads.path().join("holiday")).expect("holiday");
    std::fs::write(downloads.path().join("holiday/empty.txt"), b"mine").expect("mine");
    app.click(Locator::Id("clear-finished")).await;
    app.click(Locator::Css("[data-key='holiday/'] input[type='checkbox']"))
        .await;
    app.click(Locator::Id("bulk-download")).await;
    choose_folder_in_dialog("Download to", downloads.path());
    app.wait_for(Locator::Id("conflict-dialog"), 30).await;
    let question = app.text(Locator::Id("conflict-text")).await;
    assert!(
        question.starts_with("1 file already exists in the folder you chose"),
        "{question}"
    );
    app.shot("20-download-question").await;
    app.click(Locator::Id("conflict-keep-both")).await;
    let done = app
        .wait_for(
            Locator::XPath("//p[@id='bulk-message'][starts-with(., 'Downloaded 3 files')]"),
            60,
        )
        .await;
    assert!(done
        .text()
        .await
        .expect("text")
        .contains(&downloads.path().display().to_string()));
    // The download went through the transfer queue, file by file.
    app.wait_for(
        Locator::XPath(
            "//li[@data-key='holiday/video.bin'][@data-direction='download'][@data-state='done']",
        ),
        10,
    )
    .await;
    let got = |name: &str| std::fs::read(downloads.path().join("holiday").join(name)).expect(name);
    assert_eq!(got("empty.txt"), b"mine", "the file that was there is kept");
    assert_eq!(got("empty (1).txt"), b"");
    assert!(got("video.bin") == big, "the download arrived whole");
    assert_eq!(got("day 2/notes+ünï.txt"), b"sunny");
    app.shot("21-downloaded").await;

    // The Transfers panel shows the engine's queue: a window loaded again shows the same rows.
    app.client.refresh().await.expect("load the window again");
    app.wait_for(
        Locator::XPath(
            "//li[@data-key='holiday/video.bin'][@data-direction='download'][@data-state='done']",
        ),
        60,
    )
    .await;
    app.shot("21b-transfers-after-reload").await;
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));
    let _ = keychain.delete("sandbox-owner");
}
