//! The Transfers panel as the window sees it: the queue's own rows, handed over once and then
//! as they change. Cancel, Retry and Clear act on the queue, which keeps each batch's choices.

use std::sync::Arc;

pub use super::queue::{Direction, TransferRow, TransfersChanged};

use crate::error::Result;
use crate::services::Services;

/// Every row now; from now on each change goes to `changes` (a window loaded again replaces
/// the one before).
pub fn watch(
    services: &Services,
    changes: Arc<dyn Fn(TransfersChanged) + Send + Sync>,
) -> Vec<TransferRow> {
    services.queue().watch(changes)
}

/// Cancels one file of a batch, or (without `file`) all of it.
pub fn cancel(services: &Services, batch: u32, file: Option<u32>) {
    services.queue().cancel(batch, file);
}

/// Runs again the files of `batch` that failed or were cancelled, with its first run's choices.
/// Says how many.
pub async fn retry(services: &Services, batch: u32) -> Result<usize> {
    services.queue().retry(batch).await
}

/// Clears the rows of files that finished; with `batch`, stops that batch and clears all of it.
pub fn clear(services: &Services, batch: Option<u32>) {
    services.queue().clear(batch);
}
