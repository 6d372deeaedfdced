//! The four clients of the benchmark, each run the way its users run it (default settings):
//! Spacedock's engine in this process, the aws cli, rclone and s5cmd as child processes. Each
//! run gives its wall time, its CPU time and its peak memory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spacedock_core::connection::SANDBOX_SIGNING_REGION;
use spacedock_core::secret::Secret;
use spacedock_core::transfer::download;
use spacedock_core::transfer::unfinished::PartialDownloads;
use spacedock_core::transfer::{self, Cancel, Conflict, FileAcl, QueuedFile, Settings, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Spacedock,
    Aws,
    Rclone,
    S5cmd,
}

pub const TOOLS: [Tool; 4] = [Tool::Spacedock, Tool::Aws, Tool::Rclone, Tool::S5cmd];

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Spacedock => "Spacedock",
            Tool::Aws => "aws cli",
            Tool::Rclone => "rclone",
            Tool::S5cmd => "s5cmd",
        }
    }
}

/// Where the peer programs are.
pub struct Programs {
    pub aws: PathBuf,
    pub rclone: PathBuf,
    pub s5cmd: PathBuf,
}

/// One run's cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cost {
    pub wall: Duration,
    pub cpu: Duration,
    pub peak_mb: f64,
}

/// What a run moves: the 1 GiB file, or the folder of small files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    Big,
    Small,
}

/// Who runs where: the endpoint (direct or through the WAN-like link) and the key.
pub struct Link {
    pub url: String,
    pub client: aws_sdk_s3::Client,
    pub access_key: String,
    pub secret: Secret,
}

fn cpu_of(usage: &libc::rusage) -> Duration {
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(usage.ru_utime) + t(usage.ru_stime)
}

fn self_usage() -> libc::rusage {
    // SAFETY: getrusage fills the struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    }
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}

/// Runs a peer and waits for it with wait4, which gives that one child's CPU time and peak memory.
// wait4 below reaps the child; clippy only knows Child::wait.
#[allow(clippy::zombie_processes)]
pub(crate) fn run_peer(link: &Link, program: &Path, args: &[String]) -> Cost {
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", &link.access_key)
        .env("AWS_SECRET_ACCESS_KEY", link.secret.expose())
        .env("AWS_DEFAULT_REGION", SANDBOX_SIGNING_REGION)
        .env("AWS_REGION", SANDBOX_SIGNING_REGION)
        // Fair to the peers: the same "checksums only when required" Spacedock uses.
        .env("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
        .env("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required")
        .env("RCLONE_CONFIG_SANDBOX_TYPE", "s3")
        .env("RCLONE_CONFIG_SANDBOX_PROVIDER", "Ceph")
        .env("RCLONE_CONFIG_SANDBOX_ENV_AUTH", "true")
        .env("RCLONE_CONFIG_SANDBOX_ENDPOINT", &link.url)
        .env_remove("AWS_CA_BUNDLE")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} can't start: {e}", program.display()));
    let mut status = 0;
    // SAFETY: wait4 on our own child's pid, with a struct for it to fill.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::wait4(child.id() as i32, &mut status, 0, &mut usage);
        usage
    };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{} {args:?} failed",
        program.display()
    );
    Cost {
        wall: started.elapsed(),
        cpu: cpu_of(&usage),
        peak_mb: usage.ru_maxrss as f64 / 1024.0,
    }
}

/// Uploads `data` (at `local`) into the Space, with the tool's default settings.
pub async fn upload(
    tool: Tool,
    p: &Programs,
    link: &Link,
    space: &str,
    data: Data,
    local: &Path,
) -> Cost {
    let path = local.display().to_string();
    let s3_dest = match data {
        Data::Big => format!("s3://{space}/big.bin"),
        Data::Small => format!("s3://{space}/small/"),
    };
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match tool {
        Tool::Spacedock => engine_upload(link, space, local).await,
        Tool::Aws => {
            let mut a = args(&[
                "s3",
                "cp",
                &path,
                &s3_dest,
                "--endpoint-url",
                &link.url,
                "--only-show-errors",
            ]);
            if data == Data::Small {
                a.push("--recursive".into());
            }
            run_peer(link, &p.aws, &a)
        }
        Tool::Rclone => {
            let dest = match data {
                Data::Big => format!("sandbox:{space}"),
                Data::Small => format!("sandbox:{space}/small"),
            };
            run_peer(link, &p.rclone, &args(&["copy", &path, &dest]))
        }
        Tool::S5cmd => {
            let source = match data {
                Data::Big => path.clone(),
                Data::Small => format!("{path}/*"),
            };
            run_peer(
                link,
                &p.s5cmd,
                &args(&["--endpoint-url", &link.url, "cp", &source, &s3_dest]),
            )
        }
    }
}

