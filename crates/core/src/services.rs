//! What Spacedock holds while it runs, in one place: the keychain, the saved settings, the log,
//! the local sandbox, the active connection and the transfer queue. The app hands a window's
//! commands to the services beside each domain (`connection::service`, `space::page`, `files`,
//! `keys::service`, `transfer::upload_batch`, `transfer::download_batch`), which all work on
//! this; the tests build it with a [`crate::settings::FileStore`] and no window.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::RwLock;

use crate::connection::active::Active;
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::log::Log;
use crate::sandbox::Sandbox;
use crate::settings::{Settings, Store};
use crate::transfer::queue::{Queue, QueueSetup};

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
    pub log: Log,
    pub sandbox_dir: PathBuf,
    pub sandbox: Mutex<Option<Sandbox>>,
    pub active: RwLock<Option<Active>>,
    /// Every transfer: its batches, limits, records and journal.
    queue: Queue,
    /// Connections whose DigitalOcean token was seen, this run, to list the connection's key.
    pub tokens_checked: Mutex<std::collections::HashSet<String>>,
    /// What a window started and may stop: a preview, a file's details, its versions.
    pub requests: Requests,
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
        let log = Log::new(setup.log_dir);
        let queue = Queue::new(QueueSetup {
            data_dir: setup.data_dir.clone(),
            upload_limit: limits.upload_limit,
            download_limit: limits.download_limit,
            files_at_once: limits.files_at_once.map(|n| n as usize),
            log: log.sink(),
        });
        Services {
            keychain: Keychain::new(setup.keychain_service),
            settings,
            log,
            sandbox_dir: setup.data_dir.join("sandbox"),
            sandbox: Mutex::new(None),
            active: RwLock::new(None),
            queue,
            tokens_checked: Mutex::default(),
            requests: Requests::default(),
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

    /// Every transfer: its batches, limits, records and journal.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// At quit: pauses every transfer, and waits up to `limit` for them to stop (see
    /// [`Queue::stop_all`]).
    pub fn stop_transfers(&self, limit: Duration) {
        self.queue.stop_all(limit);
    }

    /// At start: removes the partial files that downloads a crash stopped left behind (those a
    /// resume can use stay), and says so in the log.
    pub fn sweep_left_partials(&self) {
        let removed = self.queue.sweep_left_partials();
        if removed > 0 {
            self.log.write(format!(
                "removed {removed} partial files that downloads stopped by a crash left behind"
            ));
        }
    }

    /// Forgets noted downloads into `folder` (a drag's staging, removed at start): no drop
    /// would use them after a quit.
    pub fn forget_downloads_under(&self, folder: &std::path::Path) {
        self.queue.forget_downloads_under(folder);
    }

    /// Stops the sandbox's daemons, if running. Blocks up to the daemons' grace periods.
    pub fn stop_sandbox(&self) {
        let sandbox = self.sandbox.lock().ok().and_then(|mut s| s.take());
        if let Some(sandbox) = sandbox {
            self.log.write("stopping the local sandbox");
            sandbox.stop();
            self.log.write("local sandbox stopped");
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

pub use spacedock_common::sync::lock;
