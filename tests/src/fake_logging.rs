//! A FAKE of S3's bucket-logging calls (`PUT` and `GET /<space>?logging`), in front of the real
//! sandbox. The sandbox's RGW answers PutBucketLogging with 405, and DigitalOcean's Spaces (which
//! take it) can't be reached from here, so the switch is tested against this: it keeps each
//! Space's BucketLoggingStatus as sent and gives it back, refusing a Space logged into itself as
//! DigitalOcean does. Every other request goes to the sandbox untouched (one per connection, so
//! each is looked at).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct FakeLogging {
    /// `http://127.0.0.1:PORT`, an S3 endpoint in place of the sandbox's.
    pub url: String,
    kept: Arc<Mutex<HashMap<String, String>>>,
}

impl FakeLogging {
    /// Starts the fake in front of the sandbox at `target` (`http://host:port`).
    pub fn start(target: &str) -> FakeLogging {
        let target = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        let kept = Arc::new(Mutex::new(HashMap::new()));
        let state = kept.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("listener");
                while let Ok((client, _)) = listener.accept().await {
                    let (target, state) = (target.clone(), state.clone());
                    tokio::spawn(async move {
                        let _ = serve(client, &target, &state).await;
                    });
                }
            });
        });
        FakeLogging {
            url: format!("http://127.0.0.1:{port}"),
            kept,
        }
    }

    /// The target Space a Space logs into now, as the fake keeps it.
    pub fn target_of(&self, space: &str) -> Option<String> {
        let kept = self.kept.lock().expect("kept");
        let body = kept.get(space)?;
        between(body, "<TargetBucket>", "</TargetBucket>").map(str::to_string)
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

async fn serve(
    mut client: TcpStream,
    target: &str,
    kept: &Mutex<HashMap<String, String>>,
) -> std::io::Result<()> {
    // The request's head, and whatever of its body came with it.
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 8192];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut first = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, path) = (
        first.next().unwrap_or_default(),
        first.next().unwrap_or_default(),
    );
    let (space, query) = path.split_once('?').unwrap_or((path, ""));
    let space = space.trim_matches('/');
    let logging = query.split('&').any(|p| p == "logging" || p == "logging=");
    if logging && !space.contains('/') {
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        let mut body = buf[head_end..].to_vec();
        while body.len() < length {
            let mut chunk = vec![0u8; length - body.len()];
            let n = client.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8_lossy(&body).to_string();
        let (status, answer) = match method {
            "PUT" if between(&body, "<TargetBucket>", "</TargetBucket>") == Some(space) => (
                "400 Bad Request",
                "<Error><Code>InvalidTargetBucketForLogging</Code><Message>The target bucket for logging must differ from the source bucket.</Message></Error>".to_string(),
            ),
            "PUT" => {
                kept.lock().expect("kept").insert(space.to_string(), body);
                ("200 OK", String::new())
            }
            "GET" => {
                let inner = kept
                    .lock()
                    .expect("kept")
                    .get(space)
                    .and_then(|b| between(b, "<LoggingEnabled>", "</LoggingEnabled>"))
                    .map(|e| format!("<LoggingEnabled>{e}</LoggingEnabled>"))
                    .unwrap_or_default();
                (
                    "200 OK",
                    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><BucketLoggingStatus xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{inner}</BucketLoggingStatus>"),
                )
            }
            _ => ("405 Method Not Allowed", String::new()),
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        );
        client.write_all(reply.as_bytes()).await?;
        return client.shutdown().await;
    }
    // Anything else goes to the sandbox as it came, asked to close after its answer so the
    // next request comes on a connection of its own.
    let mut server = TcpStream::connect(target).await?;
    let head: String = head
        .split("\r\n")
        .filter(|l| {
            !l.split_once(':')
                .is_some_and(|(n, _)| n.eq_ignore_ascii_case("connection"))
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    let head = head.trim_end_matches("\r\n").to_string() + "\r\nConnection: close\r\n\r\n";
    server.write_all(head.as_bytes()).await?;
    server.write_all(&buf[head_end..]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}
