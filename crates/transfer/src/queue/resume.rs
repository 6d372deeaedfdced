//! Batches a quit or a crash stopped, from the journal: listed at the next start, resumed with
//! the files not finished (those not yet started included), or discarded.
//!
//! A file the journal has not marked finished may have finished all the same (its mark was on
//! its way to the disk when the app stopped). So before anything is sent again, each one is
//! looked at: a key that now holds this file's bytes (an upload), a local file that holds the
//! object's bytes (a download), a new key that holds a copy of the planned version (a copy) is
//! the batch's own work and is taken as done. Anything else that came or changed since the plan
//! is handled as the batch's choice says for a file that is there, and is never replaced
//! unless the plan saw it and the choice was to replace it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::board::Direction;
use super::deletes::DeleteFileSpec;
use super::uploads::UploadFileSpec;
use super::{BatchSpec, EventSink, JobSpec, Queue};
use crate::copy::{Between, CopyFile, CopyMode, CopyPlan};
use crate::download::{DownloadFile, DownloadPlan};
use crate::error::{Error, Result};
use crate::integrity::{self, Known};
use crate::journal::{Entry, Mark};
use crate::local::LocalStamp;
use crate::resume::Resumed;
use crate::{
    Cancel, Conflict, Expect, FileState, PlannedFile, Problem, QueuedFile, Settings, TransferEvent,
};
use spacedock_common::sync::lock;
use spacedock_s3::SpaceRef;

/// A batch the journal holds files of that were not finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterruptedBatch {
    /// Its id in the journal.
    pub id: String,
    pub kind: Direction,
    pub connection: String,
    pub endpoint: String,
    pub space: String,
    /// Where the files go: a folder of the Space (an upload, a copy), or on this computer.
    pub to: String,
    /// The Space files are copied or moved into.
    pub to_space: Option<String>,
    /// Files not finished, and their bytes.
    pub files: u32,
    pub size: u64,
    /// Files in the batch.
    pub total: u32,
    /// One of the files not finished, to know the batch by.
    pub first: String,
    /// The keys and local paths of its files not finished (to fold their big files' notes in).
    pub members: Vec<(String, PathBuf)>,
}

/// What resuming a batch did.
pub type BatchResumed = Resumed;

fn kind_of(job: &JobSpec) -> Direction {
    match job {
        JobSpec::Upload { .. } => Direction::Upload,
        JobSpec::Delete => Direction::Delete,
        JobSpec::Download { .. } => Direction::Download,
        JobSpec::Copy {
            mode: CopyMode::Copy,
            ..
        } => Direction::Copy,
        JobSpec::Copy {
            mode: CopyMode::Move,
            ..
        } => Direction::Move,
        JobSpec::Copy {
            mode: CopyMode::Restore,
            ..
        } => Direction::Restore,
    }
}

impl Queue {
    /// The batches with files not finished, oldest first (the caller keeps those it can reach:
    /// a batch may be resumed through any connection to its Space). Batches with every file
    /// finished are dropped from the journal here.
    pub fn interrupted_batches(&self) -> Result<Vec<InterruptedBatch>> {
        let mut out = Vec::new();
        for entry in self.journal.entries()? {
            // This run's own, or one being resumed now: not interrupted.
            if self.journal.is_live(&entry.id) {
                continue;
            }
            if entry.waiting().next().is_none() {
                self.journal.remove(&entry.id);
                continue;
            }
            let Ok(spec) = entry.spec::<BatchSpec>() else {
                continue;
            };
            if let Some(b) = describe(&entry, &spec) {
                out.push(b);
            }
        }
        Ok(out)
    }

    /// Forgets a batch: its files not finished are not resumed. The big files it had in flight
    /// are the caller's to discard (they are listed with it).
    pub fn discard_batch(&self, id: &str) {
        self.journal.remove(id);
        self.journal.flush();
    }

