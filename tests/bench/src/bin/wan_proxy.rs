//! A WAN-like link on this computer, for the benchmark: a TCP proxy that holds every byte for a
//! fixed delay in each direction, so a round trip costs twice that, with at most a TCP window
//! (4 MiB) in flight per direction of each connection. (This kernel has no netem.)
//!
//! With a rate, every direction is one link of that many MB/s shared by all connections (a
//! bottleneck with a queue): each chunk goes once the link has carried the ones before it.
//!
//! `wan_proxy <target host:port> <one-way delay in ms> [MB/s]`: prints the port it listens on
//! (127.0.0.1), then serves until killed. A process of its own, so its CPU time and memory are
//! never counted as a client's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

/// Bytes in flight per direction: about what Linux lets a TCP window grow to.
const WINDOW: usize = 4 << 20;

/// One direction of the link: when it is free again, and its rate in bytes per second.
struct Link {
    free: Mutex<Instant>,
    rate: Option<f64>,
}

impl Link {
    /// When `n` bytes read now have crossed the link (before the delay).
    fn carry(&self, n: usize) -> Instant {
        let now = Instant::now();
        let Some(rate) = self.rate else {
            return now;
        };
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let done = (*free).max(now) + Duration::from_secs_f64(n as f64 / rate);
        *free = done;
        done
    }
}

/// Copies `from` to `to`, each chunk held back until `delay` after it crossed the link.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration, link: Arc<Link>) {
    let window = Arc::new(Semaphore::new(WINDOW));
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = {
        let window = window.clone();
        async move {
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = match from.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let Ok(permit) = window.acquire_many(n as u32).await else {
                    break;
                };
                permit.forget();
                if tx.send((link.carry(n) + delay, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
            window.add_permits(chunk.len());
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(target), Some(ms)) = (args.get(1), args.get(2).and_then(|m| m.parse().ok())) else {
        eprintln!("usage: wan_proxy <target host:port> <one-way delay in ms> [MB/s]");
        std::process::exit(2);
    };
    let delay = Duration::from_millis(ms);
    let rate = args
        .get(3)
        .and_then(|r| r.parse::<f64>().ok())
        .map(|r| r * 1e6);
    let link = || {
        Arc::new(Link {
            free: Mutex::new(Instant::now()),
            rate,
        })
    };
    let (up, down) = (link(), link());
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("listen on 127.0.0.1");
    println!("{}", listener.local_addr().expect("address").port());
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let (target, up, down) = (target.clone(), up.clone(), down.clone());
        tokio::spawn(async move {
            // The connection itself takes a round trip, as a TCP handshake does.
            tokio::time::sleep(delay * 2).await;
            let Ok(server) = TcpStream::connect(&target).await else {
                return;
            };
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::join!(
                pipe(client_read, server_write, delay, up),
                pipe(server_read, client_write, delay, down)
            );
        });
    }
}
