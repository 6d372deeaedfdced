//! Destroying a Space: only with the name typed to confirm, and only with its files when asked.

use tokio_util::sync::CancellationToken;

use aws_sdk_s3::types::ObjectIdentifier;
use serde::Serialize;
use ts_rs::TS;

use super::error::{Error, Result};
use super::s3::{map_error, Context};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum DestroyPhase {
    DeletingFiles,
    AbortingUploads,
    DeletingSpace,
    Done,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DestroyProgress {
    pub phase: DestroyPhase,
    /// Files (and file versions) deleted so far.
    pub deleted: u64,
}

/// True when the Space holds no file, no old version and no delete marker.
pub async fn is_empty(client: &aws_sdk_s3::Client, endpoint: &str, name: &str) -> Result<bool> {
    let out = client
        .list_object_versions()
        .bucket(name)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| map_error(e, Context::space(endpoint, name)))?;
    Ok(out.versions().is_empty() && out.delete_markers().is_empty())
}

/// Destroys the Space `name`. `typed` must equal the name: nothing is deleted otherwise. A Space
/// with files is destroyed only if `delete_files`; they are deleted in batches of 1,000, with
/// progress, until `cancel` is set (what was deleted stays deleted; the Space stays).
pub async fn destroy(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    name: &str,
    typed: &str,
    delete_files: bool,
    cancel: &CancellationToken,
    mut progress: impl FnMut(DestroyProgress),
) -> Result<u64> {
    if typed != name {
        return Err(Error::InvalidInput(format!(
            "Type the Space's name, “{name}”, exactly to confirm. Nothing was deleted."
        )));
    }
    let ctx = Context::space(endpoint, name);
    if !delete_files && !is_empty(client, endpoint, name).await? {
        return Err(Error::SpaceNotEmpty(name.to_string()));
    }
    let mut deleted = 0u64;
    // Every file (and version) deleted so far: one listed again means the deletion had no effect
    // (or the server lists in a circle), and the destruction stops rather than go on for ever.
    let mut gone: std::collections::HashSet<(String, Option<String>)> = Default::default();
    if delete_files {
        // Versions and delete markers too: a versioned Space is not empty until they are gone.
        loop {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled(format!(
                    "{deleted} files were deleted; the Space “{name}” and its other files remain."
                )));
            }
            let page = client
                .list_object_versions()
                .bucket(name)
                .max_keys(1000)
                .send()
                .await
                .map_err(|e| map_error(e, ctx))?;
            let mut ids = Vec::new();
            for v in page.versions() {
                ids.push((
                    v.key().unwrap_or_default().to_string(),
                    v.version_id().map(str::to_string),
                ));
            }
            for m in page.delete_markers() {
                ids.push((
                    m.key().unwrap_or_default().to_string(),
                    m.version_id().map(str::to_string),
                ));
            }
            if ids.is_empty() {
                // "More" with nothing shown can't be taken for the end: the Space stays.
                if page.is_truncated() == Some(true) {
                    return Err(Error::BadAnswer(format!(
                        "it listed nothing in “{name}” yet said there was more; nothing more was deleted"
                    )));
                }
                break;
            }
            // Each round must delete what it listed; a file listed again means it did not.
            if ids.iter().any(|id| gone.contains(id)) {
                return Err(Error::BadAnswer(format!(
                    "the server accepted the deletion of files in “{name}” but lists them again; the Space and what is left in it remain"
                )));
            }
            let objects = ids
                .iter()
                .map(|(key, version)| {
                    ObjectIdentifier::builder()
                        .key(key)
                        // "null" is the id of a version written while versioning was off or
                        // suspended: sent as it is, it deletes that version for good; left
                        // out, the delete only adds another delete marker.
                        .set_version_id(version.clone())
                        .build()
                        .map_err(|e| Error::InvalidInput(e.to_string()))
                })
                .collect::<Result<Vec<_>>>()?;
            let batch = objects.len() as u64;
            super::objects::delete_batch(client, name, ctx, objects).await?;
            deleted += batch;
            gone.extend(ids);
            progress(DestroyProgress {
                phase: DestroyPhase::DeletingFiles,
                deleted,
            });
        }
        progress(DestroyProgress {
            phase: DestroyPhase::AbortingUploads,
            deleted,
        });
        let uploads = client
            .list_multipart_uploads()
            .bucket(name)
            .send()
            .await
            .map_err(|e| map_error(e, ctx))?;
        for upload in uploads.uploads() {
            client
                .abort_multipart_upload()
                .bucket(name)
                .key(upload.key().unwrap_or_default())
                .upload_id(upload.upload_id().unwrap_or_default())
                .send()
                .await
                .map_err(|e| map_error(e, ctx))?;
        }
    }
    progress(DestroyProgress {
        phase: DestroyPhase::DeletingSpace,
        deleted,
    });
    client
        .delete_bucket()
        .bucket(name)
        .send()
        .await
        .map_err(|e| match crate::s3::code_of(&e) {
            Some(crate::error::S3Code::BucketNotEmpty) => Error::SpaceNotEmpty(name.to_string()),
            _ => map_error(e, ctx),
        })?;
    progress(DestroyProgress {
        phase: DestroyPhase::Done,
        deleted,
    });
    Ok(deleted)
}
