//! Deletes: files, and folders with everything in them. Planned first, each file with the
//! version it has (the ETag listed, or the one the window showed), and noted in the journal;
//! then deleted up to a thousand at a time, each time right after a look at exactly those files:
//! one changed since the plan is kept, and said so. A stop or a quit comes between two requests;
//! a quit leaves the files not yet deleted in the journal, and the next start offers to finish.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::{BatchSpec, JobSpec, Queue};
use crate::error::{Error, Result};
use crate::journal::{self, Mark};
use crate::remove::{look, remove_listed, remove_looked, Planned, Removed};
use spacedock_common::Problem;
use spacedock_s3::client::Context;
use spacedock_s3::listing;
use spacedock_s3::objects::DeleteSummary;
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
        let mut report = |ended: Vec<(u32, String, Removed)>| {
            let before = summary.deleted;
            for (file, key, outcome) in ended {
                left.remove(&file);
                match outcome {
                    Removed::Deleted | Removed::Gone => {
                        self.journal.mark(id, file, Mark::Done, None);
                        finished += 1;
                        summary.deleted += matches!(outcome, Removed::Deleted) as u64;
                    }
                    Removed::Changed => {
                        let why = "Not deleted: it changed after the delete was planned. Look at it again.";
                        self.journal.mark(id, file, Mark::Skipped, Some(why.into()));
                        summary.kept.push(Problem {
                            path: key,
                            message: why.into(),
                        });
                    }
                    Removed::Refused(why) => {
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
        let mut groups: BTreeMap<Option<String>, Vec<Planned>> = BTreeMap::new();
        for (i, f) in files {
            groups.entry(f.under).or_default().push((i, f.key, f.etag));
        }
        let stopped = || stop.is_cancelled();
        let mut result = Ok(());
        for (under, group) in groups {
            result = match under {
                Some(folder) => remove_listed(at, &folder, group, &stopped, &mut report).await,
                None => remove_looked(at, group, &stopped, &mut report).await,
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
