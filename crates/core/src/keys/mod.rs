//! Access keys: full-access keys, and keys limited to chosen Spaces so one client's key can never
//! touch another client's Space. The same model as DigitalOcean's Limited Access keys: a limited
//! key is a user of its own, allowed into each granted Space by a bucket-policy statement.

pub mod digitalocean;
pub mod manager;
pub mod rotate;
pub mod service;

pub use spacedock_s3::keys::{admin, policy, rgw};

pub use spacedock_common::keys::{AccessKey, Grant, Permission, Scope};
