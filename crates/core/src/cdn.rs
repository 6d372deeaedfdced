//! DigitalOcean's CDN in front of a Space of the active connection; the API calls themselves are
//! the DigitalOcean API crate's.

pub use spacedock_do_api::cdn::*;

use crate::connection::Provider;
use crate::error::{Error, Result};
use crate::services::Services;

/// The CDN API with the token in the keychain, for a Space of the active DigitalOcean connection.
pub async fn of(services: &Services, space: &str, region: Option<String>) -> Result<(Cdn, String)> {
    let active = services.active().await?;
    if !matches!(active.profile.provider, Provider::DigitalOcean { .. }) {
        return Err(Error::InvalidInput(
            "The CDN is DigitalOcean's: this connection is not to DigitalOcean.".into(),
        ));
    }
    crate::names::validate_existing(space)?;
    let region = active.region_or_own(region)?;
    let api = crate::keys::manager::api_of(services, &active).await?;
    Ok((Cdn::new(api), origin(space, &region)))
}
