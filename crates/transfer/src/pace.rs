//! A bandwidth limit, for people on a shared link: one `Pace` per direction, shared by every
//! transfer of the app. Unset (the default), it costs nothing and transfers go as fast as the
//! link allows.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use spacedock_common::sync::lock;

/// Idle time earns at most this much sending at once: a short burst, never a flood.
const BURST: Duration = Duration::from_millis(250);

/// A limit on bytes per second, shared by clones.
#[derive(Clone, Default)]
pub struct Pace(Arc<Inner>);

#[derive(Default)]
struct Inner {
    /// Bytes per second; 0 for no limit.
    rate: AtomicU64,
    /// When the bytes reserved so far are due, at the limit.
    due: Mutex<Option<Instant>>,
}

impl Pace {
    /// Sets the limit in bytes per second; `None` (or 0) lifts it.
    pub fn set(&self, rate: Option<u64>) {
        self.0.rate.store(rate.unwrap_or(0), Ordering::Relaxed);
    }

    pub fn rate(&self) -> Option<u64> {
        Some(self.0.rate.load(Ordering::Relaxed)).filter(|r| *r > 0)
    }

    /// Reserves `n` bytes; returns how long to wait before they go.
    pub fn reserve(&self, n: u64) -> Duration {
        self.reserve_at(n, Instant::now())
    }

    fn reserve_at(&self, n: u64, now: Instant) -> Duration {
        let Some(rate) = self.rate() else {
            return Duration::ZERO;
        };
        let mut due = lock(&self.0.due);
        let earliest = now.checked_sub(BURST).unwrap_or(now);
        let from = due.map_or(earliest, |d| d.max(earliest));
        let next = from + Duration::from_secs_f64(n as f64 / rate as f64);
        *due = Some(next);
        next.saturating_duration_since(now)
    }

    /// Waits until `n` more bytes may go.
    pub async fn take(&self, n: u64) {
        let wait = self.reserve(n);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// The body, sent no faster than the limit (as it is, when there is none). It stays
    /// retryable: each try reads the file again.
    pub fn body(&self, body: ByteStream) -> ByteStream {
        if self.rate().is_none() {
            return body;
        }
        let inner = body.into_inner();
        let pace = self.clone();
        ByteStream::new(SdkBody::retryable(move || match inner.try_clone() {
            Some(copy) => SdkBody::from_body_1_x(Paced {
                inner: copy,
                pace: pace.clone(),
                wait: None,
            }),
            None => SdkBody::taken(),
        }))
    }
}

/// A body whose chunks wait for the pace.
struct Paced {
    inner: SdkBody,
    pace: Pace,
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for Paced {
    type Data = Bytes;
    type Error = aws_smithy_types::body::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Some(wait) = &mut this.wait {
            ready!(wait.as_mut().poll(cx));
            this.wait = None;
        }
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(|f| f.data_ref())) {
            let wait = this.pace.reserve(data.map_or(0, |d| d.len() as u64));
            if !wait.is_zero() {
                this.wait = Some(Box::pin(tokio::time::sleep(wait)));
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.wait.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        Body::size_hint(&self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_limit_never_waits() {
        let pace = Pace::default();
        assert_eq!(pace.reserve(u64::MAX / 2), Duration::ZERO);
        pace.set(Some(0));
        assert_eq!(pace.rate(), None);
    }

    #[test]
    fn a_limit_spaces_bytes_out_after_a_short_burst() {
        let pace = Pace::default();
        pace.set(Some(1_000_000));
        let now = Instant::now() + Duration::from_secs(1);
        // The first 250 KB go at once (the burst idle time earns); then 1 s per MB.
        assert_eq!(pace.reserve_at(250_000, now), Duration::ZERO);
        assert_eq!(pace.reserve_at(1_000_000, now), Duration::from_secs(1));
        assert_eq!(pace.reserve_at(500_000, now), Duration::from_millis(1500));
        // Bytes reserved by clones count against the same limit.
        let other = pace.clone();
        assert_eq!(other.reserve_at(500_000, now), Duration::from_secs(2));
    }

    #[test]
    fn idle_time_is_not_saved_up_past_the_burst() {
        let pace = Pace::default();
        pace.set(Some(1_000_000));
        let now = Instant::now() + Duration::from_secs(1);
        assert_eq!(pace.reserve_at(1_000_000, now), Duration::from_millis(750));
        let later = now + Duration::from_secs(60);
        assert_eq!(
            pace.reserve_at(1_000_000, later),
            Duration::from_millis(750)
        );
    }
}
