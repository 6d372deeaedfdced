//! Pairs that sync on their own: on a schedule, or soon after their folder changes (watched
//! through the OS), with a full look every 15 minutes for what a watch can't see. A run nobody
//! asked for never acts on a plan that waits for approval (a first sync, many replacements or
//! deletes): the pair waits for the user, and says so, once. Every run that fails, waits, or
//! leaves something undone is news for the window to show and notify; so is a pair that can't
//! run on its own (its connection is not the one open, its folder can't be watched).

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
/// A run nobody asked for that failed is tried again after this long (or its interval, if shorter).
pub const AFTER_FAILURE: Duration = Duration::from_secs(5 * 60);

/// What a run nobody asked for came to, or why a pair can't run on its own.
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
    /// It went through, but left something undone (deletes held back, files it can't sync).
    Incomplete {
        pair: String,
        folder: String,
        what: String,
    },
    Failed {
        pair: String,
        folder: String,
        message: String,
    },
    /// It needs the user's approval (or the user's connection) before it runs.
    Waiting {
        pair: String,
        folder: String,
        why: String,
    },
}

/// The folders watched, and when each pair runs on its own next.
#[derive(Default)]
pub struct Auto {
    watchers: Mutex<HashMap<String, (PathBuf, notify::RecommendedWatcher)>>,
    /// Folders that could not be watched (said once; they are looked at every FULL_LOOK).
    unwatched: Mutex<HashSet<String>>,
    /// Pairs whose folder changed, and when it last did.
    changed: Arc<Mutex<HashMap<String, Instant>>>,
    /// When each pair last ran on its own, and when it is due again at the latest.
    ran: Mutex<HashMap<String, (Instant, Instant)>>,
    /// The last error reading the pairs, said once.
    said: Mutex<Option<String>>,
}

impl Auto {
    /// Watches the folders of the pairs that watch (and only those). Returns news of folders
    /// that can't be watched, once each.
    fn watch(&self, pairs: &[SyncPair]) -> Vec<SyncNews> {
        let mut news = Vec::new();
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
            if lock(&self.unwatched).contains(&p.id) {
                continue;
            }
            let (changed, id) = (self.changed.clone(), p.id.clone());
            let watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
                // The engine's own partial files come and go while it downloads: not a change.
                // (An event naming no file, such as an overflow, is a change: something was missed.)
                let ours = e.as_ref().is_ok_and(|e| {
                    !e.paths.is_empty()
                        && e.paths.iter().all(|p| {
                            (p.file_name().and_then(|n| n.to_str()))
                                .is_some_and(spacedock_transfer::local::is_partial)
                        })
                });
                if !ours {
                    lock(&changed).insert(id.clone(), Instant::now());
                }
            });
            let watched =
                watcher.and_then(|mut w| w.watch(&folder, RecursiveMode::Recursive).map(|()| w));
            match watched {
                Ok(w) => {
                    watchers.insert(p.id.clone(), (folder, w));
                }
                Err(e) => {
                    lock(&self.unwatched).insert(p.id.clone());
                    news.push(SyncNews::Failed {
                        pair: p.id.clone(),
                        folder: p.folder.clone(),
                        message: format!(
                            "The folder can't be watched ({e}); it is synced every 15 minutes instead."
                        ),
                    });
                }
            }
        }
        news
    }

    /// The pairs due now: on a schedule whose time came, or watching a folder that changed and
    /// settled, or not looked at whole for FULL_LOOK.
    fn due(&self, pairs: &[SyncPair], now: Instant) -> Vec<SyncPair> {
        let changed = lock(&self.changed);
        let ran = lock(&self.ran);
        let mut due = Vec::new();
        for p in pairs {
            let (last, next) = match ran.get(&p.id) {
                Some((last, next)) => (Some(*last), Some(*next)),
                None => (None, None),
            };
            let timed = next.is_none_or(|n| now >= n);
            let is_due = match p.schedule {
                SyncSchedule::Manual => false,
                SyncSchedule::Every { .. } => timed,
                SyncSchedule::Watch => {
                    let settled = changed.get(&p.id).is_some_and(|t| {
                        now.duration_since(*t) >= SETTLE && last.is_none_or(|l| l < *t)
                    });
                    settled || timed
                }
            };
            if is_due {
                due.push(p.clone());
            }
        }
        due
    }

    /// A pair ran (or tried to) at `started`: when it is due again at the latest.
    fn ran(&self, p: &SyncPair, started: Instant, failed: bool) {
        let every = match p.schedule {
            SyncSchedule::Every { minutes } => Duration::from_secs(u64::from(minutes.max(1)) * 60),
            _ => FULL_LOOK,
        };
        let wait = if failed {
            every.min(AFTER_FAILURE)
        } else {
            every
        };
        lock(&self.ran).insert(p.id.clone(), (started, started + wait));
    }
}

