//! Copies and moves: the selection is expanded and each file given its new key (or refused,
//! with why), the window is told which new keys are taken, and the batch runs with the user's
//! choice about them, each file with its progress and its cancel switch. A batch with failed or
//! cancelled files stays, so they can be tried again.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::board::{Direction, NewRow};
use super::{BatchSpec, EventSink, JobSpec, Queue};
use crate::cancel::{chosen, Switches};
use crate::copy::{self, Between, CopyFile, CopyMode, CopyPlan, CopySettings, CopySummary};
use crate::error::{Error, Result};
use crate::journal::{self, Journal, Mark};
use crate::{Conflict, Problem, Target, TransferEvent};
use spacedock_common::sync::lock;
use spacedock_s3::SpaceRef;

/// What the user asked: copy or move the selection into a folder (of this Space or another of
/// the same region), or rename one file or folder where it is.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CopyRequest {
    pub space: String,
    pub region: Option<String>,
    /// Files, and folders ending in “/”.
    pub keys: Vec<String>,
    pub to_space: String,
    /// The folder they go into (“” is the top of the Space); unused for a rename.
    pub folder: String,
    pub rename: Option<String>,
    pub mode: CopyMode,
}

/// A copy planned, running, or kept to try its failed files again.
pub(super) struct CopyBatch {
    between: Between,
    connection: String,
    mode: CopyMode,
    plan: CopyPlan,
    /// New keys taken at the plan, with their ETag then.
    existing: HashMap<String, String>,
    switches: Switches,
    /// The choice made when the batch first ran: a retry keeps it.
    conflict: Option<Conflict>,
    running: bool,
    /// What the plan found can't be copied, shown beside the files when it first runs.
    problems: Vec<Problem>,
    journal: Option<String>,
}

impl CopyBatch {
    pub(super) fn is_running(&self) -> bool {
        self.running
    }
}

/// The version a restore puts back: its id, its ETag and its size, as the versions listed it.
#[derive(Debug, Clone)]
pub struct RestoredVersion {
    pub id: String,
    pub etag: String,
    pub size: u64,
}

/// One file of a planned copy, as the queue shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct QueuedCopy {
    pub id: u32,
    pub key: String,
    pub to: String,
    pub size: u64,
}

/// What the window is told about a planned copy.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlannedCopy {
    pub batch: u32,
    pub files: Vec<QueuedCopy>,
    /// New keys already taken in the Space they go to (the first 20).
    pub existing: Vec<String>,
    pub existing_count: u32,
    /// What can't be copied, with why.
    pub problems: Vec<Problem>,
}

impl Queue {
    /// Plans a copy, move or rename of `ask.keys` of `at` (into `ask.to_space`, a Space the same
    /// client reaches).
    pub async fn plan_copy(
        &self,
        at: &SpaceRef,
        connection: &str,
        ask: &CopyRequest,
    ) -> Result<PlannedCopy> {
        if ask.mode == CopyMode::Restore {
            return Err(Error::InvalidInput(
                "A version is put back from the file's versions.".into(),
            ));
        }
        let between = Between {
            unfinished: Some(self.unfinished.clone()),
            ..Between::new(&at.client, &at.endpoint, &at.name, &ask.to_space)
        };
        let mut plan = copy::plan(
            &between,
            &ask.keys,
            &ask.folder,
            ask.rename.as_deref(),
            ask.mode,
        )
        .await?;
        let dests: Vec<String> = plan.files.iter().map(|f| f.to.clone()).collect();
        let under = match &ask.rename {
            Some(_) => copy::parent(&ask.keys[0]).to_string(),
            None => ask.folder.clone(),
        };
        let to = Target::plain(&between.client, &between.endpoint, &between.to);
        let existing = crate::existing_keys(&to, &dests, &under).await?;
        let mut taken: Vec<String> = existing.keys().cloned().collect();
        taken.sort();
        let batch = self.next_batch();
        let answer = PlannedCopy {
            batch,
            files: (plan.files.iter())
                .map(|f| QueuedCopy {
                    id: f.id,
                    key: f.from.clone(),
                    to: f.to.clone(),
                    size: f.size,
                })
                .collect(),
            existing_count: taken.len() as u32,
            existing: taken.into_iter().take(20).collect(),
            // Told once, here: the runs report only their own files.
            problems: std::mem::take(&mut plan.problems),
        };
        let waiting = CopyBatch {
            between,
            connection: connection.to_string(),
            mode: ask.mode,
            plan,
            existing,
            switches: Switches::default(),
            conflict: None,
            running: false,
            problems: answer.problems.clone(),
            journal: None,
        };
        lock(&self.copies).insert(batch, waiting);
        Ok(answer)
    }