    /// Resumes batch `id` on `at` (the Space it was on, as this run reaches it). `progress`
    /// gets the bytes done so far, those already there included.
    pub async fn resume_batch(
        &self,
        id: &str,
        at: &SpaceRef,
        progress: EventSink<u64>,
    ) -> Result<BatchResumed> {
        let entry = self
            .journal
            .entries()?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| Error::Gone("That batch is no longer in the journal.".into()))?;
        let spec: BatchSpec = entry.spec()?;
        if spec.space != at.name || spec.endpoint != at.endpoint {
            return Err(Error::Internal(
                "a batch was resumed on another Space than its own".into(),
            ));
        }
        if self.journal.is_live(id) {
            return Err(Error::Gone("That batch is being resumed already.".into()));
        }
        self.journal.set_live(id, true);
        let tally = Tally::new(progress);
        let result = match spec.job.clone() {
            JobSpec::Upload { acl, conflict, .. } => {
                self.resume_uploads(&entry, at, acl, conflict, &tally).await
            }
            JobSpec::Download { dest, conflict } => {
                self.resume_downloads(&entry, at, dest, conflict, &tally)
                    .await
            }
            JobSpec::Copy {
                to_space,
                mode,
                conflict,
                existing,
            } => {
                self.resume_copies(&entry, at, &to_space, mode, (conflict, existing), &tally)
                    .await
            }
            JobSpec::Delete => self.resume_deletes(&entry, at, &tally).await,
        };
        self.journal.set_live(id, false);
        result?;
        self.journal.flush();
        let left = self
            .journal
            .entries()?
            .into_iter()
            .find(|e| e.id == id)
            .is_some_and(|e| e.waiting().next().is_some());
        if !left {
            self.journal.remove(id);
        }
        Ok(tally.finish())
    }

    fn mark(&self, batch: &str, file: u32, mark: Mark, message: Option<String>) {
        self.journal.mark(batch, file, mark, message);
    }

    /// The files of a delete not yet deleted, each still only if it is its planned version.
    async fn resume_deletes(&self, entry: &Entry, at: &SpaceRef, tally: &Tally) -> Result<()> {
        let mut files = Vec::new();
        for f in entry.waiting() {
            match f.spec::<DeleteFileSpec>() {
                Ok(spec) => {
                    tally.name(f.id, &spec.key);
                    files.push((f.id, spec));
                }
                Err(e) => tally.failed(&f.id.to_string(), &e.to_string()),
            }
        }
        let progress = |deleted: u64| (tally.progress)(deleted);
        let stop = super::deletes::Stops {
            user: self.quit.child_token(),
            quit: self.quit.clone(),
        };
        let (done, finished) = self
            .run_delete(&entry.id, at, files, &stop, &progress)
            .await?;
        // Each file deleted, or gone already, is finished; a changed one is said.
        lock(&tally.state).files += finished;
        for p in &done.kept {
            tally.failed(&p.path, &p.message);
        }
        Ok(())
    }

    async fn resume_uploads(
        &self,
        entry: &Entry,
        at: &SpaceRef,
        acl: crate::FileAcl,
        conflict: Conflict,
        tally: &Tally,
    ) -> Result<()> {
        let target = self.upload_target(at);
        let mut files: Vec<(u32, UploadFileSpec)> = Vec::new();
        for f in entry.waiting() {
            match f.spec::<UploadFileSpec>() {
                Ok(spec) => files.push((f.id, spec)),
                Err(e) => tally.failed(&f.id.to_string(), &e.to_string()),
            }
        }
        let keys: Vec<String> = files.iter().map(|(_, f)| f.key.clone()).collect();
        let now = keys_now(&target, &keys).await?;
        let taken = Mutex::new(keys.iter().cloned().collect());
        let mut queued = Vec::new();
        let quit = self.quit.clone();
        let settings = Settings {
            files_at_once: self.files_at_once(),
            ..Settings::default()
        };
        let budget = crate::adapt::Window::new(
            settings.requests_in_flight / 4,
            1,
            settings.requests_in_flight,
        );
        for (id, mut f) in files {
            let path_text = f.path.display().to_string();
            tally.name(id, &path_text);
            if std::fs::symlink_metadata(&f.path).is_err() {
                let why = "The file is no longer on this computer, so it was not uploaded.";
                self.mark(&entry.id, id, Mark::Failed, Some(why.into()));
                tally.failed(&path_text, why);
                continue;
            }
            // Its multipart upload was in flight: it goes on from the parts the server holds.
            let noted = self.unfinished.list().into_iter().find(|u| {
                u.space == at.name
                    && u.endpoint == at.endpoint
                    && u.key == f.key
                    && u.source.as_ref().is_some_and(|s| s.path == f.path)
            });
            if let Some(noted) = noted {
                let cancel = Cancel::under(&quit, &quit);
                let report = tally.reporter(id);
                let done = crate::resume::resume_upload(
                    &target, &noted, settings, &budget, &cancel, &*report,
                )
                .await;
                match done {
                    Ok(r) => {
                        self.mark(&entry.id, id, Mark::Done, None);
                        tally.done(id, r.kept, r.moved);
                    }
                    Err(e) if cancel.is_set() => return Err(e),
                    Err(e) => {
                        self.mark(&entry.id, id, Mark::Failed, Some(e.to_string()));
                        tally.failed(&path_text, &e.to_string());
                    }
                }
                continue;
            }
            let current = now.get(&f.key).cloned();
            let as_planned = match (&f.expect, &current) {
                (Expect::Anything, _) | (Expect::Absent, None) => true,
                (Expect::Etag(e), Some(c)) => integrity::bare(e) == integrity::bare(c),
                // The file it was to replace is gone: the new one goes where it was.
                (Expect::Etag(_), None) => {
                    f.expect = Expect::Absent;
                    true
                }
                (Expect::Absent, Some(_)) => false,
            };
            if !as_planned {
                if uploaded_already(&target, &f).await {
                    self.mark(&entry.id, id, Mark::Done, None);
                    tally.done(id, f.size, 0);
                    continue;
                }
                match conflict {
                    Conflict::Skip => {
                        self.mark(&entry.id, id, Mark::Skipped, None);
                        continue;
                    }
                    Conflict::KeepBoth => {
                        f.key = crate::free_key(&target, &f.key, &taken).await?;
                        f.expect = Expect::Absent;
                        self.journal.respec(&entry.id, id, &f);
                        self.journal.flush();
                    }
                    Conflict::Overwrite => {
                        let why = format!(
                            "“{}” changed in the Space after the upload was planned, so it was not replaced. Upload the file again to choose what to do.",
                            f.key
                        );
                        self.mark(&entry.id, id, Mark::Failed, Some(why.clone()));
                        tally.failed(&path_text, &why);
                        continue;
                    }
                }
            }
            queued.push(QueuedFile {
                id,
                file: PlannedFile {
                    path: f.path.clone(),
                    key: f.key.clone(),
                    size: f.size,
                },
                cancel: Cancel::under(&quit, &quit),
                expect: f.expect.clone(),
            });
        }
        if quit.is_cancelled() {
            return Err(Error::Cancelled("Spacedock is closing.".into()));
        }
        let events = self.tracked(None, Some(&entry.id), tally.events());
        crate::upload_all(target, queued, acl, settings, events).await;
        Ok(())
    }

    async fn resume_downloads(
        &self,
        entry: &Entry,
        at: &SpaceRef,
        dest: PathBuf,
        conflict: Conflict,
        tally: &Tally,
    ) -> Result<()> {
        let from = self.download_target(at);
        let mut plan = DownloadPlan::default();
        for f in entry.waiting() {
            let file: DownloadFile = match f.spec() {
                Ok(file) => file,
                Err(e) => {
                    tally.failed(&f.id.to_string(), &e.to_string());
                    continue;
                }
            };
            tally.name(f.id, &file.key);
            // A big file in flight goes on from the ranges on disk.
            let noted = self.partials.list().into_iter().find(|d| {
                d.space == at.name
                    && d.endpoint == at.endpoint
                    && d.key == file.key
                    && d.path == file.path
            });
            if let Some(noted) = noted {
                let report = tally.reporter(f.id);
                match crate::resume::resume_download(&from, &noted, &self.partials, &*report).await
                {
                    Ok(r) => {
                        self.mark(&entry.id, f.id, Mark::Done, None);
                        tally.done(f.id, r.kept, r.moved);
                    }
                    Err(e) => {
                        self.mark(&entry.id, f.id, Mark::Failed, Some(e.to_string()));
                        tally.failed(&file.key, &e.to_string());
                    }
                }
                continue;
            }
            if LocalStamp::of(&file.path) != file.existing && downloaded_already(&from, &file).await
            {
                self.mark(&entry.id, f.id, Mark::Done, None);
                tally.done(f.id, file.size, 0);
                continue;
            }
            plan.files.push(file);
        }
        if plan.files.is_empty() {
            return Ok(());
        }
        let cancels: HashMap<u32, Cancel> = plan
            .files
            .iter()
            .map(|f| (f.id, Cancel::under(&self.quit, &self.quit)))
            .collect();
        let events = self.tracked(None, Some(&entry.id), tally.events());
        let summary = self
            .download_files(&from, &dest, plan, conflict, true, &cancels, &*events)
            .await;
        // Its files' failures came as events; the summary says them again.
        let _ = summary;
        Ok(())
    }

    async fn resume_copies(
        &self,
        entry: &Entry,
        at: &SpaceRef,
        to_space: &str,
        mode: CopyMode,
        (conflict, existing): (Conflict, HashMap<String, String>),
        tally: &Tally,
    ) -> Result<()> {
        let between = Between {
            unfinished: Some(self.unfinished.clone()),
            ..Between::new(&at.client, &at.endpoint, &at.name, to_space)
        };
        let mut plan = CopyPlan::default();
        for f in entry.waiting() {
            match f.spec::<CopyFile>() {
                Ok(file) => {
                    tally.name(file.id, &file.from);
                    plan.files.push(file)
                }
                Err(e) => tally.failed(&f.id.to_string(), &e.to_string()),
            }
        }
        let events = self.tracked(None, Some(&entry.id), tally.events());
        if mode == CopyMode::Restore {
            // A restore was agreed for the Space as it was then (its versioning, the version
            // the file held): it is not carried out days later. It is done if the file holds
            // the version's bytes; otherwise it is left for the user to do again.
            let target = crate::Target::plain(&between.client, &between.endpoint, &between.to);
            for f in plan.files {
                let now = crate::etag_now(&target, &f.to).await?;
                let done = now.is_some_and(|n| integrity::bare(&n) == integrity::bare(&f.etag));
                let state = match done {
                    true => FileState::Done,
                    false => FileState::Failed {
                        kind: crate::error::ErrorKind::FileChanged,
                        message: "The app quit during this restore, which was not seen to finish: look at the file's versions, and restore the version again if it is not back.".into(),
                    },
                };
                events(TransferEvent {
                    id: f.id,
                    bytes: if done { f.size } else { 0 },
                    state,
                });
            }
            return Ok(());
        }
        let cancels: HashMap<u32, Cancel> = plan
            .files
            .iter()
            .map(|f| (f.id, Cancel::under(&self.quit, &self.quit)))
            .collect();
        let summary = self
            .copy_files(
                &between,
                plan,
                mode,
                (conflict, &existing),
                &cancels,
                &entry.id,
                true,
                &*events,
            )
            .await;
        let _ = summary;
        Ok(())
    }
}

