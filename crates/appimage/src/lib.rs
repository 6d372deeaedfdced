//! The runtime at the head of Spacedock's AppImage (the AppImage "type 2" layout: an ELF program
//! with a SquashFS image appended). It finds the image right after its own ELF bytes, unpacks it
//! once into the user's cache and hands over to the image's `AppRun`.
//!
//! `make-appimage` records the image's SHA-256 in the runtime's `.spacedock_digest` section. The
//! image is checked against it before it is unpacked (SquashFS has no checksums of its own, so a
//! damaged download would otherwise run), and it names the unpacking, so a new version never runs
//! an old one.
//!
//! It unpacks instead of mounting through FUSE: FUSE needs a setuid helper and a kernel module that
//! containers and locked-down desktops often lack, and the app is small enough (about 30 MB) to
//! unpack in well under a second, once per version.

use std::ffi::{OsStr, OsString};
use std::fs::{self, DirBuilder, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use backhand::{FilesystemReader, InnerNode};
use sha2::{Digest, Sha256};

/// What can go wrong, in words for the person who started the AppImage.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("{0} is not a 64-bit little-endian ELF program, so it is not an AppImage this runtime can read")]
    NotAnElf(PathBuf),
    #[error(
        "{0} carries no SquashFS image after its program: it is the bare runtime, not an AppImage"
    )]
    NoImage(PathBuf),
    #[error("{0} carries no digest of its image: it was not made by make-appimage")]
    NoDigest(PathBuf),
    #[error("the AppImage is damaged (its SquashFS image can't be read: {0}); download it again")]
    Damaged(String),
    #[error("the AppImage holds a path that would land outside its folder: {0}")]
    UnsafePath(PathBuf),
    #[error("the AppImage has no AppRun at its top, so there is nothing to start")]
    NoAppRun,
    #[error("no folder for the unpacked app: neither XDG_CACHE_HOME nor HOME is set")]
    NoCacheFolder,
    #[error(
        "other starts of the app kept changing {0} while this one unpacked it; start it again"
    )]
    Busy(PathBuf),
    #[error("refusing to start the app from {}: {why}; {advice}", path.display())]
    Unsafe {
        path: PathBuf,
        why: String,
        advice: String,
    },
}

pub type Result<T> = std::result::Result<T, RuntimeError>;

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> RuntimeError {
    let what = what.into();
    move |source| RuntimeError::Io { what, source }
}

/// Every folder unpacked (the umask may take away more, never add).
const FOLDER_MODE: u32 = 0o755;

/// SquashFS's magic, "hsqs" (little-endian).
const SQUASHFS_MAGIC: &[u8; 4] = b"hsqs";

/// The runtime's section that `make-appimage` fills with the SHA-256 of the image it appends.
pub const DIGEST_SECTION: &str = ".spacedock_digest";

/// What the runtime needs of an ELF program: where it ends, and where its digest section is.
struct Elf {
    end: u64,
    /// (name, file offset, size) of each section with bytes in the file
    sections: Vec<(String, u64, u64)>,
}

fn u16_at(b: &[u8], at: usize) -> u64 {
    u16::from_le_bytes([b[at], b[at + 1]]) as u64
}
fn u32_at(b: &[u8], at: usize) -> u64 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as u64
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(word)
}

