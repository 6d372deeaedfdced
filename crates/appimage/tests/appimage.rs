//! The AppImage runtime as a user meets it: real images made by `make-appimage` (mksquashfs) from
//! a small AppDir, started as programs.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use spacedock_appimage::{image_digest, recorded_digest, unpacking_name};

const RUNTIME: &str = env!("CARGO_BIN_EXE_appimage-runtime");
const MAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/make-appimage");

/// Bytes that don't compress, so the image holds several full data blocks and a tail.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// An AppDir whose AppRun reports how it was started.
fn appdir(root: &Path, data: &[u8]) -> PathBuf {
    let dir = root.join("AppDir");
    fs::create_dir_all(dir.join("usr/bin")).expect("usr/bin");
    fs::create_dir_all(dir.join("usr/share/empty")).expect("empty folder");
    fs::write(
        dir.join("AppRun"),
        "#!/bin/sh\nfor a in \"$@\"; do printf 'arg:[%s]\\n' \"$a\"; done\n\
         printf 'APPIMAGE=%s\\nAPPDIR=%s\\nARGV0=%s\\nOWD=%s\\npid=%s\\n' \
         \"$APPIMAGE\" \"$APPDIR\" \"$ARGV0\" \"$OWD\" \"$$\"\n",
    )
    .expect("AppRun");
    fs::write(dir.join("usr/bin/tool"), "#!/bin/sh\necho tool\n").expect("tool");
    fs::write(dir.join("usr/share/readme"), "read me\n").expect("readme");
    fs::write(dir.join("usr/share/data.bin"), data).expect("data");
    for (path, mode) in [
        ("AppRun", 0o755),
        ("usr/bin/tool", 0o755),
        ("usr/share/readme", 0o644),
    ] {
        fs::set_permissions(dir.join(path), fs::Permissions::from_mode(mode)).expect("mode");
    }
    std::os::unix::fs::symlink("usr/share/data.bin", dir.join("data-link")).expect("link");
    dir
}

fn make(appdir: &Path, out: &Path) {
    let status = Command::new(MAKE)
        .arg(RUNTIME)
        .arg(appdir)
        .arg(out)
        .status()
        .expect("make-appimage");
    assert!(status.success(), "make-appimage failed");
}

/// Starts the AppImage with a cache of its own; returns its output and its process id.
fn start(image: &Path, cache: &Path, cwd: &Path, args: &[&str]) -> (Output, u32) {
    let mut tries = 0;
    let child = loop {
        let spawned = Command::new(image)
            .args(args)
            .current_dir(cwd)
            .env("XDG_CACHE_HOME", cache)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            // An image this process has just written is "busy" while a child that another test
            // is starting still has it open, between its fork and its exec.
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            spawned => break spawned.expect("start the AppImage"),
        }
    };
    let pid = child.id();
    (child.wait_with_output().expect("its output"), pid)
}

