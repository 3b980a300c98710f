//! The embedded local store: one SQLite file in WAL mode that several processes may write at
//! once, read by the `fivelens` command (and, later, a local UI).
//!
//! Schema (version 1). Ids are lowercase hex; times are nanoseconds since the Unix epoch;
//! `attributes` is a JSON object, `events` and `links` JSON arrays.
//!
//! ```text
//! spans   one row per span; the GenAI columns (operation, model, tokens, cost, error) are
//!         copies of attributes, kept as columns so that summaries need no JSON parsing
//! traces  one row per trace, aggregated as spans arrive (spans of one trace may come from
//!         several processes)
//! metric_points  what each LLM metric series gained since the previous write (every 10 s and
//!         on flush), per process: summed, they are exact whatever was sampled or dropped
//! logs    one row per log record (the app's own, and LLM events), with its trace and span
//!         ids when it was logged inside one; deleted with its trace, or by age
//! meta    key/value: schema_version
//! ```
//!
//! Only the processing thread writes, so nothing here is on the caller's path.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::record::{SpanRecord, Status};
use crate::semconv;
use crate::value::ValueRef;

/// Schema version written in `meta`. Version 2 added exact costs (`cost_pusd`, pico-dollars)
/// and `metric_points`.
pub const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spans (
    id INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    parent_remote INTEGER NOT NULL DEFAULT 0,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    status_message TEXT,
    service_name TEXT,
    scope_name TEXT,
    operation TEXT,
    provider TEXT,
    model TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost_usd REAL,
    cost_pusd INTEGER,
    error_type TEXT,
    session_id TEXT,
    user_hash TEXT,
    attributes TEXT NOT NULL,
    events TEXT,
    links TEXT,
    resource TEXT,
    UNIQUE (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS spans_start ON spans (start_ns);
CREATE TABLE IF NOT EXISTS traces (
    trace_id TEXT PRIMARY KEY,
    root_span_id TEXT,
    root_name TEXT,
    root_rank INTEGER NOT NULL DEFAULT 0,
    service_name TEXT,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    span_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    cost_pusd INTEGER NOT NULL DEFAULT 0,
    session_id TEXT,
    user_hash TEXT
);
CREATE INDEX IF NOT EXISTS traces_start ON traces (start_ns);
CREATE TABLE IF NOT EXISTS metric_points (
    id INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    value REAL NOT NULL,
    int_value INTEGER NOT NULL,
    count INTEGER NOT NULL,
    buckets TEXT
);
CREATE INDEX IF NOT EXISTS metric_points_name ON metric_points (name, time_ns);
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    observed_ns INTEGER NOT NULL,
    trace_id TEXT,
    span_id TEXT,
    severity_number INTEGER NOT NULL,
    severity_text TEXT,
    event_name TEXT,
    body TEXT,
    scope_name TEXT,
    service_name TEXT,
    session_id TEXT,
    user_hash TEXT,
    attributes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_trace ON logs (trace_id, time_ns);
CREATE INDEX IF NOT EXISTS logs_time ON logs (time_ns);
";

/// Columns added after version 1 (applied to older files by `migrate`).
const MIGRATE_1_TO_2: &str = "
ALTER TABLE spans ADD COLUMN cost_pusd INTEGER;
ALTER TABLE traces ADD COLUMN cost_pusd INTEGER NOT NULL DEFAULT 0;
";

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("local store {path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: rusqlite::Error,
    },
    /// Filesystem failure.
    #[error("local store {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file was written by a newer fivelens.
    #[error("local store {path}: schema version {found} is newer than this fivelens understands ({SCHEMA_VERSION})")]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Version found.
        found: i64,
    },
}

/// Creates `dir` (and parents) readable by the owner only.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Retention settings.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// Delete traces that ended longer ago than this.
    pub max_age: Duration,
    /// Trim the oldest traces while the live data is larger than this.
    pub max_bytes: u64,
}

/// The writer's connection, behind the lock that the fork protocol takes.
///
/// A fork must not happen while a connection is open: the child would inherit SQLite's
/// per-process lock bookkeeping for the file (its inode table and shared-memory node), believe it
/// holds locks it does not, and could corrupt the store. The writer keeps its connection open
/// between batches (its page cache is what makes writes cheap), and the fork prepare handler
/// takes this lock, which waits for a write in progress, and closes the connection; the writer
/// reopens it on its next batch (see [`crate::fork`]).
pub(crate) type Slot = parking_lot::Mutex<Option<Connection>>;

/// Every live writer's slot, for the fork protocol.
pub(crate) static SLOTS: parking_lot::Mutex<Vec<std::sync::Weak<Slot>>> =
    parking_lot::Mutex::new(Vec::new());

/// The writer side, owned by the processing thread; a batch is one transaction.
pub struct Store {
    path: PathBuf,
    retention: Retention,
    last_retention: Option<Instant>,
    slot: std::sync::Arc<Slot>,
}

const RETENTION_INTERVAL: Duration = Duration::from_secs(300);

