//! Spacedock: DigitalOcean Spaces and any S3-compatible storage on the desktop.
//!
//! `core` is the domain, a crate of its own (`spacedock-core`, in `crates/core`) with no
//! `tauri` dependency; `app` adapts it to the window.

pub mod app;
pub use spacedock_core as core;

use tauri::{Manager, RunEvent, Runtime};
use tauri_plugin_store::StoreExt;

use crate::core::services::{Services, Setup};
use app::state::{PluginStore, STORE_FILE};

/// The app on any runtime, so the same wiring can run under tauri's mock runtime.
pub fn builder<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .plugin(app::navigation::guard())
        .plugin(tauri_plugin_store::Builder::default().build())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .setup(|app| {
            let paths = app.path();
            let services = Services::new(Setup {
                keychain_service: app.config().identifier.clone(),
                data_dir: paths.app_data_dir()?,
                log_dir: paths.app_log_dir().ok(),
                store: Box::new(PluginStore(app.store(STORE_FILE)?)),
                start_on_sandbox: std::env::args().any(|a| a == "--sandbox"),
            });
            // What earlier drags out of the window staged has been dropped (or never will be),
            // and is not offered for a resume (versions before this one noted it).
            if let Ok(cache) = paths.app_cache_dir() {
                let staging = cache.join(app::drag_out::STAGING);
                let _ = std::fs::remove_dir_all(&staging);
                services.forget_downloads_under(&staging);
            }
            services.sweep_left_partials();
            let started = format!("Spacedock {} started", env!("CARGO_PKG_VERSION"));
            services.log().write(started);
            app.manage(services);
            quit_on_signals(app.handle().clone());
            syncs_on_their_own(app.handle().clone());
            transfers_told_when_done(app.handle().clone());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            app::commands::connections::app_info,
            app::commands::connections::about,
            app::commands::connections::first_screen,
            app::commands::connections::check_requirements,
            app::commands::connections::start_sandbox,
            app::commands::connections::test_connection,
            app::commands::connections::save_connection,
            app::commands::connections::connect,
            app::commands::connections::disconnect,
            app::commands::connections::delete_connection,
            app::commands::connections::list_spaces,
            app::commands::spaces::check_space_name,
            app::commands::spaces::space_usage,
            app::commands::spaces::hidden_usage,
            app::commands::spaces::access_logging,
            app::commands::spaces::set_access_logging,
            app::commands::spaces::read_access_logs,
            app::commands::spaces::filter_access_logs,
            app::commands::spaces::assign_space_to_project,
            app::commands::spaces::check_space,
            app::commands::spaces::fix_space,
            app::commands::spaces::create_options,
            app::commands::spaces::space_availability,
            app::commands::spaces::create_space,
            app::commands::spaces::space_details,
            app::commands::spaces::open_space_with_key,
            app::commands::spaces::set_file_listing,
            app::commands::spaces::cors_rules,
            app::commands::spaces::set_cors_rules,
            app::commands::spaces::space_is_empty,
            app::commands::spaces::destroy_space,
            app::commands::spaces::cancel_destroy,
            app::commands::spaces::copy_text,
            app::commands::spaces::unfinished_uploads,
            app::commands::spaces::abort_unfinished_uploads,
            app::commands::files::list_folder,
            app::commands::files::create_folder,
            app::commands::files::file_details,
            app::commands::files::cancel_request,
            app::commands::files::preview_file,
            app::commands::files::set_file_acl,
            app::commands::files::share_link,
            app::commands::files::set_file_metadata,
            app::commands::files::delete_files,
            app::commands::files::plan_download,
            app::commands::files::start_download,
            app::commands::files::forget_download,
            app::commands::moves::plan_copy,
            app::commands::moves::start_copy,
            app::commands::moves::forget_copy,
            app::commands::cdn::cdn_state,
            app::commands::cdn::enable_cdn,
            app::commands::cdn::update_cdn,
            app::commands::cdn::disable_cdn,
            app::commands::cdn::purge_cdn,
            app::commands::files::drag_out,
            app::commands::files::folder_size,
            app::commands::files::search_space,
            app::commands::keys::list_keys,
            app::commands::keys::set_api_token,
            app::commands::keys::generate_key,
            app::commands::keys::add_existing_key,
            app::commands::keys::rename_key,
            app::commands::keys::delete_key,
            app::commands::keys::rotate_key,
            app::commands::keys::rotation_plan,
            app::commands::keys::test_key,
            app::commands::keys::connect_with_key,
            app::commands::keys::held_keys,
            app::commands::keys::forget_key,
            app::commands::transfers::plan_upload,
            app::commands::transfers::start_upload,
            app::commands::transfers::watch_transfers,
            app::commands::transfers::cancel_transfer,
            app::commands::transfers::retry_transfer,
            app::commands::transfers::clear_transfers,
            app::commands::transfers::interrupted_transfers,
            app::commands::transfers::resume_transfer,
            app::commands::transfers::discard_transfer,
            app::commands::transfers::transfer_limits,
            app::commands::transfers::set_transfer_limits,
            app::commands::versions::versioning,
            app::commands::versions::lifecycle_rules,
            app::commands::versions::set_lifecycle_rules,
            app::commands::versions::set_versioning,
            app::commands::versions::file_versions,
            app::commands::versions::restore_version,
            app::commands::versions::delete_version,
            app::commands::versions::deleted_files,
            app::commands::versions::undelete_files,
            app::commands::versions::plan_version_download,
            app::commands::sync::sync_pairs,
            app::commands::sync::add_sync_pair,
            app::commands::sync::remove_sync_pair,
            app::commands::sync::plan_sync,
            app::commands::sync::run_sync,
            app::commands::sync::stop_sync,
            app::commands::sync::set_sync_schedule,
            app::commands::sync::pick_sync_folder,
            app::commands::transfers::pick_upload_paths,
        ])
}

