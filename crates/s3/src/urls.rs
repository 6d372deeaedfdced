//! Every URL of a Space, derived from its connection in one place.

use serde::Serialize;
use ts_rs::TS;

use super::connection::{Endpoint, Provider};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SpaceUrls {
    /// The Space's own address (virtual-hosted where that reaches it): where its files are served.
    pub origin: String,
    /// The endpoint S3 tools are configured with.
    pub server: String,
    /// The Space under the server's address, for tools that can't use virtual-hosted names.
    pub path_style: String,
    /// DigitalOcean's CDN endpoint of the Space.
    pub cdn: Option<String>,
}

/// The URLs of the Space `name` in `region` (for DigitalOcean, the Space's own region).
pub fn space_urls(provider: &Provider, endpoint: &Endpoint, name: &str, region: &str) -> SpaceUrls {
    match provider {
        Provider::DigitalOcean { .. } => {
            let server = format!("https://{region}.digitaloceanspaces.com");
            SpaceUrls {
                origin: format!("https://{name}.{region}.digitaloceanspaces.com"),
                path_style: format!("{server}/{name}"),
                server,
                cdn: Some(format!(
                    "https://{name}.{region}.cdn.digitaloceanspaces.com"
                )),
            }
        }
        // The sandbox answers virtual-hosted names only under s3.localhost, which the system
        // resolver doesn't know: the path-style URL is the one that really reaches it.
        Provider::Sandbox => path_only(endpoint, name),
        Provider::Custom {
            path_style: true, ..
        } => path_only(endpoint, name),
        Provider::Custom { .. } => {
            let path = path_only(endpoint, name);
            let origin = match endpoint.url.split_once("://") {
                Some((scheme, host)) => format!("{scheme}://{name}.{host}"),
                None => path.path_style.clone(),
            };
            SpaceUrls { origin, ..path }
        }
    }
}

fn path_only(endpoint: &Endpoint, name: &str) -> SpaceUrls {
    let server = endpoint.url.trim_end_matches('/').to_string();
    let path_style = format!("{server}/{name}");
    SpaceUrls {
        origin: path_style.clone(),
        server,
        path_style,
        cdn: None,
    }
}

/// A file's URL under `base` (an origin or CDN URL), its key percent-encoded per path segment.
pub fn file_url(base: &str, key: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), encode_key(key))
}

pub use spacedock_common::http::encode_key;

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str, path_style: bool) -> Endpoint {
        Endpoint {
            url: url.into(),
            signing_region: "us-east-1".into(),
            path_style,
        }
    }

    #[test]
    fn digitalocean_urls() {
        let do_ = Provider::DigitalOcean {
            region: "nyc3".into(),
        };
        let urls = space_urls(
            &do_,
            &endpoint("https://nyc3.digitaloceanspaces.com", false),
            "assets",
            "ams3",
        );
        assert_eq!(urls.origin, "https://assets.ams3.digitaloceanspaces.com");
        assert_eq!(urls.server, "https://ams3.digitaloceanspaces.com");
        assert_eq!(
            urls.path_style,
            "https://ams3.digitaloceanspaces.com/assets"
        );
        assert_eq!(
            urls.cdn.as_deref(),
            Some("https://assets.ams3.cdn.digitaloceanspaces.com")
        );
    }

    #[test]
    fn sandbox_urls_reach_it() {
        let urls = space_urls(
            &Provider::Sandbox,
            &endpoint("http://127.0.0.1:7480", true),
            "assets",
            "local",
        );
        assert_eq!(urls.server, "http://127.0.0.1:7480");
        assert_eq!(urls.origin, "http://127.0.0.1:7480/assets");
        assert_eq!(urls.path_style, urls.origin);
        assert_eq!(urls.cdn, None);
    }

    #[test]
    fn custom_virtual_hosted_urls() {
        let custom = Provider::Custom {
            endpoint: "https://s3.example.com:9000".into(),
            signing_region: "x".into(),
            path_style: false,
        };
        let urls = space_urls(
            &custom,
            &endpoint("https://s3.example.com:9000", false),
            "assets",
            "x",
        );
        assert_eq!(urls.origin, "https://assets.s3.example.com:9000");
        assert_eq!(urls.path_style, "https://s3.example.com:9000/assets");
    }

    #[test]
    fn keys_are_encoded_per_segment() {
        assert_eq!(
            encode_key("photos/2026/a b+c.jpg"),
            "photos/2026/a%20b%2Bc.jpg"
        );
        assert_eq!(
            encode_key("ünïcödé/名前.txt"),
            "%C3%BCn%C3%AFc%C3%B6d%C3%A9/%E5%90%8D%E5%89%8D.txt"
        );
        assert_eq!(encode_key("a/b/"), "a/b/");
        assert_eq!(encode_key("100%?#&=.txt"), "100%25%3F%23%26%3D.txt");
        assert_eq!(
            file_url(
                "https://assets.nyc3.digitaloceanspaces.com/",
                "docs/read me+.pdf"
            ),
            "https://assets.nyc3.digitaloceanspaces.com/docs/read%20me%2B.pdf"
        );
    }

    #[test]
    fn names_with_unicode_are_kept_as_given_in_hosts() {
        // Space names are checked before they get here; the URL builder doesn't guess.
        let urls = space_urls(
            &Provider::Sandbox,
            &endpoint("http://127.0.0.1:1", true),
            "a-b",
            "local",
        );
        assert_eq!(urls.path_style, "http://127.0.0.1:1/a-b");
    }
}
