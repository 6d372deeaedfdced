//! A Space's unfinished uploads: multipart uploads begun and never completed or aborted, by any
//! client. Their parts are stored, and billed, until they are aborted (or a lifecycle rule
//! removes them), yet no file listing shows them. Listed with their age and size; aborted one
//! by one or all at once.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Result, S3Code};
use crate::files;
use crate::s3::{map_error, Context};
use crate::services::Services;
use crate::transfer::resume::unchanged_since;
use crate::transfer::unfinished::abort_one;
use crate::transfer::Problem;

/// Parts are counted for this many uploads at most: each needs a request of its own.
const SIZED_AT_MOST: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct UnfinishedUpload {
    pub key: String,
    pub upload_id: String,
    /// RFC 3339, when the server says.
    pub started: Option<String>,
    /// Parts stored so far, and their bytes (None when not counted: past the first 200).
    pub parts: Option<u32>,
    pub bytes: Option<u64>,
    /// Begun by this app (noted in its record), rather than by another client.
    pub by_this_app: bool,
    /// This app can resume it: it knows the file, and the file is as it was.
    pub resumable: bool,
}

/// What aborting a set of unfinished uploads did.
#[derive(Debug, Clone, Default, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct AbortSummary {
    pub aborted: u32,
    /// Uploads that could not be aborted, with why (by key).
    pub problems: Vec<Problem>,
}

pub async fn list(
    services: &Services,
    space: &str,
    region: Option<String>,
) -> Result<Vec<UnfinishedUpload>> {
    let t = files::target(services, space, region).await?;
    let ctx = Context::space(&t.endpoint, space);
    let ours: Vec<(String, bool)> = services
        .queue()
        .unfinished()
        .list()
        .into_iter()
        .map(|u| {
            let resumable = u.source.is_some_and(|s| unchanged_since(&s).is_ok());
            (u.upload_id, resumable)
        })
        .collect();
    let mut found = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    let mut seen = std::collections::HashSet::new();
    let mut order = crate::listing::InOrder::default();
    loop {
        let page = t
            .client
            .list_multipart_uploads()
            .bucket(space)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .map_err(|e| map_error(e, ctx))?;
        order.page(page.uploads().iter().filter_map(|u| u.key()))?;
        for upload in page.uploads() {
            let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else {
                continue;
            };
            found.push(UnfinishedUpload {
                key: key.to_string(),
                upload_id: id.to_string(),
                started: (upload.initiated())
                    .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
                parts: None,
                bytes: None,
                by_this_app: ours.iter().any(|(o, _)| o == id),
                resumable: ours.iter().any(|(o, resumable)| o == id && *resumable),
            });
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        // A server that hands back a place it gave before would have the app ask for ever.
        let next = page.next_key_marker().map(|k| {
            (
                k.to_string(),
                page.next_upload_id_marker().map(str::to_string),
            )
        });
        let next = crate::listing::next_place(next, &mut seen, "place to go on from")?;
        let next = (Some(next.0), next.1);
        (key_marker, id_marker) = next;
    }
    // An upload that completes or is aborted while its parts are counted is simply gone: the
    // others are still listed (never the whole list lost to one that finished).
    let mut gone = std::collections::HashSet::new();
    for upload in found.iter_mut().take(SIZED_AT_MOST) {
        match stored_parts(&t.client, ctx, space, upload).await {
            Ok((parts, bytes)) => (upload.parts, upload.bytes) = (Some(parts), Some(bytes)),
            Err(Error::Server {
                code: S3Code::NoSuchUpload,
                ..
            }) => {
                gone.insert(upload.upload_id.clone());
            }
            Err(e) => return Err(e),
        }
    }
    found.retain(|u| !gone.contains(&u.upload_id));
    Ok(found)
}

/// How many parts an upload has stored, and their bytes.
async fn stored_parts(
    client: &aws_sdk_s3::Client,
    ctx: Context<'_>,
    space: &str,
    upload: &UnfinishedUpload,
) -> Result<(u32, u64)> {
    let (mut parts, mut bytes, mut marker) = (0u32, 0u64, None::<String>);
    let mut last = None;
    loop {
        let page = client
            .list_parts()
            .bucket(space)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .set_part_number_marker(marker.clone())
            .send()
            .await
            .map_err(|e| map_error(e, ctx))?;
        for part in page.parts() {
            parts += 1;
            bytes += part.size().unwrap_or(0).max(0) as u64;
        }
        if page.is_truncated() != Some(true) {
            return Ok((parts, bytes));
        }
        let next = crate::listing::next_part(page.next_part_number_marker(), last)?;
        (last, marker) = (Some(next), Some(next.to_string()));
    }
}

/// Aborts each upload (key, upload id). One that is already gone counts as aborted.
pub async fn abort(
    services: &Services,
    space: &str,
    region: Option<String>,
    uploads: &[(String, String)],
) -> Result<AbortSummary> {
    let t = files::target(services, space, region).await?;
    let ctx = Context::space(&t.endpoint, space);
    let mut summary = AbortSummary::default();
    for (key, id) in uploads {
        match abort_one(&t.client, space, key, id).await {
            Ok(()) => {
                summary.aborted += 1;
                services.queue().unfinished().remove(id);
            }
            Err(e) => summary.problems.push(Problem {
                path: key.clone(),
                message: format!("Not aborted: {}", map_error(e, ctx)),
            }),
        }
    }
    services.log().write(format!(
        "aborted {} unfinished uploads in “{space}” ({} could not be)",
        summary.aborted,
        summary.problems.len()
    ));
    Ok(summary)
}
