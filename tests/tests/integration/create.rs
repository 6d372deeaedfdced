//! Creating Spaces, file listing, CORS and destroying, against the real RGW.

use aws_sdk_s3::primitives::ByteStream;
use spacedock::core::connection::Provider;
use spacedock::core::destroy;
use spacedock::core::error::ErrorKind;
use spacedock::core::s3;
use spacedock::core::secret::Secret;
use spacedock::core::space::{self, Availability, CorsRule, FileListing};
use spacedock::core::urls;
use spacedock_tests::{anonymous_get, new_user, sandbox, unique, SandboxInfo};

fn owner(sb: &SandboxInfo) -> aws_sdk_s3::Client {
    s3::client(&sb.endpoint, &sb.owner_access_key, &sb.owner_secret)
}

fn path_url(sb: &SandboxInfo, name: &str) -> String {
    urls::space_urls(&Provider::Sandbox, &sb.endpoint, name, "local").path_style
}

#[tokio::test]
async fn file_listing_decides_whether_strangers_can_list() {
    let sb = sandbox();
    let client = owner(&sb);
    let name = unique("listing");
    assert_eq!(
        space::availability(&client, &sb.endpoint.url, &name)
            .await
            .expect("check"),
        Availability::Free
    );
    space::create(&client, &sb.endpoint.url, &name, FileListing::Restricted)
        .await
        .expect("create");
    assert_eq!(
        space::availability(&client, &sb.endpoint.url, &name)
            .await
            .expect("check"),
        Availability::Yours
    );
    client
        .put_object()
        .bucket(&name)
        .key("hello world+.txt")
        .body(ByteStream::from_static(b"hi"))
        .send()
        .await
        .expect("put");

    let url = path_url(&sb, &name);
    assert_eq!(
        space::file_listing(&client, &sb.endpoint.url, &name)
            .await
            .expect("acl"),
        FileListing::Restricted
    );
    assert_eq!(
        anonymous_get(&url).0,
        403,
        "Restricted: strangers can't list"
    );

    let now = space::set_file_listing(&client, &sb.endpoint.url, &name, FileListing::Enabled)
        .await
        .expect("enable");
    assert_eq!(now, FileListing::Enabled);
    let (status, body) = anonymous_get(&url);
    assert_eq!(status, 200, "Enabled: anyone can list");
    assert!(body.contains("<Key>hello world+.txt</Key>"), "{body}");

    space::set_file_listing(&client, &sb.endpoint.url, &name, FileListing::Restricted)
        .await
        .expect("restrict");
    assert_eq!(anonymous_get(&url).0, 403, "switching back restricts again");
}

#[tokio::test]
async fn a_space_created_with_listing_enabled_is_listable_at_once() {
    let sb = sandbox();
    let client = owner(&sb);
    let name = unique("open");
    space::create(&client, &sb.endpoint.url, &name, FileListing::Enabled)
        .await
        .expect("create");
    assert_eq!(
        space::file_listing(&client, &sb.endpoint.url, &name)
            .await
            .expect("acl"),
        FileListing::Enabled
    );
    assert_eq!(anonymous_get(&path_url(&sb, &name)).0, 200);
}

#[tokio::test]
async fn a_name_another_user_has_is_taken() {
    let sb = sandbox();
    let name = unique("claimed");
    space::create(
        &owner(&sb),
        &sb.endpoint.url,
        &name,
        FileListing::Restricted,
    )
    .await
    .expect("owner creates");

    let other = new_user("rival");
    let client = s3::client(&sb.endpoint, &other.access_key, &other.secret);
    assert_eq!(
        space::availability(&client, &sb.endpoint.url, &name)
            .await
            .expect("check"),
        Availability::Taken
    );
    let err = space::create(&client, &sb.endpoint.url, &name, FileListing::Restricted)
        .await
        .expect_err("taken");
    assert_eq!(err.kind(), ErrorKind::SpaceTaken, "{err}");
}

#[tokio::test]
async fn invalid_names_never_reach_the_server() {
    // Nothing listens at this endpoint: any request would fail as unreachable, not as invalid input.
    let endpoint = spacedock_tests::unreachable_endpoint();
    let client = s3::client(&endpoint, "AK", &Secret::new("SK"));
    for bad in [
        "ab",
        "My-Space",
        "my.space",
        "-dash",
        "under_score",
        &"a".repeat(64),
    ] {
        let err = space::create(&client, &endpoint.url, bad, FileListing::Restricted)
            .await
            .expect_err(bad);
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err}");
        let err = space::availability(&client, &endpoint.url, bad)
            .await
            .expect_err(bad);
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err}");
    }
}

#[tokio::test]
async fn another_users_space_settings_are_refused() {
    let sb = sandbox();
    let user = new_user("creator");
    let client = s3::client(&sb.endpoint, &user.access_key, &user.secret);
    let name = unique("own");
    space::create(&client, &sb.endpoint.url, &name, FileListing::Restricted)
        .await
        .expect("own Space");
    let err = space::file_listing(&owner(&sb), &sb.endpoint.url, &name)
        .await
        .expect_err("owner of the sandbox is another user");
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
}

