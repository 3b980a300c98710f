//! The span pipeline.
//!
//! ```text
//!  caller threads                 processing thread ("fivelens-worker")        export threads
//!  ──────────────                 ─────────────────────────────────────        ──────────────
//!  span end ──try push──> [ bounded queue ] ──> finalize (scope attributes)    one per network
//!   (never blocks;          (model and tool      metrics / redaction /          exporter, each
//!    drop + count            spans use the        tail sampling (their issues)  with its own
//!    when full)              last 10%)            local SQLite store            bounded queue
//!                                                 encode OTLP ──push──────────> send, retry,
//!                                                                               split on 413
//! ```
//!
//! The processing thread wakes on a timer (`schedule_delay_ms`) or when the queue crosses the
//! batch threshold, never once per span. `flush` and `shutdown` are bounded by their timeouts.
//!
//! Lock order (outermost first): the global pipeline slot ([`crate::global`]), [`Control`]'s
//! state, each [`ExportQueue`]'s state, then leaves (key interner, user-hash key, diagnostics,
//! the store gate). No lock is held across I/O except the store gate, which only the processing
//! thread takes, around one short transaction.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use parking_lot::Mutex;
use prost::Message;

use crate::config::Config;
use crate::diag::{self, Level};
use crate::export::{self, encode, Batch, ExportQueue, ExporterSettings, Signal};
use crate::llm::{LlmSettings, LlmStage};
use crate::logs::{LogRecord, LogStage};
use crate::metrics::Metrics;
use crate::record::{flags, SpanRecord};
use crate::resource::{HostInfo, Resource};
use crate::sampling::Sampler;
use crate::stats::{DropReason, Stats, StatsSnapshot};
use crate::store::{Retention, Store, StoreError};
use crate::wakeup::Wakeup;

/// Most records kept for `finished_spans()` in testing mode.
const MEMORY_CAPACITY: usize = 100_000;

/// Flush and shutdown bookkeeping shared by the caller, the processing thread and the export
/// threads.
pub struct Control {
    state: Mutex<ControlState>,
    wakeup: Wakeup,
}

struct ControlState {
    flush_requested: u64,
    worker_done: u64,
    exporter_done: Vec<u64>,
    shutdown_deadline: Option<Instant>,
    worker_exited: bool,
    exporter_exited: Vec<bool>,
}

impl Control {
    fn new(exporters: usize) -> Control {
        Control {
            state: Mutex::new(ControlState {
                flush_requested: 0,
                worker_done: 0,
                exporter_done: vec![0; exporters],
                shutdown_deadline: None,
                worker_exited: false,
                exporter_exited: vec![false; exporters],
            }),
            wakeup: Wakeup::new(),
        }
    }

    /// An export thread has sent (or given up on) everything before flush `epoch`.
    pub fn exporter_ack(&self, index: usize, epoch: u64) {
        let mut st = self.state.lock();
        if let Some(d) = st.exporter_done.get_mut(index) {
            *d = (*d).max(epoch);
        }
        self.wakeup.notify_all();
        drop(st);
    }

    /// An export thread has finished.
    pub fn exporter_exited(&self, index: usize) {
        let mut st = self.state.lock();
        if let Some(d) = st.exporter_exited.get_mut(index) {
            *d = true;
        }
        self.wakeup.notify_all();
        drop(st);
    }

    fn lock_for_fork(&self) {
        std::mem::forget(self.state.lock());
    }

    fn unlock_after_fork(&self) {
        // SAFETY: paired with `lock_for_fork` in the same fork's prepare handler.
        unsafe { self.state.force_unlock() };
    }
}

/// A batch of spans whose records are built on the processing thread: a binding that hands its
/// spans over encoded (Node buffers them in JavaScript and passes one string) gives the decoding
/// to the processing thread, so the caller's thread only pays for the hand-over.
pub struct DeferredBatch {
    /// Spans in the batch (what the counters and the queue bound see).
    pub spans: usize,
    /// Builds the records, on the processing thread.
    pub build: Box<dyn FnOnce() -> Vec<SpanRecord> + Send>,
}

