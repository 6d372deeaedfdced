//! `Spacedock_VERSION_ARCH.AppImage`: this program with the app's SquashFS image after it.
//! Run it and the app starts; `--appimage-help` lists what else it does.

use std::env;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode};

use spacedock_appimage::{cache_root, check_image, extract, image_offset, unpacked, RuntimeError};

const HELP: &str = "Spacedock's AppImage. Run it to start Spacedock; any arguments go to the app.
  --appimage-help              this text
  --appimage-offset            where the SquashFS image starts in this file, in bytes
  --appimage-extract           unpack the image into ./squashfs-root
  --appimage-extract-and-run   start the app (what a plain start does: the image is unpacked
                               once into ~/.cache/spacedock/appimage, never mounted)";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "Spacedock AppImage: {e}");
            ExitCode::from(127)
        }
    }
}

/// One line to stdout. A reader that went away early (`| head`) is not an error worth a panic.
fn say(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn run() -> Result<(), RuntimeError> {
    let mut args: Vec<OsString> = env::args_os().collect();
    let argv0 = if args.is_empty() {
        OsString::new()
    } else {
        args.remove(0)
    };
    let image = env::current_exe().map_err(|source| RuntimeError::Io {
        what: "can't find this AppImage's own file".into(),
        source,
    })?;
    let first = args.first().and_then(|a| a.to_str()).unwrap_or("");
    match first {
        "--appimage-help" => {
            say(HELP);
            return Ok(());
        }
        "--appimage-offset" => {
            say(&image_offset(&image)?.to_string());
            return Ok(());
        }
        "--appimage-extract" => {
            let offset = image_offset(&image)?;
            check_image(&image, offset)?;
            let dest = Path::new("squashfs-root");
            // Never mixes into (or overwrites) a folder the user already has.
            std::fs::create_dir(dest).map_err(|source| RuntimeError::Io {
                what: "can't make ./squashfs-root (move an old one away first)".into(),
                source,
            })?;
            extract(&image, offset, dest)?;
            say("squashfs-root");
            return Ok(());
        }
        "--appimage-extract-and-run" => {
            args.remove(0);
        }
        other if other.starts_with("--appimage-") => {
            return Err(RuntimeError::Io {
                what: format!("{other} is not something this AppImage does (see --appimage-help)"),
                source: std::io::ErrorKind::Unsupported.into(),
            });
        }
        _ => {}
    }
    let offset = image_offset(&image)?;
    let root = cache_root(
        env::var_os("XDG_CACHE_HOME").as_deref(),
        env::var_os("HOME").as_deref(),
    )?;
    // Held until exec, and inherited by the app: see `Unpacking`.
    let unpacking = unpacked(&image, offset, &root)?;
    let appdir = unpacking.dir();
    let mut command = Command::new(appdir.join("AppRun"));
    command
        .args(&args)
        .env("APPIMAGE", &image)
        .env("APPDIR", appdir)
        .env("ARGV0", &argv0);
    if let Ok(owd) = env::current_dir() {
        command.env("OWD", owd);
    }
    // exec: the app takes this process's place, so whoever started the AppImage (a launcher, a
    // WebDriver) keeps talking to the app itself.
    let source = command.exec();
    Err(RuntimeError::Io {
        what: format!("can't start {}", appdir.join("AppRun").display()),
        source,
    })
}

/// Filled by `make-appimage` with the SHA-256 of the image it appends (zero in the bare runtime).
/// Read from the file, never through this static, so the compiler can't assume it is zero.
#[used]
#[link_section = ".spacedock_digest"]
static IMAGE_DIGEST: [u8; 32] = [0; 32];
