//! Both sides of a pair as they are now: the folder walked (links not followed, files the
//! engine is writing skipped) and the Space listed through the one listing door. Each file's
//! MD5 is read from the baseline when its stamp has not moved, and hashed otherwise.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;

use super::decide::{Base, LocalNow, RemoteNow, Stamp};
use crate::error::{Error, Result};
use crate::integrity;
use crate::local::{folded, is_partial, path_inside};
use spacedock_common::Problem;
use spacedock_s3::client::Context;
use spacedock_s3::{listing, SpaceRef};

pub(super) struct LocalFile {
    pub path: PathBuf,
    pub now: LocalNow,
}

pub(super) struct Local {
    pub files: BTreeMap<String, LocalFile>,
    pub problems: Vec<Problem>,
    /// Folders that could not be read (their files may be there): nothing below is acted on.
    pub unreadable: Vec<String>,
    /// Files and links that are there but can't be synced (unreadable, changing, a link): the
    /// same names on the Space's side are left as they are, never taken as deleted here.
    pub skipped: Vec<String>,
}

pub(super) fn stamp_of(m: &std::fs::Metadata) -> Stamp {
    Stamp {
        size: m.len(),
        mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
        ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
        inode: m.ino(),
    }
}

/// Walks `root`. A missing root (a disk not mounted) is an error: the run stops.
pub(super) fn walk(root: &Path) -> Result<Local> {
    let meta = std::fs::metadata(root).map_err(|e| {
        Error::Gone(format!(
            "The folder “{}” is not there ({e}); nothing was synced. Is its disk mounted?",
            root.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(Error::InvalidInput(format!(
            "“{}” is not a folder.",
            root.display()
        )));
    }
    let mut out = Local {
        files: BTreeMap::new(),
        problems: Vec::new(),
        unreadable: Vec::new(),
        skipped: Vec::new(),
    };
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                out.unreadable.push(rel.clone());
                out.problems.push(Problem {
                    path: rel.clone(),
                    message: format!("the folder can't be read: {e}"),
                });
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    out.unreadable.push(rel.clone());
                    out.problems.push(Problem {
                        path: rel.clone(),
                        message: format!("the folder can't be read whole: {e}"),
                    });
                    continue;
                }
            };
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                let lossy = format!("{rel}{}", entry.file_name().to_string_lossy());
                out.skipped.push(lossy.clone());
                out.problems.push(Problem {
                    path: lossy,
                    message: "its name is not valid UTF-8, which a Space can't hold".into(),
                });
                continue;
            };
            // The desktop's trash of a disk mounted at the folder: what was deleted stays deleted.
            if rel.is_empty()
                && (name.starts_with(".Trash-")
                    || name == ".Trash"
                    || name == ".Trashes"
                    || name == "$RECYCLE.BIN")
            {
                continue;
            }
            let path = entry.path();
            let meta = match path.symlink_metadata() {
                Ok(m) => m,
                Err(e) => {
                    out.skipped.push(format!("{rel}{name}"));
                    out.problems.push(Problem {
                        path: format!("{rel}{name}"),
                        message: format!("it can't be read: {e}"),
                    });
                    continue;
                }
            };
            if meta.is_symlink() {
                out.skipped.push(format!("{rel}{name}"));
                out.problems.push(Problem {
                    path: format!("{rel}{name}"),
                    message: "it is a link; links are not synced".into(),
                });
            } else if meta.is_dir() {
                stack.push((path, format!("{rel}{name}/")));
            } else if meta.is_file() && !is_partial(&name) {
                let stamp = stamp_of(&meta);
                out.files.insert(
                    format!("{rel}{name}"),
                    LocalFile {
                        path,
                        now: LocalNow {
                            size: stamp.size,
                            stamp,
                            md5: None,
                        },
                    },
                );
            }
        }
    }
    Ok(out)
}

/// Each file's MD5: the baseline's when its stamp has not moved, otherwise read from it.
/// A file that can't be read is taken out of the scan, as a problem.
pub(super) async fn hash(local: &mut Local, base: &HashMap<String, Base>) {
    let mut todo = Vec::new();
    for (rel, f) in local.files.iter_mut() {
        match base.get(rel) {
            Some(b) if b.local == f.now.stamp => f.now.md5 = Some(b.md5.clone()),
            _ => todo.push((rel.clone(), f.path.clone())),
        }
    }
    let sums = futures_util::stream::iter(todo.into_iter().map(|(rel, path)| async move {
        // Looked at again after reading: a file that changed meanwhile has no sum this run.
        let sum = tokio::task::spawn_blocking(move || {
            let before = path.symlink_metadata().map(|m| stamp_of(&m))?;
            let sum = integrity::md5_of_file(&path)?;
            let after = path.symlink_metadata().map(|m| stamp_of(&m))?;
            if before != after {
                return Err(std::io::Error::other(
                    "it changed while it was read; it is synced next time",
                ));
            }
            Ok((sum, after))
        })
        .await;
        (rel, sum)
    }))
    .buffer_unordered(8)
    .collect::<Vec<_>>()
    .await;
    for (rel, sum) in sums {
        match sum {
            Ok(Ok((sum, stamp))) => {
                if let Some(f) = local.files.get_mut(&rel) {
                    f.now.md5 = Some(integrity::hex(&sum));
                    f.now.stamp = stamp;
                    f.now.size = stamp.size;
                }
            }
            Ok(Err(e)) => {
                local.files.remove(&rel);
                local.skipped.push(rel.clone());
                local.problems.push(Problem {
                    path: rel,
                    message: format!("it can't be read: {e}"),
                });
            }
            Err(e) => {
                local.files.remove(&rel);
                local.skipped.push(rel.clone());
                local.problems.push(Problem {
                    path: rel,
                    message: format!("reading it stopped: {e}"),
                });
            }
        }
    }
}

