//! The access keys page: the list with names, dates and keychain state merged in, generating
//! and adding keys, renaming, the revoke cascade, trying a key on a Space, and connecting with
//! one. The secret of a new key leaves once, in [`GeneratedKey`]; it lives in the keychain.

use serde::Serialize;
use ts_rs::TS;

use super::manager::{keep_token, space_names, Manager};
use super::{AccessKey, Permission, Scope};
use crate::connection::active::{Active, Session};
use crate::connection::{
    check_access_key, key_account, service, ConnectionProfile, Provider, SpaceKey,
};
use crate::error::{Error, Result};
use crate::s3;
use crate::secret::Secret;
use crate::services::Services;

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
    /// It can be rotated here (the sandbox's own key belongs to the sandbox).
    pub can_rotate: bool,
}

/// A key whose secret is in the keychain, so the app can open Spaces with it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HeldKey {
    pub name: String,
    pub access_key: String,
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

/// The one answer that carries a secret: shown once, then only in the keychain.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct GeneratedKey {
    pub key: AccessKey,
    pub secret: String,
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

fn held(services: &Services, access_key: &str) -> Result<bool> {
    Ok(services.keychain().get(&key_account(access_key))?.is_some())
}

/// A held key's secret, or why it can't be used.
pub fn secret_of(services: &Services, access_key: &str) -> Result<Secret> {
    services
        .keychain()
        .get(&key_account(access_key))?
        .ok_or_else(|| Error::SecretMissing("This key's secret is not in the keychain.".into()))
}

pub async fn list(services: &Services) -> Result<KeysPage> {
    let active = services.active().await?;
    let manager = Manager::of(services, &active).await?;
    // DigitalOcean's keys live behind its API, not the Spaces endpoint: the keys still show
    // when the Spaces can't be listed, with the reason.
    let (spaces, spaces_problem) = match (space_names(&active).await, &manager) {
        (Ok(spaces), _) => (spaces, None),
        (Err(e), Manager::DigitalOcean(_)) => (Vec::new(), Some(e.to_string())),
        (Err(e), Manager::Rgw(_)) => return Err(e),
    };
    let given = services.settings().key_names();
    let dates = services.settings().key_dates();
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
                "This connection's key"
            } else {
                "Unnamed key"
            }
            .into();
        }
        let in_keychain = current || held(services, &key.access_key)?;
        let can_rotate = !(current && active.profile.provider == Provider::Sandbox);
        rows.push(KeyRow {
            key,
            current,
            in_keychain,
            can_rotate,
        });
    }
    let mut held_elsewhere = Vec::new();
    for (access_key, name) in given {
        let listed = rows.iter().any(|r| r.key.access_key == access_key);
        if !listed && held(services, &access_key)? {
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

/// Keeps a DigitalOcean personal access token in the keychain for the active connection (and
/// only it), once it is shown to be of the account the connection's key is of.
pub async fn set_api_token(services: &Services, token: &Secret) -> Result<()> {
    if token.is_empty() {
        return Err(Error::InvalidInput(
            "Paste the personal access token.".into(),
        ));
    }
    let active = services.active().await?;
    keep_token(services, &active, token).await
}

pub async fn generate(services: &Services, name: &str, scope: &Scope) -> Result<GeneratedKey> {
    let active = services.active().await?;
    let (mut key, secret) = Manager::of(services, &active)
        .await?
        .generate(&active, name, scope)
        .await?;
    if key.created.is_none() {
        key.created = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .ok();
    }
    if let Some(created) = &key.created {
        services
            .settings()
            .set_key_date(&key.access_key, Some(created))?;
    }
    services
        .keychain()
        .set(&key_account(&key.access_key), &secret)?;
    services
        .settings()
        .set_key_name(&key.access_key, Some(name.trim()))?;
    services.log().write(format!(
        "generated the access key “{}” ({})",
        key.name, key.access_key
    ));
    Ok(GeneratedKey {
        key,
        secret: secret.expose().to_string(),
    })
}

/// Keeps a key made elsewhere (e.g. in the DigitalOcean panel) in the keychain.
pub async fn add_existing(
    services: &Services,
    name: &str,
    access_key: &str,
    secret: &Secret,
) -> Result<()> {
    check_access_key(access_key)?;
    let access_key = access_key.trim();
    if secret.is_empty() {
        return Err(Error::InvalidInput("Paste the key's secret.".into()));
    }
    // A DigitalOcean key keeps its name there: without a name typed, that one is used.
    let name = match name.trim() {
        "" => {
            let active = services.active().await?;
            match Manager::of(services, &active).await {
                Ok(Manager::DigitalOcean(api)) => api.get(access_key).await?.name,
                _ => return Err(Error::InvalidInput("Give the key a name.".into())),
            }
        }
        typed => typed.to_string(),
    };
    services.keychain().set(&key_account(access_key), secret)?;
    services.settings().set_key_name(access_key, Some(&name))
}

pub async fn rename(services: &Services, access_key: &str, name: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::InvalidInput("A key's name can't be empty.".into()));
    }
    // DigitalOcean keeps key names itself; RGW keys get theirs from the settings.
    let active = services.active().await?;
    if let Manager::DigitalOcean(api) = Manager::of(services, &active).await? {
        api.rename(access_key, name).await?;
    }
    services.settings().set_key_name(access_key, Some(name))
}

/// Removes a key from the keychain only, leaving it valid on its server (it may belong to
/// another account, or be used elsewhere).
pub async fn forget(services: &Services, access_key: &str) -> Result<()> {
    services.keychain().delete(&key_account(access_key))?;
    services.settings().forget_key(access_key)?;
    forget_for_spaces(services, access_key).await?;
    services.log().write(format!(
        "removed the access key {access_key} from the keychain"
    ));
    Ok(())
}

