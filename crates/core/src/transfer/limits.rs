//! The transfer limits people on a shared link set: a bandwidth limit each way and the most
//! files at once. Checked before they are kept; they apply to transfers that start (and, for
//! bandwidth, to those running) from then on.

use super::download::FILES_IN_FLIGHT;
use crate::error::{Error, Result};
use crate::services::Services;
use crate::settings::TransferLimits;

/// Below this a transfer would crawl: 64 KB/s.
pub const LOWEST_LIMIT: u64 = 64_000;
/// The most files at once anyone may ask for (the default moves as many as helps).
pub const MOST_FILES: u32 = FILES_IN_FLIGHT as u32;

pub fn get(services: &Services) -> TransferLimits {
    services.settings().transfer_limits()
}

/// Checks and keeps new limits, and applies the bandwidth ones at once.
pub fn set(services: &Services, limits: TransferLimits) -> Result<TransferLimits> {
    for (which, limit) in [
        ("upload", limits.upload_limit),
        ("download", limits.download_limit),
    ] {
        if limit.is_some_and(|l| l < LOWEST_LIMIT) {
            return Err(Error::InvalidInput(format!(
                "The {which} limit must be at least 64 KB/s, or none."
            )));
        }
    }
    if limits
        .files_at_once
        .is_some_and(|n| n == 0 || n > MOST_FILES)
    {
        return Err(Error::InvalidInput(format!(
            "Files at once must be from 1 to {MOST_FILES}, or as many as helps."
        )));
    }
    services.settings().set_transfer_limits(&limits)?;
    services.queue().set_limits(
        limits.upload_limit,
        limits.download_limit,
        limits.files_at_once.map(|n| n as usize),
    );
    services.log().write(format!(
        "transfer limits: up {:?} B/s, down {:?} B/s, files at once {:?}",
        limits.upload_limit, limits.download_limit, limits.files_at_once
    ));
    Ok(limits)
}
