//! One object into one local file, fast: the first range says how big it is and which version
//! it is; the other ranges follow in parallel, each asking for that same version, each written at
//! its own place in a file sized up front.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;

use super::adapt::{Link, Window};
use super::download::{disk_error, Fetch};
use super::local::LocalStamp;
use super::pace::Pace;
use super::unfinished::{PartialDownload, PartialDownloads};
use super::Target;
use crate::error::{Error, Result, S3Code};
use crate::integrity;
use crate::s3::{map_error, Context};

/// Ranges of this size go in parallel for one big file, until the link has shown what suits it.
pub(super) const PART: u64 = 16 << 20;
/// Ranged GETs in flight for one file when it begins: one TCP window each, so a far link needs
/// several; the window grows from here while more ranges move more bytes.
const PARTS_IN_FLIGHT: usize = 8;
/// The most ranged GETs in flight for one file.
const MOST_PARTS_IN_FLIGHT: usize = 32;

/// Where a download of several ranges is noted as it goes, so that after a quit or a crash it
/// resumes with the ranges it lacks.
pub struct Noting<'a> {
    pub record: &'a PartialDownloads,
    /// The folder chosen for it.
    pub dest: &'a Path,
    /// The file it was planned to replace (the user chose Overwrite), as it was then.
    pub replace: Option<LocalStamp>,
}

/// Writes the object into `partial`: the first range says how big it is and which version it
/// is; the other ranges follow in parallel, each asking for that same version (`If-Match`), each
/// written at its own place in a file sized up front. Complete and flushed to disk, or an error.
pub(super) async fn fetch_into(
    from: &Target,
    Fetch { key, version }: Fetch<'_>,
    partial: &Path,
    path: &Path,
    progress: &(dyn Fn(u64) + Send + Sync),
    noting: Option<&Noting<'_>>,
) -> Result<u64> {
    let (client, space) = (&from.client, from.space.as_str());
    let ctx = Context::space(&from.endpoint, space);
    let get = || {
        let get = client.get_object().bucket(space).key(key);
        get.set_version_id(version.map(str::to_string))
    };
    let part = from.link.part_size(PART);
    let asked = std::time::Instant::now();
    let first = match get().range(format!("bytes=0-{}", part - 1)).send().await {
        Ok(answer) => answer,
        // An empty object has no byte 0 to start a range at: it is fetched whole.
        Err(e) => match map_error(e, ctx) {
            Error::Server {
                code: S3Code::InvalidRange,
                ..
            } => get().send().await.map_err(|e| map_error(e, ctx))?,
            other => return Err(other),
        },
    };
    // "bytes 0-15/1234": the part after the slash is the whole size (absent for an empty object).
    let size = match first.content_range() {
        Some(range) => range
            .rsplit('/')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| Error::BadAnswer(format!("a Content-Range of “{range}”")))?,
        None => first.content_length().unwrap_or(0).max(0) as u64,
    };
    from.link.waited(asked.elapsed());
    let etag = first.e_tag().map(str::to_string);
    let stored = integrity::stored_md5(first.metadata());
    // Read as well as written: its bytes are hashed as they land.
    let file = (std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true))
    .open(partial)
    .map_err(|e| disk_error(e, path))?;
    file.set_len(size).map_err(|e| disk_error(e, path))?;
    let file = Arc::new(file);
    // Only a file of several ranges is worth resuming; one range is simply fetched again.
    let noted = match (noting, &etag) {
        (Some(n), Some(etag)) if size > part => {
            n.record.add(PartialDownload {
                endpoint: ctx.endpoint.to_string(),
                space: space.to_string(),
                key: key.to_string(),
                version: version.map(str::to_string),
                path: path.to_path_buf(),
                partial: partial.to_path_buf(),
                dest: n.dest.to_path_buf(),
                size,
                etag: etag.clone(),
                part_size: part,
                done: Vec::new(),
                replace: n.replace.is_some(),
                replaces: n.replace,
            });
            Some(n.record)
        }
        _ => None,
    };
    // The bytes are hashed in order while the ranges land, so the check at the end does not
    // read the file again.
    // Only when the whole MD5 is what it is checked against: an object in parts with no MD5
    // stored is checked by its parts' sums, which need the server's part size.
    let order = Arc::new(InOrder::default());
    let _stop = StopOnDrop(order.clone());
    let by_whole = matches!(
        integrity::known(etag.as_deref().unwrap_or_default(), stored.as_deref()),
        integrity::Known::Md5(_)
    );
    let hashed = by_whole.then(|| {
        let (order, file) = (order.clone(), file.clone());
        tokio::task::spawn_blocking(move || order.hash(&file, size, part))
    });
    let place = Place {
        order: &order,
        client,
        ctx,
        space,
        key,
        version,
        pace: &from.pace,
        link: &from.link,
        file: &file,
        size,
        part,
        partial,
        path,
        noted,
        landed: Default::default(),
    };
    let done = AtomicU64::new(0);
    let written = |n: u64| progress(done.fetch_add(n, Ordering::Relaxed) + n);
    let head = async {
        let n = place.write(first.body, 0, &written).await?;
        place.order.landed(0);
        place.mark(0).await?;
        Ok(n)
    };
    let rest = place.fetch(etag.clone(), 1..size.div_ceil(part), &written);
    let (first, rest) = futures_util::future::try_join(head, rest).await?;
    let total = first + rest;
    if total != size {
        return Err(Error::BadAnswer(format!(
            "{total} bytes came of an object of {size}"
        )));
    }
    let whole = match hashed {
        Some(hashed) => (hashed.await)
            .map_err(|e| Error::Internal(format!("checking the file stopped: {e}")))?
            .map_err(|e| disk_error(e, partial))?,
        None => None,
    };
    let fetched = Fetch { key, version };
    let known = (etag.as_deref(), stored);
    verify(from, fetched, known, (partial, size), whole).await?;
    flush(&file, path).await?;
    Ok(size)
}

