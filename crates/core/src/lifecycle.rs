//! A Space's lifecycle rules: by prefix, expire files after some days, expire old versions after
//! some days, abort unfinished multipart uploads after some days. Read from the server, checked
//! before they are sent, and read back after (what the server did not keep is said). Rules are
//! saved whole, so a Space whose rules have any part this app can't show (a size or tag filter,
//! a count of old versions to keep, transitions, a date, or anything newer than this app) is
//! refused for editing, with the reason: nothing is ever dropped unseen. The raw answer is read
//! for that, since the SDK itself drops what it does not know.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRuleFilter, NoncurrentVersionExpiration,
};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Result, S3Code};
use crate::s3::{map_error, Context};

/// One rule, in the words of the settings page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct LifecycleRule {
    /// Its name (S3's rule ID).
    pub id: String,
    /// The files it applies to: those whose key begins so ("" is every file).
    pub prefix: String,
    pub enabled: bool,
    /// Files are deleted this many days after they were last written.
    pub expire_days: Option<u32>,
    /// Old versions (in a versioned Space) are deleted this many days after they were replaced.
    pub expire_old_versions_days: Option<u32>,
    /// Unfinished multipart uploads are aborted this many days after they began.
    pub abort_uploads_days: Option<u32>,
}

/// The most rules S3 takes for one Space.
pub const MOST_RULES: usize = 1000;
/// About a hundred years: more is surely a slip of the keyboard.
pub const MOST_DAYS: u32 = 36_500;

/// Checks rules before anything is sent, each problem in words.
pub fn check(rules: &[LifecycleRule]) -> Result<()> {
    if rules.len() > MOST_RULES {
        return Err(Error::InvalidInput(format!(
            "A Space takes at most {MOST_RULES} lifecycle rules."
        )));
    }
    let mut names = std::collections::HashSet::new();
    for (i, r) in rules.iter().enumerate() {
        let which = format!("Rule {}", i + 1);
        let id = r.id.trim();
        if id.is_empty() {
            return Err(Error::InvalidInput(format!("{which} needs a name.")));
        }
        if id.chars().count() > 255 {
            return Err(Error::InvalidInput(format!(
                "{which}: a name is at most 255 characters."
            )));
        }
        if !names.insert(id.to_string()) {
            return Err(Error::InvalidInput(format!(
                "Two rules are named “{id}”: each needs its own name."
            )));
        }
        if r.prefix.starts_with('/') {
            return Err(Error::InvalidInput(format!(
                "“{id}”: a prefix starts without “/” (“photos/”, not “/photos/”)."
            )));
        }
        if r.prefix.len() > 1024 {
            return Err(Error::InvalidInput(format!(
                "“{id}”: a prefix is at most 1,024 bytes."
            )));
        }
        let days = [
            r.expire_days,
            r.expire_old_versions_days,
            r.abort_uploads_days,
        ];
        if days.iter().all(Option::is_none) {
            return Err(Error::InvalidInput(format!(
                "“{id}” does nothing: choose when files, old versions or unfinished uploads go."
            )));
        }
        if days.iter().flatten().any(|d| *d == 0 || *d > MOST_DAYS) {
            return Err(Error::InvalidInput(format!(
                "“{id}”: days are a whole number from 1 to {MOST_DAYS}."
            )));
        }
    }
    Ok(())
}

/// The Space's rules as the server has them (none is an empty list), or, when any part of them
/// can't be shown here, a refusal that says which.
pub async fn rules(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
) -> Result<Vec<LifecycleRule>> {
    let raw = crate::s3::RawBody::default();
    let asked = client
        .get_bucket_lifecycle_configuration()
        .bucket(space)
        .customize()
        .interceptor(raw.clone())
        .send()
        .await;
    let out = match asked {
        Ok(out) => out,
        Err(e) => {
            return match map_error(e, Context::space(endpoint, space)) {
                Error::Server {
                    code: S3Code::NoSuchLifecycleConfiguration,
                    ..
                } => Ok(Vec::new()),
                other => Err(other),
            }
        }
    };
    match raw.take() {
        Some(xml) => only_what_is_shown(&xml)?,
        None => {
            return Err(Error::Internal(
                "the lifecycle rules' answer could not be read whole".into(),
            ))
        }
    }
    out.rules().iter().map(from_s3).collect()
}

