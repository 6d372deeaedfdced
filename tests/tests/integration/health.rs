//! "Check this Space" against the real engine: a Space set up to fail every check the sandbox can
//! fail is found failing each; the safe fixes mend it and keep what they did not understand; a key
//! that may not read a setting leaves that check unknown, never passed.

use spacedock::core::lifecycle::{self, LifecycleRule};
use spacedock::core::space::health::{self, Check, Finding, Fix, Verdict};
use spacedock::core::space::{self, CorsRule, FileListing};
use spacedock_tests::{new_space, owner_client, sandbox};

use crate::safety::put;

fn of(findings: &[Finding], check: Check) -> &Finding {
    findings
        .iter()
        .find(|f| f.check == check)
        .unwrap_or_else(|| panic!("no {check:?} in {findings:#?}"))
}

#[tokio::test]
async fn a_space_set_up_to_fail_every_check_fails_each_and_the_fixes_mend_it() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("tempdir");
    let s = crate::services::connected(&sb, root.path(), &sb.endpoint.url).await;
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = new_space(&sb, "health").await;

    // Everything wrong at once (versioning is off from the start).
    space::set_file_listing(&client, url, &space, FileListing::Enabled)
        .await
        .expect("listing");
    let any_site = CorsRule {
        allowed_origins: vec!["*".into()],
        allowed_methods: vec!["GET".into()],
        allowed_headers: vec![],
        max_age_seconds: None,
        id: None,
        expose_headers: vec![],
    };
    space::set_cors_rules(&client, url, &space, &[any_site])
        .await
        .expect("cors");
    put(&client, &space, "private.txt", b"mine").await;
    client
        .put_object()
        .bucket(&space)
        .key("shared/price list.pdf")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"%PDF"))
        .send()
        .await
        .expect("public put");
    let left = client
        .create_multipart_upload()
        .bucket(&space)
        .key("big/left behind.iso")
        .send()
        .await
        .expect("begin");
    let left_id = left.upload_id().expect("id").to_string();
    // A rule of one folder only: the Space as a whole still keeps unfinished uploads, and the fix
    // must keep this rule as it is.
    let logs = LifecycleRule {
        id: "logs".into(),
        prefix: "logs/".into(),
        enabled: true,
        expire_days: None,
        expire_old_versions_days: None,
        abort_uploads_days: Some(2),
    };
    lifecycle::set_rules(&client, url, &space, &[], std::slice::from_ref(&logs))
        .await
        .expect("rule");

    let found = health::check(&s, &space, None, None).await.expect("check");
    let seen = |c| {
        let f = of(&found, c);
        (f.verdict, f.fix)
    };
    assert_eq!(
        seen(Check::FileListing),
        (Verdict::Problem, Some(Fix::RestrictFileListing))
    );
    assert_eq!(seen(Check::Cors), (Verdict::Warning, None));
    assert_eq!(seen(Check::PublicFiles), (Verdict::Warning, None));
    assert_eq!(
        of(&found, Check::PublicFiles).files,
        ["shared/price list.pdf"]
    );
    assert_eq!(
        of(&found, Check::PublicFiles).found,
        "1 public file of its 2 files."
    );
    // Begun just now: said, not offered for aborting (it may still be running).
    assert_eq!(seen(Check::UnfinishedUploads), (Verdict::Warning, None));
    assert!(of(&found, Check::UnfinishedUploads)
        .found
        .starts_with("1 unfinished upload, the oldest begun less than a day ago"));
    assert_eq!(
        seen(Check::Versioning),
        (Verdict::Warning, Some(Fix::EnableVersioning))
    );
    assert_eq!(
        seen(Check::AbortRule),
        (Verdict::Warning, Some(Fix::AddAbortRule))
    );
    // No CDN on this service: nothing to say about its certificate.
    assert!(found.iter().all(|f| f.check != Check::CdnCertificate));

    // The safe fixes, one click each.
    for fix in [
        Fix::RestrictFileListing,
        Fix::EnableVersioning,
        Fix::AddAbortRule,
    ] {
        health::fix(&s, &space, None, fix).await.expect("fix");
    }
    let after = health::check(&s, &space, None, None)
        .await
        .expect("check again");
    for c in [Check::FileListing, Check::Versioning, Check::AbortRule] {
        assert_eq!(of(&after, c).verdict, Verdict::Good, "{c:?}: {after:#?}");
    }
    // The folder's rule is kept as it was, beside the new one.
    let rules = lifecycle::rules(&client, url, &space).await.expect("rules");
    assert!(rules.contains(&logs), "{rules:?}");
    assert!(rules.iter().any(|r| r.id == health::ABORT_RULE_ID
        && r.prefix.is_empty()
        && r.abort_uploads_days == Some(7)));
    // A second click adds nothing.
    let again = health::fix(&s, &space, None, Fix::AddAbortRule)
        .await
        .expect("again");
    assert_eq!(again, "A rule already aborts unfinished uploads.");
    assert_eq!(
        lifecycle::rules(&client, url, &space)
            .await
            .expect("rules")
            .len(),
        2
    );
    // Aborting old uploads leaves one begun today alone.
    let aborted = health::fix(&s, &space, None, Fix::AbortOldUploads)
        .await
        .expect("abort old");
    assert!(aborted.starts_with("0 unfinished uploads"), "{aborted}");
    let still = client
        .list_parts()
        .bucket(&space)
        .key("big/left behind.iso")
        .upload_id(&left_id)
        .send()
        .await;
    assert!(still.is_ok(), "the fresh upload is still there: {still:?}");
}

#[tokio::test]
async fn a_check_that_cant_be_made_is_unknown_never_passed() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("tempdir");
    let s = crate::services::connected(&sb, root.path(), &sb.endpoint.url).await;
    let space = new_space(&sb, "health-denied").await;
    // Another user's Space: the owner's key opens nothing in it.
    let stranger = spacedock_tests::new_user("health-stranger");
    let theirs = spacedock::core::s3::client(&sb.endpoint, &stranger.access_key, &stranger.secret);
    let other = spacedock_tests::unique("health-theirs");
    space::create(&theirs, url_of(&sb), &other, FileListing::Restricted)
        .await
        .expect("create theirs");
    let found = health::check(&s, &other, None, None).await;
    match found {
        // Refused whole, or each check unknown: never a pass.
        Err(_) => {}
        Ok(found) => assert!(
            found.iter().all(|f| f.verdict == Verdict::Unknown),
            "{found:#?}"
        ),
    }
    // The owner's own Space is checked as usual.
    let own = health::check(&s, &space, None, None).await.expect("own");
    assert_eq!(of(&own, Check::FileListing).verdict, Verdict::Good);
}

fn url_of(sb: &spacedock_tests::SandboxInfo) -> &str {
    sb.endpoint.url.as_str()
}
