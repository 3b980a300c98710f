//! The process-wide instance every binding talks to: `configure`, `submit`, `flush`,
//! `shutdown`, `status`.
//!
//! There is one pipeline per process, however many handlers, threads or Node workers use it. A
//! forked child notices that its pipeline belongs to an older fork generation on its first call
//! and builds a fresh one (see [`crate::fork`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use crate::config::{Config, ConfigError};
use crate::diag::{self, Level};
use crate::pipeline::{Pipeline, StartError};
use crate::record::SpanRecord;
use crate::resource::HostInfo;

static SLOT: RwLock<Option<Arc<Pipeline>>> = RwLock::new(None);
static RECORDING: AtomicBool = AtomicBool::new(false);
/// The running pipeline samples at the start of traces (a cheap check for the bindings' hot path).
static HEAD_SAMPLING: AtomicBool = AtomicBool::new(false);
static ENDED_WITHOUT_PIPELINE: AtomicU64 = AtomicU64::new(0);
static INTERNAL_ERRORS: AtomicU64 = AtomicU64::new(0);
static REPORT: Mutex<Option<serde_json::Value>> = Mutex::new(None);
static LAST_CONFIG: Mutex<Option<Arc<Config>>> = Mutex::new(None);

/// The outcome of [`configure`].
#[derive(Debug)]
pub struct Configured {
    /// The resolved configuration.
    pub config: Arc<Config>,
    /// Whether spans are recorded (false when disabled).
    pub recording: bool,
}

/// Resolves the configuration (explicit options over the environment over the defaults), then
/// starts the pipeline, replacing (and shutting down) any previous one.
pub fn configure(options: &serde_json::Value, host: HostInfo) -> Result<Configured, ConfigError> {
    let config = Arc::new(Config::from_options(options)?);
    diag::set_level(&config.log_level);
    config.limits().install();
    let key_file = config
        .store_file()
        .parent()
        .map(|d| d.join("user-hash.key"));
    crate::scope::configure_user_hash_key(config.user_hash_key.clone(), key_file);
    if config.disabled {
        // No-op mode: no breaker and no guard acts either.
        crate::tools::configure(crate::tools::BreakerSettings {
            mode: crate::tools::Mode::Off,
            ..config.breaker_settings()
        });
        crate::guards::configure(Default::default(), Default::default());
    } else {
        crate::tools::configure(config.breaker_settings());
        crate::guards::configure(config.guard_settings(), config.price_table());
    }
    *LAST_CONFIG.lock() = Some(config.clone());
    if config.disabled {
        let previous = SLOT.write().take();
        RECORDING.store(false, Ordering::Relaxed);
        if let Some(p) = previous {
            p.shutdown(Duration::from_millis(config.exit_timeout_ms));
        }
        return Ok(Configured {
            config,
            recording: false,
        });
    }
    let open_store = !crate::fork::child_store_unsafe();
    let pipeline = Pipeline::start(config.clone(), host, open_store).map_err(|e| match e {
        StartError::Store(e) => ConfigError {
            field: "store_path".into(),
            message: e.to_string(),
        },
        StartError::Thread(what, e) => ConfigError {
            field: "config".into(),
            message: format!("cannot start the {what} thread: {e}"),
        },
    })?;
    crate::fork::register();
    // Token vocabularies are built in the background now, never on a caller's first count.
    crate::tokens::warm_up();
    HEAD_SAMPLING.store(pipeline.head_sampling.is_some(), Ordering::Relaxed);
    let previous = SLOT.write().replace(pipeline);
    RECORDING.store(true, Ordering::Relaxed);
    if let Some(p) = previous {
        p.shutdown(Duration::from_millis(config.exit_timeout_ms));
    }
    Ok(Configured {
        config,
        recording: true,
    })
}

/// Whether spans are being recorded (configured and not disabled or shut down). Bindings check
/// this first and make non-recording spans otherwise.
#[inline]
pub fn is_recording() -> bool {
    RECORDING.load(Ordering::Relaxed)
}

/// The configuration last given to [`configure`].
pub fn config() -> Option<Arc<Config>> {
    LAST_CONFIG.lock().clone()
}

/// The current pipeline, rebuilt first if this process was forked since it was built.
pub fn current() -> Option<Arc<Pipeline>> {
    let generation = crate::fork::generation();
    {
        let slot = SLOT.read();
        match &*slot {
            None => return None,
            Some(p) if p.generation == generation => return Some(p.clone()),
            Some(_) => {}
        }
    }
    rebuild_after_fork(generation)
}

