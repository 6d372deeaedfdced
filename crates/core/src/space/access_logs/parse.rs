//! Reading S3 server access logs (the format DigitalOcean Spaces writes its access logs in) and
//! summing them up for the viewer.
//!
//! A record is one line of space-separated fields:
//!
//! ```text
//! bucket_owner bucket [time] remote_ip requester request_id operation key
//! "request_uri" http_status error_code bytes_sent object_size total_time
//! turn_around_time "referer" "user_agent" version_id host_id ...
//! ```
//!
//! Only the fields needed for reporting are kept. Fields after `user_agent`
//! are optional because older logs stop early, and any fields beyond the
//! known ones are ignored so that new AWS columns do not break parsing.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One readable access-log record, reduced to what reports need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct LogLine {
    /// ISO date such as `2019-02-06`, taken as written (S3 writes UTC), so
    /// requests can be grouped per day without timezone guesswork.
    pub day: String,
    /// The original bracket contents, e.g. `06/Feb/2019:00:00:38 +0000`,
    /// kept for display.
    pub time: String,
    /// The remote IP address as written (`-` stays `-`).
    pub client: String,
    /// S3 operation such as `REST.GET.OBJECT`.
    pub operation: String,
    /// Object key with percent-encoding decoded; `None` when the log says `-`.
    pub key: Option<String>,
    /// HTTP status code.
    pub status: u16,
    /// S3 error code such as `NoSuchKey`; `None` when the log says `-`.
    pub error_code: Option<String>,
    /// Response bytes sent; `0` when the log says `-`.
    pub bytes_sent: u64,
    /// User agent with escapes removed; `None` when `-` or empty.
    pub user_agent: Option<String>,
    /// Referer; `None` when `-` or empty.
    pub referer: Option<String>,
    /// Request line such as `GET /bucket/key HTTP/1.1`; `None` when `-` or empty.
    pub request_uri: Option<String>,
}

/// The result of parsing a whole log text: the readable lines plus a count of
/// lines that could not be read, so bad lines are reported rather than fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Readable records, in input order.
    pub lines: Vec<LogLine>,
    /// Number of non-blank lines that were malformed.
    pub unreadable: usize,
}

/// Which lines to include in a summary. All given conditions must hold.
///
/// Blank strings (empty or whitespace only) in `text`, `day`, `client` and
/// `key` mean "no condition", so a form with empty boxes shows everything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
#[ts(export)]
pub struct LogFilter {
    /// Case-insensitive substring searched in the key, client, operation,
    /// user agent, status (as text) and error code. Empty matches all.
    pub text: String,
    /// Exact ISO day, e.g. `2019-02-06`.
    pub day: Option<String>,
    /// Exact HTTP status.
    pub status: Option<u16>,
    /// Exact client (remote IP).
    pub client: Option<String>,
    /// Exact decoded key; lines without a key never match.
    pub key: Option<String>,
}

/// A request count and byte total for one label (a day, key, client or status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export, rename = "LogCount")]
pub struct Count {
    pub label: String,
    pub requests: u64,
    /// Sum of `bytes_sent` for the label.
    pub bytes: u64,
}

/// Aggregated figures for the lines that pass a filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct LogSummary {
    /// Number of matching requests.
    pub requests: u64,
    /// Total bytes sent by matching requests.
    pub bytes_sent: u64,
    /// Per-day totals, sorted by day ascending.
    pub by_day: Vec<Count>,
    /// Most requested keys: by requests descending, then key ascending; at
    /// most `top` entries. Requests without a key are not counted here.
    pub top_files: Vec<Count>,
    /// Busiest clients, ordered and capped like `top_files`.
    pub top_clients: Vec<Count>,
    /// Per-status totals, label = status code as text, sorted by code ascending.
    pub statuses: Vec<Count>,
    /// Unreadable line count; `summarize` leaves it 0 for the caller to fill in.
    #[ts(type = "number")]
    pub unreadable: usize,
}

/// Parses a whole log text. Blank lines are skipped; malformed lines are
/// counted in `unreadable` and do not stop the rest. Handles `\n` and `\r\n`.
#[must_use]
pub fn parse(text: &str) -> Parsed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parsed = Parsed {
        lines: Vec::new(),
        unreadable: 0,
    };
    for raw in text.split('\n') {
        if raw.trim().is_empty() {
            continue;
        }
        match parse_line(raw) {
            Some(line) => parsed.lines.push(line),
            None => parsed.unreadable += 1,
        }
    }
    parsed
}

/// Parses one log line. Returns `None` for blank or malformed lines: fewer
/// fields than up to `user_agent`, an unterminated bracket or quote, a bad
/// date, or a non-numeric status or byte count.
#[must_use]
pub fn parse_line(line: &str) -> Option<LogLine> {
    let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if line.is_empty() {
        return None;
    }
    let mut fields = Fields { rest: line };

    let _bucket_owner = fields.plain()?;
    let _bucket = fields.plain()?;
    let time = fields.bracketed()?;
    let client = fields.plain()?;
    let _requester = fields.plain()?;
    let _request_id = fields.plain()?;
    let operation = fields.plain()?;
    let key = fields.plain()?;
    let request_uri = fields.quoted()?;
    let status = fields.plain()?;
    let error_code = fields.plain()?;
    let bytes_sent = fields.plain()?;
    let _object_size = fields.plain()?;
    let _total_time = fields.plain()?;
    let _turn_around_time = fields.plain()?;
    let referer = fields.quoted()?;
    let user_agent = fields.quoted()?;
    // Everything after user_agent is optional and not needed.

    let day = iso_day(time)?;
    let status = u16::try_from(digits(status)?).ok()?;
    let bytes_sent = if bytes_sent == "-" {
        0
    } else {
        // A non-numeric byte count means the columns are misaligned.
        digits(bytes_sent)?
    };

    Some(LogLine {
        day,
        time: time.to_string(),
        client: client.to_string(),
        operation: operation.to_string(),
        key: absent_if_dash(key).map(percent_decode),
        status,
        error_code: absent_if_dash(error_code).map(str::to_string),
        bytes_sent,
        user_agent: present(user_agent),
        referer: present(referer),
        request_uri: present(request_uri),
    })
}

