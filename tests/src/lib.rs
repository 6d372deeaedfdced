//! Shared fixtures for Spacedock's tests: the real sandbox, started through the app's own
//! sandbox module, and S3 clients built the way the app builds them.

pub mod fake_do_api;
pub mod fake_logging;
pub mod hostile;
pub mod hostile_s3;
pub mod proxy;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use spacedock::core::connection::{Endpoint, SANDBOX_SIGNING_REGION};
use spacedock::core::sandbox::{self, Sandbox, StartOptions};
use spacedock::core::secret::Secret;

/// The sandbox of this test process, or None once stopped.
static SANDBOX: OnceLock<Mutex<Option<Sandbox>>> = OnceLock::new();

/// Facts about the shared sandbox that tests need, copied out so no lock is held.
#[derive(Clone)]
pub struct SandboxInfo {
    pub endpoint: Endpoint,
    pub owner_access_key: String,
    pub owner_secret: Secret,
    /// The key manager's key (RGW admin caps): only for Admin Ops, as in the app.
    pub admin_access_key: String,
    pub admin_secret: Secret,
    pub root: PathBuf,
    pub conf: PathBuf,
}

/// Where the test sandbox keeps its data across runs (a later start then reuses it, which is the
/// path people take every day). `SPACEDOCK_TEST_SANDBOX` overrides it.
pub fn test_sandbox_dir() -> PathBuf {
    std::env::var_os("SPACEDOCK_TEST_SANDBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // Test binaries run from <target>/debug/deps; keep the data beside them in <target>/tmp.
            let exe = std::env::current_exe().expect("test binary path");
            let target = exe
                .ancestors()
                .nth(3)
                .unwrap_or(Path::new("/var/tmp"))
                .to_path_buf();
            target.join("tmp").join("test-sandbox")
        })
}

extern "C" fn stop_shared_sandbox() {
    if let Some(slot) = SANDBOX.get() {
        if let Some(sandbox) = slot.lock().ok().and_then(|mut s| s.take()) {
            sandbox.stop();
        }
    }
}

/// How long a lifecycle "day" lasts in the shared sandbox.
pub const LIFECYCLE_DAY_SECONDS: u32 = 4;

/// A test sandbox whose OSD has taken more disk than this is started anew. Runs leave data behind
/// (versions kept, Spaces of failed tests, garbage not yet collected), BlueStore never gives disk
/// back to its 20 GiB file, and near full the OSD stops taking writes ("full status failsafe").
const START_ANEW_ABOVE: u64 = 12 << 30;

