//! One file (object) of a Space: its details, its permission, share links, metadata and deletion.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{
    Delete, MetadataDirective, ObjectCannedAcl, ObjectIdentifier, Permission, Type,
};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::error::{Error, Result, S3Code};
use super::s3::{map_error, Context};

/// A file's own permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum FileAcl {
    Private,
    Public,
}

impl FileAcl {
    /// The canned ACL that sets this permission on a new file.
    pub fn canned(self) -> ObjectCannedAcl {
        match self {
            FileAcl::Private => ObjectCannedAcl::Private,
            FileAcl::Public => ObjectCannedAcl::PublicRead,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Metadata {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    /// x-amz-meta-* headers, without the prefix, sorted by name.
    pub custom: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FileDetails {
    pub key: String,
    pub size: u64,
    pub modified: Option<String>,
    pub etag: Option<String>,
    /// From the object's ACL; None when this key may not read it.
    pub acl: Option<FileAcl>,
    pub metadata: Metadata,
}

pub async fn details(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
) -> Result<FileDetails> {
    let head = client
        .head_object()
        .bucket(space)
        .key(key)
        .send()
        .await
        .map_err(|e| match e.raw_response().map(|r| r.status().as_u16()) {
            Some(404) => Error::InvalidInput(format!("“{key}” is no longer in this Space.")),
            _ => map_error(e, Context::space(endpoint, space)),
        })?;
    let mut custom: Vec<(String, String)> = head
        .metadata()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    custom.sort();
    Ok(FileDetails {
        key: key.to_string(),
        size: head.content_length().unwrap_or(0).max(0) as u64,
        modified: head
            .last_modified()
            .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
        etag: head.e_tag().map(|e| e.trim_matches('"').to_string()),
        acl: acl(client, endpoint, space, key).await.ok(),
        metadata: Metadata {
            content_type: head.content_type().map(str::to_string),
            cache_control: head.cache_control().map(str::to_string),
            content_disposition: head.content_disposition().map(str::to_string),
            content_encoding: head.content_encoding().map(str::to_string),
            custom,
        },
    })
}

/// Public when anyone (AllUsers) may read the file.
pub async fn acl(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
) -> Result<FileAcl> {
    let out = client
        .get_object_acl()
        .bucket(space)
        .key(key)
        .send()
        .await
        .map_err(|e| map_error(e, Context::space(endpoint, space)))?;
    let public = out.grants().iter().any(|g| {
        g.grantee().is_some_and(|who| {
            who.r#type() == &Type::Group
                && who.uri().is_some_and(|u| u.ends_with("/global/AllUsers"))
        }) && matches!(
            g.permission(),
            Some(Permission::Read) | Some(Permission::FullControl)
        )
    });
    Ok(if public {
        FileAcl::Public
    } else {
        FileAcl::Private
    })
}

/// A file's ACL as the grant headers a copy carries, so the copy keeps exactly who may do what.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Grants {
    pub full_control: Option<String>,
    pub read: Option<String>,
    pub read_acp: Option<String>,
    pub write_acp: Option<String>,
}

impl Grants {
    /// A copy of the file (onto itself, or to a new key) granted exactly this.
    pub fn on_copy(
        self,
        copy: aws_sdk_s3::operation::copy_object::builders::CopyObjectFluentBuilder,
    ) -> aws_sdk_s3::operation::copy_object::builders::CopyObjectFluentBuilder {
        copy.set_grant_full_control(self.full_control)
            .set_grant_read(self.read)
            .set_grant_read_acp(self.read_acp)
            .set_grant_write_acp(self.write_acp)
    }

    /// A multipart upload (a copy in parts) granted exactly this when completed.
    pub fn on_upload(
        self,
        upload: aws_sdk_s3::operation::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder,
    ) -> aws_sdk_s3::operation::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder
    {
        upload
            .set_grant_full_control(self.full_control)
            .set_grant_read(self.read)
            .set_grant_read_acp(self.read_acp)
            .set_grant_write_acp(self.write_acp)
    }
}

/// Reads a file's grants. A key that may not read them gets a sentence saying why nothing is
/// changed, rather than a guess that could make a public file private.
pub async fn grants(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
) -> Result<Grants> {
    grants_of(
        client,
        endpoint,
        space,
        key,
        None,
        "its metadata was not changed",
    )
    .await
}

/// Reads the grants of a file (or of one of its versions) before a copy that must keep them;
/// `not_done` says, in a refusal, what was left undone.
pub async fn grants_of(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
    version: Option<&str>,
    not_done: &str,
) -> Result<Grants> {
    acl_of(client, endpoint, space, key, version, not_done)
        .await
        .map(|acl| acl.exact())
}

/// Who may do what with a file, as its ACL says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectAcl {
    /// The canonical id of the file's owner.
    pub owner: Option<String>,
    pub grants: Vec<OneGrant>,
}

/// One grant of a file's ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneGrant {
    pub grantee: Grantee,
    pub permission: Permission,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    /// A user of the service, by canonical id (and the name it shows, if any).
    User {
        id: String,
        name: Option<String>,
    },
    Email(String),
    /// Everyone, every signed-in user, the log writer: by the group's URI.
    Group(String),
}

impl Grantee {
    /// The grantee as a grant header names it.
    fn header(&self) -> String {
        match self {
            Grantee::User { id, .. } => format!("id=\"{id}\""),
            Grantee::Email(e) => format!("emailAddress=\"{e}\""),
            Grantee::Group(uri) => format!("uri=\"{uri}\""),
        }
    }

