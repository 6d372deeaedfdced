//! Faults: the engine killed half way (see also `resume`), the gateway stopped mid-upload, a full disk. After each,
//! nothing is half-done: no orphaned multipart upload, no partial file under a real name.

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use spacedock::core::transfer::unfinished::Unfinished;
use spacedock::core::transfer::{
    self, download, Cancel, Conflict, FileAcl, FileState, PlannedFile, QueuedFile, Settings, Target,
};
use spacedock_tests::{gateway_pid, new_space, owner_client, sandbox, SandboxInfo};

/// The app's engine in a process of its own, running one transfer (see `transfer_victim`).
pub(crate) fn victim(sb: &SandboxInfo, args: &[&str]) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_transfer_victim"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the victim starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(sb.owner_secret.expose().as_bytes())
        .expect("secret");
    child
}

pub(crate) fn kill(child: &mut std::process::Child) {
    // SAFETY: a plain signal to a child this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the victim was killed, not finished");
}

pub(crate) async fn multipart_uploads(client: &aws_sdk_s3::Client, space: &str) -> usize {
    client
        .list_multipart_uploads()
        .bucket(space)
        .send()
        .await
        .expect("list uploads")
        .uploads()
        .len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_download_killed_half_way_leaves_no_file_under_its_name() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "killed-down").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("source.bin");
    std::fs::write(&source, vec![3u8; 256 << 20]).expect("file");
    let target = Target {
        client: client.clone(),
        endpoint: sb.endpoint.url.clone(),
        space: space.clone(),
        unfinished: None,
        pace: Default::default(),
        link: Default::default(),
    };
    let summary = transfer::upload_all(
        target,
        vec![QueuedFile {
            id: 0,
            file: PlannedFile {
                path: source.clone(),
                key: "movie.bin".into(),
                size: 256 << 20,
            },
            cancel: Cancel::default(),
            expect: Default::default(),
        }],
        FileAcl::Private,
        Settings::default(),
        Arc::new(|_| {}),
    )
    .await;
    assert_eq!(summary.done, 1);
    let down = dir.path().join("down");
    std::fs::create_dir(&down).expect("down");
    let dest = down.join("movie.bin");
    let mut child = victim(
        &sb,
        &[
            "download",
            &sb.endpoint.url,
            &sb.owner_access_key,
            &space,
            "movie.bin",
            &dest.to_string_lossy(),
            "-",
        ],
    );
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first: u64 = lines
        .next()
        .expect("progress")
        .expect("line")
        .parse()
        .expect("bytes");
    kill(&mut child);
    assert!(first < 256 << 20, "killed before the end");
    assert!(!dest.exists(), "a partial file under the final name");
    let names: Vec<String> = std::fs::read_dir(&down)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        names.iter().all(|n| transfer::local::is_partial(n)),
        "{names:?}"
    );
    eprintln!("fault: download killed half way; files under their final name: 0");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_stopped_for_ten_seconds_loses_nothing() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "gateway-stop").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for i in 0..30u32 {
        let path = dir.path().join(format!("f{i}.bin"));
        std::fs::write(&path, vec![i as u8; 512 << 10]).expect("file");
        files.push((path, format!("batch/f{i}.bin"), 512u64 << 10));
    }
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![0xAB; 24 << 20]).expect("big");
    files.push((big, "batch/big.bin".into(), 24 << 20));
    let record = Arc::new(Unfinished::new(dir.path().join("record.json")));
    let target = Target {
        client: client.clone(),
        endpoint: sb.endpoint.url.clone(),
        space: space.clone(),
        unfinished: Some(record.clone()),
        pace: Default::default(),
        link: Default::default(),
    };
    let queued = files
        .iter()
        .enumerate()
        .map(|(i, (path, key, size))| QueuedFile {
            id: i as u32,
            file: PlannedFile {
                path: path.clone(),
                key: key.clone(),
                size: *size,
            },
            cancel: Cancel::default(),
            expect: Default::default(),
        })
        .collect();
    let rgw = gateway_pid();
    let stopped = Arc::new(Mutex::new(false));
    let states = Arc::new(Mutex::new(std::collections::HashMap::new()));
    let (sink, flag) = (states.clone(), stopped.clone());
    let events = Arc::new(move |e: transfer::TransferEvent| {
        if matches!(e.state, FileState::Done) {
            let mut stopped = flag.lock().expect("flag");
            if !*stopped {
                *stopped = true;
                // SAFETY: signals to the sandbox's own gateway, resumed below in all cases.
                unsafe { libc::kill(rgw as i32, libc::SIGSTOP) };
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(10));
                    unsafe { libc::kill(rgw as i32, libc::SIGCONT) };
                });
            }
        }
        sink.lock().expect("states").insert(e.id, e.state);
    });
    let started = Instant::now();
    let summary = transfer::upload_all(
        target,
        queued,
        FileAcl::Private,
        Settings {
            multipart_threshold: 8 << 20,
            part_size: 5 << 20,
            requests_in_flight: 4,
            parts_in_flight: 4,
            ..Default::default()
        },
        events,
    )
    .await;
    // Whatever happened, the gateway runs again before anything else is checked.
    std::thread::sleep(Duration::from_secs(10).saturating_sub(started.elapsed()));
    unsafe { libc::kill(rgw as i32, libc::SIGCONT) };
    assert!(*stopped.lock().expect("flag"), "the gateway was stopped");
    let states = states.lock().expect("states").clone();
    let mut lost = 0;
    for (i, (path, key, _)) in files.iter().enumerate() {
        let stored = client.get_object().bucket(&space).key(key).send().await;
        match states.get(&(i as u32)) {
            Some(FileState::Done) => {
                let body = stored
                    .expect("a done file is there")
                    .body
                    .collect()
                    .await
                    .expect("body")
                    .into_bytes();
                if body.as_ref() != std::fs::read(path).expect("local").as_slice() {
                    lost += 1;
                }
            }
            Some(FileState::Failed { message, .. }) => {
                assert!(message.ends_with('.') && message.len() > 10, "{message}");
                assert!(stored.is_err(), "{key}: a failed file left an object");
            }
            other => panic!("{key}: ended as {other:?}"),
        }
    }
    assert_eq!(lost, 0);
    assert_eq!(multipart_uploads(&client, &space).await, 0);
    assert!(record.list().is_empty());
    assert_eq!(record.in_flight_here(), 0);
    eprintln!(
        "fault: gateway stopped 10 s mid-upload; {} done, {} failed with a sentence, files lost: {lost}, in {:.1} s",
        summary.done,
        summary.failed,
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn a_full_disk_leaves_no_partial_file() {
    let sb = sandbox();
    let client = owner_client(&sb);
    let space = new_space(&sb, "full-disk").await;
    client
        .put_object()
        .bucket(&space)
        .key("big.bin")
        .body(ByteStream::from(vec![1u8; 4 << 20]))
        .send()
        .await
        .expect("put");
    let dir = tempfile::tempdir().expect("tempdir");
    let small = dir.path().join("small-disk");
    std::fs::create_dir(&small).expect("mountpoint");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&small)
        .status()
        .expect("mount");
    assert!(
        mounted.success(),
        "a 1 MiB tmpfs is mounted (the tests run as root)"
    );
    let plan = download::plan(
        &client,
        &sb.endpoint.url,
        &space,
        &["big.bin".to_string()],
        &small,
    )
    .await
    .expect("plan");
    let summary = download::run(
        &Target::plain(&client, &sb.endpoint.url, &space),
        &small,
        plan,
        Conflict::Overwrite,
        &|_| {},
        Default::default(),
    )
    .await;
    let left: Vec<_> = std::fs::read_dir(&small)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let _ = Command::new("umount").arg(&small).status();
    assert_eq!(summary.done, 0);
    assert_eq!(summary.problems.len(), 1);
    assert!(
        summary.problems[0].message.contains("no space left"),
        "{}",
        summary.problems[0].message
    );
    assert!(left.is_empty(), "{left:?}");
    eprintln!("fault: download to a full disk; partial files left: 0");
}
