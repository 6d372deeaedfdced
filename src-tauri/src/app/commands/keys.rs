//! Commands of the access keys page (Ceph RGW: the sandbox or a self-hosted gateway).
//! The secret of a new key crosses IPC once, in `generate_key`'s answer; it lives in the keychain.

use serde::Serialize;
use tauri::{AppHandle, Runtime, State};
use ts_rs::TS;

use crate::app::error::Result;
use crate::app::state::{self, Active, AppState, Session};
use crate::core::connection::{
    check_access_key, key_account, ConnectionProfile, Provider, SpaceKey,
};
use crate::core::keys::admin::{Admin, RgwKeys};
use crate::core::keys::digitalocean::{api_base, DoApi};
use crate::core::keys::{AccessKey, Permission, Scope};
use crate::core::secret::Secret;
use crate::core::{s3, spaces, Error};

/// Names the user gave keys (RGW keeps no name for a user's extra keys), by access key.
const KEY_NAMES: &str = "keyNames";
/// When this app made each key, by access key (RGW keeps no date for keys).
const KEY_CREATED: &str = "keyCreated";

fn names<R: Runtime>(app: &AppHandle<R>) -> std::collections::BTreeMap<String, String> {
    state::key_map(app, KEY_NAMES)
}

fn set_name<R: Runtime>(app: &AppHandle<R>, access_key: &str, name: Option<&str>) -> Result<()> {
    state::set_key_entry(app, KEY_NAMES, access_key, name)
}

fn set_created<R: Runtime>(
    app: &AppHandle<R>,
    access_key: &str,
    created: Option<&str>,
) -> Result<()> {
    state::set_key_entry(app, KEY_CREATED, access_key, created)
}

/// The name people gave a key, else its access key.
pub fn key_name<R: Runtime>(app: &AppHandle<R>, access_key: &str) -> String {
    names(app)
        .remove(access_key)
        .unwrap_or_else(|| access_key.to_string())
}

const DO_TOKEN_ACCOUNT: &str = "digitalocean-token";

/// Who makes and revokes keys for this connection: RGW's Admin Ops API, or DigitalOcean's API.
enum Manager {
    Rgw(Admin),
    DigitalOcean(DoApi),
}

fn manager(state: &AppState, active: &Active) -> Result<Manager> {
    match active.profile.provider {
        Provider::DigitalOcean { .. } => {
            let token = state
                .keychain
                .get(DO_TOKEN_ACCOUNT)?
                .ok_or(Error::ApiTokenNeeded)?;
            Ok(Manager::DigitalOcean(DoApi::new(&api_base()?, &token)))
        }
        _ => Ok(Manager::Rgw(admin_of(state, active)?)),
    }
}

impl Manager {
    async fn list(&self, active: &Active, spaces: &[String]) -> Result<Vec<AccessKey>> {
        Ok(match self {
            Manager::Rgw(admin) => rgw_keys(active, admin).list(spaces).await?,
            Manager::DigitalOcean(api) => api.list().await?,
        })
    }

    async fn generate(
        &self,
        active: &Active,
        name: &str,
        scope: &Scope,
    ) -> Result<(AccessKey, Secret)> {
        Ok(match self {
            Manager::Rgw(admin) => rgw_keys(active, admin).generate(name, scope).await?,
            Manager::DigitalOcean(api) => api.create(name, scope).await?,
        })
    }

    async fn delete(&self, active: &Active, access_key: &str, spaces: &[String]) -> Result<()> {
        match self {
            Manager::Rgw(admin) => rgw_keys(active, admin).delete(access_key, spaces).await?,
            Manager::DigitalOcean(api) => api.delete(access_key).await?,
        }
        Ok(())
    }
}

/// Keeps a DigitalOcean personal access token in the keychain, for managing its keys.
#[tauri::command]
pub async fn set_api_token(state: State<'_, AppState>, token: Secret) -> Result<()> {
    if token.is_empty() {
        return Err(Error::InvalidInput("Paste the personal access token.".into()).into());
    }
    state.keychain.set(DO_TOKEN_ACCOUNT, &token)?;
    Ok(())
}

