//! Server-side copies, moves and renames: files and folders copied within a Space, or to another
//! Space of the same region, without their bytes passing through this computer. Each copy keeps
//! the file's permission (its exact grants) and metadata, and is of the version that was planned
//! (the copy is refused if the file changed since). A move removes an original only once its
//! copy is stored, in batches of 1,000.

use std::collections::{HashMap, HashSet};

use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, MetadataDirective, ObjectIdentifier,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::plan::Problem;
use super::{Cancel, Conflict, FileState, Target, TransferEvent};
use crate::error::{Error, Result};
use crate::objects::{grants_of, Grants};
use crate::s3::{map_error, Context};
use crate::urls::encode_key;

/// Copy leaves the originals; Move removes each once its copy is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum CopyMode {
    Copy,
    Move,
}

impl CopyMode {
    fn not_done(self) -> &'static str {
        match self {
            CopyMode::Copy => "Not copied",
            CopyMode::Move => "Not moved",
        }
    }
}

/// Two Spaces reached through one client (the same region): files go from one to the other,
/// or within one when they are the same.
#[derive(Clone)]
pub struct Between {
    pub client: aws_sdk_s3::Client,
    pub endpoint: String,
    pub from: String,
    pub to: String,
}

impl Between {
    fn same_space(&self) -> bool {
        self.from == self.to
    }
}

/// One file to copy, as it was when the copy was planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFile {
    /// Its place in the batch, as the queue knows it.
    pub id: u32,
    pub from: String,
    pub to: String,
    pub size: u64,
    /// The copy is of this version: if the file changes meanwhile, it is not copied.
    pub etag: String,
}

#[derive(Debug, Default)]
pub struct CopyPlan {
    pub files: Vec<CopyFile>,
    /// What can't be copied, and why.
    pub problems: Vec<Problem>,
}

/// How a batch of copies runs.
#[derive(Debug, Clone, Copy)]
pub struct CopySettings {
    /// Files copied at once: the server does the work, each a request of its own.
    pub files_at_once: usize,
    /// Files bigger than this are copied in parts (S3 copies at most 5 GiB in one request).
    pub single_limit: u64,
    /// The size of those parts (bigger for files that would need more than 10,000).
    pub part_size: u64,
}

impl Default for CopySettings {
    fn default() -> Self {
        CopySettings {
            files_at_once: 32,
            single_limit: 5 << 30,
            part_size: 256 << 20,
        }
    }
}

/// How a batch ended.
#[derive(Debug, Clone, Default, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CopySummary {
    pub done: u32,
    /// Not copied: a file of that name was there and the batch's choice was Skip.
    pub skipped: u32,
    pub cancelled: u32,
    /// Files refused or failed, each with why.
    pub problems: Vec<Problem>,
    /// Files given another new key than planned (Keep both): their id and that key.
    pub renamed: Vec<(u32, String)>,
}

/// A new name for a file or folder: one name, not a path.
pub fn check_name(name: &str) -> Result<&str> {
    let why = if name.is_empty() {
        "A name can't be empty."
    } else if name.contains('/') {
        "A name can't contain “/”: to put it in another folder, use Move."
    } else if name == "." || name == ".." {
        "“.” and “..” can't be names."
    } else if name.chars().any(char::is_control) {
        "A name can't contain control characters."
    } else if name.trim() != name {
        "A name can't begin or end with a space."
    } else {
        return Ok(name);
    };
    Err(Error::InvalidInput(why.into()))
}

/// The folder a key is in: "a/b/c.txt" → "a/b/", "a/b/" → "a/", "c.txt" → "".
pub fn parent(key: &str) -> &str {
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    match trimmed.rfind('/') {
        Some(i) => &key[..=i],
        None => "",
    }
}

/// Where a selected file or folder lands: in `folder`, under its own name or `rename`.
pub fn destination(key: &str, folder: &str, rename: Option<&str>) -> String {
    let is_folder = key.ends_with('/');
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    let name = rename.unwrap_or_else(|| trimmed.rsplit('/').next().unwrap_or(trimmed));
    format!("{folder}{name}{}", if is_folder { "/" } else { "" })
}

