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
/// (one part when it is 0). One pass over the bytes.
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
    let mut whole = Md5::new();
    let mut part = Md5::new();
    let mut in_part = 0u64;
    let mut parts = Vec::new();
    let mut left = size;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let want = (buf.len() as u64).min(left).min(part_size - in_part) as usize;
        let n = r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file is shorter than it was",
            ));
        }
        whole.update(&buf[..n]);
        part.update(&buf[..n]);
        in_part += n as u64;
        left -= n as u64;
        if in_part == part_size || left == 0 {
            parts.push(std::mem::take(&mut part).finalize().into());
            in_part = 0;
        }
    }
    if parts.is_empty() {
        parts.push(Md5::new().finalize().into());
    }
    Ok((whole.finalize().into(), parts))
}

/// The MD5 of the file at `path`, whole.
pub fn md5_of_file(path: &Path) -> std::io::Result<Md5Sum> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    Ok(md5_in_parts(file, size, 0)?.0)
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

fn from_base64(s: &str) -> Option<Md5Sum> {
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