/// One running pipeline (there is one per process, in [`crate::global`]).
pub struct Pipeline {
    config: Arc<Config>,
    host: HostInfo,
    resource: Arc<Resource>,
    queue: ArrayQueue<SpanRecord>,
    deferred: ArrayQueue<DeferredBatch>,
    logs: ArrayQueue<LogRecord>,
    /// Model and tool spans dropped at a full queue: the processing thread still counts them
    /// in the metrics, then discards them.
    metrics_only: ArrayQueue<SpanRecord>,
    normal_limit: usize,
    wake_threshold: usize,
    /// Counters.
    pub stats: Arc<Stats>,
    control: Arc<Control>,
    worker: Mutex<Option<Thread>>,
    wake_pending: AtomicBool,
    running: AtomicBool,
    exporters: Vec<Arc<ExportQueue>>,
    memory: Option<Arc<Mutex<Vec<SpanRecord>>>>,
    store_path: Option<std::path::PathBuf>,
    metrics: Arc<Mutex<Metrics>>,
    prometheus: Mutex<Option<crate::prometheus::Endpoint>>,
    /// The sampler's settings when decisions are taken at the start of a trace (head mode).
    pub head_sampling: Option<Arc<crate::sampling::Settings>>,
    /// The sampler's settings.
    sampling: Arc<crate::sampling::Settings>,
    /// The fork generation this pipeline was built in.
    pub generation: u64,
    started_ns: u64,
}

/// Why a pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The local store cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A thread could not be spawned.
    #[error("cannot start the {0} thread: {1}")]
    Thread(&'static str, std::io::Error),
}

