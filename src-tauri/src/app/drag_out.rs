//! Dragging files out of the window onto the desktop or a file manager. The drag starts at once
//! (the button is still held); the files download through the queue into a staging folder in the
//! app's cache, and are handed over as file URIs when the drop asks for them — once they are
//! all on disk, so a drop never copies half a file. A drag dropped nowhere cancels the download.
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

    /// The longest a drop waits for its files: past it, what is on disk is handed over.
    const LONGEST_WAIT: Duration = Duration::from_secs(30 * 60);

    /// Starts dragging `paths` out of `window`. The drop gets them once `ready()` says so
    /// (the window stays live meanwhile); `on_cancel` runs if the drag ends with no drop.
    pub fn start(
        window: &gtk::ApplicationWindow,
        paths: Vec<PathBuf>,
        ready: impl Fn() -> bool + 'static,
        on_cancel: impl Fn() + 'static,
    ) -> Result<(), String> {
        let targets = gtk::TargetList::new(&[gtk::TargetEntry::new(
            "text/uri-list",
            gtk::TargetFlags::OTHER_APP,
            0,
        )]);
        let handlers: Rc<RefCell<Vec<SignalHandlerId>>> = Rc::default();
        let data = window.connect_drag_data_get(move |_, _, data, _, _| {
            let asked = Instant::now();
            // Keep the window painting (and the queue's progress coming) while the files land.
            while !ready() && asked.elapsed() < LONGEST_WAIT {
                if !gtk::main_iteration_do(false) {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            let uris: Vec<String> = paths
                .iter()
                .filter_map(|p| glib::filename_to_uri(p, None).ok())
                .map(|u| u.to_string())
                .collect();
            let uris: Vec<&str> = uris.iter().map(String::as_str).collect();
            data.set_uris(&uris);
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
}

#[cfg(target_os = "linux")]
pub use gtk_drag::start;

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
