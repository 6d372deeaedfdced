//! One Space: whether a name is free, creating it, its file-listing setting, CORS rules.

pub mod access_logs;
pub mod health;
pub mod page;
pub mod unfinished;
pub mod usage;

use aws_sdk_s3::types::{BucketCannedAcl, CorsConfiguration, Permission, Type};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::error::{Error, Result, S3Code};
use super::names;
use super::s3::{self, from_code, map_error, Context};

/// Who may list a Space's file names. It does not change any file's own permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum FileListing {
    /// Private bucket ACL: anonymous listing is denied (the default).
    Restricted,
    /// public-read bucket ACL: anyone may list the file names.
    Enabled,
}

impl FileListing {
    fn canned(self) -> BucketCannedAcl {
        match self {
            FileListing::Restricted => BucketCannedAcl::Private,
            FileListing::Enabled => BucketCannedAcl::PublicRead,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FileListing::Restricted => "Restricted",
            FileListing::Enabled => "Enabled",
        }
    }
}

/// Whether a name can be used, from HeadBucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Availability {
    /// 404: nobody has it.
    Free,
    /// 403 (or a redirect to another region): another user has it; names are unique among all users.
    Taken,
    /// 200: this key's owner already has it.
    Yours,
}

pub async fn availability(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    name: &str,
) -> Result<Availability> {
    names::validate(name)?;
    match client.head_bucket().bucket(name).send().await {
        Ok(_) => Ok(Availability::Yours),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            match status {
                Some(404) => Ok(Availability::Free),
                Some(403) | Some(301) => Ok(Availability::Taken),
                _ => Err(map_error(e, Context::space(endpoint, name))),
            }
        }
    }
}

/// Creates the Space, then sets its file listing. If the second step fails, the error says that
/// the Space exists with listing Restricted, so that step alone can be retried.
pub async fn create(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    name: &str,
    listing: FileListing,
) -> Result<()> {
    names::validate(name)?;
    let ctx = Context::space(endpoint, name);
    if let Err(e) = client.create_bucket().bucket(name).send().await {
        return Err(match s3::code_of(&e) {
            Some(S3Code::BucketAlreadyExists) => Error::SpaceTaken(name.to_string()),
            Some(S3Code::BucketAlreadyOwnedByYou) => Error::SpaceExists(name.to_string()),
            Some(S3Code::TooManyBuckets) => Error::TooManySpaces,
            Some(S3Code::InvalidBucketName) => Error::InvalidInput(format!("The server refused “{name}” as a Space name.")),
            Some(S3Code::AccessDenied) => Error::AccessDenied(
                "This access key may not create Spaces. Keys limited to some Spaces can't; use a full-access key.".into(),
            ),
            _ => map_error(e, ctx),
        });
    }
    if listing == FileListing::Enabled {
        set_file_listing(client, endpoint, name, listing)
            .await
            .map_err(|e| Error::ListingNotApplied {
                space: name.to_string(),
                reason: e.to_string(),
            })?;
    }
    Ok(())
}

/// The file-listing setting as the server has it (from the bucket ACL).
pub async fn file_listing(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    name: &str,
) -> Result<FileListing> {
    let acl = client
        .get_bucket_acl()
        .bucket(name)
        .send()
        .await
        .map_err(|e| map_error(e, Context::space(endpoint, name)))?;
    let public = acl.grants().iter().any(|g| {
        let everyone = g.grantee().is_some_and(|who| {
            who.r#type() == &Type::Group
                && who.uri().is_some_and(|u| u.ends_with("/global/AllUsers"))
        });
        everyone
            && matches!(
                g.permission(),
                Some(Permission::Read) | Some(Permission::FullControl)
            )
    });
    Ok(if public {
        FileListing::Enabled
    } else {
        FileListing::Restricted
    })
}

/// Sets the file listing and reads it back, so the caller always shows the server's truth. Only
/// everyone's read is given or taken: any other grant of the Space's ACL is kept.
pub async fn set_file_listing(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    name: &str,
    listing: FileListing,
) -> Result<FileListing> {
    let ctx = Context::space(endpoint, name);
    let now = (client.get_bucket_acl().bucket(name).send().await).map_err(|e| map_error(e, ctx))?;
    let public = listing == FileListing::Enabled;
    let put = client.put_bucket_acl().bucket(name);
    let put = match crate::objects::everyone_reads(now.owner(), now.grants(), public) {
        Some(policy) => put.access_control_policy(policy),
        None => put.acl(listing.canned()),
    };
    put.send().await.map_err(|e| map_error(e, ctx))?;
    let now = file_listing(client, endpoint, name).await?;
    if now != listing {
        return Err(Error::Server {
            code: "AclNotApplied".into(),
            message: format!("the server kept file listing {}", now.label()),
        });
    }
    Ok(now)
}

/// One CORS rule: which web pages (origins) may call the Space from a browser, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CorsRule {
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub max_age_seconds: Option<i32>,
    /// The rule's name and the response headers a page may read, as the server has them: the
    /// editor doesn't show them, and they are written back as they were.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
}

