//! Planning a pair's run and carrying it out. Every act re-checks what it acts on right before
//! it acts: a local file by its stamp, an object by its ETag (with `If-Match` / `If-None-Match`
//! where the server honours them). Something that changed between the plan and the act is left
//! for the next run, never replaced. Each file's new baseline is written as its act ends; an act
//! a crash cuts short leaves the old baseline, against which the next plan finds both sides
//! equal (recorded) or one side changed (done again), never a reason to delete.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt as _;
use tokio_util::sync::CancellationToken;

use super::decide::{decide, Act, Base, LocalNow, RemoteNow, Stamp};
use super::scan::{self, stamp_of};
use super::{
    PlanCounts, SyncAction, SyncDirection, SyncItem, SyncOutcome, SyncPair, SyncPlan, Syncs,
    DELETE_COUNT, DELETE_SHARE_PERCENT, FEW,
};
use crate::adapt::Window;
use crate::download::Fetch;
use crate::error::{Error, Result};
use crate::integrity;
use crate::local::{make_folders_inside, partial_path, rename_noreplace};
use crate::plan::PlannedFile;
use crate::queue::{Direction, Queue};
use crate::remove::{remove_looked, Removed};
use crate::upload::{upload_file, FileAcl, Settings};
use crate::{Cancel, Expect, FileState, Target, TransferEvent};
use spacedock_common::sync::lock;
use spacedock_common::Problem;
use spacedock_s3::SpaceRef;

/// One file of a plan, with what its act needs.
pub(super) struct Planned {
    pub rel: String,
    pub act: Act,
    pub local: Option<LocalNow>,
    pub remote: Option<RemoteNow>,
    pub held: Option<String>,
}

/// A plan made and not yet run.
pub(super) struct Made {
    pub pair: SyncPair,
    pub at: SpaceRef,
    pub items: Vec<Planned>,
    pub approval: Option<String>,
    /// The Space keeps versions: what a run replaces or deletes stays in them.
    pub versioned: bool,
    pub made_at: std::time::Instant,
    /// What a whole run of it still leaves undone (held deletes, files that can't be synced).
    pub leaves: Option<String>,
}

/// The most a copy into the trash folder can hold in one request (CopyObject's limit).
const TRASH_COPY_MOST: u64 = 5 << 30;
/// "2026-12-05 103015 host 1a2b3c4d/": the run's folder in the trash, at most this long.
const TRASH_STAMP_LEN: usize = 18 + 64 + 10;

/// Files acted on at once.
const AT_ONCE: usize = 16;
/// Baseline rows written together.
const GROUP: usize = 256;

fn item_action(act: &Act) -> Option<SyncAction> {
    Some(match act {
        Act::Upload { .. } => SyncAction::Upload,
        Act::Download { .. } => SyncAction::Download,
        Act::DeleteRemote { .. } => SyncAction::DeleteRemote,
        Act::DeleteLocal { .. } => SyncAction::DeleteLocal,
        Act::Conflict { .. } => SyncAction::Conflict,
        Act::Unverified => SyncAction::Unverified,
        Act::Kept(_) => SyncAction::Kept,
        Act::Nothing | Act::Record | Act::Forget => return None,
    })
}