/// A session logout, `kill` or Ctrl+C quits through the normal exit path, so the sandbox's
/// daemons are stopped in order instead of being orphaned.
#[cfg(unix)]
fn quit_on_signals<R: Runtime>(handle: tauri::AppHandle<R>) {
    use tokio::signal::unix::{signal, SignalKind};
    tauri::async_runtime::spawn(async move {
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = hup.recv() => {}
        }
        handle.exit(0);
    });
}

/// Pairs that sync on a schedule or when their folder changes: looked at every few seconds.
/// A run that fails, or waits for the user's approval, is a desktop notification (and a red or
/// waiting mark on the Sync page); never silence.
fn syncs_on_their_own<R: Runtime>(handle: tauri::AppHandle<R>) {
    use crate::core::sync::auto::{self, SyncNews};
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            // Each look in a task of its own: a panic in one is that look's end, not the loop's.
            let looked = {
                let handle = handle.clone();
                tauri::async_runtime::spawn(async move {
                    match handle.try_state::<Services>() {
                        Some(services) => auto::tick(&services).await,
                        None => Vec::new(),
                    }
                })
            };
            let news = match looked.await {
                Ok(news) => news,
                Err(e) => vec![SyncNews::Failed {
                    pair: String::new(),
                    folder: String::new(),
                    message: format!("Something failed inside Spacedock while syncing: {e}"),
                }],
            };
            for n in news {
                let (title, body) = match n {
                    SyncNews::Failed {
                        folder, message, ..
                    } if folder.is_empty() => ("Sync failed".to_string(), message),
                    SyncNews::Failed {
                        folder, message, ..
                    } => (format!("Sync of {folder} failed"), message),
                    SyncNews::Waiting { folder, why, .. } => (
                        format!("Sync of {folder} waits for you"),
                        format!("Open Spacedock's Sync page: {why}."),
                    ),
                    SyncNews::Incomplete { folder, what, .. } => {
                        (format!("Sync of {folder} left something undone"), what)
                    }
                    // A run that moved files, while the window is not in front.
                    SyncNews::Synced { folder, files, .. }
                        if files > 0 && !window_in_front(&handle) =>
                    {
                        (
                            format!("Synced {folder}"),
                            format!(
                                "{files} {} synced.",
                                if files == 1 { "file" } else { "files" }
                            ),
                        )
                    }
                    SyncNews::Synced { .. } => continue,
                };
                notify(&handle, &title, &body);
            }
        }
    });
}

/// Whether the user is looking at the window: notices of work done are for when they are not.
fn window_in_front<R: Runtime>(handle: &tauri::AppHandle<R>) -> bool {
    (handle.get_webview_window("main"))
        .and_then(|w| w.is_focused().ok())
        .unwrap_or(false)
}