impl LogFilter {
    /// True when the line satisfies every given condition.
    #[must_use]
    pub fn matches(&self, line: &LogLine) -> bool {
        self.matches_with(line, &self.text.trim().to_lowercase())
    }

    /// `matches` with the lower-cased search text computed once by the caller,
    /// so summarizing many lines does not repeat that work.
    fn matches_with(&self, line: &LogLine, needle: &str) -> bool {
        let conditions_hold = given(self.day.as_deref()).is_none_or(|day| line.day == day)
            && self.status.is_none_or(|status| line.status == status)
            && given(self.client.as_deref()).is_none_or(|client| line.client == client)
            && given(self.key.as_deref()).is_none_or(|key| line.key.as_deref() == Some(key));
        if !conditions_hold {
            return false;
        }
        if needle.is_empty() {
            return true;
        }
        let hit = |s: &str| s.to_lowercase().contains(needle);
        line.key.as_deref().is_some_and(hit)
            || hit(&line.client)
            || hit(&line.operation)
            || line.user_agent.as_deref().is_some_and(hit)
            || line.status.to_string().contains(needle)
            || line.error_code.as_deref().is_some_and(hit)
    }
}

/// Aggregates the lines that pass `filter`. `top` caps `top_files` and
/// `top_clients`; `unreadable` is left 0 for the caller to set.
#[must_use]
pub fn summarize(lines: &[LogLine], filter: &LogFilter, top: usize) -> LogSummary {
    let needle = filter.text.trim().to_lowercase();
    let mut requests = 0u64;
    let mut bytes_sent = 0u64;
    let mut days: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut files: HashMap<&str, Tally> = HashMap::new();
    let mut clients: HashMap<&str, Tally> = HashMap::new();
    let mut statuses: BTreeMap<u16, Tally> = BTreeMap::new();

    for line in lines.iter().filter(|l| filter.matches_with(l, &needle)) {
        requests += 1;
        bytes_sent = bytes_sent.saturating_add(line.bytes_sent);
        days.entry(&line.day).or_default().add(line.bytes_sent);
        if let Some(key) = &line.key {
            files.entry(key).or_default().add(line.bytes_sent);
        }
        clients
            .entry(&line.client)
            .or_default()
            .add(line.bytes_sent);
        statuses
            .entry(line.status)
            .or_default()
            .add(line.bytes_sent);
    }

    LogSummary {
        requests,
        bytes_sent,
        by_day: days.into_iter().map(|(d, t)| t.count(d)).collect(),
        top_files: ranked(files, top),
        top_clients: ranked(clients, top),
        statuses: statuses
            .into_iter()
            .map(|(s, t)| t.count(&s.to_string()))
            .collect(),
        unreadable: 0,
    }
}

#[derive(Default)]
struct Tally {
    requests: u64,
    bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.requests += 1;
        self.bytes = self.bytes.saturating_add(bytes);
    }

    fn count(self, label: &str) -> Count {
        Count {
            label: label.to_string(),
            requests: self.requests,
            bytes: self.bytes,
        }
    }
}

/// Orders by requests descending, then label ascending (so ties are stable
/// across runs), and keeps at most `top`.
fn ranked(map: HashMap<&str, Tally>, top: usize) -> Vec<Count> {
    let mut counts: Vec<Count> = map.into_iter().map(|(l, t)| t.count(l)).collect();
    counts.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| a.label.cmp(&b.label))
    });
    counts.truncate(top);
    counts
}

/// A filter string that is present and not blank.
fn given(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

/// Walks a line field by field. Runs of spaces separate fields.
struct Fields<'a> {
    rest: &'a str,
}

impl<'a> Fields<'a> {
    fn skip_spaces(&mut self) {
        self.rest = self.rest.trim_start_matches(' ');
    }

    /// A bare token up to the next space.
    fn plain(&mut self) -> Option<&'a str> {
        self.skip_spaces();
        if self.rest.is_empty() {
            return None;
        }
        let end = self.rest.find(' ').unwrap_or(self.rest.len());
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(token)
    }

    /// The contents of `[...]`; `None` if the bracket is missing or unclosed.
    fn bracketed(&mut self) -> Option<&'a str> {
        self.skip_spaces();
        let inner = self.rest.strip_prefix('[')?;
        let end = inner.find(']')?;
        self.rest = &inner[end + 1..];
        Some(&inner[..end])
    }

    /// A `"..."` field with `\"` and `\\` unescaped, or a bare token such as
    /// `-`. `None` if the field is missing or the quote is unterminated.
    fn quoted(&mut self) -> Option<String> {
        self.skip_spaces();
        let Some(inner) = self.rest.strip_prefix('"') else {
            return self.plain().map(str::to_string);
        };
        let mut value = String::new();
        let mut chars = inner.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match inner[i + 1..].chars().next() {
                    Some(next @ ('"' | '\\')) => {
                        value.push(next);
                        chars.next();
                    }
                    _ => value.push('\\'),
                },
                '"' => {
                    self.rest = &inner[i + 1..];
                    return Some(value);
                }
                _ => value.push(c),
            }
        }
        None
    }
}

