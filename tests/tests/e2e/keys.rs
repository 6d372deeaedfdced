//! Access keys: a limited key in the real window, and DigitalOcean's keys through its (fake) API.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_limited_read_key_opens_its_space_and_no_other() {
    let home = Home::new();
    let app = App::launch(&home, &["--sandbox"]).await;
    app.wait_for(Locator::Id("spaces-empty"), 180).await;
    let keychain = Keychain::new(IDENTIFIER);
    let (endpoint_url, owner) = harness::sandbox_owner(&app, &home).await;
    let endpoint = Endpoint {
        url: endpoint_url,
        signing_region: "us-east-1".into(),
        path_style: true,
    };
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
    assert_eq!(
        desktop::clipboard(),
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

    // Rotate client-a: the question names the Space that opens with it; after it, the Space
    // opens with a new key of the same grant, and the old key opens nothing.
    app.click(Locator::XPath(
        "//tr[@data-name='client-a']//button[contains(@class,'rotate')]",
    ))
    .await;
    let asked = app.text(Locator::Id("rotate-ask")).await;
    assert!(asked.contains(&granted), "{asked}");
    assert!(asked.contains(&access_key), "{asked}");
    app.shot("24c-rotate-ask").await;
    app.click(Locator::Id("rotate-confirm")).await;
    app.wait_for(Locator::Css("#rotated[data-old-revoked='true']"), 60)
        .await;
    app.shot("24d-rotated").await;
    let old_key = access_key;
    let access_key = app
        .wait_for(Locator::Css("tr[data-name='client-a']"), 30)
        .await
        .attr("data-access-key")
        .await
        .expect("attr")
        .expect("an access key");
    assert_ne!(access_key, old_key);
    let old_secret = spacedock::core::secret::Secret::new(&secret);
    let old_client = s3::client(&endpoint, &old_key, &old_secret);
    assert!(
        old_client
            .list_objects_v2()
            .bucket(&granted)
            .send()
            .await
            .is_err(),
        "the old key is revoked"
    );
    let secret = keychain
        .get(&format!("key:{access_key}"))
        .expect("keychain")
        .expect("the new key is held")
        .expose()
        .to_string();
    assert!(keychain
        .get(&format!("key:{old_key}"))
        .expect("keychain")
        .is_none());

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
    // The connection's own key is one of the account's: a token is kept only if it lists it.
    fake.add_key("good-token", "DO00E2EEXAMPLE0000", "laptop");
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
    let token_account = format!("digitalocean-token:{id}");
    let _ = keychain.delete(&token_account);

    let app = App::launch_with_env(&home, &[], &[("SPACEDOCK_DIGITALOCEAN_API", &fake.base)]).await;
    app.click(Locator::Css(&format!("[data-testid='connect-{id}']")))
        .await;
    app.wait_for(Locator::Id("spaces-error"), 60).await;
    app.click(Locator::Id("nav-keys")).await;

    // A token of another team is refused: it doesn't list this connection's key.
    app.type_into("api-token", "other-team-token").await;
    app.click(Locator::XPath("//button[.='Save token']")).await;
    app.wait_for(
        Locator::XPath("//p[contains(., 'another DigitalOcean account or team')]"),
        30,
    )
    .await;
    app.shot("25b-digitalocean-token-of-another-team").await;
    // The token is asked for once, and kept in the keychain for this connection.
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
    let made: Vec<_> = fake
        .keys()
        .into_iter()
        .filter(|k| k["name"] == "ci-deploy")
        .collect();
    assert_eq!(made.len(), 1, "one key was created through the API");
    assert_eq!(made[0]["access_key"], serde_json::json!(access_key));
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
    assert!(fake.keys().iter().any(|k| k["name"] == "ci-deploy-2"));
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
            .get(&token_account)
            .expect("keychain")
            .map(|s| s.expose().to_string())
            .as_deref(),
        Some("good-token"),
        "kept for this connection"
    );
    assert!(keychain
        .get("digitalocean-token")
        .expect("keychain")
        .is_none());
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
    let _ = keychain.delete(&token_account);
    let _ = keychain.delete(&format!("connection:{id}"));
    let _ = keychain.delete(&format!("key:{}", made_there.access_key));
}
