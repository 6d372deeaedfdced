//! A Space as its page and the create wizard see it: the regions offered, creating, opening by
//! name with the key remembered for it, its settings, and destroying it.

use serde::Serialize;
use ts_rs::TS;

use super::{Availability, CorsRule, FileListing};
use crate::connection::active::Active;
use crate::connection::{Provider, SpaceKey};
use crate::destroy::{self, DestroyProgress};
use crate::error::{Error, Result};
use crate::names;
use crate::regions::REGIONS;
use crate::services::Services;
use crate::urls::{self, SpaceUrls};
pub use spacedock_do_api::projects::Project;

/// A region the create wizard offers.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RegionChoice {
    pub slug: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CreateOptions {
    pub regions: Vec<RegionChoice>,
    /// The region used last time, else the connection's, else the first.
    pub default_region: String,
    /// DigitalOcean's projects, the default first (none elsewhere, or when they can't be read).
    pub projects: Vec<Project>,
    /// Why there are no projects to choose from on DigitalOcean.
    pub projects_problem: Option<String>,
}

/// Everything the Space's page shows in its header.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SpaceDetails {
    pub name: String,
    pub region: String,
    /// None when this key may not read the Space's ACL (limited keys).
    pub file_listing: Option<FileListing>,
    pub urls: SpaceUrls,
    /// The key that opens this Space, when it is not the connection's own.
    pub opens_with: Option<KeyLabel>,
    /// Opened with a key limited to some Spaces.
    pub limited: bool,
}

/// A key as people recognise it: the name they gave it and its access key.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KeyLabel {
    pub name: String,
    pub access_key: String,
}

/// The regions a connection can create Spaces in: every Spaces region on DigitalOcean, the one
/// region of a sandbox or self-hosted gateway.
pub fn region_choices(active: &Active) -> Vec<RegionChoice> {
    match &active.profile.provider {
        Provider::DigitalOcean { .. } => REGIONS
            .iter()
            .map(|r| RegionChoice {
                slug: r.slug.into(),
                label: format!("{} · {}", r.city, r.slug),
            })
            .collect(),
        Provider::Sandbox => vec![RegionChoice {
            slug: "local".into(),
            label: "This computer · local sandbox".into(),
        }],
        Provider::Custom { signing_region, .. } => vec![RegionChoice {
            slug: signing_region.clone(),
            label: format!("{} · {signing_region}", active.endpoint.url),
        }],
    }
}

pub async fn create_options(services: &Services) -> Result<CreateOptions> {
    let active = services.active().await?;
    let regions = region_choices(&active);
    let offered = |r: &String| regions.iter().any(|c| &c.slug == r);
    let own = match &active.profile.provider {
        Provider::DigitalOcean { region } => Some(region.clone()),
        _ => None,
    };
    let default_region = (services.settings().last_region().filter(offered))
        .or(own)
        .or_else(|| regions.first().map(|r| r.slug.clone()))
        .unwrap_or_default();
    let (projects, projects_problem) = match &active.profile.provider {
        Provider::DigitalOcean { .. } => match projects_of(services, &active).await {
            Ok(projects) => (projects, None),
            Err(Error::ApiTokenNeeded) => (
                Vec::new(),
                Some("To put the Space in a project, save a DigitalOcean API token on the Access keys page.".into()),
            ),
            Err(e) => (Vec::new(), Some(format!("The projects could not be read: {e}"))),
        },
        _ => (Vec::new(), None),
    };
    Ok(CreateOptions {
        regions,
        default_region,
        projects,
        projects_problem,
    })
}

async fn projects_of(services: &Services, active: &Active) -> Result<Vec<Project>> {
    crate::keys::manager::api_of(services, active)
        .await?
        .projects()
        .await
}

/// Puts a Space in a DigitalOcean project (the wizard's choice, or its retry).
pub async fn assign_to_project(services: &Services, name: &str, project: &str) -> Result<()> {
    let active = services.active().await?;
    if !matches!(active.profile.provider, Provider::DigitalOcean { .. }) {
        return Err(Error::InvalidInput(
            "Projects are DigitalOcean's: this connection has none.".into(),
        ));
    }
    names::validate_existing(name)?;
    let api = crate::keys::manager::api_of(services, &active).await?;
    let label = api
        .projects()
        .await?
        .into_iter()
        .find(|p| p.id == project)
        .map(|p| p.name)
        .ok_or_else(|| Error::Gone("That project is not among the account's projects.".into()))?;
    api.assign_space(project, name).await?;
    services
        .log()
        .write(format!("put the Space “{name}” in the project “{label}”"));
    Ok(())
}

