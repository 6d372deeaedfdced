//! The download queue: files and folders are expanded and mapped to paths inside the chosen
//! folder (or refused, with why), the page is told which names are taken, and the batch runs
//! with the user's choice about them.

use std::path::PathBuf;

use serde::Serialize;
use ts_rs::TS;

use super::download::{self, DownloadPlan, DownloadProgress, DownloadSummary};
use super::{Conflict, Problem, Target};
use crate::error::{Error, Result};
use crate::files;
use crate::services::{lock, Services};

/// A download waiting for the user's choice about files already in the folder.
pub struct DownloadBatch {
    from: Target,
    dest: PathBuf,
    plan: DownloadPlan,
}

/// What the page is told about a planned download.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlannedDownload {
    pub batch: u32,
    pub dest: String,
    pub files: u32,
    /// Files of the batch whose name is already taken in the folder (the first 20).
    pub existing: Vec<String>,
    pub existing_count: u32,
    /// Keys that can't be saved there, with why.
    pub problems: Vec<Problem>,
}

/// Plans the download of files and folders (with their structure) into `dest`.
pub async fn plan(
    services: &Services,
    space: &str,
    region: Option<String>,
    keys: &[String],
    dest: PathBuf,
) -> Result<PlannedDownload> {
    let t = files::target(services, space, region).await?;
    let plan = download::plan(&t.client, &t.endpoint, space, keys, &dest).await?;
    let existing: Vec<String> = plan
        .existing()
        .iter()
        .map(|f| f.path.to_string_lossy().to_string())
        .collect();
    let batch = services.next_batch();
    let answer = PlannedDownload {
        batch,
        dest: dest.to_string_lossy().to_string(),
        files: plan.files.len() as u32,
        existing_count: existing.len() as u32,
        existing: existing.into_iter().take(20).collect(),
        problems: plan.problems.clone(),
    };
    let waiting = DownloadBatch {
        from: Target {
            client: t.client,
            endpoint: t.endpoint,
            space: space.to_string(),
            unfinished: None,
            pace: services.pace_down.clone(),
        },
        dest,
        plan,
    };
    lock(&services.downloads).insert(batch, waiting);
    Ok(answer)
}

/// Runs a planned download; files already in the folder are handled as `conflict` says.
pub async fn start(
    services: &Services,
    batch: u32,
    conflict: Conflict,
    progress: &(dyn Fn(DownloadProgress) + Send + Sync),
) -> Result<DownloadSummary> {
    let b = lock(&services.downloads)
        .remove(&batch)
        .ok_or_else(|| Error::Gone("That download is no longer in the queue.".into()))?;
    let summary = download::run(
        &b.from,
        &b.dest,
        b.plan,
        conflict,
        progress,
        download::Options {
            record: Some(&services.partials),
            files_at_once: super::limits::files_at_once(services),
        },
    )
    .await;
    services.journal.write(format!(
        "downloaded from “{}” to {}: {} done, {} skipped, {} not downloaded",
        b.from.space,
        b.dest.display(),
        summary.done,
        summary.skipped,
        summary.problems.len()
    ));
    Ok(summary)
}
