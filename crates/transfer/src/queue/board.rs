//! The board: every file of every batch this run started, as the queue knows it — what the
//! window's Transfers panel shows. The window keeps no queue of its own: it is handed the rows
//! once, then only the rows that changed, at most every [`EVERY`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::EventSink;
use crate::{FileState, Problem, TransferEvent};
use spacedock_common::sync::lock;

/// How often the window is told what changed: often enough to look live, rarely enough that a
/// folder of small files does not flood it.
const EVERY: Duration = Duration::from_millis(100);

/// What a batch does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Direction {
    Upload,
    Download,
    /// Copies and moves run on the server: their bytes never pass through this computer.
    Copy,
    Move,
    /// Files deleted from a Space (counted in files, not bytes).
    Delete,
    /// An earlier version of a file put back over it, on the server.
    Restore,
    /// A file of this computer moved to the desktop's trash (by a sync).
    Trash,
}

/// One line of the Transfers panel: a file of a batch, or something of it that can't be moved.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TransferRow {
    /// Unique among the rows of this run.
    pub row: u32,
    pub batch: u32,
    /// The file's id in its batch; none for what the plan found can't be moved (it can't be
    /// cancelled or tried again).
    pub file: Option<u32>,
    pub direction: Direction,
    pub space: String,
    /// The key (an upload's new key, a download's or copy's source).
    pub key: String,
    /// Where a copy or move puts the file.
    pub to: Option<String>,
    pub size: u64,
    pub bytes: u64,
    pub state: FileState,
}

/// What changed since the window was last told.
#[derive(Debug, Clone, Default, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TransfersChanged {
    /// New rows and rows that changed, whole.
    pub rows: Vec<TransferRow>,
    /// Rows that are gone.
    pub removed: Vec<u32>,
}

/// A file of a batch as its row first shows it.
pub(crate) struct NewRow {
    pub file: u32,
    pub key: String,
    pub to: Option<String>,
    pub size: u64,
}

/// The Transfers panel's files, counted by state: `busy` of all of them, the rest of those
/// watched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoardCount {
    /// Waiting or running.
    pub busy: usize,
    pub done: usize,
    pub failed: usize,
    pub cancelled: usize,
}

#[derive(Default)]
struct Rows {
    rows: BTreeMap<u32, TransferRow>,
    by_file: HashMap<(u32, u32), u32>,
    next: u32,
    changed: BTreeSet<u32>,
    removed: Vec<u32>,
}

impl Rows {
    fn push(&mut self, row: TransferRow) {
        let id = self.next;
        self.next += 1;
        if let Some(file) = row.file {
            self.by_file.insert((row.batch, file), id);
        }
        self.rows.insert(id, TransferRow { row: id, ..row });
        self.changed.insert(id);
    }

    fn file_mut(&mut self, batch: u32, file: u32) -> Option<&mut TransferRow> {
        let id = *self.by_file.get(&(batch, file))?;
        self.changed.insert(id);
        self.rows.get_mut(&id)
    }

    fn take(&mut self) -> TransfersChanged {
        let changed = std::mem::take(&mut self.changed);
        TransfersChanged {
            rows: (changed.iter())
                .filter_map(|id| self.rows.get(id).cloned())
                .collect(),
            removed: std::mem::take(&mut self.removed),
        }
    }
}

#[derive(Default)]
pub(crate) struct Board {
    rows: Mutex<Rows>,
    /// Where changes go: the window watching, if any.
    watcher: Mutex<Option<EventSink<TransfersChanged>>>,
    /// A send is on its way.
    due: Arc<AtomicBool>,
}

impl Board {
    /// Hands every row to `watcher`'s caller, and from now on each change to `watcher` (a window
    /// loaded again replaces the one before).
    pub fn watch(self: &Arc<Self>, watcher: EventSink<TransfersChanged>) -> Vec<TransferRow> {
        let mut rows = lock(&self.rows);
        rows.changed.clear();
        rows.removed.clear();
        *lock(&self.watcher) = Some(watcher);
        rows.rows.values().cloned().collect()
    }

