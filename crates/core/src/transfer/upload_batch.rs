//! Uploads as the window starts them: the Space the window names, resolved for the active
//! connection, and handed to the queue.

use std::path::PathBuf;
use std::sync::Arc;

pub use super::queue::{PlannedUpload, UploadPlan, UploadSummary};

use super::{Conflict, FileAcl, TransferEvent};
use crate::browse;
use crate::error::Result;
use crate::files;
use crate::services::Services;

/// Plans the upload of `paths` into the folder `prefix`, and says which files are already there.
pub async fn plan(
    services: &Services,
    space: &str,
    region: Option<String>,
    prefix: &str,
    paths: Vec<PathBuf>,
) -> Result<UploadPlan> {
    browse::check_prefix(prefix)?;
    let (at, connection) = files::space_ref(services, space, region).await?;
    services
        .queue()
        .plan_upload(&at, &connection, prefix, paths)
        .await
}

/// Runs a planned batch (or, with `ids`, only those files again), reporting each file's
/// progress to `events`.
pub async fn start(
    services: &Services,
    batch: u32,
    acl: FileAcl,
    conflict: Conflict,
    ids: Option<Vec<u32>>,
    events: Arc<dyn Fn(TransferEvent) + Send + Sync>,
) -> Result<UploadSummary> {
    services
        .queue()
        .run_upload(batch, acl, conflict, ids, events)
        .await
}

/// Cancels one file of a batch, or (without `id`) all of it. A multipart upload is aborted on
/// the server.
pub fn cancel(services: &Services, batch: u32, id: Option<u32>) {
    services.queue().cancel_upload(batch, id);
}
