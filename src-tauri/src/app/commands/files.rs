//! Commands of the file browser: folder listings streamed page by page, new folders, a file's
//! details, permission, share links, metadata, deletion and download.

use std::sync::atomic::Ordering;

use tauri::ipc::Channel;
use tauri::State;

use crate::app::error::Result;
use crate::app::state::AppState;
use crate::core::browse::{self, ListingPage};
use crate::core::objects::{self, FileDetails, Metadata};
use crate::core::transfer::FileAcl;
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

#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DownloadProgress {
    pub key: String,
    pub bytes: u64,
    pub files_done: u32,
    pub files: u32,
}

/// Asks where to save, then downloads the files (folders with their structure) there.
/// Returns the folder chosen, or None if the user cancelled.
#[tauri::command]
pub async fn download_files<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    state: State<'_, AppState>,
    space: String,
    region: Option<String>,
    keys: Vec<String>,
    on_progress: Channel<DownloadProgress>,
) -> Result<Option<String>> {
    use tauri_plugin_dialog::DialogExt;
    let dialog = app.dialog().file().set_title("Download to…");
    let picked = tauri::async_runtime::spawn_blocking(move || dialog.blocking_pick_folder())
        .await
        .map_err(|e| Error::Io(format!("The folder dialog failed: {e}")))?;
    let Some(dest) = picked.and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    let (_, client, endpoint, _) = target(&state, &space, region).await?;
    // Each folder's files keep their path below the folder's own name.
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    for key in &keys {
        if key.ends_with('/') {
            let base = key
                .trim_end_matches('/')
                .rsplit_once('/')
                .map(|(p, _)| p.len() + 1)
                .unwrap_or(0);
            let mut pages = client
                .list_objects_v2()
                .bucket(&space)
                .prefix(key)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    crate::core::s3::map_error(
                        e,
                        crate::core::s3::Context::space(&endpoint, &space),
                    )
                })?;
                for k in page
                    .contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| !k.ends_with('/'))
                {
                    files.push((k.to_string(), dest.join(&k[base..])));
                }
            }
        } else {
            let name = key.rsplit('/').next().unwrap_or(key);
            files.push((key.clone(), dest.join(name)));
        }
    }
    let total = files.len() as u32;
    for (i, (key, path)) in files.iter().enumerate() {
        // Keys come from the server: never write outside the chosen folder.
        if path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(Error::InvalidInput(format!(
                "“{key}” would be saved outside the chosen folder."
            ))
            .into());
        }
        let progress = on_progress.clone();
        let k = key.clone();
        objects::download(&client, &endpoint, &space, key, path, &move |bytes| {
            let _ = progress.send(DownloadProgress {
                key: k.clone(),
                bytes,
                files_done: i as u32,
                files: total,
            });
        })
        .await?;
    }
    let _ = on_progress.send(DownloadProgress {
        key: String::new(),
        bytes: 0,
        files_done: total,
        files: total,
    });
    Ok(Some(dest.to_string_lossy().to_string()))
}