/// The batch as the window lists it.
fn describe(entry: &Entry, spec: &BatchSpec) -> Option<InterruptedBatch> {
    let mut files = 0;
    let mut size = 0;
    let mut first = String::new();
    let mut members = Vec::new();
    for f in entry.waiting() {
        let (name, bytes, member) = match &spec.job {
            JobSpec::Upload { .. } => {
                let u: UploadFileSpec = f.spec().ok()?;
                (u.key.clone(), u.size, (u.key, u.path))
            }
            JobSpec::Download { .. } => {
                let d: DownloadFile = f.spec().ok()?;
                (d.key.clone(), d.size, (d.key, d.path))
            }
            JobSpec::Copy { .. } => {
                let c: CopyFile = f.spec().ok()?;
                (c.from.clone(), c.size, (c.from, PathBuf::new()))
            }
            // A delete's size is its count of files.
            JobSpec::Delete => {
                let d: DeleteFileSpec = f.spec().ok()?;
                (d.key.clone(), 1, (d.key, PathBuf::new()))
            }
        };
        if first.is_empty() {
            first = name;
        }
        files += 1;
        size += bytes;
        members.push(member);
    }
    let (to, to_space) = match &spec.job {
        JobSpec::Upload { prefix, .. } => (prefix.clone(), None),
        JobSpec::Download { dest, .. } => (dest.display().to_string(), None),
        JobSpec::Copy { to_space, .. } => (String::new(), Some(to_space.clone())),
        JobSpec::Delete => (String::new(), None),
    };
    Some(InterruptedBatch {
        id: entry.id.clone(),
        kind: kind_of(&spec.job),
        connection: spec.connection.clone(),
        endpoint: spec.endpoint.clone(),
        space: spec.space.clone(),
        to,
        to_space,
        files,
        size,
        total: entry.files.len() as u32,
        first,
        members,
    })
}

