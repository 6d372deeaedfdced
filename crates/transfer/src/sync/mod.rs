//! Syncing a folder with a Space: pairs, each with a baseline of what both sides held at its
//! last good sync; a plan made first (scan both sides, decide each file against the baseline),
//! shown, and approved when it is the pair's first or deletes a lot; then carried out through
//! the engine's writes, each of which replaces or deletes only what the plan saw.
//!
//! What sync promises: a file is replaced or deleted only when the other side is proven
//! unchanged since the last sync; nothing is deleted in a run that had any doubt (a listing
//! error, an unreadable folder, an empty side, too many deletes); what a run replaces or deletes
//! keeps a way back (the Space's versions or trash folder, the desktop's trash); a file changed
//! on both sides keeps both copies.

mod act;
pub mod decide;
mod scan;
mod store;

use spacedock_s3::connection::same_endpoint;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

pub use decide::{SyncDeletes, SyncDirection};

use crate::error::{Error, Result};
use spacedock_common::sync::lock;
use spacedock_common::Problem;

/// A folder on this computer synced with a Space (below a prefix).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SyncPair {
    pub id: String,
    pub folder: String,
    /// The saved connection it reaches the Space with.
    pub connection: String,
    /// The Space's endpoint: two pairs on one Space are told apart from two Spaces of one name.
    pub endpoint: String,
    pub space: String,
    /// "" (the whole Space) or a folder, ending in "/".
    pub prefix: String,
    pub direction: SyncDirection,
    pub deletes: SyncDeletes,
    /// Where, in the Space, a file this pair replaces or deletes is kept first when the Space
    /// keeps no versions ("" or none: such files are not replaced or deleted there).
    pub trash: Option<String>,
    #[serde(default)]
    pub schedule: SyncSchedule,
    /// When the pair last synced with nothing failing (seconds since 1970).
    #[serde(default)]
    pub last_good: Option<i64>,
    #[serde(default)]
    pub last_run: Option<i64>,
    /// What went wrong in the last run, if it failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// A run was under way when the app stopped: the next run finishes it.
    #[serde(default)]
    pub interrupted: bool,
    /// A run nobody asked for is waiting for the user's approval, and why.
    #[serde(default)]
    pub waiting: Option<String>,
    /// What the last good run left undone (deletes held back, files it can't sync), if anything.
    #[serde(default)]
    pub incomplete: Option<String>,
}

/// When a pair syncs without being asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum SyncSchedule {
    /// Only when the user asks.
    #[default]
    Manual,
    /// Every so many minutes.
    Every { minutes: u32 },
    /// Soon after the folder changes, and in any case every 15 minutes (a full look at both
    /// sides, for what the folder's watch can't see: changes in the Space, a missed event).
    Watch,
}

/// A pair as the user sets it up.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct NewPair {
    pub folder: String,
    pub space: String,
    pub prefix: String,
    pub direction: SyncDirection,
    pub deletes: SyncDeletes,
    pub trash: Option<String>,
    #[serde(default)]
    pub schedule: SyncSchedule,
    /// The user confirmed a second time that their home folder (or `/`) is to be synced.
    #[serde(default)]
    pub broad_confirmed: bool,
}

/// Files and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Tally {
    pub files: u32,
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
    }
}

/// What a plan does to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum SyncAction {
    Upload,
    Download,
    /// Deleted from the Space (kept in its versions or trash folder).
    DeleteRemote,
    /// Moved to the desktop's trash.
    DeleteLocal,
    /// Changed on both sides: both copies kept.
    Conflict,
    /// On both sides, not proven equal: left as it is.
    Unverified,
    /// Left as it is, for the reason given.
    Kept,
}

/// One file of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SyncItem {
    /// Its path below the folder (and key below the prefix).
    pub path: String,
    pub action: SyncAction,
    pub size: u64,
    /// Why it is left out of this run although planned (a delete held back), if it is.
    pub held: Option<String>,
    /// More about it (why it is kept, or unverified).
    pub note: Option<String>,
}

/// The counts of a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlanCounts {
    pub uploads: Tally,
    pub downloads: Tally,
    pub remote_deletes: Tally,
    pub local_deletes: Tally,
    pub conflicts: u32,
    pub unverified: u32,
    pub kept: u32,
    /// Planned but held back this run (deletes on doubt, or with no way back).
    pub held: u32,
    /// Files the same on both sides.
    pub unchanged: u32,
}

/// What a run would do, before it does anything.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SyncPlan {
    pub pair: String,
    /// Hand it back to run exactly this plan.
    pub plan: u32,
    /// Why this run waits for the user's approval (the pair's first, or many deletes), if it does.
    pub approval: Option<String>,
    /// Why nothing is deleted this run, if anything is held back.
    pub doubts: Vec<String>,
    pub counts: PlanCounts,
    /// Every file the run acts on or leaves out, in path order.
    pub items: Vec<SyncItem>,
    /// What can't be synced (names a disk can't hold, links, unreadable files).
    pub problems: Vec<Problem>,
}

