//! The queue: every batch that writes, copies, moves or fetches files, owned in one place with
//! what they share — the bandwidth limits and what the link showed each way, the local paths
//! running downloads write to, the records of big files in flight, the switch that stops
//! everything at quit — and the journal that keeps each batch, file by file, across a quit or a
//! crash. The window sees the queue through ids; clients, paths and switches stay here.

mod board;
mod copies;
mod deletes;
mod downloads;
mod resume;
mod uploads;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use board::{BoardCount, Direction, TransferRow, TransfersChanged};
pub use copies::{CopyRequest, PlannedCopy, QueuedCopy, RestoredVersion};
pub use downloads::{PlannedDownload, QueuedDownload};
pub use resume::{BatchResumed, InterruptedBatch};
pub use uploads::{PlannedUpload, UploadPlan, UploadSummary};

use crate::adapt::Link;
use crate::copy::CopyMode;
use crate::journal::{Journal, Mark};
use crate::local::LocalClaims;
use crate::pace::Pace;
use crate::unfinished::{DownloadFolders, PartialDownloads, Unfinished};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::{Cancel, Conflict, FileAcl, FileState, Target, TransferEvent};
use spacedock_common::sync::lock;
use spacedock_s3::SpaceRef;

/// Where progress and news go: one type for every kind of event.
pub type EventSink<T> = Arc<dyn Fn(T) + Send + Sync>;

/// What the queue starts with.
pub struct QueueSetup {
    /// The app's data folder: the journal and the records of big files in flight.
    pub data_dir: PathBuf,
    pub upload_limit: Option<u64>,
    pub download_limit: Option<u64>,
    /// The most files moving at once (None: as many as helps).
    pub files_at_once: Option<usize>,
    /// Lines for the app's log.
    pub log: EventSink<String>,
}

impl QueueSetup {
    /// A queue keeping its journal and records in `data_dir`, with no limits and no log.
    pub fn in_folder(data_dir: &std::path::Path) -> QueueSetup {
        QueueSetup {
            data_dir: data_dir.to_path_buf(),
            upload_limit: None,
            download_limit: None,
            files_at_once: None,
            log: Arc::new(|_| {}),
        }
    }
}

pub struct Queue {
    uploads: Mutex<HashMap<u32, uploads::UploadBatch>>,
    downloads: Mutex<HashMap<u32, downloads::DownloadBatch>>,
    copies: Mutex<HashMap<u32, copies::CopyBatch>>,
    next: AtomicU32,
    journal: Arc<Journal>,
    /// What the window shows: every file of every batch this run started.
    pub(crate) board: Arc<board::Board>,
    unfinished: Arc<Unfinished>,
    partials: Arc<PartialDownloads>,
    writing: Arc<DownloadFolders>,
    /// Cancelled at quit, which every batch's and file's stop is under: a batch stops starting
    /// files and stops the ones it can, keeping what can be resumed.
    pub(crate) quit: CancellationToken,
    /// Download and copy batches running now.
    running: Arc<AtomicUsize>,
    claims: LocalClaims,
    /// Download batches that brought their whole selection (and left the queue).
    whole: Mutex<HashSet<u32>>,
    pace_up: Pace,
    pace_down: Pace,
    link_up: Link,
    link_down: Link,
    files_at_once: AtomicUsize,
    log: EventSink<String>,
    /// Sync pairs, their baselines, and their runs.
    pub(crate) syncs: crate::sync::Syncs,
}

/// The journal's description of a batch: whose it is, where, and what was chosen.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchSpec {
    /// The saved connection it belongs to.
    pub connection: String,
    pub endpoint: String,
    pub space: String,
    pub job: JobSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub(crate) enum JobSpec {
    Upload {
        prefix: String,
        acl: FileAcl,
        conflict: Conflict,
    },
    Download {
        dest: PathBuf,
        conflict: Conflict,
    },
    Copy {
        to_space: String,
        mode: CopyMode,
        conflict: Conflict,
        /// New keys taken at the plan, with their ETag then.
        existing: HashMap<String, String>,
    },
    Delete,
}

impl JobSpec {
    fn kind(&self) -> &'static str {
        match self {
            JobSpec::Upload { .. } => "upload",
            JobSpec::Delete => "delete",
            JobSpec::Download { .. } => "download",
            JobSpec::Copy {
                mode: CopyMode::Copy,
                ..
            } => "copy",
            JobSpec::Copy {
                mode: CopyMode::Move,
                ..
            } => "move",
            JobSpec::Copy {
                mode: CopyMode::Restore,
                ..
            } => "restore",
        }
    }
}

