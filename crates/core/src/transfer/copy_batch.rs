//! The queue of copies and moves: the selection is expanded and each file given its new key (or
//! refused, with why), the page is told which new keys are taken, and the batch runs with the
//! user's choice about them, each file with its progress and its cancel switch. A batch with
//! failed or cancelled files stays, so they can be tried again.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::cancel::{chosen, Switches};
use super::copy::{self, Between, CopyMode, CopyPlan, CopySettings, CopySummary};
use super::{Conflict, Problem, Target, TransferEvent};
use crate::error::{Error, Result};
use crate::files;
use crate::services::{lock, Services};

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
pub struct CopyBatch {
    between: Between,
    mode: CopyMode,
    plan: CopyPlan,
    /// New keys taken at the plan, with their ETag then.
    existing: HashMap<String, String>,
    switches: Switches,
    /// The choice made when the batch first ran: a retry keeps it.
    conflict: Option<Conflict>,
    running: bool,
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

/// What the page is told about a planned copy.
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

/// Plans a copy, move or rename.
pub async fn plan(services: &Services, ask: CopyRequest) -> Result<PlannedCopy> {
    let t = files::target(services, &ask.space, ask.region.clone()).await?;
    let between = Between {
        unfinished: Some(services.unfinished.clone()),
        ..Between::new(&t.client, &t.endpoint, &ask.space, &ask.to_space)
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
    let existing = super::existing_keys(&to, &dests, &under).await?;
    let mut taken: Vec<String> = existing.keys().cloned().collect();
    taken.sort();
    let batch = services.next_batch();
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
        mode: ask.mode,
        plan,
        existing,
        switches: Switches::default(),
        conflict: None,
        running: false,
    };
    lock(&services.copies).insert(batch, waiting);
    Ok(answer)
}

/// Runs a planned copy (or, with `ids`, only those files again); new keys already taken are
/// handled as `conflict` says (a retry keeps the first run's choice).
pub async fn start(
    services: &Services,
    batch: u32,
    conflict: Conflict,
    ids: Option<Vec<u32>>,
    events: &(dyn Fn(TransferEvent) + Send + Sync),
) -> Result<CopySummary> {
    let (between, mode, plan, existing, cancels, conflict) = {
        let mut copies = lock(&services.copies);
        let b = copies
            .get_mut(&batch)
            .ok_or_else(|| Error::Gone("That copy is no longer in the queue.".into()))?;
        b.running = true;
        let conflict = *b.conflict.get_or_insert(conflict);
        let files = chosen(&b.plan.files, ids, |f| f.id);
        let cancels = b
            .switches
            .arm(files.iter().map(|f| f.id), &services.quitting);
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
        )
    };
    let count = plan.files.len();
    let settings = CopySettings::default();
    let _running = services.running();
    let summary = copy::run(
        &between,
        plan,
        mode,
        (conflict, &existing),
        &cancels,
        settings,
        events,
    )
    .await;
    let verb = match mode {
        CopyMode::Copy => "copied",
        CopyMode::Move => "moved",
    };
    services.journal.write(format!(
        "{verb} from “{}” to “{}”: {} of {count} done, {} skipped, {} cancelled, {} failed",
        between.from,
        between.to,
        summary.done,
        summary.skipped,
        summary.cancelled,
        summary.problems.len()
    ));
    let mut copies = lock(&services.copies);
    if summary.problems.is_empty() && summary.cancelled == 0 {
        copies.remove(&batch);
    } else if let Some(b) = copies.get_mut(&batch) {
        b.running = false;
        // A retry goes on from where this run left each file: under the name it was given,
        // and, for a copy stored whose original stayed, only removing the original.
        let renamed: HashMap<u32, &String> = summary.renamed.iter().map(|(i, k)| (*i, k)).collect();
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
    Ok(summary)
}

/// Cancels one file of a copy, or (without `id`) all of it. Copies already stored stay (and a
/// move removes their originals).
pub fn cancel(services: &Services, batch: u32, id: Option<u32>) {
    if let Some(b) = lock(&services.copies).get(&batch) {
        b.switches.cancel(id);
    }
}

/// Forgets a planned copy the user stopped at the question about names already taken.
pub fn forget(services: &Services, batch: u32) {
    lock(&services.copies).remove(&batch);
}
