//! Transfer and listing benchmark: Spacedock's engine against the aws cli, rclone and s5cmd, on
//! the same sandbox and the same data, in one run: uploads and downloads of one 1 GiB file and of
//! 2,000 files of 64 KiB, over loopback and over a WAN-like link (a proxy holding every byte
//! 20 ms each way). Prints its figures; asserts nothing.
//!
//! Run it with `.ci/bench` (which installs the peers first).

mod ops;
mod syncs;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use spacedock_core::browse;
use spacedock_core::connection::{Endpoint, SANDBOX_SIGNING_REGION};
use spacedock_core::destroy;
use spacedock_core::s3;
use spacedock_core::sandbox::{self, StartOptions};
use tools::{Cost, Data, Link, Programs, Tool, TOOLS};

const RUNS: usize = 3;
const BIG: u64 = 1 << 30;
const SMALL_COUNT: usize = 2000;
const SMALL_SIZE: usize = 64 << 10;
const LISTING_COUNT: usize = 100_000;
/// One way: a round trip of 40 ms, about the distance to a Space in a nearby region.
const WAN_DELAY_MS: u64 = 20;
/// The WAN link's rate each way, MB/s: the cells say what share of it each tool used.
const WAN_RATE_MBPS: f64 = 50.0;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
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

async fn fresh_space(link: &Link, label: &str) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let name = format!("bench-{label}-{millis}");
    let create = link.client.create_bucket().bucket(&name).send().await;
    create.expect("create bench Space");
    name
}

async fn drop_space(link: &Link, name: &str) {
    let cancel = spacedock_core::CancellationToken::new();
    let gone = destroy::destroy(&link.client, &link.url, name, name, true, &cancel, |_| {});
    gone.await.expect("clean up");
}

