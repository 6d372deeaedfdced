//! A Space's life in the real window: versioning and a lifecycle rule set in its settings, an old version
//! restored from a file's details, a deleted file shown and undeleted, the Space's size counted,
//! a search of the whole Space that opens what it finds, and a file's preview.

use super::*;
use harness::{body_of, put, scroll_into_view};

/// Of a PNG's pixels: how many are dark (text, icons), and what share of its lower half is not
/// white (a viewer laid out over the whole frame fills it with its grey; one cramped into a
/// corner leaves it white).
fn pixels_of(png_bytes: &[u8]) -> (usize, f64) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buffer = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buffer).expect("its pixels");
    let samples = info.color_type.samples();
    assert!(samples >= 3, "an RGB screenshot");
    let sum = |p: &[u8]| u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]);
    let pixels: Vec<&[u8]> = buffer[..info.buffer_size()].chunks(samples).collect();
    let dark = pixels.iter().filter(|p| sum(p) < 300).count();
    let lower = &pixels[pixels.len() / 2..];
    let filled = lower.iter().filter(|p| sum(p) < 720).count() as f64 / lower.len().max(1) as f64;
    (dark, filled)
}

/// A one-page PDF saying `words`, with its cross-reference table where readers look for it.
fn one_page_pdf(words: &str) -> Vec<u8> {
    pdf_with(words, None)
}

