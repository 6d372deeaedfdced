//! The one place an S3 client is built from a connection, and where S3 failures become [`Error`]s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::{BoxError, ProvideErrorMetadata, SdkError};

use super::connection::Endpoint;
use super::error::{Error, S3Code};
use super::secret::Secret;

/// Builds a client for `endpoint`, signing with the given key.
pub fn client(endpoint: &Endpoint, access_key: &str, secret: &Secret) -> aws_sdk_s3::Client {
    client_with_deadline(endpoint, access_key, secret, DEADLINE)
}

/// A client whose requests (those not moving a file's bytes) are given up on after `deadline`.
pub fn client_with_deadline(
    endpoint: &Endpoint,
    access_key: &str,
    secret: &Secret,
    deadline: Duration,
) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(access_key, secret.expose(), None, None, "spacedock");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint.url.as_str())
        .region(Region::new(endpoint.signing_region.clone()))
        .force_path_style(endpoint.path_style)
        .credentials_provider(credentials)
        // Since 2025 the SDK adds CRC checksums to every request and validates them on every
        // response by default; Spaces and older RGW reject or lack them. Only when an API needs one.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        // Standard retries back off exponentially with jitter on 5xx and 503 SlowDown.
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(4)
                .with_initial_backoff(Duration::from_millis(200)),
        )
        .interceptor(CountSlowDowns)
        .timeout_config(timeouts(Some(deadline)))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// How long any request may take from first byte sent to the answer's headers, retries
/// included, unless it moves a file's bytes: a server that answers slowly (a byte every 50 s
/// keeps a read timeout happy) never holds a listing, a look at a file or a setting for ever.
pub const DEADLINE: Duration = Duration::from_secs(120);

fn timeouts(operation: Option<Duration>) -> TimeoutConfig {
    let config = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(60));
    // Disabled in so many words: an override that leaves it unset takes the client's.
    match operation {
        Some(deadline) => config.operation_timeout(deadline),
        None => config.disable_operation_timeout(),
    }
    .build()
}

/// For a request that moves a file's bytes (a part sent, a copy of up to 5 GiB on the server, a
/// completion of thousands of parts): it may rightly take many minutes, so no deadline; a dead
/// peer is caught by the connect and read timeouts, and the user can stop it.
pub fn moving_bytes() -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::default().timeout_config(timeouts(None))
}

/// 503 Slow Down (and 429) answers seen by every client, the SDK's own retries included: the
/// transfers read it to send fewer requests at once when the server is busy.
static SLOW_DOWNS: AtomicU64 = AtomicU64::new(0);

/// How many times a server has asked this app to slow down since it started.
pub fn slow_downs() -> u64 {
    SLOW_DOWNS.load(Ordering::Relaxed)
}

#[derive(Debug)]
struct CountSlowDowns;

impl Intercept for CountSlowDowns {
    fn name(&self) -> &'static str {
        "CountSlowDowns"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if matches!(context.response().status().as_u16(), 503 | 429) {
            SLOW_DOWNS.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// The body of an answer as the server sent it, for settings read and written whole: the SDK
/// drops what it does not know, and what it drops must not be written back as gone.
#[derive(Debug, Clone, Default)]
pub struct RawBody(std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>);

impl RawBody {
    pub fn take(&self) -> Option<Vec<u8>> {
        spacedock_common::sync::lock(&self.0).take()
    }
}

impl Intercept for RawBody {
    fn name(&self) -> &'static str {
        "RawBody"
    }

    fn read_after_deserialization(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(bytes) = context.response().body().bytes() {
            *spacedock_common::sync::lock(&self.0) = Some(bytes.to_vec());
        }
        Ok(())
    }
}

/// The first part of an XML configuration that is not among `known` (paths below each `item`
/// element, such as "Filter/Prefix"; `containers` are paths that only hold known parts), with
/// the `id` of the item it is in: (id, path). Anything beside the items counts too.
pub fn unknown_part(
    xml: &[u8],
    item: &str,
    id: &str,
    known: &[&str],
    containers: &[&str],
) -> Result<Option<(String, String)>, Error> {
    let text = std::str::from_utf8(xml)
        .map_err(|_| Error::BadAnswer("settings that are not UTF-8 text".into()))?;
    let doc = roxmltree::Document::parse(text)
        .map_err(|e| Error::BadAnswer(format!("settings that are not XML ({e})")))?;
    for top in doc.root_element().children().filter(|n| n.is_element()) {
        if top.tag_name().name() != item {
            return Ok(Some((String::new(), top.tag_name().name().to_string())));
        }
        let name = (top.children())
            .find(|n| n.tag_name().name() == id)
            .and_then(|n| n.text())
            .unwrap_or_default();
        for part in top.descendants().filter(|n| n.is_element() && *n != top) {
            let mut path: Vec<&str> = (part.ancestors())
                .take_while(|a| *a != top)
                .map(|a| a.tag_name().name())
                .collect();
            path.reverse();
            let path = path.join("/");
            if !known.contains(&path.as_str()) && !containers.contains(&path.as_str()) {
                return Ok(Some((name.to_string(), path)));
            }
        }
    }
    Ok(None)
}

/// What an S3 call was doing, so a failure can be explained in its terms.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub endpoint: &'a str,
    pub space: Option<&'a str>,
}

impl<'a> Context<'a> {
    /// A call about the Space `space` at `endpoint`.
    pub fn space(endpoint: &'a str, space: &'a str) -> Self {
        Context {
            endpoint,
            space: Some(space),
        }
    }
}

