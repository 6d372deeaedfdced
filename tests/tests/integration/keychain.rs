//! The OS keychain, for real: Secret Service (gnome-keyring) on the session bus.

use std::process::Command;

use spacedock::core::keychain::Keychain;
use spacedock::core::secret::Secret;
use spacedock_tests::unique;

fn secret_tool_lookup(service: &str, account: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", service, "username", account])
        .output()
        .expect("secret-tool (libsecret-tools) is installed");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

#[test]
fn save_read_back_and_delete() {
    let service = unique("io.spacedock.app.test");
    let keychain = Keychain::new(&service);
    let secret = Secret::new(format!("s3cr3t/{}", unique("value")));

    assert!(
        keychain.get("connection:a").expect("read").is_none(),
        "a new service has no entry"
    );
    keychain.set("connection:a", &secret).expect("save");
    assert_eq!(
        keychain.get("connection:a").expect("read back"),
        Some(secret.clone())
    );

    // It is really in the Secret Service, where other programs see it, not in a mock.
    assert_eq!(
        secret_tool_lookup(&service, "connection:a").as_deref(),
        Some(secret.expose())
    );

    let replaced = Secret::new("another");
    keychain.set("connection:a", &replaced).expect("overwrite");
    assert_eq!(keychain.get("connection:a").expect("read"), Some(replaced));

    keychain.delete("connection:a").expect("delete");
    assert!(keychain.get("connection:a").expect("read").is_none());
    assert!(secret_tool_lookup(&service, "connection:a").is_none());
    keychain
        .delete("connection:a")
        .expect("deleting twice is fine");
}

#[test]
fn entries_are_namespaced_by_service() {
    let a = Keychain::new(unique("io.spacedock.app.a"));
    let b = Keychain::new(unique("io.spacedock.app.b"));
    a.set("same-account", &Secret::new("from-a")).expect("save");
    assert!(b.get("same-account").expect("read").is_none());
    a.delete("same-account").expect("delete");
}