/// The ETag of each of `keys` in the Space now (absent: no such file). A HEAD each: the keys of
/// a batch may lie anywhere below its folder.
async fn keys_now(target: &crate::Target, keys: &[String]) -> Result<HashMap<String, String>> {
    let mut found = HashMap::new();
    let mut looks = tokio::task::JoinSet::new();
    let mut left = keys.iter().cloned();
    loop {
        while looks.len() < 32 {
            let Some(key) = left.next() else { break };
            let target = target.clone();
            looks.spawn(async move {
                let etag = crate::etag_now(&target, &key).await;
                (key, etag)
            });
        }
        let Some(joined) = looks.join_next().await else {
            break;
        };
        let (key, etag) =
            joined.map_err(|e| Error::Internal(format!("a look at a file stopped: {e}")))?;
        if let Some(etag) = etag? {
            found.insert(key, etag);
        }
    }
    Ok(found)
}

/// Whether `f`'s key holds this very file's bytes: its own upload, finished before the app
/// stopped. Known by the whole MD5 (a single-part ETag or the stored one).
async fn uploaded_already(target: &crate::Target, f: &UploadFileSpec) -> bool {
    let Ok(Some(head)) = crate::head_now(target, &f.key).await else {
        return false;
    };
    if head.size != f.size {
        return false;
    }
    let Known::Md5(there) = integrity::known(&head.etag, head.md5.as_deref()) else {
        return false;
    };
    let path = f.path.clone();
    let here = tokio::task::spawn_blocking(move || integrity::md5_of_file(&path)).await;
    matches!(here, Ok(Ok(sum)) if sum == there)
}

