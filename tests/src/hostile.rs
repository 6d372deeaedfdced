//! A small HTTP server that answers every request with what a test tells it to: a server that
//! misbehaves on purpose, to show that nothing a server sends can crash the app or misdirect it.
//! It records each request line it gets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

type Answer = dyn Fn(&str) -> (u16, String) + Send + Sync;

pub struct HostileServer {
    pub base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl HostileServer {
    /// `answer` gets the request target (path and query) and returns the status and body.
    pub fn start(answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> Self {
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
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        if let Ok(mut s) = seen.lock() {
            s.push(line.trim().to_string());
        }
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let (status, text) = answer(&target);
        let kind = if text.trim_start().starts_with('<') {
            "application/xml"
        } else {
            "application/json"
        };
        let mut out = stream.try_clone().expect("clone");
        let _ = write!(
            out,
            "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
    }
}
