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
use crate::core::transfer::board::{self, TransferRow, TransfersChanged};
use crate::core::transfer::limits;
use crate::core::transfer::resume::{self, Interrupted, Resumed};
use crate::core::transfer::upload_batch::{self, UploadPlan, UploadSummary};
use crate::core::transfer::{Conflict, FileAcl};

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

/// Runs a planned batch; its files' progress is on the Transfers panel's rows.
#[tauri::command]
pub async fn start_upload(
    state: State<'_, Services>,
    batch: u32,
    acl: FileAcl,
    conflict: Conflict,
) -> Result<UploadSummary> {
    let rows_only = Arc::new(|_| {});
    Ok(upload_batch::start(&state, batch, acl, conflict, None, rows_only).await?)
}

/// Every row of the Transfers panel; from now on each change goes to `on_change`.
#[tauri::command]
pub async fn watch_transfers(
    state: State<'_, Services>,
    on_change: Channel<TransfersChanged>,
) -> Result<Vec<TransferRow>> {
    // Off the main thread: a big queue's rows take a while to copy.
    Ok(board::watch(
        &state,
        Arc::new(move |c| {
            let _ = on_change.send(c);
        }),
    ))
}

/// Cancels one file of a batch, or (without `file`) all of it.
#[tauri::command]
pub fn cancel_transfer(state: State<'_, Services>, batch: u32, file: Option<u32>) {
    board::cancel(&state, batch, file);
}

/// Runs again a batch's files that failed or were cancelled; says how many.
#[tauri::command]
pub async fn retry_transfer(state: State<'_, Services>, batch: u32) -> Result<usize> {
    Ok(board::retry(&state, batch).await?)
}

/// Clears the rows of files that finished; with `batch`, stops it and clears all of it.
#[tauri::command]
pub fn clear_transfers(state: State<'_, Services>, batch: Option<u32>) {
    board::clear(&state, batch);
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
