//! Where a connection's requests go and how they are signed: the kind of service, its endpoint
//! and the checks of what was typed for it, before any request.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::regions;
use spacedock_common::error::{Error, Result};

/// The kind of service a connection talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum Provider {
    /// The Ceph RADOS Gateway the app runs on 127.0.0.1.
    Sandbox,
    /// DigitalOcean Spaces in one region.
    DigitalOcean { region: String },
    /// Any other S3-compatible service.
    Custom {
        endpoint: String,
        signing_region: String,
        path_style: bool,
    },
}

/// Where requests go and how they are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub signing_region: String,
    pub path_style: bool,
}

/// The signing region RGW accepts; it checks the signature, not the region name.
pub const SANDBOX_SIGNING_REGION: &str = "us-east-1";

impl Provider {
    /// The endpoint for this provider; the sandbox's port is only known once it runs.
    pub fn endpoint(&self, sandbox_port: Option<u16>) -> Result<Endpoint> {
        match self {
            Provider::Sandbox => {
                let port = sandbox_port
                    .ok_or_else(|| Error::Sandbox("The local sandbox is not running.".into()))?;
                Ok(Endpoint {
                    url: format!("http://127.0.0.1:{port}"),
                    signing_region: SANDBOX_SIGNING_REGION.into(),
                    path_style: true,
                })
            }
            Provider::DigitalOcean { region } => {
                if regions::find(region).is_none() {
                    return Err(Error::InvalidInput(format!(
                        "“{region}” is not a Spaces region. Pick one of: {}.",
                        regions::REGIONS
                            .iter()
                            .map(|r| r.slug)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                // SPACEDOCK_DIGITALOCEAN_SPACES reaches every region through one address (a
                // proxy, or a stand-in on this computer), with the Space in the path.
                let through = spacedock_common::env::address_from("SPACEDOCK_DIGITALOCEAN_SPACES")?;
                Ok(match through {
                    Some(url) => Endpoint {
                        url,
                        signing_region: region.clone(),
                        path_style: true,
                    },
                    None => Endpoint {
                        url: format!("https://{region}.digitaloceanspaces.com"),
                        signing_region: region.clone(),
                        path_style: false,
                    },
                })
            }
            Provider::Custom {
                endpoint,
                signing_region,
                path_style,
            } => Ok(Endpoint {
                url: parse_endpoint(endpoint)?,
                signing_region: if signing_region.trim().is_empty() {
                    SANDBOX_SIGNING_REGION.into()
                } else {
                    signing_region.trim().to_string()
                },
                path_style: *path_style,
            }),
        }
    }

    /// The region a Space of this connection is in, as shown in the Spaces list.
    pub fn region_label(&self) -> String {
        match self {
            Provider::Sandbox => "local".into(),
            Provider::DigitalOcean { region } => region.clone(),
            Provider::Custom { signing_region, .. } => signing_region.clone(),
        }
    }
}

/// Checks an endpoint URL before any request: http(s), a host, no path, query or credentials.
pub fn parse_endpoint(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::InvalidInput(
            "Enter the endpoint URL, e.g. https://s3.example.com".into(),
        ));
    }
    let url = url::Url::parse(raw).map_err(|e| {
        Error::InvalidInput(format!(
            "“{raw}” is not a valid URL ({e}). It should look like https://s3.example.com"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidInput(format!(
            "The endpoint must start with https:// or http://, not {}://",
            url.scheme()
        )));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Error::InvalidInput(format!("“{raw}” has no host name.")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::InvalidInput(
            "Put the access key and secret in their own fields, not in the URL.".into(),
        ));
    }
    if url.path() != "/" || url.query().is_some() {
        return Err(Error::InvalidInput(
            "The endpoint is the server's address only, without a path or a Space name (e.g. https://nyc3.digitaloceanspaces.com).".into(),
        ));
    }
    Ok(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// One endpoint however it is spelled (case, a trailing slash).
pub fn same_endpoint(a: &str, b: &str) -> bool {
    let norm = |e: &str| e.trim().trim_end_matches('/').to_ascii_lowercase();
    norm(a) == norm(b)
}

pub fn check_access_key(access_key: &str) -> Result<()> {
    if access_key.trim().is_empty() {
        return Err(Error::InvalidInput("Enter the access key.".into()));
    }
    if access_key
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::InvalidInput(
            "The access key contains a space or line break; paste it again without them.".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_normalised() {
        assert_eq!(
            parse_endpoint(" https://s3.example.com/ ").ok(),
            Some("https://s3.example.com".into())
        );
        assert_eq!(
            parse_endpoint("http://127.0.0.1:7480").ok(),
            Some("http://127.0.0.1:7480".into())
        );
    }

    #[test]
    fn malformed_endpoints_are_explained() {
        for bad in [
            "",
            "s3.example.com",
            "ftp://x.example",
            "https://",
            "https://k:s@x.example",
            "https://x.example/space",
        ] {
            let err = parse_endpoint(bad).expect_err(bad);
            assert_eq!(
                err.kind(),
                spacedock_common::error::ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn digitalocean_endpoint_per_region() {
        let e = Provider::DigitalOcean {
            region: "fra1".into(),
        }
        .endpoint(None)
        .ok();
        assert_eq!(
            e,
            Some(Endpoint {
                url: "https://fra1.digitaloceanspaces.com".into(),
                signing_region: "fra1".into(),
                path_style: false
            })
        );
        assert!(Provider::DigitalOcean {
            region: "nyc1".into()
        }
        .endpoint(None)
        .is_err());
    }
}
