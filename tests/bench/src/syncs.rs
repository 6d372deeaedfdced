//! Syncing a folder of 10,000 × 4 KiB files with a Space, each tool with its defaults: how long
//! a sync takes to find that nothing changed, how long it takes to bring 100 same-size edits
//! over (made in the folder, or in the Space by another client), and how many of the 100 each
//! tool brought over — a tool that compares sizes and clocks can miss a same-size edit.

use std::path::{Path, PathBuf};

use spacedock_core::transfer::queue::{Queue, QueueSetup};
use spacedock_core::transfer::sync::{NewPair, SyncDeletes, SyncDirection, SyncSchedule};
use spacedock_core::SpaceRef;

use crate::tools::{measured, run_peer, Cost, Link, Programs, Tool};

pub const FILES: usize = 10_000;
pub const SIZE: usize = 4096;
pub const EDITS: usize = 100;

/// What one cell does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Folder and Space already the same: time to a plan (or a sync that does nothing).
    Unchanged,
    /// 100 files edited in the folder, same size: synced up.
    EditedHere,
    /// 100 files edited in the Space by another client, same size: synced down.
    EditedThere,
}

impl Case {
    pub fn label(self) -> &'static str {
        match self {
            Case::Unchanged => "sync 10,000 unchanged",
            Case::EditedHere => "sync up 100 of 10,000 edited",
            Case::EditedThere => "sync down 100 of 10,000 edited",
        }
    }
}

fn rel(i: usize) -> String {
    format!("{:02}/f-{i:05}.bin", i % 20)
}

fn body(i: usize, round: u8) -> Vec<u8> {
    (0..SIZE)
        .map(|j| (i.wrapping_mul(31) + j) as u8 ^ round)
        .collect()
}

/// A folder of FILES files.
pub fn make_folder(at: &Path) {
    for i in 0..FILES {
        let path = at.join(rel(i));
        std::fs::create_dir_all(path.parent().expect("folder")).expect("folders");
        std::fs::write(path, body(i, 0)).expect("file");
    }
}

fn copy_folder(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status();
    assert!(status.is_ok_and(|s| s.success()), "copy the folder");
}

/// The files a case edits.
fn edited() -> impl Iterator<Item = usize> {
    (0..EDITS).map(|k| k * (FILES / EDITS) + 7)
}

/// Spacedock's sync: a pair in a fresh engine, its first run approved (not timed).
struct Mine {
    queue: Queue,
    pair: String,
    at: SpaceRef,
    _data: tempfile::TempDir,
}

async fn spacedock_pair(link: &Link, space: &str, folder: &Path, direction: SyncDirection) -> Mine {
    let data = tempfile::tempdir().expect("data");
    let queue = Queue::new(QueueSetup::in_folder(data.path()));
    let pair = (queue.syncs())
        .add_pair(
            NewPair {
                folder: folder.to_string_lossy().into_owned(),
                space: space.to_string(),
                prefix: String::new(),
                direction,
                deletes: SyncDeletes::Keep,
                trash: Some(".spacedock-trash/".into()),
                schedule: SyncSchedule::Manual,
                broad_confirmed: false,
            },
            "bench",
            &link.url,
        )
        .expect("pair");
    let at = SpaceRef::new(&link.client, &link.url, space);
    Mine {
        queue,
        pair: pair.id,
        at,
        _data: data,
    }
}

async fn spacedock_sync(m: &Mine) {
    let plan = m
        .queue
        .sync_plan(&m.pair, m.at.clone())
        .await
        .expect("plan");
    let done = m.queue.sync_run(plan.plan, true).await.expect("run");
    assert_eq!(done.failed, 0, "{done:?}");
}

