//! The upload engine: files stream from disk, big ones in parallel parts, many small ones in
//! parallel, all bounded by one budget of requests in flight. A failed or cancelled upload
//! leaves no object and no multipart upload behind.

use std::sync::Arc;
use std::time::SystemTime;

use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::adapt::{Link, Window};
use super::cancel::Cancel;
use super::pace::Pace;
use super::plan::PlannedFile;
use super::unfinished::{abort_one, Unfinished, UnfinishedUpload, UploadSource};
use super::Expect;
use crate::error::{Error, Result, S3Code};
use crate::integrity;
use crate::s3::{map_error, Context};

pub use spacedock_s3::objects::FileAcl;

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Files this big or bigger go multipart.
    pub multipart_threshold: u64,
    pub part_size: u64,
    /// Requests in flight at once, parts and small files together. Far from the Space each
    /// request waits a round trip: many small files need many in flight to keep the link busy.
    pub requests_in_flight: usize,
    /// Parts of one big file in flight at once (within `requests_in_flight`).
    pub parts_in_flight: usize,
    /// Files uploading at once (within `requests_in_flight`).
    pub files_at_once: usize,
    /// Bytes of small files (read whole before they are sent) held at once.
    pub memory: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // A file below this is read whole before it is sent, so a change made while it
            // uploads is caught before the object exists (16 in flight: at most 128 MiB).
            multipart_threshold: 8 << 20,
            part_size: 32 << 20,
            requests_in_flight: 64,
            parts_in_flight: 16,
            files_at_once: 64,
            memory: 128 << 20,
        }
    }
}

/// What the engine needs to reach a Space.
#[derive(Clone)]
pub struct Target {
    pub client: aws_sdk_s3::Client,
    pub endpoint: String,
    pub space: String,
    /// Where multipart uploads in flight are noted, so that they can be resumed after a crash.
    pub unfinished: Option<Arc<Unfinished>>,
    /// The bandwidth limit of this direction (none by default).
    pub pace: Pace,
    /// What the link showed so far in this direction: it sizes the parts of big files.
    pub link: Link,
}

impl Target {
    /// A Space reached with `client`, with nothing noted and no bandwidth limit.
    pub fn plain(client: &aws_sdk_s3::Client, endpoint: &str, space: &str) -> Target {
        Target {
            client: client.clone(),
            endpoint: endpoint.to_string(),
            space: space.to_string(),
            unfinished: None,
            pace: Pace::default(),
            link: Link::default(),
        }
    }
}

fn content_type(key: &str) -> String {
    mime_guess::from_path(key)
        .first_or_octet_stream()
        .essence_str()
        .to_string()
}

/// The file's size and modification time, to notice a file that changes while it uploads.
pub(super) fn stamp(file: &PlannedFile) -> Result<(u64, Option<SystemTime>)> {
    let meta = std::fs::metadata(&file.path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::FileChanged("The file vanished before it was uploaded.".into())
        }
        _ => Error::local_file("The file can't be read", e),
    })?;
    Ok((meta.len(), meta.modified().ok()))
}

async fn body(file: &PlannedFile, offset: u64, length: u64) -> Result<ByteStream> {
    ByteStream::read_from()
        .path(&file.path)
        .offset(offset)
        .length(Length::Exact(length))
        // Bigger reads than the 4 KiB default: fewer system calls per part.
        .buffer_size(256 << 10)
        .build()
        .await
        .map_err(|e| Error::Internal(format!("the file can't be streamed: {e}")))
}

/// The metadata every upload carries: the whole file's MD5 and, when known, its modification
/// time, as rclone and Cyberduck write and read them.
fn with_mtime(md5: &str, mtime: Option<&str>) -> Option<std::collections::HashMap<String, String>> {
    let mut meta = std::collections::HashMap::new();
    meta.insert(integrity::MD5_META.to_string(), md5.to_string());
    if let Some(t) = mtime {
        meta.insert(integrity::MTIME_META.to_string(), t.to_string());
    }
    Some(meta)
}

/// The server's ETag for what it stored must be the MD5 of what was sent (a server that answers
/// with another form of ETag is taken at its word: it checked Content-MD5).
fn stored_as_sent(etag: Option<&str>, sent: &str, key: &str) -> Result<()> {
    let etag = integrity::bare(etag.unwrap_or_default());
    let plain_md5 = etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit());
    if plain_md5 && !etag.eq_ignore_ascii_case(sent) {
        return Err(Error::BadAnswer(format!(
            "The Space stored other bytes for “{key}” than were sent (its checksum differs). Upload it again."
        )));
    }
    Ok(())
}

