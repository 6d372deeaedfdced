//! A small HTTP server that answers every request with what a test tells it to: a server that
//! misbehaves on purpose, to show that nothing a server sends can crash the app or misdirect it.
//! It records each request line it gets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

type Answer = dyn Fn(&Request) -> Reply + Send + Sync;

/// A request as the server got it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        (self.headers.iter())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the query has `name` (with or without a value).
    pub fn has_query(&self, name: &str) -> bool {
        let query = self.target.split_once('?').map_or("", |(_, q)| q);
        query
            .split('&')
            .any(|p| p == name || p.starts_with(&format!("{name}=")))
    }
}

/// An answer: status, headers and body.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

pub struct HostileServer {
    pub base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl HostileServer {
    /// `answer` gets the request target (path and query) and returns the status and body.
    pub fn start(answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> Self {
        HostileServer::start_with(move |r| {
            let (status, body) = answer(&r.target);
            Reply::new(status, body)
        })
    }

    /// `answer` gets the whole request and returns the whole answer.
    pub fn start_with(answer: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (seen, answer): (_, Arc<Answer>) = (requests.clone(), Arc::new(answer));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, answer) = (seen.clone(), answer.clone());
                std::thread::spawn(move || serve(stream, &seen, &*answer));
            }
        });
        HostileServer { base, requests }
    }

    /// The request lines received so far ("GET /path HTTP/1.1").
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

fn serve(stream: std::net::TcpStream, seen: &Mutex<Vec<String>>, answer: &Answer) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_lowercase(), value.trim().to_string());
                if name == "content-length" {
                    length = value.parse().unwrap_or(0);
                }
                headers.push((name, value));
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        if let Ok(mut s) = seen.lock() {
            s.push(line.trim().to_string());
        }
        let mut words = line.split_whitespace();
        let request = Request {
            method: words.next().unwrap_or("GET").to_string(),
            target: words.next().unwrap_or("/").to_string(),
            headers,
            body,
        };
        let reply = answer(&request);
        let kind = if reply.body.trim_start().starts_with('<') {
            "application/xml"
        } else {
            "application/json"
        };
        let mut out = stream.try_clone().expect("clone");
        let extra: String = (reply.headers.iter())
            .map(|(n, v)| format!("{n}: {v}\r\n"))
            .collect();
        // A HEAD answer has no body, but says how long the body would be.
        let text = if request.method == "HEAD" {
            ""
        } else {
            reply.body.as_str()
        };
        let _ = write!(
            out,
            "HTTP/1.1 {} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n{extra}\r\n{text}",
            reply.status,
            reply.body.len(),
        );
    }
}
