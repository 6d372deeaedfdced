//! The transfer journal: every batch that runs, and where each of its files stands, kept in an
//! SQLite database beside the app's other data. After a quit, a crash or a power cut, the files
//! a batch had not finished (those not yet started included) are still here, so the whole batch
//! can be offered again, file by file.
//!
//! Writes go to one thread of their own, which commits whatever has come since its last commit
//! in one transaction: thousands of small files cost a few commits, not one each, and no
//! transfer waits on the disk. A mark may therefore be lost to a crash; the journal only
//! promises that a file marked finished is finished, and a resume looks at each file it was not
//! told about (the engine recognises its own work, see `queue::resume`). [`Journal::flush`] waits
//! for everything sent so far, for the few marks that must be on disk before an act.
//!
//! The schema is versioned (`PRAGMA user_version`) and migrated forward at open. A journal this
//! version can't read (damaged, or written by a newer version) is moved aside under another
//! name, never deleted, and said so once; a fresh one is started, so no transfer is refused for
//! it.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::{Error, Result};
use spacedock_common::sync::lock;

/// The schema this version writes. Each step in [`MIGRATIONS`] takes a journal one version up.
pub const SCHEMA: i32 = 1;

/// Version n-1 → n is `MIGRATIONS[n - 1]`.
const MIGRATIONS: [&str; SCHEMA as usize] = [
    // 1: batches, and each file's state
    "CREATE TABLE batches (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        spec TEXT NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE TABLE files (
        batch TEXT NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
        id INTEGER NOT NULL,
        spec TEXT NOT NULL,
        state TEXT NOT NULL,
        message TEXT,
        PRIMARY KEY (batch, id)
    ) WITHOUT ROWID;",
];

/// Where a file of a batch stands, as the journal keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mark {
    /// Not finished: not started, or in flight when the app stopped.
    Waiting,
    Done,
    Skipped,
    Failed,
    Cancelled,
}

impl Mark {
    fn as_str(self) -> &'static str {
        match self {
            Mark::Waiting => "waiting",
            Mark::Done => "done",
            Mark::Skipped => "skipped",
            Mark::Failed => "failed",
            Mark::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Mark {
        match s {
            "done" => Mark::Done,
            "skipped" => Mark::Skipped,
            "failed" => Mark::Failed,
            "cancelled" => Mark::Cancelled,
            // Anything else (a state a newer version wrote) is treated as not finished: a
            // resume looks at the file again rather than take it as done.
            _ => Mark::Waiting,
        }
    }
}

/// A batch as the journal holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub kind: String,
    /// The batch's own description (JSON), as its kind wrote it.
    pub spec: serde_json::Value,
    pub created: i64,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    pub id: u32,
    pub spec: serde_json::Value,
    pub mark: Mark,
    pub message: Option<String>,
}

impl Entry {
    /// The batch's description, read as `T`.
    pub fn spec<T: DeserializeOwned>(&self) -> Result<T> {
        read_spec(&self.spec, "batch")
    }

    /// Files not finished.
    pub fn waiting(&self) -> impl Iterator<Item = &FileEntry> {
        self.files.iter().filter(|f| f.mark == Mark::Waiting)
    }
}

impl FileEntry {
    pub fn spec<T: DeserializeOwned>(&self) -> Result<T> {
        read_spec(&self.spec, "file")
    }
}

fn read_spec<T: DeserializeOwned>(v: &serde_json::Value, what: &str) -> Result<T> {
    serde_json::from_value(v.clone()).map_err(|e| {
        Error::BadAnswer(format!(
            "The transfer journal holds a {what} this version can't read ({e})."
        ))
    })
}

enum Write {
    Batch {
        id: String,
        kind: String,
        spec: String,
        created: i64,
        files: Vec<(u32, String)>,
    },
    Mark {
        batch: String,
        file: u32,
        mark: Mark,
        message: Option<String>,
    },
    Spec {
        batch: String,
        file: u32,
        spec: String,
    },
    Remove(String),
    Flush(mpsc::Sender<()>),
}

/// The journal of batches. Cheap to share: writes go through a channel to its writer thread.
pub struct Journal {
    path: PathBuf,
    writes: Mutex<Option<mpsc::Sender<Write>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// What opening found wrong, said once.
    notice: Mutex<Option<String>>,
    /// Batches this run is working on (noted this run, or being resumed): not interrupted.
    live: Mutex<std::collections::HashSet<String>>,
}

