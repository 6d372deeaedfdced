//! Transfers as the app runs them: the engine's crate, and the queues of batches the window starts,
//! limits and resumes.

pub use spacedock_transfer::*;

pub mod board;
pub mod copy_batch;
pub mod download_batch;
pub mod limits;
pub mod resume;
pub mod upload_batch;
