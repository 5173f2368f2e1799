//! The work-item database under `ivr serve`: an embedded SQLite file
//! (`$IVR_DATA_DIR/ivr.sqlite`), WAL mode, every write in one
//! `BEGIN IMMEDIATE` transaction, so concurrent writers — threads of one
//! server or several processes on the same file — are serialised by SQLite.
//!
//! An item is one row: the columns lists and constraints need, plus the
//! whole item as JSON. A partial unique index holds "at most one live
//! callback per queue and number" even if the code above it were wrong.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::store::{
    CancelOutcome, Created, IdempotencyKey, ListFilter, Page, StoreError, WorkStore,
};
use super::{NewCallback, Status, WorkItem};
use crate::recordings::PortError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS work_items (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    queue TEXT NOT NULL,
    to_number TEXT NOT NULL,
    place TEXT NOT NULL,
    item TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS work_items_by_place ON work_items (place);
CREATE UNIQUE INDEX IF NOT EXISTS work_items_one_live_callback
    ON work_items (queue, to_number)
    WHERE kind = 'callback' AND status IN ('pending', 'dialing');
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    item_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
";

pub struct SqliteWork {
    conn: Mutex<Connection>,
}

fn db(e: rusqlite::Error) -> PortError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            PortError::Transient(format!("sqlite: {e}"))
        }
        _ => PortError::Permanent(format!("sqlite: {e}")),
    }
}

fn decode(json: &str) -> Result<WorkItem, PortError> {
    serde_json::from_str(json)
        .map_err(|e| PortError::Permanent(format!("a stored item is unreadable: {e}")))
}

fn encode(item: &WorkItem) -> String {
    serde_json::to_string(item).expect("a work item serialises")
}

impl SqliteWork {
    /// Opens (creating if need be) the database file at `path`.
    pub fn open(path: &Path) -> Result<SqliteWork, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let conn = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Self::init(conn).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A private database in memory (unit tests).
    pub fn in_memory() -> SqliteWork {
        Self::init(Connection::open_in_memory().expect("sqlite in memory")).expect("schema")
    }

    fn init(conn: Connection) -> Result<SqliteWork, rusqlite::Error> {
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteWork {
            conn: Mutex::new(conn),
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }
}

fn load(conn: &Connection, id: &str) -> Result<Option<WorkItem>, PortError> {
    conn.query_row("SELECT item FROM work_items WHERE id = ?1", [id], |r| {
        r.get::<_, String>(0)
    })
    .optional()
    .map_err(db)?
    .map(|j| decode(&j))
    .transpose()
}

fn store(conn: &Connection, item: &WorkItem) -> Result<(), PortError> {
    conn.execute(
        "INSERT INTO work_items (id, kind, status, queue, to_number, place, item)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, item = excluded.item",
        params![
            item.id,
            item.kind.as_str(),
            item.status.as_str(),
            item.queue,
            item.to,
            item.place(),
            encode(item)
        ],
    )
    .map_err(db)?;
    Ok(())
}

impl WorkStore for SqliteWork {
    async fn create_callback(
        &self,
        new: &NewCallback,
        key: Option<&IdempotencyKey>,
        id: String,
        now: DateTime<Utc>,
    ) -> Result<Created, StoreError> {
        self.with(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            if let Some(k) = key {
                let seen: Option<(String, String)> = tx
                    .query_row(
                        "SELECT fingerprint, item_id FROM idempotency_keys WHERE key = ?1",
                        [&k.key],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(db)?;
                if let Some((fingerprint, item_id)) = seen {
                    if fingerprint != k.fingerprint {
                        return Err(StoreError::KeyReused);
                    }
                    let item = load(&tx, &item_id)?.ok_or_else(|| {
                        PortError::Permanent(format!("idempotency key names a missing item {item_id}"))
                    })?;
                    return Ok(Created::Existing(item));
                }
            }
            let live: Option<String> = tx
                .query_row(
                    "SELECT item FROM work_items WHERE kind = 'callback' AND queue = ?1 AND to_number = ?2
                     AND status IN ('pending', 'dialing')",
                    params![new.queue, new.to],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            let created = match live {
                Some(json) => {
                    let mut item = decode(&json)?;
                    if new.note.is_some() && new.note != item.note {
                        item.note = new.note.clone();
                        item.updated_at = now;
                        store(&tx, &item)?;
                    }
                    Created::Existing(item)
                }
                None => {
                    let item = new.item(id, now);
                    store(&tx, &item)?;
                    Created::New(item)
                }
            };
            if let Some(k) = key {
                tx.execute(
                    "INSERT INTO idempotency_keys (key, fingerprint, item_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![k.key, k.fingerprint, created.item().id, now.to_rfc3339()],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(created)
        })
    }

    async fn get(&self, id: &str) -> Result<Option<WorkItem>, PortError> {
        self.with(|conn| load(conn, id))
    }

    async fn list(
        &self,
        filter: ListFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, PortError> {
        self.with(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT item FROM work_items
                     WHERE place > ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR kind = ?3)
                     ORDER BY place LIMIT ?4",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(
                    params![
                        after.unwrap_or(""),
                        filter.status.map(Status::as_str),
                        filter.kind.map(|k| k.as_str()),
                        (limit + 1) as i64
                    ],
                    |r| r.get::<_, String>(0),
                )
                .map_err(db)?;
            let mut items = Vec::new();
            for row in rows {
                items.push(decode(&row.map_err(db)?)?);
            }
            Ok(Page::from_one_past(items, limit))
        })
    }

    async fn cancel(
        &self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<CancelOutcome, PortError> {
        self.with(|conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let Some(mut item) = load(&tx, id)? else {
                return Ok(CancelOutcome::NotFound);
            };
            if !item.status.is_live() {
                return Ok(CancelOutcome::Finished(item));
            }
            item.status = Status::Canceled;
            item.cancel_reason = Some(reason.to_string());
            item.retry_at = None;
            item.updated_at = now;
            store(&tx, &item)?;
            tx.commit().map_err(db)?;
            Ok(CancelOutcome::Canceled(item))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_holds_in_memory() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(crate::work::contract::run_all(|| async {
            SqliteWork::in_memory()
        }));
    }

    #[test]
    fn two_connections_to_one_file_create_one_item() {
        let dir = std::env::temp_dir().join(format!("ivr-sqlite-{}", crate::work::new_id()));
        let path = dir.join("ivr.sqlite");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .build()
            .unwrap();
        rt.block_on(crate::work::contract::one_item_from_concurrent_creates(
            &|| async { SqliteWork::open(&path).unwrap() },
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
