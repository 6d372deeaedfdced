//! Integrity on every byte: every upload carries Content-MD5 (each part too) and the file's MD5
//! and time in the form rclone and Cyberduck read; what the server says it stored is checked
//! against what was sent; and a download whose bytes differ from what the Space holds never
//! takes its name.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use spacedock::core::connection::Endpoint;
use spacedock::core::s3;
use spacedock::core::secret::Secret;
use spacedock::core::transfer::{self, download, integrity, Target};
use spacedock_tests::hostile::{HostileServer, Reply};
use spacedock_tests::proxy::corrupting_proxy;
use spacedock_tests::{new_space, noise, owner_client, put_in_parts, put_in_parts_with, sandbox};

const MIB: u64 = 1 << 20;

fn settings() -> transfer::Settings {
    transfer::Settings {
        multipart_threshold: 5 * MIB,
        part_size: 5 * MIB,
        ..Default::default()
    }
}

/// Uploads `path` as `key`; the files' failure messages.
async fn upload(target: &Target, path: &Path, key: &str) -> (transfer::Summary, Vec<String>) {
    let size = std::fs::metadata(path).expect("size").len();
    let said = Arc::new(Mutex::new(Vec::new()));
    let sink = said.clone();
    let file = transfer::QueuedFile {
        id: 0,
        file: transfer::PlannedFile {
            path: path.to_path_buf(),
            key: key.into(),
            size,
        },
        cancel: transfer::Cancel::default(),
        expect: Default::default(),
    };
    let summary = transfer::upload_all(
        target.clone(),
        vec![file],
        transfer::FileAcl::Private,
        settings(),
        Arc::new(move |e: transfer::TransferEvent| {
            if let transfer::FileState::Failed { message, .. } = e.state {
                sink.lock().expect("said").push(message);
            }
        }),
    )
    .await;
    let said = said.lock().expect("said").clone();
    (summary, said)
}

async fn download_to(target: &Target, key: &str, dir: &Path) -> Result<u64, String> {
    let path = dir.join(key);
    (download::download_file(target, key, (dir, &path), &|_| {}, None, None).await)
        .map_err(|e| e.to_string())
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_carry_their_md5_and_time_as_rclone_reads_them() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "sums").await;
    let target = Target::plain(&client, &sb.endpoint.url, &space);
    let dir = tempfile::tempdir().expect("tempdir");
    let when = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_500);
    for (key, size) in [("small.bin", 1000), ("big.bin", 12 * MIB + 5)] {
        let path = dir.path().join(key);
        let bytes = noise(size, size);
        std::fs::write(&path, &bytes).expect("write");
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(when))
            .expect("time");
        let (summary, said) = upload(&target, &path, key).await;
        assert_eq!(summary.done, 1, "{key}: {said:?}");

        let head = (client.head_object().bucket(&space).key(key).send())
            .await
            .expect("head");
        let meta = head.metadata().expect("metadata");
        let md5 = integrity::md5_of(&bytes);
        assert_eq!(
            meta.get("md5chksum"),
            Some(&integrity::base64(&md5)),
            "{key}"
        );
        assert_eq!(
            meta.get("mtime").map(String::as_str),
            Some("1700000000.5"),
            "{key}"
        );
        let etag = integrity::bare(head.e_tag().expect("etag")).to_string();
        match size < 5 * MIB {
            true => assert_eq!(etag, integrity::hex(&md5), "a single PUT's ETag is its MD5"),
            false => assert!(etag.ends_with("-3"), "stored in three parts: {etag}"),
        }

        // And it comes back checked, through every way the engine knows to check it.
        let back = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            download_to(&target, key, back.path())
                .await
                .expect("download"),
            size
        );
        assert_eq!(std::fs::read(back.path().join(key)).expect("read"), bytes);
    }
}

/// An object another program uploaded in parts of 8 MiB, with no MD5 stored: the download
/// recomputes its multipart ETag (the part size from the server, or the sizes tools use).
#[tokio::test(flavor = "multi_thread")]
async fn a_file_uploaded_in_parts_by_another_program_is_checked_too() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "sums-parts").await;
    let bytes = noise(20 * MIB + 3, 8);
    put_in_parts(&client, &space, "other.bin", &bytes).await;
    // And with an MD5 stored that is not the bytes' (metadata copied from another file): the
    // server's ETag of the parts decides, not the stale metadata.
    let stale = transfer::integrity::base64(&transfer::integrity::md5_of(b"another file"));
    put_in_parts_with(&client, &space, "stale.bin", &bytes, Some(&stale)).await;
    let target = Target::plain(&client, &sb.endpoint.url, &space);
    let dir = tempfile::tempdir().expect("tempdir");
    for key in ["other.bin", "stale.bin"] {
        download_to(&target, key, dir.path())
            .await
            .expect("checked and kept");
        assert_eq!(std::fs::read(dir.path().join(key)).expect("read"), bytes);
    }
}