impl Store {
    /// Opens (creating with owner-only permissions when missing) the store at `path` and checks
    /// that it is usable.
    pub fn open(path: &Path, retention: Retention) -> Result<Store, StoreError> {
        let conn = open_connection(path, true)?;
        migrate(&conn, path)?;
        let slot = std::sync::Arc::new(parking_lot::Mutex::new(Some(conn)));
        let mut slots = SLOTS.lock();
        slots.retain(|w| w.strong_count() > 0);
        slots.push(std::sync::Arc::downgrade(&slot));
        Ok(Store {
            path: path.to_path_buf(),
            retention,
            last_retention: None,
            slot,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with_conn<T>(
        &mut self,
        f: impl FnOnce(&mut Self, &mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let slot = self.slot.clone();
        let mut guard = slot.lock();
        if guard.is_none() {
            *guard = Some(open_connection(&self.path, true)?);
        }
        match guard.as_mut() {
            Some(conn) => f(self, conn),
            None => Err(StoreError::Io {
                path: self.path.clone(),
                source: std::io::Error::other("no connection"),
            }),
        }
    }

    /// Writes finished, finalized records in one transaction; returns how many were new (a
    /// span already stored, from a retried batch, is not counted twice).
    pub fn write(
        &mut self,
        records: &[&SpanRecord],
        service_name: &str,
        resource_json: &str,
    ) -> Result<usize, StoreError> {
        self.with_conn(|store, conn| {
            write_records(conn, &store.path, records, service_name, resource_json)
        })
    }

    /// Appends metric deltas.
    pub fn write_metrics(
        &mut self,
        points: &[crate::metrics::StorePoint],
    ) -> Result<(), StoreError> {
        if points.is_empty() {
            return Ok(());
        }
        let now = crate::record::now_ns();
        self.with_conn(|store, conn| write_metric_points(conn, &store.path, points, now))
    }

    /// Appends processed log records in one transaction; returns how many.
    pub fn write_logs(
        &mut self,
        records: &[&crate::logs::LogRecord],
        service_name: &str,
    ) -> Result<usize, StoreError> {
        self.with_conn(|store, conn| write_log_records(conn, &store.path, records, service_name))
    }

    /// Applies retention when it is due (every few minutes, and on the first call).
    pub fn maybe_apply_retention(&mut self) -> Result<u64, StoreError> {
        if self
            .last_retention
            .is_some_and(|t| t.elapsed() < RETENTION_INTERVAL)
        {
            return Ok(0);
        }
        self.last_retention = Some(Instant::now());
        self.apply_retention(crate::record::now_ns())
    }

    /// Deletes traces older than the age bound, then the oldest traces while over the size
    /// bound; returns the number of traces deleted.
    pub fn apply_retention(&mut self, now_ns: u64) -> Result<u64, StoreError> {
        let retention = self.retention;
        self.with_conn(|store, conn| apply_retention(conn, &store.path, retention, now_ns))
    }

    #[cfg(test)]
    fn used_bytes(&mut self) -> Result<u64, StoreError> {
        self.with_conn(|store, conn| used_bytes(conn, &store.path))
    }
}

fn write_records(
    conn: &mut Connection,
    path: &Path,
    records: &[&SpanRecord],
    service_name: &str,
    resource_json: &str,
) -> Result<usize, StoreError> {
    let err = |e| StoreError::Sqlite {
        path: path.to_path_buf(),
        source: e,
    };
    let tx = conn.transaction().map_err(err)?;
    let mut traces: FxHashMap<String, TraceAgg> = FxHashMap::default();
    let mut inserted = 0usize;
    {
        let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, parent_remote, name, kind,
                        start_ns, end_ns, duration_ns, status_code, status_message, service_name, scope_name,
                        operation, provider, model, input_tokens, output_tokens, cost_usd, error_type,
                        session_id, user_hash, attributes, events, links, resource, cost_pusd)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                        ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
                )
                .map_err(err)?;
        for r in records {
            let trace_id = r.trace_id.to_hex();
            let parent = r
                .parent_span_id
                .is_valid()
                .then(|| r.parent_span_id.to_hex());
            let input_tokens = int_attr(r, semconv::GEN_AI_USAGE_INPUT_TOKENS);
            let output_tokens = int_attr(r, semconv::GEN_AI_USAGE_OUTPUT_TOKENS);
            let cost = float_attr(r, semconv::FIVELENS_COST_USD);
            let status_message = match &r.status {
                Status::Error(m) => Some(m.to_string()),
                _ => None,
            };
            let attributes = serde_json::Value::Object(
                r.payload
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.to_json()))
                    .collect(),
            )
            .to_string();
            let events = (!r.events.is_empty()).then(|| {
                    serde_json::Value::Array(
                        r.events
                            .iter()
                            .map(|e| {
                                serde_json::json!({
                                    "name": e.name.as_ref(),
                                    "time_ns": e.time_ns,
                                    "attributes": serde_json::Value::Object(e.attributes.iter().map(|(k, v)| (k.as_str().to_string(), v.to_json())).collect()),
                                })
                            })
                            .collect(),
                    )
                    .to_string()
                });
            let links = (!r.links.is_empty()).then(|| {
                    serde_json::Value::Array(
                        r.links
                            .iter()
                            .map(|l| {
                                serde_json::json!({
                                    "trace_id": l.trace_id.to_hex(),
                                    "span_id": l.span_id.to_hex(),
                                    "attributes": serde_json::Value::Object(l.attributes.iter().map(|(k, v)| (k.as_str().to_string(), v.to_json())).collect()),
                                })
                            })
                            .collect(),
                    )
                    .to_string()
                });
            let changed = insert
                .execute(params![
                    trace_id,
                    r.span_id.to_hex(),
                    parent,
                    r.parent_remote as i64,
                    r.name(),
                    r.kind.as_str(),
                    r.start_ns as i64,
                    r.end_ns as i64,
                    r.end_ns.saturating_sub(r.start_ns) as i64,
                    r.status.code(),
                    status_message,
                    service_name,
                    r.instrumentation
                        .as_ref()
                        .map(|k| k.as_str())
                        .unwrap_or("fivelens"),
                    str_attr(r, semconv::GEN_AI_OPERATION_NAME),
                    str_attr(r, semconv::GEN_AI_PROVIDER_NAME),
                    str_attr(r, semconv::GEN_AI_REQUEST_MODEL),
                    input_tokens,
                    output_tokens,
                    cost,
                    str_attr(r, semconv::ERROR_TYPE),
                    str_attr(r, semconv::SESSION_ID),
                    str_attr(r, semconv::USER_HASH),
                    attributes,
                    events,
                    links,
                    resource_json,
                    r.cost_pico.map(|c| c.min(i64::MAX as u64) as i64),
                ])
                .map_err(err)?;
            if changed == 0 {
                continue;
            }
            inserted += 1;
            let agg = traces.entry(trace_id).or_insert_with(|| TraceAgg {
                start_ns: r.start_ns,
                end_ns: r.end_ns,
                ..TraceAgg::default()
            });
            agg.add(r, input_tokens, output_tokens);
        }
        let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO traces (trace_id, root_span_id, root_name, root_rank, service_name, start_ns, end_ns,
                        span_count, error_count, input_tokens, output_tokens, cost_usd, session_id, user_hash, cost_pusd)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                     ON CONFLICT (trace_id) DO UPDATE SET
                        root_span_id = CASE WHEN excluded.root_rank > traces.root_rank THEN excluded.root_span_id ELSE traces.root_span_id END,
                        root_name = CASE WHEN excluded.root_rank > traces.root_rank THEN excluded.root_name ELSE traces.root_name END,
                        service_name = CASE WHEN excluded.root_rank > traces.root_rank THEN excluded.service_name ELSE traces.service_name END,
                        root_rank = max(traces.root_rank, excluded.root_rank),
                        start_ns = min(traces.start_ns, excluded.start_ns),
                        end_ns = max(traces.end_ns, excluded.end_ns),
                        span_count = traces.span_count + excluded.span_count,
                        error_count = traces.error_count + excluded.error_count,
                        input_tokens = traces.input_tokens + excluded.input_tokens,
                        output_tokens = traces.output_tokens + excluded.output_tokens,
                        cost_pusd = traces.cost_pusd + excluded.cost_pusd,
                        cost_usd = (traces.cost_pusd + excluded.cost_pusd) / 1e12,
                        session_id = coalesce(traces.session_id, excluded.session_id),
                        user_hash = coalesce(traces.user_hash, excluded.user_hash)",
                )
                .map_err(err)?;
        for (trace_id, a) in &traces {
            upsert
                .execute(params![
                    trace_id,
                    a.root_span_id,
                    a.root_name,
                    a.root_rank,
                    service_name,
                    a.start_ns as i64,
                    a.end_ns as i64,
                    a.spans,
                    a.errors,
                    a.input_tokens,
                    a.output_tokens,
                    a.cost_pico as f64 / 1e12,
                    a.session_id,
                    a.user_hash,
                    a.cost_pico.min(i64::MAX as u128) as i64,
                ])
                .map_err(err)?;
        }
    }
    tx.commit().map_err(err)?;
    Ok(inserted)
}

