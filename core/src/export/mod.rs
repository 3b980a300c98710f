//! Network export: one thread per exporter, each with its own bounded queue of encoded batches.
//!
//! ```text
//!  processing thread ──push (never blocks; drop+count when full)──> ExportQueue ──> export thread
//!                                                                                  │ send
//!                                                  retry with backoff (429/502/503/504/down),
//!                                                  split on 413, drop+count on other 4xx
//! ```
//!
//! A receiver that is down only ever blocks its own export thread: the batch at the head is
//! retried with capped backoff while new batches wait in the queue up to its byte bound, so what
//! was accepted while the receiver was down is delivered when it comes back. Nothing here runs on
//! the caller's thread.

pub mod encode;
pub mod encode_logs;
#[cfg(feature = "grpc")]
mod grpc;
mod http;

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use parking_lot::Mutex;
use prost::Message;

use crate::config::{Config, Protocol};
use crate::diag::{self, Level};
use crate::pipeline::Control;
use crate::stats::{DropReason, Stats};
use crate::wakeup::Wakeup;

/// What an exporter carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Spans (`ExportTraceServiceRequest`).
    Traces,
    /// Metrics (`ExportMetricsServiceRequest`).
    Metrics,
    /// Log records (`ExportLogsServiceRequest`).
    Logs,
}

/// One request waiting to be sent, already encoded (protobuf): the queue's byte bound is the
/// memory it really holds, and exporters share one encoding.
pub struct Batch {
    /// `ExportTraceServiceRequest`, protobuf-encoded (before compression).
    pub body: Arc<Vec<u8>>,
    /// Spans in it.
    pub spans: usize,
    /// Encoded size in bytes.
    pub bytes: usize,
}

impl Batch {
    /// An encoded request of `spans` spans.
    pub fn encoded(body: Arc<Vec<u8>>, spans: usize) -> Batch {
        let bytes = body.len();
        Batch { body, spans, bytes }
    }

    /// Encodes a request.
    pub fn new(request: &ExportTraceServiceRequest, spans: usize) -> Batch {
        Batch::encoded(Arc::new(request.encode_to_vec()), spans)
    }

    /// The span request, decoded again (for splitting).
    pub fn request(&self) -> Option<ExportTraceServiceRequest> {
        ExportTraceServiceRequest::decode(&self.body[..]).ok()
    }
}

enum Item {
    Batch(Batch),
    /// Flush marker: acknowledged once everything before it has been sent (or given up on).
    Marker(u64),
}

struct QueueState {
    items: VecDeque<Item>,
    bytes: usize,
    shutdown_deadline: Option<Instant>,
}

/// The bounded queue between the processing thread and one export thread.
///
/// Lock order: taken after [`crate::pipeline::Control`]'s lock, never before; held only to move
/// items, never across I/O.
pub struct ExportQueue {
    state: Mutex<QueueState>,
    wakeup: Wakeup,
    max_bytes: usize,
    /// Index of this exporter in [`Control`]'s acknowledgement table.
    pub index: usize,
    /// What it carries.
    pub signal: Signal,
    /// Where it sends to (for diagnostics).
    pub endpoint: String,
}

