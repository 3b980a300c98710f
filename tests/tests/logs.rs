//! Log records through the pipeline to a real (loopback) OTLP receiver and the local store:
//! correlation, every protocol, the logs-specific variables, redaction, size rules, the budget,
//! records derived from spans, and `fivelens logs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;
use std::time::Duration;

use fivelens_core::config::Config;
use fivelens_core::logs::{severity, LogRecord};
use fivelens_core::pipeline::Pipeline;
use fivelens_core::record::{SpanKind, SpanRecord};
use fivelens_core::semconv as sc;
use fivelens_core::{HostInfo, Key, Value};
use fivelens_tests::receiver::Receiver;
use serde_json::json;

fn config(extra: serde_json::Value, env: &dyn Fn(&str) -> Option<String>) -> Arc<Config> {
    let mut options = json!({"store": "off", "schedule_delay_ms": 20, "service_name": "logs-test"});
    if let (Some(o), Some(e)) = (options.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    Arc::new(Config::resolve(&options, env).expect("valid config"))
}

fn host() -> HostInfo {
    HostInfo {
        language: "rust".into(),
        attributes: vec![],
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn record_in(span: &SpanRecord, body: &str) -> LogRecord {
    let mut r = LogRecord::new(severity::WARN, body).in_span(span.trace_id, span.span_id, true);
    r.scope = Some(Key::new("app.module"));
    r
}

#[test]
fn records_reach_the_receiver_beside_their_span() {
    let rx = Receiver::start(0).unwrap();
    let p = Pipeline::start(
        config(json!({"otlp_endpoint": rx.endpoint()}), &no_env),
        host(),
        false,
    )
    .unwrap();
    let mut span = SpanRecord::start("agent run", SpanKind::Internal, None);
    let mut r = record_in(&span, "mail me at jane.doe@example.com");
    r.attributes
        .push((Key::new("order"), Value::from("card 4111 1111 1111 1111")));
    p.submit_log(r);
    p.submit_log(LogRecord::new(severity::INFO, "outside any trace"));
    span.end_at(None);
    let (trace, span_id) = (span.trace_id.to_hex(), span.span_id.to_hex());
    p.submit(span);
    assert!(p.flush(Duration::from_secs(5)));
    let logs = rx.wait_for_logs(2, Duration::from_secs(5));
    assert_eq!(logs.len(), 2, "{logs:?}");
    let inside = logs.iter().find(|l| !l.trace_id.is_empty()).unwrap();
    assert_eq!(inside.trace_id, trace);
    assert_eq!(inside.span_id, span_id);
    assert_eq!(inside.severity_number, 13);
    assert_eq!(inside.scope, "app.module");
    assert_eq!(inside.body, json!("mail me at <EMAIL>"));
    assert_eq!(inside.attributes["order"], json!("card <CREDIT_CARD>"));
    assert_eq!(inside.resource["service.name"], json!("logs-test"));
    assert_eq!(rx.state.spans()[0].trace_id, trace);
    let s = p.snapshot();
    assert_eq!(s.logs.received, 2);
    assert_eq!(s.logs.exported, 2);
    p.shutdown(Duration::from_secs(2));
}

#[test]
fn logs_variables_and_protocols_are_honoured() {
    let rx = Receiver::start_with(0, Some(0)).unwrap();
    // Traces over HTTP to the base endpoint; logs over gRPC to their own endpoint, with their
    // own headers and compression.
    let grpc = format!("http://{}", rx.grpc_addr.unwrap());
    let base = rx.endpoint();
    let env = move |n: &str| match n {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(base.clone()),
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT" => Some(grpc.clone()),
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL" => Some("grpc".into()),
        "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION" => Some("gzip".into()),
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS" => Some("x-logs=1".into()),
        _ => None,
    };
    let c = config(json!({}), &env);
    assert_eq!(
        c.otlp_logs_headers.get("x-logs").map(String::as_str),
        Some("1")
    );
    let p = Pipeline::start(c, host(), false).unwrap();
    p.submit_log(LogRecord::new(severity::ERROR, "over grpc"));
    assert!(p.flush(Duration::from_secs(5)));
    let logs = rx.wait_for_logs(1, Duration::from_secs(5));
    assert_eq!(logs[0].transport, "grpc");
    assert_eq!(rx.state.counts().get("grpc-logs"), Some(&1));
    p.shutdown(Duration::from_secs(2));

    // http/json, and OTEL_LOGS_EXPORTER=none turning logs off while traces still go.
    let rx = Receiver::start(0).unwrap();
    let p = Pipeline::start(
        config(
            json!({"otlp_endpoint": rx.endpoint(), "otlp_logs_protocol": "http/json"}),
            &no_env,
        ),
        host(),
        false,
    )
    .unwrap();
    p.submit_log(LogRecord::new(severity::INFO, "as json"));
    assert!(p.flush(Duration::from_secs(5)));
    assert_eq!(
        rx.wait_for_logs(1, Duration::from_secs(5))[0].transport,
        "http/json"
    );
    p.shutdown(Duration::from_secs(2));
    let c = config(
        json!({"otlp_endpoint": "http://127.0.0.1:9"}),
        &|n: &str| (n == "OTEL_LOGS_EXPORTER").then(|| "none".to_string()),
    );
    assert_eq!(c.logs_endpoint(), None);
    assert!(c.traces_endpoint().is_some());
}

#[test]
fn the_budget_stops_a_flood_and_sizes_are_cut() {
    let rx = Receiver::start(0).unwrap();
    let p = Pipeline::start(
        config(
            json!({"otlp_endpoint": rx.endpoint(), "logs_trace_budget_bytes": 20000,
                   "logs_max_field_bytes": 1024, "logs_queue_size": 100000}),
            &no_env,
        ),
        host(),
        false,
    )
    .unwrap();
    let span = SpanRecord::start("runaway agent", SpanKind::Internal, None);
    for i in 0..5000 {
        p.submit_log(record_in(&span, &format!("{i:>100}")));
    }
    p.submit_log(record_in(&span, &"x".repeat(50_000)));
    assert!(p.flush(Duration::from_secs(10)));
    let logs = rx.state.logs();
    assert!(
        logs.len() < 250,
        "the budget let {} records through",
        logs.len()
    );
    let markers: Vec<_> = logs
        .iter()
        .filter(|l| l.event_name == sc::FIVELENS_EVENT_LOGS_BUDGET_EXHAUSTED)
        .collect();
    assert_eq!(markers.len(), 1);
    let s = p.snapshot();
    assert!(s.logs.dropped_budget > 4700, "{:?}", s.logs);
    p.shutdown(Duration::from_secs(2));

    // A long record on a fresh trace is cut, marked, and says which field.
    let rx = Receiver::start(0).unwrap();
    let p = Pipeline::start(
        config(
            json!({"otlp_endpoint": rx.endpoint(), "logs_max_field_bytes": 1024}),
            &no_env,
        ),
        host(),
        false,
    )
    .unwrap();
    p.submit_log(LogRecord::new(severity::INFO, &"y".repeat(50_000)));
    assert!(p.flush(Duration::from_secs(5)));
    let l = &rx.wait_for_logs(1, Duration::from_secs(5))[0];
    let body = l.body.as_str().unwrap();
    assert!(
        body.len() <= 1024 && body.ends_with("bytes]"),
        "{}",
        body.len()
    );
    assert_eq!(l.attributes[sc::FIVELENS_TRUNCATED], json!(["body"]));
    assert_eq!(p.snapshot().logs.truncated, 1);
    p.shutdown(Duration::from_secs(2));
}

#[test]
fn model_calls_give_inference_events_and_the_journal_goes_to_logs() {
    let rx = Receiver::start(0).unwrap();
    let p = Pipeline::start(
        config(
            json!({"otlp_endpoint": rx.endpoint(), "inference_events": true, "agent_journal": "logs",
                   "max_tool_io_bytes": 512}),
            &no_env,
        ),
        host(),
        false,
    )
    .unwrap();
    let mut call = SpanRecord::start("chat gpt-4o", SpanKind::Client, None);
    call.set_attribute(Key::new(sc::GEN_AI_OPERATION_NAME), Value::from("chat"));
    call.set_attribute(Key::new(sc::GEN_AI_PROVIDER_NAME), Value::from("openai"));
    call.set_attribute(Key::new(sc::GEN_AI_REQUEST_MODEL), Value::from("gpt-4o"));
    call.set_attribute(
        Key::new(sc::GEN_AI_INPUT_MESSAGES),
        Value::from(
            r#"[{"role":"user","parts":[{"type":"text","content":"write to bob@example.com"}]}]"#,
        ),
    );
    call.add_event(
        sc::FIVELENS_EVENT_AGENT_STEP,
        None,
        vec![
            (Key::new(sc::FIVELENS_STEP_KIND), Value::from("thought")),
            (
                Key::new(sc::FIVELENS_STEP_CONTENT),
                Value::from("ask bob@example.com"),
            ),
        ],
    );
    call.end_at(None);
    let mut tool = SpanRecord::start("execute_tool search", SpanKind::Internal, None);
    tool.set_attribute(
        Key::new(sc::GEN_AI_OPERATION_NAME),
        Value::from("execute_tool"),
    );
    tool.set_attribute(
        Key::new(sc::GEN_AI_TOOL_CALL_RESULT),
        Value::from("r".repeat(5000)),
    );
    tool.end_at(None);
    let (trace, span_id) = (call.trace_id.to_hex(), call.span_id.to_hex());
    p.submit(call);
    p.submit(tool);
    assert!(p.flush(Duration::from_secs(5)));
    let logs = rx.wait_for_logs(2, Duration::from_secs(5));
    let details = logs
        .iter()
        .find(|l| l.event_name == sc::EVENT_INFERENCE_DETAILS)
        .expect("the inference details event");
    assert_eq!(
        (details.trace_id.as_str(), details.span_id.as_str()),
        (trace.as_str(), span_id.as_str())
    );
    // Structured, and redacted like the span.
    let messages = &details.attributes[sc::GEN_AI_INPUT_MESSAGES];
    assert_eq!(
        messages[0]["parts"][0]["content"],
        json!("write to <EMAIL>")
    );
    assert_eq!(
        details.attributes[sc::GEN_AI_REQUEST_MODEL],
        json!("gpt-4o")
    );
    let step = logs
        .iter()
        .find(|l| l.event_name == sc::FIVELENS_EVENT_AGENT_STEP)
        .expect("the journal entry");
    assert_eq!(step.body, json!("ask <EMAIL>"));
    assert_eq!(step.span_id, span_id);
    let spans = rx.state.spans();
    let call = spans.iter().find(|s| s.name == "chat gpt-4o").unwrap();
    assert!(call
        .events
        .iter()
        .all(|e| e["name"] != sc::FIVELENS_EVENT_AGENT_STEP));
    let tool = spans
        .iter()
        .find(|s| s.name == "execute_tool search")
        .unwrap();
    let result = tool.attributes[sc::GEN_AI_TOOL_CALL_RESULT]
        .as_str()
        .unwrap();
    assert!(
        result.len() <= 512 && result.ends_with("bytes]"),
        "{}",
        result.len()
    );
    p.shutdown(Duration::from_secs(2));
}

#[test]
fn the_store_keeps_records_for_fivelens_logs_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let p = Pipeline::start(
        config(
            json!({"store": "on", "store_path": db.display().to_string()}),
            &no_env,
        ),
        host(),
        true,
    )
    .unwrap();
    let mut span = SpanRecord::start("handle request", SpanKind::Server, None);
    p.submit_log(record_in(&span, "first"));
    let mut second = record_in(&span, "second");
    second.time_ns += 1000;
    p.submit_log(second);
    span.end_at(None);
    let trace = span.trace_id.to_hex();
    p.submit(span);
    assert!(p.flush(Duration::from_secs(5)));
    p.shutdown(Duration::from_secs(2));
    let run = |args: &[&str]| {
        let mut argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        argv.extend(["--db".to_string(), db.display().to_string()]);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = fivelens_core::cli::run(&argv, &mut out, &mut err);
        assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
        String::from_utf8(out).unwrap()
    };
    let v: serde_json::Value =
        serde_json::from_str(&run(&["logs", &trace[..8], "--json"])).unwrap();
    let bodies: Vec<&str> = v["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["first", "second"]);
    assert_eq!(v["trace_id"], json!(trace));
    let text = run(&["logs", &trace]);
    assert!(
        text.contains("handle request") && text.contains("second"),
        "{text}"
    );
    let shown = run(&["show", &trace]);
    assert!(shown.contains("logs (2)"), "{shown}");
    let shown: serde_json::Value = serde_json::from_str(&run(&["show", &trace, "--json"])).unwrap();
    assert_eq!(shown["logs"].as_array().unwrap().len(), 2);
    let latest: serde_json::Value = serde_json::from_str(&run(&["logs", "--json"])).unwrap();
    assert_eq!(latest["logs"].as_array().unwrap().len(), 2);
}
