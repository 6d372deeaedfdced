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
use crate::services::Services;
use crate::spaces;

/// The keychain account of a DigitalOcean connection's personal access token: a token is of one
/// account (or team), so each connection keeps its own, never one for every connection.
pub fn token_account(profile_id: &str) -> String {
    format!("digitalocean-token:{profile_id}")
}

/// Where older versions kept one token for every DigitalOcean connection: it is moved to the
/// connection whose key it lists, and used for no other.
pub const OLD_TOKEN_ACCOUNT: &str = "digitalocean-token";

pub enum Manager {
    Rgw(Admin),
    DigitalOcean(DoApi),
}

impl Manager {
    pub async fn of(services: &Services, active: &Active) -> Result<Manager> {
        match active.profile.provider {
            Provider::DigitalOcean { .. } => {
                Ok(Manager::DigitalOcean(api_of(services, active).await?))
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

/// DigitalOcean's API with the active connection's own token: one of the account its key is of
/// (the token lists that key; checked once a run, and before a token is kept).
pub async fn api_of(services: &Services, active: &Active) -> Result<DoApi> {
    let id = &active.profile.id;
    let own = services.keychain().get(&token_account(id))?;
    let token = match own {
        Some(token) => token,
        None => {
            // A token kept by an older version, for every connection: this connection's only
            // if it lists this connection's key; then it moves here.
            let old = services.keychain().get(OLD_TOKEN_ACCOUNT)?;
            let Some(old) = old else {
                return Err(Error::ApiTokenNeeded);
            };
            let api = DoApi::new(&api_base()?, &old);
            match lists_own_key(&api, active).await {
                Ok(()) => {
                    services.keychain().set(&token_account(id), &old)?;
                    services.keychain().delete(OLD_TOKEN_ACCOUNT)?;
                    services.mark_token_checked(id);
                    return Ok(api);
                }
                Err(Error::ApiTokenOtherAccount(_)) => return Err(Error::ApiTokenNeeded),
                Err(e) => return Err(e),
            }
        }
    };
    let api = DoApi::new(&api_base()?, &token);
    if !services.token_checked(id) {
        lists_own_key(&api, active).await?;
        services.mark_token_checked(id);
    }
    Ok(api)
}

/// Keeps a personal access token for the active DigitalOcean connection, once it is shown to be
/// of the account the connection's key is of.
pub async fn keep_token(services: &Services, active: &Active, token: &Secret) -> Result<()> {
    if !matches!(active.profile.provider, Provider::DigitalOcean { .. }) {
        return Err(Error::InvalidInput(
            "An API token is for a DigitalOcean connection; this one is not.".into(),
        ));
    }
    lists_own_key(&DoApi::new(&api_base()?, token), active).await?;
    let id = &active.profile.id;
    services.keychain().set(&token_account(id), token)?;
    services.mark_token_checked(id);
    Ok(())
}

/// Whether the token's account holds the connection's key: else the token is another account's
/// (or team's), whose keys it would list, make and revoke in this connection's name.
async fn lists_own_key(api: &DoApi, active: &Active) -> Result<()> {
    let own = &active.profile.access_key;
    if api.list().await?.iter().any(|k| &k.access_key == own) {
        return Ok(());
    }
    Err(Error::ApiTokenOtherAccount(format!(
        "This token is of another DigitalOcean account or team than this connection's key ({own}): its keys don't include it."
    )))
}

/// The Admin Ops API. On the sandbox it is signed with the key manager's own key, which is never
/// shown or handed out; on a self-hosted RGW, with this connection's key (it needs admin caps).
fn admin_of(services: &Services, active: &Active) -> Result<Admin> {
    let endpoint = &active.endpoint;
    if active.profile.provider == Provider::Sandbox {
        return services.with_sandbox(|running| {
            let sandbox = running
                .ok_or_else(|| Error::Sandbox("The local sandbox is not running.".into()))?;
            let key = sandbox.admin_key();
            Ok(Admin::new(
                &endpoint.url,
                &endpoint.signing_region,
                &key.access_key,
                &key.secret,
            ))
        });
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
