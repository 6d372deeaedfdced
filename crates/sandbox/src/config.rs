//! The sandbox cluster's ceph.conf and the facts that must survive restarts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Saved after the first start; a later start reuses the cluster it describes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterFacts {
    pub fsid: String,
    pub osd_id: u32,
    /// The mon's v1 port; v2 is the next one. Baked into the monmap, so moved only by re-injecting it.
    pub mon_port: u16,
    /// The gateway's port, kept across starts so other S3 tools can be pointed at it.
    pub rgw_port: u16,
    /// The owner's access key: the one the sandbox connection signs with, whatever other
    /// keys the owner gains (full-access keys are extra keys of the owner).
    #[serde(default)]
    pub owner_access_key: Option<String>,
}

/// What the facts file said.
#[derive(Debug)]
pub enum Facts {
    /// No file: a cluster was never made here (or its making failed before it held data).
    Missing,
    Found(ClusterFacts),
    /// There, but empty or not JSON of the right shape.
    Damaged(String),
}

/// Where everything of one sandbox lives.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }
    pub fn conf(&self) -> PathBuf {
        self.root.join("ceph.conf")
    }
    pub fn facts(&self) -> PathBuf {
        self.root.join("cluster.json")
    }
    pub fn lock(&self) -> PathBuf {
        self.root.join("sandbox.lock")
    }
    pub fn pids(&self) -> PathBuf {
        self.root.join("run").join("daemons.pids")
    }
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("log")
    }
    /// The monitor's own key (`mon.`), as made before the monitor's first start.
    pub fn keyring(&self) -> PathBuf {
        self.root.join("keyring")
    }
    /// The monitor's copy of its key, in its data: the key that can make every other key.
    pub fn mon_keyring(&self) -> PathBuf {
        self.root.join("mon").join("ceph-a").join("keyring")
    }
    /// client.admin's key: the ceph and radosgw-admin tools use it.
    pub fn admin_keyring(&self) -> PathBuf {
        self.root.join("admin.keyring")
    }
    pub fn osd_dir(&self, id: u32) -> PathBuf {
        self.root.join("osd").join(format!("ceph-{id}"))
    }
    pub fn osd_keyring(&self, id: u32) -> PathBuf {
        self.osd_dir(id).join("keyring")
    }
    pub fn rgw_keyring(&self) -> PathBuf {
        self.root.join("rgw.keyring")
    }
    /// The folders that hold the cluster's data (wiped if a first start failed half way).
    pub fn data_dirs(&self) -> [PathBuf; 4] {
        ["mon", "osd", "rgw", "crash"].map(|d| self.root.join(d))
    }
    pub fn all_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = self.data_dirs().to_vec();
        dirs.push(self.root.join("run"));
        dirs.push(self.log_dir());
        dirs
    }
}

pub struct ConfInput<'a> {
    pub layout: &'a Layout,
    pub fsid: &'a str,
    pub mon_port: u16,
    pub rgw_port: u16,
    pub store_bytes: u64,
    /// A lifecycle "day" in seconds, for tests; none keeps real days.
    pub lifecycle_day_seconds: Option<u32>,
}