pub(super) struct RemoteFile {
    pub key: String,
    pub now: RemoteNow,
}

/// The Space below `prefix`, every key checked to be a path the folder can hold; the trash
/// folder is left out. A listing that fails, even half way, fails the scan: no plan is made
/// from half a listing.
pub(super) async fn list(
    at: &SpaceRef,
    prefix: &str,
    trash: Option<&str>,
    root: &Path,
) -> Result<(BTreeMap<String, RemoteFile>, Vec<Problem>)> {
    let ctx = Context::space(&at.endpoint, &at.name);
    let mut files = BTreeMap::new();
    let mut problems = Vec::new();
    listing::each_page(
        &at.client,
        ctx,
        &at.name,
        prefix,
        None,
        Some(1000),
        |page| {
            for o in page.objects {
                let Some(key) = o.key() else { continue };
                if key.ends_with('/') || trash.is_some_and(|t| key.starts_with(t)) {
                    continue;
                }
                let rel = &key[prefix.len()..];
                // The walk skips these names, so they would look deleted in the folder.
                if rel.rsplit('/').next().is_some_and(is_partial) {
                    problems.push(Problem {
                        path: rel.to_string(),
                        message: "its name is one Spacedock gives files it is still writing; it is not synced".into(),
                    });
                    continue;
                }
                if let Err(why) = path_inside(root, rel) {
                    problems.push(Problem {
                        path: rel.to_string(),
                        message: format!("it can't be a file in the folder: {why}"),
                    });
                    continue;
                }
                files.insert(
                    rel.to_string(),
                    RemoteFile {
                        key: key.to_string(),
                        now: RemoteNow {
                            size: o.size().unwrap_or(0).max(0) as u64,
                            etag: integrity::bare(o.e_tag().unwrap_or_default()).to_string(),
                            md5: None,
                        },
                    },
                );
            }
            true
        },
    )
    // A listing that fails, even half way, fails the plan as it failed (nothing is synced).
    .await?;
    for f in files.values_mut() {
        if let integrity::Known::Md5(sum) = integrity::known(&f.now.etag, None) {
            f.now.md5 = Some(integrity::hex(&sum));
        }
    }
    Ok((files, problems))
}

/// The whole MD5 of objects stored in parts, for the ones a decision needs: the stored MD5
/// (as rclone and Spacedock write it), or the parts' ETag recomputed from the local file.
pub(super) async fn prove_parts(
    at: &SpaceRef,
    remote: &mut BTreeMap<String, RemoteFile>,
    local: &Local,
    base: &HashMap<String, Base>,
) {
    let wanted: Vec<(String, String, Option<PathBuf>, Option<String>)> = remote
        .iter()
        .filter(|(rel, f)| {
            f.now.md5.is_none()
                && local.files.contains_key(*rel)
                && base
                    .get(*rel)
                    .is_none_or(|b| !integrity::bare(&b.etag).eq_ignore_ascii_case(&f.now.etag))
        })
        .map(|(rel, f)| {
            let l = local.files.get(rel);
            (
                rel.clone(),
                f.key.clone(),
                l.map(|l| l.path.clone()),
                l.and_then(|l| l.now.md5.clone()),
            )
        })
        .collect();
    let found =
        futures_util::stream::iter(wanted.into_iter().map(|(rel, key, path, local_md5)| {
            let at = at.clone();
            let etag = remote
                .get(&rel)
                .map(|f| f.now.etag.clone())
                .unwrap_or_default();
            let size = remote.get(&rel).map_or(0, |f| f.now.size);
            async move {
                let head = at
                    .client
                    .head_object()
                    .bucket(&at.name)
                    .key(&key)
                    .send()
                    .await;
                let stored = head.ok().and_then(|h| integrity::stored_md5(h.metadata()));
                if let Some(sum) = stored.as_deref().and_then(integrity::from_base64) {
                    return (rel, Some(integrity::hex(&sum)));
                }
                // No stored MD5: the parts' ETag, recomputed from the local file with each part size
                // a client would pick, proves the local file is what the Space holds.
                if let (integrity::Known::Parts { etag, count }, Some(path), Some(md5)) =
                    (integrity::known(&etag, None), path, local_md5)
                {
                    let guesses = integrity::part_size_guesses(size, count);
                    let matched = tokio::task::spawn_blocking(move || {
                        guesses.into_iter().any(|part| {
                            integrity::multipart_etag_of_file(&path, size, part)
                                .is_ok_and(|e| e.eq_ignore_ascii_case(&etag))
                        })
                    })
                    .await
                    .unwrap_or(false);
                    if matched {
                        return (rel, Some(md5));
                    }
                }
                (rel, None)
            }
        }))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    for (rel, md5) in found {
        if let (Some(f), Some(md5)) = (remote.get_mut(&rel), md5) {
            f.now.md5 = Some(md5);
        }
    }
}

/// Paths that one disk may take as one file (`A`/`a`, é composed/decomposed): none of them is
/// synced, as either could replace the other.
pub(super) fn same_on_some_disks<'a>(paths: impl Iterator<Item = &'a String>) -> Vec<Vec<String>> {
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in paths {
        let group = by.entry(folded(Path::new(p))).or_default();
        if !group.contains(p) {
            group.push(p.clone());
        }
    }
    by.into_values().filter(|g| g.len() > 1).collect()
}
