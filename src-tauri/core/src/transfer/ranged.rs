//! One object into one local file, fast: the first range says how big it is and which version
//! it is; the other ranges follow in parallel, each asking for that same version, each written at
//! its own place in a file sized up front.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;

use super::download::disk_error;
use crate::error::{Error, Result};
use crate::s3::{map_error, Context};

/// Ranges of this size go in parallel for one big file.
const PART: u64 = 16 << 20;
/// Ranged GETs in flight for one file: one TCP window each, so a far link needs several.
const PARTS_IN_FLIGHT: usize = 8;

/// Writes the object into `partial`: the first range says how big it is and which version it
/// is; the other ranges follow in parallel, each asking for that same version (`If-Match`), each
/// written at its own place in a file sized up front. Complete and flushed to disk, or an error.
pub(super) async fn fetch_into(
    client: &aws_sdk_s3::Client,
    ctx: Context<'_>,
    space: &str,
    key: &str,
    partial: &Path,
    path: &Path,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64> {
    let get = || client.get_object().bucket(space).key(key);
    let first = match get().range(format!("bytes=0-{}", PART - 1)).send().await {
        Ok(answer) => answer,
        // An empty object has no byte 0 to start a range at: it is fetched whole.
        Err(e) => match map_error(e, ctx) {
            Error::Server { code, .. } if code == "InvalidRange" => {
                get().send().await.map_err(|e| map_error(e, ctx))?
            }
            other => return Err(other),
        },
    };
    // "bytes 0-15/1234": the part after the slash is the whole size (absent for an empty object).
    let size = match first.content_range() {
        Some(range) => range
            .rsplit('/')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| Error::BadAnswer(format!("a Content-Range of “{range}”")))?,
        None => first.content_length().unwrap_or(0).max(0) as u64,
    };
    let etag = first.e_tag().map(str::to_string);
    let file = std::fs::File::create(partial).map_err(|e| disk_error(e, path))?;
    file.set_len(size).map_err(|e| disk_error(e, path))?;
    let file = Arc::new(file);
    let done = AtomicU64::new(0);
    let written = |n: u64| progress(done.fetch_add(n, Ordering::Relaxed) + n);
    let head = write_body(first.body, &file, 0, path, ctx, &written);
    let rest = (1..size.div_ceil(PART)).map(|i| {
        let (file, etag) = (file.clone(), etag.clone());
        let written = &written;
        async move {
            let start = i * PART;
            let end = (start + PART).min(size) - 1;
            let range = get().range(format!("bytes={start}-{end}"));
            let part = match range.set_if_match(etag).send().await {
                Ok(part) => part,
                Err(e) => return Err(changed_on_server(map_error(e, ctx))),
            };
            write_body(part.body, &file, start, path, ctx, written).await
        }
    });
    let mut parts = futures_util::stream::iter(rest).buffer_unordered(PARTS_IN_FLIGHT - 1);
    let rest = async {
        let mut n = 0;
        while let Some(part) = parts.next().await {
            n += part?;
        }
        Ok(n)
    };
    let (first, rest) = futures_util::future::try_join(head, rest).await?;
    let total = first + rest;
    if total != size {
        return Err(Error::BadAnswer(format!(
            "{total} bytes came of an object of {size}"
        )));
    }
    let file = file.clone();
    tokio::task::spawn_blocking(move || file.sync_all())
        .await
        .map_err(|e| Error::Internal(format!("flushing the file stopped: {e}")))?
        .map_err(|e| disk_error(e, path))?;
    Ok(size)
}

/// A range refused because the object is no longer the one the first range came from.
fn changed_on_server(e: Error) -> Error {
    match e {
        Error::Server { code, .. } if code == "PreconditionFailed" => Error::FileChanged(
            "The file was replaced on the server while it downloaded; nothing of it was kept. Download it again.".into(),
        ),
        other => other,
    }
}

/// Bytes gathered before each positioned write: a few system calls per MiB, not one per chunk.
const WRITE_BUFFER: usize = 256 << 10;

/// Streams one answer's body into `file` from `offset` on, with positioned writes (so parts
/// write side by side); returns how many bytes came.
async fn write_body(
    mut body: aws_sdk_s3::primitives::ByteStream,
    file: &Arc<std::fs::File>,
    offset: u64,
    path: &Path,
    ctx: Context<'_>,
    written: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut at = offset;
    let mut buffer: Vec<u8> = Vec::new();
    let flush = |buffer: &mut Vec<u8>, at: &mut u64| -> Result<()> {
        file.write_all_at(buffer, *at)
            .map_err(|e| disk_error(e, path))?;
        *at += buffer.len() as u64;
        written(buffer.len() as u64);
        buffer.clear();
        Ok(())
    };
    while let Some(chunk) = body.try_next().await.map_err(|e| Error::Unreachable {
        endpoint: ctx.endpoint.to_string(),
        reason: e.to_string(),
        source: Some(Box::new(e)),
    })? {
        buffer.extend_from_slice(&chunk);
        // A write of a few hundred KiB goes to the page cache without blocking long.
        if buffer.len() >= WRITE_BUFFER {
            flush(&mut buffer, &mut at)?;
        }
    }
    if !buffer.is_empty() {
        flush(&mut buffer, &mut at)?;
    }
    Ok(at - offset)
}