async fn is_versioned(at: &SpaceRef) -> Result<bool> {
    let asked = (at.client.get_bucket_versioning())
        .bucket(&at.name)
        .send()
        .await
        .map_err(|e| {
            spacedock_s3::client::map_error(
                e,
                spacedock_s3::client::Context::space(&at.endpoint, &at.name),
            )
        })?;
    Ok(matches!(
        asked.status(),
        Some(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
    ))
}

impl Queue {
    /// The engine's sync pairs and baselines.
    pub fn syncs(&self) -> &Syncs {
        &self.syncs
    }

    /// Plans a run of pair `id` with the Space reached through `at`: nothing is changed.
    pub async fn sync_plan(&self, id: &str, at: SpaceRef) -> Result<SyncPlan> {
        let pair = self.syncs.pair(id)?;
        if self.syncs.is_running(id) || !lock(&self.syncs.planning).insert(id.to_string()) {
            return Err(Error::InvalidInput(
                "The pair is being synced or looked at now; try again in a moment.".into(),
            ));
        }
        struct Planning<'a>(&'a Syncs, String);
        impl Drop for Planning<'_> {
            fn drop(&mut self) {
                lock(&self.0.planning).remove(&self.1);
            }
        }
        let _planning = Planning(&self.syncs, id.to_string());
        let planned = plan(&self.syncs, pair.clone(), at).await;
        if let Err(e) = &planned {
            let _ = self.syncs.store.failed(id, &e.to_string());
        }
        let (made, shown) = planned?;
        let plan = self.syncs.keep_plan(made);
        Ok(SyncPlan { plan, ..shown })
    }

    /// Carries out plan `plan`. One that waits for approval runs only `approved`; without it,
    /// its deletes held for being many stay held and the rest runs only if it needs no approval.
    pub async fn sync_run(&self, plan: u32, approved: bool) -> Result<SyncOutcome> {
        let made = (self.syncs.take_plan(plan)).ok_or_else(|| {
            Error::Gone("That plan is not there any more; plan the sync again.".into())
        })?;
        if let (Some(why), false) = (&made.approval, approved) {
            return Err(Error::InvalidInput(format!(
                "This sync waits for approval: {why}"
            )));
        }
        let id = made.pair.id.clone();
        // Removed since it was planned: nothing runs.
        self.syncs.pair(&id)?;
        let stop = self.quit.child_token();
        {
            let mut running = lock(&self.syncs.running);
            if running.contains_key(&id) {
                return Err(Error::InvalidInput("The pair is syncing now.".into()));
            }
            running.insert(id.clone(), stop.clone());
        }
        struct Ends<'a>(&'a Syncs, String);
        impl Drop for Ends<'_> {
            fn drop(&mut self) {
                lock(&self.0.running).remove(&self.1);
            }
        }
        let _ends = Ends(&self.syncs, id.clone());
        let _running = self.running();
        self.syncs.store.begin(&id)?;
        let outcome = self.carry_out(&made, &stop).await;
        let error = match &outcome {
            Ok(o) if o.failed == 0 && !o.stopped => None,
            Ok(o) if o.stopped => Some("The sync was stopped before it ended.".to_string()),
            Ok(o) => Some(format!(
                "{} file(s) failed: {}",
                o.failed,
                o.notes
                    .first()
                    .map(|p| format!("{}: {}", p.path, p.message))
                    .unwrap_or_default()
            )),
            Err(e) => Some(e.to_string()),
        };
        // A quit leaves the pair marked as interrupted, for the next start to finish.
        if !self.quit.is_cancelled() {
            let incomplete = match &outcome {
                Ok(o) if o.held > 0 => Some(format!(
                    "{} delete(s) held back because a write did not go through{}",
                    o.held,
                    made.leaves
                        .as_ref()
                        .map(|l| format!("; {l}"))
                        .unwrap_or_default()
                )),
                _ => made.leaves.clone(),
            };
            self.syncs
                .store
                .end(&id, error.as_deref(), incomplete.as_deref())?;
        }
        outcome
    }

    async fn carry_out(&self, made: &Made, stop: &CancellationToken) -> Result<SyncOutcome> {
        let pair = &made.pair;
        let store = &self.syncs.store;
        let root = PathBuf::from(&pair.folder);
        // The baseline first: what only catches the baseline up, and what both sides lost.
        let quiet: Vec<(String, Option<Base>)> = (made.items.iter())
            .filter_map(|p| match (&p.act, &p.local, &p.remote) {
                (Act::Record, Some(l), Some(r)) => Some((
                    p.rel.clone(),
                    Some(Base {
                        local: l.stamp,
                        md5: l.md5.clone().unwrap_or_default(),
                        remote_size: r.size,
                        etag: r.etag.clone(),
                        remote_md5: r.md5.clone().unwrap_or_default(),
                    }),
                )),
                (Act::Forget, _, _) => Some((p.rel.clone(), None)),
                _ => None,
            })
            .collect();
        for group in quiet.chunks(GROUP) {
            store.write(&pair.id, group)?;
        }
        let todo: Vec<(u32, &Planned)> = (0u32..)
            .zip(made.items.iter().filter(|p| {
                p.held.is_none()
                    && matches!(
                        p.act,
                        Act::Upload { .. }
                            | Act::Download { .. }
                            | Act::DeleteRemote { .. }
                            | Act::DeleteLocal { .. }
                            | Act::Conflict { .. }
                    )
            }))
            .collect();
        let batch = self.next_batch();
        let rows = todo.iter().map(|(i, p)| {
            let direction = match p.act {
                Act::Upload { .. } => Direction::Upload,
                Act::Download { .. } | Act::Conflict { .. } => Direction::Download,
                Act::DeleteRemote { .. } => Direction::Delete,
                _ => Direction::Trash,
            };
            let size = p
                .local
                .as_ref()
                .map(|l| l.size)
                .or(p.remote.as_ref().map(|r| r.size));
            (
                direction,
                *i,
                format!("{}{}", pair.prefix, p.rel),
                size.unwrap_or(0),
            )
        });
        self.board.add_rows(batch, &pair.space, rows);
        let cancels: std::collections::HashMap<u32, Cancel> = todo
            .iter()
            .map(|(i, _)| (*i, Cancel::under(stop, &self.quit)))
            .collect();
        lock(&self.syncs.batches).insert(batch, (stop.clone(), cancels.clone()));
        struct Forget<'a>(&'a Syncs, u32);
        impl Drop for Forget<'_> {
            fn drop(&mut self) {
                lock(&self.0.batches).remove(&self.1);
            }
        }
        let _forget = Forget(&self.syncs, batch);
        let mut target = self.upload_target(&made.at);
        // Its own link: what the plan learned of versioning (only Enabled counts; a Space
        // with versioning suspended replaces for good, so it is written with conditions).
        target.link = crate::adapt::Link::default();
        target.link.set_versioned(made.versioned);
        let down = self.download_target(&made.at);
        let ctx = Ctx {
            made,
            root: &root,
            up: &target,
            down: &down,
            budget: Window::fixed(AT_ONCE * 2),
            stop,
            store,
            when: conflict_time(),
            trash_run: format!(
                "{} {} {}",
                conflict_time_seconds(),
                host(),
                &crate::journal::new_id()[..8]
            ),
        };
        let board = self.board.clone();
        let outcome = Mutex::new(SyncOutcome {
            pair: pair.id.clone(),
            ..Default::default()
        });
        let changes: Mutex<Vec<(String, Option<Base>)>> = Mutex::default();
        // Writes before deletes: a run stopped half way has added, not yet taken away.
        let (writes, deletes): (Vec<_>, Vec<_>) =
            todo.into_iter().partition(|(_, p)| !p.act.is_delete());
        for (n, phase) in [writes, deletes].into_iter().enumerate() {
            // A write that failed or met a change may be the other half of a rename: its
            // deletes wait for a run where every write went through.
            let writes_short = {
                let o = lock(&outcome);
                o.failed > 0 || o.changed_since > 0 || o.stopped
            };
            if n == 1 && writes_short {
                let mut o = lock(&outcome);
                for (i, p) in &phase {
                    o.held += 1;
                    board.apply(
                        batch,
                        &TransferEvent {
                            id: *i,
                            bytes: 0,
                            state: FileState::Skipped,
                        },
                    );
                    o.notes.push(Problem {
                        path: p.rel.clone(),
                        message: "not deleted: another file of this sync did not go through, so deletes wait for the next sync".into(),
                    });
                }
                continue;
            }
            let ctx = &ctx;
            let board = &board;
            let outcome = &outcome;
            let changes = &changes;
            let cancels = &cancels;
            // Boxed as Send: the compiler can't prove it of these borrowing futures unaided.
            type Each<'f> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'f>>;
            let each: Vec<Each<'_>> = phase
                .into_iter()
                .map(|(i, p)| -> Each<'_> {
                    Box::pin(async move {
                        let event = |bytes: u64, state: FileState| {
                            board.apply(
                                batch,
                                &TransferEvent {
                                    id: i,
                                    bytes,
                                    state,
                                },
                            );
                        };
                        if ctx.stop.is_cancelled() {
                            event(0, FileState::Cancelled);
                            return;
                        }
                        event(0, FileState::Running);
                        let progress = |b: u64| {
                            board.apply(
                                batch,
                                &TransferEvent {
                                    id: i,
                                    bytes: b,
                                    state: FileState::Running,
                                },
                            )
                        };
                        let cancel = cancels.get(&i).cloned().unwrap_or_default();
                        let ended = if cancel.is_set() {
                            Err(Error::Cancelled("Stopped.".into()))
                        } else {
                            ctx.one(p, &cancel, &progress).await
                        };
                        let mut o = lock(outcome);
                        match ended {
                            Ok(done) => {
                                let size = p
                                    .local
                                    .as_ref()
                                    .map(|l| l.size)
                                    .or(p.remote.as_ref().map(|r| r.size))
                                    .unwrap_or(0);
                                match &p.act {
                                    Act::Upload { .. } => o.uploaded += 1,
                                    Act::Download { .. } => o.downloaded += 1,
                                    Act::DeleteRemote { .. } => o.deleted_remote += 1,
                                    Act::DeleteLocal { .. } => o.deleted_local += 1,
                                    _ => o.conflicts += 1,
                                }
                                event(size, FileState::Done);
                                lock(changes).extend(done);
                            }
                            Err(Error::FileChanged(why)) => {
                                o.changed_since += 1;
                                o.notes.push(Problem {
                                    path: p.rel.clone(),
                                    message: why.clone(),
                                });
                                event(0, FileState::Skipped);
                            }
                            Err(Error::Cancelled(_)) => {
                                o.stopped = true;
                                event(0, FileState::Cancelled);
                            }
                            Err(e) => {
                                o.failed += 1;
                                o.notes.push(Problem {
                                    path: p.rel.clone(),
                                    message: e.to_string(),
                                });
                                event(
                                    0,
                                    FileState::Failed {
                                        kind: e.kind(),
                                        message: e.to_string(),
                                    },
                                );
                            }
                        }
                        drop(o);
                        // Each file's baseline is written as it ends, a group at a time.
                        let full = {
                            let mut c = lock(changes);
                            if c.len() >= GROUP {
                                std::mem::take(&mut *c)
                            } else {
                                Vec::new()
                            }
                        };
                        if let Err(e) = ctx.store.write(&ctx.made.pair.id, &full) {
                            let mut o = lock(outcome);
                            o.failed += 1;
                            o.notes.push(Problem {
                                path: String::new(),
                                message: e.to_string(),
                            });
                        }
                    })
                })
                .collect();
            futures_util::stream::iter(each)
                .buffer_unordered(AT_ONCE)
                .collect::<Vec<()>>()
                .await;
        }
        let rest = std::mem::take(&mut *lock(&changes));
        store.write(&pair.id, &rest)?;
        let mut o = outcome.into_inner().unwrap_or_else(|e| e.into_inner());
        o.stopped |= stop.is_cancelled();
        Ok(o)
    }
}

