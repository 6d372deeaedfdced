//! Uploads: a batch is planned from dropped or picked paths, then run with the user's choice
//! about files already there (Overwrite / Skip / Keep both), which its retries keep. Empty
//! folders are made as folder markers; a batch with nothing left to retry is freed.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::board::{Direction, NewRow};
use super::{BatchSpec, EventSink, JobSpec, Queue};
use crate::cancel::Switches;
use crate::error::{Error, Result};
use crate::journal::{self, Mark};
use crate::{
    Conflict, Expect, FileAcl, FileState, PlannedFile, Problem, QueuedFile, Settings, Target,
    TransferEvent,
};
use spacedock_common::sync::lock;
use spacedock_s3::SpaceRef;
use tokio_util::sync::CancellationToken;

/// An upload waiting to run (or to run again).
pub(super) struct UploadBatch {
    target: Target,
    connection: String,
    prefix: String,
    files: Vec<(u32, PlannedFile)>,
    /// Keys taken in the Space when the batch was planned, with their ETag then.
    existing: HashMap<String, String>,
    empty_folders: Vec<String>,
    switches: Switches,
    /// The choices made when the batch first ran: a retry keeps them.
    conflict: Option<Conflict>,
    acl: FileAcl,
    /// What the plan found can't be uploaded, shown beside the files when it first runs.
    problems: Vec<Problem>,
    running: bool,
    /// Its id in the journal, once it ran.
    journal: Option<String>,
}

impl UploadBatch {
    /// What its first run chose: the permission of new files, and what to do with files there.
    pub(super) fn retry_choices(&self) -> (FileAcl, Conflict) {
        (self.acl, self.conflict.unwrap_or(Conflict::Skip))
    }

    pub(super) fn is_running(&self) -> bool {
        self.running
    }
}

