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
}
