//! The window shows the app and nothing else: a navigation of the window, or of a frame in it,
//! goes only to the app's own pages. A link in something the window shows from a server (a
//! previewed PDF, whose viewer opens links in the top window) can't turn the app's window into
//! someone else's page.

use tauri::plugin::{Builder, TauriPlugin};
use tauri::Runtime;

/// Whether the window (or a frame of it) may go to `url`.
pub fn may_go_to(url: &tauri::Url) -> bool {
    match url.scheme() {
        // The app's own pages: tauri://localhost on Linux and macOS, http(s)://tauri.localhost
        // on Windows.
        "tauri" => url.host_str() == Some("localhost"),
        "http" | "https" => url.host_str() == Some("tauri.localhost"),
        // What a preview frame holds (a PDF's bytes the app fetched), an empty frame, and the
        // PDF viewer WebKit runs inside such a frame.
        "data" => url.path().starts_with("application/pdf;"),
        "about" => url.as_str() == "about:blank",
        "webkit-pdfjs-viewer" => true,
        _ => false,
    }
}

/// The plugin that holds every navigation to [`may_go_to`].
pub fn guard<R: Runtime>() -> TauriPlugin<R> {
    Builder::new("navigation-guard")
        .on_navigation(|_, url| may_go_to(url))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_apps_own_pages_and_preview_frames() {
        let go = |u: &str| may_go_to(&tauri::Url::parse(u).expect("url"));
        for ok in [
            "tauri://localhost/",
            "tauri://localhost/index.html#spaces",
            "http://tauri.localhost/",
            "data:application/pdf;base64,JVBERi0=",
            "about:blank",
        ] {
            assert!(go(ok), "{ok}");
        }
        for no in [
            "http://127.0.0.1:8080/pwned",
            "https://evil.example/login",
            "tauri://evil.example/",
            "http://tauri.localhost.evil.example/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:text/html,<h1>phishing</h1>",
            "about:srcdoc",
        ] {
            assert!(!go(no), "{no}");
        }
    }
}
