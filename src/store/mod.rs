//! The kiosk's local SQLite cache.
//!
//! Every visit ends up here first, whatever the network does. The database runs in WAL mode
//! with `synchronous=FULL`, so a transaction that returned is on disk even if the process is
//! killed or the power fails a moment later; foreign keys are enforced; every write happens in
//! one `BEGIN IMMEDIATE` transaction that also writes the visit's event and its outbox row for
//! the hub. Times are stored as RFC 3339 UTC text with milliseconds, which sorts correctly.

mod maintenance;
mod schema;
mod visits;

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

use crate::domain::invite::Rejection;
use crate::domain::visit::IllegalTransition;
use crate::domain::Timestamp;

pub use maintenance::{ExportRow, PurgeReport, RosterEntry};
pub use visits::{
    CheckInOutcome, HostRecord, InviteRecord, InviteSource, InviteUpsert, Presented, PrintJob,
    VisitRecord, WalkInOutcome,
};

/// Errors from the local store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create the data directory {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the disk holding the database is full; nothing was written")]
    DiskFull,
    #[error(
        "the database is newer (schema {found}) than this program understands (schema {supported})"
    )]
    TooNew { found: i64, supported: i64 },
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("the database holds a value this program cannot read: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error("{0}")]
    Rejected(Rejection),
    #[error("{0} not found")]
    NotFound(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            if f.code == rusqlite::ErrorCode::DiskFull {
                return StoreError::DiskFull;
            }
        }
        StoreError::Sqlite(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The open store. One per process; it is not shared between threads (open a second one
/// for a reader thread: WAL lets readers run beside the writer).
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// The file name of the database inside the data directory.
pub const DB_FILE: &str = "kiosk.sqlite3";

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        // journal_mode returns a row, so it is queried rather than executed.
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "database is not in WAL mode");
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
            .map_err(open_err)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Opens the store in a data directory, creating the directory if needed.
    pub fn open_in(data_dir: &Path) -> Result<Store> {
        if let Err(source) = std::fs::create_dir_all(data_dir) {
            return Err(StoreError::DataDir {
                path: data_dir.to_path_buf(),
                source,
            });
        }
        Store::open(&data_dir.join(DB_FILE))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<()> {
        let supported = schema::MIGRATIONS.len() as i64;
        let current = self.schema_version()?;
        if current > supported {
            return Err(StoreError::TooNew {
                found: current,
                supported,
            });
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
            tracing::info!(version = i + 1, "database migrated");
        }
        Ok(())
    }

    /// Runs SQLite's own consistency check; `Ok(())` when it reports "ok".
    pub fn integrity_check(&self) -> Result<(), String> {
        let rows: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut s| {
                s.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| e.to_string())?;
        if rows == ["ok"] {
            Ok(())
        } else {
            Err(rows.join("; "))
        }
    }

    fn write(&mut self) -> Result<Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// A key/value setting (device credential, hub public key, ...).
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_setting(&mut self, key: &str, value: &str, now: Timestamp) -> Result<()> {
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, value, ts(now)),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The sync position of a stream from the hub.
    pub fn sync_cursor(&self, stream: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT cursor FROM sync_cursors WHERE stream = ?1",
                [stream],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_sync_cursor(&mut self, stream: &str, cursor: &str, now: Timestamp) -> Result<()> {
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO sync_cursors (stream, cursor, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(stream) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            (stream, cursor, ts(now)),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records what a member of staff or IT did. `detail` must hold no visitor personal data.
    pub fn audit(&mut self, actor: &str, action: &str, detail: &str, now: Timestamp) -> Result<()> {
        let tx = self.write()?;
        audit_in(&tx, actor, action, detail, now)?;
        tx.commit()?;
        Ok(())
    }

    /// The latest audit entries, newest first: (time, actor, action, detail).
    pub fn audit_log(&self, limit: u32) -> Result<Vec<(Timestamp, String, String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT at, actor, action, detail FROM audit_log ORDER BY id DESC LIMIT ?1")?;
        let rows = stmt
            .query_map([limit], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(at, a, b, c)| Ok((parse_ts(&at)?, a, b, c)))
            .collect()
    }

    /// Outbox rows not yet acknowledged by the hub, oldest first: (event id, payload JSON).
    pub fn pending_outbox(&self, limit: u32) -> Result<Vec<(uuid::Uuid, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, payload FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
        rows.into_iter()
            .map(|(id, p)| Ok((parse_uuid(&id)?, p)))
            .collect()
    }

    /// Marks outbox rows as delivered to the hub.
    pub fn mark_outbox_sent(&mut self, ids: &[uuid::Uuid], now: Timestamp) -> Result<usize> {
        let tx = self.write()?;
        let mut n = 0;
        {
            let mut stmt =
                tx.prepare("UPDATE outbox SET sent_at = ?2 WHERE id = ?1 AND sent_at IS NULL")?;
            for id in ids {
                n += stmt.execute((id.to_string(), ts(now)))?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// How many outbox rows wait for the hub.
    pub fn outbox_backlog(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL",
            [],
            |r| r.get(0),
        )?)
    }
}

fn audit_in(
    tx: &Transaction<'_>,
    actor: &str,
    action: &str,
    detail: &str,
    now: Timestamp,
) -> Result<()> {
    tx.execute(
        "INSERT INTO audit_log (at, actor, action, detail) VALUES (?1, ?2, ?3, ?4)",
        (ts(now), actor, action, detail),
    )?;
    Ok(())
}

/// Formats a moment the way the database stores it.
pub fn ts(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> Result<Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time {s:?}: {e}")))
}

fn parse_opt_ts(s: Option<String>) -> Result<Option<Timestamp>> {
    s.as_deref().map(parse_ts).transpose()
}

fn parse_uuid(s: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("id {s:?}: {e}")))
}

#[cfg(test)]
mod tests;
