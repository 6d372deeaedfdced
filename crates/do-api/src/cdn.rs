//! DigitalOcean's CDN in front of a Space, through its API (`/v2/cdn/endpoints` and
//! `/v2/certificates`) with the personal access token kept in the keychain: on and off, how long
//! the edge keeps a file (TTL), a custom subdomain with one of the account's certificates, and
//! purging the cache. Settings are checked here before anything is sent.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ts_rs::TS;

use crate::{About, DoApi};
use spacedock_common::error::{Error, Result};
use spacedock_common::http::{encode, encode_key};

/// The cache lifetimes the API takes, in seconds: 1 minute, 10 minutes, 1 hour, 1 day, 1 week.
pub const TTLS: [u32; 5] = [60, 600, 3600, 86_400, 604_800];
/// The most paths one purge may name (the CDN takes 50 every 20 seconds).
pub const MOST_PURGED: usize = 50;

const ABOUT: About = About {
    denied: "This API token may not manage the CDN: give it the cdn scopes (read, create, update, delete) and certificate:read.",
    missing: "DigitalOcean has no such CDN endpoint (it may have been turned off meanwhile). Reload the page.",
};

/// A Space's CDN endpoint, as the API describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CdnEndpoint {
    pub id: String,
    /// The Space's own host: NAME.REGION.digitaloceanspaces.com.
    pub origin: String,
    /// The CDN's host: NAME.REGION.cdn.digitaloceanspaces.com.
    pub endpoint: String,
    pub ttl: u32,
    pub custom_domain: Option<String>,
    pub certificate_id: Option<String>,
}

/// A certificate of the account, for a custom subdomain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Certificate {
    pub id: String,
    pub name: String,
    pub dns_names: Vec<String>,
    /// RFC 3339.
    pub not_after: Option<String>,
}

/// A Space's CDN: off (no endpoint) or on, and the certificates a custom subdomain may use.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CdnState {
    pub origin: String,
    pub endpoint: Option<CdnEndpoint>,
    pub certificates: Vec<Certificate>,
}

/// What the user set: the TTL, and optionally a custom subdomain with its certificate.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CdnSettings {
    pub ttl: u32,
    pub custom_domain: Option<String>,
    pub certificate_id: Option<String>,
}

/// A Space's origin host, as the CDN knows it.
pub fn origin(space: &str, region: &str) -> String {
    format!("{space}.{region}.digitaloceanspaces.com")
}

/// The body the API takes, once the settings are checked.
fn checked(s: &CdnSettings) -> Result<Value> {
    if !TTLS.contains(&s.ttl) {
        return Err(Error::InvalidInput(
            "The CDN keeps a file 1 minute, 10 minutes, 1 hour, 1 day or 1 week: pick one.".into(),
        ));
    }
    let domain = s
        .custom_domain
        .as_deref()
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty());
    let Some(domain) = domain else {
        return Ok(json!({ "ttl": s.ttl, "custom_domain": "", "certificate_id": "" }));
    };
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if domain.len() > 253 || domain.split('.').count() < 2 || !domain.split('.').all(label_ok) {
        return Err(Error::InvalidInput(format!(
            "“{domain}” is not a subdomain: use a name like static.example.com."
        )));
    }
    let certificate = s
        .certificate_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            Error::InvalidInput(
                "A custom subdomain needs a certificate for it: pick one of the account's certificates.".into(),
            )
        })?;
    Ok(json!({ "ttl": s.ttl, "custom_domain": domain, "certificate_id": certificate }))
}

