//! A Space's lifecycle rules: by prefix, expire files after some days, expire old versions after
//! some days, abort unfinished multipart uploads after some days. Read from the server, checked
//! before they are sent, and read back after. Rules with parts this app can't show (tag filters,
//! which DigitalOcean doesn't support, or transitions) are never overwritten unseen.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRuleFilter, NoncurrentVersionExpiration,
};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Result};
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

/// The Space's rules as the server has them (none is an empty list).
pub async fn rules(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
) -> Result<Vec<LifecycleRule>> {
    let out = match client
        .get_bucket_lifecycle_configuration()
        .bucket(space)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            return match map_error(e, Context::space(endpoint, space)) {
                Error::Server { code, .. } if code == "NoSuchLifecycleConfiguration" => {
                    Ok(Vec::new())
                }
                other => Err(other),
            }
        }
    };
    out.rules().iter().map(from_s3).collect()
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
    let filter = r.filter();
    if filter.is_some_and(|f| f.tag().is_some() || f.and().is_some()) {
        return Err(cannot("a tag filter"));
    }
    if !r.transitions().is_empty() || !r.noncurrent_version_transitions().is_empty() {
        return Err(cannot("storage-class transitions"));
    }
    if r.expiration().is_some_and(|e| e.date().is_some()) {
        return Err(cannot("an expiry date"));
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

/// Replaces the Space's rules with `rules` (none removes them), after checking them, and reads
/// them back from the server.
pub async fn set_rules(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    rules: &[LifecycleRule],
) -> Result<Vec<LifecycleRule>> {
    check(rules)?;
    let ctx = Context::space(endpoint, space);
    if rules.is_empty() {
        client
            .delete_bucket_lifecycle()
            .bucket(space)
            .send()
            .await
            .map_err(|e| map_error(e, ctx))?;
    } else {
        let rules = rules.iter().map(to_s3).collect::<Result<Vec<_>>>()?;
        let config = BucketLifecycleConfiguration::builder()
            .set_rules(Some(rules))
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
    self::rules(client, endpoint, space).await
}

/// The same on the active connection, with the key remembered for the Space.
pub mod service {
    use super::LifecycleRule;
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
        rules: &[LifecycleRule],
    ) -> Result<Vec<LifecycleRule>> {
        let t = target(services, space, region).await?;
        let now = super::set_rules(&t.client, &t.endpoint, space, rules).await?;
        services
            .journal
            .write(format!("lifecycle rules of “{space}”: {} now", now.len()));
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
