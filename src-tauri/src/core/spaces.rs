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
                region: b.bucket_region().unwrap_or(region).to_string(),
                created: b
                    .creation_date()
                    .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
                file_listing: None,
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
    /// The key can't list Spaces but can open the named one (a key limited to some Spaces).
    CanOpenSpace { space: String },
}

impl Reach {
    pub fn sentence(&self) -> String {
        match self {
            Reach::CanList { spaces: 0 } => "Connected. This key can list Spaces; there are none yet.".into(),
            Reach::CanList { spaces: 1 } => "Connected. This key can list Spaces; there is 1.".into(),
            Reach::CanList { spaces } => format!("Connected. This key can list Spaces; there are {spaces}."),
            Reach::CanOpenSpace { space } => format!(
                "Connected. This key can open the Space “{space}” (it may not list all Spaces, as keys limited to some Spaces can't)."
            ),
        }
    }
}

/// Tries the key for real: lists Spaces, or opens `space` when listing is refused.
pub async fn test(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: Option<&str>,
) -> Result<Reach> {
    match client.list_buckets().send().await {
        Ok(out) => Ok(Reach::CanList {
            spaces: u32::try_from(out.buckets().len()).unwrap_or(u32::MAX),
        }),
        Err(e) => match (map_error(e, Context { endpoint, space: None }), space) {
            (Error::AccessDenied(_), Some(space)) => {
                open(client, endpoint, space).await?;
                Ok(Reach::CanOpenSpace { space: space.to_string() })
            }
            (Error::AccessDenied(_), None) => Err(Error::AccessDenied(
                "This key may not list Spaces. If it is limited to some Spaces, enter the name of one to open.".into(),
            )),
            (other, _) => Err(other),
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
