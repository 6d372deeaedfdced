//! Upload batches through the app's commands: retries keep the batch's choice.

use super::*;

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
    let start = |conflict: &str| json!({ "batch": batch, "acl": "private", "conflict": conflict });
    let first = w.ok("start_upload", start("keepBoth"));
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
    let retried = w.ok("retry_transfer", json!({ "batch": batch }));
    assert_eq!(retried, json!(1), "one file ran again");
    assert_eq!(get("a.jpg").await.as_deref(), Some(&b"original"[..]));
    assert_eq!(get("a (1).jpg").await.as_deref(), Some(&b"new"[..]));
    assert!(get("drop/link-out.txt").await.is_none());
    // The panel's rows say it, under the name it took.
    let rows = w.ok("watch_transfers", json!({ "onChange": "__CHANNEL__:8" }));
    let photo_row = (rows.as_array().expect("rows").iter())
        .find(|r| r["batch"] == batch && r["file"] == photo_id)
        .expect("the photo's row")
        .clone();
    assert_eq!(
        (
            photo_row["key"].clone(),
            photo_row["state"]["state"].clone()
        ),
        (json!("a (1).jpg"), json!("done")),
        "{rows}"
    );

    // Nothing is left to retry: the batch is freed.
    assert_eq!(w.ok("retry_transfer", json!({ "batch": batch })), json!(0));
    let gone = w
        .call("start_upload", start("overwrite"))
        .expect_err("a finished batch is freed");
    assert_eq!(gone["kind"], json!("gone"), "{gone}");

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
