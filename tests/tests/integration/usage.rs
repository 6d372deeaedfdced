//! A Space's size at a glance, against the real engine: RGW's own figures in one request (HEAD
//! with `?read-stats`), equal to what a listing of every file counts; and 50 Spaces' sizes timed
//! both ways (printed, for the README's figure).

use std::time::Instant;

use spacedock::core::space::usage::{self, Counted, SpaceUsage};
use spacedock_tests::{new_space, owner_client, put_many, recording, sandbox};

use crate::safety::put;

#[tokio::test]
async fn a_spaces_size_comes_from_the_server_in_one_request_and_equals_a_listing() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = new_space(&sb, "usage").await;

    // An empty Space: none of either.
    let empty = usage::server_stats(&client, url, &space)
        .await
        .expect("stats");
    assert_eq!(
        empty,
        Some(SpaceUsage {
            files: 0,
            bytes: 0,
            counted: Counted::ByServer
        })
    );

    // More than a page of the listing, and files of other sizes.
    let keys: Vec<String> = (0..1_050).map(|i| format!("many/{i:04}.bin")).collect();
    put_many(&client, &space, &keys).await;
    put(&client, &space, "big.bin", &vec![7u8; 3 << 20]).await;
    put(&client, &space, "a/b/notes.txt", b"twelve bytes").await;

    let (counting, sent) = recording(&client);
    let stats = usage::server_stats(&counting, url, &space)
        .await
        .expect("stats")
        .expect("RGW gives its figures");
    assert_eq!(sent.names(), ["HeadBucket"], "one request");
    let listed = usage::by_listing(&client, url, &space)
        .await
        .expect("listing");
    assert_eq!((stats.files, stats.bytes), (1_052, 1_050 + (3 << 20) + 12));
    assert_eq!((listed.files, listed.bytes), (stats.files, stats.bytes));
    assert_eq!(
        (stats.counted, listed.counted),
        (Counted::ByServer, Counted::ByListing)
    );
}

#[tokio::test]
async fn a_space_of_a_key_that_may_not_read_it_is_an_error_not_a_size() {
    let sb = sandbox();
    let space = new_space(&sb, "usage-denied").await;
    let stranger = spacedock_tests::new_user("usage-stranger");
    let other = spacedock::core::s3::client(&sb.endpoint, &stranger.access_key, &stranger.secret);
    let got = usage::server_stats(&other, &sb.endpoint.url, &space).await;
    assert!(got.is_err(), "{got:?}");
}

/// 50 Spaces of 200 files each: their sizes from one request each, against listing every file.
/// Prints both times (the README's figure); asserts only that both count the same.
#[tokio::test]
async fn fifty_spaces_sized_by_one_request_each_and_by_listing() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.clone();
    let mut spaces = Vec::new();
    for n in 0..50 {
        let space = new_space(&sb, &format!("fifty-{n:02}")).await;
        let keys: Vec<String> = (0..200).map(|i| format!("f/{i:03}")).collect();
        put_many(&client, &space, &keys).await;
        spaces.push(space);
    }
    let all = |listing: bool| {
        let (client, url) = (client.clone(), url.clone());
        let spaces = spaces.clone();
        async move {
            let started = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for space in spaces {
                let (client, url) = (client.clone(), url.clone());
                tasks.spawn(async move {
                    let got = if listing {
                        usage::by_listing(&client, &url, &space).await
                    } else {
                        usage::server_stats(&client, &url, &space)
                            .await
                            .map(|u| u.expect("figures"))
                    };
                    (space, got.expect("usage"))
                });
            }
            let mut sizes: Vec<(String, u64, u64)> = Vec::new();
            while let Some(done) = tasks.join_next().await {
                let (space, u) = done.expect("task");
                sizes.push((space, u.files, u.bytes));
            }
            sizes.sort();
            (started.elapsed(), sizes)
        }
    };
    let (by_server, server_sizes) = all(false).await;
    let (by_listing, listed_sizes) = all(true).await;
    eprintln!(
        "sizes of 50 Spaces of 200 files: {:.0} ms by one request each, {:.0} ms by listing ({:.1}×)",
        by_server.as_secs_f64() * 1e3,
        by_listing.as_secs_f64() * 1e3,
        by_listing.as_secs_f64() / by_server.as_secs_f64()
    );
    assert_eq!(server_sizes, listed_sizes);
    assert!(server_sizes
        .iter()
        .all(|(_, files, bytes)| (*files, *bytes) == (200, 200)));
    // The shared sandbox is kept from run to run, and its owner may hold only so many Spaces:
    // these fifty go, files first.
    let keys: Vec<String> = (0..200).map(|i| format!("f/{i:03}")).collect();
    for space in &spaces {
        spacedock_tests::delete_keys(&client, &url, space, &keys)
            .await
            .expect("empty");
        client
            .delete_bucket()
            .bucket(space)
            .send()
            .await
            .expect("delete the Space");
    }
}

