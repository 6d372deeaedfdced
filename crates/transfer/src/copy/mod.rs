//! Server-side copies, moves and renames: files and folders copied within a Space, or to another
//! Space of the same region, without their bytes passing through this computer. Each copy is of
//! the version that was planned (refused if the file changed since), lands only where planned
//! (a name taken or changed since the plan is not replaced), keeps the file's metadata, and its
//! permission: its exact grants within a Space, and in another Space only what means the same
//! there (Public or Private), saying which grants stayed behind. A move removes each original
//! right after its copy is stored, and only if it is still the version that was copied.

mod run;

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use run::run;

use super::plan::Problem;
use super::unfinished::Unfinished;
use crate::error::{Error, Result};
use crate::s3::{map_error, Context};

/// Copy leaves the originals; Move removes each once its copy is stored; Restore copies an
/// earlier version of a file over the file itself, which keeps its permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum CopyMode {
    Copy,
    Move,
    Restore,
}

impl CopyMode {
    fn not_done(self) -> &'static str {
        match self {
            CopyMode::Copy => "Not copied",
            CopyMode::Move => "Not moved",
            CopyMode::Restore => "Not restored",
        }
    }
}

/// Two Spaces reached through one client (the same region): files go from one to the other,
/// or within one when they are the same.
#[derive(Clone)]
pub struct Between {
    pub client: aws_sdk_s3::Client,
    pub endpoint: String,
    pub from: String,
    pub to: String,
    /// Where copies in parts are noted while they run, so a quit or a crash never leaves one
    /// on the server unseen (the next start aborts it).
    pub unfinished: Option<Arc<Unfinished>>,
}

impl Between {
    pub fn new(client: &aws_sdk_s3::Client, endpoint: &str, from: &str, to: &str) -> Between {
        Between {
            client: client.clone(),
            endpoint: endpoint.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            unfinished: None,
        }
    }

    fn same_space(&self) -> bool {
        self.from == self.to
    }
}

/// One file to copy, as it was when the copy was planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyFile {
    /// Its place in the batch, as the queue knows it.
    pub id: u32,
    pub from: String,
    pub to: String,
    pub size: u64,
    /// The copy is of this version: if the file changes meanwhile, it is not copied.
    pub etag: String,
    /// The copy is stored already (a move whose original could not be removed): a retry only
    /// removes the original, if it is still the version copied and the copy still this one.
    pub copied: bool,
    /// The ETag of the copy made.
    pub copy_etag: Option<String>,
    /// The version copied, when it is not the current one (a version put back).
    #[serde(default)]
    pub version: Option<String>,
}

impl CopyFile {
    /// A folder's marker (a zero-byte key ending in “/”): the folder itself, not a file.
    fn is_folder_marker(&self) -> bool {
        self.from.ends_with('/') && self.size == 0
    }
}

#[derive(Debug, Default)]
pub struct CopyPlan {
    pub files: Vec<CopyFile>,
    /// What can't be copied, and why.
    pub problems: Vec<Problem>,
}

/// How a batch of copies runs.
#[derive(Debug, Clone, Copy)]
pub struct CopySettings {
    /// Files copied at once: the server does the work, each a few small requests of its own,
    /// so many at once keep it busy (128: as fast as s5cmd's 256 workers on a move here).
    pub files_at_once: usize,
    /// Files bigger than this are copied in parts (S3 copies at most 5 GiB in one request).
    pub single_limit: u64,
    /// The size of those parts (bigger for files that would need more than 10,000).
    pub part_size: u64,
    /// A batch resumed after a restart: a file whose new key already holds a copy of its
    /// planned version (made before the app stopped, its note lost) is taken as copied.
    pub resumed: bool,
}

impl Default for CopySettings {
    fn default() -> Self {
        CopySettings {
            files_at_once: 128,
            single_limit: 5 << 30,
            part_size: 256 << 20,
            resumed: false,
        }
    }
}

/// How a batch ended.
#[derive(Debug, Clone, Default, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CopySummary {
    pub done: u32,
    /// Not copied: a file of that name was there and the batch's choice was Skip.
    pub skipped: u32,
    pub cancelled: u32,
    /// Files refused or failed, each with why.
    pub problems: Vec<Problem>,
    /// Files given another new key than planned (Keep both): their id and that key.
    pub renamed: Vec<(u32, String)>,
    /// Copied, with something the user should know: grants of the original that were not
    /// carried into another Space.
    pub notes: Vec<Problem>,
    /// Files whose copy is stored but whose original stayed (a move), with the copy's ETag: a
    /// retry only removes the original.
    #[serde(skip)]
    #[ts(skip)]
    pub copied: Vec<(u32, Option<String>)>,
}

/// A new name for a file or folder: one name, not a path.
pub fn check_name(name: &str) -> Result<&str> {
    let why = if name.is_empty() {
        "A name can't be empty."
    } else if name.contains('/') {
        "A name can't contain “/”: to put it in another folder, use Move."
    } else if name == "." || name == ".." {
        "“.” and “..” can't be names."
    } else if name.chars().any(char::is_control) {
        "A name can't contain control characters."
    } else if name.trim() != name {
        "A name can't begin or end with a space."
    } else {
        return Ok(name);
    };
    Err(Error::InvalidInput(why.into()))
}

/// The folder a key is in: "a/b/c.txt" → "a/b/", "a/b/" → "a/", "c.txt" → "".
pub fn parent(key: &str) -> &str {
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    match trimmed.rfind('/') {
        Some(i) => &key[..=i],
        None => "",
    }
}

