//! The regions where DigitalOcean offers Spaces.

use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Region {
    pub slug: &'static str,
    pub city: &'static str,
    pub cold_storage: bool,
    pub cdn: bool,
}

const fn region(slug: &'static str, city: &'static str, cold_storage: bool) -> Region {
    // The CDN is offered in every Spaces region (for Standard Storage).
    Region {
        slug,
        city,
        cold_storage,
        cdn: true,
    }
}

/// Every current Standard Storage region. Cold Storage is offered in all but blr1.
pub const REGIONS: &[Region] = &[
    region("nyc3", "New York", true),
    region("ams3", "Amsterdam", true),
    region("sfo2", "San Francisco", true),
    region("sfo3", "San Francisco", true),
    region("sgp1", "Singapore", true),
    region("lon1", "London", true),
    region("fra1", "Frankfurt", true),
    region("tor1", "Toronto", true),
    region("blr1", "Bangalore", false),
    region("syd1", "Sydney", true),
    region("atl1", "Atlanta", true),
];

pub fn find(slug: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.slug == slug)
}

/// A region's name as a page or a server gives it: lower-case letters, digits and dashes, as
/// every S3 service names its regions. Anything else (a dot, a slash, a colon) could make an
/// endpoint's host of it, and is refused.
pub fn check_name(region: &str) -> crate::error::Result<&str> {
    let fine = !region.is_empty()
        && region.len() <= 32
        && !region.starts_with('-')
        && !region.ends_with('-')
        && (region.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    match fine {
        true => Ok(region),
        false => Err(crate::error::Error::InvalidInput(format!(
            "“{region}” is not a region's name (lower-case letters, digits and dashes)."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_every_region_once() {
        let mut slugs: Vec<_> = REGIONS.iter().map(|r| r.slug).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), 11);
        assert!(find("nyc3").is_some());
        assert!(find("nyc1").is_none(), "Spaces is not offered in nyc1");
        assert!(!find("blr1").map(|r| r.cold_storage).unwrap_or(true));
    }

    #[test]
    fn a_region_is_a_name_never_a_host() {
        for good in ["nyc3", "us-east-1", "local", "eu-central-003"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "evil.example/x",
            "evil.example",
            "nyc3:443",
            "",
            "-a",
            "NYC3",
            "a b",
            "a@b",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
