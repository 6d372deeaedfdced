//! Commands of server-side copies, moves and renames: each adapts one call of
//! [`crate::core::transfer::copy_batch`].

use tauri::ipc::Channel;
use tauri::State;

use crate::app::error::Result;
use crate::core::services::Services;
use crate::core::transfer::copy::CopySummary;
use crate::core::transfer::copy_batch::{self, CopyRequest, PlannedCopy};
use crate::core::transfer::{Conflict, TransferEvent};

/// Plans copying, moving or renaming files and folders on the server.
#[tauri::command]
pub async fn plan_copy(state: State<'_, Services>, ask: CopyRequest) -> Result<PlannedCopy> {
    Ok(copy_batch::plan(&state, ask).await?)
}

/// Runs a planned copy (or, with `ids`, only those files again); new names already taken are
/// handled as `conflict` says. Each file's progress goes to `on_event`.
#[tauri::command]
pub async fn start_copy(
    state: State<'_, Services>,
    batch: u32,
    conflict: Conflict,
    ids: Option<Vec<u32>>,
    on_event: Channel<TransferEvent>,
) -> Result<CopySummary> {
    let events = move |e| {
        let _ = on_event.send(e);
    };
    Ok(copy_batch::start(&state, batch, conflict, ids, std::sync::Arc::new(events)).await?)
}

/// Cancels one file of a copy, or (without `id`) all of it.
#[tauri::command]
pub fn cancel_copy(state: State<'_, Services>, batch: u32, id: Option<u32>) {
    copy_batch::cancel(&state, batch, id);
}

/// Forgets a planned copy the user stopped at the question about names already taken.
#[tauri::command]
pub fn forget_copy(state: State<'_, Services>, batch: u32) {
    copy_batch::forget(&state, batch);
}
