//! Launching the real app under tauri-driver with a home folder of its own, and looking at what it left.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

pub fn app_path() -> PathBuf {
    std::env::var_os("SPACEDOCK_APP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../debug/spacedock"))
}

pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("SPACEDOCK_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../screenshots"))
}

/// A home folder of its own, so every launch in it is a user's first (or later) run, for real.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("spacedock-home-")
                .tempdir()
                .expect("temp home"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn app_data(&self) -> PathBuf {
        self.path().join(".local/share/io.spacedock.app")
    }

    pub fn store_path(&self) -> PathBuf {
        self.app_data().join("connections.json")
    }

    pub fn store_json(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.store_path()).expect("the store file exists");
        serde_json::from_str(&text).expect("the store is JSON")
    }

    /// Every file under this home holding `needle`. The sandbox cluster's own stores (mon and OSD
    /// data) are skipped: they are the server's database, which keeps its users' keys by design.
    pub fn files_containing(&self, needle: &str) -> Vec<PathBuf> {
        let sandbox = self.app_data().join("sandbox");
        let skip = [sandbox.join("mon"), sandbox.join("osd")];
        let (found, scanned) = spacedock_tests::files_holding(self.path(), needle, &skip);
        assert!(
            scanned >= 3,
            "expected the store, the log and the sandbox files, scanned {scanned}"
        );
        assert!(
            self.app_data().join("logs/spacedock.log").exists(),
            "the app writes a log"
        );
        found
    }

    /// Pids of sandbox daemons started from this home.
    pub fn daemons(&self) -> Vec<u32> {
        let marker = self.path().to_string_lossy().to_string();
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            let zombie = std::fs::read_to_string(entry.path().join("stat"))
                .map(|s| s.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')))
                .unwrap_or(false);
            if !zombie && cmdline.contains(&marker) && cmdline.contains("ceph.conf") {
                pids.push(pid);
            }
        }
        pids
    }

    /// Kills the app started from this home at once (SIGKILL), as a crash or a power cut would
    /// end it: nothing of its own runs after. Its daemons stop with it.
    pub fn kill_app(&self) {
        let killed = kill_apps_from(self.path());
        assert_eq!(killed, 1, "one app process runs from this home");
        let started = Instant::now();
        while !self.daemons().is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the daemons outlived the killed app"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn daemon_memory_bytes(&self) -> u64 {
        self.daemons()
            .iter()
            .filter_map(|pid| {
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                let kb: u64 = status
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()?;
                Some(kb * 1024)
            })
            .sum()
    }

    /// Quitting the app must stop the daemons; fail (and clean up) if any is left.
    pub fn wait_for_daemons_to_stop(&self, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.daemons().is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let left = self.daemons();
        for pid in &left {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        panic!("sandbox daemons still running {limit:?} after the app quit: {left:?}");
    }
}

/// The app processes started from `home` (found by their binary and HOME).
fn apps_from(home: &Path) -> Vec<i32> {
    let app = std::fs::canonicalize(app_path()).expect("the app binary");
    let home = format!("HOME={}", home.display());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let exe = std::fs::read_link(entry.path().join("exe")).ok();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let ours = environ.split(|b| *b == 0).any(|v| v == home.as_bytes());
        if exe.as_deref() == Some(app.as_path()) && ours {
            pids.push(pid);
        }
    }
    pids
}

