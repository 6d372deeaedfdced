//! Where a downloaded file lands on the user's disk. Keys come from the server, and a hostile or
//! odd key must never put a file outside the folder the user chose: one function turns a key into
//! a path inside it, or says why it can't.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use unicode_normalization::UnicodeNormalization;

/// Most file systems allow 255 bytes in one name.
pub const MAX_NAME: usize = 255;

/// The path below `dest` for `relative` (a key, or the part of a key below a downloaded folder),
/// or why it can't be saved there. Refused: an empty key, a leading `/`, empty segments (`a//b`),
/// `.` and `..`, NUL, a backslash, a drive prefix (`C:`), and names over 255 bytes.
pub fn path_inside(dest: &Path, relative: &str) -> Result<PathBuf, String> {
    if relative.is_empty() {
        return Err("its name is empty".into());
    }
    if relative.starts_with('/') {
        return Err("its name starts with “/”, which would point outside the chosen folder".into());
    }
    let mut path = dest.to_path_buf();
    for segment in relative.split('/') {
        check_segment(segment)?;
        path.push(segment);
    }
    // Belt and braces: whatever the rules above missed, the result must stay below `dest`.
    let below = path
        .strip_prefix(dest)
        .map(|rest| rest.components().all(|c| matches!(c, Component::Normal(_))))
        .unwrap_or(false);
    if !below || path == dest {
        return Err("its name would point outside the chosen folder".into());
    }
    Ok(path)
}

fn check_segment(segment: &str) -> Result<(), String> {
    match segment {
        "" => Err("its name has an empty folder (“//”)".into()),
        "." | ".." => Err(format!(
            "its name has a “{segment}” folder, which would point outside the chosen folder"
        )),
        s if s.contains('\0') => Err("its name holds a NUL character".into()),
        s if s.contains('\\') => Err("its name holds a backslash".into()),
        s if has_drive_prefix(s) => Err(format!("its name starts with a drive (“{}”)", &s[..2])),
        s if s.len() > MAX_NAME => Err(format!(
            "a name in it is {} bytes long; files may have at most {MAX_NAME}",
            s.len()
        )),
        _ => Ok(()),
    }
}

fn has_drive_prefix(segment: &str) -> bool {
    let b = segment.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// "photo.jpg" → "photo (1).jpg", numbered until `taken` says the name is free.
pub fn keep_both_path(path: &Path, mut taken: impl FnMut(&Path) -> bool) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut n = 1u32;
    loop {
        let candidate = path.with_file_name(super::plan::keep_both_key(&name, n));
        if !taken(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

/// The temporary name a download is written under before it is renamed into place: hidden,
/// marked as partial, and within the 255 bytes a name may have however long the final name is.
pub fn partial_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    // "." + name + "." + tag + ".spacedock-part"
    let room = MAX_NAME - 1 - 1 - tag.len() - ".spacedock-part".len();
    let mut cut = name.len().min(room);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    dest.with_file_name(format!(".{}.{tag}.spacedock-part", &name[..cut]))
}

/// True for the temporary files [`partial_path`] makes.
pub fn is_partial(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".spacedock-part")
}

/// A path as a disk that ignores case or Unicode form sees it (exFAT and FAT sticks, SMB, macOS):
/// `Photo.JPG` and `photo.jpg`, or `é` composed and decomposed, are one file there.
pub fn folded(path: &Path) -> String {
    let nfc: String = path.to_string_lossy().nfc().collect();
    nfc.to_lowercase().nfc().collect()
}

/// The local paths every running download writes to, folded: no two files of any batch may
/// land on one path, even on a disk that can't tell them apart.
#[derive(Clone, Default)]
pub struct LocalClaims(Arc<Mutex<HashSet<String>>>);

/// A claim on one local path, let go when dropped.
pub struct Claim {
    folded: String,
    claims: LocalClaims,
}

impl Drop for Claim {
    fn drop(&mut self) {
        spacedock_common::sync::lock(&self.claims.0).remove(&self.folded);
    }
}

impl LocalClaims {
    /// Claims `path` for one file, or None when a running download has it already.
    pub fn claim(&self, path: &Path) -> Option<Claim> {
        let folded = folded(path);
        spacedock_common::sync::lock(&self.0)
            .insert(folded.clone())
            .then(|| Claim {
                folded,
                claims: self.clone(),
            })
    }

    pub fn is_claimed(&self, path: &Path) -> bool {
        spacedock_common::sync::lock(&self.0).contains(&folded(path))
    }
}

/// What a file on disk was when a download was planned over it: an overwrite replaces that
/// file only, never one that came there or changed since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LocalStamp {
    dev: u64,
    ino: u64,
    size: u64,
    modified: i64,
    modified_nanos: i64,
}

