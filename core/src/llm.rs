//! The model-call stage of the processing thread: what every LLM span gets after it ends, off
//! the caller's thread.
//!
//! ```text
//!  ended span ──> is a model call? ──> token estimate (only when the provider reported none)
//!                                 ├──> prompt hash of the system prompt as sent
//!                                 ├──> cost from the price table (pico-dollars, exact)
//!                                 ├──> context window: sections, fill, turns, the alert
//!                                 │    (crate::context_window, on the text as sent)
//!                                 └──> compat attributes (OpenInference, Langfuse), when on
//!             ──> content: dropped when capture is off; cut, keeping JSON valid, past the limit
//!             ──> private attributes (fivelens._*) removed: they never leave the process
//!             ──> roll-up of cost and tokens onto the enclosing spans
//! ```

use std::collections::VecDeque;
use std::fmt::Write as _;

use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

use crate::context_window::{ContextSettings, ContextStage};
use crate::ids::SpanId;
use crate::key::Key;
use crate::pricing::{PriceTable, Usage};
use crate::providers;
use crate::record::{Limits, SpanRecord, Status};
use crate::semconv as sc;
use crate::value::{Value, ValueRef};

/// Model-call attributes the conventions type as doubles.
const DOUBLE_ATTRIBUTES: &[&str] = &[
    sc::GEN_AI_REQUEST_TEMPERATURE,
    sc::GEN_AI_REQUEST_TOP_P,
    sc::GEN_AI_REQUEST_FREQUENCY_PENALTY,
    sc::GEN_AI_REQUEST_PRESENCE_PENALTY,
    sc::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
];

/// Hex digits kept of the prompt hash.
pub const PROMPT_HASH_LEN: usize = 12;

/// Hash of a system prompt as sent: leading and trailing whitespace trimmed, every run of
/// whitespace collapsed to one space, SHA-256, the first 12 hex digits (48 bits). Two prompts
/// that differ only in spacing hash alike; any other change gives a new hash.
pub fn prompt_hash(text: &str) -> String {
    let mut h = Sha256::new();
    let mut first = true;
    for word in text.split_whitespace() {
        if !first {
            h.update(b" ");
        }
        h.update(word.as_bytes());
        first = false;
    }
    let digest = h.finalize();
    let mut out = String::with_capacity(PROMPT_HASH_LEN);
    for b in digest.iter().take(PROMPT_HASH_LEN / 2) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Whether a span is a model call.
pub fn is_model_call(r: &SpanRecord) -> bool {
    matches!(r.attribute(sc::GEN_AI_OPERATION_NAME), Some(ValueRef::Str(op)) if sc::MODEL_OPERATIONS.contains(&op))
}

fn int(r: &SpanRecord, key: &str) -> Option<u64> {
    match r.attribute(key) {
        Some(ValueRef::I64(i)) if i >= 0 => Some(i as u64),
        Some(ValueRef::F64(f)) if f >= 0.0 => Some(f as u64),
        _ => None,
    }
}

fn text<'a>(r: &'a SpanRecord, key: &str) -> Option<&'a str> {
    match r.attribute(key) {
        Some(ValueRef::Str(s)) => Some(s),
        _ => None,
    }
}

/// Cuts a JSON content value (messages, parts, tool definitions) to about `max` bytes while
/// keeping it valid JSON: the longest strings are shortened first, each cut marked with
/// `…[truncated N bytes]`; if the structure alone is still too large, leading array elements are
/// dropped (keeping the first, often the system message). Non-JSON text is cut at a character
/// boundary. Returns `None` when the value already fits.
pub fn truncate_content(value: &str, max: usize) -> Option<String> {
    if value.len() <= max {
        return None;
    }
    let Ok(mut json) = serde_json::from_str::<serde_json::Value>(value) else {
        let cut = crate::value::floor_char_boundary(value, max.saturating_sub(32));
        return Some(format!(
            "{}…[truncated {} bytes]",
            &value[..cut],
            value.len() - cut
        ));
    };
    let mut size = json.to_string().len();
    for _ in 0..64 {
        if size <= max {
            break;
        }
        let Some(longest) = longest_string(&mut json) else {
            break;
        };
        let over = size - max;
        let keep = longest
            .len()
            .saturating_sub(over + 40)
            .max(16.min(longest.len()));
        if keep >= longest.len() {
            break;
        }
        let cut = crate::value::floor_char_boundary(longest, keep);
        let dropped = longest.len() - cut;
        let shortened = format!("{}…[truncated {dropped} bytes]", &longest[..cut]);
        *longest = shortened;
        size = json.to_string().len();
    }
    while size > max {
        match &mut json {
            serde_json::Value::Array(items) if items.len() > 2 => {
                items.remove(1);
            }
            _ => break,
        }
        size = json.to_string().len();
    }
    Some(json.to_string())
}

fn longest_string(v: &mut serde_json::Value) -> Option<&mut String> {
    match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Array(items) => items
            .iter_mut()
            .filter_map(longest_string)
            .max_by_key(|s| s.len()),
        serde_json::Value::Object(map) => map
            .values_mut()
            .filter_map(longest_string)
            .max_by_key(|s| s.len()),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    cost_pico: u128,
    input: u64,
    output: u64,
    calls: u64,
}

