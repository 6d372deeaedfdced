//! The connection in use: its profile, endpoint and client, and the key each Space opens with.

use std::collections::BTreeMap;

use serde::Serialize;
use ts_rs::TS;

use super::{ConnectionProfile, Endpoint, Provider};
use crate::error::{Error, Result};
use crate::s3;
use crate::secret::Secret;

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

    /// The region a Space is in, as far as this connection knows: the page's, else its own. A
    /// region is a name, never a host or a path: one that could be is refused.
    pub fn region_or_own(&self, region: Option<String>) -> Result<String> {
        match region.filter(|r| !r.is_empty()) {
            Some(r) => crate::regions::check_name(&r).map(str::to_string),
            None => Ok(self.profile.provider.region_label()),
        }
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
            Error::SecretMissing(format!(
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
            Provider::DigitalOcean { region: own } if own != region => Provider::DigitalOcean {
                region: region.to_string(),
            }
            .endpoint(None),
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
