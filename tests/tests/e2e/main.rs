//! End-to-end through the real window: the built app, driven by tauri-driver + WebKitWebDriver
//! under Xvfb, with the real sandbox and the real keychain. Screenshots go to the folder the
//! README names (`$SPACEDOCK_SCREENSHOTS`, by default `<target>/screenshots`).

mod cdn;
mod create;
mod deletes;
mod desktop;
mod drag_out;
mod files;
mod first_run;
mod harness;
mod keys;
mod moves;
mod native;
mod operating;
mod resume;
mod sync;
mod versions;

use std::process::Command;
use std::time::{Duration, Instant};

use desktop::{choose_folder_in_dialog, drop_onto_window, fits_a_small_window};
use fantoccini::Locator;
use harness::{App, Home};
use spacedock::core::connection::Endpoint;
use spacedock::core::keychain::Keychain;
use spacedock::core::s3;

const IDENTIFIER: &str = "io.spacedock.app";