/// Checks the bytes in `partial` against what the Space says of them: the whole MD5 (a
/// single-part ETag, or the MD5 stored with the file), or the multipart ETag recomputed with the
/// object's part size (asked of the server as the size of part 1, else the part sizes tools
/// use). Bytes that differ, or bytes nothing can be checked against, are an error: nothing
/// unchecked is called done.
pub(super) async fn verify(
    from: &Target,
    Fetch { key, version }: Fetch<'_>,
    (etag, stored): (Option<&str>, Option<String>),
    (partial, size): (&Path, u64),
    whole: Option<integrity::Md5Sum>,
) -> Result<()> {
    let etag = etag.unwrap_or_default();
    let differs = || {
        Error::BadAnswer(format!(
            "“{key}” came with other bytes than the Space holds (their checksum differs), so it was not kept. Download it again."
        ))
    };
    let head = || {
        (from.client.head_object())
            .bucket(&from.space)
            .key(key)
            .set_version_id(version.map(str::to_string))
    };
    let parts_etag = |part: u64| {
        let path = partial.to_path_buf();
        async move {
            tokio::task::spawn_blocking(move || {
                integrity::multipart_etag_of_file(&path, size, part)
            })
            .await
            .map_err(|e| Error::Internal(format!("checking the file stopped: {e}")))?
            .map_err(|e| disk_error(e, partial))
        }
    };
    let known = integrity::known(etag, None);
    // The MD5s said of it: the ETag's (one part) and the one stored with it.
    let said_of =
        |stored: Option<&str>| [known_md5(&known), stored.and_then(integrity::from_base64)];
    // Hashed as the ranges landed: either MD5 proves it without reading the file again. (A
    // stored MD5 that differs may be stale: the server's own ETag of the parts decides then.)
    if whole.is_some_and(|here| said_of(stored.as_deref()).contains(&Some(here))) {
        return Ok(());
    }
    if let integrity::Known::Parts { etag: want, count } = &known {
        // Part 1's size is the part size (every part but the last has it); a server that does
        // not know partNumber answers with the whole object, which the count then rules out.
        let told = head().part_number(1).send().await.ok().and_then(|h| {
            let part = h.content_length().unwrap_or(0).max(0) as u64;
            let fits = part > 0
                && size.div_ceil(part) == *count
                && h.parts_count().is_none_or(|n| n.max(0) as u64 == *count);
            fits.then_some(part)
        });
        if let Some(part) = told {
            return match parts_etag(part).await? == *want {
                true => Ok(()),
                false => Err(differs()),
            };
        }
    }
    // The MD5 stored with the file, when the first answer's was not at hand (a resume).
    let stored = match (stored, &known) {
        (None, integrity::Known::Parts { .. }) => {
            (head().send().await.ok()).and_then(|h| integrity::stored_md5(h.metadata()))
        }
        (stored, _) => stored,
    };
    let said = said_of(stored.as_deref());
    let mut checked = false;
    if said.iter().any(Option::is_some) {
        let path = partial.to_path_buf();
        let here = match whole {
            Some(here) => here,
            None => tokio::task::spawn_blocking(move || integrity::md5_of_file(&path))
                .await
                .map_err(|e| Error::Internal(format!("checking the file stopped: {e}")))?
                .map_err(|e| disk_error(e, partial))?,
        };
        if said.contains(&Some(here)) {
            return Ok(());
        }
        checked = true;
    }
    // An MD5 stored with it that differs may be stale metadata: the parts' ETag, which the
    // server computed itself, decides then.
    if let integrity::Known::Parts { etag: want, count } = known {
        for part in integrity::part_size_guesses(size, count) {
            if parts_etag(part).await? == want {
                return Ok(());
            }
        }
        if !checked {
            return Err(Error::BadAnswer(format!(
                "“{key}” was stored in {count} parts of a size the Space does not say, and no MD5 was stored with it, so its bytes can't be checked and it was not kept."
            )));
        }
    }
    match checked {
        true => Err(differs()),
        false => Err(Error::BadAnswer(format!(
            "The Space gave no checksum for “{key}” that its bytes can be checked against, so it was not kept."
        ))),
    }
}

