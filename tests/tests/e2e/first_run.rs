//! The first screen: starting on the sandbox, a wrong secret, a later start, the DigitalOcean form.

use super::*;

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

// One Spacedock per user: a second launch shows the first one's window and ends at once,
// touching nothing the first one holds (a drag's staging files, the records of its transfers).
#[tokio::test(flavor = "multi_thread")]
async fn a_second_launch_shows_the_first_window_and_ends() {
    let home = Home::new();
    let app = App::launch(&home, &[]).await;
    app.wait_for(Locator::Id("choose-sandbox"), 30).await;
    // Something the first one holds: a file being staged for a drag out of its window.
    let staging = home.path().join(".cache/io.spacedock.app/drag-out/1");
    std::fs::create_dir_all(&staging).expect("staging");
    std::fs::write(staging.join("held.txt"), b"held").expect("staged file");

    let mut second = std::process::Command::new(harness::app_path())
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_CACHE_HOME")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("a second launch");
    let t0 = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().expect("wait") {
            break status;
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = second.kill();
            panic!("a second Spacedock kept running beside the first");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(status.success(), "{status}");
    assert_eq!(
        std::fs::read(staging.join("held.txt")).ok().as_deref(),
        Some(&b"held"[..]),
        "the first one's staged file is untouched"
    );
    // The first one goes on, and still answers.
    app.wait_for(Locator::Id("choose-sandbox"), 10).await;
    app.shot("01b-welcome-after-a-second-launch").await;
    app.quit().await;
}
