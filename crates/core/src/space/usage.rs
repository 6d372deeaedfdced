//! A Space's size and file count at a glance: one request each, where the server keeps them.
//!
//! RGW (the engine of Spaces) answers a HEAD of a bucket with `X-RGW-Object-Count` and
//! `X-RGW-Bytes-Used`; since Ceph 20.2 only when the request carries `?read-stats`, which older
//! RGW ignores. Other S3 services say nothing: their Spaces are counted by listing every file, when
//! the user asks.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;
use ts_rs::TS;

use crate::error::Result;
use crate::s3::{map_error, Context};
use spacedock_common::sync::lock;

/// What a Space holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SpaceUsage {
    /// Objects as the server counts them (on a versioned Space, every version it keeps).
    #[ts(type = "number")]
    pub files: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    pub counted: Counted,
}

/// How a Space's usage was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Counted {
    /// The server's own figures, in one request.
    ByServer,
    /// A listing of every file (the server keeps no figures, or would not give them).
    ByListing,
}

/// The two figures, as the response to the HEAD carried them.
#[derive(Debug, Clone, Default)]
struct StatsHeaders(Arc<Mutex<Option<(String, String)>>>);

impl Intercept for StatsHeaders {
    fn name(&self) -> &'static str {
        "RgwBucketStats"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        // Only a request that went through: a failed try's headers never outlive it.
        if !context.response().status().is_success() {
            return Ok(());
        }
        let headers = context.response().headers();
        if let (Some(count), Some(bytes)) = (
            headers.get("x-rgw-object-count"),
            headers.get("x-rgw-bytes-used"),
        ) {
            *lock(&self.0) = Some((count.to_string(), bytes.to_string()));
        }
        Ok(())
    }
}

/// The server's own figures for a Space, in one request; None when it gives none (or figures
/// that are not numbers).
pub async fn server_stats(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    name: &str,
) -> Result<Option<SpaceUsage>> {
    let seen = StatsHeaders::default();
    client
        .head_bucket()
        .bucket(name)
        .customize()
        .interceptor(seen.clone())
        .mutate_request(|request| {
            let uri = request.uri().to_string();
            let joined = if uri.contains('?') { '&' } else { '?' };
            let _ = request.set_uri(format!("{uri}{joined}read-stats=true"));
        })
        .send()
        .await
        .map_err(|e| map_error(e, Context::space(endpoint, name)))?;
    let figures = lock(&seen.0).take();
    Ok(figures.and_then(|(count, bytes)| {
        Some(SpaceUsage {
            files: count.trim().parse().ok()?,
            bytes: bytes.trim().parse().ok()?,
            counted: Counted::ByServer,
        })
    }))
}

/// Every file listed and counted: what a service without figures needs, and what the figures
/// are measured against.
pub async fn by_listing(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    name: &str,
) -> Result<SpaceUsage> {
    let size = crate::search::folder_size(client, endpoint, name, "", |_| true).await?;
    Ok(SpaceUsage {
        files: size.files,
        bytes: size.bytes,
        counted: Counted::ByListing,
    })
}

/// What a Space holds that no file list shows, yet is stored and billed: earlier versions (and
/// delete markers) of its files, and the parts of unfinished uploads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HiddenUsage {
    #[ts(type = "number")]
    pub old_versions: u64,
    #[ts(type = "number")]
    pub old_version_bytes: u64,
    #[ts(type = "number")]
    pub delete_markers: u64,
    #[ts(type = "number")]
    pub unfinished_uploads: u64,
    /// Of the uploads whose parts were counted (the first 200).
    #[ts(type = "number")]
    pub unfinished_bytes: u64,
    /// Every upload's parts were counted (else the bytes are a floor).
    pub unfinished_counted: bool,
}

/// Earlier versions counted from a listing of every version, with the unfinished uploads'
/// parts.
/// Counts what no file list shows, until the page stops `request` (it only reads).
pub async fn hidden(
    services: &crate::services::Services,
    space: &str,
    region: Option<String>,
    request: Option<u32>,
) -> Result<HiddenUsage> {
    // Boxed, as the check is: moved by value, a large future can overflow a worker's stack.
    let counted = Box::pin(hidden_now(services, space, region));
    services.requests().run(request, counted).await
}

async fn hidden_now(
    services: &crate::services::Services,
    space: &str,
    region: Option<String>,
) -> Result<HiddenUsage> {
    let t = crate::files::target(services, space, region.clone()).await?;
    let mut held = HiddenUsage::default();
    crate::listing::each_version_page(
        &t.client,
        Context::space(&t.endpoint, space),
        space,
        "",
        None,
        |page| {
            for v in page
                .versions()
                .iter()
                .filter(|v| v.is_latest() != Some(true))
            {
                held.old_versions += 1;
                held.old_version_bytes += v.size().unwrap_or(0).max(0) as u64;
            }
            held.delete_markers += page.delete_markers().len() as u64;
            true
        },
    )
    .await?;
    let uploads = super::unfinished::list(services, space, region).await?;
    held.unfinished_uploads = uploads.len() as u64;
    held.unfinished_bytes = (uploads.iter().filter_map(|u| u.bytes)).fold(0, u64::saturating_add);
    held.unfinished_counted = uploads.iter().all(|u| u.bytes.is_some());
    Ok(held)
}

/// The same on the active connection, with the key remembered for the Space.
pub mod service {
    use super::SpaceUsage;
    use crate::error::Result;
    use crate::files::target;
    use crate::services::Services;

    /// The server's figures (None where it keeps none); with `listing`, every file counted
    /// instead: a listing of a big Space takes many requests (which some services bill), so it
    /// is done when asked, never for every Space on its own.
    pub async fn usage(
        services: &Services,
        space: &str,
        region: Option<String>,
        listing: bool,
    ) -> Result<Option<SpaceUsage>> {
        let t = target(services, space, region).await?;
        if listing {
            return super::by_listing(&t.client, &t.endpoint, space)
                .await
                .map(Some);
        }
        super::server_stats(&t.client, &t.endpoint, space).await
    }
}
