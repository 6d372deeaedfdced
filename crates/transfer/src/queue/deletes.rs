//! Deletes: files, and folders with everything in them. Planned first, each file with the
//! version it has (the ETag listed, or the one the window showed), and noted in the journal;
//! then deleted up to a thousand at a time, each time right after a look at exactly those files:
//! one changed since the plan is kept, and said so. A stop or a quit comes between two requests;
//! a quit leaves the files not yet deleted in the journal, and the next start offers to finish.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::{BatchSpec, JobSpec, Queue};
use crate::error::{Error, Result, S3Code};
use crate::integrity;
use crate::journal::{self, Mark};
use spacedock_common::Problem;
use spacedock_s3::client::{map_error, Context};
use spacedock_s3::listing;
use spacedock_s3::objects::{delete_each, DeleteSummary, Refused};
use spacedock_s3::SpaceRef;

/// One file of a delete as the journal keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DeleteFileSpec {
    pub key: String,
    /// Its ETag at the plan; None: the window did not show it, and it goes as it is then.
    pub etag: Option<String>,
    /// The folder it was listed in (a folder deleted whole): looked at a page at a time.
    pub under: Option<String>,
}

/// What became of one file.
enum Outcome {
    Deleted,
    /// Not there any more: nothing to delete.
    Gone,
    /// Changed since the plan: kept.
    Changed,
    /// Refused by the server (e.g. a policy): kept, with why.
    Refused(String),
}

/// Files that go in one request of a delete (S3 takes at most 1,000).
const PER_REQUEST: usize = 1000;

