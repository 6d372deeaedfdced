//! Running a planned copy or move. Each file, on its own and several at once: the new key is
//! looked at right before the copy (a name taken or changed since the plan is not replaced),
//! the copy is made of the planned version only, and a move removes the originals of what it
//! copied, only if each is still that version: up to a thousand at a time, in one request right
//! after a look at exactly those files (their folder listed, or each file looked at), the same
//! door a folder delete goes through.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, MetadataDirective};
use futures_util::StreamExt;

use super::{Between, CopyFile, CopyMode, CopyPlan, CopySettings, CopySummary};
use crate::error::{Error, Result, S3Code};
use crate::objects::acl_of;
use crate::plan::Problem;
use crate::s3::{map_error, Context};
use crate::unfinished::UnfinishedUpload;
use crate::urls::encode_key;
use crate::{etag_now, free_key, Cancel, Conflict, FileState, Target, TransferEvent};

/// How one file of the batch ended.
enum Outcome {
    /// Copied (and, in a move, its original removed); with notes on grants left behind.
    Done {
        renamed: bool,
        notes: Vec<String>,
    },
    Skipped,
    Cancelled,
    Failed(Error),
    /// A move whose copy is stored (under a new name, with Keep both) but whose original stayed.
    CopiedOnly {
        error: Error,
        renamed: bool,
    },
    /// A move's copy is stored; its original is removed with others.
    Copied {
        renamed: bool,
        notes: Vec<String>,
    },
}

/// A move's files copied whose originals are still to go, with what their copy came to.
type Waiting = Vec<(CopyFile, bool, Vec<String>)>;

/// Fewer originals than this are each looked at; more are looked at by listing their folder.
const LISTED_FROM: usize = 50;

/// The longest a copied file waits for its original to be removed (unless a thousand wait).
const REMOVE_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// What the files of one run share.
struct Shared<'a> {
    b: &'a Between,
    target: Target,
    mode: CopyMode,
    conflict: Conflict,
    /// New keys taken when the batch was planned, with their ETag then.
    existing: &'a HashMap<String, String>,
    /// New keys this batch uses, so Keep both never gives two files one name.
    taken: Mutex<HashSet<String>>,
    settings: CopySettings,
    /// Who makes the copies, when they go to another Space (they belong to them).
    copier: Option<String>,
    /// Told each file's new key once it is settled, and its copy once stored; `true` when the
    /// note must be on disk before the batch goes on.
    note: &'a (dyn Fn(&CopyFile, bool) + Send + Sync),
}

