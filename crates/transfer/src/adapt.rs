//! How hard a transfer pushes, following what the link and the server show rather than one
//! number that is right only on loopback.
//!
//! - [`Window`]: the requests in flight, by additive increase and multiplicative decrease. It
//!   doubles while doubling moves more bytes per second, then grows by an eighth now and then;
//!   it steps back when growing made things worse, gives back an eighth when answers take much
//!   longer than they did with no more bytes moving (requests queue at the server), and halves
//!   when the server answers 503 Slow Down (the SDK's own retries back off on top of that).
//! - [`Link`]: what the link showed so far (the wait for an answer, the rate of one request),
//!   from which the next big file's part size is chosen: parts long enough that the round trip
//!   each one costs stays small beside its bytes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// An epoch lasts at least this long, so one burst of answers is not read as a rate.
const SHORTEST_EPOCH: Duration = Duration::from_millis(150);
/// An epoch with at least one answer ends after this long, however few came.
const LONGEST_EPOCH: Duration = Duration::from_secs(2);
/// A rate this much higher than the last epoch's means more in flight helped.
const HELPED: f64 = 1.10;
/// A rate this much lower, just after growing, means growing hurt: it is undone.
const HURT: f64 = 0.90;
/// Answers taking this many times the quickest epoch's, with no more bytes moving, mean the
/// requests wait in a queue: fewer go.
const QUEUED: f64 = 1.5;
/// Flat epochs in a row before the window tries a little more again (the link may have freed up).
const FLAT_BEFORE_PROBE: u32 = 4;

/// The decisions of a [`Window`], kept apart from its permits so they can be checked step by step.
#[derive(Debug)]
pub struct Control {
    limit: usize,
    least: usize,
    most: usize,
    /// Doubling while it helps; after the first epoch where it didn't, growing by an eighth.
    doubling: bool,
    /// The limit before the last growth, to step back to if growing hurt.
    before_growth: Option<usize>,
    last_rate: Option<f64>,
    /// The shortest mean answer time of an epoch so far: the link and server with no queue.
    quickest: Option<f64>,
    flat: u32,
    epoch_start: Instant,
    epoch_bytes: u64,
    epoch_answers: usize,
    /// Seconds the epoch's answers took, added up.
    epoch_waits: f64,
}

