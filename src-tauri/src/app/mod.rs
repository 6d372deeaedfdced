//! The Tauri side: commands that adapt IPC to the domain's services, the error they answer
//! with, and the store the settings live in. The work is in `core`.

pub mod commands;
pub mod drag_out;
pub mod error;
pub mod navigation;
pub mod state;
