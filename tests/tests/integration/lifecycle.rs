//! Starting, stopping and restarting the sandbox: data is kept, a busy folder or port is never shared.

use std::path::Path;
use std::time::{Duration, Instant};

use spacedock::core::error::ErrorKind;
use spacedock::core::s3;
use spacedock::core::sandbox::{self, StartOptions, Step};
use spacedock_tests::{sandbox, sandbox_endpoint, unique};

#[test]
fn a_second_start_on_a_running_sandbox_is_refused() {
    let sb = sandbox();
    let started = Instant::now();
    let err =
        sandbox::start(&StartOptions::new(&sb.root), |_| {}).expect_err("the folder is in use");
    assert_eq!(err.kind(), ErrorKind::SandboxBusy, "{err}");
    // Refused at once, before any daemon was started or any file touched.
    assert!(started.elapsed() < Duration::from_secs(2));
    let conf = std::fs::read_to_string(&sb.conf).expect("conf");
    assert!(
        conf.contains(&format!(
            "endpoint={}",
            sb.endpoint.url.trim_start_matches("http://")
        )),
        "conf untouched"
    );
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map(|s| {
                !s.lines()
                    .any(|l| l.starts_with("State:") && l.contains('Z'))
            })
            .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_keeps_data_and_never_joins_a_busy_port() {
    let shared = sandbox();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = StartOptions {
        root: dir.path().to_path_buf(),
        store_bytes: 4 << 30,
        owner_access_key: None,
        lifecycle_day_seconds: None,
    };

    // First start: creates the cluster and reports every step in order.
    let mut steps = Vec::new();
    let t0 = Instant::now();
    let first = tokio::task::block_in_place(|| {
        sandbox::start(&opts, |p| steps.push((p.step, p.done, p.first_start)))
    })
    .expect("first start");
    let first_secs = t0.elapsed().as_secs_f64();
    assert!(first.first_start());
    let done: Vec<Step> = steps.iter().filter(|s| s.1).map(|s| s.0).collect();
    assert_eq!(
        done,
        [
            Step::Prepare,
            Step::Monitor,
            Step::Storage,
            Step::Gateway,
            Step::Owner,
            Step::Ready
        ]
    );
    assert!(
        steps.iter().all(|s| s.2),
        "every step says it is a first start"
    );
    let idle_mb = first.memory_bytes() / 1_000_000;

    let space = unique("kept");
    let owner_key = first.owner().access_key.clone();
    let client = s3::client(&sandbox_endpoint(&first), &owner_key, &first.owner().secret);
    client
        .create_bucket()
        .bucket(&space)
        .send()
        .await
        .expect("create");
    let pids = first.daemon_pids();
    assert_eq!(pids.len(), 3, "mon, osd and radosgw");
    tokio::task::block_in_place(|| first.stop());
    assert!(pids.iter().all(|p| !alive(*p)), "every daemon stopped");

    // Next time, its saved ports are taken by the shared sandbox: it must move, not join.
    let facts_path = dir.path().join("cluster.json");
    let mut facts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&facts_path).expect("facts")).expect("json");
    let shared_conf = std::fs::read_to_string(&shared.conf).expect("shared conf");
    let shared_mon: u16 = shared_conf
        .lines()
        .find_map(|l| l.strip_prefix("mon host = [v2:127.0.0.1:"))
        .and_then(|rest| rest.split(',').nth(1))
        .and_then(|v1| {
            v1.trim_start_matches("v1:127.0.0.1:")
                .trim_end_matches(']')
                .parse()
                .ok()
        })
        .expect("shared mon port");
    let shared_rgw: u16 = shared
        .endpoint
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("rgw port");
    facts["mon_port"] = shared_mon.into();
    facts["rgw_port"] = shared_rgw.into();
    std::fs::write(&facts_path, facts.to_string()).expect("write facts");

    let t1 = Instant::now();
    let second =
        tokio::task::block_in_place(|| sandbox::start(&opts, |_| {})).expect("later start");
    let later_secs = t1.elapsed().as_secs_f64();
    assert!(!second.first_start());
    assert_ne!(second.rgw_port(), shared_rgw);
    assert_eq!(second.owner().access_key, owner_key, "the same owner");
    let client = s3::client(
        &sandbox_endpoint(&second),
        &second.owner().access_key,
        &second.owner().secret,
    );
    client
        .head_bucket()
        .bucket(&space)
        .send()
        .await
        .expect("the Space survived the restart");

    // The shared cluster did not gain anything from the other one.
    let shared_client = s3::client(
        &shared.endpoint,
        &shared.owner_access_key,
        &shared.owner_secret,
    );
    let err = shared_client
        .head_bucket()
        .bucket(&space)
        .send()
        .await
        .expect_err("not in the shared cluster");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));

    // The owner gains a key that sorts before its own (as full-access keys do): the sandbox
    // connection keeps signing with the saved one.
    second
        .admin(&[
            "key",
            "create",
            "--uid",
            sandbox::OWNER_UID,
            "--key-type",
            "s3",
            "--access-key",
            "0000SORTSFIRST",
            "--secret-key",
            "sorts-first-secret",
        ])
        .expect("extra owner key");
    eprintln!(
        "sandbox timings: first start {first_secs:.1} s, later start {later_secs:.1} s; daemons idle after first start {idle_mb} MB"
    );
    tokio::task::block_in_place(|| second.stop());

    // A damaged facts file, then none at all: nothing is wiped, the cluster is read back, and
    // the sandbox connection's saved key is the one used.
    opts.owner_access_key = Some(owner_key.clone());
    for damage in ["empty", "missing"] {
        match damage {
            "empty" => std::fs::write(&facts_path, b"").expect("truncate"),
            _ => std::fs::remove_file(&facts_path).expect("remove"),
        }
        let again = tokio::task::block_in_place(|| sandbox::start(&opts, |_| {}))
            .unwrap_or_else(|e| panic!("start with the facts {damage}: {e}"));
        assert!(
            !again.first_start(),
            "{damage}: not taken for a first start"
        );
        assert_eq!(
            again.owner().access_key,
            owner_key,
            "{damage}: the saved key"
        );
        let client = s3::client(
            &sandbox_endpoint(&again),
            &again.owner().access_key,
            &again.owner().secret,
        );
        client
            .head_bucket()
            .bucket(&space)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{damage}: the Space survived: {e:?}"));
        tokio::task::block_in_place(|| again.stop());
        let facts: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&facts_path).expect("facts"))
                .expect("written whole again");
        assert_eq!(facts["owner_access_key"], serde_json::json!(owner_key));
    }
}

