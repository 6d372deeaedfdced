//! Versions and undelete: a Space's versioning (on, or suspended), a file's versions, putting an
//! old version back, deleting one version for good, and the files whose latest version is a
//! delete marker, brought back by removing the marker.

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Result};
use std::sync::Arc;

use crate::s3::{map_error, Context};
use crate::transfer::queue::{Queue, RestoredVersion};
use crate::transfer::Conflict;
use crate::{CancellationToken, SpaceRef};

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

/// Newest first, by the time itself (its text sorts “…18.5Z” before “…18Z”); the current one
/// leads a tie, and a tie otherwise keeps the server's order (newest first).
fn newest_first(mut all: Vec<(Option<(i64, u32)>, FileVersion)>) -> Vec<FileVersion> {
    all.sort_by(|(at, a), (bt, b)| (b.current, bt).cmp(&(a.current, at)));
    all.into_iter().map(|(_, v)| v).collect()
}

/// A time that sorts as time: seconds, then nanoseconds.
fn when(d: Option<&aws_smithy_types::DateTime>) -> Option<(i64, u32)> {
    d.map(|d| (d.secs(), d.subsec_nanos()))
}

fn date(d: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    d.and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
}

/// Whether a version of `at` is newer than the one kept (`kept`, if any); a tie keeps the one
/// seen first, as the server lists a file's versions newest first.
fn newer_than(at: Option<(i64, u32)>, kept: Option<Option<(i64, u32)>>) -> bool {
    kept.is_none_or(|kept| at > kept)
}

/// Versions of one file held at most: more is refused, not kept in memory without bound.
const MOST_VERSIONS: usize = 100_000;

/// A file's versions and delete markers, newest first. They are listed by the file's key as a
/// prefix, so longer keys (“a.txt.bak”, or a folder “logs/” beside a file “logs”) come too; S3
/// lists in key order, so the listing stops at the first key past this one, however many
/// follow.
pub async fn file_versions(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
) -> Result<Vec<FileVersion>> {
    let ctx = Context::space(endpoint, space);
    let mut all = Vec::new();
    let mut past = false;
    let mut too_many = false;
    let listed = crate::listing::each_version_page(client, ctx, space, key, None, |page| {
        // Only this one counts: the prefix also matches longer keys.
        for v in page.versions() {
            match v.key() {
                Some(k) if k == key => all.push((
                    when(v.last_modified()),
                    FileVersion {
                        version_id: v.version_id().unwrap_or("null").to_string(),
                        modified: date(v.last_modified()),
                        size: v.size().unwrap_or(0).max(0) as u64,
                        etag: v.e_tag().map(str::to_string),
                        current: v.is_latest().unwrap_or(false),
                        deleted: false,
                    },
                )),
                Some(_) => past = true,
                None => {}
            }
        }
        for m in page.delete_markers() {
            match m.key() {
                Some(k) if k == key => all.push((
                    when(m.last_modified()),
                    FileVersion {
                        version_id: m.version_id().unwrap_or("null").to_string(),
                        modified: date(m.last_modified()),
                        size: 0,
                        etag: None,
                        current: m.is_latest().unwrap_or(false),
                        deleted: true,
                    },
                )),
                Some(_) => past = true,
                None => {}
            }
        }
        too_many = all.len() > MOST_VERSIONS;
        !past && !too_many
    });
    listed.await?;
    if too_many {
        return Err(Error::InvalidInput(format!(
            "“{key}” has more than {MOST_VERSIONS} versions, more than this app shows. Remove old ones with a lifecycle rule."
        )));
    }
    Ok(newest_first(all))
}

const NOT_RESTORED: &str = "the version was not restored";

/// What a restore did with the version it replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Replaced {
    /// Kept as a version of its own (versioning is on).
    Kept,
    /// Replaced for good, as the user agreed (versioning is suspended).
    ForGood,
    /// Nothing was there to replace (the file read as deleted).
    Nothing,
}

