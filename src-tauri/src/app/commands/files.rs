//! Commands of the file browser. Each adapts one call of [`crate::core::files`]; downloads
//! first ask where to save with the system's folder dialog.

use std::path::PathBuf;

use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use crate::app::drag_out;
use crate::app::error::{AppError, Result};
use crate::core::browse::ListingPage;
use crate::core::files::{self, FileView};
use crate::core::objects::{DeleteSummary, FileDetails, Metadata};
use crate::core::preview::{self, Preview};
use crate::core::search::{self, FolderSize, SearchPage};
use crate::core::services::Services;
use crate::core::transfer::download::DownloadSummary;
use crate::core::transfer::download_batch::{self, PlannedDownload};
use crate::core::transfer::{Conflict, FileAcl};

/// Streams the folder `prefix` of `space` to `on_page`; a newer listing stops this one.
#[tauri::command]
pub async fn list_folder(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    prefix: String,
    on_page: Channel<ListingPage>,
) -> Result<u64> {
    let page = |p| on_page.send(p).is_ok();
    Ok(files::list_folder(&state, &space, region, &prefix, page).await?)
}

#[tauri::command]
pub async fn create_folder(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    parent: String,
    name: String,
) -> Result<String> {
    Ok(files::create_folder(&state, &space, region, &parent, &name).await?)
}

/// A file's preview (an image, text, JSON or CSV), up to a size limit.
#[tauri::command]
pub async fn preview_file(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    key: String,
    request: Option<u32>,
) -> Result<Preview> {
    Ok(preview::preview_in(&state, &space, region, &key, request).await?)
}

#[tauri::command]
pub async fn file_details(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    key: String,
    request: Option<u32>,
) -> Result<FileView> {
    Ok(files::view(&state, &space, region, &key, request).await?)
}

/// Stops an action the page started with the number `request` (a preview, details, versions).
#[tauri::command]
pub fn cancel_request(state: State<'_, Services>, request: u32) {
    state.requests().cancel(request);
}

/// Sets Public or Private on each file; returns the files that failed, with why.
#[tauri::command]
pub async fn set_file_acl(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    keys: Vec<String>,
    acl: FileAcl,
) -> Result<Vec<(String, String)>> {
    Ok(files::set_acl(&state, &space, region, &keys, acl).await?)
}

#[tauri::command]
pub async fn share_link(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    key: String,
    seconds: u64,
) -> Result<String> {
    Ok(files::share_link(&state, &space, region, &key, seconds).await?)
}

#[tauri::command]
pub async fn set_file_metadata(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    key: String,
    metadata: Metadata,
    etag: Option<String>,
) -> Result<FileDetails> {
    let saved = files::set_metadata(&state, &space, region, &key, &metadata, etag.as_deref());
    Ok(saved.await?)
}

#[tauri::command]
/// Deletes files and folders; a file whose ETag the page showed (`shown`) only if it is still
/// that version. `on_progress` hears the count deleted so far; `request` stops it.
pub async fn delete_files(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    keys: Vec<String>,
    shown: std::collections::HashMap<String, String>,
    request: Option<u32>,
    on_progress: Channel<u64>,
) -> Result<DeleteSummary> {
    let progress = move |n| {
        let _ = on_progress.send(n);
    };
    let chosen = (keys.as_slice(), &shown);
    Ok(files::delete(&state, &space, region, chosen, request, &progress).await?)
}

/// The system's folder dialog, opened where downloads usually go (else the home folder).
pub(super) async fn pick_folder<R: Runtime>(app: &AppHandle<R>) -> Result<Option<PathBuf>> {
    let mut dialog = app.dialog().file().set_title("Download to…");
    let paths = app.path();
    let start = [paths.download_dir(), paths.home_dir()]
        .into_iter()
        .flatten();
    if let Some(start) = start.into_iter().find(|d| d.is_dir()) {
        dialog = dialog.set_directory(start);
    }
    let picked = tauri::async_runtime::spawn_blocking(move || dialog.blocking_pick_folder())
        .await
        .map_err(|e| AppError::Dialog(e.to_string()))?;
    Ok(picked.and_then(|p| p.into_path().ok()))
}

/// Asks where to save, then plans the download there. None when the user cancelled the dialog.
#[tauri::command]
pub async fn plan_download<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    keys: Vec<String>,
) -> Result<Option<PlannedDownload>> {
    let Some(dest) = pick_folder(&app).await? else {
        return Ok(None);
    };
    Ok(Some(
        download_batch::plan(&state, &space, region, &keys, dest).await?,
    ))
}