fn field(out: &Output, name: &str) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .to_owned()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn an_appimage_starts_its_apprun_in_its_own_process_with_its_arguments_and_paths() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = noise(3 * 1024 * 1024 + 12_345, 7);
    let image = tmp.path().join("Test.AppImage");
    make(&appdir(tmp.path(), &data), &image);

    let bytes = fs::read(&image).expect("image");
    assert_eq!(&bytes[..4], b"\x7fELF");
    assert_eq!(&bytes[8..11], b"AI\x02", "the AppImage type-2 magic");
    let runtime_len = fs::metadata(RUNTIME).expect("runtime").len();
    let (offset, _) = start(
        &image,
        &tmp.path().join("c"),
        tmp.path(),
        &["--appimage-offset"],
    );
    assert_eq!(
        String::from_utf8_lossy(&offset.stdout).trim(),
        runtime_len.to_string()
    );
    assert_eq!(
        &bytes[runtime_len as usize..runtime_len as usize + 4],
        b"hsqs"
    );
    // The digest recorded in the runtime is the image's own.
    let recorded = recorded_digest(&image).expect("a recorded digest");
    assert_eq!(recorded, image_digest(&image, runtime_len).expect("digest"));
    assert!(
        recorded_digest(Path::new(RUNTIME)).is_err(),
        "the bare runtime records none"
    );

    let cache = tmp.path().join("cache");
    let cwd = tmp.path().join("where-i-was");
    fs::create_dir(&cwd).expect("cwd");
    let (out, pid) = start(&image, &cache, &cwd, &["one", "two words", ""]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("arg:[one]\narg:[two words]\narg:[]\n"),
        "{text}"
    );
    // exec, not a child: whoever started the AppImage is talking to the app itself.
    assert_eq!(field(&out, "pid"), pid.to_string());
    assert_eq!(field(&out, "APPIMAGE"), image.to_string_lossy());
    assert_eq!(field(&out, "OWD"), cwd.to_string_lossy());
    assert_eq!(field(&out, "ARGV0"), image.to_string_lossy());

    let root = cache.join("spacedock/appimage");
    assert_eq!(
        fs::metadata(&root).expect("cache").permissions().mode() & 0o777,
        0o700
    );
    let appdir = PathBuf::from(field(&out, "APPDIR"));
    assert_eq!(appdir.parent(), Some(root.as_path()));
    assert_eq!(
        appdir.file_name().expect("name").to_string_lossy(),
        unpacking_name(&image).expect("name")
    );
    assert_eq!(
        fs::read(appdir.join("usr/share/data.bin")).expect("data"),
        data,
        "byte for byte"
    );
    assert_eq!(
        fs::read_to_string(appdir.join("usr/share/readme")).expect("readme"),
        "read me\n"
    );
    let mode = |p: &str| fs::metadata(appdir.join(p)).expect(p).permissions().mode() & 0o777;
    assert_eq!(mode("usr/bin/tool"), 0o755);
    assert_eq!(mode("usr/share/readme"), 0o644);
    assert!(appdir.join("usr/share/empty").is_dir());
    assert_eq!(
        fs::read_link(appdir.join("data-link")).expect("link"),
        Path::new("usr/share/data.bin")
    );
    let tool = Command::new(appdir.join("usr/bin/tool"))
        .output()
        .expect("tool runs");
    assert_eq!(String::from_utf8_lossy(&tool.stdout), "tool\n");
    // Only the unpacking is left: no partial folder.
    assert_eq!(entries(&root).len(), 1);
}

#[test]
fn a_second_start_reuses_the_unpacking_and_a_new_version_replaces_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cache = tmp.path().join("cache");
    let first = tmp.path().join("v1.AppImage");
    make(&appdir(&tmp.path().join("1"), &noise(200_000, 1)), &first);
    let (out, _) = start(&first, &cache, tmp.path(), &[]);
    let appdir = PathBuf::from(field(&out, "APPDIR"));
    // Anything written into the unpacking survives a second start: it was not unpacked again.
    fs::write(appdir.join("left-by-test"), "x").expect("mark");
    let (again, _) = start(&first, &cache, tmp.path(), &[]);
    assert_eq!(PathBuf::from(field(&again, "APPDIR")), appdir);
    assert!(
        appdir.join("left-by-test").exists(),
        "the second start unpacked again"
    );

    let second = tmp.path().join("v2.AppImage");
    make(&appdir_named(tmp.path(), "2", &noise(200_000, 2)), &second);
    let (newer, _) = start(&second, &cache, tmp.path(), &[]);
    let new_dir = PathBuf::from(field(&newer, "APPDIR"));
    assert_ne!(new_dir, appdir, "a new version gets its own unpacking");
    assert_eq!(
        fs::read(new_dir.join("usr/share/data.bin")).expect("data"),
        noise(200_000, 2)
    );
    assert!(!appdir.exists(), "the old version's unpacking is removed");
    assert_eq!(entries(&cache.join("spacedock/appimage")).len(), 1);
}

#[test]
fn starts_at_once_share_one_whole_unpacking() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cache = tmp.path().join("cache");
    let data = noise(2 * 1024 * 1024, 9);
    let image = tmp.path().join("x.AppImage");
    make(&appdir(tmp.path(), &data), &image);
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(&image)
                .env("XDG_CACHE_HOME", &cache)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start")
        })
        .collect();
    let dirs: Vec<String> = children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().expect("output");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            field(&out, "APPDIR")
        })
        .collect();
    assert!(dirs.iter().all(|d| d == &dirs[0]), "{dirs:?}");
    assert_eq!(
        fs::read(Path::new(&dirs[0]).join("usr/share/data.bin")).expect("data"),
        data
    );
    // One whole unpacking, no partial one left behind.
    assert_eq!(entries(&cache.join("spacedock/appimage")).len(), 1);
}

