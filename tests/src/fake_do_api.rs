//! A FAKE of DigitalOcean's API v2 — `/v2/spaces/keys`, `/v2/cdn/endpoints` (with its cache
//! purge), `/v2/certificates` and `/v2/projects` (with resource assignment) — built from its documented request and response shapes. It is
//! the only fake in these tests: the real API can't be reached from here.
//! Tokens: `good-token` may do everything in one account (team), `other-team-token` in another
//! (each sees and changes only its own account's keys), `no-scope` lacks the scopes (403),
//! `rate-limited` always gets 429; any other token is refused (401). A purge of more than 50
//! paths within 20 seconds gets 429, as the real CDN's limit.
//! Its keys are names only, unless a test has them made for real ([`FakeDigitalOceanApi::make_keys_with`]):
//! then each key it creates or deletes is created or deleted on the sandbox too, so the key opens
//! the Spaces there as DigitalOcean's keys open Spaces.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

pub struct FakeDigitalOceanApi {
    pub base: String,
    keys: Arc<Mutex<Vec<Value>>>,
    cdn: Arc<Mutex<Cdn>>,
    real: Arc<Mutex<Option<RealKeys>>>,
}

/// Makes a real key for the grants asked for: its access key and secret.
pub type MakeKey = Box<dyn Fn(&Value) -> (String, String) + Send>;

/// How keys are made and revoked for real: `make` gives an access key and its secret for the
/// grants asked for; `revoke` takes an access key away.
pub struct RealKeys {
    pub make: MakeKey,
    pub revoke: Box<dyn Fn(&str) + Send>,
}

/// The CDN side: endpoints, and every purge asked for (its endpoint id, its paths, when).
#[derive(Default)]
pub struct Cdn {
    pub endpoints: Vec<Value>,
    pub purges: Vec<(String, Vec<String>, std::time::Instant)>,
    /// Resources put in projects: (project id, URN), oldest first.
    pub assigned: Vec<(String, String)>,
}

/// The account's projects: the default one, and one more.
pub fn projects() -> Value {
    json!([
        { "id": "4e1bfbc3-dc3e-41f2-a18f-1b4d7ba71679", "owner_uuid": "99525febec065ca37b2ffe4f852fd2b2581895e7",
          "owner_id": 258992, "name": "my-web-api", "description": "My website API", "purpose": "Service or API",
          "environment": "Production", "is_default": false, "created_at": "2026-03-09T16:02:38Z", "updated_at": "2026-03-09T16:02:38Z" },
        { "id": "b6e4a2a4-5a56-4e1c-8f5f-4b2a0a0c2d11", "owner_uuid": "99525febec065ca37b2ffe4f852fd2b2581895e7",
          "owner_id": 258992, "name": "Default Project", "description": "", "purpose": "Just trying out DigitalOcean",
          "environment": "", "is_default": true, "created_at": "2025-01-09T16:02:38Z", "updated_at": "2025-01-09T16:02:38Z" }
    ])
}

/// The account's certificates: one custom, one Let's Encrypt.
pub fn certificates() -> Value {
    json!([
        { "id": "892071a0-bb95-49bc-8021-3afd67a210bf", "name": "web-cert-01", "not_after": "2027-02-22T00:00:00Z",
          "sha1_fingerprint": "dfcc9f57d86bf58e321c2c6c31c7a971be244ac7", "created_at": "2026-02-08T16:02:37Z",
          "dns_names": ["static.example.com"], "state": "verified", "type": "custom" },
        { "id": "ba9b9c18-6c59-46c2-99df-70da170a42ba", "name": "le-cert-01", "not_after": "2027-01-01T00:00:00Z",
          "sha1_fingerprint": "479c82b5c63cb6d3e6fac4624d58a33b267e166c", "created_at": "2026-10-01T16:02:37Z",
          "dns_names": ["www.example.com"], "state": "verified", "type": "lets_encrypt" }
    ])
}

