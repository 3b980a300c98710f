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

criterion_group!(benches, spans, encoding, store);
criterion_main!(benches);
