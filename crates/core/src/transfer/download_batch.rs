//! The download queue: files and folders are expanded and mapped to paths inside the chosen
//! folder (or refused, with why), the page is told which names are taken, and the batch runs
//! with the user's choice about them, each file with its progress and its cancel switch. A
//! batch with failed or cancelled files stays, so they can be tried again.

use std::path::PathBuf;

use serde::Serialize;
use ts_rs::TS;

use super::cancel::{chosen, Switches};
use super::download::{self, DownloadPlan, DownloadSummary};
use super::unfinished::WritingInto;
use super::{Conflict, Problem, Target, TransferEvent};
use crate::error::{Error, Result};
use crate::files;
use crate::services::{lock, Services};

/// A download planned, running, or kept to try its failed files again.
pub struct DownloadBatch {
    from: Target,
    dest: PathBuf,
    plan: DownloadPlan,
    switches: Switches,
    /// The choice made when the batch first ran: a retry keeps it.
    conflict: Option<Conflict>,
    running: bool,
    /// Big files are noted as they go, to be resumed after a quit (not a drag's staged copies,
    /// which no drop uses after a quit).
    noted: bool,
    /// Keys the plan refused: the batch can't bring the selection whole.
    refused: usize,
}

/// One file of a planned download, as the queue shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct QueuedDownload {
    pub id: u32,
    pub key: String,
    pub size: u64,
}

/// What the page is told about a planned download.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlannedDownload {
    pub batch: u32,
    pub dest: String,
    pub files: Vec<QueuedDownload>,
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
    Ok(queue(services, t, space, dest, plan, true))
}

/// Plans the download of what is dragged out of the window into its staging folder: nothing
/// of it is noted for a resume (no drop would use it after a quit).
pub async fn plan_staged(
    services: &Services,
    space: &str,
    region: Option<String>,
    keys: &[String],
    staging: PathBuf,
) -> Result<PlannedDownload> {
    let t = files::target(services, space, region).await?;
    let plan = download::plan(&t.client, &t.endpoint, space, keys, &staging).await?;
    Ok(queue(services, t, space, staging, plan, false))
}

/// Plans saving one version of a file into `dest`, under the file's name (run it with Keep
/// both: nothing on disk is replaced).
pub async fn plan_version(
    services: &Services,
    space: &str,
    region: Option<String>,
    key: &str,
    version_id: &str,
    dest: PathBuf,
) -> Result<PlannedDownload> {
    let t = files::target(services, space, region).await?;
    let plan =
        download::plan_version(&t.client, &t.endpoint, space, key, version_id, &dest).await?;
    Ok(queue(services, t, space, dest, plan, true))
}

/// Puts a planned download in the queue, waiting for the user's choice about files there.
fn queue(
    services: &Services,
    t: files::SpaceTarget,
    space: &str,
    dest: PathBuf,
    mut plan: DownloadPlan,
    noted: bool,
) -> PlannedDownload {
    let existing: Vec<String> = plan
        .existing()
        .iter()
        .map(|f| f.path.to_string_lossy().to_string())
        .collect();
    let batch = services.next_batch();
    let answer = PlannedDownload {
        batch,
        dest: dest.to_string_lossy().to_string(),
        files: plan
            .files
            .iter()
            .map(|f| QueuedDownload {
                id: f.id,
                key: f.key.clone(),
                size: f.size,
            })
            .collect(),
        existing_count: existing.len() as u32,
        existing: existing.into_iter().take(20).collect(),
        // Told once, here: the runs report only their own files.
        problems: std::mem::take(&mut plan.problems),
    };
    let waiting = DownloadBatch {
        from: Target {
            client: t.client,
            endpoint: t.endpoint,
            space: space.to_string(),
            unfinished: None,
            pace: services.pace_down.clone(),
            link: services.link_down.clone(),
        },
        dest,
        plan,
        switches: Switches::default(),
        conflict: None,
        running: false,
        noted,
        refused: answer.problems.len(),
    };
    lock(&services.downloads).insert(batch, waiting);
    answer
}

/// Runs a planned download (or, with `ids`, only those files again); files already in the
/// folder are handled as `conflict` says (a retry keeps the first run's choice).
pub async fn start(
    services: &Services,
    batch: u32,
    conflict: Conflict,
    ids: Option<Vec<u32>>,
    events: &(dyn Fn(TransferEvent) + Send + Sync),
) -> Result<DownloadSummary> {
    let (from, dest, plan, cancels, conflict, noted) = {
        let mut downloads = lock(&services.downloads);
        let b = downloads
            .get_mut(&batch)
            .ok_or_else(|| Error::Gone("That download is no longer in the queue.".into()))?;
        b.running = true;
        let conflict = *b.conflict.get_or_insert(conflict);
        let files = chosen(&b.plan.files, ids, |f| f.id);
        let cancels = b
            .switches
            .arm(files.iter().map(|f| f.id), &services.quitting);
        let plan = DownloadPlan {
            files,
            problems: Vec::new(),
        };
        (
            b.from.clone(),
            b.dest.clone(),
            plan,
            cancels,
            conflict,
            b.noted,
        )
    };
    let options = download::Options {
        record: noted.then_some(&*services.partials),
        files_at_once: super::limits::files_at_once(services),
        cancels: Some(&cancels),
        claims: Some(&services.claims),
    };
    let count = plan.files.len();
    let _running = services.running();
    // Where this run writes partial files, noted once for it: a crash's are removed at the
    // next start.
    let writing = WritingInto {
        batch: uuid::Uuid::new_v4().to_string(),
        folders: plan
            .files
            .iter()
            .filter_map(|f| f.path.parent().map(std::path::Path::to_path_buf))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let noting_folders = writing.batch.clone();
    services.writing.add(writing);
    let summary = download::run(&from, &dest, plan, conflict, events, options).await;
    services.writing.remove(&noting_folders);
    services.journal.write(format!(
        "downloaded from “{}” to {}: {} of {count} done, {} skipped, {} cancelled, {} not downloaded",
        from.space,
        dest.display(),
        summary.done,
        summary.skipped,
        summary.cancelled,
        summary.problems.len()
    ));
    let mut downloads = lock(&services.downloads);
    let whole = summary.problems.is_empty() && summary.cancelled == 0 && summary.skipped == 0;
    match downloads.get_mut(&batch) {
        Some(b) if whole && b.refused == 0 => {
            // A drag's batch says so to its drop, which asks once.
            if !b.noted {
                lock(&services.downloads_whole).insert(batch);
            }
            downloads.remove(&batch);
        }
        Some(b) => b.running = false,
        None => {}
    }
    Ok(summary)
}

/// Cancels one file of a download batch, or (without `id`) all of it; partial files go.
pub fn cancel(services: &Services, batch: u32, id: Option<u32>) {
    if let Some(b) = lock(&services.downloads).get(&batch) {
        b.switches.cancel(id);
    }
}

/// How a batch stands: None while it is yet to run or running; once it stopped, whether the whole
/// selection is on disk (true), or some of it is not (refused at the plan, failed, skipped or
/// cancelled).
pub fn outcome(services: &Services, batch: u32) -> Option<bool> {
    match lock(&services.downloads).get(&batch) {
        // Brought whole (and out of the queue); a batch forgotten or unknown is not.
        None => Some(lock(&services.downloads_whole).remove(&batch)),
        Some(b) if b.conflict.is_some() && !b.running => Some(false),
        Some(_) => None,
    }
}

/// Forgets a planned download the user stopped at the question about files already there.
pub fn forget(services: &Services, batch: u32) {
    lock(&services.downloads).remove(&batch);
}
