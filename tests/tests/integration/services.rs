//! The domain's services, driven as the app's commands drive them but with no window at all:
//! settings in a plain file, secrets in the real keychain, requests to the real sandbox.

use std::path::Path;
use std::sync::{Arc, Mutex};

use spacedock::core::connection::service as connections;
use spacedock::core::connection::{ConnectionDraft, Provider};
use spacedock::core::keys::service as keys;
use spacedock::core::keys::{Grant, Permission, Scope};
use spacedock::core::secret::Secret;
use spacedock::core::services::{Services, Setup};
use spacedock::core::settings::FileStore;
use spacedock::core::space::page;
use spacedock::core::space::unfinished;
use spacedock::core::space::FileListing;
use spacedock::core::transfer::upload_batch;
use spacedock::core::transfer::{Conflict, FileAcl, FileState, TransferEvent};
use spacedock::core::ErrorKind;
use spacedock_tests::{admin, fetch, new_user, sandbox, unique, SandboxInfo, TestUser};

/// Services with their own settings file, data folder and keychain namespace.
pub(crate) fn services(root: &Path) -> Services {
    Services::new(Setup {
        keychain_service: unique("io.spacedock.services"),
        data_dir: root.join("data"),
        log_dir: Some(root.join("logs")),
        store: Box::new(FileStore::open(root.join("settings.json")).expect("settings")),
        start_on_sandbox: false,
    })
}

/// A connection to an S3 endpoint at `url` (the sandbox, or a proxy in front of it).
pub(crate) fn draft(url: &str, name: &str, access_key: &str, secret: &Secret) -> ConnectionDraft {
    ConnectionDraft {
        name: name.into(),
        provider: Provider::Custom {
            endpoint: url.to_string(),
            signing_region: "us-east-1".into(),
            path_style: true,
        },
        access_key: access_key.into(),
        secret: secret.clone(),
        space: None,
    }
}

/// A saved DigitalOcean connection (nyc3) that signs with `access_key`.
pub(crate) fn save_digitalocean(
    s: &Services,
    name: &str,
    access_key: &str,
    secret: &Secret,
) -> spacedock::core::connection::ConnectionProfile {
    let draft = ConnectionDraft {
        name: name.into(),
        provider: Provider::DigitalOcean {
            region: "nyc3".into(),
        },
        access_key: access_key.into(),
        secret: secret.clone(),
        space: None,
    };
    connections::save_connection(s, &draft).expect("save")
}

/// Services on `root`, connected as the sandbox owner through `url` (the sandbox, or a proxy).
pub(crate) async fn connected(sb: &SandboxInfo, root: &Path, url: &str) -> Services {
    let s = services(root);
    let owner = draft(url, "Owner", &sb.owner_access_key, &sb.owner_secret);
    let saved = connections::save_connection(&s, &owner).expect("save");
    connections::connect(&s, &saved.id).await.expect("connect");
    s
}

/// Services with the sandbox owner's connection saved (not yet connected).
fn saved_as_owner(
    sb: &SandboxInfo,
    root: &Path,
) -> (Services, spacedock::core::connection::ConnectionProfile) {
    let s = services(root);
    let owner = draft(
        &sb.endpoint.url,
        "Owner",
        &sb.owner_access_key,
        &sb.owner_secret,
    );
    let saved = connections::save_connection(&s, &owner).expect("save");
    (s, saved)
}

/// A self-hosted RGW user with admin caps: it manages its own keys.
fn key_manager() -> TestUser {
    let user = new_user("svc-owner");
    let caps = "users=*;buckets=*;metadata=read";
    admin(&["caps", "add", "--uid", &user.uid, "--caps", caps]);
    user
}

