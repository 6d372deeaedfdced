//! Servers that misbehave on purpose: nothing they send may crash the app, size its memory,
//! loop it forever or send the API token elsewhere.

use std::sync::{Arc, Mutex};

use spacedock::core::browse;
use spacedock::core::connection::Endpoint;
use spacedock::core::error::ErrorKind;
use spacedock::core::keys::digitalocean::DoApi;
use spacedock::core::s3;
use spacedock::core::secret::Secret;
use spacedock::core::transfer::{self, download, Target};
use spacedock_tests::hostile::HostileServer;

fn listing(keys: &[&str], key_count: &str, token: Option<&str>) -> String {
    let contents: String = keys
        .iter()
        .map(|k| format!("<Contents><Key>{k}</Key><Size>1</Size></Contents>"))
        .collect();
    let next = token
        .map(|t| {
            format!(
                "<IsTruncated>true</IsTruncated><NextContinuationToken>{t}</NextContinuationToken>"
            )
        })
        .unwrap_or_else(|| "<IsTruncated>false</IsTruncated>".into());
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>s</Name><Prefix></Prefix><KeyCount>{key_count}</KeyCount><MaxKeys>1000</MaxKeys>{next}{contents}</ListBucketResult>"#
    )
}

fn client_of(server: &HostileServer) -> aws_sdk_s3::Client {
    let endpoint = Endpoint {
        url: server.base.clone(),
        signing_region: "us-east-1".into(),
        path_style: true,
    };
    s3::client(&endpoint, "AK", &Secret::new("secret"))
}

// 15. A huge KeyCount, keys outside the folder, a token that never changes: errors, no crash.
#[tokio::test]
async fn hostile_listings_are_refused_not_trusted() {
    let huge = HostileServer::start(|_| (200, listing(&["docs/a.txt"], "2147483647", None)));
    let client = client_of(&huge);
    let mut rows = 0;
    let sent = browse::list_folder(&client, &huge.base, "s", "docs/", 1000, |p| {
        rows += p.entries.len();
        true
    })
    .await
    .expect("a huge KeyCount is only a number");
    assert_eq!((sent, rows), (1, 1));

    let outside = HostileServer::start(|_| {
        (
            200,
            listing(&["docs/a.txt", "elsewhere/ü.txt", "d"], "3", None),
        )
    });
    let client = client_of(&outside);
    let err = browse::list_folder(&client, &outside.base, "s", "docs/", 1000, |_| true)
        .await
        .expect_err("a key outside the folder");
    assert_eq!(err.kind(), ErrorKind::BadAnswer, "{err}");
    // Conflict checks and download plans refuse the same answer whole, without a panic.
    let target = Target {
        client: client.clone(),
        endpoint: outside.base.clone(),
        space: "s".into(),
        unfinished: None,
        pace: Default::default(),
        link: Default::default(),
    };
    // A name whose bytes don't split where the folder's name ends.
    let keys = vec!["üüü/x".to_string(), "docs/a.txt".to_string()];
    let err = transfer::existing_keys(&target, &keys, "docs/")
        .await
        .expect_err("a key outside the folder");
    assert_eq!(err.kind(), ErrorKind::BadAnswer, "{err}");
    let dest = tempfile::tempdir().expect("tempdir");
    let err = download::plan(
        &client,
        &outside.base,
        "s",
        &["docs/".to_string()],
        dest.path(),
    )
    .await
    .expect_err("a key outside the folder");
    assert_eq!(err.kind(), ErrorKind::BadAnswer, "{err}");

    let looping = HostileServer::start(|_| (200, listing(&["docs/a.txt"], "1", Some("same"))));
    let client = client_of(&looping);
    let err = browse::list_folder(&client, &looping.base, "s", "docs/", 1000, |_| true)
        .await
        .expect_err("the same token twice");
    assert_eq!(err.kind(), ErrorKind::BadAnswer, "{err}");
    assert!(looping.requests().len() <= 3, "{:?}", looping.requests());
}

fn keys_page(next: Option<String>) -> String {
    serde_json::json!({
        "keys": [{ "name": "k", "access_key": "DO1", "grants": [], "created_at": null }],
        "links": { "pages": { "next": next } },
        "meta": { "total": 2 }
    })
    .to_string()
}

