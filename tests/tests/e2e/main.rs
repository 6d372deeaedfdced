//! End-to-end through the real window: the built app, driven by tauri-driver + WebKitWebDriver
//! under Xvfb, with the real sandbox and the real keychain. Screenshots go to the folder the
//! README names (`$SPACEDOCK_SCREENSHOTS`, by default `<target>/screenshots`).

mod harness;

use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use harness::{App, Home};
use spacedock::core::connection::Endpoint;
use spacedock::core::keychain::Keychain;
use spacedock::core::s3;

const IDENTIFIER: &str = "io.spacedock.app";

#[tokio::test(flavor = "multi_thread")]
async fn first_run_on_the_sandbox_then_a_wrong_secret_then_a_later_start() {
    let home = Home::new();

    // --- first run: the chooser, then the local sandbox ---
    let app = App::launch(&home, &[]).await;
    let sandbox_button = app.wait_for(Locator::Id("choose-sandbox"), 30).await;
    app.shot("01-welcome").await;
    let clicked = Instant::now();
    sandbox_button.click().await.expect("click Local sandbox");
    app.wait_for(Locator::Css("[data-step='monitor'][data-state='done']"), 60)
        .await;
    app.shot("02-sandbox-starting").await;
    app.wait_for(Locator::Id("spaces-empty"), 180).await;
    let first_start = clicked.elapsed();
    app.shot("03-spaces-empty").await;

    // The owner's secret is in the keychain, under the app's identifier, and opens the sandbox.
    let endpoint_url = app.text(Locator::Id("connection-endpoint")).await;
    assert!(
        endpoint_url.starts_with("http://127.0.0.1:"),
        "{endpoint_url}"
    );
    let keychain = Keychain::new(IDENTIFIER);
    let owner_secret = keychain
        .get("sandbox-owner")
        .expect("keychain")
        .expect("owner secret saved");
    let profiles = home.store_json();
    let owner_key = profiles["connections"][0]["accessKey"]
        .as_str()
        .expect("owner access key")
        .to_string();
    let endpoint = Endpoint {
        url: endpoint_url.clone(),
        signing_region: "us-east-1".into(),
        path_style: true,
    };
    let client = s3::client(&endpoint, &owner_key, &owner_secret);
    for name in ["assets", "backups-2026"] {
        client
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .expect("create bucket");
    }
    app.click(Locator::Css("main header button")).await; // Refresh
    app.wait_for(
        Locator::XPath("//table[@id='spaces-table']//td[.='backups-2026']"),
        30,
    )
    .await;
    assert!(app
        .text(Locator::Id("spaces-table"))
        .await
        .contains("assets"));
    app.shot("04-spaces-list").await;

    // --- another connection with a wrong secret, then an unknown key ---
    app.click(Locator::Css("button.switch")).await;
    app.wait_for(Locator::Id("saved-title"), 20).await;
    app.shot("05-saved-connections").await;
    app.click(Locator::Id("choose-custom")).await;
    app.type_into("conn-name", "Sandbox by URL").await;
    app.type_into("conn-endpoint", &endpoint_url).await;
    app.type_into("conn-access-key", &owner_key).await;
    app.type_into("conn-secret", "definitely-not-the-secret-000000000000")
        .await;
    app.click(Locator::Id("test-connection")).await;
    let alert = app
        .wait_for(Locator::Css("#test-result[data-kind='wrongSecret']"), 30)
        .await;
    let message = alert.text().await.expect("text");
    assert!(
        message.contains("secret doesn't match this access key"),
        "{message}"
    );
    app.shot("06-wrong-secret").await;

    app.type_into("conn-access-key", "NOSUCHKEY00000000000")
        .await;
    app.click(Locator::Id("test-connection")).await;
    let alert = app
        .wait_for(
            Locator::Css("#test-result[data-kind='unknownAccessKey']"),
            30,
        )
        .await;
    assert!(alert
        .text()
        .await
        .expect("text")
        .contains("doesn't know this access key"));

    // --- the right secret: saved, connected, listed ---
    app.type_into("conn-access-key", &owner_key).await;
    app.type_into("conn-secret", owner_secret.expose()).await;
    app.click(Locator::Id("test-connection")).await;
    let ok = app.wait_for(Locator::Css("#test-result.ok"), 30).await;
    assert!(
        ok.text().await.expect("text").contains("there are 2"),
        "both Spaces are counted"
    );
    app.click(Locator::Id("save-connection")).await;
    app.wait_for(
        Locator::XPath("//table[@id='spaces-table']//td[.='assets']"),
        30,
    )
    .await;
    assert_eq!(
        app.text(Locator::Id("connection-name")).await,
        "Sandbox by URL"
    );
    // The page keeps no copy of the secret once it is saved.
    let page = app.client.source().await.expect("page source");
    assert!(
        !page.contains(owner_secret.expose()),
        "the secret is in the page after saving"
    );

    // Back to the sandbox connection, so the next launch starts it.
    app.click(Locator::Css("button.switch")).await;
    app.click(Locator::Css("[data-testid='connect-sandbox']"))
        .await;
    app.wait_for(Locator::Id("spaces-table"), 60).await;
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));

    // --- the secret never landed in a file the app wrote ---
    let leaks = home.files_containing(owner_secret.expose());
    assert!(leaks.is_empty(), "the secret was written to {leaks:?}");
    let saved = std::fs::read_to_string(home.store_path()).expect("store");
    assert!(
        saved.contains("Sandbox by URL") && saved.contains(&owner_key),
        "the store holds the connection itself"
    );
    let custom_id = home.store_json()["connections"]
        .as_array()
        .and_then(|c| c.iter().find(|p| p["name"] == "Sandbox by URL"))
        .and_then(|p| p["id"].as_str())
        .expect("saved custom connection")
        .to_string();
    assert_eq!(
        keychain
            .get(&format!("connection:{custom_id}"))
            .expect("keychain"),
        Some(owner_secret.clone()),
        "the custom connection's secret is in the keychain"
    );

    // --- a later start: the app reopens the sandbox it used last ---
    let launched = Instant::now();
    let app = App::launch(&home, &[]).await;
    app.wait_for(
        Locator::XPath("//table[@id='spaces-table']//td[.='assets']"),
        120,
    )
    .await;
    let later_start = launched.elapsed();
    let idle = home.daemon_memory_bytes();
    app.shot("07-later-start").await;
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));

    eprintln!(
        "MEASURED click to first listed Spaces: first start {:.1} s; app launch to listed Spaces, later start {:.1} s; daemons idle {} MB",
        first_start.as_secs_f64(),
        later_start.as_secs_f64(),
        idle / 1_000_000
    );
    // Leave the test keychain as we found it.
    let _ = keychain.delete("sandbox-owner");
    let _ = keychain.delete(&format!("connection:{custom_id}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn digitalocean_form_offers_every_region_and_checks_input_before_sending() {
    // DigitalOcean itself can't be reached from the test machine; what can be checked is that the
    // form offers every region and refuses a malformed secret before any request.
    let home = Home::new();
    let app = App::launch(&home, &[]).await;
    app.wait_for(Locator::Id("choose-digitalocean"), 30).await;
    app.click(Locator::Id("choose-digitalocean")).await;
    let regions = app.text(Locator::Id("conn-region")).await;
    for slug in [
        "nyc3", "ams3", "sfo2", "sfo3", "sgp1", "lon1", "fra1", "tor1", "blr1", "syd1", "atl1",
    ] {
        assert!(regions.contains(slug), "region {slug} offered: {regions}");
    }
    app.type_into("conn-access-key", "DO00EXAMPLE").await;
    app.type_into("conn-secret", "has a space").await;
    app.click(Locator::Id("test-connection")).await;
    let alert = app
        .wait_for(Locator::Css("#test-result[data-kind='invalidInput']"), 10)
        .await;
    assert!(alert
        .text()
        .await
        .expect("text")
        .contains("contains a space"));
    app.shot("08-digitalocean-form").await;
    app.quit().await;
}

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
        Locator::XPath("//p[@id='files-status'][starts-with(., '1 item')]"),
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
    let clipboard = Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .output()
        .expect("xclip");
    assert_eq!(String::from_utf8_lossy(&clipboard.stdout), origin);
    app.shot("12-copied").await;

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

    // Destroy, typing the name to confirm; the list is empty again.
    app.click(Locator::Id("destroy-begin")).await;
    app.type_into("destroy-typed", &name).await;
    app.click(Locator::Id("destroy-confirm")).await;
    app.wait_for(Locator::Id("spaces-empty"), 30).await;
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));
    let _ = Keychain::new(IDENTIFIER).delete("sandbox-owner");
}

