//! DigitalOcean's CDN in the real window, against the named FAKE of its API (the real one can't
//! be reached from here). The DigitalOcean connection reaches its Spaces through one address
//! (SPACEDOCK_DIGITALOCEAN_SPACES), here the test sandbox, so the Space's page really opens.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_cdn_is_enabled_set_and_purged_from_the_space_page() {
    let fake = spacedock_tests::fake_do_api::FakeDigitalOceanApi::start();
    let sb = spacedock_tests::sandbox();
    // The connection's key is one of the account's: the token is kept only if it lists it.
    fake.add_key("good-token", &sb.owner_access_key, "sandbox owner");
    let space = spacedock_tests::new_space(&sb, "cdn-e2e").await;
    let client = spacedock_tests::owner_client(&sb);
    for key in ["img/hero.png", "index.html"] {
        client
            .put_object()
            .bucket(&space)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"content"))
            .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
            .send()
            .await
            .expect("put");
    }
    let home = Home::new();
    let keychain = Keychain::new(IDENTIFIER);
    let id = format!("do-cdn-{}", std::process::id());
    std::fs::create_dir_all(home.app_data()).expect("data dir");
    std::fs::write(
        home.store_path(),
        serde_json::json!({ "connections": [{
            "id": id, "name": "DigitalOcean nyc3", "provider": { "type": "digitalOcean", "region": "nyc3" },
            "accessKey": sb.owner_access_key, "space": null, "spaceKeys": {}
        }]})
        .to_string(),
    )
    .expect("store");
    keychain
        .set(&format!("connection:{id}"), &sb.owner_secret)
        .expect("keychain");
    // A token that has expired: the CDN panel says so and asks for a new one.
    keychain
        .set(
            "digitalocean-token",
            &spacedock::core::secret::Secret::new("expired"),
        )
        .expect("keychain");

    let env = [
        ("SPACEDOCK_DIGITALOCEAN_API", fake.base.as_str()),
        ("SPACEDOCK_DIGITALOCEAN_SPACES", sb.endpoint.url.as_str()),
    ];
    let app = App::launch_with_env(&home, &[], &env).await;
    app.click(Locator::Css(&format!("[data-testid='connect-{id}']")))
        .await;
    app.click(Locator::XPath(&format!("//td//button[.='{space}']")))
        .await;
    app.wait_for(Locator::Css("[data-key='img/']"), 30).await;
    // Off: no CDN address is offered.
    assert!(app.client.find(Locator::Id("url-cdn")).await.is_err());

    app.click(Locator::Id("tab-settings")).await;
    app.wait_for(Locator::Id("cdn-token"), 30).await;
    let said = app.text(Locator::Id("cdn-panel")).await;
    assert!(said.contains("refused the API token"), "{said}");
    app.type_into("cdn-token", "good-token").await;
    app.click(Locator::XPath(
        "//div[@id='cdn-panel']//button[.='Save token']",
    ))
    .await;
    app.wait_for(Locator::Css("#cdn-state[data-state='off']"), 30)
        .await;
    // A custom subdomain without a certificate is refused before anything is sent.
    app.click(Locator::Id("cdn-custom")).await;
    app.type_into("cdn-domain", "static.example.com").await;
    app.click(Locator::Id("cdn-on")).await;
    let refused = app.text(Locator::Id("cdn-error")).await;
    assert!(refused.contains("needs a certificate"), "{refused}");
    assert!(fake.endpoints().is_empty());
    app.click(Locator::Id("cdn-custom")).await;
    let ttl = app.wait_for(Locator::Id("cdn-ttl"), 10).await;
    ttl.select_by_label("1 day").await.expect("choose a TTL");
    app.click(Locator::Id("cdn-on")).await;
    app.wait_for(Locator::Css("#cdn-state[data-state='on']"), 30)
        .await;
    let held = fake.endpoints();
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0]["origin"],
        serde_json::json!(format!("{space}.nyc3.digitaloceanspaces.com"))
    );
    assert_eq!(held[0]["ttl"], serde_json::json!(86_400));
    let ttl = app.wait_for(Locator::Id("cdn-ttl"), 10).await;
    ttl.select_by_label("10 minutes")
        .await
        .expect("choose a TTL");
    app.click(Locator::Id("cdn-save")).await;
    app.wait_for(Locator::Id("cdn-said"), 30).await;
    assert_eq!(fake.endpoints()[0]["ttl"], serde_json::json!(600));
    app.shot("60-cdn-on").await;

    // On: the CDN's address is offered, and the selection is purged from its cache.
    let cdn = app.text(Locator::Css("#url-cdn")).await;
    assert!(
        cdn.contains(&format!("https://{space}.nyc3.cdn.digitaloceanspaces.com")),
        "{cdn}"
    );
    app.click(Locator::Id("tab-files")).await;
    for key in ["img/", "index.html"] {
        app.click(Locator::Css(&format!(
            "[data-key='{key}'] input[type='checkbox']"
        )))
        .await;
    }
    app.click(Locator::Id("bulk-purge")).await;
    let said = app.text(Locator::Id("bulk-message")).await;
    assert!(said.starts_with("Purged from the CDN’s cache"), "{said}");
    assert_eq!(fake.purges(), [vec!["img/*", "index.html"]]);
    app.shot("61-cdn-purged").await;

    // A signed link of a file in a Space behind the CDN: the CDN will not cache it, and says so.
    app.click(Locator::XPath("//div[@data-key='index.html']//button"))
        .await;
    let note = app.text(Locator::Id("share-cdn-note")).await;
    assert!(
        note.contains("the CDN does not cache signed links"),
        "{note}"
    );
    app.shot("62-cdn-signed-link-note").await;

    // A custom subdomain with the account's certificate; "Check this Space" looks at when that
    // certificate expires (the fake's is 2027-02-22), with the Space's other checks.
    app.click(Locator::Id("tab-settings")).await;
    app.click(Locator::Id("cdn-custom")).await;
    app.type_into("cdn-domain", "static.example.com").await;
    let cert = app.wait_for(Locator::Id("cdn-certificate"), 10).await;
    cert.select_by_label("web-cert-01 (static.example.com)")
        .await
        .expect("choose the certificate");
    app.click(Locator::Id("cdn-save")).await;
    app.wait_for(Locator::Id("cdn-said"), 30).await;
    app.click(Locator::Id("check-space")).await;
    let finding = app
        .text(Locator::Css(
            "#health-findings li[data-check='cdnCertificate'] .found",
        ))
        .await;
    assert!(
        finding.starts_with("The certificate of static.example.com "),
        "{finding}"
    );
    app.wait_for(
        Locator::Css("#health-findings li[data-check='fileListing'][data-verdict='good']"),
        10,
    )
    .await;
    app.wait_for(
        Locator::Css("#health-findings li[data-check='versioning'][data-verdict='warning'] #health-fix-versioning"),
        10,
    )
    .await;
    harness::scroll_into_view(&app, "#health-panel").await;
    app.shot("63-check-this-space").await;
    // Versioning on, after a question (it can't be turned off again), then checked again.
    app.click(Locator::Id("health-fix-versioning")).await;
    let asked = app.text(Locator::Id("health-ask-versioning")).await;
    assert!(asked.contains("never turned off"), "{asked}");
    app.click(Locator::Id("health-confirm-versioning")).await;
    app.wait_for(
        Locator::Css("#health-findings li[data-check='versioning'][data-verdict='good']"),
        30,
    )
    .await;
    let fixed = app.text(Locator::Id("health-fixed")).await;
    assert_eq!(fixed, "Versioning is now on.");
    app.quit().await;
    // The token went to this connection's own entry; the expired one of an older version,
    // which lists no key of this connection, was never moved to it.
    let own = format!("digitalocean-token:{id}");
    let kept = keychain
        .get(&own)
        .expect("keychain")
        .map(|t| t.expose().to_string());
    assert_eq!(kept.as_deref(), Some("good-token"));
    let _ = keychain.delete("digitalocean-token");
    let _ = keychain.delete(&own);
    let _ = keychain.delete(&format!("connection:{id}"));
}
