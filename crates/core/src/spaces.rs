//! Listing Spaces and checking what a key can reach.

use serde::Serialize;
use ts_rs::TS;

use super::error::{Error, Result};
use super::s3::{map_error, Context};
use super::space::{self, FileListing};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SpaceSummary {
    pub name: String,
    pub region: String,
    /// RFC 3339, when the server says.
    pub created: Option<String>,
    /// None when the key may not read the Space's ACL.
    pub file_listing: Option<FileListing>,
    /// The name of the key that opens this Space, when it is not the connection's own.
    pub opens_with: Option<String>,
}

/// The Spaces a connection shows: those the key listed, then those it knows by name (each with
/// the key remembered for it), without asking the server anything more.
pub fn with_named(
    mut listed: Vec<SpaceSummary>,
    named: &[(String, String)],
    opens_with: impl Fn(&str) -> Option<String>,
) -> Vec<SpaceSummary> {
    for s in &mut listed {
        s.opens_with = opens_with(&s.name);
    }
    for (name, region) in named {
        if !listed.iter().any(|s| &s.name == name) {
            listed.push(SpaceSummary {
                name: name.clone(),
                region: region.clone(),
                created: None,
                file_listing: None,
                opens_with: opens_with(name),
            });
        }
    }
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    listed
}

/// Fills in each Space's file-listing setting, asking for all of them at once.
pub async fn add_file_listing(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    spaces: &mut [SpaceSummary],
) {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, s) in spaces.iter().enumerate() {
        let client = client.clone();
        let endpoint = endpoint.to_string();
        let name = s.name.clone();
        tasks.spawn(async move { (i, space::file_listing(&client, &endpoint, &name).await.ok()) });
    }
    while let Some(Ok((i, listing))) = tasks.join_next().await {
        if let Some(s) = spaces.get_mut(i) {
            s.file_listing = listing;
        }
    }
}

/// Every Space the key can list, sorted by name.
pub async fn list(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    region: &str,
) -> Result<Vec<SpaceSummary>> {
    let out = client.list_buckets().send().await.map_err(|e| {
        map_error(
            e,
            Context {
                endpoint,
                space: None,
            },
        )
    })?;
    let mut spaces: Vec<SpaceSummary> = out
        .buckets()
        .iter()
        .filter_map(|b| {
            Some(SpaceSummary {
                name: b.name()?.to_string(),
                // A region the server names is used only if it is a region's name.
                region: (b.bucket_region())
                    .and_then(|r| crate::regions::check_name(r).ok())
                    .unwrap_or(region)
                    .to_string(),
                created: b
                    .creation_date()
                    .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
                file_listing: None,
                opens_with: None,
            })
        })
        .collect();
    spaces.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(spaces)
}

/// What "Test connection" found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(
    tag = "reach",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum Reach {
    /// The key can list Spaces.
    CanList { spaces: u32 },
    /// The key opens the named Space (a key limited to some Spaces; listing them all was not tried).
    CanOpenSpace { space: String },
}

impl Reach {
    pub fn sentence(&self) -> String {
        match self {
            Reach::CanList { spaces: 0 } => "Connected. This key can list Spaces; there are none yet.".into(),
            Reach::CanList { spaces: 1 } => "Connected. This key can list Spaces; there is 1.".into(),
            Reach::CanList { spaces } => format!("Connected. This key can list Spaces; there are {spaces}."),
            Reach::CanOpenSpace { space } => format!(
                "Connected. This key opens the Space “{space}”. It is treated as limited to some Spaces, so the app opens them by name and never asks to list them all."
            ),
        }
    }
}

/// Tries the key for real. With a Space named (a key limited to some Spaces) it opens that
/// Space and never asks to list all Spaces; otherwise it lists them.
pub async fn test(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: Option<&str>,
) -> Result<Reach> {
    if let Some(space) = space {
        open(client, endpoint, space).await?;
        return Ok(Reach::CanOpenSpace {
            space: space.to_string(),
        });
    }
    match client.list_buckets().send().await {
        Ok(out) => Ok(Reach::CanList {
            spaces: u32::try_from(out.buckets().len()).unwrap_or(u32::MAX),
        }),
        Err(e) => match map_error(e, Context { endpoint, space: None }) {
            Error::AccessDenied(_) => Err(Error::AccessDenied(
                "This key may not list Spaces. If it is limited to some Spaces, enter the name of one to open.".into(),
            )),
            other => Err(other),
        },
    }
}

/// Opens one Space by name without ListBuckets: a limited key can do this.
pub async fn open(client: &aws_sdk_s3::Client, endpoint: &str, space: &str) -> Result<()> {
    client
        .list_objects_v2()
        .bucket(space)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| map_error(e, Context::space(endpoint, space)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(name: &str) -> SpaceSummary {
        SpaceSummary {
            name: name.into(),
            region: "nyc3".into(),
            created: Some("2026-01-01T00:00:00Z".into()),
            file_listing: Some(FileListing::Restricted),
            opens_with: None,
        }
    }

    #[test]
    fn named_spaces_join_the_listed_ones_with_their_key() {
        let named = vec![
            ("b-client".to_string(), "fra1".to_string()),
            ("c-listed".to_string(), "nyc3".to_string()),
        ];
        let key = |s: &str| (s != "a-listed").then(|| format!("KEY-{s}"));
        let all = with_named(vec![listed("c-listed"), listed("a-listed")], &named, key);
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a-listed", "b-client", "c-listed"]);
        assert_eq!(all[0].opens_with, None);
        // Known by name only: its region is the remembered one, and nothing was read from it.
        assert_eq!(all[1].region, "fra1");
        assert_eq!(all[1].opens_with.as_deref(), Some("KEY-b-client"));
        assert_eq!(all[1].file_listing, None);
        // Listed and remembered: listed once, with its key.
        assert_eq!(all[2].opens_with.as_deref(), Some("KEY-c-listed"));
        assert_eq!(all[2].file_listing, Some(FileListing::Restricted));
    }
}