fn absent_if_dash(value: &str) -> Option<&str> {
    (value != "-").then_some(value)
}

/// `None` for `-` and empty quoted fields.
fn present(value: String) -> Option<String> {
    (!value.is_empty() && value != "-").then_some(value)
}

/// Parses an all-ASCII-digit string (no sign, no spaces).
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Decodes `%XX` escapes. `+` stays `+`. An invalid escape such as `%zz` is
/// kept as written; if the decoded bytes are not UTF-8 the raw key is kept.
fn percent_decode(raw: &str) -> String {
    if !raw.contains('%') {
        return raw.to_string();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let pair = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| (hex(bytes[i + 1]), hex(bytes[i + 2])));
        if let Some((Some(hi), Some(lo))) = pair {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| raw.to_string())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Turns `06/Feb/2019:00:00:38 +0000` into `2019-02-06`, checking the month
/// name, the day against the month length, the clock and the zone.
fn iso_day(time: &str) -> Option<String> {
    let (date, rest) = time.split_once(':')?;
    let mut parts = date.split('/');
    let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let day = number(day, 1, 2)?;
    let month = month_number(month)?;
    let year = number(year, 4, 4)?;
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }

    let (clock, zone) = match rest.split_once(' ') {
        Some((clock, zone)) => (clock, Some(zone)),
        None => (rest, None),
    };
    let mut hms = clock.split(':');
    let (hour, minute, second) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some()
        || number(hour, 2, 2)? > 23
        || number(minute, 2, 2)? > 59
        || number(second, 2, 2)? > 60
    {
        return None;
    }
    if let Some(zone) = zone {
        let offset = zone.strip_prefix(['+', '-'])?;
        number(offset, 4, 4)?;
    }
    Some(format!("{year:04}-{month:02}-{day:02}"))
}