    /// Plans putting an earlier version of `key` back over the file, as a copy on the server:
    /// it replaces only what the file holds now, looked at here (a file that changes before
    /// the copy is not replaced), and keeps the file's permission. `live`: the ETag of the file
    /// as its versions were listed (None: it read as deleted). Run it with Overwrite; a run that
    /// does not put the version back is forgotten, never tried again unasked.
    pub async fn plan_restore(
        &self,
        at: &SpaceRef,
        connection: &str,
        key: &str,
        version: RestoredVersion,
        live: Option<&str>,
    ) -> Result<PlannedCopy> {
        let between = Between {
            unfinished: Some(self.unfinished.clone()),
            ..Between::new(&at.client, &at.endpoint, &at.name, &at.name)
        };
        let target = Target::plain(&between.client, &between.endpoint, &between.to);
        let now = crate::etag_now(&target, key).await?;
        // What the file holds must be what the versions said when the user chose: a version
        // that came between is never the one replaced.
        let bare = crate::integrity::bare;
        if now.as_deref().map(bare) != live.map(bare) {
            return Err(Error::FileChanged(format!(
                "“{key}” changed while the restore was planned, so nothing was restored. Look at its versions again."
            )));
        }
        let file = CopyFile {
            id: 0,
            from: key.to_string(),
            to: key.to_string(),
            size: version.size,
            etag: version.etag,
            copied: false,
            copy_etag: None,
            version: Some(version.id),
        };
        let batch = self.next_batch();
        let answer = PlannedCopy {
            batch,
            files: vec![QueuedCopy {
                id: 0,
                key: key.to_string(),
                to: key.to_string(),
                size: version.size,
            }],
            existing_count: now.is_some() as u32,
            existing: now.iter().map(|_| key.to_string()).collect(),
            problems: Vec::new(),
        };
        let waiting = CopyBatch {
            between,
            connection: connection.to_string(),
            mode: CopyMode::Restore,
            plan: CopyPlan {
                files: vec![file],
                problems: Vec::new(),
            },
            existing: now
                .map(|etag| (key.to_string(), etag))
                .into_iter()
                .collect(),
            switches: Switches::default(),
            conflict: None,
            running: false,
            problems: Vec::new(),
            journal: None,
        };
        lock(&self.copies).insert(batch, waiting);
        Ok(answer)
    }

