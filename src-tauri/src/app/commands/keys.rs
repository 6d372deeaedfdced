//! Commands of the access keys page. Each adapts one call of [`crate::core::keys::service`];
//! the secret of a new key crosses IPC once, in `generate_key`'s answer.

use tauri::State;

use crate::app::error::Result;
use crate::core::connection::active::Session;
use crate::core::keys::rotate::{self, RotatedKey, RotationPlan};
use crate::core::keys::service::{self as keys, GeneratedKey, HeldKey, KeyTest, KeysPage};
use crate::core::keys::{Permission, Scope};
use crate::core::secret::Secret;
use crate::core::services::Services;

#[tauri::command]
pub async fn list_keys(state: State<'_, Services>) -> Result<KeysPage> {
    Ok(keys::list(&state).await?)
}

/// Keeps a DigitalOcean personal access token in the keychain, for managing its keys.
#[tauri::command]
pub async fn set_api_token(state: State<'_, Services>, token: Secret) -> Result<()> {
    Ok(keys::set_api_token(&state, &token).await?)
}

#[tauri::command]
pub async fn generate_key(
    state: State<'_, Services>,
    name: String,
    scope: Scope,
) -> Result<GeneratedKey> {
    Ok(keys::generate(&state, &name, &scope).await?)
}

/// Keeps a key made elsewhere (e.g. in the DigitalOcean panel) in the keychain.
#[tauri::command]
pub async fn add_existing_key(
    state: State<'_, Services>,
    name: String,
    access_key: String,
    secret: Secret,
) -> Result<()> {
    Ok(keys::add_existing(&state, &name, &access_key, &secret).await?)
}

#[tauri::command]
pub async fn rename_key(
    state: State<'_, Services>,
    access_key: String,
    name: String,
) -> Result<()> {
    Ok(keys::rename(&state, &access_key, &name).await?)
}

/// Revokes the key on its server, with everything that held it.
#[tauri::command]
pub async fn delete_key(state: State<'_, Services>, access_key: String) -> Result<()> {
    Ok(keys::revoke(&state, &access_key).await?)
}

/// Replaces a key with a new one of the same grants everywhere the app uses it, then revokes it.
#[tauri::command]
pub async fn rotate_key(
    state: State<'_, Services>,
    access_key: String,
    request: Option<u32>,
) -> Result<RotatedKey> {
    Ok(rotate::rotate(&state, &access_key, request).await?)
}

/// What a rotation of the key would move, for the question asked first.
#[tauri::command]
pub async fn rotation_plan(state: State<'_, Services>, access_key: String) -> Result<RotationPlan> {
    Ok(rotate::would_move(&state, &access_key).await?)
}

/// Removes a key from the keychain only, leaving it valid on its server.
#[tauri::command]
pub async fn forget_key(state: State<'_, Services>, access_key: String) -> Result<()> {
    Ok(keys::forget(&state, &access_key).await?)
}

#[tauri::command]
pub async fn held_keys(state: State<'_, Services>) -> Result<Vec<HeldKey>> {
    Ok(keys::held_keys(&state).await?)
}

#[tauri::command]
pub async fn test_key(
    state: State<'_, Services>,
    access_key: String,
    space: String,
    permission: Option<Permission>,
) -> Result<KeyTest> {
    Ok(keys::test(&state, &access_key, &space, permission).await?)
}

/// Saves a connection that uses this key, and connects.
#[tauri::command]
pub async fn connect_with_key(
    state: State<'_, Services>,
    access_key: String,
    name: String,
    spaces: Vec<String>,
) -> Result<Session> {
    Ok(keys::connect_with(&state, &access_key, &name, &spaces).await?)
}
