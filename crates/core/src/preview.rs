//! A file's preview, fetched through the app (the page's content policy admits no remote
//! origin): images and PDFs as data URLs (a PDF shown by WebKit's own viewer), plain text, JSON
//! laid out, CSV as rows. Up to a size limit, past which the page says so and offers the
//! download instead.

use base64::Engine;
use serde::Serialize;
use ts_rs::TS;

use crate::error::{Error, Result, S3Code};
use crate::s3::{map_error, Context};

/// Images and PDFs up to this size are shown.
pub const IMAGE_LIMIT: u64 = 10 << 20;
/// Text up to this size is shown.
pub const TEXT_LIMIT: u64 = 1 << 20;
/// Rows of a CSV file shown.
pub const CSV_ROWS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum Preview {
    Image {
        data_url: String,
    },
    /// A PDF as a data URL, for WebKit's own PDF viewer in a frame.
    Pdf {
        data_url: String,
    },
    /// Plain text, or JSON laid out with indents.
    Text {
        text: String,
    },
    Csv {
        rows: Vec<Vec<String>>,
        /// More rows than were shown.
        more: bool,
    },
    TooBig {
        size: u64,
        limit: u64,
    },
    /// Nothing this app can show (an archive, a video, …).
    Unsupported {
        content_type: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Image,
    Pdf,
    Json,
    Csv,
    Text,
}

/// What a file can be shown as, from its content type, else its name.
fn kind_of(content_type: &str, key: &str) -> Option<Kind> {
    let named = mime_guess::from_path(key).first_or_octet_stream();
    let types = [
        content_type.to_ascii_lowercase(),
        named.essence_str().to_string(),
    ];
    types.iter().find_map(|t| {
        let t = t.split(';').next().unwrap_or_default().trim();
        match t {
            "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/bmp"
            | "image/svg+xml" => Some(Kind::Image),
            "application/pdf" => Some(Kind::Pdf),
            "application/json" => Some(Kind::Json),
            "text/csv" => Some(Kind::Csv),
            t if t.starts_with("text/") => Some(Kind::Text),
            "application/xml" | "application/x-yaml" | "application/toml" => Some(Kind::Text),
            _ => None,
        }
    })
}

/// Splits CSV text into rows of fields: quoted fields may hold commas, quotes ("") and line
/// breaks. At most `limit` rows; true when there were more.
fn csv_rows(text: &str, limit: usize) -> (Vec<Vec<String>>, bool) {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                if rows.len() > limit {
                    rows.truncate(limit);
                    return (rows, true);
                }
            }
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

pub async fn preview(
    client: &aws_sdk_s3::Client,
    endpoint: &str,
    space: &str,
    key: &str,
) -> Result<Preview> {
    let ctx = Context::space(endpoint, space);
    let head = client
        .head_object()
        .bucket(space)
        .key(key)
        .send()
        .await
        .map_err(|e| map_error(e, ctx))?;
    let content_type = head.content_type().unwrap_or_default().to_string();
    let size = head.content_length().unwrap_or(0).max(0) as u64;
    let Some(kind) = kind_of(&content_type, key) else {
        return Ok(Preview::Unsupported { content_type });
    };
    let limit = match kind {
        Kind::Image | Kind::Pdf => IMAGE_LIMIT,
        _ => TEXT_LIMIT,
    };
    if size > limit {
        return Ok(Preview::TooBig { size, limit });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // An empty file has no byte to ask a range from.
    if size > 0 {
        // The version the HEAD described, and no more than the limit whatever the server says.
        let mut answer = client
            .get_object()
            .bucket(space)
            .key(key)
            .set_if_match(head.e_tag().map(str::to_string))
            .range(format!("bytes=0-{limit}"))
            .send()
            .await
            .map_err(|e| match map_error(e, ctx) {
                Error::Server {
                    code: S3Code::PreconditionFailed,
                    ..
                } => Error::FileChanged(
                    "The file changed on the server while it was read; preview it again.".into(),
                ),
                other => other,
            })?;
        while let Some(chunk) = answer
            .body
            .try_next()
            .await
            .map_err(|e| Error::Unreachable {
                endpoint: endpoint.to_string(),
                reason: e.to_string(),
                source: Some(Box::new(e)),
            })?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > limit {
                return Ok(Preview::TooBig {
                    size: bytes.len() as u64,
                    limit,
                });
            }
        }
    }
    Ok(match kind {
        Kind::Image => {
            // The server's type when it is an image type, else the one the name says.
            let mime = match kind_of(&content_type, "") {
                Some(Kind::Image) => content_type
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                _ => mime_guess::from_path(key)
                    .first_or_octet_stream()
                    .essence_str()
                    .to_string(),
            };
            let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
            Preview::Image {
                data_url: format!("data:{mime};base64,{data}"),
            }
        }
        Kind::Pdf => Preview::Pdf {
            data_url: format!(
                "data:application/pdf;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            ),
        },
        Kind::Json => {
            let text = String::from_utf8_lossy(&bytes).to_string();
            // Laid out when it parses; as it is when it doesn't.
            let laid_out = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok());
            Preview::Text {
                text: laid_out.unwrap_or(text),
            }
        }
        Kind::Csv => {
            let (rows, more) = csv_rows(&String::from_utf8_lossy(&bytes), CSV_ROWS);
            Preview::Csv { rows, more }
        }
        Kind::Text => Preview::Text {
            text: String::from_utf8_lossy(&bytes).to_string(),
        },
    })
}

/// The same on the active connection, with the key remembered for the Space; `request` lets
/// the window stop it, and it never takes longer than the deadline of one request (a server
/// that sends a byte a minute is given up on).
pub async fn preview_in(
    services: &crate::services::Services,
    space: &str,
    region: Option<String>,
    key: &str,
    request: Option<u32>,
) -> Result<Preview> {
    let t = crate::files::target(services, space, region).await?;
    let work = tokio::time::timeout(
        crate::s3::DEADLINE,
        preview(&t.client, &t.endpoint, space, key),
    );
    let timed = async {
        work.await
            .unwrap_or_else(|_| Err(Error::unreachable(&t.endpoint, "no answer in time")))
    };
    services.requests().run(request, timed).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_may_hold_commas_quotes_and_line_breaks() {
        let text = "name,note\r\n\"Smith, J\",\"said \"\"hi\"\"\"\nx,\"two\nlines\"\nlast,row";
        let (rows, more) = csv_rows(text, 10);
        assert!(!more);
        assert_eq!(
            rows,
            vec![
                vec!["name", "note"],
                vec!["Smith, J", "said \"hi\""],
                vec!["x", "two\nlines"],
                vec!["last", "row"],
            ]
        );
        let (rows, more) = csv_rows("a\nb\nc\nd\n", 2);
        assert_eq!((rows.len(), more), (2, true));
    }

    #[test]
    fn what_is_shown_comes_from_the_type_else_the_name() {
        assert_eq!(kind_of("image/png", "x"), Some(Kind::Image));
        assert_eq!(
            kind_of("application/octet-stream", "a/photo.JPG"),
            Some(Kind::Image)
        );
        assert_eq!(kind_of("text/plain; charset=utf-8", "x"), Some(Kind::Text));
        assert_eq!(kind_of("", "data.json"), Some(Kind::Json));
        assert_eq!(kind_of("", "table.csv"), Some(Kind::Csv));
        assert_eq!(kind_of("application/pdf", "doc.pdf"), Some(Kind::Pdf));
        assert_eq!(kind_of("", "scan.PDF"), Some(Kind::Pdf));
        assert_eq!(kind_of("application/octet-stream", "archive.zip"), None);
    }
}
