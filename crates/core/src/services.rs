//! What Spacedock holds while it runs, in one place: the keychain, the saved settings, the log,
//! the local sandbox, the active connection and the transfer queue. The app hands a window's
//! commands to the services beside each domain (`connection::service`, `space::page`, `files`,
//! `keys::service`, `transfer::upload_batch`, `transfer::download_batch`), which all work on
//! this; the tests build it with a [`crate::settings::FileStore`] and no window.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::RwLock;

use crate::connection::active::Active;
use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::keychain::Keychain;
use crate::sandbox::Sandbox;
use crate::settings::{Settings, Store};
use crate::transfer::adapt::Link;
use crate::transfer::cancel::Flag;
use crate::transfer::copy_batch::CopyBatch;
use crate::transfer::download_batch::DownloadBatch;
use crate::transfer::local::LocalClaims;
use crate::transfer::pace::Pace;
use crate::transfer::unfinished::{DownloadFolders, PartialDownloads, Unfinished};
use crate::transfer::upload_batch::UploadBatch;
use crate::transfer::Cancel;

/// Where the services keep their things.
pub struct Setup {
    /// The keychain's service name (the app identifier): each secret is an account under it.
    pub keychain_service: String,
    /// The app's data folder: the sandbox and the record of unfinished uploads.
    pub data_dir: PathBuf,
    pub log_dir: Option<PathBuf>,
    pub store: Box<dyn Store>,
    /// Connect to the local sandbox at once (`--sandbox`).
    pub start_on_sandbox: bool,
}

pub struct Services {
    pub keychain: Keychain,
    pub settings: Settings,
    pub journal: Journal,
    pub sandbox_dir: PathBuf,
    pub sandbox: Mutex<Option<Sandbox>>,
    pub active: RwLock<Option<Active>>,
    /// Uploads planned or running, by batch id.
    pub uploads: Mutex<HashMap<u32, UploadBatch>>,
    /// Downloads planned and waiting for the user's choice, by batch id.
    pub downloads: Mutex<HashMap<u32, DownloadBatch>>,
    /// Copies and moves planned or kept to try again, by batch id.
    pub copies: Mutex<HashMap<u32, CopyBatch>>,
    next_batch: AtomicU32,
    /// Multipart uploads in flight, noted on disk so that a quit or a crash can be resumed.
    pub unfinished: Arc<Unfinished>,
    /// Big downloads in flight, noted on disk with the ranges they have, for the same reason.
    pub partials: Arc<PartialDownloads>,
    /// The folders running downloads write into, noted so a crash's partial files are removed.
    pub writing: Arc<DownloadFolders>,
    /// Paused at quit: the transfers being resumed.
    pub resuming: Cancel,
    /// Set at quit: every download and copy stops starting files, and stops the ones it can.
    pub quitting: Arc<Flag>,
    /// Download and copy batches running now.
    running: Arc<AtomicUsize>,
    /// The local paths every running download writes to.
    pub claims: LocalClaims,
    /// Download batches that brought their whole selection (and left the queue).
    pub downloads_whole: Mutex<std::collections::HashSet<u32>>,
    /// Connections whose DigitalOcean token was seen, this run, to list the connection's key.
    pub tokens_checked: Mutex<std::collections::HashSet<String>>,
    /// What a window started and may stop: a preview, a file's details, its versions.
    pub requests: Requests,
    /// The bandwidth limits, shared by every transfer of each direction.
    pub pace_up: Pace,
    pub pace_down: Pace,
    /// What the link showed each way this session: it sizes the parts of big files.
    pub link_up: Link,
    pub link_down: Link,
    /// Bumped by each folder listing; a listing stops once a newer one began.
    pub listing_generation: AtomicU64,
    /// Bumped by each search of a whole Space; a search stops once a newer one began.
    pub search_generation: AtomicU64,
    /// Set to stop the Space destruction in progress.
    pub cancel_destroy: Arc<AtomicBool>,
    pub start_on_sandbox: bool,
}

impl Services {
    pub fn new(setup: Setup) -> Services {
        let settings = Settings::new(setup.store);
        let limits = settings.transfer_limits();
        let (pace_up, pace_down) = (Pace::default(), Pace::default());
        pace_up.set(limits.upload_limit);
        pace_down.set(limits.download_limit);
        Services {
            keychain: Keychain::new(setup.keychain_service),
            settings,
            journal: Journal::new(setup.log_dir),
            sandbox_dir: setup.data_dir.join("sandbox"),
            sandbox: Mutex::new(None),
            active: RwLock::new(None),
            uploads: Mutex::default(),
            downloads: Mutex::default(),
            copies: Mutex::default(),
            next_batch: AtomicU32::new(0),
            unfinished: Arc::new(Unfinished::new(
                setup.data_dir.join("unfinished-uploads.json"),
            )),
            partials: Arc::new(PartialDownloads::new(
                setup.data_dir.join("partial-downloads.json"),
            )),
            writing: Arc::new(DownloadFolders::new(
                setup.data_dir.join("downloads-writing-into.json"),
            )),
            resuming: Cancel::default(),
            quitting: Arc::default(),
            running: Arc::default(),
            claims: LocalClaims::default(),
            downloads_whole: Mutex::default(),
            tokens_checked: Mutex::default(),
            requests: Requests::default(),
            pace_up,
            pace_down,
            link_up: Link::default(),
            link_down: Link::default(),
            listing_generation: AtomicU64::new(0),
            search_generation: AtomicU64::new(0),
            cancel_destroy: Arc::default(),
            start_on_sandbox: setup.start_on_sandbox,
        }
    }

