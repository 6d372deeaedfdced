//! DigitalOcean's own access keys, through its API v2 (`/v2/spaces/keys`) with a personal access
//! token. The token is a secret like any other: it lives in the keychain.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{AccessKey, Grant, Permission, Scope};
use crate::core::error::{Error, Result};
use crate::core::secret::Secret;

/// The public API's address; tests point the client at a local fake instead.
pub const API_BASE: &str = "https://api.digitalocean.com";

pub struct DoApi {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

#[derive(Deserialize)]
struct ApiGrant {
    bucket: String,
    permission: String,
}

#[derive(Deserialize)]
struct ApiKey {
    name: String,
    access_key: String,
    #[serde(default)]
    secret_key: Option<String>,
    #[serde(default)]
    grants: Vec<ApiGrant>,
    #[serde(default)]
    created_at: Option<String>,
}

fn permission_name(p: Permission) -> &'static str {
    match p {
        Permission::Read => "read",
        Permission::ReadWrite => "readwrite",
        Permission::FullAccess => "fullaccess",
    }
}

fn to_key(k: &ApiKey) -> AccessKey {
    // Full access is written as one grant on the empty bucket name.
    let full = k
        .grants
        .iter()
        .any(|g| g.bucket.is_empty() && g.permission == "fullaccess");
    let scope = if full {
        Scope::Full
    } else {
        Scope::Limited {
            grants: k
                .grants
                .iter()
                .filter_map(|g| {
                    let permission = match g.permission.as_str() {
                        "read" => Permission::Read,
                        "readwrite" => Permission::ReadWrite,
                        "fullaccess" => Permission::FullAccess,
                        _ => return None,
                    };
                    Some(Grant {
                        space: g.bucket.clone(),
                        permission,
                    })
                })
                .collect(),
        }
    };
    AccessKey {
        name: k.name.clone(),
        access_key: k.access_key.clone(),
        scope,
        created: k.created_at.clone(),
    }
}

impl DoApi {
    pub fn new(base: &str, token: &Secret) -> DoApi {
        DoApi {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_string(),
            token: token.clone(),
        }
    }

    async fn call(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Result<Value> {
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(self.token.expose());
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| Error::Unreachable {
            endpoint: self.base.clone(),
            reason: if e.is_timeout() {
                "no answer in time".into()
            } else {
                "the DigitalOcean API did not answer".into()
            },
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let message = parsed
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match status {
            200..=299 => Ok(parsed),
            401 => Err(Error::AccessDenied(
                "DigitalOcean refused the API token: it is wrong, expired or revoked. Paste a new personal access token.".into(),
            )),
            403 => Err(Error::AccessDenied(
                "This API token may not manage Spaces keys: give it the spaces_key scopes (create_credentials, read, update, delete).".into(),
            )),
            404 => Err(Error::InvalidInput("DigitalOcean has no such key (it may have been deleted already).".into())),
            422 => Err(Error::InvalidInput(format!("DigitalOcean refused the request: {message}"))),
            429 => Err(Error::SlowDown),
            _ => Err(Error::Server { code: format!("HTTP {status}"), message }),
        }
    }

    /// Every key of the account, page by page.
    pub async fn list(&self) -> Result<Vec<AccessKey>> {
        let mut keys = Vec::new();
        let mut next = Some(format!("{}/v2/spaces/keys?page=1&per_page=100", self.base));
        while let Some(url) = next {
            let page = self.call(reqwest::Method::GET, &url, None).await?;
            let list: Vec<ApiKey> =
                serde_json::from_value(page.get("keys").cloned().unwrap_or(Value::Array(vec![])))
                    .map_err(|e| Error::Server {
                    code: "BadAnswer".into(),
                    message: e.to_string(),
                })?;
            keys.extend(list.iter().map(to_key));
            next = page
                .pointer("/links/pages/next")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        Ok(keys)
    }

    /// Creates a key; the secret is in this answer only.
    pub async fn create(&self, name: &str, scope: &Scope) -> Result<(AccessKey, Secret)> {
        let grants: Vec<Value> = match scope {
            Scope::Full => vec![json!({ "bucket": "", "permission": "fullaccess" })],
            Scope::Limited { grants } => {
                if grants.is_empty() {
                    return Err(Error::InvalidInput(
                        "Choose at least one Space for a limited key.".into(),
                    ));
                }
                grants.iter().map(|g| json!({ "bucket": g.space, "permission": permission_name(g.permission) })).collect()
            }
        };
        let answer = self
            .call(
                reqwest::Method::POST,
                &format!("{}/v2/spaces/keys", self.base),
                Some(json!({ "name": name.trim(), "grants": grants })),
            )
            .await?;
        let key: ApiKey = serde_json::from_value(answer.get("key").cloned().unwrap_or(Value::Null))
            .map_err(|e| Error::Server {
                code: "BadAnswer".into(),
                message: e.to_string(),
            })?;
        let secret = key
            .secret_key
            .clone()
            .map(Secret::new)
            .ok_or_else(|| Error::Server {
                code: "NoSecret".into(),
                message: "the new key came without its secret".into(),
            })?;
        Ok((to_key(&key), secret))
    }

    pub async fn rename(&self, access_key: &str, name: &str) -> Result<AccessKey> {
        let answer = self
            .call(
                reqwest::Method::PATCH,
                &format!("{}/v2/spaces/keys/{access_key}", self.base),
                Some(json!({ "name": name.trim() })),
            )
            .await?;
        let key: ApiKey = serde_json::from_value(answer.get("key").cloned().unwrap_or(Value::Null))
            .map_err(|e| Error::Server {
                code: "BadAnswer".into(),
                message: e.to_string(),
            })?;
        Ok(to_key(&key))
    }

    pub async fn delete(&self, access_key: &str) -> Result<()> {
        self.call(
            reqwest::Method::DELETE,
            &format!("{}/v2/spaces/keys/{access_key}", self.base),
            None,
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_read_back_as_scopes() {
        let full = ApiKey {
            name: "ci".into(),
            access_key: "DO1".into(),
            secret_key: None,
            grants: vec![ApiGrant {
                bucket: String::new(),
                permission: "fullaccess".into(),
            }],
            created_at: None,
        };
        assert_eq!(to_key(&full).scope, Scope::Full);
        let limited = ApiKey {
            name: "client-a".into(),
            access_key: "DO2".into(),
            secret_key: None,
            grants: vec![ApiGrant {
                bucket: "a-space".into(),
                permission: "readwrite".into(),
            }],
            created_at: Some("2026-11-27T12:00:00Z".into()),
        };
        assert_eq!(
            to_key(&limited).scope,
            Scope::Limited {
                grants: vec![Grant {
                    space: "a-space".into(),
                    permission: Permission::ReadWrite
                }]
            }
        );
        assert_eq!(
            to_key(&limited).created.as_deref(),
            Some("2026-11-27T12:00:00Z")
        );
        assert_eq!(to_key(&full).created, None);
    }
}
