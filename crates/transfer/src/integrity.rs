//! Knowing bytes again: the MD5s S3 speaks in, and the metadata other tools read.
//!
//! A file uploaded in one request has its MD5 as its ETag; one uploaded in parts has
//! `md5(md5(part 1) ‖ … ‖ md5(part n))-n`, which depends on the part size. So every upload also
//! stores the whole file's MD5 (base64) as `x-amz-meta-md5chksum` and its modification time as
//! `x-amz-meta-mtime` (seconds since 1970, with a fraction), the names rclone and Cyberduck read
//! and write, and a download is checked against whichever of these it can use.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

use base64::Engine;
use md5::{Digest, Md5};

/// Metadata names (S3 sends them as `x-amz-meta-<name>`, lower case).
pub const MD5_META: &str = "md5chksum";
pub const MTIME_META: &str = "mtime";

/// An MD5 digest.
pub type Md5Sum = [u8; 16];

pub fn md5_of(bytes: &[u8]) -> Md5Sum {
    Md5::digest(bytes).into()
}

pub fn hex(sum: &Md5Sum) -> String {
    sum.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn base64(sum: &Md5Sum) -> String {
    base64::engine::general_purpose::STANDARD.encode(sum)
}

/// The whole file's MD5 as stored with an object, if it was.
pub fn stored_md5(meta: Option<&HashMap<String, String>>) -> Option<String> {
    let meta = meta?;
    meta.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(MD5_META))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A modification time as rclone writes it: seconds since 1970, with up to nine decimals.
pub fn mtime_text(t: SystemTime) -> Option<String> {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    let text = format!("{}.{:09}", d.as_secs(), d.subsec_nanos());
    Some(text.trim_end_matches('0').trim_end_matches('.').to_string())
}

/// The whole MD5 and each part's MD5 of `size` bytes read from `r`, in parts of `part_size`
/// (one part when it is 0). One pass over the bytes: the whole is hashed as they are read, the
/// parts on a second thread at the same time (MD5 can't be split, but the two sums can run side
/// by side), so a big file costs one hash's time, not two.
pub fn md5_in_parts(
    mut r: impl Read,
    size: u64,
    part_size: u64,
) -> std::io::Result<(Md5Sum, Vec<Md5Sum>)> {
    let part_size = if part_size == 0 {
        size.max(1)
    } else {
        part_size
    };
    let short = || {
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the file is shorter than it was",
        )
    };
    const CHUNK: usize = 1 << 20;
    if part_size >= size {
        // One part: its sum is the whole's.
        let mut whole = Md5::new();
        let mut buf = vec![0u8; CHUNK.min(size.max(1) as usize)];
        let mut left = size;
        while left > 0 {
            let want = (buf.len() as u64).min(left) as usize;
            let n = r.read(&mut buf[..want])?;
            if n == 0 {
                return Err(short());
            }
            whole.update(&buf[..n]);
            left -= n as u64;
        }
        let sum: Md5Sum = whole.finalize().into();
        return Ok((sum, vec![sum]));
    }
    // Chunks go to the parts' thread and come back to be filled again: a few MiB in flight.
    let (to_parts, chunks) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(4);
    let (give_back, returned) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
    std::thread::scope(|scope| {
        let parts = scope.spawn(move || {
            let mut part = Md5::new();
            let mut in_part = 0u64;
            let mut parts = Vec::new();
            for (buf, n) in chunks {
                part.update(&buf[..n]);
                in_part += n as u64;
                if in_part == part_size {
                    parts.push(std::mem::take(&mut part).finalize().into());
                    in_part = 0;
                }
                let _ = give_back.try_send(buf);
            }
            if in_part > 0 {
                parts.push(part.finalize().into());
            }
            parts
        });
        let mut whole = Md5::new();
        let mut in_part = 0u64;
        let mut left = size;
        let read = (|| {
            while left > 0 {
                let mut buf = returned.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
                // A chunk never spans two parts, so the parts' thread cuts where parts end.
                let want = (CHUNK as u64).min(left).min(part_size - in_part) as usize;
                let n = r.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(short());
                }
                whole.update(&buf[..n]);
                in_part = (in_part + n as u64) % part_size;
                left -= n as u64;
                if to_parts.send((buf, n)).is_err() {
                    break;
                }
            }
            Ok(())
        })();
        drop(to_parts);
        let parts = parts
            .join()
            .map_err(|_| std::io::Error::other("hashing the parts stopped"))?;
        read?;
        Ok((whole.finalize().into(), parts))
    })
}