fn appdir_named(root: &Path, name: &str, data: &[u8]) -> PathBuf {
    appdir(&root.join(name), data)
}

#[test]
fn a_damaged_appimage_says_so_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let good = tmp.path().join("good.AppImage");
    make(&appdir(tmp.path(), &noise(1024 * 1024, 3)), &good);
    let bytes = fs::read(&good).expect("image");
    let offset = fs::metadata(RUNTIME).expect("runtime").len() as usize;

    // Cut short (the tables at the end are gone: more than the 4 KiB of padding mksquashfs adds),
    // and hurt in the middle (file data garbled).
    let mut garbled = bytes.clone();
    garbled[offset + 4096..offset + 300_000].fill(0x5a);
    for (name, damaged) in [
        ("short", bytes[..bytes.len() - 8192].to_vec()),
        ("garbled", garbled),
    ] {
        let image = tmp.path().join(format!("{name}.AppImage"));
        fs::write(&image, damaged).expect("write");
        fs::set_permissions(&image, fs::Permissions::from_mode(0o755)).expect("mode");
        let cache = tmp.path().join(format!("cache-{name}"));
        let (out, _) = start(&image, &cache, tmp.path(), &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(127), "{name}: {stderr}");
        assert!(stderr.contains("damaged"), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}: AppRun must not start");
        assert_eq!(
            entries(&cache.join("spacedock/appimage")),
            Vec::<String>::new(),
            "{name}: left a partial unpacking"
        );
        let cwd = tmp.path().join(format!("extract-{name}"));
        fs::create_dir(&cwd).expect("cwd");
        let (extract, _) = start(&image, &cache, &cwd, &["--appimage-extract"]);
        assert_eq!(extract.status.code(), Some(127), "{name}");
        assert!(
            String::from_utf8_lossy(&extract.stderr).contains("damaged"),
            "{name}"
        );
        assert_eq!(
            entries(&cwd),
            Vec::<String>::new(),
            "{name}: --appimage-extract left files"
        );
    }
}

#[test]
fn the_bare_runtime_and_unknown_options_are_refused_in_words() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (bare, _) = start(Path::new(RUNTIME), &tmp.path().join("c"), tmp.path(), &[]);
    assert_eq!(bare.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&bare.stderr).contains("not an AppImage"));

    let image = tmp.path().join("x.AppImage");
    make(&appdir(tmp.path(), b"x"), &image);
    let (mount, _) = start(
        &image,
        &tmp.path().join("c"),
        tmp.path(),
        &["--appimage-mount"],
    );
    assert_eq!(mount.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&mount.stderr).contains("--appimage-mount is not something"));
    let (help, _) = start(
        &image,
        &tmp.path().join("c"),
        tmp.path(),
        &["--appimage-help"],
    );
    assert!(String::from_utf8_lossy(&help.stdout).contains("--appimage-extract"));
}

#[test]
fn extract_unpacks_into_squashfs_root_and_never_over_an_existing_folder() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = noise(500_000, 5);
    let image = tmp.path().join("x.AppImage");
    make(&appdir(tmp.path(), &data), &image);
    let cwd = tmp.path().join("here");
    fs::create_dir(&cwd).expect("cwd");
    let (out, _) = start(&image, &tmp.path().join("c"), &cwd, &["--appimage-extract"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read(cwd.join("squashfs-root/usr/share/data.bin")).expect("data"),
        data
    );
    assert!(cwd.join("squashfs-root/AppRun").is_file());

    fs::write(cwd.join("squashfs-root/mine"), "keep").expect("mine");
    let (again, _) = start(&image, &tmp.path().join("c"), &cwd, &["--appimage-extract"]);
    assert_eq!(again.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&again.stderr).contains("move an old one away"));
    assert_eq!(
        fs::read_to_string(cwd.join("squashfs-root/mine")).expect("kept"),
        "keep"
    );
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Starts the AppImage with a cache of its own under a umask that lets everyone write.
fn start_with_umask_0(image: &Path, cache: &Path) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg("umask 0 && exec \"$0\"")
        .arg(image)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .expect("start the AppImage")
}