fn apply_retention(
    conn: &mut Connection,
    path: &Path,
    retention: Retention,
    now_ns: u64,
) -> Result<u64, StoreError> {
    let sql = |e| StoreError::Sqlite {
        path: path.to_path_buf(),
        source: e,
    };
    let cutoff = now_ns.saturating_sub(retention.max_age.as_nanos() as u64) as i64;
    conn.execute(
        "DELETE FROM metric_points WHERE time_ns < ?1",
        params![cutoff],
    )
    .map_err(sql)?;
    // Log records go with their trace (below) or, outside any, by age.
    let logs_deleted = conn
        .execute("DELETE FROM logs WHERE time_ns < ?1", params![cutoff])
        .map_err(sql)?;
    let mut deleted = delete_where(conn, path, "end_ns < ?1", cutoff)?;
    for _ in 0..1000 {
        if used_bytes(conn, path)? <= retention.max_bytes {
            break;
        }
        // The oldest 5% (at least one trace) per round.
        let total: i64 = conn
            .query_row("SELECT count(*) FROM traces", [], |r| r.get(0))
            .map_err(sql)?;
        if total == 0 {
            // Only records outside any trace left: the oldest 5% of them.
            let n = conn
                .execute(
                    "DELETE FROM logs WHERE id IN (SELECT id FROM logs ORDER BY time_ns
                        LIMIT max(1, (SELECT count(*) FROM logs) / 20))",
                    [],
                )
                .map_err(sql)?;
            if n == 0 {
                break;
            }
            continue;
        }
        let n = (total / 20).max(1);
        let boundary: i64 = conn
            .query_row(
                "SELECT start_ns FROM traces ORDER BY start_ns LIMIT 1 OFFSET ?1",
                params![n - 1],
                |r| r.get(0),
            )
            .map_err(sql)?;
        let d = delete_where(conn, path, "start_ns <= ?1", boundary)?;
        conn.execute(
            "DELETE FROM logs WHERE time_ns <= ?1 AND trace_id IS NULL",
            params![boundary],
        )
        .map_err(sql)?;
        deleted += d;
        if d == 0 {
            break;
        }
    }
    if deleted > 0 || logs_deleted > 0 {
        conn.execute_batch("PRAGMA incremental_vacuum;")
            .map_err(sql)?;
    }
    Ok(deleted)
}

fn delete_where(
    conn: &mut Connection,
    path: &Path,
    condition: &str,
    value: i64,
) -> Result<u64, StoreError> {
    let err = |e| StoreError::Sqlite {
        path: path.to_path_buf(),
        source: e,
    };
    let tx = conn.transaction().map_err(err)?;
    tx.execute(
        &format!(
            "DELETE FROM spans WHERE trace_id IN (SELECT trace_id FROM traces WHERE {condition})"
        ),
        params![value],
    )
    .map_err(err)?;
    tx.execute(
        &format!(
            "DELETE FROM logs WHERE trace_id IN (SELECT trace_id FROM traces WHERE {condition})"
        ),
        params![value],
    )
    .map_err(err)?;
    let n = tx
        .execute(
            &format!("DELETE FROM traces WHERE {condition}"),
            params![value],
        )
        .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(n as u64)
}

fn used_bytes(conn: &Connection, path: &Path) -> Result<u64, StoreError> {
    let sql = |e| StoreError::Sqlite {
        path: path.to_path_buf(),
        source: e,
    };
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(sql)?;
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(sql)?;
    let free: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .map_err(sql)?;
    Ok(((pages - free).max(0) * page_size) as u64)
}

fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let sql = |e| StoreError::Sqlite {
        path: path.to_path_buf(),
        source: e,
    };
    conn.execute_batch(SCHEMA).map_err(sql)?;
    let found: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql)?;
    match found.and_then(|v| v.parse::<i64>().ok()) {
        Some(v) if v > SCHEMA_VERSION => Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: v,
        }),
        Some(v) if v == SCHEMA_VERSION => Ok(()),
        Some(v) => {
            if v < 2 {
                conn.execute_batch(MIGRATE_1_TO_2).map_err(sql)?;
            }
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
                params![SCHEMA_VERSION.to_string()],
            )
            .map_err(sql)?;
            Ok(())
        }
        None => {
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
                params![SCHEMA_VERSION.to_string()],
            )
            .map_err(sql)?;
            Ok(())
        }
    }
}

fn write_log_records(
    conn: &mut Connection,
    path: &Path,
    records: &[&crate::logs::LogRecord],
    service_name: &str,
) -> Result<usize, StoreError> {
    let err = |e| StoreError::Sqlite {
        path: path.to_path_buf(),
        source: e,
    };
    let tx = conn.transaction().map_err(err)?;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO logs (time_ns, observed_ns, trace_id, span_id, severity_number, severity_text,
                    event_name, body, scope_name, service_name, session_id, user_hash, attributes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .map_err(err)?;
        for r in records {
            let text = |key: &str| match r.attribute(key) {
                Some(crate::value::Value::Str(s)) => Some(s.to_string()),
                _ => None,
            };
            let attributes = serde_json::Value::Object(
                r.attributes
                    .iter()
                    .map(|(k, v)| {
                        let json =
                            crate::logs::structured(k.as_str(), v).unwrap_or_else(|| v.to_json());
                        (k.as_str().to_string(), json)
                    })
                    .collect(),
            )
            .to_string();
            insert
                .execute(params![
                    r.time_ns as i64,
                    r.observed_ns as i64,
                    r.trace_id.is_valid().then(|| r.trace_id.to_hex()),
                    r.span_id.is_valid().then(|| r.span_id.to_hex()),
                    i64::from(r.severity),
                    &*r.severity_text,
                    r.event_name.as_deref(),
                    &*r.body,
                    r.scope.as_ref().map(|k| k.as_str()),
                    service_name,
                    text(semconv::SESSION_ID),
                    text(semconv::USER_HASH),
                    attributes,
                ])
                .map_err(err)?;
        }
    }
    tx.commit().map_err(err)?;
    Ok(records.len())
}

/// Appends metric deltas (one row per series and interval; rows from several processes add up).
fn write_metric_points(
    conn: &mut Connection,
    path: &Path,
    points: &[crate::metrics::StorePoint],
    now_ns: u64,
) -> Result<(), StoreError> {
    let err = |e| StoreError::Sqlite {
        path: path.to_path_buf(),
        source: e,
    };
    let tx = conn.transaction().map_err(err)?;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO metric_points (time_ns, pid, name, attributes, value, int_value, count, buckets)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(err)?;
        for p in points {
            insert
                .execute(params![
                    now_ns as i64,
                    i64::from(std::process::id()),
                    p.name,
                    p.attributes,
                    p.value,
                    p.int_value,
                    p.count,
                    p.buckets
                ])
                .map_err(err)?;
        }
    }
    tx.commit().map_err(err)
}