/// Puts an old version back: a job of the transfer queue (`queue`), which copies it on the
/// server over the file, replacing only what the file holds when the restore is planned (one
/// that changes before the copy is not replaced), in parts if it is big, journaled and shown
/// on the Transfers panel like any copy. With versioning on, the one it replaces becomes a
/// version of its own. With versioning suspended the copy is the file's “null” version, which
/// replaces the one there for good: that is done only when `for_good` names that version's ETag
/// (the user was asked), and only if it is still that version. The file keeps the permission it
/// has now (or, if it reads as deleted, the one that version had). `stop` stops it before the
/// copy, or a copy in parts between parts.
pub async fn restore(
    queue: &Queue,
    (at, connection): (&SpaceRef, &str),
    key: &str,
    version_id: &str,
    for_good: Option<&str>,
    stop: CancellationToken,
) -> Result<Replaced> {
    let (client, endpoint, space) = (&at.client, at.endpoint.as_str(), at.name.as_str());
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
    // Without versioning on, the copy is written as the “null” version: one there now (current
    // or not) is replaced for good.
    let on = versioning(client, endpoint, space).await? == Versioning::Enabled;
    let lost = (!on)
        .then(|| {
            versions
                .iter()
                .find(|v| v.version_id == "null" && !v.deleted)
        })
        .flatten()
        .filter(|v| v.version_id != version_id);
    if let Some(lost) = lost {
        let etag = lost.etag.clone().unwrap_or_default();
        if for_good != Some(etag.as_str()) {
            let which = match lost.current {
                true => "the current version",
                false => "the version written while versioning was off or suspended",
            };
            return Err(Error::ReplacesForGood(format!(
                "Versioning is suspended in this Space, so restoring this version replaces {which} of “{key}” for good: it is not kept. Restore anyway?"
            )));
        }
    }
    let version = RestoredVersion {
        id: version_id.to_string(),
        etag: chosen.etag.clone().unwrap_or_default(),
        size: chosen.size,
    };
    let live_etag = live.and_then(|v| v.etag.as_deref());
    let planned = queue
        .plan_restore(at, connection, key, version, live_etag)
        .await?;
    // Right before the copy: the Space is still as it was when the user chose (versioning not
    // switched off meanwhile, and the null version the user agreed to replace still that one);
    // and the user has not stopped it.
    let checked = async {
        let on_now = versioning(client, endpoint, space).await? == Versioning::Enabled;
        if on && !on_now {
            return Err(Error::FileChanged(format!(
                "Versioning was suspended while “{key}” was being restored, so nothing was restored: the version there would have been replaced for good. Look at its versions again."
            )));
        }
        if let Some(lost) = lost {
            let now = file_versions(client, endpoint, space, key).await?;
            let same = now.iter().find(|v| v.version_id == "null" && !v.deleted);
            if same.map(|v| &v.etag) != Some(&lost.etag) {
                return Err(Error::FileChanged(format!(
                    "“{key}” changed since you agreed to replace it, so nothing was restored. Look at its versions again."
                )));
            }
        }
        if stop.is_cancelled() {
            return Err(Error::Cancelled(
                "The restore was stopped; nothing was put back.".into(),
            ));
        }
        Ok(())
    };
    if let Err(e) = checked.await {
        queue.forget_copy(planned.batch);
        return Err(e);
    }
    let batch = planned.batch;
    let stopping = async {
        stop.cancelled().await;
        queue.cancel_copy(batch, None);
        std::future::pending::<()>().await;
    };
    let running = queue.run_copy(batch, Conflict::Overwrite, None, Arc::new(|_| {}));
    let summary = tokio::select! {
        biased;
        summary = running => summary?,
        _ = stopping => unreachable!("it waits for ever"),
    };
    if summary.done == 1 {
        return Ok(match (lost, live) {
            (Some(_), _) => Replaced::ForGood,
            (None, Some(_)) => Replaced::Kept,
            (None, None) => Replaced::Nothing,
        });
    }
    if summary.cancelled > 0 {
        return Err(Error::Cancelled(
            "The restore was stopped; nothing was put back.".into(),
        ));
    }
    let why =
        (summary.problems.first()).map_or_else(|| NOT_RESTORED.to_string(), |p| p.message.clone());
    Err(Error::FileChanged(why))
}

