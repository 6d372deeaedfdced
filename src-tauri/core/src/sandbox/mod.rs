//! The local sandbox: a one-host Ceph cluster (one mon, one OSD on a sparse file, radosgw) run as
//! child processes on 127.0.0.1, with all its state in one folder. Ceph RGW is the engine Spaces
//! runs on, so the sandbox behaves like the real service, with no account.

mod ceph;
mod config;
mod process;
mod users;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use serde::Serialize;
use ts_rs::TS;

pub use config::{ClusterFacts, Facts, Layout};
pub use users::{first_s3_key, s3_keys, OwnerKey, ADMIN_UID, OWNER_UID};

use ceph::{
    ensure_key, ensure_osd_key, http_answers, make_monitor, make_osd, move_monitor, private_file,
    private_folder,
};

use crate::error::{Error, Result};
use crate::secret::Secret;
use process::{run_tool, Keeper};

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
}

impl StartOptions {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StartOptions {
            root: root.into(),
            store_bytes: 20 << 30,
            owner_access_key: None,
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

/// Starts the sandbox in `opts.root`, creating the cluster on first use. Blocking: run it off the UI thread.
pub fn start(opts: &StartOptions, mut progress: impl FnMut(Progress)) -> Result<Sandbox> {
    let t0 = Instant::now();
    let (missing, packages) = missing_programs();
    if !missing.is_empty() {
        return Err(Error::SandboxMissing { missing, packages });
    }
    let layout = Layout::new(&opts.root);
    std::fs::create_dir_all(&layout.root)?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(layout.lock())?;
    // One cluster, one owner: a second app instance must never run daemons on the same data.
    if let Err(e) = lock.try_lock() {
        return Err(match e {
            std::fs::TryLockError::WouldBlock => Error::SandboxBusy,
            std::fs::TryLockError::Error(e) => e.into(),
        });
    }
    process::stop_leftovers(&layout.pids(), &layout.conf(), GRACE);

    let facts = match config::read_facts(&layout.facts()) {
        Facts::Found(facts) => Some(facts),
        // Never delete data because a file about it can't be read: read the facts back from
        // the cluster itself, or say what is wrong and leave everything as it is.
        Facts::Damaged(why) => Some(config::rebuild_facts(&layout).ok_or_else(|| {
            Error::Sandbox(format!(
                "The sandbox's record of its cluster ({}) can't be read: {why}, and it can't be read back from the cluster's data. Nothing was deleted. Restore that file, or move the folder {} away to start a new, empty sandbox.",
                layout.facts().display(),
                layout.root.display()
            ))
        })?),
        Facts::Missing => match config::rebuild_facts(&layout) {
            Some(facts) => Some(facts),
            None if config::osd_was_made(&layout) => {
                return Err(Error::Sandbox(format!(
                    "The sandbox in {} has stored data but no monitor to reach it. Nothing was deleted. Move that folder away to start a new, empty sandbox.",
                    layout.root.display()
                )))
            }
            None => None,
        },
    };
    let first_start = facts.is_none();
    let mut report = |step, done| {
        progress(Progress {
            step,
            done,
            elapsed_ms: u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX),
            first_start,
        })
    };
    report(Step::Prepare, false);
    if first_start {
        // No OSD holds data here (none was made, or its making failed half way): begin again.
        for dir in layout.data_dirs() {
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
        }
        for file in [
            layout.keyring(),
            layout.admin_keyring(),
            layout.rgw_keyring(),
            layout.root.join("monmap"),
        ] {
            let _ = std::fs::remove_file(file);
        }
    }
    private_folder(&layout.root)?;
    for dir in layout.all_dirs() {
        std::fs::create_dir_all(&dir)?;
        private_folder(&dir)?;
    }
    let sandbox_ports = choose_ports(facts.as_ref())?;
    let fsid = facts
        .as_ref()
        .map(|f| f.fsid.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    std::fs::write(
        layout.conf(),
        config::render(&config::ConfInput {
            layout: &layout,
            fsid: &fsid,
            mon_port: sandbox_ports.mon,
            rgw_port: sandbox_ports.rgw,
            store_bytes: opts.store_bytes,
        }),
    )?;
    let conf = layout.conf().to_string_lossy().to_string();
    let mut timings = Vec::new();
    let mut mark = Instant::now();
    report(Step::Prepare, true);

    let mut sandbox = Sandbox {
        layout: layout.clone(),
        rgw_port: sandbox_ports.rgw,
        first_start,
        daemons: Vec::new(),
        keeper: Some(Keeper::start()?),
        _lock: lock,
        owner: OwnerKey {
            access_key: String::new(),
            secret: Secret::new(""),
        },
        admin_key: OwnerKey {
            access_key: String::new(),
            secret: Secret::new(""),
        },
        timings: Vec::new(),
    };

    // Monitor
    report(Step::Monitor, false);
    match &facts {
        None => make_monitor(&layout, &fsid, sandbox_ports.mon)?,
        Some(f) if f.mon_port != sandbox_ports.mon => move_monitor(&layout, sandbox_ports.mon)?,
        Some(_) => {}
    }
    // A monitor made before the sandbox used keys kept its key beside the data only.
    if !layout.mon_keyring().exists() && layout.keyring().exists() {
        std::fs::copy(layout.keyring(), layout.mon_keyring())?;
        private_file(&layout.mon_keyring())?;
    }
    sandbox.spawn("mon", "ceph-mon", &["-c", &conf, "-i", "a", "-f"])?;
    sandbox.wait_until("the monitor", Duration::from_secs(30), || {
        Ok(process::port_open(sandbox_ports.mon))
    })?;
    // Every other daemon's key is made with the monitor's own (also for a cluster made before
    // the sandbox used keys).
    ensure_key(
        &layout,
        &conf,
        "client.admin",
        &["mon", "allow *", "osd", "allow *", "mgr", "allow *"],
        &layout.admin_keyring(),
    )?;
    timings.push((Step::Monitor, mark.elapsed()));
    report(Step::Monitor, true);

    // Storage (OSD)
    mark = Instant::now();
    report(Step::Storage, false);
    let osd_id = match &facts {
        Some(f) => f.osd_id,
        None => make_osd(&layout, &conf)?,
    };
    ensure_osd_key(&layout, &conf, osd_id)?;
    let osd_id_text = osd_id.to_string();
    sandbox.spawn("osd", "ceph-osd", &["-c", &conf, "-i", &osd_id_text, "-f"])?;
    let asok = layout.root.join("run").join(format!("osd.{osd_id}.asok"));
    let asok = asok.to_string_lossy().to_string();
    sandbox.wait_until("the storage daemon (OSD)", Duration::from_secs(120), || {
        Ok(
            run_tool("ceph", &["--admin-daemon", &asok, "status"], CLI_DEADLINE)
                .map(|out| out.contains("\"active\""))
                .unwrap_or(false),
        )
    })?;
    // From here on a later start can reuse the cluster.
    let mut facts_now = ClusterFacts {
        fsid: fsid.clone(),
        osd_id,
        mon_port: sandbox_ports.mon,
        rgw_port: sandbox_ports.rgw,
        owner_access_key: opts
            .owner_access_key
            .clone()
            .or_else(|| facts.as_ref().and_then(|f| f.owner_access_key.clone())),
    };
    save_facts(&layout, &facts_now)?;
    timings.push((Step::Storage, mark.elapsed()));
    report(Step::Storage, true);

    // Gateway
    mark = Instant::now();
    report(Step::Gateway, false);
    ensure_key(
        &layout,
        &conf,
        RGW_NAME,
        &["mon", "allow rw", "osd", "allow rwx"],
        &layout.rgw_keyring(),
    )?;
    sandbox.spawn("rgw", "radosgw", &["-c", &conf, "-n", RGW_NAME, "-f"])?;
    let rgw_port = sandbox_ports.rgw;
    sandbox.wait_until("the gateway (radosgw)", Duration::from_secs(180), || {
        Ok(http_answers(rgw_port))
    })?;
    timings.push((Step::Gateway, mark.elapsed()));
    report(Step::Gateway, true);

    // Owner
    mark = Instant::now();
    report(Step::Owner, false);
    sandbox.owner = sandbox.ensure_owner(facts_now.owner_access_key.as_deref())?;
    sandbox.admin_key = sandbox.ensure_admin()?;
    if facts_now.owner_access_key.as_deref() != Some(sandbox.owner.access_key.as_str()) {
        facts_now.owner_access_key = Some(sandbox.owner.access_key.clone());
        save_facts(&layout, &facts_now)?;
    }
    timings.push((Step::Owner, mark.elapsed()));
    report(Step::Owner, true);

    sandbox.timings = timings;
    report(Step::Ready, true);
    Ok(sandbox)
}

struct Ports {
    mon: u16,
    rgw: u16,
}

/// Keeps last time's ports when they are free; a port in use is never shared (a second mon on
/// the same port would silently join the other cluster).
fn choose_ports(facts: Option<&ClusterFacts>) -> Result<Ports> {
    let mon = match facts {
        Some(f)
            if f.mon_port != 0
                && process::port_free(f.mon_port)
                && process::port_free(f.mon_port + 1) =>
        {
            f.mon_port
        }
        _ => process::free_port_pair()?,
    };
    let rgw = match facts {
        Some(f)
            if f.rgw_port != 0
                && process::port_free(f.rgw_port)
                && f.rgw_port != mon
                && f.rgw_port != mon + 1 =>
        {
            f.rgw_port
        }
        _ => loop {
            let p = process::free_port()?;
            if p != mon && p != mon + 1 {
                break p;
            }
        },
    };
    Ok(Ports { mon, rgw })
}

fn save_facts(layout: &Layout, facts: &ClusterFacts) -> Result<()> {
    let text = serde_json::to_string_pretty(facts).map_err(|e| Error::Io(e.to_string()))?;
    crate::disk::write_atomic(&layout.facts(), text.as_bytes())?;
    private_file(&layout.facts())
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
        std::fs::write(self.layout.pids(), pids)?;
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
                        process::last_lines(&log, 2),
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