impl ExportQueue {
    /// An empty queue bounded at `max_bytes`.
    pub fn new(index: usize, signal: Signal, endpoint: String, max_bytes: usize) -> ExportQueue {
        ExportQueue {
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                bytes: 0,
                shutdown_deadline: None,
            }),
            wakeup: Wakeup::new(),
            max_bytes,
            index,
            signal,
            endpoint,
        }
    }

    /// Offers a batch; when the queue is full the batch is dropped and counted. Never blocks.
    pub fn push(&self, batch: Batch, stats: &Stats) {
        let mut st = self.state.lock();
        if st.bytes + batch.bytes > self.max_bytes && !st.items.is_empty() {
            drop(st);
            self.refuse(batch.spans, stats);
            return;
        }
        st.bytes += batch.bytes;
        st.items.push_back(Item::Batch(batch));
        self.wakeup.notify_all();
        drop(st);
    }

    /// Whether the queue is at its byte bound.
    pub fn is_full(&self) -> bool {
        self.state.lock().bytes >= self.max_bytes
    }

    /// Counts `n` items (spans, or log records for a logs exporter) lost on the way out.
    pub fn lost(&self, stats: &Stats, reason: DropReason, n: u64) {
        if self.signal == Signal::Logs {
            stats.logs_dropped_export.fetch_add(n, Ordering::Relaxed);
        } else {
            stats.dropped(reason, n);
        }
    }

    /// Counts `spans` spans dropped because this queue is full.
    pub fn refuse(&self, spans: usize, stats: &Stats) {
        self.lost(stats, DropReason::ExportQueueFull, spans as u64);
        diag::report_with(Level::Warn, "export.queue_full", || {
            format!(
                "the export queue for {} is full ({} bytes); spans are being dropped until the receiver catches up",
                self.endpoint, self.max_bytes
            )
        });
    }

    /// Queues a flush marker (always accepted).
    pub fn push_marker(&self, epoch: u64) {
        let mut st = self.state.lock();
        st.items.push_back(Item::Marker(epoch));
        self.wakeup.notify_all();
        drop(st);
    }

    /// Tells the export thread to finish by `deadline`.
    pub fn shutdown(&self, deadline: Instant) {
        let mut st = self.state.lock();
        st.shutdown_deadline = Some(deadline);
        self.wakeup.notify_all();
        drop(st);
    }

    /// Bytes waiting.
    pub fn queued_bytes(&self) -> usize {
        self.state.lock().bytes
    }

    /// Takes the lock for a fork (see [`crate::fork`]).
    pub(crate) fn lock_for_fork(&self) {
        std::mem::forget(self.state.lock());
    }

    /// Releases the fork lock; in the child, also drops everything queued (the parent sends it).
    pub(crate) fn unlock_after_fork(&self, in_child: bool) {
        // SAFETY: paired with `lock_for_fork` in the same fork's prepare handler.
        unsafe { self.state.force_unlock() };
        if in_child {
            let mut st = self.state.lock();
            st.items.clear();
            st.bytes = 0;
        }
    }

    fn pop(&self, wait: Duration) -> Option<Item> {
        let seen = self.wakeup.generation();
        let idle = {
            let st = self.state.lock();
            st.items.is_empty() && st.shutdown_deadline.is_none()
        };
        if idle {
            self.wakeup.wait_until(seen, Instant::now() + wait);
        }
        let mut st = self.state.lock();
        let item = st.items.pop_front();
        if let Some(Item::Batch(b)) = &item {
            st.bytes = st.bytes.saturating_sub(b.bytes);
        }
        item
    }

    fn push_front(&self, items: Vec<Batch>) {
        let mut st = self.state.lock();
        for b in items.into_iter().rev() {
            st.bytes += b.bytes;
            st.items.push_front(Item::Batch(b));
        }
    }

    fn shutdown_deadline(&self) -> Option<Instant> {
        self.state.lock().shutdown_deadline
    }

    fn is_empty(&self) -> bool {
        self.state.lock().items.is_empty()
    }

    /// Sleeps up to `d`; a shutdown (or a new batch) wakes it early for one more attempt.
    fn sleep(&self, d: Duration) {
        let seen = self.wakeup.generation();
        self.wakeup.wait_until(seen, Instant::now() + d);
    }

    fn drain_for_shutdown(&self, stats: &Stats, control: &Control) {
        let items: Vec<Item> = {
            let mut st = self.state.lock();
            st.bytes = 0;
            st.items.drain(..).collect()
        };
        for item in items {
            match item {
                Item::Batch(b) => self.lost(stats, DropReason::Shutdown, b.spans as u64),
                Item::Marker(epoch) => control.exporter_ack(self.index, epoch),
            }
        }
    }
}