/// The MD5 of the file at `path`, whole.
pub fn md5_of_file(path: &Path) -> std::io::Result<Md5Sum> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    Ok(md5_in_parts(file, size, 0)?.0)
}

/// The ETag an object uploaded in parts of `part_size` would have, from the file at `path`:
/// the parts are hashed on as many threads as the machine has cores.
pub fn multipart_etag_of_file(path: &Path, size: u64, part_size: u64) -> std::io::Result<String> {
    use std::os::unix::fs::FileExt;
    let part_size = part_size.max(1);
    let count = size.div_ceil(part_size).max(1);
    let file = std::fs::File::open(path)?;
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(count as usize)
        .max(1) as u64;
    let per_thread = count.div_ceil(threads);
    let sums = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let file = &file;
                scope.spawn(move || -> std::io::Result<Vec<Md5Sum>> {
                    let mut out = Vec::new();
                    let mut buf = vec![0u8; 1 << 20];
                    let first = t * per_thread;
                    for part in first..(first + per_thread).min(count) {
                        let start = part * part_size;
                        let end = (start + part_size).min(size);
                        let mut md5 = Md5::new();
                        let mut at = start;
                        while at < end {
                            let want = (buf.len() as u64).min(end - at) as usize;
                            let n = file.read_at(&mut buf[..want], at)?;
                            if n == 0 {
                                return Err(std::io::Error::new(
                                    std::io::ErrorKind::UnexpectedEof,
                                    "the file is shorter than it was",
                                ));
                            }
                            md5.update(&buf[..n]);
                            at += n as u64;
                        }
                        out.push(md5.finalize().into());
                    }
                    Ok(out)
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(
                h.join()
                    .map_err(|_| std::io::Error::other("a hashing thread stopped"))??,
            );
        }
        Ok::<_, std::io::Error>(all)
    })?;
    Ok(multipart_etag(&sums))
}

/// Part sizes an object of `size` bytes in `count` parts may have been uploaded with, most
/// likely first (the sizes tools use by default, then the smallest whole MiB that fits), when
/// the server does not say: at most four, each costing one read of the file.
pub fn part_size_guesses(size: u64, count: u64) -> Vec<u64> {
    const MIB: u64 = 1 << 20;
    if count < 2 || size < count {
        return Vec::new();
    }
    // ceil(size / p) == count exactly when p lies in [lo, hi].
    let (lo, hi) = (size.div_ceil(count), (size - 1) / (count - 1));
    let usual = [5, 8, 10, 15, 16, 25, 32, 50, 64, 100, 128, 256, 512].map(|m| m * MIB);
    let mut out = Vec::new();
    for p in usual.into_iter().chain([lo.div_ceil(MIB) * MIB, lo]) {
        if (lo..=hi).contains(&p) && !out.contains(&p) {
            out.push(p);
        }
    }
    out.truncate(4);
    out
}

/// An MD5 fed piece by piece.
#[derive(Default)]
pub struct Md5Stream(Md5);

impl Md5Stream {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> Md5Sum {
        self.0.finalize().into()
    }
}

/// The ETag S3 gives an object uploaded in these parts.
pub fn multipart_etag(parts: &[Md5Sum]) -> String {
    let mut all = Md5::new();
    for p in parts {
        all.update(p);
    }
    let sum: Md5Sum = all.finalize().into();
    format!("{}-{}", hex(&sum), parts.len())
}

/// An ETag as S3 quotes it, bare.
pub fn bare(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// What an object's ETag and metadata say about the bytes it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// Its whole MD5 (a single-part ETag, or the stored MD5).
    Md5(Md5Sum),
    /// A multipart ETag, of this many parts: it can be recomputed with the part size.
    Parts { etag: String, count: u64 },
    /// Nothing that can be checked (an ETag of another form, e.g. of an encrypted object).
    Nothing,
}

/// What can be checked of an object with this ETag and stored MD5.
pub fn known(etag: &str, stored: Option<&str>) -> Known {
    if let Some(sum) = stored.and_then(from_base64) {
        return Known::Md5(sum);
    }
    let etag = bare(etag);
    if let Some(sum) = from_hex(etag) {
        return Known::Md5(sum);
    }
    match etag.rsplit_once('-') {
        Some((sum, n)) if from_hex(sum).is_some() => match n.parse::<u64>() {
            Ok(count) if count > 0 => Known::Parts {
                etag: etag.to_ascii_lowercase(),
                count,
            },
            _ => Known::Nothing,
        },
        _ => Known::Nothing,
    }
}