impl Pipeline {
    /// Builds and starts a pipeline: opens the store, spawns the processing thread and one export
    /// thread per network exporter.
    pub fn start(
        config: Arc<Config>,
        host: HostInfo,
        open_store: bool,
    ) -> Result<Arc<Pipeline>, StartError> {
        let resource = Arc::new(Resource::build(&config, &host));
        let store = if config.store_enabled() && open_store {
            let retention = Retention {
                max_age: Duration::from_secs(config.store_max_age_hours.saturating_mul(3600)),
                max_bytes: config.store_max_bytes,
            };
            Some(Store::open(&config.store_file(), retention)?)
        } else {
            None
        };
        let settings: Vec<ExporterSettings> = ExporterSettings::from_config(&config);
        let exporters: Vec<Arc<ExportQueue>> = settings
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Arc::new(ExportQueue::new(
                    i,
                    s.signal,
                    s.endpoint.clone(),
                    config.export_queue_bytes,
                ))
            })
            .collect();
        let environment = resource
            .attributes
            .iter()
            .find(|(k, _)| k.as_str() == crate::semconv::DEPLOYMENT_ENVIRONMENT_NAME)
            .map(|(_, v)| v.display());
        let metrics = Arc::new(Mutex::new(Metrics::new(
            environment,
            config.metrics_include_estimated_tokens,
        )));
        let prometheus = config.prometheus_endpoint().and_then(|(host, port)| {
            match crate::prometheus::Endpoint::start(&host, port, metrics.clone()) {
                Ok(e) => Some(e),
                Err(e) => {
                    diag::report(
                        Level::Warn,
                        "prometheus.bind",
                        &format!("the Prometheus endpoint could not listen on {host}:{port}: {e} (several processes need several ports, or OTLP push)"),
                    );
                    None
                }
            }
        });
        let capacity = config.queue_size.max(1);
        // Computed once (canary user ids are hashed here): the head decision and the tail
        // sampler share it.
        let sampling = Arc::new(config.sampling_settings());
        let pipeline = Arc::new(Pipeline {
            host,
            queue: ArrayQueue::new(capacity),
            // As many spans in deferred batches as in the span queue.
            deferred: ArrayQueue::new((capacity / config.batch_size.max(1)).max(4)),
            logs: ArrayQueue::new(config.logs_queue_size.max(1)),
            metrics_only: ArrayQueue::new(METRICS_ONLY_CAPACITY),
            // Ordinary spans may fill 90% of the queue; the rest is kept for model and tool calls.
            normal_limit: (capacity - capacity / 10).max(1),
            wake_threshold: config.batch_size.min(capacity).max(1),
            stats: Arc::new(Stats::default()),
            control: Arc::new(Control::new(exporters.len())),
            worker: Mutex::new(None),
            wake_pending: AtomicBool::new(false),
            running: AtomicBool::new(true),
            exporters: exporters.clone(),
            memory: config.testing.then(|| Arc::new(Mutex::new(Vec::new()))),
            store_path: store.as_ref().map(|s| s.path().to_path_buf()),
            metrics,
            prometheus: Mutex::new(prometheus),
            head_sampling: (sampling.mode == crate::sampling::Mode::Head).then(|| sampling.clone()),
            sampling,
            generation: crate::fork::generation(),
            started_ns: crate::record::now_ns(),
            resource,
            config,
        });
        for (queue, s) in exporters.into_iter().zip(settings) {
            let stats = pipeline.stats.clone();
            let control = pipeline.control.clone();
            std::thread::Builder::new()
                .name("fivelens-export".into())
                .spawn(move || export::run(queue, s, stats, control))
                .map_err(|e| StartError::Thread("export", e))?;
        }
        let processor = Processor::new(&pipeline, store);
        let worker_pipeline = pipeline.clone();
        let handle = std::thread::Builder::new()
            .name("fivelens-worker".into())
            .spawn(move || worker_pipeline.run_worker(processor))
            .map_err(|e| StartError::Thread("processing", e))?;
        *pipeline.worker.lock() = Some(handle.thread().clone());
        Ok(pipeline)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// What the binding said about its host.
    pub fn host(&self) -> &HostInfo {
        &self.host
    }

    /// Hands a finished span to the pipeline. Never blocks: when the queue is full the span is
    /// dropped and counted (model and tool spans may use the reserve the others cannot).
    pub fn submit(&self, record: SpanRecord) {
        self.stats.spans_ended.fetch_add(1, Ordering::Relaxed);
        if !self.running.load(Ordering::Relaxed) {
            self.stats.dropped(DropReason::NotRunning, 1);
            return;
        }
        self.enqueue(record);
    }

    /// Queues an ended span already counted as ended.
    fn enqueue(&self, record: SpanRecord) {
        let priority = record.flags & flags::PRIORITY != 0;
        let len = self.queue.len();
        let refused = if !priority && len >= self.normal_limit {
            Some(record)
        } else {
            self.queue.push(record).err()
        };
        if let Some(record) = refused {
            self.stats.dropped(DropReason::QueueFull, 1);
            if priority {
                self.stats
                    .dropped_queue_full_priority
                    .fetch_add(1, Ordering::Relaxed);
                // The span is lost, its call still counts (while the small lane has room).
                let _ = self.metrics_only.push(record);
            }
            diag::report_with(Level::Warn, "queue.full", || {
                format!(
                    "the span queue is full ({} spans): spans are being dropped; raise queue_size or check the exporter",
                    self.queue.capacity()
                )
            });
            self.wake();
            return;
        }
        if len + 1 >= self.wake_threshold {
            self.wake();
        }
    }

    /// Hands over a batch whose records the processing thread builds. Never blocks. When the
    /// deferred queue is full (the processing thread is behind), the batch is decoded here and
    /// its spans offered to the span queue one by one, so that model and tool spans keep their
    /// reserve and the others are dropped and counted: the cost moves to the caller only under
    /// overload.
    pub fn submit_deferred(&self, batch: DeferredBatch) {
        let n = batch.spans as u64;
        self.stats.spans_started.fetch_add(n, Ordering::Relaxed);
        self.stats.spans_ended.fetch_add(n, Ordering::Relaxed);
        if !self.running.load(Ordering::Relaxed) {
            self.stats.dropped(DropReason::NotRunning, n);
            return;
        }
        if let Err(batch) = self.deferred.push(batch) {
            let records = (batch.build)();
            if records.len() < batch.spans {
                self.stats
                    .internal_errors
                    .fetch_add((batch.spans - records.len()) as u64, Ordering::Relaxed);
            }
            for r in records {
                self.enqueue(r);
            }
        }
        self.wake();
    }

    /// Hands a log record to the pipeline. Never blocks: when the log queue is full the record
    /// is dropped and counted.
    pub fn submit_log(&self, record: LogRecord) {
        self.stats.logs_received.fetch_add(1, Ordering::Relaxed);
        if !self.running.load(Ordering::Relaxed) {
            self.stats
                .logs_dropped_not_running
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        let len = self.logs.len();
        if self.logs.push(record).is_err() {
            self.stats
                .logs_dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
            diag::report_with(Level::Warn, "logs.queue_full", || {
                format!(
                    "the log queue is full ({} records): records are being dropped; raise logs_queue_size or the level",
                    self.logs.capacity()
                )
            });
            self.wake();
            return;
        }
        if len + 1 >= self.wake_threshold {
            self.wake();
        }
    }

    /// Counts a span started (bindings call this when they open a recording span).
    pub fn note_started(&self) {
        self.stats.spans_started.fetch_add(1, Ordering::Relaxed);
    }

    fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            if let Some(t) = self.worker.lock().as_ref() {
                t.unpark();
            }
        }
    }

    /// Waits until every span ended before the call has been stored and sent (or given up on),
    /// at most `timeout`. Returns whether it completed.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let epoch = {
            let mut st = self.control.state.lock();
            if st.worker_exited {
                return self.queue.is_empty();
            }
            st.flush_requested += 1;
            st.flush_requested
        };
        self.wake();
        loop {
            let seen = self.control.wakeup.generation();
            {
                let st = self.control.state.lock();
                let exporters_done = st
                    .exporter_done
                    .iter()
                    .zip(st.exporter_exited.iter())
                    .all(|(done, exited)| *done >= epoch || *exited);
                if st.worker_done >= epoch && exporters_done {
                    return true;
                }
                if st.worker_exited {
                    return false;
                }
            }
            if !self.control.wakeup.wait_until(seen, deadline) {
                return false;
            }
        }
    }

    /// Stops accepting spans, then processes and sends what is queued, within `timeout`.
    /// Returns whether everything finished in time.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        self.running.store(false, Ordering::Relaxed);
        if let Some(p) = self.prometheus.lock().take() {
            p.stop();
        }
        {
            let mut st = self.control.state.lock();
            if st.shutdown_deadline.is_none() {
                st.shutdown_deadline = Some(deadline);
            }
        }
        self.wake();
        loop {
            let seen = self.control.wakeup.generation();
            {
                let st = self.control.state.lock();
                if st.worker_exited && st.exporter_exited.iter().all(|e| *e) {
                    return true;
                }
            }
            if !self.control.wakeup.wait_until(seen, deadline) {
                return false;
            }
        }
    }

    /// Whether it still accepts spans.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// Counters plus queue depths.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut s = self.stats.snapshot();
        s.queue_depth = self.queue.len() as u64 + self.deferred.len() as u64;
        s.export_queue_bytes = self.exporters.iter().map(|e| e.queued_bytes() as u64).sum();
        s
    }

    /// A JSON description for `status()`.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "running": self.is_running(),
            "service_name": self.resource.service_name(),
            "store": self.store_path.as_ref().map(|p| p.display().to_string()),
            "exporters": self.exporters.iter().map(|e| serde_json::json!({
                "endpoint": e.endpoint,
                "protocol": self.config.otlp_protocol,
                "queued_bytes": e.queued_bytes(),
            })).collect::<Vec<_>>(),
            "queue_capacity": self.queue.capacity(),
            "started_ns": self.started_ns,
            "resource": self.resource.to_json(),
            "capture_content": self.config.capture_content,
            "prometheus": self.prometheus.lock().as_ref().map(|p| p.address()),
        })
    }

    /// The Prometheus text of the metrics so far.
    pub fn prometheus_text(&self) -> String {
        self.metrics.lock().prometheus_text()
    }

    /// Records kept in testing mode (oldest first), without removing them.
    pub fn finished_spans(&self) -> Vec<SpanRecord> {
        self.memory
            .as_ref()
            .map(|m| m.lock().clone())
            .unwrap_or_default()
    }

    /// Empties the testing-mode record list.
    pub fn clear_finished_spans(&self) {
        if let Some(m) = &self.memory {
            m.lock().clear();
        }
    }

    /// Drops every queued record without processing it (a forked child's copy of its parent's
    /// queue, which the parent sends).
    pub(crate) fn discard_queue(&self) {
        while self.queue.pop().is_some() {}
        while self.deferred.pop().is_some() {}
        while self.logs.pop().is_some() {}
        while self.metrics_only.pop().is_some() {}
    }

    pub(crate) fn lock_for_fork(&self) {
        self.control.lock_for_fork();
        for e in &self.exporters {
            e.lock_for_fork();
        }
    }

    pub(crate) fn unlock_after_fork(&self, in_child: bool) {
        for e in self.exporters.iter().rev() {
            e.unlock_after_fork(in_child);
        }
        self.control.unlock_after_fork();
    }

    fn run_worker(self: Arc<Self>, mut processor: Processor) {
        let delay = Duration::from_millis(self.config.schedule_delay_ms);
        let batch_size = self.config.batch_size.max(1);
        let mut batch: Vec<SpanRecord> = Vec::with_capacity(batch_size);
        let mut done = 0u64;
        loop {
            self.wake_pending.store(false, Ordering::Release);
            let (requested, shutdown) = {
                let st = self.control.state.lock();
                (st.flush_requested, st.shutdown_deadline)
            };
            while let Some(deferred) = self.deferred.pop() {
                let expected = deferred.spans;
                let mut records = (deferred.build)();
                if records.len() < expected {
                    self.stats
                        .internal_errors
                        .fetch_add((expected - records.len()) as u64, Ordering::Relaxed);
                }
                while !records.is_empty() {
                    let rest = if records.len() > batch_size {
                        records.split_off(batch_size)
                    } else {
                        Vec::new()
                    };
                    self.stats
                        .spans_processed
                        .fetch_add(records.len() as u64, Ordering::Relaxed);
                    processor.process(&mut records);
                    records = rest;
                }
            }
            loop {
                while batch.len() < batch_size {
                    match self.queue.pop() {
                        Some(r) => batch.push(r),
                        None => break,
                    }
                }
                if batch.is_empty() {
                    break;
                }
                self.stats
                    .spans_processed
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                processor.process(&mut batch);
                batch.clear();
            }
            let mut lost: Vec<SpanRecord> = Vec::new();
            while let Some(r) = self.metrics_only.pop() {
                lost.push(r);
            }
            if !lost.is_empty() {
                // Dropped spans (counted as such) still count in the metrics; then they go.
                processor.measure(&mut lost);
            }
            loop {
                let mut logs: Vec<LogRecord> = Vec::new();
                while logs.len() < batch_size {
                    match self.logs.pop() {
                        Some(r) => logs.push(r),
                        None => break,
                    }
                }
                if logs.is_empty() {
                    break;
                }
                processor.process_logs(logs);
            }
            processor.tick(false);
            if requested > done || shutdown.is_some() {
                // A flush delivers metrics too.
                processor.tick(true);
            }
            if requested > done {
                for e in &self.exporters {
                    e.push_marker(requested);
                }
                done = requested;
                let mut st = self.control.state.lock();
                st.worker_done = requested;
                self.control.wakeup.notify_all();
                drop(st);
            }
            if let Some(deadline) = shutdown {
                // Held traces are decided now with what they have.
                processor.drain_sampler();
                for e in &self.exporters {
                    e.shutdown(deadline);
                }
                drop(processor);
                let mut st = self.control.state.lock();
                st.worker_exited = true;
                self.control.wakeup.notify_all();
                drop(st);
                return;
            }
            if self.queue.len() < self.wake_threshold && self.logs.len() < self.wake_threshold {
                std::thread::park_timeout(delay);
            }
        }
    }
}