/// The MD5 of one part of the file, read for it.
async fn part_md5(file: &PlannedFile, offset: u64, length: u64) -> Result<integrity::Md5Sum> {
    let path = file.path.clone();
    let read = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Seek};
        let mut f = std::fs::File::open(&path)?;
        f.seek(std::io::SeekFrom::Start(offset))?;
        Ok::<_, std::io::Error>(integrity::md5_in_parts(f.take(length), length, 0)?.0)
    });
    read.await
        .map_err(|e| Error::Internal(format!("reading the file stopped: {e}")))?
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => changed(),
            _ => Error::local_file("The file can't be read", e),
        })
}

/// Uploads one file with its permission and content type. `progress` gets the bytes done so far.
/// A file that changes while it uploads never replaces what was there: the change is noticed
/// before the object is committed. Nor does one whose key no longer holds what `expect` says.
#[allow(clippy::too_many_arguments)]
pub async fn upload_file(
    target: &Target,
    file: &PlannedFile,
    expect: &Expect,
    acl: FileAcl,
    settings: Settings,
    budget: &Arc<Window>,
    cancel: &Cancel,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<()> {
    let before = stamp(file)?;
    if before.0 != file.size {
        return Err(Error::FileChanged(
            "The file changed size after it was chosen; drop it again.".into(),
        ));
    }
    if file.size < settings.multipart_threshold {
        upload_single(target, file, expect, acl, budget, cancel, before).await?;
    } else {
        let up = Multipart {
            target,
            file,
            expect,
            acl,
            settings,
            budget,
            cancel,
        };
        upload_multipart(up, progress, before).await?;
    }
    progress(file.size);
    Ok(())
}

fn changed() -> Error {
    Error::FileChanged(
        "The file changed while it was uploading; the Space was left as it was. Try again.".into(),
    )
}

async fn upload_single(
    target: &Target,
    file: &PlannedFile,
    expect: &Expect,
    acl: FileAcl,
    budget: &Arc<Window>,
    cancel: &Cancel,
    before: (u64, Option<SystemTime>),
) -> Result<()> {
    let permit = budget.acquire().await;
    if cancel.is_set() {
        return Err(Error::Cancelled("Nothing was uploaded.".into()));
    }
    target.pace.take(file.size).await;
    // Read whole, then checked: what is sent is one consistent version of the file.
    let bytes = tokio::fs::read(&file.path)
        .await
        .map_err(|e| Error::local_file("The file can't be read", e))?;
    let bytes = bytes::Bytes::from(bytes);
    if stamp(file)? != before || bytes.len() as u64 != file.size {
        return Err(changed());
    }
    // The server checks the bytes against this, and keeps the whole file's MD5 with them.
    let sum = integrity::md5_of(&bytes);
    let (md5, mtime) = (
        integrity::base64(&sum),
        before.1.and_then(integrity::mtime_text),
    );
    let ctx = Context::space(&target.endpoint, &target.space);
    // The ETag unquoted first: RGW compares it so; a server that wants it quoted, as S3 writes
    // it, refuses that, and is asked again once a look shows nothing changed.
    let mut quoted = false;
    let look_first = target.link.versioned() && *expect != Expect::Anything;
    if look_first && !still_as_planned(target, &file.key, expect).await? {
        return Err(taken_since(&file.key, expect));
    }
    loop {
        let put = target
            .client
            .put_object()
            .bucket(&target.space)
            .key(&file.key)
            .content_length(file.size as i64)
            .content_type(content_type(&file.key))
            .acl(acl.canned())
            .content_md5(&md5)
            .set_metadata(with_mtime(&md5, mtime.as_deref()))
            .body(ByteStream::from(bytes.clone())); // a shared buffer: no copy
        let put = match expect {
            _ if look_first => put,
            Expect::Anything => put,
            Expect::Absent => put.if_none_match("*"),
            Expect::Etag(e) if quoted => put.if_match(format!("\"{}\"", e.trim_matches('"'))),
            Expect::Etag(e) => put.if_match(e.trim_matches('"')),
        };
        let send = put
            .customize()
            .config_override(crate::s3::moving_bytes())
            // The body's hash is not signed: hashing every byte first costs a full extra read and CPU.
            .disable_payload_signing()
            .send();
        let sent = tokio::select! {
            result = send => result.map_err(|e| map_error(e, ctx)),
            _ = cancel.wait() => return Err(Error::Cancelled("Nothing was uploaded.".into())),
        };
        match sent {
            Err(Error::Server {
                code: S3Code::PreconditionFailed,
                ..
            }) => {
                match (
                    expect,
                    quoted,
                    still_as_planned(target, &file.key, expect).await?,
                ) {
                    (Expect::Etag(_), false, true) => quoted = true,
                    _ => return Err(taken_since(&file.key, expect)),
                }
            }
            sent => {
                let out = permit.answer(sent, file.size)?;
                return stored_as_sent(out.e_tag(), &integrity::hex(&sum), &file.key);
            }
        }
    }
}

/// Learns whether the Space keeps versions. There RGW judges a conditional write against the
/// new version rather than the current one (a create over a file goes through, a replace of the
/// planned version is refused), so each key is looked at right before it is written instead;
/// a replaced version stays in the file's history. A key that may not ask counts as versioned.
pub async fn learn_versioning(target: &Target) {
    let asked = (target.client.get_bucket_versioning())
        .bucket(&target.space)
        .send()
        .await;
    target
        .link
        .set_versioned(asked.map_or(true, |v| v.status().is_some()));
}

/// Whether `key` holds what the plan saw (nothing, or the version planned to be replaced).
async fn still_as_planned(target: &Target, key: &str, expect: &Expect) -> Result<bool> {
    let now = super::etag_now(target, key).await?;
    Ok(match (expect, now) {
        (Expect::Anything, _) => true,
        (Expect::Absent, now) => now.is_none(),
        (Expect::Etag(e), Some(now)) => now.trim_matches('"') == e.trim_matches('"'),
        (Expect::Etag(_), None) => false,
    })
}

/// An upload refused because its key no longer holds what the plan saw.
fn taken_since(key: &str, expect: &Expect) -> Error {
    Error::FileChanged(match expect {
        Expect::Etag(_) => format!(
            "“{key}” changed in the Space after the upload was planned, so it was not replaced. Upload the file again to choose what to do."
        ),
        _ => format!(
            "A file named “{key}” came into the Space after the upload was planned, so it was not replaced. Upload the file again to choose what to do."
        ),
    })
}

/// One multipart upload's parts that don't change while it runs.
struct Multipart<'a> {
    target: &'a Target,
    file: &'a PlannedFile,
    expect: &'a Expect,
    acl: FileAcl,
    settings: Settings,
    budget: &'a Arc<Window>,
    cancel: &'a Cancel,
}

