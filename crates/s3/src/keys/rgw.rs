//! The keys of one RGW account: a full key is another key of the owner; a limited key is a
//! user of its own, allowed into each granted Space by a statement in that Space's policy.

use super::admin::{has_caps, keys_of, slug, Admin, LIMITED_PREFIX};
use super::{policy, AccessKey, Grant, Scope};
use crate::error::{Error, Result};
use crate::secret::Secret;
use serde_json::Value;

/// Keys on one RGW, managed with the owner's key (which must have admin caps).
pub struct RgwKeys<'a> {
    pub admin: &'a Admin,
    /// The owner's S3 client: it owns the Spaces whose policies grant limited keys.
    pub owner: &'a aws_sdk_s3::Client,
    pub endpoint: &'a str,
    pub owner_access_key: &'a str,
}

impl RgwKeys<'_> {
    /// Makes a key; the secret is in the answer and nowhere else.
    pub async fn generate(&self, name: &str, scope: &Scope) -> Result<(AccessKey, Secret)> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::InvalidInput(
                "Give the key a name, e.g. the client it is for.".into(),
            ));
        }
        match scope {
            Scope::Full => {
                let owner_uid = self.admin.uid_of(self.owner_access_key).await?;
                // A full key is another key of the owner, with everything the owner may do.
                if has_caps(&self.admin.user(&owner_uid).await?) {
                    return Err(Error::AdminFullKey);
                }
                let (access_key, secret) = self.admin.new_key_of(&owner_uid).await?;
                Ok((
                    AccessKey {
                        name: name.to_string(),
                        access_key,
                        scope: Scope::Full,
                        created: None,
                    },
                    secret,
                ))
            }
            Scope::Limited { grants } => {
                if grants.is_empty() {
                    return Err(Error::InvalidInput(
                        "Choose at least one Space for a limited key.".into(),
                    ));
                }
                let uid = format!(
                    "{LIMITED_PREFIX}{}-{}",
                    slug(name),
                    &uuid::Uuid::new_v4().simple().to_string()[..6]
                );
                let (access_key, secret) = self.admin.create_user(&uid, name).await?;
                for g in grants {
                    if let Err(e) =
                        policy::grant(self.owner, self.endpoint, &g.space, &uid, g.permission).await
                    {
                        // Nothing half-made: undo the grants so far and the user.
                        for done in grants.iter().take_while(|x| x.space != g.space) {
                            let _ =
                                policy::revoke(self.owner, self.endpoint, &done.space, &uid).await;
                        }
                        let _ = self.admin.delete_user(&uid).await;
                        return Err(e);
                    }
                }
                Ok((
                    AccessKey {
                        name: name.to_string(),
                        access_key,
                        scope: scope.clone(),
                        created: None,
                    },
                    secret,
                ))
            }
        }
    }

    /// Every key: the owner's own (full access) and the limited ones, with their grants read
    /// from the Spaces' policies (the server's truth).
    pub async fn list(&self, spaces: &[String]) -> Result<Vec<AccessKey>> {
        let owner_uid = self.admin.uid_of(self.owner_access_key).await?;
        let mut keys: Vec<AccessKey> = keys_of(&self.admin.user(&owner_uid).await?)
            .into_iter()
            .map(|(access_key, _)| AccessKey {
                name: String::new(),
                access_key,
                scope: Scope::Full,
                created: None,
            })
            .collect();
        let grants = policy::grants_in(self.owner, self.endpoint, spaces).await?;
        for uid in self
            .admin
            .users()
            .await?
            .into_iter()
            .filter(|u| u.starts_with(LIMITED_PREFIX))
        {
            let user = self.admin.user(&uid).await?;
            let name = user
                .get("display_name")
                .and_then(Value::as_str)
                .unwrap_or(&uid)
                .to_string();
            let mine: Vec<Grant> = grants
                .iter()
                .filter(|(u, _, _)| u == &uid)
                .map(|(_, space, permission)| Grant {
                    space: space.clone(),
                    permission: *permission,
                })
                .collect();
            for (access_key, _) in keys_of(&user) {
                keys.push(AccessKey {
                    name: name.clone(),
                    access_key,
                    scope: Scope::Limited {
                        grants: mine.clone(),
                    },
                    created: None,
                });
            }
        }
        Ok(keys)
    }

    /// Revokes a key: a full key is removed from the owner; a limited key's grants and user go.
    pub async fn delete(&self, access_key: &str, spaces: &[String]) -> Result<()> {
        if access_key == self.owner_access_key {
            return Err(Error::KeyInUse);
        }
        let uid = self.admin.uid_of(access_key).await?;
        let owner_uid = self.admin.uid_of(self.owner_access_key).await?;
        if uid.starts_with(LIMITED_PREFIX) {
            // The keys go first: from that moment the key opens nothing, whatever follows.
            for (key, _) in keys_of(&self.admin.user(&uid).await?) {
                self.admin.delete_key(&uid, &key).await?;
            }
            for space in spaces {
                policy::revoke(self.owner, self.endpoint, space, &uid).await?;
            }
            // A user left from before limited keys could make Spaces may still own one: it
            // stays, keyless, rather than have its files deleted.
            let _ = self.admin.delete_user(&uid).await;
            Ok(())
        } else if uid == owner_uid {
            self.admin.delete_key(&uid, access_key).await
        } else {
            Err(Error::NotOwnKey)
        }
    }
}
