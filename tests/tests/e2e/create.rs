//! The create wizard, the Space's page and its URLs.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn create_a_space_in_the_wizard_and_copy_its_origin_url() {
    let home = Home::new();
    // `--sandbox` is what the README's run command passes: straight to the local sandbox.
    let app = App::launch(&home, &["--sandbox"]).await;
    app.wait_for(Locator::Id("spaces-empty"), 180).await;
    let endpoint_url = app.text(Locator::Id("connection-endpoint")).await;

    app.click(Locator::Id("create-space")).await;
    app.type_into("space-name", "Bad.Name").await;
    app.wait_for(Locator::Css("[data-rule='noDots'][data-ok='false']"), 10)
        .await;
    app.wait_for(
        Locator::Css("[data-rule='characters'][data-ok='false']"),
        10,
    )
    .await;
    let create = app.wait_for(Locator::Id("create-space-submit"), 10).await;
    assert_eq!(
        create.attr("disabled").await.expect("attr").as_deref(),
        Some("true"),
        "Create is off while a rule fails"
    );
    app.shot("09-create-rule-failing").await;

    let name = format!("e2e-{}", std::process::id());
    app.type_into("space-name", &name).await;
    app.wait_for(Locator::Css("#name-availability[data-state='free']"), 20)
        .await;
    app.wait_for(Locator::Css("[data-rule='noDots'][data-ok='true']"), 10)
        .await;
    // A rule that holds looks like one that holds: every rule in the colour of "free".
    let colours = app
        .client
        .execute(
            "const c = (e) => getComputedStyle(e).color;
             return [c(document.querySelector('#name-availability .okText')),
                     ...[...document.querySelectorAll('#name-rules li[data-rule]')].map(c)];",
            vec![],
        )
        .await
        .expect("computed colours");
    let colours: Vec<String> = serde_json::from_value(colours).expect("colours");
    assert!(colours.len() == 5, "{colours:?}");
    assert!(colours.iter().all(|c| c == &colours[0]), "{colours:?}");
    app.click(Locator::Css("input[name='region'][value='local']"))
        .await;
    app.click(Locator::Id("listing-enabled")).await;
    app.shot("10-create-ready").await;
    fits_a_small_window(&app, "10b-create-at-1024").await;
    app.click(Locator::Id("create-space-submit")).await;

    app.wait_for(
        Locator::XPath(&format!("//h1[@id='space-title'][.='{name}']")),
        30,
    )
    .await;
    assert_eq!(
        app.text(Locator::Id("listing-badge")).await,
        "File listing enabled"
    );
    let origin = app.text(Locator::Id("url-origin")).await;
    assert_eq!(
        origin,
        format!("{endpoint_url}/{name}"),
        "the sandbox's origin is the URL that reaches it"
    );
    app.shot("11-space-page").await;

    // The Files tab lists folders first, then files, and opens folders.
    let (_, client) = harness::sandbox_owner(&app, &home).await;
    for key in [
        "report 2026.pdf",
        "notes+ideas.txt",
        "photos/beach.jpg",
        "photos/2025/snow.jpg",
    ] {
        client
            .put_object()
            .bucket(&name)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(vec![7u8; 2048]))
            .send()
            .await
            .expect("put");
    }
    app.click(Locator::Css("#breadcrumbs button")).await; // reload the top folder
    app.wait_for(Locator::Css("[data-key='notes+ideas.txt']"), 20)
        .await;
    assert_eq!(app.text(Locator::Id("files-status")).await, "3 items");
    let first_row = app.wait_for(Locator::Css("#file-rows .row"), 5).await;
    assert_eq!(
        first_row.attr("data-key").await.expect("attr").as_deref(),
        Some("photos/"),
        "folders first"
    );
    app.shot("13-files").await;
    app.click(Locator::Css("[data-key='photos/'] button")).await;
    app.wait_for(Locator::Css("[data-key='photos/beach.jpg']"), 20)
        .await;
    assert!(app
        .text(Locator::Id("breadcrumbs"))
        .await
        .contains("photos"));
    app.shot("14-folder").await;
    app.type_into("file-filter", "BEACH").await;
    app.wait_for(
        Locator::XPath("//*[@id='files-status'][starts-with(., '1 item')]"),
        10,
    )
    .await;
    assert!(
        app.client
            .find(Locator::Css("[data-key='photos/2025/']"))
            .await
            .is_err(),
        "filtered out"
    );
    for key in [
        "report 2026.pdf",
        "notes+ideas.txt",
        "photos/beach.jpg",
        "photos/2025/snow.jpg",
    ] {
        client
            .delete_object()
            .bucket(&name)
            .key(key)
            .send()
            .await
            .expect("delete");
    }

    // Copy puts exactly that text on the system clipboard.
    app.click(Locator::Id("url-origin-copy")).await;
    app.wait_for(
        Locator::XPath("//span[@class and contains(@class,'copied')][.='Copied']"),
        10,
    )
    .await;
    assert_eq!(desktop::clipboard(), origin);
    app.shot("12-copied").await;

    // An upload another client began and left: its part is stored, yet no file list shows it.
    let left = client
        .create_multipart_upload()
        .bucket(&name)
        .key("left behind.iso")
        .send()
        .await
        .expect("begin");
    let left_id = left.upload_id().expect("id").to_string();
    client
        .upload_part()
        .bucket(&name)
        .key("left behind.iso")
        .upload_id(&left_id)
        .part_number(1)
        .body(aws_sdk_s3::primitives::ByteStream::from(vec![1u8; 5 << 20]))
        .send()
        .await
        .expect("part");

    // File listing as the server has it: anyone may list now; restricting flips it.
    assert_eq!(spacedock_tests::anonymous_get(&origin).0, 200);
    app.click(Locator::Id("tab-settings")).await;
    app.click(Locator::Id("set-restricted")).await;
    app.click(Locator::Id("save-listing")).await;
    app.wait_for(
        Locator::XPath("//span[@id='listing-badge'][.='File listing restricted']"),
        20,
    )
    .await;
    assert_eq!(spacedock_tests::anonymous_get(&origin).0, 403);

    // Settings show the unfinished upload with its size; Abort all deletes its part.
    let count = app.wait_for(Locator::Id("unfinished-count"), 20).await;
    let said = count.text().await.expect("text");
    assert!(
        said.starts_with("1 unfinished upload holds 5.2 MB"),
        "{said}"
    );
    assert!(app
        .text(Locator::Id("unfinished-uploads"))
        .await
        .contains("left behind.iso"));
    app.shot("12b-unfinished-uploads").await;
    app.click(Locator::Id("unfinished-abort-all")).await;
    app.click(Locator::Id("unfinished-abort-all-confirm")).await;
    app.wait_for(Locator::Id("unfinished-none"), 20).await;
    let uploads = client
        .list_multipart_uploads()
        .bucket(&name)
        .send()
        .await
        .expect("list uploads");
    assert!(uploads.uploads().is_empty(), "aborted on the server");

    // Destroy, typing the name to confirm; the list is empty again.
    app.click(Locator::Id("destroy-begin")).await;
    app.type_into("destroy-typed", &name).await;
    app.click(Locator::Id("destroy-confirm")).await;
    app.wait_for(Locator::Id("spaces-empty"), 30).await;
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));
    let _ = Keychain::new(IDENTIFIER).delete("sandbox-owner");
}
