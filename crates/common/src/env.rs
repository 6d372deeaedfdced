//! Addresses given in the environment, checked before anything is sent to them.

use crate::error::{Error, Result};

/// An address given in the environment variable `var`, checked: https, or http to this computer
/// only (what goes there is signed or carries a token).
pub fn address_from(var: &str) -> Result<Option<String>> {
    match std::env::var(var) {
        Ok(raw) if !raw.trim().is_empty() => check_address(var, &raw).map(Some),
        _ => Ok(None),
    }
}

fn check_address(var: &str, raw: &str) -> Result<String> {
    let bad = |why: &str| Error::InvalidInput(format!("{var} is “{raw}”: {why}"));
    let url = url::Url::parse(raw.trim()).map_err(|_| bad("not a URL."))?;
    let loopback = matches!(url.host(), Some(url::Host::Domain("localhost")))
        || match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(bad("plain http is accepted for this computer only, so nothing secret is sent in the clear.")),
        _ => return Err(bad("use an https address.")),
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(bad(
            "give the address only, without credentials or a query.",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_api_address_must_keep_the_token_safe() {
        assert_eq!(
            check_address("SPACEDOCK_DIGITALOCEAN_API", "http://127.0.0.1:8080/")
                .ok()
                .as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert!(check_address("SPACEDOCK_DIGITALOCEAN_API", "http://localhost:1").is_ok());
        assert!(check_address("SPACEDOCK_DIGITALOCEAN_API", "https://proxy.example.com").is_ok());
        for bad in [
            "http://proxy.example.com",
            "ftp://127.0.0.1",
            "not a url",
            "https://user:pw@proxy.example.com",
        ] {
            let err = check_address("SPACEDOCK_DIGITALOCEAN_API", bad).expect_err(bad);
            assert_eq!(err.kind(), crate::error::ErrorKind::InvalidInput);
        }
    }
}