/// The WAN-like link: the proxy binary beside this one, in front of the sandbox.
fn start_wan(target: &str) -> (Child, u16) {
    let exe = std::env::current_exe().expect("bench path");
    let proxy = exe.with_file_name("wan_proxy");
    let mut child = Command::new(&proxy)
        .args([
            target,
            &WAN_DELAY_MS.to_string(),
            &WAN_RATE_MBPS.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} can't start: {e}", proxy.display()));
    let mut line = String::new();
    use std::io::BufRead;
    let out = child.stdout.take().expect("proxy output");
    std::io::BufReader::new(out)
        .read_line(&mut line)
        .expect("proxy port");
    (child, line.trim().parse().expect("a port"))
}

/// A cell: one direction, one data set, one link; the tools' costs, run by run.
struct Cell {
    label: String,
    data: Data,
    costs: [Vec<Cost>; 4],
}

/// Runs every tool `RUNS` times on one cell; each round starts with another tool, so none always
/// meets the coldest cluster.
async fn run_cell(
    p: &Programs,
    link: &Link,
    up: bool,
    data: Data,
    local: &Path,
    work: &Path,
    label: String,
) -> Cell {
    eprintln!("{label}:");
    let mut cell = Cell {
        label,
        data,
        costs: Default::default(),
    };
    // Downloads all read one Space, filled once.
    let source = if up {
        None
    } else {
        let space = fresh_space(link, "source").await;
        tools::engine_upload(link, &space, local).await;
        Some(space)
    };
    for run in 0..RUNS {
        for k in 0..TOOLS.len() {
            let i = (k + run) % TOOLS.len();
            let tool = TOOLS[i];
            // Each run starts with no dirty pages left by the one before: a tool that flushes its
            // files (Spacedock does, before a file takes its name) would pay for the last one's.
            // SAFETY: sync(2) takes no arguments and can't fail.
            unsafe { libc::sync() };
            let cost = match &source {
                None => {
                    let space = fresh_space(link, "up").await;
                    let cost = tools::upload(tool, p, link, &space, data, local).await;
                    drop_space(link, &space).await;
                    cost
                }
                Some(space) => {
                    let dest = work.join("downloaded");
                    let _ = std::fs::remove_dir_all(&dest);
                    std::fs::create_dir_all(&dest).expect("download folder");
                    let cost = tools::download(tool, p, link, space, data, &dest).await;
                    check_download(data, &dest, tool);
                    let _ = std::fs::remove_dir_all(&dest);
                    cost
                }
            };
            eprintln!(
                "  run {} {}: {:.2} s, {:.2} s CPU, {:.0} MB",
                run + 1,
                tool.name(),
                cost.wall.as_secs_f64(),
                cost.cpu.as_secs_f64(),
                cost.peak_mb
            );
            cell.costs[i].push(cost);
        }
        // Let RGW's garbage collection reclaim deleted data between rounds.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    if let Some(space) = source {
        drop_space(link, &space).await;
    }
    cell
}

/// A download counts only if it is all there.
fn check_download(data: Data, dest: &Path, tool: Tool) {
    match data {
        Data::Big => {
            let size = std::fs::metadata(dest.join("big.bin")).map(|m| m.len());
            assert_eq!(
                size.ok(),
                Some(BIG),
                "{}: the big file did not arrive whole",
                tool.name()
            );
        }
        Data::Small => {
            let n = std::fs::read_dir(dest.join("small"))
                .map(|d| d.count())
                .unwrap_or(0);
            assert_eq!(
                n,
                SMALL_COUNT,
                "{}: {n} of {SMALL_COUNT} small files arrived",
                tool.name()
            );
        }
    }
}

async fn bench_listing(ctx: &Link) -> (f64, f64, u64) {
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
    let _ = browse::list_folder(&ctx.client, &ctx.url, space, "", 1000, |p| {
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
    let total = browse::list_folder(&ctx.client, &ctx.url, space, "", 1000, |_| {
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

/// Runs every tool `RUNS` times on one operation, each run on a Space filled for it (the
/// listing reads the kept listing Space), and checks the end: everything moved, or deleted.
async fn run_op(p: &Programs, link: &Link, op: ops::Op) -> [Vec<Cost>; 4] {
    eprintln!("{}:", op.label());
    let mut costs: [Vec<Cost>; 4] = Default::default();
    for run in 0..RUNS {
        for k in 0..TOOLS.len() {
            let i = (k + run) % TOOLS.len();
            let tool = TOOLS[i];
            let space = match op {
                ops::Op::List => "bench-listing-100k".to_string(),
                ops::Op::Move => {
                    let space = fresh_space(link, "move").await;
                    ops::fill(link, &space, "src/", ops::MOVE_COUNT, 4096).await;
                    space
                }
                ops::Op::Delete => {
                    let space = fresh_space(link, "delete").await;
                    ops::fill(link, &space, "d/", ops::DELETE_COUNT, 0).await;
                    space
                }
            };
            let cost = ops::run(op, tool, p, link, &space).await;
            match op {
                ops::Op::List => {}
                ops::Op::Move => {
                    assert_eq!(ops::count(link, &space, "src/").await, 0, "{}", tool.name());
                    assert_eq!(
                        ops::count(link, &space, "dst/").await,
                        ops::MOVE_COUNT,
                        "{}",
                        tool.name()
                    );
                }
                ops::Op::Delete => {
                    assert_eq!(ops::count(link, &space, "d/").await, 0, "{}", tool.name());
                }
            }
            if op != ops::Op::List {
                drop_space(link, &space).await;
            }
            eprintln!(
                "  run {} {}: {:.2} s, {:.2} s CPU",
                run + 1,
                tool.name(),
                cost.wall.as_secs_f64(),
                cost.cpu.as_secs_f64()
            );
            costs[i].push(cost);
        }
    }
    costs
}

/// A sync case, RUNS times with each tool: the costs, and the edits each run brought over.
async fn run_sync_case(
    p: &Programs,
    link: &Link,
    case: syncs::Case,
    source: &Path,
    work: &Path,
) -> SyncRuns {
    eprintln!("{}:", case.label());
    let mut out: SyncRuns = Default::default();
    for run in 0..RUNS {
        for k in 0..TOOLS.len() {
            let i = (k + run) % TOOLS.len();
            let tool = TOOLS[i];
            let space = fresh_space(link, "sync").await;
            let (cost, caught) = syncs::run(case, tool, p, link, &space, source, work).await;
            drop_space(link, &space).await;
            eprintln!(
                "  run {} {}: {:.2} s, {:.2} s CPU, {caught} of {} edits brought over",
                run + 1,
                tool.name(),
                cost.wall.as_secs_f64(),
                cost.cpu.as_secs_f64(),
                syncs::EDITS
            );
            out[i].push((cost, caught));
        }
    }
    out
}

/// Each tool's runs of a sync case: cost, and edits brought over.
type SyncRuns = [Vec<(Cost, usize)>; 4];

fn print_syncs(rows: &[(syncs::Case, SyncRuns)]) {
    if rows.is_empty() {
        return;
    }
    println!("\n== Sync, 10,000 × 4 KiB (median of {RUNS}, seconds; loopback; edits brought over of {}) ==", syncs::EDITS);
    print!("{:<32}", "");
    for tool in TOOLS {
        print!(" {:>16}", tool.name());
    }
    println!(" {:>12}", "÷ best peer");
    for (case, runs) in rows {
        print!("{:<32}", case.label());
        let secs: Vec<f64> = (runs.iter())
            .map(|r| median(r.iter().map(|(c, _)| c.wall.as_secs_f64()).collect()))
            .collect();
        for (s, r) in secs.iter().zip(runs) {
            let caught = r.iter().map(|(_, n)| *n).min().unwrap_or(0);
            match case {
                syncs::Case::Unchanged => print!(" {s:>14.2} s"),
                _ => print!(" {:>16}", format!("{s:.2} s ({caught})")),
            }
        }
        // A peer that missed edits it should have brought over is not counted as the best.
        let best = (secs[1..].iter().zip(&runs[1..]))
            .filter(|(_, r)| {
                *case == syncs::Case::Unchanged || r.iter().all(|(_, n)| *n == syncs::EDITS)
            })
            .map(|(s, _)| *s)
            .fold(f64::INFINITY, f64::min);
        println!(" {:>11.2}×", best / secs[0]);
    }
    println!("(n): the fewest of the {} edits a run brought over; a peer that missed some is left out of \"best\".", syncs::EDITS);
}

fn print_ops(rows: &[(ops::Op, [Vec<Cost>; 4])]) {
    if rows.is_empty() {
        return;
    }
    println!("\n== Work on the server (median of {RUNS}, seconds; loopback) ==");
    print!("{:<24}", "");
    for tool in TOOLS {
        print!(" {:>12}", tool.name());
    }
    println!(" {:>12}", "÷ best peer");
    for (op, costs) in rows {
        print!("{:<24}", op.label());
        let secs: Vec<f64> = (costs.iter())
            .map(|c| median(c.iter().map(|c| c.wall.as_secs_f64()).collect()))
            .collect();
        for s in &secs {
            print!(" {s:>10.2} s");
        }
        let best = secs[1..].iter().cloned().fold(f64::INFINITY, f64::min);
        println!(" {:>11.2}×", best / secs[0]);
    }
}

fn print_cells(cells: &[Cell]) {
    if cells.is_empty() {
        return;
    }
    println!("\n== Transfers (median of {RUNS}; same sandbox, same data; WAN: {WAN_DELAY_MS} ms and {WAN_RATE_MBPS} MB/s each way) ==");
    print!("{:<24}", "");
    for tool in TOOLS {
        print!(" {:>26}", tool.name());
    }
    println!(" {:>12}", "÷ best peer");
    let mut peaks = [0f64; 4];
    for cell in cells {
        let (bytes, unit) = match cell.data {
            Data::Big => (BIG as f64, "MB/s"),
            Data::Small => ((SMALL_COUNT * SMALL_SIZE) as f64, "files/s"),
        };
        let rate = |secs: f64| match cell.data {
            Data::Big => BIG as f64 / 1e6 / secs,
            Data::Small => SMALL_COUNT as f64 / secs,
        };
        print!("{:<24}", cell.label);
        let mut rates = [0f64; 4];
        for (i, costs) in cell.costs.iter().enumerate() {
            rates[i] = rate(median(costs.iter().map(|c| c.wall.as_secs_f64()).collect()));
            let cpu = median(costs.iter().map(|c| c.cpu.as_secs_f64()).collect());
            let per_gib = cpu / (bytes / (1u64 << 30) as f64);
            peaks[i] = costs.iter().map(|c| c.peak_mb).fold(peaks[i], f64::max);
            print!(" {:>8.1} {unit:<7} {per_gib:>5.1} c/G", rates[i]);
        }
        let best = rates[1..].iter().cloned().fold(0.0, f64::max);
        print!(" {:>11.2}×", rates[0] / best);
        if cell.label.starts_with("WAN") {
            // The share of the link: bytes per second against its rate.
            let share = |r: f64| match cell.data {
                Data::Big => r / WAN_RATE_MBPS,
                Data::Small => r * SMALL_SIZE as f64 / 1e6 / WAN_RATE_MBPS,
            };
            print!(
                "   link: Spacedock {:.0} %, best peer {:.0} %",
                100.0 * share(rates[0]),
                100.0 * share(best)
            );
        }
        println!();
    }
    println!("(c/G: client CPU seconds per GiB moved)");
    print!("{:<24}", "peak memory");
    for peak in peaks {
        print!(" {:>23.0} MB", peak);
    }
    println!();
    println!("Targets: ≥ 1.0× the best peer on loopback cells; on the WAN, ≥ 90 % of the link for 1 GiB and the best peer's rate or better for small files; peak memory < 200 MB.");
}

#[tokio::main]
async fn main() {
    let var = |name: &str| std::env::var_os(name).map(PathBuf::from);
    let programs = Programs {
        aws: var("BENCH_AWS").expect("BENCH_AWS: path of the aws cli"),
        rclone: var("BENCH_RCLONE").unwrap_or_else(|| "rclone".into()),
        s5cmd: var("BENCH_S5CMD").expect("BENCH_S5CMD: path of s5cmd"),
    };
    let work = var("BENCH_DIR").expect("BENCH_DIR: the work folder .ci/bench sets");
    std::fs::create_dir_all(&work).expect("bench dir");
    eprintln!("preparing data in {}…", work.display());
    let (big, small) = make_data(&work);
    let warm = work.join("warm-up.bin");
    std::fs::write(&warm, vec![1u8; 64 << 20]).expect("warm-up file");

    let options = StartOptions {
        store_bytes: 40 << 30,
        ..StartOptions::new(work.join("sandbox"))
    };
    let sb = sandbox::start(&options, |_| {}).expect("sandbox");
    let (access_key, secret) = (sb.owner().access_key.clone(), sb.owner().secret.clone());
    let link_to = |url: String| {
        let endpoint = Endpoint {
            url: url.clone(),
            signing_region: SANDBOX_SIGNING_REGION.into(),
            path_style: true,
        };
        Link {
            client: s3::client(&endpoint, &access_key, &secret),
            url,
            access_key: access_key.clone(),
            secret: secret.clone(),
        }
    };
    let loopback = link_to(sb.endpoint_url());
    let (mut proxy, port) = start_wan(&format!("127.0.0.1:{}", sb.rgw_port()));
    let wan = link_to(format!("http://127.0.0.1:{port}"));

    // A fresh cluster creates its data pools on the first writes: do them before measuring.
    let space = fresh_space(&loopback, "warm").await;
    tools::engine_upload(&loopback, &space, &warm).await;
    drop_space(&loopback, &space).await;

    // BENCH_CELLS picks the cells whose label holds it (e.g. "down", "WAN up"); all by default.
    let only = std::env::var("BENCH_CELLS").unwrap_or_default();
    let mut cells = Vec::new();
    for (name, link) in [("loopback", &loopback), ("WAN", &wan)] {
        for up in [true, false] {
            for (data, local, what) in [
                (Data::Big, &big, "1 GiB"),
                (Data::Small, &small, "2,000 × 64 KiB"),
            ] {
                let label = format!("{name} {} {what}", if up { "up" } else { "down" });
                if !label.contains(&only) {
                    continue;
                }
                cells.push(run_cell(&programs, link, up, data, local, &work, label).await);
            }
        }
    }
    let listing =
        match only.is_empty() || "listing".contains(&only) || "list 100,000".contains(&only) {
            true => {
                eprintln!("listing {LISTING_COUNT} files:");
                Some(bench_listing(&loopback).await)
            }
            false => None,
        };
    let mut op_rows = Vec::new();
    for op in [ops::Op::Move, ops::Op::Delete, ops::Op::List] {
        if only.is_empty() || op.label().contains(&only) {
            op_rows.push((op, run_op(&programs, &loopback, op).await));
        }
    }
    let mut sync_rows = Vec::new();
    let cases = [
        syncs::Case::Unchanged,
        syncs::Case::EditedHere,
        syncs::Case::EditedThere,
    ];
    if cases
        .iter()
        .any(|c| only.is_empty() || c.label().contains(&only))
    {
        let source = work.join("sync-source");
        if !source.join("19").is_dir() {
            syncs::make_folder(&source);
        }
        for case in cases {
            if only.is_empty() || case.label().contains(&only) {
                sync_rows.push((
                    case,
                    run_sync_case(&programs, &loopback, case, &source, &work).await,
                ));
            }
        }
    }
    let _ = proxy.kill();
    let _ = proxy.wait();
    print_cells(&cells);
    print_ops(&op_rows);
    print_syncs(&sync_rows);
    if let Some((first_page, whole, listed)) = listing {
        println!("Listing {listed} files: first page after {first_page:.3} s (target < 1 s), whole listing {whole:.1} s");
    }
    sb.stop();
}
