//! Transfers this app has begun and not yet finished, noted in small files in the app's data
//! folder (never a secret): multipart uploads with the file they read, and big downloads with the
//! ranges already on disk. After a quit, a crash, a kill or a power cut, the next start offers to
//! resume them or to discard them (aborting the upload, removing the partial file); an upload
//! noted with no file to resume from is aborted at once. Nothing is left half-done unseen: an
//! orphaned multipart upload keeps its parts, and is billed, until it is aborted.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::local::LocalStamp;
use crate::disk::write_atomic;
use spacedock_common::sync::lock;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnfinishedUpload {
    pub endpoint: String,
    pub space: String,
    pub key: String,
    pub upload_id: String,
    /// What it uploads, so it can be resumed (absent in records of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<UploadSource>,
    /// What its key must hold when it completes (what the plan saw), kept for a resume.
    #[serde(default)]
    pub expect: super::Expect,
}

/// The local file a multipart upload reads, as it was when the upload began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadSource {
    pub path: PathBuf,
    pub size: u64,
    /// Modification time in nanoseconds since 1970: a file changed since can't be resumed.
    pub modified: Option<u64>,
    pub part_size: u64,
}

/// A download of several ranges, its partial file and the ranges already written and flushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartialDownload {
    pub endpoint: String,
    pub space: String,
    pub key: String,
    /// One version of the file (none: the one current when it began, pinned by its ETag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Where the file goes when complete, and the temporary file it is written into.
    pub path: PathBuf,
    pub partial: PathBuf,
    /// The folder it was chosen to go into: a resumed file must still land inside it.
    pub dest: PathBuf,
    pub size: u64,
    /// The version it came from: ranges of another version are never mixed in.
    pub etag: String,
    pub part_size: u64,
    /// Ranges (by index) on disk.
    pub done: Vec<u32>,
    /// The user chose to replace a file already at `path`.
    pub replace: bool,
    /// That file as it was then: only it is replaced (absent in records of older versions,
    /// which then replace nothing and land beside it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<LocalStamp>,
}

impl PartialDownload {
    /// The bytes of range `index` (the last may be shorter).
    pub fn range_len(&self, index: u64) -> u64 {
        self.part_size
            .min(self.size.saturating_sub(index * self.part_size))
    }

    /// The bytes on disk: the ranges noted done.
    pub fn on_disk(&self) -> u64 {
        self.done.iter().map(|i| self.range_len(*i as u64)).sum()
    }
}

/// The folders one running download writes its partial files into, noted once a batch: after a
/// crash, the next start removes what it left there (hidden `.….spacedock-part` files that no
/// record can resume).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WritingInto {
    pub batch: String,
    pub folders: Vec<PathBuf>,
}

/// An entry of a record, known by one id.
pub trait Noted {
    fn id(&self) -> String;
}

impl Noted for UnfinishedUpload {
    fn id(&self) -> String {
        self.upload_id.clone()
    }
}

impl Noted for WritingInto {
    fn id(&self) -> String {
        self.batch.clone()
    }
}

impl Noted for PartialDownload {
    fn id(&self) -> String {
        self.partial.to_string_lossy().to_string()
    }
}

/// Transfers in progress, kept in one small JSON file (each change rewrites it whole,
/// atomically), and which of them this process runs now. What the file holds that this version
/// does not understand (an entry of another shape, a field of a newer version) is written back
/// as it was; a file that is not a record at all is set aside, never written over.
pub struct Record<T> {
    path: PathBuf,
    lock: Mutex<()>,
    /// Ids this process runs and has not settled yet (the file may also hold older ones).
    here: Mutex<HashSet<String>>,
    /// Where damaged files of this record were set aside.
    set_aside: Mutex<Vec<PathBuf>>,
    _entries: PhantomData<fn() -> T>,
}