#[test]
fn damaged_facts_without_a_cluster_are_explained_and_nothing_is_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("cluster.json"), b"{\"fsid\": ").expect("damaged");
    std::fs::create_dir(dir.path().join("mon")).expect("mon");
    std::fs::write(dir.path().join("mon").join("keep.me"), b"x").expect("file");
    let err = sandbox::start(&StartOptions::new(dir.path()), |_| {}).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Sandbox);
    assert!(dir.path().join("mon").join("keep.me").exists());
    assert!(dir.path().join("cluster.json").exists());
}

// Another program (another local user's, say) takes the gateway's port after the sandbox chose
// it and before its radosgw listens: the sandbox never sends it anything, and starts again on
// another port.
#[test]
fn a_gateway_port_someone_else_listens_on_is_never_used_and_another_is_taken() {
    let _shared = sandbox();
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = StartOptions {
        store_bytes: 4 << 30,
        ..StartOptions::new(dir.path())
    };
    // As soon as the sandbox has written its port down, a stranger listens there and answers
    // HTTP, the way radosgw would.
    let conf = dir.path().join("ceph.conf");
    let stranger = std::thread::spawn(move || {
        let t0 = Instant::now();
        let port = loop {
            let text = std::fs::read_to_string(&conf).unwrap_or_default();
            let port = text
                .split("beast endpoint=127.0.0.1:")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|p| p.parse::<u16>().ok());
            if let Some(port) = port {
                break port;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "no conf written");
            std::thread::sleep(Duration::from_millis(20));
        };
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("the stranger binds");
        let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = asked.clone();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            for mut s in listener.incoming().flatten() {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = s.read(&mut [0u8; 4096]);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            }
        });
        (asked, port)
    });
    let started = sandbox::start(&opts, |_| {});
    let (asked, taken) = stranger.join().expect("stranger");
    // The start was made again on another port: the stranger's is never the sandbox's.
    let sandbox = started.expect("started again on another port");
    assert!(
        !sandbox.endpoint_url().ends_with(&format!(":{taken}")),
        "{} uses the stranger's port {taken}",
        sandbox.endpoint_url()
    );
    // Only the probe that something answers reached it: no request of the app's.
    assert!(asked.load(std::sync::atomic::Ordering::SeqCst) <= 3);
    drop(sandbox);
}
