//! Access logs: the viewer reads real-format log files put in a sandbox Space; the switch is
//! tried on the sandbox (whose RGW refuses it, 405) and against a FAKE of the bucket-logging
//! calls in front of it (DigitalOcean's Spaces take them, but can't be reached from here).

use spacedock::core::connection::service as connections;
use spacedock::core::error::ErrorKind;
use spacedock::core::space::access_logs::{self, LogFilter};
use spacedock_tests::fake_logging::FakeLogging;
use spacedock_tests::{new_space, owner_client, sandbox, unique};

use crate::safety::put;
use crate::services::{connected, draft, services};

const OWNER: &str = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";

/// One line of the S3 server-access-log format, as DigitalOcean writes it.
fn line(
    time: &str,
    ip: &str,
    op: &str,
    key: &str,
    status: u16,
    bytes: &str,
    agent: &str,
) -> String {
    format!(
        "{OWNER} site [{time}] {ip} - 3E57427F3EXAMPLE {op} {key} \"GET /site/{key} HTTP/1.1\" {status} {} {bytes} 3462992 70 10 \"-\" \"{agent}\" - hostid= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader site.nyc3.digitaloceanspaces.com TLSv1.2 - -",
        if status >= 400 { "NoSuchKey" } else { "-" }
    )
}