    fn is_group(&self, name: &str) -> bool {
        matches!(self, Grantee::Group(uri) if uri.ends_with(&format!("/global/{name}")))
    }

    /// In words, for a note about a grant.
    fn words(&self) -> String {
        match self {
            Grantee::User { id, name } => match name {
                Some(n) if !n.is_empty() && n != id => format!("the user “{n}” ({id})"),
                _ => format!("the user “{id}”"),
            },
            Grantee::Email(e) => format!("“{e}”"),
            Grantee::Group(uri) => match uri.rsplit('/').next() {
                Some("AllUsers") => "everyone".into(),
                Some("AuthenticatedUsers") => "every signed-in user".into(),
                Some(g) => format!("the group “{g}”"),
                None => format!("the group “{uri}”"),
            },
        }
    }
}

fn permission_words(p: &Permission) -> &'static str {
    match p {
        Permission::FullControl => "full control",
        Permission::Read => "read",
        Permission::ReadAcp => "reading the permission",
        Permission::WriteAcp => "changing the permission",
        _ => "write",
    }
}

impl ObjectAcl {
    /// The same grants, for a copy within the same Space.
    pub fn exact(&self) -> Grants {
        let mut lists: [Vec<String>; 4] = Default::default();
        for g in &self.grants {
            let slot = match g.permission {
                Permission::FullControl => 0,
                Permission::Read => 1,
                Permission::ReadAcp => 2,
                Permission::WriteAcp => 3,
                _ => continue,
            };
            lists[slot].push(g.grantee.header());
        }
        let joined = |v: &Vec<String>| (!v.is_empty()).then(|| v.join(", "));
        Grants {
            full_control: joined(&lists[0]),
            read: joined(&lists[1]),
            read_acp: joined(&lists[2]),
            write_acp: joined(&lists[3]),
        }
    }

    /// What a copy into another Space keeps: only what means the same there. Grants to users
    /// (a key limited to the first Space, say) would let them into the other Space, so they stay
    /// behind: the copy belongs to `copier` (who makes it) and is Public, readable by signed-in
    /// users, or Private, as the original was. Returns that and, in words, each grant left out.
    pub fn for_another_space(&self, copier: Option<&str>) -> (ObjectCannedAcl, Vec<String>) {
        let readable = |group: &str| {
            self.grants.iter().any(|g| {
                g.grantee.is_group(group)
                    && matches!(g.permission, Permission::Read | Permission::FullControl)
            })
        };
        let canned = if readable("AllUsers") {
            ObjectCannedAcl::PublicRead
        } else if readable("AuthenticatedUsers") {
            ObjectCannedAcl::AuthenticatedRead
        } else {
            ObjectCannedAcl::Private
        };
        let kept = |g: &OneGrant| match &g.grantee {
            // The copier owns the copy, with full control.
            Grantee::User { id, .. } => copier == Some(id.as_str()),
            Grantee::Group(_) => {
                let group = if g.grantee.is_group("AllUsers") {
                    canned == ObjectCannedAcl::PublicRead
                } else {
                    g.grantee.is_group("AuthenticatedUsers") && canned != ObjectCannedAcl::Private
                };
                group && g.permission == Permission::Read
            }
            Grantee::Email(_) => false,
        };
        let left = (self.grants.iter())
            .filter(|g| !kept(g))
            .map(|g| {
                format!(
                    "{} for {}",
                    permission_words(&g.permission),
                    g.grantee.words()
                )
            })
            .collect();
        (canned, left)
    }
}

