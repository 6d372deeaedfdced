//! Stopping transfers: one file, a whole batch, or everything at quit (a pause, which keeps what
//! can be resumed). A transfer waits on its switches without polling: setting one wakes it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// A switch that can be awaited.
#[derive(Default)]
pub struct Flag {
    on: AtomicBool,
    changed: Notify,
}

impl Flag {
    pub fn set(&self) {
        self.on.store(true, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Off again (a batch that runs again).
    pub fn clear(&self) {
        self.on.store(false, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }

    async fn wait(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a set in between is not missed.
            changed.as_mut().enable();
            if self.is_set() {
                return;
            }
            changed.await;
        }
    }
}

/// Cancellation of one file, and of everything; or a pause (at quit), which stops the same way
/// but keeps a multipart upload on the server, noted, to be resumed at the next start.
#[derive(Clone, Default)]
pub struct Cancel {
    pub file: Arc<Flag>,
    pub all: Arc<Flag>,
    pub pause: Arc<Flag>,
}

impl Cancel {
    pub fn is_set(&self) -> bool {
        self.file.is_set() || self.all.is_set() || self.is_paused()
    }

    pub(super) fn is_paused(&self) -> bool {
        self.pause.is_set()
    }

    /// Returns once any of the switches is set.
    pub(super) async fn wait(&self) {
        tokio::select! {
            _ = self.file.wait() => {}
            _ = self.all.wait() => {}
            _ = self.pause.wait() => {}
        }
    }
}

/// A batch's switches in the queue: one for each file that ran, and one for all of it.
#[derive(Default)]
pub struct Switches {
    files: HashMap<u32, Cancel>,
    all: Arc<Flag>,
}

impl Switches {
    /// A run (or a run again) of `ids`: the batch's switch is off again and each of these files
    /// gets a fresh one, which `pause` (the app's quit) also stops. Returns every file's switch.
    pub fn arm(
        &mut self,
        ids: impl IntoIterator<Item = u32>,
        pause: &Arc<Flag>,
    ) -> HashMap<u32, Cancel> {
        self.all.clear();
        for id in ids {
            let cancel = Cancel {
                all: self.all.clone(),
                pause: pause.clone(),
                ..Cancel::default()
            };
            self.files.insert(id, cancel);
        }
        self.files.clone()
    }

    /// Cancels one file, or (without `id`) the whole batch.
    pub fn cancel(&self, id: Option<u32>) {
        match id {
            Some(id) => {
                if let Some(c) = self.files.get(&id) {
                    c.file.set();
                }
            }
            None => self.all.set(),
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
        let cancel = Cancel::default();
        let waiting = tokio::spawn({
            let cancel = cancel.clone();
            async move { cancel.wait().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished() && !cancel.is_set());
        cancel.all.set();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .expect("joined");
        assert!(cancel.is_set());
        cancel.all.clear();
        assert!(!cancel.is_set());
    }
}