/// Plans copying (or moving) the selected `keys` into `folder` of the other Space, or, with
/// `rename`, the one selected file or folder to a new name beside it. Folders are expanded on
/// the server; a folder's files keep their path below it.
pub async fn plan(
    b: &Between,
    keys: &[String],
    folder: &str,
    rename: Option<&str>,
    mode: CopyMode,
) -> Result<CopyPlan> {
    if folder.starts_with('/') || !(folder.is_empty() || folder.ends_with('/')) {
        return Err(Error::InvalidInput(format!(
            "“{folder}” is not a folder: a folder's path ends in “/”."
        )));
    }
    if keys.is_empty() {
        return Err(Error::InvalidInput("Nothing is selected.".into()));
    }
    if let Some(name) = rename {
        check_name(name)?;
        if keys.len() != 1 {
            return Err(Error::InvalidInput(
                "Rename one file or folder at a time.".into(),
            ));
        }
    }
    let ctx = Context::space(&b.endpoint, &b.from);
    let mut plan = CopyPlan::default();
    let mut seen = HashSet::new();
    let refuse = |plan: &mut CopyPlan, key: &str, why: &str| {
        plan.problems.push(Problem {
            path: key.to_string(),
            message: format!("{}: {why}.", mode.not_done()),
        })
    };
    for key in keys {
        if key.is_empty() || key == "/" {
            return Err(Error::InvalidInput(
                "Pick the files and folders to copy, not the whole Space.".into(),
            ));
        }
        let here = match rename {
            Some(_) => parent(key),
            None => folder,
        };
        let root = destination(key, here, rename);
        if b.same_space() && root == *key {
            refuse(&mut plan, key, "it is already there");
            continue;
        }
        if b.same_space() && key.ends_with('/') && root.starts_with(key.as_str()) {
            refuse(&mut plan, key, "a folder can't go inside itself");
            continue;
        }
        let mut found = Vec::new();
        if key.ends_with('/') {
            let mut pages = (b.client.list_objects_v2())
                .bucket(&b.from)
                .prefix(key)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| map_error(e, ctx))?;
                for o in page.contents() {
                    let Some(k) = o.key() else { continue };
                    let to = format!("{root}{}", &k[key.len()..]);
                    let etag = o.e_tag().unwrap_or_default().to_string();
                    found.push((k.to_string(), to, o.size().unwrap_or(0) as u64, etag));
                }
            }
        } else {
            match b.client.head_object().bucket(&b.from).key(key).send().await {
                Ok(head) => found.push((
                    key.clone(),
                    root.clone(),
                    head.content_length().unwrap_or(0) as u64,
                    head.e_tag().unwrap_or_default().to_string(),
                )),
                Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => {}
                Err(e) => return Err(map_error(e, ctx)),
            }
        }
        if found.is_empty() {
            refuse(&mut plan, key, "it is no longer there");
        }
        for (from, to, size, etag) in found {
            if to.len() > 1024 {
                refuse(
                    &mut plan,
                    &from,
                    "its new path would be longer than 1,024 bytes",
                );
            } else if seen.insert(from.clone()) {
                let id = plan.files.len() as u32;
                plan.files.push(CopyFile {
                    id,
                    from,
                    to,
                    size,
                    etag,
                });
            }
        }
    }
    Ok(plan)
}