/// Reads a file's ACL (or one version's); `not_done` says, in a refusal, what was left undone.
pub async fn acl_of(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
    version: Option<&str>,
    not_done: &str,
) -> Result<ObjectAcl> {
    let out = client
        .get_object_acl()
        .bucket(space)
        .key(key)
        .set_version_id(version.map(str::to_string))
        .send()
        .await
        .map_err(|e| match map_error(e, Context::space(endpoint, space)) {
            Error::AccessDenied(_) => Error::AccessDenied(format!(
                "This key may not read the file's permission, so {not_done}: the copy would also reset who may read the file. Use a key with full access to this Space."
            )),
            other => other,
        })?;
    let cannot = || {
        Error::InvalidInput(format!(
            "The file's permission has a grant this app can't copy, so {not_done}."
        ))
    };
    let mut acl = ObjectAcl {
        owner: out.owner().and_then(|o| o.id()).map(str::to_string),
        grants: Vec::new(),
    };
    for grant in out.grants() {
        let who = grant.grantee().ok_or_else(|| {
            Error::BadAnswer("a grant of the file's permission names nobody".into())
        })?;
        let grantee = match (who.r#type(), who.id(), who.uri(), who.email_address()) {
            (Type::CanonicalUser, Some(id), _, _) => Grantee::User {
                id: id.to_string(),
                name: who.display_name().map(str::to_string),
            },
            (Type::Group, _, Some(uri), _) => Grantee::Group(uri.to_string()),
            (Type::AmazonCustomerByEmail, _, _, Some(email)) => Grantee::Email(email.to_string()),
            _ => return Err(cannot()),
        };
        let permission = match grant.permission() {
            Some(
                p @ (Permission::FullControl
                | Permission::Read
                | Permission::ReadAcp
                | Permission::WriteAcp),
            ) => p.clone(),
            // WRITE means nothing on a file; S3 ignores it there.
            Some(Permission::Write) => continue,
            _ => return Err(cannot()),
        };
        acl.grants.push(OneGrant {
            grantee,
            permission,
        });
    }
    Ok(acl)
}

/// An ACL made public (everyone may read) or private (no group of strangers may do anything:
/// every grant to everyone and to every signed-in user goes), keeping each grant to a named user
/// as it is. None when there is none but the owner's full control and everyone's read: a canned
/// ACL (public-read or private) then says exactly the same, and every server takes it.
pub fn everyone_reads(
    owner: Option<&aws_sdk_s3::types::Owner>,
    grants: &[aws_sdk_s3::types::Grant],
    public: bool,
) -> Option<aws_sdk_s3::types::AccessControlPolicy> {
    use aws_sdk_s3::types::{AccessControlPolicy, Grant, Grantee};
    let to_group = |g: &Grant, name: &str| {
        g.grantee().is_some_and(|who| {
            who.r#type() == &Type::Group
                && who
                    .uri()
                    .is_some_and(|u| u.ends_with(&format!("/global/{name}")))
        })
    };
    let everyone_reads =
        |g: &Grant| to_group(g, "AllUsers") && g.permission() == Some(&Permission::Read);
    let owner_id = owner.and_then(|o| o.id());
    let owners = |g: &Grant| {
        g.permission() == Some(&Permission::FullControl)
            && g.grantee().is_some_and(|who| {
                who.r#type() == &Type::CanonicalUser && who.id().is_some() && who.id() == owner_id
            })
    };
    if grants.iter().all(|g| everyone_reads(g) || owners(g)) {
        return None;
    }
    let strangers = |g: &Grant| to_group(g, "AllUsers") || to_group(g, "AuthenticatedUsers");
    let mut kept: Vec<Grant> = (grants.iter())
        .filter(|g| match public {
            // Public: everyone's read is added below; what else the groups had stays.
            true => !everyone_reads(g),
            false => !strangers(g),
        })
        .cloned()
        .collect();
    if public {
        let all_users = Grantee::builder()
            .r#type(Type::Group)
            .uri("http://acs.amazonaws.com/groups/global/AllUsers")
            .build()
            .ok()?;
        kept.push(
            Grant::builder()
                .grantee(all_users)
                .permission(Permission::Read)
                .build(),
        );
    }
    Some(
        AccessControlPolicy::builder()
            .set_owner(owner.cloned())
            .set_grants(Some(kept))
            .build(),
    )
}