#[tokio::test]
async fn revoking_a_key_takes_it_from_everything_that_held_it() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("tempdir");
    let s = services(root.path());
    let owner = key_manager();
    let saved = connections::save_connection(
        &s,
        &draft(&sb.endpoint.url, "Owner", &owner.access_key, &owner.secret),
    )
    .expect("save");
    connections::connect(&s, &saved.id).await.expect("connect");
    let space = unique("svc-keys");
    page::create(&s, &space, "us-east-1", FileListing::Restricted, None)
        .await
        .expect("create");

    let grants = vec![Grant {
        space: space.clone(),
        permission: Permission::ReadWrite,
    }];
    let made = keys::generate(&s, "client a", &Scope::Limited { grants })
        .await
        .expect("generate");
    let ak = made.key.access_key.clone();
    // The list merges the name given here, the date noted here and the keychain's state.
    let listed = keys::list(&s).await.expect("list");
    let row = listed
        .keys
        .iter()
        .find(|r| r.key.access_key == ak)
        .expect("listed");
    assert_eq!(row.key.name, "client a");
    assert!(row.key.created.is_some() && row.in_keychain && !row.current);
    // A file of the user's named as the test's used to be, in a versioned Space: the test
    // writes a name of its own and removes exactly it, leaving no version or marker behind.
    let owner = spacedock::core::s3::client(&sb.endpoint, &owner.access_key, &owner.secret);
    spacedock::core::versions::set_versioning(&owner, &sb.endpoint.url, &space, true)
        .await
        .expect("versioning on");
    crate::safety::put(&owner, &space, ".spacedock-key-test", b"the user's").await;
    let tried = keys::test(&s, &ak, &space, Some(Permission::ReadWrite))
        .await
        .expect("test");
    assert!(tried.can_list && tried.can_write == Some(true), "{tried:?}");
    assert_eq!(
        fetch(&owner, &space, ".spacedock-key-test")
            .await
            .as_deref(),
        Some(&b"the user's"[..])
    );
    let versions = owner.list_object_versions().bucket(&space).send().await;
    let versions = versions.expect("versions");
    let left: Vec<_> = (versions.versions().iter().filter_map(|v| v.key()))
        .chain(versions.delete_markers().iter().filter_map(|m| m.key()))
        .collect();
    assert_eq!(left, [".spacedock-key-test"], "nothing of the test is left");

    // The Space remembers the key; a connection is saved that signs with it.
    let opened = page::open_with_key(&s, &space, None, Some(ak.clone()))
        .await
        .expect("open with the key");
    assert_eq!(
        opened.opens_with.map(|k| k.name).as_deref(),
        Some("client a")
    );
    let owner_profile = s
        .settings()
        .profile(&saved.id)
        .expect("read")
        .expect("saved");
    assert_eq!(owner_profile.space_keys[&space].access_key, ak);
    let client_a = keys::connect_with(&s, &ak, "Client A", std::slice::from_ref(&space))
        .await
        .expect("connect with the key");
    let err = keys::revoke(&s, &ak).await.expect_err("the key in use");
    assert_eq!(err.kind(), ErrorKind::KeyInUse);

    // Back on the owner's connection, revoke: nothing keeps the key.
    connections::connect(&s, &saved.id).await.expect("connect");
    keys::revoke(&s, &ak).await.expect("revoke");
    assert!(s
        .keychain()
        .get(&format!("key:{ak}"))
        .expect("keychain")
        .is_none());
    assert!(!s.settings().key_names().contains_key(&ak));
    let profiles = s.settings().profiles().expect("profiles");
    assert!(
        profiles.iter().all(|p| p.id != client_a.profile.id),
        "its connection went"
    );
    let owner_profile = profiles
        .iter()
        .find(|p| p.id == saved.id)
        .expect("owner stays");
    assert!(owner_profile.space_keys.is_empty(), "the Space forgot it");
    let active = s.active().await.expect("connected");
    assert!(active.profile.space_keys.is_empty() && active.space_secrets.is_empty());
    let page = keys::list(&s).await.expect("list");
    assert!(page.keys.iter().all(|r| r.key.access_key != ak));
    let denied = keys::test(&s, &ak, &space, None)
        .await
        .expect_err("not held");
    assert_eq!(denied.kind(), ErrorKind::SecretMissing);
}

