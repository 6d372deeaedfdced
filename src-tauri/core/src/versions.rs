//! Versions and undelete: a Space's versioning (on, or suspended), a file's versions, putting an
//! old version back, deleting one version for good, and the files whose latest version is a
//! delete marker, brought back by removing the marker.

use std::path::Path;

use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Result};
use crate::objects::grants_of;
use crate::s3::{map_error, Context};
use crate::transfer::download::disk_error;
use crate::transfer::local::partial_path;

/// A Space's versioning, as the server says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Versioning {
    /// Never switched on: each file has one version.
    Off,
    /// Every change keeps the version before it.
    Enabled,
    /// Switched on once, now off: the old versions stay, new changes replace.
    Suspended,
}

pub async fn versioning(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
) -> Result<Versioning> {
    let out = client
        .get_bucket_versioning()
        .bucket(space)
        .send()
        .await
        .map_err(|e| map_error(e, Context::space(endpoint, space)))?;
    Ok(match out.status() {
        Some(BucketVersioningStatus::Enabled) => Versioning::Enabled,
        Some(BucketVersioningStatus::Suspended) => Versioning::Suspended,
        _ => Versioning::Off,
    })
}

/// Switches versioning on, or suspends it (S3 can't turn it back off), and reads it back.
pub async fn set_versioning(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    enabled: bool,
) -> Result<Versioning> {
    let status = match enabled {
        true => BucketVersioningStatus::Enabled,
        false => BucketVersioningStatus::Suspended,
    };
    client
        .put_bucket_versioning()
        .bucket(space)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .map_err(|e| map_error(e, Context::space(endpoint, space)))?;
    versioning(client, endpoint, space).await
}

/// One version of a file, or a delete marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FileVersion {
    /// "null" for the version made while versioning was off.
    pub version_id: String,
    pub modified: Option<String>,
    pub size: u64,
    pub etag: Option<String>,
    /// The version a plain request gets (for a delete marker: the file reads as deleted).
    pub current: bool,
    /// A delete marker: the file was deleted here; no bytes.
    pub deleted: bool,
}

/// Every page of versions and delete markers under `prefix` (with `delimiter`, not below it).
async fn version_pages(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    prefix: &str,
    delimiter: Option<&str>,
) -> Result<Vec<ListObjectVersionsOutput>> {
    let ctx = Context::space(endpoint, space);
    let mut pages = Vec::new();
    let mut markers: (Option<String>, Option<String>) = (None, None);
    loop {
        let page = client
            .list_object_versions()
            .bucket(space)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_string))
            .set_key_marker(markers.0.clone())
            .set_version_id_marker(markers.1.clone())
            .send()
            .await
            .map_err(|e| map_error(e, ctx))?;
        let next = (
            page.next_key_marker().map(str::to_string),
            page.next_version_id_marker().map(str::to_string),
        );
        let more = page.is_truncated() == Some(true);
        pages.push(page);
        if !more {
            return Ok(pages);
        }
        // A server that hands back the same place again would keep this going for ever.
        if next.0.is_none() || next == markers {
            return Err(Error::BadAnswer(
                "a listing of versions that does not move on".into(),
            ));
        }
        markers = next;
    }
}

fn date(d: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    d.and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
}

/// A file's versions and delete markers, newest first.
pub async fn file_versions(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
) -> Result<Vec<FileVersion>> {
    let mut all = Vec::new();
    for page in version_pages(client, endpoint, space, key, None).await? {
        // The prefix also matches longer keys ("a.txt" and "a.txt.bak"): only this one counts.
        for v in page.versions().iter().filter(|v| v.key() == Some(key)) {
            all.push(FileVersion {
                version_id: v.version_id().unwrap_or("null").to_string(),
                modified: date(v.last_modified()),
                size: v.size().unwrap_or(0).max(0) as u64,
                etag: v.e_tag().map(str::to_string),
                current: v.is_latest().unwrap_or(false),
                deleted: false,
            });
        }
        for m in page
            .delete_markers()
            .iter()
            .filter(|m| m.key() == Some(key))
        {
            all.push(FileVersion {
                version_id: m.version_id().unwrap_or("null").to_string(),
                modified: date(m.last_modified()),
                size: 0,
                etag: None,
                current: m.is_latest().unwrap_or(false),
                deleted: true,
            });
        }
    }
    // Newest first; the current one leads a tie of dates (versions a second apart).
    all.sort_by(|a, b| (b.current, &b.modified).cmp(&(a.current, &a.modified)));
    Ok(all)
}

const NOT_RESTORED: &str = "the version was not restored";