async fn upload_multipart(
    up: Multipart<'_>,
    progress: &(dyn Fn(u64) + Send + Sync),
    before: (u64, Option<SystemTime>),
) -> Result<()> {
    let Multipart {
        target,
        file,
        expect,
        acl,
        settings,
        budget,
        cancel,
    } = up;
    let ctx = Context::space(&target.endpoint, &target.space);
    // Parts sized to what the link showed; at most 10,000 of them, so very big files get bigger ones.
    let part_size = target.link.part_size(settings.part_size);
    let part_size = part_size.max(file.size.div_ceil(10_000));
    // The whole file's MD5 goes on the create call (S3 takes metadata nowhere else), and each
    // part's on its own request: one read of the file gives both.
    let path = file.path.clone();
    let size = file.size;
    let sums = tokio::select! {
        read = tokio::task::spawn_blocking(move || {
            integrity::md5_in_parts(std::fs::File::open(&path)?, size, part_size)
        }) => read
            .map_err(|e| Error::Internal(format!("reading the file stopped: {e}")))?
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => changed(),
                _ => Error::local_file("The file can't be read", e),
            })?,
        _ = cancel.wait() => return Err(Error::Cancelled("Nothing was uploaded.".into())),
    };
    let (whole, part_sums) = sums;
    let md5 = integrity::base64(&whole);
    let mtime = before.1.and_then(integrity::mtime_text);
    // x-amz-acl and the content type go on the create call: that is where S3 takes them for the
    // finished file (clients that leave them off land big files private).
    let asked = std::time::Instant::now();
    let created = target
        .client
        .create_multipart_upload()
        .bucket(&target.space)
        .key(&file.key)
        .content_type(content_type(&file.key))
        .acl(acl.canned())
        .set_metadata(with_mtime(&md5, mtime.as_deref()))
        .send()
        .await
        .map_err(|e| map_error(e, ctx))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| Error::Server {
            code: "NoUploadId".into(),
            message: "no upload id".into(),
        })?
        .to_string();

    target.link.waited(asked.elapsed());
    if let Some(record) = &target.unfinished {
        record.add(UnfinishedUpload {
            endpoint: target.endpoint.clone(),
            space: target.space.clone(),
            key: file.key.clone(),
            upload_id: upload_id.clone(),
            source: Some(UploadSource {
                path: file.path.clone(),
                size: file.size,
                modified: nanos(before.1),
                part_size,
            }),
            expect: expect.clone(),
        });
    }
    let parts = Parts {
        upload_id: &upload_id,
        part_size,
        have: Vec::new(),
        sums: Some(part_sums),
    };
    let result = upload_parts(target, file, settings, budget, cancel, progress, parts).await;
    finish(target, (file, expect), cancel, &upload_id, before, result).await
}