/// Cost and tokens of model calls waiting to be added to their ancestors: children usually end
/// before their parents, so a span's subtree totals are complete when the span itself ends.
/// Bounded: entries of parents that never end here (remote, or ended first) are evicted oldest
/// first.
struct Rollup {
    pending: FxHashMap<u64, Totals>,
    order: VecDeque<u64>,
}

const ROLLUP_CAPACITY: usize = 100_000;

impl Rollup {
    fn add(&mut self, parent: SpanId, t: Totals) {
        if !parent.is_valid() || t.calls == 0 {
            return;
        }
        let e = self.pending.entry(parent.0).or_insert_with(|| {
            self.order.push_back(parent.0);
            Totals::default()
        });
        e.cost_pico += t.cost_pico;
        e.input += t.input;
        e.output += t.output;
        e.calls += t.calls;
        while self.pending.len() > ROLLUP_CAPACITY {
            match self.order.pop_front() {
                Some(old) => {
                    self.pending.remove(&old);
                }
                None => break,
            }
        }
    }

    fn take(&mut self, span: SpanId) -> Option<Totals> {
        self.pending.remove(&span.0)
    }
}

/// Settings of the stage.
#[derive(Clone, Debug)]
pub struct LlmSettings {
    /// Keep prompt and completion content.
    pub capture_content: bool,
    /// Largest content attribute, bytes.
    pub max_content_bytes: usize,
    /// Add OpenInference and Langfuse attributes.
    pub compat: bool,
    /// Redact content (when captured) with these settings (the redactor is built on the
    /// processing thread, at its first span).
    pub redaction: Option<crate::redact::Settings>,
}

/// The per-model data of the stage: prices, and the context windows with the alert settings.
#[derive(Clone, Debug, Default)]
pub struct ModelTables {
    /// Prices.
    pub prices: PriceTable,
    /// Context windows and the alert threshold.
    pub context: ContextSettings,
}

impl From<PriceTable> for ModelTables {
    fn from(prices: PriceTable) -> ModelTables {
        ModelTables {
            prices,
            context: ContextSettings::default(),
        }
    }
}

/// The stage.
pub struct LlmStage {
    settings: LlmSettings,
    prices: PriceTable,
    context: ContextStage,
    rollup: Rollup,
    redact: Option<crate::redact::Stage>,
    stats: std::sync::Arc<crate::stats::Stats>,
    /// Provider bodies stay on model calls (private) for the snapshot stage after the tail
    /// decision ([`crate::snapshot`]), which removes them.
    keep_payloads: bool,
}

impl LlmStage {
    /// A stage with `tables` (a [`PriceTable`] alone gives the built-in context windows).
    pub fn new(settings: LlmSettings, tables: impl Into<ModelTables>) -> LlmStage {
        LlmStage::with_stats(settings, tables, Default::default())
    }

    /// A stage with `tables` that counts its redaction work in `stats`.
    pub fn with_stats(
        settings: LlmSettings,
        tables: impl Into<ModelTables>,
        stats: std::sync::Arc<crate::stats::Stats>,
    ) -> LlmStage {
        let tables = tables.into();
        LlmStage {
            redact: None,
            keep_payloads: false,
            stats,
            settings,
            prices: tables.prices,
            context: ContextStage::new(tables.context),
            rollup: Rollup {
                pending: FxHashMap::default(),
                order: VecDeque::new(),
            },
        }
    }

    /// The tokens and cost of one ended model call as the processing thread will record them
    /// (the provider's usage from the payloads, else an estimate; the price table), computed
    /// now on a copy: for the budget guards, which must know a call's spend before the next
    /// call starts. Nothing is recorded and no warning is given.
    pub fn measure(&self, r: &SpanRecord) -> (u64, u64, Option<u64>) {
        let limits = Limits {
            max_attributes: usize::MAX,
            ..Limits::current()
        };
        let mut copy = r.clone();
        let found = self.provider_payloads(&mut copy, &limits);
        self.estimate_usage(&mut copy, &found, &limits);
        let input = int(&copy, sc::GEN_AI_USAGE_INPUT_TOKENS).unwrap_or(0);
        let output = int(&copy, sc::GEN_AI_USAGE_OUTPUT_TOKENS).unwrap_or(0);
        let cost = copy.cost_pico.or_else(|| {
            let provider = text(&copy, sc::GEN_AI_PROVIDER_NAME)?;
            let rates = [sc::GEN_AI_RESPONSE_MODEL, sc::GEN_AI_REQUEST_MODEL]
                .iter()
                .filter_map(|k| text(&copy, k))
                .find_map(|m| self.prices.lookup(provider, m))?;
            let usage = Usage {
                input,
                output,
                cache_read: int(&copy, sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS).unwrap_or(0),
                cache_write: int(&copy, sc::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS).unwrap_or(0),
                reasoning: int(&copy, sc::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS).unwrap_or(0),
            };
            Some(rates.cost(&usage).min(u128::from(u64::MAX)) as u64)
        });
        (input, output, cost)
    }

