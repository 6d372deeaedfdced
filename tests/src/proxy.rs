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
