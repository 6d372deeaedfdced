//! The one HTTP client for APIs (DigitalOcean's, RGW's Admin Ops), and the percent-encoders of
//! what goes into a URL.

/// A client that gives up on a peer that stops answering, instead of hanging the keys page.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

/// One query or path component, percent-encoded (a space as %20, never +).
pub fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Percent-encodes every byte of each `/`-separated segment but the unreserved ones (RFC 3986).
/// A `+` becomes %2B: left bare, S3 servers read it as a space.
pub fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|segment| {
            let mut out = String::with_capacity(segment.len());
            for byte in segment.bytes() {
                if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                    out.push(byte as char);
                } else {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join("/")
}