impl LocalStamp {
    /// The file at `path` now (a link is itself, not what it points to), or None.
    pub fn of(path: &Path) -> Option<LocalStamp> {
        let m = path.symlink_metadata().ok()?;
        Some(LocalStamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            modified: m.mtime(),
            modified_nanos: m.mtime_nsec(),
        })
    }
}

/// Renames `from` to `to` only if nothing is at `to` (an error of kind AlreadyExists if there
/// is): the check and the rename are one step on the disk, so a file that lands at `to` in
/// between is never replaced.
pub fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (f, t) = (c(from)?, c(to)?);
    // SAFETY: both are valid NUL-terminated paths that live across the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        // A file system that can't rename without replacing: a hard link can't replace either.
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => {
            match std::fs::hard_link(from, to) {
                Ok(()) => std::fs::remove_file(from),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
                // Neither (a disk without links): looked at just before, the best there is.
                Err(_) if to.symlink_metadata().is_ok() => {
                    Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists))
                }
                Err(_) => std::fs::rename(from, to),
            }
        }
        _ => Err(e),
    }
}

/// Puts a finished download in place: over the file planned to be replaced (`replace`: what it
/// was at the plan) if it is still that file, otherwise only where nothing is, under the next
/// numbered name if its own is taken. Never over a file it did not plan to replace, nor on a
/// path another running download has claimed. Returns where it went.
pub fn place(
    partial: &Path,
    path: &Path,
    replace: Option<LocalStamp>,
    claims: &LocalClaims,
) -> std::io::Result<PathBuf> {
    if let Some(planned) = replace {
        if LocalStamp::of(path) == Some(planned) {
            std::fs::rename(partial, path)?;
            return Ok(path.to_path_buf());
        }
    }
    let mut to = path.to_path_buf();
    let mut _claim = None;
    loop {
        match rename_noreplace(partial, &to) {
            Ok(()) => return Ok(to),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let taken = |p: &Path| p.symlink_metadata().is_ok() || claims.is_claimed(p);
                to = keep_both_path(path, taken);
                _claim = claims.claim(&to);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Makes the folders of `path` below `dest`, one at a time: a folder that is a link is followed
/// only if it leads inside `dest`, so no folder is ever made outside the one chosen.
pub fn make_folders_inside(dest: &Path, path: &Path) -> std::io::Result<()> {
    let outside = |p: &Path| {
        std::io::Error::other(format!(
            "“{}” is a link to a folder outside the chosen one",
            p.display()
        ))
    };
    let real_dest = std::fs::canonicalize(dest)?;
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    let below = parent.strip_prefix(dest).map_err(|_| outside(parent))?;
    let mut at = dest.to_path_buf();
    for part in below.components() {
        at.push(part);
        match at.symlink_metadata() {
            Ok(m) if m.is_symlink() => {
                if !std::fs::canonicalize(&at)?.starts_with(&real_dest) {
                    return Err(outside(&at));
                }
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(std::io::Error::other(format!(
                    "“{}” is a file, not a folder",
                    at.display()
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::create_dir(&at) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_differ_in_case_or_unicode_form_fold_to_one() {
        let composed = Path::new("/d/Caf\u{e9}/Photo.JPG");
        let decomposed = Path::new("/d/cafe\u{301}/photo.jpg");
        assert_eq!(folded(composed), folded(decomposed));
        assert_ne!(folded(composed), folded(Path::new("/d/cafe/photo.jpg")));
        let claims = LocalClaims::default();
        let first = claims.claim(composed).expect("free");
        assert!(
            claims.claim(decomposed).is_none(),
            "one path on a folding disk"
        );
        drop(first);
        assert!(claims.claim(decomposed).is_some(), "let go when done");
    }

    #[test]
    fn a_finished_file_never_replaces_one_it_did_not_plan_to() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.txt");
        let partial = dir.path().join(".a.txt.x.spacedock-part");
        let claims = LocalClaims::default();
        // Nothing there: its own name.
        std::fs::write(&partial, b"one").expect("write");
        assert_eq!(place(&partial, &path, None, &claims).expect("placed"), path);
        // A file came there that was not planned over: beside it.
        std::fs::write(&partial, b"two").expect("write");
        let beside = place(&partial, &path, None, &claims).expect("placed");
        assert_eq!(beside, dir.path().join("a (1).txt"));
        assert_eq!(std::fs::read(&path).expect("read"), b"one");
        // Planned over, and still that file: replaced.
        let planned = LocalStamp::of(&path);
        std::fs::write(&partial, b"three").expect("write");
        assert_eq!(
            place(&partial, &path, planned, &claims).expect("placed"),
            path
        );
        assert_eq!(std::fs::read(&path).expect("read"), b"three");
        // Planned over, but changed since: kept, the new one beside it.
        let planned = LocalStamp::of(&path);
        std::fs::remove_file(&path).expect("remove");
        std::fs::write(&path, b"someone else's").expect("write");
        std::fs::write(&partial, b"four").expect("write");
        let kept = place(&partial, &path, planned, &claims).expect("placed");
        assert_ne!(kept, path);
        assert_eq!(std::fs::read(&path).expect("read"), b"someone else's");
        assert_eq!(std::fs::read(&kept).expect("read"), b"four");
    }

    #[test]
    fn no_folder_is_made_through_a_link_out_of_the_chosen_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (dest, elsewhere) = (dir.path().join("dest"), dir.path().join("elsewhere"));
        std::fs::create_dir_all(&dest).expect("dest");
        std::fs::create_dir_all(&elsewhere).expect("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, dest.join("photos")).expect("link");
        let file = dest.join("photos/2024/a.jpg");
        make_folders_inside(&dest, &file).expect_err("a link out");
        assert!(!elsewhere.join("2024").exists(), "nothing made outside");
        make_folders_inside(&dest, &dest.join("inside/2024/a.jpg")).expect("made");
        assert!(dest.join("inside/2024").is_dir());
    }

    #[test]
    fn ordinary_keys_land_below_the_folder() {
        let dest = Path::new("/home/u/Downloads");
        assert_eq!(
            path_inside(dest, "album/2026/ünï photo+1.jpg"),
            Ok(dest.join("album/2026/ünï photo+1.jpg"))
        );
        assert_eq!(path_inside(dest, "..hidden"), Ok(dest.join("..hidden")));
        assert_eq!(path_inside(dest, "a..b/c"), Ok(dest.join("a..b/c")));
    }

    #[test]
    fn hostile_keys_are_refused() {
        let dest = Path::new("/home/u/Downloads");
        for bad in [
            "",
            "/",
            "/home/u/.bashrc",
            "a//b",
            "a/",
            "./a",
            "a/./b",
            "..",
            "../x",
            "a/../../x",
            "a\0b",
            "a\\..\\b",
            "C:/Windows",
            "c:evil",
        ] {
            assert!(path_inside(dest, bad).is_err(), "{bad:?} was accepted");
        }
        let long = "x".repeat(256);
        assert!(path_inside(dest, &long)
            .expect_err("too long")
            .contains("255"));
        assert!(path_inside(dest, &"x".repeat(255)).is_ok());
    }

    #[test]
    fn keep_both_numbers_until_free() {
        let taken = [
            PathBuf::from("/d/a.jpg"),
            PathBuf::from("/d/a (1).jpg"),
            PathBuf::from("/d/a (2).jpg"),
        ];
        assert_eq!(
            keep_both_path(Path::new("/d/a.jpg"), |p| taken.iter().any(|t| t == p)),
            PathBuf::from("/d/a (3).jpg")
        );
    }

    #[test]
    fn partial_names_fit_in_255_bytes() {
        for len in [1, 200, 240, 255] {
            let dest = PathBuf::from("/d").join("é".repeat(len / 2) + "x");
            let partial = partial_path(&dest);
            let name = partial
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string();
            assert!(name.len() <= MAX_NAME, "{} bytes", name.len());
            assert!(is_partial(&name));
            assert_eq!(partial.parent(), dest.parent());
        }
    }
}