/// A file's versions after a restore, and what became of the version it replaced.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Restored {
    pub versions: Vec<FileVersion>,
    pub replaced: Replaced,
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
    let mut sizes: std::collections::HashMap<String, (Option<(i64, u32)>, u64)> =
        Default::default();
    let ctx = Context::space(endpoint, space);
    let listing = crate::listing::each_version_page;
    listing(client, ctx, space, prefix, Some("/"), |page| {
        for m in page.delete_markers() {
            if let (Some(k), Some(true)) = (m.key(), m.is_latest()) {
                markers.insert(k.to_string(), date(m.last_modified()));
            }
        }
        for v in page.versions() {
            let Some(k) = v.key() else { continue };
            let (modified, size) = (when(v.last_modified()), v.size().unwrap_or(0).max(0) as u64);
            // The newest version under the marker is the one whose size is told.
            if newer_than(modified, sizes.get(k).map(|(m, _)| *m)) {
                sizes.insert(k.to_string(), (modified, size));
            }
        }
        true
    })
    .await?;
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

/// The same calls on the active connection, each with the key remembered for the Space.
pub mod service {
    use super::{DeletedFile, FileVersion, Restored, Versioning};
    use crate::error::Result;
    use crate::files::target;
    use crate::services::Services;

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
            .log()
            .write(format!("versioning of “{space}” is now {now:?}"));
        Ok(now)
    }

    /// A file's versions; `request` lets the window stop it.
    pub async fn file_versions(
        services: &Services,
        space: &str,
        region: Option<String>,
        key: &str,
        request: Option<u32>,
    ) -> Result<Vec<FileVersion>> {
        let t = target(services, space, region).await?;
        let listed = super::file_versions(&t.client, &t.endpoint, space, key);
        services.requests().run(request, listed).await
    }

    /// Puts an old version back; `for_good`: the ETag of the version the user agreed to
    /// replace for good (versioning suspended). `request` lets the window stop waiting: the
    /// copy is one request, which the server may still finish.
    pub async fn restore(
        services: &Services,
        space: &str,
        region: Option<String>,
        key: &str,
        version_id: &str,
        for_good: Option<&str>,
        request: Option<u32>,
    ) -> Result<Restored> {
        let (at, connection) = crate::files::space_ref(services, space, region).await?;
        let replaced = services
            .requests()
            .run_stoppable(request, |stop| {
                let at = (&at, connection.as_str());
                super::restore(services.queue(), at, key, version_id, for_good, stop)
            })
            .await?;
        services.log().write(format!(
            "restored a version of “{key}” in “{space}” over the current one ({replaced:?})"
        ));
        let versions = super::file_versions(&at.client, &at.endpoint, space, key).await?;
        Ok(Restored { versions, replaced })
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
        services.log().write(format!(
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
            .log()
            .write(format!("undeleted {back} files in “{space}”"));
        Ok(back)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::DateTime;

    #[test]
    fn the_size_of_a_deleted_file_is_its_newest_versions_within_one_second_too() {
        let whole = DateTime::from_secs_and_nanos(1_800_000_000, 0);
        let half = DateTime::from_secs_and_nanos(1_800_000_000, 500_000_000);
        // Listed newest first: the one at .5 s is kept against the one at .0 s after it.
        assert!(newer_than(when(Some(&half)), None));
        assert!(!newer_than(when(Some(&whole)), Some(when(Some(&half)))));
        assert!(newer_than(when(Some(&half)), Some(when(Some(&whole)))));
        // A tie keeps the first seen.
        assert!(!newer_than(when(Some(&half)), Some(when(Some(&half)))));
    }

    #[test]
    fn versions_within_one_second_are_ordered_by_time_not_by_its_text() {
        let version = |id: &str, at: &DateTime, current| {
            (
                when(Some(at)),
                FileVersion {
                    version_id: id.into(),
                    modified: date(Some(at)),
                    size: 1,
                    etag: None,
                    current,
                    deleted: false,
                },
            )
        };
        let whole = DateTime::from_secs_and_nanos(1_800_000_000, 0);
        let half = DateTime::from_secs_and_nanos(1_800_000_000, 500_000_000);
        let later = DateTime::from_secs_and_nanos(1_800_000_000, 900_000_000);
        // Their text: "…00Z" and "…00.5Z", which sort the other way round.
        assert!(date(Some(&half)) < date(Some(&whole)));
        let listed = vec![
            version("oldest", &whole, false),
            version("middle", &half, false),
            version("newest", &later, true),
        ];
        let ids: Vec<String> = newest_first(listed)
            .into_iter()
            .map(|v| v.version_id)
            .collect();
        assert_eq!(ids, ["newest", "middle", "oldest"]);
    }
}
