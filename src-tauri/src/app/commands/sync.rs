//! Commands of sync pairs: set up, planned, run with approval, stopped. Each adapts one call of
//! the domain's sync service.

use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use crate::app::error::{AppError, Result};
use crate::core::services::Services;
use crate::core::sync::{self, NewPair, SyncOutcome, SyncPair, SyncPlan, SyncSchedule};

#[tauri::command]
pub fn sync_pairs(state: State<'_, Services>) -> Result<Vec<SyncPair>> {
    Ok(sync::pairs(&state)?)
}

#[tauri::command]
pub async fn add_sync_pair(
    state: State<'_, Services>,
    pair: NewPair,
    region: Option<String>,
) -> Result<SyncPair> {
    Ok(sync::add_pair(&state, pair, region).await?)
}

#[tauri::command]
pub fn remove_sync_pair(state: State<'_, Services>, id: String) -> Result<()> {
    Ok(sync::remove_pair(&state, &id)?)
}

/// Scans both sides and says what a run would do; nothing changes.
#[tauri::command]
pub async fn plan_sync(state: State<'_, Services>, id: String) -> Result<SyncPlan> {
    Ok(sync::plan(&state, &id).await?)
}

/// Runs a plan; one that waits for approval runs only `approved`.
#[tauri::command]
pub async fn run_sync(
    state: State<'_, Services>,
    plan: u32,
    approved: bool,
) -> Result<SyncOutcome> {
    Ok(sync::run(&state, plan, approved).await?)
}

/// When a pair syncs on its own: never, every so many minutes, or when its folder changes.
#[tauri::command]
pub fn set_sync_schedule(
    state: State<'_, Services>,
    id: String,
    schedule: SyncSchedule,
) -> Result<SyncPair> {
    Ok(sync::set_schedule(&state, &id, schedule)?)
}

#[tauri::command]
pub fn stop_sync(state: State<'_, Services>, id: String) {
    sync::stop(&state, &id);
}

/// The system's folder dialog, for the folder of a new pair. None when cancelled.
#[tauri::command]
pub async fn pick_sync_folder<R: Runtime>(app: AppHandle<R>) -> Result<Option<String>> {
    let mut dialog = app.dialog().file().set_title("Folder to sync");
    if let Ok(home) = tauri::Manager::path(&app).home_dir() {
        dialog = dialog.set_directory(home);
    }
    let picked = tauri::async_runtime::spawn_blocking(move || dialog.blocking_pick_folder())
        .await
        .map_err(|e| AppError::Dialog(e.to_string()))?;
    Ok(picked
        .and_then(|p| p.into_path().ok())
        .map(|p| p.to_string_lossy().into_owned()))
}