/// A desktop notification; one that can't be shown is written in the log.
fn notify<R: Runtime>(handle: &tauri::AppHandle<R>, title: &str, body: &str) {
    use tauri_plugin_notification::NotificationExt;
    // Some notification servers read markup in the body: names from a Space are shown as text.
    let plain = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let shown = (handle.notification().builder())
        .title(plain(title))
        .body(plain(body))
        .show();
    if let (Err(e), Some(services)) = (shown, handle.try_state::<Services>()) {
        services
            .log()
            .write(format!("a notification could not be shown ({e}): {title}"));
    }
}

/// Transfers that ran a while and ended while the window was not in front: a desktop
/// notification says how they ended.
fn transfers_told_when_done<R: Runtime>(handle: tauri::AppHandle<R>) {
    use crate::core::transfer::board::{self, LongWork};
    tauri::async_runtime::spawn(async move {
        let mut watch = LongWork::default();
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let Some(services) = handle.try_state::<Services>() else {
                continue;
            };
            let ended = watch.look(std::time::Instant::now(), |rows| {
                board::count(&services, rows)
            });
            if let Some(ended) = ended.filter(|_| !window_in_front(&handle)) {
                let (title, body) = ended.words();
                notify(&handle, &title, &body);
            }
        }
    });
}

#[cfg(not(unix))]
fn quit_on_signals<R: Runtime>(_handle: tauri::AppHandle<R>) {}

/// What of the window is kept from one run to the next.
const WINDOW_KEPT: tauri_plugin_window_state::StateFlags =
    tauri_plugin_window_state::StateFlags::SIZE
        .union(tauri_plugin_window_state::StateFlags::POSITION)
        .union(tauri_plugin_window_state::StateFlags::MAXIMIZED);

/// The window's size and place are written a second after they last change, not only at a clean
/// exit (the plugin's own time): a crash or a kill still opens the window as it was.
fn keep_the_window_as_it_changes<R: Runtime>() -> impl Fn(&tauri::Window<R>, &tauri::WindowEvent) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use tauri_plugin_window_state::AppHandleExt;
    let changes = std::sync::Arc::new(AtomicU64::new(0));
    move |window, event| {
        if !matches!(
            event,
            tauri::WindowEvent::Resized(_) | tauri::WindowEvent::Moved(_)
        ) {
            return;
        }
        let this = changes.fetch_add(1, Ordering::SeqCst) + 1;
        let (handle, changes) = (window.app_handle().clone(), changes.clone());
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            if changes.load(Ordering::SeqCst) != this {
                return;
            }
            // On the main thread, where the plugin's own handlers run: from a worker it would
            // hold the plugin's lock while waiting for the main thread, which may wait for it.
            let main = handle.clone();
            let _ = handle.run_on_main_thread(move || {
                if let Err(e) = main.save_window_state(WINDOW_KEPT) {
                    if let Some(services) = main.try_state::<Services>() {
                        services
                            .log()
                            .write(format!("the window's size could not be kept: {e}"));
                    }
                }
            });
        });
    }
}

/// When `run` began: the start-up report counts from here (the footprint command also times the
/// whole process from outside).
pub fn started() -> std::time::Instant {
    static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *STARTED.get_or_init(std::time::Instant::now)
}

pub fn run() {
    started();
    // One Spacedock per user, registered first so a second launch ends before it touches
    // anything: it shows the first one's window instead. (Not in `builder`, which the IPC tests
    // build many times in one process.)
    let one = tauri_plugin_single_instance::init(|app, _, _| {
        if let Some(window) = app.get_webview_window("main") {
            let _ = window.unminimize();
            let _ = window.show();
            let _ = window.set_focus();
        }
    });
    // The window opens where, and as big as, it was left.
    let remembered = tauri_plugin_window_state::Builder::default()
        .with_state_flags(WINDOW_KEPT)
        .build();
    let app = builder(tauri::Builder::default().plugin(one).plugin(remembered))
        .on_window_event(keep_the_window_as_it_changes())
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("Spacedock could not start: {e}");
            std::process::exit(1);
        });
    app.run(|handle, event| {
        // Quitting stops the sandbox's daemons (each gets a grace period, then KILL).
        if let RunEvent::Exit = event {
            if let Some(state) = handle.try_state::<Services>() {
                state.stop_transfers(std::time::Duration::from_secs(5));
                state.stop_sandbox();
            }
        }
    });
}
