//! Access keys as every layer sees them: what a key may do, where, and how it is listed (never
//! with its secret).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What a limited key may do in one Space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Permission {
    /// List and download.
    Read,
    /// Read, upload and delete files.
    ReadWrite,
    /// Everything in that Space, settings included.
    FullAccess,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Grant {
    pub space: String,
    pub permission: Permission,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum Scope {
    /// Every Space, including creating and configuring them.
    Full,
    Limited {
        grants: Vec<Grant>,
    },
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct AccessKey {
    pub name: String,
    pub access_key: String,
    pub scope: Scope,
    /// RFC 3339, when known: DigitalOcean says; RGW keeps no date, so the app notes its own keys'.
    pub created: Option<String>,
}
