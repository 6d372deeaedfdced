//! The domain: everything Spacedock does, with no window and no `tauri` import, so it is tested
//! from plain Rust.

pub mod about;
pub mod cdn;
pub mod connection;
pub mod destroy;
pub mod files;
pub mod keychain;
pub mod keys;

pub mod lifecycle;
pub mod log;
pub mod preview;
pub mod search;
pub mod services;
pub mod settings;
pub mod space;
pub mod spaces;
pub mod sync;
pub mod transfer;
pub mod versions;

// The layers below, under the names the domain has always used for them.
pub use spacedock_common::{disk, error, secret};
pub use spacedock_s3::client as s3;
pub use spacedock_s3::{browse, listing, names, objects, regions, urls};
pub use spacedock_sandbox as sandbox;

pub use error::{Error, ErrorKind, ErrorPayload, Result};
pub use spacedock_s3::SpaceRef;
pub use tokio_util::sync::CancellationToken;
