//! The engine against a model. Random sequences of uploads, downloads, copies, moves, deletes
//! and restores run against the real sandbox, each with Overwrite, Skip or Keep both; another
//! client changes a file between the plan and the act; the app quits at a random point and
//! starts again to resume. After every step the Space and the folder are compared with a
//! simple model of what must be there: a file the model holds that is missing or holds other
//! bytes is lost; a file the model does not expect is misplaced, unless it is the one new copy
//! a step said would go beside (Keep both, or a name taken since the plan).
//!
//! `SPACEDOCK_MODEL_CASES` says how many sequences run (3 here), `SPACEDOCK_MODEL_SEED` the
//! first one's seed; `.ci/model` runs many and prints the count tried and the count lost.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;

use crate::services::connected;
use spacedock::core::services::Services;
use spacedock::core::transfer::copy::CopyMode;
use spacedock::core::transfer::copy_batch::CopyRequest;
use spacedock::core::transfer::resume;
use spacedock::core::transfer::{copy_batch, download_batch, upload_batch};
use spacedock::core::transfer::{integrity, Conflict, FileAcl, FileState, TransferEvent};
use spacedock::core::{files, versions};
use spacedock_tests::{owner_client, sandbox, SandboxInfo};

const STEPS: usize = 14;
const FOLDERS: [&str; 3] = ["a/", "b/", "c/"];

/// A small random source, the same sequence for the same seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<T: Clone>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())].clone()
    }
    /// Up to `most` different items of `from`.
    fn some<T: Clone + Ord>(&mut self, from: &[T], most: usize) -> Vec<T> {
        let mut out = BTreeSet::new();
        for _ in 0..=self.below(most) {
            out.insert(self.pick(from));
        }
        out.into_iter().collect()
    }
    fn conflict(&mut self) -> Conflict {
        self.pick(&[Conflict::Overwrite, Conflict::Skip, Conflict::KeepBoth])
    }
}

