//! What the app remembers between runs, besides secrets: saved connections in the order people
//! see them, the last region and connection used, the names and dates of access keys, and the
//! transfer limits.
//!
//! The app keeps them in its store plugin; anything that can hold JSON values by name can
//! ([`Store`]), so the domain is tested with [`FileStore`] and no window.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use super::connection::{ConnectionProfile, Provider};
use super::error::{Error, Result};

/// JSON values by name, saved at each `set`.
pub trait Store: Send + Sync {
    fn get(&self, field: &str) -> Option<Value>;
    fn set(&self, field: &str, value: Value) -> Result<()>;
}

/// A [`Store`] in one JSON file, rewritten whole and atomically at each change.
pub struct FileStore {
    path: PathBuf,
    fields: Mutex<Map<String, Value>>,
}

impl FileStore {
    /// Opens `path`, or starts empty when it does not exist yet.
    pub fn open(path: PathBuf) -> Result<FileStore> {
        let fields = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::settings(format!("“{}” is damaged", path.display()), Some(e.into()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => {
                let what = format!("“{}” can't be read", path.display());
                return Err(Error::settings(what, Some(e.into())));
            }
        };
        Ok(FileStore {
            path,
            fields: Mutex::new(fields),
        })
    }
}

impl Store for FileStore {
    fn get(&self, field: &str) -> Option<Value> {
        self.fields.lock().ok()?.get(field).cloned()
    }

    fn set(&self, field: &str, value: Value) -> Result<()> {
        let mut fields = self
            .fields
            .lock()
            .map_err(|_| Error::settings("the settings are unavailable", None))?;
        fields.insert(field.to_string(), value);
        let text = serde_json::to_vec_pretty(&*fields)
            .map_err(|e| Error::settings("they can't be written as JSON", Some(e.into())))?;
        if let Some(dir) = self.path.parent() {
            let made = std::fs::create_dir_all(dir);
            made.map_err(|e| Error::settings("their folder can't be made", Some(e.into())))?;
        }
        super::disk::write_atomic(&self.path, &text)
    }
}

const CONNECTIONS: &str = "connections";
const LAST_REGION: &str = "lastRegion";
const LAST_USED: &str = "lastUsed";
/// Names the user gave keys (RGW keeps no name for a user's extra keys), by access key.
const KEY_NAMES: &str = "keyNames";
/// When this app made each key, by access key (RGW keeps no date for keys).
const KEY_CREATED: &str = "keyCreated";
const TRANSFER_LIMITS: &str = "transferLimits";
/// A key rotation under way (see `keys::rotate`), or null.
const KEY_ROTATION: &str = "keyRotation";

/// How transfers share the link. The defaults (all `None`) are as fast as the link allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TransferLimits {
    /// Bytes per second, up and down.
    pub upload_limit: Option<u64>,
    pub download_limit: Option<u64>,
    /// The most files that move at once.
    pub files_at_once: Option<u32>,
}

pub use spacedock_common::json::keep_unknown;

/// The typed view of a [`Store`].
pub struct Settings {
    store: Box<dyn Store>,
}

impl Settings {
    pub fn new(store: Box<dyn Store>) -> Settings {
        Settings { store }
    }

    /// Saved connections; secrets are never part of them.
    pub fn profiles(&self) -> Result<Vec<ConnectionProfile>> {
        match self.store.get(CONNECTIONS) {
            None => Ok(Vec::new()),
            Some(value) => serde_json::from_value(value)
                .map_err(|e| Error::settings("the saved connections are damaged", Some(e.into()))),
        }
    }

    pub fn profile(&self, id: &str) -> Result<Option<ConnectionProfile>> {
        Ok(self.profiles()?.into_iter().find(|p| p.id == id))
    }

    pub fn save_profiles(&self, profiles: &[ConnectionProfile]) -> Result<()> {
        let before = match self.store.get(CONNECTIONS) {
            Some(Value::Array(all)) => all,
            _ => Vec::new(),
        };
        let mut saved = Vec::with_capacity(profiles.len());
        for profile in profiles {
            let value = serde_json::to_value(profile);
            let mut value =
                value.map_err(|e| Error::settings("connections as JSON", Some(e.into())))?;
            if let Some(old) = before.iter().find(|v| v["id"] == profile.id.as_str()) {
                keep_unknown::<ConnectionProfile>(old, &mut value);
            }
            saved.push(value);
        }
        self.store.set(CONNECTIONS, Value::Array(saved))
    }

