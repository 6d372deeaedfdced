//! Commands of the file browser: folder listings streamed page by page, new folders, a file's
//! details, permission, share links, metadata, deletion, and downloads into a chosen folder.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use tauri::ipc::Channel;
use tauri::State;

use crate::app::error::Result;
use crate::app::state::AppState;
use crate::core::browse::{self, ListingPage};
use crate::core::objects::{self, FileDetails, Metadata};
use crate::core::transfer::download::{self, DownloadPlan, DownloadProgress, DownloadSummary};
use crate::core::transfer::{Conflict, FileAcl, Problem};
use crate::core::{urls, Error};

/// Rows per page: the first page shows at once, the rest stream in behind it.
const PAGE_SIZE: i32 = 1000;

/// Streams the folder `prefix` of `space` to `on_page`. A newer listing (the user opened another
/// folder) stops this one. Returns how many entries were sent.
#[tauri::command]
pub async fn list_folder(
    state: State<'_, AppState>,
    space: String,
    region: Option<String>,
    prefix: String,
    on_page: Channel<ListingPage>,
) -> Result<u64> {
    let active = state.active().await?;
    let region = region.unwrap_or_else(|| active.profile.provider.region_label());
    let (client, endpoint) = active.client_for_space(&space, &region)?;
    let generation = state.listing_generation.fetch_add(1, Ordering::SeqCst) + 1;
    let sent = browse::list_folder(&client, &endpoint.url, &space, &prefix, PAGE_SIZE, |page| {
        on_page.send(page).is_ok() && state.listing_generation.load(Ordering::SeqCst) == generation
    })
    .await?;
    Ok(sent)
}

#[tauri::command]
pub async fn create_folder(
    state: State<'_, AppState>,
    space: String,
    region: Option<String>,
    parent: String,
    name: String,
) -> Result<String> {
    let active = state.active().await?;
    let region = region.unwrap_or_else(|| active.profile.provider.region_label());
    let (client, endpoint) = active.client_for_space(&space, &region)?;
    Ok(browse::create_folder(&client, &endpoint.url, &space, &parent, &name).await?)
}

/// A file's details with its URLs.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FileView {
    pub details: FileDetails,
    pub url: String,
    pub cdn_url: Option<String>,
}

async fn target(
    state: &State<'_, AppState>,
    space: &str,
    region: Option<String>,
) -> Result<(
    crate::app::state::Active,
    aws_sdk_s3::Client,
    String,
    String,
)> {
    let active = state.active().await?;
    let region = region.unwrap_or_else(|| active.profile.provider.region_label());
    let (client, endpoint) = active.client_for_space(space, &region)?;
    Ok((active, client, endpoint.url, region))
}

#[tauri::command]
pub async fn file_details(
    state: State<'_, AppState>,
    space: String,
    region: Option<String>,
    key: String,
) -> Result<FileView> {
    let (active, client, endpoint, region) = target(&state, &space, region).await?;
    let details = objects::details(&client, &endpoint, &space, &key).await?;
    let urls = urls::space_urls(&active.profile.provider, &active.endpoint, &space, &region);
    Ok(FileView {
        url: urls::file_url(&urls.origin, &key),
        cdn_url: urls.cdn.as_deref().map(|cdn| urls::file_url(cdn, &key)),
        details,
    })
}

/// Sets Public or Private on each file; returns the files that failed, with why.
#[tauri::command]
pub async fn set_file_acl(
    state: State<'_, AppState>,
    space: String,
    region: Option<String>,
    keys: Vec<String>,
    acl: FileAcl,
) -> Result<Vec<(String, String)>> {
    let (_, client, endpoint, _) = target(&state, &space, region).await?;
    Ok(objects::set_acl(&client, &endpoint, &space, &keys, acl).await)
}

#[tauri::command]
pub async fn share_link(
    state: State<'_, AppState>,
    space: String,
    region: Option<String>,
    key: String,
    seconds: u64,
) -> Result<String> {
    let (_, client, _, _) = target(&state, &space, region).await?;
    Ok(objects::share_link(&client, &space, &key, seconds).await?)
}