/// What must exist: each Space key and each local file (relative to the case's folder) with
/// the MD5 of its bytes; and, for the step under way, the copies that may appear beside.
#[derive(Default)]
struct Model {
    remote: BTreeMap<String, String>,
    local: BTreeMap<String, String>,
    /// (folder, MD5): one new key in that Space folder holding those bytes.
    remote_beside: Vec<(String, String)>,
    /// (folder, MD5): one new local file in that folder holding those bytes.
    local_beside: Vec<(String, String)>,
    /// Bytes that must be in the Space somewhere (a move whose end is one of two places).
    must_exist: Vec<String>,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Tally {
    pub cases: usize,
    pub steps: usize,
    /// Files compared with the model, over all steps.
    pub checked: usize,
    pub lost: Vec<String>,
    pub misplaced: Vec<String>,
}

struct Case {
    sb: SandboxInfo,
    client: aws_sdk_s3::Client,
    space: String,
    root: PathBuf,
    /// The folder the local files live in: src/ (to upload) and down/ (downloads).
    folder: PathBuf,
    s: Option<Arc<Services>>,
    model: Model,
    made: u64,
    log: Vec<String>,
}

fn md5_hex(bytes: &[u8]) -> String {
    integrity::hex(&integrity::md5_of(bytes))
}

fn name_of(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

fn folder_of(key: &str) -> &str {
    key.rfind('/').map_or("", |i| &key[..=i])
}

/// What the files of the step under way said when they failed, for the log.
static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn quiet() -> Arc<dyn Fn(TransferEvent) + Send + Sync> {
    Arc::new(|e: TransferEvent| {
        if let FileState::Failed { message, .. } = e.state {
            SAID.lock().expect("said").push(message);
        }
    })
}

impl Case {
    fn s(&self) -> Arc<Services> {
        self.s.clone().expect("the app runs")
    }

    /// New bytes, different from any made before.
    fn bytes(&mut self, rng: &mut Rng) -> Vec<u8> {
        self.made += 1;
        let mut b = format!("file {} of {}\n", self.made, self.space).into_bytes();
        b.extend((0..rng.below(3000)).map(|i| (i as u64 * 31 + self.made) as u8));
        b
    }

    fn write_local(&mut self, rel: &str, bytes: &[u8]) {
        let path = self.folder.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
        std::fs::write(&path, bytes).expect("write");
        self.model.local.insert(rel.to_string(), md5_hex(bytes));
    }

    async fn put(&self, key: &str, bytes: &[u8]) {
        (self.client.put_object().bucket(&self.space).key(key))
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await
            .expect("put");
    }

    /// Another program writes `key`: the model follows it.
    async fn put_outside(&mut self, key: &str, rng: &mut Rng) {
        let bytes = self.bytes(rng);
        self.put(key, &bytes).await;
        self.model.remote.insert(key.to_string(), md5_hex(&bytes));
    }

    async fn step(&mut self, rng: &mut Rng) {
        match rng.below(100) {
            0..=11 => self.edit_local(rng),
            12..=33 => self.upload(rng).await,
            34..=49 => self.download(rng).await,
            50..=69 => self.copy(rng).await,
            70..=79 => self.delete(rng).await,
            80..=87 => self.restore(rng).await,
            _ => self.quit_and_resume(rng).await,
        }
    }

    fn edit_local(&mut self, rng: &mut Rng) {
        let rel = format!("src/f{}.txt", rng.below(6));
        let bytes = self.bytes(rng);
        self.log.push(format!("edit {rel}"));
        self.write_local(&rel, &bytes);
    }

    fn sources(&self) -> Vec<String> {
        (self.model.local.keys())
            .filter(|k| k.starts_with("src/"))
            .cloned()
            .collect()
    }

    fn keys(&self) -> Vec<String> {
        self.model.remote.keys().cloned().collect()
    }

    /// What an upload of `rels` into `folder` with `conflict` must leave, and which keys
    /// another client changes between the plan and the run (only those the user chose to
    /// replace: the rest is planned over nothing or left alone).
    fn expect_upload(&mut self, rels: &[String], folder: &str, conflict: Conflict) {
        for rel in rels {
            let key = format!("{folder}{}", name_of(rel));
            let md5 = self.model.local[rel].clone();
            match (self.model.remote.contains_key(&key), conflict) {
                (false, _) | (true, Conflict::Overwrite) => {
                    self.model.remote.insert(key, md5);
                }
                (true, Conflict::Skip) => {}
                (true, Conflict::KeepBoth) => self.model.remote_beside.push((folder.into(), md5)),
            }
        }
    }

    async fn upload(&mut self, rng: &mut Rng) {
        let sources = self.sources();
        if sources.is_empty() {
            return self.edit_local(rng);
        }
        let rels = rng.some(&sources, 4);
        let folder = rng.pick(&FOLDERS).to_string();
        let conflict = rng.conflict();
        let paths = rels.iter().map(|r| self.folder.join(r)).collect();
        self.log
            .push(format!("upload {rels:?} to {folder} ({conflict:?})"));
        let s = self.s();
        let plan = upload_batch::plan(&s, &self.space, None, &folder, paths)
            .await
            .expect("plan");
        // Another client writes one of the keys after the plan: it is never replaced.
        let changed = match rng.chance(30) {
            true => Some(format!("{folder}{}", name_of(&rng.pick(&rels)))),
            false => None,
        };
        let existed = (changed.as_ref()).is_some_and(|k| self.model.remote.contains_key(k));
        self.expect_upload(&rels, &folder, conflict);
        if let Some(key) = &changed {
            self.log.push(format!("  changed outside: {key}"));
            self.put_outside(key, rng).await;
            // Never replaced: the file planned over it is refused, or goes beside it (its
            // bytes are still in the folder either way). Keep both over a file that was there
            // goes beside as planned.
            if !(existed && conflict != Conflict::Overwrite) {
                let rel = (rels.iter()).find(|r| format!("{folder}{}", name_of(r)) == *key);
                let md5 = self.model.local[rel.expect("planned")].clone();
                self.model.remote_beside.push((format!("?{folder}"), md5));
            }
        }
        let summary =
            upload_batch::start(&s, plan.batch, FileAcl::Private, conflict, None, quiet()).await;
        self.log.push(format!("  -> {summary:?}"));
    }

    async fn download(&mut self, rng: &mut Rng) {
        let keys = self.keys();
        if keys.is_empty() {
            return self.upload(rng).await;
        }
        // Files of different names (two of one name into one folder are one path).
        let mut chosen: BTreeMap<String, String> = BTreeMap::new();
        for key in rng.some(&keys, 3) {
            chosen.entry(name_of(&key).to_string()).or_insert(key);
        }
        let conflict = rng.conflict();
        let keys: Vec<String> = chosen.values().cloned().collect();
        self.log.push(format!("download {keys:?} ({conflict:?})"));
        let s = self.s();
        let dest = self.folder.join("down");
        std::fs::create_dir_all(&dest).expect("down");
        let plan = download_batch::plan(&s, &self.space, None, &keys, dest)
            .await
            .expect("plan");
        for key in &keys {
            let rel = format!("down/{}", name_of(key));
            let md5 = self.model.remote[key].clone();
            match (self.model.local.contains_key(&rel), conflict) {
                (false, _) | (true, Conflict::Overwrite) => {
                    self.model.local.insert(rel, md5);
                }
                (true, Conflict::Skip) => {}
                (true, Conflict::KeepBoth) => self.model.local_beside.push(("down/".into(), md5)),
            }
        }
        // A local file changed after the plan: the download never replaces it; it goes beside.
        if rng.chance(25) {
            let rel = format!("down/{}", name_of(&rng.pick(&keys)));
            if self.model.local.contains_key(&rel) && conflict == Conflict::Overwrite {
                let planned = self.model.local[&rel].clone();
                let bytes = self.bytes(rng);
                self.log.push(format!("  changed here: {rel}"));
                std::thread::sleep(Duration::from_millis(20)); // a new time, whatever the clock
                self.write_local(&rel, &bytes);
                self.model.local_beside.push(("?down/".into(), planned));
            }
        }
        let summary = download_batch::start(&s, plan.batch, conflict, None, quiet()).await;
        self.log.push(format!("  -> {summary:?}"));
    }

    async fn copy(&mut self, rng: &mut Rng) {
        let keys = self.keys();
        if keys.is_empty() {
            return self.upload(rng).await;
        }
        let folder = rng.pick(&FOLDERS).to_string();
        // Files of different names, none already in the folder they go to.
        let mut chosen: BTreeMap<String, String> = BTreeMap::new();
        for key in rng.some(&keys, 3) {
            if folder_of(&key) != folder {
                chosen.entry(name_of(&key).to_string()).or_insert(key);
            }
        }
        if chosen.is_empty() {
            return;
        }
        let mode = rng.pick(&[CopyMode::Copy, CopyMode::Move]);
        let conflict = rng.conflict();
        let keys: Vec<String> = chosen.values().cloned().collect();
        self.log
            .push(format!("{mode:?} {keys:?} to {folder} ({conflict:?})"));
        let s = self.s();
        let ask = CopyRequest {
            space: self.space.clone(),
            region: None,
            keys: keys.clone(),
            to_space: self.space.clone(),
            folder: folder.clone(),
            rename: None,
            mode,
        };
        let plan = copy_batch::plan(&s, ask).await.expect("plan");
        let changed = match rng.chance(25) {
            true => Some(format!("{folder}{}", name_of(&rng.pick(&keys)))),
            false => None,
        };
        for key in &keys {
            let to = format!("{folder}{}", name_of(key));
            let md5 = self.model.remote[key].clone();
            let moved = match (self.model.remote.contains_key(&to), conflict) {
                _ if changed.as_deref() == Some(to.as_str()) => {
                    // Written by another client after the plan: never replaced. The copy goes
                    // beside it or nowhere; a move then keeps its original, or removes it with
                    // the copy beside.
                    self.model
                        .remote_beside
                        .push((format!("?{folder}"), md5.clone()));
                    if mode == CopyMode::Move {
                        self.model
                            .remote_beside
                            .push((format!("?{}", folder_of(key)), md5.clone()));
                        self.model.remote.remove(key);
                        self.model.must_exist.push(md5);
                    }
                    continue;
                }
                (false, _) | (true, Conflict::Overwrite) => {
                    self.model.remote.insert(to, md5);
                    true
                }
                (true, Conflict::Skip) => false,
                (true, Conflict::KeepBoth) => {
                    self.model.remote_beside.push((folder.clone(), md5));
                    true
                }
            };
            if moved && mode == CopyMode::Move {
                self.model.remote.remove(key);
            }
        }
        if let Some(key) = &changed {
            self.log.push(format!("  changed outside: {key}"));
            self.put_outside(key, rng).await;
        }
        let summary = copy_batch::start(&s, plan.batch, conflict, None, quiet()).await;
        self.log.push(format!("  -> {summary:?}"));
    }

    async fn delete(&mut self, rng: &mut Rng) {
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        let chosen = rng.some(&keys, 3);
        let shown: std::collections::HashMap<String, String> = (chosen.iter())
            .map(|k| (k.clone(), self.model.remote[k].clone()))
            .collect();
        self.log.push(format!("delete {chosen:?}"));
        for k in &chosen {
            self.model.remote.remove(k);
        }
        // One changed by another client after it was shown: it is kept.
        if rng.chance(30) {
            let key = rng.pick(&chosen);
            self.log.push(format!("  changed outside: {key}"));
            self.put_outside(&key, rng).await;
        }
        let done = files::delete(
            &self.s(),
            &self.space,
            None,
            (&chosen, &shown),
            None,
            &|_| {},
        )
        .await;
        self.log.push(format!("  -> {:?}", done.map(|d| d.deleted)));
    }

    /// Puts an older version of a file back (the Space keeps versions).
    async fn restore(&mut self, rng: &mut Rng) {
        let keys = self.keys();
        if keys.is_empty() {
            return self.upload(rng).await;
        }
        let key = rng.pick(&keys);
        let url = &self.sb.endpoint.url;
        let all = versions::file_versions(&self.client, url, &self.space, &key)
            .await
            .expect("versions");
        let older: Vec<_> = (all.iter())
            .filter(|v| !v.deleted && !v.current && v.etag.is_some())
            .collect();
        if older.is_empty() {
            return;
        }
        let v = older[rng.below(older.len())];
        self.log.push(format!("restore {key} to {}", v.version_id));
        spacedock_tests::restore_version(&self.client, url, &self.space, &key, &v.version_id, None)
            .await
            .expect("restore");
        let etag = integrity::bare(v.etag.as_deref().unwrap_or_default()).to_string();
        self.model.remote.insert(key, etag);
    }

    /// An upload or a move that the app quits in the middle of; the next start resumes it, to
    /// exactly the end planned.
    async fn quit_and_resume(&mut self, rng: &mut Rng) {
        let sources = self.sources();
        if sources.is_empty() {
            return self.edit_local(rng);
        }
        let s = self.s();
        let done = Arc::new(AtomicUsize::new(0));
        let events: Arc<dyn Fn(TransferEvent) + Send + Sync> = {
            let done = done.clone();
            Arc::new(move |e: TransferEvent| {
                if e.state == FileState::Done {
                    done.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let after = rng.below(3);
        let conflict = rng.conflict();
        let run = if rng.chance(50) || self.model.remote.is_empty() {
            let rels = rng.some(&sources, 5);
            let folder = rng.pick(&FOLDERS).to_string();
            self.log.push(format!(
                "upload {rels:?} to {folder} ({conflict:?}), quit after {after}"
            ));
            let paths = rels.iter().map(|r| self.folder.join(r)).collect();
            let plan = upload_batch::plan(&s, &self.space, None, &folder, paths)
                .await
                .expect("plan");
            self.expect_upload(&rels, &folder, conflict);
            tokio::spawn(async move {
                let started =
                    upload_batch::start(&s, plan.batch, FileAcl::Private, conflict, None, events);
                format!("{:?}", started.await)
            })
        } else {
            let keys = self.keys();
            let folder = rng.pick(&FOLDERS).to_string();
            let mut chosen: BTreeMap<String, String> = BTreeMap::new();
            for key in rng.some(&keys, 5) {
                if folder_of(&key) != folder {
                    chosen.entry(name_of(&key).to_string()).or_insert(key);
                }
            }
            if chosen.is_empty() {
                return;
            }
            let keys: Vec<String> = chosen.values().cloned().collect();
            self.log.push(format!(
                "move {keys:?} to {folder} ({conflict:?}), quit after {after}"
            ));
            let ask = CopyRequest {
                space: self.space.clone(),
                region: None,
                keys: keys.clone(),
                to_space: self.space.clone(),
                folder: folder.clone(),
                rename: None,
                mode: CopyMode::Move,
            };
            let plan = copy_batch::plan(&s, ask).await.expect("plan");
            for key in &keys {
                let to = format!("{folder}{}", name_of(key));
                let md5 = self.model.remote[key].clone();
                let moved = match (self.model.remote.contains_key(&to), conflict) {
                    (false, _) | (true, Conflict::Overwrite) => {
                        self.model.remote.insert(to, md5);
                        true
                    }
                    (true, Conflict::Skip) => false,
                    (true, Conflict::KeepBoth) => {
                        self.model.remote_beside.push((folder.clone(), md5));
                        true
                    }
                };
                if moved {
                    self.model.remote.remove(key);
                }
            }
            tokio::spawn(async move {
                let started = copy_batch::start(&s, plan.batch, conflict, None, events);
                format!("{:?}", started.await)
            })
        };
        // Quit once `after` files are done (or the batch is over).
        for _ in 0..400 {
            if done.load(Ordering::SeqCst) >= after || run.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let s = self.s.take().expect("the app runs");
        tokio::task::block_in_place(|| s.stop_transfers(Duration::from_secs(30)));
        let said = run.await.expect("joined");
        self.log.push(format!("  -> quit: {said}"));
        drop(s);
        let s = connected(&self.sb, &self.root, &self.sb.endpoint.url).await;
        for batch in resume::interrupted(&s).await.expect("interrupted") {
            let resumed = resume::resume(&s, &batch.id, Arc::new(|_| {})).await;
            self.log.push(format!(
                "  resumed {}: {:?}",
                batch.id,
                resumed.map(|r| r.files)
            ));
        }
        self.s = Some(Arc::new(s));
    }

    /// Compares the Space and the folder with the model; what the step said may go beside is
    /// taken into the model once found.
    async fn check(&mut self, tally: &mut Tally) {
        let found = remote_files(&self.client, &self.space).await;
        let beside = std::mem::take(&mut self.model.remote_beside);
        let remote = compare(
            &self.model.remote,
            &found,
            beside,
            "Space",
            tally,
            &self.log,
        );
        for md5 in std::mem::take(&mut self.model.must_exist) {
            if !found.values().any(|m| *m == md5) {
                let what = format!("Space: {md5} is nowhere");
                eprintln!("LOST {what}\n  after: {:#?}", self.log);
                tally.lost.push(what);
            }
        }
        self.model.remote = remote;

        let local = local_files(&self.folder);
        let beside = std::mem::take(&mut self.model.local_beside);
        let local = compare(
            &self.model.local,
            &local,
            beside,
            "folder",
            tally,
            &self.log,
        );
        self.model.local = local;
    }
}

/// The model's files against those found: each missing or changed one is lost; each extra one
/// is misplaced unless it is one the step said may go beside (a folder starting with "?" may
/// also have nothing). Returns what is there, as the model from now on.
fn compare(
    model: &BTreeMap<String, String>,
    found: &BTreeMap<String, String>,
    mut beside: Vec<(String, String)>,
    side: &str,
    tally: &mut Tally,
    log: &[String],
) -> BTreeMap<String, String> {
    tally.checked += model.len();
    for (name, md5) in model {
        if found.get(name) != Some(md5) {
            let what = format!(
                "{side}: {name} should hold {md5}, holds {:?}",
                found.get(name)
            );
            eprintln!("LOST {what}\n  after: {log:#?}");
            tally.lost.push(what);
        }
    }
    for (name, md5) in found {
        if model.contains_key(name) {
            continue;
        }
        let folder = folder_of(name);
        let expected = beside
            .iter()
            .position(|(f, m)| f.trim_start_matches('?') == folder && m == md5);
        match expected {
            Some(i) => {
                beside.remove(i);
            }
            None => {
                let what = format!("{side}: {name} ({md5}) was not planned");
                eprintln!("MISPLACED {what}\n  after: {log:#?}");
                tally.misplaced.push(what);
            }
        }
    }
    for (folder, md5) in beside.iter().filter(|(f, _)| !f.starts_with('?')) {
        let what = format!("{side}: a copy of {md5} beside in {folder} is missing");
        eprintln!("LOST {what}\n  after: {log:#?}");
        tally.lost.push(what);
    }
    found.clone()
}

async fn remote_files(client: &aws_sdk_s3::Client, space: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut token = None;
    loop {
        let page = (client.list_objects_v2().bucket(space))
            .set_continuation_token(token)
            .send()
            .await
            .expect("list");
        for o in page.contents() {
            let etag = integrity::bare(o.e_tag().unwrap_or_default()).to_string();
            out.insert(o.key().unwrap_or_default().to_string(), etag);
        }
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            return out;
        }
    }
}

fn local_files(folder: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("inside");
                let bytes = std::fs::read(&path).expect("read");
                out.insert(rel.to_string_lossy().into_owned(), md5_hex(&bytes));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(folder, folder, &mut out);
    out
}

/// Runs `cases` random sequences from `seed` on, each in a new versioned Space.
pub async fn run(cases: usize, seed: u64) -> Tally {
    let sb = sandbox();
    let client = owner_client(&sb);
    let mut tally = Tally::default();
    for n in 0..cases {
        let seed = seed.wrapping_add(n as u64 * 0x9E37_79B9);
        let mut rng = Rng(seed | 1);
        let space = spacedock_tests::new_space(&sb, "model").await;
        (client.put_bucket_versioning().bucket(&space))
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("versioning");
        let root = tempfile::tempdir().expect("tempdir");
        let folder = root.path().join("files");
        let s = connected(&sb, root.path(), &sb.endpoint.url).await;
        let mut case = Case {
            sb: sb.clone(),
            client: client.clone(),
            space,
            root: root.path().to_path_buf(),
            folder,
            s: Some(Arc::new(s)),
            model: Model::default(),
            made: 0,
            log: vec![format!("seed {seed}")],
        };
        for i in 0..3 {
            let bytes = case.bytes(&mut rng);
            case.write_local(&format!("src/f{i}.txt"), &bytes);
        }
        let before = (tally.lost.len(), tally.misplaced.len());
        for _ in 0..STEPS {
            case.step(&mut rng).await;
            let said = std::mem::take(&mut *SAID.lock().expect("said"));
            case.log
                .extend(said.into_iter().map(|m| format!("  failed: {m}")));
            case.check(&mut tally).await;
            tally.steps += 1;
        }
        if (tally.lost.len(), tally.misplaced.len()) != before {
            eprintln!("case with seed {seed}:\n{:#?}", case.log);
        }
        tally.cases += 1;
    }
    tally
}

fn from_env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread")]
async fn random_work_never_loses_or_misplaces_a_file() {
    let cases = from_env("SPACEDOCK_MODEL_CASES", 3) as usize;
    let seed = from_env("SPACEDOCK_MODEL_SEED", 20261205);
    let tally = run(cases, seed).await;
    println!(
        "model: {} cases, {} steps, {} files checked, {} lost, {} misplaced",
        tally.cases,
        tally.steps,
        tally.checked,
        tally.lost.len(),
        tally.misplaced.len()
    );
    assert!(tally.lost.is_empty(), "lost: {:#?}", tally.lost);
    assert!(
        tally.misplaced.is_empty(),
        "misplaced: {:#?}",
        tally.misplaced
    );
}