    /// Adds or replaces a profile by id, keeping the order people see: the sandbox first, then
    /// by name.
    pub fn upsert_profile(&self, profile: ConnectionProfile) -> Result<()> {
        let mut profiles = self.profiles()?;
        profiles.retain(|p| p.id != profile.id);
        profiles.push(profile);
        profiles.sort_by(|a, b| {
            (a.provider != Provider::Sandbox, a.name.to_lowercase())
                .cmp(&(b.provider != Provider::Sandbox, b.name.to_lowercase()))
        });
        self.save_profiles(&profiles)
    }

    fn text(&self, field: &str) -> Option<String> {
        self.store.get(field)?.as_str().map(str::to_string)
    }

    pub fn last_region(&self) -> Option<String> {
        self.text(LAST_REGION)
    }

    pub fn set_last_region(&self, region: &str) -> Result<()> {
        self.store.set(LAST_REGION, Value::String(region.into()))
    }

    pub fn last_used(&self) -> Option<String> {
        self.text(LAST_USED)
    }

    pub fn set_last_used(&self, id: &str) -> Result<()> {
        self.store.set(LAST_USED, Value::String(id.into()))
    }

    /// The text entries of the map `field` (an entry a newer version wrote otherwise is not
    /// among them, but stays stored).
    fn key_map(&self, field: &str) -> BTreeMap<String, String> {
        match self.store.get(field) {
            Some(Value::Object(all)) => all
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
                .collect(),
            _ => BTreeMap::new(),
        }
    }