/// A real OS file drop: a GTK drag source and xdotool moving the X pointer, so the app gets the
/// same XDND drop a file manager would send.
/// The page fits a 1,024 × 700 window: nothing cut off, no sideways scrolling.
async fn fits_a_small_window(app: &App, shot: &str) {
    app.client
        .set_window_size(1024, 700)
        .await
        .expect("a 1,024 × 700 window");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let overflow = app
        .client
        .execute(
            "const w = document.documentElement.clientWidth;
             const cut = [...document.querySelectorAll('button, input, select, th, td')]
               .filter((e) => e.getBoundingClientRect().right > w + 1)
               .map((e) => e.id || e.textContent.trim().slice(0, 30));
             const wide = [...document.querySelectorAll('*')]
               .filter((e) => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'hidden'
                 && !e.classList.contains('grid-wrap'))
               .map((e) => e.id || e.className || e.tagName);
             return { width: w, cut, wide };",
            vec![],
        )
        .await
        .expect("layout");
    app.shot(shot).await;
    assert_eq!(
        (overflow["cut"].clone(), overflow["wide"].clone()),
        (serde_json::json!([]), serde_json::json!([])),
        "{overflow}"
    );
    app.client
        .set_window_size(1280, 800)
        .await
        .expect("back to 1,280 × 800");
}

