//! Resuming what a quit or a crash interrupted, with only what is missing.
//!
//! An upload resumes from the parts the server lists (ListParts), if the file is as it was when
//! the upload began. A download resumes with the ranges its partial file lacks, asking for the
//! version it began with; if that version is gone from the server, it starts over.

use std::sync::Arc;
use std::time::SystemTime;

use aws_sdk_s3::types::CompletedPart;
use serde::Serialize;
use ts_rs::TS;

use crate::download::{self, disk_error, Noting};
use crate::error::{Error, Result, S3Code};
use crate::s3::{map_error, Context};
use crate::unfinished::{Noted, PartialDownload, PartialDownloads, UnfinishedUpload, UploadSource};
use crate::upload::{self, Settings, Target};
use crate::Cancel;
use crate::{ranged, PlannedFile, Problem};

/// What a resume did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Resumed {
    /// Bytes already there, not sent (or fetched) again.
    pub kept: u64,
    /// Bytes sent (an upload) or fetched (a download) to finish it.
    pub moved: u64,
    /// Files finished (one, for one file).
    pub files: u32,
    /// Files of a batch that could not be finished, each with why.
    pub problems: Vec<Problem>,
}

/// The file as the upload began with it, or why it can't be resumed.
pub fn unchanged_since(source: &UploadSource) -> Result<(u64, Option<SystemTime>)> {
    let file = PlannedFile {
        path: source.path.clone(),
        key: String::new(),
        size: source.size,
    };
    let now = upload::stamp(&file)?;
    if now.0 != source.size || upload::nanos(now.1) != source.modified {
        return Err(Error::FileChanged(format!(
            "“{}” changed since the upload began, so it can't be resumed; discard it and upload the file again.",
            source.path.display()
        )));
    }
    Ok(now)
}

/// Resumes a noted multipart upload: the parts the server holds (of the right size) are kept,
/// the others are sent, and it completes only if the file is still as it was.
pub async fn resume_upload(
    target: &Target,
    noted: &UnfinishedUpload,
    settings: Settings,
    budget: &Arc<super::adapt::Window>,
    cancel: &Cancel,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Resumed> {
    let source = noted
        .source
        .as_ref()
        .ok_or_else(|| Error::Gone("This upload was noted with no file to resume from.".into()))?;
    let file = PlannedFile {
        path: source.path.clone(),
        key: noted.key.clone(),
        size: source.size,
    };
    let before = unchanged_since(source)?;
    let have = stored_parts(target, noted, source).await?;
    let kept = have.iter().map(|(_, n)| n).sum();
    if let Some(record) = &target.unfinished {
        record.take_up(&noted.upload_id);
    }
    let parts = upload::Parts {
        upload_id: &noted.upload_id,
        part_size: source.part_size,
        have,
        sums: None,
    };
    let sent = upload::upload_parts(target, &file, settings, budget, cancel, progress, parts).await;
    let planned = (&file, &noted.expect);
    upload::finish(target, planned, cancel, &noted.upload_id, before, sent).await?;
    progress(source.size);
    Ok(Resumed {
        kept,
        moved: source.size - kept,
        files: 1,
        problems: Vec::new(),
    })
}

/// The parts the server holds of an upload, each with its size; a part of an unexpected size is
/// left out, and so sent again.
async fn stored_parts(
    target: &Target,
    noted: &UnfinishedUpload,
    source: &UploadSource,
) -> Result<Vec<(CompletedPart, u64)>> {
    let ctx = Context::space(&target.endpoint, &target.space);
    let mut have = Vec::new();
    let mut marker: Option<String> = None;
    let mut last = None;
    loop {
        let asked = target
            .client
            .list_parts()
            .bucket(&target.space)
            .key(&noted.key)
            .upload_id(&noted.upload_id)
            .set_part_number_marker(marker.take());
        let page = asked.send().await.map_err(|e| match map_error(e, ctx) {
            Error::Server {
                code: S3Code::NoSuchUpload,
                ..
            } => Error::Gone(
                "The Space no longer holds this upload's parts (it was aborted or expired); discard it and upload the file again.".into(),
            ),
            other => other,
        })?;
        for p in page.parts() {
            let (Some(n), Some(size), Some(etag)) = (p.part_number(), p.size(), p.e_tag()) else {
                continue;
            };
            let offset = (n.max(1) as u64 - 1) * source.part_size;
            let expected = source.part_size.min(source.size.saturating_sub(offset));
            if n >= 1 && expected > 0 && size as u64 == expected {
                let part = CompletedPart::builder().part_number(n).e_tag(etag).build();
                have.push((part, expected));
            }
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        let next = crate::listing::next_part(page.next_part_number_marker(), last)?;
        (last, marker) = (Some(next), Some(next.to_string()));
    }
    Ok(have)
}

/// Resumes a noted download with the ranges it lacks. If the object was replaced since (or the
/// partial file is gone), it is downloaded again whole. A failure keeps it noted, to try again.
pub async fn resume_download(
    from: &Target,
    noted: &PartialDownload,
    record: &PartialDownloads,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Resumed> {
    let id = noted.id();
    let whole = std::fs::metadata(&noted.partial).is_ok_and(|m| m.len() == noted.size);
    record.take_up(&id);
    let fetched = match whole {
        true => ranged::resume_into(from, noted, record, progress).await,
        false => Err(Error::FileChanged("the partial file is gone".into())),
    };
    match fetched {
        Ok(moved) => match put_in_place(noted).await {
            Ok(()) => {
                record.remove(&id);
                Ok(Resumed {
                    kept: noted.size - moved,
                    moved,
                    files: 1,
                    problems: Vec::new(),
                })
            }
            Err(e) => {
                record.release(&id);
                Err(e)
            }
        },
        Err(Error::FileChanged(_)) => {
            let _ = tokio::fs::remove_file(&noted.partial).await;
            record.remove(&id);
            let noting = Noting {
                record,
                dest: &noted.dest,
                replace: noted.replaces,
            };
            let fetch = download::Fetch {
                key: &noted.key,
                version: noted.version.as_deref(),
            };
            let to = (noted.dest.as_path(), noted.path.as_path());
            let claims = super::local::LocalClaims::default();
            let (moved, _) = download::fetch_to(
                from,
                fetch,
                to,
                noted.replaces,
                &claims,
                progress,
                Some(&noting),
                None,
            )
            .await?;
            Ok(Resumed {
                kept: 0,
                moved,
                files: 1,
                problems: Vec::new(),
            })
        }
        Err(e) => {
            record.release(&id);
            Err(e)
        }
    }
}

/// Puts the finished file in its place: over the file the user chose to replace, if that is
/// still what is there, or else where nothing is (beside a file that came there since).
async fn put_in_place(noted: &PartialDownload) -> Result<()> {
    let parent = noted.path.parent().unwrap_or(&noted.dest);
    download::inside(parent, &noted.dest).await?;
    let (partial, path, replace) = (noted.partial.clone(), noted.path.clone(), noted.replaces);
    let claims = super::local::LocalClaims::default();
    tokio::task::spawn_blocking(move || super::local::place(&partial, &path, replace, &claims))
        .await
        .map_err(|e| Error::Internal(format!("putting the file in place stopped: {e}")))?
        .map(|_| ())
        .map_err(|e| disk_error(e, &noted.path))
}
