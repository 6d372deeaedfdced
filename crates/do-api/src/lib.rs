//! DigitalOcean's HTTP API v2, reached with a personal access token: its own access keys
//! (`/v2/spaces/keys`) here, and its CDN in [`cdn`]. The token is a secret like any other: it
//! lives in the keychain, and only this crate sends it anywhere.

pub mod cdn;
pub mod projects;

use serde::Deserialize;
use serde_json::{json, Value};

use spacedock_common::env::address_from;
use spacedock_common::error::{Error, Result};
use spacedock_common::http::{encode, http_client};
use spacedock_common::keys::{AccessKey, Grant, Permission, Scope};
use spacedock_common::secret::Secret;

/// The public API's address.
pub const API_BASE: &str = "https://api.digitalocean.com";

/// Where the API is reached: [`API_BASE`], or the address in `SPACEDOCK_DIGITALOCEAN_API` (a
/// proxy, or a stand-in server on this computer). The token goes there, so plain http is
/// accepted for this computer only.
pub fn api_base() -> Result<String> {
    Ok(address_from("SPACEDOCK_DIGITALOCEAN_API")?.unwrap_or_else(|| API_BASE.to_string()))
}

/// What a refusal of a call means, in words about what was asked.
pub(crate) struct About {
    /// 403: the token lacks the scopes.
    pub denied: &'static str,
    /// 404: the thing is not there.
    pub missing: &'static str,
}

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

/// The `key` object of an answer about one key.
fn key_in(answer: &Value) -> Result<ApiKey> {
    serde_json::from_value(answer.get("key").cloned().unwrap_or(Value::Null)).map_err(|e| {
        Error::Server {
            code: "BadAnswer".into(),
            message: e.to_string(),
        }
    })
}

/// The API address of one key: the access key is one path segment, percent-encoded, never more
/// path ("." and "..", which URLs resolve away even encoded, are no access keys).
fn key_url(base: &str, access_key: &str) -> Result<String> {
    if matches!(access_key, "" | "." | "..") {
        return Err(Error::InvalidInput(format!(
            "“{access_key}” is not an access key."
        )));
    }
    Ok(format!("{base}/v2/spaces/keys/{}", encode(access_key)))
}

/// Most pages of a list followed: 100 items a page, far beyond any account's keys or endpoints.
const MAX_PAGES: usize = 1000;

impl DoApi {
    pub fn new(base: &str, token: &Secret) -> DoApi {
        DoApi {
            http: http_client(),
            base: base.trim_end_matches('/').to_string(),
            token: token.clone(),
        }
    }

