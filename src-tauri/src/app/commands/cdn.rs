//! Commands of DigitalOcean's CDN for a Space: each adapts one call of [`crate::core::cdn`].

use tauri::State;

use crate::app::error::Result;
use crate::core::cdn::{self, CdnEndpoint, CdnSettings, CdnState};
use crate::core::services::Services;

/// Whether the Space's CDN is on, with its settings, and the account's certificates.
#[tauri::command]
pub async fn cdn_state(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
) -> Result<CdnState> {
    let (api, origin) = cdn::of(&state, &space, region).await?;
    Ok(api.state(&origin).await?)
}

#[tauri::command]
pub async fn enable_cdn(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    settings: CdnSettings,
) -> Result<CdnEndpoint> {
    let (api, origin) = cdn::of(&state, &space, region).await?;
    let endpoint = api.enable(&origin, &settings).await?;
    state
        .log()
        .write(format!("turned the CDN on for “{space}”"));
    Ok(endpoint)
}

#[tauri::command]
pub async fn update_cdn(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    id: String,
    settings: CdnSettings,
) -> Result<CdnEndpoint> {
    let (api, _) = cdn::of(&state, &space, region).await?;
    Ok(api.update(&id, &settings).await?)
}

#[tauri::command]
pub async fn disable_cdn(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    id: String,
) -> Result<()> {
    let (api, _) = cdn::of(&state, &space, region).await?;
    api.disable(&id).await?;
    state
        .log()
        .write(format!("turned the CDN off for “{space}”"));
    Ok(())
}

/// Purges files and folders (everything for `""`) from the CDN's cache; returns the paths.
#[tauri::command]
pub async fn purge_cdn(
    state: State<'_, Services>,
    space: String,
    region: Option<String>,
    id: String,
    keys: Vec<String>,
) -> Result<Vec<String>> {
    let (api, _) = cdn::of(&state, &space, region).await?;
    Ok(api.purge(&id, &keys).await?)
}
