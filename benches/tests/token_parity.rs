//! fivelens's token counts (bpe-openai) equal tiktoken's (the tiktoken-rs port, same ranks and
//! pre-tokenizer) on the repository's corpus, for both vocabularies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use fivelens_core::tokens::{count_with, Encoding};

fn corpus() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/token_corpus.jsonl"
    );
    std::fs::read_to_string(path)
        .expect("tests/data/token_corpus.jsonl")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["text"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn counts_equal_tiktoken() {
    let texts = corpus();
    assert!(texts.len() > 300);
    let o200k = tiktoken_rs::o200k_base().unwrap();
    let cl100k = tiktoken_rs::cl100k_base().unwrap();
    for text in &texts {
        assert_eq!(
            count_with(text, Encoding::O200kBase),
            o200k.encode_ordinary(text).len(),
            "o200k_base: {text:?}"
        );
        assert_eq!(
            count_with(text, Encoding::Cl100kBase),
            cl100k.encode_ordinary(text).len(),
            "cl100k_base: {text:?}"
        );
    }
}