/// Model and tool spans dropped at a full span queue that may wait for the metrics at a time.
const METRICS_ONLY_CAPACITY: usize = 256;

/// How often metric deltas go to the local store.
const STORE_METRICS_EVERY: Duration = Duration::from_secs(10);

/// What the processing thread does with each batch.
struct Processor {
    store: Option<Store>,
    exporters: Vec<Arc<ExportQueue>>,
    memory: Option<Arc<Mutex<Vec<SpanRecord>>>>,
    resource: Arc<Resource>,
    resource_json: String,
    service_name: String,
    stats: Arc<Stats>,
    max_batch_bytes: usize,
    llm: LlmStage,
    sampler: Option<Sampler>,
    metrics: Arc<Mutex<Metrics>>,
    metrics_dirty: bool,
    last_store_metrics: Instant,
    last_otlp_metrics: Instant,
    otlp_metrics_every: Duration,
    logs: LogStage,
    redact_logs: bool,
    behaviour: crate::behaviour::BehaviourStage,
    snapshots: crate::snapshot::SnapshotStage,
}

impl Processor {
    fn new(p: &Pipeline, store: Option<Store>) -> Processor {
        Processor {
            store,
            exporters: p.exporters.clone(),
            memory: p.memory.clone(),
            resource_json: p.resource.to_json().to_string(),
            service_name: p.resource.service_name(),
            resource: p.resource.clone(),
            stats: p.stats.clone(),
            max_batch_bytes: p.config.max_export_batch_bytes,
            llm: LlmStage::with_stats(
                LlmSettings {
                    capture_content: p.config.capture_content,
                    max_content_bytes: p.config.max_content_bytes,
                    compat: p.config.compat,
                    redaction: p.config.redact.then(|| p.config.redaction()),
                },
                p.config.model_tables(),
                p.stats.clone(),
            ),
            sampler: {
                let s = Sampler::new((*p.sampling).clone(), p.stats.clone());
                (!s.is_pass_through()).then_some(s)
            },
            metrics: p.metrics.clone(),
            metrics_dirty: false,
            last_store_metrics: Instant::now(),
            last_otlp_metrics: Instant::now(),
            otlp_metrics_every: Duration::from_millis(p.config.metric_export_interval_ms),
            logs: LogStage::new(p.config.log_settings()),
            redact_logs: p.config.redact,
            behaviour: crate::behaviour::BehaviourStage::new(&p.config),
            snapshots: crate::snapshot::SnapshotStage::from_config(&p.config),
        }
        .with_snapshot_payloads()
    }

