//! Every answer the app's commands give the window, through tauri's IPC layer (its mock runtime
//! stands in for the window only): a key's secret crosses once, in the answer that creates it,
//! and never lands in a file the app wrote; the keychain holds exactly the keys the page shows.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use spacedock_tests::{admin, fetch, files_holding, new_user, sandbox, unique};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::utils::config::AppDirectoriesOverride;
use tauri::webview::InvokeRequest;

/// The app built on the mock runtime, and every answer it gave, in order.
struct Window {
    webview: tauri::WebviewWindow<tauri::test::MockRuntime>,
    answers: Vec<(String, String)>,
    _app: tauri::App<tauri::test::MockRuntime>,
}

impl Window {
    fn open(identifier: &str, root: &Path) -> Window {
        let mut context = mock_context(noop_assets());
        // Its own keychain namespace and directories: what this test finds there is its own.
        context.config_mut().identifier = identifier.into();
        context.config_mut().app.app_directories_override =
            Some(AppDirectoriesOverride::Root(root.to_path_buf()));
        let mut app = spacedock::builder(mock_builder())
            .build(context)
            .expect("the app builds on the mock runtime");
        // The app's setup (its state, keychain, journal) runs on the event loop's first turn.
        #[allow(deprecated)]
        app.run_iteration(|_, _| {});
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .expect("window");
        Window {
            webview,
            answers: Vec::new(),
            _app: app,
        }
    }

    /// Invokes a command as the page does; errors are answers too and are kept.
    fn call(&mut self, cmd: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("url"),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        let answer = get_ipc_response(&self.webview, request)
            .map(|body| body.deserialize::<Value>().expect("JSON answer"));
        let text = match &answer {
            Ok(v) | Err(v) => v.to_string(),
        };
        self.answers.push((cmd.to_string(), text));
        answer
    }

