fn main() {
    // Each command listed here is denied until a capability allows it.
    let commands = &[
        "app_info",
        "start_sandbox",
        "test_connection",
        "save_connection",
        "connect",
        "disconnect",
        "delete_connection",
        "list_spaces",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri build script");
}