impl FakeDigitalOceanApi {
    pub fn start() -> FakeDigitalOceanApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let keys = Arc::new(Mutex::new(Vec::new()));
        let cdn = Arc::new(Mutex::new(Cdn::default()));
        let real = Arc::new(Mutex::new(None));
        let (state, cdn_state, real_state) = (keys.clone(), cdn.clone(), real.clone());
        let own = base.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (state, cdn, own) = (state.clone(), cdn_state.clone(), own.clone());
                let real = real_state.clone();
                std::thread::spawn(move || serve(stream, &state, &cdn, &real, &own));
            }
        });
        FakeDigitalOceanApi {
            base,
            keys,
            cdn,
            real,
        }
    }

    /// From now on each key created or deleted is created or deleted for real with `real`.
    pub fn make_keys_with(&self, real: RealKeys) {
        *self.real.lock().expect("real") = Some(real);
    }

    /// A key the account of `token` holds already, with its real secret and grants.
    pub fn add_real_key(&self, token: &str, access_key: &str, secret: &str, name: &str) {
        self.keys.lock().expect("keys").push(json!({
            "name": name,
            "access_key": access_key,
            "secret_key": secret,
            "grants": [{ "bucket": "", "permission": "fullaccess" }],
            "created_at": "2026-11-01T12:00:00Z",
            "account": account_of(token),
        }));
    }

    /// The CDN endpoints the fake holds now.
    pub fn endpoints(&self) -> Vec<Value> {
        self.cdn.lock().expect("cdn").endpoints.clone()
    }

    /// The paths of every purge so far, oldest first.
    pub fn purges(&self) -> Vec<Vec<String>> {
        let cdn = self.cdn.lock().expect("cdn");
        cdn.purges.iter().map(|(_, p, _)| p.clone()).collect()
    }

    /// The resources put in projects so far: (project id, URN).
    pub fn assigned(&self) -> Vec<(String, String)> {
        self.cdn.lock().expect("cdn").assigned.clone()
    }

    /// The keys the fake holds now, of every account.
    pub fn keys(&self) -> Vec<Value> {
        self.keys.lock().expect("keys").clone()
    }

    /// A key the account of `token` holds already (made in its Control Panel, say).
    pub fn add_key(&self, token: &str, access_key: &str, name: &str) {
        self.keys.lock().expect("keys").push(json!({
            "name": name,
            "access_key": access_key,
            "secret_key": format!("secret-of-{access_key}"),
            "grants": [{ "bucket": "", "permission": "fullaccess" }],
            "created_at": "2026-11-01T12:00:00Z",
            "account": account_of(token),
        }));
    }
}

/// The account (team) a token acts for.
fn account_of(token: &str) -> &'static str {
    match token {
        "other-team-token" => "team-b",
        _ => "team-a",
    }
}

