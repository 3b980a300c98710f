//! Model prices and the cost of a call.
//!
//! The table is a data file, `core/data/prices.json` (USD per million tokens, with the source and
//! the date each price was read), embedded at build time; users add or override entries with the
//! `prices_file` option (same format) or inline `prices`. Costs are computed in integer
//! pico-dollars (10^-12 USD): a rate with up to six decimals per million tokens is exact, so sums
//! over any number of calls are exact too. A model that is not in the table gets no cost (never a
//! silent zero) and one warning.

use std::collections::HashSet;
use std::path::Path;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use serde::Deserialize;

/// The embedded table.
const EMBEDDED: &str = include_str!("../data/prices.json");

/// Rates of one model, pico-dollars per token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rates {
    /// Non-cached input.
    pub input: u64,
    /// Output (reasoning included unless `reasoning` is set).
    pub output: u64,
    /// Cached input read (defaults to `input`).
    pub cache_read: Option<u64>,
    /// Cache write (defaults to `input`).
    pub cache_write: Option<u64>,
    /// Reasoning output, when billed differently from output.
    pub reasoning: Option<u64>,
}

/// Token counts of one call, as the GenAI conventions define them (`input` includes cached
/// tokens; `cache_read`, `cache_write` and `reasoning` are subsets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// `gen_ai.usage.input_tokens`.
    pub input: u64,
    /// `gen_ai.usage.output_tokens`.
    pub output: u64,
    /// `gen_ai.usage.cache_read.input_tokens`.
    pub cache_read: u64,
    /// `gen_ai.usage.cache_write.input_tokens`.
    pub cache_write: u64,
    /// `gen_ai.usage.reasoning.output_tokens`.
    pub reasoning: u64,
}

impl Rates {
    /// The cost of `usage`, in pico-dollars.
    pub fn cost(&self, usage: &Usage) -> u128 {
        let cache_read = usage.cache_read.min(usage.input);
        let cache_write = usage.cache_write.min(usage.input - cache_read);
        let uncached = usage.input - cache_read - cache_write;
        let mut cost = u128::from(uncached) * u128::from(self.input)
            + u128::from(cache_read) * u128::from(self.cache_read.unwrap_or(self.input))
            + u128::from(cache_write) * u128::from(self.cache_write.unwrap_or(self.input));
        match self.reasoning {
            Some(r) => {
                let reasoning = usage.reasoning.min(usage.output);
                cost += u128::from(reasoning) * u128::from(r)
                    + u128::from(usage.output - reasoning) * u128::from(self.output);
            }
            None => cost += u128::from(usage.output) * u128::from(self.output),
        }
        cost
    }
}

#[derive(Deserialize)]
struct FileEntry {
    provider: String,
    model: String,
    input: f64,
    output: f64,
    #[serde(default)]
    cache_read: Option<f64>,
    #[serde(default)]
    cache_write: Option<f64>,
    #[serde(default)]
    reasoning: Option<f64>,
}

#[derive(Deserialize)]
struct File {
    models: Vec<FileEntry>,
}

/// USD per million tokens to pico-dollars per token.
fn pico(per_million: f64) -> Option<u64> {
    if !per_million.is_finite() || per_million < 0.0 {
        return None;
    }
    Some((per_million * 1e6).round() as u64)
}

/// A price table.
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    rates: FxHashMap<(String, String), Rates>,
}

impl PriceTable {
    /// The embedded table.
    pub fn embedded() -> PriceTable {
        let mut t = PriceTable::default();
        // The embedded file is checked by a unit test; a broken one leaves the table empty.
        let _ = t.merge_json(EMBEDDED);
        t
    }