fn known_md5(known: &integrity::Known) -> Option<integrity::Md5Sum> {
    match known {
        integrity::Known::Md5(sum) => Some(*sum),
        _ => None,
    }
}

/// Fetches the ranges a noted download lacks into its partial file, asking for the version it
/// began with. Returns the bytes fetched; the version gone from the server is `FileChanged`.
pub(super) async fn resume_into(
    from: &Target,
    noted: &PartialDownload,
    record: &PartialDownloads,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64> {
    let ctx = Context::space(&noted.endpoint, &noted.space);
    let path = &noted.path;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&noted.partial)
        .map_err(|e| disk_error(e, path))?;
    let file = Arc::new(file);
    let count = noted.size.div_ceil(noted.part_size);
    let have: std::collections::HashSet<u64> = noted.done.iter().map(|i| *i as u64).collect();
    let kept = noted.on_disk();
    // Ranges from before are on disk already: the file is hashed whole once it is complete.
    let unordered = InOrder::default();
    let place = Place {
        order: &unordered,
        client: &from.client,
        ctx,
        space: &noted.space,
        key: &noted.key,
        version: noted.version.as_deref(),
        pace: &from.pace,
        link: &from.link,
        file: &file,
        size: noted.size,
        part: noted.part_size,
        partial: &noted.partial,
        path,
        noted: Some(record),
        landed: Default::default(),
    };
    let done = AtomicU64::new(kept);
    progress(kept);
    let written = |n: u64| progress(done.fetch_add(n, Ordering::Relaxed) + n);
    let missing: Vec<u64> = (0..count).filter(|i| !have.contains(i)).collect();
    let want: u64 = missing.iter().map(|i| noted.range_len(*i)).sum();
    let fetched = place
        .fetch(Some(noted.etag.clone()), missing, &written)
        .await?;
    if fetched != want {
        return Err(Error::BadAnswer(format!(
            "{fetched} bytes came of the {want} asked for"
        )));
    }
    // The ranges kept from before are checked with the new ones: the file is checked whole.
    let fetch = Fetch {
        key: &noted.key,
        version: noted.version.as_deref(),
    };
    let at = (noted.partial.as_path(), noted.size);
    verify(from, fetch, (Some(&noted.etag), None), at, None).await?;
    flush(&file, path).await?;
    Ok(fetched)
}