/// Picks `folder` in the app's GTK folder dialog titled `title`, as a person would: type its path
/// in the location bar, then choose it.
fn choose_folder_in_dialog(title: &str, folder: &std::path::Path) {
    let find = || {
        Command::new("xdotool")
            .args(["search", "--name", &format!("^{title}")])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .map(str::to_string)
            })
    };
    let window = (0..100)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            find()
        })
        .unwrap_or_else(|| panic!("the “{title}” dialog did not appear"));
    std::thread::sleep(Duration::from_millis(700));
    let path = folder.display().to_string();
    for args in [
        // No window manager runs here: focus the dialog, then type as a keyboard would.
        vec!["windowfocus", "--sync", window.as_str()],
        vec!["key", "ctrl+l"],
        vec!["type", "--delay", "15", path.as_str()],
        // GTK completes a name inline, selected: Delete drops what it added.
        vec!["key", "Delete"],
        vec!["key", "Return"],
    ] {
        std::thread::sleep(Duration::from_millis(300));
        let ok = Command::new("xdotool")
            .args(&args)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "xdotool {args:?}");
    }
    // Still open (Return entered the folder): choose it.
    std::thread::sleep(Duration::from_millis(700));
    if find().is_some() {
        let ok = Command::new("xdotool")
            .args(["key", "Return"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "xdotool Return");
    }
}