#[tokio::test]
async fn cors_rules_round_trip() {
    let sb = sandbox();
    let client = owner(&sb);
    let name = unique("cors");
    space::create(&client, &sb.endpoint.url, &name, FileListing::Restricted)
        .await
        .expect("create");
    assert!(space::cors_rules(&client, &sb.endpoint.url, &name)
        .await
        .expect("none yet")
        .is_empty());

    let rule = CorsRule {
        allowed_origins: vec!["https://example.com".into()],
        allowed_methods: vec!["GET".into(), "PUT".into()],
        allowed_headers: vec!["*".into()],
        max_age_seconds: Some(3000),
        id: Some("site".into()),
        expose_headers: vec!["ETag".into()],
    };
    let saved = space::set_cors_rules(
        &client,
        &sb.endpoint.url,
        &name,
        std::slice::from_ref(&rule),
    )
    .await
    .expect("save");
    assert_eq!(saved, vec![rule]);

    let bad = CorsRule {
        allowed_methods: vec!["PATCH".into()],
        ..saved[0].clone()
    };
    let err = space::set_cors_rules(&client, &sb.endpoint.url, &name, &[bad])
        .await
        .expect_err("PATCH");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        space::cors_rules(&client, &sb.endpoint.url, &name)
            .await
            .expect("kept")
            .len(),
        1,
        "a refused edit changes nothing"
    );

    assert!(space::set_cors_rules(&client, &sb.endpoint.url, &name, &[])
        .await
        .expect("clear")
        .is_empty());
}

#[tokio::test]
async fn destroying_needs_the_typed_name_and_consent_for_files() {
    let sb = sandbox();
    let client = owner(&sb);
    let name = unique("doomed");
    space::create(&client, &sb.endpoint.url, &name, FileListing::Restricted)
        .await
        .expect("create");
    // More than one page of 1,000, so deletion runs in batches.
    let mut puts = tokio::task::JoinSet::new();
    for chunk in 0..8 {
        let (client, name) = (client.clone(), name.clone());
        puts.spawn(async move {
            for i in (chunk..1005).step_by(8) {
                client
                    .put_object()
                    .bucket(&name)
                    .key(format!("dir/{i}.txt"))
                    .body(ByteStream::from_static(b"x"))
                    .send()
                    .await
                    .expect("put");
            }
        });
    }
    while let Some(done) = puts.join_next().await {
        done.expect("upload task");
    }
    let count = || async {
        let mut n = 0;
        let mut pages = client
            .list_objects_v2()
            .bucket(&name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            n += page.expect("list").key_count().unwrap_or(0);
        }
        n
    };
    let before = count().await;
    assert_eq!(before, 1005);
    let cancel = spacedock::core::CancellationToken::new();

    let err = destroy::destroy(
        &client,
        &sb.endpoint.url,
        &name,
        "doomed",
        true,
        &cancel,
        |_| {},
    )
    .await
    .expect_err("wrong name typed");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        count().await,
        before,
        "nothing deleted without the typed name"
    );

    let err = destroy::destroy(
        &client,
        &sb.endpoint.url,
        &name,
        &name,
        false,
        &cancel,
        |_| {},
    )
    .await
    .expect_err("not empty");
    assert_eq!(err.kind(), ErrorKind::SpaceNotEmpty, "{err}");
    assert_eq!(
        count().await,
        before,
        "nothing deleted without consent to delete files"
    );

    let mut seen = Vec::new();
    let deleted = destroy::destroy(
        &client,
        &sb.endpoint.url,
        &name,
        &name,
        true,
        &cancel,
        |p| seen.push(p.deleted),
    )
    .await
    .expect("destroy with files");
    assert_eq!(deleted, 1005);
    assert!(
        seen.len() >= 2 && seen.contains(&1000),
        "progress per batch: {seen:?}"
    );
    assert_eq!(seen.last().copied(), Some(1005));
    let err = space::head(&client, &sb.endpoint.url, &name)
        .await
        .expect_err("gone");
    assert_eq!(err.kind(), ErrorKind::NoSuchSpace);
}

#[tokio::test]
async fn a_cancelled_destroy_keeps_the_space() {
    let sb = sandbox();
    let client = owner(&sb);
    let name = unique("kept");
    space::create(&client, &sb.endpoint.url, &name, FileListing::Restricted)
        .await
        .expect("create");
    client
        .put_object()
        .bucket(&name)
        .key("a")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("put");
    let cancel = spacedock::core::CancellationToken::new();
    cancel.cancel();
    let err = destroy::destroy(
        &client,
        &sb.endpoint.url,
        &name,
        &name,
        true,
        &cancel,
        |_| {},
    )
    .await
    .expect_err("cancelled");
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    space::head(&client, &sb.endpoint.url, &name)
        .await
        .expect("the Space remains");
}
