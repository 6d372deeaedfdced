//! Connections: where a set of Spaces lives and which access key opens them.
//! Only the non-secret part is saved in files; the secret goes to the keychain.

pub mod active;
pub mod service;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::error::{Error, Result};
use super::regions;
use super::secret::Secret;

/// The kind of service a connection talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum Provider {
    /// The Ceph RADOS Gateway the app runs on 127.0.0.1.
    Sandbox,
    /// DigitalOcean Spaces in one region.
    DigitalOcean { region: String },
    /// Any other S3-compatible service.
    Custom {
        endpoint: String,
        signing_region: String,
        path_style: bool,
    },
}

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

/// Where requests go and how they are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub signing_region: String,
    pub path_style: bool,
}

/// The signing region RGW accepts; it checks the signature, not the region name.
pub const SANDBOX_SIGNING_REGION: &str = "us-east-1";

impl Provider {
    /// The endpoint for this provider; the sandbox's port is only known once it runs.
    pub fn endpoint(&self, sandbox_port: Option<u16>) -> Result<Endpoint> {
        match self {
            Provider::Sandbox => {
                let port = sandbox_port
                    .ok_or_else(|| Error::Sandbox("The local sandbox is not running.".into()))?;
                Ok(Endpoint {
                    url: format!("http://127.0.0.1:{port}"),
                    signing_region: SANDBOX_SIGNING_REGION.into(),
                    path_style: true,
                })
            }
            Provider::DigitalOcean { region } => {
                if regions::find(region).is_none() {
                    return Err(Error::InvalidInput(format!(
                        "“{region}” is not a Spaces region. Pick one of: {}.",
                        regions::REGIONS
                            .iter()
                            .map(|r| r.slug)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                // SPACEDOCK_DIGITALOCEAN_SPACES reaches every region through one address (a
                // proxy, or a stand-in on this computer), with the Space in the path.
                let through = spacedock_common::env::address_from("SPACEDOCK_DIGITALOCEAN_SPACES")?;
                Ok(match through {
                    Some(url) => Endpoint {
                        url,
                        signing_region: region.clone(),
                        path_style: true,
                    },
                    None => Endpoint {
                        url: format!("https://{region}.digitaloceanspaces.com"),
                        signing_region: region.clone(),
                        path_style: false,
                    },
                })
            }
            Provider::Custom {
                endpoint,
                signing_region,
                path_style,
            } => Ok(Endpoint {
                url: parse_endpoint(endpoint)?,
                signing_region: if signing_region.trim().is_empty() {
                    SANDBOX_SIGNING_REGION.into()
                } else {
                    signing_region.trim().to_string()
                },
                path_style: *path_style,
            }),
        }
    }

    /// The region a Space of this connection is in, as shown in the Spaces list.
    pub fn region_label(&self) -> String {
        match self {
            Provider::Sandbox => "local".into(),
            Provider::DigitalOcean { region } => region.clone(),
            Provider::Custom { signing_region, .. } => signing_region.clone(),
        }
    }
}

/// Checks an endpoint URL before any request: http(s), a host, no path, query or credentials.
pub fn parse_endpoint(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::InvalidInput(
            "Enter the endpoint URL, e.g. https://s3.example.com".into(),
        ));
    }
    let url = url::Url::parse(raw).map_err(|e| {
        Error::InvalidInput(format!(
            "“{raw}” is not a valid URL ({e}). It should look like https://s3.example.com"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidInput(format!(
            "The endpoint must start with https:// or http://, not {}://",
            url.scheme()
        )));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Error::InvalidInput(format!("“{raw}” has no host name.")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::InvalidInput(
            "Put the access key and secret in their own fields, not in the URL.".into(),
        ));
    }
    if url.path() != "/" || url.query().is_some() {
        return Err(Error::InvalidInput(
            "The endpoint is the server's address only, without a path or a Space name (e.g. https://nyc3.digitaloceanspaces.com).".into(),
        ));
    }
    Ok(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
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

pub fn check_access_key(access_key: &str) -> Result<()> {
    if access_key.trim().is_empty() {
        return Err(Error::InvalidInput("Enter the access key.".into()));
    }
    if access_key
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::InvalidInput(
            "The access key contains a space or line break; paste it again without them.".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_normalised() {
        assert_eq!(
            parse_endpoint(" https://s3.example.com/ ").ok(),
            Some("https://s3.example.com".into())
        );
        assert_eq!(
            parse_endpoint("http://127.0.0.1:7480").ok(),
            Some("http://127.0.0.1:7480".into())
        );
    }

    #[test]
    fn malformed_endpoints_are_explained() {
        for bad in [
            "",
            "s3.example.com",
            "ftp://x.example",
            "https://",
            "https://k:s@x.example",
            "https://x.example/space",
        ] {
            let err = parse_endpoint(bad).expect_err(bad);
            assert_eq!(
                err.kind(),
                super::super::error::ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn digitalocean_endpoint_per_region() {
        let e = Provider::DigitalOcean {
            region: "fra1".into(),
        }
        .endpoint(None)
        .ok();
        assert_eq!(
            e,
            Some(Endpoint {
                url: "https://fra1.digitaloceanspaces.com".into(),
                signing_region: "fra1".into(),
                path_style: false
            })
        );
        assert!(Provider::DigitalOcean {
            region: "nyc1".into()
        }
        .endpoint(None)
        .is_err());
    }

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
