//! The commands the UI may invoke: thin adapters from IPC to the domain. Each is listed in
//! `build.rs` and allowed in `capabilities/main.json`.

pub mod cdn;
pub mod connections;
pub mod files;
pub mod keys;
pub mod moves;
pub mod spaces;
pub mod sync;
pub mod transfers;
pub mod versions;
