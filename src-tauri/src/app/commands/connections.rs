//! Commands of the first screen (the sandbox, saved connections, the Spaces list) and of About.
//! Each adapts one call of [`crate::core::connection::service`] or [`crate::core::about`].

use tauri::ipc::Channel;
use tauri::State;

use crate::app::error::Result;
use crate::core::about::{self, About, Requirement};
use crate::core::connection::active::Session;
use crate::core::connection::service::{self as connections, AppInfo, TestResult};
use crate::core::connection::{ConnectionDraft, ConnectionProfile};
use crate::core::sandbox::Progress;
use crate::core::services::Services;
use crate::core::spaces::SpaceSummary;

#[tauri::command]
pub fn app_info(state: State<'_, Services>) -> Result<AppInfo> {
    Ok(connections::app_info(&state)?)
}

/// Starts (or reuses) the local sandbox and connects to it, reporting each step on `on_progress`.
#[tauri::command]
pub async fn start_sandbox(
    state: State<'_, Services>,
    on_progress: Channel<Progress>,
) -> Result<Session> {
    let progress = move |p| {
        let _ = on_progress.send(p);
    };
    Ok(connections::start_sandbox(&state, progress).await?)
}

#[tauri::command]
pub async fn test_connection(
    state: State<'_, Services>,
    draft: ConnectionDraft,
) -> Result<TestResult> {
    Ok(connections::test_connection(&state, &draft).await?)
}

#[tauri::command]
pub async fn save_connection(
    state: State<'_, Services>,
    draft: ConnectionDraft,
) -> Result<ConnectionProfile> {
    Ok(connections::save_connection(&state, &draft)?)
}

#[tauri::command]
pub async fn connect(state: State<'_, Services>, id: String) -> Result<Session> {
    Ok(connections::connect(&state, &id).await?)
}

#[tauri::command]
pub async fn disconnect(state: State<'_, Services>) -> Result<()> {
    connections::disconnect(&state).await;
    Ok(())
}

#[tauri::command]
pub async fn delete_connection(state: State<'_, Services>, id: String) -> Result<()> {
    Ok(connections::delete_connection(&state, &id).await?)
}

#[tauri::command]
pub async fn list_spaces(state: State<'_, Services>) -> Result<Vec<SpaceSummary>> {
    Ok(connections::list_spaces(&state).await?)
}

/// Version, licence and where the app keeps its files.
#[tauri::command]
pub fn about(state: State<'_, Services>) -> About {
    about::about(&state)
}

/// What the app needs from this computer, and whether it has it: the keychain, Ceph for the
/// sandbox, and the WebKit the window runs on.
#[tauri::command]
pub fn check_requirements(state: State<'_, Services>) -> Vec<Requirement> {
    let mut found = about::check(&state);
    found.push(webkit());
    found
}

#[cfg(target_os = "linux")]
fn webkit() -> Requirement {
    // SAFETY: plain getters of the linked library's version numbers; no arguments, no state.
    let (major, minor, micro) = unsafe {
        (
            webkit2gtk_sys::webkit_get_major_version(),
            webkit2gtk_sys::webkit_get_minor_version(),
            webkit2gtk_sys::webkit_get_micro_version(),
        )
    };
    Requirement {
        name: "WebKitGTK".into(),
        ok: true,
        detail: format!("{major}.{minor}.{micro}, the web engine the window runs on."),
        needed_for: "the window".into(),
    }
}

#[cfg(not(target_os = "linux"))]
fn webkit() -> Requirement {
    Requirement {
        name: "Web view".into(),
        ok: true,
        detail: "The system's own web view.".into(),
        needed_for: "the window".into(),
    }
}

/// The page painted its first usable screen. With `SPACEDOCK_STARTUP_REPORT` set (the footprint
/// command sets it), the time since the app started is printed once, for the figures.
#[tauri::command]
pub fn first_screen(screen: String) {
    static TOLD: std::sync::Once = std::sync::Once::new();
    if std::env::var_os("SPACEDOCK_STARTUP_REPORT").is_none() {
        return;
    }
    TOLD.call_once(|| {
        let since = crate::started().elapsed();
        println!(
            "first screen ({screen}) painted, {} ms after the app began",
            since.as_millis()
        );
    });
}