/// The same, its whole page one link to `url` when given.
fn pdf_with(words: &str, link: Option<&str>) -> Vec<u8> {
    let text = format!("BT /F1 24 Tf 30 90 Td ({words}) Tj ET");
    let annots = match link {
        Some(_) => " /Annots [6 0 R]",
        None => "",
    };
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >>{annots} >>"),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    if let Some(url) = link {
        objects.push(format!(
            "<< /Type /Annot /Subtype /Link /Rect [0 0 400 200] /Border [0 0 0] /A << /S /URI /URI ({url}) >> >>"
        ));
    }
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.push_str(&format!("{} 0 obj\n{o}\nendobj\n", i + 1));
    }
    let xref = pdf.len();
    pdf.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for o in offsets {
        pdf.push_str(&format!("{o:010} 00000 n \n"));
    }
    pdf.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    pdf.into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_version_is_restored_and_a_deleted_file_undeleted() {
    let (home, app, client, space) = harness::on_sandbox_with_space("versions").await;
    put(&client, &space, "notes.txt", b"one").await;
    app.click(Locator::Id("refresh-spaces")).await;
    app.click(Locator::XPath(&format!("//td//button[.='{space}']")))
        .await;

    // Settings: versioning is read from the server, then switched on there.
    app.click(Locator::Id("tab-settings")).await;
    app.wait_for(Locator::Css("#versioning-state[data-state='off']"), 20)
        .await;
    app.click(Locator::Id("versioning-enable")).await;
    app.wait_for(Locator::Css("#versioning-state[data-state='enabled']"), 20)
        .await;
    app.shot("50-versioning-enabled").await;
    let status = client.get_bucket_versioning().bucket(&space).send().await;
    assert_eq!(
        status.expect("versioning").status().map(|s| s.as_str()),
        Some("Enabled")
    );

    // A lifecycle rule: files under tmp/ go after 30 days; it is on the server as typed.
    app.wait_for(Locator::Id("rules-none"), 20).await;
    app.click(Locator::Id("rule-add")).await;
    app.type_into("rule-prefix-0", "tmp/").await;
    app.type_into("rule-expireDays-0", "30").await;
    app.click(Locator::Id("rules-save")).await;
    app.wait_for(Locator::Id("rules-saved"), 20).await;
    let lc = client
        .get_bucket_lifecycle_configuration()
        .bucket(&space)
        .send()
        .await
        .expect("lifecycle");
    let rule = &lc.rules()[0];
    assert_eq!(lc.rules().len(), 1);
    assert_eq!(rule.filter().and_then(|f| f.prefix()), Some("tmp/"));
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(30));
    assert_eq!(
        rule.abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
        Some(7),
        "a new rule aborts unfinished uploads after a week unless changed"
    );
    scroll_into_view(&app, "#rules-saved").await;
    app.shot("50b-lifecycle-rule").await;

    // Two changes later, the file's details list three versions; the first is put back.
    put(&client, &space, "notes.txt", b"two").await;
    put(&client, &space, "notes.txt", b"three").await;
    app.click(Locator::Id("tab-files")).await;
    app.click(Locator::XPath("//div[@data-key='notes.txt']//button"))
        .await;
    app.wait_for(Locator::Css("#file-versions li:nth-child(3)"), 20)
        .await;
    scroll_into_view(&app, "#file-versions").await;
    app.shot("51-file-versions").await;
    // Its preview: the text, fetched through the app.
    app.click(Locator::Id("file-preview-open")).await;
    let text = app
        .text(Locator::Css("#file-preview[data-kind='text'] pre"))
        .await;
    assert_eq!(text, "three");
    app.click(Locator::Id("version-restore-2")).await;
    app.wait_for(Locator::Id("versions-message"), 20).await;
    app.wait_for(Locator::Css("#file-versions li:nth-child(4)"), 20)
        .await;
    assert_eq!(
        body_of(&client, &space, "notes.txt").await.as_deref(),
        Some(&b"one"[..])
    );
    // The restore was a job of the transfer queue: it is on the Transfers panel.
    app.wait_for(
        Locator::Css(
            "#transfer-queue li[data-key='notes.txt'][data-direction='restore'][data-state='done']",
        ),
        20,
    )
    .await;
    let summary = app.text(Locator::Id("transfer-summary")).await;
    assert!(summary.starts_with("1 of 1 file ·"), "{summary}");
    app.shot("51b-restored").await;

    // Deleted from the details panel, it is listed as deleted, and comes back.
    app.click(Locator::Id("file-delete")).await;
    app.click(Locator::Id("file-delete-confirm")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while body_of(&client, &space, "notes.txt").await.is_some() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(body_of(&client, &space, "notes.txt").await, None, "deleted");
    app.click(Locator::Id("more-actions")).await;
    app.click(Locator::Id("show-deleted")).await;
    let row = "#deleted-files tr[data-key='notes.txt'] button";
    app.wait_for(Locator::Css(row), 20).await;
    scroll_into_view(&app, "#deleted-files").await;
    app.shot("52-deleted-files").await;
    app.click(Locator::Css(row)).await;
    app.wait_for(Locator::Id("deleted-message"), 20).await;
    app.wait_for(Locator::Id("deleted-none"), 20).await;
    app.wait_for(Locator::Css("[data-key='notes.txt']"), 20)
        .await;
    assert_eq!(
        body_of(&client, &space, "notes.txt").await.as_deref(),
        Some(&b"one"[..])
    );
    app.shot("53-undeleted").await;

    // The Space's size, counted on request; a search of the whole Space opens what it finds.
    put(&client, &space, "deep/er/Notes-2.TXT", b"12345").await;
    app.click(Locator::Id("count-space-size")).await;
    let size = app
        .wait_for(Locator::Css("#space-size[data-done='true']"), 20)
        .await;
    let size = size.text().await.expect("size");
    assert!(size.contains("2 files, 8 B"), "{size}");
    // Put after the count, found when the search opens its folder.
    put(
        &client,
        &space,
        "deep/er/report.pdf",
        &one_page_pdf("Quarterly report"),
    )
    .await;
    app.type_into("file-filter", "notes").await;
    app.click(Locator::Id("more-actions")).await;
    app.click(Locator::Id("search-space")).await;
    let found = "#space-search[data-done='true'] tr[data-key='deep/er/Notes-2.TXT'] button";
    app.wait_for(Locator::Css(found), 20).await;
    app.shot("54-search").await;
    app.click(Locator::Css(found)).await;
    let title = app.wait_for(Locator::Css("#file-details h2"), 20).await;
    assert_eq!(title.text().await.expect("title"), "Notes-2.TXT");
    app.wait_for(Locator::Css("[data-key='deep/er/Notes-2.TXT']"), 20)
        .await;
    app.shot("55-search-opened").await;
    app.click(Locator::Id("file-preview-open")).await;
    let text = app.text(Locator::Css("#file-preview pre")).await;
    assert_eq!(text, "12345");
    app.shot("56-preview").await;

    // A PDF, shown by WebKit's own viewer from the bytes the app fetched.
    let filter = app.wait_for(Locator::Id("file-filter"), 5).await;
    // Backspaced away as a person would (the filter follows what is typed).
    let backspaces = "\u{E003}".repeat("notes".len());
    filter
        .send_keys(&backspaces)
        .await
        .expect("clear the filter");
    app.click(Locator::Css("[data-key='deep/er/report.pdf'] button.file"))
        .await;
    app.click(Locator::Id("file-preview-open")).await;
    let frame = app
        .wait_for(
            Locator::Css("#file-preview[data-kind='pdf'] iframe#file-preview-pdf"),
            20,
        )
        .await;
    let src = frame.attr("src").await.expect("src").unwrap_or_default();
    assert!(
        src.starts_with("data:application/pdf;base64,"),
        "from the app's own bytes"
    );
    scroll_into_view(&app, "#file-preview").await;
    // Drawn over the whole frame, not blank: the viewer's toolbar and the page's words are dark
    // pixels, and its grey fills the frame's lower half.
    let (mut dark, mut filled) = (0, 0.0);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let pixels = frame.screenshot().await.expect("the frame's pixels");
        (dark, filled) = pixels_of(&pixels);
        if dark > 500 && filled > 0.5 {
            break;
        }
    }
    assert!(
        dark > 500,
        "the PDF's frame stayed blank ({dark} dark pixels)"
    );
    assert!(
        filled > 0.5,
        "the viewer did not fill its frame ({filled:.2} of the lower half)"
    );
    app.shot("56b-preview-pdf").await;
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));
}