fn drop_onto_window(paths: &[&std::path::Path]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/drag_source.py");
    let mut source = Command::new("/usr/bin/python3")
        .arg(script)
        .args(paths)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("python3 with GTK (python3-gi)");
    let shown = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        Command::new("xdotool")
            .args(["search", "--name", "^dragsrc$"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    assert!(shown, "the drag source window did not appear");
    std::thread::sleep(Duration::from_millis(500));
    let xdo = |args: &[&str]| {
        let ok = Command::new("xdotool")
            .args(args)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "xdotool {args:?}");
    };
    xdo(&[
        "mousemove",
        "1050",
        "160",
        "sleep",
        "0.2",
        "mousedown",
        "1",
        "sleep",
        "0.2",
    ]);
    for x in ["1040", "1020", "1000", "950", "900", "800", "700", "600"] {
        xdo(&["mousemove", x, "520", "sleep", "0.05"]);
    }
    xdo(&["sleep", "0.3", "mouseup", "1", "sleep", "0.5"]);
    let _ = source.kill();
    let _ = source.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_folder_uploads_it_with_progress_and_the_chosen_permission() {
    let home = Home::new();
    let app = App::launch(&home, &["--sandbox"]).await;
    app.wait_for(Locator::Id("spaces-empty"), 180).await;
    let keychain = Keychain::new(IDENTIFIER);
    let (_, client) = harness::sandbox_owner(&app, &home).await;
    let space = format!("drop-{}", std::process::id());
    client
        .create_bucket()
        .bucket(&space)
        .send()
        .await
        .expect("create");
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
    let got = |name: &str| std::fs::read(downloads.path().join("holiday").join(name)).expect(name);
    assert_eq!(got("empty.txt"), b"mine", "the file that was there is kept");
    assert_eq!(got("empty (1).txt"), b"");
    assert!(got("video.bin") == big, "the download arrived whole");
    assert_eq!(got("day 2/notes+ünï.txt"), b"sunny");
    app.shot("21-downloaded").await;
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));
    let _ = keychain.delete("sandbox-owner");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_limited_read_key_opens_its_space_and_no_other() {
    let home = Home::new();
    let app = App::launch(&home, &["--sandbox"]).await;
    app.wait_for(Locator::Id("spaces-empty"), 180).await;
    let keychain = Keychain::new(IDENTIFIER);
    let (_, owner) = harness::sandbox_owner(&app, &home).await;
    let granted = format!("granted-{}", std::process::id());
    let other = format!("other-{}", std::process::id());
    for space in [&granted, &other] {
        owner
            .create_bucket()
            .bucket(space)
            .send()
            .await
            .expect("create");
        owner
            .put_object()
            .bucket(space)
            .key("report.txt")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"q3"))
            .send()
            .await
            .expect("put");
    }

    app.click(Locator::Id("nav-keys")).await;
    app.wait_for(Locator::Id("keys-table"), 30).await;
    app.shot("20-keys").await;
    app.click(Locator::Id("generate-key")).await;
    app.type_into("key-name", "client-a").await;
    app.click(Locator::Id("scope-limited")).await;
    app.click(Locator::Css(&format!(
        "select[data-space='{granted}'] option[value='read']"
    )))
    .await;
    app.click(Locator::Id("key-generate-submit")).await;
    app.wait_for(Locator::Id("key-created"), 30).await;
    app.shot("21-secret-shown-once").await;
    let access_key = app.text(Locator::Id("created-access")).await;
    let secret = app.text(Locator::Id("created-secret")).await;
    app.click(Locator::Id("created-secret-copy")).await;
    let clipboard = Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .output()
        .expect("xclip");
    assert_eq!(
        String::from_utf8_lossy(&clipboard.stdout),
        secret,
        "Copy puts the secret on the clipboard"
    );
    app.click(Locator::Id("created-done")).await;
    assert!(
        !app.client.source().await.expect("source").contains(&secret),
        "the secret is gone from the page"
    );

    // The grid, tested for real.
    for space in [&granted, &other] {
        app.click(Locator::Css(&format!(
            "td[data-key='{access_key}'][data-space='{space}'] button"
        )))
        .await;
    }
    let cell = |space: &str| {
        format!("//td[@data-key='{access_key}'][@data-space='{space}']//span[@class and contains(@class,'test')]")
    };
    app.wait_for(
        Locator::XPath(&format!("{}[contains(., 'list ✓')]", cell(&granted))),
        20,
    )
    .await;
    app.wait_for(
        Locator::XPath(&format!("{}[contains(., 'list ✗')]", cell(&other))),
        20,
    )
    .await;
    app.shot("22-key-grid").await;
    fits_a_small_window(&app, "22b-keys-at-1024").await;

    // The owner opens the granted Space with client-a's key; the Space remembers it.
    app.click(Locator::Css("nav a[href='#spaces']")).await;
    app.wait_for(Locator::Id("spaces-table"), 30).await;
    app.click(Locator::Css(&format!(
        "#open-space-key option[value='{access_key}']"
    )))
    .await;
    app.type_into("open-space-name", &granted).await;
    app.click(Locator::Id("open-space-submit")).await;
    let opens_with = app.wait_for(Locator::Id("opens-with"), 30).await;
    assert!(opens_with.text().await.expect("text").contains(&access_key));
    app.wait_for(Locator::Css("[data-key='report.txt']"), 30)
        .await;
    app.shot("23-space-opens-with-key").await;
    fits_a_small_window(&app, "23b-space-at-1024").await;
    app.click(Locator::Css(".crumbs button")).await;
    app.wait_for(
        Locator::XPath(&format!(
            "//table[@id='spaces-table']//tr[.//button[.='{granted}']]//span[contains(@class,'badge') and .='client-a']"
        )),
        30,
    )
    .await;
    app.shot("24-spaces-with-their-keys").await;
    fits_a_small_window(&app, "24b-spaces-at-1024").await;
    app.click(Locator::Id("nav-keys")).await;
    app.wait_for(Locator::Id("keys-table"), 30).await;

    // Connect with it: its Space opens, another is refused with a clear message.
    app.click(Locator::XPath(
        "//tr[@data-name='client-a']//button[contains(@class,'connect')]",
    ))
    .await;
    app.wait_for(
        Locator::XPath(&format!(
            "//table[@id='spaces-table']//button[.='{granted}']"
        )),
        30,
    )
    .await;
    assert_eq!(app.text(Locator::Id("connection-name")).await, "client-a");
    app.type_into("open-space-name", &other).await;
    app.click(Locator::Css(".open-by-name button[type='submit']"))
        .await;
    let refused = app
        .wait_for(Locator::Css("#open-error[data-kind='accessDenied']"), 20)
        .await;
    assert!(refused.text().await.expect("text").contains(&other));
    app.shot("25-other-space-refused").await;
    app.click(Locator::XPath(&format!(
        "//table[@id='spaces-table']//button[.='{granted}']"
    )))
    .await;
    app.wait_for(Locator::Css("[data-key='report.txt']"), 30)
        .await;
    app.quit().await;
    home.wait_for_daemons_to_stop(Duration::from_secs(40));

    // The key's secret is in the keychain (the app can use it) and in no file the app wrote.
    assert_eq!(
        keychain
            .get(&format!("key:{access_key}"))
            .expect("keychain")
            .map(|s| s.expose().to_string()),
        Some(secret.clone())
    );
    let leaks = home.files_containing(&secret);
    assert!(
        leaks.is_empty(),
        "the key's secret was written to {leaks:?}"
    );
    let _ = keychain.delete(&format!("key:{access_key}"));
    let _ = keychain.delete("sandbox-owner");
}