    fn with_snapshot_payloads(mut self) -> Processor {
        let on = self.snapshots.enabled();
        self.llm.keep_payloads_for_snapshots(on);
        self
    }

    /// Finishes the records (behaviour, model-call stage) and counts them in the metrics.
    fn measure(&mut self, records: &mut [SpanRecord]) {
        let mut metrics = self.metrics.lock();
        for r in records.iter_mut() {
            r.finalize();
            // Before the model-call stage, which drops the private drift output.
            self.behaviour.process(r);
            self.llm.process(r);
            // Before any sampling: metrics count all traffic.
            metrics.record(r);
        }
        self.behaviour.take_pending(&mut metrics);
        self.metrics_dirty = true;
    }

    fn process(&mut self, batch: &mut Vec<SpanRecord>) {
        self.measure(batch);
        match &mut self.sampler {
            Some(sampler) => {
                let mut kept = Vec::with_capacity(batch.len());
                sampler.admit(std::mem::take(batch), &mut kept);
                self.sink(&mut kept);
            }
            None => self.sink(batch),
        }
    }

    /// Redacts, cuts and budgets log records, then stores and exports them.
    fn process_logs(&mut self, mut records: Vec<LogRecord>) {
        {
            // Evaluation results feed the metrics whatever happens to the records.
            let mut metrics = self.metrics.lock();
            for r in &records {
                metrics.record_evaluation(r);
            }
            self.metrics_dirty = true;
        }
        let stage = if self.redact_logs {
            match self.llm.redaction_stage() {
                Some(s) => Some(s),
                None => {
                    // Never let a record out unredacted when redaction is on.
                    for r in &mut records {
                        r.body = "".into();
                        r.attributes.clear();
                    }
                    None
                }
            }
        } else {
            None
        };
        self.logs.process(&mut records, stage, &self.stats);
        self.sink_logs(&records);
    }