    /// The API's address, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Result<Value> {
        let about = About {
            denied: "This API token may not manage Spaces keys: give it the spaces_key scopes (create_credentials, read, update, delete).",
            missing: "DigitalOcean has no such key (it may have been deleted already).",
        };
        self.call_about(method, url, body, &about).await
    }

    /// One call of the API, its refusals said in words about what was asked.
    pub(crate) async fn call_about(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
        about: &About,
    ) -> Result<Value> {
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
            source: Some(Box::new(e)),
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
            401 => Err(Error::ApiTokenRefused),
            403 => Err(Error::AccessDenied(about.denied.into())),
            404 => Err(Error::Gone(about.missing.into())),
            422 => Err(Error::InvalidInput(format!(
                "DigitalOcean refused the request: {message}"
            ))),
            429 => Err(Error::SlowDown),
            _ => Err(Error::Server {
                code: format!("HTTP {status}").into(),
                message,
            }),
        }
    }

    /// Every key of the account, page by page.
    pub async fn list(&self) -> Result<Vec<AccessKey>> {
        let keys = self.list_all("/v2/spaces/keys", "keys", None).await?;
        let list: Vec<ApiKey> =
            serde_json::from_value(Value::Array(keys)).map_err(|e| Error::Server {
                code: "BadAnswer".into(),
                message: e.to_string(),
            })?;
        Ok(list.iter().map(to_key).collect())
    }

    /// Every item of a list the API gives page by page (`field` of each page), following its
    /// next links. With `about`, refusals are said in its words.
    pub(crate) async fn list_all(
        &self,
        path: &str,
        field: &str,
        about: Option<&About>,
    ) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut next = Some(format!("{}{path}?page=1&per_page=100", self.base));
        let mut seen = std::collections::HashSet::new();
        let origin = url::Url::parse(&self.base)
            .map_err(|_| Error::InvalidInput("The API address is not a URL.".into()))?
            .origin();
        while let Some(url) = next {
            // The token goes with every page: only to the API's own origin, each page once.
            let parsed = url::Url::parse(&url)
                .map_err(|_| Error::BadAnswer(format!("the next page is “{url}”, not a URL")))?;
            if parsed.origin() != origin {
                return Err(Error::BadAnswer(format!(
                    "the next page of {field} is at another address ({}); the token was not sent there",
                    parsed.origin().ascii_serialization()
                )));
            }
            if !seen.insert(url.clone()) || seen.len() > MAX_PAGES {
                return Err(Error::BadAnswer(format!(
                    "the pages of {field} lead back to a page already read"
                )));
            }
            let page = match about {
                Some(about) => {
                    self.call_about(reqwest::Method::GET, &url, None, about)
                        .await?
                }
                None => self.call(reqwest::Method::GET, &url, None).await?,
            };
            match page.get(field) {
                Some(Value::Array(list)) => items.extend(list.iter().cloned()),
                None | Some(Value::Null) => {}
                Some(_) => return Err(Error::BadAnswer(format!("“{field}” is not a list"))),
            }
            next = page
                .pointer("/links/pages/next")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        Ok(items)
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
        let key = key_in(&answer)?;
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

    /// One key of the account, by its access key, as the API gives it.
    async fn fetch(&self, access_key: &str) -> Result<ApiKey> {
        let url = key_url(&self.base, access_key)?;
        key_in(&self.call(reqwest::Method::GET, &url, None).await?)
    }

    /// One key of the account, by its access key.
    pub async fn get(&self, access_key: &str) -> Result<AccessKey> {
        Ok(to_key(&self.fetch(access_key).await?))
    }

    /// One key, refused when any of its grants has a permission this app does not know: a key
    /// made "with the same grants" would silently lack it.
    pub async fn get_whole(&self, access_key: &str) -> Result<AccessKey> {
        let key = self.fetch(access_key).await?;
        let unknown: Vec<&str> = (key.grants.iter())
            .map(|g| g.permission.as_str())
            .filter(|p| !matches!(*p, "" | "read" | "readwrite" | "fullaccess"))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::InvalidInput(format!(
                "This key has a permission Spacedock does not know ({}), so a key with the same grants can't be made here.",
                unknown.join(", ")
            )));
        }
        Ok(to_key(&key))
    }

    pub async fn rename(&self, access_key: &str, name: &str) -> Result<AccessKey> {
        let answer = self
            .call(
                reqwest::Method::PATCH,
                &key_url(&self.base, access_key)?,
                Some(json!({ "name": name.trim() })),
            )
            .await?;
        Ok(to_key(&key_in(&answer)?))
    }

    pub async fn delete(&self, access_key: &str) -> Result<()> {
        self.call(
            reqwest::Method::DELETE,
            &key_url(&self.base, access_key)?,
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

    #[test]
    fn access_keys_are_one_path_segment() {
        let url = |k| key_url("http://api", k);
        assert_eq!(
            url("DO00AB").ok().as_deref(),
            Some("http://api/v2/spaces/keys/DO00AB")
        );
        assert_eq!(
            url("../../v2/account?x=1#").ok().as_deref(),
            Some("http://api/v2/spaces/keys/..%2F..%2Fv2%2Faccount%3Fx%3D1%23")
        );
        assert_eq!(
            url("a b+c").ok().as_deref(),
            Some("http://api/v2/spaces/keys/a%20b%2Bc")
        );
        for bad in ["", ".", ".."] {
            assert_eq!(
                url(bad).map_err(|e| e.kind()),
                Err(spacedock_common::error::ErrorKind::InvalidInput)
            );
        }
    }
}
