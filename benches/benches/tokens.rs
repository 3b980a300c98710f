//! Token counting: bpe-openai (what the core uses) against tiktoken-rs (what the design named),
//! on a 2,000-token text built from the repository's corpus, and the first use of each
//! (vocabulary build). Counts are checked equal by `tests/token_parity.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};

fn text_of(tokens: usize) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/token_corpus.jsonl"
    );
    let o200k = bpe_openai::o200k_base();
    let mut out = String::new();
    for line in std::fs::read_to_string(path).unwrap().lines().cycle() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        out.push_str(v["text"].as_str().unwrap());
        out.push('\n');
        if o200k.count(&out) >= tokens {
            return out;
        }
    }
    unreachable!()
}

fn first_use() {
    let t = Instant::now();
    let _ = bpe_openai::o200k_base().count("warm");
    let bpe = t.elapsed();
    let t = Instant::now();
    let _ = tiktoken_rs::o200k_base().unwrap().encode_ordinary("warm");
    let tik = t.elapsed();
    println!("first use, o200k_base: bpe-openai {bpe:?}, tiktoken-rs {tik:?}");
}

fn bench(c: &mut Criterion) {
    first_use();
    let text = text_of(2000);
    let mut g = c.benchmark_group("count 2000 tokens");
    for (name, encoding) in [
        ("o200k_base", fivelens_core::tokens::Encoding::O200kBase),
        ("cl100k_base", fivelens_core::tokens::Encoding::Cl100kBase),
    ] {
        let tik = match encoding {
            fivelens_core::tokens::Encoding::O200kBase => tiktoken_rs::o200k_base().unwrap(),
            fivelens_core::tokens::Encoding::Cl100kBase => tiktoken_rs::cl100k_base().unwrap(),
        };
        g.bench_function(format!("bpe-openai {name}"), |b| {
            b.iter(|| fivelens_core::tokens::count_with(&text, encoding))
        });
        g.bench_function(format!("tiktoken-rs {name}"), |b| {
            b.iter(|| tik.encode_ordinary(&text).len())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
