//! Who makes and revokes keys for a connection: RGW's Admin Ops API (the sandbox, a self-hosted
//! gateway) or DigitalOcean's API, chosen from the connection's provider.

use super::admin::Admin;
use super::digitalocean::{api_base, DoApi};
use super::rgw::RgwKeys;
use super::{AccessKey, Scope};
use crate::connection::active::Active;
use crate::connection::Provider;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::services::{lock, Services};
use crate::spaces;

/// The keychain account of the DigitalOcean personal access token.
pub const DO_TOKEN_ACCOUNT: &str = "digitalocean-token";

pub enum Manager {
    Rgw(Admin),
    DigitalOcean(DoApi),
}

impl Manager {
    pub fn of(services: &Services, active: &Active) -> Result<Manager> {
        match active.profile.provider {
            Provider::DigitalOcean { .. } => {
                let token = services
                    .keychain
                    .get(DO_TOKEN_ACCOUNT)?
                    .ok_or(Error::ApiTokenNeeded)?;
                Ok(Manager::DigitalOcean(DoApi::new(&api_base()?, &token)))
            }
            _ => Ok(Manager::Rgw(admin_of(services, active)?)),
        }
    }

    pub async fn list(&self, active: &Active, spaces: &[String]) -> Result<Vec<AccessKey>> {
        match self {
            Manager::Rgw(admin) => rgw_keys(active, admin).list(spaces).await,
            Manager::DigitalOcean(api) => api.list().await,
        }
    }

    pub async fn generate(
        &self,
        active: &Active,
        name: &str,
        scope: &Scope,
    ) -> Result<(AccessKey, Secret)> {
        match self {
            Manager::Rgw(admin) => rgw_keys(active, admin).generate(name, scope).await,
            Manager::DigitalOcean(api) => api.create(name, scope).await,
        }
    }

    /// Revokes a key on its server. RGW's limited keys are statements in each Space's policy,
    /// so their Spaces are looked up; DigitalOcean's API needs none.
    pub async fn revoke(&self, active: &Active, access_key: &str) -> Result<()> {
        match self {
            Manager::Rgw(admin) => {
                let spaces = space_names(active).await?;
                rgw_keys(active, admin).delete(access_key, &spaces).await
            }
            Manager::DigitalOcean(api) => api.delete(access_key).await,
        }
    }
}

/// The Admin Ops API. On the sandbox it is signed with the key manager's own key, which is never
/// shown or handed out; on a self-hosted RGW, with this connection's key (it needs admin caps).
fn admin_of(services: &Services, active: &Active) -> Result<Admin> {
    let endpoint = &active.endpoint;
    if active.profile.provider == Provider::Sandbox {
        let running = lock(&services.sandbox);
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
pub async fn space_names(active: &Active) -> Result<Vec<String>> {
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