/// Where a selected file or folder lands: in `folder`, under its own name or `rename`.
pub fn destination(key: &str, folder: &str, rename: Option<&str>) -> String {
    let is_folder = key.ends_with('/');
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    let name = rename.unwrap_or_else(|| trimmed.rsplit('/').next().unwrap_or(trimmed));
    format!("{folder}{name}{}", if is_folder { "/" } else { "" })
}

/// Plans copying (or moving) the selected `keys` into `folder` of the other Space, or, with
/// `rename`, the one selected file or folder to a new name beside it. Folders are expanded on
/// the server; a folder's files keep their path below it.
pub async fn plan(
    b: &Between,
    keys: &[String],
    folder: &str,
    rename: Option<&str>,
    mode: CopyMode,
) -> Result<CopyPlan> {
    if folder.starts_with('/') || !(folder.is_empty() || folder.ends_with('/')) {
        return Err(Error::InvalidInput(format!(
            "“{folder}” is not a folder: a folder's path ends in “/”."
        )));
    }
    if keys.is_empty() {
        return Err(Error::InvalidInput("Nothing is selected.".into()));
    }
    if let Some(name) = rename {
        check_name(name)?;
        if keys.len() != 1 {
            return Err(Error::InvalidInput(
                "Rename one file or folder at a time.".into(),
            ));
        }
    }
    let ctx = Context::space(&b.endpoint, &b.from);
    let mut plan = CopyPlan::default();
    let mut seen = HashSet::new();
    // Each new key and the file that takes it: two files never land on one name.
    let mut landing = std::collections::HashMap::new();
    let refuse = |plan: &mut CopyPlan, key: &str, why: &str| {
        plan.problems.push(Problem {
            path: key.to_string(),
            message: format!("{}: {why}.", mode.not_done()),
        })
    };
    for key in keys {
        if key.is_empty() || key == "/" {
            return Err(Error::InvalidInput(
                "Pick the files and folders to copy, not the whole Space.".into(),
            ));
        }
        let here = match rename {
            Some(_) => parent(key),
            None => folder,
        };
        let root = destination(key, here, rename);
        if b.same_space() && root == *key {
            refuse(&mut plan, key, "it is already there");
            continue;
        }
        if b.same_space() && key.ends_with('/') && root.starts_with(key.as_str()) {
            refuse(&mut plan, key, "a folder can't go inside itself");
            continue;
        }
        let mut found = Vec::new();
        if key.ends_with('/') {
            // Below the folder only: a key the server lists elsewhere refuses the whole plan.
            for o in crate::listing::keys_below(&b.client, ctx, &b.from, key).await? {
                let Some(k) = o.key() else { continue };
                let Some(below) = k.strip_prefix(key.as_str()) else {
                    continue;
                };
                let to = format!("{root}{below}");
                let etag = o.e_tag().unwrap_or_default().to_string();
                found.push((k.to_string(), to, o.size().unwrap_or(0).max(0) as u64, etag));
            }
        } else {
            match b.client.head_object().bucket(&b.from).key(key).send().await {
                Ok(head) => found.push((
                    key.clone(),
                    root.clone(),
                    head.content_length().unwrap_or(0).max(0) as u64,
                    head.e_tag().unwrap_or_default().to_string(),
                )),
                Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => {}
                Err(e) => return Err(map_error(e, ctx)),
            }
        }
        if found.is_empty() {
            refuse(&mut plan, key, "it is no longer there");
        }
        for (from, to, size, etag) in found {
            if to.len() > 1024 {
                refuse(
                    &mut plan,
                    &from,
                    "its new path would be longer than 1,024 bytes",
                );
            } else if !seen.insert(from.clone()) {
                // Selected twice (a file and its folder): copied once.
            } else if let Some(first) = landing.get(&to) {
                // The last copy would win and, in a move, both originals would go.
                let why = format!("“{first}” goes to the same new name, “{to}”");
                refuse(&mut plan, &from, &why);
            } else {
                landing.insert(to.clone(), from.clone());
                let id = plan.files.len() as u32;
                plan.files.push(CopyFile {
                    id,
                    from,
                    to,
                    size,
                    etag,
                    copied: false,
                    copy_etag: None,
                    version: None,
                });
            }
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_lands_in_the_folder_under_its_own_name() {
        assert_eq!(destination("a/b/c.txt", "x/", None), "x/c.txt");
        assert_eq!(destination("a/b/", "x/", None), "x/b/");
        assert_eq!(destination("c.txt", "", None), "c.txt");
        assert_eq!(destination("a/b/", "a/", Some("d")), "a/d/");
        assert_eq!(destination("a/c.txt", "a/", Some("e.txt")), "a/e.txt");
    }

    #[test]
    fn the_parent_of_a_file_or_folder() {
        assert_eq!(parent("a/b/c.txt"), "a/b/");
        assert_eq!(parent("a/b/"), "a/");
        assert_eq!(parent("c.txt"), "");
        assert_eq!(parent("b/"), "");
    }

    #[test]
    fn a_new_name_is_one_plain_name() {
        assert!(check_name("report 2.pdf").is_ok());
        for bad in ["", "a/b", ".", "..", " lead", "trail ", "tab\there"] {
            let e = check_name(bad).expect_err(bad);
            assert_eq!(e.kind(), crate::error::ErrorKind::InvalidInput, "{bad}");
        }
    }
}
