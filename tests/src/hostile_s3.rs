//! An S3 server that lies in its listings, on purpose: keys outside the folder asked for, a
//! place to go on from that leads back to one it gave before, or "there is more" with no place
//! at all. It answers the other calls an app makes about a Space plausibly (one Space, "s";
//! every file one byte), and notes every request that would change something, so a test can
//! show that nothing was deleted, copied or written on the strength of such a listing.

use std::sync::{Arc, Mutex};

use crate::hostile::{HostileServer, Reply, Request};

/// How the listings lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// Keys outside the prefix asked for, beside one inside it (some of them would panic a
    /// consumer that cuts the prefix off by length).
    Outside,
    /// Pages whose places to go on from lead back to one already given (A, B, A, …).
    Circle,
    /// A page that says there is more, with no place to go on from.
    NoPlace,
    /// Page after empty page, each with a new place to go on from, for ever.
    Endless,
}

impl Lie {
    pub const ALL: [Lie; 4] = [Lie::Outside, Lie::Circle, Lie::NoPlace, Lie::Endless];
}

pub struct HostileS3 {
    pub base: String,
    changes: Arc<Mutex<Vec<String>>>,
    _server: HostileServer,
}

impl HostileS3 {
    pub fn start(lie: Lie) -> HostileS3 {
        let changes = Arc::new(Mutex::new(Vec::new()));
        let seen = changes.clone();
        let pages = std::sync::atomic::AtomicU64::new(0);
        let server = HostileServer::start_with(move |r| {
            if matches!(r.method.as_str(), "PUT" | "POST" | "DELETE") || copies(r) {
                seen.lock()
                    .expect("changes")
                    .push(format!("{} {}", r.method, r.target));
            }
            let page = pages.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            answer(lie, page, r)
        });
        HostileS3 {
            base: server.base.clone(),
            changes,
            _server: server,
        }
    }

    /// Every request that would have changed something ("METHOD target").
    pub fn changes(&self) -> Vec<String> {
        self.changes.lock().expect("changes").clone()
    }
}

fn copies(r: &Request) -> bool {
    r.header("x-amz-copy-source").is_some()
}