/// Multipart uploads in progress, by upload id.
pub type Unfinished = Record<UnfinishedUpload>;
/// Big downloads in progress, by partial file.
pub type PartialDownloads = Record<PartialDownload>;
/// Folders downloads are writing into, by batch.
pub type DownloadFolders = Record<WritingInto>;

/// Removes the partial files downloads left in the folders they were writing into when the app
/// last stopped without finishing them (a crash, a kill, a power cut), except those a noted big
/// download can still resume. Returns how many went.
pub fn sweep_left_partials(folders: &DownloadFolders, partials: &PartialDownloads) -> usize {
    let resumable: HashSet<PathBuf> = partials.list().into_iter().map(|d| d.partial).collect();
    let mut removed = 0;
    for left in folders
        .list()
        .into_iter()
        .filter(|w| !folders.is_here(&w.batch))
    {
        for folder in &left.folders {
            let Ok(entries) = std::fs::read_dir(folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                let path = entry.path();
                let partial =
                    super::local::is_partial(&name) && entry.file_type().is_ok_and(|t| t.is_file());
                if partial && !resumable.contains(&path) && std::fs::remove_file(&path).is_ok() {
                    removed += 1;
                }
            }
        }
        folders.remove(&left.batch);
    }
    removed
}

impl<T: Noted + Serialize + DeserializeOwned> Record<T> {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Record {
            path: path.into(),
            lock: Mutex::new(()),
            here: Mutex::default(),
            set_aside: Mutex::default(),
            _entries: PhantomData,
        }
    }

    pub fn list(&self) -> Vec<T> {
        let _guard = lock(&self.lock);
        self.read()
    }

    pub fn find(&self, id: &str) -> Option<T> {
        self.list().into_iter().find(|e| e.id() == id)
    }

    fn read(&self) -> Vec<T> {
        self.read_raw()
            .iter()
            .filter_map(|v| serde_json::from_value(v.clone()).ok())
            .collect()
    }

    /// The entries as the file holds them. A file that is not a list of entries is renamed
    /// aside (and said where by [`Record::set_aside`]), so the next write does not destroy what
    /// it held.
    fn read_raw(&self) -> Vec<Value> {
        let Ok(bytes) = std::fs::read(&self.path) else {
            return Vec::new();
        };
        match serde_json::from_slice::<Vec<Value>>(&bytes) {
            Ok(entries) => entries,
            Err(_) => {
                let name = self.path.file_name().unwrap_or_default().to_string_lossy();
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                let aside = self.path.with_file_name(format!("{name}.damaged-{stamp}"));
                if std::fs::rename(&self.path, &aside).is_ok() {
                    lock(&self.set_aside).push(aside);
                }
                Vec::new()
            }
        }
    }

    /// Damaged files of this record set aside so far.
    pub fn set_aside(&self) -> Vec<PathBuf> {
        lock(&self.set_aside).clone()
    }

    fn change(&self, f: impl FnOnce(&mut Vec<T>)) {
        let _guard = lock(&self.lock);
        let raw = self.read_raw();
        let (mut all, mut kept): (Vec<T>, Vec<Value>) = (Vec::new(), Vec::new());
        for v in &raw {
            match serde_json::from_value::<T>(v.clone()) {
                Ok(entry) => all.push(entry),
                // Not an entry this version knows: kept as it is.
                Err(_) => kept.push(v.clone()),
            }
        }
        f(&mut all);
        let mut out = Vec::with_capacity(all.len() + kept.len());
        for entry in &all {
            let Ok(mut value) = serde_json::to_value(entry) else {
                continue;
            };
            // Fields a newer version wrote go back with the entry.
            let old = raw.iter().find(|v| {
                serde_json::from_value::<T>((*v).clone()).is_ok_and(|e| e.id() == entry.id())
            });
            if let Some(old) = old {
                spacedock_common::json::keep_unknown::<T>(old, &mut value);
            }
            out.push(value);
        }
        out.extend(kept);
        if let Ok(bytes) = serde_json::to_vec_pretty(&out) {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            // A record that can't be written only loses the resume (or clean-up) after a crash.
            let _ = write_atomic(&self.path, &bytes);
        }
    }

    /// Notes a transfer this process begins (replacing an older entry of the same id).
    pub fn add(&self, entry: T) {
        let id = entry.id();
        lock(&self.here).insert(id.clone());
        self.change(|all| {
            all.retain(|e| e.id() != id);
            all.push(entry)
        });
    }

    /// Changes the entry `id`, if it is there.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut T)) {
        self.change(|all| {
            if let Some(e) = all.iter_mut().find(|e| e.id() == id) {
                f(e)
            }
        });
    }

    /// Marks a noted transfer as run by this process again (a resume).
    pub fn take_up(&self, id: &str) {
        lock(&self.here).insert(id.to_string());
    }

    /// The transfer is settled: finished, aborted or removed.
    pub fn remove(&self, id: &str) {
        self.release(id);
        self.change(|all| all.retain(|e| e.id() != id));
    }

    /// This process lets go of a transfer that stays noted, to be resumed later (a quit).
    pub fn release(&self, id: &str) {
        lock(&self.here).remove(id);
    }

    /// Whether this process is running the transfer now.
    pub fn is_here(&self, id: &str) -> bool {
        lock(&self.here).contains(id)
    }

    /// How many noted transfers this process has in flight.
    pub fn in_flight_here(&self) -> usize {
        lock(&self.here).len()
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
        Err(e) if crate::s3::code_of(&e) == Some(crate::error::S3Code::NoSuchUpload) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Aborts the recorded uploads at `endpoint` that can't be resumed (noted with no file), each
/// with the client `client_for` gives for its Space. An upload the server no longer knows is done
/// with too. Returns (aborted, left).
pub async fn abort_recorded(
    record: &Unfinished,
    endpoint: &str,
    client_for: impl Fn(&str) -> Option<aws_sdk_s3::Client>,
) -> (u32, u32) {
    let (mut aborted, mut left) = (0, 0);
    let stale = |u: &UnfinishedUpload| u.endpoint == endpoint && u.source.is_none();
    for upload in record.list().into_iter().filter(stale) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(id: &str) -> UnfinishedUpload {
        UnfinishedUpload {
            endpoint: "http://e".into(),
            space: "s".into(),
            key: format!("{id}.bin"),
            upload_id: id.into(),
            source: None,
            expect: Default::default(),
        }
    }

    #[test]
    fn what_this_version_does_not_understand_is_written_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("unfinished-uploads.json");
        let newer = serde_json::json!([
            { "endpoint": "http://e", "space": "s", "key": "a.bin", "uploadId": "a", "priority": 7 },
            { "kind": "something newer", "id": 1 }
        ]);
        std::fs::write(&path, newer.to_string()).expect("write");
        let record = Unfinished::new(&path);
        record.add(upload("b"));
        record.update("a", |e| e.key = "a2.bin".into());
        let back: Vec<Value> =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        let a = back.iter().find(|v| v["uploadId"] == "a").expect("a");
        assert_eq!(
            (a["priority"].clone(), a["key"].clone()),
            (7.into(), "a2.bin".into())
        );
        assert!(
            back.iter().any(|v| v["kind"] == "something newer"),
            "{back:?}"
        );
        assert_eq!(record.list().len(), 2);
    }

    #[test]
    fn a_damaged_record_is_set_aside_not_written_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("unfinished-uploads.json");
        std::fs::write(&path, b"{ half a record").expect("write");
        let record = Unfinished::new(&path);
        assert!(record.list().is_empty());
        record.add(upload("c"));
        let aside = record.set_aside();
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert_eq!(std::fs::read(&aside[0]).expect("kept"), b"{ half a record");
        assert_eq!(record.list(), vec![upload("c")]);
    }
}