/// Nanoseconds since 1970, as the record keeps a modification time.
pub(super) fn nanos(t: Option<SystemTime>) -> Option<u64> {
    let since = t?.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    u64::try_from(since.as_nanos()).ok()
}

/// Completes a multipart upload whose parts are all sent, if the file is still as it was when
/// it began and its key still holds what `expect` says (looked at right before; a server that
/// honours it is also asked with `If-None-Match`); otherwise aborts it, unless it was paused
/// (then it stays noted, to be resumed).
pub(super) async fn finish(
    target: &Target,
    (file, expect): (&PlannedFile, &Expect),
    cancel: &Cancel,
    upload_id: &str,
    before: (u64, Option<SystemTime>),
    result: Result<Vec<CompletedPart>>,
) -> Result<()> {
    let ctx = Context::space(&target.endpoint, &target.space);
    let upload_id = upload_id.to_string();
    if cancel.is_paused() {
        if let Some(record) = &target.unfinished {
            record.release(&upload_id);
        }
        return Err(Error::Cancelled(
            "The upload was paused; it can be resumed at the next start.".into(),
        ));
    }
    // Every way out of here either completes or aborts: no `?` may skip the abort below.
    let unchanged = stamp(file).map(|now| now == before);
    let as_planned = match (&result, &unchanged) {
        (Ok(_), Ok(true)) => still_as_planned(target, &file.key, expect).await,
        _ => Ok(true),
    };
    let result = match (result, unchanged, as_planned) {
        (Ok(_), Ok(true), Ok(false)) => Err(taken_since(&file.key, expect)),
        (Ok(_), Ok(true), Err(e)) => Err(e),
        (Ok(parts), Ok(true), _) if !cancel.is_set() => {
            let expected = whole_etag(&parts);
            target
            .client
            .complete_multipart_upload()
            .bucket(&target.space)
            .key(&file.key)
            .upload_id(&upload_id)
            .set_if_none_match(
                (*expect == Expect::Absent && !target.link.versioned()).then(|| "*".to_string()),
            )
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .customize()
            .config_override(crate::s3::moving_bytes())
            .send()
            .await
            .map_err(|e| match map_error(e, ctx) {
                Error::Server {
                code: S3Code::PreconditionFailed,
                ..
            } => {
                    taken_since(&file.key, expect)
                }
                other => other,
            })
            // Some servers (RGW) answer with an empty ETag here: each part's was checked already.
            .and_then(|done| match (done.e_tag().filter(|e| !integrity::bare(e).is_empty()), expected) {
                (Some(etag), Some(expected)) if !integrity::bare(etag).eq_ignore_ascii_case(&expected) => {
                    Err(Error::BadAnswer(format!(
                        "The Space put “{}” together from other parts than were sent (its checksum differs). Upload it again.",
                        file.key
                    )))
                }
                _ => Ok(()),
            })
        }
        (Ok(_), _, _) if cancel.is_set() => Err(Error::Cancelled("The upload was stopped.".into())),
        (Ok(_), Ok(_), _) => Err(changed()),
        (Ok(_), Err(e), _) | (Err(e), _, _) => Err(e),
    };
    // Never leave an orphaned multipart upload (it would be billed until it expires). One whose
    // abort didn't reach the server stays noted, and the next start offers to discard it.
    let settled = result.is_ok() || abort(target, &file.key, &upload_id).await;
    if let (true, Some(record)) = (settled, &target.unfinished) {
        record.remove(&upload_id);
    }
    result
}

/// The ETag S3 gives the object these parts make, from the parts' own (each checked to be the
/// MD5 of what was sent); None when a part's ETag is not a plain MD5.
fn whole_etag(parts: &[CompletedPart]) -> Option<String> {
    let sums: Option<Vec<integrity::Md5Sum>> = parts
        .iter()
        .map(|p| match integrity::known(p.e_tag()?, None) {
            integrity::Known::Md5(sum) => Some(sum),
            _ => None,
        })
        .collect();
    sums.map(|s| integrity::multipart_etag(&s))
}

