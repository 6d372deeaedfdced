//! What a person does with the desktop around the window: a small window, the GTK folder
//! dialog, and a real OS file drop.

use super::*;

/// The page fits a 1,024 × 700 window: nothing cut off, no sideways scrolling.
pub async fn fits_a_small_window(app: &App, shot: &str) {
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
pub fn choose_folder_in_dialog(title: &str, folder: &std::path::Path) {
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

/// What the system clipboard holds now, as another program pastes it.
pub fn clipboard() -> String {
    let out = Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .output()
        .expect("xclip");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs xdotool as the X pointer and keyboard; the test fails if it does.
pub fn xdo(args: &[&str]) {
    let ok = Command::new("xdotool")
        .args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "xdotool {args:?}");
}

/// Moves the X pointer to (`x`, `y`) and holds the left button down there.
fn press_at(x: i32, y: i32) {
    let (xs, ys) = (x.to_string(), y.to_string());
    xdo(&[
        "mousemove",
        &xs,
        &ys,
        "sleep",
        "0.2",
        "mousedown",
        "1",
        "sleep",
        "0.2",
    ]);
}

/// Presses on a row of the file browser at (`x`, `y`) and moves past the few pixels that make a
/// press a drag; then the system's drag holds the pointer.
pub fn start_dragging_row(x: i32, y: i32) {
    press_at(x, y);
    let ys = y.to_string();
    for dx in [4, 8, 12, 20] {
        xdo(&["mousemove", &(x + dx).to_string(), &ys, "sleep", "0.05"]);
    }
    std::thread::sleep(Duration::from_millis(800));
}

/// Drags the row of `from` onto the row of `onto` in the file browser with the real pointer, and
/// lets go there.
pub async fn drag_row_onto_row(app: &App, from: &str, onto: &str) {
    let row = |key: String| async move {
        let found = app
            .wait_for(Locator::Css(&format!("[data-key='{key}'] .col-size")), 20)
            .await;
        let (x, y, w, h) = found.rectangle().await.expect("row");
        ((x + w / 2.0) as i32, (y + h / 2.0) as i32)
    };
    let (x, y) = row(from.to_string()).await;
    let (tx, ty) = row(onto.to_string()).await;
    start_dragging_row(x, y);
    let steps: Vec<(i32, i32)> = (1..=5)
        .map(|step| (x + (tx - x) * step / 5, y + (ty - y) * step / 5))
        .collect();
    drag_through(&steps);
    xdo(&["sleep", "0.3", "mouseup", "1"]);
}

/// Moves the held pointer through `points`, as a hand would.
pub fn drag_through(points: &[(i32, i32)]) {
    for (x, y) in points {
        xdo(&["mousemove", &x.to_string(), &y.to_string(), "sleep", "0.15"]);
    }
}

/// Waits up to 10 s for a window titled exactly `title` (a helper script's GTK window).
pub fn wait_for_window(title: &str) {
    let shown = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        Command::new("xdotool")
            .args(["search", "--name", &format!("^{title}$")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    assert!(shown, "the {title} window did not appear");
    std::thread::sleep(Duration::from_millis(500));
}

/// A real OS file drop: a GTK drag source and xdotool moving the X pointer, so the app gets the
/// same XDND drop a file manager would send.
pub fn drop_onto_window(paths: &[&std::path::Path]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/drag_source.py");
    let mut source = Command::new("/usr/bin/python3")
        .arg(script)
        .args(paths)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("python3 with GTK (python3-gi)");
    wait_for_window("dragsrc");
    press_at(1050, 160);
    for x in ["1040", "1020", "1000", "950", "900", "800", "700", "600"] {
        xdo(&["mousemove", x, "520", "sleep", "0.05"]);
    }
    xdo(&["sleep", "0.3", "mouseup", "1", "sleep", "0.5"]);
    let _ = source.kill();
    let _ = source.wait();
}