/// Each part of a rule that the editor shows (by its path below `Rule`); anything else in the
/// configuration makes it one this app can't edit.
const SHOWN: [&str; 8] = [
    "ID",
    "Prefix",
    "Status",
    "Filter",
    "Filter/Prefix",
    "Expiration/Days",
    "NoncurrentVersionExpiration/NoncurrentDays",
    "AbortIncompleteMultipartUpload/DaysAfterInitiation",
];

/// Refuses a configuration with anything the editor does not show, naming it.
fn only_what_is_shown(xml: &[u8]) -> Result<()> {
    let containers = [
        "Expiration",
        "NoncurrentVersionExpiration",
        "AbortIncompleteMultipartUpload",
    ];
    match crate::s3::unknown_part(xml, "Rule", "ID", &SHOWN, &containers)? {
        None => Ok(()),
        Some((id, path)) => Err(Error::InvalidInput(format!(
            "This Space has a lifecycle rule{} with {}, which this app can't show; so that it is never lost unseen, the rules can't be edited here. Change them with a tool that shows them all.",
            match id.as_str() {
                "" => String::new(),
                id => format!(" (“{id}”)"),
            },
            words(&path)
        ))),
    }
}

/// A part of a rule in the user's words.
fn words(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or(path);
    match last {
        "ObjectSizeGreaterThan" | "ObjectSizeLessThan" => "a filter by file size".into(),
        "Tag" | "And" => "a tag filter".into(),
        "NewerNoncurrentVersions" => "a number of old versions to keep".into(),
        "ExpiredObjectDeleteMarker" => "the removal of leftover delete markers".into(),
        "Transition" | "NoncurrentVersionTransition" => "storage-class transitions".into(),
        "Date" => "an expiry date".into(),
        other => format!("a setting named “{other}”"),
    }
}

fn days(d: Option<i32>) -> Option<u32> {
    d.and_then(|d| u32::try_from(d).ok())
}

fn from_s3(r: &aws_sdk_s3::types::LifecycleRule) -> Result<LifecycleRule> {
    let id = r.id().unwrap_or_default().to_string();
    let cannot = |what: &str| {
        Error::InvalidInput(format!(
            "This Space has a lifecycle rule (“{id}”) with {what}, which this app can't show; so that it is never lost unseen, the rules can't be edited here."
        ))
    };
    // The same refusals as the raw answer's, for what the SDK read of it.
    let filter = r.filter();
    if filter.is_some_and(|f| f.tag().is_some() || f.and().is_some()) {
        return Err(cannot("a tag filter"));
    }
    let sized = |f: &LifecycleRuleFilter| {
        f.object_size_greater_than().is_some() || f.object_size_less_than().is_some()
    };
    if filter.is_some_and(sized) {
        return Err(cannot("a filter by file size"));
    }
    if !r.transitions().is_empty() || !r.noncurrent_version_transitions().is_empty() {
        return Err(cannot("storage-class transitions"));
    }
    if r.expiration().is_some_and(|e| e.date().is_some()) {
        return Err(cannot("an expiry date"));
    }
    if r.expiration()
        .is_some_and(|e| e.expired_object_delete_marker().is_some())
    {
        return Err(cannot("the removal of leftover delete markers"));
    }
    let kept = r.noncurrent_version_expiration();
    if kept.is_some_and(|e| e.newer_noncurrent_versions().is_some()) {
        return Err(cannot("a number of old versions to keep"));
    }
    #[allow(deprecated)] // older servers send the prefix on the rule itself
    let prefix = filter
        .and_then(|f| f.prefix())
        .or(r.prefix())
        .unwrap_or_default()
        .to_string();
    Ok(LifecycleRule {
        id,
        prefix,
        enabled: r.status() == &ExpirationStatus::Enabled,
        expire_days: days(r.expiration().and_then(|e| e.days())),
        expire_old_versions_days: days(
            r.noncurrent_version_expiration()
                .and_then(|e| e.noncurrent_days()),
        ),
        abort_uploads_days: days(
            r.abort_incomplete_multipart_upload()
                .and_then(|a| a.days_after_initiation()),
        ),
    })
}

