//! What Spacedock holds while it runs, in one place: the keychain, the saved settings, the log,
//! the local sandbox, the active connection and the transfer queue. The app hands a window's
//! commands to the services beside each domain (`connection::service`, `space::page`, `files`,
//! `keys::service`, `transfer::upload_batch`, `transfer::download_batch`), which all work on
//! this; the tests build it with a [`crate::settings::FileStore`] and no window.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

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
    keychain: Keychain,
    settings: Settings,
    log: Log,
    sandbox_dir: PathBuf,
    /// The local sandbox, while it runs.
    sandbox: Mutex<Option<Sandbox>>,
    /// The connection in use: its profile, clients and the secrets of its Spaces' keys.
    active: RwLock<Option<Active>>,
    /// Every transfer: its batches, limits, records and journal.
    queue: Queue,
    /// Connections whose DigitalOcean token was seen, this run, to list the connection's key.
    tokens_checked: Mutex<HashSet<String>>,
    /// What a window started and may stop: a preview, a file's details, its versions.
    requests: Requests,
    /// Each folder listing stops once a newer one began.
    listings: Latest,
    /// Each search of a whole Space stops once a newer one began.
    searches: Latest,
    /// Stops the Space destruction in progress.
    destroying: Mutex<CancellationToken>,
    /// One key rotation at a time.
    key_rotation: tokio::sync::Mutex<()>,
    /// The access-log lines last read, for the viewer's filters.
    loaded_logs: crate::space::access_logs::LoadedLogs,
    start_on_sandbox: bool,
    /// Sync pairs that run on their own: their watched folders and schedules.
    auto: crate::sync::auto::Auto,
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
            listings: Latest::default(),
            searches: Latest::default(),
            destroying: Mutex::default(),
            key_rotation: tokio::sync::Mutex::default(),
            loaded_logs: Default::default(),
            start_on_sandbox: setup.start_on_sandbox,
            auto: Default::default(),
        }
    }

    /// The active connection, or [`Error::NotConnected`].
    pub async fn active(&self) -> Result<Active> {
        self.active.read().await.clone().ok_or(Error::NotConnected)
    }

    pub fn keychain(&self) -> &Keychain {
        &self.keychain
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    /// What a window started and may stop.
    pub fn requests(&self) -> &Requests {
        &self.requests
    }

    /// Folder listings: each one stops once a newer one began.
    pub fn listings(&self) -> &Latest {
        &self.listings
    }

    /// Searches of a whole Space: each one stops once a newer one began.
    pub fn searches(&self) -> &Latest {
        &self.searches
    }

    /// The access-log lines last read.
    pub fn loaded_logs(&self) -> &crate::space::access_logs::LoadedLogs {
        &self.loaded_logs
    }

    /// Held while a key rotation runs or is finished.
    pub fn key_rotation_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.key_rotation
    }

    /// Changes the connection in use (connect, disconnect, a Space's key), under its lock.
    pub async fn change_active<T>(&self, change: impl FnOnce(&mut Option<Active>) -> T) -> T {
        change(&mut *self.active.write().await)
    }

    /// Whether the app was started to connect to the sandbox at once (`--sandbox`).
    pub fn start_on_sandbox(&self) -> bool {
        self.start_on_sandbox
    }

    /// Where the sandbox keeps its cluster.
    pub fn sandbox_dir(&self) -> &std::path::Path {
        &self.sandbox_dir
    }

    /// Keeps the sandbox that was started, to be stopped at quit.
    pub fn keep_sandbox(&self, started: Sandbox) {
        *lock(&self.sandbox) = Some(started);
    }

    /// Works with the running sandbox, if any.
    pub fn with_sandbox<T>(&self, work: impl FnOnce(Option<&Sandbox>) -> T) -> T {
        work(lock(&self.sandbox).as_ref())
    }

    /// Whether connection `id`'s DigitalOcean token was seen this run to list its key.
    pub fn token_checked(&self, id: &str) -> bool {
        lock(&self.tokens_checked).contains(id)
    }

    /// Connection `id`'s token is seen to list its key.
    pub fn mark_token_checked(&self, id: &str) {
        lock(&self.tokens_checked).insert(id.to_string());
    }

    /// The stop of a Space destruction about to begin (each destruction gets its own).
    pub fn begin_destroy(&self) -> CancellationToken {
        let token = CancellationToken::new();
        *lock(&self.destroying) = token.clone();
        token
    }

    /// Stops the Space destruction in progress.
    pub fn cancel_destroy(&self) {
        lock(&self.destroying).cancel();
    }

    pub fn sandbox_port(&self) -> Option<u16> {
        self.sandbox.lock().ok()?.as_ref().map(|s| s.rgw_port())
    }

    /// Every transfer: its batches, limits, records and journal.
    /// The schedules and folder watches of pairs that sync on their own.
    pub fn auto(&self) -> &crate::sync::auto::Auto {
        &self.auto
    }

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

/// Work of which only the newest counts (a folder listing, a search): each one that begins
/// stops those before it.
#[derive(Default)]
pub struct Latest(Arc<AtomicU64>);

impl Latest {
    /// Begins one: the answer says whether it is still the newest.
    pub fn begin(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let all = self.0.clone();
        let mine = all.fetch_add(1, Ordering::SeqCst) + 1;
        move || all.load(Ordering::SeqCst) == mine
    }
}

/// Actions a window started that it may stop, each by the number the window gave it.
#[derive(Default)]
pub struct Requests(Mutex<RequestTokens>);

#[derive(Default)]
struct RequestTokens {
    running: HashMap<u32, CancellationToken>,
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
        self.run_stoppable(id, |token| async move {
            tokio::select! {
                done = work => done,
                _ = token.cancelled() => Err(Error::Cancelled("Stopped.".into())),
            }
        })
        .await
    }

    /// Runs `work` with the token request `id` stops: work that changes things stops at a
    /// point where it can say what it did. A stop that came first stops it before it begins.
    pub async fn run_stoppable<T, F>(
        &self,
        id: Option<u32>,
        work: impl FnOnce(CancellationToken) -> F,
    ) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        let Some(id) = id else {
            return work(CancellationToken::new()).await;
        };
        let token = {
            let mut all = lock(&self.0);
            if let Some(i) = all.early.iter().position(|e| *e == id) {
                all.early.remove(i);
                return Err(Error::Cancelled("Stopped.".into()));
            }
            let token = CancellationToken::new();
            all.running.insert(id, token.clone());
            token
        };
        let result = work(token).await;
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
