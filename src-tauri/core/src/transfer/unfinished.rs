//! Multipart uploads this app has begun and not yet completed or aborted, noted in a small file
//! in the app's data folder (never a secret). After a crash, a kill or a power cut, the next
//! start aborts them: an orphaned multipart upload keeps its parts, and is billed, until it expires.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::disk::write_atomic;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnfinishedUpload {
    pub endpoint: String,
    pub space: String,
    pub key: String,
    pub upload_id: String,
}

/// The record on disk. Each change rewrites it whole, atomically.
pub struct Unfinished {
    path: PathBuf,
    lock: Mutex<()>,
    /// Upload ids this process began and has not settled yet (the file may also hold older ones).
    here: Mutex<std::collections::HashSet<String>>,
}

impl Unfinished {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Unfinished {
            path: path.into(),
            lock: Mutex::new(()),
            here: Mutex::default(),
        }
    }

    pub fn list(&self) -> Vec<UnfinishedUpload> {
        let _guard = self.lock.lock();
        self.read()
    }

    fn read(&self) -> Vec<UnfinishedUpload> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn change(&self, f: impl FnOnce(&mut Vec<UnfinishedUpload>)) {
        let _guard = self.lock.lock();
        let mut all = self.read();
        f(&mut all);
        if let Ok(bytes) = serde_json::to_vec_pretty(&all) {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            // A record that can't be written only loses the clean-up after a crash.
            let _ = write_atomic(&self.path, &bytes);
        }
    }

    pub fn add(&self, upload: UnfinishedUpload) {
        if let Ok(mut here) = self.here.lock() {
            here.insert(upload.upload_id.clone());
        }
        self.change(|all| all.push(upload));
    }

    pub fn remove(&self, upload_id: &str) {
        if let Ok(mut here) = self.here.lock() {
            here.remove(upload_id);
        }
        self.change(|all| all.retain(|u| u.upload_id != upload_id));
    }

    /// How many multipart uploads this process has in flight.
    pub fn in_flight_here(&self) -> usize {
        self.here.lock().map(|h| h.len()).unwrap_or(0)
    }
}

/// The error of an abort that did not take.
pub type AbortError = aws_sdk_s3::error::SdkError<
    aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadError,
    aws_sdk_s3::config::http::HttpResponse,
>;

/// Aborts one multipart upload. Ok when the server holds none of it any more: an upload it no
/// longer knows (NoSuchUpload) is done with too.
pub async fn abort_one(
    client: &aws_sdk_s3::Client,
    space: &str,
    key: &str,
    upload_id: &str,
) -> Result<(), AbortError> {
    let sent = client.abort_multipart_upload().bucket(space).key(key);
    match sent.upload_id(upload_id).send().await {
        Ok(_) => Ok(()),
        Err(e) if aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("NoSuchUpload") => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Aborts the recorded uploads at `endpoint`, each with the client `client_for` gives for its
/// Space. An upload the server no longer knows is done with too. Returns (aborted, left).
pub async fn abort_recorded(
    record: &Unfinished,
    endpoint: &str,
    client_for: impl Fn(&str) -> Option<aws_sdk_s3::Client>,
) -> (u32, u32) {
    let (mut aborted, mut left) = (0, 0);
    for upload in record.list().into_iter().filter(|u| u.endpoint == endpoint) {
        let Some(client) = client_for(&upload.space) else {
            left += 1;
            continue;
        };
        let gone = abort_one(&client, &upload.space, &upload.key, &upload.upload_id).await;
        if gone.is_ok() {
            record.remove(&upload.upload_id);
            aborted += 1;
        } else {
            left += 1;
        }
    }
    (aborted, left)
}