    /// Adds (or replaces) the entries of a JSON document in the table's format.
    pub fn merge_json(&mut self, json: &str) -> Result<usize, String> {
        let file: File = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut n = 0;
        for e in file.models {
            let rates = Rates {
                input: pico(e.input).ok_or_else(|| format!("{}: bad input price", e.model))?,
                output: pico(e.output).ok_or_else(|| format!("{}: bad output price", e.model))?,
                cache_read: e.cache_read.and_then(pico),
                cache_write: e.cache_write.and_then(pico),
                reasoning: e.reasoning.and_then(pico),
            };
            self.rates.insert(
                (e.provider.to_ascii_lowercase(), normalise(&e.model)),
                rates,
            );
            n += 1;
        }
        Ok(n)
    }

    /// Adds the entries of a file.
    pub fn merge_file(&mut self, path: &Path) -> Result<usize, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.merge_json(&text)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.rates.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.rates.is_empty()
    }

    /// The rates of a model: exact id first, then without a date or `-latest` suffix (so
    /// `gpt-4o-2024-08-06` finds `gpt-4o`, while `gpt-4o-mini` never falls back to `gpt-4o`).
    pub fn lookup(&self, provider: &str, model: &str) -> Option<Rates> {
        let provider = provider.to_ascii_lowercase();
        let found = self.lookup_exact(&provider, model);
        match (
            found,
            FALLBACK_PROVIDERS.iter().find(|(p, _)| *p == provider),
        ) {
            (None, Some((_, fallback))) => self.lookup_exact(fallback, model),
            (found, _) => found,
        }
    }

    fn lookup_exact(&self, provider: &str, model: &str) -> Option<Rates> {
        let provider = provider.to_string();
        let model = normalise(model);
        if let Some(r) = self.rates.get(&(provider.clone(), model.clone())) {
            return Some(*r);
        }
        let base = strip_version(&model);
        if base != model {
            return self.rates.get(&(provider, base.to_string())).copied();
        }
        None
    }
}

/// Providers whose models are priced like another's unless the table says otherwise: Azure
/// OpenAI's standard deployments bill OpenAI's list prices.
const FALLBACK_PROVIDERS: &[(&str, &str)] = &[("azure.ai.openai", "openai")];

/// Lowercase, without a `provider/` or `models/` prefix.
pub(crate) fn normalise(model: &str) -> String {
    let m = model.trim().to_ascii_lowercase();
    match m.rsplit_once('/') {
        Some((_, rest)) => rest.to_string(),
        None => m,
    }
}

