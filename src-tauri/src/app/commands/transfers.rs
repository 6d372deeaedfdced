//! Commands of the transfer queue: plan an upload from dropped or picked paths, run it with
//! progress per file, cancel one file or all, retry the failed ones.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;
use ts_rs::TS;

use crate::app::error::Result;
use crate::app::state::AppState;
use crate::core::browse;
use crate::core::transfer::{
    self, Cancel, Conflict, FileAcl, FileState, PlannedFile, Problem, QueuedFile, Settings, Target,
    TransferEvent,
};
use crate::core::Error;

/// An upload waiting to run (or to run again), kept on the Rust side: the page holds only ids.
pub struct Batch {
    target: Target,
    files: Vec<(u32, PlannedFile)>,
    existing: HashSet<String>,
    empty_folders: Vec<String>,
    cancels: HashMap<u32, Cancel>,
    all: Arc<AtomicBool>,
    /// The choice made when the batch first ran: a retry keeps it.
    conflict: Option<Conflict>,
}

impl Batch {
    /// Stops every file of the batch (at quit: multipart uploads are aborted, not left behind).
    pub fn cancel_all(&self) {
        self.all.store(true, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlannedUpload {
    pub id: u32,
    pub key: String,
    pub size: u64,
    /// A file with this key is already in the Space.
    pub exists: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct UploadPlan {
    pub batch: u32,
    pub files: Vec<PlannedUpload>,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct UploadSummary {
    pub done: u32,
    pub failed: u32,
    pub cancelled: u32,
    pub skipped: u32,
    /// Empty folders that could not be made, each with why.
    pub problems: Vec<Problem>,
}

#[tauri::command]
pub async fn plan_upload(
    state: State<'_, AppState>,
    space: String,
    region: Option<String>,
    prefix: String,
    paths: Vec<String>,
) -> Result<UploadPlan> {
    browse::check_prefix(&prefix)?;
    let active = state.active().await?;
    let region = region.unwrap_or_else(|| active.profile.provider.region_label());
    let (client, endpoint) = active.client_for_space(&space, &region)?;
    let target = Target {
        client,
        endpoint: endpoint.url,
        space,
        unfinished: Some(state.unfinished.clone()),
    };
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    let prefix_for_plan = prefix.clone();
    let plan = tokio::task::spawn_blocking(move || transfer::plan(&paths, &prefix_for_plan))
        .await
        .map_err(|e| Error::Io(format!("Reading the dropped files failed: {e}")))?;
    let keys: Vec<String> = plan.files.iter().map(|f| f.key.clone()).collect();
    let existing = transfer::existing_keys(&target, &keys, &prefix).await?;
    let batch = state.next_batch.fetch_add(1, Ordering::Relaxed);
    let files: Vec<(u32, PlannedFile)> = plan
        .files
        .into_iter()
        .enumerate()
        .map(|(i, f)| (i as u32, f))
        .collect();
    let answer = UploadPlan {
        batch,
        files: files
            .iter()
            .map(|(id, f)| PlannedUpload {
                id: *id,
                key: f.key.clone(),
                size: f.size,
                exists: existing.contains(&f.key),
            })
            .collect(),
        problems: plan.problems,
    };
    if let Ok(mut uploads) = state.uploads.lock() {
        uploads.insert(
            batch,
            Batch {
                target,
                files,
                existing,
                empty_folders: plan.empty_folders,
                cancels: HashMap::new(),
                all: Arc::new(AtomicBool::new(false)),
                conflict: None,
            },
        );
    }
    Ok(answer)
}

/// Runs a planned batch (or, with `ids`, only those files again). Events go to `on_event`.
#[tauri::command]
pub async fn start_upload(
    state: State<'_, AppState>,
    batch: u32,
    acl: FileAcl,
    conflict: Conflict,
    ids: Option<Vec<u32>>,
    on_event: Channel<TransferEvent>,
) -> Result<UploadSummary> {
    let (target, mut queued, skipped, empty_folders, conflict) = {
        let mut uploads = state
            .uploads
            .lock()
            .map_err(|_| Error::Io("The transfer queue is unavailable.".into()))?;
        let b = uploads
            .get_mut(&batch)
            .ok_or_else(|| Error::InvalidInput("That upload is no longer in the queue.".into()))?;
        b.all.store(false, Ordering::Relaxed);
        // A retry keeps the batch's first choice: a Skip or Keep both batch never overwrites.
        let conflict = *b.conflict.get_or_insert(conflict);
        let wanted: Option<HashSet<u32>> = ids.map(|v| v.into_iter().collect());
        let mut queued = Vec::new();
        let mut skipped = Vec::new();
        for (id, file) in &b.files {
            if wanted.as_ref().is_some_and(|w| !w.contains(id)) {
                continue;
            }
            if b.existing.contains(&file.key) && conflict == Conflict::Skip {
                skipped.push(*id);
                continue;
            }
            let cancel = Cancel {
                file: Arc::new(AtomicBool::new(false)),
                all: b.all.clone(),
            };
            b.cancels.insert(*id, cancel.clone());
            queued.push(QueuedFile {
                id: *id,
                file: file.clone(),
                cancel,
            });
        }
        let empty_folders = if wanted.is_none() {
            std::mem::take(&mut b.empty_folders)
        } else {
            Vec::new()
        };
        let existing: Vec<bool> = queued
            .iter()
            .map(|q| b.existing.contains(&q.file.key))
            .collect();
        (
            b.target.clone(),
            queued.into_iter().zip(existing).collect::<Vec<_>>(),
            skipped,
            empty_folders,
            conflict,
        )
    };
    // Keep both: a name free on the server, not only in this batch.
    if conflict == Conflict::KeepBoth {
        let mut taken: HashSet<String> = queued.iter().map(|(q, _)| q.file.key.clone()).collect();
        for (q, exists) in queued.iter_mut().filter(|(_, exists)| *exists) {
            q.file.key = transfer::free_key(&target, &q.file.key, &taken).await?;
            taken.insert(q.file.key.clone());
            *exists = false;
        }
    }
    let queued: Vec<QueuedFile> = queued.into_iter().map(|(q, _)| q).collect();
    for id in &skipped {
        let _ = on_event.send(TransferEvent {
            id: *id,
            bytes: 0,
            state: FileState::Skipped,
        });
    }
    // An empty folder that can't be made is reported; the files go on.
    let mut problems = Vec::new();
    for key in empty_folders {
        let trimmed = key.trim_end_matches('/');
        let (parent, name) = match trimmed.rsplit_once('/') {
            Some((p, n)) => (format!("{p}/"), n),
            None => (String::new(), trimmed),
        };
        if let Err(e) = browse::create_folder(
            &target.client,
            &target.endpoint,
            &target.space,
            &parent,
            name,
        )
        .await
        {
            problems.push(Problem {
                path: key.clone(),
                message: format!("The empty folder was not made: {e}"),
            });
        }
    }
    let count = queued.len();
    let space = target.space.clone();
    let events = on_event.clone();
    let summary = transfer::upload_all(
        target,
        queued,
        acl,
        Settings::default(),
        Arc::new(move |e| {
            let _ = events.send(e);
        }),
    )
    .await;
    state.journal.write(format!(
        "uploaded to “{space}”: {} of {count} files done, {} failed, {} cancelled, {} skipped",
        summary.done,
        summary.failed,
        summary.cancelled,
        skipped.len()
    ));
    // A batch with nothing left to retry is done with: it is freed.
    if summary.failed == 0 && summary.cancelled == 0 {
        if let Ok(mut uploads) = state.uploads.lock() {
            uploads.remove(&batch);
        }
    }
    Ok(UploadSummary {
        done: summary.done,
        failed: summary.failed,
        cancelled: summary.cancelled,
        skipped: skipped.len() as u32,
        problems,
    })
}

/// Cancels one file of a batch, or (without `id`) all of it. A multipart upload is aborted on
/// the server.
#[tauri::command]
pub fn cancel_upload(state: State<'_, AppState>, batch: u32, id: Option<u32>) {
    if let Ok(uploads) = state.uploads.lock() {
        if let Some(b) = uploads.get(&batch) {
            match id {
                Some(id) => {
                    if let Some(c) = b.cancels.get(&id) {
                        c.file.store(true, Ordering::Relaxed);
                    }
                }
                None => b.all.store(true, Ordering::Relaxed),
            }
        }
    }
}

/// Lets the user choose files (or one folder) to upload, with the system's own dialog.
#[tauri::command]
pub async fn pick_upload_paths<R: Runtime>(app: AppHandle<R>, folder: bool) -> Result<Vec<String>> {
    let dialog = app.dialog().file().set_title(if folder {
        "Upload a folder"
    } else {
        "Upload files"
    });
    let picked = tauri::async_runtime::spawn_blocking(move || {
        if folder {
            dialog.blocking_pick_folder().map(|p| vec![p])
        } else {
            dialog.blocking_pick_files()
        }
    })
    .await
    .map_err(|e| Error::Io(format!("The file dialog failed: {e}")))?;
    Ok(picked
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.into_path().ok())
        .map(|p| p.to_string_lossy().to_string())
        .collect())
}
