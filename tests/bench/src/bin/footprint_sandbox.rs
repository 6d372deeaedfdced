//! For `.ci/footprint`: a sandbox on loopback holding one empty Space, and a home whose saved
//! connection to it (the last used, its secret in the session's keychain) needs no sandbox of the
//! app's own, so the app starts straight to the Spaces list, as for a returning user.
//!
//! `footprint_sandbox HOME WORK`: prints `ready`, then answers lines on stdin —
//! `wait KEY BYTES` prints `stored` once the Space holds KEY with BYTES bytes — and stops the
//! sandbox when stdin closes.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use spacedock_core::connection::{Endpoint, SANDBOX_SIGNING_REGION};
use spacedock_core::keychain::Keychain;
use spacedock_core::s3;
use spacedock_core::sandbox::{self, StartOptions};

/// The one Space of the footprint's connection.
const SPACE: &str = "footprint";

#[tokio::main]
async fn main() {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (home, work) = match (args.next(), args.next()) {
        (Some(home), Some(work)) => (home, work),
        _ => panic!("usage: footprint_sandbox HOME WORK"),
    };
    let options = StartOptions {
        store_bytes: 8 << 30,
        ..StartOptions::new(work.join("sandbox"))
    };
    let sb = sandbox::start(&options, |_| {}).expect("sandbox");
    let (access_key, secret) = (sb.owner().access_key.clone(), sb.owner().secret.clone());
    let url = sb.endpoint_url();
    let endpoint = Endpoint {
        url: url.clone(),
        signing_region: SANDBOX_SIGNING_REGION.into(),
        path_style: true,
    };
    let client = s3::client(&endpoint, &access_key, &secret);
    // Empty at each start: an upload measured is a new file, never one already there.
    let stop = spacedock_core::CancellationToken::new();
    let _ =
        spacedock_core::destroy::destroy(&client, &url, SPACE, SPACE, true, &stop, |_| {}).await;
    client
        .create_bucket()
        .bucket(SPACE)
        .send()
        .await
        .expect("the footprint's Space");

    // The app's saved connection, as the app itself writes it, and its secret in the keychain.
    let data = home.join(".local/share/io.spacedock.app");
    std::fs::create_dir_all(&data).expect("the app's data folder");
    let id = "footprint";
    let store = serde_json::json!({
        "connections": [{
            "id": id, "name": "Footprint (loopback)",
            "provider": { "type": "custom", "endpoint": url, "signingRegion": SANDBOX_SIGNING_REGION, "pathStyle": true },
            "accessKey": access_key, "space": null, "spaceKeys": {}
        }],
        "lastUsed": id,
    });
    std::fs::write(data.join("connections.json"), store.to_string()).expect("store");
    Keychain::new("io.spacedock.app")
        .set(&format!("connection:{id}"), &secret)
        .expect("keychain");
    println!("ready");

    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["wait", key, bytes] = words[..] {
            let bytes: i64 = bytes.parse().expect("a size");
            loop {
                let head = client.head_object().bucket(SPACE).key(key).send().await;
                if head.is_ok_and(|h| h.content_length() == Some(bytes)) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            println!("stored");
        }
    }
    sb.stop();
}
