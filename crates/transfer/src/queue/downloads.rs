//! Downloads: files and folders are expanded and mapped to paths inside the chosen folder (or
//! refused, with why), the window is told which names are taken, and the batch runs with the
//! user's choice about them, each file with its progress and its cancel switch. A batch with
//! failed or cancelled files stays, so they can be tried again.

use std::path::PathBuf;

use serde::Serialize;
use ts_rs::TS;

use super::board::{Direction, NewRow};
use super::{BatchSpec, EventSink, JobSpec, Queue};
use crate::cancel::{chosen, Switches};
use crate::download::{self, DownloadPlan, DownloadSummary};
use crate::error::{Error, Result};
use crate::journal::{self, Mark};
use crate::unfinished::WritingInto;
use crate::{Conflict, Problem, Target, TransferEvent};
use spacedock_common::sync::lock;
use spacedock_s3::SpaceRef;

/// A download planned, running, or kept to try its failed files again.
pub(super) struct DownloadBatch {
    from: Target,
    connection: String,
    dest: PathBuf,
    plan: DownloadPlan,
    switches: Switches,
    /// The choice made when the batch first ran: a retry keeps it.
    conflict: Option<Conflict>,
    running: bool,
    /// Big files are noted as they go, and the batch is journaled, to be resumed after a quit
    /// (not a drag's staged copies, which no drop uses after a quit).
    noted: bool,
    /// Keys the plan refused, with why: the batch can't bring the selection whole. Shown
    /// beside the files when it first runs.
    refused: Vec<Problem>,
    journal: Option<String>,
}

impl DownloadBatch {
    pub(super) fn is_running(&self) -> bool {
        self.running
    }
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

/// What the window is told about a planned download.
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

impl Queue {
    /// Plans the download of files and folders of `at` (with their structure) into `dest`.
    /// `noted`: journaled and resumable after a quit (false for a drag's staging folder).
    pub async fn plan_download(
        &self,
        at: &SpaceRef,
        connection: &str,
        keys: &[String],
        dest: PathBuf,
        noted: bool,
    ) -> Result<PlannedDownload> {
        let plan = download::plan(&at.client, &at.endpoint, &at.name, keys, &dest).await?;
        Ok(self.queue_download(at, connection, dest, plan, noted))
    }

    /// Plans saving one version of a file into `dest`, under the file's name (run it with Keep
    /// both: nothing on disk is replaced).
    pub async fn plan_version_download(
        &self,
        at: &SpaceRef,
        connection: &str,
        key: &str,
        version_id: &str,
        dest: PathBuf,
    ) -> Result<PlannedDownload> {
        let plan =
            download::plan_version(&at.client, &at.endpoint, &at.name, key, version_id, &dest)
                .await?;
        Ok(self.queue_download(at, connection, dest, plan, true))
    }

    /// Puts a planned download in the queue, waiting for the user's choice about files there.
    fn queue_download(
        &self,
        at: &SpaceRef,
        connection: &str,
        dest: PathBuf,
        mut plan: DownloadPlan,
        noted: bool,
    ) -> PlannedDownload {
        let existing: Vec<String> = plan
            .existing()
            .iter()
            .map(|f| f.path.to_string_lossy().to_string())
            .collect();
        let batch = self.next_batch();
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
            from: self.download_target(at),
            connection: connection.to_string(),
            dest,
            plan,
            switches: Switches::default(),
            conflict: None,
            running: false,
            noted,
            refused: answer.problems.clone(),
            journal: None,
        };
        lock(&self.downloads).insert(batch, waiting);
        answer
    }