#[test]
fn unpacked_files_and_folders_are_writable_by_their_owner_alone() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = appdir(tmp.path(), b"x");
    fs::create_dir(dir.join("usr/lib")).expect("lib");
    fs::write(dir.join("usr/lib/open.txt"), "anyone may write me").expect("open");
    for (path, mode) in [
        ("usr/lib/open.txt", 0o666),
        ("usr/lib", 0o777),
        ("AppRun", 0o777),
    ] {
        set_mode(&dir.join(path), mode);
    }
    let image = tmp.path().join("x.AppImage");
    make(&dir, &image);

    let cache = tmp.path().join("cache");
    let out = start_with_umask_0(&image, &cache);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let appdir = PathBuf::from(field(&out, "APPDIR"));
    for (path, expected) in [
        ("", 0o755),
        ("usr", 0o755),
        ("usr/lib", 0o755),
        ("usr/share/empty", 0o755),
        ("usr/lib/open.txt", 0o644),
        ("AppRun", 0o755),
        ("usr/share/readme", 0o644),
    ] {
        assert_eq!(mode(&appdir.join(path)), expected, "{path}");
    }
    // And the next start takes it as it is.
    fs::write(appdir.join("left-by-test"), "x").expect("mark");
    let again = start_with_umask_0(&image, &cache);
    assert_eq!(PathBuf::from(field(&again, "APPDIR")), appdir);
    assert!(appdir.join("left-by-test").exists(), "unpacked again");

    let cwd = tmp.path().join("here");
    fs::create_dir(&cwd).expect("cwd");
    let extract = Command::new("sh")
        .arg("-c")
        .arg("umask 0 && exec \"$0\" --appimage-extract")
        .arg(&image)
        .current_dir(&cwd)
        .output()
        .expect("extract");
    assert!(extract.status.success());
    assert_eq!(mode(&cwd.join("squashfs-root/usr/lib")), 0o755);
    assert_eq!(mode(&cwd.join("squashfs-root/usr/lib/open.txt")), 0o644);
}

/// Whether the tests run as root, who can give files to other users (and remove anything).
fn as_root(tmp: &Path) -> bool {
    fs::metadata(tmp).expect("temp dir").uid() == 0
}

/// Undoes what kept a folder's files from being removed, so the temporary folder can go even
/// when a test fails half way.
struct Pinned(PathBuf);

impl Pinned {
    /// Keeps the files in `dir` from being removed: `chattr +i` as root (who may remove anything
    /// else), a read-only folder otherwise. None when `chattr` can't do it here.
    fn new(tmp: &Path, dir: &Path) -> Option<Pinned> {
        if as_root(tmp) {
            let pinned = Command::new("chattr")
                .arg("+i")
                .arg(dir)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !pinned {
                return None;
            }
        } else {
            set_mode(dir, 0o555);
        }
        Some(Pinned(tmp.to_owned()))
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = Command::new("chattr")
            .arg("-R")
            .arg("-i")
            .arg(&self.0)
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_removal_cut_short_leaves_no_unpacking_under_its_name() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cache = tmp.path().join("cache");
    let root = cache.join("spacedock/appimage");
    let first = tmp.path().join("v1.AppImage");
    make(&appdir(&tmp.path().join("1"), &noise(200_000, 1)), &first);
    let (out, _) = start(&first, &cache, tmp.path(), &[]);
    let old = PathBuf::from(field(&out, "APPDIR"));
    fs::write(old.join("left-by-test"), "x").expect("mark");

    // The removal of the old version stops half way: some of its files can't be removed.
    let Some(pinned) = Pinned::new(tmp.path(), &old.join("usr/share")) else {
        eprintln!("note: chattr +i is not possible here; a removal cut short is not tested");
        return;
    };
    let second = tmp.path().join("v2.AppImage");
    make(&appdir_named(tmp.path(), "2", &noise(200_000, 2)), &second);
    let (newer, _) = start(&second, &cache, tmp.path(), &[]);
    assert!(newer.status.success());
    assert!(
        !old.exists(),
        "what is left of the old unpacking is still under its name"
    );
    let left = entries(&root);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().any(|n| n.starts_with(".trash.")), "{left:?}");

