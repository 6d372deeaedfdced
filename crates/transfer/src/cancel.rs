//! Stopping transfers: one file, a whole batch, or everything at quit (a pause, which keeps what
//! can be resumed). A transfer waits on its switches without polling: setting one wakes it.

use std::collections::{HashMap, HashSet};

use tokio_util::sync::CancellationToken;

/// What stops one transfer: its own token, a child of its batch's, itself a child of the queue's
/// quit. Cancelling a file stops that file; a batch, its files; a quit, everything, as a pause.
#[derive(Clone, Default)]
pub struct Cancel {
    token: CancellationToken,
    quit: CancellationToken,
}

impl Cancel {
    /// A file's stop under `batch`, itself under `quit`.
    pub fn under(batch: &CancellationToken, quit: &CancellationToken) -> Cancel {
        Cancel {
            token: batch.child_token(),
            quit: quit.clone(),
        }
    }

    /// Stops this transfer alone.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// A handle that stops this transfer alone (for a caller that keeps it apart).
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    pub fn is_set(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Stopped by a quit, which keeps what can be resumed.
    pub(super) fn is_paused(&self) -> bool {
        self.quit.is_cancelled()
    }

    /// Returns once it is stopped, by any of the three.
    pub(super) async fn wait(&self) {
        self.token.cancelled().await
    }
}

/// A batch's stops in the queue: one for each file that ran, and one for all of it.
#[derive(Default)]
pub struct Switches {
    files: HashMap<u32, Cancel>,
    /// None until the first run.
    all: Option<CancellationToken>,
}

impl Switches {
    /// A run (or a run again) of `ids` under `quit`: a batch that was cancelled gets a new
    /// token (a quit's stays cancelled), and each of these files a fresh one. Returns their
    /// stops.
    pub fn arm(
        &mut self,
        ids: impl IntoIterator<Item = u32>,
        quit: &CancellationToken,
    ) -> HashMap<u32, Cancel> {
        let all = match &self.all {
            Some(all) if !all.is_cancelled() => all.clone(),
            _ => quit.child_token(),
        };
        let armed: HashMap<u32, Cancel> = (ids.into_iter())
            .map(|id| (id, Cancel::under(&all, quit)))
            .collect();
        self.files.extend(armed.clone());
        self.all = Some(all);
        armed
    }

    /// Cancels one file, or (without `id`) the whole batch.
    pub fn cancel(&self, id: Option<u32>) {
        match id {
            Some(id) => {
                if let Some(c) = self.files.get(&id) {
                    c.cancel();
                }
            }
            None => {
                if let Some(all) = &self.all {
                    all.cancel();
                }
            }
        }
    }
}

/// The files a run takes: all of them, or with `ids` only those (a retry).
pub fn chosen<T: Clone>(files: &[T], ids: Option<Vec<u32>>, id_of: impl Fn(&T) -> u32) -> Vec<T> {
    let wanted: Option<HashSet<u32>> = ids.map(|v| v.into_iter().collect());
    (files.iter())
        .filter(|f| wanted.as_ref().is_none_or(|w| w.contains(&id_of(f))))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiting_transfer_wakes_when_its_batch_is_cancelled() {
        let quit = CancellationToken::new();
        let mut switches = Switches::default();
        let cancel = switches.arm([1], &quit)[&1].clone();
        let waiting = tokio::spawn({
            let cancel = cancel.clone();
            async move { cancel.wait().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished() && !cancel.is_set());
        switches.cancel(None);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .expect("joined");
        assert!(cancel.is_set() && !cancel.is_paused());
        // A retry runs under a new batch token; the quit stops it, as a pause.
        let again = switches.arm([1], &quit)[&1].clone();
        assert!(!again.is_set());
        quit.cancel();
        assert!(again.is_set() && again.is_paused());
        // Nothing runs again after a quit.
        assert!(switches.arm([2], &quit)[&2].is_set());
    }

    #[test]
    fn a_file_cancelled_leaves_its_batch_running() {
        let quit = CancellationToken::new();
        let mut switches = Switches::default();
        let cancels = switches.arm([1, 2], &quit);
        switches.cancel(Some(1));
        assert!(cancels[&1].is_set() && !cancels[&2].is_set());
    }
}
