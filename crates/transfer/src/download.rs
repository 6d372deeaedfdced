//! Downloads: files and whole folders from a Space into a folder on disk. Folders are expanded
//! on the server, every key is turned into a path inside the chosen folder (or refused by name),
//! files already there are handled by the batch's choice, and a file appears under its final
//! name only when it is complete. No two files of any running download land on one path (as a
//! disk that ignores case or Unicode form sees it), and a finished file never replaces one it
//! did not plan to replace.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use serde::Serialize;
use ts_rs::TS;

use super::adapt::Window;
use super::local::{
    keep_both_path, make_folders_inside, partial_path, path_inside, place, Claim, LocalClaims,
    LocalStamp,
};
use super::plan::Problem;
pub use super::ranged::Noting;
use super::unfinished::PartialDownloads;
use super::{Cancel, Conflict, FileState, Target, TransferEvent, SLOW_DOWN_TRIES};
use crate::error::{Error, Result};
use crate::s3::{map_error, Context};

/// One file to download.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadFile {
    /// Its place in the batch, as the queue knows it.
    pub id: u32,
    pub key: String,
    /// One version of the file; none: the current one.
    pub version: Option<String>,
    pub path: PathBuf,
    pub size: u64,
    /// The file at `path` when the download was planned: Overwrite replaces that one only.
    pub existing: Option<LocalStamp>,
}

#[derive(Debug, Default)]
pub struct DownloadPlan {
    pub files: Vec<DownloadFile>,
    /// Keys that can't be saved in the chosen folder, and why.
    pub problems: Vec<Problem>,
}

impl DownloadPlan {
    /// Files whose path was taken on disk when planned.
    pub fn existing(&self) -> Vec<&DownloadFile> {
        self.files.iter().filter(|f| f.existing.is_some()).collect()
    }
}

fn refused(key: &str, why: &str) -> Problem {
    Problem {
        path: key.to_string(),
        message: format!("Not downloaded: {why}."),
    }
}

/// Plans downloading `keys` (files, and folders ending in `/`; `""` is the whole Space) into
/// `dest`. A folder's files keep their path below the folder's own name.
pub async fn plan(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    keys: &[String],
    dest: &Path,
) -> Result<DownloadPlan> {
    let ctx = Context::space(endpoint, space);
    let mut plan = DownloadPlan::default();
    let mut seen = HashSet::new();
    let mut add = |plan: &mut DownloadPlan, key: &str, relative: &str, size: u64| match path_inside(
        dest, relative,
    ) {
        Ok(path) if seen.insert(path.clone()) => plan.files.push(DownloadFile {
            id: plan.files.len() as u32,
            key: key.to_string(),
            version: None,
            existing: LocalStamp::of(&path),
            path,
            size,
        }),
        Ok(_) => {}
        Err(why) => plan.problems.push(refused(key, &why)),
    };
    for key in keys {
        if !key.is_empty() && !key.ends_with('/') {
            let size = client
                .head_object()
                .bucket(space)
                .key(key)
                .send()
                .await
                .map_err(|e| map_error(e, ctx))?
                .content_length()
                .unwrap_or(0)
                .max(0) as u64;
            add(&mut plan, key, key.rsplit('/').next().unwrap_or(key), size);
            continue;
        }
        // The folder's own name is kept: "a/b/" downloads as "b/…".
        let base = key
            .trim_end_matches('/')
            .rfind('/')
            .map(|i| i + 1)
            .unwrap_or(0);
        // Below the folder only: a key the server lists elsewhere refuses the whole plan.
        for object in crate::listing::keys_below(client, ctx, space, key).await? {
            let Some(k) = object.key() else { continue };
            if k.ends_with('/') && object.size().unwrap_or(0) == 0 {
                continue; // a folder's marker, not a file
            }
            let size = object.size().unwrap_or(0).max(0) as u64;
            match k.get(base..) {
                Some(relative) => add(&mut plan, k, relative, size),
                None => plan
                    .problems
                    .push(refused(k, "its name can't be cut below the folder")),
            }
        }
    }
    Ok(plan)
}