#[tokio::test]
async fn what_no_file_list_shows_is_counted_old_versions_and_unfinished_uploads() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("tempdir");
    let s = crate::services::connected(&sb, root.path(), &sb.endpoint.url).await;
    let client = owner_client(&sb);
    let space = new_space(&sb, "hidden").await;
    spacedock::core::versions::set_versioning(&client, &sb.endpoint.url, &space, true)
        .await
        .expect("versioning");
    put(&client, &space, "notes.txt", b"one").await;
    put(&client, &space, "notes.txt", b"two!").await;
    put(&client, &space, "notes.txt", b"three").await;
    put(&client, &space, "gone.txt", b"12345678").await;
    client
        .delete_object()
        .bucket(&space)
        .key("gone.txt")
        .send()
        .await
        .expect("delete");
    let begun = client
        .create_multipart_upload()
        .bucket(&space)
        .key("left.iso")
        .send()
        .await
        .expect("begin");
    client
        .upload_part()
        .bucket(&space)
        .key("left.iso")
        .upload_id(begun.upload_id().expect("id"))
        .part_number(1)
        .body(aws_sdk_s3::primitives::ByteStream::from(vec![1u8; 5 << 20]))
        .send()
        .await
        .expect("part");

    let held = usage::hidden(&s, &space, None, None).await.expect("hidden");
    assert_eq!(
        held,
        usage::HiddenUsage {
            // "one", "two!" and the deleted file's 8 bytes, kept as versions.
            old_versions: 3,
            old_version_bytes: 3 + 4 + 8,
            delete_markers: 1,
            unfinished_uploads: 1,
            unfinished_bytes: 5 << 20,
            unfinished_counted: true,
        }
    );
}

// Counting and checking only read, and a Space's are long on a slow link: both stop at once
// when the page asks (over a link held to 20 kB/s, a listing of 1,000 files alone takes many
// seconds), leaving nothing behind.
#[tokio::test]
async fn counting_and_checking_stop_at_once_when_asked() {
    use spacedock::core::error::ErrorKind;
    use spacedock::core::space::health;
    use std::time::Duration;
    let sb = sandbox();
    let space = new_space(&sb, "stop-count").await;
    let keys: Vec<String> = (0..1000)
        .map(|i| format!("a-rather-long-folder-name/and-a-file-name-{i:05}.txt"))
        .collect();
    put_many(&owner_client(&sb), &space, &keys).await;
    let slow = spacedock_tests::proxy::counting_proxy(&sb.endpoint.url, Some(20_000));
    let root = tempfile::tempdir().expect("tempdir");
    let s = std::sync::Arc::new(crate::services::connected(&sb, root.path(), &slow.url).await);
    for (request, what) in [(31u32, "count"), (32, "check")] {
        let running = {
            let (s, space) = (s.clone(), space.clone());
            tokio::spawn(async move {
                match what {
                    "count" => usage::hidden(&s, &space, None, Some(request))
                        .await
                        .map(|_| ()),
                    _ => health::check(&s, &space, None, Some(request))
                        .await
                        .map(|_| ()),
                }
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        let asked = Instant::now();
        s.requests().cancel(request);
        let e = running.await.expect("task").expect_err("stopped");
        assert_eq!(e.kind(), ErrorKind::Cancelled, "{what}: {e}");
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "the {what} went on after the stop: {:?}",
            asked.elapsed()
        );
    }
}