// 16. DigitalOcean's API: pages are followed on its own origin only, once each; access keys
// are one path segment.
#[tokio::test]
async fn the_api_token_goes_only_to_the_api() {
    let elsewhere = HostileServer::start(|_| (200, keys_page(None)));
    let other = format!("{}/v2/spaces/keys?page=2", elsewhere.base);
    let api = HostileServer::start(move |_| (200, keys_page(Some(other.clone()))));
    let err = DoApi::new(&api.base, &Secret::new("token"))
        .list()
        .await
        .expect_err("a next page on another host");
    assert_eq!(err.kind(), ErrorKind::BadAnswer, "{err}");
    assert!(elsewhere.requests().is_empty(), "the token went elsewhere");

    // A page that links to itself, on the API's own address.
    let own = Arc::new(Mutex::new(String::new()));
    let base = own.clone();
    let looped = HostileServer::start(move |target| {
        let link = format!("{}{target}", base.lock().expect("base"));
        (200, keys_page(Some(link)))
    });
    *own.lock().expect("base") = looped.base.clone();
    let err = DoApi::new(&looped.base, &Secret::new("token"))
        .list()
        .await
        .expect_err("a page that links to itself");
    assert_eq!(err.kind(), ErrorKind::BadAnswer, "{err}");
    assert_eq!(looped.requests().len(), 1, "{:?}", looped.requests());

    let paths = HostileServer::start(|_| (404, "{}".into()));
    let _ = DoApi::new(&paths.base, &Secret::new("token"))
        .get("../../v2/account")
        .await;
    let err = DoApi::new(&paths.base, &Secret::new("token"))
        .delete("..")
        .await
        .expect_err("“..” is no access key");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        paths.requests(),
        ["GET /v2/spaces/keys/..%2F..%2Fv2%2Faccount HTTP/1.1"]
    );
}

// A file's versions are listed by its key as a prefix: the listing stops at the first key past
// it, however many follow (a folder "logs/" of a million files beside a file "logs").
#[tokio::test]
async fn a_files_versions_stop_at_the_first_key_past_it() {
    use spacedock::core::versions;
    use spacedock_tests::hostile::Reply;
    let page = |n: usize| {
        let versions: String = std::iter::once(
            "<Version><Key>logs</Key><VersionId>v1</VersionId><IsLatest>true</IsLatest><Size>1</Size></Version>".to_string(),
        )
        .chain((0..50).map(|i| {
            format!("<Version><Key>logs/{n:04}-{i:02}</Key><VersionId>v</VersionId><IsLatest>true</IsLatest><Size>1</Size></Version>")
        }))
        .collect();
        format!(
            "<ListVersionsResult><Name>s</Name><IsTruncated>true</IsTruncated><NextKeyMarker>logs/{n:04}</NextKeyMarker><NextVersionIdMarker>v</NextVersionIdMarker>{versions}</ListVersionsResult>"
        )
    };
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = asked.clone();
    let server = spacedock_tests::hostile::HostileServer::start_with(move |_| {
        let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Reply::new(200, page(n))
    });
    let client = client_of(&server);
    let listed = versions::file_versions(&client, &server.base, "s", "logs")
        .await
        .expect("versions");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one page, not all of them"
    );
}

// A region a server names for a Space is used only if it is a region's name: never a host.
#[tokio::test]
async fn a_region_a_server_names_is_never_a_host() {
    use spacedock::core::spaces;
    let server = HostileServer::start(|_| {
        (
            200,
            r#"<ListAllMyBucketsResult><Owner><ID>o</ID></Owner><Buckets><Bucket><Name>s</Name><BucketRegion>evil.example/x</BucketRegion></Bucket><Bucket><Name>t</Name><BucketRegion>fra1</BucketRegion></Bucket></Buckets></ListAllMyBucketsResult>"#.into(),
        )
    });
    let client = client_of(&server);
    let listed = spaces::list(&client, &server.base, "nyc3")
        .await
        .expect("list");
    let regions: Vec<(&str, &str)> = listed
        .iter()
        .map(|s| (s.name.as_str(), s.region.as_str()))
        .collect();
    assert_eq!(regions, [("s", "nyc3"), ("t", "fra1")]);
    // Nor one a page asks for.
    let root = tempfile::tempdir().expect("tempdir");
    let s = crate::services::services(root.path());
    let draft = crate::services::draft(&server.base, "Any", "AK", &Secret::new("s"));
    let saved = spacedock::core::connection::service::save_connection(&s, &draft).expect("save");
    spacedock::core::connection::service::connect(&s, &saved.id)
        .await
        .expect("connect");
    let asked = server.requests().len();
    let e = spacedock::core::files::view(&s, "s", Some("evil.example/x".into()), "a", None)
        .await
        .expect_err("not a region");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(server.requests().len(), asked, "nothing was sent");
}