impl Journal {
    /// Opens (or makes) the journal at `path`. A journal that can't be used is moved aside; if
    /// even a fresh one can't be made, the journal keeps nothing and says why (transfers still
    /// run, as before there was a journal).
    pub fn open(path: &Path) -> Journal {
        let mut notice = None;
        let conn = match open_current(path) {
            Ok(conn) => Some(conn),
            Err(why) => {
                let aside = set_aside(path);
                notice = Some(match &aside {
                    Some(to) => format!(
                        "The transfer journal could not be read ({why}); it was kept as {} and a new one started.",
                        to.display()
                    ),
                    None => format!("The transfer journal could not be read ({why})."),
                });
                match open_current(path) {
                    Ok(conn) => Some(conn),
                    Err(again) => {
                        notice = Some(format!(
                            "{} A new one could not be made either ({again}): interrupted batches are not kept this run.",
                            notice.unwrap_or_default()
                        ));
                        None
                    }
                }
            }
        };
        let (writes, writer) = match conn {
            Some(conn) => {
                let (tx, rx) = mpsc::channel();
                let handle = std::thread::Builder::new()
                    .name("transfer-journal".into())
                    .spawn(move || write_loop(conn, rx))
                    .ok();
                (handle.is_some().then_some(tx), handle)
            }
            None => (None, None),
        };
        Journal {
            path: path.to_path_buf(),
            writes: Mutex::new(writes),
            writer: Mutex::new(writer),
            notice: Mutex::new(notice),
            live: Mutex::default(),
        }
    }

    /// What went wrong at open, once.
    pub fn take_notice(&self) -> Option<String> {
        lock(&self.notice).take()
    }

    fn send(&self, w: Write) {
        if let Some(tx) = lock(&self.writes).as_ref() {
            let _ = tx.send(w);
        }
    }

    /// Whether this run is working on batch `id` (a batch of its queue, or one being resumed).
    pub fn is_live(&self, id: &str) -> bool {
        lock(&self.live).contains(id)
    }

    /// This run works on batch `id` (a resume), or (`false`) no longer does.
    pub fn set_live(&self, id: &str, live: bool) {
        let mut all = lock(&self.live);
        match live {
            true => all.insert(id.to_string()),
            false => all.remove(id),
        };
    }

    /// Notes a batch with its files, all waiting.
    pub fn add<B: Serialize, F: Serialize>(
        &self,
        id: &str,
        kind: &str,
        spec: &B,
        files: impl IntoIterator<Item = (u32, F)>,
    ) {
        let files = files
            .into_iter()
            .filter_map(|(i, f)| serde_json::to_string(&f).ok().map(|s| (i, s)))
            .collect();
        let Ok(spec) = serde_json::to_string(spec) else {
            return;
        };
        self.set_live(id, true);
        self.send(Write::Batch {
            id: id.to_string(),
            kind: kind.to_string(),
            spec,
            created: now(),
            files,
        });
    }

    pub fn mark(&self, batch: &str, file: u32, mark: Mark, message: Option<String>) {
        self.send(Write::Mark {
            batch: batch.to_string(),
            file,
            mark,
            message,
        });
    }

    /// A file's description changed (a new name chosen for Keep both, a copy stored).
    pub fn respec<F: Serialize>(&self, batch: &str, file: u32, spec: &F) {
        if let Ok(spec) = serde_json::to_string(spec) {
            self.send(Write::Spec {
                batch: batch.to_string(),
                file,
                spec,
            });
        }
    }

    pub fn remove(&self, batch: &str) {
        self.send(Write::Remove(batch.to_string()));
    }

    /// Waits until everything sent so far is on disk.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        self.send(Write::Flush(tx));
        let _ = rx.recv();
    }

    /// Every batch in the journal, with its files. Read from its own connection, after a flush.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        self.flush();
        if lock(&self.writes).is_none() {
            return Ok(Vec::new());
        }
        let conn = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| journal_error(&e))?;
        read_entries(&conn).map_err(|e| journal_error(&e))
    }

    /// Stops the writer once everything sent is on disk (at quit).
    pub fn close(&self) {
        lock(&self.writes).take();
        if let Some(handle) = lock(&self.writer).take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close();
    }
}

