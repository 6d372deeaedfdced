//! Every answer the app's commands give the window, through tauri's IPC layer (its mock runtime
//! stands in for the window only): a key's secret crosses once, in the answer that creates it,
//! and never lands in a file the app wrote; the keychain holds exactly the keys the page shows.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

mod keys;
mod uploads;

use serde_json::{json, Value};
use spacedock_tests::{admin, fetch, files_holding, new_user, sandbox, unique};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::utils::config::AppDirectoriesOverride;
use tauri::webview::InvokeRequest;

/// The app built on the mock runtime, and every answer it gave, in order.
pub(crate) struct Window {
    webview: tauri::WebviewWindow<tauri::test::MockRuntime>,
    answers: Vec<(String, String)>,
    _app: tauri::App<tauri::test::MockRuntime>,
}

impl Window {
    pub(crate) fn open(identifier: &str, root: &Path) -> Window {
        let mut context = mock_context(noop_assets());
        // Its own keychain namespace and directories: what this test finds there is its own.
        context.config_mut().identifier = identifier.into();
        context.config_mut().app.app_directories_override =
            Some(AppDirectoriesOverride::Root(root.to_path_buf()));
        let mut app = spacedock::builder(mock_builder())
            .build(context)
            .expect("the app builds on the mock runtime");
        // The app's setup (its state, keychain, journal) runs on the event loop's first turn.
        #[allow(deprecated)]
        app.run_iteration(|_, _| {});
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .expect("window");
        Window {
            webview,
            answers: Vec::new(),
            _app: app,
        }
    }

    /// Invokes a command as the page does; errors are answers too and are kept.
    pub(crate) fn call(&mut self, cmd: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("url"),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        let answer = get_ipc_response(&self.webview, request)
            .map(|body| body.deserialize::<Value>().expect("JSON answer"));
        let text = match &answer {
            Ok(v) | Err(v) => v.to_string(),
        };
        self.answers.push((cmd.to_string(), text));
        answer
    }

    pub(crate) fn ok(&mut self, cmd: &str, args: Value) -> Value {
        self.call(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    /// The commands whose answers contain `needle`.
    pub(crate) fn answers_containing(&self, needle: &str) -> Vec<String> {
        self.answers
            .iter()
            .filter(|(_, text)| text.contains(needle))
            .map(|(cmd, _)| cmd.clone())
            .collect()
    }
}

/// The accounts under `service` in the Secret Service, read by another program.
pub(crate) fn keychain_accounts(service: &str) -> BTreeSet<String> {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", service])
        .output()
        .expect("secret-tool (libsecret-tools) is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("attribute.username = "))
        .map(str::to_string)
        .collect()
}

pub(crate) fn files_containing(root: &Path, needles: &[&str]) -> Vec<String> {
    needles
        .iter()
        .flat_map(|needle| {
            let (found, _) = files_holding(root, needle, &[]);
            found
                .into_iter()
                .map(move |path| format!("{} holds …{}", path.display(), &needle[..4]))
        })
        .collect()
}

/// Keys as the keys page shows them: the account's keys held in the keychain (not the
/// connection's own, which is under its connection) and the other keys held.
pub(crate) fn shown_keys(page: &Value) -> BTreeSet<String> {
    let listed = page["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|r| r["inKeychain"] == json!(true) && r["current"] == json!(false))
        .map(|r| format!("key:{}", r["key"]["accessKey"].as_str().expect("ak")));
    let elsewhere = page["heldElsewhere"]
        .as_array()
        .expect("heldElsewhere")
        .iter()
        .map(|k| format!("key:{}", k["accessKey"].as_str().expect("ak")));
    listed.chain(elsewhere).collect()
}

pub(crate) fn keys_in(accounts: &BTreeSet<String>) -> BTreeSet<String> {
    accounts
        .iter()
        .filter(|a| a.starts_with("key:"))
        .cloned()
        .collect()
}