/// Puts an old version back: copies it over the current one, which becomes a version of its
/// own. The file keeps the permission it has now (or, if it reads as deleted, the one that
/// version had).
pub async fn restore(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
    version_id: &str,
) -> Result<()> {
    let ctx = Context::space(endpoint, space);
    let versions = file_versions(client, endpoint, space, key).await?;
    let chosen = versions
        .iter()
        .find(|v| v.version_id == version_id)
        .ok_or_else(|| Error::Gone(format!("That version of “{key}” is no longer there.")))?;
    if chosen.deleted {
        return Err(Error::InvalidInput(
            "A delete marker has no bytes to restore; undelete the file instead.".into(),
        ));
    }
    let live = versions.iter().find(|v| v.current && !v.deleted);
    let grants = match live {
        Some(_) => grants_of(client, endpoint, space, key, None, NOT_RESTORED).await?,
        None => grants_of(client, endpoint, space, key, Some(version_id), NOT_RESTORED).await?,
    };
    let source = format!(
        "{space}/{}?versionId={}",
        crate::urls::encode_key(key),
        crate::urls::encode_key(version_id)
    );
    let copy = client
        .copy_object()
        .bucket(space)
        .key(key)
        .copy_source(source);
    grants
        .on_copy(copy)
        .send()
        .await
        .map_err(|e| map_error(e, ctx))?;
    Ok(())
}

/// Deletes one version (or delete marker) for good; the others stay.
pub async fn delete_version(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
    version_id: &str,
) -> Result<()> {
    client
        .delete_object()
        .bucket(space)
        .key(key)
        .version_id(version_id)
        .send()
        .await
        .map_err(|e| map_error(e, Context::space(endpoint, space)))?;
    Ok(())
}

/// A file of a folder whose latest version is a delete marker: it reads as gone, but its
/// versions are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DeletedFile {
    pub key: String,
    /// When it was deleted.
    pub deleted: Option<String>,
    /// The size of the version before the delete marker.
    pub size: u64,
}

/// The deleted files directly in the folder `prefix` (not in its subfolders), by key.
pub async fn deleted_files(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    prefix: &str,
) -> Result<Vec<DeletedFile>> {
    let mut markers: std::collections::BTreeMap<String, Option<String>> = Default::default();
    let mut sizes: std::collections::HashMap<String, (Option<String>, u64)> = Default::default();
    for page in version_pages(client, endpoint, space, prefix, Some("/")).await? {
        for m in page.delete_markers() {
            if let (Some(k), Some(true)) = (m.key(), m.is_latest()) {
                markers.insert(k.to_string(), date(m.last_modified()));
            }
        }
        for v in page.versions() {
            let Some(k) = v.key() else { continue };
            let (modified, size) = (date(v.last_modified()), v.size().unwrap_or(0).max(0) as u64);
            // The newest version under the marker is the one whose size is told.
            let newer = sizes.get(k).is_none_or(|(m, _)| modified > *m);
            if newer {
                sizes.insert(k.to_string(), (modified, size));
            }
        }
    }
    Ok(markers
        .into_iter()
        .filter(|(k, _)| !k.ends_with('/'))
        .map(|(key, deleted)| DeletedFile {
            size: sizes.get(&key).map_or(0, |(_, s)| *s),
            key,
            deleted,
        })
        .collect())
}

/// Brings a deleted file back: removes the delete markers on top of it, so the version before
/// them is current again. Returns how many markers went.
pub async fn undelete(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
) -> Result<u32> {
    let mut removed = 0;
    loop {
        let versions = file_versions(client, endpoint, space, key).await?;
        match versions.iter().find(|v| v.current) {
            Some(top) if top.deleted => {
                delete_version(client, endpoint, space, key, &top.version_id).await?;
                removed += 1;
            }
            Some(_) => return Ok(removed),
            None => {
                return Err(Error::Gone(format!(
                    "“{key}” has no version left to bring back."
                )))
            }
        }
        if removed > 100 {
            return Err(Error::BadAnswer(format!(
                "the server still lists a delete marker on “{key}” after 100 were removed"
            )));
        }
    }
}