/// One look at the pairs: runs each of the open connection's that is due, unless it waits for
/// the user. Returns what each run came to, and news of pairs that can't run on their own.
pub async fn tick(services: &Services) -> Vec<SyncNews> {
    let auto = services.auto();
    let pairs = match super::pairs(services) {
        Ok(pairs) => {
            *lock(&auto.said) = None;
            pairs
        }
        Err(e) => {
            let message = e.to_string();
            let mut said = lock(&auto.said);
            if said.as_deref() == Some(message.as_str()) {
                return Vec::new();
            }
            *said = Some(message.clone());
            return vec![SyncNews::Failed {
                pair: String::new(),
                folder: String::new(),
                message,
            }];
        }
    };
    let scheduled: Vec<SyncPair> = pairs
        .into_iter()
        .filter(|p| p.schedule != SyncSchedule::Manual)
        .collect();
    if scheduled.is_empty() {
        return Vec::new();
    }
    let Ok(active) = services.active().await else {
        return Vec::new();
    };
    let connection = active.profile.id.clone();
    drop(active);
    let syncs = services.queue().syncs();
    let mut news = Vec::new();
    // A pair of another saved connection can't run now: it says so, once.
    const ELSEWHERE: &str = "it syncs through another saved connection; connect with that one";
    for p in scheduled
        .iter()
        .filter(|p| p.connection != connection && p.waiting.is_none())
    {
        let _ = syncs.set_waiting(&p.id, Some(ELSEWHERE));
        news.push(SyncNews::Waiting {
            pair: p.id.clone(),
            folder: p.folder.clone(),
            why: ELSEWHERE.into(),
        });
    }
    let mine: Vec<SyncPair> = scheduled
        .into_iter()
        .filter(|p| p.connection == connection)
        .collect();
    news.extend(auto.watch(&mine));
    for p in mine
        .iter()
        .filter(|p| p.waiting.as_deref() == Some(ELSEWHERE))
    {
        let _ = syncs.set_waiting(&p.id, None);
    }
    let ready: Vec<SyncPair> = (mine.into_iter())
        .filter(|p| p.waiting.is_none() || p.waiting.as_deref() == Some(ELSEWHERE))
        .collect();
    for p in auto.due(&ready, Instant::now()) {
        // A pair the user is planning or running is left to them; it is looked at next time.
        if syncs.is_busy(&p.id) {
            continue;
        }
        let started = Instant::now();
        let said = run_unasked(services, &p).await;
        auto.ran(&p, started, matches!(said, SyncNews::Failed { .. }));
        // A pair that is still incomplete as it was is not news again.
        if let SyncNews::Incomplete { what, .. } = &said {
            if p.incomplete.as_deref() == Some(what.as_str()) {
                continue;
            }
        }
        news.push(said);
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
        Ok(o) if o.failed == 0 && !o.stopped => {
            let now = super::pairs(services)
                .ok()
                .and_then(|ps| ps.into_iter().find(|p| p.id == id));
            match now.and_then(|p| p.incomplete) {
                Some(what) => SyncNews::Incomplete {
                    pair: id,
                    folder,
                    what,
                },
                None => SyncNews::Synced {
                    pair: id,
                    folder,
                    files: o.uploaded
                        + o.downloaded
                        + o.deleted_remote
                        + o.deleted_local
                        + o.conflicts,
                },
            }
        }
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
