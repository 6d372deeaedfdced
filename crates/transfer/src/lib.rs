//! The transfer engine: every byte Spacedock moves, between this computer and a Space or from
//! one name to another on the server. Planned, run with progress per file, paced, noted on disk
//! so an interrupted big file resumes, and guarded so nothing is replaced or removed that was not
//! planned.

pub mod adapt;
pub mod cancel;
pub mod copy;
pub mod download;
pub mod integrity;
pub mod journal;
pub mod local;
pub mod pace;
pub mod plan;
pub mod queue;
mod ranged;
pub mod remove;
pub mod resume;
pub mod sync;
pub mod unfinished;
pub mod upload;

// The layers below under the names the modules use.
pub(crate) use spacedock_common::{disk, error};
pub(crate) use spacedock_s3::client as s3;
pub(crate) use spacedock_s3::{listing, objects, urls};

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use cancel::Cancel;
pub use plan::{plan, Plan, PlannedFile, Problem};
pub use upload::{upload_file, FileAcl, Settings, Target};

use crate::error::{Error, ErrorKind};

/// What to do with files that are already there, for a whole batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Conflict {
    Overwrite,
    Skip,
    /// Keep the file that is there, and save the new one under a numbered name that is free.
    KeepBoth,
}

/// Where one file of the queue stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(
    tag = "state",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum FileState {
    Queued,
    /// Bytes go up (or come down).
    Running,
    Done,
    Failed {
        kind: ErrorKind,
        message: String,
    },
    Cancelled,
    /// Not moved: a file of that name was there and the user chose to skip.
    Skipped,
}

/// A change in one file of the queue.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TransferEvent {
    pub id: u32,
    /// Bytes moved so far.
    pub bytes: u64,
    pub state: FileState,
}

/// One file of a batch, with its own cancel switch.
pub struct QueuedFile {
    pub id: u32,
    pub file: PlannedFile,
    pub cancel: Cancel,
    /// What its key must hold when it is written: it replaces only what was planned.
    pub expect: Expect,
}

/// What a key must hold for an upload to write it, as the plan saw it: anything that came or
/// changed there since is never replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Expect {
    /// No condition (a resume, or a caller that checked itself).
    #[default]
    Anything,
    /// Nothing: the key was free.
    Absent,
    /// The version with this ETag: the user chose to replace it.
    Etag(String),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub done: u32,
    pub failed: u32,
    pub cancelled: u32,
}

/// A file the server still refused with Slow Down after the SDK's retries is tried this many
/// more times, each after a longer pause and with fewer requests in flight.
pub(crate) const SLOW_DOWN_TRIES: u32 = 4;

/// Runs a request again while the server, after the SDK's own retries, still says Slow Down:
/// SLOW_DOWN_TRIES more times, each after a longer pause.
pub(crate) async fn patient<T, F: std::future::Future<Output = Result<T, Error>>>(
    mut attempt: impl FnMut() -> F,
) -> Result<T, Error> {
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(Error::SlowDown) if tries < SLOW_DOWN_TRIES => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(250 << tries)).await;
            }
            done => return done,
        }
    }
}

