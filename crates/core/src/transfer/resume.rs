//! Transfers a quit or a crash interrupted: listed at the next start, resumed with only what is
//! missing (by the engine), or discarded (the multipart upload aborted, the partial file removed).
//! A batch the journal holds files of is one entry, its big files in flight folded into it; a
//! big file that belongs to no batch (one noted by an older version) is an entry of its own.

pub use spacedock_transfer::resume::*;

use std::collections::HashSet;
use std::path::PathBuf;

use serde::Serialize;
use ts_rs::TS;

use super::download::disk_error;
use super::local::is_partial;
pub use super::queue::Direction;
use super::queue::{EventSink, InterruptedBatch};
use super::unfinished::{abort_one, Noted};
use super::upload::Settings;
use crate::connection::active::Active;
use crate::error::{Error, Result};
use crate::regions::REGIONS;
use crate::s3::{map_error, Context};
use crate::services::Services;

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
    /// A batch: its files not finished (`size` is theirs), of how many.
    pub files: Option<u32>,
    pub total: Option<u32>,
    /// A copy or move: the Space it goes into.
    pub to_space: Option<String>,
}

/// A batch's id as the window knows it.
const BATCH: &str = "batch:";

/// A file of a listed batch: (endpoint, Space, key, local path).
type Member = (String, String, String, PathBuf);

fn members(batches: &[InterruptedBatch]) -> HashSet<Member> {
    (batches.iter())
        .flat_map(|b| {
            (b.members.iter())
                .map(|(k, p)| (b.endpoint.clone(), b.space.clone(), k.clone(), p.clone()))
        })
        .collect()
}

/// The batches of the active connection it can reach.
fn batches_of(services: &Services, active: &Active) -> Result<Vec<InterruptedBatch>> {
    let all = services.queue().interrupted_batches()?;
    Ok((all.into_iter())
        .filter(|b| client_at(active, &b.space, &b.endpoint).is_some())
        .collect())
}

/// A client of the active connection for `space` at `endpoint` (a Space's region has its own).
pub(crate) fn client_at(
    active: &Active,
    space: &str,
    endpoint: &str,
) -> Option<aws_sdk_s3::Client> {
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
    let queue = services.queue();
    let batches = batches_of(services, &active)?;
    let folded = members(&batches);
    let partials = queue.partials().list();
    for b in batches {
        // A download's bytes on disk: those of its big files in flight.
        let on_disk = (b.kind == Direction::Download).then(|| {
            let mine = members(std::slice::from_ref(&b));
            (partials.iter())
                .filter(|d| {
                    mine.contains(&(
                        d.endpoint.clone(),
                        d.space.clone(),
                        d.key.clone(),
                        d.path.clone(),
                    ))
                })
                .map(|d| d.on_disk())
                .sum::<u64>()
        });
        found.push(Interrupted {
            id: format!("{BATCH}{}", b.id),
            direction: b.kind,
            space: b.space,
            key: b.first,
            path: b.to,
            size: b.size,
            done: on_disk,
            blocked: None,
            files: Some(b.files),
            total: Some(b.total),
            to_space: b.to_space,
        });
    }
    let uploads = queue.unfinished().list();
    let downloads = queue.partials().list();
    let damaged = (queue.unfinished().set_aside().into_iter()).chain(queue.partials().set_aside());
    for aside in damaged {
        services.log().write(format!(
            "a damaged record of unfinished transfers was set aside as {}",
            aside.display()
        ));
    }
    for u in uploads {
        let Some(source) = &u.source else { continue };
        if queue.unfinished().is_here(&u.upload_id) || !reachable(&u.space, &u.endpoint) {
            continue;
        }
        let member = (
            u.endpoint.clone(),
            u.space.clone(),
            u.key.clone(),
            source.path.clone(),
        );
        if folded.contains(&member) {
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
            files: None,
            total: None,
            to_space: None,
        });
    }
    for d in downloads {
        if queue.partials().is_here(&d.id()) || !reachable(&d.space, &d.endpoint) {
            continue;
        }
        let member = (
            d.endpoint.clone(),
            d.space.clone(),
            d.key.clone(),
            d.path.clone(),
        );
        if folded.contains(&member) {
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
            files: None,
            total: None,
            to_space: None,
        });
    }
    Ok(found)
}

