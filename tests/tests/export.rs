//! The pipeline against a real (loopback) OTLP receiver: every protocol, compression, faults,
//! queue bounds and bounded shutdown. Each test builds its own pipeline, so they run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;
use std::time::{Duration, Instant};

use fivelens_core::config::Config;
use fivelens_core::pipeline::Pipeline;
use fivelens_core::record::{flags, Parent, SpanKind, SpanRecord, Status};
use fivelens_core::{HostInfo, Key, Value};
use fivelens_tests::receiver::Receiver;
use serde_json::json;

fn config(extra: serde_json::Value) -> Arc<Config> {
    let mut options = json!({
        "store": "off",
        "schedule_delay_ms": 20,
        "service_name": "export-test",
    });
    if let (Some(o), Some(e)) = (options.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    Arc::new(Config::resolve(&options, &|_| None).expect("valid config"))
}

fn host() -> HostInfo {
    HostInfo {
        language: "rust".into(),
        attributes: vec![],
    }
}

fn span(name: &str, parent: Option<&SpanRecord>) -> SpanRecord {
    let p = parent.map(|p| Parent {
        trace_id: p.trace_id,
        span_id: p.span_id,
        remote: false,
        flags: 1,
    });
    let mut r = SpanRecord::start(name, SpanKind::Internal, p);
    r.set_attribute(Key::new("test.index"), Value::from(name));
    r
}

fn ended(mut r: SpanRecord) -> SpanRecord {
    r.end_at(None);
    r
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn http_protobuf_export_keeps_parents_attributes_and_resource() {
    let rx = Receiver::start(0).unwrap();
    let p = Pipeline::start(
        config(json!({"otlp_endpoint": rx.endpoint(), "otlp_headers": {"x-api-key": "secret"}})),
        host(),
        false,
    )
    .unwrap();
    let root = span("root", None);
    let mut child = span("child", Some(&root));
    child.kind = SpanKind::Client;
    child.set_attribute(Key::new("n"), Value::from(7i64));
    child.set_attribute(
        Key::new("tags"),
        Value::StrArray(vec!["a".into(), "b".into()].into()),
    );
    child.add_event("something", None, vec![(Key::new("k"), Value::from(true))]);
    child.record_exception("ValueError", "bad input", None);
    let (root_id, child_id, trace) = (root.span_id, child.span_id, root.trace_id);
    p.submit(ended(child));
    p.submit(ended(root));
    assert!(p.flush(Duration::from_secs(5)));
    let spans = rx.state.spans();
    assert_eq!(spans.len(), 2);
    let c = spans.iter().find(|s| s.name == "child").unwrap();
    let r = spans.iter().find(|s| s.name == "root").unwrap();
    assert_eq!(c.trace_id, trace.to_hex());
    assert_eq!(r.trace_id, trace.to_hex());
    assert_eq!(c.parent_span_id, root_id.to_hex());
    assert_eq!(c.span_id, child_id.to_hex());
    assert_eq!(r.parent_span_id, "");
    assert_eq!(c.kind, 3);
    assert_eq!(c.attributes["n"], json!(7));
    assert_eq!(c.attributes["tags"], json!(["a", "b"]));
    assert_eq!(c.attributes["error.type"], json!("ValueError"));
    assert_eq!(c.status_code, 2);
    assert_eq!(c.status_message, "bad input");
    assert_eq!(c.events[0]["name"], "something");
    assert_eq!(c.events[1]["name"], "exception");
    assert_eq!(c.resource["service.name"], json!("export-test"));
    assert_eq!(c.resource["telemetry.sdk.name"], json!("fivelens"));
    assert_eq!(c.scope, "fivelens");
    assert_eq!(
        rx.state.last_headers().get("x-api-key").map(String::as_str),
        Some("secret")
    );
    assert_eq!(
        rx.state
            .last_headers()
            .get("content-type")
            .map(String::as_str),
        Some("application/x-protobuf")
    );
    assert!(p.shutdown(Duration::from_secs(2)));
    assert_eq!(p.snapshot().spans_exported, 2);
}

#[test]
fn gzip_and_json_bodies_are_accepted() {
    for (protocol, compression) in [
        ("http/json", "none"),
        ("http/protobuf", "gzip"),
        ("http/json", "gzip"),
    ] {
        let rx = Receiver::start(0).unwrap();
        let p = Pipeline::start(
            config(json!({"otlp_endpoint": rx.endpoint(), "otlp_protocol": protocol, "otlp_compression": compression})),
            host(),
            false,
        )
        .unwrap();
        let root = span("root", None);
        let child = span("child", Some(&root));
        let root_id = root.span_id.to_hex();
        p.submit(ended(child));
        p.submit(ended(root));
        assert!(p.flush(Duration::from_secs(5)), "{protocol} {compression}");
        let spans = rx.state.spans();
        assert_eq!(spans.len(), 2, "{protocol} {compression}");
        let c = spans.iter().find(|s| s.name == "child").unwrap();
        assert_eq!(c.parent_span_id, root_id);
        assert_eq!(c.transport, protocol);
        if compression == "gzip" {
            assert_eq!(
                rx.state
                    .last_headers()
                    .get("content-encoding")
                    .map(String::as_str),
                Some("gzip")
            );
        }
        p.shutdown(Duration::from_secs(2));
    }
}

#[test]
fn grpc_export() {
    let rx = Receiver::start_with(0, Some(0)).unwrap();
    let grpc = format!("http://{}", rx.grpc_addr.unwrap());
    let p = Pipeline::start(
        config(json!({"otlp_endpoint": grpc, "otlp_protocol": "grpc", "otlp_compression": "gzip"})),
        host(),
        false,
    )
    .unwrap();
    let root = span("root", None);
    let child = span("child", Some(&root));
    let root_id = root.span_id.to_hex();
    p.submit(ended(child));
    p.submit(ended(root));
    assert!(p.flush(Duration::from_secs(10)));
    let spans = rx.state.spans();
    assert_eq!(spans.len(), 2);
    assert!(spans.iter().all(|s| s.transport == "grpc"));
    assert_eq!(
        spans
            .iter()
            .find(|s| s.name == "child")
            .unwrap()
            .parent_span_id,
        root_id
    );
    p.shutdown(Duration::from_secs(2));
}

#[test]
fn too_large_batches_are_split_not_lost() {
    let rx = Receiver::start(0).unwrap();
    rx.state.set_max_body(Some(6 * 1024));
    let p = Pipeline::start(
        config(json!({"otlp_endpoint": rx.endpoint()})),
        host(),
        false,
    )
    .unwrap();
    for i in 0..40 {
        let mut s = span(&format!("s{i}"), None);
        s.set_attribute(Key::new("payload"), Value::from("x".repeat(1000)));
        p.submit(ended(s));
    }
    assert!(p.flush(Duration::from_secs(10)));
    assert_eq!(rx.state.spans().len(), 40);
    let snap = p.snapshot();
    assert!(snap.export_splits > 0);
    assert_eq!(snap.spans_exported, 40);
    assert!(rx.state.counts().get("413").copied().unwrap_or(0) > 0);

    // One span that alone exceeds what the receiver takes is dropped and counted; it does not
    // poison the spans around it.
    rx.state.clear();
    let mut huge = span("huge", None);
    huge.set_attribute(Key::new("payload"), Value::from("y".repeat(20 * 1024)));
    p.submit(ended(huge));
    p.submit(ended(span("small", None)));
    assert!(p.flush(Duration::from_secs(10)));
    let names: Vec<String> = rx.state.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(names, vec!["small".to_string()]);
    assert_eq!(p.snapshot().dropped.rejected, 1);
    p.shutdown(Duration::from_secs(2));
}

#[test]
fn batches_are_split_below_the_transport_limit_before_sending() {
    let rx = Receiver::start(0).unwrap();
    rx.state.set_max_body(Some(64 * 1024));
    let p = Pipeline::start(
        config(json!({"otlp_endpoint": rx.endpoint(), "max_export_batch_bytes": 60 * 1024})),
        host(),
        false,
    )
    .unwrap();
    for i in 0..100 {
        let mut s = span(&format!("s{i}"), None);
        s.set_attribute(Key::new("payload"), Value::from("z".repeat(2000)));
        p.submit(ended(s));
    }
    assert!(p.flush(Duration::from_secs(10)));
    assert_eq!(rx.state.spans().len(), 100);
    assert_eq!(rx.state.counts().get("413").copied().unwrap_or(0), 0);
    p.shutdown(Duration::from_secs(2));
}

#[test]
fn flapping_receiver_is_retried_until_it_accepts() {
    let rx = Receiver::start(0).unwrap();
    rx.state.fail_next(3, 503);
    let p = Pipeline::start(
        config(json!({"otlp_endpoint": rx.endpoint()})),
        host(),
        false,
    )
    .unwrap();
    for i in 0..10 {
        p.submit(ended(span(&format!("s{i}"), None)));
    }
    assert!(p.flush(Duration::from_secs(15)));
    assert_eq!(rx.state.spans().len(), 10);
    let snap = p.snapshot();
    assert!(snap.export_retries >= 3, "{snap:?}");
    assert_eq!(snap.dropped.total(), 0);
    p.shutdown(Duration::from_secs(2));
}

#[test]
fn non_retryable_rejection_is_dropped_and_counted() {
    let rx = Receiver::start(0).unwrap();
    rx.state.set_status(Some(400));
    let p = Pipeline::start(
        config(json!({"otlp_endpoint": rx.endpoint()})),
        host(),
        false,
    )
    .unwrap();
    p.submit(ended(span("refused", None)));
    assert!(p.flush(Duration::from_secs(5)));
    assert_eq!(p.snapshot().dropped.rejected, 1);
    assert!(rx.state.spans().is_empty());
    p.shutdown(Duration::from_secs(2));
}

#[test]
fn spans_accepted_while_the_receiver_is_down_arrive_when_it_returns() {
    let port = free_port();
    let p = Pipeline::start(
        config(json!({"otlp_endpoint": format!("http://127.0.0.1:{port}")})),
        host(),
        false,
    )
    .unwrap();
    for i in 0..50 {
        p.submit(ended(span(&format!("s{i}"), None)));
    }
    // Down: flush gives up at its timeout, without losing anything.
    let t = Instant::now();
    assert!(!p.flush(Duration::from_millis(500)));
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(p.snapshot().export_failures > 0);
    let rx = Receiver::start(port).unwrap();
    let got = rx.wait_for(50, Duration::from_secs(20));
    assert_eq!(got.len(), 50);
    assert!(p.flush(Duration::from_secs(5)));
    assert_eq!(p.snapshot().dropped.total(), 0);
    p.shutdown(Duration::from_secs(2));
}

#[test]
fn shutdown_with_the_receiver_down_is_bounded_and_counts_the_loss() {
    let port = free_port();
    let p = Pipeline::start(
        config(json!({"otlp_endpoint": format!("http://127.0.0.1:{port}")})),
        host(),
        false,
    )
    .unwrap();
    for i in 0..100 {
        p.submit(ended(span(&format!("s{i}"), None)));
    }
    let t = Instant::now();
    let clean = p.shutdown(Duration::from_millis(800));
    let took = t.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    // Either the export thread gave up in time (counted as dropped at shutdown) or the wait
    // returned at the deadline; nothing is reported as exported.
    let snap = p.snapshot();
    assert_eq!(snap.spans_exported, 0);
    if clean {
        assert_eq!(snap.dropped.shutdown, 100);
    }
    // Spans ended after shutdown are refused and counted, never queued.
    p.submit(ended(span("late", None)));
    assert_eq!(p.snapshot().dropped.not_running, 1);
}

#[test]
fn slow_receiver_does_not_block_the_caller() {
    let rx = Receiver::start(0).unwrap();
    rx.state.set_delay(Some(Duration::from_millis(300)));
    let p = Pipeline::start(
        config(json!({"otlp_endpoint": rx.endpoint(), "batch_size": 500})),
        host(),
        false,
    )
    .unwrap();
    let t = Instant::now();
    for i in 0..2000 {
        p.submit(ended(span(&format!("s{i}"), None)));
    }
    // 2,000 submits against a receiver answering in 300 ms: far less than one answer's time.
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    assert!(p.flush(Duration::from_secs(30)));
    assert_eq!(rx.state.spans().len(), 2000);
    p.shutdown(Duration::from_secs(2));
}

/// Stalls the processing thread for real: another connection takes the store's write lock, so
/// the worker blocks writing the span "first" (holding it, the span queue empty) until the lock
/// is released. The store is opened and its schema written first (span "warm"), so that the
/// worker stalls on that write and not on start-up. Two spans are stored once it resumes.
fn stall_store(p: &Pipeline, db: &std::path::Path) -> rusqlite::Connection {
    p.submit(ended(span("warm", None)));
    assert!(p.flush(Duration::from_secs(10)));
    let blocker = rusqlite::Connection::open(db).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    p.submit(ended(span("first", None)));
    assert!(
        !p.flush(Duration::from_millis(300)),
        "the processing thread is stalled"
    );
    assert_eq!(p.snapshot().queue_depth, 0, "it holds \"first\"");
    blocker
}

#[test]
fn full_queue_drops_and_counts_keeping_model_and_tool_spans_last() {
    // The worker is stalled on a real store write (see `stall_store`): the queue fills up.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stalled.db");
    let p = Pipeline::start(
        config(json!({
            "store": "on",
            "store_path": db.display().to_string(),
            "queue_size": 100,
            "batch_size": 1000,
        })),
        host(),
        true,
    )
    .unwrap();
    let blocker = stall_store(&p, &db);
    for i in 0..200 {
        p.submit(ended(span(&format!("plain{i}"), None)));
    }
    let snap = p.snapshot();
    assert_eq!(
        snap.queue_depth, 90,
        "ordinary spans stop at 90% of the queue"
    );
    assert_eq!(snap.dropped.queue_full, 110);
    for i in 0..20 {
        let mut s = span(&format!("chat{i}"), None);
        s.set_attribute(Key::new("gen_ai.operation.name"), Value::from("chat"));
        s.end_at(None);
        assert!(s.flags & flags::PRIORITY != 0);
        p.submit(s);
    }
    let snap = p.snapshot();
    assert_eq!(snap.queue_depth, 100, "model calls use the reserve");
    assert_eq!(snap.dropped.queue_full, 120);
    assert_eq!(snap.spans_ended, 222);
    blocker.execute_batch("ROLLBACK").unwrap();
    assert!(p.flush(Duration::from_secs(10)));
    let reader = fivelens_core::store::Reader::open(&db).unwrap().unwrap();
    let stats = reader.stats().unwrap();
    assert_eq!(stats.spans, 102, "everything that was accepted is stored");
    assert_eq!(p.snapshot().dropped.queue_full, 120);
    // The ten model calls the full queue dropped are lost as spans, not in the metrics.
    let text = p.prometheus_text();
    let calls = text
        .lines()
        .find(|l| {
            l.starts_with("gen_ai_client_operation_duration_seconds_count")
                && l.contains("gen_ai_operation_name=\"chat\"")
        })
        .unwrap_or_else(|| panic!("no chat call count in:\n{text}"));
    assert!(calls.ends_with(" 20"), "{calls}");
    p.shutdown(Duration::from_secs(2));
}

#[test]
fn export_queue_is_bounded_in_bytes() {
    let port = free_port();
    let p = Pipeline::start(
        config(json!({
            "otlp_endpoint": format!("http://127.0.0.1:{port}"),
            "export_queue_bytes": 64 * 1024,
            "batch_size": 10,
        })),
        host(),
        false,
    )
    .unwrap();
    for i in 0..500 {
        let mut s = span(&format!("s{i}"), None);
        s.set_attribute(Key::new("payload"), Value::from("q".repeat(1000)));
        p.submit(ended(s));
    }
    p.flush(Duration::from_millis(500));
    let snap = p.snapshot();
    assert!(
        snap.export_queue_bytes <= 64 * 1024 + 16 * 1024,
        "{}",
        snap.export_queue_bytes
    );
    assert!(snap.dropped.export_queue_full > 0);
    p.shutdown(Duration::from_millis(200));
}

#[test]
fn store_and_exporter_run_together() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("both.db");
    let rx = Receiver::start(0).unwrap();
    let p = Pipeline::start(
        config(json!({"otlp_endpoint": rx.endpoint(), "store": "on", "store_path": db.display().to_string()})),
        host(),
        true,
    )
    .unwrap();
    let root = span("root", None);
    let mut child = span("child", Some(&root));
    child.status = Status::Error("x".into());
    let trace = root.trace_id.to_hex();
    p.submit(ended(child));
    p.submit(ended(root));
    assert!(p.flush(Duration::from_secs(5)));
    assert_eq!(rx.state.spans().len(), 2);
    let reader = fivelens_core::store::Reader::open(&db).unwrap().unwrap();
    let t = reader.trace(&trace).unwrap().unwrap();
    assert_eq!(t.span_count, 2);
    assert_eq!(t.error_count, 1);
    p.shutdown(Duration::from_secs(2));
}

#[test]
fn store_only_spans_never_reach_the_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("foreign.db");
    let rx = Receiver::start(0).unwrap();
    let p = Pipeline::start(
        config(json!({"otlp_endpoint": rx.endpoint(), "store": "on", "store_path": db.display().to_string()})),
        host(),
        true,
    )
    .unwrap();
    let mut foreign = span("foreign", None);
    foreign.flags |= flags::STORE_ONLY;
    let trace = foreign.trace_id.to_hex();
    p.submit(ended(foreign));
    p.submit(ended(span("ours", None)));
    assert!(p.flush(Duration::from_secs(5)));
    let names: Vec<String> = rx.state.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(names, vec!["ours".to_string()]);
    let reader = fivelens_core::store::Reader::open(&db).unwrap().unwrap();
    assert_eq!(reader.spans(&trace).unwrap().len(), 1);
    p.shutdown(Duration::from_secs(2));
}