    // A later start removes what was left, and the old version unpacks whole again.
    drop(pinned);
    let (again, _) = start(&second, &cache, tmp.path(), &[]);
    assert!(again.status.success());
    assert_eq!(entries(&root).len(), 1, "{:?}", entries(&root));
    let (old_again, _) = start(&first, &cache, tmp.path(), &[]);
    assert_eq!(PathBuf::from(field(&old_again, "APPDIR")), old);
    assert!(
        !old.join("left-by-test").exists(),
        "the old unpacking was used"
    );
    assert_eq!(
        fs::read(old.join("usr/share/data.bin")).expect("data"),
        noise(200_000, 1)
    );
}

/// A program someone else put in place of the app: it must never run.
const PLANTED: &str = "planted program ran";

fn plant(path: &Path) {
    fs::write(path, format!("#!/bin/sh\necho '{PLANTED}'\n")).expect("plant");
    set_mode(path, 0o755);
}

#[test]
fn leftovers_of_removals_are_removed_and_never_started() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let image = tmp.path().join("x.AppImage");
    make(&appdir(tmp.path(), b"x"), &image);
    let key = unpacking_name(&image).expect("key");
    let cache = tmp.path().join("cache");
    let root = cache.join("spacedock/appimage");
    fs::create_dir_all(&root).expect("root");
    set_mode(&root, 0o700);
    let trash = root.join(format!(".trash.{key}"));
    fs::create_dir_all(trash.join("usr/bin")).expect("trash");
    plant(&trash.join("AppRun"));
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).expect("outside");
    plant(&outside.join("AppRun"));
    std::os::unix::fs::symlink(&outside, root.join(".trash.link")).expect("link");

    let (out, _) = start(&image, &cache, tmp.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(PLANTED));
    assert_eq!(PathBuf::from(field(&out, "APPDIR")), root.join(&key));
    assert_eq!(entries(&root), vec![key]);
    assert!(
        outside.join("AppRun").exists(),
        "a link was followed when removed"
    );
}

#[test]
fn a_running_version_keeps_its_unpacking_when_a_new_one_starts() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cache = tmp.path().join("cache");
    let root = cache.join("spacedock/appimage");
    // Version 1 runs until its input closes.
    let dir = appdir(&tmp.path().join("1"), &noise(100_000, 1));
    fs::write(
        dir.join("AppRun"),
        "#!/bin/sh\nprintf 'APPDIR=%s\\n' \"$APPDIR\"\nread -r line\n",
    )
    .expect("AppRun");
    let first = tmp.path().join("v1.AppImage");
    make(&dir, &first);
    let mut running = Command::new(&first)
        .env("XDG_CACHE_HOME", &cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start v1");
    let mut line = String::new();
    BufReader::new(running.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("v1 says where it runs");
    let old = PathBuf::from(line.trim().strip_prefix("APPDIR=").expect("APPDIR"));

    let second = tmp.path().join("v2.AppImage");
    make(&appdir_named(tmp.path(), "2", &noise(100_000, 2)), &second);
    let (newer, _) = start(&second, &cache, tmp.path(), &[]);
    assert!(newer.status.success());
    let result = std::panic::catch_unwind(|| {
        assert!(
            old.join("usr/share/data.bin").exists(),
            "the running version's unpacking was removed"
        );
        assert_eq!(entries(&root).len(), 2);
    });
    drop(running.stdin.take());
    running.wait().expect("v1 ends");
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }

    // Once it no longer runs, the next start removes it.
    let (again, _) = start(&second, &cache, tmp.path(), &[]);
    assert!(again.status.success());
    assert!(!old.exists());
    assert_eq!(entries(&root).len(), 1);
}

