//! Access keys on Ceph RGW (the local sandbox, or a self-hosted RGW) through its Admin Ops API:
//! S3-signed HTTP requests by a user with admin caps.

use std::time::SystemTime;

use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use serde_json::Value;

use crate::error::{Error, Result, S3Code};
use crate::secret::Secret;
use spacedock_common::http::{encode, http_client};

/// A connection to RGW's Admin Ops API.
pub struct Admin {
    http: reqwest::Client,
    endpoint: String,
    region: String,
    access_key: String,
    secret: Secret,
}

/// Users this app creates for limited keys all start so.
pub const LIMITED_PREFIX: &str = "sd-";

impl Admin {
    pub fn new(endpoint: &str, region: &str, access_key: &str, secret: &Secret) -> Admin {
        Admin {
            http: http_client(),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region: region.to_string(),
            access_key: access_key.to_string(),
            secret: secret.clone(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Value> {
        let mut pairs: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    format!("{k}=")
                } else {
                    format!("{k}={}", encode(v))
                }
            })
            .collect();
        pairs.push("format=json".into());
        pairs.sort();
        let url = format!("{}{path}?{}", self.endpoint, pairs.join("&"));
        let identity: Identity = aws_credential_types::Credentials::new(
            &self.access_key,
            self.secret.expose(),
            None,
            None,
            "spacedock",
        )
        .into();
        // S3's flavour of SigV4: the payload hash in x-amz-content-sha256, paths encoded once.
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| Error::Internal(format!("the admin request could not be signed: {e}")))?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            &url,
            std::iter::empty(),
            SignableBody::Bytes(&[]),
        )
        .map_err(|e| Error::Internal(format!("the admin request could not be signed: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| Error::Internal(format!("the admin request could not be signed: {e}")))?
            .into_parts();
        let mut request = self.http.request(method, &url);
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| Error::Unreachable {
            endpoint: self.endpoint.clone(),
            reason: e.to_string(),
            source: Some(Box::new(e)),
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            let code = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("Code").and_then(Value::as_str).map(str::to_string));
            return Err(match code.map(S3Code::from) {
                Some(S3Code::AccessDenied) | None if status == 403 => Error::AccessDenied(
                    "This key may not manage access keys here: it needs RGW admin caps (users=*)."
                        .into(),
                ),
                Some(S3Code::SignatureDoesNotMatch) => Error::WrongSecret,
                Some(S3Code::InvalidAccessKeyId) => Error::UnknownAccessKey,
                code => Error::Server {
                    code: code.unwrap_or_else(|| format!("HTTP {status}").into()),
                    message: "Admin Ops request failed".into(),
                },
            });
        }
        Ok(if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        })
    }

    /// The uid of the user a key belongs to.
    pub async fn uid_of(&self, access_key: &str) -> Result<String> {
        let user = self
            .call(
                reqwest::Method::GET,
                "/admin/user",
                &[("access-key", access_key)],
            )
            .await?;
        user.get("user_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::Server {
                code: "NoUser".into(),
                message: "no user for that key".into(),
            })
    }

    pub async fn user(&self, uid: &str) -> Result<Value> {
        self.call(reqwest::Method::GET, "/admin/user", &[("uid", uid)])
            .await
    }

    pub async fn users(&self) -> Result<Vec<String>> {
        let list = self
            .call(reqwest::Method::GET, "/admin/metadata/user", &[])
            .await?;
        Ok(list
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    pub(super) async fn new_key_of(&self, uid: &str) -> Result<(String, Secret)> {
        let before: Vec<String> = keys_of(&self.user(uid).await?)
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        let after = self
            .call(
                reqwest::Method::PUT,
                "/admin/user",
                &[
                    ("key", ""),
                    ("uid", uid),
                    ("key-type", "s3"),
                    ("generate-key", "True"),
                ],
            )
            .await?;
        let all = after.as_array().cloned().unwrap_or_default();
        all.iter()
            .filter_map(|k| {
                Some((
                    k.get("access_key")?.as_str()?.to_string(),
                    Secret::new(k.get("secret_key")?.as_str()?),
                ))
            })
            .find(|(a, _)| !before.contains(a))
            .ok_or_else(|| Error::Server {
                code: "NoNewKey".into(),
                message: "RGW made no new key".into(),
            })
    }

    pub(super) async fn create_user(&self, uid: &str, display: &str) -> Result<(String, Secret)> {
        let user = self
            .call(
                reqwest::Method::PUT,
                "/admin/user",
                &[
                    ("uid", uid),
                    ("display-name", display),
                    ("key-type", "s3"),
                    ("generate-key", "True"),
                    // A limited key reaches only the Spaces granted to it: it may make none of
                    // its own (which would also keep its user from being removed).
                    ("max-buckets", "-1"),
                ],
            )
            .await?;
        keys_of(&user)
            .into_iter()
            .next()
            .ok_or_else(|| Error::Server {
                code: "NoKey".into(),
                message: "the new user has no key".into(),
            })
    }

    pub(super) async fn delete_key(&self, uid: &str, access_key: &str) -> Result<()> {
        self.call(
            reqwest::Method::DELETE,
            "/admin/user",
            &[("key", ""), ("uid", uid), ("access-key", access_key)],
        )
        .await
        .map(|_| ())
    }

    pub(super) async fn delete_user(&self, uid: &str) -> Result<()> {
        self.call(
            reqwest::Method::DELETE,
            "/admin/user",
            &[("uid", uid), ("purge-data", "False")],
        )
        .await
        .map(|_| ())
    }
}

pub fn keys_of(user: &Value) -> Vec<(String, Secret)> {
    user.get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| {
                    Some((
                        k.get("access_key")?.as_str()?.to_string(),
                        Secret::new(k.get("secret_key")?.as_str()?),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// True when the user has any RGW admin caps.
pub fn has_caps(user: &Value) -> bool {
    user.get("caps")
        .and_then(Value::as_array)
        .is_some_and(|caps| !caps.is_empty())
}

pub(super) fn slug(name: &str) -> String {
    let s: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let s = s.trim_matches('-').to_string();
    s.chars().take(24).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_safe_uids() {
        assert_eq!(slug("Client A (Acme)"), "client-a--acme");
        assert_eq!(slug("ünï"), "n");
        assert_eq!(encode("a b+c"), "a%20b%2Bc");
    }
}
