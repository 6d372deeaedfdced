//! The habit, as tests every feature joins: each consumer of a server's listing is run against
//! listings that lie; each act that deletes or overwrites is run against an object changed
//! between its plan and the act; each writer of settings is run against settings with fields
//! this app does not know. A new feature gets these tests by adding its entry to the lists
//! below, not by someone remembering.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use spacedock::core::connection::service as connections;
use spacedock::core::error::{Error, ErrorKind};
use spacedock::core::secret::Secret;
use spacedock::core::services::Services;
use spacedock::core::transfer::copy::CopyMode;
use spacedock::core::transfer::copy_batch::{self, CopyRequest};
use spacedock::core::transfer::{download_batch, upload_batch};
use spacedock::core::{destroy, files, search, space, versions};
use spacedock_tests::hostile_s3::{HostileS3, Lie};

use crate::services::{draft, services};

type Run = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// One consumer of a listing, run against a Space "s" of a lying server.
struct Consumer {
    name: &'static str,
    /// Lists below a folder (not the whole Space), so a key outside it can be told.
    below_a_folder: bool,
    /// Meant to delete what it lists (destroying a Space): it may, but must stop.
    deletes: bool,
    run: fn(Arc<Kit>) -> Run,
}

/// What a consumer runs with: services connected to the lying server, and a folder on disk.
struct Kit {
    s: Services,
    dir: tempfile::TempDir,
}

fn copy_of(keys: &[&str], folder: &str, rename: Option<&str>, mode: CopyMode) -> CopyRequest {
    CopyRequest {
        space: "s".into(),
        region: None,
        keys: keys.iter().map(|k| k.to_string()).collect(),
        to_space: "s".into(),
        folder: folder.into(),
        rename: rename.map(String::from),
        mode,
    }
}

/// Everything that acts on, or shows, what a server lists.
fn listing_consumers() -> Vec<Consumer> {
    vec![
        Consumer {
            name: "browsing a folder",
            below_a_folder: true,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    files::list_folder(&k.s, "s", None, "docs/", |_| true)
                        .await
                        .map(drop)
                })
            },
        },
        Consumer {
            name: "a folder's size",
            below_a_folder: true,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    search::service::folder_size(&k.s, "s", None, "docs/", |_| true)
                        .await
                        .map(drop)
                })
            },
        },
        Consumer {
            name: "searching the Space",
            below_a_folder: false,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    search::service::search(&k.s, "s", None, "a", |_| true)
                        .await
                        .map(drop)
                })
            },
        },
        Consumer {
            name: "downloading a folder",
            below_a_folder: true,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    let dest = k.dir.path().to_path_buf();
                    let keys = ["docs/".to_string()];
                    download_batch::plan(&k.s, "s", None, &keys, dest)
                        .await
                        .map(drop)
                })
            },
        },
        Consumer {
            name: "copying a folder",
            below_a_folder: true,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    let ask = copy_of(&["docs/"], "to/", None, CopyMode::Copy);
                    copy_batch::plan(&k.s, ask).await.map(drop)
                })
            },
        },
        Consumer {
            name: "moving a folder",
            below_a_folder: true,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    let ask = copy_of(&["docs/"], "to/", None, CopyMode::Move);
                    copy_batch::plan(&k.s, ask).await.map(drop)
                })
            },
        },
        Consumer {
            name: "renaming a folder",
            below_a_folder: true,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    let ask = copy_of(&["docs/"], "", Some("papers"), CopyMode::Move);
                    copy_batch::plan(&k.s, ask).await.map(drop)
                })
            },
        },
        Consumer {
            name: "deleting a folder",
            below_a_folder: true,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    let keys = ["docs/".to_string()];
                    files::delete(&k.s, "s", None, &keys).await.map(drop)
                })
            },
        },
        Consumer {
            name: "uploading over files already there",
            below_a_folder: true,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    let file = k.dir.path().join("a.txt");
                    std::fs::write(&file, b"x").expect("file");
                    upload_batch::plan(&k.s, "s", None, "docs/", vec![file])
                        .await
                        .map(drop)
                })
            },
        },
        Consumer {
            name: "a file's versions",
            below_a_folder: true,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    versions::service::file_versions(&k.s, "s", None, "docs/a.txt")
                        .await
                        .map(drop)
                })
            },
        },
        Consumer {
            name: "a folder's deleted files",
            below_a_folder: true,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    versions::service::deleted_files(&k.s, "s", None, "docs/")
                        .await
                        .map(drop)
                })
            },
        },
        Consumer {
            name: "undeleting a file",
            below_a_folder: true,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    let keys = ["docs/a.txt".to_string()];
                    versions::service::undelete(&k.s, "s", None, &keys)
                        .await
                        .map(drop)
                })
            },
        },
        Consumer {
            name: "restoring a version",
            below_a_folder: true,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    let restored =
                        versions::service::restore(&k.s, "s", None, "docs/a.txt", "v1", None);
                    restored.await.map(drop)
                })
            },
        },
        Consumer {
            name: "a Space's unfinished uploads",
            below_a_folder: false,
            deletes: false,
            run: |k| {
                Box::pin(async move { space::unfinished::list(&k.s, "s", None).await.map(drop) })
            },
        },
        Consumer {
            name: "destroying a Space with its files",
            below_a_folder: false,
            deletes: true,
            run: |k| {
                Box::pin(async move {
                    let active = k.s.active().await.expect("connected");
                    let stop = std::sync::atomic::AtomicBool::new(false);
                    let url = active.endpoint.url.clone();
                    destroy::destroy(&active.client, &url, "s", "s", true, &stop, |_| {})
                        .await
                        .map(drop)
                })
            },
        },
    ]
}

/// Services connected to `server` (any key: it checks none).
async fn connected_to(server: &HostileS3) -> Kit {
    let root = tempfile::tempdir().expect("tempdir");
    let s = services(root.path());
    let lying = draft(&server.base, "Lying", "AK", &Secret::new("secret"));
    let saved = connections::save_connection(&s, &lying).expect("save");
    connections::connect(&s, &saved.id).await.expect("connect");
    Kit { s, dir: root }
}

// Every consumer of a listing, against each lie: refused in words (a BadAnswer), in time,
// without a panic, and with nothing changed on the server on the strength of it.
#[tokio::test(flavor = "multi_thread")]
async fn every_listing_consumer_refuses_a_lying_listing_and_changes_nothing() {
    let mut failures = Vec::new();
    for lie in Lie::ALL {
        for consumer in listing_consumers() {
            if lie == Lie::Outside && !consumer.below_a_folder {
                continue; // every key is inside the whole Space
            }
            let server = HostileS3::start(lie);
            let kit = Arc::new(connected_to(&server).await);
            let ran = tokio::spawn((consumer.run)(kit.clone()));
            let outcome = tokio::time::timeout(Duration::from_secs(60), ran).await;
            let what = format!("{} with {lie:?}", consumer.name);
            match outcome {
                Err(_) => failures.push(format!("{what}: did not stop within a minute")),
                Ok(Err(panic)) => failures.push(format!("{what}: panicked ({panic})")),
                Ok(Ok(Ok(()))) => failures.push(format!("{what}: took the listing")),
                Ok(Ok(Err(e))) if e.kind() != ErrorKind::BadAnswer => {
                    failures.push(format!("{what}: refused, but as {:?}: {e}", e.kind()))
                }
                Ok(Ok(Err(_))) => {}
            }
            let changes = server.changes();
            if !consumer.deletes && !changes.is_empty() {
                failures.push(format!("{what}: changed the server: {changes:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