    /// Processes one ended (finalized) span.
    pub fn process(&mut self, r: &mut SpanRecord) {
        let limits = Limits {
            max_attributes: usize::MAX,
            ..Limits::current()
        };
        let mut own = Totals::default();
        if is_model_call(r) {
            // JavaScript cannot tell 1 from 1.0: the conventions' doubles stay doubles.
            for key in DOUBLE_ATTRIBUTES {
                if let Some(ValueRef::I64(i)) = r.attribute(key) {
                    r.set_attribute_ref(Key::new(key), ValueRef::F64(i as f64), &limits);
                }
            }
            let mut texts = self.provider_payloads(r, &limits);
            self.estimate_usage(r, &texts, &limits);
            let system = text(r, sc::PRIVATE_SYSTEM_PROMPT)
                .map(str::to_string)
                .or(texts.system_text);
            if let Some(system) = system {
                if !system.trim().is_empty() && r.attribute(sc::FIVELENS_PROMPT_HASH).is_none() {
                    r.set_str(
                        Key::new(sc::FIVELENS_PROMPT_HASH),
                        &prompt_hash(&system),
                        &limits,
                    );
                }
            }
            self.price(r, &limits);
            // Counted on the text as sent: before redaction changes it.
            self.context
                .process(r, std::mem::take(&mut texts.input), &limits);
            own = Totals {
                cost_pico: u128::from(r.cost_pico.unwrap_or(0)),
                input: int(r, sc::GEN_AI_USAGE_INPUT_TOKENS).unwrap_or(0),
                output: int(r, sc::GEN_AI_USAGE_OUTPUT_TOKENS).unwrap_or(0),
                calls: 1,
            };
        }
        // Redaction sees the whole content (before it is cut to size, so a value is never left
        // half-visible at the cut) and comes before anything derived from it.
        if self.settings.capture_content && self.settings.redaction.is_some() {
            self.redact_content(r, &limits);
        }
        if self.settings.compat && is_model_call(r) {
            compat(r, &limits);
        }
        self.content(r, &limits);
        let keep = self.keep_payloads && self.settings.capture_content && is_model_call(r);
        r.payload.remove_where(|k| {
            k.starts_with(sc::PRIVATE_PREFIX) && !(keep && sc::SNAPSHOT_PAYLOAD_KEYS.contains(&k))
        });

        // Roll-up: this span's subtree, then hand it to the parent.
        let mut subtree = self.rollup.take(r.span_id).unwrap_or_default();
        if subtree.calls > 0 {
            subtree.cost_pico += own.cost_pico;
            subtree.input += own.input;
            subtree.output += own.output;
            subtree.calls += own.calls;
            if subtree.cost_pico > 0 {
                r.set_attribute_ref(
                    Key::new(sc::FIVELENS_ROLLUP_COST_USD),
                    ValueRef::F64(subtree.cost_pico as f64 / 1e12),
                    &limits,
                );
            }
            r.set_attribute_ref(
                Key::new(sc::FIVELENS_ROLLUP_INPUT_TOKENS),
                ValueRef::I64(subtree.input as i64),
                &limits,
            );
            r.set_attribute_ref(
                Key::new(sc::FIVELENS_ROLLUP_OUTPUT_TOKENS),
                ValueRef::I64(subtree.output as i64),
                &limits,
            );
            r.set_attribute_ref(
                Key::new(sc::FIVELENS_ROLLUP_LLM_CALLS),
                ValueRef::I64(subtree.calls as i64),
                &limits,
            );
        } else {
            subtree = own;
        }
        if !r.parent_remote {
            self.rollup.add(r.parent_span_id, subtree);
        }
    }

    /// Keeps the provider bodies of model calls (private) for the snapshot stage, which runs
    /// after the tail decision and removes them from every span.
    pub fn keep_payloads_for_snapshots(&mut self, on: bool) {
        self.keep_payloads = on;
    }

    /// The redaction stage (built on first use), shared with the log records so that an indexed
    /// placeholder means the same value in a trace's spans and its records; `None` when
    /// redaction is off (or its redactor cannot be built).
    pub fn redaction_stage(&mut self) -> Option<&mut crate::redact::Stage> {
        if self.redact.is_none() {
            let settings = self.settings.redaction.as_ref()?;
            let redactor = crate::redact::Redactor::new(settings).ok()?;
            self.redact = Some(crate::redact::Stage::new(std::sync::Arc::new(redactor)));
        }
        self.redact.as_mut()
    }

    fn redact_content(&mut self, r: &mut SpanRecord, limits: &Limits) {
        if self.redact.is_none() {
            let Some(settings) = &self.settings.redaction else {
                return;
            };
            match crate::redact::Redactor::new(settings) {
                Ok(redactor) => {
                    self.redact = Some(crate::redact::Stage::new(std::sync::Arc::new(redactor)))
                }
                Err(e) => {
                    // Validated at configuration time, so not expected; never let content out
                    // unredacted: capture goes off.
                    crate::diag::report(
                        crate::diag::Level::Error,
                        "redact",
                        &format!("the redactor cannot be built ({e}): content capture is off"),
                    );
                    self.settings.capture_content = false;
                    return;
                }
            }
        }
        if let Some(stage) = &mut self.redact {
            stage.process(r, limits, &self.stats);
        }
    }