fn from_hex(s: &str) -> Option<Md5Sum> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

pub fn from_base64(s: &str) -> Option<Md5Sum> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_in_one_pass_match_sums_of_each_part() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let (whole, parts) = md5_in_parts(&data[..], data.len() as u64, 4096).expect("read");
        assert_eq!(whole, md5_of(&data));
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], md5_of(&data[..4096]));
        assert_eq!(parts[2], md5_of(&data[8192..]));
        // The known form of S3's multipart ETag: md5 of the parts' md5s, then the count.
        let mut joined = Vec::new();
        parts.iter().for_each(|p| joined.extend_from_slice(p));
        assert_eq!(
            multipart_etag(&parts),
            format!("{}-3", hex(&md5_of(&joined)))
        );
        let (empty, none) = md5_in_parts(&b""[..], 0, 4096).expect("read");
        assert_eq!(hex(&empty), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(none.len(), 1);
        assert!(
            md5_in_parts(&data[..100], 200, 0).is_err(),
            "a file that shrank"
        );
    }

    #[test]
    fn sums_of_parts_that_cut_across_chunks() {
        // Parts and chunks (1 MiB) end at different places; a shrunk file fails, whole or not.
        let data: Vec<u8> = (0..(5u32 << 20) + 3).map(|i| (i % 253) as u8).collect();
        let part = (2 << 20) + 1;
        let (whole, parts) = md5_in_parts(&data[..], data.len() as u64, part).expect("read");
        assert_eq!(whole, md5_of(&data));
        let want: Vec<Md5Sum> = data.chunks(part as usize).map(md5_of).collect();
        assert_eq!(parts, want);
        let err = md5_in_parts(&data[..3 << 20], data.len() as u64, part).expect_err("shrank");
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn part_sizes_are_guessed_only_where_they_give_the_count() {
        const MIB: u64 = 1 << 20;
        // 100 MiB in 13 parts of 8 MiB (the aws cli's size).
        assert_eq!(part_size_guesses(100 * MIB, 13)[0], 8 * MIB);
        // 12 MiB + 5 bytes in 3 parts: 5 MiB fits, and so does the smallest whole MiB (5).
        assert_eq!(
            part_size_guesses(12 * MIB + 5, 3),
            vec![5 * MIB, (12 * MIB + 5).div_ceil(3)]
        );
        for (size, count) in [(1000 * MIB + 7, 7), (64 * MIB, 2), (10 * MIB + 1, 11)] {
            for p in part_size_guesses(size, count) {
                assert_eq!(size.div_ceil(p), count, "{size} in parts of {p}");
            }
        }
        assert!(part_size_guesses(5, 1).is_empty());
    }

    #[test]
    fn a_files_multipart_etag_is_the_one_of_its_parts() {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..(3 << 20) + 5).map(|i: u32| (i % 253) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        let parts: Vec<Md5Sum> = data.chunks(1 << 20).map(md5_of).collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(
            multipart_etag_of_file(&path, data.len() as u64, 1 << 20).expect("read"),
            multipart_etag(&parts)
        );
        assert!(multipart_etag_of_file(&path, data.len() as u64 + 1, 1 << 20).is_err());
    }

    #[test]
    fn etags_and_stored_sums_say_what_can_be_checked() {
        let sum = md5_of(b"hello");
        let etag = format!("\"{}\"", hex(&sum));
        assert_eq!(known(&etag, None), Known::Md5(sum));
        assert_eq!(known("\"abc-2\"", Some(&base64(&sum))), Known::Md5(sum));
        assert_eq!(
            known("\"0123456789abcdef0123456789ABCDEF-12\"", None),
            Known::Parts {
                etag: "0123456789abcdef0123456789abcdef-12".into(),
                count: 12
            }
        );
        assert_eq!(known("\"not an md5\"", None), Known::Nothing);
        assert_eq!(
            known("\"0123456789abcdef0123456789abcdef-0\"", None),
            Known::Nothing
        );
        let meta: HashMap<String, String> = [("Md5chksum".to_string(), base64(&sum))].into();
        assert_eq!(stored_md5(Some(&meta)), Some(base64(&sum)));
    }

    #[test]
    fn modification_times_are_written_as_rclone_writes_them() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(mtime_text(t).as_deref(), Some("1700000000.12"));
        let whole = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(5);
        assert_eq!(mtime_text(whole).as_deref(), Some("5"));
    }
}