/// Counts a batch as running until dropped.
pub(crate) struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Queue {
    pub fn new(setup: QueueSetup) -> Queue {
        let (pace_up, pace_down) = (Pace::default(), Pace::default());
        pace_up.set(setup.upload_limit);
        pace_down.set(setup.download_limit);
        let data = &setup.data_dir;
        let journal = Journal::open(&data.join("transfers.sqlite3"));
        if let Some(notice) = journal.take_notice() {
            (setup.log)(notice);
        }
        Queue {
            uploads: Mutex::default(),
            downloads: Mutex::default(),
            copies: Mutex::default(),
            next: AtomicU32::new(0),
            journal: Arc::new(journal),
            board: Arc::default(),
            unfinished: Arc::new(Unfinished::new(data.join("unfinished-uploads.json"))),
            partials: Arc::new(PartialDownloads::new(data.join("partial-downloads.json"))),
            writing: Arc::new(DownloadFolders::new(
                data.join("downloads-writing-into.json"),
            )),
            quit: CancellationToken::new(),
            running: Arc::default(),
            claims: LocalClaims::default(),
            whole: Mutex::default(),
            pace_up,
            pace_down,
            link_up: Link::default(),
            link_down: Link::default(),
            files_at_once: AtomicUsize::new(setup.files_at_once.unwrap_or(0)),
            log: setup.log,
            syncs: crate::sync::Syncs::open(data),
        }
    }

    /// Multipart uploads in flight, noted on disk so that a quit or a crash can be resumed.
    pub fn unfinished(&self) -> &Arc<Unfinished> {
        &self.unfinished
    }

    /// Big downloads in flight, noted on disk with the ranges they have.
    pub fn partials(&self) -> &Arc<PartialDownloads> {
        &self.partials
    }

    /// The folders running downloads write into, noted so a crash's partial files are removed.
    pub fn writing(&self) -> &Arc<DownloadFolders> {
        &self.writing
    }

    /// The stop of a transfer resumed on its own: only a quit stops it (as a pause).
    pub fn stop_at_quit(&self) -> Cancel {
        Cancel::under(&self.quit, &self.quit)
    }

    /// A Space as uploads reach it: the upload limit and link, multipart uploads noted.
    pub fn upload_target(&self, at: &SpaceRef) -> Target {
        Target {
            client: at.client.clone(),
            endpoint: at.endpoint.clone(),
            space: at.name.clone(),
            unfinished: Some(self.unfinished.clone()),
            pace: self.pace_up.clone(),
            link: self.link_up.clone(),
        }
    }

    /// A Space as downloads reach it: the download limit and link.
    pub fn download_target(&self, at: &SpaceRef) -> Target {
        Target {
            unfinished: None,
            pace: self.pace_down.clone(),
            link: self.link_down.clone(),
            ..self.upload_target(at)
        }
    }

    /// New bandwidth limits (bytes per second, None for none) and files at once; running
    /// transfers take the bandwidth ones at once.
    pub fn set_limits(&self, up: Option<u64>, down: Option<u64>, files_at_once: Option<usize>) {
        self.pace_up.set(up);
        self.pace_down.set(down);
        self.files_at_once
            .store(files_at_once.unwrap_or(0), Ordering::SeqCst);
    }

    /// The bandwidth limits now, up and down (bytes per second).
    pub fn rates(&self) -> (Option<u64>, Option<u64>) {
        (self.pace_up.rate(), self.pace_down.rate())
    }

    /// The most files that move at once now.
    pub fn files_at_once(&self) -> usize {
        match self.files_at_once.load(Ordering::SeqCst) {
            0 => crate::download::FILES_IN_FLIGHT,
            n => n,
        }
    }

    pub(crate) fn next_batch(&self) -> u32 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn running(&self) -> Running {
        self.running.fetch_add(1, Ordering::SeqCst);
        Running(self.running.clone())
    }

    /// Events of a batch go to the board (a batch of this run's, `batch`), to the journal if it
    /// is journaled (each file's end, except the stops a quit makes, which leave the file to be
    /// resumed), and to `events`.
    fn tracked(
        &self,
        batch: Option<u32>,
        id: Option<&str>,
        events: EventSink<TransferEvent>,
    ) -> EventSink<TransferEvent> {
        let board = self.board.clone();
        let (journal, quit, id) = (
            self.journal.clone(),
            self.quit.clone(),
            id.map(String::from),
        );
        Arc::new(move |e: TransferEvent| {
            if let Some(batch) = batch {
                board.apply(batch, &e);
            }
            let mark = match &e.state {
                FileState::Done => Some((Mark::Done, None)),
                FileState::Skipped => Some((Mark::Skipped, None)),
                FileState::Failed { message, .. } => Some((Mark::Failed, Some(message.clone()))),
                FileState::Cancelled if !quit.is_cancelled() => Some((Mark::Cancelled, None)),
                _ => None,
            };
            if let (Some(id), Some((mark, message))) = (&id, mark) {
                journal.mark(id, e.id, mark, message);
            }
            events(e)
        })
    }

    /// Every row of the Transfers panel, and from now on each change to `watcher`.
    pub fn watch(&self, watcher: EventSink<TransfersChanged>) -> Vec<TransferRow> {
        self.board.watch(watcher)
    }

    /// Every row of the Transfers panel.
    pub fn rows(&self) -> Vec<TransferRow> {
        self.board.rows()
    }

    /// The Transfers panel's files waiting or running, and how those of `watched` stand (each
    /// file waiting or running joins it).
    pub fn count(&self, watched: &mut std::collections::BTreeSet<u32>) -> BoardCount {
        self.board.count(watched)
    }

    /// Cancels one file of a batch, or (without `file`) all of it, whatever the batch does.
    pub fn cancel(&self, batch: u32, file: Option<u32>) {
        self.cancel_upload(batch, file);
        self.cancel_download(batch, file);
        self.cancel_copy(batch, file);
        self.syncs.cancel(batch, file);
    }

    /// Runs again a batch's files that failed or were cancelled, with the choices of its first
    /// run. Says how many.
    pub async fn retry(&self, batch: u32) -> Result<usize> {
        // A run still going ends first: two runs of one batch would each act on its files.
        let running = lock(&self.uploads)
            .get(&batch)
            .is_some_and(|b| b.is_running())
            || lock(&self.downloads)
                .get(&batch)
                .is_some_and(|b| b.is_running())
            || lock(&self.copies)
                .get(&batch)
                .is_some_and(|b| b.is_running());
        if running || self.board.is_busy(batch) {
            return Err(Error::InvalidInput(
                "Some of its files are still on their way: try again once they end.".into(),
            ));
        }
        let files = self.board.to_retry(batch);
        if files.is_empty() {
            return Ok(0);
        }
        self.board.requeue(batch, &files);
        let count = files.len();
        let none: EventSink<TransferEvent> = Arc::new(|_| {});
        let upload = lock(&self.uploads).get(&batch).map(|b| b.retry_choices());
        let ran = if let Some((acl, conflict)) = upload {
            self.run_upload(batch, acl, conflict, Some(files), none)
                .await
                .map(|_| ())
        } else if lock(&self.downloads).contains_key(&batch) {
            // The first run's choice is kept: the one given here is not used.
            (self
                .run_download(batch, Conflict::Skip, Some(files), none)
                .await)
                .map(|_| ())
        } else if lock(&self.copies).contains_key(&batch) {
            (self
                .run_copy(batch, Conflict::Skip, Some(files), none)
                .await)
                .map(|_| ())
        } else {
            Err(Error::Gone(
                "That transfer is no longer in the queue.".into(),
            ))
        };
        if let Err(e) = &ran {
            self.board.fail_unfinished(batch, &failed(e));
        }
        ran.map(|_| count)
    }

    /// Clears the rows of files that finished (with `batch`, every row of that batch, which is
    /// cancelled). A batch left with no row is forgotten: nothing of it can be tried again.
    pub fn clear(&self, batch: Option<u32>) {
        if let Some(b) = batch {
            self.cancel(b, None);
        }
        for gone in self.board.clear(batch) {
            // A batch still running is forgotten when its run ends (see `ended`).
            let mut uploads = lock(&self.uploads);
            if uploads.get(&gone).is_some_and(|u| !u.is_running()) {
                uploads.remove(&gone);
            }
            drop(uploads);
            let mut downloads = lock(&self.downloads);
            if downloads.get(&gone).is_some_and(|d| !d.is_running()) {
                downloads.remove(&gone);
            }
            drop(downloads);
            let mut copies = lock(&self.copies);
            if copies.get(&gone).is_some_and(|c| !c.is_running()) {
                copies.remove(&gone);
            }
        }
    }

    /// A run of `batch` ended: a batch whose rows were cleared meanwhile is forgotten.
    fn forget_if_cleared(&self, batch: u32) {
        if self.board.has(batch) {
            return;
        }
        lock(&self.uploads).remove(&batch);
        lock(&self.downloads).remove(&batch);
        lock(&self.copies).remove(&batch);
    }

    /// At quit: pauses every transfer, and waits up to `limit` for them to stop. Multipart
    /// uploads and big downloads stay noted, every file not finished stays in the journal, and
    /// the next start offers to resume them; a copy or move finishes the files it began (a move
    /// removes their originals), so no file is left in two places, and starts no more.
    pub fn stop_all(&self, limit: Duration) {
        // Quitting first: the stops that follow are a quit's, which the journal does not take
        // for the user's cancel.
        self.quit.cancel();
        let started = Instant::now();
        let busy = || {
            self.unfinished.in_flight_here() > 0
                || self.partials.in_flight_here() > 0
                || self.running.load(Ordering::SeqCst) > 0
        };
        while busy() && started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.journal.flush();
    }

    /// At start: removes the partial files that downloads a crash stopped left behind (those a
    /// resume can use stay). Returns how many.
    pub fn sweep_left_partials(&self) -> usize {
        crate::unfinished::sweep_left_partials(&self.writing, &self.partials)
    }

    /// Forgets noted downloads into `folder` (a drag's staging, removed at start): no drop
    /// would use them after a quit.
    pub fn forget_downloads_under(&self, folder: &Path) {
        for d in self.partials.list() {
            if d.dest.starts_with(folder) {
                self.partials.remove(&crate::unfinished::Noted::id(&d));
            }
        }
    }

    fn say(&self, line: String) {
        (self.log)(line)
    }
}

/// A file's state after its run ended in `e`.
fn failed(e: &Error) -> FileState {
    FileState::Failed {
        kind: e.kind(),
        message: e.to_string(),
    }
}