#[tauri::command]
pub async fn set_file_metadata(
    state: State<'_, AppState>,
    space: String,
    region: Option<String>,
    key: String,
    metadata: Metadata,
) -> Result<FileDetails> {
    let (_, client, endpoint, _) = target(&state, &space, region).await?;
    Ok(objects::set_metadata(&client, &endpoint, &space, &key, &metadata).await?)
}

/// Deletes files and folders (with everything in them). The page asks for confirmation first.
#[tauri::command]
pub async fn delete_files(
    state: State<'_, AppState>,
    space: String,
    region: Option<String>,
    keys: Vec<String>,
) -> Result<u64> {
    let (_, client, endpoint, _) = target(&state, &space, region).await?;
    let deleted = objects::delete(&client, &endpoint, &space, &keys).await?;
    state
        .journal
        .write(format!("deleted {deleted} files from “{space}”"));
    Ok(deleted)
}

/// A download waiting for the user's choice about files already in the folder.
pub struct DownloadBatch {
    client: aws_sdk_s3::Client,
    endpoint: String,
    space: String,
    dest: PathBuf,
    plan: DownloadPlan,
}

/// What the page is told about a planned download.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlannedDownload {
    pub batch: u32,
    pub dest: String,
    pub files: u32,
    /// Files of the batch whose name is already taken in the folder (the first 20).
    pub existing: Vec<String>,
    pub existing_count: u32,
    /// Keys that can't be saved there, with why.
    pub problems: Vec<Problem>,
}

/// Asks where to save, then plans the download of files and folders (with their structure)
/// there. None when the user cancelled the folder dialog.
#[tauri::command]
pub async fn plan_download<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    space: String,
    region: Option<String>,
    keys: Vec<String>,
) -> Result<Option<PlannedDownload>> {
    use tauri::Manager;
    use tauri_plugin_dialog::DialogExt;
    let mut dialog = app.dialog().file().set_title("Download to…");
    // It opens where downloads usually go (else the home folder), not on "Recent".
    let paths = app.path();
    if let Some(start) = [paths.download_dir(), paths.home_dir()]
        .into_iter()
        .flatten()
        .find(|d| d.is_dir())
    {
        dialog = dialog.set_directory(start);
    }
    let picked = tauri::async_runtime::spawn_blocking(move || dialog.blocking_pick_folder())
        .await
        .map_err(|e| Error::Io(format!("The folder dialog failed: {e}")))?;
    let Some(dest) = picked.and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    let (_, client, endpoint, _) = target(&state, &space, region).await?;
    let plan = download::plan(&client, &endpoint, &space, &keys, &dest).await?;
    let existing: Vec<String> = plan
        .existing()
        .iter()
        .map(|f| f.path.to_string_lossy().to_string())
        .collect();
    let batch = state.next_batch.fetch_add(1, Ordering::Relaxed);
    let answer = PlannedDownload {
        batch,
        dest: dest.to_string_lossy().to_string(),
        files: plan.files.len() as u32,
        existing_count: existing.len() as u32,
        existing: existing.into_iter().take(20).collect(),
        problems: plan.problems.clone(),
    };
    state.downloads.lock().map_err(|_| busy())?.insert(
        batch,
        DownloadBatch {
            client,
            endpoint,
            space,
            dest,
            plan,
        },
    );
    Ok(Some(answer))
}

fn busy() -> Error {
    Error::Io("The transfer queue is unavailable.".into())
}

/// Runs a planned download; files already in the folder are handled as `conflict` says.
#[tauri::command]
pub async fn start_download(
    state: State<'_, AppState>,
    batch: u32,
    conflict: Conflict,
    on_progress: Channel<DownloadProgress>,
) -> Result<DownloadSummary> {
    let b = state
        .downloads
        .lock()
        .map_err(|_| busy())?
        .remove(&batch)
        .ok_or_else(|| Error::InvalidInput("That download is no longer in the queue.".into()))?;
    let summary = download::run(
        &b.client,
        &b.endpoint,
        &b.space,
        &b.dest,
        b.plan,
        conflict,
        &move |p| {
            let _ = on_progress.send(p);
        },
    )
    .await;
    state.journal.write(format!(
        "downloaded from “{}” to {}: {} done, {} skipped, {} not downloaded",
        b.space,
        b.dest.display(),
        summary.done,
        summary.skipped,
        summary.problems.len()
    ));
    Ok(summary)
}