/// A query parameter's value, percent-decoded.
fn param(r: &Request, name: &str) -> Option<String> {
    let query = r.target.split_once('?')?.1;
    let raw = query
        .split('&')
        .find_map(|p| p.strip_prefix(&format!("{name}=")))?;
    Some(decode(raw))
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The keys a listing under `prefix` holds: one inside it, and (for `Outside`) three outside;
/// none at all for `Endless`.
fn keys_for(lie: Lie, prefix: &str) -> Vec<String> {
    let inside = if prefix.is_empty() || prefix.ends_with('/') {
        format!("{prefix}a.txt")
    } else {
        prefix.to_string()
    };
    match lie {
        Lie::Outside => vec![inside, "elsewhere/ü.txt".into(), "d".into(), "üüü/x".into()],
        _ => vec![inside],
    }
}

/// "there is more" and where to go on from, as the lie has it (`page`: how many requests came
/// before this one).
fn more(lie: Lie, page: u64, given: Option<&str>, field: &str) -> String {
    match lie {
        Lie::Endless => format!("<IsTruncated>true</IsTruncated><{field}>p{page:09}</{field}>"),
        Lie::Outside => "<IsTruncated>false</IsTruncated>".into(),
        Lie::NoPlace => "<IsTruncated>true</IsTruncated>".into(),
        Lie::Circle => {
            let next = match given {
                Some("A") => "B",
                _ => "A",
            };
            format!("<IsTruncated>true</IsTruncated><{field}>{next}</{field}>")
        }
    }
}

const NS: &str = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";

fn answer(lie: Lie, page: u64, r: &Request) -> Reply {
    let path = r
        .target
        .split_once('?')
        .map_or(r.target.as_str(), |(p, _)| p);
    let ok = |body: String| Reply::new(200, body);
    if r.method == "HEAD" {
        return Reply::new(200, "x")
            .header("ETag", "\"0cc175b9c0f1b6a831c399e269772661\"")
            .header("Last-Modified", "Tue, 01 Dec 2026 10:00:00 GMT")
            .header("x-amz-version-id", "v1");
    }
    if r.method != "GET" {
        let body = if r.has_query("delete") {
            format!("<DeleteResult {NS}></DeleteResult>")
        } else if copies(r) {
            format!("<CopyObjectResult {NS}><ETag>\"e\"</ETag></CopyObjectResult>")
        } else {
            String::new()
        };
        return ok(body);
    }
    if path == "/" {
        return ok(format!(
            "<ListAllMyBucketsResult {NS}><Owner><ID>owner</ID></Owner><Buckets><Bucket><Name>s</Name><CreationDate>2026-01-01T00:00:00Z</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>"
        ));
    }
    if r.has_query("acl") {
        return ok(format!(
            "<AccessControlPolicy {NS}><Owner><ID>owner</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>owner</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>"
        ));
    }
    if r.has_query("versioning") {
        return ok(format!(
            "<VersioningConfiguration {NS}><Status>Enabled</Status></VersioningConfiguration>"
        ));
    }
    if r.has_query("uploadId") {
        // An upload's parts: part numbers that go back, none at all, or for ever.
        let more = match lie {
            Lie::Outside => "<IsTruncated>false</IsTruncated>".to_string(),
            Lie::Circle => {
                "<IsTruncated>true</IsTruncated><NextPartNumberMarker>1</NextPartNumberMarker>"
                    .into()
            }
            Lie::NoPlace => "<IsTruncated>true</IsTruncated>".into(),
            Lie::Endless => format!(
                "<IsTruncated>true</IsTruncated><NextPartNumberMarker>{}</NextPartNumberMarker>",
                1000 * (page + 1)
            ),
        };
        return ok(format!(
            "<ListPartsResult {NS}><Bucket>s</Bucket>{more}<Part><PartNumber>1</PartNumber><Size>5</Size><ETag>\"p\"</ETag></Part></ListPartsResult>"
        ));
    }
    if r.has_query("uploads") {
        let given = param(r, "key-marker");
        let uploads: String = keys_for(lie, "")
            .iter()
            .map(|k| {
                format!(
                    "<Upload><Key>{}</Key><UploadId>u-{}</UploadId><Initiated>2026-12-01T10:00:00Z</Initiated></Upload>",
                    xml_escape(k),
                    k.len()
                )
            })
            .collect();
        let more = more(lie, page, given.as_deref(), "NextKeyMarker");
        return ok(format!(
            "<ListMultipartUploadsResult {NS}><Bucket>s</Bucket>{more}{uploads}</ListMultipartUploadsResult>"
        ));
    }
    if r.has_query("versions") {
        let prefix = param(r, "prefix").unwrap_or_default();
        let given = param(r, "key-marker");
        let versions: String = keys_for(lie, &prefix)
            .iter()
            .map(|k| {
                format!(
                    "<Version><Key>{}</Key><VersionId>v1</VersionId><IsLatest>true</IsLatest><LastModified>2026-12-01T10:00:00Z</LastModified><ETag>\"e\"</ETag><Size>1</Size></Version>",
                    xml_escape(k)
                )
            })
            .collect();
        let more = more(lie, page, given.as_deref(), "NextKeyMarker");
        let more = match lie {
            Lie::Circle => format!("{more}<NextVersionIdMarker>v1</NextVersionIdMarker>"),
            _ => more,
        };
        return ok(format!(
            "<ListVersionsResult {NS}><Name>s</Name><Prefix>{}</Prefix>{more}{versions}</ListVersionsResult>",
            xml_escape(&prefix)
        ));
    }
    if r.has_query("list-type") {
        let prefix = param(r, "prefix").unwrap_or_default();
        let given = param(r, "continuation-token");
        let contents: String = keys_for(lie, &prefix)
            .iter()
            .map(|k| {
                format!(
                    "<Contents><Key>{}</Key><Size>1</Size><ETag>\"e\"</ETag><LastModified>2026-12-01T10:00:00Z</LastModified></Contents>",
                    xml_escape(k)
                )
            })
            .collect();
        let more = more(lie, page, given.as_deref(), "NextContinuationToken");
        return ok(format!(
            "<ListBucketResult {NS}><Name>s</Name><Prefix>{}</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>{more}{contents}</ListBucketResult>",
            xml_escape(&prefix)
        ));
    }
    // A file's bytes.
    ok("x".into())
}
