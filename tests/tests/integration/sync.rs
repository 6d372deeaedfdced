//! Syncing a folder with a Space against the real RGW: plans first, approval for a first run,
//! same-size edits on either side, both copies kept in a conflict, nothing replaced that changed
//! after the plan, no deletes on doubt, a way back for whatever a run replaces or deletes, and
//! names one disk takes as one file left alone.

use std::path::{Path, PathBuf};

use spacedock::core::services::Services;
use spacedock::core::sync::{
    self, NewPair, SyncAction, SyncDeletes, SyncDirection, SyncOutcome, SyncPair, SyncPlan,
    SyncSchedule,
};
use spacedock::core::ErrorKind;
use spacedock_tests::{fetch, new_space, owner_client, sandbox, SandboxInfo};

use crate::services::connected;

pub(crate) struct Setup {
    pub s: Services,
    pub space: String,
    pub owner: aws_sdk_s3::Client,
    pub folder: PathBuf,
    _root: tempfile::TempDir,
    _dir: tempfile::TempDir,
}

pub(crate) async fn setup(sb: &SandboxInfo, name: &str) -> Setup {
    let root = tempfile::tempdir().expect("root");
    let s = connected(sb, root.path(), &sb.endpoint.url).await;
    let space = new_space(sb, name).await;
    let dir = tempfile::tempdir().expect("folder");
    let folder = dir.path().join("synced");
    std::fs::create_dir(&folder).expect("folder");
    Setup {
        s,
        space,
        owner: owner_client(sb),
        folder,
        _root: root,
        _dir: dir,
    }
}

pub(crate) fn new_pair(
    folder: &Path,
    space: &str,
    direction: SyncDirection,
    deletes: SyncDeletes,
    trash: Option<&str>,
) -> NewPair {
    NewPair {
        folder: folder.to_string_lossy().into_owned(),
        space: space.to_string(),
        prefix: String::new(),
        direction,
        deletes,
        trash: trash.map(str::to_string),
        schedule: SyncSchedule::Manual,
        broad_confirmed: false,
    }
}

pub(crate) async fn put(owner: &aws_sdk_s3::Client, space: &str, key: &str, body: &[u8]) {
    owner
        .put_object()
        .bucket(space)
        .key(key)
        .body(body.to_vec().into())
        .send()
        .await
        .expect("put");
}

pub(crate) fn write(folder: &Path, rel: &str, body: &[u8]) {
    let path = folder.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
    std::fs::write(path, body).expect("write");
}

pub(crate) fn read(folder: &Path, rel: &str) -> Option<Vec<u8>> {
    std::fs::read(folder.join(rel)).ok()
}

/// Plans and runs a pair, approving what waits for approval.
pub(crate) async fn sync_now(s: &Services, pair: &SyncPair) -> (SyncPlan, SyncOutcome) {
    let plan = sync::plan(s, &pair.id).await.expect("plan");
    let done = sync::run(s, plan.plan, true).await.expect("run");
    (plan, done)
}