/// Maps an SDK error to a sentence, through the S3 error code where the server sent one.
pub fn map_error<E, R>(err: SdkError<E, R>, ctx: Context<'_>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HasStatus + Send + Sync + 'static,
{
    match &err {
        SdkError::ConstructionFailure(_) => Error::Internal(format!(
            "the request could not be built: {}",
            deepest_cause(&err)
        )),
        SdkError::TimeoutError(_) => Error::Unreachable {
            endpoint: ctx.endpoint.to_string(),
            reason: "no answer in time".into(),
            source: Some(Box::new(err)),
        },
        SdkError::DispatchFailure(failure) => {
            let reason = if failure.is_timeout() {
                "no answer in time".to_string()
            } else {
                plain_network_reason(&deepest_cause(&err))
            };
            Error::Unreachable {
                endpoint: ctx.endpoint.to_string(),
                reason,
                source: Some(Box::new(err)),
            }
        }
        SdkError::ResponseError(_) => Error::Server {
            code: "UnreadableResponse".into(),
            message: "the answer was not an S3 response; is this an S3 endpoint?".into(),
        },
        SdkError::ServiceError(service) => {
            let status = service.raw().status_code();
            from_code(
                service.err().code(),
                service.err().message().unwrap_or_default(),
                status,
                ctx,
            )
        }
        _ => Error::Server {
            code: "Unknown".into(),
            message: deepest_cause(&err),
        },
    }
}

/// The S3 error code of a service error, mapped once.
pub fn code_of(e: &impl ProvideErrorMetadata) -> Option<S3Code> {
    e.code().map(S3Code::parse)
}

/// The sentence for an S3 error code (or, for bodiless answers such as HEAD, the HTTP status).
pub fn from_code(code: Option<&str>, message: &str, status: u16, ctx: Context<'_>) -> Error {
    let space = ctx.space.unwrap_or("this Space");
    match code.map(S3Code::parse) {
        Some(S3Code::InvalidAccessKeyId) => Error::UnknownAccessKey,
        Some(S3Code::SignatureDoesNotMatch) => Error::WrongSecret,
        Some(S3Code::RequestTimeTooSkewed) => Error::ClockSkew,
        Some(S3Code::SlowDown) => Error::SlowDown,
        Some(S3Code::NoSuchBucket) => Error::NoSuchSpace(space.to_string()),
        Some(S3Code::AccessDenied) | Some(S3Code::AllAccessDisabled) => {
            Error::AccessDenied(match ctx.space {
                Some(s) => format!("This access key isn't allowed to do that in the Space “{s}”."),
                None => "This access key isn't allowed to do that.".into(),
            })
        }
        Some(code) => Error::Server {
            code,
            message: message.to_string(),
        },
        None => match status {
            403 => Error::AccessDenied(match ctx.space {
                Some(s) => format!("This access key isn't allowed to open the Space “{s}”."),
                None => "This access key isn't allowed to do that.".into(),
            }),
            404 => Error::NoSuchSpace(space.to_string()),
            301 | 307 => Error::WrongRegion(space.to_string()),
            503 => Error::SlowDown,
            _ => Error::Server {
                code: format!("HTTP {status}").into(),
                message: message.to_string(),
            },
        },
    }
}

/// The HTTP status of a raw response, whatever its type.
pub trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

fn deepest_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current: &dyn std::error::Error = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Turns the innermost transport error into a few words.
fn plain_network_reason(raw: &str) -> String {
    let lower = raw.to_lowercase();
    if lower.contains("connection refused") {
        "nothing is listening there (connection refused)".into()
    } else if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") {
        "the host name could not be found".into()
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        format!("the secure connection failed ({raw})")
    } else if lower.contains("reset") {
        "the connection was reset".into()
    } else if lower.contains("timed out") || lower.contains("timeout") {
        "no answer in time".into()
    } else {
        raw.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context<'static> {
        Context {
            endpoint: "https://nyc3.digitaloceanspaces.com",
            space: Some("a-space"),
        }
    }

    #[test]
    fn codes_map_to_kinds() {
        use crate::error::ErrorKind::*;
        let cases = [
            ("InvalidAccessKeyId", UnknownAccessKey),
            ("SignatureDoesNotMatch", WrongSecret),
            ("RequestTimeTooSkewed", ClockSkew),
            ("SlowDown", SlowDown),
            ("NoSuchBucket", NoSuchSpace),
            ("AccessDenied", AccessDenied),
            ("SomethingNew", Server),
        ];
        for (code, kind) in cases {
            assert_eq!(from_code(Some(code), "", 400, ctx()).kind(), kind, "{code}");
        }
    }

    #[test]
    fn bodiless_answers_map_by_status() {
        assert!(
            matches!(from_code(None, "", 403, ctx()), Error::AccessDenied(m) if m.contains("a-space"))
        );
        assert!(matches!(from_code(None, "", 404, ctx()), Error::NoSuchSpace(s) if s == "a-space"));
        assert!(matches!(from_code(None, "", 503, ctx()), Error::SlowDown));
    }

    #[test]
    fn unknown_codes_keep_the_servers_words() {
        let e = from_code(Some("QuotaExceeded"), "over quota", 403, ctx());
        assert_eq!(
            e.to_string(),
            "The server refused the request: QuotaExceeded — over quota"
        );
    }

    #[test]
    fn network_reasons_are_plain() {
        assert!(
            plain_network_reason("tcp connect error: Connection refused (os error 111)")
                .contains("connection refused")
        );
        assert_eq!(
            plain_network_reason("dns error: failed to lookup address information"),
            "the host name could not be found"
        );
    }
}
