//! Commands about one Space: the create wizard, its page and settings, copying its URLs.

use std::sync::atomic::Ordering;

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_clipboard_manager::ClipboardExt;
use ts_rs::TS;

use crate::app::error::{AppError, Result};
use crate::app::state::{self, Active, AppState};
use crate::core::connection::{key_account, Provider, SpaceKey};
use crate::core::destroy::{self, DestroyProgress};
use crate::core::names::{self, RuleCheck};
use crate::core::regions::REGIONS;
use crate::core::space::{self, Availability, CorsRule, FileListing};
use crate::core::urls::{self, SpaceUrls};
use crate::core::Error;

/// A region the create wizard offers.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RegionChoice {
    pub slug: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CreateOptions {
    pub regions: Vec<RegionChoice>,
    /// The region used last time, else the first.
    pub default_region: String,
}

/// Everything the Space's page shows in its header.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SpaceDetails {
    pub name: String,
    pub region: String,
    /// None when this key may not read the Space's ACL (limited keys).
    pub file_listing: Option<FileListing>,
    pub urls: SpaceUrls,
    /// The key that opens this Space, when it is not the connection's own.
    pub opens_with: Option<KeyLabel>,
    /// Opened with a key limited to some Spaces.
    pub limited: bool,
}

/// A key as people recognise it: the name they gave it and its access key.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KeyLabel {
    pub name: String,
    pub access_key: String,
}

fn region_choices(active: &Active) -> Vec<RegionChoice> {
    match &active.profile.provider {
        Provider::DigitalOcean { .. } => REGIONS
            .iter()
            .map(|r| RegionChoice {
                slug: r.slug.into(),
                label: format!("{} · {}", r.city, r.slug),
            })
            .collect(),
        Provider::Sandbox => vec![RegionChoice {
            slug: "local".into(),
            label: "This computer · local sandbox".into(),
        }],
        Provider::Custom { signing_region, .. } => vec![RegionChoice {
            slug: signing_region.clone(),
            label: format!("{} · {signing_region}", active.endpoint.url),
        }],
    }
}

async fn details<R: Runtime>(
    app: &AppHandle<R>,
    active: &Active,
    name: &str,
    region: &str,
) -> Result<SpaceDetails> {
    let access = active.for_space(name, region)?;
    let file_listing =
        space::open(&access.client, &access.endpoint.url, name, access.limited).await?;
    Ok(SpaceDetails {
        name: name.to_string(),
        region: region.to_string(),
        file_listing,
        urls: urls::space_urls(&active.profile.provider, &active.endpoint, name, region),
        opens_with: access.opens_with.map(|access_key| KeyLabel {
            name: super::keys::key_name(app, &access_key),
            access_key,
        }),
        limited: access.limited,
    })
}

/// The region a Space is in, as far as this connection knows.
fn region_of(active: &Active, region: Option<String>) -> String {
    region.unwrap_or_else(|| active.profile.provider.region_label())
}

#[tauri::command]
pub fn check_space_name(name: String) -> Vec<RuleCheck> {
    names::check(&name)
}

#[tauri::command]
pub async fn create_options<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<CreateOptions> {
    let active = state.active().await?;
    let regions = region_choices(&active);
    let last = state::last_region(&app).filter(|r| regions.iter().any(|c| &c.slug == r));
    let default_region = last
        .or_else(|| match &active.profile.provider {
            Provider::DigitalOcean { region } => Some(region.clone()),
            _ => None,
        })
        .or_else(|| regions.first().map(|r| r.slug.clone()))
        .unwrap_or_default();
    Ok(CreateOptions {
        regions,
        default_region,
    })
}

#[tauri::command]
pub async fn space_availability(
    state: State<'_, AppState>,
    name: String,
    region: String,
) -> Result<Availability> {
    let active = state.active().await?;
    let (client, endpoint) = active.client_for_region(&region)?;
    Ok(space::availability(&client, &endpoint.url, &name).await?)
}

#[tauri::command]
pub async fn create_space<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    name: String,
    region: String,
    file_listing: FileListing,
) -> Result<SpaceDetails> {
    let active = state.active().await?;
    if !region_choices(&active).iter().any(|r| r.slug == region) {
        return Err(Error::InvalidInput(format!(
            "“{region}” is not a region this connection can create Spaces in."
        ))
        .into());
    }
    let (client, endpoint) = active.client_for_region(&region)?;
    space::create(&client, &endpoint.url, &name, file_listing).await?;
    state::set_last_region(&app, &region)?;
    state.journal.write(format!(
        "created the Space “{name}” in {region} (file listing {})",
        file_listing.label()
    ));
    details(&app, &active, &name, &region).await
}

/// Opens a Space by name with the key remembered for it, without listing Spaces.
#[tauri::command]
pub async fn space_details<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    name: String,
    region: Option<String>,
) -> Result<SpaceDetails> {
    let active = state.active().await?;
    names::validate_existing(&name)?;
    let region = region_of(&active, region);
    details(&app, &active, &name, &region).await
}