#[tokio::test]
async fn the_viewer_sums_up_the_log_files_below_the_prefix() {
    let sb = sandbox();
    let owner = owner_client(&sb);
    let logs = new_space(&sb, "logs").await;
    let day1 = [
        line(
            "04/Dec/2026:09:00:01 +0000",
            "192.0.2.3",
            "REST.GET.OBJECT",
            "photos/my%20cat.jpg",
            200,
            "2000",
            "Mozilla/5.0 (X11; Linux x86_64) \\\"quoted\\\" Gecko",
        ),
        line(
            "04/Dec/2026:09:00:02 +0000",
            "192.0.2.3",
            "REST.GET.OBJECT",
            "photos/my%20cat.jpg",
            200,
            "2000",
            "curl/8.5",
        ),
        line(
            "04/Dec/2026:09:30:00 +0000",
            "198.51.100.7",
            "REST.GET.OBJECT",
            "missing.txt",
            404,
            "-",
            "-",
        ),
    ]
    .join("\n");
    let day2 = [
        line(
            "05/Dec/2026:10:00:00 +0000",
            "203.0.113.9",
            "REST.GET.OBJECT",
            "index.html",
            200,
            "500",
            "Mozilla/5.0",
        ),
        "this line is not a log line".to_string(),
        line(
            "05/Dec/2026:10:00:05 +0000",
            "192.0.2.3",
            "REST.HEAD.OBJECT",
            "index.html",
            304,
            "-",
            "Mozilla/5.0",
        ),
    ]
    .join("\r\n");
    put(
        &owner,
        &logs,
        "access-logs/site/2026-12-04-09-00-00-A1B2C3",
        day1.as_bytes(),
    )
    .await;
    put(
        &owner,
        &logs,
        "access-logs/site/2026-12-05-10-00-00-D4E5F6",
        day2.as_bytes(),
    )
    .await;
    // Beside the prefix: never read.
    let elsewhere = line(
        "05/Dec/2026:11:00:00 +0000",
        "10.0.0.1",
        "REST.GET.OBJECT",
        "secret.txt",
        200,
        "9",
        "x",
    );
    put(
        &owner,
        &logs,
        "access-logs/other/2026-12-05-11-00-00-000000",
        elsewhere.as_bytes(),
    )
    .await;

    let root = tempfile::tempdir().expect("tempdir");
    let s = connected(&sb, root.path(), &sb.endpoint.url).await;
    let all = access_logs::read(
        &s,
        (&logs, None),
        "access-logs/site/",
        &LogFilter::default(),
        None,
    )
    .await
    .expect("read");
    assert_eq!((all.files_read, all.files_found), (2, 2));
    assert_eq!(all.bytes_read, (day1.len() + day2.len()) as u64);
    let sum = &all.summary;
    assert_eq!((sum.requests, sum.bytes_sent, sum.unreadable), (5, 4500, 1));
    let days: Vec<_> = sum
        .by_day
        .iter()
        .map(|c| (c.label.as_str(), c.requests, c.bytes))
        .collect();
    assert_eq!(days, [("2026-12-04", 3, 4000), ("2026-12-05", 2, 500)]);
    // Two files with two requests each: the tie goes by name. Keys are decoded.
    let files: Vec<_> = (sum.top_files.iter())
        .map(|c| (c.label.as_str(), c.requests, c.bytes))
        .collect();
    assert_eq!(
        files,
        [
            ("index.html", 2, 500),
            ("photos/my cat.jpg", 2, 4000),
            ("missing.txt", 1, 0)
        ]
    );
    let clients: Vec<_> = sum
        .top_clients
        .iter()
        .map(|c| (c.label.as_str(), c.requests))
        .collect();
    assert_eq!(
        clients,
        [("192.0.2.3", 3), ("198.51.100.7", 1), ("203.0.113.9", 1)]
    );
    let statuses: Vec<_> = sum
        .statuses
        .iter()
        .map(|c| (c.label.as_str(), c.requests))
        .collect();
    assert_eq!(statuses, [("200", 3), ("304", 1), ("404", 1)]);
    assert!(!sum.top_clients.iter().any(|c| c.label == "10.0.0.1"));
    // The newest request first.
    assert_eq!(all.recent[0].operation, "REST.HEAD.OBJECT");
    assert_eq!(all.recent.len(), 5);
    assert_eq!(
        all.recent[4].user_agent.as_deref(),
        Some("Mozilla/5.0 (X11; Linux x86_64) \"quoted\" Gecko")
    );

    // Filters work on what was read, with no new download.
    let missing = LogFilter {
        status: Some(404),
        ..LogFilter::default()
    };
    let only = access_logs::refilter(&s, missing.clone())
        .await
        .expect("filter");
    assert_eq!(only.summary.requests, 1);
    assert_eq!(only.recent[0].key.as_deref(), Some("missing.txt"));
    let by_text = LogFilter {
        text: "CURL".into(),
        ..LogFilter::default()
    };
    assert_eq!(
        access_logs::refilter(&s, by_text)
            .await
            .expect("filter")
            .summary
            .requests,
        1
    );
    let one_client = LogFilter {
        client: Some("192.0.2.3".into()),
        day: Some("2026-12-05".into()),
        ..LogFilter::default()
    };
    assert_eq!(
        access_logs::refilter(&s, one_client)
            .await
            .expect("filter")
            .summary
            .requests,
        1
    );

    // The whole Space is never read as logs.
    let e = access_logs::read(&s, (&logs, None), "", &LogFilter::default(), None)
        .await
        .expect_err("no prefix");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // What was read on one connection is not filtered on another.
    let other = draft(
        &sb.endpoint.url,
        "Other",
        &sb.owner_access_key,
        &sb.owner_secret,
    );
    let other = connections::save_connection(&s, &other).expect("save");
    connections::connect(&s, &other.id).await.expect("connect");
    let e = access_logs::refilter(&s, LogFilter::default())
        .await
        .expect_err("not this connection's");
    assert_eq!(e.kind(), ErrorKind::Gone);

    // A read the page stopped before it began reads nothing and says so.
    s.requests().cancel(7);
    let e = access_logs::read(
        &s,
        (&logs, None),
        "access-logs/site/",
        &LogFilter::default(),
        Some(7),
    )
    .await
    .expect_err("stopped");
    assert_eq!(e.kind(), ErrorKind::Cancelled);
    // A prefix that could not be a key's start is refused before any request.
    let e = access_logs::read(&s, (&logs, None), "/abs", &LogFilter::default(), None)
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);

    // Stopped half way: over a link held to 20 kB/s, 400 kB of logs would take 20 s; the stop
    // ends the read at once.
    let big: String = (0..1600)
        .map(|i| {
            let at = format!("05/Dec/2026:12:{:02}:{:02} +0000", i / 60 % 60, i % 60);
            line(
                &at,
                "192.0.2.9",
                "REST.GET.OBJECT",
                "big.bin",
                200,
                "1",
                "slow",
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(big.len() > 400_000, "{}", big.len());
    put(
        &owner,
        &logs,
        "access-logs/big/2026-12-05-12-00-00-000000",
        big.as_bytes(),
    )
    .await;
    let slow = spacedock_tests::proxy::counting_proxy(&sb.endpoint.url, Some(20_000));
    let root = tempfile::tempdir().expect("tempdir");
    let s = std::sync::Arc::new(connected(&sb, root.path(), &slow.url).await);
    let reading = {
        let (s, logs) = (s.clone(), logs.clone());
        tokio::spawn(async move {
            let read = (&logs[..], None);
            access_logs::read(&s, read, "access-logs/big/", &LogFilter::default(), Some(8)).await
        })
    };
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let stopped_at = std::time::Instant::now();
    s.requests().cancel(8);
    let e = reading.await.expect("task").expect_err("stopped");
    assert_eq!(e.kind(), ErrorKind::Cancelled);
    assert!(
        stopped_at.elapsed() < std::time::Duration::from_secs(5),
        "the stop waited for the read: {:?}",
        stopped_at.elapsed()
    );
}

#[tokio::test]
async fn the_switch_is_refused_by_the_sandbox_and_kept_by_the_fake() {
    let sb = sandbox();
    let source = new_space(&sb, "logged").await;
    let target = new_space(&sb, "log-target").await;

    // The sandbox's RGW does not offer it: a plain sentence, not a raw 405.
    let root = tempfile::tempdir().expect("tempdir");
    let s = connected(&sb, root.path(), &sb.endpoint.url).await;
    let now = access_logs::logging(&s, &source, None).await.expect("read");
    assert_eq!(now.target, None);
    assert!(now.cannot_switch.is_none());
    let e = access_logs::set_logging(&s, &source, None, Some(&target), "access-logs/")
        .await
        .expect_err("405");
    assert_eq!(e.kind(), ErrorKind::NotOffered, "{e}");

    // Through the FAKE: switched on, read back, and off again.
    let fake = FakeLogging::start(&sb.endpoint.url);
    let root = tempfile::tempdir().expect("tempdir");
    let s = connected(&sb, root.path(), &fake.url).await;
    let on = access_logs::set_logging(&s, &source, None, Some(&target), "access-logs/logged/")
        .await
        .expect("on");
    assert_eq!(on.target.as_deref(), Some(target.as_str()));
    assert_eq!(on.prefix, "access-logs/logged/");
    assert_eq!(fake.target_of(&source).as_deref(), Some(target.as_str()));
    let read = access_logs::logging(&s, &source, None).await.expect("read");
    assert_eq!(read, on);
    // Refused before anything is sent: into itself, into a Space that is not there.
    let e = access_logs::set_logging(&s, &source, None, Some(&source), "x/")
        .await
        .expect_err("itself");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let nowhere = unique("no-such");
    let e = access_logs::set_logging(&s, &source, None, Some(&nowhere), "x/")
        .await
        .expect_err("missing");
    assert_eq!(e.kind(), ErrorKind::NoSuchSpace, "{e}");
    assert_eq!(fake.target_of(&source).as_deref(), Some(target.as_str()));
    let off = access_logs::set_logging(&s, &source, None, None, "")
        .await
        .expect("off");
    assert_eq!(off.target, None);
    assert_eq!(fake.target_of(&source), None);

    // A connection with a key limited to the Space is told before it tries, and nothing is sent.
    let limited = {
        let mut d = draft(&fake.url, "Limited", &sb.owner_access_key, &sb.owner_secret);
        d.space = Some(source.clone());
        d
    };
    let root = tempfile::tempdir().expect("tempdir");
    let s = services(root.path());
    let saved = connections::save_connection(&s, &limited).expect("save");
    connections::connect(&s, &saved.id).await.expect("connect");
    let said = access_logs::logging(&s, &source, None).await.expect("read");
    assert!(said
        .cannot_switch
        .as_deref()
        .is_some_and(|w| w.contains("Full Access")));
    let e = access_logs::set_logging(&s, &source, None, Some(&target), "x/")
        .await
        .expect_err("limited");
    assert_eq!(e.kind(), ErrorKind::AccessDenied);
    assert_eq!(fake.target_of(&source), None);
}
