//! Dragging files out of the window onto the desktop or a file manager. The drag starts at once
//! (the button is still held); the files download through the queue into a private staging
//! folder in the app's cache, and are handed over as file URIs when the drop asks for them —
//! once the whole selection is on disk, so a drop never copies half a file or part of a folder
//! (a selection that can't come whole is handed over as nothing, and the queue says why). A
//! drag dropped nowhere cancels the download; one dropped back onto the window (onto a folder's
//! row, to move there) is handed over at once, without waiting for any download.
//!
//! Written against GTK directly rather than with the `drag` crate: that crate writes
//! `file://` + the raw path, which breaks for names with spaces or `%` (URIs must be encoded).

use std::path::PathBuf;

use crate::core::transfer::local::path_inside;

/// The staging folders of drags, under the app's cache; emptied at each start.
pub const STAGING: &str = "drag-out";

#[cfg(target_os = "linux")]
mod gtk_drag {
    use std::cell::RefCell;
    use std::path::PathBuf;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    use gtk::gdk::DragAction;
    use gtk::glib::{self, ObjectExt, SignalHandlerId};
    use gtk::prelude::WidgetExt;

    /// The longest a drop waits for its files: past it, nothing is handed over and the download
    /// is stopped.
    const LONGEST_WAIT: Duration = Duration::from_secs(30 * 60);

    /// Starts dragging `paths` out of `window`. The drop gets them once `whole()` says the
    /// selection is all on disk (the window stays live meanwhile), or nothing if it says it
    /// can't be; `on_cancel` runs if the drag ends with no drop, or waited too long.
    pub fn start(
        window: &gtk::ApplicationWindow,
        paths: Vec<PathBuf>,
        whole: impl Fn() -> Option<bool> + 'static,
        on_cancel: impl Fn() + 'static,
    ) -> Result<(), String> {
        let on_cancel = std::rc::Rc::new(on_cancel);
        let cancel_late = on_cancel.clone();
        let targets = gtk::TargetList::new(&[gtk::TargetEntry::new(
            "text/uri-list",
            gtk::TargetFlags::OTHER_APP,
            0,
        )]);
        let handlers: Rc<RefCell<Vec<SignalHandlerId>>> = Rc::default();
        let data = window.connect_drag_data_get(move |w, context, data, _, _| {
            let uris = |paths: &[PathBuf]| -> Vec<String> {
                paths
                    .iter()
                    .filter_map(|p| glib::filename_to_uri(p, None).ok())
                    .map(|u| u.to_string())
                    .collect()
            };
            // Dropped back onto this window (a row onto a folder's row): the page moves the
            // files on the server and stops their download, so there is nothing to wait for.
            if dropped_onto(w, context) {
                let given = uris(&paths);
                data.set_uris(&given.iter().map(String::as_str).collect::<Vec<_>>());
                return;
            }
            let asked = Instant::now();
            // Keep the window painting (and the queue's progress coming) while the files land.
            let mut came = whole();
            while came.is_none() && asked.elapsed() < LONGEST_WAIT {
                if !gtk::main_iteration_do(false) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                came = whole();
            }
            let given = match came {
                Some(true) => uris(&paths),
                // Part of the selection, or none of it yet: nothing, rather than a folder that
                // looks whole and is not.
                Some(false) => Vec::new(),
                None => {
                    cancel_late();
                    Vec::new()
                }
            };
            data.set_uris(&given.iter().map(String::as_str).collect::<Vec<_>>());
        });
        let failed = window.connect_drag_failed(move |_, _, _| {
            on_cancel();
            glib::Propagation::Proceed
        });
        let done = {
            let handlers = handlers.clone();
            window.connect_drag_end(move |w, _| {
                // This drag's handlers go with it; the next drag brings its own.
                for id in handlers.borrow_mut().drain(..) {
                    w.disconnect(id);
                }
            })
        };
        handlers.borrow_mut().extend([data, failed, done]);
        let button = gtk::gdk::ffi::GDK_BUTTON1_MASK as i32;
        match window.drag_begin_with_coordinates(&targets, DragAction::COPY, button, None, -1, -1) {
            Some(_) => Ok(()),
            None => {
                for id in handlers.borrow_mut().drain(..) {
                    window.disconnect(id);
                }
                Err("the system did not start the drag".into())
            }
        }
    }

    /// Whether the drop that asks for the data is onto `window` itself. (A drop with no
    /// destination window known to GDK, as on some Wayland sessions, is not.)
    fn dropped_onto(window: &gtk::ApplicationWindow, context: &gtk::gdk::DragContext) -> bool {
        use gtk::glib::translate::ToGlibPtr;
        let Some(own) = window.window() else {
            return false;
        };
        // SAFETY: a plain getter on a live drag context; it may return NULL, which is checked
        // before anything uses it.
        let dest =
            unsafe { gtk::gdk::ffi::gdk_drag_context_get_dest_window(context.to_glib_none().0) };
        if dest.is_null() {
            return false;
        }
        // SAFETY: `dest` is a live, non-NULL GdkWindow owned by the context.
        let top = unsafe { gtk::gdk::ffi::gdk_window_get_toplevel(dest) };
        let own_top: *mut gtk::gdk::ffi::GdkWindow = own.toplevel().to_glib_none().0;
        top == own_top
    }
}

#[cfg(target_os = "linux")]
pub use gtk_drag::start;

/// Makes the staging folder of one drag, private to this user (a drag may hold private files).
pub fn make_staging(cache: &std::path::Path, name: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let root = cache.join(STAGING);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&root)?;
    // Made by an older version with the default mode: private now.
    let private = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700);
    std::fs::set_permissions(&root, private)?;
    let staging = root.join(name);
    std::fs::DirBuilder::new().mode(0o700).create(&staging)?;
    Ok(staging)
}

/// Where each dragged key lands in `staging`: a file by its name, a folder by its own name. A
/// name that would lead out of the staging folder (`..`, for one) is left out, as the download
/// leaves it out.
pub fn dragged_paths(staging: &std::path::Path, keys: &[String]) -> Vec<PathBuf> {
    keys.iter()
        .filter_map(|k| k.trim_end_matches('/').rsplit('/').next())
        .filter_map(|name| path_inside(staging, name).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_folders_land_by_their_own_name() {
        let keys = [
            "a/b/photo one.jpg".to_string(),
            "a/b/".into(),
            "top.txt".into(),
        ];
        let got = dragged_paths(std::path::Path::new("/s"), &keys);
        let want: Vec<PathBuf> = ["/s/photo one.jpg", "/s/b", "/s/top.txt"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn staging_folders_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let cache = tempfile::tempdir().expect("tempdir");
        // An older version's folder, made with the default mode.
        std::fs::create_dir_all(cache.path().join(STAGING)).expect("old");
        std::fs::set_permissions(
            cache.path().join(STAGING),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
        let staging = make_staging(cache.path(), "one").expect("made");
        for dir in [cache.path().join(STAGING), staging] {
            let mode = std::fs::metadata(&dir).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", dir.display());
        }
    }

    #[test]
    fn a_name_that_leads_out_of_the_staging_folder_is_never_handed_over() {
        let keys = [
            "x/..".to_string(),
            "..".into(),
            "a/./".into(),
            "ok.txt".into(),
        ];
        let got = dragged_paths(std::path::Path::new("/s"), &keys);
        assert_eq!(got, [PathBuf::from("/s/ok.txt")]);
    }
}
