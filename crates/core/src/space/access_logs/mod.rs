//! A Space's access logs: switching them on or off (PutBucketLogging, into another Space), and
//! reading the log files a Space holds into the viewer's figures. DigitalOcean writes the S3
//! server-access-log format; RGW (the sandbox) refuses the switch with 405, but its Spaces can
//! still hold log files to read.

pub mod parse;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::types::{BucketLoggingStatus, LoggingEnabled};
use serde::Serialize;
use ts_rs::TS;

pub use parse::{LogFilter, LogLine, LogSummary};

use crate::error::{Error, Result, S3Code};
use crate::s3::{map_error, Context};
use crate::services::Services;

/// Where a Space's access logs go, as its server says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct AccessLogging {
    /// The Space the log files are written into, when logging is on.
    pub target: Option<String>,
    /// The start of the log files' names there.
    pub prefix: String,
    /// Why this connection can't switch logging, said before it tries: a limited key can't.
    pub cannot_switch: Option<String>,
}

/// The viewer's figures for the log files read, with the newest matching requests.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct LogReport {
    pub summary: LogSummary,
    /// The newest requests that pass the filter, newest first.
    pub recent: Vec<LogLine>,
    /// Log files read, and how many there were under the prefix.
    #[ts(type = "number")]
    pub files_read: usize,
    #[ts(type = "number")]
    pub files_found: usize,
    /// Files left out because each alone is bigger than what is read at most.
    #[ts(type = "number")]
    pub files_too_big: usize,
    #[ts(type = "number")]
    pub bytes_read: u64,
}

/// The newest log files read at most, and at most this many bytes of them: the viewer shows the
/// recent past, not a year of logs at once.
const MOST_FILES: usize = 2_000;
const MOST_BYTES: u64 = 64 << 20;
/// Files and clients in the top lists; requests in the newest list.
const TOP: usize = 10;
const RECENT: usize = 50;

/// The log lines last read, with the connection they were read on, kept so a change of filter
/// needs no new download (and no other connection sees them).
#[derive(Default)]
pub struct LoadedLogs(Mutex<Option<(String, Arc<Loaded>)>>);

struct Loaded {
    lines: Vec<LogLine>,
    unreadable: usize,
    files_read: usize,
    files_found: usize,
    files_too_big: usize,
    bytes_read: u64,
}

impl Loaded {
    fn report(&self, filter: &LogFilter) -> LogReport {
        let mut summary = parse::summarize(&self.lines, filter, TOP);
        summary.unreadable = self.unreadable;
        // Files are read oldest first, so the newest requests are at the end.
        let recent = (self.lines.iter().rev())
            .filter(|l| filter.matches(l))
            .take(RECENT)
            .cloned()
            .collect();
        LogReport {
            summary,
            recent,
            files_read: self.files_read,
            files_found: self.files_found,
            files_too_big: self.files_too_big,
            bytes_read: self.bytes_read,
        }
    }
}

/// The prefix logs go under when none is given: DigitalOcean's documented example.
pub fn default_prefix(space: &str) -> String {
    format!("access-logs/{space}/")
}

/// A prefix is part of a key: no leading slash, and nothing a key can't hold.
fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.starts_with('/') || prefix.chars().any(char::is_control) || prefix.len() > 512 {
        return Err(Error::InvalidInput(
            "The log files' prefix can't start with “/”, hold control characters or be longer than 512 bytes.".into(),
        ));
    }
    Ok(())
}

/// Whether a Space's logging can be switched with the key it opens with.
fn cannot_switch(limited: bool) -> Option<String> {
    limited.then(|| {
        "Switching access logs needs a Full Access key, and this Space opens with a limited key. Connect with a Full Access key to switch them.".to_string()
    })
}

pub async fn logging(
    services: &Services,
    space: &str,
    region: Option<String>,
) -> Result<AccessLogging> {
    let active = services.active().await?;
    let region = active.region_or_own(region)?;
    let access = active.for_space(space, &region)?;
    let got = access
        .client
        .get_bucket_logging()
        .bucket(space)
        .send()
        .await
        .map_err(|e| map_error(e, Context::space(&access.endpoint.url, space)))?;
    let enabled = got.logging_enabled();
    Ok(AccessLogging {
        target: enabled.map(|e| e.target_bucket().to_string()),
        prefix: enabled
            .map(|e| e.target_prefix().to_string())
            .unwrap_or_else(|| default_prefix(space)),
        cannot_switch: cannot_switch(access.limited),
    })
}

