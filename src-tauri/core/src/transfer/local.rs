//! Where a downloaded file lands on the user's disk. Keys come from the server, and a hostile or
//! odd key must never put a file outside the folder the user chose: one function turns a key into
//! a path inside it, or says why it can't.

use std::path::{Component, Path, PathBuf};

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

#[cfg(test)]
mod tests {
    use super::*;

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
