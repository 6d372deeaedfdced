//! Downloads as the window starts them: the Space the window names, resolved for the active
//! connection, and handed to the queue.

use std::path::PathBuf;
use std::sync::Arc;

pub use super::queue::{PlannedDownload, QueuedDownload};

use super::download::DownloadSummary;
use super::{Conflict, TransferEvent};
use crate::error::Result;
use crate::files;
use crate::services::Services;

/// Plans the download of files and folders (with their structure) into `dest`.
pub async fn plan(
    services: &Services,
    space: &str,
    region: Option<String>,
    keys: &[String],
    dest: PathBuf,
) -> Result<PlannedDownload> {
    let (at, connection) = files::space_ref(services, space, region).await?;
    let queue = services.queue();
    queue
        .plan_download(&at, &connection, keys, dest, true)
        .await
}

/// Plans the download of what is dragged out of the window into its staging folder: nothing
/// of it is noted for a resume (no drop would use it after a quit).
pub async fn plan_staged(
    services: &Services,
    space: &str,
    region: Option<String>,
    keys: &[String],
    staging: PathBuf,
) -> Result<PlannedDownload> {
    let (at, connection) = files::space_ref(services, space, region).await?;
    let queue = services.queue();
    queue
        .plan_download(&at, &connection, keys, staging, false)
        .await
}

/// Plans saving one version of a file into `dest`, under the file's name (run it with Keep
/// both: nothing on disk is replaced).
pub async fn plan_version(
    services: &Services,
    space: &str,
    region: Option<String>,
    key: &str,
    version_id: &str,
    dest: PathBuf,
) -> Result<PlannedDownload> {
    let (at, connection) = files::space_ref(services, space, region).await?;
    let queue = services.queue();
    queue
        .plan_version_download(&at, &connection, key, version_id, dest)
        .await
}

/// Runs a planned download (or, with `ids`, only those files again); files already in the
/// folder are handled as `conflict` says (a retry keeps the first run's choice).
pub async fn start(
    services: &Services,
    batch: u32,
    conflict: Conflict,
    ids: Option<Vec<u32>>,
    events: Arc<dyn Fn(TransferEvent) + Send + Sync>,
) -> Result<DownloadSummary> {
    services
        .queue()
        .run_download(batch, conflict, ids, events)
        .await
}

/// Cancels one file of a download batch, or (without `id`) all of it; partial files go.
pub fn cancel(services: &Services, batch: u32, id: Option<u32>) {
    services.queue().cancel_download(batch, id);
}

/// How a batch stands: None while it is yet to run or running; once it stopped, whether the whole
/// selection is on disk.
pub fn outcome(services: &Services, batch: u32) -> Option<bool> {
    services.queue().download_outcome(batch)
}

/// Forgets a planned download the user stopped at the question about files already there.
pub fn forget(services: &Services, batch: u32) {
    services.queue().forget_download(batch);
}
