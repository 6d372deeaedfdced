//! The Tauri side: commands, state, the log. Everything here adapts; the work is in `core`.

pub mod commands;
pub mod error;
pub mod journal;
pub mod state;