/// The Admin Ops API. On the sandbox it is signed with the key manager's own key, which is never
/// shown or handed out; on a self-hosted RGW, with this connection's key (it needs admin caps).
fn admin_of(state: &AppState, active: &Active) -> Result<Admin> {
    let endpoint = &active.endpoint;
    if active.profile.provider == Provider::Sandbox {
        let running = state
            .sandbox
            .lock()
            .map_err(|_| Error::Sandbox("The local sandbox is unavailable.".into()))?;
        let sandbox = running
            .as_ref()
            .ok_or_else(|| Error::Sandbox("The local sandbox is not running.".into()))?;
        let key = sandbox.admin_key();
        return Ok(Admin::new(
            &endpoint.url,
            &endpoint.signing_region,
            &key.access_key,
            &key.secret,
        ));
    }
    Ok(Admin::new(
        &endpoint.url,
        &endpoint.signing_region,
        &active.profile.access_key,
        &active.secret,
    ))
}

fn rgw_keys<'a>(active: &'a Active, admin: &'a Admin) -> RgwKeys<'a> {
    RgwKeys {
        admin,
        owner: &active.client,
        endpoint: &active.endpoint.url,
        owner_access_key: &active.profile.access_key,
    }
}

/// The Spaces keys can be granted on. A limited key never lists them: it knows its own by name.
async fn space_names(active: &Active) -> Result<Vec<String>> {
    if active.profile.key_is_limited() {
        return Ok(active
            .profile
            .named_spaces()
            .into_iter()
            .map(|(name, _)| name)
            .collect());
    }
    let list = spaces::list(&active.client, &active.endpoint.url, "").await?;
    Ok(list.into_iter().map(|s| s.name).collect())
}

/// A key as the keys page shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KeyRow {
    pub key: AccessKey,
    /// The key this connection itself uses.
    pub current: bool,
    /// Its secret is in the keychain, so the app can use it.
    pub in_keychain: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KeysPage {
    pub keys: Vec<KeyRow>,
    pub spaces: Vec<String>,
    /// Why `spaces` is empty when the Spaces could not be listed.
    pub spaces_problem: Option<String>,
    /// Keys in the keychain that this account's list doesn't have (made for another account or
    /// connection): shown so the keychain never holds a key the page doesn't show.
    pub held_elsewhere: Vec<HeldKey>,
}

#[tauri::command]
pub async fn list_keys<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<KeysPage> {
    let active = state.active().await?;
    let manager = manager(&state, &active)?;
    // DigitalOcean's keys live behind its API, not the Spaces endpoint: the keys still show
    // when the Spaces can't be listed, with the reason.
    let (spaces, spaces_problem) = match (space_names(&active).await, &manager) {
        (Ok(spaces), _) => (spaces, None),
        (Err(e), Manager::DigitalOcean(_)) => (Vec::new(), Some(e.to_string())),
        (Err(e), Manager::Rgw(_)) => return Err(e),
    };
    let given = names(&app);
    let dates = state::key_map(&app, KEY_CREATED);
    let mut rows = Vec::new();
    for mut key in manager.list(&active, &spaces).await? {
        let current = key.access_key == active.profile.access_key;
        if key.created.is_none() {
            key.created = dates.get(&key.access_key).cloned();
        }
        if let Some(n) = given.get(&key.access_key) {
            key.name = n.clone();
        } else if key.name.is_empty() {
            key.name = if current {
                "This connection's key".into()
            } else {
                "Unnamed key".into()
            };
        }
        let in_keychain = current || state.keychain.get(&key_account(&key.access_key))?.is_some();
        rows.push(KeyRow {
            key,
            current,
            in_keychain,
        });
    }
    let mut held_elsewhere = Vec::new();
    for (access_key, name) in given {
        let listed = rows.iter().any(|r| r.key.access_key == access_key);
        if !listed && state.keychain.get(&key_account(&access_key))?.is_some() {
            held_elsewhere.push(HeldKey { name, access_key });
        }
    }
    Ok(KeysPage {
        keys: rows,
        spaces,
        spaces_problem,
        held_elsewhere,
    })
}