#[test]
fn starts_in_separate_pid_namespaces_unpack_apart() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let namespaces = Command::new("unshare")
        .args(["--pid", "--fork", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !namespaces {
        eprintln!(
            "note: unshare --pid is not possible here; starts in PID namespaces are not tested"
        );
        return;
    }
    let cache = tmp.path().join("cache");
    let data = noise(4 * 1024 * 1024, 11);
    let image = tmp.path().join("x.AppImage");
    make(&appdir(tmp.path(), &data), &image);
    // Each start is process 1 of its own namespace, as in containers sharing a home folder. They
    // wait for a line on their input, so they all begin together.
    let mut children: Vec<_> = (0..6)
        .map(|_| {
            Command::new("sh")
                .arg("-c")
                .arg("read -r go && exec unshare --pid --fork \"$0\"")
                .arg(&image)
                .env("XDG_CACHE_HOME", &cache)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start")
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(100));
    for child in &mut children {
        let _ = child.stdin.take().expect("stdin").write_all(b"go\n");
    }
    for child in children {
        let out = child.wait_with_output().expect("output");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(field(&out, "pid"), "1");
        let appdir = PathBuf::from(field(&out, "APPDIR"));
        assert_eq!(
            fs::read(appdir.join("usr/share/data.bin")).expect("data"),
            data
        );
    }
    assert_eq!(entries(&cache.join("spacedock/appimage")).len(), 1);
}

/// Another user's, for files the tests give away when they run as root.
const NOBODY: u32 = 65534;

fn give_away(path: &Path) {
    std::os::unix::fs::lchown(path, Some(NOBODY), Some(NOBODY)).expect("chown");
}

/// A cache whose folders are as the runtime makes them, ready for a test to spoil.
fn private_cache(cache: &Path) -> PathBuf {
    let root = cache.join("spacedock/appimage");
    fs::create_dir_all(&root).expect("root");
    set_mode(&cache.join("spacedock"), 0o700);
    set_mode(&root, 0o700);
    root
}

#[test]
fn an_unpacking_unsafe_to_start_is_set_aside_and_unpacked_again() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = noise(100_000, 4);
    let image = tmp.path().join("x.AppImage");
    make(&appdir(tmp.path(), &data), &image);
    let key = unpacking_name(&image).expect("key");
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).expect("outside");
    plant(&outside.join("AppRun"));

    type Spoil = Box<dyn Fn(&Path)>;
    let planted = |dir: &Path| {
        fs::create_dir_all(dir.join("usr/bin")).expect("dir");
        plant(&dir.join("AppRun"));
        plant(&dir.join("usr/bin/tool"));
    };
    let mut spoilt: Vec<(&str, Spoil)> = vec![
        (
            "an AppRun its group may write",
            Box::new(move |dir| {
                planted(dir);
                set_mode(&dir.join("AppRun"), 0o775);
            }),
        ),
        (
            "a program others may write",
            Box::new(move |dir| {
                planted(dir);
                set_mode(&dir.join("usr/bin/tool"), 0o757);
            }),
        ),
        (
            "a folder others may write",
            Box::new(move |dir| {
                planted(dir);
                set_mode(&dir.join("usr/bin"), 0o777);
            }),
        ),
        (
            "an AppRun that leads outside",
            Box::new({
                let outside = outside.clone();
                move |dir| {
                    fs::create_dir(dir).expect("dir");
                    std::os::unix::fs::symlink(outside.join("AppRun"), dir.join("AppRun"))
                        .expect("link");
                }
            }),
        ),
        (
            "a link to another folder",
            Box::new({
                let outside = outside.clone();
                move |dir| std::os::unix::fs::symlink(&outside, dir).expect("link")
            }),
        ),
        (
            "no AppRun: a removal cut short",
            Box::new(|dir| {
                fs::create_dir_all(dir.join("usr/bin")).expect("dir");
            }),
        ),
    ];
    if as_root(tmp.path()) {
        spoilt.push((
            "another user's",
            Box::new(move |dir| {
                planted(dir);
                for path in [dir, &dir.join("AppRun")] {
                    give_away(path);
                }
            }),
        ));
    } else {
        eprintln!("note: not root, so an unpacking owned by another user is not tested");
    }
    for (n, (what, spoil)) in spoilt.iter().enumerate() {
        let cache = tmp.path().join(format!("cache-{n}"));
        let root = private_cache(&cache);
        spoil(&root.join(&key));
        let (out, _) = start(&image, &cache, tmp.path(), &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains(PLANTED), "{what}: {stdout}");
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = root.join(&key);
        assert_eq!(PathBuf::from(field(&out, "APPDIR")), dir, "{what}");
        assert!(fs::symlink_metadata(&dir).expect("dir").is_dir(), "{what}");
        assert_eq!(
            fs::read(dir.join("usr/share/data.bin")).expect("data"),
            data,
            "{what}"
        );
    }
    assert!(
        outside.join("AppRun").exists(),
        "a link was followed when set aside"
    );
}

