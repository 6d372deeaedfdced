//! DigitalOcean's CDN for a Space, against a FAKE of its API built from the documented shapes
//! (the real API can't be reached from here): on, TTL, a custom subdomain with a certificate,
//! purges of a selection and of everything, off; errors in words; settings checked before sending.

use spacedock::core::cdn::{self, Cdn, CdnSettings};
use spacedock::core::error::ErrorKind;
use spacedock::core::keys::digitalocean::DoApi;
use spacedock::core::secret::Secret;
use spacedock_tests::fake_do_api::FakeDigitalOceanApi;
use spacedock_tests::sandbox;

use crate::services::connected;

fn api(fake: &FakeDigitalOceanApi, token: &str) -> Cdn {
    Cdn::new(DoApi::new(&fake.base, &Secret::new(token)))
}

fn settings(ttl: u32, domain: Option<&str>, cert: Option<&str>) -> CdnSettings {
    CdnSettings {
        ttl,
        custom_domain: domain.map(String::from),
        certificate_id: cert.map(String::from),
    }
}

#[tokio::test]
async fn the_cdn_is_turned_on_set_purged_and_turned_off() {
    let fake = FakeDigitalOceanApi::start();
    let cdn = api(&fake, "good-token");
    let origin = cdn::origin("assets", "fra1");
    assert_eq!(origin, "assets.fra1.digitaloceanspaces.com");
    // Another Space's endpoint is not this one's.
    cdn.enable(&cdn::origin("other", "fra1"), &settings(60, None, None))
        .await
        .expect("another Space");

    let off = cdn.state(&origin).await.expect("state");
    assert_eq!(off.endpoint, None);
    assert_eq!(off.certificates.len(), 2);
    assert_eq!(off.certificates[0].dns_names, ["static.example.com"]);

    let on = cdn
        .enable(&origin, &settings(600, None, None))
        .await
        .expect("on");
    assert_eq!(on.endpoint, "assets.fra1.cdn.digitaloceanspaces.com");
    assert_eq!((on.ttl, on.custom_domain.as_deref()), (600, None));
    assert_eq!(
        cdn.state(&origin).await.expect("state").endpoint,
        Some(on.clone())
    );

    let certificate = off.certificates[0].id.clone();
    let custom = settings(86_400, Some("Static.example.com"), Some(&certificate));
    let changed = cdn.update(&on.id, &custom).await.expect("update");
    assert_eq!(changed.ttl, 86_400);
    assert_eq!(changed.custom_domain.as_deref(), Some("static.example.com"));
    assert_eq!(
        changed.certificate_id.as_deref(),
        Some(certificate.as_str())
    );
    let held = fake.endpoints();
    let held = held
        .iter()
        .find(|e| e["origin"] == origin.as_str())
        .expect("held");
    assert_eq!(held["ttl"], serde_json::json!(86_400));

    let keys = ["img/hero.png".to_string(), "css/".to_string()];
    let purged = cdn.purge(&on.id, &keys).await.expect("purge");
    assert_eq!(purged, ["css/*", "img/hero.png"]);
    cdn.purge(&on.id, &[String::new()])
        .await
        .expect("purge everything");
    assert_eq!(fake.purges(), [vec!["css/*", "img/hero.png"], vec!["*"]]);

    cdn.disable(&on.id).await.expect("off");
    assert_eq!(cdn.state(&origin).await.expect("state").endpoint, None);
    let gone = cdn.disable(&on.id).await.expect_err("already off");
    assert_eq!(gone.kind(), ErrorKind::Gone);
}

#[tokio::test]
async fn wrong_settings_are_refused_before_sending_and_api_errors_are_words() {
    let fake = FakeDigitalOceanApi::start();
    let cdn = api(&fake, "good-token");
    let origin = cdn::origin("site", "nyc3");
    for bad in [
        settings(30, None, None),
        settings(600, Some("not a domain"), Some("x")),
        settings(600, Some("static.example.com"), None),
    ] {
        let e = cdn.enable(&origin, &bad).await.expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    assert!(fake.endpoints().is_empty(), "nothing was sent");
    // 422: the API's own reason, in a sentence.
    let unknown = settings(600, Some("static.example.com"), Some("no-such-certificate"));
    let e = cdn.enable(&origin, &unknown).await.expect_err("422");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        e.to_string()
            .starts_with("DigitalOcean refused the request: certificate_id"),
        "{e}"
    );

    let e = api(&fake, "expired").state(&origin).await.expect_err("401");
    assert_eq!(e.kind(), ErrorKind::ApiTokenRefused);
    let e = api(&fake, "no-scope")
        .state(&origin)
        .await
        .expect_err("403");
    assert_eq!(e.kind(), ErrorKind::AccessDenied);
    assert!(e.to_string().contains("cdn scopes"), "{e}");
    let e = api(&fake, "rate-limited")
        .state(&origin)
        .await
        .expect_err("429");
    assert_eq!(e.kind(), ErrorKind::SlowDown);

    // The CDN takes 50 paths every 20 seconds: more is said before, or after, sending.
    let on = cdn
        .enable(&origin, &settings(60, None, None))
        .await
        .expect("on");
    let many: Vec<String> = (0..51).map(|i| format!("f{i}.png")).collect();
    let e = cdn.purge(&on.id, &many).await.expect_err("too many");
    assert!(e.to_string().contains("at most 50"), "{e}");
    cdn.purge(&on.id, &many[..50]).await.expect("50");
    let e = cdn.purge(&on.id, &many[..1]).await.expect_err("rate");
    assert!(e.to_string().contains("every 20 seconds"), "{e}");
    assert!(!e.to_string().contains("good-token"));
}

// A name a URL writes encoded (a space, an accent) is purged in both forms: the edge keys its
// cache by the request's path, and a deleted file left cached stays public until it expires.
#[tokio::test]
async fn a_purge_names_each_path_as_written_and_as_a_url_has_it() {
    let fake = FakeDigitalOceanApi::start();
    let cdn = api(&fake, "good-token");
    let on = cdn
        .enable(&cdn::origin("media", "ams3"), &settings(60, None, None))
        .await
        .expect("on");
    let keys = ["docs/my file.pdf".to_string(), "naïve/".to_string()];
    cdn.purge(&on.id, &keys).await.expect("purged");
    let mut sent = fake.purges().pop().expect("a purge");
    sent.sort();
    assert_eq!(
        sent,
        [
            "docs/my file.pdf",
            "docs/my%20file.pdf",
            "na%C3%AFve/*",
            "naïve/*"
        ]
    );
}

#[tokio::test]
async fn the_cdn_is_digitaloceans_only() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("tempdir");
    let s = connected(&sb, root.path(), &sb.endpoint.url).await;
    let e = cdn::of(&s, "any-space", None).await.err().expect("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("not to DigitalOcean"), "{e}");
}