/// Removes a key from the keychain only, leaving it valid on its server (it may belong to
/// another account, or be used elsewhere).
#[tauri::command]
pub async fn forget_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    access_key: String,
) -> Result<()> {
    state.keychain.delete(&key_account(&access_key))?;
    set_name(&app, &access_key, None)?;
    set_created(&app, &access_key, None)?;
    forget_key_for_spaces(&app, &state, &access_key).await?;
    state.journal.write(format!(
        "removed the access key {access_key} from the keychain"
    ));
    Ok(())
}

/// The one answer that carries a secret: shown once, then only in the keychain.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct GeneratedKey {
    pub key: AccessKey,
    pub secret: String,
}

#[tauri::command]
pub async fn generate_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    name: String,
    scope: Scope,
) -> Result<GeneratedKey> {
    let active = state.active().await?;
    let (mut key, secret) = manager(&state, &active)?
        .generate(&active, &name, &scope)
        .await?;
    if key.created.is_none() {
        key.created = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .ok();
    }
    if let Some(created) = &key.created {
        set_created(&app, &key.access_key, Some(created))?;
    }
    state.keychain.set(&key_account(&key.access_key), &secret)?;
    set_name(&app, &key.access_key, Some(name.trim()))?;
    state.journal.write(format!(
        "generated the access key “{}” ({})",
        key.name, key.access_key
    ));
    Ok(GeneratedKey {
        key,
        secret: secret.expose().to_string(),
    })
}

/// Keeps a key made elsewhere (e.g. in the DigitalOcean panel) in the keychain.
#[tauri::command]
pub async fn add_existing_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    name: String,
    access_key: String,
    secret: Secret,
) -> Result<()> {
    check_access_key(&access_key)?;
    let access_key = access_key.trim();
    if secret.is_empty() {
        return Err(Error::InvalidInput("Paste the key's secret.".into()).into());
    }
    // A DigitalOcean key keeps its name there: without a name typed, that one is used.
    let name = match name.trim() {
        "" => {
            let active = state.active().await?;
            match manager(&state, &active) {
                Ok(Manager::DigitalOcean(api)) => api.get(access_key).await?.name,
                _ => return Err(Error::InvalidInput("Give the key a name.".into()).into()),
            }
        }
        typed => typed.to_string(),
    };
    state.keychain.set(&key_account(access_key), &secret)?;
    set_name(&app, access_key, Some(&name))?;
    Ok(())
}

#[tauri::command]
pub async fn rename_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    access_key: String,
    name: String,
) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::InvalidInput("A key's name can't be empty.".into()).into());
    }
    // DigitalOcean keeps key names itself; RGW keys get theirs from this app's store.
    let active = state.active().await?;
    if let Manager::DigitalOcean(api) = manager(&state, &active)? {
        api.rename(&access_key, &name).await?;
    }
    set_name(&app, &access_key, Some(name.trim()))
}

/// Revokes the key on the server and removes it from the keychain, with the saved connections
/// that used it: a revoked key opens nothing.
#[tauri::command]
pub async fn delete_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    access_key: String,
) -> Result<()> {
    let active = state.active().await?;
    if access_key == active.profile.access_key {
        return Err(Error::InvalidInput(
            "This connection signs with that key. Connect with another key before revoking it."
                .into(),
        )
        .into());
    }
    let manager = manager(&state, &active)?;
    // RGW's limited keys are statements in each Space's policy; DigitalOcean's API needs none.
    let spaces = match manager {
        Manager::Rgw(_) => space_names(&active).await?,
        Manager::DigitalOcean(_) => Vec::new(),
    };
    manager.delete(&active, &access_key, &spaces).await?;
    state.keychain.delete(&key_account(&access_key))?;
    set_name(&app, &access_key, None)?;
    set_created(&app, &access_key, None)?;
    forget_key_for_spaces(&app, &state, &access_key).await?;
    let mut profiles = state::load_profiles(&app)?;
    for dead in profiles.iter().filter(|p| p.access_key == access_key) {
        state.keychain.delete(&dead.keychain_account())?;
        state.journal.write(format!(
            "removed connection “{}” ({}): its key was revoked",
            dead.name, dead.id
        ));
    }
    profiles.retain(|p| p.access_key != access_key);
    state::save_profiles(&app, &profiles)?;
    state
        .journal
        .write(format!("revoked the access key {access_key}"));
    Ok(())
}