#[cold]
fn rebuild_after_fork(generation: u64) -> Option<Arc<Pipeline>> {
    let mut slot = SLOT.write();
    let old = slot.as_ref()?.clone();
    if old.generation == generation {
        return Some(old);
    }
    old.discard_queue();
    let open_store = !crate::fork::child_store_unsafe();
    if !open_store {
        diag::report(
            Level::Warn,
            "fork.store",
            "this process was forked while the local store was being written; it will not write to the store",
        );
    }
    match Pipeline::start(old.config().clone(), old.host().clone(), open_store) {
        Ok(p) => {
            *slot = Some(p.clone());
            Some(p)
        }
        Err(e) => {
            diag::report(
                Level::Error,
                "fork.rebuild",
                &format!("cannot restart after fork: {e}"),
            );
            *slot = None;
            RECORDING.store(false, Ordering::Relaxed);
            None
        }
    }
}

/// Whether the pipeline decides traces when they start (head sampling).
pub fn head_sampling_active() -> bool {
    HEAD_SAMPLING.load(Ordering::Relaxed)
        && SLOT
            .read()
            .as_ref()
            .is_some_and(|p| p.head_sampling.is_some())
}

/// Head sampling: `None` unless the pipeline decides at the start of a trace; then whether a
/// trace whose local root starts now, with this user hash and session, is sampled.
pub fn head_sampled(
    trace: crate::ids::TraceId,
    user_hash: Option<&str>,
    session: Option<&str>,
) -> Option<bool> {
    let slot = SLOT.read();
    let settings = slot.as_ref()?.head_sampling.as_ref()?;
    Some(settings.head_sampled_for(trace, user_hash, session))
}

/// Head sampling of a span just begun (scope set): decides the trace at a local root without a
/// remote parent (a remote parent's sampled flag is followed, as are a local parent's), marks the
/// record, and says whether to build it: sampled spans, and model and tool calls, which the
/// metrics need. Always `true` outside head mode.
pub fn head_sample(record: &mut SpanRecord) -> bool {
    if !HEAD_SAMPLING.load(Ordering::Relaxed) {
        return true;
    }
    let slot = SLOT.read();
    let Some(settings) = slot.as_ref().and_then(|p| p.head_sampling.as_ref()) else {
        return true;
    };
    if !record.parent_span_id.is_valid() {
        let scope = record.scope.as_deref();
        let sampled = settings.head_sampled(record.trace_id, scope);
        record.flags = (record.flags & !crate::record::flags::SAMPLED)
            | if sampled {
                crate::record::flags::SAMPLED
            } else {
                0
            };
    }
    record.flags & crate::record::flags::SAMPLED != 0 || record.is_priority()
}