    /// Stores and exports processed log records.
    fn sink_logs(&mut self, records: &[LogRecord]) {
        if records.is_empty() {
            return;
        }
        let refs: Vec<&LogRecord> = records.iter().collect();
        if let Some(store) = &mut self.store {
            match store.write_logs(&refs, &self.service_name) {
                Ok(n) => {
                    self.stats
                        .logs_stored
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    self.stats.store_failures.fetch_add(1, Ordering::Relaxed);
                    diag::report(
                        Level::Error,
                        "store.logs",
                        &format!("cannot write log records: {e}"),
                    );
                }
            }
        }
        let exporters: Vec<&Arc<ExportQueue>> = self
            .exporters
            .iter()
            .filter(|e| e.signal == Signal::Logs)
            .collect();
        if exporters.is_empty() {
            return;
        }
        if exporters.iter().all(|e| e.is_full()) {
            for e in &exporters {
                e.refuse(refs.len(), &self.stats);
            }
            return;
        }
        for (req, n) in export::encode_logs::requests(&refs, &self.resource, self.max_batch_bytes) {
            let body = Arc::new(req.encode_to_vec());
            for e in &exporters {
                e.push(Batch::encoded(body.clone(), n), &self.stats);
            }
        }
    }

    /// Decides every trace the sampler holds and sends the kept ones on (shutdown).
    fn drain_sampler(&mut self) {
        if let Some(sampler) = &mut self.sampler {
            let mut kept = Vec::new();
            sampler.drain(&mut kept);
            self.sink(&mut kept);
        }
    }