/// Runs a planned batch: new keys taken at the plan (`existing`) or since are handled as
/// `conflict` says; each file's progress goes to `events`. One file's failure never stops the
/// others; a move cancelled half way still removes the originals of what was copied, so no
/// file is left in two places. `note` is told of each new name and each copy made, as they
/// are (the queue's journal).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    b: &Between,
    plan: CopyPlan,
    mode: CopyMode,
    (conflict, existing): (Conflict, &HashMap<String, String>),
    cancels: &HashMap<u32, Cancel>,
    settings: CopySettings,
    note: &(dyn Fn(&CopyFile, bool) + Send + Sync),
    events: &(dyn Fn(TransferEvent) + Send + Sync),
) -> CopySummary {
    let mut summary = CopySummary {
        problems: plan.problems,
        ..CopySummary::default()
    };
    let shared = Shared {
        b,
        target: Target::plain(&b.client, &b.endpoint, &b.to),
        mode,
        conflict,
        existing,
        taken: Mutex::new(plan.files.iter().map(|f| f.to.clone()).collect()),
        settings,
        copier: match b.same_space() {
            true => None,
            false => copier(b).await,
        },
        note,
    };
    let shared = &shared;
    let one = |file: CopyFile| {
        let cancel = cancels.get(&file.id).cloned().unwrap_or_default();
        async move {
            let mut file = file;
            let outcome = one_file(shared, &mut file, &cancel, events).await;
            (file, outcome)
        }
    };
    let mut results = futures_util::stream::iter(plan.files.into_iter().map(one))
        .buffer_unordered(settings.files_at_once.max(1));
    let mut waiting: Waiting = Vec::new();
    let mut due = tokio::time::Instant::now() + REMOVE_EVERY;
    loop {
        // A thousand originals go in one request; fewer once a while has passed (even while a
        // big file is still copying), so that files say they are done, and their originals
        // leave, as the move goes.
        let next = tokio::select! {
            next = results.next() => next,
            _ = tokio::time::sleep_until(due), if !waiting.is_empty() => {
                let ended = remove_originals(b, std::mem::take(&mut waiting)).await;
                tell(&mut summary, events, mode, ended);
                due = tokio::time::Instant::now() + REMOVE_EVERY;
                continue;
            }
        };
        let Some((file, outcome)) = next else { break };
        if let Outcome::Copied { renamed, notes } = outcome {
            if waiting.is_empty() {
                due = tokio::time::Instant::now() + REMOVE_EVERY;
            }
            waiting.push((file, renamed, notes));
            if waiting.len() >= crate::remove::PER_REQUEST {
                let ended = remove_originals(b, std::mem::take(&mut waiting)).await;
                tell(&mut summary, events, mode, ended);
            }
            continue;
        }
        let event = |bytes, state| {
            events(TransferEvent {
                id: file.id,
                bytes,
                state,
            })
        };
        match outcome {
            Outcome::Skipped => {
                event(0, FileState::Skipped);
                summary.skipped += 1;
            }
            Outcome::Cancelled => {
                event(0, FileState::Cancelled);
                summary.cancelled += 1;
            }
            other => tell(&mut summary, events, mode, vec![(file, other)]),
        }
    }
    // Also after a cancel or a quit: no file copied is left in two places.
    if !waiting.is_empty() {
        let ended = remove_originals(b, waiting).await;
        tell(&mut summary, events, mode, ended);
    }
    summary
}

/// Says how files ended whose end is not a plain copy: a move's, once its original went (or
/// stayed), and failures.
fn tell(
    summary: &mut CopySummary,
    events: &(dyn Fn(TransferEvent) + Send + Sync),
    mode: CopyMode,
    ended: Vec<(CopyFile, Outcome)>,
) {
    for (file, outcome) in ended {
        match outcome {
            Outcome::Done { renamed, notes } => {
                if renamed {
                    summary.renamed.push((file.id, file.to.clone()));
                }
                summary.notes.extend(notes.into_iter().map(|n| Problem {
                    path: file.from.clone(),
                    message: n,
                }));
                events(TransferEvent {
                    id: file.id,
                    bytes: file.size,
                    state: FileState::Done,
                });
                summary.done += 1;
            }
            Outcome::CopiedOnly { error, renamed } => {
                // Kept for a retry, which then only removes the original (if the copy is still
                // the one made).
                summary.copied.push((file.id, file.copy_etag.clone()));
                if renamed {
                    summary.renamed.push((file.id, file.to.clone()));
                }
                failed_in(summary, events, mode, &file, error)
            }
            Outcome::Failed(e) => failed_in(summary, events, mode, &file, e),
            Outcome::Skipped | Outcome::Cancelled | Outcome::Copied { .. } => {}
        }
    }
}

