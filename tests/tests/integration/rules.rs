//! Lifecycle rules against the real engine: written, read back, and really applied by the
//! gateway's lifecycle run (the shared sandbox counts a "day" in seconds).

use std::time::{Duration, Instant};

use crate::safety::put;
use spacedock::core::error::ErrorKind;
use spacedock::core::lifecycle::{self, LifecycleRule};
use spacedock_tests::{admin, new_space, owner_client, sandbox, LIFECYCLE_DAY_SECONDS};

async fn keys(client: &aws_sdk_s3::Client, space: &str) -> Vec<String> {
    let out = client.list_objects_v2().bucket(space).send().await;
    let out = out.expect("list");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_rule_removes_the_files_it_names_and_keeps_the_others() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = new_space(&sb, "rules").await;
    let none = lifecycle::rules(&client, url, &space).await;
    assert!(none.expect("no rules yet").is_empty());

    let rule = LifecycleRule {
        id: "tmp after a day".into(),
        prefix: "tmp/".into(),
        enabled: true,
        expire_days: Some(1),
        expire_old_versions_days: None,
        abort_uploads_days: Some(3),
    };
    let rules = std::slice::from_ref(&rule);
    let back = lifecycle::set_rules(&client, url, &space, &[], rules).await;
    let back = back.expect("set");
    assert_eq!(back.rules, vec![rule.clone()], "read back as sent");
    assert!(back.not_kept.is_empty(), "{:?}", back.not_kept);

    for key in ["tmp/a.txt", "tmp/b/c.txt", "keep/tmp/d.txt", "top.txt"] {
        put(&client, &space, key, b"x").await;
    }
    // Older than a "day" (and then some), then the gateway's lifecycle run.
    tokio::time::sleep(Duration::from_secs(2 * LIFECYCLE_DAY_SECONDS as u64 + 2)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut left = keys(&client, &space).await;
    while left.len() > 2 && Instant::now() < deadline {
        admin(&["lc", "process"]);
        tokio::time::sleep(Duration::from_secs(1)).await;
        left = keys(&client, &space).await;
    }
    left.sort();
    assert_eq!(
        left,
        ["keep/tmp/d.txt", "top.txt"],
        "only the files under tmp/ went"
    );

    // No rules: the configuration is removed.
    let cleared = lifecycle::set_rules(&client, url, &space, rules, &[]).await;
    assert!(cleared.expect("cleared").rules.is_empty());
}

#[tokio::test]
async fn rules_are_checked_before_sending_and_foreign_ones_never_overwritten() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = new_space(&sb, "rules-check").await;
    let idle = LifecycleRule {
        id: "idle".into(),
        prefix: String::new(),
        enabled: true,
        expire_days: None,
        expire_old_versions_days: None,
        abort_uploads_days: None,
    };
    let refused = lifecycle::set_rules(&client, url, &space, &[], &[idle]).await;
    assert_eq!(
        refused.expect_err("does nothing").kind(),
        ErrorKind::InvalidInput
    );
    let none = lifecycle::rules(&client, url, &space).await;
    assert!(none.expect("rules").is_empty(), "nothing was sent");

    // A rule with a tag filter, set by another client: shown as a refusal to edit, not dropped.
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration,
        LifecycleRule as S3Rule, LifecycleRuleFilter, Tag,
    };
    let tagged = S3Rule::builder()
        .id("by tag")
        .status(ExpirationStatus::Enabled)
        .filter(
            LifecycleRuleFilter::builder()
                .tag(
                    Tag::builder()
                        .key("kind")
                        .value("tmp")
                        .build()
                        .expect("tag"),
                )
                .build(),
        )
        .expiration(LifecycleExpiration::builder().days(5).build())
        .build()
        .expect("rule");
    let config = BucketLifecycleConfiguration::builder()
        .rules(tagged)
        .build()
        .expect("config");
    client
        .put_bucket_lifecycle_configuration()
        .bucket(&space)
        .lifecycle_configuration(config)
        .send()
        .await
        .expect("a tagged rule");
    let read = lifecycle::rules(&client, url, &space).await;
    let e = read.expect_err("can't be shown");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("tag filter"), "{e}");
}
