//! "Check this Space": what commonly goes wrong with a Space, each looked at, said with what it
//! means, and a one-click fix where the fix loses nothing and breaks nothing a site may rely on.
//! A check that could not be made (a key that may not read a setting) says so; it is never taken
//! as passed.

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use ts_rs::TS;

use super::{cors_rules, file_listing, set_file_listing, unfinished, CorsRule, FileListing};
use crate::error::{Error, Result};
use crate::files::target;
use crate::lifecycle::{self, LifecycleRule};
use crate::objects::{self, FileAcl};
use crate::services::Services;
use crate::versions::{self, Versioning};

/// How many files are looked at for public ones: a Space of millions is not read whole.
pub const FILES_LOOKED_AT: usize = 1_000;
/// Unfinished uploads older than this are surely abandoned.
pub const OLD_UPLOAD_DAYS: i64 = 7;
/// DigitalOcean deletes unfinished uploads this long after they began.
pub const SPACES_DELETES_UPLOADS_DAYS: i64 = 30;
/// A CDN certificate expiring within this is said.
pub const CERTIFICATE_WARNING_DAYS: i64 = 30;
/// The rule the one-click fix adds.
pub const ABORT_RULE_ID: &str = "abort-unfinished-uploads";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Check {
    FileListing,
    Cors,
    PublicFiles,
    UnfinishedUploads,
    Versioning,
    AbortRule,
    CdnCertificate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Verdict {
    Good,
    Warning,
    Problem,
    /// It could not be looked at.
    Unknown,
}

/// A fix the check offers, one click each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Fix {
    RestrictFileListing,
    EnableVersioning,
    /// A rule for the whole Space aborting unfinished uploads a week after they began; the
    /// Space's other rules are kept as they are.
    AddAbortRule,
    /// Aborts the unfinished uploads that began more than a week ago.
    AbortOldUploads,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Finding {
    pub check: Check,
    pub verdict: Verdict,
    /// What was found, in words.
    pub found: String,
    /// What it means for the user.
    pub means: String,
    pub fix: Option<Fix>,
    /// Files the finding is about (the public ones found), the first hundred.
    pub files: Vec<String>,
}

impl Finding {
    fn new(check: Check, verdict: Verdict, found: String, means: &str) -> Finding {
        Finding {
            check,
            verdict,
            found,
            means: means.to_string(),
            fix: None,
            files: Vec::new(),
        }
    }

    fn fix(self, fix: Fix) -> Finding {
        Finding {
            fix: Some(fix),
            ..self
        }
    }

    fn unknown(check: Check, e: &Error) -> Finding {
        Finding::new(
            check,
            Verdict::Unknown,
            format!("Could not be looked at: {e}"),
            "Nothing is known about this until it can be read (a key limited to some Spaces or to reading may not read it).",
        )
    }
}

// --- judging what was read (pure, each tested) ---

pub fn judge_listing(listing: &FileListing) -> Finding {
    match listing {
        FileListing::Restricted => Finding::new(
            Check::FileListing,
            Verdict::Good,
            "File listing is restricted.".into(),
            "Only people with a key can list the file names.",
        ),
        FileListing::Enabled => Finding::new(
            Check::FileListing,
            Verdict::Problem,
            "File listing is enabled.".into(),
            "Anyone can list the name of every file in this Space, private ones included, and so find files never meant to be found. Restricting it changes no file's own permission.",
        )
        .fix(Fix::RestrictFileListing),
    }
}

pub fn judge_cors(rules: &[CorsRule]) -> Finding {
    let any = rules
        .iter()
        .filter(|r| r.allowed_origins.iter().any(|o| o.contains('*')))
        .count();
    if any == 0 {
        return Finding::new(
            Check::Cors,
            Verdict::Good,
            match rules.len() {
                0 => "No CORS rules.".into(),
                n => format!("{n} CORS rules, each for named origins."),
            },
            "Only the sites named may read files from a browser's script.",
        );
    }
    // No one-click fix: a site may rely on the rule; the CORS editor changes it.
    Finding::new(
        Check::Cors,
        Verdict::Warning,
        format!(
            "{any} CORS {} origins by a wildcard (*).",
            if any == 1 { "rule allows" } else { "rules allow" }
        ),
        "Any website's script may read what this Space serves to its visitors' browsers. Name the sites that need it in the CORS editor (Settings → CORS).",
    )
}

pub fn judge_versioning(v: Versioning) -> Finding {
    match v {
        Versioning::Enabled => Finding::new(
            Check::Versioning,
            Verdict::Good,
            "Versioning is on.".into(),
            "A replaced or deleted file keeps its earlier versions.",
        ),
        Versioning::Off | Versioning::Suspended => Finding::new(
            Check::Versioning,
            Verdict::Warning,
            if v == Versioning::Off {
                "Versioning is off.".into()
            } else {
                "Versioning is suspended.".into()
            },
            "A file replaced or deleted, by you or by a key that leaked, is gone for good. With versioning on, every earlier version is kept (and billed as storage) until a rule expires it.",
        )
        .fix(Fix::EnableVersioning),
    }
}

/// Whether a rule aborts unfinished uploads everywhere in the Space.
fn aborts_everywhere(rules: &[LifecycleRule]) -> bool {
    rules
        .iter()
        .any(|r| r.enabled && r.prefix.is_empty() && r.abort_uploads_days.is_some())
}

pub fn judge_abort_rule(rules: &[LifecycleRule]) -> Finding {
    if aborts_everywhere(rules) {
        return Finding::new(
            Check::AbortRule,
            Verdict::Good,
            "A lifecycle rule aborts unfinished uploads.".into(),
            "Uploads left unfinished are cleared on their own.",
        );
    }
    Finding::new(
        Check::AbortRule,
        Verdict::Warning,
        "No lifecycle rule aborts unfinished uploads in the whole Space.".into(),
        "An upload a client leaves unfinished keeps its parts, billed as storage yet in no file list, until DigitalOcean deletes them after 30 days (other services may keep them for ever). A rule clears them after a week; the Space's other rules stay as they are.",
    )
    .fix(Fix::AddAbortRule)
}

/// Days since an RFC 3339 time; None when it can't be read.
fn days_since(when: &str, now: OffsetDateTime) -> Option<i64> {
    let at = OffsetDateTime::parse(when, &Rfc3339).ok()?;
    Some((now - at).whole_days())
}

pub fn judge_uploads(uploads: &[unfinished::UnfinishedUpload], now: OffsetDateTime) -> Finding {
    if uploads.is_empty() {
        return Finding::new(
            Check::UnfinishedUploads,
            Verdict::Good,
            "No unfinished uploads.".into(),
            "No parts are stored outside of files.",
        );
    }
    let age =
        |u: &unfinished::UnfinishedUpload| u.started.as_deref().and_then(|s| days_since(s, now));
    let ages: Vec<i64> = uploads.iter().filter_map(age).collect();
    // Only another program's old uploads are offered for aborting.
    let abandoned = (uploads.iter())
        .filter(|u| !u.by_this_app && !u.resumable)
        .filter(|u| age(u).is_some_and(|d| d >= OLD_UPLOAD_DAYS))
        .count();
    let oldest = ages.iter().copied().max();
    let old = ages.iter().filter(|d| **d >= OLD_UPLOAD_DAYS).count();
    let bytes = (uploads.iter().filter_map(|u| u.bytes)).fold(0u64, u64::saturating_add);
    let found = format!(
        "{} unfinished {}, the oldest begun {}{}.",
        uploads.len(),
        if uploads.len() == 1 {
            "upload"
        } else {
            "uploads"
        },
        match oldest {
            None => "at a time the server does not say".to_string(),
            Some(0) => "less than a day ago".to_string(),
            Some(1) => "1 day ago".to_string(),
            Some(d) => format!("{d} days ago"),
        },
        if bytes > 0 {
            format!(", holding at least {bytes} bytes")
        } else {
            String::new()
        }
    );
    let means = "Their parts are stored and billed, yet no file list shows them. DigitalOcean deletes an unfinished upload 30 days after it began. An upload begun this week may still be running; one older than a week, begun by another program, is surely abandoned (those Spacedock began, or can resume, are never aborted from here).";
    let finding = Finding::new(
        Check::UnfinishedUploads,
        if old > 0 {
            Verdict::Problem
        } else {
            Verdict::Warning
        },
        found,
        means,
    );
    if abandoned > 0 {
        finding.fix(Fix::AbortOldUploads)
    } else {
        finding
    }
}

pub fn judge_public(public: &[String], looked_at: usize, all: bool) -> Finding {
    let scope = if all {
        format!("of its {looked_at} files")
    } else {
        format!("of the first {looked_at} files")
    };
    if public.is_empty() {
        return Finding::new(
            Check::PublicFiles,
            Verdict::Good,
            format!("No public files {scope}."),
            "Files open only with a key or a signed link.",
        );
    }
    // No one-click fix: a site may serve them; each is made private in the file list.
    Finding {
        files: public.iter().take(100).cloned().collect(),
        ..Finding::new(
            Check::PublicFiles,
            Verdict::Warning,
            format!(
                "{} public {} {scope}.",
                public.len(),
                if public.len() == 1 { "file" } else { "files" }
            ),
            "Anyone who has or guesses their URL can download them, and each download is billed to you as transfer. Make private what is not meant for everyone.",
        )
    }
}

pub fn judge_certificate(domain: &str, not_after: Option<&str>, now: OffsetDateTime) -> Finding {
    let Some(at) = not_after.and_then(|n| OffsetDateTime::parse(n, &Rfc3339).ok()) else {
        return Finding::new(
            Check::CdnCertificate,
            Verdict::Unknown,
            format!("The certificate of {domain} is not among the account's, or has no expiry date DigitalOcean reports."),
            "Look at it in the Control Panel's Certificates.",
        );
    };
    let days = (at - now).whole_days();
    let (verdict, found) = match days {
        _ if at <= now => (
            Verdict::Problem,
            format!(
                "The certificate of {domain} has expired ({} days ago).",
                -days
            ),
        ),
        d if d <= CERTIFICATE_WARNING_DAYS => (
            Verdict::Warning,
            format!("The certificate of {domain} expires in {d} days."),
        ),
        d => (
            Verdict::Good,
            format!("The certificate of {domain} is valid for {d} more days."),
        ),
    };
    Finding::new(
        Check::CdnCertificate,
        verdict,
        found,
        "When it expires, browsers refuse the CDN's custom address. DigitalOcean renews Let's Encrypt certificates on its own; a certificate you uploaded must be replaced by you.",
    )
}

// --- looking ---

/// Public files among the first `FILES_LOOKED_AT`: their keys, how many were looked at, and
/// whether that was every file.
async fn public_files(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
) -> Result<(Vec<String>, usize, bool)> {
    let mut keys = Vec::new();
    let all = crate::listing::each_page(
        client,
        crate::s3::Context::space(endpoint, space),
        space,
        "",
        None,
        Some(1000),
        |page| {
            for o in page.objects {
                if let Some(k) = o.key() {
                    if keys.len() < FILES_LOOKED_AT {
                        keys.push(k.to_string());
                    }
                }
            }
            keys.len() < FILES_LOOKED_AT
        },
    )
    .await?;
    let looked_at = keys.len();
    let acls: Vec<(String, Result<FileAcl>)> = futures_util::stream::iter(keys)
        .map(|key| async move {
            let acl = objects::acl(client, endpoint, space, &key).await;
            (key, acl)
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut public = Vec::new();
    let mut unread = 0;
    for (key, acl) in acls {
        match acl {
            Ok(FileAcl::Public) => public.push(key),
            Ok(FileAcl::Private) => {}
            // Deleted since the listing, say, or not readable with this key.
            Err(_) => unread += 1,
        }
    }
    if unread == looked_at && looked_at > 0 {
        return Err(Error::InvalidInput(
            "No file's permission could be read with this key.".into(),
        ));
    }
    public.sort();
    Ok((public, looked_at - unread, all && unread == 0))
}

/// The CDN's certificate, on a DigitalOcean connection whose Space has the CDN on with a custom
/// address; None where there is none to check.
async fn certificate(
    services: &Services,
    space: &str,
    region: Option<String>,
    now: OffsetDateTime,
) -> Option<Finding> {
    let active = services.active().await.ok()?;
    if !matches!(
        active.profile.provider,
        crate::connection::Provider::DigitalOcean { .. }
    ) {
        return None;
    }
    let (cdn, origin) = match crate::cdn::of(services, space, region).await {
        Ok(c) => c,
        Err(e) => return Some(Finding::unknown(Check::CdnCertificate, &e)),
    };
    let state = match cdn.state(&origin).await {
        Ok(s) => s,
        Err(e) => return Some(Finding::unknown(Check::CdnCertificate, &e)),
    };
    let endpoint = state.endpoint?;
    let domain = endpoint.custom_domain.filter(|d| !d.is_empty())?;
    let cert = (endpoint.certificate_id.as_deref())
        .and_then(|id| state.certificates.iter().find(|c| c.id == id));
    Some(judge_certificate(
        &domain,
        cert.and_then(|c| c.not_after.as_deref()),
        now,
    ))
}

/// Every check of a Space, looked at at once.
/// Runs every check at once, until the page stops `request` (a check only reads, so a stop
/// leaves nothing half done).
pub async fn check(
    services: &Services,
    space: &str,
    region: Option<String>,
    request: Option<u32>,
) -> Result<Vec<Finding>> {
    // Boxed: the checks' future is large, and moved by value it can overflow a worker's stack.
    let checked = Box::pin(check_now(services, space, region));
    services.requests().run(request, checked).await
}

async fn check_now(
    services: &Services,
    space: &str,
    region: Option<String>,
) -> Result<Vec<Finding>> {
    let t = target(services, space, region.clone()).await?;
    let (client, endpoint) = (&t.client, t.endpoint.as_str());
    let now = OffsetDateTime::now_utc();
    let (listing, cors, public, uploads, versioning, rules, cert) = tokio::join!(
        file_listing(client, endpoint, space),
        cors_rules(client, endpoint, space),
        public_files(client, endpoint, space),
        unfinished::list(services, space, region.clone()),
        versions::versioning(client, endpoint, space),
        lifecycle::rules(client, endpoint, space),
        certificate(services, space, region.clone(), now),
    );
    let mut findings = vec![
        listing.map_or_else(
            |e| Finding::unknown(Check::FileListing, &e),
            |l| judge_listing(&l),
        ),
        cors.map_or_else(|e| Finding::unknown(Check::Cors, &e), |r| judge_cors(&r)),
        public.map_or_else(
            |e| Finding::unknown(Check::PublicFiles, &e),
            |(p, n, all)| judge_public(&p, n, all),
        ),
        uploads.map_or_else(
            |e| Finding::unknown(Check::UnfinishedUploads, &e),
            |u| judge_uploads(&u, now),
        ),
        versioning.map_or_else(
            |e| Finding::unknown(Check::Versioning, &e),
            judge_versioning,
        ),
        rules.map_or_else(
            |e| Finding::unknown(Check::AbortRule, &e),
            |r| judge_abort_rule(&r),
        ),
    ];
    findings.extend(cert);
    Ok(findings)
}

/// Carries out one fix; says what it did.
pub async fn fix(
    services: &Services,
    space: &str,
    region: Option<String>,
    fix: Fix,
) -> Result<String> {
    let t = target(services, space, region.clone()).await?;
    let (client, endpoint) = (&t.client, t.endpoint.as_str());
    match fix {
        Fix::RestrictFileListing => {
            set_file_listing(client, endpoint, space, FileListing::Restricted).await?;
            Ok("File listing is now restricted.".into())
        }
        Fix::EnableVersioning => {
            match versions::set_versioning(client, endpoint, space, true).await? {
                Versioning::Enabled => Ok("Versioning is now on.".into()),
                other => Err(Error::InvalidInput(format!(
                    "The server did not turn versioning on: it reads back as {other:?}."
                ))),
            }
        }
        Fix::AddAbortRule => {
            // The rules as they are, kept whole; refused (with why) where any part of them can't
            // be shown, so nothing unseen is dropped.
            let shown = lifecycle::rules(client, endpoint, space).await?;
            if aborts_everywhere(&shown) {
                return Ok("A rule already aborts unfinished uploads.".into());
            }
            let mut rules = shown.clone();
            let id = (0..)
                .map(|n| match n {
                    0 => ABORT_RULE_ID.to_string(),
                    n => format!("{ABORT_RULE_ID}-{n}"),
                })
                .find(|id| !shown.iter().any(|r| &r.id == id))
                .unwrap_or_else(|| ABORT_RULE_ID.to_string());
            rules.push(LifecycleRule {
                id,
                prefix: String::new(),
                enabled: true,
                expire_days: None,
                expire_old_versions_days: None,
                abort_uploads_days: Some(OLD_UPLOAD_DAYS as u32),
            });
            let saved = lifecycle::set_rules(client, endpoint, space, &shown, &rules).await?;
            // Anything the server did not keep as sent, this rule or another, is said.
            if !saved.not_kept.is_empty() || !aborts_everywhere(&saved.rules) {
                return Err(Error::InvalidInput(format!(
                    "The server did not keep the rules as sent: {}. Look at them under Lifecycle rules.",
                    saved.not_kept.join("; ")
                )));
            }
            Ok("A rule now aborts unfinished uploads a week after they began.".into())
        }
        Fix::AbortOldUploads => {
            let now = OffsetDateTime::now_utc();
            let old: Vec<(String, String)> = unfinished::list(services, space, region.clone())
                .await?
                .into_iter()
                // Never one this app began or can resume: it may be running, or wanted.
                .filter(|u| !u.by_this_app && !u.resumable)
                .filter(|u| {
                    u.started
                        .as_deref()
                        .and_then(|s| days_since(s, now))
                        .is_some_and(|d| d >= OLD_UPLOAD_DAYS)
                })
                .map(|u| (u.key, u.upload_id))
                .collect();
            let done = unfinished::abort(services, space, region, &old).await?;
            Ok(format!(
                "{} unfinished {} older than a week aborted{}.",
                done.aborted,
                if done.aborted == 1 {
                    "upload"
                } else {
                    "uploads"
                },
                if done.problems.is_empty() {
                    String::new()
                } else {
                    format!("; {} could not be", done.problems.len())
                }
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-12-05T12:00:00Z", &Rfc3339).expect("time")
    }

    fn upload(started: &str) -> unfinished::UnfinishedUpload {
        unfinished::UnfinishedUpload {
            key: "k".into(),
            upload_id: "u".into(),
            started: Some(started.into()),
            parts: Some(1),
            bytes: Some(5),
            by_this_app: false,
            resumable: false,
        }
    }

    #[test]
    fn each_judge_fails_what_it_should_and_offers_only_safe_fixes() {
        assert_eq!(
            judge_listing(&FileListing::Enabled).fix,
            Some(Fix::RestrictFileListing)
        );
        assert_eq!(
            judge_listing(&FileListing::Restricted).verdict,
            Verdict::Good
        );
        let star = CorsRule {
            allowed_origins: vec!["https://a.example".into(), " * ".into()],
            allowed_methods: vec!["GET".into()],
            allowed_headers: vec![],
            max_age_seconds: None,
            id: None,
            expose_headers: vec![],
        };
        let cors = judge_cors(std::slice::from_ref(&star));
        assert_eq!((cors.verdict, cors.fix), (Verdict::Warning, None));
        let partly = CorsRule {
            allowed_origins: vec!["https://*".into()],
            ..star.clone()
        };
        assert_eq!(judge_cors(&[partly]).verdict, Verdict::Warning);
        assert_eq!(
            judge_versioning(Versioning::Suspended).fix,
            Some(Fix::EnableVersioning)
        );
        let partial = LifecycleRule {
            id: "logs".into(),
            prefix: "logs/".into(),
            enabled: true,
            expire_days: Some(3),
            expire_old_versions_days: None,
            abort_uploads_days: Some(1),
        };
        // A rule for one folder does not clear the rest of the Space.
        assert_eq!(
            judge_abort_rule(std::slice::from_ref(&partial)).fix,
            Some(Fix::AddAbortRule)
        );
        let everywhere = LifecycleRule {
            prefix: String::new(),
            ..partial.clone()
        };
        assert_eq!(
            judge_abort_rule(std::slice::from_ref(&everywhere)).verdict,
            Verdict::Good
        );
        assert_eq!(
            judge_abort_rule(&[LifecycleRule {
                enabled: false,
                ..everywhere
            }])
            .verdict,
            Verdict::Warning
        );
    }

    #[test]
    fn uploads_are_told_by_age_and_only_old_ones_are_offered_for_aborting() {
        let fresh = judge_uploads(&[upload("2026-12-05T09:00:00Z")], now());
        assert_eq!((fresh.verdict, fresh.fix), (Verdict::Warning, None));
        assert!(fresh.found.contains("less than a day"), "{}", fresh.found);
        let old = judge_uploads(
            &[
                upload("2026-12-05T09:00:00Z"),
                upload("2026-11-20T12:00:00Z"),
            ],
            now(),
        );
        assert_eq!(
            (old.verdict, old.fix),
            (Verdict::Problem, Some(Fix::AbortOldUploads))
        );
        assert!(
            old.found
                .starts_with("2 unfinished uploads, the oldest begun 15 days ago"),
            "{}",
            old.found
        );
        assert_eq!(judge_uploads(&[], now()).verdict, Verdict::Good);
        // Old, but this app's own (it may be running, or resumable): said, never offered for
        // aborting.
        let ours = unfinished::UnfinishedUpload {
            by_this_app: true,
            resumable: true,
            ..upload("2026-11-01T00:00:00Z")
        };
        let kept = judge_uploads(&[ours], now());
        assert_eq!((kept.verdict, kept.fix), (Verdict::Problem, None));
        let undated = unfinished::UnfinishedUpload {
            started: None,
            ..upload("")
        };
        assert!(judge_uploads(&[undated], now())
            .found
            .contains("a time the server does not say"));
    }

    #[test]
    fn a_certificate_is_told_before_it_expires() {
        let check = |n: &str| judge_certificate("cdn.example", Some(n), now()).verdict;
        assert_eq!(check("2027-06-01T00:00:00Z"), Verdict::Good);
        assert_eq!(check("2027-01-01T00:00:00Z"), Verdict::Warning);
        assert_eq!(check("2026-12-01T00:00:00Z"), Verdict::Problem);
        // Expired twelve hours ago: expired, not "in 0 days".
        assert_eq!(check("2026-12-05T00:00:00Z"), Verdict::Problem);
        assert_eq!(
            judge_certificate("cdn.example", None, now()).verdict,
            Verdict::Unknown
        );
    }

    #[test]
    fn public_files_are_counted_with_how_many_were_looked_at() {
        let some = judge_public(&["a".into(), "b".into()], 1000, false);
        assert_eq!(some.found, "2 public files of the first 1000 files.");
        assert_eq!((some.fix, some.files.len()), (None, 2));
        assert_eq!(
            judge_public(&[], 3, true).found,
            "No public files of its 3 files."
        );
    }
}