struct Ctx<'a> {
    made: &'a Made,
    root: &'a Path,
    up: &'a Target,
    down: &'a Target,
    budget: Arc<Window>,
    stop: &'a CancellationToken,
    store: &'a super::store::Store,
    /// When the run started, in conflict names.
    when: String,
    /// The run's own folder in the trash: its time to the second, this computer, and a random
    /// part, so no two runs (of this computer or another) ever write one trash key.
    trash_run: String,
}

fn changed_here(rel: &str) -> Error {
    Error::FileChanged(format!(
        "“{rel}” changed in the folder after the plan; it is left for the next sync."
    ))
}

fn changed_there(rel: &str) -> Error {
    Error::FileChanged(format!(
        "“{rel}” changed in the Space after the plan; it is left for the next sync."
    ))
}

impl Ctx<'_> {
    fn key(&self, rel: &str) -> String {
        format!("{}{rel}", self.made.pair.prefix)
    }

    fn path(&self, rel: &str) -> Result<PathBuf> {
        crate::local::path_inside(self.root, rel)
            .map_err(|why| Error::InvalidInput(format!("“{rel}”: {why}.")))
    }

    /// Carries out one file's act; returns its baseline changes.
    async fn one(
        &self,
        p: &Planned,
        cancel: &Cancel,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Vec<(String, Option<Base>)>> {
        let path = self.path(&p.rel)?;
        match &p.act {
            Act::Upload { replace } => {
                let l = p.local.as_ref().ok_or_else(|| changed_here(&p.rel))?;
                if let Some(etag) = replace {
                    self.keep_in_trash(&p.rel, etag).await?;
                }
                let base = self
                    .upload(
                        &path,
                        &self.key(&p.rel),
                        l,
                        replace.as_deref(),
                        cancel,
                        progress,
                    )
                    .await?;
                Ok(vec![(p.rel.clone(), base)])
            }
            Act::Download { replace } => {
                let r = p.remote.as_ref().ok_or_else(|| changed_there(&p.rel))?;
                let (partial, md5) = self.fetch(&p.rel, &path, r, cancel, progress).await?;
                let placed = self.place(&partial, &path, *replace, &p.rel);
                let stamp = placed?;
                Ok(vec![(
                    p.rel.clone(),
                    Some(Base {
                        local: stamp,
                        remote_md5: md5.clone(),
                        md5,
                        remote_size: r.size,
                        etag: r.etag.clone(),
                    }),
                )])
            }
            Act::DeleteRemote { etag } => {
                if cancel.is_set() {
                    return Err(Error::Cancelled("Stopped.".into()));
                }
                self.keep_in_trash(&p.rel, etag).await?;
                let never = || false;
                let key = self.key(&p.rel);
                let ended = crate::patient(|| async {
                    let mut ended = None;
                    let planned = vec![(0, key.clone(), Some(etag.clone()))];
                    let mut report =
                        |r: Vec<(u32, String, Removed)>| ended = r.into_iter().next().map(|e| e.2);
                    remove_looked(&self.made.at, planned, &never, &mut report).await?;
                    Ok(ended)
                })
                .await?;
                match ended {
                    Some(Removed::Deleted | Removed::Gone) => Ok(vec![(p.rel.clone(), None)]),
                    Some(Removed::Changed) => Err(changed_there(&p.rel)),
                    Some(Removed::Refused(why)) => Err(Error::AccessDenied(why)),
                    None => Err(Error::Cancelled("Stopped.".into())),
                }
            }
            Act::DeleteLocal { stamp } => {
                if cancel.is_set() {
                    return Err(Error::Cancelled("Stopped.".into()));
                }
                let now = path.symlink_metadata().ok().map(|m| stamp_of(&m));
                match now {
                    None => Ok(vec![(p.rel.clone(), None)]),
                    Some(now) if now != *stamp => Err(changed_here(&p.rel)),
                    Some(_) => {
                        to_trash(&path)?;
                        Ok(vec![(p.rel.clone(), None)])
                    }
                }
            }
            Act::Conflict { local, etag } => {
                self.conflict(p, &path, (*local, etag), cancel, progress)
                    .await
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Uploads `path` to `key`, creating it or replacing exactly `replace`, then looks at what
    /// the Space holds: the baseline is written only if it is what was sent.
    async fn upload(
        &self,
        path: &Path,
        key: &str,
        l: &LocalNow,
        replace: Option<&str>,
        cancel: &Cancel,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Option<Base>> {
        let now = path.symlink_metadata().ok().map(|m| stamp_of(&m));
        if now != Some(l.stamp) {
            return Err(changed_here(key));
        }
        let file = PlannedFile {
            path: path.to_path_buf(),
            key: key.to_string(),
            size: l.size,
        };
        let expect = match replace {
            Some(e) => Expect::Etag(e.to_string()),
            None => Expect::Absent,
        };
        crate::patient(|| {
            upload_file(
                self.up,
                &file,
                &expect,
                FileAcl::Private,
                Settings::default(),
                &self.budget,
                cancel,
                progress,
            )
        })
        .await
        .map_err(|e| match (e, cancel.is_set()) {
            (_, true) => Error::Cancelled("Stopped.".into()),
            (Error::FileChanged(_), _) => Error::FileChanged(format!(
                "“{key}” changed after the plan (in the folder or in the Space); it is left for the next sync."
            )),
            (e, _) => e,
        })?;
        // What the Space holds now must be what went up (the same bytes, proven).
        let head = (self.up.client.head_object())
            .bucket(&self.up.space)
            .key(key)
            .send()
            .await;
        let Ok(head) = head else { return Ok(None) };
        let etag = integrity::bare(head.e_tag().unwrap_or_default()).to_string();
        let stored = integrity::stored_md5(head.metadata());
        let held = match integrity::known(&etag, stored.as_deref()) {
            integrity::Known::Md5(sum) => Some(integrity::hex(&sum)),
            _ => None,
        };
        let md5 = l.md5.clone().unwrap_or_default();
        let after = path.symlink_metadata().ok().map(|m| stamp_of(&m));
        if held.as_deref() != Some(md5.as_str()) || after != Some(l.stamp) {
            return Ok(None);
        }
        Ok(Some(Base {
            local: l.stamp,
            remote_md5: md5.clone(),
            md5,
            remote_size: head.content_length().unwrap_or(0).max(0) as u64,
            etag,
        }))
    }

    /// Fetches the Space's version of `rel` into a partial file beside `path`, verified; returns
    /// it and its MD5. A version other than the planned one is not kept.
    async fn fetch(
        &self,
        rel: &str,
        path: &Path,
        r: &RemoteNow,
        cancel: &Cancel,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(PathBuf, String)> {
        // A folder here that is a link is never written through, even to inside the folder:
        // the walk does not follow links, so what lands there would look deleted next time.
        let mut at = self.root.to_path_buf();
        for part in Path::new(rel)
            .parent()
            .into_iter()
            .flat_map(|p| p.components())
        {
            at.push(part);
            if at.symlink_metadata().is_ok_and(|m| m.is_symlink()) {
                return Err(Error::InvalidInput(format!(
                    "“{rel}” is below a link in the folder; links are not synced."
                )));
            }
        }
        make_folders_inside(self.root, path).map_err(|e| crate::download::disk_error(e, path))?;
        crate::download::inside(path.parent().unwrap_or(self.root), self.root).await?;
        let partial = partial_path(path);
        let key = self.key(rel);
        let fetched = crate::patient(|| {
            crate::ranged::fetch_into(
                self.down,
                Fetch {
                    key: &key,
                    version: None,
                },
                &partial,
                path,
                progress,
                None,
            )
        });
        let fetched = tokio::select! {
            f = fetched => f,
            _ = cancel.wait() => Err(Error::Cancelled("Stopped.".into())),
        };
        let sum = match fetched {
            Ok(_) => {
                let at = partial.clone();
                tokio::task::spawn_blocking(move || integrity::md5_of_file(&at))
                    .await
                    .map_err(|e| Error::Internal(e.to_string()))?
                    .map_err(|e| crate::download::disk_error(e, path))
            }
            Err(e) => Err(e),
        };
        let md5 = match sum {
            Ok(sum) => integrity::hex(&sum),
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        if r.md5
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(&md5))
        {
            let _ = std::fs::remove_file(&partial);
            return Err(changed_there(rel));
        }
        Ok((partial, md5))
    }

    /// Puts a fetched file at `path`: over exactly the file planned (which goes to the
    /// desktop's trash), or where nothing is. Anything else there now stays, and the fetched
    /// file is dropped. Returns the placed file's stamp.
    fn place(
        &self,
        partial: &Path,
        path: &Path,
        replace: Option<Stamp>,
        rel: &str,
    ) -> Result<Stamp> {
        let drop_it = |e: Error| {
            let _ = std::fs::remove_file(partial);
            e
        };
        let now = path.symlink_metadata().ok().map(|m| stamp_of(&m));
        match (replace, now) {
            (_, None) => {}
            (Some(planned), Some(now)) if planned == now => to_trash(path).map_err(drop_it)?,
            _ => return Err(drop_it(changed_here(rel))),
        }
        match rename_noreplace(partial, path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(drop_it(changed_here(rel)))
            }
            Err(e) => return Err(drop_it(crate::download::disk_error(e, path))),
        }
        let m = path
            .symlink_metadata()
            .map_err(|e| crate::download::disk_error(e, path))?;
        Ok(stamp_of(&m))
    }

    /// On a Space that keeps no versions, the version about to be replaced or deleted is copied
    /// to the pair's trash folder first (only if it is still `etag`).
    async fn keep_in_trash(&self, rel: &str, etag: &str) -> Result<()> {
        if self.made.versioned {
            return Ok(());
        }
        let Some(trash) = &self.made.pair.trash else {
            return Err(Error::InvalidInput(format!(
                "“{rel}” would be lost: the Space keeps no versions and the pair has no trash folder."
            )));
        };
        let at = &self.made.at;
        let key = self.key(rel);
        let to = format!("{trash}{}/{key}", self.trash_run);
        let source = format!("{}/{}", at.name, crate::urls::encode_key(&key));
        // The ETag as RGW compares it first, then quoted as S3 writes it.
        let bare = integrity::bare(etag);
        for condition in [bare.to_string(), format!("\"{bare}\"")] {
            let copied = (at.client.copy_object())
                .bucket(&at.name)
                .key(&to)
                .copy_source(&source)
                .copy_source_if_match(condition)
                .send()
                .await;
            let ctx = spacedock_s3::client::Context::space(&at.endpoint, &at.name);
            match copied.map_err(|e| spacedock_s3::client::map_error(e, ctx)) {
                Ok(_) => return Ok(()),
                Err(Error::Server {
                    code: crate::error::S3Code::PreconditionFailed,
                    ..
                }) => continue,
                Err(Error::Gone(_)) => return Err(changed_there(rel)),
                Err(e) => return Err(e),
            }
        }
        Err(changed_there(rel))
    }

    /// Both copies kept. Two-way: the Space's keeps the name on both sides, the folder's goes
    /// under a conflict name on both. One-way: the destination keeps the name, and the
    /// source's version goes beside it there under a conflict name.
    async fn conflict(
        &self,
        p: &Planned,
        path: &Path,
        (planned, etag): (Stamp, &str),
        cancel: &Cancel,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Vec<(String, Option<Base>)>> {
        let rel = &p.rel;
        let other = conflict_name(rel, &self.when);
        let other_path = self.path(&other)?;
        let (l, r) = match (&p.local, &p.remote) {
            (Some(l), Some(r)) => (l, r),
            _ => return Err(changed_here(rel)),
        };
        match self.made.pair.direction {
            SyncDirection::Up => {
                // The folder's version goes up beside the Space's; only the Space holds it, so it
                // has no baseline. The name keeps a baseline of each side as it stands: the
                // Space's file is never replaced or deleted by this pair while they differ.
                self.upload(path, &self.key(&other), l, None, cancel, progress)
                    .await?;
                let base = Base {
                    local: planned,
                    md5: l.md5.clone().unwrap_or_default(),
                    remote_size: r.size,
                    etag: etag.to_string(),
                    remote_md5: r.md5.clone().unwrap_or_default(),
                };
                Ok(vec![(rel.clone(), Some(base))])
            }
            SyncDirection::Down => {
                // The Space's version goes beside the folder's; the folder's file is never
                // replaced or deleted by this pair while the two differ.
                let (partial, md5) = self.fetch(rel, &other_path, r, cancel, progress).await?;
                self.place(&partial, &other_path, None, &other)?;
                let base = Base {
                    local: planned,
                    md5: l.md5.clone().unwrap_or_default(),
                    remote_size: r.size,
                    etag: etag.to_string(),
                    remote_md5: md5,
                };
                Ok(vec![(rel.clone(), Some(base))])
            }
            SyncDirection::TwoWay => {
                // The baseline goes first: cut short anywhere below, the next plan finds the
                // names new on one side or both, and never a reason to delete either copy.
                self.store
                    .write(&self.made.pair.id, &[(rel.clone(), None)])?;
                let (partial, md5) = self.fetch(rel, path, r, cancel, progress).await?;
                let now = path.symlink_metadata().ok().map(|m| stamp_of(&m));
                if now != Some(planned) {
                    let _ = std::fs::remove_file(&partial);
                    return Err(changed_here(rel));
                }
                if let Err(e) = rename_noreplace(path, &other_path) {
                    let _ = std::fs::remove_file(&partial);
                    return Err(crate::download::disk_error(e, &other_path));
                }
                let stamp = self.place(&partial, path, None, rel)?;
                let moved = other_path
                    .symlink_metadata()
                    .map(|m| stamp_of(&m))
                    .map_err(|e| crate::download::disk_error(e, &other_path))?;
                let mine = LocalNow {
                    size: moved.size,
                    stamp: moved,
                    md5: l.md5.clone(),
                };
                let up = self
                    .upload(
                        &other_path,
                        &self.key(&other),
                        &mine,
                        None,
                        cancel,
                        progress,
                    )
                    .await?;
                Ok(vec![
                    (
                        rel.clone(),
                        Some(Base {
                            local: stamp,
                            remote_md5: md5.clone(),
                            md5,
                            remote_size: r.size,
                            etag: etag.to_string(),
                        }),
                    ),
                    (other, up),
                ])
            }
        }
    }
}

fn to_trash(path: &Path) -> Result<()> {
    trash::delete(path).map_err(|e| {
        Error::local_file(
            format!(
                "“{}” could not be moved to the trash, so it was kept",
                path.display()
            ),
            std::io::Error::other(e.to_string()),
        )
    })
}

/// "2026-12-05 1030": when a run started, in the names it gives.
fn conflict_time() -> String {
    civil_time(false)
}

/// "2026-12-05 103015".
fn conflict_time_seconds() -> String {
    civil_time(true)
}

fn civil_time(seconds: bool) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let hm = format!(
        "{y:04}-{m:02}-{d:02} {:02}{:02}",
        rem / 3600,
        rem % 3600 / 60
    );
    if seconds {
        format!("{hm}{:02}", rem % 60)
    } else {
        hm
    }
}

fn host() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; the name is NUL-terminated or cut.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    };
    let name: String = name
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-')
        .collect();
    if name.is_empty() {
        "this computer".into()
    } else {
        name
    }
}

/// "notes (conflict host 2026-12-05 1030).txt" beside "notes.txt".
pub(super) fn conflict_name(rel: &str, when: &str) -> String {
    let (folder, name) = match rel.rfind('/') {
        Some(i) => (&rel[..=i], &rel[i + 1..]),
        None => ("", rel),
    };
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    format!("{folder}{stem} (conflict {} {when}){ext}", host())
}

/// Scans both sides and decides each file.
async fn plan(syncs: &Syncs, pair: SyncPair, at: SpaceRef) -> Result<(Made, SyncPlan)> {
    let base = syncs.store.baseline(&pair.id)?;
    let root = PathBuf::from(&pair.folder);
    let walked = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || scan::walk(&root))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
    };
    let mut local = walked;
    scan::hash(&mut local, &base).await;
    let (mut remote, mut problems) =
        scan::list(&at, &pair.prefix, pair.trash.as_deref(), &root).await?;
    scan::prove_parts(&at, &mut remote, &local, &base).await;
    // An object whose ETag is the baseline's holds the baseline's content: its MD5 is known even
    // when its ETag is not one (stored in parts), so a baseline written again keeps it.
    for (rel, f) in remote.iter_mut() {
        if let Some(b) = base.get(rel) {
            let same = integrity::bare(&b.etag).eq_ignore_ascii_case(integrity::bare(&f.now.etag));
            if f.now.md5.is_none() && same && !b.remote_md5.is_empty() {
                f.now.md5 = Some(b.remote_md5.clone());
            }
        }
    }
    let versioned = is_versioned(&at).await?;
    problems.append(&mut local.problems);

    // What maps into the trash folder in the Space is not synced: the listing leaves it out.
    if let Some(trash) = &pair.trash {
        let inside: Vec<String> = (local.files.keys())
            .filter(|rel| format!("{}{rel}", pair.prefix).starts_with(trash.as_str()))
            .cloned()
            .collect();
        for rel in inside {
            local.files.remove(&rel);
            local.skipped.push(rel.clone());
            problems.push(Problem {
                path: rel,
                message: "it would be in the pair's trash folder in the Space; it is not synced"
                    .into(),
            });
        }
    }
    let keys: BTreeSet<&String> = (base.keys())
        .chain(local.files.keys())
        .chain(remote.keys())
        .collect();
    // Two names one disk takes as one file: neither is synced (a Space → folder side only).
    let mut apart: BTreeSet<String> = BTreeSet::new();
    if pair.direction != SyncDirection::Up {
        for group in scan::same_on_some_disks(keys.iter().copied()) {
            for p in &group {
                problems.push(Problem {
                    path: p.clone(),
                    message: format!(
                        "its name differs from {} only by case or Unicode form, which many disks take as one file; neither is synced",
                        group.iter().filter(|o| *o != p).map(|o| format!("“{o}”")).collect::<Vec<_>>().join(", ")
                    ),
                });
            }
            apart.extend(group);
        }
    }
    let mut doubts = Vec::new();
    if !local.unreadable.is_empty() {
        doubts.push("a folder could not be read".to_string());
    }
    if !base.is_empty() && local.files.is_empty() {
        doubts.push(format!(
            "the folder is empty, but it held {} file(s) at the last sync",
            base.len()
        ));
    }
    if !base.is_empty() && remote.is_empty() {
        doubts.push(format!(
            "the Space's side is empty, but it held {} file(s) at the last sync",
            base.len()
        ));
    }
    let mut items = Vec::new();
    let mut unchanged = 0u32;
    for rel in keys {
        if apart.contains(rel) {
            continue;
        }
        let under_unreadable = local.unreadable.iter().any(|u| rel.starts_with(u.as_str()));
        // A file or link here that can't be read is there all the same: never taken as deleted.
        let skipped = (local.skipped.iter())
            .any(|s| rel == s || (rel.starts_with(s.as_str()) && rel[s.len()..].starts_with('/')));
        let (b, l, r) = (
            base.get(rel),
            local.files.get(rel).map(|f| f.now.clone()),
            remote.get(rel).map(|f| f.now.clone()),
        );
        let both = l.is_some() && r.is_some();
        let mut act = decide(pair.direction, pair.deletes, b, l.as_ref(), r.as_ref());
        if under_unreadable && !matches!(act, Act::Nothing) {
            act = Act::Kept("its folder could not be read");
        }
        if skipped && !matches!(act, Act::Nothing) {
            act = Act::Kept("it is in the folder but can't be read there (or is a link)");
        }
        if matches!(act, Act::Nothing | Act::Record) && both {
            unchanged += 1;
        }
        // The same bytes under a stamp that moved (a touch, a copy back): the baseline catches
        // up, so the next scan need not read the file again.
        if act == Act::Nothing && both && b.zip(l.as_ref()).is_some_and(|(b, l)| b.local != l.stamp)
        {
            act = Act::Record;
        }
        if act == Act::Nothing {
            continue;
        }
        let mut held = None;
        if act.is_delete() && !doubts.is_empty() {
            held = Some(format!(
                "Nothing is deleted this run: {}.",
                doubts.join("; ")
            ));
        }
        let replaces_remote = matches!(
            act,
            Act::DeleteRemote { .. } | Act::Upload { replace: Some(_) }
        );
        if held.is_none() && replaces_remote && !versioned {
            let size = r.as_ref().map_or(0, |r| r.size);
            let trash_key_len = pair.trash.as_ref().map_or(0, |t| {
                t.len() + TRASH_STAMP_LEN + pair.prefix.len() + rel.len()
            });
            held = match &pair.trash {
                None => Some("The Space keeps no versions and the pair has no trash folder, so it would be lost.".into()),
                Some(_) if size > TRASH_COPY_MOST => Some("It is too big (over 5 GB) for a copy in the trash folder; turn versioning on to sync it.".into()),
                Some(_) if trash_key_len > 1024 => Some("Its name is too long for a copy in the trash folder; turn versioning on to sync it.".into()),
                Some(_) => None,
            };
        }
        items.push(Planned {
            rel: rel.clone(),
            act,
            local: l,
            remote: r,
            held,
        });
    }
    // Deletes and replacements together (a folder encrypted by ransomware, or another disk
    // mounted at its path, replaces everything): many of them wait for the user.
    let destroys = items
        .iter()
        .filter(|p| {
            p.held.is_none()
                && matches!(
                    p.act,
                    Act::DeleteRemote { .. }
                        | Act::DeleteLocal { .. }
                        | Act::Upload { replace: Some(_) }
                        | Act::Download { replace: Some(_) }
                )
        })
        .count() as u32;
    let known = base.len().max(1) as u32;
    let many = destroys > DELETE_COUNT
        || (destroys > FEW && destroys as u64 * 100 > known as u64 * DELETE_SHARE_PERCENT as u64);
    // The first sync: nothing was ever synced. (A first sync that went part way has a baseline.)
    let first = pair.last_good.is_none() && base.is_empty();
    let approval = match (first, many) {
        (true, _) => Some("this is the pair's first sync".to_string()),
        (_, true) => Some(format!(
            "it replaces or deletes {destroys} of {known} files"
        )),
        _ => None,
    };
    let mut counts = PlanCounts {
        unchanged,
        ..Default::default()
    };
    let mut shown = Vec::new();
    for p in &items {
        let size = p
            .local
            .as_ref()
            .map(|l| l.size)
            .or(p.remote.as_ref().map(|r| r.size))
            .unwrap_or(0);
        let Some(action) = item_action(&p.act) else {
            continue;
        };
        if p.held.is_some() {
            counts.held += 1;
        } else {
            match action {
                SyncAction::Upload => counts.uploads.add(size),
                SyncAction::Download => counts.downloads.add(size),
                SyncAction::DeleteRemote => counts.remote_deletes.add(size),
                SyncAction::DeleteLocal => counts.local_deletes.add(size),
                SyncAction::Conflict => counts.conflicts += 1,
                SyncAction::Unverified => counts.unverified += 1,
                SyncAction::Kept => counts.kept += 1,
            }
        }
        let note = match &p.act {
            Act::Kept(why) => Some(format!("Left as it is: {why}.")),
            Act::Unverified => Some("On both sides and changed, but whether they are the same can't be proven (no MD5 for a file stored in parts): nothing is replaced.".into()),
            Act::Conflict { .. } => Some("Changed on both sides since the last sync: both copies are kept.".into()),
            _ => None,
        };
        shown.push(SyncItem {
            path: p.rel.clone(),
            action,
            size,
            held: p.held.clone(),
            note,
        });
    }
    let shown_plan = SyncPlan {
        pair: pair.id.clone(),
        plan: 0,
        approval: approval.clone(),
        doubts,
        counts,
        items: shown,
        problems,
    };
    let leaves = {
        let held = (items.iter()).filter(|p| p.held.is_some()).count();
        let unverified = (items.iter()).filter(|p| p.act == Act::Unverified).count();
        let mut parts = Vec::new();
        if held > 0 {
            let why = (items.iter())
                .find_map(|p| p.held.clone())
                .unwrap_or_default();
            parts.push(format!("{held} held back ({why})"));
        }
        if unverified > 0 {
            parts.push(format!("{unverified} unverified"));
        }
        if !shown_plan.problems.is_empty() {
            parts.push(format!("{} can't be synced", shown_plan.problems.len()));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    };
    let made = Made {
        pair,
        at,
        items,
        approval,
        versioned,
        made_at: std::time::Instant::now(),
        leaves,
    };
    Ok((made, shown_plan))
}
