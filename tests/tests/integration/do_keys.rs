//! DigitalOcean's Spaces keys API, against a FAKE built from its documented shapes (the real API
//! can't be reached from here). What is tested is Spacedock's client: requests, answers, errors.

use spacedock::core::error::ErrorKind;
use spacedock::core::keys::digitalocean::DoApi;
use spacedock::core::keys::{Grant, Permission, Scope};
use spacedock::core::secret::Secret;
use spacedock_tests::fake_do_api::FakeDigitalOceanApi;

#[tokio::test]
async fn keys_are_created_listed_renamed_and_deleted() {
    let fake = FakeDigitalOceanApi::start();
    let api = DoApi::new(&fake.base, &Secret::new("good-token"));

    let (full, full_secret) = api.create("deploys", &Scope::Full).await.expect("full key");
    assert_eq!(full.scope, Scope::Full);
    assert!(!full_secret.expose().is_empty());
    let limited_scope = Scope::Limited {
        grants: vec![Grant {
            space: "client-a".into(),
            permission: Permission::Read,
        }],
    };
    let (limited, _) = api
        .create("client-a", &limited_scope)
        .await
        .expect("limited key");
    assert_eq!(limited.scope, limited_scope);
    assert_eq!(
        fake.keys()[0]["grants"],
        serde_json::json!([{ "bucket": "", "permission": "fullaccess" }])
    );
    assert_eq!(
        fake.keys()[1]["grants"],
        serde_json::json!([{ "bucket": "client-a", "permission": "read" }])
    );

    // More than one page of 100.
    for i in 0..101 {
        api.create(&format!("bulk-{i}"), &Scope::Full)
            .await
            .expect("create");
    }
    let listed = api.list().await.expect("list");
    assert_eq!(listed.len(), 103, "every page is read");
    assert!(listed
        .iter()
        .any(|k| k.access_key == limited.access_key && k.scope == limited_scope));
    // The key's creation date, as the API gives it.
    assert_eq!(limited.created.as_deref(), Some("2026-11-27T12:00:00Z"));

    let renamed = api
        .rename(&limited.access_key, "client-a (read)")
        .await
        .expect("rename");
    assert_eq!(renamed.name, "client-a (read)");
    // One key by its access key: the new name, its scope, and never a secret.
    let one = api.get(&limited.access_key).await.expect("get");
    assert_eq!(one.name, "client-a (read)");
    assert_eq!(one.scope, limited_scope);
    api.delete(&limited.access_key).await.expect("delete");
    let err = api.get(&limited.access_key).await.expect_err("gone");
    assert_eq!(err.kind(), ErrorKind::Gone, "{err}");
    assert!(api
        .list()
        .await
        .expect("list")
        .iter()
        .all(|k| k.access_key != limited.access_key));
    let err = api
        .delete(&limited.access_key)
        .await
        .expect_err("already gone");
    assert_eq!(err.kind(), ErrorKind::Gone);
}

#[tokio::test]
async fn api_errors_become_sentences() {
    let fake = FakeDigitalOceanApi::start();
    let err = DoApi::new(&fake.base, &Secret::new("expired"))
        .list()
        .await
        .expect_err("401");
    assert_eq!(err.kind(), ErrorKind::ApiTokenRefused, "{err}");
    let err = DoApi::new(&fake.base, &Secret::new("no-scope"))
        .list()
        .await
        .expect_err("403");
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
    let err = DoApi::new(&fake.base, &Secret::new("rate-limited"))
        .list()
        .await
        .expect_err("429");
    assert_eq!(err.kind(), ErrorKind::SlowDown);
    let api = DoApi::new(&fake.base, &Secret::new("good-token"));
    let err = api.create("  ", &Scope::Full).await.expect_err("422");
    assert_eq!(
        err.to_string(),
        "DigitalOcean refused the request: name is required"
    );
    let err = api
        .create("x", &Scope::Limited { grants: vec![] })
        .await
        .expect_err("no Space");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(fake.keys().len(), 0, "nothing was created");
    // The token never shows up in an error.
    let secret_token = "good-token";
    assert!(!err.to_string().contains(secret_token));
}