/// What one send attempt came to.
#[derive(Debug)]
pub enum Outcome {
    /// Accepted; the receiver may report some spans as rejected.
    Sent {
        /// Spans the receiver said it rejected.
        rejected: u64,
    },
    /// Try again later (down, 429, 502, 503, 504, timeouts).
    Retry {
        /// Server-requested delay (`Retry-After`, gRPC retry info).
        after: Option<Duration>,
        /// For diagnostics.
        reason: String,
    },
    /// The request was too large for the receiver (HTTP 413): split it.
    TooLarge,
    /// Refused for good (other 4xx, 500, 501): drop the batch.
    Rejected {
        /// For diagnostics.
        reason: String,
    },
}

/// A wire transport: HTTP/protobuf, HTTP/JSON or gRPC. Built on the export thread, so a forked
/// child never reuses the parent's connections.
pub trait Transport {
    /// Sends one request (protobuf-encoded `ExportTraceServiceRequest`).
    fn send(&mut self, batch: &Batch) -> Outcome;
}

/// Settings an export thread needs.
#[derive(Clone, Debug)]
pub struct ExporterSettings {
    /// What it carries.
    pub signal: Signal,
    /// URL.
    pub endpoint: String,
    /// Protocol.
    pub protocol: Protocol,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// gzip bodies.
    pub gzip: bool,
}

impl ExporterSettings {
    /// The exporters the config asks for: traces and metrics, each when its endpoint is set.
    pub fn from_config(config: &Config) -> Vec<ExporterSettings> {
        let mut out = Vec::new();
        if let Some(endpoint) = config.traces_endpoint() {
            out.push(ExporterSettings::for_signal(
                config,
                Signal::Traces,
                endpoint,
            ));
        }
        if let Some(endpoint) = config.metrics_endpoint() {
            out.push(ExporterSettings::for_signal(
                config,
                Signal::Metrics,
                endpoint,
            ));
        }
        if let Some(endpoint) = config.logs_endpoint() {
            let mut s = ExporterSettings::for_signal(config, Signal::Logs, endpoint);
            if let Some(p) = config.otlp_logs_protocol {
                s.protocol = p;
            }
            for (k, v) in &config.otlp_logs_headers {
                s.headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
                s.headers.push((k.clone(), v.clone()));
            }
            if let Some(t) = config.otlp_logs_timeout_ms {
                s.timeout = Duration::from_millis(t);
            }
            if let Some(c) = config.otlp_logs_compression {
                s.gzip = c == crate::config::Compression::Gzip;
            }
            out.push(s);
        }
        out
    }

    fn for_signal(config: &Config, signal: Signal, endpoint: String) -> ExporterSettings {
        ExporterSettings {
            signal,
            endpoint,
            protocol: config.otlp_protocol,
            headers: config
                .otlp_headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            timeout: Duration::from_millis(config.otlp_timeout_ms),
            gzip: config.otlp_compression == crate::config::Compression::Gzip,
        }
    }

    fn transport(&self) -> Box<dyn Transport> {
        match self.protocol {
            #[cfg(feature = "grpc")]
            Protocol::Grpc => Box::new(grpc::GrpcTransport::new(self.clone())),
            #[cfg(not(feature = "grpc"))]
            Protocol::Grpc => Box::new(http::HttpTransport::new(self.clone())),
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                Box::new(http::HttpTransport::new(self.clone()))
            }
        }
    }
}

const BACKOFF_INITIAL: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const RETRY_AFTER_MAX: Duration = Duration::from_secs(60);

/// Runs an export thread until its queue is shut down and drained (or its deadline passes).
pub fn run(
    queue: Arc<ExportQueue>,
    settings: ExporterSettings,
    stats: Arc<Stats>,
    control: Arc<Control>,
) {
    let mut transport = settings.transport();
    loop {
        let deadline = queue.shutdown_deadline();
        if let Some(d) = deadline {
            if Instant::now() >= d {
                queue.drain_for_shutdown(&stats, &control);
                break;
            }
            if queue.is_empty() {
                break;
            }
        }
        let Some(item) = queue.pop(Duration::from_millis(500)) else {
            continue;
        };
        match item {
            Item::Marker(epoch) => control.exporter_ack(queue.index, epoch),
            Item::Batch(batch) => send_with_retry(&queue, transport.as_mut(), batch, &stats),
        }
    }
    control.exporter_exited(queue.index);
}