    fn ok(&mut self, cmd: &str, args: Value) -> Value {
        self.call(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    /// The commands whose answers contain `needle`.
    fn answers_containing(&self, needle: &str) -> Vec<String> {
        self.answers
            .iter()
            .filter(|(_, text)| text.contains(needle))
            .map(|(cmd, _)| cmd.clone())
            .collect()
    }
}

/// The accounts under `service` in the Secret Service, read by another program.
fn keychain_accounts(service: &str) -> BTreeSet<String> {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", service])
        .output()
        .expect("secret-tool (libsecret-tools) is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("attribute.username = "))
        .map(str::to_string)
        .collect()
}

fn files_containing(root: &Path, needles: &[&str]) -> Vec<String> {
    needles
        .iter()
        .flat_map(|needle| {
            let (found, _) = files_holding(root, needle, &[]);
            found
                .into_iter()
                .map(move |path| format!("{} holds …{}", path.display(), &needle[..4]))
        })
        .collect()
}

/// Keys as the keys page shows them: the account's keys held in the keychain (not the
/// connection's own, which is under its connection) and the other keys held.
fn shown_keys(page: &Value) -> BTreeSet<String> {
    let listed = page["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|r| r["inKeychain"] == json!(true) && r["current"] == json!(false))
        .map(|r| format!("key:{}", r["key"]["accessKey"].as_str().expect("ak")));
    let elsewhere = page["heldElsewhere"]
        .as_array()
        .expect("heldElsewhere")
        .iter()
        .map(|k| format!("key:{}", k["accessKey"].as_str().expect("ak")));
    listed.chain(elsewhere).collect()
}

fn keys_in(accounts: &BTreeSet<String>) -> BTreeSet<String> {
    accounts
        .iter()
        .filter(|a| a.starts_with("key:"))
        .cloned()
        .collect()
}

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
    assert_eq!(refused["kind"], json!("invalidInput"), "{refused}");
    assert!(refused.to_string().contains("admin caps"), "{refused}");
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
    assert_eq!(refused["kind"], json!("invalidInput"), "{refused}");
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

/// Uploads through the app's own commands: a retry keeps the batch's choice, an empty folder
/// with a blank name fails alone, a link out of the dropped folder is not followed, a finished
/// batch is freed, and a Space of another S3 service's naming opens.
#[tokio::test(flavor = "multi_thread")]
async fn upload_batches_keep_their_choice_and_report_each_problem() {
    let sb = sandbox();
    let service = unique("io.spacedock.ipc-up");
    let root = tempfile::tempdir().expect("tempdir");
    let mut w = Window::open(&service, root.path());
    let profile = w.ok(
        "save_connection",
        json!({ "draft": {
            "name": "Owner", "accessKey": sb.owner_access_key, "secret": sb.owner_secret.expose(), "space": null,
            "provider": { "type": "custom", "endpoint": sb.endpoint.url, "signingRegion": "us-east-1", "pathStyle": true },
        }}),
    );
    w.ok("connect", json!({ "id": profile["id"] }));
    let space = unique("ipc-up");
    w.ok(
        "create_space",
        json!({ "name": space, "region": "us-east-1", "fileListing": "restricted" }),
    );
    let owner = spacedock::core::s3::client(&sb.endpoint, &sb.owner_access_key, &sb.owner_secret);
    let put = |key: &'static str, body: &'static [u8]| {
        owner
            .put_object()
            .bucket(&space)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(body))
            .send()
    };
    put("a.jpg", b"original").await.expect("put");
    let get = |key: &'static str| fetch(&owner, &space, key);

    let local = tempfile::tempdir().expect("local");
    let photo = local.path().join("a.jpg");
    std::fs::write(&photo, b"new").expect("photo");
    let drop = local.path().join("drop");
    std::fs::create_dir_all(drop.join(" ")).expect("blank folder");
    std::fs::write(drop.join("x.txt"), b"x").expect("x");
    let secret_file = local.path().join("outside.txt");
    std::fs::write(&secret_file, b"not for the Space").expect("outside");
    std::os::unix::fs::symlink(&secret_file, drop.join("link-out.txt")).expect("symlink");

    let plan = w.ok(
        "plan_upload",
        json!({ "space": space, "region": null, "prefix": "", "paths": [photo, drop] }),
    );
    let files = plan["files"].as_array().expect("files").clone();
    let keys: Vec<&str> = files
        .iter()
        .map(|f| f["key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys, ["a.jpg", "drop/x.txt"], "{plan}");
    assert_eq!(files[0]["exists"], json!(true));
    let problems = plan["problems"].to_string();
    assert!(
        problems.contains("link-out.txt") && problems.contains("outside the dropped folder"),
        "{problems}"
    );
    let batch = plan["batch"].clone();
    let photo_id = files[0]["id"].clone();

    // The photo vanishes before it is sent: it fails alone; the blank folder fails alone.
    std::fs::remove_file(&photo).expect("vanish");
    let start = |conflict: &str, ids: Value| json!({ "batch": batch, "acl": "private", "conflict": conflict, "ids": ids, "onEvent": "__CHANNEL__:7" });
    let first = w.ok("start_upload", start("keepBoth", Value::Null));
    assert_eq!(
        (first["done"].clone(), first["failed"].clone()),
        (json!(1), json!(1)),
        "{first}"
    );
    let folder_problems = first["problems"].as_array().expect("problems").clone();
    assert_eq!(folder_problems.len(), 1, "{first}");
    assert!(
        folder_problems[0]["path"]
            .as_str()
            .expect("path")
            .contains("drop/ /"),
        "{first}"
    );

    // Retried, as the page does, it keeps Keep both: the earlier a.jpg is not replaced.
    std::fs::write(&photo, b"new").expect("photo again");
    let retried = w.ok("start_upload", start("overwrite", json!([photo_id])));
    assert_eq!(retried["done"], json!(1), "{retried}");
    assert_eq!(get("a.jpg").await.as_deref(), Some(&b"original"[..]));
    assert_eq!(get("a (1).jpg").await.as_deref(), Some(&b"new"[..]));
    assert!(get("drop/link-out.txt").await.is_none());

    // Nothing is left to retry: the batch is freed.
    let gone = w
        .call("start_upload", start("overwrite", json!([photo_id])))
        .expect_err("a finished batch is freed");
    assert_eq!(gone["kind"], json!("invalidInput"), "{gone}");

    // A bucket named as other S3 services allow (dots) opens by name.
    let dotted = format!("{}.v2", unique("dot.ted"));
    owner
        .create_bucket()
        .bucket(&dotted)
        .send()
        .await
        .expect("dotted bucket");
    let opened = w.ok("space_details", json!({ "name": dotted, "region": null }));
    assert_eq!(opened["name"], json!(dotted), "{opened}");
    w.ok("delete_connection", json!({ "id": profile["id"] }));
}
