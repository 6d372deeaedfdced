//! A Space's folders and files, one page at a time. Folders are the common prefixes of a
//! delimiter listing, and zero-byte keys ending in `/` that someone created as folders.

use serde::Serialize;
use ts_rs::TS;

use super::error::{Error, Result};
use super::s3::{map_error, Context};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum EntryKind {
    Folder,
    File,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Entry {
    pub kind: EntryKind,
    /// The full key (for a folder, its prefix ending in `/`).
    pub key: String,
    /// The last segment, as shown.
    pub name: String,
    pub size: u64,
    /// RFC 3339.
    pub modified: Option<String>,
    /// The version listed (a file's ETag): what a delete from this row acts on.
    pub etag: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ListingPage {
    pub prefix: String,
    pub entries: Vec<Entry>,
    /// True when this is the last page of the folder.
    pub done: bool,
}

/// Checks a folder path given by the UI: empty (the Space's top) or ending in `/`.
pub fn check_prefix(prefix: &str) -> Result<()> {
    if !prefix.is_empty() && !prefix.ends_with('/') {
        return Err(Error::InvalidInput(format!(
            "“{prefix}” is not a folder path (it must end in /)."
        )));
    }
    Ok(())
}

fn last_segment(key: &str) -> String {
    key.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(key)
        .to_string()
}

/// Lists the folder `prefix` of `space`, calling `on_page` with each page as it arrives, until
/// the end or until `on_page` returns false (the user went elsewhere).
pub async fn list_folder(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    prefix: &str,
    page_size: i32,
    mut on_page: impl FnMut(ListingPage) -> bool,
) -> Result<u64> {
    check_prefix(prefix)?;
    let ctx = Context::space(endpoint, space);
    let mut total = 0u64;
    let listing = crate::listing::each_page;
    listing(
        client,
        ctx,
        space,
        prefix,
        Some("/"),
        Some(page_size),
        |page| {
            // The server's KeyCount is not trusted for sizing: the entries are counted as they come.
            let mut entries = Vec::new();
            for key in page.folders.iter().filter_map(|p| p.prefix()) {
                entries.push(Entry {
                    kind: EntryKind::Folder,
                    key: key.to_string(),
                    name: last_segment(key),
                    size: 0,
                    modified: None,
                    etag: None,
                });
            }
            for o in page.objects {
                let Some(key) = o.key() else { continue };
                // The folder's own marker object is the folder itself, not a file in it.
                if key == prefix {
                    continue;
                }
                entries.push(Entry {
                    kind: if key.ends_with('/') {
                        EntryKind::Folder
                    } else {
                        EntryKind::File
                    },
                    key: key.to_string(),
                    name: last_segment(key),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    modified: o
                        .last_modified()
                        .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
                    etag: o.e_tag().map(|e| e.trim_matches('"').to_string()),
                });
            }
            total += entries.len() as u64;
            on_page(ListingPage {
                prefix: prefix.to_string(),
                entries,
                done: page.last,
            })
        },
    )
    .await?;
    Ok(total)
}

/// Creates a folder: a zero-byte key ending in `/`.
pub async fn create_folder(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    parent: &str,
    name: &str,
) -> Result<String> {
    check_prefix(parent)?;
    let name = name.trim();
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::InvalidInput(
            "A folder name can't be empty, “.” or “..”, or contain “/”.".into(),
        ));
    }
    let key = format!("{parent}{name}/");
    if key.len() > 1024 {
        return Err(Error::InvalidInput(
            "That path is longer than the 1,024 bytes S3 allows.".into(),
        ));
    }
    client
        .put_object()
        .bucket(space)
        .key(&key)
        .content_length(0)
        .send()
        .await
        .map_err(|e| map_error(e, Context::space(endpoint, space)))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_last_segment() {
        assert_eq!(last_segment("a/b/c.txt"), "c.txt");
        assert_eq!(last_segment("a/b/"), "b");
        assert_eq!(last_segment("top.txt"), "top.txt");
    }

    #[test]
    fn prefixes_are_folders() {
        assert!(check_prefix("").is_ok());
        assert!(check_prefix("a/b/").is_ok());
        assert!(check_prefix("a/b").is_err());
    }
}
