//! A desktop app's feel, measured in the real window: a Space's page fills the window and its
//! list scrolls inside, the toolbar is one row, the Transfers panel never covers a row, one whole
//! path by keyboard alone, axe-core on every screen, light and dark at two window sizes, and the
//! window's size kept from one run to the next.

use super::*;
use desktop::xdo;
use harness::{body_of, put};

/// The app's window, for the X keyboard (no window manager runs here: it is focused first).
fn app_window() -> String {
    let out = Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name", "^Spacedock$"])
        .output()
        .expect("xdotool");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .expect("the Spacedock window")
        .to_string()
}

/// Presses keys on the real keyboard (xdotool), as a person would, into the app's window.
fn press(keys: &[&str]) {
    let window = app_window();
    xdo(&["windowfocus", "--sync", &window]);
    for k in keys {
        std::thread::sleep(Duration::from_millis(150));
        xdo(&["key", "--clearmodifiers", k]);
    }
    std::thread::sleep(Duration::from_millis(300));
}

/// Types text on the real keyboard into the focused field of the app's window.
fn type_text(text: &str) {
    let window = app_window();
    xdo(&["windowfocus", "--sync", &window]);
    xdo(&["type", "--delay", "30", text]);
    std::thread::sleep(Duration::from_millis(300));
}

/// The element that has the keyboard's focus: its id, or its row's key.
async fn focused(app: &App) -> String {
    let got = app
        .client
        .execute(
            "const e = document.activeElement;
             return e ? (e.id || e.getAttribute('data-key') || e.tagName) : '';",
            vec![],
        )
        .await
        .expect("focus");
    got.as_str().unwrap_or_default().to_string()
}

/// axe-core (the npm package the UI's tests install) run on the page as it is now: its serious
/// and critical violations, each with the places it found them. The figures are printed for the
/// closing note's table.
async fn axe(app: &App, screen: &str) -> Vec<String> {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ui/node_modules/axe-core/axe.min.js"
    ))
    .expect("axe-core in ui/node_modules (npm ci in ui)");
    app.client
        .execute(
            &format!("{source}\n;window.axe = axe; return true;"),
            vec![],
        )
        .await
        .expect("axe-core loads");
    let found = app
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             window.axe.run(document, { resultTypes: ['violations'] }).then(
               (r) => done(r.violations.map((v) => ({
                 id: v.id, impact: v.impact, nodes: v.nodes.length,
                 at: v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ' — ' + (n.failureSummary || '').split('\\n').slice(1, 2).join(''))
               }))),
               (e) => done([{ id: 'axe-failed', impact: 'critical', nodes: 0, at: [String(e)] }]));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    let violations = found.as_array().cloned().unwrap_or_default();
    let grave: Vec<String> = violations
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(|v| format!("{screen}: {} ({}) {}", v["id"], v["impact"], v["at"]))
        .collect();
    let minor: usize = violations.len() - grave.len();
    eprintln!(
        "axe {screen}: {} serious or critical, {minor} moderate or minor",
        grave.len()
    );
    for v in &violations {
        eprintln!(
            "  axe {screen}: {} {} ×{} {}",
            v["impact"], v["id"], v["nodes"], v["at"]
        );
    }
    grave
}

/// The Space's page, measured: whether the page scrolls, whether the list scrolls inside, the
/// toolbar's rows, and where the list, the details pane and the Transfers panel are.
async fn measure(app: &App) -> serde_json::Value {
    app.client
        .execute(
            "const box = (e) => e ? e.getBoundingClientRect().toJSON() : null;
             const main = document.querySelector('main');
             const rows = document.getElementById('file-rows');
             const bar = document.querySelector('.toolbar');
             const parts = [...bar.querySelectorAll(':scope > nav, .tools > *')].map((e) => e.getBoundingClientRect());
             const middles = parts.map((b) => b.top + b.height / 2);
             return {
               pageScrolls: main.scrollHeight > main.clientHeight + 1
                 || document.documentElement.scrollHeight > window.innerHeight + 1,
               listScrolls: rows.scrollHeight > rows.clientHeight,
               toolbarHeight: bar.getBoundingClientRect().height,
               toolbarSpread: Math.max(...middles) - Math.min(...middles),
               list: box(rows),
               details: box(document.getElementById('file-details')),
               queue: box(document.getElementById('transfer-queue')),
               window: { width: window.innerWidth, height: window.innerHeight },
             };",
            vec![],
        )
        .await
        .expect("measure")
}