    /// Turns the provider request and response bodies an integration handed over into
    /// attributes ([`crate::providers`]); returns the texts found in them.
    fn provider_payloads(&self, r: &mut SpanRecord, limits: &Limits) -> providers::Extracted {
        let mut found = providers::Extracted::default();
        let Some(format) = text(r, sc::PRIVATE_FORMAT).map(str::to_string) else {
            return found;
        };
        let capture = self.settings.capture_content;
        if let Some(body) = text(r, sc::PRIVATE_REQUEST).and_then(providers::parse) {
            let x = providers::apply_request(r, &format, &body, capture, limits);
            found.system_text = x.system_text;
            found.input_text = x.input_text;
            found.input = x.input;
        }
        if let Some(body) = text(r, sc::PRIVATE_RESPONSE).and_then(providers::parse) {
            found.output_text =
                providers::apply_response(r, &format, &body, capture, limits).output_text;
        }
        found
    }

    /// Counts the side(s) the provider did not report (no usage in a stream, or a stream cut
    /// before its final usage) from the text the integration handed over (or that its payloads
    /// held), and marks the span. A call that failed before any output is not estimated: it is
    /// usually not billed, and a guess would put a cost on it.
    fn estimate_usage(&self, r: &mut SpanRecord, found: &providers::Extracted, limits: &Limits) {
        let model = text(r, sc::GEN_AI_RESPONSE_MODEL)
            .or_else(|| text(r, sc::GEN_AI_REQUEST_MODEL))
            .map(str::to_string);
        let input = text(r, sc::PRIVATE_INPUT_TEXT)
            .map(str::to_string)
            .or_else(|| found.input_text.clone());
        let output = text(r, sc::PRIVATE_OUTPUT_TEXT)
            .map(str::to_string)
            .or_else(|| found.output_text.clone());
        if matches!(r.status, Status::Error(_)) && output.as_deref().is_none_or(str::is_empty) {
            return;
        }
        let mut estimated = false;
        for (usage_key, source) in [
            (sc::GEN_AI_USAGE_INPUT_TOKENS, input),
            (sc::GEN_AI_USAGE_OUTPUT_TOKENS, output),
        ] {
            if r.attribute(usage_key).is_some() {
                continue;
            }
            let Some(t) = source else {
                continue;
            };
            let n = crate::tokens::count(&t, model.as_deref()).tokens;
            r.set_attribute_ref(Key::new(usage_key), ValueRef::I64(n as i64), limits);
            estimated = true;
        }
        if estimated {
            r.set_attribute_ref(
                Key::new(sc::FIVELENS_USAGE_ESTIMATED),
                ValueRef::Bool(true),
                limits,
            );
        }
    }

    fn price(&self, r: &mut SpanRecord, limits: &Limits) {
        if r.cost_pico.is_some() {
            return;
        }
        let Some(provider) = text(r, sc::GEN_AI_PROVIDER_NAME).map(str::to_string) else {
            return;
        };
        let input = int(r, sc::GEN_AI_USAGE_INPUT_TOKENS);
        let output = int(r, sc::GEN_AI_USAGE_OUTPUT_TOKENS);
        if input.is_none() && output.is_none() {
            return;
        }
        let models: Vec<String> = [sc::GEN_AI_RESPONSE_MODEL, sc::GEN_AI_REQUEST_MODEL]
            .iter()
            .filter_map(|k| text(r, k).map(str::to_string))
            .collect();
        let Some(rates) = models.iter().find_map(|m| self.prices.lookup(&provider, m)) else {
            if let Some(m) = models.last() {
                crate::pricing::warn_unpriced(&provider, m);
            }
            return;
        };
        let usage = Usage {
            input: input.unwrap_or(0),
            output: output.unwrap_or(0),
            cache_read: int(r, sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS).unwrap_or(0),
            cache_write: int(r, sc::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS).unwrap_or(0),
            reasoning: int(r, sc::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS).unwrap_or(0),
        };
        let pico = rates.cost(&usage).min(u128::from(u64::MAX)) as u64;
        r.cost_pico = Some(pico);
        r.set_attribute_ref(
            Key::new(sc::FIVELENS_COST_USD),
            ValueRef::F64(pico as f64 / 1e12),
            limits,
        );
    }