/// Aborts a multipart upload; true when the server holds none of it any more.
pub async fn abort(target: &Target, key: &str, upload_id: &str) -> bool {
    let aborted = abort_one(&target.client, &target.space, key, upload_id).await;
    aborted.is_ok()
}

/// The parts of one multipart upload: their size, and those the server holds already.
pub(super) struct Parts<'a> {
    pub upload_id: &'a str,
    pub part_size: u64,
    /// Parts stored before (a resume), with their sizes: they are not sent again.
    pub have: Vec<(CompletedPart, u64)>,
    /// Each part's MD5, when the file was read for them already (otherwise each part is read
    /// for its own before it is sent).
    pub sums: Option<Vec<integrity::Md5Sum>>,
}

pub(super) async fn upload_parts(
    target: &Target,
    file: &PlannedFile,
    settings: Settings,
    budget: &Arc<Window>,
    cancel: &Cancel,
    progress: &(dyn Fn(u64) + Send + Sync),
    parts_of: Parts<'_>,
) -> Result<Vec<CompletedPart>> {
    let (upload_id, part_size) = (parts_of.upload_id, parts_of.part_size);
    let sums = parts_of.sums;
    let count = file.size.div_ceil(part_size).max(1);
    let mut tasks = tokio::task::JoinSet::new();
    let mut parts = Vec::with_capacity(count as usize);
    let mut done = 0u64;
    let have: std::collections::HashSet<i32> = parts_of
        .have
        .iter()
        .filter_map(|(p, _)| p.part_number())
        .collect();
    for (part, length) in parts_of.have {
        parts.push(part);
        done += length;
    }
    if done > 0 {
        progress(done);
    }
    // Parts by index from 0; only those the server lacks are sent.
    let mut todo = (0..count).filter(|i| !have.contains(&(*i as i32 + 1)));
    let mut next = todo.next();
    loop {
        // Keep as many parts in flight as the budget allows, reading each from disk only when sent.
        while let (Some(index), true) = (next, tasks.len() < settings.parts_in_flight) {
            let permit = budget.acquire().await;
            let offset = index * part_size;
            let length = part_size.min(file.size - offset);
            let number =
                i32::try_from(index + 1).map_err(|_| Error::Internal("too many parts".into()))?;
            let (target, file, upload_id, cancel) = (
                target.clone(),
                file.clone(),
                upload_id.to_string(),
                cancel.clone(),
            );
            let link = target.link.clone();
            let known = sums.as_ref().and_then(|s| s.get(index as usize).copied());
            tasks.spawn(async move {
                if cancel.is_set() {
                    return Err(Error::Cancelled("The upload was stopped.".into()));
                }
                let sum = match known {
                    Some(sum) => sum,
                    None => part_md5(&file, offset, length).await?,
                };
                let ctx = Context::space(&target.endpoint, &target.space);
                let send = target
                    .client
                    .upload_part()
                    .bucket(&target.space)
                    .key(&file.key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .content_length(length as i64)
                    .content_md5(integrity::base64(&sum))
                    .body(target.pace.body(body(&file, offset, length).await?))
                    .customize()
                    .config_override(crate::s3::moving_bytes())
                    .disable_payload_signing()
                    .send();
                let started = std::time::Instant::now();
                let out = tokio::select! {
                    result = send => permit.answer(result.map_err(|e| map_error(e, ctx)), length)?,
                    _ = cancel.wait() => return Err(Error::Cancelled("The upload was stopped.".into())),
                };
                link.moved(length, started.elapsed());
                let etag = out.e_tag().unwrap_or_default().to_string();
                stored_as_sent(Some(&etag), &integrity::hex(&sum), &file.key)?;
                Ok((number, etag, length))
            });
            next = todo.next();
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        match joined {
            Ok(Ok((number, etag, length))) => {
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .e_tag(etag)
                        .build(),
                );
                done += length;
                progress(done);
            }
            Ok(Err(e)) => {
                tasks.abort_all();
                return Err(e);
            }
            Err(e) => {
                tasks.abort_all();
                return Err(Error::Internal(format!("an upload task stopped: {e}")));
            }
        }
    }
    parts.sort_by_key(|p| p.part_number());
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_come_from_the_extension() {
        assert_eq!(content_type("a/photo.JPG"), "image/jpeg");
        assert_eq!(content_type("index.html"), "text/html");
        assert_eq!(content_type("notes"), "application/octet-stream");
    }
}
