//! The Transfers panel as the window sees it: the queue's own rows, handed over once and then
//! as they change. Cancel, Retry and Clear act on the queue, which keeps each batch's choices.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::queue::{BoardCount, Direction, TransferRow, TransfersChanged};

use crate::error::Result;
use crate::services::Services;

/// Every row now; from now on each change goes to `changes` (a window loaded again replaces
/// the one before).
pub fn watch(
    services: &Services,
    changes: Arc<dyn Fn(TransfersChanged) + Send + Sync>,
) -> Vec<TransferRow> {
    services.queue().watch(changes)
}

/// Cancels one file of a batch, or (without `file`) all of it.
pub fn cancel(services: &Services, batch: u32, file: Option<u32>) {
    services.queue().cancel(batch, file);
}

/// Runs again the files of `batch` that failed or were cancelled, with its first run's choices.
/// Says how many.
pub async fn retry(services: &Services, batch: u32) -> Result<usize> {
    services.queue().retry(batch).await
}

/// Clears the rows of files that finished; with `batch`, stops that batch and clears all of it.
pub fn clear(services: &Services, batch: Option<u32>) {
    services.queue().clear(batch);
}

/// The Transfers panel's files waiting or running, and how those of `watched` stand (each file
/// waiting or running joins it).
pub fn count(services: &Services, watched: &mut BTreeSet<u32>) -> BoardCount {
    services.queue().count(watched)
}

/// Work shorter than this ends without a word: the user is still looking.
pub const LONG_WORK: Duration = Duration::from_secs(10);

/// Watches the queue, looked at now and then, for a long stretch of work ending: what a desktop
/// notification says when the window is not in front.
#[derive(Debug, Default)]
pub struct LongWork {
    /// When the queue got busy.
    began: Option<Instant>,
    /// The rows seen waiting or running since.
    rows: BTreeSet<u32>,
}

/// A stretch of work that ended: its files, by how they ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkEnded {
    pub done: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub took: Duration,
}

impl WorkEnded {
    /// The notification's title and body.
    pub fn words(&self) -> (String, String) {
        let files = |n: usize| format!("{n} {}", if n == 1 { "file" } else { "files" });
        let title = if self.failed > 0 {
            "Transfers finished, some failed"
        } else {
            "Transfers finished"
        };
        let mut body = format!("{} done", files(self.done));
        if self.failed > 0 {
            body.push_str(&format!(", {} failed", self.failed));
        }
        if self.cancelled > 0 {
            body.push_str(&format!(", {} cancelled", self.cancelled));
        }
        let secs = self.took.as_secs();
        body.push_str(&if secs < 120 {
            format!(", in {secs} s.")
        } else {
            format!(", in {} min.", secs.div_ceil(60))
        });
        (title.to_string(), body)
    }
}

impl LongWork {
    /// The queue as `count` finds it `now` (given the rows watched, to which it adds those busy):
    /// the stretch of work that ended, if it was long, told by what its own files did.
    pub fn look(
        &mut self,
        now: Instant,
        count: impl FnOnce(&mut BTreeSet<u32>) -> BoardCount,
    ) -> Option<WorkEnded> {
        let count = count(&mut self.rows);
        if count.busy > 0 {
            self.began.get_or_insert(now);
            return None;
        }
        let began = self.began.take();
        self.rows.clear();
        let took = now.saturating_duration_since(began?);
        (took >= LONG_WORK).then_some(WorkEnded {
            done: count.done,
            failed: count.failed,
            cancelled: count.cancelled,
            took,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A panel of rows by id: 'q' waiting, 'd' done, 'f' failed, 'c' cancelled; counted as the
    /// board counts.
    fn panel(rows: &BTreeMap<u32, char>) -> impl FnOnce(&mut BTreeSet<u32>) -> BoardCount + '_ {
        move |watched| {
            let mut count = BoardCount::default();
            for (id, state) in rows {
                if *state == 'q' {
                    count.busy += 1;
                    watched.insert(*id);
                }
            }
            for state in watched.iter().filter_map(|id| rows.get(id)) {
                match state {
                    'd' => count.done += 1,
                    'f' => count.failed += 1,
                    'c' => count.cancelled += 1,
                    _ => {}
                }
            }
            count
        }
    }

    fn rows(states: &str) -> BTreeMap<u32, char> {
        states
            .chars()
            .enumerate()
            .map(|(i, c)| (i as u32, c))
            .collect()
    }

    #[test]
    fn only_long_work_that_ended_is_told_by_what_its_own_files_did() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut watch = LongWork::default();
        // Idle, then a short stretch: nothing to tell.
        assert_eq!(watch.look(t0, panel(&rows("dd"))), None);
        assert_eq!(watch.look(t0, panel(&rows("ddq"))), None);
        assert_eq!(watch.look(t0 + s(2), panel(&rows("ddd"))), None);
        // A long one: its own five files, not the three done before.
        assert_eq!(watch.look(t0 + s(3), panel(&rows("dddqqqqq"))), None);
        assert_eq!(watch.look(t0 + s(60), panel(&rows("dddddfqq"))), None);
        // A failed file retried (waiting again), then failing again: one failure.
        assert_eq!(watch.look(t0 + s(90), panel(&rows("dddddqdq"))), None);
        let ended = watch.look(t0 + s(200), panel(&rows("dddddfdd")));
        let ended = ended.expect("a long stretch ended");
        assert_eq!((ended.done, ended.failed, ended.cancelled), (4, 1, 0));
        assert_eq!(
            ended.words(),
            (
                "Transfers finished, some failed".to_string(),
                "4 files done, 1 failed, in 4 min.".to_string()
            )
        );
        // Told once.
        assert_eq!(watch.look(t0 + s(201), panel(&rows("dddddfdd"))), None);
    }

    #[test]
    fn rows_cleared_while_busy_are_not_counted_and_what_came_before_is_not_either() {
        let t0 = Instant::now();
        let mut watch = LongWork::default();
        watch.look(t0, panel(&rows("ffqqc")));
        // Rows 2 and 3 done, then row 2 cleared from the panel.
        let mut left = rows("ffqdc");
        left.remove(&2);
        let ended = watch.look(t0 + Duration::from_secs(30), panel(&left));
        assert_eq!(
            ended.map(|e| (e.done, e.failed, e.cancelled)),
            Some((1, 0, 0))
        );
    }
}
