//! Copies, moves and renames as the window starts them: the Space the window names, resolved
//! for the active connection, and handed to the queue.

use std::sync::Arc;

pub use super::queue::{CopyRequest, PlannedCopy, QueuedCopy};

use super::copy::CopySummary;
use super::{Conflict, TransferEvent};
use crate::error::Result;
use crate::files;
use crate::services::Services;

/// Plans a copy, move or rename.
pub async fn plan(services: &Services, ask: CopyRequest) -> Result<PlannedCopy> {
    let (at, connection) = files::space_ref(services, &ask.space, ask.region.clone()).await?;
    services.queue().plan_copy(&at, &connection, &ask).await
}

/// Runs a planned copy (or, with `ids`, only those files again); new keys already taken are
/// handled as `conflict` says (a retry keeps the first run's choice).
pub async fn start(
    services: &Services,
    batch: u32,
    conflict: Conflict,
    ids: Option<Vec<u32>>,
    events: Arc<dyn Fn(TransferEvent) + Send + Sync>,
) -> Result<CopySummary> {
    services
        .queue()
        .run_copy(batch, conflict, ids, events)
        .await
}

/// Cancels one file of a copy, or (without `id`) all of it. Copies already stored stay (and a
/// move removes their originals).
pub fn cancel(services: &Services, batch: u32, id: Option<u32>) {
    services.queue().cancel_copy(batch, id);
}

/// Forgets a planned copy the user stopped at the question about names already taken.
pub fn forget(services: &Services, batch: u32) {
    services.queue().forget_copy(batch);
}