/// A one-host cluster: pool size 1, all on 127.0.0.1, every daemon and tool authenticated with
/// cephx keys that only this user can read (the sandbox's folder is 0700, its keyrings 0600).
pub fn render(input: &ConfInput<'_>) -> String {
    let d = input.layout.root.display();
    let mon_v1 = input.mon_port;
    let mon_v2 = input.mon_port + 1;
    let rgw = input.rgw_port;
    let fsid = input.fsid;
    let bytes = input.store_bytes;
    // Tests of lifecycle rules: a day lasts seconds, and rules may run at any hour. In [global],
    // so that `radosgw-admin lc process` counts days as the gateway does.
    let lifecycle = input
        .lifecycle_day_seconds
        .map(|s| format!("rgw lc debug interval = {s}\nrgw lifecycle work time = 00:00-23:59\n"))
        .unwrap_or_default();
    format!(
        r#"# Written by Spacedock at every start of the local sandbox; edits are overwritten.
[global]
fsid = {fsid}
mon host = [v2:127.0.0.1:{mon_v2},v1:127.0.0.1:{mon_v1}]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = {d}/admin.keyring
run dir = {d}/run
admin socket = {d}/run/$name.asok
pid file = {d}/run/$name.pid
log file = {d}/log/$name.log
crash dir = {d}/crash
mon data = {d}/mon/$cluster-$id
osd data = {d}/osd/$cluster-$id
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
osd objectstore = bluestore
# a sparse file: takes disk space only as data is written
bluestore block create = true
bluestore block size = {bytes}
bluestore fsck on mount = false
osd memory target = 1073741824
mon osd full ratio = .97
mon osd backfillfull ratio = .96
mon osd nearfull ratio = .95
{lifecycle}
[mon]
keyring = {d}/mon/$cluster-$id/keyring

[osd]
keyring = {d}/osd/$cluster-$id/keyring

[client.rgw.sandbox]
keyring = {d}/rgw.keyring
rgw frontends = beast endpoint=127.0.0.1:{rgw}
rgw dns name = s3.localhost
# deleted data is reclaimed by garbage collection, by default only after 2 h
rgw gc obj min wait = 30
rgw gc processor period = 15
rgw data = {d}/rgw
log file = {d}/log/rgw.log
"#
    )
}

pub fn mon_addrs(mon_port: u16) -> String {
    format!("[v2:127.0.0.1:{},v1:127.0.0.1:{mon_port}]", mon_port + 1)
}

pub fn read_facts(path: &Path) -> Facts {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Facts::Missing,
        Err(e) => Facts::Damaged(e.to_string()),
        Ok(text) => match serde_json::from_str(&text) {
            Ok(facts) => Facts::Found(facts),
            Err(_) if text.trim().is_empty() => Facts::Damaged("it is empty".into()),
            Err(e) => Facts::Damaged(format!("it is not what it should be ({e})")),
        },
    }
}

/// True when an OSD was made here: from then on the folder may hold people's files.
pub fn osd_was_made(layout: &Layout) -> bool {
    std::fs::read_dir(layout.root.join("osd"))
        .map(|dirs| dirs.flatten().any(|d| d.path().join("ceph_fsid").exists()))
        .unwrap_or(false)
}

/// The facts, read back from the cluster's own data when the file is lost or damaged: the OSD's
/// folder names its id and holds the cluster's fsid. Ports are chosen anew (0: none yet).
pub fn rebuild_facts(layout: &Layout) -> Option<ClusterFacts> {
    let osd = std::fs::read_dir(layout.root.join("osd")).ok()?;
    let (osd_id, fsid) = osd.flatten().find_map(|entry| {
        let name = entry.file_name().to_string_lossy().to_string();
        let id: u32 = name.strip_prefix("ceph-")?.parse().ok()?;
        let fsid = std::fs::read_to_string(entry.path().join("ceph_fsid")).ok()?;
        Some((id, fsid.trim().to_string()))
    })?;
    if fsid.is_empty() || !layout.mon_keyring().exists() {
        return None;
    }
    Some(ClusterFacts {
        fsid,
        osd_id,
        mon_port: 0,
        rgw_port: 0,
        owner_access_key: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_binds_loopback_only() {
        let layout = Layout::new("/data/sandbox");
        let text = render(&ConfInput {
            layout: &layout,
            fsid: "f",
            mon_port: 40000,
            rgw_port: 7480,
            store_bytes: 1 << 30,
            lifecycle_day_seconds: None,
        });
        assert!(
            !text.contains("rgw lc debug interval"),
            "real days for people"
        );
        assert!(text.contains("mon host = [v2:127.0.0.1:40001,v1:127.0.0.1:40000]"));
        assert!(text.contains("rgw frontends = beast endpoint=127.0.0.1:7480"));
        assert!(text.contains("mon data = /data/sandbox/mon/$cluster-$id"));
        assert!(!text.contains("0.0.0.0"));
        assert!(text.contains("auth cluster required = cephx"));
        assert!(!text.contains("= none"));
    }
}