/// Each part of a CORS rule this app reads and writes back; any other refuses editing.
const CORS_PARTS: [&str; 6] = [
    "ID",
    "AllowedOrigin",
    "AllowedMethod",
    "AllowedHeader",
    "ExposeHeader",
    "MaxAgeSeconds",
];

const CORS_METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

impl CorsRule {
    pub fn validate(&self) -> Result<()> {
        if self.allowed_origins.iter().all(|o| o.trim().is_empty()) {
            return Err(Error::InvalidInput(
                "A CORS rule needs at least one origin, e.g. https://example.com or *.".into(),
            ));
        }
        if self.allowed_methods.is_empty() {
            return Err(Error::InvalidInput(
                "A CORS rule needs at least one method.".into(),
            ));
        }
        if let Some(bad) = self
            .allowed_methods
            .iter()
            .find(|m| !CORS_METHODS.contains(&m.as_str()))
        {
            return Err(Error::InvalidInput(format!(
                "“{bad}” is not a CORS method; use {}.",
                CORS_METHODS.join(", ")
            )));
        }
        if self.max_age_seconds.is_some_and(|s| s < 0) {
            return Err(Error::InvalidInput("The max age can't be negative.".into()));
        }
        Ok(())
    }
}

pub async fn cors_rules(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    name: &str,
) -> Result<Vec<CorsRule>> {
    let raw = crate::s3::RawBody::default();
    let asked = client.get_bucket_cors().bucket(name).customize();
    match asked.interceptor(raw.clone()).send().await {
        Ok(out) => {
            let xml = raw.take().unwrap_or_default();
            if let Some((_, part)) =
                crate::s3::unknown_part(&xml, "CORSRule", "ID", &CORS_PARTS, &[])?
            {
                return Err(Error::InvalidInput(format!(
                    "This Space's CORS rules have a setting named “{part}”, which this app can't show; so that it is never lost unseen, they can't be edited here."
                )));
            }
            Ok(out
                .cors_rules()
                .iter()
                .map(|r| CorsRule {
                    allowed_origins: r.allowed_origins().to_vec(),
                    allowed_methods: r.allowed_methods().to_vec(),
                    allowed_headers: r.allowed_headers().to_vec(),
                    max_age_seconds: r.max_age_seconds(),
                    id: r.id().map(str::to_string),
                    expose_headers: r.expose_headers().to_vec(),
                })
                .collect())
        }
        Err(e) if s3::code_of(&e) == Some(S3Code::NoSuchCORSConfiguration) => Ok(Vec::new()),
        Err(e) => Err(map_error(e, Context::space(endpoint, name))),
    }
}

/// Replaces the CORS rules (none = delete the configuration) and returns what the server now has.
pub async fn set_cors_rules(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    name: &str,
    rules: &[CorsRule],
) -> Result<Vec<CorsRule>> {
    let ctx = Context::space(endpoint, name);
    if rules.is_empty() {
        client
            .delete_bucket_cors()
            .bucket(name)
            .send()
            .await
            .map_err(|e| map_error(e, ctx))?;
        return cors_rules(client, endpoint, name).await;
    }
    for rule in rules {
        rule.validate()?;
    }
    let mut config = CorsConfiguration::builder();
    for rule in rules {
        let clean = |v: &[String]| {
            v.iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        };
        let built = aws_sdk_s3::types::CorsRule::builder()
            .set_allowed_origins(Some(clean(&rule.allowed_origins)))
            .set_allowed_methods(Some(rule.allowed_methods.clone()))
            .set_allowed_headers(Some(clean(&rule.allowed_headers)))
            .set_max_age_seconds(rule.max_age_seconds)
            .set_id(rule.id.clone())
            .set_expose_headers(
                (!rule.expose_headers.is_empty()).then(|| rule.expose_headers.clone()),
            )
            .build()
            .map_err(|e| Error::InvalidInput(format!("That CORS rule is incomplete: {e}")))?;
        config = config.cors_rules(built);
    }
    let config = config
        .build()
        .map_err(|e| Error::InvalidInput(format!("Those CORS rules are incomplete: {e}")))?;
    client
        .put_bucket_cors()
        .bucket(name)
        .cors_configuration(config)
        .send()
        .await
        .map_err(|e| map_error(e, ctx))?;
    cors_rules(client, endpoint, name).await
}

/// HEAD on a Space that needs no body: maps 403/404 to sentences.
pub async fn head(client: &aws_sdk_s3::Client, endpoint: &str, name: &str) -> Result<()> {
    match client.head_bucket().bucket(name).send().await {
        Ok(_) => Ok(()),
        Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
            Some(status @ (403 | 404 | 301)) => {
                Err(from_code(None, "", status, Context::space(endpoint, name)))
            }
            _ => Err(map_error(e, Context::space(endpoint, name))),
        },
    }
}

/// Opens a Space: checks the key reaches it (HeadBucket), and with a full-access key reads its
/// file listing too. A limited key is never sent GetBucketAcl: DigitalOcean refuses it, and a
/// refusal there would read as if the Space were out of reach.
pub async fn open(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    name: &str,
    limited: bool,
) -> Result<Option<FileListing>> {
    head(client, endpoint, name).await?;
    if limited {
        return Ok(None);
    }
    Ok(file_listing(client, endpoint, name).await.ok())
}