#[derive(Default)]
struct TraceAgg {
    root_span_id: Option<String>,
    root_name: Option<String>,
    root_rank: i64,
    start_ns: u64,
    end_ns: u64,
    spans: i64,
    errors: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost_pico: u128,
    session_id: Option<String>,
    user_hash: Option<String>,
}

impl TraceAgg {
    fn add(&mut self, r: &SpanRecord, input: Option<i64>, output: Option<i64>) {
        // A span without a parent is the trace's root (rank 2); one whose parent is in another
        // process is this process's entry point (rank 1), shown until the real root arrives.
        let rank = if !r.parent_span_id.is_valid() {
            2
        } else if r.parent_remote {
            1
        } else {
            0
        };
        if rank > self.root_rank
            || (rank == self.root_rank && rank > 0 && r.start_ns < self.start_ns)
        {
            self.root_rank = rank;
            self.root_span_id = Some(r.span_id.to_hex());
            self.root_name = Some(r.name().to_string());
        }
        self.start_ns = self.start_ns.min(r.start_ns);
        self.end_ns = self.end_ns.max(r.end_ns);
        self.spans += 1;
        if matches!(r.status, Status::Error(_)) {
            self.errors += 1;
        }
        self.input_tokens += input.unwrap_or(0);
        self.output_tokens += output.unwrap_or(0);
        self.cost_pico += u128::from(r.cost_pico.unwrap_or(0));
        if self.session_id.is_none() {
            self.session_id = str_attr(r, semconv::SESSION_ID).map(str::to_string);
        }
        if self.user_hash.is_none() {
            self.user_hash = str_attr(r, semconv::USER_HASH).map(str::to_string);
        }
    }
}

fn str_attr<'a>(r: &'a SpanRecord, key: &str) -> Option<&'a str> {
    match r.attribute(key) {
        Some(ValueRef::Str(s)) => Some(s),
        _ => None,
    }
}

fn int_attr(r: &SpanRecord, key: &str) -> Option<i64> {
    match r.attribute(key) {
        Some(ValueRef::I64(i)) => Some(i),
        Some(ValueRef::F64(f)) => Some(f as i64),
        _ => None,
    }
}

fn float_attr(r: &SpanRecord, key: &str) -> Option<f64> {
    match r.attribute(key) {
        Some(ValueRef::F64(f)) => Some(f),
        Some(ValueRef::I64(i)) => Some(i as f64),
        _ => None,
    }
}

fn open_connection(path: &Path, create: bool) -> Result<Connection, StoreError> {
    let io = |e| StoreError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    if create {
        if let Some(dir) = path.parent() {
            create_private_dir(dir).map_err(io)?;
        }
        if !path.exists() {
            // Create the file ourselves so that it is owner-only from the first byte; SQLite
            // gives the -wal and -shm files the same permissions.
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(false);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            opts.open(path).map_err(io)?;
        }
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let sql = |e| StoreError::Sqlite {
        path: path.to_path_buf(),
        source: e,
    };
    let conn = Connection::open_with_flags(path, flags).map_err(sql)?;
    // Closing must be quick (the fork protocol closes the writer's connection): no checkpoint
    // on close; SQLite's automatic checkpoints (every 1000 pages) keep the WAL short.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .map_err(sql)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
    // auto_vacuum must be chosen before the first table exists; harmless afterwards.
    conn.execute_batch(
        "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384;",
    )
    .map_err(sql)?;
    Ok(conn)
}

// ---- reading, for the CLI -------------------------------------------------------------------

/// One row of `fivelens traces`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TraceSummary {
    /// Trace id.
    pub trace_id: String,
    /// Root span name (or this process's entry point while the root is elsewhere).
    pub root_name: Option<String>,
    /// `service.name` of the root.
    pub service_name: Option<String>,
    /// Start, ns since the epoch.
    pub start_ns: i64,
    /// End, ns since the epoch.
    pub end_ns: i64,
    /// Duration, ns.
    pub duration_ns: i64,
    /// Spans stored.
    pub span_count: i64,
    /// Spans with status ERROR.
    pub error_count: i64,
    /// `OK` or `ERROR`.
    pub status: String,
    /// Input tokens over the trace.
    pub input_tokens: i64,
    /// Output tokens over the trace.
    pub output_tokens: i64,
    /// Cost in USD over the trace.
    pub cost_usd: f64,
    /// Session id.
    pub session_id: Option<String>,
}

/// One span as read back.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StoredSpan {
    /// Trace id.
    pub trace_id: String,
    /// Span id.
    pub span_id: String,
    /// Parent span id.
    pub parent_span_id: Option<String>,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Start.
    pub start_ns: i64,
    /// End.
    pub end_ns: i64,
    /// Duration.
    pub duration_ns: i64,
    /// `UNSET`, `OK`, `ERROR`.
    pub status: String,
    /// Error description.
    pub status_message: Option<String>,
    /// Service.
    pub service_name: Option<String>,
    /// Instrumentation scope.
    pub scope_name: Option<String>,
    /// Attributes.
    pub attributes: serde_json::Value,
    /// Events.
    pub events: serde_json::Value,
    /// Links.
    pub links: serde_json::Value,
}

/// One log record as read back (the `--json` shape of `fivelens logs`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StoredLog {
    /// Time, ns since the epoch.
    pub time_ns: i64,
    /// Trace id, when logged inside one.
    pub trace_id: Option<String>,
    /// Span id, when logged inside one.
    pub span_id: Option<String>,
    /// OpenTelemetry severity number.
    pub severity_number: i64,
    /// Level name as logged.
    pub severity_text: Option<String>,
    /// Event name, for event records.
    pub event_name: Option<String>,
    /// The message.
    pub body: Option<String>,
    /// Instrumentation scope (the logger's name).
    pub scope_name: Option<String>,
    /// Service.
    pub service_name: Option<String>,
    /// Attributes.
    pub attributes: serde_json::Value,
}

/// Read access to a store file.
pub struct Reader {
    conn: Connection,
    path: PathBuf,
}

impl Reader {
    /// Opens an existing store; `Ok(None)` when there is no file yet.
    pub fn open(path: &Path) -> Result<Option<Reader>, StoreError> {
        if !path.exists() {
            return Ok(None);
        }
        let conn = open_connection(path, false)?;
        conn.execute_batch(SCHEMA).map_err(|e| StoreError::Sqlite {
            path: path.to_path_buf(),
            source: e,
        })?;
        Ok(Some(Reader {
            conn,
            path: path.to_path_buf(),
        }))
    }

