//! What the app holds while it runs: the sandbox, the active connection, saved connections.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;
use tauri::{AppHandle, Runtime};
use tauri_plugin_store::StoreExt;
use tokio::sync::RwLock;
use ts_rs::TS;

use super::error::{AppError, Result};
use super::journal::Journal;
use crate::core::connection::{ConnectionProfile, Endpoint, Provider};
use crate::core::keychain::Keychain;
use crate::core::s3;
use crate::core::sandbox::Sandbox;
use crate::core::secret::Secret;
use crate::core::Error;

const STORE_FILE: &str = "connections.json";
/// The sandbox's connection has a fixed id: there is one sandbox per user.
pub const SANDBOX_ID: &str = "sandbox";
pub const SANDBOX_OWNER_ACCOUNT: &str = "sandbox-owner";

/// The connection in use.
#[derive(Clone)]
pub struct Active {
    pub profile: ConnectionProfile,
    pub endpoint: Endpoint,
    pub client: aws_sdk_s3::Client,
    /// Kept in memory only, to sign for another region's endpoint (DigitalOcean).
    pub secret: Secret,
    /// Secrets of the keys that open particular Spaces (`profile.space_keys`), from the keychain.
    pub space_secrets: BTreeMap<String, Secret>,
}

/// The client that requests about one Space go out with, and whether its key is limited.
pub struct SpaceAccess {
    pub client: aws_sdk_s3::Client,
    pub endpoint: Endpoint,
    /// A key limited to some Spaces: never sent ListBuckets or GetBucketAcl.
    pub limited: bool,
    /// The access key used, when it is not the connection's own.
    pub opens_with: Option<String>,
}

/// What the UI is told about the active connection.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Session {
    pub profile: ConnectionProfile,
    pub endpoint: String,
}

impl Active {
    /// A client for the Space's region: on DigitalOcean each region has its own endpoint.
    pub fn client_for_region(&self, region: &str) -> Result<(aws_sdk_s3::Client, Endpoint)> {
        let endpoint = self.endpoint_for_region(region)?;
        if endpoint == self.endpoint {
            return Ok((self.client.clone(), endpoint));
        }
        Ok((
            s3::client(&endpoint, &self.profile.access_key, &self.secret),
            endpoint,
        ))
    }

    /// The key remembered for `space`, else the connection's own key.
    pub fn for_space(&self, space: &str, region: &str) -> Result<SpaceAccess> {
        let remembered = self
            .profile
            .space_keys
            .get(space)
            .filter(|k| k.access_key != self.profile.access_key);
        let Some(key) = remembered else {
            let (client, endpoint) = self.client_for_region(region)?;
            return Ok(SpaceAccess {
                client,
                endpoint,
                limited: self.profile.key_is_limited(),
                opens_with: None,
            });
        };
        let secret = self.space_secrets.get(&key.access_key).ok_or_else(|| {
            Error::Keychain(format!(
                "The key that opens “{space}” ({}) is not in the keychain any more. Open the Space by name with another key.",
                key.access_key
            ))
        })?;
        let endpoint = self.endpoint_for_region(region)?;
        Ok(SpaceAccess {
            client: s3::client(&endpoint, &key.access_key, secret),
            endpoint,
            limited: true,
            opens_with: Some(key.access_key.clone()),
        })
    }

    /// The client and endpoint for requests about `space`, with the key remembered for it.
    pub fn client_for_space(
        &self,
        space: &str,
        region: &str,
    ) -> Result<(aws_sdk_s3::Client, Endpoint)> {
        let access = self.for_space(space, region)?;
        Ok((access.client, access.endpoint))
    }

    fn endpoint_for_region(&self, region: &str) -> Result<Endpoint> {
        match &self.profile.provider {
            Provider::DigitalOcean { region: own } if own != region => Ok(Provider::DigitalOcean {
                region: region.to_string(),
            }
            .endpoint(None)?),
            _ => Ok(self.endpoint.clone()),
        }
    }

    pub fn session(&self) -> Session {
        Session {
            profile: self.profile.clone(),
            endpoint: self.endpoint.url.clone(),
        }
    }
}

pub struct AppState {
    pub keychain: Keychain,
    pub sandbox: Mutex<Option<Sandbox>>,
    pub active: RwLock<Option<Active>>,
    pub journal: Journal,
    pub sandbox_dir: PathBuf,
    /// Uploads planned or running, by batch id.
    pub uploads:
        std::sync::Mutex<std::collections::HashMap<u32, super::commands::transfers::Batch>>,
    /// Downloads planned and waiting for the user's choice, by batch id.
    pub downloads:
        std::sync::Mutex<std::collections::HashMap<u32, super::commands::files::DownloadBatch>>,
    pub next_batch: std::sync::atomic::AtomicU32,
    /// Multipart uploads in flight, noted on disk so a crash's leftovers are aborted later.
    pub unfinished: std::sync::Arc<crate::core::transfer::unfinished::Unfinished>,
    /// Bumped by each folder listing; a listing stops once a newer one began.
    pub listing_generation: std::sync::atomic::AtomicU64,
    /// Set to stop the Space destruction in progress.
    pub cancel_destroy: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Set by `--sandbox`: connect to the local sandbox at once.
    pub start_on_sandbox: bool,
}

