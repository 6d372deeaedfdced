//! Access keys on Ceph RGW: its Admin Ops API, full keys and keys limited to chosen Spaces (a user
//! of their own, let into each granted Space by a bucket-policy statement).

pub mod admin;
pub mod policy;
pub mod rgw;

pub use spacedock_common::keys::{AccessKey, Grant, Permission, Scope};