    pub fn rows(&self) -> Vec<TransferRow> {
        lock(&self.rows).rows.values().cloned().collect()
    }

    /// Counts the files: how many are waiting or running now, and how the files of `watched`
    /// stand. Each file waiting or running joins `watched` (so a stretch of work is told by what
    /// each of its files did, whatever was on the panel before or was cleared meanwhile).
    pub fn count(&self, watched: &mut BTreeSet<u32>) -> BoardCount {
        let rows = lock(&self.rows);
        let mut count = BoardCount::default();
        for row in rows.rows.values().filter(|r| r.file.is_some()) {
            if matches!(row.state, FileState::Queued | FileState::Running) {
                count.busy += 1;
                watched.insert(row.row);
            }
        }
        for row in watched.iter().filter_map(|id| rows.rows.get(id)) {
            match row.state {
                FileState::Queued | FileState::Running => {}
                FileState::Done | FileState::Skipped => count.done += 1,
                FileState::Failed { .. } => count.failed += 1,
                FileState::Cancelled => count.cancelled += 1,
            }
        }
        count
    }

    /// A batch's first run: its files, waiting, and what its plan found can't be moved.
    pub fn add(
        self: &Arc<Self>,
        batch: u32,
        direction: Direction,
        space: &str,
        files: impl IntoIterator<Item = NewRow>,
        problems: &[Problem],
    ) {
        {
            let mut rows = lock(&self.rows);
            for p in problems {
                rows.push(problem_row(batch, direction, space, p));
            }
            for f in files {
                rows.push(TransferRow {
                    row: 0,
                    batch,
                    file: Some(f.file),
                    direction,
                    space: space.to_string(),
                    key: f.key,
                    to: f.to,
                    size: f.size,
                    bytes: 0,
                    state: FileState::Queued,
                });
            }
        }
        self.changed();
    }

    /// A batch whose files each go their own way (a sync's): direction, id, key, size.
    pub fn add_rows(
        self: &Arc<Self>,
        batch: u32,
        space: &str,
        files: impl IntoIterator<Item = (Direction, u32, String, u64)>,
    ) {
        {
            let mut rows = lock(&self.rows);
            for (direction, file, key, size) in files {
                rows.push(TransferRow {
                    row: 0,
                    batch,
                    file: Some(file),
                    direction,
                    space: space.to_string(),
                    key,
                    to: None,
                    size,
                    bytes: 0,
                    state: FileState::Queued,
                });
            }
        }
        self.changed();
    }

    /// Whether the batch has rows (it ran, and was not cleared).
    pub fn has(&self, batch: u32) -> bool {
        lock(&self.rows).rows.values().any(|r| r.batch == batch)
    }

    /// Whether any file of the batch is waiting or on its way.
    pub fn is_busy(&self, batch: u32) -> bool {
        (lock(&self.rows).rows.values()).any(|r| r.batch == batch && is_unfinished(&r.state))
    }

    /// What a run found can't be moved, beside its files.
    pub fn problems(self: &Arc<Self>, batch: u32, problems: &[Problem]) {
        if problems.is_empty() {
            return;
        }
        {
            let mut rows = lock(&self.rows);
            let Some(first) = rows.rows.values().find(|r| r.batch == batch).cloned() else {
                return;
            };
            for p in problems {
                rows.push(problem_row(batch, first.direction, &first.space, p));
            }
        }
        self.changed();
    }

    /// A file's news.
    pub fn apply(self: &Arc<Self>, batch: u32, e: &TransferEvent) {
        {
            let mut rows = lock(&self.rows);
            let Some(row) = rows.file_mut(batch, e.id) else {
                return;
            };
            row.bytes = match &e.state {
                FileState::Running | FileState::Done => e.bytes,
                _ => 0,
            };
            row.state = e.state.clone();
        }
        self.changed();
    }