fn to_s3(r: &LifecycleRule) -> Result<aws_sdk_s3::types::LifecycleRule> {
    let status = match r.enabled {
        true => ExpirationStatus::Enabled,
        false => ExpirationStatus::Disabled,
    };
    let as_i32 = |d: u32| i32::try_from(d).unwrap_or(i32::MAX);
    aws_sdk_s3::types::LifecycleRule::builder()
        .id(r.id.trim())
        .filter(LifecycleRuleFilter::builder().prefix(&r.prefix).build())
        .status(status)
        .set_expiration(
            r.expire_days
                .map(|d| LifecycleExpiration::builder().days(as_i32(d)).build()),
        )
        .set_noncurrent_version_expiration(r.expire_old_versions_days.map(|d| {
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(as_i32(d))
                .build()
        }))
        .set_abort_incomplete_multipart_upload(r.abort_uploads_days.map(|d| {
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(as_i32(d))
                .build()
        }))
        .build()
        .map_err(|e| Error::Internal(format!("a lifecycle rule can't be built: {e}")))
}

/// The rules as saved, and what of them the server did not keep as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SavedRules {
    pub rules: Vec<LifecycleRule>,
    /// Each difference between what was sent and what the server now has, in words.
    pub not_kept: Vec<String>,
}

/// Replaces the Space's rules with `rules` (none removes them), after checking them, if the
/// server still has the rules the user was shown (`shown`) and nothing this app can't show;
/// then reads them back and says what the server did not keep.
pub async fn set_rules(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    shown: &[LifecycleRule],
    rules: &[LifecycleRule],
) -> Result<SavedRules> {
    check(rules)?;
    let ctx = Context::space(endpoint, space);
    // Written whole: what is there now must be what the editor showed, all of it.
    let now = self::rules(client, endpoint, space).await?;
    if now != shown {
        return Err(Error::FileChanged(
            "The lifecycle rules changed on the server since they were shown, so they were not saved. Read them again, then make the change.".into(),
        ));
    }
    if rules.is_empty() {
        client
            .delete_bucket_lifecycle()
            .bucket(space)
            .send()
            .await
            .map_err(|e| map_error(e, ctx))?;
    } else {
        let sent = rules.iter().map(to_s3).collect::<Result<Vec<_>>>()?;
        let config = BucketLifecycleConfiguration::builder()
            .set_rules(Some(sent))
            .build()
            .map_err(|e| Error::Internal(format!("lifecycle rules can't be built: {e}")))?;
        client
            .put_bucket_lifecycle_configuration()
            .bucket(space)
            .lifecycle_configuration(config)
            .send()
            .await
            .map_err(|e| map_error(e, ctx))?;
    }
    let back = self::rules(client, endpoint, space).await?;
    Ok(SavedRules {
        not_kept: not_kept(rules, &back),
        rules: back,
    })
}

/// What of `sent` the server does not have as sent, in words.
fn not_kept(sent: &[LifecycleRule], back: &[LifecycleRule]) -> Vec<String> {
    let mut said = Vec::new();
    for rule in sent {
        let id = rule.id.trim();
        let Some(kept) = back.iter().find(|r| r.id == id) else {
            said.push(format!("The rule “{id}” is not on the server."));
            continue;
        };
        let mut differs = |what: &str, a: String, b: String| {
            if a != b {
                said.push(format!(
                    "The rule “{id}”: {what} was sent as {a}, and the server has {b}."
                ));
            }
        };
        let days = |d: Option<u32>| d.map_or("none".to_string(), |d| format!("{d} days"));
        differs(
            "its prefix",
            format!("“{}”", rule.prefix),
            format!("“{}”", kept.prefix),
        );
        differs(
            "on or off",
            rule.enabled.to_string(),
            kept.enabled.to_string(),
        );
        differs(
            "deleting files",
            days(rule.expire_days),
            days(kept.expire_days),
        );
        differs(
            "deleting old versions",
            days(rule.expire_old_versions_days),
            days(kept.expire_old_versions_days),
        );
        differs(
            "aborting unfinished uploads",
            days(rule.abort_uploads_days),
            days(kept.abort_uploads_days),
        );
    }
    for extra in back
        .iter()
        .filter(|b| !sent.iter().any(|r| r.id.trim() == b.id))
    {
        said.push(format!(
            "The server has a rule “{}” that was not sent.",
            extra.id
        ));
    }
    said
}

/// The same on the active connection, with the key remembered for the Space.
pub mod service {
    use super::{LifecycleRule, SavedRules};
    use crate::error::Result;
    use crate::files::target;
    use crate::services::Services;

    pub async fn rules(
        services: &Services,
        space: &str,
        region: Option<String>,
    ) -> Result<Vec<LifecycleRule>> {
        let t = target(services, space, region).await?;
        super::rules(&t.client, &t.endpoint, space).await
    }

