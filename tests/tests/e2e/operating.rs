//! Operating Spaces in the real window: a Space's access logs switched on through a named FAKE
//! of the bucket-logging calls (the sandbox's RGW answers 405) and read from log files on the
//! sandbox; and the create wizard's DigitalOcean project, against the named FAKE of its API.

use super::*;

/// Writes one saved connection into a fresh home, its secret into the keychain.
fn saved_connection(home: &Home, keychain: &Keychain, id: &str, provider: serde_json::Value) {
    let sb = spacedock_tests::sandbox();
    std::fs::create_dir_all(home.app_data()).expect("data dir");
    std::fs::write(
        home.store_path(),
        serde_json::json!({ "connections": [{
            "id": id, "name": "Spaces", "provider": provider,
            "accessKey": sb.owner_access_key, "space": null, "spaceKeys": {}
        }]})
        .to_string(),
    )
    .expect("store");
    keychain
        .set(&format!("connection:{id}"), &sb.owner_secret)
        .expect("keychain");
}

fn log_line(time: &str, ip: &str, key: &str, status: u16, bytes: u32) -> String {
    format!(
        "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be site [{time}] {ip} - 3E57427F3EXAMPLE REST.GET.OBJECT {key} \"GET /site/{key} HTTP/1.1\" {status} {} {bytes} {bytes} 12 10 \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" - hostid= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader site.nyc3.digitaloceanspaces.com TLSv1.2 - -",
        if status == 404 { "NoSuchKey" } else { "-" }
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn access_logs_are_switched_on_and_read_in_the_space_settings() {
    let sb = spacedock_tests::sandbox();
    let fake = spacedock_tests::fake_logging::FakeLogging::start(&sb.endpoint.url);
    let site = spacedock_tests::new_space(&sb, "site").await;
    let logs = spacedock_tests::new_space(&sb, "site-logs").await;
    let owner = spacedock_tests::owner_client(&sb);
    // Three days of requests, as DigitalOcean writes them (a file per hour here).
    let days = [("03", 40), ("04", 90), ("05", 25)];
    for (day, n) in days {
        let lines: Vec<String> = (0..n)
            .map(|i| {
                let (key, status) = match i % 10 {
                    0 => ("missing.png", 404),
                    1..=4 => ("img/hero%20banner.png", 200),
                    _ => ("index.html", 200),
                };
                let ip = format!("203.0.113.{}", 1 + i % 7);
                log_line(
                    &format!("{day}/Dec/2026:10:{:02}:00 +0000", i % 60),
                    &ip,
                    key,
                    status,
                    1500 + i,
                )
            })
            .collect();
        owner
            .put_object()
            .bucket(&logs)
            .key(format!("access-logs/{site}/2026-12-{day}-10-00-00-0A1B2C"))
            .body(aws_sdk_s3::primitives::ByteStream::from(
                lines.join("\n").into_bytes(),
            ))
            .send()
            .await
            .expect("put");
    }
    let home = Home::new();
    let keychain = Keychain::new(IDENTIFIER);
    let id = format!("logs-{}", std::process::id());
    let provider = serde_json::json!({ "type": "custom", "endpoint": fake.url, "signingRegion": "us-east-1", "pathStyle": true });
    saved_connection(&home, &keychain, &id, provider);
    let app = App::launch(&home, &[]).await;
    app.click(Locator::Css(&format!("[data-testid='connect-{id}']")))
        .await;
    app.click(Locator::XPath(&format!("//td//button[.='{site}']")))
        .await;
    app.click(Locator::Id("tab-settings")).await;
    app.wait_for(Locator::Css("#logging-state[data-state='off']"), 30)
        .await;
    harness::scroll_into_view(&app, "#logs-panel").await;
    // Into itself: refused before anything is sent.
    app.type_into("logging-target", &site).await;
    app.click(Locator::Id("logging-on")).await;
    let refused = app.text(Locator::Id("logging-error")).await;
    assert!(refused.contains("another Space"), "{refused}");
    assert_eq!(fake.target_of(&site), None);
    app.type_into("logging-target", &logs).await;
    app.click(Locator::Id("logging-on")).await;
    app.wait_for(Locator::Css("#logging-state[data-state='on']"), 30)
        .await;
    assert_eq!(fake.target_of(&site).as_deref(), Some(logs.as_str()));
    app.shot("64-access-logs-on").await;

    // The viewer reads from where the logs go, under the prefix set.
    let from = app
        .wait_for(Locator::Id("logs-space"), 10)
        .await
        .prop("value")
        .await
        .expect("prop")
        .unwrap_or_default();
    assert_eq!(from, logs);
    app.click(Locator::Id("logs-read")).await;
    app.wait_for(Locator::Css("#logs-figures[data-requests='155']"), 60)
        .await;
    let by_day = app.text(Locator::Id("logs-days")).await;
    for (day, n) in days {
        assert!(
            by_day.contains(&format!("2026-12-{day}")) && by_day.contains(&n.to_string()),
            "{by_day}"
        );
    }
    let files = app.text(Locator::Id("logs-files")).await;
    assert!(files.contains("img/hero banner.png"), "decoded: {files}");
    let to_figures = "document.getElementById('logs-figures').scrollIntoView({block: 'start'})";
    app.client
        .execute(to_figures, vec![])
        .await
        .expect("scroll");
    app.shot("65-access-logs-viewer").await;
    // A click on a status narrows everything to it.
    app.click(Locator::XPath(
        "//table[@id='logs-statuses']//button[.='404']",
    ))
    .await;
    app.wait_for(Locator::Css("#logs-figures[data-requests='16']"), 30)
        .await;
    let recent = app.text(Locator::Id("logs-recent")).await;
    assert!(
        recent.contains("missing.png") && !recent.contains("index.html"),
        "{recent}"
    );
    app.shot("66-access-logs-filtered").await;
    // The chip takes the status off again; then a typed filter.
    app.click(Locator::XPath("//button[contains(., 'Status 404')]"))
        .await;
    app.wait_for(Locator::Css("#logs-figures[data-requests='155']"), 30)
        .await;
    app.type_into("logs-filter", "203.0.113.3").await;
    app.wait_for(Locator::Css("#logs-figures:not([data-requests='155'])"), 30)
        .await;

    // Off again.
    harness::scroll_into_view(&app, "#logs-panel").await;
    app.click(Locator::Id("logging-off")).await;
    app.wait_for(Locator::Css("#logging-state[data-state='off']"), 30)
        .await;
    assert_eq!(fake.target_of(&site), None);
    app.quit().await;
    let _ = keychain.delete(&format!("connection:{id}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_create_wizard_puts_the_new_space_in_the_project_chosen() {
    let sb = spacedock_tests::sandbox();
    let fake = spacedock_tests::fake_do_api::FakeDigitalOceanApi::start();
    fake.add_key("good-token", &sb.owner_access_key, "sandbox owner");
    let home = Home::new();
    let keychain = Keychain::new(IDENTIFIER);
    let id = format!("do-projects-{}", std::process::id());
    saved_connection(
        &home,
        &keychain,
        &id,
        serde_json::json!({ "type": "digitalOcean", "region": "nyc3" }),
    );
    keychain
        .set(
            &format!("digitalocean-token:{id}"),
            &spacedock::core::secret::Secret::new("good-token"),
        )
        .expect("token");
    let env = [
        ("SPACEDOCK_DIGITALOCEAN_API", fake.base.as_str()),
        ("SPACEDOCK_DIGITALOCEAN_SPACES", sb.endpoint.url.as_str()),
    ];
    let app = App::launch_with_env(&home, &[], &env).await;
    app.click(Locator::Css(&format!("[data-testid='connect-{id}']")))
        .await;
    app.click(Locator::Id("create-space")).await;
    let picker = app.wait_for(Locator::Id("space-project"), 30).await;
    let chosen = picker
        .prop("value")
        .await
        .expect("prop")
        .unwrap_or_default();
    assert_eq!(
        chosen, "b6e4a2a4-5a56-4e1c-8f5f-4b2a0a0c2d11",
        "the default project first"
    );
    app.click(Locator::Css(
        "#space-project option[value='4e1bfbc3-dc3e-41f2-a18f-1b4d7ba71679']",
    ))
    .await;
    let name = spacedock_tests::unique("in-project");
    app.type_into("space-name", &name).await;
    app.wait_for(Locator::Css("#name-availability[data-state='free']"), 30)
        .await;
    app.shot("67-create-with-project").await;
    app.click(Locator::Id("create-space-submit")).await;
    app.wait_for(Locator::Id("tab-settings"), 30).await;
    assert_eq!(
        fake.assigned(),
        [(
            "4e1bfbc3-dc3e-41f2-a18f-1b4d7ba71679".to_string(),
            format!("do:space:{name}")
        )]
    );
    app.quit().await;
    spacedock_tests::owner_client(&sb)
        .delete_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("tidy");
    let _ = keychain.delete(&format!("digitalocean-token:{id}"));
    let _ = keychain.delete(&format!("connection:{id}"));
}
