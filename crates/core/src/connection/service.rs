//! Connections as the first screen uses them: the sandbox, saved connections, connecting with
//! each Space's remembered key, and the Spaces list.

use std::collections::BTreeMap;

use serde::Serialize;
use ts_rs::TS;

use super::active::{Active, Session};
use super::{key_account, ConnectionDraft, ConnectionProfile, Provider};
use crate::error::{Error, Result};
use crate::regions::{Region, REGIONS};
use crate::s3;
use crate::sandbox::{self, Progress, StartOptions};
use crate::secret::Secret;
use crate::services::Services;
use crate::spaces::{self, Reach, SpaceSummary};
use crate::transfer::unfinished;

/// The sandbox's connection has a fixed id: there is one sandbox per user.
pub const SANDBOX_ID: &str = "sandbox";
/// The keychain account of the sandbox owner's secret.
pub const SANDBOX_OWNER_ACCOUNT: &str = "sandbox-owner";

/// The keychain account holding a saved connection's secret: the sandbox's own connection
/// signs with the owner's key, others with their own.
pub fn secret_account(profile: &ConnectionProfile) -> String {
    if profile.id == SANDBOX_ID {
        SANDBOX_OWNER_ACCOUNT.to_string()
    } else {
        profile.keychain_account()
    }
}

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

pub fn app_info(services: &Services) -> Result<AppInfo> {
    let (sandbox_missing, sandbox_packages) = sandbox::missing_programs();
    Ok(AppInfo {
        connections: services.settings().profiles()?,
        last_used: services.settings().last_used(),
        start_on_sandbox: services.start_on_sandbox(),
        sandbox_missing,
        sandbox_packages,
        regions: REGIONS.to_vec(),
    })
}