/// Digits only, with a length between `min` and `max`.
fn number(s: &str, min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max {
        return None;
    }
    digits(s).and_then(|n| u32::try_from(n).ok())
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_ascii_lowercase();
    MONTHS
        .iter()
        .zip(1..)
        .find_map(|(m, number)| (*m == lower).then_some(number))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL_VERSIONING: &str = r#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes"#;

    const REAL_OBJECT: &str = r#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 891CE47D2EXAMPLE REST.GET.OBJECT photos/2019/08/puppy.jpg "GET /awsexamplebucket1/photos/2019/08/puppy.jpg?x-foo=bar HTTP/1.1" 200 - 2662992 3462992 70 10 "-" "Mozilla/5.0 (X11; Linux x86_64) \"quoted\" Gecko" - hostid= SigV2 ECDHE-RSA-AES128-SHA AuthHeader awsexamplebucket1.s3.amazonaws.com TLSv1.2 - -"#;

    /// Field values for building test lines; everything is written raw, so
    /// quoted fields must include their quotes.
    struct Rec {
        time: &'static str,
        client: &'static str,
        op: &'static str,
        key: &'static str,
        uri: &'static str,
        status: &'static str,
        err: &'static str,
        bytes: &'static str,
        referer: &'static str,
        ua: &'static str,
        tail: &'static str,
    }

    impl Default for Rec {
        fn default() -> Self {
            Rec {
                time: "[06/Feb/2019:00:00:38 +0000]",
                client: "192.0.2.3",
                op: "REST.GET.OBJECT",
                key: "a.txt",
                uri: r#""GET /bucket/a.txt HTTP/1.1""#,
                status: "200",
                err: "-",
                bytes: "10",
                referer: r#""-""#,
                ua: r#""curl/8.0""#,
                tail: " - hostid SigV4 ECDHE-RSA-AES128-SHA AuthHeader bucket.s3.amazonaws.com TLSv1.2 - -",
            }
        }
    }

    impl Rec {
        fn text(&self) -> String {
            format!(
                "owner bucket {} {} - REQ123 {} {} {} {} {} {} 100 5 2 {} {}{}",
                self.time,
                self.client,
                self.op,
                self.key,
                self.uri,
                self.status,
                self.err,
                self.bytes,
                self.referer,
                self.ua,
                self.tail
            )
        }

        fn parse(&self) -> Option<LogLine> {
            parse_line(&self.text())
        }
    }

    fn log(day: &str, client: &str, key: Option<&str>, status: u16, bytes: u64) -> LogLine {
        LogLine {
            day: day.to_string(),
            time: "t".to_string(),
            client: client.to_string(),
            operation: "REST.GET.OBJECT".to_string(),
            key: key.map(str::to_string),
            status,
            error_code: None,
            bytes_sent: bytes,
            user_agent: None,
            referer: None,
            request_uri: None,
        }
    }

    fn count(label: &str, requests: u64, bytes: u64) -> Count {
        Count {
            label: label.to_string(),
            requests,
            bytes,
        }
    }

    // ---- parsing real lines ----

    #[test]
    fn parses_real_versioning_line() {
        let line = parse_line(REAL_VERSIONING).expect("readable");
        assert_eq!(
            line,
            LogLine {
                day: "2019-02-06".to_string(),
                time: "06/Feb/2019:00:00:38 +0000".to_string(),
                client: "192.0.2.3".to_string(),
                operation: "REST.GET.VERSIONING".to_string(),
                key: None,
                status: 200,
                error_code: None,
                bytes_sent: 113,
                user_agent: Some("S3Console/0.4".to_string()),
                referer: None,
                request_uri: Some("GET /awsexamplebucket1?versioning HTTP/1.1".to_string()),
            }
        );
    }

    #[test]
    fn parses_real_object_line_with_escaped_quotes() {
        let line = parse_line(REAL_OBJECT).expect("readable");
        assert_eq!(line.day, "2019-02-06");
        assert_eq!(line.client, "192.0.2.3");
        assert_eq!(line.operation, "REST.GET.OBJECT");
        assert_eq!(line.key.as_deref(), Some("photos/2019/08/puppy.jpg"));
        assert_eq!(
            line.request_uri.as_deref(),
            Some("GET /awsexamplebucket1/photos/2019/08/puppy.jpg?x-foo=bar HTTP/1.1")
        );
        assert_eq!(line.status, 200);
        assert_eq!(line.error_code, None);
        assert_eq!(line.bytes_sent, 2662992);
        assert_eq!(line.referer, None);
        assert_eq!(
            line.user_agent.as_deref(),
            Some(r#"Mozilla/5.0 (X11; Linux x86_64) "quoted" Gecko"#)
        );
    }

    // ---- quoted fields ----

    #[test]
    fn quoted_fields_keep_spaces() {
        let line = Rec {
            referer: r#""https://example.com/a page?q=1 2""#,
            ua: r#""Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36""#,
            uri: r#""GET /bucket/a.txt?list type=2 HTTP/1.1""#,
            ..Rec::default()
        }
        .parse()
        .expect("readable");
        assert_eq!(
            line.referer.as_deref(),
            Some("https://example.com/a page?q=1 2")
        );
        assert_eq!(
            line.user_agent.as_deref(),
            Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36")
        );
        assert_eq!(
            line.request_uri.as_deref(),
            Some("GET /bucket/a.txt?list type=2 HTTP/1.1")
        );
        // Fields after the quoted ones are still aligned.
        assert_eq!(line.status, 200);
        assert_eq!(line.bytes_sent, 10);
    }

    #[test]
    fn escaped_quotes_and_backslashes_in_quoted_fields() {
        let line = Rec {
            referer: r#""say \"hi\" there""#,
            ua: r#""a\\b \"x y\" c\d""#,
            ..Rec::default()
        }
        .parse()
        .expect("readable");
        assert_eq!(line.referer.as_deref(), Some(r#"say "hi" there"#));
        // `\\` becomes one backslash; a lone backslash before other text is kept.
        assert_eq!(line.user_agent.as_deref(), Some(r#"a\b "x y" c\d"#));
    }

    #[test]
    fn escaped_quote_at_end_of_quoted_field() {
        let line = Rec {
            ua: r#""ends with \"""#,
            ..Rec::default()
        }
        .parse()
        .expect("readable");
        assert_eq!(line.user_agent.as_deref(), Some(r#"ends with ""#));
    }

    #[test]
    fn empty_quoted_fields_are_absent() {
        let line = Rec {
            referer: r#""""#,
            ua: r#""""#,
            ..Rec::default()
        }
        .parse()
        .expect("readable");
        assert_eq!(line.referer, None);
        assert_eq!(line.user_agent, None);
    }

    // ---- dashes ----

    #[test]
    fn dash_in_every_optional_field() {
        let line = Rec {
            key: "-",
            uri: r#""-""#,
            err: "-",
            bytes: "-",
            referer: r#""-""#,
            ua: r#""-""#,
            ..Rec::default()
        }
        .parse()
        .expect("readable");
        assert_eq!(line.key, None);
        assert_eq!(line.request_uri, None);
        assert_eq!(line.error_code, None);
        assert_eq!(line.bytes_sent, 0);
        assert_eq!(line.referer, None);
        assert_eq!(line.user_agent, None);
        assert_eq!(line.status, 200);
    }

    #[test]
    fn unquoted_dashes_in_quoted_positions() {
        let line = Rec {
            uri: "-",
            referer: "-",
            ua: "-",
            ..Rec::default()
        }
        .parse()
        .expect("readable");
        assert_eq!(line.request_uri, None);
        assert_eq!(line.referer, None);
        assert_eq!(line.user_agent, None);
        assert_eq!(line.bytes_sent, 10);
    }

    #[test]
    fn error_code_and_dash_client_are_kept() {
        let line = Rec {
            client: "-",
            status: "404",
            err: "NoSuchKey",
            bytes: "-",
            ..Rec::default()
        }
        .parse()
        .expect("readable");
        assert_eq!(line.status, 404);
        assert_eq!(line.error_code.as_deref(), Some("NoSuchKey"));
        assert_eq!(line.client, "-");
        assert_eq!(line.bytes_sent, 0);
    }

    // ---- percent decoding ----

    #[test]
    fn percent_decoding_rules() {
        assert_eq!(percent_decode("photos/my%20cat.jpg"), "photos/my cat.jpg");
        assert_eq!(percent_decode("a%2Bb+c"), "a+b+c");
        assert_eq!(percent_decode("a%2bb"), "a+b");
        assert_eq!(percent_decode("caf%C3%A9.txt"), "café.txt");
        assert_eq!(percent_decode("%E2%82%AC%F0%9F%98%80"), "€😀");
        assert_eq!(percent_decode("bad%zzkey"), "bad%zzkey");
        assert_eq!(percent_decode("a%20b%zz"), "a b%zz");
        assert_eq!(percent_decode("half%4"), "half%4");
        assert_eq!(percent_decode("end%"), "end%");
        assert_eq!(percent_decode("%%41"), "%A");
        assert_eq!(percent_decode("100%25"), "100%");
        assert_eq!(percent_decode("plain/key.txt"), "plain/key.txt");
        // Decodes to bytes that are not UTF-8: keep the raw key.
        assert_eq!(percent_decode("bin%FF%20x"), "bin%FF%20x");
        assert_eq!(percent_decode("caf%C3"), "caf%C3");
    }

    #[test]
    fn key_field_is_percent_decoded() {
        let line = Rec {
            key: "photos/my%20cat%C3%A9%2Bdog+%zz.jpg",
            ..Rec::default()
        }
        .parse()
        .expect("readable");
        assert_eq!(line.key.as_deref(), Some("photos/my caté+dog+%zz.jpg"));
    }

    // ---- truncated older formats ----

    #[test]
    fn line_ending_after_user_agent_is_readable() {
        let line = Rec {
            tail: "",
            ua: r#""old agent 1.0""#,
            ..Rec::default()
        }
        .parse()
        .expect("readable");
        assert_eq!(line.user_agent.as_deref(), Some("old agent 1.0"));
        assert_eq!(line.bytes_sent, 10);
    }

    #[test]
    fn line_ending_after_host_id_is_readable() {
        let line = Rec {
            tail: " - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234=",
            ..Rec::default()
        }
        .parse()
        .expect("readable");
        assert_eq!(line.user_agent.as_deref(), Some("curl/8.0"));
    }

    #[test]
    fn extra_future_fields_are_ignored() {
        let line = Rec {
            tail: " - hostid SigV4 C AuthHeader h TLSv1.3 - - new1 \"new field\"",
            ..Rec::default()
        }
        .parse()
        .expect("readable");
        assert_eq!(line.user_agent.as_deref(), Some("curl/8.0"));
    }

    #[test]
    fn line_ending_before_user_agent_is_unreadable() {
        let text = Rec::default().text();
        let cut = text.find(r#" "curl/8.0""#).expect("the agent");
        assert!(parse_line(&text[..cut]).is_none());
        // Sanity: the full line does parse.
        assert!(parse_line(&text).is_some());
    }

    #[test]
    fn multiple_spaces_between_fields_are_tolerated() {
        let text = Rec::default().text().replace(" 200 ", "  200   ");
        let line = parse_line(&text).expect("readable");
        assert_eq!(line.status, 200);
        assert_eq!(line.bytes_sent, 10);
    }

    // ---- dates ----

    #[test]
    fn dates_become_iso_days() {
        let cases = [
            ("[01/Jan/2020:12:00:00 +0000]", "2020-01-01"),
            ("[31/Dec/2021:23:59:59 -0700]", "2021-12-31"),
            ("[29/Feb/2020:00:00:00 +0000]", "2020-02-29"),
            ("[29/Feb/2000:00:00:00 +0000]", "2000-02-29"),
            ("[6/feb/2019:00:00:38 +0000]", "2019-02-06"),
            ("[15/SEP/2019:10:11:12 +0530]", "2019-09-15"),
        ];
        for (time, day) in cases {
            let line = Rec {
                time,
                ..Rec::default()
            }
            .parse()
            .unwrap_or_else(|| panic!("{time} should be readable"));
            assert_eq!(line.day, day, "{time}");
            assert_eq!(line.time, time[1..time.len() - 1], "{time}");
        }
    }

    #[test]
    fn bad_dates_are_unreadable() {
        let cases = [
            "[06/Foo/2019:00:00:38 +0000]",
            "[32/Jan/2019:00:00:38 +0000]",
            "[00/Jan/2019:00:00:38 +0000]",
            "[31/Apr/2019:00:00:38 +0000]",
            "[29/Feb/2019:00:00:38 +0000]",
            "[29/Feb/1900:00:00:38 +0000]",
            "[06/02/2019:00:00:38 +0000]",
            "[06/Feb/19:00:00:38 +0000]",
            "[06/Feb/2019:24:00:38 +0000]",
            "[06/Feb/2019:00:61:38 +0000]",
            "[06/Feb/2019:00:00 +0000]",
            "[06/Feb/2019:00:00:38 UTC]",
            "[06/Feb/2019]",
            "[]",
        ];
        for time in cases {
            let rec = Rec {
                time,
                ..Rec::default()
            };
            assert!(rec.parse().is_none(), "{time} should be unreadable");
        }
    }

    // ---- malformed lines ----

    #[test]
    fn malformed_lines_are_rejected() {
        let base = Rec::default().text();
        let unterminated_quote = Rec {
            referer: r#""-""#,
            ua: r#""curl/8.0"#,
            tail: " - hostid",
            ..Rec::default()
        }
        .text();
        let missing_bracket = base.replace(['[', ']'], "");
        let unclosed_bracket = base.replace(']', "");
        let status_abc = Rec {
            status: "abc",
            ..Rec::default()
        }
        .text();
        let status_dash = Rec {
            status: "-",
            ..Rec::default()
        }
        .text();
        let status_too_big = Rec {
            status: "70000",
            ..Rec::default()
        }
        .text();
        let bytes_abc = Rec {
            bytes: "12x",
            ..Rec::default()
        }
        .text();
        let cases = [
            ("unterminated quote", unterminated_quote.as_str()),
            ("missing bracket", missing_bracket.as_str()),
            ("unclosed bracket", unclosed_bracket.as_str()),
            ("status abc", status_abc.as_str()),
            ("status dash", status_dash.as_str()),
            ("status too big", status_too_big.as_str()),
            ("bytes abc", bytes_abc.as_str()),
            ("empty", ""),
            ("blank", "   \r"),
            (
                "five fields",
                "owner bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 -",
            ),
            ("garbage", "hello world"),
        ];
        for (name, text) in cases {
            assert!(parse_line(text).is_none(), "{name} should be unreadable");
        }
        assert!(parse_line(&base).is_some());
    }

    #[test]
    fn unterminated_request_uri_is_rejected() {
        let text = r#"owner bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - REQ REST.GET.OBJECT a.txt "GET /bucket/a.txt HTTP/1.1 200 - 10 100 5 2 - curl"#;
        assert!(parse_line(text).is_none());
    }

    #[test]
    fn parse_counts_unreadable_without_stopping() {
        let good_b = Rec {
            key: "b.txt",
            ..Rec::default()
        }
        .text();
        let text = [
            REAL_VERSIONING,
            "",
            "owner bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 -",
            REAL_OBJECT,
            r#"owner bucket [06/Feb/2019:00:00:38 +0000] 1.2.3.4 - R OP k "GET /k HTTP/1.1"#,
            "   ",
            &Rec {
                status: "abc",
                ..Rec::default()
            }
            .text(),
            "owner bucket 06/Feb/2019:00:00:38 +0000 192.0.2.3 - R OP k \"-\" 200 - 1 1 1 1 \"-\" \"-\"",
            &good_b,
            "",
        ]
        .join("\n");
        let parsed = parse(&text);
        assert_eq!(parsed.unreadable, 4);
        let ops: Vec<_> = parsed.lines.iter().map(|l| l.operation.as_str()).collect();
        assert_eq!(
            ops,
            ["REST.GET.VERSIONING", "REST.GET.OBJECT", "REST.GET.OBJECT"]
        );
        assert_eq!(
            parsed.lines[1].key.as_deref(),
            Some("photos/2019/08/puppy.jpg")
        );
        assert_eq!(parsed.lines[2].key.as_deref(), Some("b.txt"));
    }

    #[test]
    fn parse_of_empty_text() {
        assert_eq!(
            parse(""),
            Parsed {
                lines: vec![],
                unreadable: 0
            }
        );
        assert_eq!(parse("\n\r\n  \n").unreadable, 0);
        assert!(parse("\n\r\n  \n").lines.is_empty());
    }

    #[test]
    fn crlf_line_endings() {
        let short = Rec {
            tail: "",
            ua: r#""agent""#,
            ..Rec::default()
        }
        .text();
        let text = format!("{REAL_VERSIONING}\r\n\r\n{short}\r\n{REAL_OBJECT}\r\nbroken line\r\n");
        let parsed = parse(&text);
        assert_eq!(parsed.lines.len(), 3);
        assert_eq!(parsed.unreadable, 1);
        assert_eq!(
            parsed.lines[0],
            parse_line(REAL_VERSIONING).expect("a log line")
        );
        // The line ending in a quoted field must not keep the `\r`.
        assert_eq!(parsed.lines[1].user_agent.as_deref(), Some("agent"));
        assert_eq!(
            parsed.lines[2],
            parse_line(REAL_OBJECT).expect("a log line")
        );
        // A lone trailing `\r` on the last line is also removed.
        let last = parse(&format!("{short}\r"));
        assert_eq!(last.lines[0].user_agent.as_deref(), Some("agent"));
        assert_eq!(last.unreadable, 0);
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        let parsed = parse(&format!("\u{feff}{REAL_VERSIONING}\n"));
        assert_eq!(parsed.unreadable, 0);
        assert_eq!(parsed.lines.len(), 1);
    }

    // ---- filter ----

    fn sample() -> LogLine {
        LogLine {
            day: "2019-02-06".to_string(),
            time: "06/Feb/2019:00:00:38 +0000".to_string(),
            client: "192.0.2.3".to_string(),
            operation: "REST.GET.OBJECT".to_string(),
            key: Some("Photos/Puppy.jpg".to_string()),
            status: 404,
            error_code: Some("NoSuchKey".to_string()),
            bytes_sent: 0,
            user_agent: Some("Mozilla/5.0 Firefox".to_string()),
            referer: Some("https://referer.example/".to_string()),
            request_uri: Some("GET /b/Photos/Puppy.jpg HTTP/1.1".to_string()),
        }
    }

    #[test]
    fn default_filter_matches_everything() {
        let filter = LogFilter::default();
        assert!(filter.matches(&sample()));
        assert!(filter.matches(&log("2000-01-01", "-", None, 500, 0)));
    }

    #[test]
    fn filter_by_day() {
        let line = sample();
        let mut filter = LogFilter {
            day: Some("2019-02-06".to_string()),
            ..LogFilter::default()
        };
        assert!(filter.matches(&line));
        filter.day = Some("2019-02-07".to_string());
        assert!(!filter.matches(&line));
    }

    #[test]
    fn filter_by_status() {
        let line = sample();
        let mut filter = LogFilter {
            status: Some(404),
            ..LogFilter::default()
        };
        assert!(filter.matches(&line));
        filter.status = Some(200);
        assert!(!filter.matches(&line));
    }

    #[test]
    fn filter_by_client() {
        let line = sample();
        let mut filter = LogFilter {
            client: Some("192.0.2.3".to_string()),
            ..LogFilter::default()
        };
        assert!(filter.matches(&line));
        // Exact, not substring.
        filter.client = Some("192.0.2".to_string());
        assert!(!filter.matches(&line));
    }

    #[test]
    fn filter_by_key() {
        let line = sample();
        let mut filter = LogFilter {
            key: Some("Photos/Puppy.jpg".to_string()),
            ..LogFilter::default()
        };
        assert!(filter.matches(&line));
        filter.key = Some("photos/puppy.jpg".to_string());
        assert!(!filter.matches(&line), "key is exact and case-sensitive");
        filter.key = Some("Photos/Puppy.jpg".to_string());
        let keyless = LogLine {
            key: None,
            ..sample()
        };
        assert!(!filter.matches(&keyless));
    }

    #[test]
    fn filter_key_matches_decoded_key() {
        let line = Rec {
            key: "my%20cat.jpg",
            ..Rec::default()
        }
        .parse()
        .expect("a log line");
        let filter = LogFilter {
            key: Some("my cat.jpg".to_string()),
            ..LogFilter::default()
        };
        assert!(filter.matches(&line));
    }

    #[test]
    fn blank_filter_strings_are_no_condition() {
        let filter = LogFilter {
            text: "   ".to_string(),
            day: Some(String::new()),
            client: Some(" ".to_string()),
            key: Some(String::new()),
            status: None,
        };
        assert!(filter.matches(&sample()));
    }

    #[test]
    fn text_searches_each_field_case_insensitively() {
        let line = sample();
        let hits = [
            "puppy",       // key
            "PHOTOS/PUP",  // key, other case
            "0.2.3",       // client
            "rest.get",    // operation
            "firefox",     // user agent
            "404",         // status
            "40",          // status prefix
            "nosuchkey",   // error code
            "  Firefox  ", // surrounding spaces are ignored
        ];
        for text in hits {
            let filter = LogFilter {
                text: text.to_string(),
                ..LogFilter::default()
            };
            assert!(filter.matches(&line), "{text:?} should match");
        }
        let misses = ["referer.example", "kitten", "500", "HTTP/1.1", "2019-02-06"];
        for text in misses {
            let filter = LogFilter {
                text: text.to_string(),
                ..LogFilter::default()
            };
            assert!(!filter.matches(&line), "{text:?} should not match");
        }
    }

    #[test]
    fn text_search_handles_absent_fields() {
        let line = log("2019-02-06", "10.0.0.1", None, 200, 5);
        let filter = LogFilter {
            text: "nosuchkey".to_string(),
            ..LogFilter::default()
        };
        assert!(!filter.matches(&line));
    }

    #[test]
    fn text_search_is_unicode_case_insensitive() {
        let line = LogLine {
            key: Some("Café/ÉTÉ.txt".to_string()),
            ..sample()
        };
        let filter = LogFilter {
            text: "été".to_string(),
            ..LogFilter::default()
        };
        assert!(filter.matches(&line));
    }

    #[test]
    fn filter_combination_needs_every_condition() {
        let line = sample();
        let all = LogFilter {
            text: "firefox".to_string(),
            day: Some("2019-02-06".to_string()),
            status: Some(404),
            client: Some("192.0.2.3".to_string()),
            key: Some("Photos/Puppy.jpg".to_string()),
        };
        assert!(all.matches(&line));

        let broken = [
            LogFilter {
                text: "chrome".to_string(),
                ..all.clone()
            },
            LogFilter {
                day: Some("2019-02-05".to_string()),
                ..all.clone()
            },
            LogFilter {
                status: Some(403),
                ..all.clone()
            },
            LogFilter {
                client: Some("10.0.0.1".to_string()),
                ..all.clone()
            },
            LogFilter {
                key: Some("other".to_string()),
                ..all.clone()
            },
        ];
        for filter in broken {
            assert!(!filter.matches(&line), "{filter:?}");
        }
    }

    // ---- summarize ----

    fn sample_lines() -> Vec<LogLine> {
        vec![
            log("2019-02-07", "10.0.0.2", Some("b.txt"), 200, 100),
            log("2019-02-06", "10.0.0.1", Some("a.txt"), 200, 10),
            log("2019-02-06", "10.0.0.1", Some("b.txt"), 404, 0),
            log("2019-02-08", "10.0.0.3", Some("c.txt"), 500, 1),
            log("2019-02-06", "10.0.0.2", None, 403, 20),
            log("2019-02-07", "10.0.0.1", Some("a.txt"), 200, 30),
            log("2019-02-07", "10.0.0.3", Some("d.txt"), 200, 1000),
        ]
    }

    #[test]
    fn summarize_totals_and_days() {
        let summary = summarize(&sample_lines(), &LogFilter::default(), 10);
        assert_eq!(summary.requests, 7);
        assert_eq!(summary.bytes_sent, 1161);
        assert_eq!(summary.unreadable, 0);
        assert_eq!(
            summary.by_day,
            vec![
                count("2019-02-06", 3, 30),
                count("2019-02-07", 3, 1130),
                count("2019-02-08", 1, 1),
            ]
        );
    }

    #[test]
    fn summarize_top_files_order_ties_and_keyless() {
        let summary = summarize(&sample_lines(), &LogFilter::default(), 10);
        // a.txt and b.txt tie on 2 requests: label ascending breaks the tie.
        // The keyless request is not counted.
        assert_eq!(
            summary.top_files,
            vec![
                count("a.txt", 2, 40),
                count("b.txt", 2, 100),
                count("c.txt", 1, 1),
                count("d.txt", 1, 1000),
            ]
        );
        let file_requests: u64 = summary.top_files.iter().map(|c| c.requests).sum();
        assert_eq!(file_requests, 6);
    }

    #[test]
    fn summarize_top_clients() {
        let summary = summarize(&sample_lines(), &LogFilter::default(), 10);
        assert_eq!(
            summary.top_clients,
            vec![
                count("10.0.0.1", 3, 40),
                count("10.0.0.2", 2, 120),
                count("10.0.0.3", 2, 1001),
            ]
        );
    }

    #[test]
    fn summarize_top_cap() {
        let lines = sample_lines();
        let two = summarize(&lines, &LogFilter::default(), 2);
        assert_eq!(
            two.top_files,
            vec![count("a.txt", 2, 40), count("b.txt", 2, 100)]
        );
        assert_eq!(
            two.top_clients,
            vec![count("10.0.0.1", 3, 40), count("10.0.0.2", 2, 120)]
        );
        // The cap does not apply to days or statuses, nor to the totals.
        assert_eq!(two.by_day.len(), 3);
        assert_eq!(two.statuses.len(), 4);
        assert_eq!(two.requests, 7);

        let zero = summarize(&lines, &LogFilter::default(), 0);
        assert!(zero.top_files.is_empty());
        assert!(zero.top_clients.is_empty());
        assert_eq!(zero.requests, 7);

        let one = summarize(&lines, &LogFilter::default(), 1);
        assert_eq!(one.top_files, vec![count("a.txt", 2, 40)]);
    }

    #[test]
    fn summarize_statuses() {
        let summary = summarize(&sample_lines(), &LogFilter::default(), 10);
        assert_eq!(
            summary.statuses,
            vec![
                count("200", 4, 1140),
                count("403", 1, 20),
                count("404", 1, 0),
                count("500", 1, 1),
            ]
        );
    }

    #[test]
    fn statuses_sort_numerically_not_as_text() {
        let lines = [
            log("2019-02-06", "c", None, 100, 0),
            log("2019-02-06", "c", None, 99, 0),
            log("2019-02-06", "c", None, 1000, 0),
        ];
        let summary = summarize(&lines, &LogFilter::default(), 5);
        let labels: Vec<_> = summary.statuses.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["99", "100", "1000"]);
    }

    #[test]
    fn summarize_applies_filter() {
        let filter = LogFilter {
            day: Some("2019-02-07".to_string()),
            ..LogFilter::default()
        };
        let summary = summarize(&sample_lines(), &filter, 10);
        assert_eq!(summary.requests, 3);
        assert_eq!(summary.bytes_sent, 1130);
        assert_eq!(summary.by_day, vec![count("2019-02-07", 3, 1130)]);
        assert_eq!(summary.statuses, vec![count("200", 3, 1130)]);

        let text = LogFilter {
            text: "B.TXT".to_string(),
            ..LogFilter::default()
        };
        let summary = summarize(&sample_lines(), &text, 10);
        assert_eq!(summary.requests, 2);
        assert_eq!(summary.top_files, vec![count("b.txt", 2, 100)]);
        assert_eq!(
            summary.statuses,
            vec![count("200", 1, 100), count("404", 1, 0)]
        );
    }

    #[test]
    fn summarize_nothing() {
        let summary = summarize(&[], &LogFilter::default(), 10);
        assert_eq!(
            summary,
            LogSummary {
                requests: 0,
                bytes_sent: 0,
                by_day: vec![],
                top_files: vec![],
                top_clients: vec![],
                statuses: vec![],
                unreadable: 0,
            }
        );
        let none_match = LogFilter {
            status: Some(418),
            ..LogFilter::default()
        };
        let summary = summarize(&sample_lines(), &none_match, 10);
        assert_eq!(summary.requests, 0);
        assert!(summary.by_day.is_empty());
    }

    #[test]
    fn summarize_bytes_do_not_overflow() {
        let lines = [
            log("2019-02-06", "c", Some("k"), 200, u64::MAX),
            log("2019-02-06", "c", Some("k"), 200, 5),
        ];
        let summary = summarize(&lines, &LogFilter::default(), 1);
        assert_eq!(summary.bytes_sent, u64::MAX);
        assert_eq!(summary.by_day, vec![count("2019-02-06", 2, u64::MAX)]);
    }

    #[test]
    fn parse_then_summarize_end_to_end() {
        let not_found = Rec {
            time: "[07/Feb/2019:10:00:00 +0000]",
            client: "198.51.100.7",
            key: "photos/my%20cat.jpg",
            status: "404",
            err: "NoSuchKey",
            bytes: "-",
            ..Rec::default()
        }
        .text();
        let denied = Rec {
            time: "[07/Feb/2019:11:00:00 +0000]",
            client: "198.51.100.7",
            key: "photos/my%20cat.jpg",
            status: "403",
            err: "AccessDenied",
            bytes: "243",
            ..Rec::default()
        }
        .text();
        let text =
            format!("{REAL_VERSIONING}\n{REAL_OBJECT}\nnot a log line\n{not_found}\r\n{denied}\n");
        let parsed = parse(&text);
        let mut summary = summarize(&parsed.lines, &LogFilter::default(), 10);
        summary.unreadable = parsed.unreadable;
        assert_eq!(summary.unreadable, 1);
        assert_eq!(summary.requests, 4);
        assert_eq!(summary.bytes_sent, 113 + 2662992 + 243);
        assert_eq!(
            summary.by_day,
            vec![
                count("2019-02-06", 2, 113 + 2662992),
                count("2019-02-07", 2, 243)
            ]
        );
        assert_eq!(
            summary.top_files,
            vec![
                count("photos/my cat.jpg", 2, 243),
                count("photos/2019/08/puppy.jpg", 1, 2662992),
            ]
        );
        assert_eq!(
            summary.top_clients,
            vec![
                count("192.0.2.3", 2, 113 + 2662992),
                count("198.51.100.7", 2, 243)
            ]
        );
        assert_eq!(
            summary.statuses,
            vec![
                count("200", 2, 113 + 2662992),
                count("403", 1, 243),
                count("404", 1, 0)
            ]
        );
    }
}