#[test]
fn overflowing_deferred_batches_still_keep_model_and_tool_spans() {
    use fivelens_core::pipeline::DeferredBatch;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deferred.db");
    let p = Pipeline::start(
        config(json!({
            "store": "on",
            "store_path": db.display().to_string(),
            "queue_size": 100,
            "batch_size": 50,
        })),
        host(),
        true,
    )
    .unwrap();
    let blocker = stall_store(&p, &db);
    let batch = |plain: usize, chat: usize| DeferredBatch {
        spans: plain + chat,
        build: Box::new(move || {
            let mut out: Vec<SpanRecord> = (0..plain)
                .map(|i| ended(span(&format!("plain{i}"), None)))
                .collect();
            for i in 0..chat {
                let mut s = span(&format!("chat{i}"), None);
                s.set_attribute(Key::new("gen_ai.operation.name"), Value::from("chat"));
                s.end_at(None);
                out.push(s);
            }
            out
        }),
    };
    for _ in 0..4 {
        p.submit_deferred(batch(10, 0));
    }
    assert_eq!(
        p.snapshot().dropped.queue_full,
        0,
        "four batches fit the deferred queue"
    );
    // The fifth overflows: decoded on the caller, offered span by span.
    p.submit_deferred(batch(100, 10));
    let snap = p.snapshot();
    assert_eq!(
        snap.dropped.queue_full, 10,
        "ordinary spans beyond 90% are dropped"
    );
    assert_eq!(
        snap.queue_depth,
        4 + 100,
        "four deferred batches and a full span queue"
    );
    blocker.execute_batch("ROLLBACK").unwrap();
    assert!(p.flush(Duration::from_secs(10)));
    let reader = fivelens_core::store::Reader::open(&db).unwrap().unwrap();
    assert_eq!(reader.stats().unwrap().spans, 2 + 40 + 90 + 10);
    p.shutdown(Duration::from_secs(2));
}
