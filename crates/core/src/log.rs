//! The app's log file: what happened, when, never a secret (secrets are [`crate::secret::Secret`],
//! which can't be formatted).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Log {
    path: Option<PathBuf>,
    lock: Arc<Mutex<()>>,
}

impl Log {
    pub fn new(dir: Option<PathBuf>) -> Self {
        let path = dir.and_then(|d| {
            std::fs::create_dir_all(&d)
                .ok()
                .map(|_| d.join("spacedock.log"))
        });
        Log {
            path,
            lock: Arc::default(),
        }
    }

    pub fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    pub fn write(&self, line: impl AsRef<str>) {
        let Some(path) = &self.path else { return };
        let _guard = self.lock.lock();
        let stamp = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(file, "{stamp} {}", line.as_ref());
        }
    }

    /// The log as a place the engines send their lines to.
    pub fn sink(&self) -> crate::transfer::queue::EventSink<String> {
        let log = self.clone();
        Arc::new(move |line: String| log.write(line))
    }
}