/// Removes the originals of a move's copied files, each only if it is still the version
/// copied: looked at right before, by listing their folder (many) or one by one (a few), then
/// deleted up to a thousand in one request. Never stopped half way: a file copied whose
/// original stayed would be in two places.
async fn remove_originals(b: &Between, waiting: Waiting) -> Vec<(CopyFile, Outcome)> {
    use crate::remove::{remove_listed, remove_looked, Removed};
    let at = spacedock_s3::SpaceRef::new(&b.client, &b.endpoint, &b.from);
    let mut ended = Vec::new();
    let mut files: HashMap<u32, (CopyFile, bool, Vec<String>)> = HashMap::new();
    let mut planned = Vec::new();
    for (f, renamed, notes) in waiting {
        if f.etag.is_empty() {
            let error = kept(&f, "the server gave no tag to tell its version by".into());
            ended.push((f, Outcome::CopiedOnly { error, renamed }));
            continue;
        }
        planned.push((f.id, f.from.clone(), Some(f.etag.clone())));
        files.insert(f.id, (f, renamed, notes));
    }
    let mut report = |removed: Vec<(u32, String, Removed)>| {
        for (id, _, how) in removed {
            let Some((f, renamed, notes)) = files.remove(&id) else {
                continue;
            };
            let outcome = match how {
                // Gone already (removed by someone else): nothing is left in two places.
                Removed::Deleted | Removed::Gone => Outcome::Done { renamed, notes },
                Removed::Changed => {
                    let why = format!(
                        "“{}” changed after it was copied (the copy holds the version from before)",
                        f.from
                    );
                    let error = kept(&f, why);
                    Outcome::CopiedOnly { error, renamed }
                }
                Removed::Refused(why) => {
                    let error = not_removed(&f, why);
                    Outcome::CopiedOnly { error, renamed }
                }
            };
            ended.push((f, outcome));
        }
    };
    let never = || false;
    let result = match planned.len() < LISTED_FROM {
        true => remove_looked(&at, planned, &never, &mut report).await,
        false => {
            let folder = common_folder(planned.iter().map(|(_, key, _)| key.as_str()));
            remove_listed(&at, &folder, planned, &never, &mut report).await
        }
    };
    if let Err(e) = result {
        for (_, (f, renamed, _)) in files.drain() {
            let error = not_removed(&f, e.to_string());
            ended.push((f, Outcome::CopiedOnly { error, renamed }));
        }
    }
    ended
}

/// A move's original left where it is, and why.
fn kept(f: &CopyFile, why: String) -> Error {
    Error::FileChanged(format!(
        "It was copied to “{}”, but {why}, so the original was left where it is.",
        f.to
    ))
}

/// A move's original the server would not remove, and why.
fn not_removed(f: &CopyFile, why: impl std::fmt::Display) -> Error {
    Error::FileChanged(format!(
        "It was copied to “{}”, but the original could not be removed: {why}",
        f.to
    ))
}

/// The deepest folder every key is in (“” for the top of the Space).
fn common_folder<'a>(mut keys: impl Iterator<Item = &'a str>) -> String {
    let Some(first) = keys.next() else {
        return String::new();
    };
    let mut common = first.len();
    for k in keys {
        common = first
            .bytes()
            .zip(k.bytes())
            .take(common)
            .take_while(|(a, b)| a == b)
            .count();
    }
    let shared = &first.as_bytes()[..common];
    match shared.iter().rposition(|c| *c == b'/') {
        Some(slash) => first[..=slash].to_string(),
        None => String::new(),
    }
}

/// A file that failed: told to the page and kept in the summary.
fn failed_in(
    summary: &mut CopySummary,
    events: &(dyn Fn(TransferEvent) + Send + Sync),
    mode: CopyMode,
    file: &CopyFile,
    e: Error,
) {
    events(TransferEvent {
        id: file.id,
        bytes: 0,
        state: FileState::Failed {
            kind: e.kind(),
            message: e.to_string(),
        },
    });
    summary.problems.push(Problem {
        path: file.from.clone(),
        message: format!("{}: {e}", mode.not_done()),
    });
}