/// Opens (or makes) the SQLite database at `path` and brings its schema up with `migrations`
/// (version n-1 → n is `migrations[n - 1]`, each in one transaction). Refused: a database that
/// is damaged, or that a newer Spacedock wrote (a version past the last migration).
pub(crate) fn open_versioned(
    path: &Path,
    migrations: &[&str],
) -> std::result::Result<Connection, String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let mut conn = Connection::open(path).map_err(|e| e.to_string())?;
    // WAL: a crash leaves the last whole commit; FULL: a commit is on disk when it returns.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
    )
    .map_err(|e| e.to_string())?;
    let ok: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if ok != "ok" {
        return Err(format!("it is damaged: {ok}"));
    }
    let version: i32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    let newest = migrations.len() as i32;
    if version > newest {
        return Err(format!(
            "a newer Spacedock wrote it (schema {version}; this one reads up to {newest})"
        ));
    }
    for (i, step) in migrations.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        tx.execute_batch(step).map_err(|e| e.to_string())?;
        tx.pragma_update(None, "user_version", i as i32 + 1)
            .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
    }
    Ok(conn)
}

fn journal_error(e: &rusqlite::Error) -> Error {
    Error::Internal(format!("the transfer journal could not be read: {e}"))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Opens the journal and brings its schema to [`SCHEMA`]; refuses one it can't trust.
fn open_current(path: &Path) -> std::result::Result<Connection, String> {
    let conn = open_versioned(path, &MIGRATIONS)?;
    // What this version reads must be there, whatever the version number says.
    read_entries(&conn).map_err(|e| format!("it does not hold what its version says: {e}"))?;
    Ok(conn)
}

/// Moves a journal that can't be used (and its WAL files) aside, under a name with the time.
fn set_aside(path: &Path) -> Option<PathBuf> {
    if !path.exists() {
        return None;
    }
    let to = path.with_extension(format!("unreadable-{}.sqlite3", now()));
    std::fs::rename(path, &to).ok()?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let mut side_to = to.as_os_str().to_owned();
        side_to.push(suffix);
        let _ = std::fs::rename(PathBuf::from(side), PathBuf::from(side_to));
    }
    Some(to)
}

fn read_entries(conn: &Connection) -> rusqlite::Result<Vec<Entry>> {
    let mut batches =
        conn.prepare("SELECT id, kind, spec, created FROM batches ORDER BY created, id")?;
    let mut files =
        conn.prepare("SELECT id, spec, state, message FROM files WHERE batch = ?1 ORDER BY id")?;
    let rows = batches.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, kind, spec, created) = row?;
        let listed = files.query_map([&id], |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        let mut list = Vec::new();
        for f in listed {
            let (fid, fspec, state, message) = f?;
            list.push(FileEntry {
                id: fid,
                spec: serde_json::from_str(&fspec).unwrap_or(serde_json::Value::Null),
                mark: Mark::parse(&state),
                message,
            });
        }
        out.push(Entry {
            id,
            kind,
            spec: serde_json::from_str(&spec).unwrap_or(serde_json::Value::Null),
            created,
            files: list,
        });
    }
    Ok(out)
}