/// Kills (SIGKILL) every app process started from `home`; returns how many there were (a
/// killed one is counted until it is gone).
fn kill_apps_from(home: &Path) -> usize {
    let pids = apps_from(home);
    for pid in &pids {
        // SAFETY: kill(2) on an app a test launched, found by its binary and home.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    pids.len()
}

/// tauri-driver, and the home the app runs from.
struct Driver(Child, PathBuf);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        // The app outlives tauri-driver (it is WebKitWebDriver's child) and would still hold
        // the one-instance name when the next test launches, which then only brings this
        // window forward, or fails while this one goes away. A test that wants a clean quit
        // quits first; what is left here is ended, and gone before the next launch.
        let started = Instant::now();
        while kill_apps_from(&self.1) > 0 && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The running app and a WebDriver session on its window.
pub struct App {
    pub client: Client,
    _driver: Driver,
}

fn free_port_pair() -> u16 {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

impl App {
    pub async fn launch(home: &Home, args: &[&str]) -> App {
        App::launch_with_env(home, args, &[]).await
    }

    /// Launches with extra environment variables for the app (tauri-driver passes its own on).
    pub async fn launch_with_env(home: &Home, args: &[&str], env: &[(&str, &str)]) -> App {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "run under an X server (xvfb-run)"
        );
        let app = app_path();
        assert!(
            app.exists(),
            "build the app first: {} is missing",
            app.display()
        );
        let port = free_port_pair();
        let child = Command::new("tauri-driver")
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &(port + 1).to_string(),
            ])
            .env("HOME", home.path())
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_CACHE_HOME")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tauri-driver on PATH (cargo install tauri-driver --locked)");
        let driver = Driver(child, home.path().to_path_buf());
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "tauri-driver did not listen"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), serde_json::json!("wry"));
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app, "args": args }),
        );
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session on the app");
        App {
            client,
            _driver: driver,
        }
    }

    pub async fn wait_for(&self, locator: Locator<'_>, secs: u64) -> Element {
        let shown = format!("{locator:?}");
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(secs))
            .for_element(locator)
            .await
        {
            Ok(e) => e,
            Err(e) => {
                self.shot("failure").await;
                let body = self.client.find(Locator::Css("body")).await;
                let text = match body {
                    Ok(b) => b.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                panic!("{shown} did not appear within {secs} s ({e}); the page says: {text}");
            }
        }
    }

    pub async fn click(&self, locator: Locator<'_>) {
        let shown = format!("{locator:?}");
        let element = self.wait_for(locator, 30).await;
        // Into view first, as a person scrolls to it: WebKit's click does not scroll a region
        // that scrolls inside the page (a Space's settings, the details pane).
        let at = serde_json::to_value(&element).expect("element");
        let _ = (self.client)
            .execute("arguments[0].scrollIntoView({block: 'nearest'})", vec![at])
            .await;
        if let Err(e) = element.click().await {
            self.shot("failure").await;
            panic!("click on {shown}: {e}");
        }
    }

    /// The element's text as the DOM has it (WebDriver's visible text can drop clipped text), with
    /// runs of white space read as one space, as a person reads them.
    /// An element drawn anew between being found and being read is found again.
    pub async fn text(&self, locator: Locator<'_>) -> String {
        let mut tries = 0;
        loop {
            let element = self.wait_for(locator, 30).await;
            match element.prop("textContent").await {
                Ok(text) => {
                    return (text.unwrap_or_default().split_whitespace())
                        .collect::<Vec<_>>()
                        .join(" ")
                }
                Err(e) if tries < 5 && format!("{e:?}").contains("StaleElementReference") => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("textContent of {locator:?}: {e}"),
            }
        }
    }

    pub async fn type_into(&self, id: &str, value: &str) {
        let input = self.wait_for(Locator::Id(id), 30).await;
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    }

    /// A PNG of the window, after letting WebKit paint the last DOM change.
    pub async fn shot(&self, name: &str) {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        match self.client.screenshot().await {
            Ok(png) => {
                std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot")
            }
            Err(e) => eprintln!("screenshot {name} failed: {e}"),
        }
    }

    pub async fn quit(self) {
        let _ = self.client.close().await;
        // Give the app its exit path (stopping the sandbox) before the driver goes away.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        while !apps_from(&self._driver.1).is_empty() && started.elapsed() < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An S3 client signed with the sandbox owner's key (from the keychain and the app's store), for
/// setting up what a test needs behind the app's back; and the endpoint the app shows.
pub async fn sandbox_owner(app: &App, home: &Home) -> (String, aws_sdk_s3::Client) {
    let endpoint_url = app.text(Locator::Id("connection-endpoint")).await;
    let keychain = spacedock::core::keychain::Keychain::new("io.spacedock.app");
    let secret = keychain
        .get("sandbox-owner")
        .expect("keychain")
        .expect("owner secret saved");
    let access_key = home.store_json()["connections"][0]["accessKey"]
        .as_str()
        .expect("owner access key")
        .to_string();
    let endpoint = spacedock::core::connection::Endpoint {
        url: endpoint_url.clone(),
        signing_region: "us-east-1".into(),
        path_style: true,
    };
    (
        endpoint_url,
        spacedock::core::s3::client(&endpoint, &access_key, &secret),
    )
}

/// A first run on the sandbox (the Spaces list, empty), with a Space `PREFIX-<pid>` then made
/// behind the app's back: the home, the app, the owner's client and the Space's name.
pub async fn on_sandbox_with_space(prefix: &str) -> (Home, App, aws_sdk_s3::Client, String) {
    let home = Home::new();
    let app = App::launch(&home, &["--sandbox"]).await;
    app.wait_for(Locator::Id("spaces-empty"), 180).await;
    let (_, client) = sandbox_owner(&app, &home).await;
    let space = format!("{prefix}-{}", std::process::id());
    client
        .create_bucket()
        .bucket(&space)
        .send()
        .await
        .expect("create");
    (home, app, client, space)
}

/// A file's bytes in a Space, as another client reads them.
pub use spacedock_tests::fetch as body_of;

/// Scrolls the element `css` finds to the middle of the region it scrolls in.
pub async fn scroll_into_view(app: &App, css: &str) {
    let js = "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})";
    let css = serde_json::Value::String(css.to_string());
    app.client.execute(js, vec![css]).await.expect("scroll");
}

/// Puts a file in a Space behind the app's back.
pub async fn put(client: &aws_sdk_s3::Client, space: &str, key: &str, body: &[u8]) {
    client
        .put_object()
        .bucket(space)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(body.to_vec()))
        .send()
        .await
        .expect("put");
}