/// A revoked key opens nothing: the Spaces that remembered it go back to the connection's key.
async fn forget_key_for_spaces<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    access_key: &str,
) -> Result<()> {
    for mut profile in state::load_profiles(app)? {
        let before = profile.space_keys.len();
        profile.space_keys.retain(|_, k| k.access_key != access_key);
        if profile.space_keys.len() != before {
            state::upsert_profile(app, profile)?;
        }
    }
    if let Some(active) = state.active.write().await.as_mut() {
        active
            .profile
            .space_keys
            .retain(|_, k| k.access_key != access_key);
        active.space_secrets.remove(access_key);
    }
    Ok(())
}

/// A key whose secret is in the keychain, so the app can open Spaces with it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HeldKey {
    pub name: String,
    pub access_key: String,
}

/// The keys this app holds besides the connection's own, without asking any server: a limited
/// connection can't list keys, but can still open a Space with another key it holds.
#[tauri::command]
pub async fn held_keys<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<Vec<HeldKey>> {
    let own = state.active().await?.profile.access_key;
    let mut held = Vec::new();
    for (access_key, name) in names(&app) {
        if access_key != own && state.keychain.get(&key_account(&access_key))?.is_some() {
            held.push(HeldKey { name, access_key });
        }
    }
    held.sort_by_key(|k| k.name.to_lowercase());
    Ok(held)
}

/// What a key really could do in a Space, tried for real (never with ListBuckets).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KeyTest {
    pub can_list: bool,
    /// None when its permission does not allow writing, so it was not tried.
    pub can_write: Option<bool>,
}

#[tauri::command]
pub async fn test_key(
    state: State<'_, AppState>,
    access_key: String,
    space: String,
    permission: Option<Permission>,
) -> Result<KeyTest> {
    let active = state.active().await?;
    let secret = if access_key == active.profile.access_key {
        active.secret.clone()
    } else {
        state
            .keychain
            .get(&key_account(&access_key))?
            .ok_or_else(|| {
                Error::Keychain(
                    "This key's secret is not in the keychain, so it can't be tried.".into(),
                )
            })?
    };
    let client = s3::client(&active.endpoint, &access_key, &secret);
    let can_list = client
        .list_objects_v2()
        .bucket(&space)
        .max_keys(1)
        .send()
        .await
        .is_ok();
    let may_write = !matches!(permission, Some(Permission::Read));
    let can_write = if may_write {
        let key = ".spacedock-key-test";
        let put = client
            .put_object()
            .bucket(&space)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"ok"))
            .send()
            .await
            .is_ok();
        let deleted = put
            && client
                .delete_object()
                .bucket(&space)
                .key(key)
                .send()
                .await
                .is_ok();
        Some(put && deleted)
    } else {
        None
    };
    Ok(KeyTest {
        can_list,
        can_write,
    })
}

/// Saves a connection that uses this key, and connects. For a limited key, `spaces` are the
/// Spaces it was granted: the connection knows them by name and never lists Spaces.
#[tauri::command]
pub async fn connect_with_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    access_key: String,
    name: String,
    spaces: Vec<String>,
) -> Result<Session> {
    let active = state.active().await?;
    let secret = state
        .keychain
        .get(&key_account(&access_key))?
        .ok_or_else(|| Error::Keychain("This key's secret is not in the keychain.".into()))?;
    let region = active.profile.provider.region_label();
    let space_keys = spaces
        .iter()
        .skip(1)
        .map(|space| {
            (
                space.clone(),
                SpaceKey {
                    access_key: access_key.clone(),
                    region: region.clone(),
                },
            )
        })
        .collect();
    let profile = ConnectionProfile {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.trim().to_string(),
        provider: active.profile.provider.clone(),
        access_key,
        space: spaces.first().cloned(),
        space_keys,
    };
    state.keychain.set(&profile.keychain_account(), &secret)?;
    state::upsert_profile(&app, profile.clone())?;
    super::connections::connect(app, state, profile.id).await
}