/// The paths a purge names: a file's key, a folder as everything below it, "" as everything.
/// A name with spaces or other characters a URL writes encoded is purged in both forms, as
/// written and as a URL has it: the edge keys its cache by the request's path, and a file left
/// cached after a delete stays public until its lifetime ends.
pub fn purge_paths(keys: &[String]) -> Result<Vec<String>> {
    let mut paths: Vec<String> = keys
        .iter()
        .flat_map(|k| {
            let path = match k.as_str() {
                "" => "*".to_string(),
                folder if folder.ends_with('/') => format!("{folder}*"),
                file => file.to_string(),
            };
            let encoded = match path.strip_suffix('*') {
                Some(folder) => format!("{}*", encode_key(folder)),
                None => encode_key(&path),
            };
            std::iter::once(path).chain(Some(encoded))
        })
        .collect();
    paths.sort();
    paths.dedup();
    if paths.iter().any(|p| p == "*") {
        return Ok(vec!["*".into()]);
    }
    match paths.len() {
        0 => Err(Error::InvalidInput(
            "Select the files to purge, or purge everything.".into(),
        )),
        n if n > MOST_PURGED => Err(Error::InvalidInput(format!(
            "The CDN purges at most {MOST_PURGED} paths at a time ({n} with names in both their written and URL forms): select fewer, a folder, or purge everything."
        ))),
        _ => Ok(paths),
    }
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn endpoint_of(v: &Value) -> Result<CdnEndpoint> {
    let need = |field: &str| {
        text(v, field)
            .ok_or_else(|| Error::BadAnswer(format!("a CDN endpoint came without its {field}")))
    };
    Ok(CdnEndpoint {
        id: need("id")?,
        origin: need("origin")?,
        endpoint: need("endpoint")?,
        ttl: v.get("ttl").and_then(Value::as_u64).unwrap_or(3600) as u32,
        custom_domain: text(v, "custom_domain"),
        certificate_id: text(v, "certificate_id"),
    })
}

fn certificate_of(v: &Value) -> Option<Certificate> {
    Some(Certificate {
        id: text(v, "id")?,
        name: text(v, "name").unwrap_or_default(),
        dns_names: (v.get("dns_names").and_then(Value::as_array))
            .map(|d| {
                d.iter()
                    .filter_map(|n| n.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        not_after: text(v, "not_after"),
    })
}

/// The CDN API of one account.
pub struct Cdn(DoApi);

impl Cdn {
    pub fn new(api: DoApi) -> Cdn {
        Cdn(api)
    }

    fn url_of(&self, id: &str, rest: &str) -> Result<String> {
        if matches!(id, "" | "." | "..") {
            return Err(Error::InvalidInput(format!(
                "“{id}” is not a CDN endpoint."
            )));
        }
        Ok(format!(
            "{}/v2/cdn/endpoints/{}{rest}",
            self.0.base(),
            encode(id)
        ))
    }

    /// The Space's endpoint (if the CDN is on) and the account's certificates.
    pub async fn state(&self, origin: &str) -> Result<CdnState> {
        let endpoints = self
            .0
            .list_all("/v2/cdn/endpoints", "endpoints", Some(&ABOUT));
        let endpoint = endpoints
            .await?
            .iter()
            .find(|e| e.get("origin").and_then(Value::as_str) == Some(origin))
            .map(endpoint_of)
            .transpose()?;
        let certificates = self
            .0
            .list_all("/v2/certificates", "certificates", Some(&ABOUT));
        let certificates = certificates
            .await?
            .iter()
            .filter_map(certificate_of)
            .collect();
        Ok(CdnState {
            origin: origin.to_string(),
            endpoint,
            certificates,
        })
    }

    /// Turns the CDN on for a Space.
    pub async fn enable(&self, origin: &str, settings: &CdnSettings) -> Result<CdnEndpoint> {
        let mut body = checked(settings)?;
        body["origin"] = json!(origin);
        let url = format!("{}/v2/cdn/endpoints", self.0.base());
        let answer = self
            .0
            .call_about(reqwest::Method::POST, &url, Some(body), &ABOUT);
        endpoint_of(answer.await?.get("endpoint").unwrap_or(&Value::Null))
    }

    /// Changes the TTL or the custom subdomain.
    pub async fn update(&self, id: &str, settings: &CdnSettings) -> Result<CdnEndpoint> {
        let body = checked(settings)?;
        let url = self.url_of(id, "")?;
        let answer = self
            .0
            .call_about(reqwest::Method::PUT, &url, Some(body), &ABOUT);
        endpoint_of(answer.await?.get("endpoint").unwrap_or(&Value::Null))
    }

    /// Turns the CDN off: the endpoint goes; the Space and its files stay.
    pub async fn disable(&self, id: &str) -> Result<()> {
        let url = self.url_of(id, "")?;
        let answer = self
            .0
            .call_about(reqwest::Method::DELETE, &url, None, &ABOUT);
        answer.await.map(|_| ())
    }

    /// Purges the selected files and folders (all for `""`) from the edge cache.
    pub async fn purge(&self, id: &str, keys: &[String]) -> Result<Vec<String>> {
        let paths = purge_paths(keys)?;
        let url = self.url_of(id, "/cache")?;
        let body = json!({ "files": paths });
        let answer = self
            .0
            .call_about(reqwest::Method::DELETE, &url, Some(body), &ABOUT);
        match answer.await {
            Ok(_) => Ok(paths),
            Err(Error::SlowDown) => Err(Error::InvalidInput(
                "The CDN purges at most 50 paths every 20 seconds: wait a little, then purge again.".into(),
            )),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(ttl: u32, domain: Option<&str>, cert: Option<&str>) -> CdnSettings {
        CdnSettings {
            ttl,
            custom_domain: domain.map(String::from),
            certificate_id: cert.map(String::from),
        }
    }

    #[test]
    fn settings_are_checked_before_sending() {
        let plain = checked(&settings(600, None, None)).expect("plain");
        assert_eq!(plain["ttl"], json!(600));
        assert_eq!(plain["custom_domain"], json!(""));
        let custom = checked(&settings(3600, Some(" Static.Example.com. "), Some("c1")));
        assert_eq!(
            custom.expect("custom")["custom_domain"],
            json!("static.example.com")
        );
        for (bad, why) in [
            (settings(30, None, None), "1 minute"),
            (settings(60, Some("example"), Some("c1")), "not a subdomain"),
            (
                settings(60, Some("-a.example.com"), Some("c1")),
                "not a subdomain",
            ),
            (
                settings(60, Some("a_b.example.com"), Some("c1")),
                "not a subdomain",
            ),
            (
                settings(60, Some("static.example.com"), None),
                "needs a certificate",
            ),
        ] {
            let e = checked(&bad).expect_err(why);
            assert!(e.to_string().contains(why), "{e}");
        }
    }

    #[test]
    fn a_purge_names_files_folders_or_everything() {
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            purge_paths(&keys(&["b.png", "css/", "b.png"])).expect("paths"),
            ["b.png", "css/*"]
        );
        assert_eq!(purge_paths(&keys(&["a", ""])).expect("all"), ["*"]);
        assert!(purge_paths(&[]).is_err());
        let many: Vec<String> = (0..51).map(|i| format!("f{i}")).collect();
        assert!(purge_paths(&many)
            .expect_err("too many")
            .to_string()
            .contains("at most 50"));
    }

    #[test]
    fn names_a_url_writes_encoded_are_purged_in_both_forms() {
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            purge_paths(&keys(&["docs/my file.pdf", "é/", "plain.css"])).expect("paths"),
            [
                "%C3%A9/*",
                "docs/my file.pdf",
                "docs/my%20file.pdf",
                "plain.css",
                "é/*"
            ]
        );
    }
}
