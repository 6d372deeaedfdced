//! Servers that answer slowly, a byte at a time, so that a read timeout never fires: no request
//! waits for them for ever, and what the user started (a preview, a file's details, its
//! versions) stops when asked.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use spacedock::core::connection::service as connections;
use spacedock::core::connection::Endpoint;
use spacedock::core::error::ErrorKind;
use spacedock::core::secret::Secret;
use spacedock::core::{files, objects, preview, s3, versions};

use crate::services::{draft, services};

/// A server that takes each request and then sends its answer a byte a second, for ever.
fn dripping() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                let mut out = stream;
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n"
                    .iter()
                    .cycle()
                {
                    if out.write_all(&[*byte]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
    });
    base
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_to_a_server_that_answers_a_byte_at_a_time_is_given_up_on() {
    let base = dripping();
    let endpoint = Endpoint {
        url: base.clone(),
        signing_region: "us-east-1".into(),
        path_style: true,
    };
    let client =
        s3::client_with_deadline(&endpoint, "AK", &Secret::new("s"), Duration::from_secs(3));
    let started = Instant::now();
    let e = objects::details(&client, &base, "s", "a.txt")
        .await
        .expect_err("no answer in time");
    assert_eq!(e.kind(), ErrorKind::Unreachable, "{e}");
    assert!(e.to_string().contains("no answer in time"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preview_details_and_versions_stop_when_the_window_asks() {
    let base = dripping();
    let root = tempfile::tempdir().expect("tempdir");
    let s = std::sync::Arc::new(services(root.path()));
    let slow = draft(&base, "Slow", "AK", &Secret::new("secret"));
    let saved = connections::save_connection(&s, &slow).expect("save");
    connections::connect(&s, &saved.id).await.expect("connect");
    for (n, what) in ["preview", "details", "versions"].into_iter().enumerate() {
        let request = Some(n as u32 + 1);
        let s2 = s.clone();
        let running = tokio::spawn(async move {
            let e = match what {
                "preview" => preview::preview_in(&s2, "s", None, "a.txt", request)
                    .await
                    .map(drop),
                "details" => files::view(&s2, "s", None, "a.txt", request)
                    .await
                    .map(drop),
                _ => versions::service::file_versions(&s2, "s", None, "a.txt", request)
                    .await
                    .map(drop),
            };
            e.expect_err("stopped")
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let asked = Instant::now();
        s.requests().cancel(n as u32 + 1);
        let e = tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .unwrap_or_else(|_| panic!("{what} did not stop"))
            .expect("joined");
        assert_eq!(e.kind(), ErrorKind::Cancelled, "{what}: {e}");
        assert!(asked.elapsed() < Duration::from_secs(2), "{what}");
    }
    // A stop that comes before the request begins is kept for it.
    s.requests().cancel(99);
    let e = files::view(&s, "s", None, "a.txt", Some(99)).await;
    assert_eq!(e.expect_err("stopped").kind(), ErrorKind::Cancelled);
}
