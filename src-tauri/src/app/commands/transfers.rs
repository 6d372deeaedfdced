//! Commands of the upload queue, and of the transfers an earlier run left unfinished. Each adapts
//! one call of [`crate::core::transfer::upload_batch`] or [`crate::core::transfer::resume`]; files
//! are picked with the system's own dialog.

use std::path::PathBuf;
use std::sync::Arc;

use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use crate::app::error::{AppError, Result};
use crate::core::services::Services;
use crate::core::settings::TransferLimits;
use crate::core::transfer::limits;
use crate::core::transfer::resume::{self, Interrupted, Resumed};
use crate::core::transfer::upload_batch::{self, UploadPlan, UploadSummary};
use crate::core::transfer::{Conflict, FileAcl, TransferEvent};

#[tauri::command]
pub async fn plan_upload(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    prefix: String,
    paths: Vec<String>,
) -> Result<UploadPlan> {
    let paths = paths.into_iter().map(PathBuf::from).collect();
    Ok(upload_batch::plan(&state, &space, region, &prefix, paths).await?)
}

/// Runs a planned batch (or, with `ids`, only those files again). Events go to `on_event`.
#[tauri::command]
pub async fn start_upload(
    state: State<'_, Services>,
    batch: u32,
    acl: FileAcl,
    conflict: Conflict,
    ids: Option<Vec<u32>>,
    on_event: Channel<TransferEvent>,
) -> Result<UploadSummary> {
    let events = Arc::new(move |e| {
        let _ = on_event.send(e);
    });
    Ok(upload_batch::start(&state, batch, acl, conflict, ids, events).await?)
}

/// Cancels one file of a batch, or (without `id`) all of it.
#[tauri::command]
pub fn cancel_upload(state: State<'_, Services>, batch: u32, id: Option<u32>) {
    upload_batch::cancel(&state, batch, id);
}

/// Transfers an earlier run left unfinished (a quit or a crash), to resume or discard.
#[tauri::command]
pub async fn interrupted_transfers(state: State<'_, Services>) -> Result<Vec<Interrupted>> {
    Ok(resume::interrupted(&state).await?)
}

/// Resumes one interrupted transfer; `on_progress` gets the bytes done so far.
#[tauri::command]
pub async fn resume_transfer(
    state: State<'_, Services>,
    id: String,
    on_progress: Channel<u64>,
) -> Result<Resumed> {
    let progress = move |bytes: u64| {
        let _ = on_progress.send(bytes);
    };
    Ok(resume::resume(&state, &id, std::sync::Arc::new(progress)).await?)
}

/// Aborts an interrupted upload on the server, or removes an interrupted download's partial file.
#[tauri::command]
pub async fn discard_transfer(state: State<'_, Services>, id: String) -> Result<()> {
    Ok(resume::discard(&state, &id).await?)
}

/// The bandwidth limits and the most files at once.
#[tauri::command]
pub fn transfer_limits(state: State<'_, Services>) -> TransferLimits {
    limits::get(&state)
}

/// Checks and keeps new transfer limits; the bandwidth ones apply at once.
#[tauri::command]
pub fn set_transfer_limits(
    state: State<'_, Services>,
    limits: TransferLimits,
) -> Result<TransferLimits> {
    Ok(limits::set(&state, limits)?)
}

/// Lets the user choose files (or one folder) to upload, with the system's own dialog.
#[tauri::command]
pub async fn pick_upload_paths<R: Runtime>(app: AppHandle<R>, folder: bool) -> Result<Vec<String>> {
    let title = if folder {
        "Upload a folder"
    } else {
        "Upload files"
    };
    let dialog = app.dialog().file().set_title(title);
    let picked = tauri::async_runtime::spawn_blocking(move || match folder {
        true => dialog.blocking_pick_folder().map(|p| vec![p]),
        false => dialog.blocking_pick_files(),
    })
    .await
    .map_err(|e| AppError::Dialog(e.to_string()))?;
    let paths = picked.unwrap_or_default().into_iter();
    let paths = paths.filter_map(|p| p.into_path().ok());
    Ok(paths.map(|p| p.to_string_lossy().to_string()).collect())
}
