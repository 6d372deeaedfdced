//! Runs one upload or download with the app's engine, to be killed (SIGKILL) half way by the
//! fault tests. Arguments: upload|download ENDPOINT ACCESS_KEY SPACE KEY PATH RECORD; the secret
//! comes on standard input, so it is never on a command line.

use std::io::Read;
use std::sync::Arc;

use spacedock::core::connection::{Endpoint, SANDBOX_SIGNING_REGION};
use spacedock::core::secret::Secret;
use spacedock::core::transfer::download::Noting;
use spacedock::core::transfer::pace::Pace;
use spacedock::core::transfer::unfinished::{PartialDownloads, Unfinished};
use spacedock::core::transfer::{self, Cancel, FileAcl, PlannedFile, QueuedFile, Settings, Target};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, endpoint, access_key, space, key, path, record] = &args[..] else {
        eprintln!(
            "usage: transfer_victim upload|download ENDPOINT ACCESS_KEY SPACE KEY PATH RECORD"
        );
        std::process::exit(2);
    };
    let mut secret = String::new();
    std::io::stdin()
        .read_to_string(&mut secret)
        .expect("secret on stdin");
    let endpoint = Endpoint {
        url: endpoint.clone(),
        signing_region: SANDBOX_SIGNING_REGION.into(),
        path_style: true,
    };
    let client = spacedock::core::s3::client(&endpoint, access_key, &Secret::new(secret.trim()));
    match mode.as_str() {
        "upload" => {
            let size = std::fs::metadata(path).expect("file").len();
            let target = Target {
                client,
                endpoint: endpoint.url.clone(),
                space: space.clone(),
                unfinished: Some(Arc::new(Unfinished::new(record))),
                pace: Pace::default(),
                link: Default::default(),
            };
            let file = QueuedFile {
                id: 0,
                file: PlannedFile {
                    path: path.into(),
                    key: key.clone(),
                    size,
                },
                cancel: Cancel::default(),
                expect: Default::default(),
            };
            // Small parts, few at a time: the upload lasts long enough to be killed half way.
            let settings = Settings {
                multipart_threshold: 5 << 20,
                part_size: 5 << 20,
                requests_in_flight: 1,
                parts_in_flight: 1,
                ..Settings::default()
            };
            transfer::upload_all(
                target,
                vec![file],
                FileAcl::Private,
                settings,
                Arc::new(|_| {}),
            )
            .await;
        }
        "download" => {
            let dest = std::path::Path::new(path);
            let folder = dest.parent().expect("a folder");
            // Announce progress on stdout so the test knows bytes have landed on disk.
            let report = |bytes: u64| println!("{bytes}");
            // RECORD "-" notes nothing; else the ranges on disk are noted there, as in the app.
            let record = (record != "-").then(|| PartialDownloads::new(record));
            let noting = record.as_ref().map(|record| Noting {
                record,
                dest: folder,
                replace: None,
            });
            let from = Target {
                client,
                endpoint: endpoint.url.clone(),
                space: space.clone(),
                unfinished: None,
                pace: Pace::default(),
                link: Default::default(),
            };
            let to = (folder, dest);
            transfer::download::download_file(&from, key, to, &report, noting.as_ref(), None)
                .await
                .expect("download");
        }
        _ => std::process::exit(2),
    }
}
