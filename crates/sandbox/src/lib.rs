//! The local sandbox: a one-host Ceph cluster (one mon, one OSD on a sparse file, radosgw) run as
//! child processes on 127.0.0.1, with all its state in one folder. Ceph RGW is the engine Spaces
//! runs on, so the sandbox behaves like the real service, with no account.

mod ceph;
mod config;
mod process;
mod start;
mod users;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use serde::Serialize;
use ts_rs::TS;

pub use config::{ClusterFacts, Facts, Layout};
pub use start::start;
pub use users::{first_s3_key, s3_keys, OwnerKey, ADMIN_UID, OWNER_UID};

use ceph::{
    ensure_key, ensure_osd_key, http_answers, make_monitor, make_osd, move_monitor, private_file,
    private_folder,
};

// The shared vocabulary under the names the modules use.
pub(crate) use spacedock_common::{disk, error, secret};

use error::{Error, IoContext, Result};
use secret::Secret;

use process::{run_tool, Keeper};

/// What a failed file operation of the sandbox's own folder was doing.
pub(crate) const SANDBOX_FILES: &str = "The local sandbox's files can't be set up";

const RGW_NAME: &str = "client.rgw.sandbox";
const GRACE: Duration = Duration::from_secs(10);
pub(crate) const CLI_DEADLINE: Duration = Duration::from_secs(30);

/// The programs the sandbox runs, and the Debian package of each.
const PROGRAMS: &[(&str, &str)] = &[
    ("ceph-mon", "ceph-mon"),
    ("monmaptool", "ceph-mon"),
    ("ceph-osd", "ceph-osd"),
    ("radosgw", "radosgw"),
    ("ceph", "ceph-common"),
    ("ceph-authtool", "ceph-common"),
    ("radosgw-admin", "ceph-common"),
];

/// The programs that are not installed, with the packages that provide them.
pub fn missing_programs() -> (Vec<String>, Vec<String>) {
    let mut programs = Vec::new();
    let mut packages: Vec<String> = Vec::new();
    for (program, package) in PROGRAMS {
        if process::which(program).is_none() {
            programs.push(program.to_string());
            if !packages.iter().any(|p| p == package) {
                packages.push(package.to_string());
            }
        }
    }
    (programs, packages)
}

/// A step of starting the sandbox, as shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Step {
    Prepare,
    Monitor,
    Storage,
    Gateway,
    Owner,
    Ready,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Progress {
    pub step: Step,
    /// False when the step begins, true when it is finished.
    pub done: bool,
    /// Since the start was asked for.
    pub elapsed_ms: u64,
    /// True when the cluster is being created (slower than a later start).
    pub first_start: bool,
}

pub struct StartOptions {
    pub root: PathBuf,
    /// Size of the sparse file that holds the OSD's data.
    pub store_bytes: u64,
    /// The owner's access key the app saved for the sandbox connection: kept, whatever other
    /// keys the owner has (else the one noted in the cluster's facts).
    pub owner_access_key: Option<String>,
    /// For tests of lifecycle rules: a lifecycle "day" lasts this many seconds (else a day).
    pub lifecycle_day_seconds: Option<u32>,
}

impl StartOptions {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StartOptions {
            root: root.into(),
            store_bytes: 20 << 30,
            owner_access_key: None,
            lifecycle_day_seconds: None,
        }
    }
}

