//! Where sync pairs and their baselines are kept: the engine's SQLite database of syncs, beside
//! the transfer journal. Every baseline change of a run is written as its file's action ends, in
//! one transaction per group, so a crash leaves either the old row or the new one. A database a
//! newer Spacedock wrote, or one that can't be read, is never written to: sync says why and waits.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};

use super::decide::{Base, Stamp};
use super::SyncPair;
use crate::error::{Error, Result};
use spacedock_common::sync::lock;

const SCHEMA: i32 = 1;

const MIGRATIONS: [&str; SCHEMA as usize] = [
    // 1: pairs (their settings as JSON, kept whole) and each pair's baseline, key by key
    "CREATE TABLE pairs (
        id TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        created INTEGER NOT NULL,
        last_good INTEGER,
        last_run INTEGER,
        last_error TEXT,
        running INTEGER,
        waiting TEXT,
        incomplete TEXT
    );
    CREATE TABLE baseline (
        pair TEXT NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        ctime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        md5 TEXT NOT NULL,
        remote_size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        remote_md5 TEXT NOT NULL,
        PRIMARY KEY (pair, key)
    ) WITHOUT ROWID;",
];

pub(crate) struct Store {
    conn: Mutex<std::result::Result<Connection, String>>,
}

fn db_error(e: rusqlite::Error) -> Error {
    Error::Internal(format!("the sync database could not be used: {e}"))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn open(path: &Path) -> std::result::Result<Connection, String> {
    let conn = crate::journal::open_versioned(path, &MIGRATIONS)?;
    add_missing_columns(&conn).map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Columns added while schema 1 was new, added to a database made before them (with what they
/// held then: one MD5 for both sides, no ctime, nothing waiting).
fn add_missing_columns(conn: &Connection) -> rusqlite::Result<()> {
    let has = |table: &str, column: &str| -> rusqlite::Result<bool> {
        let mut q = conn.prepare(&format!("PRAGMA table_info({table})"))?;
        let names = q.query_map([], |r| r.get::<_, String>(1))?;
        for n in names {
            if n? == column {
                return Ok(true);
            }
        }
        Ok(false)
    };
    let steps: [(&str, &str, &str); 4] = [
        ("baseline", "ctime_ns", "ALTER TABLE baseline ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0"),
        (
            "baseline",
            "remote_md5",
            "ALTER TABLE baseline ADD COLUMN remote_md5 TEXT NOT NULL DEFAULT ''; UPDATE baseline SET remote_md5 = md5",
        ),
        ("pairs", "waiting", "ALTER TABLE pairs ADD COLUMN waiting TEXT"),
        ("pairs", "incomplete", "ALTER TABLE pairs ADD COLUMN incomplete TEXT"),
    ];
    for (table, column, add) in steps {
        if !has(table, column)? {
            conn.execute_batch(add)?;
        }
    }
    Ok(())
}

/// A file changed within the last two seconds may change again within the same tick of a coarse
/// clock (FAT, SMB, NFS) without its stamp moving: its mtime is kept as unknown, so the next
/// scan reads it again rather than trusting the stamp.
fn racy_safe(mtime_ns: i64) -> i64 {
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    if now_ns - mtime_ns < 2_000_000_000 {
        -1
    } else {
        mtime_ns
    }
}

impl Store {
    pub fn open(path: &Path) -> Store {
        let conn = open(path).map_err(|why| {
            format!(
                "The sync database “{}” can't be used ({why}); pairs are not synced until it can.",
                path.display()
            )
        });
        Store {
            conn: Mutex::new(conn),
        }
    }

    fn with<T>(&self, work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut conn = lock(&self.conn);
        match conn.as_mut() {
            Ok(c) => work(c).map_err(db_error),
            Err(why) => Err(Error::Internal(why.clone())),
        }
    }

    pub fn pairs(&self) -> Result<Vec<SyncPair>> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT spec, last_good, last_run, last_error, running, waiting, incomplete FROM pairs ORDER BY created, id",
            )?;
            let rows = q.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (spec, last_good, last_run, last_error, running, waiting, incomplete) = row?;
                let Ok(mut pair) = serde_json::from_str::<SyncPair>(&spec) else {
                    continue;
                };
                pair.last_good = last_good;
                pair.last_run = last_run;
                pair.last_error = last_error;
                pair.interrupted = running.is_some();
                pair.waiting = waiting;
                pair.incomplete = incomplete;
                out.push(pair);
            }
            Ok(out)
        })
    }

    pub fn add_pair(&self, pair: &SyncPair) -> Result<()> {
        let spec = serde_json::to_string(pair).map_err(|e| Error::Internal(e.to_string()))?;
        self.with(|c| {
            c.execute(
                "INSERT INTO pairs (id, spec, created) VALUES (?1, ?2, ?3)",
                params![pair.id, spec, now()],
            )
            .map(|_| ())
        })
    }

    /// Forgets a pair and its baseline (its files stay where they are).
    pub fn remove_pair(&self, id: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM pairs WHERE id = ?1", [id])
                .map(|_| ())
        })
    }

    pub fn baseline(&self, pair: &str) -> Result<HashMap<String, Base>> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT key, size, mtime_ns, ctime_ns, inode, md5, remote_size, etag, remote_md5 FROM baseline WHERE pair = ?1",
            )?;
            let rows = q.query_map([pair], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Base {
                        local: Stamp {
                            size: r.get::<_, i64>(1)? as u64,
                            mtime_ns: r.get(2)?,
                            ctime_ns: r.get(3)?,
                            inode: r.get::<_, i64>(4)? as u64,
                        },
                        md5: r.get(5)?,
                        remote_size: r.get::<_, i64>(6)? as u64,
                        etag: r.get(7)?,
                        remote_md5: r.get(8)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    /// Writes (Some) or forgets (None) each key's baseline, all in one transaction.
    pub fn write(&self, pair: &str, changes: &[(String, Option<Base>)]) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut put = tx.prepare(
                    "INSERT OR REPLACE INTO baseline (pair, key, size, mtime_ns, ctime_ns, inode, md5, remote_size, etag, remote_md5)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?;
                let mut forget = tx.prepare("DELETE FROM baseline WHERE pair = ?1 AND key = ?2")?;
                for (key, base) in changes {
                    match base {
                        Some(b) => put.execute(params![
                            pair,
                            key,
                            b.local.size as i64,
                            racy_safe(b.local.mtime_ns),
                            b.local.ctime_ns,
                            b.local.inode as i64,
                            b.md5,
                            b.remote_size as i64,
                            b.etag,
                            b.remote_md5
                        ])?,
                        None => forget.execute(params![pair, key])?,
                    };
                }
            }
            tx.commit()
        })
    }

    /// Changes a pair's schedule in its saved settings, keeping every field of them this
    /// version does not know.
    pub fn set_schedule(&self, id: &str, schedule: super::SyncSchedule) -> Result<()> {
        let schedule =
            serde_json::to_value(schedule).map_err(|e| Error::Internal(e.to_string()))?;
        self.with(|c| {
            let tx = c.transaction()?;
            let spec: String =
                tx.query_row("SELECT spec FROM pairs WHERE id = ?1", [id], |r| r.get(0))?;
            let mut spec: serde_json::Value = serde_json::from_str(&spec)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            let Some(fields) = spec.as_object_mut() else {
                return Err(rusqlite::Error::InvalidQuery);
            };
            fields.insert("schedule".into(), schedule);
            tx.execute(
                "UPDATE pairs SET spec = ?2 WHERE id = ?1",
                params![id, spec.to_string()],
            )?;
            tx.commit()
        })
    }

    pub fn set_waiting(&self, id: &str, why: Option<&str>) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE pairs SET waiting = ?2 WHERE id = ?1",
                params![id, why],
            )
            .map(|_| ())
        })
    }

    /// A run begins: until it ends, the pair shows as interrupted if the app stops.
    pub fn begin(&self, pair: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE pairs SET running = ?2, last_run = ?2 WHERE id = ?1",
                params![pair, now()],
            )
            .map(|_| ())
        })
    }

    /// A run ended: well (no error; `incomplete` says what it left undone, if anything), or with
    /// what went wrong.
    pub fn end(&self, pair: &str, error: Option<&str>, incomplete: Option<&str>) -> Result<()> {
        self.with(|c| {
            match error {
                None => c.execute(
                    "UPDATE pairs SET running = NULL, last_good = ?2, last_error = NULL, waiting = NULL, incomplete = ?3 WHERE id = ?1",
                    params![pair, now(), incomplete],
                ),
                Some(e) => c.execute(
                    "UPDATE pairs SET running = NULL, last_error = ?2, waiting = NULL WHERE id = ?1",
                    params![pair, e],
                ),
            }
            .map(|_| ())
        })
    }

    /// A run that could not even plan: the pair shows it, red.
    pub fn failed(&self, pair: &str, error: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE pairs SET last_run = ?2, last_error = ?3 WHERE id = ?1",
                params![pair, now(), error],
            )
            .map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_from_before_the_newer_columns_is_given_them_and_keeps_its_baseline() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("sync.sqlite3");
        {
            // The first shape of schema 1: one MD5 for both sides, no ctime, nothing waiting.
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(
                "CREATE TABLE pairs (id TEXT PRIMARY KEY, spec TEXT NOT NULL, created INTEGER NOT NULL,
                    last_good INTEGER, last_run INTEGER, last_error TEXT, running INTEGER);
                 CREATE TABLE baseline (pair TEXT NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
                    key TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                    inode INTEGER NOT NULL, md5 TEXT NOT NULL, remote_size INTEGER NOT NULL,
                    etag TEXT NOT NULL, PRIMARY KEY (pair, key)) WITHOUT ROWID;
                 PRAGMA user_version = 1;
                 INSERT INTO pairs (id, spec, created) VALUES ('p', '{\"id\":\"p\",\"folder\":\"/f\",\"connection\":\"c\",\"endpoint\":\"e\",\"space\":\"s\",\"prefix\":\"\",\"direction\":\"twoWay\",\"deletes\":\"mirror\",\"trash\":null,\"future\":1}', 0);
                 INSERT INTO baseline VALUES ('p', 'a.txt', 3, 5, 7, 'abc', 3, 'abc');",
            )
            .expect("old schema");
        }
        let store = Store::open(&path);
        let pairs = store.pairs().expect("pairs");
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].waiting, None);
        let base = store.baseline("p").expect("baseline");
        assert_eq!(
            base["a.txt"].remote_md5, "abc",
            "one MD5 for both sides, as it was"
        );
        assert!(!base["a.txt"].diverged());
        // A field this version does not know stays when the schedule is written.
        store
            .set_schedule("p", super::super::SyncSchedule::Watch)
            .expect("schedule");
        let c = Connection::open(&path).expect("open");
        let spec: String = c
            .query_row("SELECT spec FROM pairs", [], |r| r.get(0))
            .expect("spec");
        assert!(
            spec.contains("\"future\":1") && spec.contains("watch"),
            "{spec}"
        );
    }
}
