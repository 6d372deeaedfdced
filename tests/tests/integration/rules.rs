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

/// A server that keeps the lifecycle configuration it is sent, and answers with `answer` (the
/// configuration as it "has" it, given what was sent), counting the writes.
fn lifecycle_server(
    first: &str,
    answer: impl Fn(&str) -> String + Send + Sync + 'static,
) -> (
    spacedock_tests::hostile::HostileServer,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use spacedock_tests::hostile::{HostileServer, Reply};
    let stored = std::sync::Arc::new(std::sync::Mutex::new(first.to_string()));
    let writes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (held, seen) = (stored.clone(), writes.clone());
    let server = HostileServer::start_with(move |r| {
        let mut held = held.lock().expect("held");
        match r.method.as_str() {
            "PUT" => {
                let body = String::from_utf8_lossy(&r.body).to_string();
                seen.lock().expect("writes").push(body.clone());
                *held = answer(&body);
                Reply::new(200, "")
            }
            "DELETE" => {
                seen.lock().expect("writes").push(String::new());
                held.clear();
                Reply::new(204, "")
            }
            _ if held.is_empty() => Reply::new(
                404,
                "<Error><Code>NoSuchLifecycleConfiguration</Code><Message>none</Message></Error>",
            ),
            _ => Reply::new(200, held.clone()),
        }
    });
    (server, writes)
}

fn hostile_client(server: &spacedock_tests::hostile::HostileServer) -> aws_sdk_s3::Client {
    let endpoint = spacedock::core::connection::Endpoint {
        url: server.base.clone(),
        signing_region: "us-east-1".into(),
        path_style: true,
    };
    spacedock::core::s3::client(&endpoint, "AK", &spacedock::core::secret::Secret::new("s"))
}

const NS: &str = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";

// Rules set by another tool with parts the editor doesn't show (a size filter, a count of old
// versions to keep, something newer than this app) are never written over: editing is refused
// with the reason, and nothing is sent. (The sandbox's RGW drops such parts itself, so a server
// that keeps them stands in for AWS, MinIO or a newer Ceph.)
#[tokio::test]
async fn rules_with_parts_the_editor_does_not_show_are_never_written_over() {
    let rule = LifecycleRule {
        id: "new".into(),
        prefix: "tmp/".into(),
        enabled: true,
        expire_days: Some(7),
        expire_old_versions_days: None,
        abort_uploads_days: None,
    };
    for (inner, said) in [
        ("<Filter><ObjectSizeGreaterThan>1073741824</ObjectSizeGreaterThan></Filter><Expiration><Days>30</Days></Expiration>", "file size"),
        ("<Filter><Prefix></Prefix></Filter><NoncurrentVersionExpiration><NoncurrentDays>30</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration>", "old versions to keep"),
        ("<Filter><Prefix></Prefix></Filter><Expiration><Days>30</Days></Expiration><SomethingNew>1</SomethingNew>", "SomethingNew"),
    ] {
        let config = format!(
            "<LifecycleConfiguration {NS}><Rule><ID>big scratch</ID><Status>Enabled</Status>{inner}</Rule></LifecycleConfiguration>"
        );
        let (server, writes) = lifecycle_server(&config, |sent| sent.to_string());
        let client = hostile_client(&server);
        let e = lifecycle::rules(&client, &server.base, "s").await.expect_err(said);
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(said) && e.to_string().contains("big scratch"), "{e}");
        // Saving (say, from a page that read the rules before they were set) is refused too.
        let refused = lifecycle::set_rules(&client, &server.base, "s", &[], std::slice::from_ref(&rule)).await;
        assert!(refused.is_err(), "{said}");
        assert!(writes.lock().expect("writes").is_empty(), "{said}: nothing was sent");
    }
}

// After saving, the rules are read back: what the server did not keep as sent is said.
#[tokio::test]
async fn what_the_server_did_not_keep_of_the_rules_is_said() {
    // A server that drops old versions' expiry from what it is sent.
    let (server, writes) = lifecycle_server("", |sent| {
        let start = sent.find("<NoncurrentVersionExpiration>");
        let end = sent.find("</NoncurrentVersionExpiration>");
        match (start, end) {
            (Some(s), Some(e)) => format!(
                "{}{}",
                &sent[..s],
                &sent[e + "</NoncurrentVersionExpiration>".len()..]
            ),
            _ => sent.to_string(),
        }
    });
    let client = hostile_client(&server);
    let rule = LifecycleRule {
        id: "versions".into(),
        prefix: String::new(),
        enabled: true,
        expire_days: None,
        expire_old_versions_days: Some(30),
        abort_uploads_days: Some(2),
    };
    let saved = lifecycle::set_rules(&client, &server.base, "s", &[], &[rule])
        .await
        .expect("saved");
    assert_eq!(writes.lock().expect("writes").len(), 1);
    assert_eq!(saved.not_kept.len(), 1, "{:?}", saved.not_kept);
    assert!(
        saved.not_kept[0].contains("old versions"),
        "{:?}",
        saved.not_kept
    );
    assert_eq!(saved.rules[0].expire_old_versions_days, None);
}

// Rules changed on the server since the page showed them are not written over.
#[tokio::test]
async fn rules_changed_since_they_were_shown_are_not_written_over() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let url = sb.endpoint.url.as_str();
    let space = new_space(&sb, "rules-changed").await;
    let mine = LifecycleRule {
        id: "mine".into(),
        prefix: "a/".into(),
        enabled: true,
        expire_days: Some(3),
        expire_old_versions_days: None,
        abort_uploads_days: None,
    };
    let shown = lifecycle::rules(&client, url, &space).await.expect("none");
    let theirs = LifecycleRule {
        id: "theirs".into(),
        ..mine.clone()
    };
    lifecycle::set_rules(&client, url, &space, &shown, std::slice::from_ref(&theirs))
        .await
        .expect("another window saves first");
    let e = lifecycle::set_rules(&client, url, &space, &shown, &[mine])
        .await
        .expect_err("changed since shown");
    assert_eq!(e.kind(), ErrorKind::FileChanged, "{e}");
    let now = lifecycle::rules(&client, url, &space).await.expect("rules");
    assert_eq!(now, vec![theirs]);
}