/// Revokes the key on its server, then everything that held it: the keychain, the Spaces that
/// remembered it and the saved connections that signed with it. A revoked key opens nothing.
pub async fn revoke(services: &Services, access_key: &str) -> Result<()> {
    let active = services.active().await?;
    if access_key == active.profile.access_key {
        return Err(Error::KeyInUse);
    }
    Manager::of(services, &active)
        .await?
        .revoke(&active, access_key)
        .await?;
    services.keychain().delete(&key_account(access_key))?;
    services.settings().forget_key(access_key)?;
    forget_for_spaces(services, access_key).await?;
    let mut profiles = services.settings().profiles()?;
    for dead in profiles.iter().filter(|p| p.access_key == access_key) {
        services.keychain().delete(&dead.keychain_account())?;
        services.log().write(format!(
            "removed connection “{}” ({}): its key was revoked",
            dead.name, dead.id
        ));
    }
    profiles.retain(|p| p.access_key != access_key);
    services.settings().save_profiles(&profiles)?;
    services
        .log()
        .write(format!("revoked the access key {access_key}"));
    Ok(())
}

/// The Spaces that remembered a key go back to their connection's key.
async fn forget_for_spaces(services: &Services, access_key: &str) -> Result<()> {
    for mut profile in services.settings().profiles()? {
        let before = profile.space_keys.len();
        profile.space_keys.retain(|_, k| k.access_key != access_key);
        if profile.space_keys.len() != before {
            services.settings().upsert_profile(profile)?;
        }
    }
    services
        .change_active(|active| {
            if let Some(active) = active.as_mut() {
                active
                    .profile
                    .space_keys
                    .retain(|_, k| k.access_key != access_key);
                active.space_secrets.remove(access_key);
            }
        })
        .await;
    Ok(())
}

/// The keys this app holds besides the connection's own, without asking any server: a limited
/// connection can't list keys, but can still open a Space with another key it holds.
pub async fn held_keys(services: &Services) -> Result<Vec<HeldKey>> {
    let own = services.active().await?.profile.access_key;
    let mut keys = Vec::new();
    for (access_key, name) in services.settings().key_names() {
        if access_key != own && held(services, &access_key)? {
            keys.push(HeldKey { name, access_key });
        }
    }
    keys.sort_by_key(|k| k.name.to_lowercase());
    Ok(keys)
}

/// Lists one file of the Space with the key and, unless it may only read, writes and deletes
/// a small file: what the key really can do, not what its grants say.
pub async fn test(
    services: &Services,
    access_key: &str,
    space: &str,
    permission: Option<Permission>,
) -> Result<KeyTest> {
    let active = services.active().await?;
    let secret = if access_key == active.profile.access_key {
        active.secret.clone()
    } else {
        secret_of(services, access_key)?
    };
    let client = s3::client(&active.endpoint, access_key, &secret);
    let list = client.list_objects_v2().bucket(space).max_keys(1);
    let can_list = list.send().await.is_ok();
    let can_write = match permission {
        Some(Permission::Read) => None,
        _ => Some(write_and_delete(&client, &active.client, space).await),
    };
    Ok(KeyTest {
        can_list,
        can_write,
    })
}

/// Writes a small file under a name of its own and removes exactly it: never a file of the
/// user's (a new name each time, written only where nothing is). On a versioned Space it is
/// removed by its version id, so nothing of it stays; a key that may delete files but not
/// versions leaves a delete marker, and the connection's own key (`tidy`) removes both.
pub(crate) async fn write_and_delete(
    client: &aws_sdk_s3::Client,
    tidy: &aws_sdk_s3::Client,
    space: &str,
) -> bool {
    let key = format!(".spacedock-key-test-{}", uuid::Uuid::new_v4().simple());
    let body = aws_sdk_s3::primitives::ByteStream::from_static(b"ok");
    let put = client.put_object().bucket(space).key(&key).body(body);
    let Ok(written) = put.if_none_match("*").send().await else {
        return false;
    };
    let version = written.version_id().map(str::to_string);
    let exact = client.delete_object().bucket(space).key(&key);
    if exact.set_version_id(version.clone()).send().await.is_ok() {
        return true;
    }
    let Ok(deleted) = client.delete_object().bucket(space).key(&key).send().await else {
        return false;
    };
    for left in [version, deleted.version_id().map(str::to_string)]
        .into_iter()
        .flatten()
    {
        let _ = tidy
            .delete_object()
            .bucket(space)
            .key(&key)
            .version_id(left)
            .send()
            .await;
    }
    true
}

/// Saves a connection that uses this key, and connects. For a limited key, `spaces` are the
/// Spaces it was granted: the connection knows them by name and never lists Spaces.
pub async fn connect_with(
    services: &Services,
    access_key: &str,
    name: &str,
    spaces: &[String],
) -> Result<Session> {
    let active: Active = services.active().await?;
    let secret = secret_of(services, access_key)?;
    let region = active.profile.provider.region_label();
    let remembered = |space: &String| {
        let key = SpaceKey {
            access_key: access_key.to_string(),
            region: region.clone(),
        };
        (space.clone(), key)
    };
    let profile = ConnectionProfile {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.trim().to_string(),
        provider: active.profile.provider.clone(),
        access_key: access_key.to_string(),
        space: spaces.first().cloned(),
        space_keys: spaces.iter().skip(1).map(remembered).collect(),
    };
    services
        .keychain()
        .set(&profile.keychain_account(), &secret)?;
    services.settings().upsert_profile(profile.clone())?;
    service::connect(services, &profile.id).await
}