/// Plans saving one version of `key` into `dest` under the file's own name.
pub async fn plan_version(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
    version_id: &str,
    dest: &Path,
) -> Result<DownloadPlan> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let path = path_inside(dest, name)
        .map_err(|why| Error::InvalidInput(format!("“{key}” can't be saved: {why}.")))?;
    let head = (client.head_object())
        .bucket(space)
        .key(key)
        .version_id(version_id)
        .send()
        .await
        .map_err(|e| map_error(e, Context::space(endpoint, space)))?;
    Ok(DownloadPlan {
        files: vec![DownloadFile {
            id: 0,
            key: key.to_string(),
            version: Some(version_id.to_string()),
            existing: LocalStamp::of(&path),
            path,
            size: head.content_length().unwrap_or(0).max(0) as u64,
        }],
        problems: Vec::new(),
    })
}

#[derive(Debug, Clone, Default, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DownloadSummary {
    pub done: u32,
    /// Not downloaded: a file of that name was there and the batch's choice was Skip.
    pub skipped: u32,
    pub cancelled: u32,
    /// Files refused or failed, each with why.
    pub problems: Vec<Problem>,
    /// Saved under another name than planned, beside a file or a download of the same name.
    #[serde(default)]
    pub notes: Vec<Problem>,
}

/// The most files downloaded at once: far from the Space each file waits a round trip, so many
/// small files need many in flight to keep the link busy (each is streamed to disk, never held).
pub const FILES_IN_FLIGHT: usize = 128;
/// Files in flight when a batch begins; the window grows from here while it helps.
const STARTING_FILES: usize = 16;

/// How a batch of downloads runs.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    /// Where big files are noted as they go, to be resumed after a quit or a crash.
    pub record: Option<&'a PartialDownloads>,
    /// The most files that download at once.
    pub files_at_once: usize,
    /// Each file's cancel switch, by id (none: the files can't be cancelled).
    pub cancels: Option<&'a HashMap<u32, Cancel>>,
    /// The local paths every running download writes to (none: this batch's own only).
    pub claims: Option<&'a LocalClaims>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            record: None,
            files_at_once: FILES_IN_FLIGHT,
            cancels: None,
            claims: None,
        }
    }
}