    /// Runs a planned download (or, with `ids`, only those files again); files already in the
    /// folder are handled as `conflict` says (a retry keeps the first run's choice).
    pub async fn run_download(
        &self,
        batch: u32,
        conflict: Conflict,
        ids: Option<Vec<u32>>,
        events: EventSink<TransferEvent>,
    ) -> Result<DownloadSummary> {
        let (from, dest, plan, cancels, conflict, noted, journal_id) = {
            let mut downloads = lock(&self.downloads);
            let b = downloads
                .get_mut(&batch)
                .ok_or_else(|| Error::Gone("That download is no longer in the queue.".into()))?;
            b.running = true;
            if b.conflict.is_none() {
                let rows = b.plan.files.iter().map(|f| NewRow {
                    file: f.id,
                    key: f.key.clone(),
                    to: None,
                    size: f.size,
                });
                let space = b.from.space.clone();
                (self.board).add(batch, Direction::Download, &space, rows, &b.refused);
            }
            let conflict = *b.conflict.get_or_insert(conflict);
            let files = chosen(&b.plan.files, ids, |f| f.id);
            let cancels = b.switches.arm(files.iter().map(|f| f.id), &self.quit);
            let journal_id = b.noted.then(|| self.journal_download(b, conflict, &files));
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
                journal_id,
            )
        };
        let events = self.tracked(Some(batch), journal_id.as_deref(), events);
        let count = plan.files.len();
        let summary = self
            .download_files(&from, &dest, plan, conflict, noted, &cancels, &*events)
            .await;
        self.say(format!(
            "downloaded from “{}” to {}: {} of {} done, {} skipped, {} cancelled, {} not downloaded",
            from.space,
            dest.display(),
            summary.done,
            count,
            summary.skipped,
            summary.cancelled,
            summary.problems.len()
        ));
        let mut downloads = lock(&self.downloads);
        let finished = summary.problems.is_empty() && summary.cancelled == 0;
        if finished {
            if let Some(id) = &journal_id {
                self.journal.remove(id);
            }
        }
        let whole = finished && summary.skipped == 0;
        match downloads.get_mut(&batch) {
            Some(b) if whole && b.refused.is_empty() => {
                // A drag's batch says so to its drop, which asks once.
                if !b.noted {
                    lock(&self.whole).insert(batch);
                }
                downloads.remove(&batch);
            }
            Some(b) => b.running = false,
            None => {}
        }
        drop(downloads);
        self.forget_if_cleared(batch);
        Ok(summary)
    }

    /// Runs the files of one download, with the partial files of the run noted so that a
    /// crash's are removed at the next start.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn download_files(
        &self,
        from: &Target,
        dest: &std::path::Path,
        plan: DownloadPlan,
        conflict: Conflict,
        noted: bool,
        cancels: &std::collections::HashMap<u32, crate::Cancel>,
        events: &(dyn Fn(TransferEvent) + Send + Sync),
    ) -> DownloadSummary {
        let options = download::Options {
            record: noted.then_some(&*self.partials),
            files_at_once: self.files_at_once(),
            cancels: Some(cancels),
            claims: Some(&self.claims),
        };
        let _running = self.running();
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
        self.writing.add(writing);
        let summary = download::run(from, dest, plan, conflict, events, options).await;
        self.writing.remove(&noting_folders);
        summary
    }

    /// Notes a download in the journal the first time it runs, or a retry's files as waiting.
    fn journal_download(
        &self,
        b: &mut DownloadBatch,
        conflict: Conflict,
        files: &[download::DownloadFile],
    ) -> String {
        if let Some(id) = &b.journal {
            for f in files {
                self.journal.mark(id, f.id, Mark::Waiting, None);
            }
            return id.clone();
        }
        let id = journal::new_id();
        let spec = BatchSpec {
            connection: b.connection.clone(),
            endpoint: b.from.endpoint.clone(),
            space: b.from.space.clone(),
            job: JobSpec::Download {
                dest: b.dest.clone(),
                conflict,
            },
        };
        self.journal
            .add(&id, spec.job.kind(), &spec, files.iter().map(|f| (f.id, f)));
        b.journal = Some(id.clone());
        id
    }

    /// Cancels one file of a download batch, or (without `id`) all of it; partial files go.
    pub fn cancel_download(&self, batch: u32, id: Option<u32>) {
        if let Some(b) = lock(&self.downloads).get(&batch) {
            b.switches.cancel(id);
        }
    }

    /// How a batch stands: None while it is yet to run or running; once it stopped, whether the
    /// whole selection is on disk (true), or some of it is not (refused at the plan, failed,
    /// skipped or cancelled).
    pub fn download_outcome(&self, batch: u32) -> Option<bool> {
        match lock(&self.downloads).get(&batch) {
            // Brought whole (and out of the queue); a batch forgotten or unknown is not.
            None => Some(lock(&self.whole).remove(&batch)),
            Some(b) if b.conflict.is_some() && !b.running => Some(false),
            Some(_) => None,
        }
    }

    /// Forgets a planned download the user stopped at the question about files already there.
    pub fn forget_download(&self, batch: u32) {
        lock(&self.downloads).remove(&batch);
    }
}
