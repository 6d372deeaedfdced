//! Upload and listing benchmark: Spacedock's engine against the aws cli and rclone, on the same
//! sandbox and the same data, in one run. Prints its figures; asserts nothing.
//!
//! Run it with `.ci/bench` (which installs the aws cli and rclone first).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spacedock::core::browse;
use spacedock::core::connection::{Endpoint, SANDBOX_SIGNING_REGION};
use spacedock::core::destroy;
use spacedock::core::s3;
use spacedock::core::sandbox::{self, StartOptions};
use spacedock::core::secret::Secret;
use spacedock::core::transfer::{self, Cancel, FileAcl, QueuedFile, Settings, Target};

const RUNS: usize = 3;
const BIG: u64 = 1 << 30;
const SMALL_COUNT: usize = 2000;
const SMALL_SIZE: usize = 64 << 10;
const LISTING_COUNT: usize = 100_000;

struct Tools {
    aws: PathBuf,
    rclone: PathBuf,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn reset_peak_rss() {
    // Linux: writing 5 to clear_refs resets the peak resident size (VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn make_data(dir: &Path) -> (PathBuf, PathBuf) {
    use std::io::Write;
    let big = dir.join("big.bin");
    if std::fs::metadata(&big).map(|m| m.len()).ok() != Some(BIG) {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).expect("create big file"));
        let mut block = vec![0u8; 1 << 20];
        for i in 0..(BIG >> 20) {
            for (j, b) in block.iter_mut().enumerate() {
                *b = (j as u64 ^ i).wrapping_mul(2_654_435_761) as u8;
            }
            f.write_all(&block).expect("write");
        }
        f.flush().expect("flush");
    }
    let small = dir.join("small");
    if std::fs::read_dir(&small).map(|d| d.count()).unwrap_or(0) != SMALL_COUNT {
        std::fs::create_dir_all(&small).expect("small dir");
        for i in 0..SMALL_COUNT {
            let bytes: Vec<u8> = (0..SMALL_SIZE).map(|j| (i * 7 + j) as u8).collect();
            std::fs::write(small.join(format!("f{i:05}.bin")), bytes).expect("write small");
        }
    }
    (big, small)
}

struct Ctx {
    endpoint: Endpoint,
    access_key: String,
    secret: Secret,
    client: aws_sdk_s3::Client,
}