fn serve(
    stream: std::net::TcpStream,
    keys: &Mutex<Vec<Value>>,
    cdn: &Mutex<Cdn>,
    real: &Mutex<Option<RealKeys>>,
    base: &str,
) {
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
    let (status, answer) = if target.starts_with("/v2/projects") {
        match authorized(&auth) {
            Some(refused) => refused,
            None => projects_route(&method, &target, &body, cdn),
        }
    } else if target.starts_with("/v2/cdn/") || target.starts_with("/v2/certificates") {
        match authorized(&auth) {
            Some(refused) => refused,
            None => cdn_route(&method, &target, &body, cdn),
        }
    } else {
        route(&method, &target, &auth, &body, keys, real, base)
    };
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

fn projects_route(method: &str, target: &str, body: &Value, cdn: &Mutex<Cdn>) -> (u16, Value) {
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let all = projects();
    match (method, path) {
        ("GET", "/v2/projects") => (
            200,
            json!({ "projects": all, "links": {}, "meta": { "total": 2 } }),
        ),
        ("POST", _) if path.ends_with("/resources") => {
            let id = path
                .trim_start_matches("/v2/projects/")
                .trim_end_matches("/resources");
            if !all.as_array().expect("list").iter().any(|p| p["id"] == id) {
                return error(
                    404,
                    "not_found",
                    "The resource you were accessing could not be found.",
                );
            }
            let urns: Vec<String> = body["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect();
            if urns.is_empty() || urns.iter().any(|u| !u.starts_with("do:")) {
                return error(422, "unprocessable_entity", "resources must be URNs");
            }
            let mut cdn = cdn.lock().expect("cdn");
            let resources: Vec<Value> = urns
                .iter()
                .map(|u| {
                    cdn.assigned.push((id.to_string(), u.clone()));
                    json!({ "urn": u, "assigned_at": "2026-12-05T12:00:00Z", "status": "ok",
                            "links": { "self": format!("https://api.digitalocean.com/v2/spaces/{u}") } })
                })
                .collect();
            (200, json!({ "resources": resources }))
        }
        _ => error(404, "not_found", "no such route"),
    }
}

fn error(status: u16, id: &str, message: &str) -> (u16, Value) {
    (status, json!({ "id": id, "message": message }))
}

/// The token's answer when it may not go on.
fn authorized(auth: &str) -> Option<(u16, Value)> {
    match auth {
        "Bearer good-token" => None,
        "Bearer no-scope" => Some(error(
            403,
            "forbidden",
            "You are not authorized to perform this operation",
        )),
        "Bearer rate-limited" => Some(error(429, "too_many_requests", "API Rate limit exceeded.")),
        _ => Some(error(401, "unauthorized", "Unable to authenticate you")),
    }
}

const TTLS: [u64; 5] = [60, 600, 3600, 86400, 604800];

/// Checks an endpoint's settings as the API does: 422 with its message when wrong.
fn cdn_settings(body: &Value, into: &mut Value) -> Result<(), (u16, Value)> {
    if let Some(ttl) = body.get("ttl") {
        match ttl.as_u64().filter(|t| TTLS.contains(t)) {
            Some(t) => into["ttl"] = json!(t),
            None => {
                return Err(error(
                    422,
                    "unprocessable_entity",
                    "ttl must be one of 60, 600, 3600, 86400, 604800",
                ))
            }
        }
    }
    let domain = body
        .get("custom_domain")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let certificate = body
        .get("certificate_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !domain.is_empty() {
        let known = certificates()
            .as_array()
            .expect("list")
            .iter()
            .any(|c| c["id"] == certificate);
        if !known {
            return Err(error(
                422,
                "unprocessable_entity",
                "certificate_id must be a certificate of this account when custom_domain is set",
            ));
        }
    }
    into["custom_domain"] = json!(domain);
    into["certificate_id"] = json!(certificate);
    Ok(())
}

fn cdn_route(method: &str, target: &str, body: &Value, cdn: &Mutex<Cdn>) -> (u16, Value) {
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let mut cdn = cdn.lock().expect("cdn");
    let missing = || {
        error(
            404,
            "not_found",
            "The resource you requested could not be found.",
        )
    };
    let rest = path.strip_prefix("/v2/cdn/endpoints").unwrap_or("");
    match (method, path) {
        ("GET", "/v2/certificates") => {
            let all = certificates();
            let total = all.as_array().map_or(0, Vec::len);
            (
                200,
                json!({ "certificates": all, "links": {}, "meta": { "total": total } }),
            )
        }
        ("GET", "/v2/cdn/endpoints") => (
            200,
            json!({ "endpoints": cdn.endpoints, "links": {}, "meta": { "total": cdn.endpoints.len() } }),
        ),
        ("POST", "/v2/cdn/endpoints") => {
            let origin = body
                .get("origin")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let Some(space_host) = origin.strip_suffix(".digitaloceanspaces.com") else {
                return error(
                    422,
                    "unprocessable_entity",
                    "origin must be a Spaces origin",
                );
            };
            if cdn.endpoints.iter().any(|e| e["origin"] == origin) {
                return error(
                    422,
                    "unprocessable_entity",
                    "an endpoint for this origin already exists",
                );
            }
            let n = cdn.endpoints.len() + 1;
            let mut endpoint = json!({
                "id": format!("19f06b6a-3ace-4315-b086-{n:012}"),
                "origin": origin,
                "endpoint": format!("{space_host}.cdn.digitaloceanspaces.com"),
                "created_at": "2026-11-28T12:00:00Z",
                "ttl": 3600,
            });
            if let Err(refused) = cdn_settings(body, &mut endpoint) {
                return refused;
            }
            cdn.endpoints.push(endpoint.clone());
            (201, json!({ "endpoint": endpoint }))
        }
        ("PUT", _) if rest.starts_with('/') => {
            let id = &rest[1..];
            let Some(endpoint) = cdn.endpoints.iter_mut().find(|e| e["id"] == id) else {
                return missing();
            };
            let mut changed = endpoint.clone();
            if let Err(refused) = cdn_settings(body, &mut changed) {
                return refused;
            }
            *endpoint = changed.clone();
            (200, json!({ "endpoint": changed }))
        }
        ("DELETE", _) if rest.ends_with("/cache") => {
            let id = &rest[1..rest.len() - "/cache".len()];
            if !cdn.endpoints.iter().any(|e| e["id"] == id) {
                return missing();
            }
            let files: Vec<String> = body
                .get("files")
                .and_then(Value::as_array)
                .map(|f| {
                    f.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            if files.is_empty() {
                return error(422, "unprocessable_entity", "files is required");
            }
            let recent: usize = (cdn.purges.iter())
                .filter(|(_, _, at)| at.elapsed() < std::time::Duration::from_secs(20))
                .map(|(_, p, _)| p.len())
                .sum();
            if recent + files.len() > 50 {
                return error(429, "too_many_requests", "API Rate limit exceeded.");
            }
            cdn.purges
                .push((id.to_string(), files, std::time::Instant::now()));
            (204, Value::Null)
        }
        ("DELETE", _) if rest.starts_with('/') => {
            let before = cdn.endpoints.len();
            cdn.endpoints.retain(|e| e["id"] != rest[1..]);
            if cdn.endpoints.len() == before {
                missing()
            } else {
                (204, Value::Null)
            }
        }
        _ => error(404, "not_found", "no such route"),
    }
}

fn route(
    method: &str,
    target: &str,
    auth: &str,
    body: &Value,
    keys: &Mutex<Vec<Value>>,
    real: &Mutex<Option<RealKeys>>,
    base: &str,
) -> (u16, Value) {
    match auth {
        "Bearer good-token" | "Bearer other-team-token" => {}
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
    let account = account_of(auth.trim_start_matches("Bearer "));
    let mut all = keys.lock().expect("keys");
    // A token sees its own account's keys only.
    let mut keys: Vec<Value> = all
        .iter()
        .filter(|k| k["account"] == account)
        .cloned()
        .collect();
    let public = |k: &Value| {
        let mut k = k.clone();
        if let Some(o) = k.as_object_mut() {
            o.remove("secret_key");
            o.remove("account");
        }
        k
    };
    let real = real.lock().expect("real");
    let answer = keys_route(
        method,
        path,
        query,
        body,
        &mut keys,
        (base, account),
        &public,
        real.as_ref(),
    );
    all.retain(|k| k["account"] != account);
    all.extend(keys);
    answer
}

#[allow(clippy::too_many_arguments)]
fn keys_route(
    method: &str,
    path: &str,
    query: &str,
    body: &Value,
    keys: &mut Vec<Value>,
    (base, account): (&str, &str),
    public: &dyn Fn(&Value) -> Value,
    real: Option<&RealKeys>,
) -> (u16, Value) {
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
            let (access_key, secret_key) = match real {
                Some(real) => (real.make)(&grants),
                None => (
                    format!(
                        "DO00FAKE{}{n:011}",
                        if account == "team-b" { 'B' } else { 'A' }
                    ),
                    format!("fake-secret-{n}-{}", uuid_like(n)),
                ),
            };
            let key = json!({
                "name": name,
                "access_key": access_key,
                "secret_key": secret_key,
                "grants": grants,
                "created_at": "2026-11-27T12:00:00Z",
            });
            let mut stored = key.clone();
            stored["account"] = json!(account);
            keys.push(stored);
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
            if keys.len() != before {
                if let Some(real) = real {
                    (real.revoke)(ak);
                }
            }
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