/// Sets the permission of each file; returns the keys that failed with why. Folders are skipped
/// (they have no permission of their own). Grants the file has besides its owner's and
/// everyone's (a key's user let in, say) are kept.
pub async fn set_acl(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    keys: &[String],
    want: FileAcl,
) -> Vec<(String, String)> {
    let canned = match want {
        FileAcl::Private => ObjectCannedAcl::Private,
        FileAcl::Public => ObjectCannedAcl::PublicRead,
    };
    let mut tasks = tokio::task::JoinSet::new();
    for key in keys.iter().filter(|k| !k.ends_with('/')).cloned() {
        let (client, canned, endpoint, space) = (
            client.clone(),
            canned.clone(),
            endpoint.to_string(),
            space.to_string(),
        );
        tasks.spawn(async move {
            let ctx = Context::space(&endpoint, &space);
            let set = async {
                let now = (client
                    .get_object_acl()
                    .bucket(&space)
                    .key(&key)
                    .send()
                    .await)
                    .map_err(|e| map_error(e, ctx))?;
                let public = want == FileAcl::Public;
                let put = client.put_object_acl().bucket(&space).key(&key);
                let put = match everyone_reads(now.owner(), now.grants(), public) {
                    Some(policy) => put.access_control_policy(policy),
                    None => put.acl(canned),
                };
                put.send().await.map_err(|e| map_error(e, ctx))?;
                // Read back: the permission said is the server's.
                match acl(&client, &endpoint, &space, &key).await? {
                    now if now == want => Ok(()),
                    _ => Err(Error::Server {
                        code: "AclNotApplied".into(),
                        message: "the server kept another permission".into(),
                    }),
                }
            };
            let failed = set.await.err().map(|e| e.to_string());
            (key, failed)
        });
    }
    let mut failed = Vec::new();
    while let Some(Ok((key, err))) = tasks.join_next().await {
        if let Some(err) = err {
            failed.push((key, err));
        }
    }
    failed.sort();
    failed
}

/// The lifetimes Quick Share offers, in seconds: 1 h, 6 h, 1 d, 3 d, 7 d (the SigV4 maximum).
pub const SHARE_LIFETIMES: [u64; 5] = [3600, 6 * 3600, 86_400, 3 * 86_400, 7 * 86_400];

/// A link that lets anyone download the file until it expires.
pub async fn share_link(
    client: &aws_sdk_s3::Client,
    space: &str,
    key: &str,
    seconds: u64,
) -> Result<String> {
    if seconds == 0 || seconds > 7 * 86_400 {
        return Err(Error::InvalidInput(
            "A share link lasts from 1 second to 7 days.".into(),
        ));
    }
    let config = PresigningConfig::expires_in(Duration::from_secs(seconds))
        .map_err(|e| Error::InvalidInput(format!("That link lifetime is not possible: {e}")))?;
    let request = client
        .get_object()
        .bucket(space)
        .key(key)
        .presigned(config)
        .await
        .map_err(|e| Error::InvalidInput(format!("The link could not be signed: {e}")))?;
    Ok(request.uri().to_string())
}

