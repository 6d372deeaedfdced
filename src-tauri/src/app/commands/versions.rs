//! Commands of versions, undelete and lifecycle rules: what keeps or removes a Space's files
//! over time. Each adapts one call of a domain service.

use std::path::PathBuf;

use tauri::{AppHandle, Runtime, State};

use super::files::pick_folder;
use crate::app::error::Result;
use crate::core::lifecycle::{self, LifecycleRule};
use crate::core::services::Services;
use crate::core::versions::{service, DeletedFile, FileVersion, Versioning};

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
) -> Result<Vec<FileVersion>> {
    Ok(service::file_versions(&state, &space, region, &key).await?)
}

#[tauri::command]
pub async fn restore_version(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    key: String,
    version_id: String,
) -> Result<Vec<FileVersion>> {
    Ok(service::restore(&state, &space, region, &key, &version_id).await?)
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

/// Asks for a folder, then saves the version there. None when the dialog was cancelled.
#[tauri::command]
pub async fn download_version<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    key: String,
    version_id: String,
) -> Result<Option<PathBuf>> {
    let Some(folder) = pick_folder(&app).await? else {
        return Ok(None);
    };
    let saved = service::download_version(&state, &space, region, &key, &version_id, &folder);
    Ok(Some(saved.await?))
}

#[tauri::command]
pub async fn lifecycle_rules(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
) -> Result<Vec<LifecycleRule>> {
    Ok(lifecycle::service::rules(&state, &space, region).await?)
}

/// Replaces the Space's lifecycle rules (checked first); returns them as the server has them.
#[tauri::command]
pub async fn set_lifecycle_rules(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    rules: Vec<LifecycleRule>,
) -> Result<Vec<LifecycleRule>> {
    Ok(lifecycle::service::set_rules(&state, &space, region, &rules).await?)
}
