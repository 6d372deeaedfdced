//! Commands about one Space: the create wizard, its page and settings, destroying it, copying
//! its URLs. Each adapts one call of [`crate::core::space::page`].

use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_clipboard_manager::ClipboardExt;

use crate::app::error::{AppError, Result};
use crate::core::destroy::DestroyProgress;
use crate::core::names::{self, RuleCheck};
use crate::core::services::Services;
use crate::core::space::access_logs::{self, AccessLogging, LogFilter, LogReport};
use crate::core::space::health::{self, Finding, Fix};
use crate::core::space::page::{self, CreateOptions, SpaceDetails};
use crate::core::space::unfinished::{self, AbortSummary, UnfinishedUpload};
use crate::core::space::usage::{self, HiddenUsage, SpaceUsage};
use crate::core::space::{Availability, CorsRule, FileListing};

#[tauri::command]
pub fn check_space_name(name: String) -> Vec<RuleCheck> {
    names::check(&name)
}

#[tauri::command]
pub async fn create_options(state: State<'_, Services>) -> Result<CreateOptions> {
    Ok(page::create_options(&state).await?)
}

#[tauri::command]
pub async fn space_availability(
    state: State<'_, Services>,
    name: String,
    region: String,
) -> Result<Availability> {
    Ok(page::availability(&state, &name, &region).await?)
}

#[tauri::command]
pub async fn create_space(
    state: State<'_, Services>,
    name: String,
    region: String,
    file_listing: FileListing,
    project: Option<String>,
) -> Result<SpaceDetails> {
    Ok(page::create(&state, &name, &region, file_listing, project.as_deref()).await?)
}

/// Puts a Space in a DigitalOcean project (the create wizard's retry).
#[tauri::command]
pub async fn assign_space_to_project(
    state: State<'_, Services>,
    name: String,
    project: String,
) -> Result<()> {
    Ok(page::assign_to_project(&state, &name, &project).await?)
}

/// Opens a Space by name with the key remembered for it, without listing Spaces.
#[tauri::command]
pub async fn space_details(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
) -> Result<SpaceDetails> {
    Ok(page::open(&state, &name, region).await?)
}

/// A Space's size and file count: the server's figures in one request (None where it keeps
/// none), or with `listing` every file counted.
#[tauri::command]
pub async fn space_usage(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
    listing: bool,
) -> Result<Option<SpaceUsage>> {
    Ok(usage::service::usage(&state, &name, region, listing).await?)
}

/// What a Space holds that no file list shows: earlier versions and unfinished uploads' parts.
#[tauri::command]
pub async fn hidden_usage(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
    request: Option<u32>,
) -> Result<HiddenUsage> {
    Ok(usage::hidden(&state, &name, region, request).await?)
}

/// Where a Space's access logs go, and whether this connection may switch them.
#[tauri::command]
pub async fn access_logging(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
) -> Result<AccessLogging> {
    Ok(access_logs::logging(&state, &name, region).await?)
}

/// Switches a Space's access logs on (into `target`) or off (`target` null).
#[tauri::command]
pub async fn set_access_logging(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
    target: Option<String>,
    prefix: String,
) -> Result<AccessLogging> {
    Ok(access_logs::set_logging(&state, &name, region, target.as_deref(), &prefix).await?)
}

/// Reads the log files under `prefix` in the Space `name` into the viewer's figures.
#[tauri::command]
pub async fn read_access_logs(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
    prefix: String,
    filter: LogFilter,
    request: Option<u32>,
) -> Result<LogReport> {
    Ok(access_logs::read(&state, (&name, region), &prefix, &filter, request).await?)
}

/// The figures of the logs last read, under another filter.
#[tauri::command]
pub async fn filter_access_logs(
    state: State<'_, Services>,
    filter: LogFilter,
) -> Result<LogReport> {
    Ok(access_logs::refilter(&state, filter).await?)
}

/// "Check this Space": each check, what it found, what it means, and its fix where one is safe.
#[tauri::command]
pub async fn check_space(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
    request: Option<u32>,
) -> Result<Vec<Finding>> {
    Ok(health::check(&state, &name, region, request).await?)
}

/// Carries out one of the check's fixes; says what it did.
#[tauri::command]
pub async fn fix_space(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
    fix: Fix,
) -> Result<String> {
    Ok(health::fix(&state, &name, region, fix).await?)
}

/// Opens a Space by name with the chosen key, and remembers that key for it.
#[tauri::command]
pub async fn open_space_with_key(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
    access_key: Option<String>,
) -> Result<SpaceDetails> {
    Ok(page::open_with_key(&state, &name, region, access_key).await?)
}

#[tauri::command]
pub async fn set_file_listing(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
    file_listing: FileListing,
) -> Result<FileListing> {
    Ok(page::set_file_listing(&state, &name, region, file_listing).await?)
}

#[tauri::command]
pub async fn cors_rules(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
) -> Result<Vec<CorsRule>> {
    Ok(page::cors_rules(&state, &name, region).await?)
}

#[tauri::command]
pub async fn set_cors_rules(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
    rules: Vec<CorsRule>,
) -> Result<Vec<CorsRule>> {
    Ok(page::set_cors_rules(&state, &name, region, &rules).await?)
}

#[tauri::command]
pub async fn space_is_empty(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
) -> Result<bool> {
    Ok(page::is_empty(&state, &name, region).await?)
}

#[tauri::command]
pub async fn destroy_space(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
    typed_name: String,
    delete_files: bool,
    on_progress: Channel<DestroyProgress>,
) -> Result<u64> {
    let progress = |p| {
        let _ = on_progress.send(p);
    };
    Ok(page::destroy(&state, &name, region, &typed_name, delete_files, progress).await?)
}

#[tauri::command]
pub fn cancel_destroy(state: State<'_, Services>) {
    page::cancel_destroy(&state);
}

/// Puts exactly `text` on the system clipboard.
#[tauri::command]
pub fn copy_text<R: Runtime>(app: AppHandle<R>, text: String) -> Result<()> {
    let copied = app.clipboard().write_text(text);
    copied.map_err(|source| AppError::Clipboard { source })
}

/// The Space's unfinished multipart uploads, with their age and size.
#[tauri::command]
pub async fn unfinished_uploads(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
) -> Result<Vec<UnfinishedUpload>> {
    Ok(unfinished::list(&state, &name, region).await?)
}

/// Aborts unfinished uploads, each given as (key, upload id): their parts are deleted.
#[tauri::command]
pub async fn abort_unfinished_uploads(
    state: State<'_, Services>,
    name: String,
    region: Option<String>,
    uploads: Vec<(String, String)>,
) -> Result<AbortSummary> {
    Ok(unfinished::abort(&state, &name, region, &uploads).await?)
}
