//! The size of a Space or of a folder, and a search of the whole Space by name. S3 keeps no
//! such figure and no index of names: both are one listing of every key below a prefix (no
//! delimiter), told as it goes, so the page shows progress and can stop it.

use serde::Serialize;
use ts_rs::TS;

use crate::browse::{check_prefix, Entry, EntryKind};
use crate::error::{Error, Result};
use crate::s3::Context;

/// Keys asked for per page of the listing.
const PAGE: i32 = 1000;

/// Files and bytes below a prefix: so far, or (when `done`) all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FolderSize {
    pub files: u64,
    pub bytes: u64,
    pub done: bool,
}

/// Lists every key below `prefix`, calling `page` with each page's objects, until the end or
/// until `page` returns false. Returns whether it reached the end.
async fn each_page(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    prefix: &str,
    mut page: impl FnMut(&[aws_sdk_s3::types::Object]) -> bool,
) -> Result<bool> {
    check_prefix(prefix)?;
    let ctx = Context::space(endpoint, space);
    crate::listing::each_page(client, ctx, space, prefix, None, Some(PAGE), |p| {
        page(p.objects)
    })
    .await
}

/// A folder's marker object (a zero-byte key ending in `/`) is not a file.
fn is_file(o: &aws_sdk_s3::types::Object) -> bool {
    o.key()
        .is_some_and(|k| !(k.ends_with('/') && o.size().unwrap_or(0) == 0))
}

/// Counts the files and bytes below `prefix` (`""`: the whole Space), telling `progress` after
/// each page; `progress` returning false stops it.
pub async fn folder_size(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    prefix: &str,
    mut progress: impl FnMut(FolderSize) -> bool,
) -> Result<FolderSize> {
    let mut size = FolderSize::default();
    let done = each_page(client, endpoint, space, prefix, |objects| {
        for o in objects.iter().filter(|o| is_file(o)) {
            size.files += 1;
            size.bytes += o.size().unwrap_or(0).max(0) as u64;
        }
        progress(size)
    })
    .await?;
    size.done = done;
    if done {
        progress(size);
    }
    Ok(size)
}

/// Files found so far by a search, and how many were looked at.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SearchPage {
    /// What was searched for, so a page of an older search is told apart.
    pub needle: String,
    pub matches: Vec<Entry>,
    /// Files looked at so far.
    pub searched: u64,
    pub done: bool,
}

/// The most matches a search gathers: past it, a narrower search is the way.
pub const MOST_MATCHES: usize = 5000;

/// Searches the whole Space for files whose name (the last part of the key) holds `needle`,
/// ignoring case, telling `page` the matches of each page of the listing as they come.
/// `page` returning false stops it. Returns how many matched.
pub async fn search(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    needle: &str,
    mut page: impl FnMut(SearchPage) -> bool,
) -> Result<u64> {
    let wanted = needle.trim().to_lowercase();
    if wanted.is_empty() {
        return Err(Error::InvalidInput(
            "Type part of a file name to search for.".into(),
        ));
    }
    let (mut searched, mut found) = (0u64, 0usize);
    each_page(client, endpoint, space, "", |objects| {
        let mut matches = Vec::new();
        for o in objects.iter().filter(|o| is_file(o)) {
            searched += 1;
            let Some(key) = o.key() else { continue };
            let name = key.rsplit('/').next().unwrap_or(key);
            if found < MOST_MATCHES && name.to_lowercase().contains(&wanted) {
                found += 1;
                matches.push(Entry {
                    kind: EntryKind::File,
                    key: key.to_string(),
                    name: name.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    modified: o
                        .last_modified()
                        .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
                    etag: o.e_tag().map(|e| e.trim_matches('"').to_string()),
                });
            }
        }
        page(SearchPage {
            needle: needle.to_string(),
            matches,
            searched,
            done: false,
        }) && found < MOST_MATCHES
    })
    .await?;
    page(SearchPage {
        needle: needle.to_string(),
        matches: Vec::new(),
        searched,
        done: true,
    });
    Ok(found as u64)
}

/// The same on the active connection, with the key remembered for the Space. A newer search
/// or size count stops an older one.
pub mod service {

    use super::{FolderSize, SearchPage};
    use crate::error::Result;
    use crate::files::target;
    use crate::services::Services;

    pub async fn folder_size(
        services: &Services,
        space: &str,
        region: Option<String>,
        prefix: &str,
        progress: impl Fn(FolderSize) -> bool,
    ) -> Result<FolderSize> {
        let t = target(services, space, region).await?;
        super::folder_size(&t.client, &t.endpoint, space, prefix, progress).await
    }

    pub async fn search(
        services: &Services,
        space: &str,
        region: Option<String>,
        needle: &str,
        page: impl Fn(SearchPage) -> bool,
    ) -> Result<u64> {
        let t = target(services, space, region).await?;
        let newest = services.searches().begin();
        super::search(&t.client, &t.endpoint, space, needle, |p| {
            newest() && page(p)
        })
        .await
    }
}