impl SyncPlan {
    /// Whether the run would change nothing.
    pub fn is_empty(&self) -> bool {
        let c = &self.counts;
        c.uploads.files
            + c.downloads.files
            + c.remote_deletes.files
            + c.local_deletes.files
            + c.conflicts
            == 0
    }
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SyncOutcome {
    pub pair: String,
    pub uploaded: u32,
    pub downloaded: u32,
    pub deleted_remote: u32,
    pub deleted_local: u32,
    /// Conflicts resolved by keeping both copies.
    pub conflicts: u32,
    /// Files that changed between the plan and the act: left for the next run.
    pub changed_since: u32,
    pub failed: u32,
    /// Deletes held back because a write of the same run did not go through.
    pub held: u32,
    pub stopped: bool,
    /// Each failure or change, by path.
    pub notes: Vec<Problem>,
}

/// How long a plan can be run after it was made.
const PLAN_KEPT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes over this count, or over this share of the pair's files (and more than a few),
/// wait for the user's approval; a run nobody approves holds them back.
pub const DELETE_COUNT: u32 = 1_000;
pub const DELETE_SHARE_PERCENT: u32 = 25;
const FEW: u32 = 3;

/// A run's stop, and each of its files'.
type RunStops = (CancellationToken, HashMap<u32, crate::Cancel>);

/// The pairs, their baselines, the plans made and not yet run, and the runs under way.
pub struct Syncs {
    store: store::Store,
    plans: Mutex<HashMap<u32, Arc<act::Made>>>,
    /// Pairs being planned now: one plan of a pair at a time.
    pub(crate) planning: Mutex<std::collections::HashSet<String>>,
    running: Mutex<HashMap<String, CancellationToken>>,
    /// Each run's board batch: its stop, and each file's.
    batches: Mutex<HashMap<u32, RunStops>>,
    next: AtomicU32,
}

impl Syncs {
    pub(crate) fn open(data_dir: &Path) -> Syncs {
        Syncs {
            store: store::Store::open(&data_dir.join("sync.sqlite3")),
            plans: Mutex::default(),
            planning: Mutex::default(),
            running: Mutex::default(),
            batches: Mutex::default(),
            next: AtomicU32::new(1),
        }
    }

    pub fn pairs(&self) -> Result<Vec<SyncPair>> {
        self.store.pairs()
    }

    pub fn pair(&self, id: &str) -> Result<SyncPair> {
        (self.pairs()?.into_iter().find(|p| p.id == id))
            .ok_or_else(|| Error::Gone("That sync pair is not there any more.".into()))
    }

    /// Saves a new pair, refusing one that overlaps another (a folder inside another's, or one
    /// Space prefix inside another's), a folder that is not there, and the home folder or `/`
    /// unless confirmed twice.
    pub fn add_pair(&self, new: NewPair, connection: &str, endpoint: &str) -> Result<SyncPair> {
        let folder = PathBuf::from(&new.folder);
        if !folder.is_absolute() {
            return Err(Error::InvalidInput(
                "Choose the folder by its full path.".into(),
            ));
        }
        let real = std::fs::canonicalize(&folder).map_err(|e| {
            Error::InvalidInput(format!(
                "The folder “{}” can't be opened: {e}.",
                folder.display()
            ))
        })?;
        if !real.is_dir() {
            return Err(Error::InvalidInput(format!(
                "“{}” is not a folder.",
                folder.display()
            )));
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let home = home.and_then(|h| std::fs::canonicalize(h).ok());
        // The home folder, `/`, or any folder holding the home folder.
        let broad = real == Path::new("/") || home.as_ref().is_some_and(|h| h.starts_with(&real));
        if broad && !new.broad_confirmed {
            return Err(Error::InvalidInput(format!(
                "“{}” holds everything of yours. Confirm a second time that this whole folder is to be synced.",
                real.display()
            )));
        }
        let prefix = normal_prefix(&new.prefix)?;
        let trash = match new.trash.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => Some(normal_prefix(t)?),
        };
        if let Some(t) = &trash {
            if prefix.starts_with(t.as_str()) {
                return Err(Error::InvalidInput(
                    "The synced folder can't be inside the trash folder.".into(),
                ));
            }
        }
        for other in self.pairs()? {
            let theirs =
                std::fs::canonicalize(&other.folder).unwrap_or(other.folder.clone().into());
            if real.starts_with(&theirs) || theirs.starts_with(&real) {
                return Err(Error::InvalidInput(format!(
                    "“{}” overlaps the folder of another pair (“{}”): one folder is synced by one pair.",
                    real.display(),
                    other.folder
                )));
            }
            let same_space = other.space == new.space && same_endpoint(&other.endpoint, endpoint);
            let overlaps = |a: &str, b: &str| a.starts_with(b) || b.starts_with(a);
            // One pair's trash folder is not another's files.
            let trashes = (other.trash.as_deref()).is_some_and(|t| overlaps(t, &prefix))
                || trash.as_deref().is_some_and(|t| overlaps(t, &other.prefix));
            if same_space && trashes {
                return Err(Error::InvalidInput(format!(
                    "“{}” overlaps the trash folder of another pair, or its trash folder overlaps another pair's files.",
                    new.space
                )));
            }
            if same_space && overlaps(&prefix, &other.prefix) {
                return Err(Error::InvalidInput(format!(
                    "“{}{}” overlaps what another pair syncs (“{}{}”).",
                    new.space,
                    if prefix.is_empty() {
                        String::new()
                    } else {
                        format!("/{prefix}")
                    },
                    other.space,
                    if other.prefix.is_empty() {
                        String::new()
                    } else {
                        format!("/{}", other.prefix)
                    },
                )));
            }
        }
        let pair = SyncPair {
            id: crate::journal::new_id(),
            folder: real.to_string_lossy().into_owned(),
            connection: connection.to_string(),
            endpoint: endpoint.to_string(),
            space: new.space,
            prefix,
            direction: new.direction,
            deletes: new.deletes,
            trash,
            schedule: new.schedule,
            last_good: None,
            last_run: None,
            last_error: None,
            interrupted: false,
            waiting: None,
            incomplete: None,
        };
        self.store.add_pair(&pair)?;
        Ok(pair)
    }