impl Queue {
    /// Deletes `keys` (files, and folders with everything in them) from `at`; `shown` holds
    /// the ETags the window showed, by key. `progress` hears the count deleted so far; `stop`
    /// (or a quit) stops it between requests, and the summary says what was deleted.
    pub async fn delete(
        &self,
        at: &SpaceRef,
        connection: &str,
        (keys, shown): (&[String], &HashMap<String, String>),
        stop: &CancellationToken,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<DeleteSummary> {
        // A quit waits for it to end between two requests.
        let _running = self.running();
        let stop = Stops {
            user: stop.clone(),
            quit: self.quit.clone(),
        };
        let files = tokio::select! {
            planned = plan_delete(at, keys, shown) => planned?,
            // Nothing was deleted yet.
            _ = stop.cancelled() => return Ok(DeleteSummary { stopped: true, ..Default::default() }),
        };
        let id = journal::new_id();
        let spec = BatchSpec {
            connection: connection.to_string(),
            endpoint: at.endpoint.clone(),
            space: at.name.clone(),
            job: JobSpec::Delete,
        };
        let files: Vec<(u32, DeleteFileSpec)> = (0..).zip(files).collect();
        self.journal
            .add(&id, spec.job.kind(), &spec, files.iter().cloned());
        self.journal.flush();
        let done = (self.run_delete(&id, at, files, &stop, progress).await).map(|(s, _)| s);
        self.journal.flush();
        if !self.quit.is_cancelled() {
            // Over: what the user stopped, or what an error stopped (said in the summary), is
            // not something to finish at the next start.
            self.journal.remove(&id);
            self.journal.set_live(&id, false);
        }
        done
    }

    /// Deletes `files` of journal batch `id`, marking each as it ends. Returns what it did, and
    /// how many files are finished (deleted, or gone already). An error on the way (a listing
    /// refused, the server unreachable) ends the run with what was done and the error among
    /// the summary's problems; the files it did not reach stay waiting in the journal.
    pub(super) async fn run_delete(
        &self,
        id: &str,
        at: &SpaceRef,
        files: Vec<(u32, DeleteFileSpec)>,
        stop: &Stops,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(DeleteSummary, u32)> {
        let mut summary = DeleteSummary::default();
        let mut finished = 0u32;
        let mut left: HashSet<u32> = files.iter().map(|(i, _)| *i).collect();
        // Each request's files at once: the count deleted is said once a request.
        let mut report = |ended: Vec<(u32, String, Outcome)>| {
            let before = summary.deleted;
            for (file, key, outcome) in ended {
                left.remove(&file);
                match outcome {
                    Outcome::Deleted | Outcome::Gone => {
                        self.journal.mark(id, file, Mark::Done, None);
                        finished += 1;
                        summary.deleted += matches!(outcome, Outcome::Deleted) as u64;
                    }
                    Outcome::Changed => {
                        let why = "Not deleted: it changed after the delete was planned. Look at it again.";
                        self.journal.mark(id, file, Mark::Skipped, Some(why.into()));
                        summary.kept.push(Problem {
                            path: key,
                            message: why.into(),
                        });
                    }
                    Outcome::Refused(why) => {
                        let why = format!("Not deleted: {why}");
                        self.journal.mark(id, file, Mark::Failed, Some(why.clone()));
                        summary.kept.push(Problem {
                            path: key,
                            message: why,
                        });
                    }
                }
            }
            if summary.deleted != before {
                // On disk before it is said: a crash now does not offer these again.
                self.journal.flush();
                progress(summary.deleted);
            }
        };
        let mut groups: BTreeMap<Option<String>, Vec<(u32, DeleteFileSpec)>> = BTreeMap::new();
        for (i, f) in files {
            groups.entry(f.under.clone()).or_default().push((i, f));
        }
        let mut result = Ok(());
        for (under, group) in groups {
            result = match under {
                Some(folder) => delete_listed(at, &folder, group, stop, &mut report).await,
                None => delete_looked(at, group, stop, &mut report).await,
            };
            if result.is_err() || stop.is_cancelled() {
                break;
            }
        }
        summary.stopped = !left.is_empty();
        match result {
            // What the user stopped ends here; what a quit stopped stays waiting, to be
            // finished at the next start.
            Ok(()) if !self.quit.is_cancelled() => {
                for file in &left {
                    self.journal.mark(id, *file, Mark::Cancelled, None);
                }
            }
            Ok(()) => {}
            Err(e) => summary.kept.push(Problem {
                path: String::new(),
                message: format!("The delete stopped: {e}"),
            }),
        }
        Ok((summary, finished))
    }
}

/// The user's stop and the app's quit: either stops a delete, at once.
#[derive(Clone)]
pub(super) struct Stops {
    pub user: CancellationToken,
    pub quit: CancellationToken,
}

impl Stops {
    fn is_cancelled(&self) -> bool {
        self.user.is_cancelled() || self.quit.is_cancelled()
    }

    async fn cancelled(&self) {
        tokio::select! {
            _ = self.user.cancelled() => {}
            _ = self.quit.cancelled() => {}
        }
    }
}

/// Each file to delete, with the version it has: a folder's files as listed now, a file with
/// the ETag the window showed. A file named twice (inside a folder also chosen) goes once.
async fn plan_delete(
    at: &SpaceRef,
    keys: &[String],
    shown: &HashMap<String, String>,
) -> Result<Vec<DeleteFileSpec>> {
    let ctx = Context::space(&at.endpoint, &at.name);
    let mut planned = Vec::new();
    let mut seen = HashSet::new();
    for key in keys {
        if key.is_empty() || key == "/" {
            return Err(Error::InvalidInput(
                "Pick the files and folders to delete, not the whole Space.".into(),
            ));
        }
        if key.ends_with('/') {
            // Below the folder only: a server that lists anything else deletes nothing.
            for o in listing::keys_below(&at.client, ctx, &at.name, key).await? {
                let Some(k) = o.key() else { continue };
                if seen.insert(k.to_string()) {
                    planned.push(DeleteFileSpec {
                        key: k.to_string(),
                        etag: o.e_tag().map(str::to_string),
                        under: Some(key.clone()),
                    });
                }
            }
        } else if seen.insert(key.clone()) {
            // Not shown: the version it has now is the one planned (a resume days later deletes
            // that one, not whatever has the name then).
            let etag = match shown.get(key) {
                Some(etag) => Some(etag.clone()),
                None => match look(at, key).await? {
                    Some(now) => now,
                    // Not there: nothing to delete.
                    None => continue,
                },
            };
            planned.push(DeleteFileSpec {
                key: key.clone(),
                etag,
                under: None,
            });
        }
    }
    Ok(planned)
}

/// A file's ETag now: None if it is not there, Some(None) if the server gave none.
async fn look(at: &SpaceRef, key: &str) -> Result<Option<Option<String>>> {
    let target = crate::Target::plain(&at.client, &at.endpoint, &at.name);
    let now = crate::etag_now(&target, key).await?;
    Ok(now.map(|etag| Some(etag).filter(|e| !e.is_empty())))
}

fn same(planned: Option<&str>, now: Option<&str>) -> bool {
    match (planned, now) {
        (None, _) => true,
        (Some(p), Some(n)) => integrity::bare(p) == integrity::bare(n),
        (Some(_), None) => false,
    }
}

/// A folder's files: the folder is listed a page at a time from where the last page ended, and
/// each page's planned files that are still their planned version go in one request. Listing
/// stops past the last planned file; planned files it did not list are looked at one by one.
async fn delete_listed(
    at: &SpaceRef,
    folder: &str,
    group: Vec<(u32, DeleteFileSpec)>,
    stop: &Stops,
    report: &mut (dyn FnMut(Vec<(u32, String, Outcome)>) + Send),
) -> Result<()> {
    let ctx = Context::space(&at.endpoint, &at.name);
    let mut planned: BTreeMap<String, (u32, Option<String>)> = (group.into_iter())
        .map(|(i, f)| (f.key, (i, f.etag)))
        .collect();
    let mut after: Option<String> = None;
    loop {
        let Some(last_planned) = planned.keys().next_back().cloned() else {
            return Ok(());
        };
        if stop.is_cancelled() {
            return Ok(());
        }
        if after.as_deref().is_some_and(|a| a >= last_planned.as_str()) {
            break;
        }
        let (page, more) =
            listing::page_after(&at.client, ctx, &at.name, folder, after.as_deref()).await?;
        let (mut go, mut changed) = (Vec::new(), Vec::new());
        for o in &page {
            // `page_after` refuses a page with an object that has no key.
            let key = o.key().unwrap_or_default();
            let Some((file, etag)) = planned.remove(key) else {
                // Not planned (it came since): left as it is.
                continue;
            };
            match same(etag.as_deref(), o.e_tag()) {
                true => go.push((file, key.to_string(), etag)),
                false => changed.push((file, key.to_string(), Outcome::Changed)),
            }
        }
        report(changed);
        for chunk in go.chunks(PER_REQUEST) {
            if stop.is_cancelled() {
                return Ok(());
            }
            report(delete_some(at, ctx, chunk).await?);
        }
        after = page.last().and_then(|o| o.key()).map(str::to_string);
        if !more {
            break;
        }
    }
    // Planned, and not listed (gone already, or listed under another form of its name): each
    // is looked at before it is called gone.
    let rest = planned.into_iter().map(|(key, (file, etag))| {
        let f = DeleteFileSpec {
            key,
            etag,
            under: None,
        };
        (file, f)
    });
    delete_looked(at, rest.collect(), stop, report).await
}

/// One request deleting up to 1,000 files, each with its planned ETag (servers that honour
/// that check it too); each file's own answer: deleted, or refused with why.
async fn delete_some(
    at: &SpaceRef,
    ctx: Context<'_>,
    files: &[(u32, String, Option<String>)],
) -> Result<Vec<(u32, String, Outcome)>> {
    let objects = (files.iter())
        .map(|(_, key, etag)| {
            aws_sdk_s3::types::ObjectIdentifier::builder()
                .key(key)
                .set_e_tag(etag.clone())
                .build()
                .map_err(|e| Error::InvalidInput(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let refused: HashMap<String, Refused> = (delete_each(&at.client, &at.name, ctx, objects)
        .await?)
        .into_iter()
        .map(|r| (r.key.clone(), r))
        .collect();
    Ok((files.iter())
        .map(|(file, key, _)| {
            let outcome = match refused.get(key) {
                None => Outcome::Deleted,
                Some(r) if r.code == S3Code::PreconditionFailed => Outcome::Changed,
                Some(r) if r.message.is_empty() => Outcome::Refused("refused".into()),
                Some(r) => Outcome::Refused(r.message.clone()),
            };
            (*file, key.clone(), outcome)
        })
        .collect())
}

/// Files chosen one by one: each looked at right before it goes (and sent with `If-Match`,
/// which servers that honour it check too).
async fn delete_looked(
    at: &SpaceRef,
    group: Vec<(u32, DeleteFileSpec)>,
    stop: &Stops,
    report: &mut (dyn FnMut(Vec<(u32, String, Outcome)>) + Send),
) -> Result<()> {
    let ctx = Context::space(&at.endpoint, &at.name);
    let one = |(file, f): (u32, DeleteFileSpec)| async move {
        if stop.is_cancelled() {
            return Ok(None);
        }
        let Some(now) = look(at, &f.key).await? else {
            return Ok(Some((file, f.key, Outcome::Gone)));
        };
        if !same(f.etag.as_deref(), now.as_deref()) {
            return Ok(Some((file, f.key, Outcome::Changed)));
        }
        let delete = (at.client.delete_object().bucket(&at.name).key(&f.key)).set_if_match(
            f.etag
                .as_deref()
                .map(|e| format!("\"{}\"", integrity::bare(e))),
        );
        match delete.send().await.map_err(|e| map_error(e, ctx)) {
            Ok(_) => Ok(Some((file, f.key, Outcome::Deleted))),
            Err(Error::Server {
                code: S3Code::PreconditionFailed,
                ..
            }) => Ok(Some((file, f.key, Outcome::Changed))),
            Err(e) => Err(e),
        }
    };
    let mut results = futures_util::stream::iter(group.into_iter().map(one)).buffer_unordered(32);
    while let Some(result) = results.next().await {
        if let Some(ended) = result? {
            report(vec![ended]);
        }
    }
    Ok(())
}