impl AppState {
    pub async fn active(&self) -> Result<Active> {
        self.active
            .read()
            .await
            .clone()
            .ok_or(AppError::NotConnected)
    }

    pub fn sandbox_port(&self) -> Option<u16> {
        self.sandbox.lock().ok()?.as_ref().map(|s| s.rgw_port())
    }

    /// At quit: stops every upload, and waits up to `limit` for their multipart uploads to be
    /// aborted. Any left are noted on disk and aborted at the next connection.
    pub fn stop_uploads(&self, limit: std::time::Duration) {
        if let Ok(uploads) = self.uploads.lock() {
            uploads.values().for_each(|b| b.cancel_all());
        }
        let started = std::time::Instant::now();
        while self.unfinished.in_flight_here() > 0 && started.elapsed() < limit {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Stops the sandbox's daemons, if running. Blocks up to the daemons' grace periods.
    pub fn stop_sandbox(&self) {
        let sandbox = self.sandbox.lock().ok().and_then(|mut s| s.take());
        if let Some(sandbox) = sandbox {
            self.journal.write("stopping the local sandbox");
            sandbox.stop();
            self.journal.write("local sandbox stopped");
        }
    }
}

/// Saved connections, in the app's store file. Secrets are never part of them.
pub fn load_profiles<R: Runtime>(app: &AppHandle<R>) -> Result<Vec<ConnectionProfile>> {
    let store = app.store(STORE_FILE)?;
    match store.get("connections") {
        None => Ok(Vec::new()),
        Some(value) => serde_json::from_value(value).map_err(|e| AppError::Store(e.to_string())),
    }
}

pub fn save_profiles<R: Runtime>(app: &AppHandle<R>, profiles: &[ConnectionProfile]) -> Result<()> {
    let store = app.store(STORE_FILE)?;
    store.set(
        "connections",
        serde_json::to_value(profiles).map_err(|e| AppError::Store(e.to_string()))?,
    );
    store.save()?;
    Ok(())
}

pub fn last_region<R: Runtime>(app: &AppHandle<R>) -> Option<String> {
    app.store(STORE_FILE)
        .ok()?
        .get("lastRegion")?
        .as_str()
        .map(str::to_string)
}

pub fn set_last_region<R: Runtime>(app: &AppHandle<R>, region: &str) -> Result<()> {
    let store = app.store(STORE_FILE)?;
    store.set("lastRegion", serde_json::Value::String(region.to_string()));
    store.save()?;
    Ok(())
}

pub fn last_used<R: Runtime>(app: &AppHandle<R>) -> Option<String> {
    app.store(STORE_FILE)
        .ok()?
        .get("lastUsed")?
        .as_str()
        .map(str::to_string)
}

pub fn set_last_used<R: Runtime>(app: &AppHandle<R>, id: &str) -> Result<()> {
    let store = app.store(STORE_FILE)?;
    store.set("lastUsed", serde_json::Value::String(id.to_string()));
    store.save()?;
    Ok(())
}

/// A map by access key kept in the store (a key's name, its creation date).
pub fn key_map<R: Runtime>(app: &AppHandle<R>, field: &str) -> BTreeMap<String, String> {
    app.store(STORE_FILE)
        .ok()
        .and_then(|s| s.get(field))
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Sets (or with `None` removes) one key's entry in the map `field`.
pub fn set_key_entry<R: Runtime>(
    app: &AppHandle<R>,
    field: &str,
    access_key: &str,
    value: Option<&str>,
) -> Result<()> {
    let mut all = key_map(app, field);
    match value {
        Some(v) => all.insert(access_key.to_string(), v.to_string()),
        None => all.remove(access_key),
    };
    let store = app.store(STORE_FILE)?;
    store.set(
        field,
        serde_json::to_value(all).map_err(|e| AppError::Store(e.to_string()))?,
    );
    store.save()?;
    Ok(())
}

/// The keychain account holding a saved connection's secret: the sandbox's own connection
/// signs with the owner's key, others with their own.
pub fn secret_account(profile: &ConnectionProfile) -> String {
    if profile.id == SANDBOX_ID {
        SANDBOX_OWNER_ACCOUNT.to_string()
    } else {
        profile.keychain_account()
    }
}

/// Adds or replaces a profile by id.
pub fn upsert_profile<R: Runtime>(app: &AppHandle<R>, profile: ConnectionProfile) -> Result<()> {
    let mut profiles = load_profiles(app)?;
    profiles.retain(|p| p.id != profile.id);
    // The sandbox first, then by name: the order people see in the list.
    profiles.push(profile);
    profiles.sort_by(|a, b| {
        (a.provider != Provider::Sandbox, a.name.to_lowercase())
            .cmp(&(b.provider != Provider::Sandbox, b.name.to_lowercase()))
    });
    save_profiles(app, &profiles)
}