fn read_elf(path: &Path) -> Result<Elf> {
    let mut file = File::open(path).map_err(io_err(format!("can't open {}", path.display())))?;
    let not_elf = |_| RuntimeError::NotAnElf(path.to_owned());
    let mut header = [0u8; 64];
    file.read_exact(&mut header).map_err(not_elf)?;
    // Magic, 64-bit class (2), little-endian data (1).
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return Err(RuntimeError::NotAnElf(path.to_owned()));
    }
    let (phoff, shoff) = (u64_at(&header, 0x20), u64_at(&header, 0x28));
    let (phentsize, phnum) = (u16_at(&header, 0x36), u16_at(&header, 0x38));
    let (shentsize, shnum, shstrndx) = (
        u16_at(&header, 0x3A),
        u16_at(&header, 0x3C),
        u16_at(&header, 0x3E),
    );
    if (phnum > 0 && phentsize < 0x38) || (shnum > 0 && shentsize < 0x40) {
        return Err(RuntimeError::NotAnElf(path.to_owned()));
    }
    let mut end = (phoff + phentsize * phnum).max(shoff + shentsize * shnum);
    let mut read_at = |offset: u64, len: u64| -> Result<Vec<u8>> {
        file.seek(SeekFrom::Start(offset)).map_err(not_elf)?;
        let mut bytes = vec![0u8; len as usize];
        file.read_exact(&mut bytes).map_err(not_elf)?;
        Ok(bytes)
    };
    let program_headers = read_at(phoff, phentsize * phnum)?;
    for ph in program_headers.chunks(phentsize.max(1) as usize) {
        end = end.max(u64_at(ph, 0x08) + u64_at(ph, 0x20)); // p_offset + p_filesz
    }
    const SHT_NOBITS: u64 = 8; // .bss: takes memory, not file bytes
    let section_headers = read_at(shoff, shentsize * shnum)?;
    let raw: Vec<(u64, u64, u64)> = section_headers
        .chunks(shentsize.max(1) as usize)
        .filter(|sh| u32_at(sh, 4) != SHT_NOBITS)
        .map(|sh| (u32_at(sh, 0), u64_at(sh, 0x18), u64_at(sh, 0x20))) // name, offset, size
        .collect();
    for &(_, offset, size) in &raw {
        end = end.max(offset + size);
    }
    // Section names live in the section named by e_shstrndx.
    let names = match section_headers
        .chunks(shentsize.max(1) as usize)
        .nth(shstrndx as usize)
    {
        Some(sh) if shnum > 0 => read_at(u64_at(sh, 0x18), u64_at(sh, 0x20))?,
        _ => Vec::new(),
    };
    let name_at = |at: u64| -> String {
        let tail = names.get(at as usize..).unwrap_or_default();
        let len = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        String::from_utf8_lossy(&tail[..len]).into_owned()
    };
    let sections = raw
        .into_iter()
        .map(|(name, offset, size)| (name_at(name), offset, size))
        .collect();
    Ok(Elf { end, sections })
}

/// Where the ELF program ends, so where the image begins: the furthest of the section header
/// table, the program header table, and every segment and section that has bytes in the file.
pub fn elf_size(path: &Path) -> Result<u64> {
    Ok(read_elf(path)?.end)
}

/// The offset of the SquashFS image inside the AppImage at `path`, checked by its magic.
pub fn image_offset(path: &Path) -> Result<u64> {
    let offset = elf_size(path)?;
    let mut file = File::open(path).map_err(io_err(format!("can't open {}", path.display())))?;
    let mut magic = [0u8; 4];
    let found = file.seek(SeekFrom::Start(offset)).is_ok() && file.read_exact(&mut magic).is_ok();
    if !found || &magic != SQUASHFS_MAGIC {
        return Err(RuntimeError::NoImage(path.to_owned()));
    }
    Ok(offset)
}

/// The SHA-256 `make-appimage` wrote into the runtime for the image it appended.
pub fn recorded_digest(path: &Path) -> Result<[u8; 32]> {
    let elf = read_elf(path)?;
    let no_digest = || RuntimeError::NoDigest(path.to_owned());
    let &(_, offset, size) = elf
        .sections
        .iter()
        .find(|(name, _, _)| name == DIGEST_SECTION)
        .ok_or_else(no_digest)?;
    if size != 32 {
        return Err(no_digest());
    }
    let mut file = File::open(path).map_err(io_err(format!("can't open {}", path.display())))?;
    let mut digest = [0u8; 32];
    file.seek(SeekFrom::Start(offset))
        .map_err(io_err(format!("can't read {}", path.display())))?;
    file.read_exact(&mut digest)
        .map_err(io_err(format!("can't read {}", path.display())))?;
    if digest == [0u8; 32] {
        return Err(no_digest()); // the bare runtime, or an image made without make-appimage
    }
    Ok(digest)
}