    fn content(&self, r: &mut SpanRecord, limits: &Limits) {
        let is_content = |k: &Key| sc::CONTENT_KEYS.contains(&k.as_str());
        if !self.settings.capture_content {
            r.payload.remove_where(|k| sc::CONTENT_KEYS.contains(&k));
            for event in &mut r.events {
                event.attributes.retain(|(k, _)| !is_content(k));
            }
            return;
        }
        // Content on events (the agent's reasoning journal): the same bound as on the span.
        for event in &mut r.events {
            for (k, v) in &mut event.attributes {
                if let (true, Value::Str(text)) = (is_content(k), &*v) {
                    if let Some(short) = truncate_content(text, self.settings.max_content_bytes) {
                        *v = Value::Str(short.into());
                    }
                }
            }
        }
        let mut cut = Vec::new();
        for key in sc::CONTENT_KEYS {
            if let Some(ValueRef::Str(v)) = r.attribute(key) {
                if let Some(short) = truncate_content(v, self.settings.max_content_bytes) {
                    cut.push((*key, short));
                }
            }
        }
        for (key, short) in cut {
            let k = Key::new(key);
            r.set_str(k.clone(), &short, limits);
            if !r.truncated.contains(&k) {
                r.truncated.push(k);
            }
        }
        if !r.truncated.is_empty() {
            let names: Vec<Box<str>> = r.truncated.iter().map(|k| k.as_str().into()).collect();
            r.set_attribute_ref(
                Key::new(sc::FIVELENS_TRUNCATED),
                ValueRef::Array(&Value::StrArray(names.into())),
                limits,
            );
        }
    }
}

