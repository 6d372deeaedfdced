//! Browsing folders page by page against the real RGW.

use aws_sdk_s3::primitives::ByteStream;
use spacedock::core::browse::{self, EntryKind};
use spacedock::core::error::ErrorKind;
use spacedock::core::s3;
use spacedock::core::space::{self, FileListing};
use spacedock_tests::{sandbox, unique};

#[tokio::test]
async fn a_folder_of_many_pages_is_listed_whole_and_in_order() {
    let sb = sandbox();
    let client = s3::client(&sb.endpoint, &sb.owner_access_key, &sb.owner_secret);
    let name = unique("browse");
    space::create(&client, &sb.endpoint.url, &name, FileListing::Restricted)
        .await
        .expect("create");
    let mut keys: Vec<String> = (0..250).map(|i| format!("docs/file-{i:04}.txt")).collect();
    keys.extend(
        [
            "docs/sub/a.txt",
            "docs/sub/deeper/b.txt",
            "docs/other/c.txt",
            "top.txt",
            "docs/ünï cödé+.txt",
        ]
        .map(String::from),
    );
    let mut puts = tokio::task::JoinSet::new();
    for chunk in keys.chunks(32) {
        let (client, name, chunk) = (client.clone(), name.clone(), chunk.to_vec());
        puts.spawn(async move {
            for key in chunk {
                client
                    .put_object()
                    .bucket(&name)
                    .key(&key)
                    .body(ByteStream::from_static(b"x"))
                    .send()
                    .await
                    .expect("put");
            }
        });
    }
    while let Some(r) = puts.join_next().await {
        r.expect("upload task");
    }

    let mut pages = Vec::new();
    let total = browse::list_folder(&client, &sb.endpoint.url, &name, "docs/", 100, |p| {
        pages.push(p);
        true
    })
    .await
    .expect("list");
    assert_eq!(total, 253, "250 files, 2 folders and the unicode file");
    assert!(
        pages.len() >= 3,
        "listed in pages of 100, got {}",
        pages.len()
    );
    assert!(pages.last().map(|p| p.done).unwrap_or(false));
    assert!(pages[..pages.len() - 1].iter().all(|p| !p.done));
    let entries: Vec<_> = pages.into_iter().flat_map(|p| p.entries).collect();
    let folders: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Folder)
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(folders, ["other", "sub"]);
    let files: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| e.key.clone())
        .collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted, "S3 order is kept across pages");
    assert!(files.contains(&"docs/ünï cödé+.txt".to_string()));
    assert!(entries
        .iter()
        .all(|e| e.kind == EntryKind::Folder || e.size == 1));

    // Stopping early (the user opened another folder) sends no more pages.
    let mut seen = 0;
    browse::list_folder(&client, &sb.endpoint.url, &name, "docs/", 100, |_| {
        seen += 1;
        false
    })
    .await
    .expect("list");
    assert_eq!(seen, 1);
}

#[tokio::test]
async fn new_folders_are_zero_byte_keys_and_show_as_folders() {
    let sb = sandbox();
    let client = s3::client(&sb.endpoint, &sb.owner_access_key, &sb.owner_secret);
    let name = unique("folders");
    space::create(&client, &sb.endpoint.url, &name, FileListing::Restricted)
        .await
        .expect("create");
    let key = browse::create_folder(&client, &sb.endpoint.url, &name, "", "photos 2026")
        .await
        .expect("folder");
    assert_eq!(key, "photos 2026/");
    let head = client
        .head_object()
        .bucket(&name)
        .key(&key)
        .send()
        .await
        .expect("marker exists");
    assert_eq!(head.content_length(), Some(0));

    let mut entries = Vec::new();
    browse::list_folder(&client, &sb.endpoint.url, &name, "", 1000, |p| {
        entries.extend(p.entries);
        true
    })
    .await
    .expect("list");
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].kind, entries[0].name.as_str()),
        (EntryKind::Folder, "photos 2026")
    );

    // Inside it, the marker itself is not listed as a file.
    let mut inside = Vec::new();
    browse::list_folder(&client, &sb.endpoint.url, &name, &key, 1000, |p| {
        inside.extend(p.entries);
        true
    })
    .await
    .expect("list");
    assert!(inside.is_empty(), "{inside:?}");

    for bad in ["", "a/b", ".."] {
        let err = browse::create_folder(&client, &sb.endpoint.url, &name, "", bad)
            .await
            .expect_err(bad);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
}