    /// Runs a planned copy (or, with `ids`, only those files again); new keys already taken
    /// are handled as `conflict` says (a retry keeps the first run's choice).
    pub async fn run_copy(
        &self,
        batch: u32,
        conflict: Conflict,
        ids: Option<Vec<u32>>,
        events: EventSink<TransferEvent>,
    ) -> Result<CopySummary> {
        let (between, mode, plan, existing, cancels, conflict, journal_id) = {
            let mut copies = lock(&self.copies);
            let b = copies
                .get_mut(&batch)
                .ok_or_else(|| Error::Gone("That copy is no longer in the queue.".into()))?;
            b.running = true;
            if b.conflict.is_none() {
                // A restore stays where it is: its row names the file alone.
                let restore = b.mode == CopyMode::Restore;
                let rows = b.plan.files.iter().map(|f| NewRow {
                    file: f.id,
                    key: f.from.clone(),
                    to: (!restore).then(|| f.to.clone()),
                    size: f.size,
                });
                let direction = match b.mode {
                    CopyMode::Copy => Direction::Copy,
                    CopyMode::Move => Direction::Move,
                    CopyMode::Restore => Direction::Restore,
                };
                let problems = std::mem::take(&mut b.problems);
                let space = b.between.to.clone();
                (self.board).add(batch, direction, &space, rows, &problems);
            }
            let conflict = *b.conflict.get_or_insert(conflict);
            let files = chosen(&b.plan.files, ids, |f| f.id);
            let cancels = b.switches.arm(files.iter().map(|f| f.id), &self.quit);
            let journal_id = self.journal_copy(b, conflict, &files);
            let plan = CopyPlan {
                files,
                problems: Vec::new(),
            };
            (
                b.between.clone(),
                b.mode,
                plan,
                b.existing.clone(),
                cancels,
                conflict,
                journal_id,
            )
        };
        self.journal.flush();
        let count = plan.files.len();
        let events = self.tracked(Some(batch), Some(&journal_id), events);
        let summary = self
            .copy_files(
                &between,
                plan,
                mode,
                (conflict, &existing),
                &cancels,
                &journal_id,
                false,
                &*events,
            )
            .await;
        let verb = match mode {
            CopyMode::Copy => "copied",
            CopyMode::Move => "moved",
            CopyMode::Restore => "restored a version in",
        };
        self.say(format!(
            "{verb} from “{}” to “{}”: {} of {count} done, {} skipped, {} cancelled, {} failed",
            between.from,
            between.to,
            summary.done,
            summary.skipped,
            summary.cancelled,
            summary.problems.len()
        ));
        // Keep both gave some files a numbered name: the rows say where they went.
        for (id, to) in &summary.renamed {
            self.board.renamed(batch, *id, to, Direction::Copy);
        }
        let mut copies = lock(&self.copies);
        // A restore was agreed for the file as it was: one that did not happen is not tried
        // again later from the panel, when the Space may be otherwise. (One a quit stopped stays
        // in the journal: the next start says whether it was done.)
        let restore = mode == CopyMode::Restore && !self.quit.is_cancelled();
        if (summary.problems.is_empty() && summary.cancelled == 0) || restore {
            copies.remove(&batch);
            self.journal.remove(&journal_id);
        } else if let Some(b) = copies.get_mut(&batch) {
            b.running = false;
            // A retry goes on from where this run left each file: under the name it was given,
            // and, for a copy stored whose original stayed, only removing the original.
            let renamed: HashMap<u32, &String> =
                summary.renamed.iter().map(|(i, k)| (*i, k)).collect();
            for f in b.plan.files.iter_mut() {
                if let Some(to) = renamed.get(&f.id) {
                    f.to = (*to).clone();
                }
                if let Some((_, etag)) = summary.copied.iter().find(|(id, _)| *id == f.id) {
                    f.copied = true;
                    f.copy_etag = etag.clone();
                }
            }
        }
        drop(copies);
        self.forget_if_cleared(batch);
        Ok(summary)
    }

    /// Runs the files of a copy, each file's new name and stored copy noted in the journal as
    /// they settle (a new name before anything is written under it).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn copy_files(
        &self,
        between: &Between,
        plan: CopyPlan,
        mode: CopyMode,
        conflict: (Conflict, &HashMap<String, String>),
        cancels: &HashMap<u32, crate::Cancel>,
        journal_id: &str,
        resumed: bool,
        events: &(dyn Fn(TransferEvent) + Send + Sync),
    ) -> CopySummary {
        let _running = self.running();
        let journal: Arc<Journal> = self.journal.clone();
        let id = journal_id.to_string();
        let note = move |f: &CopyFile, durable: bool| {
            journal.respec(&id, f.id, f);
            if durable {
                journal.flush();
            }
        };
        let settings = CopySettings {
            resumed,
            ..CopySettings::default()
        };
        copy::run(
            between, plan, mode, conflict, cancels, settings, &note, events,
        )
        .await
    }

    /// Notes a copy in the journal the first time it runs, or a retry's files as waiting.
    fn journal_copy(&self, b: &mut CopyBatch, conflict: Conflict, files: &[CopyFile]) -> String {
        if let Some(id) = &b.journal {
            for f in files {
                self.journal.mark(id, f.id, Mark::Waiting, None);
            }
            return id.clone();
        }
        let id = journal::new_id();
        let spec = BatchSpec {
            connection: b.connection.clone(),
            endpoint: b.between.endpoint.clone(),
            space: b.between.from.clone(),
            job: JobSpec::Copy {
                to_space: b.between.to.clone(),
                mode: b.mode,
                conflict,
                existing: b.existing.clone(),
            },
        };
        self.journal
            .add(&id, spec.job.kind(), &spec, files.iter().map(|f| (f.id, f)));
        b.journal = Some(id.clone());
        id
    }

    /// Cancels one file of a copy, or (without `id`) all of it. Copies already stored stay (and
    /// a move removes their originals).
    pub fn cancel_copy(&self, batch: u32, id: Option<u32>) {
        if let Some(b) = lock(&self.copies).get(&batch) {
            b.switches.cancel(id);
        }
    }

    /// Forgets a planned copy the user stopped at the question about names already taken.
    pub fn forget_copy(&self, batch: u32) {
        lock(&self.copies).remove(&batch);
    }
}
