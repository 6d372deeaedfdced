//! Commands about connections: the first screen, the sandbox, saved connections, the Spaces list.

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use ts_rs::TS;

use crate::app::error::{AppError, Result};
use crate::app::state::{self, Active, AppState, Session, SANDBOX_ID, SANDBOX_OWNER_ACCOUNT};
use crate::core::connection::{key_account, ConnectionDraft, ConnectionProfile, Provider};
use crate::core::regions::{Region, REGIONS};
use crate::core::sandbox::{self, Progress, StartOptions};
use crate::core::secret::Secret;
use crate::core::spaces::{self, Reach, SpaceSummary};
use crate::core::transfer::unfinished;
use crate::core::{s3, Error};

/// Everything the first screen needs.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct AppInfo {
    pub connections: Vec<ConnectionProfile>,
    pub last_used: Option<String>,
    /// Connect to the local sandbox without asking (the app was started with `--sandbox`).
    pub start_on_sandbox: bool,
    /// Ceph programs the sandbox needs that are not installed, and the packages that provide them.
    pub sandbox_missing: Vec<String>,
    pub sandbox_packages: Vec<String>,
    pub regions: Vec<Region>,
}

#[tauri::command]
pub fn app_info<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> Result<AppInfo> {
    let (sandbox_missing, sandbox_packages) = sandbox::missing_programs();
    Ok(AppInfo {
        connections: state::load_profiles(&app)?,
        last_used: state::last_used(&app),
        start_on_sandbox: state.start_on_sandbox,
        sandbox_missing,
        sandbox_packages,
        regions: REGIONS.to_vec(),
    })
}

/// Starts (or reuses) the local sandbox and connects to it, reporting each step on `on_progress`.
#[tauri::command]
pub async fn start_sandbox<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    on_progress: Channel<Progress>,
) -> Result<Session> {
    if state.sandbox_port().is_none() {
        let mut options = StartOptions::new(state.sandbox_dir.clone());
        options.owner_access_key = state::load_profiles(&app)?
            .into_iter()
            .find(|p| p.id == SANDBOX_ID)
            .map(|p| p.access_key);
        let journal_progress = on_progress.clone();
        let started = tauri::async_runtime::spawn_blocking(move || {
            sandbox::start(&options, |p| {
                let _ = journal_progress.send(p);
            })
        })
        .await
        .map_err(|e| Error::Sandbox(format!("The sandbox start was interrupted: {e}")))??;
        let timings: Vec<String> = started
            .timings
            .iter()
            .map(|(step, d)| format!("{step:?} {:.1}s", d.as_secs_f64()))
            .collect();
        state.journal.write(format!(
            "local sandbox started on {} ({} start: {}; daemons use {} MB)",
            started.endpoint_url(),
            if started.first_start() {
                "first"
            } else {
                "later"
            },
            timings.join(", "),
            started.memory_bytes() / 1_000_000
        ));
        // The keychain is where the app keeps the owner's secret, like any other.
        let owner = started.owner();
        if state.keychain.get(SANDBOX_OWNER_ACCOUNT)?.as_ref() != Some(&owner.secret) {
            state.keychain.set(SANDBOX_OWNER_ACCOUNT, &owner.secret)?;
        }
        let access_key = owner.access_key.clone();
        if let Ok(mut slot) = state.sandbox.lock() {
            *slot = Some(started);
        }
        state::upsert_profile(
            &app,
            ConnectionProfile {
                id: SANDBOX_ID.into(),
                name: "Local sandbox".into(),
                provider: Provider::Sandbox,
                access_key,
                space: None,
                space_keys: state::load_profiles(&app)?
                    .into_iter()
                    .find(|p| p.id == SANDBOX_ID)
                    .map(|p| p.space_keys)
                    .unwrap_or_default(),
            },
        )?;
    }
    connect(app, state, SANDBOX_ID.into()).await
}

/// Tries a connection without saving it.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TestResult {
    pub reach: Reach,
    pub message: String,
}

#[tauri::command]
pub async fn test_connection(
    state: State<'_, AppState>,
    draft: ConnectionDraft,
) -> Result<TestResult> {
    let endpoint = draft.provider.endpoint(state.sandbox_port())?;
    draft.validate()?;
    let client = s3::client(&endpoint, draft.access_key.trim(), &draft.secret);
    let space = draft
        .space
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let reach = spaces::test(&client, &endpoint.url, space).await?;
    Ok(TestResult {
        message: reach.sentence(),
        reach,
    })
}