/// Runs a planned batch: files whose new key is among `existing` are handled as `conflict`
/// says; each file's progress goes to `events`. One file's failure never stops the others.
pub async fn run(
    b: &Between,
    plan: CopyPlan,
    mode: CopyMode,
    (conflict, existing): (Conflict, &HashSet<String>),
    cancels: &HashMap<u32, Cancel>,
    settings: CopySettings,
    events: &(dyn Fn(TransferEvent) + Send + Sync),
) -> CopySummary {
    let mut summary = CopySummary {
        problems: plan.problems,
        ..CopySummary::default()
    };
    let mut jobs = Vec::new();
    // Keep both: each taken name gets one free on the server and in this batch.
    let mut taken: HashSet<String> = plan.files.iter().map(|f| f.to.clone()).collect();
    let target = Target::plain(&b.client, &b.endpoint, &b.to);
    for mut file in plan.files {
        if existing.contains(&file.to) {
            match conflict {
                Conflict::Overwrite => {}
                Conflict::Skip => {
                    events(TransferEvent {
                        id: file.id,
                        bytes: 0,
                        state: FileState::Skipped,
                    });
                    summary.skipped += 1;
                    continue;
                }
                Conflict::KeepBoth => match super::free_key(&target, &file.to, &taken).await {
                    Ok(free) => {
                        taken.insert(free.clone());
                        summary.renamed.push((file.id, free.clone()));
                        file.to = free;
                    }
                    Err(e) => {
                        fail(&mut summary, events, &file, mode, &e);
                        continue;
                    }
                },
            }
        }
        jobs.push(file);
    }
    let one = |file: CopyFile| {
        let cancel = cancels.get(&file.id).cloned().unwrap_or_default();
        async move {
            if cancel.is_set() {
                return (file, Err(Error::Cancelled("Nothing was copied.".into())));
            }
            let progress = |bytes| {
                events(TransferEvent {
                    id: file.id,
                    bytes,
                    state: FileState::Running,
                })
            };
            progress(0);
            let copied = copy_file(b, &file, settings, &cancel, &progress).await;
            (file, copied)
        }
    };
    let mut results = futures_util::stream::iter(jobs.into_iter().map(one))
        .buffer_unordered(settings.files_at_once.max(1));
    // Copies stored, their originals still to remove (a move).
    let mut copied = Vec::new();
    while let Some((file, result)) = results.next().await {
        match result {
            Ok(()) if mode == CopyMode::Move => copied.push(file),
            Ok(()) => {
                done(&mut summary, events, &file);
            }
            Err(Error::Cancelled(_)) => {
                events(TransferEvent {
                    id: file.id,
                    bytes: 0,
                    state: FileState::Cancelled,
                });
                summary.cancelled += 1;
            }
            Err(e) => fail(&mut summary, events, &file, mode, &e),
        }
    }
    // A move cancelled half way still finishes what was copied: no file is left in two places.
    for batch in copied.chunks(1000) {
        let failed = delete_originals(b, batch).await;
        for file in batch {
            match failed.get(&file.from) {
                None => done(&mut summary, events, file),
                Some(why) => {
                    let e = Error::Server {
                        code: "DeleteFailed".into(),
                        message: format!(
                            "it was copied to “{}”, but the original could not be removed: {why}",
                            file.to
                        ),
                    };
                    fail(&mut summary, events, file, mode, &e);
                }
            }
        }
    }
    summary
}

fn done(summary: &mut CopySummary, events: &(dyn Fn(TransferEvent) + Send + Sync), f: &CopyFile) {
    events(TransferEvent {
        id: f.id,
        bytes: f.size,
        state: FileState::Done,
    });
    summary.done += 1;
}

fn fail(
    summary: &mut CopySummary,
    events: &(dyn Fn(TransferEvent) + Send + Sync),
    f: &CopyFile,
    mode: CopyMode,
    e: &Error,
) {
    events(TransferEvent {
        id: f.id,
        bytes: 0,
        state: FileState::Failed {
            kind: e.kind(),
            message: e.to_string(),
        },
    });
    summary.problems.push(Problem {
        path: f.from.clone(),
        message: format!("{}: {e}", mode.not_done()),
    });
}

