//! Commands of server-side copies, moves and renames: each adapts one call of
//! [`crate::core::transfer::copy_batch`].

use tauri::State;

use crate::app::error::Result;
use crate::core::services::Services;
use crate::core::transfer::copy::CopySummary;
use crate::core::transfer::copy_batch::{self, CopyRequest, PlannedCopy};
use crate::core::transfer::Conflict;

/// Plans copying, moving or renaming files and folders on the server.
#[tauri::command]
pub async fn plan_copy(state: State<'_, Services>, ask: CopyRequest) -> Result<PlannedCopy> {
    Ok(copy_batch::plan(&state, ask).await?)
}

/// Runs a planned copy; new names already taken are handled as `conflict` says. Its files'
/// progress is on the Transfers panel's rows.
#[tauri::command]
pub async fn start_copy(
    state: State<'_, Services>,
    batch: u32,
    conflict: Conflict,
) -> Result<CopySummary> {
    let rows_only = std::sync::Arc::new(|_| {});
    Ok(copy_batch::start(&state, batch, conflict, None, rows_only).await?)
}

/// Forgets a planned copy the user stopped at the question about names already taken.
#[tauri::command]
pub fn forget_copy(state: State<'_, Services>, batch: u32) {
    copy_batch::forget(&state, batch);
}
