//! Pairs that sync on their own: on a schedule, or soon after their folder changes (watched
//! through the OS), with a full look every 15 minutes for what a watch can't see. A run nobody
//! asked for never acts on a plan that waits for approval (a first sync, many replacements or
//! deletes): the pair waits for the user, and says so. Every run that fails, or waits, is news
//! for the window to show and notify.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};
use serde::Serialize;
use ts_rs::TS;

use super::{SyncPair, SyncSchedule};
use crate::services::Services;
use spacedock_common::sync::lock;

/// A watched pair is looked at whole at least this often.
pub const FULL_LOOK: Duration = Duration::from_secs(15 * 60);
/// A folder's changes settle this long before its pair syncs.
pub const SETTLE: Duration = Duration::from_secs(2);

/// What a run nobody asked for came to.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum SyncNews {
    Synced {
        pair: String,
        folder: String,
        files: u32,
    },
    Failed {
        pair: String,
        folder: String,
        message: String,
    },
    /// It needs the user's approval before it runs.
    Waiting {
        pair: String,
        folder: String,
        why: String,
    },
}

/// The folders watched, and when each pair last ran on its own.
#[derive(Default)]
pub struct Auto {
    watchers: Mutex<HashMap<String, (PathBuf, notify::RecommendedWatcher)>>,
    /// Pairs whose folder changed, and when it last did.
    changed: Arc<Mutex<HashMap<String, Instant>>>,
    last: Mutex<HashMap<String, Instant>>,
}

impl Auto {
    /// Watches the folders of the pairs that watch (and only those).
    fn watch(&self, pairs: &[SyncPair]) {
        let mut watchers = lock(&self.watchers);
        let wanted: HashSet<&str> = (pairs.iter())
            .filter(|p| p.schedule == SyncSchedule::Watch)
            .map(|p| p.id.as_str())
            .collect();
        watchers.retain(|id, _| wanted.contains(id.as_str()));
        for p in pairs.iter().filter(|p| wanted.contains(p.id.as_str())) {
            let folder = PathBuf::from(&p.folder);
            if watchers.get(&p.id).is_some_and(|(f, _)| *f == folder) {
                continue;
            }
            let (changed, id) = (self.changed.clone(), p.id.clone());
            let watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
                // The engine's own partial files come and go while it downloads: not a change.
                let ours = e.as_ref().is_ok_and(|e| {
                    e.paths.iter().all(|p| {
                        (p.file_name().and_then(|n| n.to_str()))
                            .is_some_and(spacedock_transfer::local::is_partial)
                    })
                });
                if !ours {
                    lock(&changed).insert(id.clone(), Instant::now());
                }
            });
            // A folder that can't be watched is still looked at every FULL_LOOK.
            if let Ok(mut w) = watcher {
                if w.watch(&folder, RecursiveMode::Recursive).is_ok() {
                    watchers.insert(p.id.clone(), (folder, w));
                }
            }
        }
    }

    /// The pairs due now: on a schedule whose time came, or watching a folder that changed and
    /// settled, or not looked at whole for FULL_LOOK.
    fn due(&self, pairs: &[SyncPair], now: Instant) -> Vec<SyncPair> {
        let changed = lock(&self.changed);
        let mut last = lock(&self.last);
        let mut due = Vec::new();
        for p in pairs {
            let since = last.get(&p.id).map(|t| now.duration_since(*t));
            let is_due = match p.schedule {
                SyncSchedule::Manual => false,
                SyncSchedule::Every { minutes } => {
                    since.is_none_or(|s| s >= Duration::from_secs(u64::from(minutes.max(1)) * 60))
                }
                SyncSchedule::Watch => {
                    let settled = changed.get(&p.id).is_some_and(|t| {
                        now.duration_since(*t) >= SETTLE && last.get(&p.id).is_none_or(|l| l < t)
                    });
                    settled || since.is_none_or(|s| s >= FULL_LOOK)
                }
            };
            if is_due {
                last.insert(p.id.clone(), now);
                due.push(p.clone());
            }
        }
        due
    }
}

/// One look at the pairs of the connection open now: runs each that is due, unless it waits
/// for approval. Returns what each run came to.
pub async fn tick(services: &Services) -> Vec<SyncNews> {
    let Ok(active) = services.active().await else {
        return Vec::new();
    };
    let connection = active.profile.id.clone();
    drop(active);
    let Ok(pairs) = super::pairs(services) else {
        return Vec::new();
    };
    let mine: Vec<SyncPair> = pairs
        .into_iter()
        .filter(|p| p.connection == connection)
        .collect();
    let auto = services.auto();
    auto.watch(&mine);
    let mut news = Vec::new();
    for p in auto.due(&mine, Instant::now()) {
        if services.queue().syncs().is_running(&p.id) {
            continue;
        }
        news.push(run_unasked(services, &p).await);
    }
    news
}

/// Plans and runs `pair` for nobody: a plan that waits for approval is left waiting.
pub async fn run_unasked(services: &Services, pair: &SyncPair) -> SyncNews {
    let (id, folder) = (pair.id.clone(), pair.folder.clone());
    let syncs = services.queue().syncs();
    let plan = match super::plan(services, &id).await {
        Ok(plan) => plan,
        Err(e) => {
            return SyncNews::Failed {
                pair: id,
                folder,
                message: e.to_string(),
            };
        }
    };
    if let Some(why) = &plan.approval {
        let _ = syncs.set_waiting(&id, Some(why));
        return SyncNews::Waiting {
            pair: id,
            folder,
            why: why.clone(),
        };
    }
    match super::run(services, plan.plan, false).await {
        Ok(o) if o.failed == 0 && !o.stopped => SyncNews::Synced {
            pair: id,
            folder,
            files: o.uploaded + o.downloaded + o.deleted_remote + o.deleted_local + o.conflicts,
        },
        Ok(o) => SyncNews::Failed {
            pair: id,
            folder,
            message: match o.notes.first() {
                Some(n) => format!("{} file(s) failed; {}: {}", o.failed, n.path, n.message),
                None => "The sync was stopped before it ended.".into(),
            },
        },
        Err(e) => SyncNews::Failed {
            pair: id,
            folder,
            message: e.to_string(),
        },
    }
}
