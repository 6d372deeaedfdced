//! The file browser on the active connection: folder listings streamed page by page (a newer
//! listing stops an older one), new folders, a file's details with its URLs, its permission,
//! share links, metadata and deletion. Each request goes with the key remembered for the Space.

use serde::Serialize;
use ts_rs::TS;

use crate::browse::{self, ListingPage};
use crate::error::Result;
use crate::objects::{self, FileDetails, Metadata};
use crate::services::Services;
use crate::transfer::FileAcl;
use crate::urls;

/// Rows per page: the first page shows at once, the rest stream in behind it.
const PAGE_SIZE: i32 = 1000;

/// Where requests about one Space go.
pub struct SpaceTarget {
    pub client: aws_sdk_s3::Client,
    pub endpoint: String,
    pub region: String,
}

/// The client for `space` with the key remembered for it, in its region (the connection's
/// own when the page does not say).
pub async fn target(
    services: &Services,
    space: &str,
    region: Option<String>,
) -> Result<SpaceTarget> {
    let active = services.active().await?;
    let region = active.region_or_own(region)?;
    let (client, endpoint) = active.client_for_space(space, &region)?;
    Ok(SpaceTarget {
        client,
        endpoint: endpoint.url,
        region,
    })
}

/// `space` as the engines reach it, with the id of the saved connection it is reached through.
pub async fn space_ref(
    services: &Services,
    space: &str,
    region: Option<String>,
) -> Result<(crate::SpaceRef, String)> {
    let active = services.active().await?;
    let region = active.region_or_own(region)?;
    let (client, endpoint) = active.client_for_space(space, &region)?;
    let at = crate::SpaceRef::new(&client, &endpoint.url, space);
    Ok((at, active.profile.id.clone()))
}

/// Streams the folder `prefix` of `space` to `page` until it is all sent, `page` says stop, or
/// a newer listing began. Returns how many entries were sent.
pub async fn list_folder(
    services: &Services,
    space: &str,
    region: Option<String>,
    prefix: &str,
    page: impl Fn(ListingPage) -> bool,
) -> Result<u64> {
    let t = target(services, space, region).await?;
    let newest = services.listings().begin();
    browse::list_folder(&t.client, &t.endpoint, space, prefix, PAGE_SIZE, |p| {
        page(p) && newest()
    })
    .await
}

pub async fn create_folder(
    services: &Services,
    space: &str,
    region: Option<String>,
    parent: &str,
    name: &str,
) -> Result<String> {
    let t = target(services, space, region).await?;
    browse::create_folder(&t.client, &t.endpoint, space, parent, name).await
}

/// A file's details with its URLs.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FileView {
    pub details: FileDetails,
    pub url: String,
    pub cdn_url: Option<String>,
}

/// A file's details; `request` lets the window stop it.
pub async fn view(
    services: &Services,
    space: &str,
    region: Option<String>,
    key: &str,
    request: Option<u32>,
) -> Result<FileView> {
    services
        .requests()
        .run(request, view_now(services, space, region, key))
        .await
}

async fn view_now(
    services: &Services,
    space: &str,
    region: Option<String>,
    key: &str,
) -> Result<FileView> {
    let active = services.active().await?;
    let t = target(services, space, region).await?;
    let details = objects::details(&t.client, &t.endpoint, space, key).await?;
    let urls = urls::space_urls(&active.profile.provider, &active.endpoint, space, &t.region);
    Ok(FileView {
        url: urls::file_url(&urls.origin, key),
        cdn_url: urls.cdn.as_deref().map(|cdn| urls::file_url(cdn, key)),
        details,
    })
}

/// Sets Public or Private on each file; returns the files that failed, with why.
pub async fn set_acl(
    services: &Services,
    space: &str,
    region: Option<String>,
    keys: &[String],
    acl: FileAcl,
) -> Result<Vec<(String, String)>> {
    let t = target(services, space, region).await?;
    Ok(objects::set_acl(&t.client, &t.endpoint, space, keys, acl).await)
}

pub async fn share_link(
    services: &Services,
    space: &str,
    region: Option<String>,
    key: &str,
    seconds: u64,
) -> Result<String> {
    let t = target(services, space, region).await?;
    objects::share_link(&t.client, space, key, seconds).await
}

/// Replaces a file's metadata, if the file is still the version whose details were shown
/// (`etag`).
pub async fn set_metadata(
    services: &Services,
    space: &str,
    region: Option<String>,
    key: &str,
    metadata: &Metadata,
    etag: Option<&str>,
) -> Result<FileDetails> {
    let t = target(services, space, region).await?;
    objects::set_metadata(&t.client, &t.endpoint, space, key, metadata, etag).await
}

/// Deletes files and folders (with everything in them), through the transfer queue (planned,
/// journaled, each file only if it is still its planned version). The page asks for
/// confirmation first, and says which version of each file it showed (`shown`: ETags by key):
/// a file changed since is kept. `progress` hears the count deleted so far; stopping `request`
/// stops it between requests, and the summary says what was deleted.
pub async fn delete(
    services: &Services,
    space: &str,
    region: Option<String>,
    (keys, shown): (&[String], &std::collections::HashMap<String, String>),
    request: Option<u32>,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<objects::DeleteSummary> {
    let (at, connection) = space_ref(services, space, region).await?;
    let done = services
        .requests()
        .run_stoppable(request, |stop| async move {
            let chosen = (keys, shown);
            (services.queue())
                .delete(&at, &connection, chosen, &stop, progress)
                .await
        })
        .await?;
    services.log().write(format!(
        "deleted {} files from “{space}”, kept {} changed since shown{}",
        done.deleted,
        done.kept.len(),
        if done.stopped {
            "; stopped before the end"
        } else {
            ""
        }
    ));
    Ok(done)
}