/// Starts (or reuses) the local sandbox and connects to it, reporting each step.
pub async fn start_sandbox(
    services: &Services,
    progress: impl Fn(Progress) + Send + 'static,
) -> Result<Session> {
    if services.sandbox_port().is_none() {
        let mut options = StartOptions::new(services.sandbox_dir().to_path_buf());
        let saved = services.settings().profile(SANDBOX_ID)?;
        options.owner_access_key = saved.as_ref().map(|p| p.access_key.clone());
        let started = tokio::task::spawn_blocking(move || sandbox::start(&options, progress))
            .await
            .map_err(|e| Error::Sandbox(format!("The sandbox start was interrupted: {e}")))??;
        let timings: Vec<String> = started
            .timings
            .iter()
            .map(|(step, d)| format!("{step:?} {:.1}s", d.as_secs_f64()))
            .collect();
        services.log().write(format!(
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
        let keychain = services.keychain();
        if keychain.get(SANDBOX_OWNER_ACCOUNT)?.as_ref() != Some(&owner.secret) {
            keychain.set(SANDBOX_OWNER_ACCOUNT, &owner.secret)?;
        }
        let access_key = owner.access_key.clone();
        services.keep_sandbox(started);
        services.settings().upsert_profile(ConnectionProfile {
            id: SANDBOX_ID.into(),
            name: "Local sandbox".into(),
            provider: Provider::Sandbox,
            access_key,
            space: None,
            space_keys: saved.map(|p| p.space_keys).unwrap_or_default(),
        })?;
    }
    connect(services, SANDBOX_ID).await
}

/// Tries a connection without saving it.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TestResult {
    pub reach: Reach,
    pub message: String,
}

pub async fn test_connection(services: &Services, draft: &ConnectionDraft) -> Result<TestResult> {
    let endpoint = draft.provider.endpoint(services.sandbox_port())?;
    draft.validate()?;
    let client = s3::client(&endpoint, draft.access_key.trim(), &draft.secret);
    let reach = spaces::test(&client, &endpoint.url, draft.space_name()).await?;
    Ok(TestResult {
        message: reach.sentence(),
        reach,
    })
}

/// Saves a connection: the secret to the keychain, the rest to the settings.
pub fn save_connection(services: &Services, draft: &ConnectionDraft) -> Result<ConnectionProfile> {
    draft.validate()?;
    let profile = ConnectionProfile {
        id: uuid::Uuid::new_v4().to_string(),
        name: draft.name.trim().to_string(),
        provider: draft.provider.clone(),
        access_key: draft.access_key.trim().to_string(),
        space: draft.space_name().map(str::to_string),
        space_keys: Default::default(),
    };
    let account = profile.keychain_account();
    services.keychain().set(&account, &draft.secret)?;
    if let Err(e) = services.settings().upsert_profile(profile.clone()) {
        // Don't leave a secret in the keychain that no saved connection points to.
        let _ = services.keychain().delete(&account);
        return Err(e);
    }
    services.log().write(format!(
        "saved connection “{}” ({})",
        profile.name, profile.id
    ));
    Ok(profile)
}

/// Connects with a saved connection and the secrets of the keys its Spaces remember.
pub async fn connect(services: &Services, id: &str) -> Result<Session> {
    if let Err(e) = crate::keys::rotate::finish_interrupted_move(services).await {
        let said = format!("an interrupted key rotation could not be finished yet: {e}");
        services.log().write(said);
    }
    let profile = services
        .settings()
        .profile(id)?
        .ok_or_else(|| Error::Gone("That connection no longer exists.".into()))?;
    let secret: Secret = services.keychain().get(&secret_account(&profile))?.ok_or_else(|| {
        Error::SecretMissing(format!(
            "The secret of “{}” is not in the system keychain any more. Remove the connection and add it again.",
            profile.name
        ))
    })?;
    let endpoint = profile.provider.endpoint(services.sandbox_port())?;
    let client = s3::client(&endpoint, &profile.access_key, &secret);
    // A key missing from the keychain only fails its own Spaces, with a message saying so.
    let mut space_secrets = BTreeMap::new();
    for key in profile.space_keys.values() {
        if key.access_key != profile.access_key && !space_secrets.contains_key(&key.access_key) {
            if let Some(s) = services.keychain().get(&key_account(&key.access_key))? {
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
    abort_unfinished(services, &active).await;
    services.change_active(|a| *a = Some(active)).await;
    services.settings().set_last_used(id)?;
    services.log().write(format!(
        "connected to “{}” at {}",
        session.profile.name, session.endpoint
    ));
    // A rotation this connection began and a quit interrupted is finished or undone now; if it
    // can't be yet, it stays written down for the next time.
    match crate::keys::rotate::finish_interrupted(services).await {
        Ok(Some(done)) => services.log().write(done),
        Ok(None) => {}
        Err(e) => services.log().write(format!(
            "an interrupted key rotation could not be finished yet: {e}"
        )),
    }
    Ok(session)
}

/// Multipart uploads a crash or a kill left behind at this endpoint are aborted: nothing the
/// app began stays half-done on the server.
async fn abort_unfinished(services: &Services, active: &Active) {
    let region = active.profile.provider.region_label();
    let (aborted, left) = unfinished::abort_recorded(
        services.queue().unfinished(),
        &active.endpoint.url,
        |space| {
            active
                .client_for_space(space, &region)
                .ok()
                .map(|(client, _)| client)
        },
    )
    .await;
    if aborted + left > 0 {
        services.log().write(format!(
            "unfinished uploads from an earlier run: {aborted} aborted, {left} could not be reached"
        ));
    }
}

pub async fn disconnect(services: &Services) {
    services.change_active(|a| *a = None).await;
}

/// Forgets a saved connection, its secret and its DigitalOcean token; disconnects if it is the
/// active one.
pub async fn delete_connection(services: &Services, id: &str) -> Result<()> {
    // Not while a key rotation moves connections.
    let _rotation = services.key_rotation_lock().lock().await;
    let mut profiles = services.settings().profiles()?;
    let Some(profile) = profiles.iter().find(|p| p.id == id).cloned() else {
        return Ok(());
    };
    services.keychain().delete(&secret_account(&profile))?;
    services
        .keychain()
        .delete(&crate::keys::manager::token_account(id))?;
    profiles.retain(|p| p.id != id);
    services.settings().save_profiles(&profiles)?;
    services
        .change_active(|active| {
            if active.as_ref().is_some_and(|a| a.profile.id == id) {
                *active = None;
            }
        })
        .await;
    services.log().write(format!(
        "removed connection “{}” ({})",
        profile.name, profile.id
    ));
    Ok(())
}

/// The Spaces of the active connection: those its key lists, and those it knows by name with the
/// key remembered for each. A limited key is never asked to list all Spaces.
pub async fn list_spaces(services: &Services) -> Result<Vec<SpaceSummary>> {
    let active = services.active().await?;
    let profile = &active.profile;
    let named = profile.named_spaces();
    let names = services.settings().key_names();
    let opens_with = |space: &str| {
        profile
            .space_keys
            .get(space)
            .filter(|k| k.access_key != profile.access_key)
            .map(|k| {
                names
                    .get(&k.access_key)
                    .cloned()
                    .unwrap_or_else(|| k.access_key.clone())
            })
    };
    if profile.key_is_limited() {
        return Ok(spaces::with_named(Vec::new(), &named, opens_with));
    }
    let region = profile.provider.region_label();
    let mut listed = spaces::list(&active.client, &active.endpoint.url, &region)
        .await
        .inspect_err(|e| {
            services
                .log()
                .write(format!("listing Spaces failed: {:?}: {e}", e.kind()))
        })?;
    // The file-listing column is read with the connection's own (full) key.
    spaces::add_file_listing(&active.client, &active.endpoint.url, &mut listed).await;
    Ok(spaces::with_named(listed, &named, opens_with))
}