// With versioning suspended, a restore replaces the file's "null" version for good: the window
// says so and asks, and only then replaces it.
#[tokio::test(flavor = "multi_thread")]
async fn a_restore_that_replaces_a_version_for_good_is_asked_first() {
    let (home, app, client, space) = harness::on_sandbox_with_space("restore-ask").await;
    (client.put_bucket_versioning())
        .bucket(&space)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("versioning on");
    put(&client, &space, "notes.txt", b"first").await;
    (client.put_bucket_versioning())
        .bucket(&space)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .expect("versioning suspended");
    put(&client, &space, "notes.txt", b"the latest").await;
    app.click(Locator::Id("refresh-spaces")).await;
    app.click(Locator::XPath(&format!("//td//button[.='{space}']")))
        .await;
    app.click(Locator::XPath("//div[@data-key='notes.txt']//button"))
        .await;
    app.wait_for(Locator::Css("#file-versions li:nth-child(2)"), 20)
        .await;
    app.click(Locator::Id("version-restore-1")).await;
    let asked = app.text(Locator::Id("version-replace-ask")).await;
    assert!(
        asked.contains("replaced for good") || asked.contains("for good"),
        "{asked}"
    );
    scroll_into_view(&app, "#version-replace-ask").await;
    app.shot("51b-restore-asks-before-replacing-for-good").await;
    // Kept: nothing changes.
    app.click(Locator::Id("version-replace-keep")).await;
    assert_eq!(
        body_of(&client, &space, "notes.txt").await.as_deref(),
        Some(&b"the latest"[..])
    );
    // Agreed: the old version is the file, and the message says the other is gone.
    app.click(Locator::Id("version-restore-1")).await;
    app.click(Locator::Id("version-replace-confirm")).await;
    let said = app.text(Locator::Id("versions-message")).await;
    assert!(said.contains("gone for good"), "{said}");
    assert_eq!(
        body_of(&client, &space, "notes.txt").await.as_deref(),
        Some(&b"first"[..])
    );
    app.shot("51c-restored-for-good").await;
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));
}

// A PDF from a Space can be anyone's: its links never take the app's window elsewhere. (WebKit's
// viewer opens a link in an embedded PDF in the top window.)
#[tokio::test(flavor = "multi_thread")]
async fn a_link_in_a_previewed_pdf_never_takes_the_window() {
    // The "remote page" the PDF links to, counting who asks for it.
    let remote = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/pwned", remote.local_addr().expect("addr"));
    let visits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = visits.clone();
    std::thread::spawn(move || {
        use std::io::Write;
        for mut stream in remote.incoming().flatten() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = "<h1>REMOTE PAGE IN THE APP WINDOW</h1>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let (home, app, client, space) = harness::on_sandbox_with_space("pdf-link").await;
    put(
        &client,
        &space,
        "linked.pdf",
        &pdf_with("Click anywhere", Some(&url)),
    )
    .await;
    app.click(Locator::Id("refresh-spaces")).await;
    app.click(Locator::XPath(&format!("//td//button[.='{space}']")))
        .await;
    app.click(Locator::Css("[data-key='linked.pdf'] button.file"))
        .await;
    app.click(Locator::Id("file-preview-open")).await;
    let frame = app
        .wait_for(
            Locator::Css("#file-preview[data-kind='pdf'] iframe#file-preview-pdf"),
            20,
        )
        .await;
    assert_eq!(
        frame.attr("sandbox").await.expect("attr").as_deref(),
        Some("allow-scripts allow-same-origin")
    );
    scroll_into_view(&app, "#file-preview").await;
    // Drawn, so the link is there to be clicked.
    let mut dark = 0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let pixels = frame.screenshot().await.expect("the frame's pixels");
        dark = pixels_of(&pixels).0;
        if dark > 500 {
            break;
        }
    }
    assert!(
        dark > 500,
        "the PDF's frame stayed blank ({dark} dark pixels)"
    );
    let before = app.client.current_url().await.expect("url");
    // A click in the middle of the page, as a user focusing or scrolling it would.
    use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
    let click = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: frame.clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    app.client.perform_actions(click).await.expect("click");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = app.client.current_url().await.expect("url");
    assert_eq!(after, before, "the window stays on the app");
    assert_eq!(after.scheme(), "tauri", "{after}");
    assert_eq!(
        visits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the remote page was not asked for"
    );
    // And the app is still there, whole.
    app.wait_for(Locator::Css("#file-details h2"), 5).await;
    app.shot("56c-preview-pdf-link-clicked").await;
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));
}
