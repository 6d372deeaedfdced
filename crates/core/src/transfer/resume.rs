//! Transfers a quit or a crash interrupted: listed at the next start, resumed with only what is
//! missing (by the engine), or discarded (the multipart upload aborted, the partial file removed).

pub use spacedock_transfer::resume::*;

use serde::Serialize;
use ts_rs::TS;

use super::download::disk_error;
use super::local::is_partial;
use super::unfinished::{abort_one, Noted};
use super::upload::{Settings, Target};
use crate::connection::active::Active;
use crate::error::{Error, Result};
use crate::regions::REGIONS;
use crate::s3::{map_error, Context};
use crate::services::Services;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Direction {
    Upload,
    Download,
}

/// A transfer an earlier run left unfinished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Interrupted {
    /// The upload id, or the partial file.
    pub id: String,
    pub direction: Direction,
    pub space: String,
    pub key: String,
    /// The file on this computer: read by an upload, written by a download.
    pub path: String,
    pub size: u64,
    /// Bytes a download has on disk already (an upload's are on the server, counted on resume).
    pub done: Option<u64>,
    /// Why it can only be discarded, when it can't be resumed.
    pub blocked: Option<String>,
}

/// A client of the active connection for `space` at `endpoint` (a Space's region has its own).
fn client_at(active: &Active, space: &str, endpoint: &str) -> Option<aws_sdk_s3::Client> {
    let own = active.profile.provider.region_label();
    let regions = std::iter::once(own.as_str()).chain(REGIONS.iter().map(|r| r.slug));
    regions
        .filter_map(|r| active.client_for_space(space, r).ok())
        .find(|(_, e)| e.url == endpoint)
        .map(|(client, _)| client)
}

fn not_reachable(space: &str) -> Error {
    Error::Gone(format!(
        "The Space “{space}” is not reached through this connection; connect to the one it was sent with."
    ))
}

/// The interrupted transfers of the active connection (not those running now).
pub async fn interrupted(services: &Services) -> Result<Vec<Interrupted>> {
    let active = services.active().await?;
    let reachable = |space: &str, endpoint: &str| client_at(&active, space, endpoint).is_some();
    let mut found = Vec::new();
    let uploads = services.unfinished.list();
    let downloads = services.partials.list();
    let damaged =
        (services.unfinished.set_aside().into_iter()).chain(services.partials.set_aside());
    for aside in damaged {
        services.journal.write(format!(
            "a damaged record of unfinished transfers was set aside as {}",
            aside.display()
        ));
    }
    for u in uploads {
        let Some(source) = &u.source else { continue };
        if services.unfinished.is_here(&u.upload_id) || !reachable(&u.space, &u.endpoint) {
            continue;
        }
        found.push(Interrupted {
            id: u.upload_id.clone(),
            direction: Direction::Upload,
            space: u.space.clone(),
            key: u.key.clone(),
            path: source.path.to_string_lossy().to_string(),
            size: source.size,
            done: None,
            blocked: unchanged_since(source).err().map(|e| e.to_string()),
        });
    }
    for d in downloads {
        if services.partials.is_here(&d.id()) || !reachable(&d.space, &d.endpoint) {
            continue;
        }
        found.push(Interrupted {
            id: d.id(),
            direction: Direction::Download,
            space: d.space.clone(),
            key: d.key.clone(),
            path: d.path.to_string_lossy().to_string(),
            size: d.size,
            done: Some(d.on_disk()),
            blocked: None,
        });
    }
    Ok(found)
}

/// Resumes one interrupted transfer; `progress` gets the bytes done so far (kept ones included).
pub async fn resume(
    services: &Services,
    id: &str,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Resumed> {
    let active = services.active().await?;
    if let Some(u) = services.unfinished.find(id) {
        let client =
            client_at(&active, &u.space, &u.endpoint).ok_or_else(|| not_reachable(&u.space))?;
        let target = Target {
            client,
            endpoint: u.endpoint.clone(),
            space: u.space.clone(),
            unfinished: Some(services.unfinished.clone()),
            pace: services.pace_up.clone(),
            link: services.link_up.clone(),
        };
        let settings = Settings::default();
        let budget = super::adapt::Window::new(
            settings.requests_in_flight / 4,
            1,
            settings.requests_in_flight,
        );
        let cancel = services.resuming.clone();
        let done = resume_upload(&target, &u, settings, &budget, &cancel, progress).await;
        if let Ok(r) = &done {
            services.journal.write(format!(
                "resumed the upload of “{}” to “{}”: {} bytes sent, {} were there",
                u.key, u.space, r.moved, r.kept
            ));
        }
        return done;
    }
    if let Some(d) = services.partials.find(id) {
        let client =
            client_at(&active, &d.space, &d.endpoint).ok_or_else(|| not_reachable(&d.space))?;
        let from = Target {
            client,
            endpoint: d.endpoint.clone(),
            space: d.space.clone(),
            unfinished: None,
            pace: services.pace_down.clone(),
            link: services.link_down.clone(),
        };
        let done = resume_download(&from, &d, &services.partials, progress).await;
        if let Ok(r) = &done {
            services.journal.write(format!(
                "resumed the download of “{}” from “{}”: {} bytes fetched, {} were on disk",
                d.key, d.space, r.moved, r.kept
            ));
        }
        return done;
    }
    Err(Error::Gone(
        "That transfer was resumed or discarded already.".into(),
    ))
}

/// Discards one interrupted transfer: the upload is aborted on the server (its parts deleted),
/// the partial file of a download is removed.
pub async fn discard(services: &Services, id: &str) -> Result<()> {
    if let Some(u) = services.unfinished.find(id) {
        let active = services.active().await?;
        let client =
            client_at(&active, &u.space, &u.endpoint).ok_or_else(|| not_reachable(&u.space))?;
        let ctx = Context::space(&u.endpoint, &u.space);
        abort_one(&client, &u.space, &u.key, &u.upload_id)
            .await
            .map_err(|e| map_error(e, ctx))?;
        services.unfinished.remove(id);
        services.journal.write(format!(
            "discarded the upload of “{}” to “{}”",
            u.key, u.space
        ));
    } else if let Some(d) = services.partials.find(id) {
        let ours = d
            .partial
            .file_name()
            .is_some_and(|n| is_partial(&n.to_string_lossy()));
        if ours {
            match tokio::fs::remove_file(&d.partial).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(disk_error(e, &d.partial))
                }
                _ => {}
            }
        }
        services.partials.remove(id);
        services.journal.write(format!(
            "discarded the download of “{}” from “{}”",
            d.key, d.space
        ));
    }
    Ok(())
}