/// Downloads `data` from the Space into the empty folder `dest`.
pub async fn download(
    tool: Tool,
    p: &Programs,
    link: &Link,
    space: &str,
    data: Data,
    dest: &Path,
) -> Cost {
    let to = dest.display().to_string();
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match tool {
        Tool::Spacedock => engine_download(link, space, data, dest).await,
        Tool::Aws => {
            let mut a = match data {
                Data::Big => args(&[
                    "s3",
                    "cp",
                    &format!("s3://{space}/big.bin"),
                    &format!("{to}/big.bin"),
                ]),
                Data::Small => args(&[
                    "s3",
                    "cp",
                    &format!("s3://{space}/small/"),
                    &format!("{to}/small/"),
                    "--recursive",
                ]),
            };
            a.extend(args(&["--endpoint-url", &link.url, "--only-show-errors"]));
            run_peer(link, &p.aws, &a)
        }
        Tool::Rclone => {
            let a = match data {
                Data::Big => args(&["copy", &format!("sandbox:{space}/big.bin"), &to]),
                Data::Small => args(&[
                    "copy",
                    &format!("sandbox:{space}/small"),
                    &format!("{to}/small"),
                ]),
            };
            run_peer(link, &p.rclone, &a)
        }
        Tool::S5cmd => {
            let a = match data {
                Data::Big => args(&[
                    "--endpoint-url",
                    &link.url,
                    "cp",
                    &format!("s3://{space}/big.bin"),
                    &format!("{to}/"),
                ]),
                Data::Small => args(&[
                    "--endpoint-url",
                    &link.url,
                    "cp",
                    &format!("s3://{space}/small/*"),
                    &format!("{to}/small/"),
                ]),
            };
            run_peer(link, &p.s5cmd, &a)
        }
    }
}

/// Measures Spacedock's engine in this process: CPU from getrusage, peak from VmHWM (reset first).
pub(crate) async fn measured<F: std::future::Future<Output = ()>>(f: F) -> Cost {
    // Linux: writing 5 to clear_refs resets the peak resident size (VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = cpu_of(&self_usage());
    let started = Instant::now();
    f.await;
    Cost {
        wall: started.elapsed(),
        cpu: cpu_of(&self_usage()).saturating_sub(before),
        peak_mb: peak_rss_mb(),
    }
}

pub async fn engine_upload(link: &Link, space: &str, local: &Path) -> Cost {
    measured(async {
        let plan = transfer::plan(&[local.to_path_buf()], "");
        let target = Target {
            client: link.client.clone(),
            endpoint: link.url.clone(),
            space: space.to_string(),
            unfinished: None,
            pace: Default::default(),
            link: Default::default(),
        };
        let queued = (0..).zip(plan.files).map(|(id, file)| QueuedFile {
            id,
            file,
            cancel: Cancel::default(),
            expect: Default::default(),
        });
        let events = Arc::new(|_| {});
        let summary = transfer::upload_all(
            target,
            queued.collect(),
            FileAcl::Private,
            Settings::default(),
            events,
        )
        .await;
        assert_eq!(
            summary.failed + summary.cancelled,
            0,
            "Spacedock upload failed: {summary:?}"
        );
    })
    .await
}

async fn engine_download(link: &Link, space: &str, data: Data, dest: &Path) -> Cost {
    measured(async {
        let keys = match data {
            Data::Big => vec!["big.bin".to_string()],
            Data::Small => vec!["small/".to_string()],
        };
        let (client, url) = (&link.client, &link.url);
        let plan = download::plan(client, url, space, &keys, dest)
            .await
            .expect("plan");
        // Big files are noted as they go, as in the app (each range flushed before it is noted).
        let record = PartialDownloads::new(dest.with_extension("partials.json"));
        let summary = download::run(
            &Target::plain(client, url, space),
            dest,
            plan,
            Conflict::Overwrite,
            &|_| {},
            download::Options {
                record: Some(&record),
                ..Default::default()
            },
        )
        .await;
        assert!(
            summary.problems.is_empty(),
            "Spacedock download failed: {:?}",
            summary.problems
        );
    })
    .await
}
