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