/// Saves one version of a file to `path`, through a temporary file renamed into place when
/// complete and on disk. Returns its size.
pub async fn download_version(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
    version_id: &str,
    path: &Path,
) -> Result<u64> {
    use tokio::io::AsyncWriteExt;
    let ctx = Context::space(endpoint, space);
    let mut body = client
        .get_object()
        .bucket(space)
        .key(key)
        .version_id(version_id)
        .send()
        .await
        .map_err(|e| map_error(e, ctx))?
        .body;
    let partial = partial_path(path);
    let written = async {
        let mut file = tokio::fs::File::create(&partial)
            .await
            .map_err(|e| disk_error(e, path))?;
        let mut n = 0u64;
        while let Some(chunk) = body.try_next().await.map_err(|e| Error::Unreachable {
            endpoint: endpoint.to_string(),
            reason: e.to_string(),
            source: Some(Box::new(e)),
        })? {
            file.write_all(&chunk)
                .await
                .map_err(|e| disk_error(e, path))?;
            n += chunk.len() as u64;
        }
        file.sync_all().await.map_err(|e| disk_error(e, path))?;
        tokio::fs::rename(&partial, path)
            .await
            .map_err(|e| disk_error(e, path))?;
        Ok(n)
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    written
}

/// The same calls on the active connection, each with the key remembered for the Space.
pub mod service {
    use std::path::{Path, PathBuf};

    use super::{DeletedFile, FileVersion, Versioning};
    use crate::error::{Error, Result};
    use crate::files::target;
    use crate::services::Services;
    use crate::transfer::local::{keep_both_path, path_inside};

    pub async fn versioning(
        services: &Services,
        space: &str,
        region: Option<String>,
    ) -> Result<Versioning> {
        let t = target(services, space, region).await?;
        super::versioning(&t.client, &t.endpoint, space).await
    }

    pub async fn set_versioning(
        services: &Services,
        space: &str,
        region: Option<String>,
        enabled: bool,
    ) -> Result<Versioning> {
        let t = target(services, space, region).await?;
        let now = super::set_versioning(&t.client, &t.endpoint, space, enabled).await?;
        services
            .journal
            .write(format!("versioning of “{space}” is now {now:?}"));
        Ok(now)
    }

    pub async fn file_versions(
        services: &Services,
        space: &str,
        region: Option<String>,
        key: &str,
    ) -> Result<Vec<FileVersion>> {
        let t = target(services, space, region).await?;
        super::file_versions(&t.client, &t.endpoint, space, key).await
    }

    pub async fn restore(
        services: &Services,
        space: &str,
        region: Option<String>,
        key: &str,
        version_id: &str,
    ) -> Result<Vec<FileVersion>> {
        let t = target(services, space, region).await?;
        super::restore(&t.client, &t.endpoint, space, key, version_id).await?;
        services.journal.write(format!(
            "restored a version of “{key}” in “{space}” over the current one"
        ));
        super::file_versions(&t.client, &t.endpoint, space, key).await
    }

    /// Deletes one version for good; the page asks for the file's name to be typed first.
    pub async fn delete_version(
        services: &Services,
        space: &str,
        region: Option<String>,
        key: &str,
        version_id: &str,
    ) -> Result<Vec<FileVersion>> {
        let t = target(services, space, region).await?;
        super::delete_version(&t.client, &t.endpoint, space, key, version_id).await?;
        services.journal.write(format!(
            "deleted a version of “{key}” in “{space}” for good"
        ));
        super::file_versions(&t.client, &t.endpoint, space, key).await
    }

    pub async fn deleted_files(
        services: &Services,
        space: &str,
        region: Option<String>,
        prefix: &str,
    ) -> Result<Vec<DeletedFile>> {
        crate::browse::check_prefix(prefix)?;
        let t = target(services, space, region).await?;
        super::deleted_files(&t.client, &t.endpoint, space, prefix).await
    }

    pub async fn undelete(
        services: &Services,
        space: &str,
        region: Option<String>,
        keys: &[String],
    ) -> Result<u32> {
        let t = target(services, space, region).await?;
        let mut back = 0;
        for key in keys {
            super::undelete(&t.client, &t.endpoint, space, key).await?;
            back += 1;
        }
        services
            .journal
            .write(format!("undeleted {back} files in “{space}”"));
        Ok(back)
    }

    /// Saves one version into `folder` under the file's name, or a numbered name beside a file
    /// already there (nothing on disk is replaced). Returns where it went.
    pub async fn download_version(
        services: &Services,
        space: &str,
        region: Option<String>,
        key: &str,
        version_id: &str,
        folder: &Path,
    ) -> Result<PathBuf> {
        let name = key.rsplit('/').next().unwrap_or(key);
        let path = path_inside(folder, name)
            .map_err(|why| Error::InvalidInput(format!("“{key}” can't be saved: {why}.")))?;
        let path = keep_both_path(&path, |p| p.symlink_metadata().is_ok());
        let t = target(services, space, region).await?;
        super::download_version(&t.client, &t.endpoint, space, key, version_id, &path).await?;
        Ok(path)
    }
}
