//! A FAKE of DigitalOcean's API v2 `/v2/spaces/keys`, built from its documented request and
//! response shapes. It is the only fake in these tests: the real API can't be reached from here.
//! Tokens: `good-token` may do everything, `no-scope` lacks the spaces_key scopes (403),
//! `rate-limited` always gets 429; any other token is refused (401).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

pub struct FakeDigitalOceanApi {
    pub base: String,
    keys: Arc<Mutex<Vec<Value>>>,
}

impl FakeDigitalOceanApi {
    pub fn start() -> FakeDigitalOceanApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let keys = Arc::new(Mutex::new(Vec::new()));
        let state = keys.clone();
        let own = base.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (state, own) = (state.clone(), own.clone());
                std::thread::spawn(move || serve(stream, &state, &own));
            }
        });
        FakeDigitalOceanApi { base, keys }
    }

    /// The keys the fake holds now, secrets left out.
    pub fn keys(&self) -> Vec<Value> {
        self.keys.lock().expect("keys").clone()
    }
}

fn serve(stream: std::net::TcpStream, keys: &Mutex<Vec<Value>>, base: &str) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut auth = String::new();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or(("", ""));
        match name.trim().to_lowercase().as_str() {
            "authorization" => auth = value.trim().to_string(),
            "content-length" => length = value.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (status, answer) = route(&method, &target, &auth, &body, keys, base);
    let text = if answer.is_null() {
        String::new()
    } else {
        answer.to_string()
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

fn error(status: u16, id: &str, message: &str) -> (u16, Value) {
    (status, json!({ "id": id, "message": message }))
}

fn route(
    method: &str,
    target: &str,
    auth: &str,
    body: &Value,
    keys: &Mutex<Vec<Value>>,
    base: &str,
) -> (u16, Value) {
    match auth {
        "Bearer good-token" => {}
        "Bearer no-scope" => {
            return error(
                403,
                "forbidden",
                "You are not authorized to perform this operation",
            )
        }
        "Bearer rate-limited" => {
            return error(429, "too_many_requests", "API Rate limit exceeded.")
        }
        _ => return error(401, "unauthorized", "Unable to authenticate you"),
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut keys = keys.lock().expect("keys");
    let public = |k: &Value| {
        let mut k = k.clone();
        if let Some(o) = k.as_object_mut() {
            o.remove("secret_key");
        }
        k
    };
    match (method, path.strip_prefix("/v2/spaces/keys")) {
        ("GET", Some("")) => {
            let arg = |name: &str| {
                query
                    .split('&')
                    .find_map(|p| p.strip_prefix(&format!("{name}=")))
                    .and_then(|v| v.parse::<usize>().ok())
            };
            let (page, per_page) = (
                arg("page").unwrap_or(1).max(1),
                arg("per_page").unwrap_or(20).clamp(1, 200),
            );
            let list: Vec<Value> = keys
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(public)
                .collect();
            let mut links = json!({});
            if page * per_page < keys.len() {
                links = json!({ "pages": { "next": format!("{base}/v2/spaces/keys?page={}&per_page={per_page}", page + 1) } });
            }
            (
                200,
                json!({ "keys": list, "links": links, "meta": { "total": keys.len() } }),
            )
        }
        ("POST", Some("")) => {
            let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() {
                return error(422, "unprocessable_entity", "name is required");
            }
            let grants = body.get("grants").cloned().unwrap_or(json!([]));
            let n = keys.len() + 1;
            let key = json!({
                "name": name,
                "access_key": format!("DO00FAKE{n:012}"),
                "secret_key": format!("fake-secret-{n}-{}", uuid_like(n)),
                "grants": grants,
                "created_at": "2026-11-27T12:00:00Z",
            });
            keys.push(key.clone());
            (201, json!({ "key": key }))
        }
        ("GET", Some(rest)) if rest.starts_with('/') => {
            let ak = &rest[1..];
            match keys.iter().find(|k| k["access_key"] == ak) {
                Some(k) => (200, json!({ "key": public(k) })),
                None => error(
                    404,
                    "not_found",
                    "The resource you requested could not be found.",
                ),
            }
        }
        ("PATCH" | "PUT", Some(rest)) if rest.starts_with('/') => {
            let ak = &rest[1..];
            match keys.iter_mut().find(|k| k["access_key"] == ak) {
                Some(k) => {
                    if let Some(name) = body.get("name").and_then(Value::as_str) {
                        k["name"] = json!(name);
                    }
                    (200, json!({ "key": public(k) }))
                }
                None => error(
                    404,
                    "not_found",
                    "The resource you requested could not be found.",
                ),
            }
        }
        ("DELETE", Some(rest)) if rest.starts_with('/') => {
            let ak = &rest[1..];
            let before = keys.len();
            keys.retain(|k| k["access_key"] != ak);
            if keys.len() == before {
                error(
                    404,
                    "not_found",
                    "The resource you requested could not be found.",
                )
            } else {
                (204, Value::Null)
            }
        }
        _ => error(404, "not_found", "no such route"),
    }
}

fn uuid_like(n: usize) -> String {
    format!(
        "{:08x}{:08x}",
        n * 2_654_435_761 % 0xffff_ffff,
        n * 40_503 % 0xffff_ffff
    )
}