    /// The active connection, or [`Error::NotConnected`].
    pub async fn active(&self) -> Result<Active> {
        self.active.read().await.clone().ok_or(Error::NotConnected)
    }

    pub fn sandbox_port(&self) -> Option<u16> {
        self.sandbox.lock().ok()?.as_ref().map(|s| s.rgw_port())
    }

    /// A new id for a batch of uploads or downloads.
    pub fn next_batch(&self) -> u32 {
        self.next_batch.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts a download or copy batch as running until the guard is dropped.
    pub fn running(&self) -> Running {
        self.running.fetch_add(1, Ordering::SeqCst);
        Running(self.running.clone())
    }

    /// At quit: pauses every transfer, and waits up to `limit` for them to stop. Multipart
    /// uploads and big downloads stay noted, and the next start offers to resume or discard
    /// them; a small download's partial file is removed; a copy or move finishes the files it
    /// began (a move removes their originals), so no file is left in two places, and starts no
    /// more.
    pub fn stop_transfers(&self, limit: Duration) {
        lock(&self.uploads).values().for_each(|b| b.pause_all());
        self.resuming.pause.set();
        self.quitting.set();
        let started = Instant::now();
        let busy = || {
            self.unfinished.in_flight_here() > 0
                || self.partials.in_flight_here() > 0
                || self.running.load(Ordering::SeqCst) > 0
        };
        while busy() && started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// At start: removes the partial files that downloads a crash stopped left behind (those a
    /// resume can use stay), and says so in the log.
    pub fn sweep_left_partials(&self) {
        let removed =
            crate::transfer::unfinished::sweep_left_partials(&self.writing, &self.partials);
        if removed > 0 {
            self.journal.write(format!(
                "removed {removed} partial files that downloads stopped by a crash left behind"
            ));
        }
    }

    /// Forgets noted downloads into `folder` (a drag's staging, removed at start): no drop
    /// would use them after a quit.
    pub fn forget_downloads_under(&self, folder: &std::path::Path) {
        for d in self.partials.list() {
            if d.dest.starts_with(folder) {
                self.partials
                    .remove(&crate::transfer::unfinished::Noted::id(&d));
            }
        }
    }

    /// Stops the sandbox's daemons, if running. Blocks up to the daemons' grace periods.
    pub fn stop_sandbox(&self) {
        let sandbox = self.sandbox.lock().ok().and_then(|mut s| s.take());
        if let Some(sandbox) = sandbox {
            self.journal.write("stopping the local sandbox");
            sandbox.stop();
            self.journal.write("local sandbox stopped");
        }
    }
}

/// Actions a window started that it may stop, each by the number the window gave it.
#[derive(Default)]
pub struct Requests(Mutex<RequestTokens>);

#[derive(Default)]
struct RequestTokens {
    running: HashMap<u32, tokio_util::sync::CancellationToken>,
    /// Stops that came before their request began (a few, the latest).
    early: std::collections::VecDeque<u32>,
}

/// Stops kept for requests yet to begin.
const EARLY_STOPS: usize = 64;

impl Requests {
    /// Runs `work` until it ends or request `id` is stopped, which makes it `Cancelled` (nothing
    /// it does changes anything, so stopping it half way leaves nothing half done).
    pub async fn run<T>(
        &self,
        id: Option<u32>,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(id) = id else {
            return work.await;
        };
        let token = {
            let mut all = lock(&self.0);
            if let Some(i) = all.early.iter().position(|e| *e == id) {
                all.early.remove(i);
                return Err(Error::Cancelled("Stopped.".into()));
            }
            let token = tokio_util::sync::CancellationToken::new();
            all.running.insert(id, token.clone());
            token
        };
        let result = tokio::select! {
            done = work => done,
            _ = token.cancelled() => Err(Error::Cancelled("Stopped.".into())),
        };
        lock(&self.0).running.remove(&id);
        result
    }

    /// Stops request `id`, running or about to run.
    pub fn cancel(&self, id: u32) {
        let mut all = lock(&self.0);
        match all.running.get(&id) {
            Some(token) => token.cancel(),
            None => {
                if all.early.len() == EARLY_STOPS {
                    all.early.pop_front();
                }
                all.early.push_back(id);
            }
        }
    }
}

/// A running download or copy batch, counted until dropped.
pub struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub use spacedock_common::sync::lock;