#[tokio::test]
async fn upload_batches_skip_keep_both_make_empty_folders_and_are_freed() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("tempdir");
    let (s, saved) = saved_as_owner(&sb, root.path());
    let err = upload_batch::plan(&s, "x", None, "", Vec::new())
        .await
        .expect_err("no connection yet");
    assert_eq!(err.kind(), ErrorKind::NotConnected);
    connections::connect(&s, &saved.id).await.expect("connect");
    let space = unique("svc-up");
    page::create(&s, &space, "us-east-1", FileListing::Restricted, None)
        .await
        .expect("create");
    let owner = spacedock_tests::owner_client(&sb);
    owner
        .put_object()
        .bucket(&space)
        .key("in/a.txt")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"there"))
        .send()
        .await
        .expect("put");

    let local = tempfile::tempdir().expect("local");
    std::fs::write(local.path().join("a.txt"), b"new").expect("a");
    std::fs::write(local.path().join("b.txt"), b"b").expect("b");
    let folder = local.path().join("empty");
    std::fs::create_dir(&folder).expect("empty folder");
    let paths = || {
        ["a.txt", "b.txt", "empty"]
            .iter()
            .map(|n| local.path().join(n))
            .collect::<Vec<_>>()
    };
    let events: Arc<Mutex<Vec<TransferEvent>>> = Arc::default();
    let sink = {
        let events = events.clone();
        Arc::new(move |e| events.lock().expect("events").push(e))
    };

    // Skip: the file that is there stays; the rest go, and the empty folder is made.
    let plan = upload_batch::plan(&s, &space, None, "in/", paths())
        .await
        .expect("plan");
    let exists: Vec<_> = plan
        .files
        .iter()
        .map(|f| (f.key.as_str(), f.exists))
        .collect();
    assert_eq!(exists, [("in/a.txt", true), ("in/b.txt", false)]);
    let done = upload_batch::start(
        &s,
        plan.batch,
        FileAcl::Private,
        Conflict::Skip,
        None,
        sink.clone(),
    )
    .await
    .expect("run");
    assert_eq!((done.done, done.skipped, done.failed), (1, 1, 0));
    assert!(done.problems.is_empty(), "{:?}", done.problems);
    assert_eq!(
        fetch(&owner, &space, "in/a.txt").await.as_deref(),
        Some(&b"there"[..])
    );
    assert!(
        fetch(&owner, &space, "in/empty/").await.is_some(),
        "the empty folder"
    );
    let skipped = events
        .lock()
        .expect("events")
        .iter()
        .any(|e| e.state == FileState::Skipped);
    assert!(skipped, "the page is told which file was skipped");
    // Nothing was left to retry: the batch is gone.
    let gone = upload_batch::start(
        &s,
        plan.batch,
        FileAcl::Private,
        Conflict::Overwrite,
        None,
        sink.clone(),
    )
    .await
    .expect_err("freed");
    assert_eq!(gone.kind(), ErrorKind::Gone);

    // Keep both: the new file takes a free name; the one there keeps its bytes.
    let plan = upload_batch::plan(&s, &space, None, "in/", paths()[..1].to_vec())
        .await
        .expect("plan");
    let done = upload_batch::start(
        &s,
        plan.batch,
        FileAcl::Private,
        Conflict::KeepBoth,
        None,
        sink.clone(),
    )
    .await
    .expect("run");
    assert_eq!(done.done, 1);
    assert_eq!(
        fetch(&owner, &space, "in/a.txt").await.as_deref(),
        Some(&b"there"[..])
    );
    assert_eq!(
        fetch(&owner, &space, "in/a (1).txt").await.as_deref(),
        Some(&b"new"[..])
    );

    // Overwrite replaces it.
    let plan = upload_batch::plan(&s, &space, None, "in/", paths()[..1].to_vec())
        .await
        .expect("plan");
    upload_batch::start(
        &s,
        plan.batch,
        FileAcl::Private,
        Conflict::Overwrite,
        None,
        sink,
    )
    .await
    .expect("run");
    assert_eq!(
        fetch(&owner, &space, "in/a.txt").await.as_deref(),
        Some(&b"new"[..])
    );
}

