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
    pub fn keyring(&self) -> PathBuf {
        self.root.join("keyring")
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
}

/// A one-host cluster: pool size 1, no daemon-to-daemon auth (S3 keys are still checked), all on 127.0.0.1.
pub fn render(input: &ConfInput<'_>) -> String {
    let d = input.layout.root.display();
    let mon_v1 = input.mon_port;
    let mon_v2 = input.mon_port + 1;
    let rgw = input.rgw_port;
    let fsid = input.fsid;
    let bytes = input.store_bytes;
    format!(
        r#"# Written by Spacedock at every start of the local sandbox; edits are overwritten.
[global]
fsid = {fsid}
mon host = [v2:127.0.0.1:{mon_v2},v1:127.0.0.1:{mon_v1}]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
keyring = {d}/keyring
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

[client.rgw.sandbox]
rgw frontends = beast endpoint=127.0.0.1:{rgw}
rgw dns name = s3.localhost
# radosgw's defaults force secure mon mode with cephx, which loops forever with auth none
ms mon client mode = crc
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

pub fn read_facts(path: &Path) -> Option<ClusterFacts> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
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
        });
        assert!(text.contains("mon host = [v2:127.0.0.1:40001,v1:127.0.0.1:40000]"));
        assert!(text.contains("rgw frontends = beast endpoint=127.0.0.1:7480"));
        assert!(text.contains("mon data = /data/sandbox/mon/$cluster-$id"));
        assert!(!text.contains("0.0.0.0"));
    }
}