/// Whether the file at `f.path` holds the object's bytes: the batch's own download, placed
/// before the app stopped.
async fn downloaded_already(from: &crate::Target, f: &DownloadFile) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(&f.path) else {
        return false;
    };
    if !meta.is_file() || meta.len() != f.size {
        return false;
    }
    let head = (from.client.head_object())
        .bucket(&from.space)
        .key(&f.key)
        .set_version_id(f.version.clone())
        .send()
        .await;
    let Ok(head) = head else { return false };
    let stored = integrity::stored_md5(head.metadata());
    let Known::Md5(there) = integrity::known(head.e_tag().unwrap_or_default(), stored.as_deref())
    else {
        return false;
    };
    let path = f.path.clone();
    let here = tokio::task::spawn_blocking(move || integrity::md5_of_file(&path)).await;
    matches!(here, Ok(Ok(sum)) if sum == there)
}

/// Counts what a resumed batch does, and sends its bytes as they grow.
struct Tally {
    progress: EventSink<u64>,
    state: Arc<Mutex<TallyState>>,
}

#[derive(Default)]
struct TallyState {
    /// Bytes of each file so far.
    bytes: HashMap<u32, u64>,
    kept: u64,
    moved: u64,
    files: u32,
    problems: Vec<Problem>,
    /// Each file's path or key, to say which failed.
    names: HashMap<u32, String>,
}

impl Tally {
    fn new(progress: EventSink<u64>) -> Tally {
        Tally {
            progress,
            state: Arc::default(),
        }
    }

    fn send(progress: &EventSink<u64>, s: &TallyState) {
        progress(s.kept + s.bytes.values().sum::<u64>());
    }

    fn done(&self, id: u32, kept: u64, moved: u64) {
        let mut s = lock(&self.state);
        s.kept += kept;
        s.moved += moved;
        s.files += 1;
        s.bytes.insert(id, moved);
        Tally::send(&self.progress, &s);
    }

    fn failed(&self, path: &str, why: &str) {
        lock(&self.state).problems.push(Problem {
            path: path.to_string(),
            message: why.to_string(),
        });
    }

    fn name(&self, id: u32, name: &str) {
        lock(&self.state).names.insert(id, name.to_string());
    }

    /// A file's progress, as a resume of one big file reports it.
    fn reporter(&self, id: u32) -> Arc<dyn Fn(u64) + Send + Sync> {
        let (state, progress) = (self.state.clone(), self.progress.clone());
        Arc::new(move |bytes| {
            let mut s = lock(&state);
            s.bytes.insert(id, bytes);
            Tally::send(&progress, &s);
        })
    }

    /// The events of the files run as a batch.
    fn events(&self) -> EventSink<TransferEvent> {
        let (state, progress) = (self.state.clone(), self.progress.clone());
        Arc::new(move |e: TransferEvent| {
            let mut s = lock(&state);
            match &e.state {
                FileState::Done => {
                    s.files += 1;
                    s.moved += e.bytes;
                    s.bytes.insert(e.id, e.bytes);
                }
                FileState::Failed { message, .. } => {
                    let path = s.names.get(&e.id).cloned().unwrap_or_default();
                    s.problems.push(Problem {
                        path,
                        message: message.clone(),
                    })
                }
                FileState::Running => {
                    s.bytes.insert(e.id, e.bytes);
                }
                _ => {}
            }
            Tally::send(&progress, &s);
        })
    }

    fn finish(self) -> BatchResumed {
        let mut s = lock(&self.state);
        Resumed {
            kept: s.kept,
            moved: s.moved,
            files: s.files,
            problems: std::mem::take(&mut s.problems),
        }
    }
}