/// Resumes one interrupted transfer; `progress` gets the bytes done so far (kept ones included).
pub async fn resume(services: &Services, id: &str, progress: EventSink<u64>) -> Result<Resumed> {
    let active = services.active().await?;
    let queue = services.queue();
    if let Some(batch) = id.strip_prefix(BATCH) {
        let b = (batches_of(services, &active)?.into_iter())
            .find(|b| b.id == batch)
            .ok_or_else(|| Error::Gone("That batch was resumed or discarded already.".into()))?;
        let client =
            client_at(&active, &b.space, &b.endpoint).ok_or_else(|| not_reachable(&b.space))?;
        let at = crate::SpaceRef::new(&client, &b.endpoint, &b.space);
        let done = queue.resume_batch(batch, &at, progress).await;
        if let Ok(r) = &done {
            services.log().write(format!(
                "resumed a batch of {} files in “{}”: {} finished, {} not",
                b.files,
                b.space,
                r.files,
                r.problems.len()
            ));
        }
        return done;
    }
    if let Some(u) = queue.unfinished().find(id) {
        let client =
            client_at(&active, &u.space, &u.endpoint).ok_or_else(|| not_reachable(&u.space))?;
        let target = queue.upload_target(&crate::SpaceRef::new(&client, &u.endpoint, &u.space));
        let settings = Settings::default();
        let budget = super::adapt::Window::new(
            settings.requests_in_flight / 4,
            1,
            settings.requests_in_flight,
        );
        let cancel = queue.stop_at_quit();
        let done = resume_upload(&target, &u, settings, &budget, &cancel, &*progress).await;
        if let Ok(r) = &done {
            services.log().write(format!(
                "resumed the upload of “{}” to “{}”: {} bytes sent, {} were there",
                u.key, u.space, r.moved, r.kept
            ));
        }
        return done;
    }
    if let Some(d) = queue.partials().find(id) {
        let client =
            client_at(&active, &d.space, &d.endpoint).ok_or_else(|| not_reachable(&d.space))?;
        let from = queue.download_target(&crate::SpaceRef::new(&client, &d.endpoint, &d.space));
        let done = resume_download(&from, &d, queue.partials(), &*progress).await;
        if let Ok(r) = &done {
            services.log().write(format!(
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
    let queue = services.queue();
    if let Some(batch) = id.strip_prefix(BATCH) {
        let active = services.active().await?;
        let Some(b) = (batches_of(services, &active)?.into_iter()).find(|b| b.id == batch) else {
            return Ok(());
        };
        // Its big files in flight go with it: their parts on the server, their partial files.
        let folded = members(std::slice::from_ref(&b));
        let in_flight = (queue.unfinished().list().into_iter())
            .filter(|u| {
                u.source.as_ref().is_some_and(|s| {
                    folded.contains(&(
                        u.endpoint.clone(),
                        u.space.clone(),
                        u.key.clone(),
                        s.path.clone(),
                    ))
                })
            })
            .map(|u| u.upload_id)
            .chain(
                (queue.partials().list().into_iter())
                    .filter(|d| {
                        folded.contains(&(
                            d.endpoint.clone(),
                            d.space.clone(),
                            d.key.clone(),
                            d.path.clone(),
                        ))
                    })
                    .map(|d| d.id()),
            )
            .collect::<Vec<_>>();
        for noted in in_flight {
            Box::pin(discard(services, &noted)).await?;
        }
        queue.discard_batch(batch);
        services.log().write(format!(
            "discarded a batch of {} files not finished in “{}”",
            b.files, b.space
        ));
        return Ok(());
    }
    if let Some(u) = queue.unfinished().find(id) {
        let active = services.active().await?;
        let client =
            client_at(&active, &u.space, &u.endpoint).ok_or_else(|| not_reachable(&u.space))?;
        let ctx = Context::space(&u.endpoint, &u.space);
        abort_one(&client, &u.space, &u.key, &u.upload_id)
            .await
            .map_err(|e| map_error(e, ctx))?;
        queue.unfinished().remove(id);
        services.log().write(format!(
            "discarded the upload of “{}” to “{}”",
            u.key, u.space
        ));
    } else if let Some(d) = queue.partials().find(id) {
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
        queue.partials().remove(id);
        services.log().write(format!(
            "discarded the download of “{}” from “{}”",
            d.key, d.space
        ));
    }
    Ok(())
}