/// Saves a connection: the secret to the keychain, the rest to the store. Returns what was saved.
#[tauri::command]
pub async fn save_connection<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    draft: ConnectionDraft,
) -> Result<ConnectionProfile> {
    draft.validate()?;
    let profile = ConnectionProfile {
        id: uuid::Uuid::new_v4().to_string(),
        name: draft.name.trim().to_string(),
        provider: draft.provider.clone(),
        access_key: draft.access_key.trim().to_string(),
        space: draft
            .space
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        space_keys: Default::default(),
    };
    state
        .keychain
        .set(&profile.keychain_account(), &draft.secret)?;
    if let Err(e) = state::upsert_profile(&app, profile.clone()) {
        // Don't leave a secret in the keychain that no saved connection points to.
        let _ = state.keychain.delete(&profile.keychain_account());
        return Err(e);
    }
    state.journal.write(format!(
        "saved connection “{}” ({})",
        profile.name, profile.id
    ));
    Ok(profile)
}

#[tauri::command]
pub async fn connect<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
) -> Result<Session> {
    let profile = state::load_profiles(&app)?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| Error::InvalidInput("That connection no longer exists.".into()))?;
    let account = state::secret_account(&profile);
    let secret: Secret = state.keychain.get(&account)?.ok_or_else(|| {
        Error::Keychain(format!(
            "The secret of “{}” is not in the system keychain any more. Remove the connection and add it again.",
            profile.name
        ))
    })?;
    let endpoint = profile.provider.endpoint(state.sandbox_port())?;
    let client = s3::client(&endpoint, &profile.access_key, &secret);
    // A key missing from the keychain only fails its own Spaces, with a message saying so.
    let mut space_secrets = std::collections::BTreeMap::new();
    for key in profile.space_keys.values() {
        if key.access_key != profile.access_key && !space_secrets.contains_key(&key.access_key) {
            if let Some(s) = state.keychain.get(&key_account(&key.access_key))? {
                space_secrets.insert(key.access_key.clone(), s);
            }
        }
    }
    let active = Active {
        profile,
        endpoint,
        client,
        secret,
        space_secrets,
    };
    let session = active.session();
    abort_unfinished(&state, &active).await;
    *state.active.write().await = Some(active);
    state::set_last_used(&app, &id)?;
    state.journal.write(format!(
        "connected to “{}” at {}",
        session.profile.name, session.endpoint
    ));
    Ok(session)
}

/// Multipart uploads a crash or a kill left behind at this endpoint are aborted: nothing the
/// app began stays half-done on the server.
async fn abort_unfinished(state: &AppState, active: &Active) {
    let region = active.profile.provider.region_label();
    let (aborted, left) =
        unfinished::abort_recorded(&state.unfinished, &active.endpoint.url, |space| {
            active
                .client_for_space(space, &region)
                .ok()
                .map(|(client, _)| client)
        })
        .await;
    if aborted + left > 0 {
        state.journal.write(format!(
            "unfinished uploads from an earlier run: {aborted} aborted, {left} could not be reached"
        ));
    }
}

#[tauri::command]
pub async fn disconnect(state: State<'_, AppState>) -> Result<()> {
    *state.active.write().await = None;
    Ok(())
}

#[tauri::command]
pub async fn delete_connection<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
) -> Result<()> {
    let mut profiles = state::load_profiles(&app)?;
    let Some(profile) = profiles.iter().find(|p| p.id == id).cloned() else {
        return Ok(());
    };
    let account = state::secret_account(&profile);
    state.keychain.delete(&account)?;
    profiles.retain(|p| p.id != id);
    state::save_profiles(&app, &profiles)?;
    let mut active = state.active.write().await;
    if active.as_ref().is_some_and(|a| a.profile.id == id) {
        *active = None;
    }
    state.journal.write(format!(
        "removed connection “{}” ({})",
        profile.name, profile.id
    ));
    Ok(())
}

/// The Spaces of the active connection: those its key lists, and those it knows by name with the
/// key remembered for each. A limited key is never asked to list all Spaces.
#[tauri::command]
pub async fn list_spaces<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<Vec<SpaceSummary>> {
    let active = state.active().await?;
    let profile = &active.profile;
    let named = profile.named_spaces();
    let opens_with = |space: &str| {
        profile
            .space_keys
            .get(space)
            .filter(|k| k.access_key != profile.access_key)
            .map(|k| super::keys::key_name(&app, &k.access_key))
    };
    if profile.key_is_limited() {
        return Ok(spaces::with_named(Vec::new(), &named, opens_with));
    }
    let region = profile.provider.region_label();
    let mut listed = match spaces::list(&active.client, &active.endpoint.url, &region).await {
        Ok(list) => list,
        Err(e) => {
            state
                .journal
                .write(format!("listing Spaces failed: {:?}: {e}", e.kind()));
            return Err(AppError::from(e));
        }
    };
    // The file-listing column is read with the connection's own (full) key.
    spaces::add_file_listing(&active.client, &active.endpoint.url, &mut listed).await;
    Ok(spaces::with_named(listed, &named, opens_with))
}