    /// Stores, exports and keeps (testing mode) processed spans that leave the process.
    fn sink(&mut self, batch: &mut [SpanRecord]) {
        if batch.is_empty() {
            return;
        }
        // Snapshots of kept model calls (after the tail decision, so only kept traces pay for
        // them); the private provider bodies leave every span here.
        let redact = if self.redact_logs {
            self.llm.redaction_stage()
        } else {
            None
        };
        self.snapshots.process(batch, redact, &self.stats);
        // Records derived from kept spans (inference details, the journal sent to logs), and
        // tool inputs and outputs cut to their own bound.
        let settings = self.logs.settings().clone();
        let mut derived = Vec::new();
        for r in batch.iter_mut() {
            crate::logs::cut_tool_io(r, settings.max_tool_io_bytes);
            crate::logs::derive(r, &settings, &mut derived);
        }
        if !derived.is_empty() {
            // Their content was redacted with the span: only the size rules and the budget.
            self.logs.process(&mut derived, None, &self.stats);
            self.sink_logs(&derived);
        }
        let batch: &[SpanRecord] = batch;
        let refs: Vec<&SpanRecord> = batch.iter().collect();
        if let Some(store) = &mut self.store {
            match store.write(&refs, &self.service_name, &self.resource_json) {
                Ok(n) => {
                    self.stats
                        .spans_stored
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    self.stats.store_failures.fetch_add(1, Ordering::Relaxed);
                    diag::report(
                        Level::Error,
                        "store.write",
                        &format!("cannot write spans: {e}"),
                    );
                }
            }
        }
        let trace_exporters: Vec<&Arc<ExportQueue>> = self
            .exporters
            .iter()
            .filter(|e| e.signal == Signal::Traces)
            .collect();
        if !trace_exporters.is_empty() {
            let exportable: Vec<&SpanRecord> = refs
                .iter()
                .copied()
                .filter(|r| r.flags & flags::STORE_ONLY == 0)
                .collect();
            if !exportable.is_empty() {
                if trace_exporters.iter().all(|e| e.is_full()) {
                    // Every receiver is behind: do not spend the encoding on spans that would
                    // be dropped anyway.
                    for e in &trace_exporters {
                        e.refuse(exportable.len(), &self.stats);
                    }
                } else {
                    let requests =
                        encode::requests(&exportable, &self.resource, self.max_batch_bytes);
                    for (req, n) in requests {
                        let body = Arc::new(req.encode_to_vec());
                        for e in &trace_exporters {
                            e.push(Batch::encoded(body.clone(), n), &self.stats);
                        }
                    }
                }
            }
        }
        if let Some(m) = &self.memory {
            let mut m = m.lock();
            for r in refs {
                if m.len() >= MEMORY_CAPACITY {
                    m.remove(0);
                }
                m.push(r.clone());
            }
        }
    }

