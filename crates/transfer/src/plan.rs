//! Turning dropped or picked paths into uploads: folders are walked and keep their structure.
//! Every problem is reported per path and never stops the rest.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub key: String,
    pub size: u64,
}

pub use spacedock_common::Problem;

#[derive(Debug, Default)]
pub struct Plan {
    pub files: Vec<PlannedFile>,
    /// Keys of empty folders, kept as zero-byte `name/` keys so the structure survives.
    pub empty_folders: Vec<String>,
    pub problems: Vec<Problem>,
}

/// S3 keys are at most 1,024 bytes of UTF-8.
const MAX_KEY: usize = 1024;

/// Plans the upload of `paths` into the folder `prefix` (empty or ending in `/`).
pub fn plan(paths: &[PathBuf], prefix: &str) -> Plan {
    let mut plan = Plan::default();
    let mut seen_dirs = HashSet::new();
    for path in paths {
        let Some(name) = file_name(path, &mut plan) else {
            continue;
        };
        // Links inside a dropped folder are followed only while they stay inside it.
        let root = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        walk(
            path,
            &format!("{prefix}{name}"),
            &mut plan,
            &mut seen_dirs,
            &root,
        );
    }
    plan
}

fn file_name(path: &Path, plan: &mut Plan) -> Option<String> {
    match path.file_name().map(|n| n.to_str()) {
        Some(Some(name)) => Some(name.to_string()),
        Some(None) => {
            problem(
                plan,
                path,
                "its name is not valid UTF-8, which S3 keys must be",
            );
            None
        }
        None => {
            problem(plan, path, "it has no file name");
            None
        }
    }
}

fn problem(plan: &mut Plan, path: &Path, message: &str) {
    plan.problems.push(Problem {
        path: path.to_string_lossy().to_string(),
        message: format!("Not uploaded: {message}."),
    });
}

fn walk(path: &Path, key: &str, plan: &mut Plan, seen_dirs: &mut HashSet<(u64, u64)>, root: &Path) {
    // Follows symbolic links that stay inside the dropped folder, as a file manager's copy
    // does (loops are caught below); one that leads outside it is reported, not followed.
    if path.symlink_metadata().is_ok_and(|m| m.is_symlink()) {
        if let Ok(target) = std::fs::canonicalize(path) {
            if !target.starts_with(root) {
                return problem(
                    plan,
                    path,
                    &format!(
                        "it is a link to {}, outside the dropped folder, and was not followed",
                        target.display()
                    ),
                );
            }
        }
    }
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return problem(plan, path, "it no longer exists (or is a broken link)");
        }
        Err(e) => return problem(plan, path, &format!("it can't be read ({e})")),
    };
    if key.len() > MAX_KEY {
        return problem(
            plan,
            path,
            "its path in the Space would be longer than the 1,024 bytes S3 allows",
        );
    }
    if meta.is_file() {
        if let Err(e) = std::fs::File::open(path) {
            return problem(plan, path, &format!("it can't be read ({e})"));
        }
        plan.files.push(PlannedFile {
            path: path.to_path_buf(),
            key: key.to_string(),
            size: meta.len(),
        });
    } else if meta.is_dir() {
        if !seen_dirs.insert((meta.dev(), meta.ino())) {
            return problem(
                plan,
                path,
                "it is a link back into a folder already being uploaded (a loop)",
            );
        }
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(e) => return problem(plan, path, &format!("the folder can't be read ({e})")),
        };
        let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        if children.is_empty() {
            plan.empty_folders.push(format!("{key}/"));
        }
        for child in children {
            let Some(name) = file_name(&child, plan) else {
                continue;
            };
            walk(&child, &format!("{key}/{name}"), plan, seen_dirs, root);
        }
        seen_dirs.remove(&(meta.dev(), meta.ino()));
    } else {
        problem(
            plan,
            path,
            "it is not a regular file or folder (a device, socket or pipe)",
        );
    }
}

/// "name.ext" → "name (1).ext": the "keep both" choice when a file already exists.
pub fn keep_both_key(key: &str, n: u32) -> String {
    let (dir, name) = match key.rfind('/') {
        Some(i) => (&key[..=i], &key[i + 1..]),
        None => ("", key),
    };
    match name.rfind('.').filter(|&i| i > 0) {
        Some(i) => format!("{dir}{} ({n}){}", &name[..i], &name[i..]),
        None => format!("{dir}{name} ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_keep_their_structure_under_the_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("album");
        std::fs::create_dir_all(root.join("2026/empty")).expect("dirs");
        std::fs::write(root.join("cover one+.jpg"), b"abc").expect("file");
        std::fs::write(root.join("2026/ünï.txt"), b"").expect("file");
        let loose = dir.path().join("loose.txt");
        std::fs::write(&loose, b"12345").expect("file");

        let plan = plan(&[root, loose], "uploads/");
        let keys: Vec<_> = plan
            .files
            .iter()
            .map(|f| (f.key.as_str(), f.size))
            .collect();
        assert_eq!(
            keys,
            [
                ("uploads/album/2026/ünï.txt", 0),
                ("uploads/album/cover one+.jpg", 3),
                ("uploads/loose.txt", 5)
            ]
        );
        assert_eq!(plan.empty_folders, ["uploads/album/2026/empty/"]);
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    }

    #[test]
    fn problems_are_per_path_and_the_rest_goes_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("d");
        std::fs::create_dir(&root).expect("dir");
        std::fs::write(root.join("ok.txt"), b"x").expect("file");
        std::os::unix::fs::symlink(&root, root.join("loop")).expect("symlink");
        std::os::unix::fs::symlink(dir.path().join("missing"), root.join("broken"))
            .expect("symlink");
        let plan = plan(&[root.clone(), dir.path().join("vanished")], "");
        assert_eq!(
            plan.files
                .iter()
                .map(|f| f.key.as_str())
                .collect::<Vec<_>>(),
            ["d/ok.txt"]
        );
        let messages: Vec<_> = plan.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(plan.problems.len(), 3, "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("loop")));
        assert!(
            messages
                .iter()
                .filter(|m| m.contains("no longer exists"))
                .count()
                == 2
        );
    }

    #[test]
    fn links_out_of_the_dropped_folder_are_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("elsewhere");
        std::fs::create_dir(&secret).expect("dir");
        std::fs::write(secret.join("private.txt"), b"x").expect("file");
        let root = dir.path().join("drop");
        std::fs::create_dir_all(root.join("sub")).expect("dir");
        std::fs::write(root.join("sub/in.txt"), b"y").expect("file");
        std::os::unix::fs::symlink(&secret, root.join("out")).expect("symlink");
        std::os::unix::fs::symlink(secret.join("private.txt"), root.join("out.txt"))
            .expect("symlink");
        std::os::unix::fs::symlink(root.join("sub/in.txt"), root.join("inside.txt"))
            .expect("symlink");
        let plan = plan(&[root], "");
        let keys: Vec<_> = plan.files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["drop/inside.txt", "drop/sub/in.txt"]);
        assert_eq!(plan.problems.len(), 2, "{:?}", plan.problems);
        assert!(plan
            .problems
            .iter()
            .all(|p| p.message.contains("outside the dropped folder")));
    }

    #[test]
    fn keep_both_numbers_the_name() {
        assert_eq!(keep_both_key("a/b/photo.jpg", 1), "a/b/photo (1).jpg");
        assert_eq!(keep_both_key("README", 2), "README (2)");
        assert_eq!(keep_both_key(".env", 1), ".env (1)");
    }
}