    /// Sets (or with `None` removes) one key's entry in the map `field`; every other entry stays
    /// as stored. A map that is not one (damaged, or another version's) is not written over.
    fn set_key_entry(&self, field: &str, access_key: &str, value: Option<&str>) -> Result<()> {
        let mut all = match self.store.get(field) {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(all)) => all,
            Some(_) => {
                return Err(Error::settings(
                    format!("“{field}” is not as this app writes it, so it was left as it is"),
                    None,
                ))
            }
        };
        match value {
            Some(v) => all.insert(access_key.to_string(), Value::String(v.to_string())),
            None => all.remove(access_key),
        };
        self.store.set(field, Value::Object(all))
    }

    /// The names people gave keys, by access key.
    pub fn key_names(&self) -> BTreeMap<String, String> {
        self.key_map(KEY_NAMES)
    }

    /// The name people gave a key, else its access key.
    pub fn key_name(&self, access_key: &str) -> String {
        self.key_names()
            .remove(access_key)
            .unwrap_or_else(|| access_key.to_string())
    }

    pub fn set_key_name(&self, access_key: &str, name: Option<&str>) -> Result<()> {
        self.set_key_entry(KEY_NAMES, access_key, name)
    }

    /// When this app made each key, by access key.
    pub fn key_dates(&self) -> BTreeMap<String, String> {
        self.key_map(KEY_CREATED)
    }

    pub fn set_key_date(&self, access_key: &str, created: Option<&str>) -> Result<()> {
        self.set_key_entry(KEY_CREATED, access_key, created)
    }

    /// The transfer limits; damaged ones read as none.
    pub fn transfer_limits(&self) -> TransferLimits {
        self.store
            .get(TRANSFER_LIMITS)
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }

    pub fn set_transfer_limits(&self, limits: &TransferLimits) -> Result<()> {
        let value = serde_json::to_value(limits);
        let mut value = value.map_err(|e| Error::settings("the limits as JSON", Some(e.into())))?;
        if let Some(old) = self.store.get(TRANSFER_LIMITS) {
            keep_unknown::<TransferLimits>(&old, &mut value);
        }
        self.store.set(TRANSFER_LIMITS, value)
    }

    /// The key rotation under way, as written.
    pub fn key_rotation(&self) -> Option<Value> {
        self.store.get(KEY_ROTATION)
    }

    pub fn set_key_rotation(&self, rotation: Value) -> Result<()> {
        self.store.set(KEY_ROTATION, rotation)
    }

    /// Forgets everything remembered about a key (its name and date).
    pub fn forget_key(&self, access_key: &str) -> Result<()> {
        self.set_key_name(access_key, None)?;
        self.set_key_date(access_key, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_newer_version_stored_is_kept_when_this_one_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("settings.json");
        let newer = serde_json::json!({
            "connections": [{
                "id": "a", "name": "A", "provider": { "type": "sandbox" }, "accessKey": "AK",
                "space": null, "spaceKeys": {}, "color": "teal"
            }],
            "keyNames": { "AK1": "one", "AK2": { "name": "two", "pinned": true } },
            "transferLimits": { "uploadLimit": 100, "downloadLimit": null, "filesAtOnce": null, "resumeAtStart": true },
            "somethingNewer": [1, 2]
        });
        std::fs::write(&path, newer.to_string()).expect("write");
        let settings = Settings::new(Box::new(FileStore::open(path.clone()).expect("open")));
        let mut profiles = settings.profiles().expect("profiles");
        profiles[0].name = "A renamed".into();
        settings.save_profiles(&profiles).expect("save");
        settings.set_key_name("AK3", Some("three")).expect("name");
        let mut limits = settings.transfer_limits();
        limits.files_at_once = Some(4);
        settings.set_transfer_limits(&limits).expect("limits");
        let back: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        assert_eq!(back["connections"][0]["name"], "A renamed");
        assert_eq!(back["connections"][0]["color"], "teal");
        assert_eq!(back["keyNames"]["AK2"]["pinned"], true);
        assert_eq!(back["keyNames"]["AK3"], "three");
        assert_eq!(back["transferLimits"]["resumeAtStart"], true);
        assert_eq!(back["transferLimits"]["filesAtOnce"], 4);
        assert_eq!(back["somethingNewer"], serde_json::json!([1, 2]));
        // A map that is not one is not written over.
        settings
            .store
            .set(KEY_CREATED, serde_json::json!("not a map"))
            .expect("set");
        assert!(settings.set_key_date("AK1", Some("2026")).is_err());
        assert_eq!(
            settings.store.get(KEY_CREATED),
            Some(serde_json::json!("not a map"))
        );
    }

    fn profile(id: &str, name: &str, provider: Provider) -> ConnectionProfile {
        ConnectionProfile {
            id: id.into(),
            name: name.into(),
            provider,
            access_key: "AK".into(),
            space: None,
            space_keys: Default::default(),
        }
    }

    #[test]
    fn profiles_keep_the_sandbox_first_then_names_and_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("settings.json");
        let settings = Settings::new(Box::new(FileStore::open(path.clone()).expect("open")));
        let nyc = Provider::DigitalOcean {
            region: "nyc3".into(),
        };
        settings
            .upsert_profile(profile("b", "beta", nyc.clone()))
            .expect("save");
        settings
            .upsert_profile(profile("a", "Alpha", nyc.clone()))
            .expect("save");
        settings
            .upsert_profile(profile("s", "Zed sandbox", Provider::Sandbox))
            .expect("save");
        settings
            .upsert_profile(profile("b", "Beta renamed", nyc))
            .expect("replace");
        settings.set_key_name("AK1", Some("reader")).expect("name");
        settings.set_last_used("a").expect("last used");

        let again = Settings::new(Box::new(FileStore::open(path).expect("reopen")));
        let ids: Vec<_> = again
            .profiles()
            .expect("profiles")
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids, ["s", "a", "b"]);
        assert_eq!(again.key_name("AK1"), "reader");
        assert_eq!(again.key_name("AK2"), "AK2");
        assert_eq!(again.last_used().as_deref(), Some("a"));
        again.forget_key("AK1").expect("forget");
        assert!(again.key_names().is_empty());
    }

    #[test]
    fn a_damaged_file_is_a_settings_error_not_an_empty_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("settings.json");
        std::fs::write(&path, b"{ not json").expect("write");
        let Err(e) = FileStore::open(path) else {
            panic!("a damaged file opened")
        };
        assert_eq!(e.kind(), crate::ErrorKind::Settings);
        assert!(
            std::error::Error::source(&e).is_some(),
            "the JSON error is kept"
        );
    }
}
