//! Access keys through the app's commands: the secret crosses once, the keychain holds what
//! the page shows, and a revoked key leaves nothing behind.

use super::*;

#[test]
fn secrets_cross_ipc_once_and_the_keychain_holds_what_the_page_shows() {
    let sb = sandbox();
    let service = unique("io.spacedock.ipc");
    let root = tempfile::tempdir().expect("tempdir");
    let mut w = Window::open(&service, root.path());
    // A self-hosted RGW connected as a user with admin caps: it manages keys itself.
    let owner = new_user("ipc-owner");
    admin(&[
        "caps",
        "add",
        "--uid",
        &owner.uid,
        "--caps",
        "users=*;buckets=*;metadata=read",
    ]);
    let owner_secret = owner.secret.expose().to_string();

    // Connect through the form's commands.
    let draft = |secret: &str, space: Value| {
        json!({ "draft": {
            "name": "Owner", "accessKey": owner.access_key, "secret": secret, "space": space,
            "provider": { "type": "custom", "endpoint": sb.endpoint.url, "signingRegion": "us-east-1", "pathStyle": true },
        }})
    };
    let wrong = format!("{owner_secret}-wrong");
    let refused = w
        .call("test_connection", draft(&wrong, Value::Null))
        .expect_err("a wrong secret is refused");
    assert_eq!(refused["kind"], json!("wrongSecret"), "{refused}");
    w.ok("test_connection", draft(&owner_secret, Value::Null));
    let profile = w.ok("save_connection", draft(&owner_secret, Value::Null));
    let owner_id = profile["id"].as_str().expect("id").to_string();
    w.ok("connect", json!({ "id": owner_id }));

    let a = unique("ipc-a");
    let b = unique("ipc-b");
    for space in [&a, &b] {
        w.ok(
            "create_space",
            json!({ "name": space, "region": "us-east-1", "fileListing": "restricted" }),
        );
    }
    let spaces = w.ok("list_spaces", json!({}));
    assert!(spaces.to_string().contains(&a));

    // Generate a limited and a full key; add one made elsewhere (another account's).
    let limited = w.ok(
        "generate_key",
        json!({ "name": "ipc reader", "scope": { "type": "limited", "grants": [{ "space": a, "permission": "read" }] } }),
    );
    // A full key would be another key of this admin user, able to read every secret: refused.
    let refused = w
        .call(
            "generate_key",
            json!({ "name": "ipc full", "scope": { "type": "full" } }),
        )
        .expect_err("a full key of an admin user is refused");
    assert_eq!(refused["kind"], json!("adminFullKey"), "{refused}");
    let full = w.ok(
        "generate_key",
        json!({ "name": "ipc full", "scope": { "type": "limited", "grants": [
            { "space": a, "permission": "fullAccess" }, { "space": b, "permission": "fullAccess" }
        ] } }),
    );
    let (ak1, s1) = (
        limited["key"]["accessKey"]
            .as_str()
            .expect("ak")
            .to_string(),
        limited["secret"].as_str().expect("secret").to_string(),
    );
    let (ak2, s2) = (
        full["key"]["accessKey"].as_str().expect("ak").to_string(),
        full["secret"].as_str().expect("secret").to_string(),
    );
    let other = new_user("ipc-other");
    let s3 = other.secret.expose().to_string();
    let refused = w
        .call(
            "add_existing_key",
            json!({ "name": " ", "accessKey": other.access_key, "secret": s3 }),
        )
        .expect_err("a key without a name is refused");
    assert_eq!(refused["kind"], json!("invalidInput"), "{refused}");
    w.ok(
        "add_existing_key",
        json!({ "name": "other account", "accessKey": other.access_key, "secret": s3 }),
    );

    // The keychain holds exactly the keys the page shows.
    let page = w.ok("list_keys", json!({}));
    let held = keychain_accounts(&service);
    let expected: BTreeSet<String> = [&ak1, &ak2, &other.access_key]
        .iter()
        .map(|k| format!("key:{k}"))
        .collect();
    assert_eq!(keys_in(&held), expected);
    assert_eq!(shown_keys(&page), expected);
    let row = |page: &Value, ak: &str| {
        page["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|r| r["key"]["accessKey"] == json!(ak))
            .cloned()
            .unwrap_or_else(|| panic!("{ak} is listed"))
    };
    // RGW keeps no date for keys: the app notes when it made each, and shows it.
    let made = row(&page, &ak1)["key"]["created"].clone();
    assert_eq!(made, limited["key"]["created"]);
    assert!(made.as_str().is_some_and(|d| d.starts_with("20")), "{made}");
    assert!(held.contains(&format!("connection:{owner_id}")));

    // Use them: the grid's tests, a Space opened with the limited key, a connection with it.
    // The grid's Test tries each key for real: the reader lists a and nothing else; the
    // full-access key lists and writes both.
    for space in [&a, &b] {
        let read = w.ok(
            "test_key",
            json!({ "accessKey": ak1, "space": space, "permission": "read" }),
        );
        let full = w.ok(
            "test_key",
            json!({ "accessKey": ak2, "space": space, "permission": null }),
        );
        assert_eq!(read["canList"], json!(space == &a), "{space}: {read}");
        assert_eq!(
            read["canWrite"],
            Value::Null,
            "a read key is not tried for writing"
        );
        assert_eq!(
            (full["canList"].clone(), full["canWrite"].clone()),
            (json!(true), json!(true)),
            "{full}"
        );
    }
    let opened = w.ok(
        "open_space_with_key",
        json!({ "name": a, "region": "us-east-1", "accessKey": ak1 }),
    );
    assert_eq!(opened["opensWith"]["accessKey"], json!(ak1));
    assert_eq!(opened["limited"], json!(true));
    let refused = w
        .call(
            "open_space_with_key",
            json!({ "name": b, "region": "us-east-1", "accessKey": ak1 }),
        )
        .expect_err("the limited key does not open another Space");
    assert_eq!(refused["kind"], json!("accessDenied"), "{refused}");
    let listed = w.ok("list_spaces", json!({}));
    let row = listed
        .as_array()
        .expect("spaces")
        .iter()
        .find(|s| s["name"] == json!(a))
        .expect("a is listed")
        .clone();
    assert_eq!(row["opensWith"], json!("ipc reader"), "{row}");
    let held = w.ok("held_keys", json!({}));
    let held: BTreeSet<String> = held
        .as_array()
        .expect("held")
        .iter()
        .map(|k| k["accessKey"].as_str().expect("ak").to_string())
        .collect();
    assert_eq!(
        held,
        BTreeSet::from([ak1.clone(), ak2.clone(), other.access_key.clone()])
    );
    w.ok(
        "rename_key",
        json!({ "accessKey": ak2, "name": "ipc full 2" }),
    );
    let renamed = w.ok("list_keys", json!({}));
    assert!(
        renamed["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|r| r["key"]["accessKey"] == json!(ak2) && r["key"]["name"] == json!("ipc full 2")),
        "{renamed}"
    );
    let session = w.ok(
        "connect_with_key",
        json!({ "accessKey": ak1, "name": "as reader", "spaces": [a] }),
    );
    let reader_id = session["profile"]["id"].as_str().expect("id").to_string();
    w.ok("list_spaces", json!({}));
    let details = w.ok("space_details", json!({ "name": a, "region": null }));
    assert_eq!(details["name"], json!(a), "{details}");
    let refused = w
        .call("space_details", json!({ "name": b, "region": null }))
        .expect_err("another Space is refused");
    assert_eq!(refused["kind"], json!("accessDenied"), "{refused}");
    w.ok("app_info", json!({}));
    w.ok("connect", json!({ "id": owner_id }));

    // Revoke, remove, and look again. The connection that signed with a revoked key goes with it;
    // the connection in use can't revoke its own key.
    assert!(keychain_accounts(&service).contains(&format!("connection:{reader_id}")));
    let refused = w
        .call("delete_key", json!({ "accessKey": owner.access_key }))
        .expect_err("the key in use is not revoked");
    assert_eq!(refused["kind"], json!("keyInUse"), "{refused}");
    w.ok("delete_key", json!({ "accessKey": ak1 }));
    w.ok("delete_key", json!({ "accessKey": ak2 }));
    w.ok("forget_key", json!({ "accessKey": other.access_key }));
    let page = w.ok("list_keys", json!({}));
    let held = keychain_accounts(&service);
    assert_eq!(keys_in(&held), BTreeSet::new());
    assert_eq!(shown_keys(&page), BTreeSet::new());
    let info = w.ok("app_info", json!({}));
    let connections: BTreeSet<String> = info["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .map(|c| format!("connection:{}", c["id"].as_str().expect("id")))
        .collect();
    assert_eq!(
        held, connections,
        "the keychain holds the saved connection's secret only"
    );
    assert_eq!(
        connections,
        BTreeSet::from([format!("connection:{owner_id}")]),
        "the connection with the revoked key is gone"
    );
    let spaces = w.ok("list_spaces", json!({}));
    assert!(
        spaces
            .as_array()
            .expect("spaces")
            .iter()
            .all(|s| s["opensWith"].is_null()),
        "a revoked key opens no Space any more: {spaces}"
    );

    // The secrets: each generated one in its own creation answer only; the others in none.
    assert_eq!(w.answers_containing(&s1), ["generate_key"]);
    assert_eq!(w.answers_containing(&s2), ["generate_key"]);
    assert_eq!(w.answers_containing(&s3), Vec::<String>::new());
    assert_eq!(w.answers_containing(&owner_secret), Vec::<String>::new());
    assert!(
        w.answers.len() > 30,
        "the scan saw {} answers",
        w.answers.len()
    );
    // Nothing the app wrote holds one: store, log, anything else under its directories.
    assert!(
        root.path().join("connections.json").exists() && root.path().join("logs").exists(),
        "the app wrote its store and log here"
    );
    let leaks = files_containing(root.path(), &[&s1, &s2, &s3, &owner_secret]);
    assert!(leaks.is_empty(), "{leaks:?}");

    w.ok("delete_connection", json!({ "id": owner_id }));
    assert_eq!(keychain_accounts(&service), BTreeSet::new());
}