impl Ctx {
    async fn fresh_space(&self, label: &str) -> String {
        let name = format!(
            "bench-{label}-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        self.client
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .expect("create bench Space");
        name
    }

    async fn drop_space(&self, name: &str) {
        let cancel = std::sync::atomic::AtomicBool::new(false);
        destroy::destroy(
            &self.client,
            &self.endpoint.url,
            name,
            name,
            true,
            &cancel,
            |_| {},
        )
        .await
        .expect("clean up");
    }

    fn peer(&self, program: &Path, args: &[String]) -> Duration {
        let started = Instant::now();
        let out = Command::new(program)
            .args(args)
            .env("AWS_ACCESS_KEY_ID", &self.access_key)
            .env("AWS_SECRET_ACCESS_KEY", self.secret.expose())
            .env("AWS_DEFAULT_REGION", SANDBOX_SIGNING_REGION)
            // Fair to the peers: the same "checksums only when required" Spacedock uses.
            .env("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
            .env("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required")
            .env("RCLONE_CONFIG_SANDBOX_TYPE", "s3")
            .env("RCLONE_CONFIG_SANDBOX_PROVIDER", "Ceph")
            .env("RCLONE_CONFIG_SANDBOX_ENV_AUTH", "true")
            .env("RCLONE_CONFIG_SANDBOX_ENDPOINT", &self.endpoint.url)
            .env_remove("AWS_CA_BUNDLE")
            .output()
            .expect("run peer");
        assert!(
            out.status.success(),
            "{} failed: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        started.elapsed()
    }
}

async fn spacedock_upload(ctx: &Ctx, space: &str, paths: &[PathBuf]) -> Duration {
    let started = Instant::now();
    let plan = transfer::plan(paths, "");
    let target = Target {
        client: ctx.client.clone(),
        endpoint: ctx.endpoint.url.clone(),
        space: space.to_string(),
        unfinished: None,
    };
    let queued = plan
        .files
        .into_iter()
        .enumerate()
        .map(|(i, file)| QueuedFile {
            id: i as u32,
            file,
            cancel: Cancel::default(),
        })
        .collect();
    let summary = transfer::upload_all(
        target,
        queued,
        FileAcl::Private,
        Settings::default(),
        Arc::new(|_| {}),
    )
    .await;
    assert_eq!(
        summary.failed + summary.cancelled,
        0,
        "Spacedock upload failed: {summary:?}"
    );
    started.elapsed()
}

async fn bench_workload(
    ctx: &Ctx,
    tools: &Tools,
    label: &str,
    path: &Path,
    recursive: bool,
) -> [Vec<f64>; 3] {
    let mut secs: [Vec<f64>; 3] = Default::default();
    let tools_in_order = ["spacedock", "aws", "rclone"];
    for run in 0..RUNS {
        // Each round starts with another tool, so none always meets the coldest cluster.
        for k in 0..3 {
            let i = (k + run) % 3;
            let tool = &tools_in_order[i];
            let space = ctx.fresh_space(&format!("{label}-{tool}")).await;
            let took = match *tool {
                "spacedock" => spacedock_upload(ctx, &space, &[path.to_path_buf()]).await,
                "aws" => {
                    let mut args = vec!["s3".into(), "cp".into(), path.display().to_string()];
                    args.push(if recursive {
                        format!("s3://{space}/small/")
                    } else {
                        format!("s3://{space}/big.bin")
                    });
                    if recursive {
                        args.push("--recursive".into());
                    }
                    args.extend([
                        "--endpoint-url".into(),
                        ctx.endpoint.url.clone(),
                        "--only-show-errors".into(),
                    ]);
                    ctx.peer(&tools.aws, &args)
                }
                _ => {
                    let dest = if recursive {
                        format!("sandbox:{space}/small")
                    } else {
                        format!("sandbox:{space}")
                    };
                    ctx.peer(
                        &tools.rclone,
                        &["copy".into(), path.display().to_string(), dest],
                    )
                }
            };
            eprintln!(
                "  run {} {label} {tool}: {:.2} s",
                run + 1,
                took.as_secs_f64()
            );
            secs[i].push(took.as_secs_f64());
            ctx.drop_space(&space).await;
        }
        // Let RGW's garbage collection reclaim the deleted data between rounds.
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    secs
}

async fn bench_listing(ctx: &Ctx) -> (f64, f64, u64) {
    // Kept across benchmark runs: filling it takes minutes.
    let space = "bench-listing-100k";
    if ctx.client.head_bucket().bucket(space).send().await.is_err() {
        ctx.client
            .create_bucket()
            .bucket(space)
            .send()
            .await
            .expect("create listing Space");
    }
    let mut have = 0u64;
    let _ = browse::list_folder(&ctx.client, &ctx.endpoint.url, space, "", 1000, |p| {
        have += p.entries.len() as u64;
        true
    })
    .await;
    if have < LISTING_COUNT as u64 {
        eprintln!("  filling {space} with {LISTING_COUNT} empty files (once)…");
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..32 {
            let client = ctx.client.clone();
            tasks.spawn(async move {
                for i in (worker..LISTING_COUNT).step_by(32) {
                    client
                        .put_object()
                        .bucket(space)
                        .key(format!("item-{i:06}"))
                        .content_length(0)
                        .send()
                        .await
                        .expect("put");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }
    let started = Instant::now();
    let mut first: Option<Duration> = None;
    let total = browse::list_folder(&ctx.client, &ctx.endpoint.url, space, "", 1000, |_| {
        first.get_or_insert(started.elapsed());
        true
    })
    .await
    .expect("list");
    (
        first.unwrap_or_default().as_secs_f64(),
        started.elapsed().as_secs_f64(),
        total,
    )
}

#[tokio::main]
async fn main() {
    let tools = Tools {
        aws: std::env::var_os("BENCH_AWS")
            .map(PathBuf::from)
            .expect("BENCH_AWS: path of the aws cli"),
        rclone: std::env::var_os("BENCH_RCLONE")
            .map(PathBuf::from)
            .unwrap_or_else(|| "rclone".into()),
    };
    let work = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/tmp/spacedock-bench".into());
    std::fs::create_dir_all(&work).expect("bench dir");
    eprintln!("preparing data in {}…", work.display());
    let (big, small) = make_data(&work);
    let warm = work.join("warm-up.bin");
    std::fs::write(&warm, vec![1u8; 64 << 20]).expect("warm-up file");

    let options = StartOptions {
        root: work.join("sandbox"),
        store_bytes: 40 << 30,
        owner_access_key: None,
    };
    let sb = sandbox::start(&options, |_| {}).expect("sandbox");
    let endpoint = Endpoint {
        url: sb.endpoint_url(),
        signing_region: SANDBOX_SIGNING_REGION.into(),
        path_style: true,
    };
    let ctx = Ctx {
        client: s3::client(&endpoint, &sb.owner().access_key, &sb.owner().secret),
        endpoint,
        access_key: sb.owner().access_key.clone(),
        secret: sb.owner().secret.clone(),
    };

    // A fresh cluster creates its data pools on the first writes: do them before measuring.
    let space = ctx.fresh_space("warm").await;
    spacedock_upload(&ctx, &space, std::slice::from_ref(&warm)).await;
    ctx.drop_space(&space).await;

    eprintln!("1 GiB file, {RUNS} runs each:");
    reset_peak_rss();
    let base_rss = peak_rss_mb();
    let big_secs = bench_workload(&ctx, &tools, "big", &big, false).await;
    let peak = peak_rss_mb();
    eprintln!("{SMALL_COUNT} files of 64 KiB, {RUNS} runs each:");
    let small_secs = bench_workload(&ctx, &tools, "small", &small, true).await;
    eprintln!("listing {LISTING_COUNT} files:");
    let (first_page, whole, listed) = bench_listing(&ctx).await;

    let mb = |secs: f64| BIG as f64 / 1e6 / secs;
    let fps = |secs: f64| SMALL_COUNT as f64 / secs;
    let names = ["Spacedock", "aws cli", "rclone"];
    println!("\n== Upload benchmark (median of {RUNS}; same sandbox, same data) ==");
    println!("{:<10} {:>14} {:>18}", "", "1 GiB file", "2,000 × 64 KiB");
    let big_m: Vec<f64> = big_secs.iter().map(|v| median(v.clone())).collect();
    let small_m: Vec<f64> = small_secs.iter().map(|v| median(v.clone())).collect();
    for i in 0..3 {
        println!(
            "{:<10} {:>9.1} MB/s {:>12.1} files/s",
            names[i],
            mb(big_m[i]),
            fps(small_m[i])
        );
    }
    let best_big = mb(big_m[1]).max(mb(big_m[2]));
    let best_small = fps(small_m[1]).max(fps(small_m[2]));
    println!(
        "Spacedock ÷ the better peer: {:.2}× on the big file, {:.2}× on the small files (target 1.5×)",
        mb(big_m[0]) / best_big,
        fps(small_m[0]) / best_small
    );
    println!(
        "Peak memory of the benchmark process during the 1 GiB uploads: {peak:.0} MB (before: {base_rss:.0} MB; target < 200 MB)"
    );
    println!(
        "Listing {listed} files: first page after {:.3} s (target < 1 s), whole listing {:.1} s",
        first_page, whole
    );
    sb.stop();
}