async fn one_file(
    s: &Shared<'_>,
    file: &mut CopyFile,
    cancel: &Cancel,
    events: &(dyn Fn(TransferEvent) + Send + Sync),
) -> Outcome {
    if cancel.is_set() {
        return Outcome::Cancelled;
    }
    let mut renamed = false;
    let mut notes = Vec::new();
    if s.settings.resumed && !file.copied {
        match copy_there(s, file).await {
            Ok(Some(etag)) => {
                file.copied = true;
                file.copy_etag = Some(etag);
                (s.note)(file, false);
            }
            Ok(None) => {}
            Err(e) => return Outcome::Failed(e),
        }
    }
    let retried = file.copied;
    if !file.copied {
        let planned_to = file.to.clone();
        let over = match settle(s, file).await {
            Ok(Settled::Copy(over)) => Some(over),
            Ok(Settled::Skip) => return Outcome::Skipped,
            // A folder that is there already is merged into: its marker needs no copy.
            Ok(Settled::FolderThere) => None,
            Err(e) => return Outcome::Failed(e),
        };
        renamed = file.to != planned_to;
        if renamed {
            // On disk before the copy: a resume never gives the file yet another name.
            (s.note)(file, true);
        }
        let id = file.id;
        let progress = |bytes| {
            events(TransferEvent {
                id,
                bytes,
                state: FileState::Running,
            })
        };
        progress(0);
        // Stopped while its new name was looked at: nothing is written.
        if cancel.is_set() {
            return Outcome::Cancelled;
        }
        if let Some(over) = over {
            match copy_file(s, file, &over, cancel, &progress).await {
                Ok((left, etag)) => {
                    notes = left;
                    file.copy_etag = etag;
                }
                Err(Error::Cancelled(_)) => return Outcome::Cancelled,
                Err(e) if cancel.is_set() => {
                    let _ = e;
                    return Outcome::Cancelled;
                }
                Err(e) => return Outcome::Failed(e),
            }
        }
        file.copied = true;
        // A copy in parts has an ETag of its own: only the note tells it from another file.
        (s.note)(file, file.size > s.settings.single_limit);
    }
    if s.mode == CopyMode::Move {
        if retried {
            // Copied in an earlier run: the copy must still be the one made, or removing the
            // original would leave none.
            let now = etag_now(&s.target, &file.to).await;
            let bare = |e: &str| e.trim_matches('"').to_string();
            let same =
                matches!(&now, Ok(Some(e)) if Some(bare(e)) == file.copy_etag.as_deref().map(bare));
            if !same {
                let error = Error::FileChanged(format!(
                    "Its copy at “{}” is no longer the one made (it changed or went), so the original was left where it is.",
                    file.to
                ));
                return Outcome::CopiedOnly { error, renamed };
            }
        }
        if !retried {
            return Outcome::Copied { renamed, notes };
        }
        if let Err(error) = remove_original(s.b, file).await {
            return Outcome::CopiedOnly { error, renamed };
        }
    }
    Outcome::Done { renamed, notes }
}

/// In a resumed batch: whether the new key already holds this file's copy, made before the app
/// stopped (its note lost). It does if it holds the planned version's bytes (the same ETag, or
/// the same stored MD5 and size) and did not when the copy was planned. Returns its ETag then.
async fn copy_there(s: &Shared<'_>, f: &CopyFile) -> Result<Option<String>> {
    let Some(now) = crate::head_now(&s.target, &f.to).await? else {
        return Ok(None);
    };
    let bare = |e: &str| e.trim_matches('"').to_string();
    if s.existing.get(&f.to).map(|e| bare(e)) == Some(bare(&now.etag)) {
        // There at the plan already: not a copy this batch made.
        return Ok(None);
    }
    if !f.etag.is_empty() && bare(&now.etag) == bare(&f.etag) {
        return Ok(Some(now.etag));
    }
    if f.version.is_some() {
        // The file's current version is not what was copied: only the ETag tells.
        return Ok(None);
    }
    let source = Target::plain(&s.b.client, &s.b.endpoint, &s.b.from);
    let original = crate::head_now(&source, &f.from).await?;
    let same = match (&original, &now.md5) {
        (Some(o), Some(md5)) => o.md5.as_ref() == Some(md5) && o.size == now.size,
        _ => false,
    };
    Ok(same.then_some(now.etag))
}

/// What to do with a file's new key, looked at right before the copy.
enum Settled {
    /// Copy, over what the new key holds now: nothing, or the version with this ETag.
    Copy(Option<String>),
    Skip,
    FolderThere,
}