/// Opens a Space by name with the chosen key (None: the connection's own) and remembers that
/// key for it. Nothing is remembered unless the key really opens the Space.
#[tauri::command]
pub async fn open_space_with_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    name: String,
    region: Option<String>,
    access_key: Option<String>,
) -> Result<SpaceDetails> {
    names::validate_existing(&name)?;
    let mut active = state.active().await?;
    let region = region_of(&active, region);
    let own = active.profile.access_key.clone();
    let access_key = access_key.filter(|k| *k != own);
    let mut remembered = active.profile.clone();
    match &access_key {
        Some(key) => {
            let secret = state.keychain.get(&key_account(key))?.ok_or_else(|| {
                Error::Keychain("This key's secret is not in the keychain.".into())
            })?;
            active.space_secrets.insert(key.clone(), secret);
            remembered.space_keys.insert(
                name.clone(),
                SpaceKey {
                    access_key: key.clone(),
                    region: region.clone(),
                },
            );
        }
        // A limited connection knows its Spaces by name only: remember this one with its own key.
        None if active.profile.key_is_limited() => {
            remembered.space_keys.insert(
                name.clone(),
                SpaceKey {
                    access_key: own,
                    region: region.clone(),
                },
            );
        }
        None => {
            remembered.space_keys.remove(&name);
        }
    }
    active.profile = remembered;
    let opened = details(&app, &active, &name, &region).await?;
    state::upsert_profile(&app, active.profile.clone())?;
    state.journal.write(format!(
        "the Space “{name}” opens with {}",
        access_key.as_deref().unwrap_or("the connection's key")
    ));
    let mut slot = state.active.write().await;
    if slot
        .as_ref()
        .is_some_and(|a| a.profile.id == active.profile.id)
    {
        *slot = Some(active);
    }
    Ok(opened)
}

#[tauri::command]
pub async fn set_file_listing(
    state: State<'_, AppState>,
    name: String,
    region: Option<String>,
    file_listing: FileListing,
) -> Result<FileListing> {
    let active = state.active().await?;
    let (client, endpoint) = active.client_for_space(&name, &region_of(&active, region))?;
    let now = space::set_file_listing(&client, &endpoint.url, &name, file_listing).await?;
    state
        .journal
        .write(format!("file listing of “{name}” set to {}", now.label()));
    Ok(now)
}

#[tauri::command]
pub async fn cors_rules(
    state: State<'_, AppState>,
    name: String,
    region: Option<String>,
) -> Result<Vec<CorsRule>> {
    let active = state.active().await?;
    let (client, endpoint) = active.client_for_space(&name, &region_of(&active, region))?;
    Ok(space::cors_rules(&client, &endpoint.url, &name).await?)
}

#[tauri::command]
pub async fn set_cors_rules(
    state: State<'_, AppState>,
    name: String,
    region: Option<String>,
    rules: Vec<CorsRule>,
) -> Result<Vec<CorsRule>> {
    let active = state.active().await?;
    let (client, endpoint) = active.client_for_space(&name, &region_of(&active, region))?;
    Ok(space::set_cors_rules(&client, &endpoint.url, &name, &rules).await?)
}

#[tauri::command]
pub async fn space_is_empty(
    state: State<'_, AppState>,
    name: String,
    region: Option<String>,
) -> Result<bool> {
    let active = state.active().await?;
    let (client, endpoint) = active.client_for_space(&name, &region_of(&active, region))?;
    Ok(destroy::is_empty(&client, &endpoint.url, &name).await?)
}

#[tauri::command]
pub async fn destroy_space(
    state: State<'_, AppState>,
    name: String,
    region: Option<String>,
    typed_name: String,
    delete_files: bool,
    on_progress: Channel<DestroyProgress>,
) -> Result<u64> {
    let active = state.active().await?;
    let (client, endpoint) = active.client_for_space(&name, &region_of(&active, region))?;
    state.cancel_destroy.store(false, Ordering::Relaxed);
    let deleted = destroy::destroy(
        &client,
        &endpoint.url,
        &name,
        &typed_name,
        delete_files,
        &state.cancel_destroy,
        |p| {
            let _ = on_progress.send(p);
        },
    )
    .await?;
    state.journal.write(format!(
        "destroyed the Space “{name}” ({deleted} files deleted first)"
    ));
    Ok(deleted)
}

#[tauri::command]
pub fn cancel_destroy(state: State<'_, AppState>) {
    state.cancel_destroy.store(true, Ordering::Relaxed);
}

/// Puts exactly `text` on the system clipboard.
#[tauri::command]
pub fn copy_text<R: Runtime>(app: AppHandle<R>, text: String) -> Result<()> {
    app.clipboard()
        .write_text(text)
        .map_err(|e| AppError::from(Error::Io(format!("The clipboard refused the text: {e}"))))
}
