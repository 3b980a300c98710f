//! PII redaction throughput on 1 KB texts (the development set's lines joined in file order until
//! each text reaches 1,024 bytes: PII-dense, the worst case), one core. The same texts feed the
//! Presidio comparison in `benches/python/redact.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fivelens_core::redact::{Indexer, Redactor, Settings};

fn texts() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/pii/pii-dev.jsonl"
    );
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(v["text"].as_str().unwrap());
        if cur.len() >= 1024 {
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let t = Instant::now();
    let redactor = Redactor::new(&Settings::default()).unwrap();
    let _ = redactor.find("warm up a@b.io 4111 1111 1111 1111");
    println!("redactor build + first use: {:?}", t.elapsed());
    let texts = texts();
    let bytes: usize = texts.iter().map(String::len).sum();
    let mut g = c.benchmark_group("redact");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function(format!("{} texts of ~1 KB", texts.len()), |b| {
        b.iter(|| {
            let mut ix = Indexer::default();
            let mut n = 0;
            for t in &texts {
                n += redactor.redact(t, &mut ix).1.len();
            }
            n
        })
    });
    let prose = "The agent planned three steps, called the search tool twice and summarised the \
                 results for the user; nothing in this paragraph is personal data, only ordinary \
                 words, a few numbers like 42 and 2026, and punctuation. "
        .repeat(6);
    g.throughput(Throughput::Bytes(prose.len() as u64));
    g.bench_function("1 KB of prose without PII", |b| {
        b.iter(|| redactor.find(&prose).len())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