/// Disk blocks taken by everything under `dir`.
fn disk_used(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_used(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// Written into a sandbox the tests made themselves. Only such a folder is ever removed, so a
/// `SPACEDOCK_TEST_SANDBOX` pointed at the app's own sandbox (a user's files) is never deleted.
pub const MADE_BY_THE_TESTS: &str = "made-by-spacedock-tests";

/// Removes a test sandbox whose OSD has taken more than `limit` bytes of disk, unless a running
/// test process holds it or the tests did not make it. True when it was removed.
pub fn start_anew_when_full(root: &Path, limit: u64) -> bool {
    let used = disk_used(&root.join("osd"));
    if used <= limit {
        return false;
    }
    remove_test_sandbox(
        root,
        &format!("its OSD holds {:.1} GiB", used as f64 / (1u64 << 30) as f64),
    )
}

/// A test sandbox whose owner holds more Spaces than this is started anew. Tests that fail (or
/// are killed) leave their Spaces behind, and RGW lets one user hold only 1,000 (`max_buckets`):
/// past that every test that creates a Space fails with TooManySpaces.
pub const START_ANEW_ABOVE_SPACES: usize = 400;

/// Removes the test sandbox in `root`, for `why`, unless the tests did not make it or a running
/// test process holds it. True when it was removed.
pub fn remove_test_sandbox(root: &Path, why: &str) -> bool {
    if !root.join(MADE_BY_THE_TESTS).exists() {
        eprintln!(
            "the sandbox in {} needs starting anew ({why}) but the tests did not make it: left as it is",
            root.display(),
        );
        return false;
    }
    let Ok(lock) = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join("sandbox.lock"))
    else {
        return false;
    };
    let free = lock.try_lock().is_ok();
    if free {
        eprintln!("the test sandbox needs starting anew ({why}): starting a new, empty sandbox");
        std::fs::remove_dir_all(root)
            .unwrap_or_else(|e| panic!("removing the full test sandbox {}: {e}", root.display()));
    }
    free
}

/// Starts the shared sandbox on first use; it is stopped when the test process exits.
pub fn sandbox() -> SandboxInfo {
    let slot = SANDBOX.get_or_init(|| {
        let started = std::time::Instant::now();
        start_anew_when_full(&test_sandbox_dir(), START_ANEW_ABOVE);
        let options = StartOptions {
            // Lifecycle rules are tested with a "day" of a few seconds.
            lifecycle_day_seconds: Some(LIFECYCLE_DAY_SECONDS),
            ..StartOptions::new(test_sandbox_dir())
        };
        let start = || {
            sandbox::start(&options, |_| {})
                .unwrap_or_else(|e| panic!("the test sandbox did not start: {e}"))
        };
        let mut sandbox = start();
        let spaces = owner_space_names(&sandbox).len();
        if spaces > START_ANEW_ABOVE_SPACES {
            let root = sandbox.root().to_path_buf();
            sandbox.stop();
            remove_test_sandbox(&root, &format!("its owner holds {spaces} Spaces"));
            sandbox = start();
        }
        if sandbox.first_start() {
            std::fs::write(
                sandbox.root().join(MADE_BY_THE_TESTS),
                "Made by Spacedock's tests: removed and made anew when its OSD fills.\n",
            )
            .expect("marking the test sandbox");
        }
        eprintln!(
            "test sandbox up at {} in {:.1} s ({} start)",
            sandbox.endpoint_url(),
            started.elapsed().as_secs_f64(),
            if sandbox.first_start() {
                "first"
            } else {
                "later"
            }
        );
        // SAFETY: registering a plain extern "C" fn with no captured state.
        unsafe {
            libc::atexit(stop_shared_sandbox);
        }
        Mutex::new(Some(sandbox))
    });
    let guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    let sandbox = guard
        .as_ref()
        .expect("the shared sandbox was already stopped");
    SandboxInfo {
        endpoint: sandbox_endpoint(sandbox),
        owner_access_key: sandbox.owner().access_key.clone(),
        owner_secret: sandbox.owner().secret.clone(),
        admin_access_key: sandbox.admin_key().access_key.clone(),
        admin_secret: sandbox.admin_key().secret.clone(),
        root: sandbox.root().to_path_buf(),
        conf: sandbox.conf_path(),
    }
}

/// The Spaces the shared sandbox's owner holds, as the start counts them.
pub fn owner_spaces() -> Vec<String> {
    let slot = SANDBOX.get().expect("sandbox() first");
    let guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    owner_space_names(guard.as_ref().expect("the shared sandbox runs"))
}

/// The Spaces the sandbox's owner holds (none when radosgw-admin can't say).
fn owner_space_names(sandbox: &Sandbox) -> Vec<String> {
    let listed = sandbox.admin(&["bucket", "list", "--uid", sandbox::OWNER_UID]);
    listed
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect()
}

/// Runs radosgw-admin on the shared sandbox.
pub fn admin(args: &[&str]) -> serde_json::Value {
    let slot = SANDBOX.get().expect("sandbox() first");
    let guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    let sandbox = guard
        .as_ref()
        .expect("the shared sandbox was already stopped");
    sandbox
        .admin(args)
        .unwrap_or_else(|e| panic!("radosgw-admin {}: {e}", args.join(" ")))
}

/// The pid of the shared sandbox's gateway (radosgw), for fault tests.
pub fn gateway_pid() -> u32 {
    let slot = SANDBOX.get().expect("sandbox() first");
    let guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    guard
        .as_ref()
        .and_then(|s| s.pid_of("rgw"))
        .expect("the gateway runs")
}

pub fn sandbox_endpoint(sandbox: &Sandbox) -> Endpoint {
    Endpoint {
        url: sandbox.endpoint_url(),
        signing_region: SANDBOX_SIGNING_REGION.into(),
        path_style: true,
    }
}

/// An endpoint where nothing listens: a port that was free a moment ago.
pub fn unreachable_endpoint() -> Endpoint {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    Endpoint {
        url: format!("http://127.0.0.1:{port}"),
        signing_region: SANDBOX_SIGNING_REGION.into(),
        path_style: true,
    }
}

/// The sandbox owner's S3 client.
pub fn owner_client(sb: &SandboxInfo) -> aws_sdk_s3::Client {
    spacedock::core::s3::client(&sb.endpoint, &sb.owner_access_key, &sb.owner_secret)
}

/// A new Space of the sandbox owner, named after `prefix`.
pub async fn new_space(sb: &SandboxInfo, prefix: &str) -> String {
    use spacedock::core::space::{self, FileListing};
    let name = unique(prefix);
    space::create(
        &owner_client(sb),
        &sb.endpoint.url,
        &name,
        FileListing::Restricted,
    )
    .await
    .expect("create");
    name
}

/// A file's bytes, or None when it can't be read.
pub async fn fetch(client: &aws_sdk_s3::Client, space: &str, key: &str) -> Option<Vec<u8>> {
    let out = client
        .get_object()
        .bucket(space)
        .key(key)
        .send()
        .await
        .ok()?;
    Some(out.body.collect().await.ok()?.into_bytes().to_vec())
}

/// An S3 user of its own on the shared sandbox, with a fresh key.
pub struct TestUser {
    pub uid: String,
    pub access_key: String,
    pub secret: Secret,
}

pub fn new_user(prefix: &str) -> TestUser {
    sandbox();
    let uid = unique(prefix);
    let info = admin(&["user", "create", "--uid", &uid, "--display-name", &uid]);
    let key = sandbox::first_s3_key(&info).expect("a new user has a key");
    TestUser {
        uid,
        access_key: key.access_key,
        secret: key.secret,
    }
}

/// A name no earlier run used: Space names are global on the sandbox, and its data is kept.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{:x}-{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// An unsigned HTTP GET, as an anonymous visitor's browser would send it: (status, body).
pub fn anonymous_get(url: &str) -> (u16, String) {
    let (status, body) = anonymous_get_bytes(url);
    (status, String::from_utf8_lossy(&body).to_string())
}

/// The same, with the body as bytes.
pub fn anonymous_get_bytes(url: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP headers");
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("an HTTP status line");
    (status, answer[split + 4..].to_vec())
}

/// The S3 operations a client sent, by name (e.g. "HeadBucket"), in order.
#[derive(Clone, Default, Debug)]
pub struct SentOperations(std::sync::Arc<Mutex<Vec<String>>>);

impl SentOperations {
    pub fn names(&self) -> Vec<String> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl aws_sdk_s3::config::Intercept for SentOperations {
    fn name(&self) -> &'static str {
        "SentOperations"
    }

    fn read_before_serialization(
        &self,
        _context: &aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _components: &aws_sdk_s3::config::RuntimeComponents,
        cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        use aws_smithy_runtime_api::client::orchestrator::Metadata;
        let name = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_string())
            .unwrap_or_else(|| "unknown".into());
        if let Ok(mut v) = self.0.lock() {
            v.push(name);
        }
        Ok(())
    }
}