#[tokio::test(flavor = "multi_thread")]
async fn digitalocean_keys_through_its_api_with_a_token_kept_in_the_keychain() {
    // DigitalOcean's API can't be reached from here: the app is pointed at the named fake of it
    // (SPACEDOCK_DIGITALOCEAN_API). Its Spaces endpoint can't be reached either, which the keys
    // page must survive.
    let fake = spacedock_tests::fake_do_api::FakeDigitalOceanApi::start();
    let home = Home::new();
    let keychain = Keychain::new(IDENTIFIER);
    // A DigitalOcean connection saved on an earlier day.
    let id = format!("do-e2e-{}", std::process::id());
    std::fs::create_dir_all(home.app_data()).expect("data dir");
    std::fs::write(
        home.store_path(),
        serde_json::json!({ "connections": [{
            "id": id, "name": "DigitalOcean nyc3", "provider": { "type": "digitalOcean", "region": "nyc3" },
            "accessKey": "DO00E2EEXAMPLE0000", "space": null, "spaceKeys": {}
        }]})
        .to_string(),
    )
    .expect("store");
    keychain
        .set(
            &format!("connection:{id}"),
            &spacedock::core::secret::Secret::new("do-e2e-connection-secret"),
        )
        .expect("keychain");
    let _ = keychain.delete("digitalocean-token");

    let app = App::launch_with_env(&home, &[], &[("SPACEDOCK_DIGITALOCEAN_API", &fake.base)]).await;
    app.click(Locator::Css(&format!("[data-testid='connect-{id}']")))
        .await;
    app.wait_for(Locator::Id("spaces-error"), 60).await;
    app.click(Locator::Id("nav-keys")).await;

    // The token is asked for once, and kept in the keychain.
    app.type_into("api-token", "good-token").await;
    app.click(Locator::XPath("//button[.='Save token']")).await;
    app.wait_for(Locator::Id("keys-table"), 60).await;
    app.wait_for(Locator::Id("spaces-problem"), 10).await;

    app.click(Locator::Id("generate-key")).await;
    app.type_into("key-name", "ci-deploy").await;
    app.click(Locator::Id("key-generate-submit")).await;
    app.wait_for(Locator::Id("key-created"), 30).await;
    let access_key = app.text(Locator::Id("created-access")).await;
    let secret = app.text(Locator::Id("created-secret")).await;
    let made = fake.keys();
    assert_eq!(made.len(), 1, "one key was created through the API");
    assert_eq!(made[0]["access_key"], serde_json::json!(access_key));
    assert_eq!(made[0]["name"], serde_json::json!("ci-deploy"));
    assert!(
        secret.starts_with("fake-secret-"),
        "the API's secret is shown: {secret}"
    );
    app.click(Locator::Id("created-done")).await;
    let row = app
        .wait_for(Locator::Css("tr[data-name='ci-deploy']"), 30)
        .await;
    let text = row.text().await.expect("text");
    assert!(
        text.contains("Full access") && text.contains("2026"),
        "{text}"
    );

    // A key made in the Control Panel, added here unnamed: DigitalOcean's name for it is used.
    let panel = spacedock::core::keys::digitalocean::DoApi::new(
        &fake.base,
        &spacedock::core::secret::Secret::new("good-token"),
    );
    let (made_there, made_secret) = panel
        .create("made-in-panel", &spacedock::core::keys::Scope::Full)
        .await
        .expect("create in the 'panel'");
    app.click(Locator::Id("add-key")).await;
    app.type_into("add-key-access", &made_there.access_key)
        .await;
    app.type_into("add-key-secret", made_secret.expose()).await;
    app.click(Locator::Id("add-key-submit")).await;
    app.wait_for(
        Locator::XPath("//tr[@data-name='made-in-panel']//button[contains(@class,'connect')]"),
        30,
    )
    .await;
    app.shot("26-digitalocean-keys").await;

    // Rename and revoke go through the API too.
    app.click(Locator::XPath(
        "//tr[@data-name='ci-deploy']//button[.='Rename']",
    ))
    .await;
    let input = app
        .wait_for(Locator::Css("input[aria-label='New name']"), 10)
        .await;
    input.clear().await.expect("clear");
    input.send_keys("ci-deploy-2").await.expect("type");
    app.click(Locator::XPath("//tr//button[.='Save']")).await;
    app.wait_for(Locator::Css("tr[data-name='ci-deploy-2']"), 30)
        .await;
    assert_eq!(fake.keys()[0]["name"], serde_json::json!("ci-deploy-2"));
    app.click(Locator::XPath(
        "//tr[@data-name='ci-deploy-2']//button[contains(., 'Delete')]",
    ))
    .await;
    app.click(Locator::XPath("//button[.='Revoke']")).await;
    let t0 = Instant::now();
    while fake
        .keys()
        .iter()
        .any(|k| k["access_key"] == serde_json::json!(access_key))
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the key was not revoked"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.quit().await;

    assert_eq!(
        keychain
            .get("digitalocean-token")
            .expect("keychain")
            .map(|s| s.expose().to_string())
            .as_deref(),
        Some("good-token")
    );
    assert!(keychain
        .get(&format!("key:{access_key}"))
        .expect("keychain")
        .is_none());
    assert_eq!(
        keychain
            .get(&format!("key:{}", made_there.access_key))
            .expect("keychain")
            .as_ref(),
        Some(&made_secret),
        "the added key's secret is in the keychain"
    );
    for needle in ["good-token", secret.as_str(), made_secret.expose()] {
        let leaks = home.files_containing(needle);
        assert!(leaks.is_empty(), "a secret was written to {leaks:?}");
    }
    let _ = keychain.delete("digitalocean-token");
    let _ = keychain.delete(&format!("connection:{id}"));
    let _ = keychain.delete(&format!("key:{}", made_there.access_key));
}
