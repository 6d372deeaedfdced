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
        "check_space_name",
        "create_options",
        "space_availability",
        "create_space",
        "space_details",
        "set_file_listing",
        "cors_rules",
        "set_cors_rules",
        "space_is_empty",
        "destroy_space",
        "cancel_destroy",
        "copy_text",
        "list_folder",
        "create_folder",
        "file_details",
        "set_file_acl",
        "share_link",
        "set_file_metadata",
        "delete_files",
        "download_files",
        "plan_upload",
        "start_upload",
        "cancel_upload",
        "pick_upload_paths",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri build script");
}
