//! Sizes and search against the real engine: a Space's and a folder's files and bytes counted
//! page by page, folder markers left out; a search of the whole Space by name, any case.

use std::sync::Mutex;

use crate::safety::put;
use spacedock::core::error::ErrorKind;
use spacedock::core::search::{self, FolderSize};
use spacedock_tests::{new_space, owner_client, sandbox};

#[tokio::test]
async fn sizes_count_every_file_below_a_folder_page_by_page() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = new_space(&sb, "sizes").await;
    put(&client, &space, "a/photo-One.JPG", &[1; 10]).await;
    put(&client, &space, "a/b/photo two.png", &[2; 20]).await;
    put(&client, &space, "c/", b"").await; // a folder's marker: not a file
    put(&client, &space, "c/notes.txt", &[3; 5]).await;
    put(&client, &space, "PHOTO.txt", &[4; 7]).await;
    // More than one page of the listing (1,000 keys a page).
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(32);
    for i in 0..1050 {
        let (client, space, tx) = (client.clone(), space.clone(), tx.clone());
        tokio::spawn(async move {
            put(&client, &space, &format!("many/{i:04}.bin"), &[5; 3]).await;
            drop(tx);
        });
    }
    drop(tx);
    while rx.recv().await.is_some() {}

    let seen = Mutex::new(Vec::new());
    let whole = search::folder_size(&client, url, &space, "", |p| {
        seen.lock().expect("lock").push(p);
        true
    })
    .await
    .expect("size of the Space");
    let want = FolderSize {
        files: 4 + 1050,
        bytes: 42 + 3 * 1050,
        done: true,
    };
    assert_eq!(whole, want);
    let seen = seen.into_inner().expect("lock");
    assert!(seen.len() >= 2, "progress after each page: {seen:?}");
    assert!(!seen[0].done && seen[0].files < want.files, "{seen:?}");
    assert_eq!(seen.last(), Some(&want));

    let folder = search::folder_size(&client, url, &space, "a/", |_| true).await;
    let folder = folder.expect("size of a folder");
    assert_eq!((folder.files, folder.bytes), (2, 30));
    // Stopped after the first page: not done, and only what was counted.
    let stopped = search::folder_size(&client, url, &space, "many/", |_| false).await;
    let stopped = stopped.expect("stopped");
    assert!(!stopped.done && stopped.files == 1000, "{stopped:?}");

    let bad = search::folder_size(&client, url, &space, "a", |_| true).await;
    assert_eq!(
        bad.expect_err("not a folder").kind(),
        ErrorKind::InvalidInput
    );
}

#[tokio::test]
async fn a_search_finds_files_by_name_in_any_case_anywhere_in_the_space() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = new_space(&sb, "search").await;
    for key in [
        "a/photo-One.JPG",
        "a/b/photo two.png",
        "photos/notes.txt",
        "PHOTO.txt",
        "c/other.bin",
    ] {
        put(&client, &space, key, b"x").await;
    }
    let found = Mutex::new(Vec::new());
    let pages = Mutex::new(0);
    let count = search::search(&client, url, &space, "PhOtO", |p| {
        assert_eq!(p.needle, "PhOtO");
        *pages.lock().expect("lock") += 1;
        found
            .lock()
            .expect("lock")
            .extend(p.matches.into_iter().map(|m| m.key));
        true
    })
    .await
    .expect("search");
    let mut found = found.into_inner().expect("lock");
    found.sort();
    // By the file's own name: "photos/notes.txt" is in a folder named so, but is not one.
    assert_eq!(found, ["PHOTO.txt", "a/b/photo two.png", "a/photo-One.JPG"]);
    assert_eq!(count, 3);
    assert!(
        *pages.lock().expect("lock") >= 2,
        "the matches, then the end"
    );

    let empty = search::search(&client, url, &space, "  ", |_| true).await;
    assert_eq!(
        empty.expect_err("nothing to search for").kind(),
        ErrorKind::InvalidInput
    );
}