    fn sql(&self, e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        }
    }

    /// The most recent traces, newest first.
    pub fn traces(&self, limit: usize) -> Result<Vec<TraceSummary>, StoreError> {
        self.summaries("ORDER BY start_ns DESC LIMIT ?1", limit as i64)
    }

    fn summaries(
        &self,
        tail: &str,
        arg: impl rusqlite::ToSql,
    ) -> Result<Vec<TraceSummary>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT trace_id, root_name, service_name, start_ns, end_ns, span_count, error_count,
                        input_tokens, output_tokens, cost_usd, session_id FROM traces {tail}"
            ))
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![arg], |r| {
                let start: i64 = r.get(3)?;
                let end: i64 = r.get(4)?;
                let errors: i64 = r.get(6)?;
                Ok(TraceSummary {
                    trace_id: r.get(0)?,
                    root_name: r.get(1)?,
                    service_name: r.get(2)?,
                    start_ns: start,
                    end_ns: end,
                    duration_ns: end - start,
                    span_count: r.get(5)?,
                    error_count: errors,
                    status: if errors > 0 { "ERROR" } else { "OK" }.to_string(),
                    input_tokens: r.get(7)?,
                    output_tokens: r.get(8)?,
                    cost_usd: r.get(9)?,
                    session_id: r.get(10)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// Resolves a trace id or a unique prefix of at least 4 hex digits.
    pub fn resolve_trace_id(&self, id_or_prefix: &str) -> Result<Vec<String>, StoreError> {
        let p = id_or_prefix.trim().to_ascii_lowercase();
        if p.len() < 4 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT trace_id FROM traces WHERE trace_id >= ?1 AND trace_id < ?2 LIMIT 5")
            .map_err(|e| self.sql(e))?;
        let upper = format!("{p}g");
        let rows = stmt
            .query_map(params![p, upper], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// The summary of one trace.
    pub fn trace(&self, trace_id: &str) -> Result<Option<TraceSummary>, StoreError> {
        Ok(self
            .summaries("WHERE trace_id = ?1", trace_id)?
            .into_iter()
            .next())
    }

    /// All spans of a trace, by start time.
    pub fn spans(&self, trace_id: &str) -> Result<Vec<StoredSpan>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, duration_ns, status_code,
                        status_message, service_name, scope_name, attributes, events, links
                 FROM spans WHERE trace_id = ?1 ORDER BY start_ns, id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![trace_id], |r| {
                let parse = |s: Option<String>, empty: serde_json::Value| {
                    s.and_then(|s| serde_json::from_str(&s).ok())
                        .unwrap_or(empty)
                };
                let code: i64 = r.get(8)?;
                Ok(StoredSpan {
                    trace_id: r.get(0)?,
                    span_id: r.get(1)?,
                    parent_span_id: r.get(2)?,
                    name: r.get(3)?,
                    kind: r.get(4)?,
                    start_ns: r.get(5)?,
                    end_ns: r.get(6)?,
                    duration_ns: r.get(7)?,
                    status: match code {
                        1 => "OK",
                        2 => "ERROR",
                        _ => "UNSET",
                    }
                    .to_string(),
                    status_message: r.get(9)?,
                    service_name: r.get(10)?,
                    scope_name: r.get(11)?,
                    attributes: parse(r.get(12)?, serde_json::json!({})),
                    events: parse(r.get(13)?, serde_json::json!([])),
                    links: parse(r.get(14)?, serde_json::json!([])),
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// The log records of a trace in time order, or (with `None`) the latest `limit` records of
    /// any trace, oldest first.
    pub fn logs(&self, trace_id: Option<&str>, limit: usize) -> Result<Vec<StoredLog>, StoreError> {
        let columns =
            "time_ns, trace_id, span_id, severity_number, severity_text, event_name, body,
                       scope_name, service_name, attributes";
        let sql = match trace_id {
            Some(_) => format!("SELECT {columns} FROM logs WHERE trace_id = ?1 ORDER BY time_ns, id"),
            None => format!(
                "SELECT * FROM (SELECT {columns}, id FROM logs ORDER BY time_ns DESC, id DESC LIMIT ?1)
                 ORDER BY time_ns, id"
            ),
        };
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.sql(e))?;
        let map = |r: &rusqlite::Row<'_>| {
            let attributes: String = r.get(9)?;
            Ok(StoredLog {
                time_ns: r.get(0)?,
                trace_id: r.get(1)?,
                span_id: r.get(2)?,
                severity_number: r.get(3)?,
                severity_text: r.get(4)?,
                event_name: r.get(5)?,
                body: r.get(6)?,
                scope_name: r.get(7)?,
                service_name: r.get(8)?,
                attributes: serde_json::from_str(&attributes).unwrap_or(serde_json::json!({})),
            })
        };
        let rows = match trace_id {
            Some(t) => stmt.query_map(params![t], map),
            None => stmt.query_map(params![limit as i64], map),
        }
        .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// Resolves a trace id (or a unique prefix of at least 4 hex digits) among the traces and
    /// the log records (a trace sampled out can still have records).
    pub fn resolve_log_trace_id(&self, id_or_prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut ids = self.resolve_trace_id(id_or_prefix)?;
        let p = id_or_prefix.trim().to_ascii_lowercase();
        if p.len() < 4 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(ids);
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT DISTINCT trace_id FROM logs WHERE trace_id >= ?1 AND trace_id < ?2 LIMIT 5",
            )
            .map_err(|e| self.sql(e))?;
        let upper = format!("{p}g");
        let rows = stmt
            .query_map(params![p, upper], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?;
        for id in rows {
            let id = id.map_err(|e| self.sql(e))?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Totals and per-model figures over the store.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let (traces, errors): (i64, i64) = self
            .conn
            .query_row(
                "SELECT count(*), coalesce(sum(error_count > 0), 0) FROM traces",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.sql(e))?;
        let (spans, first, last): (i64, Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT count(*), min(start_ns), max(end_ns) FROM spans",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| self.sql(e))?;
        let llm = self.llm_stats()?;
        let sessions = self.sessions_nearest_exhaustion(SESSIONS_LISTED)?;
        Ok(StoreStats {
            path: self.path.display().to_string(),
            traces,
            traces_with_errors: errors,
            spans,
            first_start_ns: first,
            last_end_ns: last,
            models: llm.models,
            stages: llm.stages,
            prompts: llm.prompts,
            sessions,
            warnings: llm.warnings,
        })
    }

    /// The conversations whose context window is fullest, from the latest stored model call of
    /// each (`gen_ai.conversation.id`, else `session.id`, else the trace, as the processing
    /// thread keys them); fullest first.
    pub fn sessions_nearest_exhaustion(
        &self,
        limit: usize,
    ) -> Result<Vec<SessionStats>, StoreError> {
        let attr = |name: &str| format!("json_extract(attributes, '$.\"{name}\"')");
        let key = format!(
            "coalesce({}, {}, trace_id)",
            attr(semconv::GEN_AI_CONVERSATION_ID),
            attr(semconv::SESSION_ID)
        );
        let sql = format!(
            "SELECT k, provider, model, fill, tokens, ctx_window, turn, rate, turns_left, end_ns FROM (
                SELECT {key} AS k, provider, model, {fill} AS fill, {tokens} AS tokens,
                    {window} AS ctx_window, {turn} AS turn, {rate} AS rate, {left} AS turns_left,
                    end_ns, row_number() OVER (PARTITION BY {key} ORDER BY end_ns DESC) AS rn
                FROM spans WHERE {fill} IS NOT NULL
             ) WHERE rn = 1 ORDER BY fill DESC, end_ns DESC LIMIT ?1",
            fill = attr(semconv::FIVELENS_CONTEXT_FILL),
            tokens = attr(semconv::FIVELENS_CONTEXT_INPUT_TOKENS),
            window = attr(semconv::FIVELENS_CONTEXT_WINDOW),
            turn = attr(semconv::FIVELENS_CONTEXT_TURN),
            rate = attr(semconv::FIVELENS_CONTEXT_GROWTH_RATE),
            left = attr(semconv::FIVELENS_CONTEXT_TURNS_LEFT),
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![limit as i64], |r| {
                Ok(SessionStats {
                    session: r.get(0)?,
                    provider: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    model: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    fill: r.get(3)?,
                    input_tokens: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                    context_window: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
                    turn: r.get::<_, Option<i64>>(6)?.unwrap_or(0),
                    growth_rate: r.get(7)?,
                    turns_left: r.get(8)?,
                    last_ns: r.get(9)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// Model-call figures from the stored metric points (exact: metrics count every call,
    /// sampled or not).
    fn llm_stats(&self) -> Result<LlmStats, StoreError> {
        use crate::metrics::quantile;
        use std::collections::BTreeMap;

        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, attributes, int_value, count, buckets FROM metric_points
                 WHERE name IN (?1, ?2, ?3, ?4)",
            )
            .map_err(|e| self.sql(e))?;
        type Row = (String, String, i64, i64, Option<String>);
        let rows: Vec<Row> = stmt
            .query_map(
                params![
                    semconv::METRIC_OPERATION_DURATION,
                    semconv::METRIC_TOKENS,
                    semconv::METRIC_COST,
                    semconv::METRIC_FINISH_REASONS
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;

        #[derive(Default)]
        struct Acc {
            calls: i64,
            errors: i64,
            fine: Vec<u64>,
            tokens: BTreeMap<String, i128>,
            cost_pico: i128,
            finish: BTreeMap<String, i64>,
        }
        let mut models: BTreeMap<(String, String), Acc> = BTreeMap::new();
        let mut stages: BTreeMap<String, Acc> = BTreeMap::new();
        let mut prompts: BTreeMap<String, Acc> = BTreeMap::new();
        for (name, attributes, int_value, count, buckets) in rows {
            let labels: BTreeMap<String, String> =
                serde_json::from_str(&attributes).unwrap_or_default();
            let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
            let model = labels
                .get(semconv::GEN_AI_REQUEST_MODEL)
                .or_else(|| labels.get(semconv::GEN_AI_RESPONSE_MODEL))
                .cloned()
                .unwrap_or_default();
            let key = (label(semconv::GEN_AI_PROVIDER_NAME), model);
            match name.as_str() {
                semconv::METRIC_OPERATION_DURATION => {
                    let acc = models.entry(key).or_default();
                    acc.calls += count;
                    if labels.contains_key(semconv::ERROR_TYPE) {
                        acc.errors += count;
                    }
                    let fine: Vec<u64> = buckets
                        .and_then(|b| serde_json::from_str(&b).ok())
                        .unwrap_or_default();
                    if acc.fine.len() < fine.len() {
                        acc.fine.resize(fine.len(), 0);
                    }
                    for (slot, c) in acc.fine.iter_mut().zip(fine) {
                        *slot += c;
                    }
                }
                semconv::METRIC_TOKENS | semconv::METRIC_COST => {
                    let groups = [
                        Some(models.entry(key).or_default()),
                        labels
                            .get(semconv::FIVELENS_STAGE)
                            .map(|s| stages.entry(s.clone()).or_default()),
                    ];
                    let prompt = labels
                        .get(semconv::FIVELENS_PROMPT_HASH)
                        .map(|p| prompts.entry(p.clone()).or_default());
                    for acc in groups.into_iter().flatten().chain(prompt) {
                        if name == semconv::METRIC_COST {
                            acc.cost_pico += i128::from(int_value);
                        } else {
                            *acc.tokens
                                .entry(label(semconv::FIVELENS_TOKEN_TYPE))
                                .or_default() += i128::from(int_value);
                        }
                    }
                }
                _ => {
                    *models
                        .entry(key)
                        .or_default()
                        .finish
                        .entry(label(semconv::FIVELENS_FINISH_REASON))
                        .or_default() += int_value;
                }
            }
        }

        let tokens = |acc: &Acc, ty: &str| acc.tokens.get(ty).copied().unwrap_or(0) as i64;
        let usd = |pico: i128| pico as f64 / 1e12;
        let mut warnings = Vec::new();
        let mut out_models = Vec::new();
        for ((provider, model), acc) in &models {
            let ended: i64 = acc.finish.values().sum();
            let limit: i64 = acc
                .finish
                .iter()
                .filter(|(r, _)| TOKEN_LIMIT_REASONS.contains(&r.as_str()))
                .map(|(_, n)| n)
                .sum();
            let share = if ended > 0 {
                limit as f64 / ended as f64
            } else {
                0.0
            };
            if share > TOKEN_LIMIT_WARNING {
                warnings.push(format!(
                    "{model}: {:.1}% of calls ({limit} of {ended}) ended on the token limit; raise max_tokens or ask for shorter answers",
                    share * 100.0
                ));
            }
            let q = |p: f64| quantile(&acc.fine, p).map(|s| s * 1000.0);
            out_models.push(ModelStats {
                provider: provider.clone(),
                model: model.clone(),
                calls: acc.calls,
                errors: acc.errors,
                input_tokens: tokens(acc, "input"),
                output_tokens: tokens(acc, "output"),
                cache_read_tokens: tokens(acc, "cache_read"),
                cache_write_tokens: tokens(acc, "cache_write"),
                reasoning_tokens: tokens(acc, "reasoning"),
                cost_usd: usd(acc.cost_pico),
                p50_ms: q(0.50),
                p95_ms: q(0.95),
                p99_ms: q(0.99),
                finish_reasons: acc.finish.clone(),
                token_limit_share: share,
            });
        }
        out_models.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.model.cmp(&b.model)));
        let groups = |map: &BTreeMap<String, Acc>| {
            let mut v: Vec<GroupStats> = map
                .iter()
                .map(|(name, acc)| GroupStats {
                    name: name.clone(),
                    input_tokens: tokens(acc, "input"),
                    output_tokens: tokens(acc, "output"),
                    cost_usd: usd(acc.cost_pico),
                })
                .collect();
            v.sort_by(|a, b| b.cost_usd.total_cmp(&a.cost_usd).then(a.name.cmp(&b.name)));
            v
        };
        Ok(LlmStats {
            models: out_models,
            stages: groups(&stages),
            prompts: groups(&prompts),
            warnings,
        })
    }
}

/// Finish reasons that mean "stopped by the output token limit", by provider: OpenAI chat,
/// Anthropic, OpenAI Responses (fivelens maps it to `length`), Gemini.
pub const TOKEN_LIMIT_REASONS: &[&str] =
    &["length", "max_tokens", "max_output_tokens", "MAX_TOKENS"];

/// Conversations `fivelens stats` lists by context fill.
pub const SESSIONS_LISTED: usize = 10;

/// Share of calls ending on the token limit past which `fivelens stats` warns.
pub const TOKEN_LIMIT_WARNING: f64 = 0.05;

struct LlmStats {
    models: Vec<ModelStats>,
    stages: Vec<GroupStats>,
    prompts: Vec<GroupStats>,
    warnings: Vec<String>,
}

/// `fivelens stats` figures.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StoreStats {
    /// The store file.
    pub path: String,
    /// Traces stored.
    pub traces: i64,
    /// Traces with at least one error span.
    pub traces_with_errors: i64,
    /// Spans stored.
    pub spans: i64,
    /// Earliest span start.
    pub first_start_ns: Option<i64>,
    /// Latest span end.
    pub last_end_ns: Option<i64>,
    /// Model calls per provider and model (from the metrics: every call, sampled or not).
    pub models: Vec<ModelStats>,
    /// Tokens and cost per pipeline stage (`fivelens.stage`).
    pub stages: Vec<GroupStats>,
    /// Tokens and cost per prompt version (`fivelens.prompt.hash`).
    pub prompts: Vec<GroupStats>,
    /// Conversations nearest to exhausting their model's context window (fullest first).
    pub sessions: Vec<SessionStats>,
    /// Things worth a look (a model whose calls often end on the token limit).
    pub warnings: Vec<String>,
}

/// Figures for one (provider, model), from the metrics.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ModelStats {
    /// `gen_ai.provider.name`.
    pub provider: String,
    /// `gen_ai.request.model`.
    pub model: String,
    /// Calls.
    pub calls: i64,
    /// Calls that failed.
    pub errors: i64,
    /// Input tokens (cached ones included).
    pub input_tokens: i64,
    /// Output tokens (reasoning ones included).
    pub output_tokens: i64,
    /// Input tokens read from the provider's cache.
    pub cache_read_tokens: i64,
    /// Input tokens written to the provider's cache.
    pub cache_write_tokens: i64,
    /// Reasoning tokens.
    pub reasoning_tokens: i64,
    /// USD, summed exactly (pico-dollars).
    pub cost_usd: f64,
    /// Median duration, ms (from the store's latency buckets).
    pub p50_ms: Option<f64>,
    /// 95th percentile, ms.
    pub p95_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Calls by finish reason.
    pub finish_reasons: std::collections::BTreeMap<String, i64>,
    /// Share of calls that ended on the output token limit.
    pub token_limit_share: f64,
}

/// The context window of one conversation, as of its latest stored model call.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SessionStats {
    /// `gen_ai.conversation.id`, else `session.id`, else the trace id.
    pub session: String,
    /// `gen_ai.provider.name`.
    pub provider: String,
    /// `gen_ai.request.model`.
    pub model: String,
    /// `fivelens.context.fill` (0.8 is 80%).
    pub fill: f64,
    /// `fivelens.context.input_tokens`.
    pub input_tokens: i64,
    /// `fivelens.context.window`.
    pub context_window: i64,
    /// `fivelens.context.turn`.
    pub turn: i64,
    /// `fivelens.context.growth_rate`: mean growth per turn, tokens.
    pub growth_rate: Option<f64>,
    /// `fivelens.context.turns_left` at that rate.
    pub turns_left: Option<i64>,
    /// When that call ended.
    pub last_ns: i64,
}

/// Tokens and cost of one stage or prompt version.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GroupStats {
    /// The stage name or the prompt hash.
    pub name: String,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// USD.
    pub cost_usd: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;
    use crate::record::{Parent, SpanKind};
    use crate::value::Value;

    fn retention() -> Retention {
        Retention {
            max_age: Duration::from_secs(3600),
            max_bytes: u64::MAX,
        }
    }

    fn finished(name: &str, parent: Option<&SpanRecord>) -> SpanRecord {
        let p = parent.map(|p| Parent {
            trace_id: p.trace_id,
            span_id: p.span_id,
            remote: false,
            flags: 1,
        });
        let mut r = SpanRecord::start(name, SpanKind::Internal, p);
        r.end_at(None);
        r.finalize();
        r
    }

    #[test]
    fn write_and_read_back_a_tree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("t.db");
        let mut store = Store::open(&path, retention()).unwrap();
        let root = finished("root", None);
        let mut child = finished("chat gpt-4o", Some(&root));
        child.set_attribute(
            Key::new(semconv::GEN_AI_OPERATION_NAME),
            Value::from("chat"),
        );
        child.set_attribute(
            Key::new(semconv::GEN_AI_USAGE_INPUT_TOKENS),
            Value::from(12i64),
        );
        child.status = Status::Error("boom".into());
        assert_eq!(store.write(&[&child, &root], "svc", "{}").unwrap(), 2);
        // The same spans again (a retried batch) change nothing.
        assert_eq!(store.write(&[&child], "svc", "{}").unwrap(), 0);

        let reader = Reader::open(&path).unwrap().unwrap();
        let traces = reader.traces(10).unwrap();
        assert_eq!(traces.len(), 1);
        assert_eq!(traces[0].root_name.as_deref(), Some("root"));
        assert_eq!(traces[0].span_count, 2);
        assert_eq!(traces[0].error_count, 1);
        assert_eq!(traces[0].input_tokens, 12);
        let spans = reader.spans(&root.trace_id.to_hex()).unwrap();
        assert_eq!(spans.len(), 2);
        let c = spans.iter().find(|s| s.name == "chat gpt-4o").unwrap();
        assert_eq!(
            c.parent_span_id.as_deref(),
            Some(root.span_id.to_hex().as_str())
        );
        assert_eq!(c.attributes["gen_ai.operation.name"], "chat");
        let prefix = &root.trace_id.to_hex()[..8];
        assert_eq!(
            reader.resolve_trace_id(prefix).unwrap(),
            vec![root.trace_id.to_hex()]
        );
        let stats = reader.stats().unwrap();
        assert_eq!(stats.spans, 2);
        assert!(
            stats.models.is_empty(),
            "model figures come from the metrics"
        );
    }

    #[test]
    fn stats_list_the_fullest_conversations_by_their_latest_call() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let mut store = Store::open(&path, retention()).unwrap();
        let call = |conversation: &str, fill: f64, turn: i64, end: u64| {
            let mut r = SpanRecord::start("chat gpt-4o", SpanKind::Client, None);
            r.set_attribute(
                Key::new(semconv::GEN_AI_OPERATION_NAME),
                Value::from("chat"),
            );
            r.set_attribute(
                Key::new(semconv::GEN_AI_REQUEST_MODEL),
                Value::from("gpt-4o"),
            );
            r.set_attribute(
                Key::new(semconv::GEN_AI_CONVERSATION_ID),
                Value::from(conversation),
            );
            r.set_attribute(Key::new(semconv::FIVELENS_CONTEXT_FILL), Value::F64(fill));
            r.set_attribute(Key::new(semconv::FIVELENS_CONTEXT_TURN), Value::I64(turn));
            r.set_attribute(Key::new(semconv::FIVELENS_CONTEXT_WINDOW), Value::I64(1000));
            r.set_attribute(
                Key::new(semconv::FIVELENS_CONTEXT_INPUT_TOKENS),
                Value::I64((fill * 1000.0) as i64),
            );
            r.end_at(Some(r.start_ns + end));
            r
        };
        let spans = [
            call("a", 0.5, 1, 1),
            call("a", 0.95, 2, 2),
            call("b", 0.9, 1, 3),
            call("b", 0.2, 2, 4), // summarised: its latest call counts
            call("c", 0.7, 1, 5),
        ];
        let refs: Vec<&SpanRecord> = spans.iter().collect();
        store.write(&refs, "svc", "{}").unwrap();
        let reader = Reader::open(&path).unwrap().unwrap();
        let s = reader.stats().unwrap();
        let got: Vec<(&str, f64, i64)> = s
            .sessions
            .iter()
            .map(|x| (x.session.as_str(), x.fill, x.turn))
            .collect();
        assert_eq!(got, vec![("a", 0.95, 2), ("c", 0.7, 1), ("b", 0.2, 2)]);
        assert_eq!(s.sessions[0].input_tokens, 950);
    }

    #[test]
    fn stats_from_metric_points_are_exact() {
        use crate::metrics::Metrics;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut store = Store::open(&path, retention()).unwrap();
        let mut metrics = Metrics::new(None, false);
        // Two processes' worth of deltas, written at different times: 100 calls in all.
        for batch in 0..2 {
            for i in 0..50 {
                let mut r = SpanRecord::start("chat gpt-4o", SpanKind::Client, None);
                r.set_attribute(
                    Key::new(semconv::GEN_AI_OPERATION_NAME),
                    Value::from("chat"),
                );
                r.set_attribute(
                    Key::new(semconv::GEN_AI_PROVIDER_NAME),
                    Value::from("openai"),
                );
                r.set_attribute(
                    Key::new(semconv::GEN_AI_REQUEST_MODEL),
                    Value::from("gpt-4o"),
                );
                r.set_attribute(Key::new(semconv::GEN_AI_USAGE_INPUT_TOKENS), Value::I64(10));
                r.set_attribute(Key::new(semconv::GEN_AI_USAGE_OUTPUT_TOKENS), Value::I64(2));
                r.set_attribute(
                    Key::new(semconv::FIVELENS_STAGE),
                    Value::from(if i % 2 == 0 { "plan" } else { "answer" }),
                );
                r.set_attribute(
                    Key::new(semconv::FIVELENS_PROMPT_HASH),
                    Value::from("a3f891c0ffee"),
                );
                let reason = if i < 4 { "length" } else { "stop" };
                r.set_attribute(
                    Key::new(semconv::GEN_AI_RESPONSE_FINISH_REASONS),
                    Value::StrArray(vec![reason.into()].into()),
                );
                // 0.1 pico-dollar steps would not add up in floating point; pico-dollars do.
                r.cost_pico = Some(100_000_001);
                let ms = if i == 49 { 900 } else { 20 + (i as u64 % 10) };
                r.end_at(Some(r.start_ns + ms * 1_000_000));
                metrics.record(&r);
            }
            store.write_metrics(&metrics.take_deltas()).unwrap();
            let _ = batch;
        }
        let stats = Reader::open(&path).unwrap().unwrap().stats().unwrap();
        let m = &stats.models[0];
        assert_eq!(
            (m.calls, m.errors, m.input_tokens, m.output_tokens),
            (100, 0, 1000, 200)
        );
        assert_eq!(m.cost_usd, 100.0 * 100_000_001.0 / 1e12);
        assert_eq!(m.finish_reasons["length"], 8);
        assert!((m.token_limit_share - 0.08).abs() < 1e-12);
        assert!(
            stats.warnings[0].contains("8.0% of calls"),
            "{:?}",
            stats.warnings
        );
        let p50 = m.p50_ms.unwrap();
        assert!((20.0..=30.0).contains(&p50), "{p50}");
        assert!(m.p99_ms.unwrap() > 500.0, "{:?}", m.p99_ms);
        let stages: Vec<(&str, i64)> = stats
            .stages
            .iter()
            .map(|g| (g.name.as_str(), g.input_tokens))
            .collect();
        assert_eq!(stages, vec![("answer", 500), ("plan", 500)]);
        assert_eq!(stats.prompts[0].name, "a3f891c0ffee");
        assert_eq!(stats.prompts[0].output_tokens, 200);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private").join("t.db");
        let _store = Store::open(&path, retention()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
    }

    #[test]
    fn retention_by_age_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut store = Store::open(&path, retention()).unwrap();
        let mut old = finished("old", None);
        old.start_ns -= 7200 * 1_000_000_000;
        old.end_ns -= 7200 * 1_000_000_000;
        let fresh = finished("fresh", None);
        store.write(&[&old, &fresh], "svc", "{}").unwrap();
        assert_eq!(store.apply_retention(crate::record::now_ns()).unwrap(), 1);
        let reader = Reader::open(&path).unwrap().unwrap();
        let names: Vec<_> = reader
            .traces(10)
            .unwrap()
            .into_iter()
            .filter_map(|t| t.root_name)
            .collect();
        assert_eq!(names, vec!["fresh".to_string()]);

        // Size: many traces with big attributes, then a tight bound.
        let mut batch = Vec::new();
        for i in 0..200 {
            let mut r = SpanRecord::start(&format!("t{i}"), SpanKind::Internal, None);
            r.start_ns += i as u64;
            r.set_attribute(Key::new("blob"), Value::from("x".repeat(4000)));
            r.end_at(None);
            r.finalize();
            batch.push(r);
        }
        let refs: Vec<&SpanRecord> = batch.iter().collect();
        store.write(&refs, "svc", "{}").unwrap();
        store.retention.max_bytes = 300 * 1024;
        assert!(store.apply_retention(crate::record::now_ns()).unwrap() > 0);
        assert!(store.used_bytes().unwrap() <= 300 * 1024);
        let left = reader.traces(1000).unwrap();
        assert!(!left.is_empty());
        // The newest survive.
        assert!(left.iter().any(|t| t.root_name.as_deref() == Some("t199")));
    }
}
