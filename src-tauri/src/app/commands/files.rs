//! Commands of the file browser: folder listings streamed page by page, new folders.

use std::sync::atomic::Ordering;

use tauri::ipc::Channel;
use tauri::State;

use crate::app::error::Result;
use crate::app::state::AppState;
use crate::core::browse::{self, ListingPage};

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
    let (client, endpoint) = active.client_for_region(&region)?;
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
    let (client, endpoint) = active.client_for_region(&region)?;
    Ok(browse::create_folder(&client, &endpoint.url, &space, &parent, &name).await?)
}