/// Copies one file: one request up to the single-copy limit, parts beyond it.
async fn copy_file(
    b: &Between,
    f: &CopyFile,
    settings: CopySettings,
    cancel: &Cancel,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<()> {
    let ctx = Context::space(&b.endpoint, &b.from);
    // A copy is a new object, private unless told: the original's exact grants go with it.
    let grants = grants_of(
        &b.client,
        &b.endpoint,
        &b.from,
        &f.from,
        None,
        "it was not copied",
    )
    .await
    .map_err(|e| changed(e, f))?;
    let source = format!("{}/{}", b.from, encode_key(&f.from));
    if f.size <= settings.single_limit {
        let mut copy = (b.client.copy_object())
            .bucket(&b.to)
            .key(&f.to)
            .copy_source(&source)
            .metadata_directive(MetadataDirective::Copy);
        if !f.etag.is_empty() {
            copy = copy.copy_source_if_match(&f.etag);
        }
        let etag = f.etag.clone();
        grants
            .on_copy(copy)
            .customize()
            .mutate_request(move |r| same_version_for_rgw(r, &etag))
            .send()
            .await
            .map_err(|e| changed(map_error(e, ctx), f))?;
        progress(f.size);
        return Ok(());
    }
    copy_in_parts(b, f, &source, grants, settings, cancel, progress).await
}

/// A file over the single-copy limit: a multipart upload whose parts are ranges copied on the
/// server, aborted if any part fails or the copy is cancelled (no parts are left to be billed).
async fn copy_in_parts(
    b: &Between,
    f: &CopyFile,
    source: &str,
    grants: Grants,
    settings: CopySettings,
    cancel: &Cancel,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<()> {
    let (from_ctx, to_ctx) = (
        Context::space(&b.endpoint, &b.from),
        Context::space(&b.endpoint, &b.to),
    );
    // The metadata a single copy would carry over by itself is set on the new upload. (Each
    // part is of the planned version: if the file changed, they are refused and all aborted.)
    let head = (b.client.head_object())
        .bucket(&b.from)
        .key(&f.from)
        .send()
        .await
        .map_err(|e| changed(map_error(e, from_ctx), f))?;
    let create = (b.client.create_multipart_upload())
        .bucket(&b.to)
        .key(&f.to)
        .set_content_type(head.content_type().map(str::to_string))
        .set_cache_control(head.cache_control().map(str::to_string))
        .set_content_disposition(head.content_disposition().map(str::to_string))
        .set_content_encoding(head.content_encoding().map(str::to_string))
        .set_content_language(head.content_language().map(str::to_string))
        .set_metadata(head.metadata().cloned());
    let created = grants
        .on_upload(create)
        .send()
        .await
        .map_err(|e| map_error(e, to_ctx))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| Error::BadAnswer("a multipart copy began without an id".into()))?
        .to_string();
    let parts = match copy_parts(b, f, source, &upload_id, settings, cancel, progress).await {
        Err(Error::Cancelled(why)) => Err(Error::Cancelled(why)),
        // Not every server checks a part copy's condition: the file must still be the version
        // planned once all its parts are copied, or they may be of two versions. (A part that
        // failed because the file changed is told as that, too.)
        result if unchanged(b, f).await => result,
        _ => Err(changed(
            Error::Server {
                code: "PreconditionFailed".into(),
                message: String::new(),
            },
            f,
        )),
    };
    let completed = match parts {
        Ok(parts) => {
            let done = CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build();
            (b.client.complete_multipart_upload())
                .bucket(&b.to)
                .key(&f.to)
                .upload_id(&upload_id)
                .multipart_upload(done)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| map_error(e, to_ctx))
        }
        Err(e) => Err(e),
    };
    if completed.is_err() {
        // Best effort: a part left behind is listed among the Space's unfinished uploads.
        let _ = (b.client.abort_multipart_upload())
            .bucket(&b.to)
            .key(&f.to)
            .upload_id(&upload_id)
            .send()
            .await;
    }
    completed
}

