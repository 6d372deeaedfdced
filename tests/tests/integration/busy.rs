//! A busy server: above a few requests at once it answers 503 Slow Down, as Spaces does under
//! load (the sandbox's RGW here has no request limit to switch on, so a small server plays it).
//! Every file still moves: the transfers send fewer at once and try again, rather than fail.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use spacedock::core::connection::Endpoint;
use spacedock::core::s3;
use spacedock::core::secret::Secret;
use spacedock::core::transfer::download::{self, DownloadFile, DownloadPlan};
use spacedock::core::transfer::integrity;
use spacedock::core::transfer::{
    self, Conflict, FileAcl, PlannedFile, QueuedFile, Settings, Target,
};
use spacedock_tests::hostile::{HostileServer, Reply};

/// Requests the server takes at once; one more is answered Slow Down.
const ROOM: usize = 6;
const FILES: usize = 200;

/// The server, and how many times it said Slow Down.
fn busy_server() -> (HostileServer, Arc<AtomicUsize>) {
    let (in_flight, slowed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (now, said) = (in_flight.clone(), slowed.clone());
    let server = HostileServer::start_with(move |r| {
        let target = r.target.as_str();
        let answer = match now.fetch_add(1, SeqCst) + 1 > ROOM {
            true => {
                said.fetch_add(1, SeqCst);
                let slow_down = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
                (503, slow_down.to_string())
            }
            false => {
                std::thread::sleep(Duration::from_millis(10));
                // A file's bytes are its own path, so each can be checked.
                (200, target.split('?').next().unwrap_or(target).to_string())
            }
        };
        now.fetch_sub(1, SeqCst);
        match r.method.as_str() {
            // With the ETag S3 gives, so each download can be checked.
            "GET" => {
                let etag = integrity::hex(&integrity::md5_of(answer.1.as_bytes()));
                Reply::new(answer.0, answer.1).header("ETag", &format!("\"{etag}\""))
            }
            _ => Reply::new(answer.0, answer.1),
        }
    });
    (server, slowed)
}

fn target_at(server: &HostileServer) -> Target {
    let endpoint = Endpoint {
        url: server.base.clone(),
        signing_region: "us-east-1".into(),
        path_style: true,
    };
    let client = s3::client(&endpoint, "AK", &Secret::new("secret"));
    Target::plain(&client, &server.base, "s")
}

#[tokio::test]
async fn a_busy_server_slows_the_downloads_and_every_file_still_arrives() {
    let (server, slowed) = busy_server();
    let target = target_at(&server);
    let dest = tempfile::tempdir().expect("tempdir");
    let plan = DownloadPlan {
        files: (0..FILES)
            .map(|i| DownloadFile {
                id: i as u32,
                key: format!("f/{i}.txt"),
                version: None,
                existing: None,
                path: dest.path().join(format!("{i}.txt")),
                size: 0,
            })
            .collect(),
        problems: Vec::new(),
    };
    let options = download::Options::default();
    let summary = download::run(
        &target,
        dest.path(),
        plan,
        Conflict::Overwrite,
        &|_| {},
        options,
    )
    .await;
    let some: Vec<_> = summary.problems.iter().take(3).collect();
    assert!(
        summary.problems.is_empty(),
        "{} failed, e.g. {some:?}",
        summary.problems.len()
    );
    assert_eq!(summary.done as usize, FILES);
    for i in 0..FILES {
        let got = std::fs::read_to_string(dest.path().join(format!("{i}.txt"))).expect("file");
        assert_eq!(got, format!("/s/f/{i}.txt"));
    }
    assert!(
        slowed.load(SeqCst) > 0,
        "the server never had to say Slow Down"
    );
}

#[tokio::test]
async fn a_busy_server_slows_the_uploads_and_every_file_still_goes() {
    let (server, slowed) = busy_server();
    let target = target_at(&server);
    let src = tempfile::tempdir().expect("tempdir");
    let files = (0..FILES)
        .map(|i| {
            let path = src.path().join(format!("{i}.txt"));
            std::fs::write(&path, format!("file {i}")).expect("write");
            QueuedFile {
                id: i as u32,
                file: PlannedFile {
                    key: format!("up/{i}.txt"),
                    size: format!("file {i}").len() as u64,
                    path,
                },
                cancel: Default::default(),
                expect: Default::default(),
            }
        })
        .collect();
    let summary = transfer::upload_all(
        target,
        files,
        FileAcl::Private,
        Settings::default(),
        Arc::new(|_| {}),
    )
    .await;
    assert_eq!((summary.done as usize, summary.failed), (FILES, 0));
    // The server took every file once it had room (a Slow Down stores nothing).
    let mut stored: Vec<String> = server.requests();
    stored.retain(|r| r.starts_with("PUT "));
    stored.sort();
    stored.dedup();
    assert_eq!(stored.len(), FILES, "distinct files sent");
    assert!(
        slowed.load(SeqCst) > 0,
        "the server never had to say Slow Down"
    );
}
