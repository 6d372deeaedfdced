//! The domain: everything Spacedock does, with no window and no `tauri` import, so it is tested
//! from plain Rust.

pub mod about;
pub mod browse;
pub mod cdn;
pub mod connection;
pub mod destroy;
pub mod files;
pub mod journal;
pub mod keychain;
pub mod keys;

pub mod lifecycle;
pub mod listing;
pub mod names;
pub mod objects;
pub mod preview;
pub mod regions;
pub mod s3;
pub mod search;
pub mod services;
pub mod settings;
pub mod space;
pub mod spaces;
pub mod transfer;
pub mod urls;
pub mod versions;

// The layers below, under the names the domain has always used for them.
pub use spacedock_common::{disk, error, secret};
pub use spacedock_sandbox as sandbox;

pub use error::{Error, ErrorKind, ErrorPayload, Result};
