//! Self-statistics, readable through `status()` in every binding.
//!
//! Counters are relaxed atomics: they are read for diagnostics, never to make decisions that need
//! ordering.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Why a span did not reach a sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The span queue was full.
    QueueFull,
    /// An exporter's queue of encoded batches was full.
    ExportQueueFull,
    /// The receiver refused the batch for good (4xx other than 408/413/429), or a single span was
    /// larger than any request the receiver accepts.
    Rejected,
    /// Still queued or being retried when `shutdown` ran out of time.
    Shutdown,
    /// Ended after `shutdown`, or while fivelens was disabled.
    NotRunning,
}

/// Counters of one pipeline.
#[derive(Default, Debug)]
pub struct Stats {
    /// Spans started through the core API.
    pub spans_started: AtomicU64,
    /// Spans ended and offered to the queue.
    pub spans_ended: AtomicU64,
    /// Spans taken from the queue by the processing thread.
    pub spans_processed: AtomicU64,
    /// Spans written to the local store.
    pub spans_stored: AtomicU64,
    /// Spans acknowledged by a network receiver (summed over exporters).
    pub spans_exported: AtomicU64,
    /// Dropped: queue full.
    pub dropped_queue_full: AtomicU64,
    /// Dropped: exporter queue full.
    pub dropped_export_queue_full: AtomicU64,
    /// Dropped: rejected by the receiver.
    pub dropped_rejected: AtomicU64,
    /// Dropped: shutdown deadline.
    pub dropped_shutdown: AtomicU64,
    /// Dropped: not running.
    pub dropped_not_running: AtomicU64,
    /// Export attempts that failed (each retry counts).
    pub export_failures: AtomicU64,
    /// Export attempts that were retried.
    pub export_retries: AtomicU64,
    /// Batches split after a 413.
    pub export_splits: AtomicU64,
    /// Local store write failures.
    pub store_failures: AtomicU64,
    /// Failures inside instrumentation reported by the bindings (swallowed, counted).
    pub internal_errors: AtomicU64,
    /// Texts the redactor scanned.
    pub redaction_texts: AtomicU64,
    /// Bytes the redactor scanned.
    pub redaction_bytes: AtomicU64,
    /// Time the redactor took, nanoseconds (processing thread).
    pub redaction_ns: AtomicU64,
    /// PII values redacted.
    pub redacted_values: AtomicU64,
    /// Traces the sampler kept.
    pub sampling_traces_kept: AtomicU64,
    /// Traces the sampler dropped.
    pub sampling_traces_dropped: AtomicU64,
    /// Spans dropped by sampling (with their traces, or as late spans of dropped traces).
    pub sampling_spans_dropped: AtomicU64,
    /// Traces decided before their root ended because the buffer was full.
    pub sampling_overflow: AtomicU64,
    /// Spans that arrived after their trace was decided.
    pub sampling_late_spans: AtomicU64,
    /// Spans dropped at the full queue that were model or tool calls.
    pub dropped_queue_full_priority: AtomicU64,
    /// Log records handed to the pipeline.
    pub logs_received: AtomicU64,
    /// Log records dropped because the log queue was full.
    pub logs_dropped_queue_full: AtomicU64,
    /// Log records logged after `shutdown`, or while fivelens was disabled.
    pub logs_dropped_not_running: AtomicU64,
    /// Log records dropped by the per-trace budget.
    pub logs_dropped_budget: AtomicU64,
    /// Log records lost on the way out (exporter queue full, refused, shutdown).
    pub logs_dropped_export: AtomicU64,
    /// Log records with a field or the record cut to size.
    pub logs_truncated: AtomicU64,
    /// Log records written to the local store.
    pub logs_stored: AtomicU64,
    /// Log records exported over the network.
    pub logs_exported: AtomicU64,
}

