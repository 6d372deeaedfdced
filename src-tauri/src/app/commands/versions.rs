//! Commands of versions, undelete and lifecycle rules: what keeps or removes a Space's files
//! over time. Each adapts one call of a domain service.

use tauri::{AppHandle, Runtime, State};

use super::files::pick_folder;
use crate::app::error::Result;
use crate::core::lifecycle::{self, LifecycleRule, SavedRules};
use crate::core::services::Services;
use crate::core::transfer::download_batch::{self, PlannedDownload};
use crate::core::versions::{service, DeletedFile, FileVersion, Restored, Versioning};

#[tauri::command]
pub async fn versioning(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
) -> Result<Versioning> {
    Ok(service::versioning(&state, &space, region).await?)
}

#[tauri::command]
pub async fn set_versioning(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    enabled: bool,
) -> Result<Versioning> {
    Ok(service::set_versioning(&state, &space, region, enabled).await?)
}

#[tauri::command]
pub async fn file_versions(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    key: String,
    request: Option<u32>,
) -> Result<Vec<FileVersion>> {
    Ok(service::file_versions(&state, &space, region, &key, request).await?)
}

/// Puts an old version back. With versioning suspended, the version it would replace for good
/// is replaced only when `for_good` names its ETag (the page asked first).
#[tauri::command]
pub async fn restore_version(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    key: String,
    version_id: String,
    for_good: Option<String>,
    request: Option<u32>,
) -> Result<Restored> {
    let restored = service::restore(
        &state,
        &space,
        region,
        &key,
        &version_id,
        for_good.as_deref(),
        request,
    );
    Ok(restored.await?)
}

#[tauri::command]
pub async fn delete_version(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    key: String,
    version_id: String,
) -> Result<Vec<FileVersion>> {
    Ok(service::delete_version(&state, &space, region, &key, &version_id).await?)
}

#[tauri::command]
pub async fn deleted_files(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    prefix: String,
) -> Result<Vec<DeletedFile>> {
    Ok(service::deleted_files(&state, &space, region, &prefix).await?)
}

#[tauri::command]
pub async fn undelete_files(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    keys: Vec<String>,
) -> Result<u32> {
    Ok(service::undelete(&state, &space, region, &keys).await?)
}

/// Asks for a folder, then plans saving the version there, through the download queue (run it
/// with Keep both). None when the dialog was cancelled.
#[tauri::command]
pub async fn plan_version_download<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    key: String,
    version_id: String,
) -> Result<Option<PlannedDownload>> {
    let Some(folder) = pick_folder(&app).await? else {
        return Ok(None);
    };
    let planned = download_batch::plan_version(&state, &space, region, &key, &version_id, folder);
    Ok(Some(planned.await?))
}

#[tauri::command]
pub async fn lifecycle_rules(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
) -> Result<Vec<LifecycleRule>> {
    Ok(lifecycle::service::rules(&state, &space, region).await?)
}

/// Replaces the Space's lifecycle rules (checked first, and only if the server still has the
/// rules `shown`); returns them as the server has them, with what it did not keep as sent.
#[tauri::command]
pub async fn set_lifecycle_rules(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    shown: Vec<LifecycleRule>,
    rules: Vec<LifecycleRule>,
) -> Result<SavedRules> {
    Ok(lifecycle::service::set_rules(&state, &space, region, &shown, &rules).await?)
}