async fn details(
    services: &Services,
    active: &Active,
    name: &str,
    region: &str,
) -> Result<SpaceDetails> {
    let access = active.for_space(name, region)?;
    let file_listing =
        super::open(&access.client, &access.endpoint.url, name, access.limited).await?;
    Ok(SpaceDetails {
        name: name.to_string(),
        region: region.to_string(),
        file_listing,
        urls: urls::space_urls(&active.profile.provider, &active.endpoint, name, region),
        opens_with: access.opens_with.map(|access_key| KeyLabel {
            name: services.settings().key_name(&access_key),
            access_key,
        }),
        limited: access.limited,
    })
}

pub async fn availability(services: &Services, name: &str, region: &str) -> Result<Availability> {
    let active = services.active().await?;
    let (client, endpoint) = active.client_for_region(region)?;
    super::availability(&client, &endpoint.url, name).await
}

/// Creates a Space, and on DigitalOcean puts it in `project` when one is chosen. The Space
/// stays created whatever comes after: a setting or project that did not take is an error that
/// says so, and the wizard offers to try it again.
pub async fn create(
    services: &Services,
    name: &str,
    region: &str,
    file_listing: FileListing,
    project: Option<&str>,
) -> Result<SpaceDetails> {
    let active = services.active().await?;
    if !region_choices(&active).iter().any(|r| r.slug == region) {
        return Err(Error::InvalidInput(format!(
            "“{region}” is not a region this connection can create Spaces in."
        )));
    }
    let project = project.filter(|p| !p.is_empty());
    if project.is_some() && !matches!(active.profile.provider, Provider::DigitalOcean { .. }) {
        return Err(Error::InvalidInput(
            "Projects are DigitalOcean's: this connection has none.".into(),
        ));
    }
    let (client, endpoint) = active.client_for_region(region)?;
    let made = super::create(&client, &endpoint.url, name, file_listing).await;
    if let Err(e) = &made {
        if !matches!(e, Error::ListingNotApplied { .. }) {
            return made.map(|()| unreachable!());
        }
    }
    services.settings().set_last_region(region)?;
    services.log().write(format!(
        "created the Space “{name}” in {region} (file listing {})",
        file_listing.label()
    ));
    if let Some(project) = project {
        if let Err(e) = assign_to_project(services, name, project).await {
            services.log().write(format!(
                "the Space “{name}” was not put in the project {project}: {e}"
            ));
            let label = projects_of(services, &active)
                .await
                .ok()
                .and_then(|all| all.into_iter().find(|p| p.id == project))
                .map_or_else(|| project.to_string(), |p| p.name);
            // Both failed: the listing's error (whose retry opens the Space) says both.
            if let Err(Error::ListingNotApplied { space, reason }) = made {
                return Err(Error::ListingNotApplied {
                    space,
                    reason: format!(
                        "{reason} Nor could it be put in the project “{label}” ({e}): it is in the account's default project."
                    ),
                });
            }
            return Err(Error::ProjectNotAssigned {
                space: name.to_string(),
                project: label,
                reason: e.to_string(),
            });
        }
    }
    made?;
    details(services, &active, name, region).await
}

/// Opens a Space by name with the key remembered for it, without listing Spaces.
pub async fn open(services: &Services, name: &str, region: Option<String>) -> Result<SpaceDetails> {
    let active = services.active().await?;
    names::validate_existing(name)?;
    let region = active.region_or_own(region)?;
    details(services, &active, name, &region).await
}