    /// Periodic work: retention, metric deltas to the store, metric pushes. `now` forces the
    /// metric work (a flush, or shutdown).
    fn tick(&mut self, now: bool) {
        if let Some(sampler) = &mut self.sampler {
            let mut kept = Vec::new();
            sampler.expire(&mut kept);
            self.sink(&mut kept);
        }
        {
            let mut metrics = self.metrics.lock();
            metrics.set_dropped(&self.stats.drop_totals());
            self.behaviour.take_pending(&mut metrics);
        }
        if let Some(store) = &mut self.store {
            match store.maybe_apply_retention() {
                Ok(n) if n > 0 => diag::report(
                    Level::Info,
                    "store.retention",
                    &format!(
                        "retention removed {n} traces from {}",
                        store.path().display()
                    ),
                ),
                Ok(_) => {}
                Err(e) => diag::report(
                    Level::Warn,
                    "store.retention",
                    &format!("retention failed: {e}"),
                ),
            }
        }
        if self.store.is_some() && (now || self.last_store_metrics.elapsed() >= STORE_METRICS_EVERY)
        {
            self.last_store_metrics = Instant::now();
            let points = self.metrics.lock().take_deltas();
            if let Some(store) = &mut self.store {
                if let Err(e) = store.write_metrics(&points) {
                    self.stats.store_failures.fetch_add(1, Ordering::Relaxed);
                    diag::report(
                        Level::Error,
                        "store.metrics",
                        &format!("cannot write metrics: {e}"),
                    );
                }
            }
        }
        let metric_exporters: Vec<&Arc<ExportQueue>> = self
            .exporters
            .iter()
            .filter(|e| e.signal == Signal::Metrics)
            .collect();
        if !metric_exporters.is_empty()
            && self.metrics_dirty
            && (now || self.last_otlp_metrics.elapsed() >= self.otlp_metrics_every)
        {
            self.last_otlp_metrics = Instant::now();
            self.metrics_dirty = false;
            let request = self
                .metrics
                .lock()
                .to_otlp(&self.resource, crate::record::now_ns());
            let body = Arc::new(request.encode_to_vec());
            for e in metric_exporters {
                e.push(Batch::encoded(body.clone(), 0), &self.stats);
            }
        }
    }
}