// A DigitalOcean token belongs to one connection: one account's (or team's) token is never used
// for another connection, so keys are never made or revoked in the wrong account.
#[tokio::test]
async fn a_token_serves_only_the_connection_whose_key_it_lists() {
    use spacedock::core::connection::service as connections;
    use spacedock::core::connection::{ConnectionDraft, Provider};
    use spacedock::core::keys::service as keys;
    let fake = FakeDigitalOceanApi::start();
    fake.add_key("good-token", "DO00AGENCY0000000001", "agency");
    fake.add_key("other-team-token", "DO00CLIENTB000000001", "client b");
    // The API is the fake; the Spaces endpoint is a port where nothing listens (the keys page
    // lives without it).
    std::env::set_var("SPACEDOCK_DIGITALOCEAN_API", &fake.base);
    let nowhere = spacedock_tests::unreachable_endpoint();
    std::env::set_var("SPACEDOCK_DIGITALOCEAN_SPACES", &nowhere.url);
    let root = tempfile::tempdir().expect("tempdir");
    let s = crate::services::services(root.path());
    let save = |name: &str, key: &str| {
        let draft = ConnectionDraft {
            name: name.into(),
            provider: Provider::DigitalOcean {
                region: "nyc3".into(),
            },
            access_key: key.into(),
            secret: Secret::new("secret"),
            space: None,
        };
        connections::save_connection(&s, &draft).expect("save")
    };
    let (agency, client_b) = (
        save("Agency", "DO00AGENCY0000000001"),
        save("Client B", "DO00CLIENTB000000001"),
    );
    // A token an older version kept for every connection: team A's.
    s.keychain()
        .set("digitalocean-token", &Secret::new("good-token"))
        .expect("old token");

    connections::connect(&s, &client_b.id)
        .await
        .expect("connect");
    let e = keys::list(&s)
        .await
        .expect_err("team A's token is not Client B's");
    assert_eq!(e.kind(), ErrorKind::ApiTokenNeeded, "{e}");
    let e = keys::set_api_token(&s, &Secret::new("good-token")).await;
    assert_eq!(
        e.expect_err("another team's").kind(),
        ErrorKind::ApiTokenOtherAccount
    );
    keys::set_api_token(&s, &Secret::new("other-team-token"))
        .await
        .expect("Client B's own token");
    let listed = keys::list(&s).await.expect("Client B's keys");
    let names: Vec<&str> = listed.keys.iter().map(|r| r.key.name.as_str()).collect();
    assert_eq!(names, ["client b"]);
    // Team A's key is out of reach from here.
    assert!(keys::revoke(&s, "DO00AGENCY0000000001").await.is_err());
    assert!(fake
        .keys()
        .iter()
        .any(|k| k["access_key"] == "DO00AGENCY0000000001"));
    let made = keys::generate(&s, "for b", &Scope::Full)
        .await
        .expect("made");
    let in_b = fake
        .keys()
        .into_iter()
        .find(|k| k["access_key"] == made.key.access_key.as_str());
    assert_eq!(in_b.expect("made")["account"], "team-b");

    // On the Agency connection the old token moves to it (it lists Agency's key).
    connections::connect(&s, &agency.id).await.expect("connect");
    let listed = keys::list(&s).await.expect("Agency's keys");
    let names: Vec<&str> = listed.keys.iter().map(|r| r.key.name.as_str()).collect();
    assert_eq!(names, ["agency"]);
    assert!(s
        .keychain()
        .get("digitalocean-token")
        .expect("keychain")
        .is_none());
    let own = format!("digitalocean-token:{}", agency.id);
    assert_eq!(
        s.keychain()
            .get(&own)
            .expect("keychain")
            .map(|t| t.expose().to_string())
            .as_deref(),
        Some("good-token")
    );
    for id in [&agency.id, &client_b.id] {
        let _ = s.keychain().delete(&format!("digitalocean-token:{id}"));
        let _ = s.keychain().delete(&format!("connection:{id}"));
    }
    let _ = s.keychain().delete(&format!("key:{}", made.key.access_key));
    std::env::remove_var("SPACEDOCK_DIGITALOCEAN_API");
    std::env::remove_var("SPACEDOCK_DIGITALOCEAN_SPACES");
}