#[tokio::test]
async fn unfinished_uploads_are_listed_with_their_size_and_aborted() {
    let sb = sandbox();
    let root = tempfile::tempdir().expect("tempdir");
    let (s, saved) = saved_as_owner(&sb, root.path());
    connections::connect(&s, &saved.id).await.expect("connect");
    let space = unique("svc-parts");
    page::create(&s, &space, "us-east-1", FileListing::Restricted, None)
        .await
        .expect("create");
    let owner = spacedock_tests::owner_client(&sb);
    // Two uploads another client began and left: one with a 5 MiB part, one with none.
    let mut ids = Vec::new();
    for key in ["left/a.bin", "left/b.bin"] {
        let made = owner
            .create_multipart_upload()
            .bucket(&space)
            .key(key)
            .send()
            .await
            .expect("begin");
        ids.push(made.upload_id().expect("id").to_string());
    }
    owner
        .upload_part()
        .bucket(&space)
        .key("left/a.bin")
        .upload_id(&ids[0])
        .part_number(1)
        .body(aws_sdk_s3::primitives::ByteStream::from(vec![7u8; 5 << 20]))
        .send()
        .await
        .expect("part");
    // The second one is noted as this app's own.
    s.queue()
        .unfinished()
        .add(spacedock::core::transfer::unfinished::UnfinishedUpload {
            endpoint: sb.endpoint.url.clone(),
            space: space.clone(),
            key: "left/b.bin".into(),
            upload_id: ids[1].clone(),
            source: None,
            expect: Default::default(),
        });

    let found = unfinished::list(&s, &space, None).await.expect("list");
    let seen: Vec<_> = found
        .iter()
        .map(|u| (u.key.as_str(), u.parts, u.bytes, u.by_this_app))
        .collect();
    assert_eq!(
        seen,
        [
            ("left/a.bin", Some(1), Some(5 << 20), false),
            ("left/b.bin", Some(0), Some(0), true)
        ]
    );
    assert!(found.iter().all(|u| u.started.is_some()));

    let one = [("left/a.bin".to_string(), ids[0].clone())];
    let done = unfinished::abort(&s, &space, None, &one)
        .await
        .expect("abort");
    assert_eq!((done.aborted, done.problems.len()), (1, 0));
    let left = unfinished::list(&s, &space, None).await.expect("list");
    assert_eq!(left.len(), 1);
    // Aborting again, and the rest: an upload already gone counts as aborted.
    let all = [one[0].clone(), ("left/b.bin".to_string(), ids[1].clone())];
    let done = unfinished::abort(&s, &space, None, &all)
        .await
        .expect("abort all");
    assert_eq!(done.aborted, 2);
    assert!(unfinished::list(&s, &space, None)
        .await
        .expect("list")
        .is_empty());
    let on_server = owner
        .list_multipart_uploads()
        .bucket(&space)
        .send()
        .await
        .expect("list uploads");
    assert!(on_server.uploads().is_empty());
    assert!(
        s.queue().unfinished().list().is_empty(),
        "the app's record is emptied too"
    );
}