/// The same client, recording every operation it sends: what went over the wire, not a mock.
pub fn recording(client: &aws_sdk_s3::Client) -> (aws_sdk_s3::Client, SentOperations) {
    let sent = SentOperations::default();
    let config = client
        .config()
        .to_builder()
        .interceptor(sent.clone())
        .build();
    (aws_sdk_s3::Client::from_conf(config), sent)
}

/// Files under `root` (not under `skip`) whose bytes hold `needle`, and how many files were read.
pub fn files_holding(root: &Path, needle: &str, skip: &[PathBuf]) -> (Vec<PathBuf>, usize) {
    let mut found = Vec::new();
    let mut scanned = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                if !skip.contains(&path) {
                    stack.push(path);
                }
            } else if meta.is_file() && meta.len() < 64 << 20 {
                scanned += 1;
                let bytes = std::fs::read(&path).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(path);
                }
            }
        }
    }
    (found, scanned)
}

/// `len` bytes that differ from part to part (a xorshift stream from `seed`), so a part put in
/// the wrong place would show.
pub fn noise(len: u64, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Deletes `keys` (files, and folders with everything in them) the app's way, through a
/// transfer queue of its own: planned, journaled, and guarded.
pub async fn delete_keys(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    keys: &[String],
) -> spacedock::core::Result<spacedock::core::objects::DeleteSummary> {
    use spacedock::core::transfer::queue::{Queue, QueueSetup};
    let dir = tempfile::tempdir().expect("tempdir");
    let queue = Queue::new(QueueSetup::in_folder(dir.path()));
    let at = spacedock::core::SpaceRef::new(client, endpoint, space);
    let shown = Default::default();
    let stop = spacedock::core::CancellationToken::new();
    queue
        .delete(&at, "tests", (keys, &shown), &stop, &|_| {})
        .await
}

/// Puts a version of `key` back the app's way, through a transfer queue of its own.
pub async fn restore_version(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
    version_id: &str,
    for_good: Option<&str>,
) -> spacedock::core::Result<spacedock::core::versions::Replaced> {
    use spacedock::core::transfer::queue::{Queue, QueueSetup};
    let dir = tempfile::tempdir().expect("tempdir");
    let queue = Queue::new(QueueSetup::in_folder(dir.path()));
    let at = spacedock::core::SpaceRef::new(client, endpoint, space);
    let stop = spacedock::core::CancellationToken::new();
    let at = (&at, "tests");
    spacedock::core::versions::restore(&queue, at, key, version_id, for_good, stop).await
}

/// Puts a one-byte file at each of `keys`, 32 at a time.
pub async fn put_many(client: &aws_sdk_s3::Client, space: &str, keys: &[String]) {
    use futures_util::StreamExt as _;
    futures_util::stream::iter(keys.iter().map(|key| {
        (client.put_object().bucket(space).key(key))
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
    }))
    .buffer_unordered(32)
    .for_each(|put| async move {
        put.expect("put");
    })
    .await;
}

/// Every key below `prefix` in `space`.
pub async fn keys_below(client: &aws_sdk_s3::Client, space: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let out = client
            .list_objects_v2()
            .bucket(space)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .expect("list");
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(String::from)),
        );
        match out.next_continuation_token() {
            Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => return keys,
        }
    }
}

/// Uploads `bytes` in parts of 8 MiB, as another program would, with `md5chksum` if given.
pub async fn put_in_parts(client: &aws_sdk_s3::Client, space: &str, key: &str, bytes: &[u8]) {
    put_in_parts_with(client, space, key, bytes, None).await
}

pub async fn put_in_parts_with(
    client: &aws_sdk_s3::Client,
    space: &str,
    key: &str,
    bytes: &[u8],
    md5chksum: Option<&str>,
) {
    let made = (client
        .create_multipart_upload()
        .bucket(space)
        .key(key)
        .set_metadata(md5chksum.map(|v| [("md5chksum".to_string(), v.to_string())].into()))
        .send())
    .await
    .expect("create");
    let id = made.upload_id().expect("id");
    let mut parts = Vec::new();
    for (i, chunk) in bytes.chunks(8 << 20).enumerate() {
        let n = i as i32 + 1;
        let sent = (client.upload_part().bucket(space).key(key))
            .upload_id(id)
            .part_number(n)
            .body(aws_sdk_s3::primitives::ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .expect("part");
        parts.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(n)
                .e_tag(sent.e_tag().expect("etag"))
                .build(),
        );
    }
    (client.complete_multipart_upload().bucket(space).key(key))
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .expect("complete");
}
