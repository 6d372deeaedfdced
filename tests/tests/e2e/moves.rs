//! Renames, moves and copies in the real window: a file renamed where it is, a folder moved into
//! a new folder, a copy onto a name that is taken (Keep both), and a file dragged onto a folder's
//! row, each checked on the server.

use super::desktop::drag_row_onto_row;
use super::*;

async fn put(client: &aws_sdk_s3::Client, space: &str, key: &str, body: &[u8], public: bool) {
    let acl = match public {
        true => aws_sdk_s3::types::ObjectCannedAcl::PublicRead,
        false => aws_sdk_s3::types::ObjectCannedAcl::Private,
    };
    client
        .put_object()
        .bucket(space)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(body.to_vec()))
        .acl(acl)
        .send()
        .await
        .expect("put");
}

async fn is_public(client: &aws_sdk_s3::Client, space: &str, key: &str) -> bool {
    let acl = client.get_object_acl().bucket(space).key(key).send().await;
    acl.expect("acl").grants().iter().any(|g| {
        g.grantee()
            .and_then(|w| w.uri())
            .is_some_and(|u| u.ends_with("AllUsers"))
    })
}

async fn select(app: &App, key: &str) {
    app.click(Locator::Css(&format!(
        "[data-key='{key}'] input[type='checkbox']"
    )))
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn files_are_renamed_moved_copied_and_dragged_into_a_folder() {
    let (home, app, client, space) = harness::on_sandbox_with_space("moves").await;
    put(&client, &space, "report.txt", b"the report", true).await;
    put(&client, &space, "docs/a.txt", b"alpha", false).await;
    put(&client, &space, "docs/sub/b.txt", b"beta", false).await;
    put(&client, &space, "inbox/final.txt", b"older", false).await;
    put(&client, &space, "photo.jpg", b"a photo", true).await;
    app.click(Locator::Id("refresh-spaces")).await;
    app.click(Locator::XPath(&format!("//td//button[.='{space}']")))
        .await;

    // Rename: the name is checked as it is typed, then the file takes its new name.
    select(&app, "report.txt").await;
    app.click(Locator::Id("bulk-rename")).await;
    app.type_into("copy-name", "final/x").await;
    app.wait_for(Locator::Css("#copy-submit:disabled"), 5).await;
    app.shot("57-rename-refused").await;
    app.type_into("copy-name", "final.txt").await;
    app.click(Locator::Css("#copy-submit:not(:disabled)")).await;
    app.wait_for(Locator::Css("[data-key='final.txt']"), 30)
        .await;
    let said = app.text(Locator::Id("bulk-message")).await;
    assert_eq!(said, "Moved 1 file.");
    assert_eq!(
        spacedock_tests::fetch(&client, &space, "report.txt").await,
        None
    );
    assert_eq!(
        spacedock_tests::fetch(&client, &space, "final.txt")
            .await
            .as_deref(),
        Some(&b"the report"[..])
    );
    assert!(
        is_public(&client, &space, "final.txt").await,
        "still public"
    );
    app.shot("57-renamed").await;

    // Move a folder into a folder that does not exist yet.
    select(&app, "docs/").await;
    app.click(Locator::Id("bulk-move")).await;
    app.type_into("copy-folder", "archive/2026").await;
    app.click(Locator::Id("copy-submit")).await;
    app.wait_for(Locator::Css("[data-key='archive/']"), 30)
        .await;
    app.wait_for(
        Locator::Css("li[data-key='docs/sub/b.txt'][data-direction='move'][data-state='done']"),
        30,
    )
    .await;
    assert_eq!(
        spacedock_tests::fetch(&client, &space, "archive/2026/docs/sub/b.txt")
            .await
            .as_deref(),
        Some(&b"beta"[..])
    );
    assert_eq!(
        spacedock_tests::fetch(&client, &space, "docs/a.txt").await,
        None
    );
    app.shot("58-moved").await;

    // Copy onto a name that is taken: asked, and Keep both keeps both.
    select(&app, "final.txt").await;
    app.click(Locator::Id("bulk-copy")).await;
    app.type_into("copy-folder", "inbox/").await;
    app.click(Locator::Id("copy-submit")).await;
    app.wait_for(Locator::Id("conflict-dialog"), 30).await;
    let asked = app.text(Locator::Id("conflict-text")).await;
    assert!(asked.contains("where they would go"), "{asked}");
    app.shot("58b-copy-conflict").await;
    app.click(Locator::Id("conflict-keep-both")).await;
    app.wait_for(Locator::Id("bulk-message"), 30).await;
    let mut copied = None;
    for _ in 0..100 {
        copied = spacedock_tests::fetch(&client, &space, "inbox/final (1).txt").await;
        if copied.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(copied.as_deref(), Some(&b"the report"[..]), "kept both");
    // The queue says where the copy went.
    app.wait_for(
        Locator::XPath(
            "//li[@data-direction='copy'][@data-state='done'][contains(., 'inbox/final (1).txt')]",
        ),
        20,
    )
    .await;
    assert_eq!(
        spacedock_tests::fetch(&client, &space, "inbox/final.txt")
            .await
            .as_deref(),
        Some(&b"older"[..]),
        "the file that was there is untouched"
    );
    assert_eq!(
        spacedock_tests::fetch(&client, &space, "final.txt")
            .await
            .as_deref(),
        Some(&b"the report"[..]),
        "a copy leaves the original"
    );

    // A file's row dragged onto a folder's row moves it there.
    drag_row_onto_row(&app, "photo.jpg", "inbox/").await;
    app.wait_for(Locator::Id("moved-note"), 30).await;
    assert_eq!(app.text(Locator::Id("moved-note")).await, "Moved 1 file.");
    assert_eq!(
        spacedock_tests::fetch(&client, &space, "inbox/photo.jpg")
            .await
            .as_deref(),
        Some(&b"a photo"[..])
    );
    assert_eq!(
        spacedock_tests::fetch(&client, &space, "photo.jpg").await,
        None
    );
    assert!(is_public(&client, &space, "inbox/photo.jpg").await);
    app.shot("59-dragged-into-folder").await;
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));
}