/// A long delete stops when the window asks: between two requests, saying what it deleted, and
/// exactly the files it did not delete are still there.
#[tokio::test(flavor = "multi_thread")]
async fn a_folder_delete_stops_when_asked_and_says_what_it_deleted() {
    let sb = sandbox();
    let target = crate::upload::new_space(&sb, "stop-del").await;
    // The folder's marker and 2,100 files in it.
    let keys: Vec<String> = std::iter::once("big/".to_string())
        .chain((0..2100).map(|i| format!("big/{i:05}.txt")))
        .collect();
    spacedock_tests::put_many(&target.client, &target.space, &keys).await;
    let root = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(connected(&sb, root.path(), &sb.endpoint.url).await);
    let request = Some(41);
    let heard = Arc::new(Mutex::new(Vec::new()));
    let progress = {
        let (s, heard) = (s.clone(), heard.clone());
        move |n: u64| {
            heard.lock().expect("heard").push(n);
            // The window stops it as soon as it hears of the first thousand.
            s.requests().cancel(41);
        }
    };
    let chosen = (&["big/".to_string()][..], &Default::default());
    let done = spacedock::core::files::delete(&s, &target.space, None, chosen, request, &progress)
        .await
        .expect("a stop is not an error");
    assert!(done.stopped, "{done:?}");
    assert_eq!(done.deleted, 1000, "one request of 1,000, then the stop");
    assert_eq!(*heard.lock().expect("heard"), [1000]);
    let left = spacedock::core::listing::keys_below(
        &target.client,
        spacedock::core::s3::Context::space(&target.endpoint, &target.space),
        &target.space,
        "big/",
    )
    .await
    .expect("list");
    assert_eq!(left.len(), 2101 - 1000, "the others are all still there");
}

/// A server that refuses some files of a delete request (a policy here) deletes the others:
/// each file's own answer counts, the refused ones are named with why, and nothing deleted is
/// left unsaid.
#[tokio::test(flavor = "multi_thread")]
async fn a_delete_refused_for_some_files_deletes_and_counts_the_others() {
    let sb = sandbox();
    let target = crate::upload::new_space(&sb, "del-policy").await;
    let space = target.space.clone();
    for key in [
        "d/a.txt",
        "d/keep-1.txt",
        "d/b.txt",
        "d/keep-2.txt",
        "p/a.txt",
        "p/keep-3.txt",
    ] {
        (target.client.put_object().bucket(&space).key(key))
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
            .await
            .expect("put");
    }
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::{space}/*keep-*"}}]}}"#
    );
    (target
        .client
        .put_bucket_policy()
        .bucket(&space)
        .policy(policy))
    .send()
    .await
    .expect("policy");
    let root = tempfile::tempdir().expect("tempdir");
    let s = connected(&sb, root.path(), &sb.endpoint.url).await;
    let chosen = (&["d/".to_string()][..], &Default::default());
    let done = spacedock::core::files::delete(&s, &space, None, chosen, None, &|_| {})
        .await
        .expect("deleted what it could");
    assert_eq!(done.deleted, 2, "{done:?}");
    let kept: Vec<&str> = done.kept.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(kept, ["d/keep-1.txt", "d/keep-2.txt"], "{done:?}");
    let left = spacedock::core::listing::keys_below(
        &target.client,
        spacedock::core::s3::Context::space(&target.endpoint, &space),
        &space,
        "d/",
    )
    .await
    .expect("list");
    let left: Vec<&str> = left.iter().filter_map(|o| o.key()).collect();
    assert_eq!(left, ["d/keep-1.txt", "d/keep-2.txt"]);

    // Files picked one by one are each looked at and deleted on their own: one refused is
    // named, and the other still goes.
    let picked = ["p/a.txt".to_string(), "p/keep-3.txt".to_string()];
    let done = spacedock::core::files::delete(
        &s,
        &space,
        None,
        (&picked[..], &Default::default()),
        None,
        &|_| {},
    )
    .await
    .expect("deleted what it could");
    assert_eq!(done.deleted, 1, "{done:?}");
    let kept: Vec<&str> = done.kept.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(kept, ["p/keep-3.txt"], "{done:?}");
    assert!(!done.stopped, "{done:?}");
}