/// OpenInference and Langfuse attributes derived from the GenAI ones, for backends that read
/// those (Phoenix reads both vocabularies, OpenInference wins).
fn compat(r: &mut SpanRecord, limits: &Limits) {
    let op = text(r, sc::GEN_AI_OPERATION_NAME)
        .unwrap_or("chat")
        .to_string();
    let kind = if op == "embeddings" {
        "EMBEDDING"
    } else {
        "LLM"
    };
    r.set_str(Key::new(sc::OI_SPAN_KIND), kind, limits);
    if let Some(m) = text(r, sc::GEN_AI_RESPONSE_MODEL)
        .or_else(|| text(r, sc::GEN_AI_REQUEST_MODEL))
        .map(str::to_string)
    {
        r.set_str(Key::new(sc::OI_LLM_MODEL_NAME), &m, limits);
    }
    if let Some(p) = text(r, sc::GEN_AI_PROVIDER_NAME).map(str::to_string) {
        r.set_str(Key::new(sc::OI_LLM_PROVIDER), &p, limits);
    }
    let input = int(r, sc::GEN_AI_USAGE_INPUT_TOKENS);
    let output = int(r, sc::GEN_AI_USAGE_OUTPUT_TOKENS);
    if let Some(n) = input {
        r.set_attribute_ref(
            Key::new(sc::OI_TOKEN_COUNT_PROMPT),
            ValueRef::I64(n as i64),
            limits,
        );
    }
    if let Some(n) = output {
        r.set_attribute_ref(
            Key::new(sc::OI_TOKEN_COUNT_COMPLETION),
            ValueRef::I64(n as i64),
            limits,
        );
    }
    if input.is_some() || output.is_some() {
        let total = input.unwrap_or(0) + output.unwrap_or(0);
        r.set_attribute_ref(
            Key::new(sc::OI_TOKEN_COUNT_TOTAL),
            ValueRef::I64(total as i64),
            limits,
        );
    }
    if let Some(n) = int(r, sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS) {
        r.set_attribute_ref(
            Key::new(sc::OI_TOKEN_COUNT_CACHE_READ),
            ValueRef::I64(n as i64),
            limits,
        );
    }
    if let Some(n) = int(r, sc::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS) {
        r.set_attribute_ref(
            Key::new(sc::OI_TOKEN_COUNT_CACHE_WRITE),
            ValueRef::I64(n as i64),
            limits,
        );
    }
    if let Some(pico) = r.cost_pico {
        let usd = pico as f64 / 1e12;
        r.set_attribute_ref(Key::new(sc::OI_COST_TOTAL), ValueRef::F64(usd), limits);
        r.set_str(
            Key::new(sc::LANGFUSE_COST_DETAILS),
            &serde_json::json!({ "total": usd }).to_string(),
            limits,
        );
    }
    r.set_str(
        Key::new(sc::LANGFUSE_OBSERVATION_TYPE),
        "generation",
        limits,
    );
    if input.is_some() || output.is_some() {
        let usage =
            serde_json::json!({ "input": input.unwrap_or(0), "output": output.unwrap_or(0) });
        r.set_str(
            Key::new(sc::LANGFUSE_USAGE_DETAILS),
            &usage.to_string(),
            limits,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Parent, SpanKind};

    fn settings(capture: bool) -> LlmSettings {
        LlmSettings {
            capture_content: capture,
            max_content_bytes: 1000,
            compat: true,
            redaction: None,
        }
    }

    fn prices() -> PriceTable {
        let mut t = PriceTable::default();
        t.merge_json(r#"{"models":[{"provider":"openai","model":"gpt-4o","input":2.5,"output":10,"cache_read":1.25}]}"#)
            .unwrap();
        t
    }

    fn llm(parent: Option<&SpanRecord>, model: &str) -> SpanRecord {
        let p = parent.map(|p| Parent {
            trace_id: p.trace_id,
            span_id: p.span_id,
            remote: false,
            flags: 1,
        });
        let mut r = SpanRecord::start(&format!("chat {model}"), SpanKind::Client, p);
        r.set_attribute(Key::new(sc::GEN_AI_OPERATION_NAME), Value::from("chat"));
        r.set_attribute(Key::new(sc::GEN_AI_PROVIDER_NAME), Value::from("openai"));
        r.set_attribute(Key::new(sc::GEN_AI_REQUEST_MODEL), Value::from(model));
        r
    }

    #[test]
    fn prompt_hash_ignores_spacing_only() {
        assert_eq!(
            prompt_hash("You are  helpful.\n"),
            prompt_hash(" You are helpful.")
        );
        assert_ne!(
            prompt_hash("You are helpful."),
            prompt_hash("You are unhelpful.")
        );
        assert_eq!(prompt_hash("x").len(), PROMPT_HASH_LEN);
    }

    #[test]
    fn cost_hash_and_private_attributes() {
        let mut stage = LlmStage::new(settings(true), prices());
        let mut r = llm(None, "gpt-4o-2024-08-06");
        r.set_attribute(Key::new(sc::GEN_AI_USAGE_INPUT_TOKENS), Value::I64(1000));
        r.set_attribute(Key::new(sc::GEN_AI_USAGE_OUTPUT_TOKENS), Value::I64(500));
        r.set_attribute(
            Key::new(sc::PRIVATE_SYSTEM_PROMPT),
            Value::from("Be brief."),
        );
        r.set_attribute(Key::new(sc::GEN_AI_REQUEST_TEMPERATURE), Value::I64(1));
        r.end_at(None);
        stage.process(&mut r);
        assert_eq!(
            r.attribute(sc::GEN_AI_REQUEST_TEMPERATURE),
            Some(ValueRef::F64(1.0)),
            "a double, even when the host language sent 1"
        );
        assert_eq!(r.cost_pico, Some(7_500_000_000));
        assert_eq!(
            r.attribute(sc::FIVELENS_COST_USD),
            Some(ValueRef::F64(0.0075))
        );
        assert_eq!(
            r.attribute(sc::FIVELENS_PROMPT_HASH),
            Some(ValueRef::Str(&prompt_hash("Be brief.")))
        );
        assert!(
            r.attribute(sc::PRIVATE_SYSTEM_PROMPT).is_none(),
            "private attributes never leave"
        );
        assert_eq!(
            r.attribute(sc::OI_TOKEN_COUNT_TOTAL),
            Some(ValueRef::I64(1500))
        );
    }

    #[test]
    fn unknown_models_get_no_cost() {
        let mut stage = LlmStage::new(settings(true), prices());
        let mut r = llm(None, "some-local-model");
        r.set_attribute(Key::new(sc::GEN_AI_USAGE_INPUT_TOKENS), Value::I64(10));
        stage.process(&mut r);
        assert_eq!(r.cost_pico, None);
        assert!(r.attribute(sc::FIVELENS_COST_USD).is_none());
    }

    #[test]
    fn missing_usage_is_estimated_and_marked() {
        let mut stage = LlmStage::new(settings(true), prices());
        let mut r = llm(None, "gpt-4o");
        r.set_attribute(Key::new(sc::PRIVATE_INPUT_TEXT), Value::from("hello world"));
        r.set_attribute(Key::new(sc::PRIVATE_OUTPUT_TEXT), Value::from("hello"));
        stage.process(&mut r);
        assert_eq!(
            r.attribute(sc::GEN_AI_USAGE_INPUT_TOKENS),
            Some(ValueRef::I64(2))
        );
        assert_eq!(
            r.attribute(sc::GEN_AI_USAGE_OUTPUT_TOKENS),
            Some(ValueRef::I64(1))
        );
        assert_eq!(
            r.attribute(sc::FIVELENS_USAGE_ESTIMATED),
            Some(ValueRef::Bool(true))
        );
        assert!(r.attribute(sc::PRIVATE_INPUT_TEXT).is_none());
    }

    #[test]
    fn capture_off_drops_content() {
        let mut stage = LlmStage::new(settings(false), prices());
        let mut r = llm(None, "gpt-4o");
        r.set_attribute(
            Key::new(sc::GEN_AI_INPUT_MESSAGES),
            Value::from("[{\"role\":\"user\"}]"),
        );
        r.set_attribute(Key::new(sc::GEN_AI_SYSTEM_INSTRUCTIONS), Value::from("[]"));
        stage.process(&mut r);
        assert!(r.attribute(sc::GEN_AI_INPUT_MESSAGES).is_none());
        assert!(r.attribute(sc::GEN_AI_SYSTEM_INSTRUCTIONS).is_none());
    }

    #[test]
    fn content_is_redacted_before_it_is_cut() {
        let stats = std::sync::Arc::new(crate::stats::Stats::default());
        let mut stage = LlmStage::with_stats(
            LlmSettings {
                redaction: Some(crate::redact::Settings::default()),
                ..settings(true)
            },
            prices(),
            stats.clone(),
        );
        let mut r = llm(None, "gpt-4o");
        // The card sits exactly where the 1000-byte cut falls: it must not survive in part.
        let filler = "x".repeat(960);
        let messages = serde_json::json!([{"role": "user", "parts": [
            {"type": "text", "content": format!("{filler} card 4111 1111 1111 1111 and mail a.b@example.com")}
        ]}])
        .to_string();
        r.set_attribute(
            Key::new(sc::GEN_AI_INPUT_MESSAGES),
            Value::from(messages.as_str()),
        );
        r.set_attribute(
            Key::new(sc::GEN_AI_OUTPUT_MESSAGES),
            Value::from(r#"[{"role":"assistant","parts":[{"type":"text","content":"call +1 506 130 5127"}],"finish_reason":"stop"}]"#),
        );
        r.record_exception("ValueError", "bad address a.b@example.com", None);
        r.add_event(
            sc::FIVELENS_EVENT_AGENT_STEP,
            None,
            vec![(
                Key::new(sc::FIVELENS_STEP_CONTENT),
                Value::from("token ghp_t0A6AlnQ3LtJdMieBni9ILUE2781h8DbQrxL"),
            )],
        );
        stage.process(&mut r);
        let all = serde_json::to_string(
            &r.payload
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_owned().display()))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default()
            + &format!("{:?}", r.events);
        for leaked in ["4111", "1111 1111", "a.b@example", "506 130", "ghp_t0A6"] {
            assert!(!all.contains(leaked), "{leaked} in {all}");
        }
        // Messages, the exception event and the status description.
        assert_eq!(
            r.attribute("fivelens.redaction.email"),
            Some(ValueRef::I64(3))
        );
        assert_eq!(
            r.attribute("fivelens.redaction.credit_card"),
            Some(ValueRef::I64(1))
        );
        assert_eq!(
            r.attribute("fivelens.redaction.phone"),
            Some(ValueRef::I64(1))
        );
        assert_eq!(
            r.attribute("fivelens.redaction.secret"),
            Some(ValueRef::I64(1))
        );
        let snap = stats.snapshot();
        assert_eq!(snap.redaction.values, 6);
        assert!(snap.redaction.texts >= 4 && snap.redaction.bytes > 1000);

        // Capture off: nothing to redact, nothing scanned.
        let stats = std::sync::Arc::new(crate::stats::Stats::default());
        let mut off = LlmStage::with_stats(
            LlmSettings {
                redaction: Some(crate::redact::Settings::default()),
                ..settings(false)
            },
            prices(),
            stats.clone(),
        );
        let mut r = llm(None, "gpt-4o");
        r.set_attribute(
            Key::new(sc::GEN_AI_INPUT_MESSAGES),
            Value::from("a.b@example.com"),
        );
        off.process(&mut r);
        assert!(r.attribute(sc::GEN_AI_INPUT_MESSAGES).is_none());
        assert_eq!(stats.snapshot().redaction.texts, 0);
    }

    #[test]
    fn journal_event_content_follows_the_capture_switch() {
        let journal = |r: &mut SpanRecord, text: String| {
            r.add_event(
                sc::FIVELENS_EVENT_AGENT_STEP,
                None,
                vec![
                    (Key::new(sc::FIVELENS_STEP_KIND), Value::from("thought")),
                    (
                        Key::new(sc::FIVELENS_STEP_CONTENT),
                        Value::from(text.as_str()),
                    ),
                ],
            );
        };
        let mut off = LlmStage::new(settings(false), prices());
        let mut r = SpanRecord::start("agent", SpanKind::Internal, None);
        journal(&mut r, "secret plan".into());
        off.process(&mut r);
        let keys: Vec<&str> = r.events[0]
            .attributes
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(keys, vec![sc::FIVELENS_STEP_KIND]);

        let mut on = LlmStage::new(settings(true), prices());
        let mut r = SpanRecord::start("agent", SpanKind::Internal, None);
        journal(&mut r, "y".repeat(1 << 20));
        on.process(&mut r);
        let Value::Str(kept) = &r.events[0].attributes[1].1 else {
            panic!("content kept as text")
        };
        assert!(kept.len() < 1 << 17, "{}", kept.len());
        assert!(kept.contains("truncated"));
    }

    #[test]
    fn content_is_cut_keeping_json_valid() {
        let big = serde_json::json!([
            {"role": "system", "parts": [{"type": "text", "content": "short"}]},
            {"role": "user", "parts": [{"type": "text", "content": "x".repeat(5000)}]},
        ])
        .to_string();
        let cut = truncate_content(&big, 1000).unwrap();
        assert!(cut.len() <= 1000, "{}", cut.len());
        let v: serde_json::Value = serde_json::from_str(&cut).unwrap();
        let text = v[1]["parts"][0]["content"].as_str().unwrap();
        assert!(text.contains("…[truncated "), "{text}");
        assert_eq!(v[0]["parts"][0]["content"], "short");
        assert!(truncate_content("[]", 10).is_none());
        // Many small messages: leading ones (after the first) go.
        let many = serde_json::Value::Array(
            (0..200)
                .map(|i| serde_json::json!({"role": "user", "n": i}))
                .collect(),
        )
        .to_string();
        let cut = truncate_content(&many, 500).unwrap();
        let v: serde_json::Value = serde_json::from_str(&cut).unwrap();
        assert_eq!(v[0]["n"], 0);
        assert_eq!(v.as_array().unwrap().last().unwrap()["n"], 199);
    }

    #[test]
    fn context_sections_from_the_payload_before_redaction_even_with_capture_off() {
        let stats = std::sync::Arc::new(crate::stats::Stats::default());
        for capture in [true, false] {
            let mut stage = LlmStage::with_stats(
                LlmSettings {
                    redaction: Some(crate::redact::Settings::default()),
                    ..settings(capture)
                },
                prices(),
                stats.clone(),
            );
            let mut r = llm(None, "gpt-4o");
            let user = "mail me at jane.doe@example.com about the invoice";
            let body = serde_json::json!({
                "model": "gpt-4o",
                "messages": [
                    {"role": "system", "content": "You are a billing assistant."},
                    {"role": "user", "content": "hello"},
                    {"role": "assistant", "content": "hi, how can I help?"},
                    {"role": "user", "content": user}
                ],
                "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}}}]
            });
            r.set_attribute(Key::new(sc::PRIVATE_FORMAT), Value::from("openai.chat"));
            r.set_attribute(
                Key::new(sc::PRIVATE_REQUEST),
                Value::from(body.to_string().as_str()),
            );
            r.set_attribute(
                Key::new(sc::PRIVATE_RESPONSE),
                Value::from(r#"{"id":"x","model":"gpt-4o","choices":[{"finish_reason":"stop","message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":90,"completion_tokens":1}}"#),
            );
            stage.process(&mut r);
            let section = |name: &str| match r
                .attribute(&format!("{}{name}", sc::FIVELENS_CONTEXT_TOKENS_PREFIX))
            {
                Some(ValueRef::I64(n)) => n,
                other => panic!("{name}: {other:?}"),
            };
            let sum: i64 = crate::context_window::SECTIONS
                .iter()
                .map(|s| section(s))
                .sum();
            assert_eq!(sum, 90, "scaled to the reported count");
            assert!(section("tools") > 0 && section("system") > 0 && section("history") > 0);
            // Counted on the raw text: the e-mail address, not its placeholder.
            let raw = crate::tokens::count(user, Some("gpt-4o")).tokens as i64;
            let Some(ValueRef::I64(counted)) = r.attribute(sc::FIVELENS_CONTEXT_COUNTED_TOKENS)
            else {
                panic!("no counted total")
            };
            let system =
                crate::tokens::count("You are a billing assistant.", Some("gpt-4o")).tokens as i64;
            let tools =
                crate::tokens::count(&body["tools"].to_string(), Some("gpt-4o")).tokens as i64;
            let history =
                crate::tokens::count("hello\nhi, how can I help?", Some("gpt-4o")).tokens as i64;
            assert_eq!(counted, system + tools + history + raw + 4 * 3);
            assert_eq!(
                r.attribute(sc::FIVELENS_CONTEXT_WINDOW),
                Some(ValueRef::I64(128_000))
            );
            assert_eq!(
                r.attribute(sc::FIVELENS_CONTEXT_FILL),
                Some(ValueRef::F64(90.0 / 128_000.0))
            );
            assert_eq!(
                r.attribute(sc::GEN_AI_INPUT_MESSAGES).is_some(),
                capture,
                "content follows the capture switch"
            );
            assert!(r
                .payload
                .iter()
                .all(|(k, _)| !k.as_str().starts_with(sc::PRIVATE_PREFIX)));
        }
    }

    #[test]
    fn cost_and_tokens_roll_up_to_ancestors() {
        let mut stage = LlmStage::new(settings(true), prices());
        let root = SpanRecord::start("root", SpanKind::Internal, None);
        let mut agent = SpanRecord::start(
            "invoke_agent a",
            SpanKind::Internal,
            Some(Parent {
                trace_id: root.trace_id,
                span_id: root.span_id,
                remote: false,
                flags: 1,
            }),
        );
        let mut c1 = llm(Some(&agent), "gpt-4o");
        c1.set_attribute(Key::new(sc::GEN_AI_USAGE_INPUT_TOKENS), Value::I64(1000));
        c1.set_attribute(Key::new(sc::GEN_AI_USAGE_OUTPUT_TOKENS), Value::I64(0));
        let mut c2 = llm(Some(&agent), "gpt-4o");
        c2.set_attribute(Key::new(sc::GEN_AI_USAGE_INPUT_TOKENS), Value::I64(0));
        c2.set_attribute(Key::new(sc::GEN_AI_USAGE_OUTPUT_TOKENS), Value::I64(100));
        let mut root = root;
        stage.process(&mut c1);
        stage.process(&mut c2);
        stage.process(&mut agent);
        stage.process(&mut root);
        for r in [&agent, &root] {
            assert_eq!(
                r.attribute(sc::FIVELENS_ROLLUP_LLM_CALLS),
                Some(ValueRef::I64(2))
            );
            assert_eq!(
                r.attribute(sc::FIVELENS_ROLLUP_INPUT_TOKENS),
                Some(ValueRef::I64(1000))
            );
            assert_eq!(
                r.attribute(sc::FIVELENS_ROLLUP_OUTPUT_TOKENS),
                Some(ValueRef::I64(100))
            );
            // 1000 * 2.5e-6 + 100 * 10e-6 = 0.0035
            assert_eq!(
                r.attribute(sc::FIVELENS_ROLLUP_COST_USD),
                Some(ValueRef::F64(0.0035))
            );
        }
    }
}