    /// A file given another name than planned (Keep both): its row says where it went.
    pub fn renamed(self: &Arc<Self>, batch: u32, file: u32, to: &str, direction: Direction) {
        {
            let mut rows = lock(&self.rows);
            let Some(row) = rows.file_mut(batch, file) else {
                return;
            };
            match direction {
                Direction::Upload => row.key = to.to_string(),
                _ => row.to = Some(to.to_string()),
            }
        }
        self.changed();
    }

    /// Files about to run again: waiting, with nothing moved.
    pub fn requeue(self: &Arc<Self>, batch: u32, files: &[u32]) {
        {
            let mut rows = lock(&self.rows);
            for f in files {
                if let Some(row) = rows.file_mut(batch, *f) {
                    row.state = FileState::Queued;
                    row.bytes = 0;
                }
            }
        }
        self.changed();
    }

    /// A run that ended in an error: its files not finished failed with it.
    pub fn fail_unfinished(self: &Arc<Self>, batch: u32, state: &FileState) {
        {
            let mut rows = lock(&self.rows);
            let ids: Vec<u32> = (rows.rows.values())
                .filter(|r| r.batch == batch && is_unfinished(&r.state))
                .map(|r| r.row)
                .collect();
            for id in ids {
                if let Some(row) = rows.rows.get_mut(&id) {
                    row.state = state.clone();
                    row.bytes = 0;
                }
                rows.changed.insert(id);
            }
        }
        self.changed();
    }

    /// The files of a batch that failed or were cancelled: what a retry runs again.
    pub fn to_retry(&self, batch: u32) -> Vec<u32> {
        (lock(&self.rows).rows.values())
            .filter(|r| r.batch == batch)
            .filter(|r| matches!(r.state, FileState::Failed { .. } | FileState::Cancelled))
            .filter_map(|r| r.file)
            .collect()
    }

    /// Removes the rows of files that finished (or can't be moved), and of `batch` if given
    /// (all of its rows). Returns the batches left with no row.
    pub fn clear(self: &Arc<Self>, batch: Option<u32>) -> BTreeSet<u32> {
        let gone = {
            let mut rows = lock(&self.rows);
            let had: BTreeSet<u32> = rows.rows.values().map(|r| r.batch).collect();
            let leaving: Vec<u32> = (rows.rows.values())
                .filter(|r| match batch {
                    Some(b) => r.batch == b,
                    None => !is_unfinished(&r.state),
                })
                .map(|r| r.row)
                .collect();
            for id in leaving {
                if let Some(r) = rows.rows.remove(&id) {
                    if let Some(file) = r.file {
                        rows.by_file.remove(&(r.batch, file));
                    }
                }
                rows.changed.remove(&id);
                rows.removed.push(id);
            }
            let left: BTreeSet<u32> = rows.rows.values().map(|r| r.batch).collect();
            had.difference(&left).copied().collect()
        };
        self.changed();
        gone
    }

    /// Tells the watcher soon: changes within [`EVERY`] go out together.
    fn changed(self: &Arc<Self>) {
        if self.due.swap(true, Ordering::SeqCst) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let board = self.clone();
                runtime.spawn(async move {
                    tokio::time::sleep(EVERY).await;
                    board.send();
                });
            }
            Err(_) => self.send(),
        }
    }

    fn send(&self) {
        self.due.store(false, Ordering::SeqCst);
        // The news and whom it is for are taken together: a window that starts watching after
        // this is handed rows that already hold it, and never gets it late, over newer rows.
        let (news, watcher) = {
            let mut rows = lock(&self.rows);
            (rows.take(), lock(&self.watcher).clone())
        };
        if news.rows.is_empty() && news.removed.is_empty() {
            return;
        }
        if let Some(watcher) = watcher {
            watcher(news);
        }
    }
}

