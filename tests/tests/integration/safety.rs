//! Nothing lost, nothing misplaced: each test here is a defect that once existed, shown against
//! the real sandbox (or a misbehaving server where only one can show it).

use std::collections::HashSet;
use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use spacedock::core::transfer::download::{self, DownloadSummary};
use spacedock::core::transfer::{self, Conflict, Target};
use spacedock_tests::{fetch, new_space, owner_client, sandbox, SandboxInfo};

pub(crate) async fn put(client: &aws_sdk_s3::Client, space: &str, key: &str, body: &[u8]) {
    client
        .put_object()
        .bucket(space)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key:?}: {e:?}"));
}

/// Every file below `root`, as paths relative to it.
fn files_below(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(
                    path.strip_prefix(root)
                        .expect("below")
                        .to_string_lossy()
                        .to_string(),
                );
            }
        }
    }
    found.sort();
    found
}

async fn download_into(
    sb: &SandboxInfo,
    space: &str,
    keys: &[&str],
    dest: &Path,
    conflict: Conflict,
) -> DownloadSummary {
    let client = owner_client(sb);
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let plan = download::plan(&client, &sb.endpoint.url, space, &keys, dest)
        .await
        .expect("plan");
    download::run(
        &Target::plain(&client, &sb.endpoint.url, space),
        dest,
        plan,
        conflict,
        &|_| {},
        Default::default(),
    )
    .await
}

// 1. A hostile key can't make a download write outside the chosen folder.
#[tokio::test]
async fn downloads_never_write_outside_the_chosen_folder() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "hostile-keys").await;
    let long = format!("deep/{}.txt", "x".repeat(256));
    let hostile = [
        "/etc-passwd.txt",
        "/deep/abs.txt",
        "deep//empty.txt",
        "deep/./dot.txt",
        "deep/../../escape.txt",
        "deep/back\\slash.txt",
        "C:evil.txt",
        long.as_str(),
    ];
    for key in hostile {
        put(&client, &space, key, b"hostile").await;
    }
    put(&client, &space, "deep/fine.txt", b"fine").await;
    put(&client, &space, "top.txt", b"top").await;
    // What the server really holds (it may tidy some names): every one of them is tried below.
    let mut stored = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(&space)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for o in page.expect("list").contents() {
            stored.push(o.key().expect("key").to_string());
        }
    }
    assert!(stored.len() >= 8, "{stored:?}");

    for (what, keys) in [
        ("the whole Space", vec![""]),
        ("a folder", vec!["deep/"]),
        ("the folder “/”", vec!["/"]),
    ] {
        let outer = tempfile::tempdir().expect("tempdir");
        let dest = outer.path().join("chosen");
        std::fs::create_dir(&dest).expect("dest");
        let summary = download_into(&sb, &space, &keys, &dest, Conflict::Overwrite).await;
        // Nothing outside the chosen folder, in it or above it.
        assert_eq!(
            files_below(outer.path())
                .iter()
                .filter(|f| !f.starts_with("chosen/"))
                .count(),
            0,
            "{what}: {:?}",
            files_below(outer.path())
        );
        let written = files_below(&dest);
        for file in &written {
            let path = dest.join(file);
            assert!(path.starts_with(&dest), "{what}: {file}");
        }
        // Each refused file is named, with why.
        let refused: HashSet<&str> = summary.problems.iter().map(|p| p.path.as_str()).collect();
        for key in stored.iter().filter(|k| k.starts_with(keys[0])) {
            let safe = matches!(key.as_str(), "deep/fine.txt" | "top.txt");
            if !safe {
                assert!(
                    refused.contains(key.as_str()),
                    "{what}: {key:?} was not refused: {:?}",
                    summary.problems
                );
            }
        }
        assert!(summary
            .problems
            .iter()
            .all(|p| p.message.starts_with("Not downloaded:")));
        match what {
            "the whole Space" => {
                assert_eq!(written, ["deep/fine.txt", "top.txt"], "{what}");
                assert_eq!(std::fs::read(dest.join("top.txt")).expect("top"), b"top");
            }
            "a folder" => assert_eq!(written, ["deep/fine.txt"], "{what}"),
            _ => assert!(written.is_empty(), "{what}: {written:?}"),
        }
    }
}

