//! Sync against a model. Random edits and deletes on both sides of a two-way pair (the folder,
//! and another client in the Space), syncs in between, and now and then a sync killed at a
//! random point (its task dropped mid-flight, as a crash leaves it). Checked after every sync:
//! - no content either side held before it is lost: each is still in the folder, the Space
//!   (its trash folder and versions included) or the desktop's trash;
//! - after a sync that ran whole, with nothing held back, both sides hold the same files.
//!
//! `SPACEDOCK_SYNC_MODEL_CASES` says how many sequences run (2 here), `SPACEDOCK_SYNC_MODEL_SEED`
//! the first one's seed; `.ci/sync-model` runs many and prints the figures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::model::Rng;
use crate::sync::{new_pair, put, setup, Setup};
use spacedock::core::sync::{self, SyncDeletes, SyncDirection};
use spacedock_tests::{sandbox, SandboxInfo};

const NAMES: [&str; 6] = ["a.txt", "b.txt", "d/c.txt", "d/e.txt", "x/y/z.txt", "w.txt"];
const STEPS: usize = 24;

/// Every file's bytes under `root`, by path.
fn files_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".spacedock-part") {
                // What a killed download was writing: never a file of the folder.
                continue;
            } else if let Ok(bytes) = std::fs::read(&path) {
                let rel = path
                    .strip_prefix(root)
                    .expect("below")
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, bytes);
            }
        }
    }
    out
}

/// Every key's bytes in the Space (current versions), by key.
async fn keys_of(owner: &aws_sdk_s3::Client, space: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for key in spacedock_tests::keys_below(owner, space, "").await {
        if let Some(bytes) = spacedock_tests::fetch(owner, space, &key).await {
            out.insert(key, bytes);
        }
    }
    out
}

/// Every content kept anywhere: the folder, the Space (trash folder included), and the
/// desktop's trash.
async fn everything_kept(t: &Setup) -> BTreeSet<Vec<u8>> {
    let mut kept: BTreeSet<Vec<u8>> = files_under(&t.folder).into_values().collect();
    kept.extend(keys_of(&t.owner, &t.space).await.into_values());
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/share"))
        });
    if let Some(d) = data {
        kept.extend(files_under(&d.join("Trash/files")).into_values());
    }
    kept
}

#[derive(Default, Debug)]
struct Figures {
    steps: usize,
    syncs: usize,
    killed: usize,
    conflicts: u32,
    checked: usize,
    lost: usize,
    unequal: usize,
}

async fn one_case(sb: &SandboxInfo, seed: u64, figures: &mut Figures) {
    let mut rng = Rng(seed.max(1));
    let t = setup(sb, "sync-model").await;
    for name in NAMES.iter().take(3) {
        crate::sync::write(&t.folder, name, format!("{seed} first {name}").as_bytes());
    }
    let pair = sync::add_pair(
        &t.s,
        new_pair(
            &t.folder,
            &t.space,
            SyncDirection::TwoWay,
            SyncDeletes::Mirror,
            Some(".trash/"),
        ),
        None,
    )
    .await
    .expect("add");
    crate::sync::sync_now(&t.s, &pair).await;
    let mut n = 0u64;
    for step in 0..STEPS {
        figures.steps += 1;
        let name = NAMES[rng.below(NAMES.len())];
        n += 1;
        let body = format!("{seed}-{step}-{n} {name}").into_bytes();
        match rng.below(10) {
            0..=2 => crate::sync::write(&t.folder, name, &body),
            3 => {
                let _ = std::fs::remove_file(t.folder.join(name));
            }
            4..=5 => put(&t.owner, &t.space, name, &body).await,
            6 => {
                let _ = spacedock_tests::delete_keys(
                    &t.owner,
                    &sb.endpoint.url,
                    &t.space,
                    &[name.to_string()],
                )
                .await;
            }
            _ => {
                // A sync; one in three is killed part way.
                let before = {
                    let mut live: BTreeSet<Vec<u8>> =
                        files_under(&t.folder).into_values().collect();
                    live.extend(keys_of(&t.owner, &t.space).await.into_values());
                    live
                };
                figures.syncs += 1;
                let plan = sync::plan(&t.s, &pair.id).await.expect("plan");
                let kill = rng.below(3) == 0;
                let whole = if kill {
                    figures.killed += 1;
                    let s = &t.s;
                    let run = sync::run(s, plan.plan, true);
                    let wait = Duration::from_millis(rng.below(60) as u64);
                    // Dropped mid-flight at its next await point, as a crash stops it.
                    let _ = tokio::time::timeout(wait, run).await;
                    false
                } else {
                    let done = sync::run(&t.s, plan.plan, true).await.expect("run");
                    figures.conflicts += done.conflicts;
                    done.failed == 0 && done.changed_since == 0 && done.held == 0 && !done.stopped
                };
                let kept = everything_kept(&t).await;
                for content in &before {
                    figures.checked += 1;
                    if !kept.contains(content) {
                        figures.lost += 1;
                        eprintln!(
                            "LOST seed {seed} step {step}: {:?}",
                            String::from_utf8_lossy(content)
                        );
                    }
                }
                let nothing_held =
                    plan.items.iter().all(|i| i.held.is_none()) && plan.doubts.is_empty();
                if whole && nothing_held {
                    // Conflict copies go both ways in the same run: the sides are equal now.
                    let local = files_under(&t.folder);
                    let remote: BTreeMap<String, Vec<u8>> = keys_of(&t.owner, &t.space)
                        .await
                        .into_iter()
                        .filter(|(k, _)| !k.starts_with(".trash/"))
                        .collect();
                    if local != remote {
                        figures.unequal += 1;
                        eprintln!(
                            "UNEQUAL seed {seed} step {step}: folder {:?} Space {:?}",
                            local.keys().collect::<Vec<_>>(),
                            remote.keys().collect::<Vec<_>>()
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn random_edits_on_both_sides_and_killed_syncs_never_lose_a_version() {
    let sb = sandbox();
    let cases: u64 = std::env::var("SPACEDOCK_SYNC_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let first: u64 = std::env::var("SPACEDOCK_SYNC_MODEL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20261205);
    let mut figures = Figures::default();
    for case in 0..cases {
        let seed = first.wrapping_add(case.wrapping_mul(7919));
        one_case(&sb, seed, &mut figures).await;
    }
    println!(
        "sync model: {cases} cases, {} steps, {} syncs ({} killed), {} conflicts kept, {} contents checked, {} lost, {} times unequal after a whole sync",
        figures.steps, figures.syncs, figures.killed, figures.conflicts, figures.checked, figures.lost, figures.unequal
    );
    assert_eq!((figures.lost, figures.unequal), (0, 0), "{figures:?}");
}