/// The SHA-256 of everything from `offset` to the end of the file: the image as it is now.
pub fn image_digest(path: &Path, offset: u64) -> Result<[u8; 32]> {
    let what = || format!("can't read {}", path.display());
    let mut file = File::open(path).map_err(io_err(what()))?;
    file.seek(SeekFrom::Start(offset)).map_err(io_err(what()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_err(what()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// Checks the image against the digest recorded when it was made.
pub fn check_image(image: &Path, offset: u64) -> Result<()> {
    if image_digest(image, offset)? != recorded_digest(image)? {
        return Err(RuntimeError::Damaged(
            "its contents differ from the digest it was made with".into(),
        ));
    }
    Ok(())
}

/// The name of an image's unpacking: the first 8 bytes of its digest, in hex.
pub fn unpacking_name(image: &Path) -> Result<String> {
    Ok(hex(&recorded_digest(image)?[..8]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A path from the image as a relative path, refusing anything that could climb out of the folder
/// it is unpacked into ("..", or a root inside the path).
pub fn relative_inside(path: &Path) -> Result<PathBuf> {
    let mut relative = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => relative.push(name),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(RuntimeError::UnsafePath(path.to_owned()))
            }
        }
    }
    Ok(relative)
}

/// Unpacks the image that starts at `offset` in `image` into `dest` (which must exist): folders,
/// files with their permission bits, and symbolic links. Symbolic links are made last, so no file
/// is ever written through one. Devices, pipes and sockets are not unpacked (an app has none).
///
/// Nothing unpacked is writable by anyone but its owner, whatever the image or the umask says:
/// the app is started from it, so another user who could write to it could change the app.
pub fn extract(image: &Path, offset: u64, dest: &Path) -> Result<()> {
    let file = File::open(image).map_err(io_err(format!("can't open {}", image.display())))?;
    let filesystem = FilesystemReader::from_reader_with_offset(BufReader::new(file), offset)
        .map_err(|e| RuntimeError::Damaged(e.to_string()))?;
    let mut links = Vec::new();
    for node in filesystem.files() {
        let relative = relative_inside(&node.fullpath)?;
        if relative.as_os_str().is_empty() {
            continue; // the root: `dest` itself
        }
        let target = dest.join(&relative);
        let mode = u32::from(node.header.permissions) & 0o777;
        let made = |what: &str| io_err(format!("can't {what} {}", target.display()));
        match &node.inner {
            InnerNode::Dir(_) => {
                DirBuilder::new()
                    .recursive(true)
                    .mode(FOLDER_MODE)
                    .create(&target)
                    .map_err(made("make"))?;
            }
            InnerNode::File(entry) => {
                if let Some(parent) = target.parent() {
                    DirBuilder::new()
                        .recursive(true)
                        .mode(FOLDER_MODE)
                        .create(parent)
                        .map_err(made("make the folder of"))?;
                }
                let mut out = File::create(&target).map_err(made("write"))?;
                let written = io::copy(&mut filesystem.file(entry).reader(), &mut out)
                    .map_err(|e| RuntimeError::Damaged(format!("{}: {e}", relative.display())))?;
                if written != entry.file_len() as u64 {
                    return Err(RuntimeError::Damaged(format!(
                        "{} is short",
                        relative.display()
                    )));
                }
                // Owner can always read its own unpacking; the rest keeps the image's bits, but
                // for writing by group and others.
                fs::set_permissions(&target, fs::Permissions::from_mode((mode | 0o400) & !0o022))
                    .map_err(made("set the permissions of"))?;
            }
            InnerNode::Symlink(link) => links.push((target, link.link.clone())),
            _ => {}
        }
    }
    for (target, link) in links {
        std::os::unix::fs::symlink(&link, &target)
            .map_err(io_err(format!("can't link {}", target.display())))?;
    }
    Ok(())
}

/// The folder that holds unpacked images: `$XDG_CACHE_HOME/spacedock/appimage`, or under
/// `~/.cache`.
pub fn cache_root(xdg_cache_home: Option<&OsStr>, home: Option<&OsStr>) -> Result<PathBuf> {
    let base = match (xdg_cache_home.map(Path::new), home) {
        (Some(xdg), _) if xdg.is_absolute() => xdg.to_owned(),
        (_, Some(home)) if !home.is_empty() => Path::new(home).join(".cache"),
        _ => return Err(RuntimeError::NoCacheFolder),
    };
    Ok(base.join("spacedock").join("appimage"))
}

/// The user the runtime runs as, and whom it trusts with the folders above its cache.
struct Me {
    uid: u32,
    gid: u32,
    /// The uid a user namespace shows for owners it doesn't map, when the runtime runs in one.
    unmapped: Option<u32>,
}

impl Me {
    fn new() -> Me {
        // SAFETY: geteuid and getegid can't fail and touch no memory.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        Me {
            uid,
            gid,
            unmapped: unmapped_owner(),
        }
    }

    /// This user; root, who can change anything anyway; and in a rootless container, the owner
    /// it can't map, which is how it shows the host's root's folders (/home among them).
    fn trusts(&self, owner: u32) -> bool {
        owner == self.uid || owner == 0 || Some(owner) == self.unmapped
    }
}

/// The kernel's overflow uid when this process runs in a user namespace. In the initial namespace,
/// which maps every uid, that number is a real user's and is not trusted.
fn unmapped_owner() -> Option<u32> {
    let map = fs::read_to_string("/proc/self/uid_map").ok()?;
    if map.split_whitespace().eq(["0", "0", "4294967295"]) {
        return None;
    }
    fs::read_to_string("/proc/sys/kernel/overflowuid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

const YOUR_OWN_CACHE: &str =
    "set XDG_CACHE_HOME to a folder of your own that only you may write to";

/// Makes the folders that hold unpackings (`spacedock/appimage` under the cache), or checks the
/// ones there, so that no other user can have put a program in them, or swap one in before it
/// starts. `root` and its parent must be plain folders of this user's that nobody else may write
/// to, and `root` private (it is made so again if it is not); every folder above them must belong
/// to this user or root and be writable by nobody else, but for a sticky one like /tmp.
fn prepare_root(root: &Path, me: &Me) -> Result<()> {
    let ours = root.parent().unwrap_or(root);
    let cache = ours.parent().unwrap_or(ours);
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(cache)
        .map_err(io_err(format!("can't make {}", cache.display())))?;
    check_ancestry(cache, me)?;
    own_folder(ours, me, false)?;
    own_folder(root, me, true)
}

/// A folder of the runtime's own, made private when it is missing.
fn own_folder(path: &Path, me: &Me, private: bool) -> Result<()> {
    let made = match DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(io_err(format!("can't make {}", path.display()))(e)),
    };
    let meta = path
        .symlink_metadata()
        .map_err(io_err(format!("can't look at {}", path.display())))?;
    let refuse = |why: String, advice: String| {
        Err(RuntimeError::Unsafe {
            path: path.to_owned(),
            why,
            advice,
        })
    };
    let remove_it = || format!("remove it (the app is unpacked again), or {YOUR_OWN_CACHE}");
    if meta.file_type().is_symlink() {
        return refuse(
            "it is a symbolic link, not a plain folder".into(),
            remove_it(),
        );
    }
    if !meta.is_dir() {
        return refuse("it is not a folder".into(), remove_it());
    }
    if meta.uid() != me.uid {
        return refuse(
            format!("another user (uid {}) owns it", meta.uid()),
            remove_it(),
        );
    }
    let mode = meta.mode() & 0o7777;
    if (private || made) && mode != 0o700 {
        // This user's plain folder, so only this user could have loosened it (or the umask, when
        // it was just made): it is made private again.
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
            .map_err(io_err(format!("can't make {} private", path.display())))?;
    } else if mode & 0o022 != 0 {
        return refuse(
            format!("others may write to it (mode {mode:04o})"),
            format!("chmod go-w it, or {YOUR_OWN_CACHE}"),
        );
    }
    Ok(())
}

/// Checks every folder the way to `path` passes through, from `/`, following symbolic links as
/// the kernel does (a cache on another disk, reached through a link, is common): whoever may
/// change one of them could swap the app for a program of theirs between this check and its
/// start.
fn check_ancestry(path: &Path, me: &Me) -> Result<()> {
    let path =
        std::path::absolute(path).map_err(io_err(format!("can't find {}", path.display())))?;
    let look = |at: &Path| {
        at.symlink_metadata()
            .map_err(io_err(format!("can't look at {}", at.display())))
    };
    let refuse = |path: PathBuf, why: String| RuntimeError::Unsafe {
        path,
        why,
        advice: YOUR_OWN_CACHE.into(),
    };
    // `at` never holds a link, so ".." is its parent; `todo` holds the names still to follow,
    // the next one last.
    let mut at = PathBuf::from("/");
    check_above(&at, &look(&at)?, me)?;
    let mut todo = Vec::new();
    push_names(&mut todo, &path);
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            at.pop();
            continue;
        }
        let next = at.join(&name);
        let meta = look(&next)?;
        if meta.file_type().is_symlink() {
            if !me.trusts(meta.uid()) {
                let why = format!(
                    "it is a symbolic link another user (uid {}) owns",
                    meta.uid()
                );
                return Err(refuse(next, why));
            }
            links += 1;
            if links > 40 {
                return Err(refuse(
                    path,
                    "its symbolic links go round in circles".into(),
                ));
            }
            let target = fs::read_link(&next)
                .map_err(io_err(format!("can't read the link {}", next.display())))?;
            if target.is_absolute() {
                at = PathBuf::from("/");
            }
            push_names(&mut todo, &target);
            continue;
        }
        check_above(&next, &meta, me)?;
        at = next;
    }
    Ok(())
}

/// `path`'s names onto `todo`, the first one last.
fn push_names(todo: &mut Vec<OsString>, path: &Path) {
    for component in path.components().rev() {
        match component {
            Component::Normal(name) => todo.push(name.to_owned()),
            Component::ParentDir => todo.push("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

/// A folder above the cache: this user's or root's, and writable by nobody else, but for a
/// sticky folder (as /tmp), where others can't rename or remove what isn't theirs. A group of
/// this user's own may write: that is what a umask of 002 is for, and then all of this user's
/// files are as open to it.
fn check_above(path: &Path, meta: &fs::Metadata, me: &Me) -> Result<()> {
    let mode = meta.mode() & 0o7777;
    let sticky = mode & 0o1000 != 0;
    let own_group = meta.uid() == me.uid && meta.gid() == me.gid;
    let swap = "and could put a program of theirs in place of the app";
    let why = if !meta.is_dir() {
        "it is not a folder".to_owned()
    } else if !me.trusts(meta.uid()) {
        format!("another user (uid {}) owns it, {swap}", meta.uid())
    } else if !sticky && (mode & 0o002 != 0 || (mode & 0o020 != 0 && !own_group)) {
        format!("others may write to it (mode {mode:04o}), {swap}")
    } else {
        return Ok(());
    };
    let advice = if meta.uid() == me.uid && meta.is_dir() {
        format!("chmod go-w it, or {YOUR_OWN_CACHE}")
    } else {
        YOUR_OWN_CACHE.to_owned()
    };
    Err(RuntimeError::Unsafe {
        path: path.to_owned(),
        why,
        advice,
    })
}

/// An unpacked image, ready to start. It holds a shared lock on its folder, and the program
/// started from it inherits that lock (its descriptor is not closed on exec), so the lock lasts as
/// long as the app runs: other versions' starts remove an unpacking only when they can lock it
/// exclusively, so never one that is in use.
#[derive(Debug)]
pub struct Unpacking {
    dir: PathBuf,
    _lock: File,
}

impl Unpacking {
    /// The unpacking's folder (`APPDIR`), with the `AppRun` to start at its top.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// How many times a start tries again when other starts change the cache under it.
const ROUNDS: usize = 4;

/// The image unpacked under `root`, unpacking it first when this image has not been unpacked
/// before. The unpacking is made in a partial folder of its own and renamed into place, so a
/// folder under its final name is always whole, and two starts at once can't mix their files.
/// Other versions' unpackings are removed once this one is ready, unless they are in use.
pub fn unpacked(image: &Path, offset: u64, root: &Path) -> Result<Unpacking> {
    let me = Me::new();
    let root =
        &std::path::absolute(root).map_err(io_err(format!("can't find {}", root.display())))?;
    prepare_root(root, &me)?;
    // The recorded digest names the unpacking, so a start after the first reads no more than
    // the ELF headers; the image itself is checked against it before the first unpacking.
    let key = unpacking_name(image)?;
    let dir = root.join(&key);
    let mut checked = false;
    // Another start may put its unpacking in place, or remove one, between any two steps here.
    for _ in 0..ROUNDS {
        if let Some(lock) = existing(root, &dir, me.uid) {
            return ready(root, &key, dir, lock);
        }
        if !checked {
            check_image(image, offset)?;
            checked = true;
        }
        let (partial, lock) = new_partial(root, &key)?;
        let outcome = extract(image, offset, &partial).and_then(|()| {
            match partial.join("AppRun").symlink_metadata() {
                Ok(_) => Ok(()),
                Err(_) => Err(RuntimeError::NoAppRun),
            }
        });
        if let Err(e) = outcome {
            let _ = fs::remove_dir_all(&partial);
            return Err(e);
        }
        match fs::rename(&partial, &dir) {
            // The lock moves with the folder: it is held from before the first file was in it.
            Ok(()) => {
                if let Some(why) = unfit(&dir, me.uid) {
                    return Err(RuntimeError::Unsafe {
                        path: dir,
                        why,
                        advice: "set XDG_CACHE_HOME to a folder on a file system that keeps the \
                                 owners and modes of files"
                            .into(),
                    });
                }
                return ready(root, &key, dir, lock);
            }
            // Another start put its unpacking there first: the next round uses that one.
            Err(_) if dir.symlink_metadata().is_ok() => {
                let _ = fs::remove_dir_all(&partial);
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&partial);
                return Err(io_err(format!("can't move the app into {}", dir.display()))(e));
            }
        }
    }
    Err(RuntimeError::Busy(root.to_owned()))
}

/// The whole unpacking under `dir`, locked shared, if there is one that is safe to start. Anything
/// else under that name is set aside, to be unpacked again: a link, an older runtime's removal cut
/// short (which left no AppRun), or anything that others could have changed.
fn existing(root: &Path, dir: &Path, uid: u32) -> Option<File> {
    let lock = match open_folder(dir) {
        Ok(lock) => lock,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(_) => {
            set_aside_and_remove(root, dir);
            return None;
        }
    };
    // Waits while another version's start holds it to set it aside (a rename, so briefly). A
    // file system without locks runs the app all the same.
    let _ = flock(&lock, libc::LOCK_SH);
    if !still_at(&lock, dir) {
        return None; // set aside meanwhile
    }
    if unfit(dir, uid).is_some() {
        drop(lock);
        set_aside_and_remove(root, dir);
        return None;
    }
    Some(lock)
}

/// Why the unpacking in `dir` is not safe to start, if it is not: everything in it must be this
/// user's and writable by no one else, so nobody but this user can have changed it since it was
/// unpacked, and its AppRun must be in it. Cheap: an app has few files.
fn unfit(dir: &Path, uid: u32) -> Option<String> {
    let why = |path: &Path, what: String| Some(format!("{} {what}", path.display()));
    let mut todo = vec![dir.to_owned()];
    while let Some(path) = todo.pop() {
        let meta = match path.symlink_metadata() {
            Ok(meta) => meta,
            Err(e) => return why(&path, format!("can't be looked at ({e})")),
        };
        if meta.uid() != uid {
            return why(&path, format!("is another user's (uid {})", meta.uid()));
        }
        let kind = meta.file_type();
        if kind.is_symlink() {
            continue; // a link's own mode means nothing
        }
        if meta.mode() & 0o022 != 0 {
            let mode = meta.mode() & 0o7777;
            return why(&path, format!("may be written by others (mode {mode:04o})"));
        }
        if kind.is_dir() {
            let Ok(entries) = fs::read_dir(&path) else {
                return why(&path, "can't be read".into());
            };
            for entry in entries {
                match entry {
                    Ok(entry) => todo.push(entry.path()),
                    Err(e) => return why(&path, format!("can't be read ({e})")),
                }
            }
        } else if !kind.is_file() {
            return why(&path, "is not a file, a folder or a link".into());
        }
    }
    // A file, or a link to one inside (an AppDir often links AppRun to its program).
    let app_run = dir.join("AppRun");
    match (fs::canonicalize(&app_run), fs::canonicalize(dir)) {
        (Ok(target), Ok(top)) if target.starts_with(&top) && target.is_file() => None,
        (Ok(_), Ok(_)) => why(
            &app_run,
            "leads outside the unpacking, or to no file".into(),
        ),
        _ => why(&app_run, "is missing".into()),
    }
}

/// A new folder in `root` to unpack into, locked shared from before anything is in it, so no
/// other start takes it for abandoned. Its name is unique by random digits as well as the
/// process id: starts in other PID namespaces (containers sharing a home folder) may have the same
/// process id.
fn new_partial(root: &Path, key: &str) -> Result<(PathBuf, File)> {
    for _ in 0..ROUNDS {
        let partial = root.join(format!(".{key}.{}.{}", std::process::id(), random_hex()));
        match DirBuilder::new().mode(FOLDER_MODE).create(&partial) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(format!("can't make {}", partial.display()))(e)),
        }
        // Until it is locked, another start may take it for abandoned and remove it.
        let lock = match open_folder(&partial) {
            Ok(lock) => lock,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(format!("can't open {}", partial.display()))(e)),
        };
        let held_elsewhere = matches!(
            flock(&lock, libc::LOCK_SH | libc::LOCK_NB),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        );
        if !held_elsewhere && still_at(&lock, &partial) {
            return Ok((partial, lock));
        }
    }
    Err(RuntimeError::Busy(root.to_owned()))
}

/// The unpacking, with its lock kept for the app; and the cache cleared of what is not in use.
fn ready(root: &Path, key: &str, dir: PathBuf, lock: File) -> Result<Unpacking> {
    keep_across_exec(&lock).map_err(io_err(format!("can't lock {}", dir.display())))?;
    remove_others(root, key);
    Ok(Unpacking { dir, _lock: lock })
}

/// Opens a folder to lock it, never through a symbolic link.
fn open_folder(path: &Path) -> io::Result<File> {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path)
}

/// flock(2): a lock that belongs to the open folder, not to a process, so it means the same in
/// every PID namespace, lasts across exec, and goes when the last process with it open ends.
fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor that `file` keeps open.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Whether `path` still names the folder open as `file`, which may have been renamed meanwhile.
fn still_at(file: &File, path: &Path) -> bool {
    match (file.metadata(), path.symlink_metadata()) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

/// Leaves `file` open in the program this process execs.
fn keep_across_exec(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor that `file` keeps open.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What an unpacking is renamed to before it is removed: a start never takes it for one.
const TRASH: &str = ".trash.";

/// 16 hex digits no other start will pick: from the kernel's random numbers, or the clock when
/// those can't be had (then `mkdir` or `rename` refusing a name that is taken still keeps two
/// starts apart).
fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into `bytes`.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), libc::GRND_NONBLOCK) };
    if n != bytes.len() as isize {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        bytes = (now.as_nanos() as u64 ^ u64::from(std::process::id())).to_le_bytes();
    }
    hex(&bytes)
}

