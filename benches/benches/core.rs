//! Core hot paths: building and submitting a span record, OTLP encoding of a batch, and a
//! store write.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fivelens_core::config::Config;
use fivelens_core::export::encode;
use fivelens_core::pipeline::Pipeline;
use fivelens_core::record::{SpanKind, SpanRecord};
use fivelens_core::resource::Resource;
use fivelens_core::store::{Retention, Store};
use fivelens_core::{HostInfo, Key, Value};

fn record() -> SpanRecord {
    let mut r = SpanRecord::start("op", SpanKind::Internal, None);
    for (k, v) in [("a", "x"), ("b", "y"), ("g", "z"), ("h", "w")] {
        r.set_attribute(Key::new(k), Value::from(v));
    }
    r.set_attribute(Key::new("c"), Value::I64(1));
    r.set_attribute(Key::new("d"), Value::I64(2));
    r.set_attribute(Key::new("e"), Value::Bool(true));
    r.set_attribute(Key::new("f"), Value::F64(1.5));
    r
}

fn spans(c: &mut Criterion) {
    let config = Arc::new(
        Config::resolve(
            &serde_json::json!({"store": "off", "queue_size": 1 << 20}),
            &|_| None,
        )
        .unwrap(),
    );
    let pipeline = Pipeline::start(config, HostInfo::default(), false).unwrap();
    let mut g = c.benchmark_group("span");
    g.throughput(Throughput::Elements(1));
    g.bench_function("start + 8 attributes + end + submit", |b| {
        b.iter(|| {
            let mut r = record();
            r.end_at(None);
            pipeline.submit(r);
        })
    });
    g.finish();
    pipeline.shutdown(Duration::from_secs(5));
}

fn encoding(c: &mut Criterion) {
    let records: Vec<SpanRecord> = (0..512)
        .map(|_| {
            let mut r = record();
            r.end_at(None);
            r
        })
        .collect();
    let refs: Vec<&SpanRecord> = records.iter().collect();
    let resource = Resource::default();
    let mut g = c.benchmark_group("export");
    g.throughput(Throughput::Elements(512));
    g.bench_function("encode 512 spans to OTLP", |b| {
        b.iter(|| encode::requests(&refs, &resource, usize::MAX))
    });
    g.finish();
}

fn store(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(
        &dir.path().join("bench.db"),
        Retention {
            max_age: Duration::from_secs(3600),
            max_bytes: u64::MAX,
        },
    )
    .unwrap();
    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(512));
    g.sample_size(20);
    g.bench_function("write 512 spans (one transaction)", |b| {
        b.iter_batched(
            || {
                (0..512)
                    .map(|_| {
                        let mut r = record();
                        r.end_at(None);
                        r.finalize();
                        r
                    })
                    .collect::<Vec<_>>()
            },
            |batch| {
                let refs: Vec<&SpanRecord> = batch.iter().collect();
                store.write(&refs, "bench", "{}").unwrap();
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// A model call as the OpenAI integration hands it over: start attributes, the request and
/// response bodies as JSON, then what the processing thread does with it.
fn llm_record() -> SpanRecord {
    use fivelens_core::semconv as sc;
    let mut r = SpanRecord::start("chat gpt-4o-mini", SpanKind::Client, None);
    for (k, v) in [
        (sc::GEN_AI_OPERATION_NAME, "chat"),
        (sc::GEN_AI_PROVIDER_NAME, "openai"),
        (sc::GEN_AI_REQUEST_MODEL, "gpt-4o-mini"),
        (sc::SERVER_ADDRESS, "api.openai.com"),
        (sc::PRIVATE_FORMAT, "openai.chat"),
    ] {
        r.set_attribute(Key::new(k), Value::from(v));
    }
    r.set_attribute(Key::new(sc::SERVER_PORT), Value::I64(443));
    let request = serde_json::json!({"model": "gpt-4o-mini", "max_tokens": 64, "temperature": 0.3, "messages": [
        {"role": "system", "content": "You are a concise assistant for a travel agency. Answer in one sentence."},
        {"role": "user", "content": "Which month is best for visiting Kyoto if I want to see the autumn leaves?"}]});
    let response = serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp", "service_tier": "default",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "October and November, when the maples turn red across the temples."}}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 14, "total_tokens": 54, "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}});
    r.set_attribute(
        Key::new(sc::PRIVATE_REQUEST),
        Value::from(request.to_string().as_str()),
    );
    r.set_attribute(
        Key::new(sc::PRIVATE_RESPONSE),
        Value::from(response.to_string().as_str()),
    );
    r.end_at(None);
    r
}

fn model_calls(c: &mut Criterion) {
    use fivelens_core::llm::{LlmSettings, LlmStage};
    use fivelens_core::metrics::Metrics;
    use fivelens_core::pricing::PriceTable;
    let mut stage = LlmStage::new(
        LlmSettings {
            capture_content: true,
            max_content_bytes: 64 * 1024,
            compat: false,
            // The default: content redacted.
            redaction: Some(Default::default()),
        },
        PriceTable::embedded(),
    );
    let mut metrics = Metrics::new(Some("prod".into()), false);
    let mut g = c.benchmark_group("model call (processing thread)");
    g.throughput(Throughput::Elements(1));
    g.bench_function(
        "finalize + provider payloads + cost + hash + redaction",
        |b| {
            b.iter_batched(
                llm_record,
                |mut r| {
                    r.finalize();
                    stage.process(&mut r);
                    r
                },
                BatchSize::SmallInput,
            )
        },
    );
    let mut processed = llm_record();
    processed.finalize();
    stage.process(&mut processed);
    g.bench_function("metrics", |b| b.iter(|| metrics.record(&processed)));
    let batch: Vec<&SpanRecord> = (0..1).map(|_| &processed).collect();
    g.bench_function("OTLP encode", |b| {
        let resource = Resource::default();
        b.iter(|| encode::requests(&batch, &resource, usize::MAX))
    });
    g.finish();
}

criterion_group!(benches, spans, encoding, store, model_calls);
criterion_main!(benches);