/// Replaces a file's metadata by copying it onto itself, keeping its permission and what the
/// form doesn't show (its language, expiry, redirect and storage class). Only the version shown
/// (`etag`) is changed: one written since is left as it is.
pub async fn set_metadata(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
    metadata: &Metadata,
    etag: Option<&str>,
) -> Result<FileDetails> {
    for (name, _) in &metadata.custom {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::InvalidInput(format!(
                "“{name}” can't be a metadata name: use letters, digits, - and _."
            )));
        }
    }
    // The copy replaces the object, and with it its permission: the exact grants go with it.
    let grants = grants(client, endpoint, space, key).await?;
    let ctx = Context::space(endpoint, space);
    let head = (client.head_object().bucket(space).key(key).send().await)
        .map_err(|e| map_error(e, ctx))?;
    let clean = |v: &Option<String>| {
        v.as_ref()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let source = format!("{space}/{}", super::urls::encode_key(key));
    let mut copy = client
        .copy_object()
        .bucket(space)
        .key(key)
        .copy_source(source)
        .metadata_directive(MetadataDirective::Replace)
        .set_content_type(clean(&metadata.content_type))
        .set_cache_control(clean(&metadata.cache_control))
        .set_content_disposition(clean(&metadata.content_disposition))
        .set_content_encoding(clean(&metadata.content_encoding))
        .set_content_language(head.content_language().map(str::to_string))
        .set_website_redirect_location(head.website_redirect_location().map(str::to_string))
        .set_storage_class(head.storage_class().cloned())
        .set_copy_source_if_match(etag.map(|e| format!("\"{}\"", e.trim_matches('"'))));
    copy = grants.on_copy(copy);
    for (name, value) in &metadata.custom {
        copy = copy.metadata(name.to_lowercase(), value);
    }
    // A copy onto itself of up to 5 GiB, on the server. RGW reads the condition from its own
    // header too.
    let shown = etag.map(|e| format!("\"{}\"", e.trim_matches('"')));
    // As the server wrote it (the SDK would rewrite a date it can't read, or drop it).
    let expires = head.expires_string().map(str::to_string);
    copy.customize()
        .config_override(crate::s3::moving_bytes())
        .mutate_request(move |r| {
            if let Some(e) = &shown {
                r.headers_mut().insert("x-amz-copy-if-match", e.clone());
            }
            if let Some(e) = &expires {
                r.headers_mut().insert("expires", e.clone());
            }
        })
        .send()
        .await
        .map_err(|e| match map_error(e, ctx) {
            Error::Server {
                code: S3Code::PreconditionFailed,
                ..
            } => Error::FileChanged(format!(
                "“{key}” changed after its details were shown, so its metadata was not changed. Look at it again."
            )),
            other => other,
        })?;
    details(client, endpoint, space, key).await
}

/// What a delete did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DeleteSummary {
    pub deleted: u64,
    /// Files left as they are, with why (changed since they were shown).
    pub kept: Vec<spacedock_common::Problem>,
    /// Stopped before the end: what was deleted stays deleted, the rest stays.
    pub stopped: bool,
}

/// A file a delete request left where it was, with the server's code and why.
#[derive(Debug, Clone)]
pub struct Refused {
    pub key: String,
    pub code: S3Code,
    pub message: String,
}

/// Deletes up to 1,000 objects (or object versions) in one request; returns those the server
/// refused, each with why (the others are gone).
pub async fn delete_each(
    client: &aws_sdk_s3::Client,
    space: &str,
    c: Context<'_>,
    objects: Vec<ObjectIdentifier>,
) -> Result<Vec<Refused>> {
    let delete = Delete::builder()
        .set_objects(Some(objects))
        .quiet(true)
        .build()
        .map_err(|e| Error::InvalidInput(e.to_string()))?;
    let out = client
        .delete_objects()
        .bucket(space)
        .delete(delete)
        .send()
        .await
        .map_err(|e| map_error(e, c))?;
    Ok((out.errors().iter())
        .map(|e| Refused {
            key: e.key().unwrap_or_default().to_string(),
            code: e.code().unwrap_or("DeleteFailed").into(),
            message: e.message().unwrap_or_default().to_string(),
        })
        .collect())
}

/// Deletes up to 1,000 objects (or object versions) in one request; any refusal is an error.
pub async fn delete_batch(
    client: &aws_sdk_s3::Client,
    space: &str,
    c: Context<'_>,
    objects: Vec<ObjectIdentifier>,
) -> Result<()> {
    match delete_each(client, space, c, objects)
        .await?
        .into_iter()
        .next()
    {
        Some(first) => Err(Error::Server {
            code: first.code,
            message: format!("could not delete “{}”: {}", first.key, first.message),
        }),
        None => Ok(()),
    }
}