/// Downloads the planned files, several at once, telling `events` of each file's progress. A
/// file already on disk is overwritten, skipped or kept beside the new one, as `conflict` says;
/// one file's failure never stops the rest.
pub async fn run(
    from: &Target,
    dest: &Path,
    plan: DownloadPlan,
    conflict: Conflict,
    events: &(dyn Fn(TransferEvent) + Send + Sync),
    options: Options<'_>,
) -> DownloadSummary {
    let mut summary = DownloadSummary {
        problems: plan.problems,
        ..Default::default()
    };
    // Where each file goes is settled first, in order, so Keep both names never collide, and
    // claimed until it is on disk: no two files of this or any running download share a path.
    let own = LocalClaims::default();
    let claims = options.claims.unwrap_or(&own);
    let mut jobs = Vec::new();
    for file in plan.files {
        let mut path = file.path.clone();
        let on_disk = LocalStamp::of(&path);
        let claimed = claims.is_claimed(&path);
        let taken = |p: &Path| p.symlink_metadata().is_ok() || claims.is_claimed(p);
        if on_disk.is_some() && !claimed {
            match conflict {
                // Over the file that was there at the plan, and only that one: a file that
                // came or changed since goes beside the new one.
                Conflict::Overwrite if on_disk == file.existing => {}
                Conflict::Skip => {
                    summary.skipped += 1;
                    events(TransferEvent {
                        id: file.id,
                        bytes: 0,
                        state: FileState::Skipped,
                    });
                    continue;
                }
                Conflict::KeepBoth => path = keep_both_path(&path, taken),
                Conflict::Overwrite => {
                    path = keep_both_path(&path, taken);
                    summary.notes.push(Problem {
                        path: file.key.clone(),
                        message: format!(
                            "Saved as “{}”: the file it was to replace changed after the download was planned, and was kept.",
                            path.file_name().unwrap_or_default().to_string_lossy()
                        ),
                    });
                }
            }
        }
        if claimed {
            // Another file on its way to the same name (`A` and `a`, or another download's):
            // this one goes beside it, whatever the choice about files already there.
            path = keep_both_path(&path, taken);
            summary.notes.push(Problem {
                path: file.key.clone(),
                message: format!(
                    "Saved as “{}”: another file on its way to this folder has the same name (perhaps apart from case or accents, which many disks don't tell apart).",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ),
            });
        }
        let Some(claim) = claims.claim(&path) else {
            let e = Error::Internal("a path claimed twice".into());
            summary.problems.push(Problem {
                path: file.key.clone(),
                message: format!("Not downloaded: {e}"),
            });
            continue;
        };
        let replace = match conflict {
            Conflict::Overwrite if path == file.path => file.existing,
            _ => None,
        };
        jobs.push((file, path, replace, claim));
    }
    // As many files at once as keeps the link busy, up to the most allowed: the window grows
    // while more files move more bytes, and halves when the server asks to slow down.
    let most = options.files_at_once.max(1);
    let window = Window::new(STARTING_FILES.min(most), 1, most);
    let one = |(file, path, replace, claim): (DownloadFile, PathBuf, Option<LocalStamp>, Claim)| {
        let window = window.clone();
        async move {
            let cancel = options
                .cancels
                .and_then(|c| c.get(&file.id).cloned())
                .unwrap_or_default();
            let id = file.id;
            let event = |bytes, state| events(TransferEvent { id, bytes, state });
            let mut tries = 0;
            let result = loop {
                if cancel.is_set() {
                    break Err(Error::Cancelled("Nothing was downloaded.".into()));
                }
                let permit = window.acquire().await;
                event(0, FileState::Running);
                let report = |bytes| event(bytes, FileState::Running);
                let noting = options.record.map(|record| Noting {
                    record,
                    dest,
                    replace,
                });
                let fetch = Fetch {
                    key: &file.key,
                    version: file.version.as_deref(),
                };
                let to = (dest, path.as_path());
                let got = fetch_to(
                    from,
                    fetch,
                    to,
                    replace,
                    claims,
                    &report,
                    noting.as_ref(),
                    Some(&cancel),
                )
                .await;
                let outcome = match got {
                    // A big file came in ranges that told their own window how they went; its
                    // whole time says nothing of one request's.
                    Ok((size, at)) if size > super::ranged::PART => Ok((size, at)),
                    got => {
                        let size = got.as_ref().map(|(n, _)| *n).unwrap_or(0);
                        permit.answer(got, size)
                    }
                };
                match outcome {
                    // Still busy after the SDK's own retries: again, once fewer are in flight.
                    Err(Error::SlowDown) if tries < SLOW_DOWN_TRIES => {
                        tries += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(250 << tries)).await;
                    }
                    done => break done,
                }
            };
            let state = match &result {
                Ok(_) => FileState::Done,
                Err(Error::Cancelled(_)) => FileState::Cancelled,
                Err(e) => FileState::Failed {
                    kind: e.kind(),
                    message: e.to_string(),
                },
            };
            let done = state == FileState::Done;
            event(if done { file.size } else { 0 }, state);
            drop(claim);
            (file.key, path, result)
        }
    };
    let mut results = futures_util::stream::iter(jobs.into_iter().map(one))
        .buffer_unordered(options.files_at_once.max(1));
    while let Some((key, path, result)) = results.next().await {
        match result {
            Ok((_, at)) => {
                summary.done += 1;
                if at != path {
                    summary.notes.push(Problem {
                        path: key,
                        message: format!(
                            "Saved as “{}”: a file named “{}” came into the folder while it downloaded, and was kept.",
                            at.file_name().unwrap_or_default().to_string_lossy(),
                            path.file_name().unwrap_or_default().to_string_lossy()
                        ),
                    });
                }
            }
            Err(Error::Cancelled(_)) => summary.cancelled += 1,
            Err(e) => summary.problems.push(Problem {
                path: key,
                message: format!("Not downloaded: {e}"),
            }),
        }
    }
    summary
}

/// Words for a failed write on the user's disk.
pub fn disk_error(e: std::io::Error, path: &Path) -> Error {
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => Error::DiskFull(format!(
            "There is no space left on the disk for “{}”; nothing of it was kept.",
            path.display()
        )),
        _ => Error::local_file(format!("“{}” can't be written", path.display()), e),
    }
}