impl Control {
    pub fn new(start: usize, least: usize, most: usize, now: Instant) -> Self {
        let least = least.max(1);
        let most = most.max(least);
        Control {
            limit: start.clamp(least, most),
            least,
            most,
            doubling: true,
            before_growth: None,
            last_rate: None,
            quickest: None,
            flat: 0,
            epoch_start: now,
            epoch_bytes: 0,
            epoch_answers: 0,
            epoch_waits: 0.0,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// One request finished, having moved `bytes` in `took`. Returns the new limit when it
    /// changes.
    pub fn answered(&mut self, bytes: u64, took: Duration, now: Instant) -> Option<usize> {
        self.epoch_bytes += bytes;
        self.epoch_answers += 1;
        self.epoch_waits += took.as_secs_f64();
        let age = now.saturating_duration_since(self.epoch_start);
        let ended =
            (self.epoch_answers >= self.limit && age >= SHORTEST_EPOCH) || age >= LONGEST_EPOCH;
        if !ended {
            return None;
        }
        let rate = self.epoch_bytes as f64 / age.as_secs_f64().max(1e-6);
        let wait = self.epoch_waits / self.epoch_answers as f64;
        let quickest = self.quickest.map_or(wait, |q| q.min(wait));
        self.quickest = Some(quickest);
        self.new_epoch(now);
        let was = self.limit;
        match self.last_rate {
            // The first epoch only sets the rate to compare with.
            None => self.grow(),
            Some(last) if rate >= last * HELPED => self.grow(),
            Some(last) if rate <= last * HURT && self.before_growth.is_some() => {
                self.limit = self.before_growth.take().unwrap_or(self.limit);
                self.settle();
            }
            Some(_) if wait > quickest * QUEUED => {
                self.limit = (self.limit - self.limit / 8).max(self.least);
                self.settle();
            }
            Some(_) => {
                self.settle();
                self.flat += 1;
                if self.flat >= FLAT_BEFORE_PROBE {
                    self.grow();
                }
            }
        }
        self.last_rate = Some(rate);
        (self.limit != was).then_some(self.limit)
    }

    /// The server answered 503 Slow Down: half as many in flight, and the rate measured afresh.
    /// Returns the new limit when it changes.
    pub fn slowed(&mut self, now: Instant) -> Option<usize> {
        let was = self.limit;
        self.limit = (self.limit / 2).max(self.least);
        self.settle();
        self.last_rate = None;
        self.new_epoch(now);
        (self.limit != was).then_some(self.limit)
    }

    fn grow(&mut self) {
        self.flat = 0;
        let next = match self.doubling {
            true => self.limit * 2,
            false => self.limit + (self.limit / 8).max(1),
        };
        let next = next.min(self.most);
        self.before_growth = (next != self.limit).then_some(self.limit);
        self.limit = next;
    }

    /// No more doubling, nothing to undo, no flat epochs counted.
    fn settle(&mut self) {
        self.doubling = false;
        self.before_growth = None;
        self.flat = 0;
    }

    fn new_epoch(&mut self, now: Instant) {
        self.epoch_start = now;
        self.epoch_bytes = 0;
        self.epoch_answers = 0;
        self.epoch_waits = 0.0;
    }
}

/// The requests one transfer keeps in flight: a permit per request, as many as [`Control`] says.
pub struct Window {
    permits: Arc<Semaphore>,
    state: Mutex<State>,
}

struct State {
    control: Control,
    /// Permits to retire as they come back, after the limit went down.
    owed: usize,
    /// 503 answers seen (by any client) when this window last looked.
    slow_downs: u64,
}

impl Window {
    /// A window of `start` requests, between `least` and `most`.
    pub fn new(start: usize, least: usize, most: usize) -> Arc<Self> {
        let control = Control::new(start, least, most, Instant::now());
        Arc::new(Window {
            permits: Arc::new(Semaphore::new(control.limit())),
            state: Mutex::new(State {
                control,
                owed: 0,
                slow_downs: crate::s3::slow_downs(),
            }),
        })
    }

    /// A window that never changes: exactly `n` in flight.
    pub fn fixed(n: usize) -> Arc<Self> {
        Window::new(n, n, n)
    }

    pub fn limit(&self) -> usize {
        self.state().control.limit()
    }

    /// Waits for room for one more request.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        // The semaphore is never closed.
        let permit = self.permits.clone().acquire_owned().await.ok();
        Permit {
            window: self.clone(),
            permit,
            since: Instant::now(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn answered(&self, bytes: u64, took: Duration) {
        let mut state = self.state();
        let now = Instant::now();
        // A 503 the SDK retried by itself still says the server is busy.
        let seen = crate::s3::slow_downs();
        let from = state.control.limit();
        let changed = match seen > state.slow_downs {
            true => {
                state.slow_downs = seen;
                state.control.slowed(now)
            }
            false => state.control.answered(bytes, took, now),
        };
        if let Some(to) = changed {
            self.resize(&mut state, from, to);
        }
    }

    fn slowed(&self) {
        let mut state = self.state();
        state.slow_downs = crate::s3::slow_downs();
        let from = state.control.limit();
        if let Some(to) = state.control.slowed(Instant::now()) {
            self.resize(&mut state, from, to);
        }
    }

    /// Makes the permits match a new limit: more at once, or fewer as requests finish. The
    /// permits in existence, less those owed back, always add up to the limit.
    fn resize(&self, state: &mut State, from: usize, to: usize) {
        if to > from {
            let forgiven = state.owed.min(to - from);
            state.owed -= forgiven;
            self.permits.add_permits(to - from - forgiven);
        } else {
            let mut cut = from - to;
            while cut > 0 {
                match self.permits.try_acquire() {
                    Ok(idle) => idle.forget(),
                    Err(_) => break,
                }
                cut -= 1;
            }
            state.owed += cut;
        }
    }
}

/// Room for one request. Say how it went with [`Permit::moved`] or [`Permit::slowed`]; a permit
/// dropped without either (a failure, a cancel) just makes room again.
pub struct Permit {
    window: Arc<Window>,
    permit: Option<OwnedSemaphorePermit>,
    since: Instant,
}

impl Permit {
    /// The request moved `bytes` and finished.
    pub fn moved(self, bytes: u64) {
        self.window.answered(bytes, self.since.elapsed());
    }

    /// The server answered 503 Slow Down.
    pub fn slowed(self) {
        self.window.slowed();
    }

    /// Says how a request that moved `bytes` went, from its result, and passes the result on.
    pub fn answer<T>(self, result: crate::error::Result<T>, bytes: u64) -> crate::error::Result<T> {
        match &result {
            Ok(_) => self.moved(bytes),
            Err(crate::error::Error::SlowDown) => self.slowed(),
            Err(_) => drop(self),
        }
        result
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let mut state = self.window.state();
        if state.owed > 0 {
            state.owed -= 1;
            permit.forget();
        }
    }
}

/// What the link showed so far: the wait for an answer's first byte, and what one request
/// moves per second. Shared by the transfers of one direction.
#[derive(Clone, Default)]
pub struct Link(Arc<Mutex<Seen>>);

#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// Seconds from a request to its answer, smoothed.
    wait: Option<f64>,
    /// Bytes per second of one request of a big file, smoothed.
    rate: Option<f64>,
    /// Whether the Space keeps versions, once asked.
    versioned: Option<bool>,
}

/// Parts are never smaller than this (S3 takes no smaller part but the last; Spaces the same).
pub const SMALLEST_PART: u64 = 8 << 20;
/// Nor bigger than this: a failed part is sent or fetched again whole.
pub const BIGGEST_PART: u64 = 64 << 20;
/// A part should last this many waits, so the wait each one costs stays near a twentieth.
const WAITS_PER_PART: f64 = 20.0;

impl Link {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The Space keeps versions (or may: it could not be asked).
    pub fn set_versioned(&self, versioned: bool) {
        self.seen().versioned = Some(versioned);
    }

    /// Whether the Space was found to keep versions.
    pub fn versioned(&self) -> bool {
        self.seen().versioned.unwrap_or(false)
    }

    /// A request waited `wait` for its answer to begin.
    pub fn waited(&self, wait: Duration) {
        let mut seen = self.seen();
        seen.wait = Some(smooth(seen.wait, wait.as_secs_f64()));
    }

    /// One request of a big file moved `bytes` in `took`.
    pub fn moved(&self, bytes: u64, took: Duration) {
        if bytes < SMALLEST_PART / 2 || took.is_zero() {
            return; // too short to say what a part would do
        }
        let mut seen = self.seen();
        seen.rate = Some(smooth(seen.rate, bytes as f64 / took.as_secs_f64()));
    }

    /// The part size for a big file: `default` until the link has shown enough, then parts
    /// lasting about twenty waits at one request's rate, rounded to MiB, from 8 to 64 MiB.
    pub fn part_size(&self, default: u64) -> u64 {
        let seen = *self.seen();
        let (Some(wait), Some(rate)) = (seen.wait, seen.rate) else {
            return default;
        };
        let want = (WAITS_PER_PART * wait * rate) as u64;
        let mib = 1 << 20;
        (want.div_ceil(mib) * mib).clamp(SMALLEST_PART, BIGGEST_PART)
    }
}

/// A moving average that follows a change within a few samples.
fn smooth(old: Option<f64>, new: f64) -> f64 {
    match old {
        Some(old) => old * 0.75 + new * 0.25,
        None => new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs epochs of `limit` answers over 200 ms each, on a link that moves `per_request` bytes
    /// per second for each request in flight up to `room` requests, and no more beyond: past
    /// `room`, answers wait in a queue and take longer.
    fn run_epochs(control: &mut Control, start: Instant, epochs: u32, room: usize) -> Vec<usize> {
        let per_request = 1_000_000.0;
        let mut now = start;
        let mut limits = Vec::new();
        for _ in 0..epochs {
            let n = control.limit();
            let epoch = Duration::from_millis(200);
            let rate = per_request * n.min(room) as f64;
            let bytes = (rate * epoch.as_secs_f64()) as u64 / n as u64;
            let took = Duration::from_millis(100).mul_f64((n as f64 / room as f64).max(1.0));
            for i in 0..n {
                let at = now + epoch.mul_f64((i + 1) as f64 / n as f64);
                control.answered(bytes, took, at);
            }
            now += epoch;
            limits.push(control.limit());
        }
        limits
    }

    #[test]
    fn the_window_doubles_while_it_helps_and_gives_back_what_only_queues() {
        let start = Instant::now();
        let mut control = Control::new(4, 1, 256, start);
        let limits = run_epochs(&mut control, start, 16, 32);
        // 4 → 8 → 16 → 32 → 64; at 64 answers wait twice as long for no more bytes, so the
        // window gives back an eighth at a time until the wait is near the quickest again.
        assert_eq!(&limits[..4], &[8, 16, 32, 64], "{limits:?}");
        assert_eq!(&limits[4..7], &[56, 49, 43], "{limits:?}");
        assert!(
            limits[7..].iter().all(|n| (32..=56).contains(n)),
            "{limits:?}"
        );
    }

    #[test]
    fn growth_that_hurts_is_undone() {
        let start = Instant::now();
        let mut control = Control::new(8, 1, 256, start);
        let mut now = start;
        // 8 in flight: 10 MB/s; then 16 in flight: 5 MB/s (the server thrashes).
        for (n, rate) in [(8, 10e6), (16, 5e6)] {
            assert_eq!(control.limit(), if n == 8 { 8 } else { 16 });
            let epoch = Duration::from_millis(200);
            for i in 0..n {
                let at = now + epoch.mul_f64((i + 1) as f64 / n as f64);
                let bytes = (rate * 0.2) as u64 / n as u64;
                control.answered(bytes, Duration::from_millis(50), at);
            }
            now += epoch;
        }
        assert_eq!(control.limit(), 8, "back to where it was");
    }

    #[test]
    fn the_window_never_goes_past_its_most_or_below_its_least() {
        let start = Instant::now();
        let mut control = Control::new(16, 2, 24, start);
        let limits = run_epochs(&mut control, start, 6, 1000);
        assert!(limits.iter().all(|n| *n <= 24), "{limits:?}");
        assert_eq!(control.limit(), 24);
        for _ in 0..10 {
            control.slowed(start);
        }
        assert_eq!(control.limit(), 2);
    }

    #[test]
    fn slow_down_halves_the_window_and_growth_starts_again_gently() {
        let start = Instant::now();
        let mut control = Control::new(64, 1, 256, start);
        assert_eq!(control.slowed(start), Some(32));
        // After a Slow Down the window no longer doubles: at most an eighth more per epoch.
        let limits = run_epochs(&mut control, start, 3, 1000);
        assert_eq!(limits, vec![36, 40, 45]);
    }

    #[tokio::test]
    async fn fewer_permits_once_the_window_shrinks_and_more_once_it_grows() {
        let window = Window::new(4, 1, 8);
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(window.acquire().await);
        }
        assert_eq!(window.permits.available_permits(), 0);
        // Halved while all four are out: two of them are retired as they come back.
        window.slowed();
        assert_eq!(window.limit(), 2);
        held.truncate(1);
        assert_eq!(
            window.permits.available_permits(),
            1,
            "2 retired, 1 back, 1 out"
        );
        drop(held);
        assert_eq!(window.permits.available_permits(), 2);
        // Growing adds permits at once.
        let mut state = window.state();
        window.resize(&mut state, 2, 5);
        drop(state);
        assert_eq!(window.permits.available_permits(), 5);
    }

    #[test]
    fn parts_follow_the_link_within_bounds() {
        let mib = 1 << 20;
        let link = Link::default();
        assert_eq!(link.part_size(16 * mib), 16 * mib, "nothing seen yet");
        // A round trip of 40 ms at 50 MB/s for one request: 20 waits are 40 MB, 39 MiB.
        link.waited(Duration::from_millis(40));
        link.moved(50_000_000, Duration::from_secs(1));
        assert_eq!(link.part_size(16 * mib), 39 * mib);
        // Loopback: 1 ms at 500 MB/s wants 10 MB, rounded up to 10 MiB.
        let near = Link::default();
        near.waited(Duration::from_millis(1));
        near.moved(500_000_000, Duration::from_secs(1));
        assert_eq!(near.part_size(16 * mib), 10 * mib);
        // Far and fast, or near and slow: kept between 8 and 64 MiB.
        let far = Link::default();
        far.waited(Duration::from_millis(300));
        far.moved(100_000_000, Duration::from_secs(1));
        assert_eq!(far.part_size(16 * mib), BIGGEST_PART);
        let slow = Link::default();
        slow.waited(Duration::from_millis(1));
        slow.moved(10_000_000, Duration::from_secs(1));
        assert_eq!(slow.part_size(16 * mib), SMALLEST_PART);
        // A small answer says nothing of what a part would do.
        let small = Link::default();
        small.waited(Duration::from_millis(40));
        small.moved(64 << 10, Duration::from_millis(41));
        assert_eq!(small.part_size(16 * mib), 16 * mib);
    }
}
