//! Transfers that survive a crash, in the real window: limits are set on the Settings page (so
//! each transfer lasts long enough), the app is killed (SIGKILL) half way through a download and
//! then an upload, started again, and Resume finishes each byte for byte.

use super::*;

/// Waits until `done` says so, checking every 50 ms.
async fn until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "{what} did not happen in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn open_space(app: &App, space: &str) {
    app.click(Locator::Css("nav a[href='#spaces']")).await;
    app.click(Locator::Id("refresh-spaces")).await;
    app.click(Locator::XPath(&format!("//td//button[.='{space}']")))
        .await;
}

/// Resumes the one interrupted transfer of `key` and waits until it is done.
async fn resume_in_window(app: &App, key: &str, shot: &str) -> String {
    app.wait_for(Locator::Id("interrupted-transfers"), 180)
        .await;
    app.shot(shot).await;
    app.click(Locator::Css(&format!("button[aria-label='Resume {key}']")))
        .await;
    let row = format!("//section[@id='interrupted-transfers']//li[@data-key='{key}']");
    app.wait_for(Locator::XPath(&format!("{row}[@data-state='done']")), 120)
        .await;
    app.text(Locator::XPath(&format!(
        "{row}//span[contains(@class, 'message')]"
    )))
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_app_resumes_its_download_and_its_upload() {
    let (home, app, client, space) = harness::on_sandbox_with_space("resume").await;
    let keychain = Keychain::new(IDENTIFIER);
    let movie: Vec<u8> = (0..200u32 << 20)
        .map(|i| (i % 241) as u8 ^ (i >> 20) as u8)
        .collect();
    client
        .put_object()
        .bucket(&space)
        .key("movie.bin")
        .body(aws_sdk_s3::primitives::ByteStream::from(movie.clone()))
        .send()
        .await
        .expect("put");

    // Limits, set as a user would: each transfer then lasts long enough to be killed half way.
    app.click(Locator::Id("nav-settings")).await;
    app.click(Locator::Id("download-limited")).await;
    app.type_into("download-rate", "20").await;
    app.click(Locator::Id("upload-limited")).await;
    app.type_into("upload-rate", "50").await;
    app.click(Locator::Id("save-settings")).await;
    app.wait_for(Locator::Id("settings-saved"), 10).await;
    app.shot("30-transfer-settings").await;

    // A download, killed once some of its ranges are on disk.
    open_space(&app, &space).await;
    app.click(Locator::Css(
        "[data-key='movie.bin'] input[type='checkbox']",
    ))
    .await;
    app.click(Locator::Id("bulk-download")).await;
    let downloads = tempfile::tempdir().expect("downloads");
    choose_folder_in_dialog("Download to", downloads.path());
    let record = home.app_data().join("partial-downloads.json");
    until("a range on disk", Duration::from_secs(90), async || {
        let noted: serde_json::Value = std::fs::read(&record)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        noted[0]["done"].as_array().is_some_and(|d| !d.is_empty())
    })
    .await;
    home.kill_app();
    drop(app);
    let dest = downloads.path().join("movie.bin");
    assert!(!dest.exists(), "a half file under the real name");

    // Started again: the download is offered, and Resume fetches only what was missing.
    let app = App::launch(&home, &["--sandbox"]).await;
    let said = resume_in_window(&app, "movie.bin", "31-interrupted-download").await;
    assert!(said.contains("was on disk"), "{said}");
    assert!(
        std::fs::read(&dest).expect("downloaded") == movie,
        "the resumed download differs"
    );
    app.shot("32-resumed-download").await;
    app.click(Locator::Id("interrupted-close")).await;

    // An upload of a file in more parts than go at once, killed once the first parts are stored.
    open_space(&app, &space).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let film = dir.path().join("film.bin");
    let bytes: Vec<u8> = (0..600u32 << 20)
        .map(|i| (i % 239) as u8 ^ (i >> 22) as u8)
        .collect();
    std::fs::write(&film, &bytes).expect("film");
    drop_onto_window(&[&film]);
    until("a stored part", Duration::from_secs(120), async || {
        let uploads = client.list_multipart_uploads().bucket(&space).send().await;
        let Some(id) = uploads
            .ok()
            .and_then(|u| u.uploads().first()?.upload_id().map(str::to_string))
        else {
            return false;
        };
        let parts = client.list_parts().bucket(&space).key("film.bin");
        let parts = parts.upload_id(id).send().await;
        parts.is_ok_and(|p| !p.parts().is_empty())
    })
    .await;
    home.kill_app();
    drop(app);

    let app = App::launch(&home, &["--sandbox"]).await;
    let said = resume_in_window(&app, "film.bin", "33-interrupted-upload").await;
    assert!(said.contains("was stored already"), "{said}");
    let stored = client
        .get_object()
        .bucket(&space)
        .key("film.bin")
        .send()
        .await
        .expect("get");
    let stored = stored.body.collect().await.expect("body").into_bytes();
    assert!(
        stored.as_ref() == bytes.as_slice(),
        "the resumed upload differs"
    );
    let left = client.list_multipart_uploads().bucket(&space).send().await;
    assert!(left.expect("uploads").uploads().is_empty());
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));
    let _ = keychain.delete("sandbox-owner");
}