/// One object being written into one partial file.
/// The ranges of a download on disk, for the hashing that follows them in order.
#[derive(Default)]
struct InOrder {
    state: std::sync::Mutex<(std::collections::BTreeSet<u64>, bool)>,
    ready: std::sync::Condvar,
}

impl InOrder {
    fn landed(&self, index: u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0.insert(index);
        self.ready.notify_all();
    }

    fn stop(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 = true;
        self.ready.notify_all();
    }

    /// Waits for range `index`; false once stopped.
    fn wait_for(&self, index: u64) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if state.1 {
                return false;
            }
            if state.0.contains(&index) {
                return true;
            }
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The MD5 of the file's `size` bytes, read range by range as each lands (blocking); None
    /// when the download stopped first.
    fn hash(
        &self,
        file: &std::fs::File,
        size: u64,
        part: u64,
    ) -> std::io::Result<Option<integrity::Md5Sum>> {
        use std::os::unix::fs::FileExt;
        let mut md5 = integrity::Md5Stream::default();
        let mut buf = vec![0u8; 1 << 20];
        for index in 0..size.div_ceil(part) {
            if !self.wait_for(index) {
                return Ok(None);
            }
            let (mut at, end) = (index * part, ((index + 1) * part).min(size));
            while at < end {
                let want = (buf.len() as u64).min(end - at) as usize;
                let n = file.read_at(&mut buf[..want], at)?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                md5.update(&buf[..n]);
                at += n as u64;
            }
        }
        Ok(Some(md5.finish()))
    }
}

/// Stops the hashing when the download ends, however it ends.
struct StopOnDrop(Arc<InOrder>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

struct Place<'a> {
    /// Told of each range on disk.
    order: &'a InOrder,
    client: &'a aws_sdk_s3::Client,
    ctx: Context<'a>,
    space: &'a str,
    key: &'a str,
    /// One version of the file, or (none) the current one, pinned by its ETag.
    version: Option<&'a str>,
    pace: &'a Pace,
    link: &'a Link,
    file: &'a Arc<std::fs::File>,
    size: u64,
    /// The size of each range (the last may be shorter).
    part: u64,
    partial: &'a Path,
    path: &'a Path,
    /// Where each range on disk is noted, for a download that can be resumed.
    noted: Option<&'a PartialDownloads>,
    /// Ranges written but not noted yet, and when the file was last flushed.
    landed: std::sync::Mutex<Landed>,
}

struct Landed {
    waiting: Vec<u32>,
    flushed_at: std::time::Instant,
}

impl Default for Landed {
    fn default() -> Self {
        Landed {
            waiting: Vec::new(),
            flushed_at: std::time::Instant::now(),
        }
    }
}