/// Hands a finished span to the pipeline (never blocks).
pub fn submit(record: SpanRecord) {
    if crate::guards::active() {
        // A model call's spend counts before the next call starts (see crate::guards).
        crate::guards::observe(&record);
    }
    {
        // The common case under the read lock, without cloning the Arc.
        let slot = SLOT.read();
        match &*slot {
            Some(p) if p.generation == crate::fork::generation() => return p.submit(record),
            None => {
                ENDED_WITHOUT_PIPELINE.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Some(_) => {}
        }
    }
    match current() {
        Some(p) => p.submit(record),
        None => {
            ENDED_WITHOUT_PIPELINE.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Hands over a batch of `spans` spans whose records `build` makes on the processing thread.
pub fn submit_deferred(spans: usize, build: Box<dyn FnOnce() -> Vec<SpanRecord> + Send>) {
    match current() {
        Some(p) => p.submit_deferred(crate::pipeline::DeferredBatch { spans, build }),
        None => {
            ENDED_WITHOUT_PIPELINE.fetch_add(spans as u64, Ordering::Relaxed);
        }
    }
}

/// Counts a recording span started.
pub fn note_started() {
    if let Some(p) = SLOT.read().as_ref() {
        p.note_started();
    }
}

/// Waits (at most `timeout`) until every span ended so far is stored and sent.
pub fn flush(timeout: Duration) -> bool {
    match current() {
        Some(p) => p.flush(timeout),
        None => true,
    }
}

/// Stops recording and drains the pipeline within `timeout`. Returns whether it finished in
/// time. A later [`configure`] starts afresh.
pub fn shutdown(timeout: Duration) -> bool {
    let pipeline = current();
    RECORDING.store(false, Ordering::Relaxed);
    let Some(p) = pipeline else { return true };
    let ok = p.shutdown(timeout);
    let mut slot = SLOT.write();
    if slot.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, &p)) {
        *slot = None;
    }
    ok
}

/// Records a failure inside instrumentation: counted and reported once, never raised.
pub fn report_internal_error(kind: &'static str, message: &str) {
    INTERNAL_ERRORS.fetch_add(1, Ordering::Relaxed);
    diag::report(Level::Warn, kind, message);
}

/// Stores what `instrument()` enabled and skipped, for `status()`.
pub fn set_instrument_report(report: serde_json::Value) {
    *REPORT.lock() = Some(report);
}

/// Everything `status()` shows, as JSON.
pub fn status() -> serde_json::Value {
    let pipeline = current();
    let mut stats = pipeline.as_ref().map(|p| p.snapshot()).unwrap_or_default();
    stats.dropped.not_running += ENDED_WITHOUT_PIPELINE.load(Ordering::Relaxed);
    stats.internal_errors += INTERNAL_ERRORS.load(Ordering::Relaxed);
    serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "recording": is_recording(),
        "pid": std::process::id(),
        "fork_generation": crate::fork::generation(),
        "pipeline": pipeline.as_ref().map(|p| p.describe()),
        "spans": {
            "started": stats.spans_started,
            "ended": stats.spans_ended,
            "processed": stats.spans_processed,
            "stored": stats.spans_stored,
            "exported": stats.spans_exported,
            "dropped": stats.dropped,
            "dropped_total": stats.dropped.total(),
        },
        "export": {
            "failures": stats.export_failures,
            "retries": stats.export_retries,
            "splits": stats.export_splits,
            "queued_bytes": stats.export_queue_bytes,
        },
        "logs": stats.logs,
        "queue_depth": stats.queue_depth,
        "store_failures": stats.store_failures,
        "internal_errors": stats.internal_errors,
        "sampling": {
            "traces_kept": stats.sampling.traces_kept,
            "traces_dropped": stats.sampling.traces_dropped,
            "spans_dropped": stats.sampling.spans_dropped,
            "overflow": stats.sampling.overflow,
            "late_spans": stats.sampling.late_spans,
        },
        "redaction": {
            "texts": stats.redaction.texts,
            "bytes": stats.redaction.bytes,
            "ns": stats.redaction.ns,
            "values": stats.redaction.values,
            "ns_per_kb": (stats.redaction.bytes > 0)
                .then(|| stats.redaction.ns.saturating_mul(1024) / stats.redaction.bytes),
        },
        "behaviour": crate::behaviour::status(),
        "tools": crate::tools::status(),
        "interned_keys": crate::key::interned_count(),
        "instrumentation": REPORT.lock().clone(),
        "messages": diag::recent(),
    })
}

/// Finished spans kept in testing mode (`testing: true`).
pub fn finished_spans() -> Vec<SpanRecord> {
    current().map(|p| p.finished_spans()).unwrap_or_default()
}

/// Empties the testing-mode span list.
pub fn clear_finished_spans() {
    if let Some(p) = current() {
        p.clear_finished_spans();
    }
}

pub(crate) fn lock_for_fork() {
    std::mem::forget(SLOT.write());
    // SAFETY: we hold the write lock (its guard was forgotten just above), so nobody else can
    // touch the slot until `unlock_after_fork`.
    if let Some(p) = unsafe { &*SLOT.data_ptr() } {
        p.lock_for_fork();
    }
    std::mem::forget(REPORT.lock());
    std::mem::forget(LAST_CONFIG.lock());
}

pub(crate) fn unlock_after_fork(in_child: bool) {
    // SAFETY: the write lock is still held from `lock_for_fork` (guard forgotten), so reading
    // the slot without a guard is exclusive; each force-unlock pairs with a forgotten guard.
    unsafe {
        if let Some(p) = &*SLOT.data_ptr() {
            p.unlock_after_fork(in_child);
        }
        LAST_CONFIG.force_unlock();
        REPORT.force_unlock();
        SLOT.force_unlock_write();
    }
}