    /// Sets when a pair syncs on its own.
    pub fn set_schedule(&self, id: &str, schedule: SyncSchedule) -> Result<SyncPair> {
        if let SyncSchedule::Every { minutes } = schedule {
            if minutes < 1 {
                return Err(Error::InvalidInput(
                    "A pair syncs at most once a minute.".into(),
                ));
            }
        }
        self.store.set_schedule(id, schedule)?;
        self.pair(id)
    }

    /// A run nobody asked for waits for the user (or no longer does).
    pub fn set_waiting(&self, id: &str, why: Option<&str>) -> Result<()> {
        self.store.set_waiting(id, why)
    }

    /// Forgets a pair and its baseline; its files stay on both sides.
    pub fn remove_pair(&self, id: &str) -> Result<()> {
        if self.is_busy(id) {
            return Err(Error::InvalidInput(
                "The pair is syncing; stop it first.".into(),
            ));
        }
        // Its plans go with it: none may run for a pair that is gone.
        lock(&self.plans).retain(|_, p| p.pair.id != id);
        self.store.remove_pair(id)
    }

    /// Whether the pair is being planned or run now.
    pub fn is_busy(&self, id: &str) -> bool {
        lock(&self.running).contains_key(id) || lock(&self.planning).contains(id)
    }

    /// Stops a pair's run between two files (what is on its way ends first, or is cancelled).
    pub fn stop(&self, id: &str) {
        if let Some(stop) = lock(&self.running).get(id) {
            stop.cancel();
        }
    }

    /// Stops one file of a run's batch, or (without `file`) the whole run.
    pub(crate) fn cancel(&self, batch: u32, file: Option<u32>) {
        if let Some((all, files)) = lock(&self.batches).get(&batch) {
            match file.and_then(|f| files.get(&f)) {
                Some(one) => one.cancel(),
                None if file.is_none() => all.cancel(),
                None => {}
            }
        }
    }

    pub fn is_running(&self, id: &str) -> bool {
        lock(&self.running).contains_key(id)
    }

    fn keep_plan(&self, made: act::Made) -> u32 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut plans = lock(&self.plans);
        // Plans wait to be run for a while (a plan the window shows is not replaced by one a
        // schedule made); each act re-checks what it acts on, so an older plan never clobbers.
        plans.retain(|_, p| p.made_at.elapsed() < PLAN_KEPT);
        plans.insert(id, Arc::new(made));
        id
    }

    fn take_plan(&self, id: u32) -> Option<Arc<act::Made>> {
        lock(&self.plans).remove(&id)
    }
}

/// "" or a folder ending in "/", with no empty, "." or ".." segment.
fn normal_prefix(prefix: &str) -> Result<String> {
    let p = prefix.trim().trim_start_matches('/');
    if p.is_empty() {
        return Ok(String::new());
    }
    let p = if p.ends_with('/') {
        p.to_string()
    } else {
        format!("{p}/")
    };
    if p[..p.len() - 1]
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(Error::InvalidInput(format!(
            "“{prefix}” is not a folder name a Space can hold."
        )));
    }
    Ok(p)
}