/// Copies the parts of one file, four at once, each of the planned version.
async fn copy_parts(
    b: &Between,
    f: &CopyFile,
    source: &str,
    upload_id: &str,
    settings: CopySettings,
    cancel: &Cancel,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Vec<CompletedPart>> {
    let mib = 1u64 << 20;
    let part = settings.part_size.max(f.size.div_ceil(10_000));
    let part = part.div_ceil(mib) * mib;
    let count = f.size.div_ceil(part);
    let ctx = Context::space(&b.endpoint, &b.to);
    let one = |index: u64| async move {
        if cancel.is_set() {
            return Err(Error::Cancelled("The copy was stopped.".into()));
        }
        let start = index * part;
        let end = (start + part).min(f.size) - 1;
        let number =
            i32::try_from(index + 1).map_err(|_| Error::Internal("too many parts".into()))?;
        let copy = (b.client.upload_part_copy())
            .bucket(&b.to)
            .key(&f.to)
            .upload_id(upload_id)
            .part_number(number)
            .copy_source(source)
            .copy_source_range(format!("bytes={start}-{end}"))
            .set_copy_source_if_match((!f.etag.is_empty()).then(|| f.etag.clone()));
        let etag = f.etag.clone();
        let copy = copy.customize().mutate_request(move |r| {
            // Without a length RGW refuses a part copy (it has no body).
            r.headers_mut().insert("content-length", "0");
            same_version_for_rgw(r, &etag);
        });
        let out = tokio::select! {
            out = copy.send() => out.map_err(|e| changed(map_error(e, ctx), f))?,
            _ = cancel.wait() => return Err(Error::Cancelled("The copy was stopped.".into())),
        };
        let etag = out
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .ok_or_else(|| Error::BadAnswer("a copied part came back without its ETag".into()))?;
        let done = CompletedPart::builder()
            .part_number(number)
            .e_tag(etag)
            .build();
        Ok((done, end + 1 - start))
    };
    let mut parts = Vec::with_capacity(count as usize);
    let mut moved = 0;
    let mut results = futures_util::stream::iter((0..count).map(one)).buffer_unordered(4);
    while let Some(result) = results.next().await {
        let (done, length) = result?;
        moved += length;
        progress(moved);
        parts.push(done);
    }
    parts.sort_by_key(|p| p.part_number());
    Ok(parts)
}

/// RGW reads a copy's condition from `x-amz-copy-if-match`, not S3's
/// `x-amz-copy-source-if-match`: both are sent, so every server copies only the version planned.
fn same_version_for_rgw(r: &mut aws_smithy_runtime_api::http::Request, etag: &str) {
    if !etag.is_empty() {
        r.headers_mut()
            .insert("x-amz-copy-if-match", etag.to_string());
    }
}

/// Whether the file is still the version the copy was planned from.
async fn unchanged(b: &Between, f: &CopyFile) -> bool {
    let head = (b.client.head_object()).bucket(&b.from).key(&f.from);
    match head.send().await {
        Ok(h) => f.etag.is_empty() || h.e_tag() == Some(f.etag.as_str()),
        Err(_) => false,
    }
}

/// A copy refused because the file is not the version planned says so.
fn changed(e: Error, f: &CopyFile) -> Error {
    match e {
        Error::Server { code, .. } if code == "PreconditionFailed" => Error::FileChanged(format!(
            "“{}” changed after the copy was planned, so it was left as it is. Try again.",
            f.from
        )),
        Error::Server { code, .. } if code == "NoSuchKey" => {
            Error::Gone(format!("“{}” is no longer there.", f.from))
        }
        other => other,
    }
}

/// Removes the originals of copied files (at most 1,000); returns those that stayed, with why.
async fn delete_originals(b: &Between, files: &[CopyFile]) -> HashMap<String, String> {
    let ctx = Context::space(&b.endpoint, &b.from);
    let objects: Vec<ObjectIdentifier> = files
        .iter()
        .filter_map(|f| ObjectIdentifier::builder().key(&f.from).build().ok())
        .collect();
    let asked = Delete::builder()
        .set_objects(Some(objects))
        .quiet(true)
        .build()
        .map_err(|e| Error::Internal(e.to_string()));
    let answer = match asked {
        Ok(delete) => (b.client.delete_objects())
            .bucket(&b.from)
            .delete(delete)
            .send()
            .await
            .map_err(|e| map_error(e, ctx)),
        Err(e) => Err(e),
    };
    match answer {
        Ok(out) => out
            .errors()
            .iter()
            .map(|e| {
                let key = e.key().unwrap_or_default().to_string();
                let why = e.message().or(e.code()).unwrap_or("refused").to_string();
                (key, why)
            })
            .collect(),
        Err(e) => files
            .iter()
            .map(|f| (f.from.clone(), e.to_string()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_lands_in_the_folder_under_its_own_name() {
        assert_eq!(destination("a/b/c.txt", "x/", None), "x/c.txt");
        assert_eq!(destination("a/b/", "x/", None), "x/b/");
        assert_eq!(destination("c.txt", "", None), "c.txt");
        assert_eq!(destination("a/b/", "a/", Some("d")), "a/d/");
        assert_eq!(destination("a/c.txt", "a/", Some("e.txt")), "a/e.txt");
    }

    #[test]
    fn the_parent_of_a_file_or_folder() {
        assert_eq!(parent("a/b/c.txt"), "a/b/");
        assert_eq!(parent("a/b/"), "a/");
        assert_eq!(parent("c.txt"), "");
        assert_eq!(parent("b/"), "");
    }

    #[test]
    fn a_new_name_is_one_plain_name() {
        assert!(check_name("report 2.pdf").is_ok());
        for bad in ["", "a/b", ".", "..", " lead", "trail ", "tab\there"] {
            let e = check_name(bad).expect_err(bad);
            assert_eq!(e.kind(), crate::error::ErrorKind::InvalidInput, "{bad}");
        }
    }
}
