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
            name: "syncing a folder both ways",
            below_a_folder: true,
            deletes: false,
            run: |k| {
                Box::pin(async move {
                    use spacedock::core::sync::{self, NewPair, SyncDeletes, SyncDirection};
                    let folder = k.dir.path().join("synced");
                    std::fs::create_dir_all(&folder).expect("folder");
                    std::fs::write(folder.join("mine.txt"), b"mine").expect("file");
                    let pair = NewPair {
                        folder: folder.to_string_lossy().into_owned(),
                        space: "s".into(),
                        prefix: "docs/".into(),
                        direction: SyncDirection::TwoWay,
                        deletes: SyncDeletes::Mirror,
                        trash: Some(".trash/".into()),
                        schedule: Default::default(),
                        broad_confirmed: false,
                    };
                    let pair = sync::add_pair(&k.s, pair, None).await?;
                    let planned = sync::plan(&k.s, &pair.id).await;
                    // The folder is as it was, whatever the listing said.
                    let kept = std::fs::read(folder.join("mine.txt")).ok();
                    match (planned, kept.as_deref()) {
                        (Err(e), Some(b"mine")) => Err(e),
                        (Err(_), _) => Ok(()), // a refusal that lost a file is no refusal
                        (Ok(plan), _) => sync::run(&k.s, plan.plan, true).await.map(drop),
                    }
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
                    files::delete(&k.s, "s", None, (&keys, &Default::default()), None, &|_| {})
                        .await
                        .map(drop)
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
                    versions::service::file_versions(&k.s, "s", None, "docs/a.txt", None)
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
                        versions::service::restore(&k.s, "s", None, "docs/a.txt", "v1", None, None);
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
                    let stop = spacedock::core::CancellationToken::new();
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

// ---------------------------------------------------------------------------------------------
// Acts that delete or overwrite, each against an object changed between its plan and the act.

/// The bytes another client writes between a plan and its act.
const CHANGED: &[u8] = b"changed since the plan";

/// After an act: what is at the place it must not have touched, and whether it said so.
struct Survived {
    found: Option<Vec<u8>>,
    reported: bool,
}

/// What an act runs with: the sandbox, services connected to it, a Space of its own.
struct Scene {
    s: Services,
    client: aws_sdk_s3::Client,
    space: String,
    url: String,
    dir: tempfile::TempDir,
}

type Act = Pin<Box<dyn Future<Output = Survived> + Send>>;

struct Overwriter {
    name: &'static str,
    run: fn(Arc<Scene>) -> Act,
}

async fn put_bytes(sc: &Scene, key: &str, body: &[u8]) {
    crate::safety::put(&sc.client, &sc.space, key, body).await;
}

async fn bytes_at(sc: &Scene, key: &str) -> Option<Vec<u8>> {
    spacedock_tests::fetch(&sc.client, &sc.space, key).await
}

fn changed_in(problems: &[spacedock::core::transfer::Problem]) -> bool {
    problems.iter().any(|p| {
        ["changed", "came into", "appeared"]
            .iter()
            .any(|w| p.message.contains(w))
    })
}

fn copy_in(sc: &Scene, keys: &[&str], folder: &str, mode: CopyMode) -> CopyRequest {
    CopyRequest {
        space: sc.space.clone(),
        to_space: sc.space.clone(),
        ..copy_of(keys, folder, None, mode)
    }
}

/// Every act that deletes or overwrites something on the server or on disk.
fn overwriters() -> Vec<Overwriter> {
    use spacedock::core::transfer::Conflict;
    vec![
        Overwriter {
            name: "moving a file that changed after the plan",
            run: |sc| {
                Box::pin(async move {
                    put_bytes(&sc, "a/f.txt", b"planned").await;
                    let plan =
                        copy_batch::plan(&sc.s, copy_in(&sc, &["a/f.txt"], "b/", CopyMode::Move));
                    let plan = plan.await.expect("plan");
                    put_bytes(&sc, "a/f.txt", CHANGED).await;
                    let done = copy_batch::start(
                        &sc.s,
                        plan.batch,
                        Conflict::Overwrite,
                        None,
                        std::sync::Arc::new(|_| {}),
                    );
                    let done = done.await.expect("ran");
                    Survived {
                        found: bytes_at(&sc, "a/f.txt").await,
                        reported: changed_in(&done.problems),
                    }
                })
            },
        },
        Overwriter {
            name: "copying over a file that changed after the plan",
            run: |sc| {
                Box::pin(async move {
                    put_bytes(&sc, "a/f.txt", b"new").await;
                    put_bytes(&sc, "b/f.txt", b"planned over").await;
                    let plan =
                        copy_batch::plan(&sc.s, copy_in(&sc, &["a/f.txt"], "b/", CopyMode::Copy));
                    let plan = plan.await.expect("plan");
                    put_bytes(&sc, "b/f.txt", CHANGED).await;
                    let done = copy_batch::start(
                        &sc.s,
                        plan.batch,
                        Conflict::Overwrite,
                        None,
                        std::sync::Arc::new(|_| {}),
                    );
                    let done = done.await.expect("ran");
                    Survived {
                        found: bytes_at(&sc, "b/f.txt").await,
                        reported: changed_in(&done.problems),
                    }
                })
            },
        },
        Overwriter {
            name: "moving onto a name that was taken after the plan",
            run: |sc| {
                Box::pin(async move {
                    put_bytes(&sc, "a/f.txt", b"new").await;
                    let plan =
                        copy_batch::plan(&sc.s, copy_in(&sc, &["a/f.txt"], "b/", CopyMode::Move));
                    let plan = plan.await.expect("plan");
                    put_bytes(&sc, "b/f.txt", CHANGED).await;
                    let done = copy_batch::start(
                        &sc.s,
                        plan.batch,
                        Conflict::Overwrite,
                        None,
                        std::sync::Arc::new(|_| {}),
                    );
                    let done = done.await.expect("ran");
                    Survived {
                        found: bytes_at(&sc, "b/f.txt").await,
                        reported: changed_in(&done.problems),
                    }
                })
            },
        },
        Overwriter {
            name: "uploading over a file that changed after the plan",
            run: |sc| {
                Box::pin(async move {
                    put_bytes(&sc, "up/f.txt", b"planned over").await;
                    let file = sc.dir.path().join("f.txt");
                    std::fs::write(&file, b"uploaded").expect("file");
                    let plan = upload_batch::plan(&sc.s, &sc.space, None, "up/", vec![file]);
                    let plan = plan.await.expect("plan");
                    put_bytes(&sc, "up/f.txt", CHANGED).await;
                    let acl = spacedock::core::transfer::FileAcl::Private;
                    let done = upload_batch::start(
                        &sc.s,
                        plan.batch,
                        acl,
                        Conflict::Overwrite,
                        None,
                        Arc::new(|_| {}),
                    );
                    let done = done.await.expect("ran");
                    Survived {
                        found: bytes_at(&sc, "up/f.txt").await,
                        reported: done.failed == 1,
                    }
                })
            },
        },
        Overwriter {
            name: "uploading onto a name that was taken after the plan",
            run: |sc| {
                Box::pin(async move {
                    let file = sc.dir.path().join("g.txt");
                    std::fs::write(&file, b"uploaded").expect("file");
                    let plan = upload_batch::plan(&sc.s, &sc.space, None, "up/", vec![file]);
                    let plan = plan.await.expect("plan");
                    put_bytes(&sc, "up/g.txt", CHANGED).await;
                    let acl = spacedock::core::transfer::FileAcl::Private;
                    let done = upload_batch::start(
                        &sc.s,
                        plan.batch,
                        acl,
                        Conflict::Overwrite,
                        None,
                        Arc::new(|_| {}),
                    );
                    let done = done.await.expect("ran");
                    Survived {
                        found: bytes_at(&sc, "up/g.txt").await,
                        reported: done.failed == 1,
                    }
                })
            },
        },
        Overwriter {
            name: "uploading a big file over one that changed after the plan",
            run: |sc| {
                Box::pin(async move {
                    put_bytes(&sc, "up/big.bin", b"planned over").await;
                    let file = sc.dir.path().join("big.bin");
                    std::fs::write(&file, vec![7u8; 9 << 20]).expect("file");
                    let plan = upload_batch::plan(&sc.s, &sc.space, None, "up/", vec![file]);
                    let plan = plan.await.expect("plan");
                    put_bytes(&sc, "up/big.bin", CHANGED).await;
                    let acl = spacedock::core::transfer::FileAcl::Private;
                    let done = upload_batch::start(
                        &sc.s,
                        plan.batch,
                        acl,
                        Conflict::Overwrite,
                        None,
                        Arc::new(|_| {}),
                    );
                    let done = done.await.expect("ran");
                    Survived {
                        found: bytes_at(&sc, "up/big.bin").await,
                        reported: done.failed == 1,
                    }
                })
            },
        },
        Overwriter {
            name: "downloading over a local file that changed after the plan",
            run: |sc| {
                Box::pin(async move {
                    put_bytes(&sc, "down/f.txt", b"downloaded").await;
                    let local = sc.dir.path().join("f.txt");
                    std::fs::write(&local, b"planned over").expect("file");
                    let keys = ["down/f.txt".to_string()];
                    let plan = download_batch::plan(
                        &sc.s,
                        &sc.space,
                        None,
                        &keys,
                        sc.dir.path().to_path_buf(),
                    );
                    let plan = plan.await.expect("plan");
                    // Changed as a person would: saved anew (a new file under the name).
                    std::fs::remove_file(&local).expect("rm");
                    std::fs::write(&local, CHANGED).expect("file");
                    let done = download_batch::start(
                        &sc.s,
                        plan.batch,
                        Conflict::Overwrite,
                        None,
                        std::sync::Arc::new(|_| {}),
                    );
                    let done = done.await.expect("ran");
                    Survived {
                        found: std::fs::read(&local).ok(),
                        reported: !done.notes.is_empty(),
                    }
                })
            },
        },
        Overwriter {
            name: "deleting a file that changed after it was shown",
            run: |sc| {
                Box::pin(async move {
                    put_bytes(&sc, "del/f.txt", b"shown").await;
                    let head = sc
                        .client
                        .head_object()
                        .bucket(&sc.space)
                        .key("del/f.txt")
                        .send()
                        .await;
                    let shown = head.expect("head").e_tag().unwrap_or_default().to_string();
                    put_bytes(&sc, "del/f.txt", CHANGED).await;
                    let keys = ["del/f.txt".to_string()];
                    let by_key =
                        std::collections::HashMap::from([("del/f.txt".to_string(), shown)]);
                    let done =
                        files::delete(&sc.s, &sc.space, None, (&keys, &by_key), None, &|_| {})
                            .await
                            .expect("ran");
                    Survived {
                        found: bytes_at(&sc, "del/f.txt").await,
                        reported: done.kept.len() == 1,
                    }
                })
            },
        },
        Overwriter {
            name: "editing the metadata of a file that changed after it was shown",
            run: |sc| {
                Box::pin(async move {
                    put_bytes(&sc, "meta/f.txt", b"shown").await;
                    let shown = files::view(&sc.s, &sc.space, None, "meta/f.txt", None)
                        .await
                        .expect("view");
                    put_bytes(&sc, "meta/f.txt", CHANGED).await;
                    let mut meta = shown.details.metadata.clone();
                    meta.cache_control = Some("no-store".into());
                    let etag = shown.details.etag.as_deref();
                    let done =
                        files::set_metadata(&sc.s, &sc.space, None, "meta/f.txt", &meta, etag)
                            .await;
                    let reported = matches!(&done, Err(e) if e.kind() == ErrorKind::FileChanged);
                    let now = sc
                        .client
                        .head_object()
                        .bucket(&sc.space)
                        .key("meta/f.txt")
                        .send()
                        .await;
                    let untouched = now.expect("head").cache_control().is_none();
                    Survived {
                        found: bytes_at(&sc, "meta/f.txt").await,
                        reported: reported && untouched,
                    }
                })
            },
        },
    ]
}

// Every act that deletes or overwrites, against an object (or a local file) changed between its
// plan and the act: the change is never deleted or replaced, and the act says so.
#[tokio::test(flavor = "multi_thread")]
async fn no_act_deletes_or_replaces_what_changed_after_its_plan() {
    let sb = spacedock_tests::sandbox();
    let mut failures = Vec::new();
    for act in overwriters() {
        let root = tempfile::tempdir().expect("tempdir");
        let s = crate::services::connected(&sb, root.path(), &sb.endpoint.url).await;
        let scene = Arc::new(Scene {
            s,
            client: spacedock_tests::owner_client(&sb),
            space: spacedock_tests::new_space(&sb, "kit").await,
            url: sb.endpoint.url.clone(),
            dir: root,
        });
        let _ = &scene.url;
        let ran = tokio::spawn((act.run)(scene)).await;
        match ran {
            Err(panic) => failures.push(format!("{}: panicked ({panic})", act.name)),
            Ok(Survived { found, reported }) => {
                if found.as_deref() != Some(CHANGED) {
                    failures.push(format!("{}: the change is gone ({found:?})", act.name));
                }
                if !reported {
                    failures.push(format!("{}: not said", act.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Writers of settings, each against settings with parts this app does not know.

type Kept = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

struct SettingsWriter {
    name: &'static str,
    /// Ok when what the app did not know is kept as it was (or the write refused, nothing sent).
    run: fn(Arc<Scene>) -> Kept,
}

fn settings_writers() -> Vec<SettingsWriter> {
    vec![
        SettingsWriter {
            name: "CORS rules",
            run: |sc| {
                Box::pin(async move {
                    use aws_sdk_s3::types::{CorsConfiguration, CorsRule as S3Rule};
                    let theirs = S3Rule::builder()
                        .id("site")
                        .allowed_origins("https://example.com")
                        .allowed_methods("GET")
                        .expose_headers("ETag")
                        .expose_headers("x-amz-meta-owner")
                        .build()
                        .expect("rule");
                    let config = CorsConfiguration::builder()
                        .cors_rules(theirs)
                        .build()
                        .expect("config");
                    let put = sc
                        .client
                        .put_bucket_cors()
                        .bucket(&sc.space)
                        .cors_configuration(config);
                    put.send().await.expect("set by another tool");
                    let mut rules = space::cors_rules(&sc.client, &sc.url, &sc.space)
                        .await
                        .map_err(|e| e.to_string())?;
                    rules[0].allowed_methods.push("HEAD".into());
                    space::set_cors_rules(&sc.client, &sc.url, &sc.space, &rules)
                        .await
                        .map_err(|e| e.to_string())?;
                    let now = sc
                        .client
                        .get_bucket_cors()
                        .bucket(&sc.space)
                        .send()
                        .await
                        .expect("cors");
                    let rule = &now.cors_rules()[0];
                    match (rule.id(), rule.expose_headers()) {
                        (Some("site"), [a, b]) if a == "ETag" && b == "x-amz-meta-owner" => Ok(()),
                        other => Err(format!("{other:?}")),
                    }
                })
            },
        },
        SettingsWriter {
            name: "a Space's file listing",
            run: |sc| {
                Box::pin(async move {
                    let friend = spacedock_tests::new_user("listing-friend");
                    let grant = format!("id=\"{}\"", friend.uid);
                    let owner = sc.client.list_buckets().send().await.expect("owner");
                    let owner =
                        format!("id=\"{}\"", owner.owner().and_then(|o| o.id()).expect("id"));
                    let put = sc.client.put_bucket_acl().bucket(&sc.space);
                    put.grant_full_control(owner)
                        .grant_read(grant)
                        .send()
                        .await
                        .expect("acl");
                    for listing in [space::FileListing::Enabled, space::FileListing::Restricted] {
                        space::set_file_listing(&sc.client, &sc.url, &sc.space, listing)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    let acl = sc
                        .client
                        .get_bucket_acl()
                        .bucket(&sc.space)
                        .send()
                        .await
                        .expect("acl");
                    let kept = acl
                        .grants()
                        .iter()
                        .any(|g| g.grantee().and_then(|w| w.id()) == Some(friend.uid.as_str()));
                    kept.then_some(())
                        .ok_or_else(|| format!("{:?}", acl.grants()))
                })
            },
        },
        SettingsWriter {
            name: "a file's permission",
            run: |sc| {
                Box::pin(async move {
                    let friend = spacedock_tests::new_user("acl-friend");
                    let owner = sc.client.list_buckets().send().await.expect("owner");
                    let owner =
                        format!("id=\"{}\"", owner.owner().and_then(|o| o.id()).expect("id"));
                    (sc.client.put_object())
                        .bucket(&sc.space)
                        .key("shared.txt")
                        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
                        .grant_full_control(owner)
                        .grant_read(format!("id=\"{}\"", friend.uid))
                        .grant_write_acp("uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"")
                        .send()
                        .await
                        .expect("put");
                    let keys = ["shared.txt".to_string()];
                    for acl in [
                        spacedock::core::transfer::FileAcl::Public,
                        spacedock::core::transfer::FileAcl::Private,
                    ] {
                        let failed = files::set_acl(&sc.s, &sc.space, None, &keys, acl)
                            .await
                            .map_err(|e| e.to_string())?;
                        if !failed.is_empty() {
                            return Err(format!("{failed:?}"));
                        }
                    }
                    let acl = sc
                        .client
                        .get_object_acl()
                        .bucket(&sc.space)
                        .key("shared.txt")
                        .send()
                        .await
                        .expect("acl");
                    let kept = acl
                        .grants()
                        .iter()
                        .any(|g| g.grantee().and_then(|w| w.id()) == Some(friend.uid.as_str()));
                    // Private: no group of strangers may do anything with it any more.
                    let strangers =
                        (acl.grants().iter()).any(|g| g.grantee().and_then(|w| w.uri()).is_some());
                    (kept && !strangers)
                        .then_some(())
                        .ok_or_else(|| format!("{:?}", acl.grants()))
                })
            },
        },
        SettingsWriter {
            name: "a file's metadata",
            run: |sc| {
                Box::pin(async move {
                    (sc.client.put_object())
                        .bucket(&sc.space)
                        .key("page.html")
                        .body(aws_sdk_s3::primitives::ByteStream::from_static(
                            b"<p>hi</p>",
                        ))
                        .content_type("text/html")
                        .content_language("fr")
                        .website_redirect_location("/elsewhere.html")
                        .send()
                        .await
                        .expect("put");
                    let shown = files::view(&sc.s, &sc.space, None, "page.html", None)
                        .await
                        .map_err(|e| e.to_string())?;
                    let mut meta = shown.details.metadata.clone();
                    meta.cache_control = Some("max-age=60".into());
                    let etag = shown.details.etag.as_deref();
                    files::set_metadata(&sc.s, &sc.space, None, "page.html", &meta, etag)
                        .await
                        .map_err(|e| e.to_string())?;
                    let head = sc
                        .client
                        .head_object()
                        .bucket(&sc.space)
                        .key("page.html")
                        .send()
                        .await
                        .expect("head");
                    match (
                        head.content_language(),
                        head.website_redirect_location(),
                        head.cache_control(),
                    ) {
                        (Some("fr"), Some("/elsewhere.html"), Some("max-age=60")) => Ok(()),
                        other => Err(format!("{other:?}")),
                    }
                })
            },
        },
        SettingsWriter {
            name: "lifecycle rules",
            run: |sc| {
                Box::pin(async move {
                    // A newer tool's rule (a size filter, which the sandbox's engine drops): a
                    // server that keeps it stands in.
                    let config = "<LifecycleConfiguration><Rule><ID>big</ID><Status>Enabled</Status><Filter><ObjectSizeGreaterThan>1024</ObjectSizeGreaterThan></Filter><Expiration><Days>3</Days></Expiration></Rule></LifecycleConfiguration>";
                    let writes = Arc::new(std::sync::Mutex::new(0));
                    let counted = writes.clone();
                    let server = spacedock_tests::hostile::HostileServer::start_with(move |r| {
                        if r.method != "GET" {
                            *counted.lock().expect("count") += 1;
                        }
                        spacedock_tests::hostile::Reply::new(200, config)
                    });
                    let _ = &sc;
                    let endpoint = spacedock::core::connection::Endpoint {
                        url: server.base.clone(),
                        signing_region: "us-east-1".into(),
                        path_style: true,
                    };
                    let client = spacedock::core::s3::client(&endpoint, "AK", &Secret::new("s"));
                    let lc = spacedock::core::lifecycle::rules(&client, &server.base, "s").await;
                    if lc.is_ok() {
                        return Err("shown as if it were all there".into());
                    }
                    let rule = spacedock::core::lifecycle::LifecycleRule {
                        id: "mine".into(),
                        prefix: String::new(),
                        enabled: true,
                        expire_days: Some(1),
                        expire_old_versions_days: None,
                        abort_uploads_days: None,
                    };
                    let saved = spacedock::core::lifecycle::set_rules(
                        &client,
                        &server.base,
                        "s",
                        &[],
                        &[rule],
                    )
                    .await;
                    let written = *writes.lock().expect("count");
                    match (saved.is_err(), written) {
                        (true, 0) => Ok(()),
                        other => Err(format!("written over: {other:?}")),
                    }
                })
            },
        },
        SettingsWriter {
            name: "saved connections and settings",
            run: |sc| {
                Box::pin(async move {
                    use spacedock::core::settings::{FileStore, Settings};
                    let path = sc.dir.path().join("newer-settings.json");
                    let newer = serde_json::json!({
                        "connections": [{ "id": "a", "name": "A", "provider": { "type": "sandbox" }, "accessKey": "AK",
                                          "space": null, "spaceKeys": {}, "pinned": true }],
                        "keyNames": { "AK1": { "name": "one", "color": "red" } },
                        "transferLimits": { "uploadLimit": null, "downloadLimit": null, "filesAtOnce": null, "newer": 1 }
                    });
                    std::fs::write(&path, newer.to_string()).expect("write");
                    let settings =
                        Settings::new(Box::new(FileStore::open(path.clone()).expect("open")));
                    let profiles = settings.profiles().map_err(|e| e.to_string())?;
                    settings
                        .save_profiles(&profiles)
                        .map_err(|e| e.to_string())?;
                    settings
                        .set_key_name("AK2", Some("two"))
                        .map_err(|e| e.to_string())?;
                    settings
                        .set_transfer_limits(&settings.transfer_limits())
                        .map_err(|e| e.to_string())?;
                    let back: serde_json::Value =
                        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
                    let kept = back["connections"][0]["pinned"] == true
                        && back["keyNames"]["AK1"]["color"] == "red"
                        && back["transferLimits"]["newer"] == 1;
                    kept.then_some(()).ok_or_else(|| back.to_string())
                })
            },
        },
        SettingsWriter {
            name: "the record of transfers in flight",
            run: |sc| {
                Box::pin(async move {
                    use spacedock::core::transfer::unfinished::Unfinished;
                    let path = sc.dir.path().join("newer-unfinished.json");
                    let newer = serde_json::json!([
                        { "endpoint": "e", "space": "s", "key": "k", "uploadId": "u1", "priority": 3 },
                        { "aKindOfEntryFromLater": true }
                    ]);
                    std::fs::write(&path, newer.to_string()).expect("write");
                    let record = Unfinished::new(&path);
                    record.update("u1", |u| u.key = "k2".into());
                    let back: serde_json::Value =
                        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
                    let kept = back[0]["priority"] == 3
                        && back[0]["key"] == "k2"
                        && back[1]["aKindOfEntryFromLater"] == true;
                    kept.then_some(()).ok_or_else(|| back.to_string())
                })
            },
        },
    ]
}

// Every writer of settings (on the server, or the app's own files), against settings with parts
// this app does not know: they are kept as they were, or the write is refused.
#[tokio::test(flavor = "multi_thread")]
async fn every_settings_writer_keeps_what_it_does_not_know() {
    let sb = spacedock_tests::sandbox();
    let mut failures = Vec::new();
    for writer in settings_writers() {
        let root = tempfile::tempdir().expect("tempdir");
        let s = crate::services::connected(&sb, root.path(), &sb.endpoint.url).await;
        let scene = Arc::new(Scene {
            s,
            client: spacedock_tests::owner_client(&sb),
            space: spacedock_tests::new_space(&sb, "kit-settings").await,
            url: sb.endpoint.url.clone(),
            dir: root,
        });
        match tokio::spawn((writer.run)(scene)).await {
            Err(panic) => failures.push(format!("{}: panicked ({panic})", writer.name)),
            Ok(Err(why)) => failures.push(format!("{}: {why}", writer.name)),
            Ok(Ok(())) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