fn is_unfinished(state: &FileState) -> bool {
    matches!(state, FileState::Queued | FileState::Running)
}

fn problem_row(batch: u32, direction: Direction, space: &str, p: &Problem) -> TransferRow {
    TransferRow {
        row: 0,
        batch,
        file: None,
        direction,
        space: space.to_string(),
        key: p.path.clone(),
        to: None,
        size: 0,
        bytes: 0,
        state: FileState::Failed {
            kind: crate::error::ErrorKind::InvalidInput,
            message: p.message.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board() -> (Arc<Board>, Arc<Mutex<Vec<TransfersChanged>>>) {
        let board = Arc::new(Board::default());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        board.watch(Arc::new(move |c| lock(&sink).push(c)));
        (board, seen)
    }

    fn files(n: u32) -> Vec<NewRow> {
        (0..n)
            .map(|i| NewRow {
                file: i,
                key: format!("k{i}"),
                to: None,
                size: 10,
            })
            .collect()
    }

    #[test]
    fn a_watcher_gets_each_change_once_and_a_new_watcher_gets_every_row() {
        let (board, seen) = board();
        let problem = Problem {
            path: "bad".into(),
            message: "why".into(),
        };
        board.add(1, Direction::Upload, "s", files(2), &[problem]);
        let event = |id, state| TransferEvent {
            id,
            bytes: 10,
            state,
        };
        board.apply(1, &event(0, FileState::Done));
        board.apply(1, &event(1, FileState::Cancelled));
        // No runtime here: each change goes out at once.
        let news = lock(&seen).clone();
        assert_eq!(news.len(), 3);
        assert_eq!(news[0].rows.len(), 3);
        assert_eq!(news[1].rows[0].state, FileState::Done);
        assert_eq!(news[1].rows[0].bytes, 10);
        assert_eq!(
            news[2].rows[0].bytes, 0,
            "a cancelled file shows nothing moved"
        );
        assert_eq!(board.to_retry(1), vec![1]);
        board.requeue(1, &[1]);
        assert_eq!(board.to_retry(1), Vec::<u32>::new());

        let rows = board.watch(Arc::new(|_| {}));
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().any(|r| r.file.is_none() && r.key == "bad"));
    }

    #[test]
    fn clearing_keeps_what_still_runs_and_says_which_batches_are_gone() {
        let (board, seen) = board();
        board.add(1, Direction::Download, "s", files(2), &[]);
        board.add(2, Direction::Copy, "s", files(1), &[]);
        let done = TransferEvent {
            id: 0,
            bytes: 10,
            state: FileState::Done,
        };
        board.apply(1, &done);
        board.apply(2, &done);
        let gone = board.clear(None);
        assert_eq!(gone, BTreeSet::from([2]));
        let rows = board.rows();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].batch, rows[0].file), (1, Some(1)));
        assert_eq!(lock(&seen).last().map(|c| c.removed.len()), Some(2));
        // A change to a cleared row goes nowhere.
        board.apply(2, &done);
        assert_eq!(board.rows().len(), 1);
        assert_eq!(board.clear(Some(1)), BTreeSet::from([1]));
        assert!(board.rows().is_empty());
    }

    #[tokio::test]
    async fn changes_close_together_go_out_together() {
        let (board, seen) = board();
        board.add(1, Direction::Upload, "s", files(50), &[]);
        for id in 0..50 {
            let e = TransferEvent {
                id,
                bytes: 10,
                state: FileState::Done,
            };
            board.apply(1, &e);
        }
        assert!(lock(&seen).is_empty(), "nothing is sent at once");
        tokio::time::sleep(EVERY * 3).await;
        let news = lock(&seen).clone();
        assert_eq!(news.len(), 1);
        assert_eq!(news[0].rows.len(), 50);
        assert!(news[0].rows.iter().all(|r| r.state == FileState::Done));
    }
}