/// Opens a Space by name with the chosen key (None: the connection's own) and remembers that
/// key for it. Nothing is remembered unless the key really opens the Space.
pub async fn open_with_key(
    services: &Services,
    name: &str,
    region: Option<String>,
    access_key: Option<String>,
) -> Result<SpaceDetails> {
    names::validate_existing(name)?;
    let mut active = services.active().await?;
    let region = active.region_or_own(region)?;
    let own = active.profile.access_key.clone();
    let chosen = access_key.filter(|k| *k != own);
    let limited = active.profile.space.is_some();
    let secret = match &chosen {
        Some(key) => Some(crate::keys::service::secret_of(services, key)?),
        None => None,
    };
    // Only this Space's entry changes: whatever else changed meanwhile (a key rotation moving
    // the connection) is kept.
    let remember = |keys: &mut std::collections::BTreeMap<String, SpaceKey>| {
        let entry = |access_key: &str| SpaceKey {
            access_key: access_key.to_string(),
            region: region.clone(),
        };
        match &chosen {
            Some(key) => keys.insert(name.to_string(), entry(key)),
            // A limited connection knows its Spaces by name only: remember this one with its own key.
            None if limited => keys.insert(name.to_string(), entry(&own)),
            None => keys.remove(name),
        };
    };
    remember(&mut active.profile.space_keys);
    if let (Some(key), Some(secret)) = (&chosen, &secret) {
        active.space_secrets.insert(key.clone(), secret.clone());
    }
    let opened = details(services, &active, name, &region).await?;
    if let Some(mut saved) = services.settings().profile(&active.profile.id)? {
        remember(&mut saved.space_keys);
        services.settings().upsert_profile(saved)?;
    }
    services.log().write(format!(
        "the Space “{name}” opens with {}",
        chosen.as_deref().unwrap_or("the connection's key")
    ));
    services
        .change_active(|slot| {
            if let Some(now) = slot.as_mut().filter(|a| a.profile.id == active.profile.id) {
                remember(&mut now.profile.space_keys);
                if let (Some(key), Some(secret)) = (&chosen, &secret) {
                    now.space_secrets.insert(key.clone(), secret.clone());
                }
            }
        })
        .await;
    Ok(opened)
}

/// The client and endpoint for a Space, with the key remembered for it.
async fn target(
    services: &Services,
    name: &str,
    region: Option<String>,
) -> Result<(aws_sdk_s3::Client, String)> {
    let t = crate::files::target(services, name, region).await?;
    Ok((t.client, t.endpoint))
}

pub async fn set_file_listing(
    services: &Services,
    name: &str,
    region: Option<String>,
    file_listing: FileListing,
) -> Result<FileListing> {
    let (client, endpoint) = target(services, name, region).await?;
    let now = super::set_file_listing(&client, &endpoint, name, file_listing).await?;
    services
        .log()
        .write(format!("file listing of “{name}” set to {}", now.label()));
    Ok(now)
}

pub async fn cors_rules(
    services: &Services,
    name: &str,
    region: Option<String>,
) -> Result<Vec<CorsRule>> {
    let (client, endpoint) = target(services, name, region).await?;
    super::cors_rules(&client, &endpoint, name).await
}

pub async fn set_cors_rules(
    services: &Services,
    name: &str,
    region: Option<String>,
    rules: &[CorsRule],
) -> Result<Vec<CorsRule>> {
    let (client, endpoint) = target(services, name, region).await?;
    super::set_cors_rules(&client, &endpoint, name, rules).await
}

pub async fn is_empty(services: &Services, name: &str, region: Option<String>) -> Result<bool> {
    let (client, endpoint) = target(services, name, region).await?;
    destroy::is_empty(&client, &endpoint, name).await
}

/// Destroys a Space (with its files, when asked), until [`cancel_destroy`].
pub async fn destroy(
    services: &Services,
    name: &str,
    region: Option<String>,
    typed_name: &str,
    delete_files: bool,
    progress: impl Fn(DestroyProgress),
) -> Result<u64> {
    let (client, endpoint) = target(services, name, region).await?;
    let cancel = services.begin_destroy();
    let deleted = destroy::destroy(
        &client,
        &endpoint,
        name,
        typed_name,
        delete_files,
        &cancel,
        progress,
    )
    .await?;
    services.log().write(format!(
        "destroyed the Space “{name}” ({deleted} files deleted first)"
    ));
    Ok(deleted)
}

pub fn cancel_destroy(services: &Services) {
    services.cancel_destroy();
}