    pub async fn set_rules(
        services: &Services,
        space: &str,
        region: Option<String>,
        shown: &[LifecycleRule],
        rules: &[LifecycleRule],
    ) -> Result<SavedRules> {
        let t = target(services, space, region).await?;
        let now = super::set_rules(&t.client, &t.endpoint, space, shown, rules).await?;
        services.log().write(format!(
            "lifecycle rules of “{space}”: {} now, {} not kept as sent",
            now.rules.len(),
            now.not_kept.len()
        ));
        Ok(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str) -> LifecycleRule {
        LifecycleRule {
            id: id.into(),
            prefix: "tmp/".into(),
            enabled: true,
            expire_days: Some(7),
            expire_old_versions_days: None,
            abort_uploads_days: None,
        }
    }

    fn refused(rules: &[LifecycleRule]) -> String {
        check(rules).expect_err("refused").to_string()
    }

    #[test]
    fn rules_are_checked_before_anything_is_sent() {
        assert!(check(&[rule("a"), rule("b")]).is_ok());
        assert!(refused(&[rule(" ")]).contains("needs a name"));
        assert!(refused(&[rule("a"), rule("a")]).contains("Two rules are named “a”"));
        let slash = LifecycleRule {
            prefix: "/tmp/".into(),
            ..rule("a")
        };
        assert!(refused(&[slash]).contains("without “/”"));
        let idle = LifecycleRule {
            expire_days: None,
            ..rule("idle")
        };
        assert!(refused(&[idle]).contains("does nothing"));
        for bad in [0, MOST_DAYS + 1] {
            let r = LifecycleRule {
                abort_uploads_days: Some(bad),
                ..rule("d")
            };
            assert!(refused(&[r]).contains("whole number"), "{bad}");
        }
        let many: Vec<_> = (0..=MOST_RULES).map(|i| rule(&i.to_string())).collect();
        assert!(refused(&many).contains("at most 1000"));
    }

    #[test]
    fn any_part_the_editor_does_not_show_refuses_editing_and_says_which() {
        let rule = |inner: &str| {
            format!(
                "<LifecycleConfiguration><Rule><ID>big</ID><Status>Enabled</Status>{inner}</Rule></LifecycleConfiguration>"
            )
        };
        let shown = rule("<Filter><Prefix>tmp/</Prefix></Filter><Expiration><Days>30</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays></NoncurrentVersionExpiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload>");
        assert!(only_what_is_shown(shown.as_bytes()).is_ok());
        for (inner, said) in [
            ("<Filter><ObjectSizeGreaterThan>1073741824</ObjectSizeGreaterThan></Filter><Expiration><Days>30</Days></Expiration>", "file size"),
            ("<Filter><And><Prefix>a/</Prefix><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>", "tag filter"),
            ("<NoncurrentVersionExpiration><NoncurrentDays>30</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration>", "old versions to keep"),
            ("<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>", "delete markers"),
            ("<Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>", "transitions"),
            ("<Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration>", "expiry date"),
            ("<SomethingNew>1</SomethingNew>", "“SomethingNew”"),
        ] {
            let e = only_what_is_shown(rule(inner).as_bytes()).expect_err(inner);
            assert!(e.to_string().contains(said), "{inner}: {e}");
            assert!(e.to_string().contains("“big”"), "{e}");
        }
        let top = "<LifecycleConfiguration><TransitionDefaultMinimumObjectSize>all_storage_classes_128K</TransitionDefaultMinimumObjectSize></LifecycleConfiguration>";
        assert!(only_what_is_shown(top.as_bytes()).is_err());
    }

    #[test]
    fn what_the_server_did_not_keep_is_said() {
        let sent = LifecycleRule {
            expire_old_versions_days: Some(30),
            ..rule("versions")
        };
        let back = LifecycleRule {
            expire_old_versions_days: None,
            ..rule("versions")
        };
        let said = not_kept(std::slice::from_ref(&sent), &[back]);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("old versions"), "{said:?}");
        let same = std::slice::from_ref(&sent);
        assert!(not_kept(same, same).is_empty());
        assert!(not_kept(&[sent], &[])[0].contains("not on the server"));
    }

    #[test]
    fn a_rule_goes_to_s3_and_back_unchanged() {
        let r = LifecycleRule {
            expire_old_versions_days: Some(30),
            abort_uploads_days: Some(2),
            enabled: false,
            ..rule("all three")
        };
        let back = from_s3(&to_s3(&r).expect("to s3")).expect("from s3");
        assert_eq!(back, r);
    }
}