/// Ranges on disk are noted together at most this often.
const NOTE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Place<'_> {
    /// Fetches the ranges `indices` of the version `etag`, as many at once as the window allows,
    /// each written at its place and noted once flushed. Returns the bytes written.
    async fn fetch(
        &self,
        etag: Option<String>,
        indices: impl IntoIterator<Item = u64>,
        written: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64> {
        let window = Window::new(PARTS_IN_FLIGHT, 1, MOST_PARTS_IN_FLIGHT);
        let ranges = indices.into_iter().map(|i| {
            let (etag, window) = (etag.clone(), window.clone());
            async move {
                let permit = window.acquire().await;
                let started = std::time::Instant::now();
                let start = i * self.part;
                let end = (start + self.part).min(self.size) - 1;
                let range = self.client.get_object().bucket(self.space).key(self.key);
                let range = range.set_version_id(self.version.map(str::to_string));
                let range = range.range(format!("bytes={start}-{end}"));
                let part = match range.set_if_match(etag).send().await {
                    Ok(part) => part,
                    Err(e) => {
                        let e = map_error(e, self.ctx);
                        if matches!(e, Error::SlowDown) {
                            permit.slowed();
                        }
                        return Err(changed_on_server(e));
                    }
                };
                let n = self.write(part.body, start, written).await?;
                self.order.landed(i);
                // The window counts the whole range, its bytes included, not just the answer.
                permit.moved(n);
                self.link.moved(n, started.elapsed());
                self.mark(i).await?;
                Ok(n)
            }
        });
        let mut parts = futures_util::stream::iter(ranges).buffer_unordered(MOST_PARTS_IN_FLIGHT);
        let mut n = 0;
        while let Some(part) = parts.next().await {
            n += part?;
        }
        Ok(n)
    }

    /// Streams one answer's body into the file from `offset` on.
    async fn write(
        &self,
        body: aws_sdk_s3::primitives::ByteStream,
        offset: u64,
        written: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64> {
        write_body(
            body, self.file, offset, self.path, self.ctx, self.pace, written,
        )
        .await
    }

    /// Notes range `index` as on disk: flushed first, so a power cut never leaves a range noted
    /// that the disk doesn't hold. Ranges are noted together at most once a second (each flush
    /// writes out the whole file's pending bytes); a crash loses at most that second of ranges,
    /// which a resume fetches again.
    async fn mark(&self, index: u64) -> Result<()> {
        let Some(record) = self.noted else {
            return Ok(());
        };
        let taken = {
            let mut landed = self.landed.lock().unwrap_or_else(|e| e.into_inner());
            landed.waiting.push(index as u32);
            if landed.flushed_at.elapsed() < NOTE_EVERY {
                return Ok(());
            }
            landed.flushed_at = std::time::Instant::now();
            // Taken before the flush begins: every range taken was written before it.
            std::mem::take(&mut landed.waiting)
        };
        flush_data(self.file, self.path).await?;
        let id = self.partial.to_string_lossy();
        record.update(&id, |e| e.done.extend(taken));
        Ok(())
    }
}

async fn flush(file: &Arc<std::fs::File>, path: &Path) -> Result<()> {
    let file = file.clone();
    tokio::task::spawn_blocking(move || file.sync_all())
        .await
        .map_err(|e| Error::Internal(format!("flushing the file stopped: {e}")))?
        .map_err(|e| disk_error(e, path))
}

async fn flush_data(file: &Arc<std::fs::File>, path: &Path) -> Result<()> {
    let file = file.clone();
    tokio::task::spawn_blocking(move || file.sync_data())
        .await
        .map_err(|e| Error::Internal(format!("flushing the file stopped: {e}")))?
        .map_err(|e| disk_error(e, path))
}

/// A range refused because the object is no longer the one the first range came from.
fn changed_on_server(e: Error) -> Error {
    match e {
        Error::Server {
                code: S3Code::PreconditionFailed,
                ..
            } => Error::FileChanged(
            "The file was replaced on the server while it downloaded; nothing of it was kept. Download it again.".into(),
        ),
        other => other,
    }
}

/// Bytes gathered before each positioned write: a few system calls per MiB, not one per chunk.
const WRITE_BUFFER: usize = 256 << 10;

/// Streams one answer's body into `file` from `offset` on, with positioned writes (so parts
/// write side by side); returns how many bytes came.
async fn write_body(
    mut body: aws_sdk_s3::primitives::ByteStream,
    file: &Arc<std::fs::File>,
    offset: u64,
    path: &Path,
    ctx: Context<'_>,
    pace: &Pace,
    written: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut at = offset;
    let mut buffer: Vec<u8> = Vec::new();
    let put = |buffer: &mut Vec<u8>, at: &mut u64| -> Result<()> {
        file.write_all_at(buffer, *at)
            .map_err(|e| disk_error(e, path))?;
        *at += buffer.len() as u64;
        written(buffer.len() as u64);
        buffer.clear();
        Ok(())
    };
    while let Some(chunk) = body.try_next().await.map_err(|e| Error::Unreachable {
        endpoint: ctx.endpoint.to_string(),
        reason: e.to_string(),
        source: Some(Box::new(e)),
    })? {
        pace.take(chunk.len() as u64).await;
        buffer.extend_from_slice(&chunk);
        // A write of a few hundred KiB goes to the page cache without blocking long.
        if buffer.len() >= WRITE_BUFFER {
            put(&mut buffer, &mut at)?;
        }
    }
    if !buffer.is_empty() {
        put(&mut buffer, &mut at)?;
    }
    Ok(at - offset)
}