/// The writer: takes what has come, commits it in one transaction, answers flushes after.
fn write_loop(mut conn: Connection, rx: mpsc::Receiver<Write>) {
    while let Ok(first) = rx.recv() {
        let mut pending = vec![first];
        while let Ok(more) = rx.try_recv() {
            pending.push(more);
        }
        let mut flushes = Vec::new();
        let applied = conn.transaction().and_then(|tx| {
            for w in pending {
                match w {
                    Write::Flush(done) => flushes.push(done),
                    w => apply(&tx, w)?,
                }
            }
            tx.commit()
        });
        if let Err(e) = applied {
            // Nothing to tell a transfer: the journal is a help for the next start, not a
            // condition of this one.
            eprintln!("the transfer journal could not be written: {e}");
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

fn apply(tx: &rusqlite::Transaction<'_>, w: Write) -> rusqlite::Result<()> {
    match w {
        Write::Batch {
            id,
            kind,
            spec,
            created,
            files,
        } => {
            tx.execute(
                "INSERT OR REPLACE INTO batches (id, kind, spec, created) VALUES (?1, ?2, ?3, ?4)",
                params![id, kind, spec, created],
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO files (batch, id, spec, state) VALUES (?1, ?2, ?3, 'waiting')",
            )?;
            for (fid, fspec) in files {
                insert.execute(params![id, fid, fspec])?;
            }
        }
        Write::Mark {
            batch,
            file,
            mark,
            message,
        } => {
            tx.prepare_cached(
                "UPDATE files SET state = ?3, message = ?4 WHERE batch = ?1 AND id = ?2",
            )?
            .execute(params![batch, file, mark.as_str(), message])?;
        }
        Write::Spec { batch, file, spec } => {
            tx.prepare_cached("UPDATE files SET spec = ?3 WHERE batch = ?1 AND id = ?2")?
                .execute(params![batch, file, spec])?;
        }
        Write::Remove(batch) => {
            tx.execute("DELETE FROM batches WHERE id = ?1", params![batch])?;
        }
        Write::Flush(_) => {}
    }
    Ok(())
}

/// A batch's id in the journal, kept across runs (the queue's own numbers start again each run).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Whether the journal at `path` has any batch with a file not finished (read-only; for tests
/// and tools).
pub fn has_waiting(path: &Path) -> Result<bool> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| journal_error(&e))?;
    conn.query_row(
        "SELECT 1 FROM files WHERE state = 'waiting' LIMIT 1",
        [],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
    .map_err(|e| journal_error(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Spec {
        space: String,
    }

    fn journal_at(dir: &Path) -> (PathBuf, Journal) {
        let path = dir.join("transfers.sqlite3");
        let j = Journal::open(&path);
        (path, j)
    }

    #[test]
    fn a_batch_and_its_marks_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("temp");
        let (path, j) = journal_at(dir.path());
        assert!(j.take_notice().is_none());
        let spec = Spec {
            space: "photos".into(),
        };
        j.add(
            "b1",
            "upload",
            &spec,
            (0..2000u32).map(|i| (i, format!("file-{i}"))),
        );
        for i in 0..1000 {
            j.mark("b1", i, Mark::Done, None);
        }
        j.mark("b1", 1000, Mark::Failed, Some("It changed.".into()));
        j.respec("b1", 1001, &"file-1001 (1)");
        drop(j);
        let j = Journal::open(&path);
        let entries = j.entries().expect("read");
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.spec::<Spec>().expect("spec"), spec);
        assert_eq!(e.waiting().count(), 999);
        assert_eq!(e.files[1000].mark, Mark::Failed);
        assert_eq!(e.files[1000].message.as_deref(), Some("It changed."));
        assert_eq!(e.files[1001].spec::<String>().expect("f"), "file-1001 (1)");
        assert!(has_waiting(&path).expect("read"));
        j.remove("b1");
        assert!(j.entries().expect("read").is_empty());
        assert!(!has_waiting(&path).expect("read"));
    }

    #[test]
    fn a_damaged_journal_is_kept_aside_and_a_new_one_started() {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("transfers.sqlite3");
        std::fs::write(&path, b"not a database at all, but it was someone's file").expect("write");
        let j = Journal::open(&path);
        let notice = j.take_notice().expect("said");
        assert!(notice.contains("could not be read"), "{notice}");
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("unreadable"))
            .collect();
        assert_eq!(aside.len(), 1, "kept, not deleted");
        assert_eq!(
            std::fs::read(aside[0].path()).expect("read"),
            b"not a database at all, but it was someone's file"
        );
        j.add("b", "upload", &1, [(0u32, 1)]);
        assert_eq!(j.entries().expect("fresh").len(), 1);
        assert!(j.take_notice().is_none(), "said once");
    }

    #[test]
    fn a_journal_from_a_newer_version_is_never_written_over() {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("transfers.sqlite3");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
                .expect("make");
        }
        let j = Journal::open(&path);
        let notice = j.take_notice().expect("said");
        assert!(notice.contains("newer Spacedock"), "{notice}");
        let kept = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().contains("unreadable"))
            .expect("kept aside");
        let conn = Connection::open(kept.path()).expect("open");
        let v: i32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(v, 99, "left as it was");
    }

    #[test]
    fn an_old_journal_is_migrated_and_a_state_it_does_not_know_stays_unfinished() {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("transfers.sqlite3");
        {
            // A journal of schema 0: the file exists, nothing in it yet.
            Connection::open(&path).expect("open");
        }
        let j = Journal::open(&path);
        assert!(j.take_notice().is_none());
        j.add("b", "download", &Spec { space: "s".into() }, [(7u32, "k")]);
        j.flush();
        {
            let conn = Connection::open(&path).expect("open");
            let v: i32 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .expect("version");
            assert_eq!(v, SCHEMA);
            conn.execute("UPDATE files SET state = 'verifying'", [])
                .expect("a state from a later version");
        }
        let e = j.entries().expect("read");
        assert_eq!(e[0].files[0].mark, Mark::Waiting);
    }
}