/// `gpt-4o-2024-08-06` -> `gpt-4o`; `claude-3-5-haiku-20241022` -> `claude-3-5-haiku`;
/// `gpt-3.5-turbo-0125` -> `gpt-3.5-turbo`; `claude-sonnet-4-5-latest` -> `claude-sonnet-4-5`.
pub(crate) fn strip_version(model: &str) -> &str {
    if let Some(base) = model.strip_suffix("-latest") {
        return base;
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // -YYYY-MM-DD
    if model.len() > 11 {
        let (base, tail) = model.split_at(model.len() - 11);
        let t = tail.as_bytes();
        if t[0] == b'-'
            && t[5] == b'-'
            && t[8] == b'-'
            && digits(&tail[1..5])
            && digits(&tail[6..8])
            && digits(&tail[9..])
        {
            return base;
        }
    }
    // -YYYYMMDD or -MMDD
    if let Some((base, tail)) = model.rsplit_once('-') {
        if (tail.len() == 8 || tail.len() == 4) && digits(tail) {
            return base;
        }
    }
    model
}

static WARNED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Reports an unpriced model once per process (bounded).
pub fn warn_unpriced(provider: &str, model: &str) {
    let key = format!("{provider}/{model}");
    let first = {
        let mut guard = WARNED.lock();
        let set = guard.get_or_insert_with(HashSet::new);
        set.len() < 1000 && set.insert(key)
    };
    if first {
        crate::diag::report_distinct(
            crate::diag::Level::Warn,
            format!(
                "no price for {provider} model {model:?}: its calls get no cost; add it with the prices_file option"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_loads() {
        let mut t = PriceTable::default();
        let n = t
            .merge_json(EMBEDDED)
            .expect("the embedded price table is valid");
        assert!(n > 20, "{n} entries");
        assert!(t.lookup("openai", "gpt-4o").is_some());
        assert!(
            t.lookup("anthropic", "claude-sonnet-4-5").is_some()
                || t.lookup("anthropic", "claude-sonnet-4-5-20250929")
                    .is_some()
        );
    }

    #[test]
    fn versions_and_prefixes() {
        assert_eq!(strip_version("gpt-4o-2024-08-06"), "gpt-4o");
        assert_eq!(
            strip_version("claude-3-5-haiku-20241022"),
            "claude-3-5-haiku"
        );
        assert_eq!(strip_version("gpt-3.5-turbo-0125"), "gpt-3.5-turbo");
        assert_eq!(
            strip_version("claude-sonnet-4-5-latest"),
            "claude-sonnet-4-5"
        );
        assert_eq!(strip_version("gpt-4o-mini"), "gpt-4o-mini");
        assert_eq!(strip_version("o3"), "o3");
        let mut t = PriceTable::default();
        t.merge_json(
            r#"{"models":[{"provider":"openai","model":"gpt-4o","input":2.5,"output":10}]}"#,
        )
        .unwrap();
        assert!(t.lookup("OpenAI", "openai/GPT-4o-2024-08-06").is_some());
        assert!(
            t.lookup("openai", "gpt-4o-mini").is_none(),
            "never priced as its bigger sibling"
        );
        assert!(t.lookup("anthropic", "gpt-4o").is_none());
        // Azure OpenAI falls back to OpenAI's list prices, unless the table prices it itself.
        assert_eq!(
            t.lookup("azure.ai.openai", "gpt-4o"),
            t.lookup("openai", "gpt-4o")
        );
        t.merge_json(
            r#"{"models":[{"provider":"azure.ai.openai","model":"gpt-4o","input":2.75,"output":11}]}"#,
        )
        .unwrap();
        assert_ne!(
            t.lookup("azure.ai.openai", "gpt-4o"),
            t.lookup("openai", "gpt-4o")
        );
    }

    #[test]
    fn cost_is_exact_in_pico_dollars() {
        let r = Rates {
            input: pico(2.5).unwrap(),
            output: pico(10.0).unwrap(),
            cache_read: Some(pico(1.25).unwrap()),
            cache_write: None,
            reasoning: None,
        };
        // 1,000 input (400 cached) and 500 output tokens:
        // 600 * 2.5e-6 + 400 * 1.25e-6 + 500 * 10e-6 = 0.0015 + 0.0005 + 0.005 = $0.007
        let usage = Usage {
            input: 1000,
            output: 500,
            cache_read: 400,
            ..Usage::default()
        };
        assert_eq!(r.cost(&usage), 7_000_000_000);
        // Sums stay exact: 0.0375 $/M is 37,500 pico per token.
        assert_eq!(pico(0.0375), Some(37_500));
        let cheap = Rates {
            input: pico(0.0375).unwrap(),
            output: 0,
            cache_read: None,
            cache_write: None,
            reasoning: None,
        };
        let total: u128 = (0..1000)
            .map(|_| {
                cheap.cost(&Usage {
                    input: 3,
                    ..Usage::default()
                })
            })
            .sum();
        assert_eq!(total, 112_500_000);
    }

    #[test]
    fn anthropic_cache_write_and_reasoning_rates() {
        let r = Rates {
            input: pico(3.0).unwrap(),
            output: pico(15.0).unwrap(),
            cache_read: Some(pico(0.3).unwrap()),
            cache_write: Some(pico(3.75).unwrap()),
            reasoning: Some(pico(20.0).unwrap()),
        };
        let usage = Usage {
            input: 1000,
            cache_read: 200,
            cache_write: 300,
            output: 100,
            reasoning: 40,
        };
        let expected =
            500 * 3_000_000 + 200 * 300_000 + 300 * 3_750_000 + 40 * 20_000_000 + 60 * 15_000_000;
        assert_eq!(r.cost(&usage), expected);
    }
}
