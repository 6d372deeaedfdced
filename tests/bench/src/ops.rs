//! Work the server does while the client asks: moving 1,000 files (server-side copies and
//! deletes), deleting 10,000 and listing 100,000, each tool with its defaults.

use std::collections::HashMap;

use spacedock_core::browse;
use spacedock_core::transfer::copy::{self, Between, CopyMode, CopySettings};
use spacedock_core::transfer::queue::{Queue, QueueSetup};
use spacedock_core::transfer::Conflict;

use crate::tools::{measured, run_peer, Cost, Link, Programs, Tool};

pub const MOVE_COUNT: usize = 1000;
pub const DELETE_COUNT: usize = 10_000;

/// What one cell does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `src/` (MOVE_COUNT files of 4 KiB) to `dst/`, in one Space.
    Move,
    /// Everything below `d/` (DELETE_COUNT empty files).
    Delete,
    /// Every file of a Space (the listing Space).
    List,
}

impl Op {
    pub fn label(self) -> &'static str {
        match self {
            Op::Move => "move 1,000 × 4 KiB",
            Op::Delete => "delete 10,000",
            Op::List => "list 100,000",
        }
    }
}

/// Puts `count` files of `size` bytes under `prefix`, 32 at a time.
pub async fn fill(link: &Link, space: &str, prefix: &str, count: usize, size: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..32 {
        let (client, space, prefix) = (link.client.clone(), space.to_string(), prefix.to_string());
        tasks.spawn(async move {
            for i in (worker..count).step_by(32) {
                (client.put_object().bucket(&space))
                    .key(format!("{prefix}{:02}/f-{i:05}", i % 20))
                    .body(vec![7u8; size].into())
                    .send()
                    .await
                    .expect("put");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// How many files are below `prefix`.
pub async fn count(link: &Link, space: &str, prefix: &str) -> usize {
    let mut n = 0;
    let mut token = None;
    loop {
        let page = (link.client.list_objects_v2().bucket(space).prefix(prefix))
            .set_continuation_token(token)
            .send()
            .await
            .expect("list");
        n += page.contents().len();
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            return n;
        }
    }
}

pub async fn run(op: Op, tool: Tool, p: &Programs, link: &Link, space: &str) -> Cost {
    let url = &link.url;
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let s3 = |path: &str| format!("s3://{space}/{path}");
    let rc = |path: &str| format!("sandbox:{space}/{path}");
    match (op, tool) {
        (Op::Move, Tool::Spacedock) => {
            measured(async {
                let b = Between::new(&link.client, url, space, space);
                let keys = ["src/".to_string()];
                let plan = copy::plan(&b, &keys, "dst/", None, CopyMode::Move)
                    .await
                    .expect("plan");
                let summary = copy::run(
                    &b,
                    plan,
                    CopyMode::Move,
                    (Conflict::Overwrite, &HashMap::new()),
                    &HashMap::new(),
                    CopySettings::default(),
                    &|_, _| {},
                    &|_| {},
                )
                .await;
                assert!(summary.problems.is_empty(), "{:?}", summary.problems);
            })
            .await
        }
        (Op::Move, Tool::Aws) => run_peer(
            link,
            &p.aws,
            &args(&["s3", "mv", &s3("src/"), &s3("dst/"), "--recursive"])
                .into_iter()
                .chain(args(&["--endpoint-url", url, "--only-show-errors"]))
                .collect::<Vec<_>>(),
        ),
        (Op::Move, Tool::Rclone) => run_peer(
            link,
            &p.rclone,
            &args(&["move", &rc("src"), &rc("dst/src")]),
        ),
        (Op::Move, Tool::S5cmd) => run_peer(
            link,
            &p.s5cmd,
            &args(&["--endpoint-url", url, "mv", &s3("src/*"), &s3("dst/src/")]),
        ),
        (Op::Delete, Tool::Spacedock) => {
            // The app's way: through the transfer queue (planned, journaled, guarded).
            let dir = tempfile::tempdir().expect("tempdir");
            let queue = Queue::new(QueueSetup::in_folder(dir.path()));
            let at = spacedock_core::SpaceRef::new(&link.client, url, space);
            measured(async {
                let keys = ["d/".to_string()];
                let stop = spacedock_core::CancellationToken::new();
                let chosen = (&keys[..], &HashMap::new());
                let done =
                    (queue.delete(&at, "bench", chosen, &stop, &|_| {}).await).expect("delete");
                // What is left is checked by the caller.
                assert_eq!(done.deleted as usize, DELETE_COUNT, "{done:?}");
            })
            .await
        }
        (Op::Delete, Tool::Aws) => run_peer(
            link,
            &p.aws,
            &args(&[
                "s3",
                "rm",
                &s3("d/"),
                "--recursive",
                "--endpoint-url",
                url,
                "--only-show-errors",
            ]),
        ),
        (Op::Delete, Tool::Rclone) => run_peer(link, &p.rclone, &args(&["delete", &rc("d")])),
        (Op::Delete, Tool::S5cmd) => run_peer(
            link,
            &p.s5cmd,
            &args(&["--endpoint-url", url, "rm", &s3("d/*")]),
        ),
        (Op::List, Tool::Spacedock) => {
            measured(async {
                let listed = browse::list_folder(&link.client, url, space, "", 1000, |_| true)
                    .await
                    .expect("list");
                assert!(listed >= 100_000, "{listed}");
            })
            .await
        }
        (Op::List, Tool::Aws) => run_peer(
            link,
            &p.aws,
            &args(&["s3", "ls", &s3(""), "--recursive", "--endpoint-url", url]),
        ),
        (Op::List, Tool::Rclone) => {
            run_peer(link, &p.rclone, &args(&["ls", &format!("sandbox:{space}")]))
        }
        (Op::List, Tool::S5cmd) => run_peer(
            link,
            &p.s5cmd,
            &args(&["--endpoint-url", url, "ls", &s3("*")]),
        ),
    }
}