/// Uploads `files`, several at once, reporting every change to `events`. One file's failure
/// never stops the others.
pub async fn upload_all(
    target: Target,
    files: Vec<QueuedFile>,
    acl: FileAcl,
    settings: Settings,
    events: Arc<dyn Fn(TransferEvent) + Send + Sync>,
) -> Summary {
    // Files that must replace only what was planned need to know how the Space judges that.
    if files.iter().any(|f| f.expect != Expect::Anything) {
        upload::learn_versioning(&target).await;
    }
    let budget = adapt::Window::new(
        settings.requests_in_flight / 4,
        1,
        settings.requests_in_flight,
    );
    let mut summary = Summary::default();
    let mut tasks = tokio::task::JoinSet::new();
    let mut queue = files.into_iter().peekable();
    // Small files are read whole before they are sent: their bytes in flight are bounded.
    let held_by = |f: &PlannedFile| match f.size < settings.multipart_threshold {
        true => f.size,
        false => 0,
    };
    let mut held = 0u64;
    loop {
        while tasks.len()
            < settings
                .requests_in_flight
                .min(settings.files_at_once.max(1))
        {
            let Some(next) = queue.peek() else { break };
            let holds = held_by(&next.file);
            if !tasks.is_empty() && held + holds > settings.memory {
                break;
            }
            let Some(item) = queue.next() else { break };
            held += holds;
            let (target, budget, events) = (target.clone(), budget.clone(), events.clone());
            tasks.spawn(async move {
                let QueuedFile {
                    id,
                    file,
                    cancel,
                    expect,
                } = item;
                if cancel.is_set() {
                    events(TransferEvent {
                        id,
                        bytes: 0,
                        state: FileState::Cancelled,
                    });
                    return (FileState::Cancelled, holds);
                }
                events(TransferEvent {
                    id,
                    bytes: 0,
                    state: FileState::Running,
                });
                let report = {
                    let events = events.clone();
                    move |bytes| {
                        events(TransferEvent {
                            id,
                            bytes,
                            state: FileState::Running,
                        })
                    }
                };
                // Still busy after the SDK's own retries: again, once fewer are in flight.
                let uploaded = patient(|| {
                    upload_file(
                        &target, &file, &expect, acl, settings, &budget, &cancel, &report,
                    )
                })
                .await;
                let state = match uploaded {
                    Ok(()) => FileState::Done,
                    Err(Error::Cancelled(_)) => FileState::Cancelled,
                    Err(e) if cancel.is_set() => {
                        let _ = e;
                        FileState::Cancelled
                    }
                    Err(e) => FileState::Failed {
                        kind: e.kind(),
                        message: e.to_string(),
                    },
                };
                let bytes = if state == FileState::Done {
                    file.size
                } else {
                    0
                };
                events(TransferEvent {
                    id,
                    bytes,
                    state: state.clone(),
                });
                (state, holds)
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let state = match joined {
            Ok((state, holds)) => {
                held -= holds;
                state
            }
            // A task that panicked: its bytes are gone with it.
            Err(e) => FileState::Failed {
                kind: ErrorKind::Internal,
                message: Error::Internal(format!("an upload stopped: {e}")).to_string(),
            },
        };
        match state {
            FileState::Done => summary.done += 1,
            FileState::Cancelled => summary.cancelled += 1,
            _ => summary.failed += 1,
        }
    }
    summary
}

/// Keys among `keys` that already exist in the Space, each with its ETag then (an overwrite
/// replaces only that version), found by listing under each dropped item's top-level path
/// rather than asking once per file.
pub async fn existing_keys(
    target: &Target,
    keys: &[String],
    prefix: &str,
) -> Result<std::collections::HashMap<String, String>, Error> {
    use std::collections::{BTreeSet, HashMap, HashSet};
    let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let roots: BTreeSet<String> = keys
        .iter()
        .map(|k| {
            let rest = k.strip_prefix(prefix).unwrap_or(k);
            match rest.split_once('/') {
                Some((top, _)) => format!("{prefix}{top}/"),
                None => k.clone(),
            }
        })
        .collect();
    let ctx = crate::s3::Context::space(&target.endpoint, &target.space);
    let mut found = HashMap::new();
    for root in roots {
        let listed = crate::listing::keys_below(&target.client, ctx, &target.space, &root).await?;
        for o in listed {
            if let Some(k) = o.key().filter(|k| wanted.contains(k)) {
                found.insert(k.to_string(), o.e_tag().unwrap_or_default().to_string());
            }
        }
    }
    Ok(found)
}

/// What a HEAD tells of a file: enough to know its bytes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub etag: String,
    pub size: u64,
    /// The whole file's MD5 as stored with it (`x-amz-meta-md5chksum`, base64), if any.
    pub md5: Option<String>,
}

/// `key` in the Space now, or None when there is no such file.
pub async fn head_now(target: &Target, key: &str) -> Result<Option<Head>, Error> {
    let head = (target.client.head_object())
        .bucket(&target.space)
        .key(key)
        .send()
        .await;
    match head {
        Ok(h) => Ok(Some(Head {
            etag: h.e_tag().unwrap_or_default().to_string(),
            size: h.content_length().unwrap_or(0).max(0) as u64,
            md5: integrity::stored_md5(h.metadata()),
        })),
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => Ok(None),
        Err(e) => Err(crate::s3::map_error(
            e,
            crate::s3::Context::space(&target.endpoint, &target.space),
        )),
    }
}

/// The ETag of `key` in the Space now, or None when there is no such file.
pub async fn etag_now(target: &Target, key: &str) -> Result<Option<String>, Error> {
    let head = (target.client.head_object())
        .bucket(&target.space)
        .key(key)
        .send()
        .await;
    match head {
        Ok(h) => Ok(Some(h.e_tag().unwrap_or_default().to_string())),
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => Ok(None),
        Err(e) => Err(crate::s3::map_error(
            e,
            crate::s3::Context::space(&target.endpoint, &target.space),
        )),
    }
}

/// A "keep both" name for `key` that is free on the server and not `taken` by this batch:
/// "a.jpg" → "a (1).jpg", "a (2).jpg", … asking the server about each until one is free. The
/// name is claimed in `taken` before the server is asked, so files of one batch looking at the
/// same time never get the same one.
pub async fn free_key(
    target: &Target,
    key: &str,
    taken: &std::sync::Mutex<std::collections::HashSet<String>>,
) -> Result<String, Error> {
    for n in 1..10_000 {
        let candidate = plan::keep_both_key(key, n);
        if !spacedock_common::sync::lock(taken).insert(candidate.clone()) {
            continue;
        }
        if etag_now(target, &candidate).await?.is_none() {
            return Ok(candidate);
        }
    }
    Err(Error::InvalidInput(format!(
        "No free name was found beside “{key}”."
    )))
}