fn send_with_retry(
    queue: &ExportQueue,
    transport: &mut dyn Transport,
    batch: Batch,
    stats: &Stats,
) {
    let mut backoff = BACKOFF_INITIAL;
    loop {
        match transport.send(&batch) {
            Outcome::Sent { rejected } => {
                let rejected = rejected.min(batch.spans as u64);
                let exported = if queue.signal == Signal::Logs {
                    &stats.logs_exported
                } else {
                    &stats.spans_exported
                };
                exported.fetch_add(batch.spans as u64 - rejected, Ordering::Relaxed);
                if rejected > 0 {
                    queue.lost(stats, DropReason::Rejected, rejected);
                    diag::report(
                        Level::Warn,
                        "export.partial",
                        &format!("{} reported {rejected} spans as rejected", queue.endpoint),
                    );
                }
                return;
            }
            Outcome::TooLarge => {
                stats.export_failures.fetch_add(1, Ordering::Relaxed);
                if queue.signal == Signal::Logs {
                    let halves = ExportLogsServiceRequest::decode(&batch.body[..])
                        .ok()
                        .as_ref()
                        .and_then(encode_logs::split);
                    match halves {
                        Some((a, b)) => {
                            stats.export_splits.fetch_add(1, Ordering::Relaxed);
                            let (na, nb) =
                                (encode_logs::record_count(&a), encode_logs::record_count(&b));
                            queue.push_front(vec![
                                Batch::encoded(Arc::new(a.encode_to_vec()), na),
                                Batch::encoded(Arc::new(b.encode_to_vec()), nb),
                            ]);
                        }
                        None => queue.lost(stats, DropReason::Rejected, batch.spans as u64),
                    }
                    return;
                }
                match batch.request().as_ref().and_then(encode::split) {
                    Some((a, b)) => {
                        stats.export_splits.fetch_add(1, Ordering::Relaxed);
                        let (na, nb) = (encode::span_count(&a), encode::span_count(&b));
                        queue.push_front(vec![Batch::new(&a, na), Batch::new(&b, nb)]);
                    }
                    None => {
                        stats.dropped(DropReason::Rejected, batch.spans as u64);
                        diag::report(
                            Level::Warn,
                            "export.too_large",
                            &format!(
                                "{} refused a single span of {} bytes as too large; it was dropped (lower max_attribute_bytes)",
                                queue.endpoint, batch.bytes
                            ),
                        );
                    }
                }
                return;
            }
            Outcome::Rejected { reason } => {
                stats.export_failures.fetch_add(1, Ordering::Relaxed);
                queue.lost(stats, DropReason::Rejected, batch.spans as u64);
                diag::report(
                    Level::Error,
                    "export.rejected",
                    &format!(
                        "{} refused a batch of {} spans: {reason}",
                        queue.endpoint, batch.spans
                    ),
                );
                return;
            }
            Outcome::Retry { after, reason } => {
                stats.export_failures.fetch_add(1, Ordering::Relaxed);
                diag::report(
                    Level::Warn,
                    "export.retry",
                    &format!(
                        "cannot export to {}: {reason}; retrying in the background",
                        queue.endpoint
                    ),
                );
                let mut wait = after.map(|a| a.min(RETRY_AFTER_MAX)).unwrap_or(backoff);
                // Jitter keeps many processes from retrying in step.
                wait = wait.mul_f64(0.8 + 0.4 * fastrand::f64());
                if let Some(deadline) = queue.shutdown_deadline() {
                    let now = Instant::now();
                    if now + wait >= deadline {
                        // One last immediate try is not worth it: the receiver just failed.
                        queue.lost(stats, DropReason::Shutdown, batch.spans as u64);
                        return;
                    }
                }
                queue.sleep(wait);
                stats.export_retries.fetch_add(1, Ordering::Relaxed);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}
