//! Connections: where a set of Spaces lives and which access key opens them.
//! Only the non-secret part is saved in files; the secret goes to the keychain.

pub mod active;
pub mod service;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::error::{Error, Result};
use super::secret::Secret;
pub use spacedock_s3::connection::{
    check_access_key, parse_endpoint, same_endpoint, Endpoint, Provider, SANDBOX_SIGNING_REGION,
};

/// A saved connection. Holds no secret: that is in the keychain under [`ConnectionProfile::keychain_account`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ConnectionProfile {
    pub id: String,
    pub name: String,
    pub provider: Provider,
    pub access_key: String,
    /// Set when this connection's key is limited to some Spaces: the Space it opens. Such a
    /// connection never asks to list all Spaces (DigitalOcean refuses limited keys that).
    pub space: Option<String>,
    /// Spaces that open with a key other than the connection's, by Space name: each Space
    /// remembers which key opens it.
    #[serde(default)]
    pub space_keys: BTreeMap<String, SpaceKey>,
}

/// The key that opens one Space. Its secret is in the keychain under [`key_account`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SpaceKey {
    pub access_key: String,
    pub region: String,
}

/// The keychain account of a key held by itself (generated or added on the keys page).
pub fn key_account(access_key: &str) -> String {
    format!("key:{access_key}")
}

impl ConnectionProfile {
    pub fn keychain_account(&self) -> String {
        format!("connection:{}", self.id)
    }

    /// A key limited to some Spaces: the app opens its Spaces by name, without ListBuckets or
    /// GetBucketAcl.
    pub fn key_is_limited(&self) -> bool {
        self.space.is_some()
    }

    /// The Spaces this connection knows by name rather than by listing: the connection's own
    /// Space (limited key) and those remembered with their key. Sorted, without repeats.
    pub fn named_spaces(&self) -> Vec<(String, String)> {
        let own_region = self.provider.region_label();
        let mut named: BTreeMap<String, String> = self
            .space_keys
            .iter()
            .map(|(space, key)| (space.clone(), key.region.clone()))
            .collect();
        if let Some(space) = &self.space {
            named.entry(space.clone()).or_insert(own_region);
        }
        named.into_iter().collect()
    }
}

/// A connection as typed in the form, secret included. Comes in from the UI; never goes back out.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ConnectionDraft {
    pub name: String,
    pub provider: Provider,
    pub access_key: String,
    #[ts(type = "string")]
    pub secret: Secret,
    pub space: Option<String>,
}

impl ConnectionDraft {
    /// The Space typed for a limited key, if any.
    pub fn space_name(&self) -> Option<&str> {
        self.space
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// Everything that can be checked without the network.
    pub fn validate(&self) -> Result<Endpoint> {
        if self.name.trim().is_empty() {
            return Err(Error::InvalidInput("Give the connection a name.".into()));
        }
        let endpoint = self.provider.endpoint(Some(0))?;
        check_access_key(&self.access_key)?;
        if self.secret.is_empty() {
            return Err(Error::InvalidInput(
                "Paste the secret key that belongs to this access key.".into(),
            ));
        }
        if self.secret.expose().chars().any(char::is_whitespace) {
            return Err(Error::InvalidInput(
                "The secret contains a space or line break; paste it again without them.".into(),
            ));
        }
        Ok(endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_are_checked_before_any_request() {
        let draft = |ak: &str, sk: &str| ConnectionDraft {
            name: "x".into(),
            provider: Provider::Custom {
                endpoint: "http://127.0.0.1:1".into(),
                signing_region: "".into(),
                path_style: true,
            },
            access_key: ak.into(),
            secret: Secret::new(sk),
            space: None,
        };
        assert!(draft("AK", "SK").validate().is_ok());
        assert!(draft("", "SK").validate().is_err());
        assert!(draft("AK", "").validate().is_err());
        assert!(draft("A K", "SK").validate().is_err());
        assert!(draft("AK", "S\nK").validate().is_err());
    }

    #[test]
    fn a_connection_knows_its_named_spaces_once_each() {
        let mut profile = ConnectionProfile {
            id: "c".into(),
            name: "Client A".into(),
            provider: Provider::DigitalOcean {
                region: "ams3".into(),
            },
            access_key: "DO00OWN".into(),
            space: None,
            space_keys: BTreeMap::new(),
        };
        assert!(!profile.key_is_limited());
        assert!(profile.named_spaces().is_empty());
        profile.space_keys.insert(
            "client-b".into(),
            SpaceKey {
                access_key: "DO00B".into(),
                region: "fra1".into(),
            },
        );
        profile.space = Some("client-a".into());
        assert!(profile.key_is_limited());
        assert_eq!(
            profile.named_spaces(),
            vec![
                ("client-a".to_string(), "ams3".to_string()),
                ("client-b".to_string(), "fra1".to_string())
            ]
        );
        // Profiles saved before Spaces remembered keys still load.
        let old =
            r#"{"id":"x","name":"x","provider":{"type":"sandbox"},"accessKey":"AK","space":null}"#;
        let loaded: ConnectionProfile = serde_json::from_str(old).expect("old profile loads");
        assert!(loaded.space_keys.is_empty());
    }
}