/// One file of an upload as the journal keeps it: enough to run it again after a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UploadFileSpec {
    pub path: PathBuf,
    pub key: String,
    pub size: u64,
    pub expect: Expect,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlannedUpload {
    pub id: u32,
    pub key: String,
    pub size: u64,
    /// A file with this key is already in the Space.
    pub exists: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct UploadPlan {
    pub batch: u32,
    pub files: Vec<PlannedUpload>,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct UploadSummary {
    pub done: u32,
    pub failed: u32,
    pub cancelled: u32,
    pub skipped: u32,
    /// Empty folders that could not be made, each with why.
    pub problems: Vec<Problem>,
}

/// What one run of a batch does.
struct Run {
    target: Target,
    /// Each file, and whether its key is taken in the Space.
    queued: Vec<(QueuedFile, bool)>,
    skipped: Vec<u32>,
    empty_folders: Vec<String>,
    conflict: Conflict,
}

impl Queue {
    /// Plans the upload of `paths` into the folder `prefix` of `at`, and says which files are
    /// already there. `connection` is the saved connection the batch belongs to.
    pub async fn plan_upload(
        &self,
        at: &SpaceRef,
        connection: &str,
        prefix: &str,
        paths: Vec<PathBuf>,
    ) -> Result<UploadPlan> {
        let target = self.upload_target(at);
        let under = prefix.to_string();
        let plan = tokio::task::spawn_blocking(move || crate::plan(&paths, &under))
            .await
            .map_err(|e| Error::Internal(format!("reading the dropped files stopped: {e}")))?;
        let keys: Vec<String> = plan.files.iter().map(|f| f.key.clone()).collect();
        let existing = crate::existing_keys(&target, &keys, prefix).await?;
        let batch = self.next_batch();
        let files: Vec<(u32, PlannedFile)> = (0..).zip(plan.files).collect();
        let listed = files.iter().map(|(id, f)| PlannedUpload {
            id: *id,
            key: f.key.clone(),
            size: f.size,
            exists: existing.contains_key(&f.key),
        });
        let answer = UploadPlan {
            batch,
            files: listed.collect(),
            problems: plan.problems,
        };
        let queued = UploadBatch {
            target,
            connection: connection.to_string(),
            prefix: prefix.to_string(),
            files,
            existing,
            empty_folders: plan.empty_folders,
            switches: Switches::default(),
            conflict: None,
            acl: FileAcl::Private,
            problems: answer.problems.clone(),
            running: false,
            journal: None,
        };
        lock(&self.uploads).insert(batch, queued);
        Ok(answer)
    }

    /// Runs a planned batch (or, with `ids`, only those files again), reporting each file's
    /// progress to `events`.
    pub async fn run_upload(
        &self,
        batch: u32,
        acl: FileAcl,
        conflict: Conflict,
        ids: Option<Vec<u32>>,
        events: EventSink<TransferEvent>,
    ) -> Result<UploadSummary> {
        let (mut run, first, acl) = {
            let mut uploads = lock(&self.uploads);
            let b = uploads
                .get_mut(&batch)
                .ok_or_else(|| Error::Gone("That upload is no longer in the queue.".into()))?;
            let first = b.conflict.is_none();
            b.running = true;
            if first {
                b.acl = acl;
                let rows = b.files.iter().map(|(id, f)| NewRow {
                    file: *id,
                    key: f.key.clone(),
                    to: None,
                    size: f.size,
                });
                let problems = std::mem::take(&mut b.problems);
                self.board
                    .add(batch, Direction::Upload, &b.target.space, rows, &problems);
            }
            // A retry keeps the first run's permission, as it keeps its choice.
            (take_run(b, conflict, ids, &self.quit), first, b.acl)
        };
        if run.conflict == Conflict::KeepBoth {
            let renamed = match keep_both_names(&mut run).await {
                Ok(renamed) => renamed,
                Err(e) => {
                    self.board.fail_unfinished(batch, &super::failed(&e));
                    if let Some(b) = lock(&self.uploads).get_mut(&batch) {
                        b.running = false;
                    }
                    return Err(e);
                }
            };
            // A retry uploads under the same new names, not yet another numbered one.
            if let Some(b) = lock(&self.uploads).get_mut(&batch) {
                for (id, key) in renamed {
                    self.board.renamed(batch, id, &key, Direction::Upload);
                    if let Some((_, f)) = b.files.iter_mut().find(|(i, _)| *i == id) {
                        f.key = key;
                    }
                }
            }
        }
        let journal_id = self.journal_upload(batch, acl, &run, first);
        let events = self.tracked(Some(batch), journal_id.as_deref(), events);
        for id in &run.skipped {
            events(TransferEvent {
                id: *id,
                bytes: 0,
                state: FileState::Skipped,
            });
        }
        let problems =
            make_empty_folders(&run.target, std::mem::take(&mut run.empty_folders)).await;
        self.board.problems(batch, &problems);
        let count = run.queued.len();
        let space = run.target.space.clone();
        let queued = run.queued.into_iter().map(|(q, _)| q).collect();
        let settings = Settings {
            files_at_once: self.files_at_once(),
            ..Settings::default()
        };
        let summary = crate::upload_all(run.target, queued, acl, settings, events).await;
        let skipped = run.skipped.len() as u32;
        self.say(format!(
            "uploaded to “{space}”: {} of {count} files done, {} failed, {} cancelled, {skipped} skipped",
            summary.done, summary.failed, summary.cancelled,
        ));
        if summary.failed == 0 && summary.cancelled == 0 {
            lock(&self.uploads).remove(&batch);
            if let Some(id) = &journal_id {
                self.journal.remove(id);
            }
        } else if let Some(b) = lock(&self.uploads).get_mut(&batch) {
            b.running = false;
        }
        self.forget_if_cleared(batch);
        Ok(UploadSummary {
            done: summary.done,
            failed: summary.failed,
            cancelled: summary.cancelled,
            skipped,
            problems,
        })
    }

    /// Notes the batch in the journal the first time it runs (every file, with the name it goes
    /// to and what that name must hold), or a retry's files as waiting again. The names are on
    /// disk before any byte goes: a resume never gives a file a second new name.
    fn journal_upload(&self, batch: u32, acl: FileAcl, run: &Run, first: bool) -> Option<String> {
        let mut uploads = lock(&self.uploads);
        let b = uploads.get_mut(&batch)?;
        let id = match (&b.journal, first) {
            (Some(id), false) => {
                for (q, _) in &run.queued {
                    self.journal.mark(id, q.id, Mark::Waiting, None);
                }
                id.clone()
            }
            _ => {
                let id = journal::new_id();
                let spec = BatchSpec {
                    connection: b.connection.clone(),
                    endpoint: b.target.endpoint.clone(),
                    space: b.target.space.clone(),
                    job: JobSpec::Upload {
                        prefix: b.prefix.clone(),
                        acl,
                        conflict: run.conflict,
                    },
                };
                let files = run.queued.iter().map(|(q, _)| {
                    let spec = UploadFileSpec {
                        path: q.file.path.clone(),
                        key: q.file.key.clone(),
                        size: q.file.size,
                        expect: q.expect.clone(),
                    };
                    (q.id, spec)
                });
                self.journal.add(&id, spec.job.kind(), &spec, files);
                b.journal = Some(id.clone());
                id
            }
        };
        drop(uploads);
        self.journal.flush();
        Some(id)
    }

    /// Cancels one file of a batch, or (without `id`) all of it. A multipart upload is aborted
    /// on the server.
    pub fn cancel_upload(&self, batch: u32, id: Option<u32>) {
        let uploads = lock(&self.uploads);
        let Some(b) = uploads.get(&batch) else { return };
        b.switches.cancel(id);
    }
}

/// Takes the files to run from the batch (all, or with `ids` only those again), each with a
/// fresh cancel switch. A retry keeps the batch's first choice: a Skip or Keep both batch never
/// overwrites.
fn take_run(
    b: &mut UploadBatch,
    conflict: Conflict,
    ids: Option<Vec<u32>>,
    quit: &CancellationToken,
) -> Run {
    let conflict = *b.conflict.get_or_insert(conflict);
    let wanted: Option<HashSet<u32>> = ids.map(|v| v.into_iter().collect());
    let mut run = Run {
        target: b.target.clone(),
        queued: Vec::new(),
        skipped: Vec::new(),
        // Empty folders are made on the first run only.
        empty_folders: match wanted {
            None => std::mem::take(&mut b.empty_folders),
            Some(_) => Vec::new(),
        },
        conflict,
    };
    for (id, file) in &b.files {
        if wanted.as_ref().is_some_and(|w| !w.contains(id)) {
            continue;
        }
        let taken = b.existing.get(&file.key);
        let exists = taken.is_some();
        if exists && conflict == Conflict::Skip {
            run.skipped.push(*id);
            continue;
        }
        // It replaces only the version the plan saw, or (a free key) nothing that came since.
        let expect = match taken {
            Some(etag) => Expect::Etag(etag.clone()),
            None => Expect::Absent,
        };
        let cancel = b.switches.arm([*id], quit).remove(id).unwrap_or_default();
        let queued = QueuedFile {
            id: *id,
            file: file.clone(),
            cancel,
            expect,
        };
        run.queued.push((queued, exists));
    }
    run
}

/// Keep both: each file whose key is taken gets a name free on the server, not only in this
/// batch, and written nowhere but there. Returns the new names, by id.
async fn keep_both_names(run: &mut Run) -> Result<Vec<(u32, String)>> {
    let taken: HashSet<String> = run.queued.iter().map(|(q, _)| q.file.key.clone()).collect();
    let taken = std::sync::Mutex::new(taken);
    let mut renamed = Vec::new();
    for (q, exists) in run.queued.iter_mut().filter(|(_, exists)| *exists) {
        q.file.key = crate::free_key(&run.target, &q.file.key, &taken).await?;
        q.expect = Expect::Absent;
        *exists = false;
        renamed.push((q.id, q.file.key.clone()));
    }
    Ok(renamed)
}

/// Makes the empty folders; one that can't be made is reported and the files go on.
pub(super) async fn make_empty_folders(target: &Target, folders: Vec<String>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for key in folders {
        let trimmed = key.trim_end_matches('/');
        let (parent, name) = match trimmed.rsplit_once('/') {
            Some((p, n)) => (format!("{p}/"), n),
            None => (String::new(), trimmed),
        };
        let made = spacedock_s3::browse::create_folder(
            &target.client,
            &target.endpoint,
            &target.space,
            &parent,
            name,
        );
        if let Err(e) = made.await {
            problems.push(Problem {
                path: key.clone(),
                message: format!("The empty folder was not made: {e}"),
            });
        }
    }
    problems
}