fn peer_sync(p: &Programs, tool: Tool, link: &Link, space: &str, folder: &Path, up: bool) -> Cost {
    let url = &link.url;
    let local = format!("{}/", folder.display());
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (s3, rc) = (format!("s3://{space}/"), format!("sandbox:{space}"));
    match (tool, up) {
        (Tool::Aws, true) => run_peer(
            link,
            &p.aws,
            &args(&["s3", "sync", &local, &s3, "--endpoint-url", url]),
        ),
        (Tool::Aws, false) => run_peer(
            link,
            &p.aws,
            &args(&["s3", "sync", &s3, &local, "--endpoint-url", url]),
        ),
        (Tool::Rclone, true) => run_peer(link, &p.rclone, &args(&["sync", &local, &rc])),
        (Tool::Rclone, false) => run_peer(link, &p.rclone, &args(&["sync", &rc, &local])),
        (Tool::S5cmd, true) => run_peer(
            link,
            &p.s5cmd,
            &args(&["--endpoint-url", url, "sync", &local, &s3]),
        ),
        (Tool::S5cmd, false) => run_peer(
            link,
            &p.s5cmd,
            &args(&["--endpoint-url", url, "sync", &format!("{s3}*"), &local]),
        ),
        (Tool::Spacedock, _) => unreachable!("the engine runs in this process"),
    }
}

/// One run of a case with one tool: its cost, and how many of the edits it brought over.
pub async fn run(
    case: Case,
    tool: Tool,
    p: &Programs,
    link: &Link,
    space: &str,
    source: &Path,
    work: &Path,
) -> (Cost, usize) {
    let folder: PathBuf = work.join(format!("sync-{}-{}", tool.name().replace(' ', "-"), space));
    let _ = std::fs::remove_dir_all(&folder);
    copy_folder(source, &folder);
    let up = case != Case::EditedThere;
    let direction = if up {
        SyncDirection::Up
    } else {
        SyncDirection::Down
    };
    // The starting point, not timed: the Space holds the folder, each tool having put it there.
    let mine = match tool {
        Tool::Spacedock => {
            let m = spacedock_pair(link, space, &folder, SyncDirection::Up).await;
            spacedock_sync(&m).await;
            if !up {
                // The same baseline, now a Space → folder pair.
                let down = spacedock_pair(link, space, &folder, direction).await;
                drop(m);
                let first = down
                    .queue
                    .sync_plan(&down.pair, down.at.clone())
                    .await
                    .expect("plan");
                down.queue
                    .sync_run(first.plan, true)
                    .await
                    .expect("first down");
                Some(down)
            } else {
                Some(m)
            }
        }
        _ => {
            peer_sync(p, tool, link, space, &folder, true);
            None
        }
    };
    // A second apart: a clock-and-size tool sees the edits as newer.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    match case {
        Case::Unchanged => {}
        Case::EditedHere => {
            for i in edited() {
                std::fs::write(folder.join(rel(i)), body(i, 0x5A)).expect("edit");
            }
        }
        Case::EditedThere => {
            for i in edited() {
                (link.client.put_object().bucket(space))
                    .key(rel(i))
                    .body(body(i, 0xA5).into())
                    .send()
                    .await
                    .expect("edit in the Space");
            }
        }
    }
    let cost = match (&mine, case) {
        (Some(m), Case::Unchanged) => {
            measured(async {
                let plan = m
                    .queue
                    .sync_plan(&m.pair, m.at.clone())
                    .await
                    .expect("plan");
                assert!(plan.is_empty(), "nothing changed");
            })
            .await
        }
        (Some(m), _) => measured(spacedock_sync(m)).await,
        (None, _) => peer_sync(p, tool, link, space, &folder, up),
    };
    let mut caught = 0;
    for i in edited() {
        let want = match case {
            Case::Unchanged => body(i, 0),
            Case::EditedHere => body(i, 0x5A),
            Case::EditedThere => body(i, 0xA5),
        };
        let there = match case {
            Case::EditedThere => std::fs::read(folder.join(rel(i))).ok(),
            _ => {
                let got = link
                    .client
                    .get_object()
                    .bucket(space)
                    .key(rel(i))
                    .send()
                    .await;
                match got {
                    Ok(o) => o.body.collect().await.ok().map(|b| b.to_vec()),
                    Err(_) => None,
                }
            }
        };
        caught += usize::from(there.as_deref() == Some(&want[..]));
    }
    let _ = std::fs::remove_dir_all(&folder);
    (cost, caught)
}