/// Switches a Space's access logs on (into `target`, under `prefix`) or off (`target` None),
/// then reads the setting back: what the server kept is what is said.
pub async fn set_logging(
    services: &Services,
    space: &str,
    region: Option<String>,
    target: Option<&str>,
    prefix: &str,
) -> Result<AccessLogging> {
    let active = services.active().await?;
    let region = active.region_or_own(region)?;
    let access = active.for_space(space, &region)?;
    if let Some(why) = cannot_switch(access.limited) {
        return Err(Error::AccessDenied(why));
    }
    let ctx = Context::space(&access.endpoint.url, space);
    let mut status = BucketLoggingStatus::builder();
    if let Some(target) = target {
        if target == space {
            return Err(Error::InvalidInput(
                "Access logs must go to another Space than the one they are about.".into(),
            ));
        }
        crate::names::validate_existing(target)?;
        check_prefix(prefix)?;
        // The target must be there, and be this connection's, before the server is asked.
        let (target_client, target_endpoint) = active.client_for_space(target, &region)?;
        super::head(&target_client, &target_endpoint.url, target).await?;
        let enabled = LoggingEnabled::builder()
            .target_bucket(target)
            .target_prefix(prefix)
            .build()
            .map_err(|e| Error::Internal(e.to_string()))?;
        status = status.logging_enabled(enabled);
    }
    let put = access
        .client
        .put_bucket_logging()
        .bucket(space)
        .bucket_logging_status(status.build())
        .send()
        .await;
    if let Err(e) = put {
        return Err(match map_error(e, ctx) {
            Error::Server {
                code: S3Code::MethodNotAllowed | S3Code::NotImplemented,
                ..
            } => Error::NotOffered(
                "This service does not offer access logs: it refused to switch them (the local sandbox's Ceph gateway answers 405). DigitalOcean Spaces offers them.".into(),
            ),
            other => other,
        });
    }
    let now = logging(services, space, Some(region)).await?;
    if now.target.as_deref() != target {
        return Err(Error::BadAnswer(format!(
            "the server took the change but says logging is {}",
            match &now.target {
                Some(t) => format!("on, into “{t}”"),
                None => "off".into(),
            }
        )));
    }
    services.log().write(match target {
        Some(t) => format!("access logs of “{space}” on, into “{t}” under “{prefix}”"),
        None => format!("access logs of “{space}” off"),
    });
    Ok(now)
}

/// Reads the newest log files under `prefix` in `space` (the Space the logs are written into)
/// and sums them up, until the page stops `request` (the read is dropped where it is: reading
/// changes nothing on the server).
pub async fn read(
    services: &Services,
    (space, region): (&str, Option<String>),
    prefix: &str,
    filter: &LogFilter,
    request: Option<u32>,
) -> Result<LogReport> {
    if prefix.is_empty() {
        return Err(Error::InvalidInput(
            "Give the prefix the log files are under (for example “access-logs/”): the whole Space is not read as logs.".into(),
        ));
    }
    check_prefix(prefix)?;
    let connection = services.active().await?.profile.id;
    // Boxed, as the check is: moved by value, a large future can overflow a worker's stack.
    let read = Box::pin(read_all(services, (space, region), prefix));
    let loaded = Arc::new(services.requests().run(request, read).await?);
    let report = loaded.report(filter);
    *services
        .loaded_logs()
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some((connection, loaded));
    Ok(report)
}

async fn read_all(
    services: &Services,
    (space, region): (&str, Option<String>),
    prefix: &str,
) -> Result<Loaded> {
    let t = crate::files::target(services, space, region).await?;
    let ctx = Context::space(&t.endpoint, space);
    // Log files are named by the time they were written, so a listing gives them oldest first:
    // only the newest are kept while it goes, however many there are.
    let mut newest: VecDeque<(String, u64)> = VecDeque::new();
    let mut files_found = 0usize;
    crate::listing::each_page(&t.client, ctx, space, prefix, None, None, |page| {
        for o in page.objects {
            if let Some(key) = o.key() {
                files_found += 1;
                newest.push_back((key.to_string(), o.size().unwrap_or(0).max(0) as u64));
                if newest.len() > MOST_FILES {
                    newest.pop_front();
                }
            }
        }
        true
    })
    .await?;
    let mut chosen = Vec::new();
    let (mut bytes, mut too_big) = (0u64, 0usize);
    for (key, size) in newest.into_iter().rev() {
        if size > MOST_BYTES {
            // One file past the whole budget is left out, not the rest with it.
            too_big += 1;
            continue;
        }
        if bytes + size > MOST_BYTES {
            break;
        }
        bytes += size;
        chosen.push((key, size));
    }
    chosen.reverse();
    let mut loaded = Loaded {
        lines: Vec::new(),
        unreadable: 0,
        files_read: 0,
        files_found,
        files_too_big: too_big,
        bytes_read: 0,
    };
    for (key, size) in &chosen {
        let body = read_at_most(&t.client, ctx, space, key, *size).await?;
        loaded.bytes_read += body.len() as u64;
        let parsed = parse::parse(&String::from_utf8_lossy(&body));
        loaded.lines.extend(parsed.lines);
        loaded.unreadable += parsed.unreadable;
        loaded.files_read += 1;
    }
    Ok(loaded)
}

/// A log file's bytes, no more than the listing said it holds (a server that sends more is not
/// read further).
async fn read_at_most(
    client: &aws_sdk_s3::Client,
    ctx: Context<'_>,
    space: &str,
    key: &str,
    size: u64,
) -> Result<Vec<u8>> {
    if size == 0 {
        return Ok(Vec::new());
    }
    let got = client
        .get_object()
        .bucket(space)
        .key(key)
        .range(format!("bytes=0-{}", size - 1))
        .send()
        .await
        .map_err(|e| map_error(e, ctx))?;
    let mut body = got.body;
    let mut bytes = Vec::with_capacity(size as usize);
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| Error::unreachable(ctx.endpoint, e.to_string()))?
    {
        let room = (size as usize).saturating_sub(bytes.len());
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if bytes.len() as u64 >= size {
            break;
        }
    }
    Ok(bytes)
}

/// The figures of the logs last read on this connection, under another filter. Summing up many
/// lines takes a while: it is done off the async workers.
pub async fn refilter(services: &Services, filter: LogFilter) -> Result<LogReport> {
    let connection = services.active().await?.profile.id;
    let loaded = services
        .loaded_logs()
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .filter(|(read_on, _)| *read_on == connection)
        .map(|(_, loaded)| loaded.clone())
        .ok_or_else(|| Error::Gone("No logs were read on this connection yet.".into()))?;
    tokio::task::spawn_blocking(move || loaded.report(&filter))
        .await
        .map_err(|e| Error::Internal(format!("summing up the logs stopped: {e}")))
}
