//! The sandbox's S3 users: the owner of its Spaces, and the key manager that makes access keys.

use super::Sandbox;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// The S3 user who owns the sandbox's Spaces. It has no admin caps: its keys, full-access keys
/// included, can't read other users' secrets.
pub const OWNER_UID: &str = "spacedock-owner";
/// The user the app manages access keys with (RGW's Admin Ops API). Its key is never shown,
/// listed or handed out.
pub const ADMIN_UID: &str = "spacedock-admin";
const ADMIN_CAPS: &str = "users=*;buckets=*;usage=read;metadata=read";

/// An S3 key of the sandbox: the owner's, or the admin's.
pub struct OwnerKey {
    pub access_key: String,
    pub secret: Secret,
}

impl Sandbox {
    /// The owner, made on first start. Its key is the one saved last time (`saved`), not
    /// whichever key comes first: full-access keys are extra keys of the owner.
    pub(super) fn ensure_owner(&self, saved: Option<&str>) -> Result<OwnerKey> {
        let info = match self.admin(&["user", "info", "--uid", OWNER_UID]) {
            Ok(info) => info,
            Err(_) => self.admin(&[
                "user",
                "create",
                "--uid",
                OWNER_UID,
                "--display-name",
                "Sandbox owner",
            ])?,
        };
        // Sandboxes made before the admin user existed gave the owner admin caps: take each back
        // (one at a time: radosgw-admin may leave some of a list in place), then make sure.
        let caps = |info: &serde_json::Value| -> Vec<String> {
            info.get("caps")
                .and_then(serde_json::Value::as_array)
                .map(|caps| {
                    caps.iter()
                        .filter_map(|c| {
                            Some(format!(
                                "{}={}",
                                c.get("type")?.as_str()?,
                                c.get("perm")?.as_str()?
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        for cap in caps(&info) {
            self.admin(&["caps", "rm", "--uid", OWNER_UID, "--caps", &cap])?;
        }
        let info = self.admin(&["user", "info", "--uid", OWNER_UID])?;
        if !caps(&info).is_empty() {
            return Err(Error::Sandbox(format!(
                "The sandbox owner still has admin caps ({}); its keys would be admin keys.",
                caps(&info).join(", ")
            )));
        }
        let keys = s3_keys(&info);
        let chosen = saved
            .and_then(|saved| keys.iter().position(|k| k.access_key == saved))
            .unwrap_or(0);
        keys.into_iter()
            .nth(chosen)
            .ok_or_else(|| Error::Sandbox("The sandbox owner has no S3 key.".into()))
    }

    /// The user that manages access keys, with admin caps and a key of its own.
    pub(super) fn ensure_admin(&self) -> Result<OwnerKey> {
        let info = match self.admin(&["user", "info", "--uid", ADMIN_UID]) {
            Ok(info) => info,
            Err(_) => {
                let info = self.admin(&[
                    "user",
                    "create",
                    "--uid",
                    ADMIN_UID,
                    "--display-name",
                    "Spacedock key manager",
                    "--max-buckets=-1",
                ])?;
                self.admin(&["caps", "add", "--uid", ADMIN_UID, "--caps", ADMIN_CAPS])?;
                info
            }
        };
        first_s3_key(&info).ok_or_else(|| Error::Sandbox("The key manager has no S3 key.".into()))
    }
}

/// The S3 keys in radosgw-admin's user JSON.
pub fn s3_keys(user: &serde_json::Value) -> Vec<OwnerKey> {
    user.get("keys")
        .and_then(serde_json::Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|key| {
                    Some(OwnerKey {
                        access_key: key.get("access_key")?.as_str()?.to_string(),
                        secret: Secret::new(key.get("secret_key")?.as_str()?),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The first S3 key in radosgw-admin's user JSON.
pub fn first_s3_key(user: &serde_json::Value) -> Option<OwnerKey> {
    s3_keys(user).into_iter().next()
}