/// A running sandbox. Dropping it stops the daemons.
pub struct Sandbox {
    layout: Layout,
    rgw_port: u16,
    first_start: bool,
    daemons: Vec<(&'static str, Child)>,
    keeper: Option<Keeper>,
    _lock: File,
    owner: OwnerKey,
    admin_key: OwnerKey,
    pub timings: Vec<(Step, Duration)>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("root", &self.layout.root)
            .field("rgw_port", &self.rgw_port)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    fn spawn(&mut self, name: &'static str, program: &str, args: &[&str]) -> Result<()> {
        let log = self.layout.log_dir().join(format!("{name}.stdout"));
        let keeper = self
            .keeper
            .as_ref()
            .ok_or_else(|| Error::Sandbox("The sandbox is stopping.".into()))?;
        // radosgw may hang on TERM once the monitor and OSD are gone (they get the same signal
        // at the same moment), and holds no data of its own: KILL it. The others shut down cleanly.
        let death_signal = if name == "rgw" {
            libc::SIGKILL
        } else {
            libc::SIGTERM
        };
        let child = keeper.spawn(program, args, &log, death_signal)?;
        self.daemons.push((name, child));
        let pids: String = self
            .daemons
            .iter()
            .map(|(n, c)| format!("{n} {}\n", c.id()))
            .collect();
        std::fs::write(self.layout.pids(), pids).context(|| SANDBOX_FILES.into())?;
        Ok(())
    }

    /// Polls `ready` until it holds, failing early (with the daemon's last log lines) if a daemon exits.
    fn wait_until(
        &mut self,
        what: &str,
        limit: Duration,
        mut ready: impl FnMut() -> Result<bool>,
    ) -> Result<()> {
        let started = Instant::now();
        loop {
            if ready()? {
                return Ok(());
            }
            for (name, child) in &mut self.daemons {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(
                        self.layout.log_dir().join(format!("{name}.stdout")),
                    )
                    .unwrap_or_default();
                    return Err(Error::Sandbox(format!(
                        "While waiting for {what}, the {name} daemon stopped ({status}): {}. Logs are in {}.",
                        process::failure_words(&log, 2),
                        self.layout.log_dir().display()
                    )));
                }
            }
            if started.elapsed() > limit {
                return Err(Error::Sandbox(format!(
                    "{what} did not start within {} s. Logs are in {}.",
                    limit.as_secs(),
                    self.layout.log_dir().display()
                )));
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Runs `radosgw-admin` on this cluster and parses its JSON answer. The answer may hold secrets.
    pub fn admin(&self, args: &[&str]) -> Result<serde_json::Value> {
        let conf = self.layout.conf().to_string_lossy().to_string();
        let mut full = vec!["-c", conf.as_str()];
        full.extend_from_slice(args);
        let out = run_tool("radosgw-admin", &full, CLI_DEADLINE)?;
        if out.trim().is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(&out).map_err(|_| {
            Error::Sandbox(format!(
                "radosgw-admin {} answered something that is not JSON.",
                args.join(" ")
            ))
        })
    }

    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rgw_port)
    }

    pub fn rgw_port(&self) -> u16 {
        self.rgw_port
    }

    pub fn first_start(&self) -> bool {
        self.first_start
    }

    pub fn owner(&self) -> &OwnerKey {
        &self.owner
    }

    /// The key that manages access keys: for the app's key manager only, never shown.
    pub fn admin_key(&self) -> &OwnerKey {
        &self.admin_key
    }

    pub fn root(&self) -> &Path {
        &self.layout.root
    }

    pub fn conf_path(&self) -> PathBuf {
        self.layout.conf()
    }

    /// Total resident memory of the daemons.
    pub fn memory_bytes(&self) -> u64 {
        self.daemons
            .iter()
            .filter_map(|(_, c)| process::rss_bytes(c.id()))
            .sum()
    }

    /// The pid of the daemon named `name` ("mon", "osd" or "rgw").
    pub fn pid_of(&self, name: &str) -> Option<u32> {
        self.daemons
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c.id())
    }

    pub fn daemon_pids(&self) -> Vec<u32> {
        self.daemons.iter().map(|(_, c)| c.id()).collect()
    }

    /// Stops the gateway, then the OSD, then the monitor; each gets a grace period before KILL.
    pub fn stop(mut self) {
        self.stop_daemons();
    }

    fn stop_daemons(&mut self) {
        while let Some((_, mut child)) = self.daemons.pop() {
            process::stop_child(&mut child, GRACE);
        }
        let _ = std::fs::remove_file(self.layout.pids());
        self.keeper.take();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_daemons();
    }
}
