//! S3 as Spacedock speaks it, to Spaces, the sandbox's RADOS Gateway or any S3 service: the one
//! client builder and the one map from S3 failures to errors, where a connection's requests go,
//! the Spaces regions and name rules, URLs, the one door to listings, one file's operations, and
//! access keys on RGW (its Admin Ops API and the bucket policies of limited keys).

pub mod browse;
pub mod client;
pub mod connection;
pub mod keys;
pub mod listing;
pub mod names;
pub mod objects;
pub mod regions;
pub mod space;
pub mod urls;

pub use space::SpaceRef;

// The shared vocabulary, and the client, under the names the modules use.
pub(crate) use client as s3;
pub(crate) use spacedock_common::{error, secret};