impl Stats {
    /// Counts `n` dropped spans.
    pub fn dropped(&self, reason: DropReason, n: u64) {
        let c = match reason {
            DropReason::QueueFull => &self.dropped_queue_full,
            DropReason::ExportQueueFull => &self.dropped_export_queue_full,
            DropReason::Rejected => &self.dropped_rejected,
            DropReason::Shutdown => &self.dropped_shutdown,
            DropReason::NotRunning => &self.dropped_not_running,
        };
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Spans lost before leaving the process, as `(reason, category, total)` for the
    /// `fivelens.spans.dropped` metric (queue drops of model and tool calls apart).
    pub fn drop_totals(&self) -> [(&'static str, &'static str, u64); 5] {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let priority = g(&self.dropped_queue_full_priority);
        [
            ("queue_full", "model_or_tool", priority),
            (
                "queue_full",
                "other",
                g(&self.dropped_queue_full).saturating_sub(priority),
            ),
            (
                "export_queue_full",
                "any",
                g(&self.dropped_export_queue_full),
            ),
            ("rejected", "any", g(&self.dropped_rejected)),
            ("shutdown", "any", g(&self.dropped_shutdown)),
        ]
    }

    /// A snapshot.
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            spans_started: g(&self.spans_started),
            spans_ended: g(&self.spans_ended),
            spans_processed: g(&self.spans_processed),
            spans_stored: g(&self.spans_stored),
            spans_exported: g(&self.spans_exported),
            dropped: DroppedSnapshot {
                queue_full: g(&self.dropped_queue_full),
                export_queue_full: g(&self.dropped_export_queue_full),
                rejected: g(&self.dropped_rejected),
                shutdown: g(&self.dropped_shutdown),
                not_running: g(&self.dropped_not_running),
            },
            export_failures: g(&self.export_failures),
            export_retries: g(&self.export_retries),
            export_splits: g(&self.export_splits),
            store_failures: g(&self.store_failures),
            internal_errors: g(&self.internal_errors),
            sampling: SamplingSnapshot {
                traces_kept: g(&self.sampling_traces_kept),
                traces_dropped: g(&self.sampling_traces_dropped),
                spans_dropped: g(&self.sampling_spans_dropped),
                overflow: g(&self.sampling_overflow),
                late_spans: g(&self.sampling_late_spans),
            },
            redaction: RedactionSnapshot {
                texts: g(&self.redaction_texts),
                bytes: g(&self.redaction_bytes),
                ns: g(&self.redaction_ns),
                values: g(&self.redacted_values),
            },
            logs: LogsSnapshot {
                received: g(&self.logs_received),
                stored: g(&self.logs_stored),
                exported: g(&self.logs_exported),
                truncated: g(&self.logs_truncated),
                dropped_budget: g(&self.logs_dropped_budget),
                dropped_queue_full: g(&self.logs_dropped_queue_full),
                dropped_not_running: g(&self.logs_dropped_not_running),
                dropped_export: g(&self.logs_dropped_export),
            },
            queue_depth: 0,
            export_queue_bytes: 0,
        }
    }
}

/// What the sampler decided.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SamplingSnapshot {
    /// Traces kept.
    pub traces_kept: u64,
    /// Traces dropped.
    pub traces_dropped: u64,
    /// Spans dropped by sampling.
    pub spans_dropped: u64,
    /// Traces decided early because the buffer was full.
    pub overflow: u64,
    /// Spans that arrived after their trace was decided.
    pub late_spans: u64,
}

/// What the redactor did (processing thread).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RedactionSnapshot {
    /// Texts scanned.
    pub texts: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Time spent, nanoseconds.
    pub ns: u64,
    /// PII values redacted.
    pub values: u64,
}

/// What happened to log records.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct LogsSnapshot {
    /// Handed to the pipeline.
    pub received: u64,
    /// Written to the local store.
    pub stored: u64,
    /// Exported over the network.
    pub exported: u64,
    /// Cut to size (a field or the record).
    pub truncated: u64,
    /// Dropped by the per-trace budget.
    pub dropped_budget: u64,
    /// Dropped because the log queue was full.
    pub dropped_queue_full: u64,
    /// Logged while not running.
    pub dropped_not_running: u64,
    /// Lost on the way out (exporter queue full, refused, shutdown).
    pub dropped_export: u64,
}

/// Dropped spans by reason.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct DroppedSnapshot {
    /// Span queue full.
    pub queue_full: u64,
    /// Exporter queue full.
    pub export_queue_full: u64,
    /// Refused by the receiver.
    pub rejected: u64,
    /// Lost at the shutdown deadline.
    pub shutdown: u64,
    /// Ended while not running.
    pub not_running: u64,
}

impl DroppedSnapshot {
    /// Sum over reasons.
    pub fn total(&self) -> u64 {
        self.queue_full + self.export_queue_full + self.rejected + self.shutdown + self.not_running
    }
}

/// A point-in-time copy of [`Stats`] plus queue depths.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Spans started.
    pub spans_started: u64,
    /// Spans ended.
    pub spans_ended: u64,
    /// Spans processed.
    pub spans_processed: u64,
    /// Spans stored locally.
    pub spans_stored: u64,
    /// Spans exported over the network.
    pub spans_exported: u64,
    /// Drops by reason.
    pub dropped: DroppedSnapshot,
    /// Failed export attempts.
    pub export_failures: u64,
    /// Retried export attempts.
    pub export_retries: u64,
    /// 413 splits.
    pub export_splits: u64,
    /// Store write failures.
    pub store_failures: u64,
    /// Swallowed instrumentation failures.
    pub internal_errors: u64,
    /// The redactor's work.
    pub redaction: RedactionSnapshot,
    /// The sampler's decisions.
    pub sampling: SamplingSnapshot,
    /// Log records.
    pub logs: LogsSnapshot,
    /// Spans waiting in the queue.
    pub queue_depth: u64,
    /// Bytes waiting in exporter queues.
    pub export_queue_bytes: u64,
}