/// Renames `path` in `root` to a `.trash.*` name. Removing a folder takes many steps and can be
/// cut short (a crash, a full disk, a file that can't go); renaming is one step, so no start ever
/// finds part of an app under an unpacking's name.
fn set_aside(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let trash = root.join(format!("{TRASH}{}", random_hex()));
    fs::rename(path, &trash)?;
    Ok(trash)
}

/// Sets `path` aside, then removes it unless a start holds its lock; what is left is removed at a
/// later start.
fn set_aside_and_remove(root: &Path, path: &Path) {
    if let Ok(trash) = set_aside(root, path) {
        remove_unused(&trash);
    }
}

/// Removes another version's unpacking, set aside first; only when no start of it holds its lock.
fn discard(root: &Path, path: &Path) {
    let Ok(lock) = open_folder(path) else {
        // A link or a file under a version's name: no app in it to keep.
        set_aside_and_remove(root, path);
        return;
    };
    if flock(&lock, libc::LOCK_EX | libc::LOCK_NB).is_ok() && still_at(&lock, path) {
        if let Ok(trash) = set_aside(root, path) {
            let _ = fs::remove_dir_all(trash);
        }
    }
}

/// Removes a folder that is no unpacking (set aside, or partial) unless a start holds its lock. A
/// link is removed itself, never what it leads to.
fn remove_unused(path: &Path) {
    match open_folder(path) {
        Ok(lock) => {
            if flock(&lock, libc::LOCK_EX | libc::LOCK_NB).is_ok() {
                let _ = fs::remove_dir_all(path);
            }
        }
        Err(_) if path.symlink_metadata().is_ok_and(|m| !m.is_dir()) => {
            let _ = fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// Removes other versions' unpackings, partial ones that no start is filling, and what removals
/// cut short left; each only when no start holds its lock, so never one in use. Best effort: a
/// folder that can't be removed now is tried again at the next start.
fn remove_others(root: &Path, key: &str) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    let is_key = |s: &str| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // ".KEY.PID.RANDOM" (".KEY.PID" from older runtimes)
        let partial = name
            .strip_prefix('.')
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(k, _)| is_key(k));
        if partial || name.starts_with(TRASH) {
            remove_unused(&entry.path());
        } else if is_key(&name) && name != key {
            discard(root, &entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_ends_where_its_file_ends() {
        // A test binary keeps its section headers at its very end.
        let me = std::env::current_exe().expect("own path");
        let size = fs::metadata(&me).expect("own size").len();
        assert_eq!(elf_size(&me).expect("an ELF"), size);
    }

    #[test]
    fn a_file_that_is_not_a_program_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = dir.path().join("notes.txt");
        fs::write(
            &text,
            "hsqs, but not an ELF program at all, just some words in a file",
        )
        .expect("write");
        assert!(matches!(elf_size(&text), Err(RuntimeError::NotAnElf(_))));
        let short = dir.path().join("short");
        fs::write(&short, b"\x7fELF").expect("write");
        assert!(matches!(elf_size(&short), Err(RuntimeError::NotAnElf(_))));
    }

    #[test]
    fn the_bare_runtime_is_not_an_appimage() {
        let me = std::env::current_exe().expect("own path");
        assert!(matches!(image_offset(&me), Err(RuntimeError::NoImage(_))));
    }

    #[test]
    fn paths_from_the_image_stay_inside() {
        assert_eq!(
            relative_inside(Path::new("/usr/bin/app")).expect("fine"),
            Path::new("usr/bin/app")
        );
        assert_eq!(
            relative_inside(Path::new("/")).expect("fine"),
            Path::new("")
        );
        for hostile in ["/usr/../../etc/passwd", "../x", "/a/.."] {
            assert!(
                matches!(
                    relative_inside(Path::new(hostile)),
                    Err(RuntimeError::UnsafePath(_))
                ),
                "{hostile} must be refused"
            );
        }
    }

    #[test]
    fn the_cache_follows_xdg_then_home() {
        let root = |xdg: Option<&str>, home: Option<&str>| {
            cache_root(xdg.map(OsStr::new), home.map(OsStr::new))
        };
        assert_eq!(
            root(Some("/x/cache"), Some("/home/a")).expect("xdg"),
            Path::new("/x/cache/spacedock/appimage")
        );
        // A relative XDG_CACHE_HOME is invalid by the spec, so it is ignored.
        assert_eq!(
            root(Some("rel"), Some("/home/a")).expect("home"),
            Path::new("/home/a/.cache/spacedock/appimage")
        );
        assert!(matches!(root(None, None), Err(RuntimeError::NoCacheFolder)));
        assert!(matches!(
            root(Some(""), Some("")),
            Err(RuntimeError::NoCacheFolder)
        ));
    }

    #[test]
    fn the_folders_above_the_cache_are_checked_along_the_links_to_it() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let me = Me::new();
        let folder = |path: &Path, mode: u32| {
            fs::create_dir(path).expect("dir");
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("mode");
        };
        let open = tmp.path().join("open");
        folder(&open, 0o777);
        folder(&open.join("cache"), 0o700);
        folder(&tmp.path().join("private"), 0o700);
        folder(&tmp.path().join("sticky"), 0o1777);
        let link = |name: &str, target: &str| {
            std::os::unix::fs::symlink(target, tmp.path().join(name)).expect("link");
            tmp.path().join(name)
        };
        // The way to it is through a folder anyone may write to, though its own path is not.
        let through_open = link("through-open", "open/cache");
        match check_ancestry(&through_open, &me) {
            Err(RuntimeError::Unsafe { path, why, .. }) => {
                assert_eq!(path, open);
                assert!(why.contains("others may write"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        let absolute = link("absolute", &open.join("cache").to_string_lossy());
        assert!(check_ancestry(&absolute, &me).is_err());
        let private = link("to-private", "sticky/../private");
        check_ancestry(&private, &me).expect("a link to a private folder");
        check_ancestry(&tmp.path().join("sticky"), &me).expect("a sticky folder");
        let circle = link("circle", "circle");
        assert!(check_ancestry(&circle, &me).is_err());
    }

    /// Holds `dir`'s lock as a start would: shared while it runs from it, or while it unpacks.
    fn hold(dir: &Path) -> File {
        let file = File::open(dir).expect("open");
        // SAFETY: flock on a descriptor that stays open as long as `file`.
        assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH) }, 0);
        file
    }

    #[test]
    fn only_other_versions_and_abandoned_partials_are_removed_and_never_ones_in_use() {
        let root = tempfile::tempdir().expect("temp dir");
        let mine = "0123456789abcdef";
        let other = "fedcba9876543210";
        let running = "00000000000000aa";
        // Partials are told apart by their locks, not by process ids, which differ between PID
        // namespaces: "4294967295" is no process here, yet its start holds the lock.
        let unpacking = format!(".{other}.4294967295.0011223344556677");
        let abandoned = format!(".{other}.{}.8899aabbccddeeff", std::process::id());
        let old_style = format!(".{other}.1");
        let in_use_trash = ".trash.0123456789abcdef";
        let trash = ".trash.fedcba9876543210";
        for name in [
            mine,
            other,
            running,
            &unpacking,
            &abandoned,
            &old_style,
            in_use_trash,
            trash,
            "keep-me",
        ] {
            fs::create_dir(root.path().join(name)).expect("dir");
            fs::write(root.path().join(name).join("AppRun"), "").expect("AppRun");
        }
        let _locks = [running, &unpacking, in_use_trash].map(|n| hold(&root.path().join(n)));
        remove_others(root.path(), mine);
        let mut left: Vec<String> = fs::read_dir(root.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut expected = vec![
            mine.to_owned(),
            running.to_owned(),
            unpacking,
            in_use_trash.to_owned(),
            "keep-me".to_owned(),
        ];
        expected.sort();
        assert_eq!(left, expected);
    }
}