/// Looks at the new key right before the copy. Free: copied. Taken as it was at the plan:
/// replaced if the choice is Overwrite. Taken otherwise (changed since, or new): never
/// replaced; Skip skips it, Keep both finds another free name, Overwrite reports it.
async fn settle(s: &Shared<'_>, f: &mut CopyFile) -> Result<Settled> {
    let now = etag_now(&s.target, &f.to).await?;
    let Some(now) = now else {
        if s.mode == CopyMode::Restore && s.existing.contains_key(&f.to) {
            // Deleted since: a restore does not bring it back unasked (with the version's
            // permission, which may not be the one it had).
            return Err(Error::FileChanged(format!(
                "“{}” was deleted after the restore was planned, so nothing was restored.",
                f.to
            )));
        }
        return Ok(Settled::Copy(None));
    };
    // A folder that is there already takes the copied folder's files: nothing to rename.
    if f.is_folder_marker() {
        return Ok(Settled::FolderThere);
    }
    let planned = s.existing.get(&f.to);
    match s.conflict {
        Conflict::Skip => Ok(Settled::Skip),
        Conflict::KeepBoth => {
            f.to = free_key(&s.target, &f.to, &s.taken).await?;
            Ok(Settled::Copy(None))
        }
        Conflict::Overwrite if planned == Some(&now) => Ok(Settled::Copy(Some(now))),
        Conflict::Overwrite => Err(Error::FileChanged(match planned {
            Some(_) => format!(
                "“{}” changed after the copy was planned, so it was not replaced. Try again to see it.",
                f.to
            ),
            None => format!(
                "“{}” appeared after the copy was planned, so it was not replaced. Try again to see it.",
                f.to
            ),
        })),
    }
}

/// The canonical id of the key's user, which owns the copies it makes (None if the key may not
/// list Spaces: then every grant to a user is left behind, and said so).
async fn copier(b: &Between) -> Option<String> {
    let out = b.client.list_buckets().send().await.ok()?;
    out.owner().and_then(|o| o.id()).map(str::to_string)
}