#[test]
fn cache_folders_others_could_change_are_refused_in_words() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let image = tmp.path().join("x.AppImage");
    make(&appdir(tmp.path(), b"x"), &image);
    let key = unpacking_name(&image).expect("key");
    // Somewhere else, an unpacking with a program of someone else's in it.
    let elsewhere = private_cache(&tmp.path().join("elsewhere"));
    fs::create_dir(elsewhere.join(&key)).expect("key");
    plant(&elsewhere.join(&key).join("AppRun"));

    type Spoil = Box<dyn Fn(&Path) -> (PathBuf, &'static str)>;
    let mut spoilt: Vec<(&str, Spoil)> = vec![
        (
            "spacedock is a link",
            Box::new({
                let elsewhere = elsewhere.clone();
                move |cache| {
                    fs::create_dir(cache).expect("cache");
                    let ours = cache.join("spacedock");
                    std::os::unix::fs::symlink(elsewhere.parent().expect("up"), &ours)
                        .expect("link");
                    (ours, "symbolic link")
                }
            }),
        ),
        (
            "appimage is a link",
            Box::new({
                let elsewhere = elsewhere.clone();
                move |cache| {
                    let root = private_cache(cache);
                    fs::remove_dir(&root).expect("rm");
                    std::os::unix::fs::symlink(&elsewhere, &root).expect("link");
                    (root, "symbolic link")
                }
            }),
        ),
        (
            "spacedock may be written by its group",
            Box::new(|cache| {
                private_cache(cache);
                let ours = cache.join("spacedock");
                set_mode(&ours, 0o770);
                (ours, "others may write")
            }),
        ),
        (
            "the cache may be written by anyone",
            Box::new(|cache| {
                private_cache(cache);
                set_mode(cache, 0o777);
                (cache.to_owned(), "others may write")
            }),
        ),
    ];
    if as_root(tmp.path()) {
        spoilt.push((
            "spacedock is another user's",
            Box::new(|cache| {
                private_cache(cache);
                let ours = cache.join("spacedock");
                give_away(&ours);
                (ours, "another user")
            }),
        ));
        spoilt.push((
            "the cache is another user's",
            Box::new(|cache| {
                private_cache(cache);
                give_away(cache);
                (cache.to_owned(), "another user")
            }),
        ));
    } else {
        eprintln!("note: not root, so folders owned by another user are not tested");
    }
    for (n, (what, spoil)) in spoilt.iter().enumerate() {
        let cache = tmp.path().join(format!("cache-{n}"));
        let (culprit, why) = spoil(&cache);
        let (out, _) = start(&image, &cache, tmp.path(), &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(127), "{what}: {stderr}");
        assert!(out.stdout.is_empty(), "{what}: something ran");
        assert!(
            stderr.contains(&*culprit.to_string_lossy()) && stderr.contains(why),
            "{what}: {stderr}"
        );
        assert!(stderr.contains("XDG_CACHE_HOME"), "{what}: {stderr}");
    }
}

#[test]
fn a_loosened_cache_is_made_private_again_and_shared_folders_with_care_are_fine() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let image = tmp.path().join("x.AppImage");
    make(&appdir(tmp.path(), b"x"), &image);
    let cache = tmp.path().join("cache");
    let root = cache.join("spacedock/appimage");
    let (out, _) = start(&image, &cache, tmp.path(), &[]);
    let appdir = PathBuf::from(field(&out, "APPDIR"));
    fs::write(appdir.join("left-by-test"), "x").expect("mark");
    set_mode(&root, 0o777);
    let (again, _) = start(&image, &cache, tmp.path(), &[]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(mode(&root), 0o700);
    assert!(appdir.join("left-by-test").exists(), "unpacked again");

    // A cache reached through a link (say to another disk), and one in a shared folder whose
    // sticky bit keeps others from renaming what is in it, as in /tmp.
    let private = tmp.path().join("private");
    fs::create_dir(&private).expect("private");
    set_mode(&private, 0o700);
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&private, &link).expect("link");
    let shared = tmp.path().join("shared");
    fs::create_dir(&shared).expect("shared");
    set_mode(&shared, 0o1777);
    for cache in [link, shared] {
        let (out, _) = start(&image, &cache, tmp.path(), &[]);
        assert!(
            out.status.success(),
            "{}: {}",
            cache.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(field(&out, "APPDIR").starts_with(&*cache.to_string_lossy()));
    }
}