fn actions(plan: &SyncPlan) -> Vec<(String, SyncAction, bool)> {
    (plan.items.iter())
        .map(|i| (i.path.clone(), i.action, i.held.is_some()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_sync_waits_for_approval_then_both_sides_are_equal_and_the_next_plan_is_empty() {
    let sb = sandbox();
    let t = setup(&sb, "sync-first").await;
    write(&t.folder, "a.txt", b"local a");
    write(&t.folder, "deep/b.txt", b"local b");
    put(&t.owner, &t.space, "d/remote.txt", b"remote d").await;
    let pair = paired(&t, SyncDirection::TwoWay, SyncDeletes::Mirror, None).await;

    let plan = sync::plan(&t.s, &pair.id).await.expect("plan");
    assert!(
        plan.approval
            .as_deref()
            .is_some_and(|a| a.contains("first")),
        "{:?}",
        plan.approval
    );
    assert_eq!(
        (plan.counts.uploads.files, plan.counts.uploads.bytes),
        (2, 14)
    );
    assert_eq!(
        (plan.counts.downloads.files, plan.counts.downloads.bytes),
        (1, 8)
    );
    // Not approved: nothing happens, and the plan is gone (a new one must be made and seen).
    let refused = sync::run(&t.s, plan.plan, false).await.expect_err("waits");
    assert_eq!(refused.kind(), ErrorKind::InvalidInput, "{refused}");
    assert_eq!(fetch(&t.owner, &t.space, "a.txt").await, None);

    let (_, done) = sync_now(&t.s, &pair).await;
    assert_eq!(
        (done.uploaded, done.downloaded, done.failed),
        (2, 1, 0),
        "{done:?}"
    );
    assert_eq!(
        fetch(&t.owner, &t.space, "deep/b.txt").await.as_deref(),
        Some(&b"local b"[..])
    );
    assert_eq!(
        read(&t.folder, "d/remote.txt").as_deref(),
        Some(&b"remote d"[..])
    );

    let again = sync::plan(&t.s, &pair.id).await.expect("plan again");
    assert!(
        again.is_empty() && again.approval.is_none(),
        "{:?} {:?}",
        again.approval,
        actions(&again)
    );
    assert_eq!(again.counts.unchanged, 3);
    let pairs = sync::pairs(&t.s).expect("pairs");
    assert!(pairs[0].last_good.is_some() && pairs[0].last_error.is_none() && !pairs[0].interrupted);
}

#[tokio::test(flavor = "multi_thread")]
async fn same_size_edits_on_either_side_are_found_by_content() {
    let sb = sandbox();
    let t = setup(&sb, "sync-same-size").await;
    write(&t.folder, "here.txt", b"aaaa");
    write(&t.folder, "there.txt", b"bbbb");
    let pair = paired(
        &t,
        SyncDirection::TwoWay,
        SyncDeletes::Mirror,
        Some(".trash/"),
    )
    .await;
    sync_now(&t.s, &pair).await;
    // The same size, and the local clock an hour back: only the content tells.
    write(&t.folder, "here.txt", b"AAAA");
    let f = std::fs::File::options()
        .write(true)
        .open(t.folder.join("here.txt"))
        .expect("open");
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .expect("mtime");
    put(&t.owner, &t.space, "there.txt", b"BBBB").await;
    let (plan, done) = sync_now(&t.s, &pair).await;
    assert_eq!(
        actions(&plan),
        vec![
            ("here.txt".into(), SyncAction::Upload, false),
            ("there.txt".into(), SyncAction::Download, false)
        ]
    );
    assert_eq!((done.uploaded, done.downloaded), (1, 1), "{done:?}");
    assert_eq!(
        fetch(&t.owner, &t.space, "here.txt").await.as_deref(),
        Some(&b"AAAA"[..])
    );
    assert_eq!(read(&t.folder, "there.txt").as_deref(), Some(&b"BBBB"[..]));
    // The local file replaced went to the desktop's trash.
    assert!(
        trashed("there.txt", b"bbbb"),
        "the replaced file is in the trash"
    );
    assert!(sync::plan(&t.s, &pair.id).await.expect("plan").is_empty());
}

/// Whether the desktop's trash holds a file of this name and content.
pub(crate) fn trashed(name: &str, body: &[u8]) -> bool {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    let Some(files) = data.map(|d| d.join("Trash/files")) else {
        return false;
    };
    let Ok(entries) = std::fs::read_dir(files) else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .starts_with(name.trim_end_matches(".txt"))
            && std::fs::read(e.path()).is_ok_and(|b| b == body)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_changed_on_both_sides_keeps_both_copies_on_both_sides() {
    let sb = sandbox();
    let t = setup(&sb, "sync-conflict").await;
    write(&t.folder, "notes.txt", b"first");
    let pair = paired(&t, SyncDirection::TwoWay, SyncDeletes::Mirror, None).await;
    sync_now(&t.s, &pair).await;
    write(&t.folder, "notes.txt", b"mine, edited here");
    put(&t.owner, &t.space, "notes.txt", b"theirs, edited there").await;
    let (plan, done) = sync_now(&t.s, &pair).await;
    assert_eq!(
        actions(&plan),
        vec![("notes.txt".into(), SyncAction::Conflict, false)]
    );
    assert_eq!((done.conflicts, done.failed), (1, 0), "{done:?}");
    // The Space's keeps the name on both sides; the folder's is beside it on both.
    assert_eq!(
        read(&t.folder, "notes.txt").as_deref(),
        Some(&b"theirs, edited there"[..])
    );
    let names: Vec<String> = std::fs::read_dir(&t.folder)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let other = names
        .iter()
        .find(|n| n.starts_with("notes (conflict "))
        .expect("a conflict copy")
        .clone();
    assert!(other.ends_with(").txt"), "{other}");
    assert_eq!(
        read(&t.folder, &other).as_deref(),
        Some(&b"mine, edited here"[..])
    );
    assert_eq!(
        fetch(&t.owner, &t.space, &other).await.as_deref(),
        Some(&b"mine, edited here"[..])
    );
    assert_eq!(
        fetch(&t.owner, &t.space, "notes.txt").await.as_deref(),
        Some(&b"theirs, edited there"[..])
    );
    assert!(sync::plan(&t.s, &pair.id).await.expect("plan").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_edited_between_plan_and_act_is_kept_and_left_for_the_next_run() {
    let sb = sandbox();
    let t = setup(&sb, "sync-between").await;
    write(&t.folder, "a.txt", b"one");
    write(&t.folder, "b.txt", b"two");
    let pair = paired(
        &t,
        SyncDirection::TwoWay,
        SyncDeletes::Mirror,
        Some(".trash/"),
    )
    .await;
    sync_now(&t.s, &pair).await;
    write(&t.folder, "a.txt", b"one, edited");
    std::fs::remove_file(t.folder.join("b.txt")).expect("rm");
    let plan = sync::plan(&t.s, &pair.id).await.expect("plan");
    assert_eq!(
        actions(&plan),
        vec![
            ("a.txt".into(), SyncAction::Upload, false),
            ("b.txt".into(), SyncAction::DeleteRemote, false)
        ]
    );
    // Another client edits both in the Space after the plan.
    put(&t.owner, &t.space, "a.txt", b"theirs").await;
    put(&t.owner, &t.space, "b.txt", b"theirs too").await;
    let done = sync::run(&t.s, plan.plan, true).await.expect("run");
    // The upload met a change; the delete waits for a run where every write went through.
    assert_eq!(
        (
            done.uploaded,
            done.deleted_remote,
            done.changed_since,
            done.held
        ),
        (0, 0, 1, 1),
        "{done:?}"
    );
    assert_eq!(
        fetch(&t.owner, &t.space, "a.txt").await.as_deref(),
        Some(&b"theirs"[..])
    );
    assert_eq!(
        fetch(&t.owner, &t.space, "b.txt").await.as_deref(),
        Some(&b"theirs too"[..])
    );
    // The next plan sees them as they are: a conflict, and a file to bring back.
    let next = sync::plan(&t.s, &pair.id).await.expect("plan");
    assert_eq!(
        actions(&next),
        vec![
            ("a.txt".into(), SyncAction::Conflict, false),
            ("b.txt".into(), SyncAction::Download, false)
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_deleted_on_doubt_or_without_a_way_back() {
    let sb = sandbox();
    let t = setup(&sb, "sync-doubt").await;
    for i in 0..4 {
        write(
            &t.folder,
            &format!("f{i}.txt"),
            format!("file {i}").as_bytes(),
        );
    }
    let pair = paired(&t, SyncDirection::Up, SyncDeletes::Mirror, None).await;
    sync_now(&t.s, &pair).await;

    // The Space keeps no versions and the pair has no trash folder: the delete is held.
    std::fs::remove_file(t.folder.join("f0.txt")).expect("rm");
    let (plan, done) = sync_now(&t.s, &pair).await;
    assert_eq!(
        actions(&plan),
        vec![("f0.txt".into(), SyncAction::DeleteRemote, true)]
    );
    assert_eq!(done.deleted_remote, 0);
    assert!(fetch(&t.owner, &t.space, "f0.txt").await.is_some());

    // An empty folder (a disk not mounted under it, say): deletes are held.
    for i in 1..4 {
        std::fs::remove_file(t.folder.join(format!("f{i}.txt"))).expect("rm");
    }
    let plan = sync::plan(&t.s, &pair.id).await.expect("plan");
    assert!(
        plan.doubts.iter().any(|d| d.contains("empty")),
        "{:?}",
        plan.doubts
    );
    assert!(
        plan.items.iter().all(|i| i.held.is_some()),
        "{:?}",
        actions(&plan)
    );

    // The folder gone: no plan at all.
    std::fs::remove_dir_all(&t.folder).expect("rm folder");
    let err = sync::plan(&t.s, &pair.id).await.expect_err("no folder");
    assert!(err.to_string().contains("mounted"), "{err}");
    let pairs = sync::pairs(&t.s).expect("pairs");
    assert!(pairs[0].last_error.is_some(), "the pair shows the failure");
    for i in 0..4 {
        assert!(
            fetch(&t.owner, &t.space, &format!("f{i}.txt"))
                .await
                .is_some(),
            "f{i} kept"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mirror_delete_keeps_a_way_back_in_the_trash_folder_or_the_versions() {
    let sb = sandbox();
    let t = setup(&sb, "sync-trash").await;
    for i in 0..8 {
        write(
            &t.folder,
            &format!("f{i}.txt"),
            format!("file {i}").as_bytes(),
        );
    }
    let pair = paired(&t, SyncDirection::Up, SyncDeletes::Mirror, Some(".trash/")).await;
    sync_now(&t.s, &pair).await;
    std::fs::remove_file(t.folder.join("f0.txt")).expect("rm");
    write(&t.folder, "f1.txt", b"file 1, new");
    let (plan, done) = sync_now(&t.s, &pair).await;
    assert_eq!(plan.approval, None, "one delete of eight needs no approval");
    assert_eq!(
        (done.deleted_remote, done.uploaded, done.failed),
        (1, 1, 0),
        "{done:?}"
    );
    assert_eq!(fetch(&t.owner, &t.space, "f0.txt").await, None);
    let kept = spacedock_tests::keys_below(&t.owner, &t.space, ".trash/").await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(
        kept.iter().any(|k| k.ends_with("/f0.txt")) && kept.iter().any(|k| k.ends_with("/f1.txt"))
    );
    let old = kept.iter().find(|k| k.ends_with("/f1.txt")).expect("f1");
    assert_eq!(
        fetch(&t.owner, &t.space, old).await.as_deref(),
        Some(&b"file 1"[..])
    );
    // The trash folder is never synced back.
    assert!(sync::plan(&t.s, &pair.id).await.expect("plan").is_empty());

    // Many deletes wait for approval.
    for i in 2..8 {
        std::fs::remove_file(t.folder.join(format!("f{i}.txt"))).expect("rm");
    }
    write(&t.folder, "other.txt", b"keeps the folder from being empty");
    let plan = sync::plan(&t.s, &pair.id).await.expect("plan");
    assert_eq!(plan.counts.remote_deletes.files, 6);
    assert!(
        plan.approval
            .as_deref()
            .is_some_and(|a| a.contains("deletes 6")),
        "{:?}",
        plan.approval
    );
    assert!(sync::run(&t.s, plan.plan, false).await.is_err());
    assert!(fetch(&t.owner, &t.space, "f2.txt").await.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_space_to_folder_mirror_moves_local_deletes_to_the_trash_and_skips_names_one_disk_merges()
{
    let sb = sandbox();
    let t = setup(&sb, "sync-down").await;
    put(&t.owner, &t.space, "keep.txt", b"keep").await;
    put(&t.owner, &t.space, "gone-later.txt", b"gone later").await;
    put(&t.owner, &t.space, "Photo.jpg", b"upper").await;
    put(&t.owner, &t.space, "photo.jpg", b"lower").await;
    put(&t.owner, &t.space, "caf\u{e9}.txt", b"nfc").await;
    put(&t.owner, &t.space, "cafe\u{301}.txt", b"nfd").await;
    let pair = paired(&t, SyncDirection::Down, SyncDeletes::Mirror, None).await;
    let (plan, done) = sync_now(&t.s, &pair).await;
    assert_eq!(plan.problems.len(), 4, "{:?}", plan.problems);
    assert_eq!(done.downloaded, 2, "{done:?}");
    let mut names: Vec<String> = std::fs::read_dir(&t.folder)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["gone-later.txt", "keep.txt"]);
    spacedock_tests::delete_keys(
        &t.owner,
        &sb.endpoint.url,
        &t.space,
        &["gone-later.txt".to_string()],
    )
    .await
    .expect("delete");
    let (_, done) = sync_now(&t.s, &pair).await;
    assert_eq!(done.deleted_local, 1, "{done:?}");
    assert!(read(&t.folder, "gone-later.txt").is_none());
    assert!(trashed("gone-later.txt", b"gone later"));
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_pairs_and_the_home_folder_are_refused() {
    let sb = sandbox();
    let t = setup(&sb, "sync-overlap").await;
    let add = |folder: &Path, space: &str, prefix: &str| {
        let mut p = new_pair(folder, space, SyncDirection::Up, SyncDeletes::Keep, None);
        p.prefix = prefix.to_string();
        p
    };
    sync::add_pair(&t.s, add(&t.folder, &t.space, "site/"), None)
        .await
        .expect("first");
    let inner = t.folder.join("inner");
    std::fs::create_dir(&inner).expect("inner");
    let other = t.folder.parent().expect("parent").join("other");
    std::fs::create_dir(&other).expect("other");
    for (folder, prefix) in [
        (&inner, "elsewhere/"),
        (&t.folder.parent().expect("p").to_path_buf(), "x/"),
        (&other, "site/deeper/"),
        (&other, ""),
    ] {
        let err = sync::add_pair(&t.s, add(folder, &t.space, prefix), None)
            .await
            .expect_err("overlaps");
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("overlaps"), "{err}");
    }
    sync::add_pair(&t.s, add(&other, &t.space, "blog/"), None)
        .await
        .expect("apart");
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
    let err = sync::add_pair(&t.s, add(&home, &t.space, "home/"), None)
        .await
        .expect_err("home");
    assert!(err.to_string().contains("second time"), "{err}");
    assert_eq!(sync::pairs(&t.s).expect("pairs").len(), 2);
}

/// A pair of the test's folder and Space, saved.
async fn paired(
    t: &Setup,
    direction: SyncDirection,
    deletes: SyncDeletes,
    trash: Option<&str>,
) -> SyncPair {
    sync::add_pair(&t.s, pair_of(t, direction, deletes, trash), None)
        .await
        .expect("add")
}

fn pair_of(
    t: &Setup,
    direction: SyncDirection,
    deletes: SyncDeletes,
    trash: Option<&str>,
) -> NewPair {
    new_pair(&t.folder, &t.space, direction, deletes, trash)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_that_puts_the_old_mtime_back_is_still_found_and_each_replaced_version_keeps_its_own_trash_copy(
) {
    let sb = sandbox();
    let t = setup(&sb, "sync-ctime").await;
    write(&t.folder, "cfg.json", b"{\"v\":1}");
    let pair = paired(&t, SyncDirection::Up, SyncDeletes::Mirror, Some(".trash/")).await;
    // Old enough that its stamp is trusted.
    let path = t.folder.join("cfg.json");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open")
        .set_modified(old)
        .expect("mtime");
    sync_now(&t.s, &pair).await;
    for body in [&b"{\"v\":2}"[..], &b"{\"v\":3}"[..]] {
        // The same size, and the mtime put back as it was (as `cp -p` or `touch -r` do).
        std::fs::write(&path, body).expect("edit");
        std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_modified(old)
            .expect("mtime");
        let (plan, done) = sync_now(&t.s, &pair).await;
        assert_eq!(
            actions(&plan),
            vec![("cfg.json".into(), SyncAction::Upload, false)]
        );
        assert_eq!(done.uploaded, 1, "{done:?}");
    }
    assert_eq!(
        fetch(&t.owner, &t.space, "cfg.json").await.as_deref(),
        Some(&b"{\"v\":3}"[..])
    );
    // Two replacements within one minute: each old version has its own copy in the trash.
    let kept = spacedock_tests::keys_below(&t.owner, &t.space, ".trash/").await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    let mut bodies = Vec::new();
    for k in &kept {
        bodies.push(fetch(&t.owner, &t.space, k).await.expect("kept"));
    }
    bodies.sort();
    assert_eq!(bodies, vec![b"{\"v\":1}".to_vec(), b"{\"v\":2}".to_vec()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_replaced_by_a_link_is_never_taken_as_deleted() {
    let sb = sandbox();
    let t = setup(&sb, "sync-link").await;
    write(&t.folder, "sub/x.txt", b"x");
    write(&t.folder, "y.txt", b"y");
    let pair = paired(
        &t,
        SyncDirection::TwoWay,
        SyncDeletes::Mirror,
        Some(".trash/"),
    )
    .await;
    sync_now(&t.s, &pair).await;
    // The folder moved to another disk, a link left in its place.
    let away = t.folder.parent().expect("parent").join("away");
    std::fs::rename(t.folder.join("sub"), &away).expect("move");
    std::os::unix::fs::symlink(&away, t.folder.join("sub")).expect("link");
    let (plan, done) = sync_now(&t.s, &pair).await;
    assert_eq!(
        actions(&plan),
        vec![("sub/x.txt".into(), SyncAction::Kept, false)]
    );
    assert_eq!(done.deleted_remote, 0);
    assert!(fetch(&t.owner, &t.space, "sub/x.txt").await.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_one_way_conflict_the_destination_file_is_never_replaced_unasked() {
    let sb = sandbox();
    let t = setup(&sb, "sync-diverged").await;
    put(&t.owner, &t.space, "doc.txt", b"v1").await;
    let pair = paired(&t, SyncDirection::Down, SyncDeletes::Mirror, None).await;
    sync_now(&t.s, &pair).await;
    write(&t.folder, "doc.txt", b"my edit");
    put(&t.owner, &t.space, "doc.txt", b"v2").await;
    let (plan, _) = sync_now(&t.s, &pair).await;
    assert_eq!(
        actions(&plan),
        vec![("doc.txt".into(), SyncAction::Conflict, false)]
    );
    assert_eq!(read(&t.folder, "doc.txt").as_deref(), Some(&b"my edit"[..]));
    // The Space changes again: the user's edit is still not replaced; v3 goes beside it.
    put(&t.owner, &t.space, "doc.txt", b"v3").await;
    let (plan, _) = sync_now(&t.s, &pair).await;
    assert_eq!(
        actions(&plan),
        vec![("doc.txt".into(), SyncAction::Conflict, false)]
    );
    assert_eq!(read(&t.folder, "doc.txt").as_deref(), Some(&b"my edit"[..]));
    // Deleted in the Space: the user's different file stays.
    spacedock_tests::delete_keys(
        &t.owner,
        &sb.endpoint.url,
        &t.space,
        &["doc.txt".to_string()],
    )
    .await
    .expect("delete");
    let (plan, done) = sync_now(&t.s, &pair).await;
    assert!(
        actions(&plan)
            .iter()
            .all(|a| a.1 != SyncAction::DeleteLocal),
        "{:?}",
        actions(&plan)
    );
    assert_eq!(done.deleted_local, 0);
    assert_eq!(read(&t.folder, "doc.txt").as_deref(), Some(&b"my edit"[..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rename_whose_upload_did_not_go_through_deletes_nothing() {
    let sb = sandbox();
    let t = setup(&sb, "sync-rename").await;
    for i in 0..6 {
        write(&t.folder, &format!("f{i}.txt"), b"some words");
    }
    let pair = paired(&t, SyncDirection::Up, SyncDeletes::Mirror, Some(".trash/")).await;
    sync_now(&t.s, &pair).await;
    std::fs::rename(t.folder.join("f0.txt"), t.folder.join("renamed.txt")).expect("rename");
    let plan = sync::plan(&t.s, &pair.id).await.expect("plan");
    assert_eq!(
        actions(&plan),
        vec![
            ("f0.txt".into(), SyncAction::DeleteRemote, false),
            ("renamed.txt".into(), SyncAction::Upload, false)
        ]
    );
    // Edited after the plan: its upload is left for the next run, and so is the delete.
    write(&t.folder, "renamed.txt", b"some words, more");
    let done = sync::run(&t.s, plan.plan, true).await.expect("run");
    assert_eq!(
        (done.changed_since, done.deleted_remote, done.held),
        (1, 0, 1),
        "{done:?}"
    );
    assert!(
        fetch(&t.owner, &t.space, "f0.txt").await.is_some(),
        "the old name stays"
    );
    let (_, done) = sync_now(&t.s, &pair).await;
    assert_eq!((done.uploaded, done.deleted_remote), (1, 1), "{done:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn many_replacements_wait_for_approval_and_names_the_pair_does_not_own_are_left_alone() {
    let sb = sandbox();
    let t = setup(&sb, "sync-many").await;
    for i in 0..8 {
        write(&t.folder, &format!("f{i}.txt"), b"plain");
    }
    // Inside the pair's trash folder, and a name the engine gives files it is writing.
    write(&t.folder, "trash/inside.txt", b"never synced");
    put(
        &t.owner,
        &t.space,
        ".x.txt.spacedock-part",
        b"not a file of ours",
    )
    .await;
    let pair = paired(
        &t,
        SyncDirection::TwoWay,
        SyncDeletes::Mirror,
        Some("trash/"),
    )
    .await;
    let (plan, done) = sync_now(&t.s, &pair).await;
    assert_eq!(done.uploaded, 8, "{done:?}");
    let problems: Vec<&str> = plan.problems.iter().map(|p| p.path.as_str()).collect();
    assert!(
        problems.contains(&"trash/inside.txt") && problems.contains(&".x.txt.spacedock-part"),
        "{problems:?}"
    );
    assert!(fetch(&t.owner, &t.space, "trash/inside.txt")
        .await
        .is_none());
    assert!(read(&t.folder, ".x.txt.spacedock-part").is_none());
    // Every file rewritten (encrypted, say): the run waits for approval.
    for i in 0..8 {
        write(&t.folder, &format!("f{i}.txt"), b"SCRAMBLED");
    }
    let plan = sync::plan(&t.s, &pair.id).await.expect("plan");
    assert_eq!(plan.counts.uploads.files, 8);
    assert!(
        plan.approval
            .as_deref()
            .is_some_and(|a| a.contains("replaces or deletes 8")),
        "{:?}",
        plan.approval
    );
    assert!(sync::run(&t.s, plan.plan, false).await.is_err());
    assert_eq!(
        fetch(&t.owner, &t.space, "f0.txt").await.as_deref(),
        Some(&b"plain"[..])
    );
}

/// Runs rclone against the sandbox as `owner`; its exit status and what it said.
fn rclone(sb: &SandboxInfo, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("rclone")
        .args(args)
        .env("RCLONE_CONFIG", "/dev/null")
        // The test environment points the SDK at its CA bundle; rclone refuses that setting.
        .env_remove("AWS_CA_BUNDLE")
        .env("RCLONE_CONFIG_SANDBOX_TYPE", "s3")
        .env("RCLONE_CONFIG_SANDBOX_PROVIDER", "Ceph")
        .env("RCLONE_CONFIG_SANDBOX_ACCESS_KEY_ID", &sb.owner_access_key)
        .env(
            "RCLONE_CONFIG_SANDBOX_SECRET_ACCESS_KEY",
            sb.owner_secret.expose(),
        )
        .env("RCLONE_CONFIG_SANDBOX_ENDPOINT", &sb.endpoint.url)
        .output()
        .expect("rclone runs (the test setup installs it)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[tokio::test(flavor = "multi_thread")]
async fn rclone_finds_no_difference_after_a_sync_and_a_sync_finds_nothing_to_do_after_rclone() {
    let sb = sandbox();
    let t = setup(&sb, "sync-rclone").await;
    write(&t.folder, "a.txt", b"alpha");
    write(&t.folder, "deep/b.txt", b"beta");
    // Big enough to go up in parts: rclone reads its MD5 from the metadata written with it.
    write(&t.folder, "big.bin", &spacedock_tests::noise(9 << 20, 7));
    let pair = paired(
        &t,
        SyncDirection::TwoWay,
        SyncDeletes::Mirror,
        Some(".trash/"),
    )
    .await;
    sync_now(&t.s, &pair).await;
    let folder = t.folder.to_string_lossy().into_owned();
    let remote = format!("sandbox:{}", t.space);
    let (same, said) = rclone(&sb, &["check", &folder, &remote, "--exclude", ".trash/**"]);
    assert!(same, "rclone check found differences: {said}");
    assert!(said.contains("0 differences found"), "{said}");
    assert!(
        !said.contains("hashes could not be checked")
            || said.contains("0 hashes could not be checked"),
        "{said}"
    );

    // rclone syncs the next edits itself: Spacedock finds both sides already the same.
    write(&t.folder, "a.txt", b"ALPHA");
    write(&t.folder, "new.txt", b"new");
    std::fs::remove_file(t.folder.join("deep/b.txt")).expect("rm");
    let (ok, said) = rclone(&sb, &["sync", &folder, &remote, "--exclude", ".trash/**"]);
    assert!(ok, "{said}");
    let plan = sync::plan(&t.s, &pair.id).await.expect("plan");
    assert!(plan.is_empty(), "{:?}", actions(&plan));
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_versioned_space_a_mirror_delete_leaves_the_version_to_undo() {
    let sb = sandbox();
    let t = setup(&sb, "sync-versioned").await;
    t.owner
        .put_bucket_versioning()
        .bucket(&t.space)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("versioning");
    for i in 0..6 {
        write(
            &t.folder,
            &format!("f{i}.txt"),
            format!("v1 of {i}").as_bytes(),
        );
    }
    // No trash folder: the versions are the way back.
    let pair = paired(&t, SyncDirection::Up, SyncDeletes::Mirror, None).await;
    sync_now(&t.s, &pair).await;
    std::fs::remove_file(t.folder.join("f0.txt")).expect("rm");
    write(&t.folder, "f1.txt", b"v2 of 1");
    let (plan, done) = sync_now(&t.s, &pair).await;
    assert!(
        plan.items.iter().all(|i| i.held.is_none()),
        "{:?}",
        actions(&plan)
    );
    assert_eq!((done.deleted_remote, done.uploaded), (1, 1), "{done:?}");
    let versions = t
        .owner
        .list_object_versions()
        .bucket(&t.space)
        .send()
        .await
        .expect("versions");
    let of = |key: &str| {
        versions
            .versions()
            .iter()
            .filter(|v| v.key() == Some(key))
            .count()
    };
    assert_eq!(of("f0.txt"), 1, "f0's bytes stay as a version");
    assert_eq!(of("f1.txt"), 2, "f1's old bytes stay as a version");
    assert!(versions
        .delete_markers()
        .iter()
        .any(|m| m.key() == Some("f0.txt")));
}

#[tokio::test(flavor = "multi_thread")]
async fn pairs_sync_on_their_own_when_their_folder_changes_and_never_run_a_plan_that_waits() {
    use spacedock::core::sync::auto::{self, SyncNews};
    let sb = sandbox();
    let t = setup(&sb, "sync-auto").await;
    write(&t.folder, "a.txt", b"a");
    let mut watching = pair_of(
        &t,
        SyncDirection::TwoWay,
        SyncDeletes::Mirror,
        Some(".trash/"),
    );
    watching.prefix = "watched/".into();
    watching.schedule = SyncSchedule::Watch;
    let pair = sync::add_pair(&t.s, watching, None).await.expect("add");
    // Never synced: a run nobody asked for waits for approval, and changes nothing.
    let news = auto::tick(&t.s).await;
    assert!(matches!(&news[..], [SyncNews::Waiting { .. }]), "{news:?}");
    assert!(fetch(&t.owner, &t.space, "watched/a.txt").await.is_none());
    let listed = sync::pairs(&t.s).expect("pairs");
    assert!(
        listed[0]
            .waiting
            .as_deref()
            .is_some_and(|w| w.contains("first")),
        "{:?}",
        listed[0].waiting
    );
    sync_now(&t.s, &pair).await;
    assert!(sync::pairs(&t.s).expect("pairs")[0].waiting.is_none());

    // A change in the folder: the pair syncs by itself within seconds.
    write(&t.folder, "b.txt", b"b");
    let mut synced = false;
    for _ in 0..40 {
        for n in auto::tick(&t.s).await {
            assert!(matches!(n, SyncNews::Synced { .. }), "{n:?}");
        }
        if fetch(&t.owner, &t.space, "watched/b.txt").await.is_some() {
            synced = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(synced, "the watched folder's new file went up on its own");

    // A pair whose folder is gone fails loudly: news, and the pair's mark.
    let other = t.folder.parent().expect("parent").join("elsewhere");
    std::fs::create_dir(&other).expect("other");
    let mut every = new_pair(&other, &t.space, SyncDirection::Up, SyncDeletes::Keep, None);
    every.prefix = "every/".into();
    every.schedule = SyncSchedule::Every { minutes: 5 };
    let second = sync::add_pair(&t.s, every, None).await.expect("add");
    std::fs::remove_dir(&other).expect("gone");
    let news = auto::tick(&t.s).await;
    assert!(
        news.iter().any(|n| matches!(n, SyncNews::Failed { pair, message, .. } if *pair == second.id && message.contains("mounted"))),
        "{news:?}"
    );
    let listed = sync::pairs(&t.s).expect("pairs");
    assert!(listed
        .iter()
        .any(|p| p.id == second.id && p.last_error.is_some()));
    // Not due again for five minutes.
    assert!(auto::tick(&t.s)
        .await
        .iter()
        .all(|n| !matches!(n, SyncNews::Failed { .. })));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_through_a_storm_of_slow_downs_still_moves_every_file_whole() {
    let sb = sandbox();
    let (url, refused) = spacedock_tests::proxy::storming_proxy(&sb.endpoint.url, 30);
    let root = tempfile::tempdir().expect("root");
    let s = connected(&sb, root.path(), &url).await;
    let t = setup(&sb, "sync-storm").await;
    for i in 0..40 {
        write(
            &t.folder,
            &format!("f{i:02}.txt"),
            format!("file {i}").as_bytes(),
        );
    }
    write(&t.folder, "big.bin", &spacedock_tests::noise(12 << 20, 3));
    for i in 0..10 {
        put(
            &t.owner,
            &t.space,
            &format!("theirs/{i}.txt"),
            format!("theirs {i}").as_bytes(),
        )
        .await;
    }
    let pair = sync::add_pair(
        &s,
        pair_of(
            &t,
            SyncDirection::TwoWay,
            SyncDeletes::Mirror,
            Some(".trash/"),
        ),
        None,
    )
    .await
    .expect("add");
    let (_, done) = sync_now(&s, &pair).await;
    assert!(
        refused.load(std::sync::atomic::Ordering::Relaxed) > 10,
        "the storm refused requests"
    );
    assert_eq!(
        (done.uploaded, done.downloaded, done.failed),
        (41, 10, 0),
        "{done:?}"
    );
    assert_eq!(
        fetch(&t.owner, &t.space, "big.bin").await.as_deref(),
        Some(&spacedock_tests::noise(12 << 20, 3)[..])
    );
    assert_eq!(
        read(&t.folder, "theirs/9.txt").as_deref(),
        Some(&b"theirs 9"[..])
    );
    assert!(sync::plan(&s, &pair.id).await.expect("plan").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_stopped_mid_sync_loses_nothing_and_the_next_sync_finishes() {
    let sb = sandbox();
    let t = setup(&sb, "sync-gateway").await;
    for i in 0..30 {
        write(
            &t.folder,
            &format!("f{i:02}.bin"),
            &spacedock_tests::noise(256 << 10, i),
        );
    }
    let pair = paired(&t, SyncDirection::Up, SyncDeletes::Mirror, Some(".trash/")).await;
    let plan = sync::plan(&t.s, &pair.id).await.expect("plan");
    let rgw = spacedock_tests::gateway_pid();
    // Stopped as the run starts, for eight seconds.
    // SAFETY: signals to the sandbox's own gateway, resumed in all cases.
    unsafe { libc::kill(rgw as i32, libc::SIGSTOP) };
    let resume = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(8));
        unsafe { libc::kill(rgw as i32, libc::SIGCONT) };
    });
    let done = sync::run(&t.s, plan.plan, true).await;
    resume.join().expect("resumed");
    unsafe { libc::kill(rgw as i32, libc::SIGCONT) };
    // However it ended, what it says went up is there whole; the next sync does the rest.
    if let Ok(done) = &done {
        assert_eq!(done.uploaded + done.failed, 30, "{done:?}");
    }
    let (_, again) = sync_now(&t.s, &pair).await;
    assert_eq!(again.failed, 0, "{again:?}");
    for i in 0..30u64 {
        assert_eq!(
            fetch(&t.owner, &t.space, &format!("f{i:02}.bin"))
                .await
                .as_deref(),
            Some(&spacedock_tests::noise(256 << 10, i)[..]),
            "f{i:02}"
        );
    }
    assert!(sync::plan(&t.s, &pair.id).await.expect("plan").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_killed_in_a_big_file_leaves_the_pair_interrupted_and_the_next_sync_finishes() {
    let sb = sandbox();
    let t = setup(&sb, "sync-killed").await;
    write(&t.folder, "big.bin", &spacedock_tests::noise(40 << 20, 11));
    put(
        &t.owner,
        &t.space,
        "down.bin",
        &spacedock_tests::noise(30 << 20, 12),
    )
    .await;
    let pair = paired(
        &t,
        SyncDirection::TwoWay,
        SyncDeletes::Mirror,
        Some(".trash/"),
    )
    .await;
    let plan = sync::plan(&t.s, &pair.id).await.expect("plan");
    // Dropped mid-flight, as a crash stops it, while both big files move.
    let cut = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        sync::run(&t.s, plan.plan, true),
    )
    .await;
    assert!(cut.is_err(), "the run was cut short");
    let listed = sync::pairs(&t.s).expect("pairs");
    assert!(listed[0].interrupted, "the pair shows it was interrupted");
    // Under its own name only whole, if at all.
    let half = read(&t.folder, "down.bin");
    assert!(
        half.as_ref()
            .is_none_or(|b| *b == spacedock_tests::noise(30 << 20, 12)),
        "no half file under its name"
    );
    let (_, done) = sync_now(&t.s, &pair).await;
    assert_eq!(done.failed, 0, "{done:?}");
    assert_eq!(
        fetch(&t.owner, &t.space, "big.bin").await.as_deref(),
        Some(&spacedock_tests::noise(40 << 20, 11)[..])
    );
    assert_eq!(
        read(&t.folder, "down.bin").as_deref(),
        Some(&spacedock_tests::noise(30 << 20, 12)[..])
    );
    assert!(!sync::pairs(&t.s).expect("pairs")[0].interrupted);
    assert!(sync::plan(&t.s, &pair.id).await.expect("plan").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_shows_on_the_transfers_panel_and_stops_there() {
    use spacedock::core::transfer::board;
    use std::sync::{Arc, Mutex};
    let sb = sandbox();
    // A slow link, so the run is still going when it is stopped.
    let proxy = spacedock_tests::proxy::counting_proxy(&sb.endpoint.url, Some(2 << 20));
    let root = tempfile::tempdir().expect("root");
    let s = connected(&sb, root.path(), &proxy.url).await;
    let t = setup(&sb, "sync-panel").await;
    for i in 0..40 {
        write(
            &t.folder,
            &format!("f{i:02}.bin"),
            &spacedock_tests::noise(256 << 10, i),
        );
    }
    let pair = sync::add_pair(
        &s,
        pair_of(&t, SyncDirection::Up, SyncDeletes::Mirror, Some(".trash/")),
        None,
    )
    .await
    .expect("add");
    let rows = Arc::new(Mutex::new(Vec::new()));
    let seen = rows.clone();
    board::watch(
        &s,
        Arc::new(move |c: board::TransfersChanged| seen.lock().expect("rows").extend(c.rows)),
    );
    let plan = sync::plan(&s, &pair.id).await.expect("plan");
    let s = Arc::new(s);
    let running = {
        let s = s.clone();
        tokio::spawn(async move { sync::run(&s, plan.plan, true).await })
    };
    // The run's files are rows of one batch; Stop on the panel stops the run.
    let batch = loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let rows = rows.lock().expect("rows");
        if let Some(done) = rows
            .iter()
            .find(|r| r.state == spacedock::core::transfer::FileState::Done)
        {
            break done.batch;
        }
    };
    board::cancel(&s, batch, None);
    let done = running.await.expect("joined").expect("run");
    assert!(done.stopped && done.uploaded < 40, "{done:?}");
    let listed = sync::pairs(&s).expect("pairs");
    assert!(
        listed[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("stopped")),
        "{:?}",
        listed[0].last_error
    );
    // A request stopped on its way may still land at the server after the run ends: the next
    // sync finds it there (the same bytes, recorded) or leaves it for the one after; never a
    // second copy, never a clobber.
    for _ in 0..3 {
        let (_, rest) = sync_now(&s, &pair).await;
        assert_eq!(rest.failed, 0, "{rest:?}");
        if sync::plan(&s, &pair.id).await.expect("plan").is_empty() {
            break;
        }
    }
    assert!(sync::plan(&s, &pair.id).await.expect("plan").is_empty());
    for i in 0..40u64 {
        assert_eq!(
            fetch(&t.owner, &t.space, &format!("f{i:02}.bin"))
                .await
                .as_deref(),
            Some(&spacedock_tests::noise(256 << 10, i)[..])
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_touched_file_of_an_object_in_parts_still_takes_the_next_change_from_the_space() {
    let sb = sandbox();
    let t = setup(&sb, "sync-parts").await;
    let first = spacedock_tests::noise(12 << 20, 21);
    // In two parts, with no MD5 stored beside it: its ETag is not its MD5.
    spacedock_tests::put_in_parts(&t.owner, &t.space, "video.bin", &first).await;
    let pair = paired(&t, SyncDirection::Down, SyncDeletes::Mirror, None).await;
    sync_now(&t.s, &pair).await;
    assert_eq!(read(&t.folder, "video.bin").as_deref(), Some(&first[..]));
    // Touched (its stamp moves, its bytes do not): the baseline catches up.
    let path = t.folder.join("video.bin");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open")
        .set_modified(old)
        .expect("touch");
    let (plan, _) = sync_now(&t.s, &pair).await;
    assert!(plan.is_empty(), "{:?}", actions(&plan));
    // The Space's next version comes down over it, as a change, not as a conflict.
    put(&t.owner, &t.space, "video.bin", b"the new cut").await;
    let (plan, done) = sync_now(&t.s, &pair).await;
    assert_eq!(
        actions(&plan),
        vec![("video.bin".into(), SyncAction::Download, false)]
    );
    assert_eq!(done.downloaded, 1, "{done:?}");
    assert_eq!(
        read(&t.folder, "video.bin").as_deref(),
        Some(&b"the new cut"[..])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_pair_runs_no_plan_and_one_pair_is_planned_once_at_a_time() {
    let sb = sandbox();
    let t = setup(&sb, "sync-removed").await;
    for i in 0..300 {
        write(
            &t.folder,
            &format!("f{i:03}.txt"),
            format!("file {i}").as_bytes(),
        );
    }
    let pair = paired(&t, SyncDirection::Up, SyncDeletes::Mirror, Some(".trash/")).await;
    let (a, b) = tokio::join!(sync::plan(&t.s, &pair.id), sync::plan(&t.s, &pair.id));
    assert!(
        a.is_ok() != b.is_ok(),
        "one plan at a time: {:?} / {:?}",
        a.as_ref().err(),
        b.as_ref().err()
    );
    let plan = a.or(b).expect("a plan");
    sync::remove_pair(&t.s, &pair.id).expect("remove");
    let err = sync::run(&t.s, plan.plan, true).await.expect_err("gone");
    assert_eq!(err.kind(), ErrorKind::Gone, "{err}");
    assert!(spacedock_tests::keys_below(&t.owner, &t.space, "")
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_renames_goes_over_whole_and_every_old_name_is_kept_in_the_trash() {
    let sb = sandbox();
    let t = setup(&sb, "sync-renames").await;
    for i in 0..60 {
        write(
            &t.folder,
            &format!("photos/img-{i:02}.jpg"),
            format!("picture {i}").as_bytes(),
        );
    }
    let pair = paired(
        &t,
        SyncDirection::TwoWay,
        SyncDeletes::Mirror,
        Some(".trash/"),
    )
    .await;
    sync_now(&t.s, &pair).await;
    // Fifty files renamed at once (a photo tool renaming by date).
    for i in 0..50 {
        std::fs::rename(
            t.folder.join(format!("photos/img-{i:02}.jpg")),
            t.folder.join(format!("photos/2026-12-05 {i:02}.jpg")),
        )
        .expect("rename");
    }
    let plan = sync::plan(&t.s, &pair.id).await.expect("plan");
    assert_eq!(
        (plan.counts.uploads.files, plan.counts.remote_deletes.files),
        (50, 50)
    );
    assert!(
        plan.approval.is_some(),
        "fifty deletes of sixty wait for approval"
    );
    let done = sync::run(&t.s, plan.plan, true).await.expect("run");
    assert_eq!(
        (done.uploaded, done.deleted_remote, done.failed),
        (50, 50, 0),
        "{done:?}"
    );
    let keys = spacedock_tests::keys_below(&t.owner, &t.space, "photos/").await;
    assert_eq!(keys.len(), 60);
    assert!(keys.iter().any(|k| k == "photos/2026-12-05 49.jpg"));
    assert_eq!(
        spacedock_tests::keys_below(&t.owner, &t.space, ".trash/")
            .await
            .len(),
        50
    );
    assert!(sync::plan(&t.s, &pair.id).await.expect("plan").is_empty());
}