/// Runs a planned download; files already in the folder are handled as `conflict` says. Its
/// files' progress is on the Transfers panel's rows.
#[tauri::command]
pub async fn start_download(
    state: State<'_, Services>,
    batch: u32,
    conflict: Conflict,
) -> Result<DownloadSummary> {
    let rows_only = std::sync::Arc::new(|_| {});
    Ok(download_batch::start(&state, batch, conflict, None, rows_only).await?)
}

/// Starts dragging files and folders out of the window. They download at once, through the
/// queue (each file's progress is on its row), into a staging folder; the drop gets them
/// once on disk. The download runs here, not from the page: while a drag holds the pointer the
/// page may not get to ask for it.
#[tauri::command]
pub async fn drag_out<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    keys: Vec<String>,
) -> Result<PlannedDownload> {
    let cache = app.path().app_cache_dir();
    let cache = cache.map_err(|e| AppError::Drag(format!("no cache folder ({e})")))?;
    let name = uuid::Uuid::new_v4().simple().to_string();
    let staging = drag_out::make_staging(&cache, &name).map_err(|e| {
        AppError::Drag(format!(
            "a folder for it in “{}” can't be made ({e})",
            cache.display()
        ))
    })?;
    let plan = download_batch::plan_staged(&state, &space, region, &keys, staging.clone()).await?;
    let paths = drag_out::dragged_paths(&staging, &keys);
    start_drag(&app, paths, plan.batch)?;
    let (batch, app) = (plan.batch, app.clone());
    tauri::async_runtime::spawn(async move {
        // The staging folder is new: nothing there to overwrite. Each file's outcome is on its
        // row; a batch that is gone was cancelled with its drag.
        let services = app.state::<Services>();
        let rows_only = std::sync::Arc::new(|_| {});
        let _ = download_batch::start(&services, batch, Conflict::Overwrite, None, rows_only).await;
    });
    Ok(plan)
}

#[cfg(target_os = "linux")]
fn start_drag<R: Runtime>(app: &AppHandle<R>, paths: Vec<PathBuf>, batch: u32) -> Result<()> {
    use gtk::prelude::{Cast, WidgetExt};
    let (ready, cancel) = (app.clone(), app.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    app.run_on_main_thread(move || {
        // The app's one window, found on the thread that owns it.
        let window = gtk::Window::list_toplevels()
            .into_iter()
            .filter_map(|w| w.downcast::<gtk::ApplicationWindow>().ok())
            .find(|w| w.is_visible());
        let started = match window {
            Some(w) => drag_out::start(
                &w,
                paths,
                move || download_batch::outcome(&ready.state::<Services>(), batch),
                move || download_batch::cancel(&cancel.state::<Services>(), batch, None),
            ),
            None => Err("the window is not shown".into()),
        };
        let _ = tx.send(started);
    })
    .map_err(|e| AppError::Drag(e.to_string()))?;
    rx.recv()
        .map_err(|e| AppError::Drag(e.to_string()))?
        .map_err(AppError::Drag)
}

#[cfg(not(target_os = "linux"))]
fn start_drag<R: Runtime>(_: &AppHandle<R>, _: Vec<PathBuf>, _: u32) -> Result<()> {
    Err(AppError::Drag("not on this system yet".into()))
}

/// Forgets a planned download the user chose not to run.
#[tauri::command]
pub fn forget_download(state: State<'_, Services>, batch: u32) {
    download_batch::forget(&state, batch);
}

/// Counts the files and bytes below `prefix` (the whole Space for `""`), with progress.
#[tauri::command]
pub async fn folder_size(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    prefix: String,
    on_progress: Channel<FolderSize>,
) -> Result<FolderSize> {
    let progress = |p| on_progress.send(p).is_ok();
    Ok(search::service::folder_size(&state, &space, region, &prefix, progress).await?)
}

/// Searches the whole Space by file name, the matches streaming to `on_page`.
#[tauri::command]
pub async fn search_space(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    needle: String,
    on_page: Channel<SearchPage>,
) -> Result<u64> {
    let page = |p| on_page.send(p).is_ok();
    Ok(search::service::search(&state, &space, region, &needle, page).await?)
}