/// Bytes that go bad between the Space and the disk: a proxy changes one byte value in every
/// answer. Neither a small file nor a big one (ranges, multipart ETag) takes its name, and no
/// partial file stays.
#[tokio::test(flavor = "multi_thread")]
async fn a_download_that_went_bad_on_the_way_is_not_kept() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "sums-bad").await;
    let target = Target::plain(&client, &sb.endpoint.url, &space);
    let dir = tempfile::tempdir().expect("tempdir");
    // Files with the byte 0xFE here and there; uploaded by the app (big in parts, MD5 stored).
    for (key, size) in [("small.bin", 3000), ("big.bin", 40 * MIB + 1)] {
        let mut bytes = noise(size, 3);
        bytes.iter_mut().step_by(997).for_each(|b| *b = 0xFE);
        let path = dir.path().join(key);
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(upload(&target, &path, key).await.0.done, 1);
    }
    // The big one again, in parts by another program, with no MD5 stored.
    let big = std::fs::read(dir.path().join("big.bin")).expect("read");
    put_in_parts(&client, &space, "other.bin", &big).await;
    let stale = transfer::integrity::base64(&transfer::integrity::md5_of(b"another file"));
    put_in_parts_with(&client, &space, "stale.bin", &big, Some(&stale)).await;

    let proxy = corrupting_proxy(&sb.endpoint.url, 0xFE, 0xFD);
    let endpoint = Endpoint {
        url: proxy.url.clone(),
        ..sb.endpoint.clone()
    };
    let bad_client = s3::client(&endpoint, &sb.owner_access_key, &sb.owner_secret);
    let bad = Target::plain(&bad_client, &proxy.url, &space);
    let back = tempfile::tempdir().expect("tempdir");
    for key in ["small.bin", "big.bin", "other.bin", "stale.bin"] {
        let err = download_to(&bad, key, back.path())
            .await
            .expect_err("bytes that differ are refused");
        assert!(err.contains("not kept"), "{key}: {err}");
    }
    assert_eq!(
        names_in(back.path()),
        Vec::<String>::new(),
        "nothing kept, no partial"
    );
    // The same downloads, straight from the Space, are kept.
    for key in ["small.bin", "big.bin", "other.bin", "stale.bin"] {
        download_to(&target, key, back.path()).await.expect(key);
    }
    assert_eq!(
        names_in(back.path()),
        ["big.bin", "other.bin", "small.bin", "stale.bin"]
    );
}

/// A server that stores other bytes than it was sent (its ETags are not the MD5s of what went):
/// every PUT and every part carried Content-MD5, and the upload fails with a sentence rather
/// than being called done.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_stored_other_bytes_fails_the_upload() {
    let sums = Arc::new(Mutex::new(Vec::<(String, Option<String>)>::new()));
    let seen = sums.clone();
    let server = HostileServer::start_with(move |r| {
        if r.method == "PUT" {
            let md5 = r.header("content-md5").map(str::to_string);
            seen.lock().expect("sums").push((r.target.clone(), md5));
        }
        let wrong = "\"0123456789abcdef0123456789abcdef\"";
        match r.method.as_str() {
            "POST" if r.has_query("uploads") => Reply::new(
                200,
                "<InitiateMultipartUploadResult><Bucket>s</Bucket><Key>big.bin</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>",
            ),
            "PUT" => Reply::new(200, "").header("ETag", wrong),
            "DELETE" => Reply::new(204, ""),
            _ => Reply::new(404, "<Error><Code>NoSuchKey</Code></Error>"),
        }
    });
    let endpoint = Endpoint {
        url: server.base.clone(),
        signing_region: "us-east-1".into(),
        path_style: true,
    };
    let client = s3::client(&endpoint, "AK", &Secret::new("secret"));
    let target = Target::plain(&client, &server.base, "s");
    let dir = tempfile::tempdir().expect("tempdir");
    for (key, size) in [("small.bin", 1000), ("big.bin", 11 * MIB)] {
        let path = dir.path().join(key);
        let bytes = noise(size, 5);
        std::fs::write(&path, &bytes).expect("write");
        let (summary, said) = upload(&target, &path, key).await;
        assert_eq!(summary.done, 0, "{key}");
        assert!(
            said.iter().any(|m| m.contains("other bytes")),
            "{key}: {said:?}"
        );
    }
    let sums = sums.lock().expect("sums").clone();
    let small = sums
        .iter()
        .find(|(t, _)| t.contains("small.bin"))
        .expect("small");
    assert_eq!(
        small.1.as_deref(),
        Some(integrity::base64(&integrity::md5_of(&noise(1000, 5))).as_str())
    );
    let parts: Vec<_> = sums
        .iter()
        .filter(|(t, _)| t.contains("partNumber="))
        .collect();
    assert!(!parts.is_empty(), "parts were sent: {sums:?}");
    let first = &noise(11 * MIB, 5)[..5 * MIB as usize];
    for (t, md5) in &parts {
        assert!(md5.is_some(), "a part without Content-MD5: {t}");
        if t.contains("partNumber=1&") || t.ends_with("partNumber=1") {
            assert_eq!(
                md5.as_deref(),
                Some(integrity::base64(&integrity::md5_of(first)).as_str())
            );
        }
    }
}
