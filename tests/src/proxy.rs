//! A TCP proxy on loopback that counts the bytes going each way, and can hold them to a rate,
//! so a transfer lasts long enough to be killed half way and what a resume sends can be counted
//! on the wire, apart from what the app says it sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bytes through the proxy so far, and its address.
pub struct CountingProxy {
    /// `http://127.0.0.1:PORT`, to use in place of the sandbox's endpoint.
    pub url: String,
    /// Client to server (requests and uploaded bodies).
    pub up: Arc<AtomicU64>,
    /// Server to client (answers and downloaded bodies).
    pub down: Arc<AtomicU64>,
}

/// A rate shared by every connection of one direction: bytes per second, from the first byte.
struct Pace {
    rate: Option<u64>,
    since: Mutex<Option<(Instant, u64)>>,
}

impl Pace {
    /// How long to wait before `n` more bytes may go.
    fn wait_for(&self, n: u64) -> Duration {
        let Some(rate) = self.rate else {
            return Duration::ZERO;
        };
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        let (start, sent) = since.get_or_insert((Instant::now(), 0));
        *sent += n;
        let due = *start + Duration::from_secs_f64(*sent as f64 / rate as f64);
        due.saturating_duration_since(Instant::now())
    }
}

/// Starts a proxy to `target` (an `http://host:port` endpoint), each direction held to
/// `rate` bytes per second when given. It runs until the test process ends.
pub fn counting_proxy(target: &str, rate: Option<u64>) -> CountingProxy {
    start(target, rate, None)
}

/// Starts a proxy to `target` that changes every byte `from` in the server's answers into `to`:
/// bytes that went bad on the way. (HTTP's own words are ASCII, so a byte above 127 is only ever
/// a body's.)
pub fn corrupting_proxy(target: &str, from: u8, to: u8) -> CountingProxy {
    assert!(from > 127, "only a body's bytes are changed");
    start(target, None, Some((from, to)))
}

fn start(target: &str, rate: Option<u64>, flip: Option<(u8, u8)>) -> CountingProxy {
    let target = target
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a proxy port");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("address").port();
    let (up, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (up_count, down_count) = (up.clone(), down.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("proxy runtime");
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).expect("listener");
            let paces = [up_count, down_count].map(|count| {
                let pace = Arc::new(Pace {
                    rate,
                    since: Mutex::new(None),
                });
                (count, pace)
            });
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let [(up, up_pace), (down, down_pace)] = paces.clone();
                tokio::spawn(pipe(client_read, server_write, (up, up_pace), None));
                tokio::spawn(pipe(server_read, client_write, (down, down_pace), flip));
            }
        });
    });
    CountingProxy {
        url: format!("http://127.0.0.1:{port}"),
        up,
        down,
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    (count, pace): (Arc<AtomicU64>, Arc<Pace>),
    flip: Option<(u8, u8)>,
) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        tokio::time::sleep(pace.wait_for(n as u64)).await;
        if let Some((from, to)) = flip {
            buf[..n]
                .iter_mut()
                .filter(|b| **b == from)
                .for_each(|b| *b = to);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        count.fetch_add(n as u64, Ordering::Relaxed);
    }
    let _ = to.shutdown().await;
}

/// A proxy that plays a server under load: it reads each HTTP/1.1 request whole and answers
/// `percent` of them itself with 503 Slow Down (as Spaces does above its request rate); the rest
/// go to `target` one connection each. Returns its address and how many it refused.
pub fn storming_proxy(target: &str, percent: u64) -> (String, Arc<AtomicU64>) {
    let target = target
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a proxy port");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("address").port();
    let refused = Arc::new(AtomicU64::new(0));
    let count = refused.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("proxy runtime");
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).expect("listener");
            let seed = Arc::new(AtomicU64::new(0x9E37_79B9_7F4A_7C15));
            while let Ok((client, _)) = listener.accept().await {
                let (target, count, seed) = (target.clone(), count.clone(), seed.clone());
                tokio::spawn(async move {
                    let _ = serve(client, &target, percent, &count, &seed).await;
                });
            }
        });
    });
    (format!("http://127.0.0.1:{port}"), refused)
}

async fn serve(
    mut client: TcpStream,
    target: &str,
    percent: u64,
    refused: &AtomicU64,
    seed: &AtomicU64,
) -> std::io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    loop {
        // The request's head, then as many body bytes as it says.
        let head_end = loop {
            if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut buf = [0u8; 16 << 10];
            let n = client.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            pending.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&pending[..head_end]).to_string();
        let length: usize = (head.lines())
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while pending.len() < head_end + length {
            let mut buf = vec![0u8; 256 << 10];
            let n = client.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            pending.extend_from_slice(&buf[..n]);
        }
        let request: Vec<u8> = pending.drain(..head_end + length).collect();
        // xorshift: which requests the storm takes.
        let mut x = seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        seed.store(x, Ordering::Relaxed);
        if x % 100 < percent {
            refused.fetch_add(1, Ordering::Relaxed);
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
            let reply = format!(
                "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            client.write_all(reply.as_bytes()).await?;
            continue;
        }
        // One connection per request, closed by the server when it has answered.
        let mut server = TcpStream::connect(target).await?;
        let mut sent = request[..head_end - 2].to_vec();
        sent.extend_from_slice(b"Connection: close\r\n\r\n");
        sent.extend_from_slice(&request[head_end..]);
        server.write_all(&sent).await?;
        let mut answer = Vec::new();
        server.read_to_end(&mut answer).await?;
        // The client's connection stays open for its next request: its answer must not say
        // the connection closes.
        let text_end = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(answer.len(), |i| i + 4);
        let head = String::from_utf8_lossy(&answer[..text_end]).to_string();
        let kept: String = head
            .split("\r\n")
            .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
            .collect::<Vec<_>>()
            .join("\r\n");
        client.write_all(kept.as_bytes()).await?;
        client.write_all(&answer[text_end..]).await?;
    }
}