// 2. Downloads ask before replacing: Overwrite, Skip or Keep both, for the whole batch.
#[tokio::test]
async fn downloads_overwrite_skip_or_keep_both_as_chosen() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "dl-conflict").await;
    put(&client, &space, "docs/a.txt", b"from the Space").await;
    put(&client, &space, "docs/b.txt", b"new b").await;
    let dest = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dest.path().join("docs")).expect("docs");
    std::fs::write(dest.path().join("docs/a.txt"), b"mine").expect("mine");

    let plan = download::plan(
        &client,
        &sb.endpoint.url,
        &space,
        &["docs/".to_string()],
        dest.path(),
    )
    .await
    .expect("plan");
    assert_eq!(plan.existing().len(), 1, "a.txt is already there");

    let skipped = download_into(&sb, &space, &["docs/"], dest.path(), Conflict::Skip).await;
    assert_eq!((skipped.done, skipped.skipped), (1, 1));
    assert_eq!(
        std::fs::read(dest.path().join("docs/a.txt")).expect("a"),
        b"mine"
    );

    let kept = download_into(&sb, &space, &["docs/"], dest.path(), Conflict::KeepBoth).await;
    assert_eq!(kept.done, 2);
    assert_eq!(
        std::fs::read(dest.path().join("docs/a.txt")).expect("a"),
        b"mine"
    );
    assert_eq!(
        std::fs::read(dest.path().join("docs/a (1).txt")).expect("a (1)"),
        b"from the Space"
    );
    assert!(dest.path().join("docs/b (1).txt").exists());

    let replaced = download_into(
        &sb,
        &space,
        &["docs/a.txt"],
        dest.path(),
        Conflict::Overwrite,
    )
    .await;
    assert_eq!(replaced.done, 1);
    assert_eq!(
        std::fs::read(dest.path().join("a.txt")).expect("a"),
        b"from the Space"
    );
    let again = download_into(&sb, &space, &["docs/"], dest.path(), Conflict::Overwrite).await;
    assert_eq!(again.done, 2);
    assert_eq!(
        std::fs::read(dest.path().join("docs/a.txt")).expect("a"),
        b"from the Space"
    );
    // No temporary file is left anywhere.
    assert!(
        files_below(dest.path())
            .iter()
            .all(|f| !f.ends_with(".spacedock-part")),
        "{:?}",
        files_below(dest.path())
    );
}

// 3. Keep both picks a name free on the server, not only in this batch.
#[tokio::test]
async fn keep_both_never_replaces_an_earlier_copy() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "keep-both").await;
    let target = Target {
        client: client.clone(),
        endpoint: sb.endpoint.url.clone(),
        space: space.clone(),
        unfinished: None,
        pace: Default::default(),
        link: Default::default(),
    };
    put(&client, &space, "photos/a.jpg", b"first").await;
    for (n, body) in [(1, b"second"), (2, b"third!")] {
        let key = transfer::free_key(&target, "photos/a.jpg", &Default::default())
            .await
            .expect("free key");
        assert_eq!(key, format!("photos/a ({n}).jpg"));
        put(&client, &space, &key, body).await;
    }
    assert_eq!(
        fetch(&client, &space, "photos/a.jpg").await.as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(
        fetch(&client, &space, "photos/a (1).jpg").await.as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(
        fetch(&client, &space, "photos/a (2).jpg").await.as_deref(),
        Some(&b"third!"[..])
    );
    // A name taken by the batch itself is not handed out again.
    let taken = std::sync::Mutex::new(HashSet::from(["photos/a (3).jpg".to_string()]));
    assert_eq!(
        transfer::free_key(&target, "photos/a.jpg", &taken)
            .await
            .expect("free key"),
        "photos/a (4).jpg"
    );
}

// 5. Saving metadata keeps the file's exact permission, or refuses.