/// Copies one file, over what its new key held when looked at (`over`: nothing, or that ETag):
/// one request up to the single-copy limit, parts beyond it. Returns notes on grants that were
/// not carried into another Space, and the copy's ETag.
async fn copy_file(
    s: &Shared<'_>,
    f: &CopyFile,
    over: &Option<String>,
    cancel: &Cancel,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<(Vec<String>, Option<String>)> {
    let b = s.b;
    let ctx = Context::space(&b.endpoint, &b.from);
    // A copy is a new object, private unless told: the original's grants go with it (within
    // a Space, exactly; into another, only what means the same there). A version put back
    // keeps the permission the file has now (or, if it reads as deleted, the version's own).
    let (key, version) = match (s.mode, over) {
        (CopyMode::Restore, Some(_)) => (&f.to, None),
        _ => (&f.from, f.version.as_deref()),
    };
    let acl = acl_of(
        &b.client,
        &b.endpoint,
        &b.from,
        key,
        version,
        "it was not copied",
    )
    .await
    .map_err(|e| changed(e, f))?;
    let (permission, notes) = match b.same_space() {
        true => (Permission::Exact(acl.exact()), Vec::new()),
        false => {
            let (canned, left) = acl.for_another_space(s.copier.as_deref());
            let notes = match left.is_empty() {
                true => Vec::new(),
                false => vec![format!(
                    "Copied without these grants of the original, which would reach into “{}”: {}.",
                    b.to,
                    left.join("; ")
                )],
            };
            (Permission::Canned(canned), notes)
        }
    };
    let source = match &f.version {
        Some(v) => format!(
            "{}/{}?versionId={}",
            b.from,
            encode_key(&f.from),
            encode_key(v)
        ),
        None => format!("{}/{}", b.from, encode_key(&f.from)),
    };
    if f.size <= s.settings.single_limit {
        let copy = (b.client.copy_object())
            .bucket(&b.to)
            .key(&f.to)
            .copy_source(&source)
            .metadata_directive(MetadataDirective::Copy)
            .set_copy_source_if_match((!f.etag.is_empty()).then(|| f.etag.clone()))
            // Onto a key that was free only if it still is, where the server honours that.
            .set_if_none_match(over.is_none().then(|| "*".to_string()));
        let copy = match permission {
            Permission::Exact(grants) => grants.on_copy(copy),
            Permission::Canned(canned) => copy.acl(canned),
        };
        let etag = f.etag.clone();
        let copied = copy
            .customize()
            .config_override(crate::s3::moving_bytes())
            .mutate_request(move |r| same_version_for_rgw(r, &etag))
            .send()
            .await
            .map_err(|e| map_error(e, ctx));
        let copied = match copied {
            // Refused on a condition: the original's (changed since the plan) or, where the
            // server honours it, the new name's (taken since looked at). A look tells which.
            Err(Error::Server { code, .. })
                if code == S3Code::PreconditionFailed
                    && over.is_none()
                    && unchanged(b, f).await =>
            {
                return Err(taken_meanwhile(f));
            }
            other => other.map_err(|e| changed(e, f))?,
        };
        progress(f.size);
        let made = (copied.copy_object_result())
            .and_then(|r| r.e_tag())
            .map(str::to_string);
        // A copy of a file stored in one piece holds the same bytes, so the same MD5.
        let plain = |e: &str| {
            matches!(
                crate::integrity::known(e, None),
                crate::integrity::Known::Md5(_)
            )
        };
        if let Some(made) = &made {
            if plain(made)
                && plain(&f.etag)
                && crate::integrity::bare(made) != crate::integrity::bare(&f.etag)
            {
                return Err(Error::BadAnswer(format!(
                    "The copy of “{}” at “{}” holds other bytes than the original (their checksums differ).",
                    f.from, f.to
                )));
            }
        }
        return Ok((notes, made));
    }
    let made = copy_in_parts(s, f, over, &source, permission, cancel, progress).await?;
    Ok((notes, made))
}

/// A copy refused because its new key was taken after it was looked at.
fn taken_meanwhile(f: &CopyFile) -> Error {
    Error::FileChanged(format!(
        "A file named “{}” came there while the copy ran, so it was not replaced. Try again to see it.",
        f.to
    ))
}

/// The permission a copy is made with.
enum Permission {
    Exact(crate::objects::Grants),
    Canned(aws_sdk_s3::types::ObjectCannedAcl),
}

/// A file over the single-copy limit: a multipart upload whose parts are ranges copied on the
/// server, aborted if any part fails or the copy is cancelled (no parts are left to be billed),
/// and noted while it runs, so a quit or a crash leaves none unseen.
async fn copy_in_parts(
    s: &Shared<'_>,
    f: &CopyFile,
    over: &Option<String>,
    source: &str,
    permission: Permission,
    cancel: &Cancel,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Option<String>> {
    let b = s.b;
    let (from_ctx, to_ctx) = (
        Context::space(&b.endpoint, &b.from),
        Context::space(&b.endpoint, &b.to),
    );
    // The metadata a single copy would carry over by itself is set on the new upload. (Each
    // part is of the planned version: if the file changed, they are refused and all aborted.)
    let head = (b.client.head_object())
        .bucket(&b.from)
        .key(&f.from)
        .set_version_id(f.version.clone())
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
    let create = match permission {
        Permission::Exact(grants) => grants.on_upload(create),
        Permission::Canned(canned) => create.acl(canned),
    };
    let created = create.send().await.map_err(|e| map_error(e, to_ctx))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| Error::BadAnswer("a multipart copy began without an id".into()))?
        .to_string();
    if let Some(record) = &b.unfinished {
        // Noted with no file to resume from: the next start aborts it if this one can't.
        record.add(UnfinishedUpload {
            endpoint: b.endpoint.clone(),
            space: b.to.clone(),
            key: f.to.clone(),
            upload_id: upload_id.clone(),
            source: None,
            expect: Default::default(),
        });
    }
    let parts = match copy_parts(s, f, source, &upload_id, cancel, progress).await {
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
    // The parts took a while: the new key must still hold what it held when looked at.
    let parts = match parts {
        Ok(parts) => match etag_now(&s.target, &f.to).await {
            Ok(now) if now == *over => Ok(parts),
            Ok(_) => Err(taken_meanwhile(f)),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
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
                .set_if_none_match(over.is_none().then(|| "*".to_string()))
                .customize()
                .config_override(crate::s3::moving_bytes())
                .send()
                .await
                .map(|out| out.e_tag().map(str::to_string))
                .map_err(|e| match map_error(e, to_ctx) {
                    Error::Server {
                        code: S3Code::PreconditionFailed,
                        ..
                    } => taken_meanwhile(f),
                    e => e,
                })
        }
        Err(e) => Err(e),
    };
    let settled = match completed {
        Ok(_) => true,
        // An abort that did not take leaves it noted, for the next start to abort.
        Err(_) => {
            let abort = crate::unfinished::abort_one(&b.client, &b.to, &f.to, &upload_id);
            abort.await.is_ok()
        }
    };
    if let Some(record) = b.unfinished.as_ref() {
        match settled {
            true => record.remove(&upload_id),
            false => record.release(&upload_id),
        }
    }
    completed
}

/// Copies the parts of one file, four at once, each of the planned version.
async fn copy_parts(
    s: &Shared<'_>,
    f: &CopyFile,
    source: &str,
    upload_id: &str,
    cancel: &Cancel,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Vec<CompletedPart>> {
    let b = s.b;
    let mib = 1u64 << 20;
    let part = s.settings.part_size.max(f.size.div_ceil(10_000));
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
        let copy = copy.customize().config_override(crate::s3::moving_bytes());
        let copy = copy.mutate_request(move |r| {
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
    match head.set_version_id(f.version.clone()).send().await {
        Ok(h) => f.etag.is_empty() || h.e_tag() == Some(f.etag.as_str()),
        Err(_) => false,
    }
}

/// A copy refused because the file is not the version planned says so.
fn changed(e: Error, f: &CopyFile) -> Error {
    match e {
        Error::Server {
            code: S3Code::PreconditionFailed,
            ..
        } => Error::FileChanged(format!(
            "“{}” changed after the copy was planned, so it was left as it is. Try again.",
            f.from
        )),
        Error::Server {
            code: S3Code::NoSuchKey,
            ..
        } => Error::Gone(format!("“{}” is no longer there.", f.from)),
        other => other,
    }
}

/// Removes a moved file's original, right after its copy: only if it is still the version
/// that was copied (looked at just before, and asked of the server with `If-Match` where it
/// honours that). On a versioned Space the delete leaves a marker, so even a change in the last
/// instant stays as a version.
async fn remove_original(b: &Between, f: &CopyFile) -> Result<()> {
    let ctx = Context::space(&b.endpoint, &b.from);
    let from = Target::plain(&b.client, &b.endpoint, &b.from);
    match etag_now(&from, &f.from).await? {
        // Gone already (removed by someone else): nothing is left in two places.
        None => return Ok(()),
        Some(_) if f.etag.is_empty() => {
            return Err(kept(
                f,
                "the server gave no tag to tell its version by".into(),
            ))
        }
        Some(now) if now != f.etag => {
            return Err(kept(
                f,
                format!(
                    "“{}” changed after it was copied (the copy holds the version from before)",
                    f.from
                ),
            ))
        }
        Some(_) => {}
    }
    (b.client.delete_object())
        .bucket(&b.from)
        .key(&f.from)
        .if_match(&f.etag)
        .send()
        .await
        .map_err(|e| match map_error(e, ctx) {
            Error::Server {
                code: S3Code::PreconditionFailed,
                ..
            } => Error::FileChanged(
                format!(
                    "It was copied to “{}”, but “{}” changed after it was copied, so the original was left where it is.",
                    f.to, f.from
                ),
            ),
            e => not_removed(f, e),
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::common_folder;

    #[test]
    fn the_common_folder_is_cut_at_a_slash() {
        let folder = |keys: &[&str]| common_folder(keys.iter().copied());
        assert_eq!(folder(&["docs/a.txt", "docs/sub/b.txt"]), "docs/");
        assert_eq!(folder(&["docs/ab.txt", "docs/ac.txt"]), "docs/");
        assert_eq!(folder(&["docs/a.txt", "dogs/b.txt"]), "");
        assert_eq!(folder(&["a/b/c.txt"]), "a/b/");
        assert_eq!(folder(&["top.txt", "a/b.txt"]), "");
        assert_eq!(folder(&["é/x", "é/y"]), "é/");
        assert_eq!(folder(&[]), "");
    }
}