/// A measured figure; a missing one fails every comparison (NaN).
fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// What a Space's page must be, at any size: no page scroll, the list scrolling inside,
/// one toolbar row, the details pane beside the list and the Transfers panel below it.
fn assert_fills_the_window(m: &serde_json::Value, when: &str) {
    assert_eq!(m["pageScrolls"], false, "{when}: the page scrolls: {m}");
    assert_eq!(
        m["listScrolls"], true,
        "{when}: the list should scroll inside: {m}"
    );
    let spread = num(&m["toolbarSpread"]);
    let height = num(&m["toolbarHeight"]);
    assert!(
        spread < 4.0 && height < 48.0,
        "{when}: the toolbar wraps: {m}"
    );
    let list = &m["list"];
    let bottom = num(&list["bottom"]);
    if !m["details"].is_null() {
        let d = &m["details"];
        assert!(
            num(&d["left"]) >= num(&list["right"])
                && (num(&d["top"]) - num(&list["top"])).abs() < 60.0,
            "{when}: the details pane is not beside the list: {m}"
        );
    }
    if !m["queue"].is_null() {
        assert!(
            num(&m["queue"]["top"]) >= bottom - 0.5,
            "{when}: the Transfers panel covers rows: {m}"
        );
    }
    assert!(
        bottom <= num(&m["window"]["height"]) + 0.5,
        "{when}: the list runs past the window: {m}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spaces_page_fills_the_window_in_both_themes_and_axe_finds_nothing_serious() {
    let (_home, app, client, space) = harness::on_sandbox_with_space("layout").await;
    for n in 0..120 {
        put(&client, &space, &format!("report-{n:03}.txt"), b"quarterly").await;
    }
    put(&client, &space, "photos/beach.jpg", b"jpeg").await;
    let mut grave = Vec::new();

    // A running transfer for the screenshots: an upload held to 1 MB/s.
    app.click(Locator::Id("nav-settings")).await;
    app.click(Locator::Id("upload-limited")).await;
    app.type_into("upload-rate", "1").await;
    app.click(Locator::Id("save-settings")).await;
    app.wait_for(Locator::Id("settings-saved"), 20).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("film.mov");
    std::fs::write(&big, vec![7u8; 160 << 20]).expect("write");
    let mut started = false;

    for theme in ["light", "dark"] {
        app.click(Locator::Id("nav-settings")).await;
        app.click(Locator::Id(&format!("theme-{theme}"))).await;
        let marked = app
            .client
            .execute("return document.documentElement.dataset.theme;", vec![])
            .await
            .expect("theme");
        assert_eq!(marked, serde_json::json!(theme));
        for (w, h) in [(1024u32, 700u32), (1440, 900)] {
            app.client.set_window_size(w, h).await.expect("window size");
            let at = format!("{theme} {w}×{h}");
            let name = |screen: &str| format!("80-{theme}-{w}x{h}-{screen}");

            app.click(Locator::XPath("//nav//a[@href='#spaces']")).await;
            app.click(Locator::Id("refresh-spaces")).await;
            let open = format!("//td//button[.='{space}']");
            app.wait_for(Locator::XPath(&open), 20).await;
            // Its size from the server's own figures, one request.
            let size = app
                .text(Locator::Css(&format!(
                    "td.usage[data-space='{space}'] .figures[data-counted='byServer']"
                )))
                .await;
            if !started {
                assert_eq!(size, "1.1 KB · 121 files");
            }
            app.shot(&name("spaces")).await;
            grave.extend(axe(&app, &format!("Spaces list, {at}")).await);

            app.click(Locator::XPath(&open)).await;
            app.wait_for(Locator::Css("[data-key='report-000.txt']"), 20)
                .await;
            if !started {
                // Through the file dialog, as a person uploads.
                press(&["ctrl+u"]);
                choose_folder_in_dialog("Upload files", &big);
                started = true;
            }
            app.wait_for(
                Locator::Css("#transfer-queue li[data-key='film.mov'][data-state='running']"),
                30,
            )
            .await;
            app.click(Locator::XPath("//div[@data-key='report-003.txt']//button"))
                .await;
            app.wait_for(Locator::Id("file-details"), 20).await;
            let m = measure(&app).await;
            app.shot(&name("space")).await;
            assert_fills_the_window(&m, &at);
            grave.extend(axe(&app, &format!("Space files with details, {at}")).await);
            // The Transfers panel opened: the list gives way, still nothing covered.
            app.click(Locator::Id("transfers-toggle")).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let m = measure(&app).await;
            app.shot(&name("space-transfers")).await;
            assert_fills_the_window(&m, &format!("{at}, Transfers open"));
            app.click(Locator::Id("transfers-toggle")).await;

            app.click(Locator::Id("tab-settings")).await;
            app.wait_for(Locator::Id("save-listing"), 20).await;
            app.shot(&name("space-settings")).await;
            grave.extend(axe(&app, &format!("Space settings, {at}")).await);

            app.click(Locator::Id("nav-settings")).await;
            app.wait_for(Locator::Id("transfer-settings"), 20).await;
            app.shot(&name("settings")).await;
            grave.extend(axe(&app, &format!("Settings, {at}")).await);

            app.click(Locator::Id("nav-keys")).await;
            app.wait_for(Locator::Id("keys-table"), 30).await;
            app.shot(&name("keys")).await;
            grave.extend(axe(&app, &format!("Access keys, {at}")).await);

            app.click(Locator::Id("nav-sync")).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            app.shot(&name("sync")).await;
            grave.extend(axe(&app, &format!("Sync, {at}")).await);
        }
    }
    app.click(Locator::XPath("//nav//a[@href='#spaces']")).await;
    if app.client.find(Locator::Id("cancel-all")).await.is_ok() {
        app.click(Locator::Id("cancel-all")).await;
    }
    assert!(grave.is_empty(), "axe-core: {grave:#?}");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_path_by_keyboard_alone() {
    let home = Home::new();
    let app = App::launch(&home, &["--sandbox"]).await;
    app.wait_for(Locator::Id("spaces-empty"), 180).await;
    let (_, client) = harness::sandbox_owner(&app, &home).await;
    app.client
        .set_window_size(1024, 700)
        .await
        .expect("window size");
    let mut grave = axe(&app, "Spaces list (empty)").await;

    // Ctrl+N: the wizard, its name field ready; Enter creates.
    let space = format!("keys-only-{}", std::process::id());
    press(&["ctrl+n"]);
    app.wait_for(Locator::Id("create-space-form"), 20).await;
    assert_eq!(focused(&app).await, "space-name");
    type_text(&space);
    app.wait_for(Locator::Css("#name-availability[data-state='free']"), 20)
        .await;
    grave.extend(axe(&app, "Create a Space").await);
    press(&["Return"]);
    app.wait_for(Locator::Id("files-empty"), 30).await;
    grave.extend(axe(&app, "A new Space").await);

    // Ctrl+U: the system's file dialog; the file goes up.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("report.txt");
    std::fs::write(&file, b"by keyboard").expect("write");
    press(&["ctrl+u"]);
    choose_folder_in_dialog("Upload files", &file);
    app.wait_for(
        Locator::Css("#transfer-queue li[data-key='report.txt'][data-state='done']"),
        30,
    )
    .await;
    app.wait_for(Locator::Css("[role='row'][data-key='report.txt']"), 30)
        .await;
    assert_eq!(
        body_of(&client, &space, "report.txt").await.as_deref(),
        Some(&b"by keyboard"[..])
    );

    // An arrow puts the keyboard in the list, on the row; F2 renames, Escape closes without.
    press(&["Down"]);
    assert_eq!(focused(&app).await, "report.txt");
    press(&["F2"]);
    app.wait_for(Locator::Id("copy-dialog"), 10).await;
    assert_eq!(focused(&app).await, "copy-name");
    press(&["Escape"]);
    assert!(app.client.find(Locator::Id("copy-dialog")).await.is_err());
    press(&["Down", "F2"]);
    app.wait_for(Locator::Id("copy-dialog"), 10).await;
    press(&["ctrl+a"]);
    type_text("final.txt");
    press(&["Return"]);
    app.wait_for(Locator::Css("[role='row'][data-key='final.txt']"), 30)
        .await;
    assert_eq!(body_of(&client, &space, "report.txt").await, None);
    assert_eq!(
        body_of(&client, &space, "final.txt").await.as_deref(),
        Some(&b"by keyboard"[..])
    );

    // Ctrl+C on the row: its URL on the system clipboard.
    let origin = app.text(Locator::Id("url-origin")).await;
    press(&["Down", "ctrl+c"]);
    app.wait_for(Locator::Id("copied-note"), 10).await;
    assert_eq!(desktop::clipboard(), format!("{origin}/final.txt"));

    // The menu key: the rows' menu, with the bulk bar's actions; Escape closes it.
    press(&["Down", "Menu"]);
    app.wait_for(Locator::Id("row-menu"), 10).await;
    assert_eq!(focused(&app).await, "menu-details");
    app.shot("81-row-menu").await;
    grave.extend(axe(&app, "The rows' menu").await);
    press(&["Escape"]);
    assert!(app.client.find(Locator::Id("row-menu")).await.is_err());

    // Delete asks first, the question focused (a stray Enter chooses nothing); Tab, Enter deletes.
    press(&["Down", "Delete"]);
    app.wait_for(Locator::Id("bulk-delete-confirm"), 10).await;
    assert_eq!(focused(&app).await, "bulk-delete-ask");
    press(&["Return"]);
    assert!(body_of(&client, &space, "final.txt").await.is_some());
    press(&["Tab"]);
    assert_eq!(focused(&app).await, "bulk-delete-confirm");
    app.shot("82-delete-by-keyboard").await;
    press(&["Return"]);
    app.wait_for(Locator::Id("files-empty"), 30).await;
    assert_eq!(body_of(&client, &space, "final.txt").await, None);

    assert!(grave.is_empty(), "axe-core: {grave:#?}");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_window_opens_as_big_as_it_was_left() {
    let home = Home::new();
    let app = App::launch(&home, &[]).await;
    app.wait_for(Locator::Id("choose-sandbox"), 30).await;
    app.client
        .set_window_size(1100, 720)
        .await
        .expect("window size");
    // Kept a second after the last change: a kill, not only a clean quit, keeps it.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    home.kill_app();
    app.quit().await;

    let app = App::launch(&home, &[]).await;
    app.wait_for(Locator::Id("choose-sandbox"), 30).await;
    let (w, h) = app.client.get_window_size().await.expect("window size");
    assert_eq!((w, h), (1100, 720), "the size the window was left at");
    app.quit().await;
}