/// What to fetch: a key, and one of its versions or (none) the current one.
#[derive(Clone, Copy)]
pub struct Fetch<'a> {
    pub key: &'a str,
    pub version: Option<&'a str>,
}

/// Downloads the current version of `key` to `path` (inside `dest`), never over a file there
/// (it goes beside it instead); see [`fetch_to`]. Returns its size.
pub async fn download_file(
    from: &Target,
    key: &str,
    to: (&Path, &Path),
    progress: &(dyn Fn(u64) + Send + Sync),
    noting: Option<&Noting<'_>>,
    cancel: Option<&Cancel>,
) -> Result<u64> {
    let fetch = Fetch { key, version: None };
    let claims = LocalClaims::default();
    let got = fetch_to(from, fetch, to, None, &claims, progress, noting, cancel).await?;
    Ok(got.0)
}

/// Downloads one file to `path` (inside `dest`), streaming through a temporary file that is put
/// in place when complete, so a failed download never leaves a half file under the real name.
/// It replaces only the file `replace` says was planned over (if that is still what is there);
/// otherwise it goes beside whatever took its name (see [`place`]). Folders are made inside
/// `dest` only. With `noting`, a big file's ranges are noted as they land (a crash leaves them
/// to resume); a download that fails or is cancelled is forgotten with its partial file, and
/// one paused at quit keeps a noted one. Returns its size and where it went.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_to(
    from: &Target,
    fetch: Fetch<'_>,
    (dest, path): (&Path, &Path),
    replace: Option<LocalStamp>,
    claims: &LocalClaims,
    progress: &(dyn Fn(u64) + Send + Sync),
    noting: Option<&Noting<'_>>,
    cancel: Option<&Cancel>,
) -> Result<(u64, PathBuf)> {
    let parent = path
        .parent()
        .ok_or_else(|| Error::InvalidInput(format!("“{}” has no folder.", path.display())))?;
    make_folders_inside(dest, path).map_err(|e| match e.kind() {
        std::io::ErrorKind::Other => Error::InvalidInput(format!("{e}.")),
        _ => disk_error(e, parent),
    })?;
    inside(parent, dest).await?;
    let partial = partial_path(path);
    let fetched = super::ranged::fetch_into(from, fetch, &partial, path, progress, noting);
    let fetched = match cancel {
        // A cancel drops the fetch mid-way; its partial file and note are cleared below.
        Some(cancel) => tokio::select! {
            result = fetched => result,
            _ = cancel.wait() => Err(Error::Cancelled("The download was stopped.".into())),
        },
        None => fetched.await,
    };
    let result = match fetched {
        Ok(done) => {
            let (from, to, claims) = (partial.clone(), path.to_path_buf(), claims.clone());
            tokio::task::spawn_blocking(move || place(&from, &to, replace, &claims))
                .await
                .map_err(|e| Error::Internal(format!("putting the file in place stopped: {e}")))?
                .map(|at| (done, at))
                .map_err(|e| disk_error(e, path))
        }
        Err(e) => Err(e),
    };
    let id = partial.to_string_lossy();
    let noted = noting.filter(|n| n.record.is_here(&id));
    // Paused at quit: a noted download keeps its partial file and its note, to be resumed.
    if result.is_err() && cancel.is_some_and(|c| c.is_paused()) && noted.is_some() {
        if let Some(n) = noted {
            n.record.release(&id);
        }
        return result;
    }
    if result.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    // Only a file of several ranges was noted: the rest leave the record untouched (each
    // change of it is a flushed write).
    if let Some(n) = noted {
        n.record.remove(&id);
    }
    result
}

/// A folder inside the destination may be a link to elsewhere: the real place must still be inside.
pub(super) async fn inside(parent: &Path, dest: &Path) -> Result<()> {
    let (real_parent, real_dest) = (
        tokio::fs::canonicalize(parent)
            .await
            .map_err(|e| disk_error(e, parent))?,
        tokio::fs::canonicalize(dest)
            .await
            .map_err(|e| disk_error(e, dest))?,
    );
    if !real_parent.starts_with(&real_dest) {
        return Err(Error::InvalidInput(format!(
            "“{}” is a link to a folder outside the chosen one.",
            parent.display()
        )));
    }
    Ok(())
}
