//! The context window as the unit of analysis: what each part of a model call's input costs in
//! tokens, how full the model's window is, how it grows across the turns of a conversation, and
//! an alert when a conversation's fill rises past a threshold. All of it on the processing thread
//! (the synchronous [`check`] excepted, which an agent calls on purpose before sending).
//!
//! ```text
//!  model-call span ──> sections from the request (provider payload, or the GenAI content
//!                      attributes): system, tools, history, tool_results, user_input
//!                      (counted with the model's BPE vocabulary, on the raw text: before redaction)
//!                 ──> scaled to gen_ai.usage.input_tokens when the provider reported it
//!                 ──> window of the model (LimitTable: core/data/context_windows.json + overrides)
//!                 ──> fill = input tokens / window
//!                 ──> conversation (gen_ai.conversation.id, else session.id, else the trace):
//!                     turn, growth, mean growth per turn, turns left; the alert on crossing
//!  metrics.rs reads the attributes this stage wrote (fill, sections, tiers, growth, alerts).
//! ```
//!
//! Performance notes. Sections are counted once each (their texts joined), not per message; a
//! conversation's whole history is recounted at every call (a call of 100k tokens costs a few
//! milliseconds of the processing thread, never the caller's). Per-message caching by hash was
//! not worth its memory for the sizes measured.

use std::collections::VecDeque;
use std::path::Path;

use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde_json::Value as J;

use crate::key::Key;
use crate::record::{Limits, SpanRecord};
use crate::semconv as sc;
use crate::value::{Value, ValueRef};

/// The embedded table.
const EMBEDDED: &str = include_str!("../data/context_windows.json");

/// The sections of a model call's input, in the order of [`Breakdown::tokens`].
pub const SECTIONS: [&str; 5] = ["system", "tools", "history", "tool_results", "user_input"];

/// Tokens a chat message costs beyond its text (role and framing), as OpenAI documents for its
/// chat models; the sections are scaled to the provider's own count whenever it reports one.
pub const MESSAGE_OVERHEAD: u64 = 3;

/// Default share of the window past which a conversation's call raises the alert.
pub const DEFAULT_ALERT_THRESHOLD: f64 = 0.8;

/// Conversations whose turns are followed (least recently used ones are forgotten first).
pub const MAX_SESSIONS: usize = 10_000;

/// The window of one model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowLimits {
    /// Input and output together, tokens.
    pub context: u64,
    /// Largest output of one call, when published.
    pub max_output: Option<u64>,
}

#[derive(Deserialize)]
struct FileEntry {
    provider: String,
    model: String,
    context_window: u64,
    #[serde(default)]
    max_output_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct File {
    models: Vec<FileEntry>,
}

/// Context windows per provider and model.
#[derive(Clone, Debug, Default)]
pub struct LimitTable {
    limits: FxHashMap<(String, String), WindowLimits>,
}

impl LimitTable {
    /// The embedded table.
    pub fn embedded() -> LimitTable {
        let mut t = LimitTable::default();
        // The embedded file is checked by a unit test; a broken one leaves the table empty.
        let _ = t.merge_json(EMBEDDED);
        t
    }

    /// Adds (or replaces) the entries of a JSON document in the table's format.
    pub fn merge_json(&mut self, json: &str) -> Result<usize, String> {
        let file: File = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut n = 0;
        for e in file.models {
            if e.context_window == 0 {
                return Err(format!("{}: context_window must be at least 1", e.model));
            }
            self.limits.insert(
                (
                    e.provider.to_ascii_lowercase(),
                    crate::pricing::normalise(&e.model),
                ),
                WindowLimits {
                    context: e.context_window,
                    max_output: e.max_output_tokens.filter(|n| *n > 0),
                },
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
        self.limits.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// The window of a model: under its provider (exact id, then without a date or `-latest`
    /// suffix, then Azure OpenAI as OpenAI), else under any provider that lists the model (a
    /// framework may name the provider differently). `None` when no entry matches: never a guess.
    pub fn lookup(&self, provider: Option<&str>, model: &str) -> Option<WindowLimits> {
        let model = crate::pricing::normalise(model);
        let base = crate::pricing::strip_version(&model).to_string();
        let exact = |p: &str| {
            self.limits
                .get(&(p.to_string(), model.clone()))
                .or_else(|| self.limits.get(&(p.to_string(), base.clone())))
                .copied()
        };
        if let Some(p) = provider.map(str::to_ascii_lowercase) {
            if let Some(l) = exact(&p) {
                return Some(l);
            }
            if p == "azure.ai.openai" {
                if let Some(l) = exact("openai") {
                    return Some(l);
                }
            }
        }
        let mut found: Vec<(&String, WindowLimits)> = self
            .limits
            .iter()
            .filter(|((_, m), _)| *m == model || *m == base)
            .map(|((p, _), l)| (p, *l))
            .collect();
        // Deterministic whatever the hash order: the exact id first, then by provider name.
        found.sort_by(|a, b| a.0.cmp(b.0));
        found.first().map(|(_, l)| *l)
    }
}

/// The settings of the stage.
#[derive(Clone, Debug)]
pub struct ContextSettings {
    /// The windows.
    pub limits: LimitTable,
    /// Share of the window (0..=1] past which a conversation raises the alert.
    pub alert_threshold: f64,
    /// Conversations followed at most.
    pub max_sessions: usize,
}

impl Default for ContextSettings {
    fn default() -> Self {
        ContextSettings {
            limits: LimitTable::embedded(),
            alert_threshold: DEFAULT_ALERT_THRESHOLD,
            max_sessions: MAX_SESSIONS,
        }
    }
}

/// Tokens per section.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Breakdown {
    /// In the order of [`SECTIONS`].
    pub tokens: [u64; 5],
}

impl Breakdown {
    /// The sum of the sections.
    pub fn total(&self) -> u64 {
        self.tokens.iter().sum()
    }

    /// The sections scaled to `total` (largest remainder: they still sum to exactly `total`).
    pub fn scaled_to(&self, total: u64) -> Breakdown {
        let counted = self.total();
        if counted == 0 || counted == total {
            return *self;
        }
        let mut out = [0u64; 5];
        let mut rests: Vec<(u128, usize)> = Vec::with_capacity(5);
        let mut given = 0u64;
        for (i, n) in self.tokens.iter().enumerate() {
            let exact = u128::from(*n) * u128::from(total);
            out[i] = (exact / u128::from(counted)) as u64;
            given += out[i];
            rests.push((exact % u128::from(counted), i));
        }
        rests.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, i) in rests.into_iter().take((total - given) as usize) {
            out[i] += 1;
        }
        Breakdown { tokens: out }
    }
}

/// The input of a model call, in the conventions' shapes: messages (`{"role", "parts"}`),
/// separate system instructions (parts) and tool definitions (JSON text, as sent).
#[derive(Clone, Debug, Default)]
pub struct Input {
    /// The messages.
    pub messages: Vec<J>,
    /// System instructions given apart from the messages (Anthropic `system`, Responses
    /// `instructions`).
    pub system: Vec<J>,
    /// The tool definitions as sent (the provider's JSON, schemas included), or the
    /// conventions' `gen_ai.tool.definitions`.
    pub tools: Option<String>,
}

impl Input {
    /// Whether there is nothing to count.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.system.is_empty() && self.tools.is_none()
    }
}

fn push(out: &mut String, text: &str) {
    if text.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(text);
}

fn part_text(part: &J, out: &mut String) {
    match part["type"].as_str().unwrap_or("") {
        "text" | "reasoning" => push(out, part["content"].as_str().unwrap_or("")),
        "tool_call" => {
            push(out, part["name"].as_str().unwrap_or(""));
            match &part["arguments"] {
                J::String(s) => push(out, s),
                J::Null => {}
                other => push(out, &other.to_string()),
            }
        }
        "tool_call_response" => match &part["response"] {
            J::String(s) => push(out, s),
            J::Null => {}
            other => push(out, &other.to_string()),
        },
        // Media are not text: their tokens are only known from the provider's count (the
        // sections are scaled to it).
        "blob" | "uri" | "file" => {}
        _ => match part {
            J::String(s) => push(out, s),
            other => push(out, &other.to_string()),
        },
    }
}

/// Counts the sections of `input` with `model`'s vocabulary (an estimate with `o200k_base` for
/// models without a public tokenizer).
///
/// Which section a message goes to: `system`/`developer` messages and separate instructions to
/// `system`; the tool definitions to `tools`; tool messages and tool-result parts to
/// `tool_results`; the user messages after the last assistant message to `user_input` (the new
/// input of this turn); everything else (earlier turns, the assistant's own messages and tool
/// calls) to `history`.
pub fn count_input(input: &Input, model: Option<&str>) -> Breakdown {
    let mut texts: [String; 5] = Default::default();
    let mut messages = [0u64; 5];
    let last_assistant = input
        .messages
        .iter()
        .rposition(|m| m["role"].as_str() == Some("assistant"));
    for part in &input.system {
        part_text(part, &mut texts[0]);
    }
    if let Some(tools) = &input.tools {
        texts[1].push_str(tools);
    }
    for (i, m) in input.messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or("user");
        let own = match role {
            "system" | "developer" => 0,
            "tool" => 3,
            "user" if last_assistant.is_none_or(|a| i > a) => 4,
            _ => 2,
        };
        messages[own] += 1;
        let parts: &[J] = m["parts"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for part in parts {
            let section = if part["type"].as_str() == Some("tool_call_response") {
                3
            } else {
                own
            };
            part_text(part, &mut texts[section]);
        }
    }
    let mut b = Breakdown::default();
    for (i, text) in texts.iter().enumerate() {
        let n = if text.is_empty() {
            0
        } else {
            crate::tokens::count(text, model).tokens as u64
        };
        b.tokens[i] = n + messages[i] * MESSAGE_OVERHEAD;
    }
    b
}

/// Tokens of a value the host hands over for a section or a tier: a string is counted, a
/// non-negative integer is taken as a count, a list adds its items, a chat message (an object
/// with `role`) counts its content and [`MESSAGE_OVERHEAD`], any other object its JSON text.
pub fn count_value(v: &J, model: Option<&str>) -> u64 {
    match v {
        J::Null | J::Bool(_) => 0,
        J::Number(n) => n.as_u64().unwrap_or(0),
        J::String(s) => crate::tokens::count(s, model).tokens as u64,
        J::Array(items) => items.iter().map(|i| count_value(i, model)).sum(),
        J::Object(map) => {
            if map.contains_key("role") {
                let mut text = String::new();
                match map.get("content").or_else(|| map.get("parts")) {
                    Some(J::String(s)) => push(&mut text, s),
                    Some(J::Array(parts)) => {
                        for p in parts {
                            if let Some(t) = p["text"].as_str() {
                                push(&mut text, t);
                            } else {
                                part_text(p, &mut text);
                            }
                        }
                    }
                    Some(other) => push(&mut text, &other.to_string()),
                    None => {}
                }
                for call in map
                    .get("tool_calls")
                    .and_then(J::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[])
                {
                    push(&mut text, &call.to_string());
                }
                MESSAGE_OVERHEAD + crate::tokens::count(&text, model).tokens as u64
            } else {
                crate::tokens::count(&v.to_string(), model).tokens as u64
            }
        }
    }
}

/// A tier or section name as it may appear in an attribute key: lowercase ASCII letters,
/// digits and `_` (anything else becomes `_`), at most 64 characters.
pub fn label(name: &str) -> String {
    name.trim()
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[derive(Clone, Debug)]
struct Session {
    turn: u64,
    first: u64,
    last: u64,
    above: bool,
    tick: u64,
}

/// What a conversation's new turn gave.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Turn {
    /// 1-based.
    pub turn: u64,
    /// Input tokens minus the previous turn's (none on the first turn).
    pub growth: Option<i64>,
    /// Mean growth per turn since the first (none on the first turn).
    pub rate: Option<f64>,
    /// Whether this turn's fill rose past the threshold from below.
    pub crossed: bool,
}

/// The conversations followed: bounded, the least recently used forgotten first.
#[derive(Debug, Default)]
pub struct Sessions {
    map: FxHashMap<String, Session>,
    order: VecDeque<(String, u64)>,
    tick: u64,
}

impl Sessions {
    /// Records one turn of conversation `key` with `tokens` input tokens and `fill` (when the
    /// window is known).
    pub fn turn(
        &mut self,
        key: &str,
        tokens: u64,
        fill: Option<f64>,
        threshold: f64,
        capacity: usize,
    ) -> Turn {
        self.tick += 1;
        let tick = self.tick;
        let s = self.map.entry(key.to_string()).or_insert(Session {
            turn: 0,
            first: tokens,
            last: tokens,
            above: false,
            tick,
        });
        s.turn += 1;
        s.tick = tick;
        let (growth, rate) = if s.turn > 1 {
            (
                Some(tokens as i64 - s.last as i64),
                Some((tokens as f64 - s.first as f64) / (s.turn - 1) as f64),
            )
        } else {
            (None, None)
        };
        s.last = tokens;
        let mut crossed = false;
        if let Some(fill) = fill {
            let above = fill >= threshold;
            crossed = above && !s.above;
            s.above = above;
        }
        let turn = s.turn;
        self.order.push_back((key.to_string(), tick));
        self.evict(capacity.max(1));
        Turn {
            turn,
            growth,
            rate,
            crossed,
        }
    }

    fn evict(&mut self, capacity: usize) {
        while self.map.len() > capacity {
            let Some((key, tick)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&key).is_some_and(|s| s.tick == tick) {
                self.map.remove(&key);
            }
        }
        // Stale entries (keys touched again later) are dropped once they pile up.
        if self.order.len() > capacity.saturating_mul(2).max(64) {
            let map = &self.map;
            self.order
                .retain(|(k, t)| map.get(k).is_some_and(|s| s.tick == *t));
        }
    }

    /// Conversations followed.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether none is followed.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The stage, owned by [`crate::llm::LlmStage`].
#[derive(Debug)]
pub struct ContextStage {
    settings: ContextSettings,
    sessions: Sessions,
}

fn text<'a>(r: &'a SpanRecord, key: &str) -> Option<&'a str> {
    match r.attribute(key) {
        Some(ValueRef::Str(s)) => Some(s),
        _ => None,
    }
}

fn int(r: &SpanRecord, key: &str) -> Option<u64> {
    match r.attribute(key) {
        Some(ValueRef::I64(i)) if i >= 0 => Some(i as u64),
        Some(ValueRef::F64(f)) if f >= 0.0 => Some(f as u64),
        _ => None,
    }
}

fn json_array(s: &str) -> Vec<J> {
    match serde_json::from_str::<J>(s) {
        Ok(J::Array(a)) => a,
        Ok(J::String(t)) => vec![serde_json::json!({"type": "text", "content": t})],
        _ => Vec::new(),
    }
}

/// The input of a span from its content attributes (set by the host, or handed over privately
/// when content capture is off).
pub fn input_from_attributes(r: &SpanRecord) -> Input {
    let get = |public: &str, private: &str| {
        text(r, public)
            .or_else(|| text(r, private))
            .map(str::to_string)
    };
    let messages = get(sc::GEN_AI_INPUT_MESSAGES, sc::PRIVATE_INPUT_MESSAGES)
        .map(|m| match serde_json::from_str::<J>(&m) {
            Ok(J::Array(a)) => a,
            Ok(J::String(t)) => {
                vec![serde_json::json!({"role": "user", "parts": [{"type": "text", "content": t}]})]
            }
            _ => Vec::new(),
        })
        .unwrap_or_default();
    let system = get(
        sc::GEN_AI_SYSTEM_INSTRUCTIONS,
        sc::PRIVATE_SYSTEM_INSTRUCTIONS,
    )
    .map(|s| json_array(&s))
    .unwrap_or_default();
    let tools = get(sc::GEN_AI_TOOL_DEFINITIONS, sc::PRIVATE_TOOL_DEFINITIONS)
        .filter(|t| !matches!(t.trim(), "" | "[]" | "null"));
    Input {
        messages,
        system,
        tools,
    }
}

impl ContextStage {
    /// A stage with `settings`.
    pub fn new(settings: ContextSettings) -> ContextStage {
        ContextStage {
            settings,
            sessions: Sessions::default(),
        }
    }

    /// The alert threshold.
    pub fn threshold(&self) -> f64 {
        self.settings.alert_threshold
    }

    /// Writes the context-window attributes of one ended model call (not embeddings). `input`
    /// is what the provider payload held (empty when there was none: then the content
    /// attributes are read). Runs before redaction, on the text as sent.
    pub fn process(&mut self, r: &mut SpanRecord, input: Input, limits: &Limits) {
        if text(r, sc::GEN_AI_OPERATION_NAME) == Some("embeddings") {
            return;
        }
        let input = if input.is_empty() {
            input_from_attributes(r)
        } else {
            input
        };
        let request_model = text(r, sc::GEN_AI_REQUEST_MODEL).map(str::to_string);
        let response_model = text(r, sc::GEN_AI_RESPONSE_MODEL).map(str::to_string);
        let model = response_model.clone().or_else(|| request_model.clone());
        let provider = text(r, sc::GEN_AI_PROVIDER_NAME).map(str::to_string);

        self.tiers(r, model.as_deref(), limits);

        let counted = (!input.is_empty()).then(|| count_input(&input, model.as_deref()));
        let estimated = matches!(
            r.attribute(sc::FIVELENS_USAGE_ESTIMATED),
            Some(ValueRef::Bool(true))
        );
        let reported = int(r, sc::GEN_AI_USAGE_INPUT_TOKENS).filter(|_| !estimated);
        let (sections, tokens) = match (counted, reported) {
            (Some(c), Some(n)) if c.total() > 0 => (Some(c.scaled_to(n)), Some(n)),
            (Some(c), None) if c.total() > 0 => (Some(c), Some(c.total())),
            (_, Some(n)) => (None, Some(n)),
            (_, None) => (None, int(r, sc::GEN_AI_USAGE_INPUT_TOKENS)),
        };
        let Some(tokens) = tokens else {
            return;
        };
        let set_int = |r: &mut SpanRecord, key: &str, n: u64| {
            r.set_attribute_ref(
                Key::new(key),
                ValueRef::I64(n.min(i64::MAX as u64) as i64),
                limits,
            );
        };
        if let (Some(s), Some(c)) = (sections, counted) {
            for (name, n) in SECTIONS.iter().zip(s.tokens) {
                set_int(
                    r,
                    &format!("{}{name}", sc::FIVELENS_CONTEXT_TOKENS_PREFIX),
                    n,
                );
            }
            set_int(r, sc::FIVELENS_CONTEXT_COUNTED_TOKENS, c.total());
        }
        set_int(r, sc::FIVELENS_CONTEXT_INPUT_TOKENS, tokens);

        let window = [response_model.as_deref(), request_model.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|m| self.settings.limits.lookup(provider.as_deref(), m));
        let fill = match window {
            Some(w) => {
                set_int(r, sc::FIVELENS_CONTEXT_WINDOW, w.context);
                if let Some(o) = w.max_output {
                    set_int(r, sc::FIVELENS_CONTEXT_MAX_OUTPUT_TOKENS, o);
                }
                let fill = tokens as f64 / w.context as f64;
                r.set_attribute_ref(
                    Key::new(sc::FIVELENS_CONTEXT_FILL),
                    ValueRef::F64(fill),
                    limits,
                );
                Some(fill)
            }
            None => {
                if let Some(m) = request_model.as_deref().or(model.as_deref()) {
                    warn_unknown(provider.as_deref().unwrap_or("?"), m);
                }
                None
            }
        };

        let key = text(r, sc::GEN_AI_CONVERSATION_ID)
            .or_else(|| text(r, sc::SESSION_ID))
            .map(str::to_string)
            .unwrap_or_else(|| r.trace_id.to_hex());
        let t = self.sessions.turn(
            &key,
            tokens,
            fill,
            self.settings.alert_threshold,
            self.settings.max_sessions,
        );
        set_int(r, sc::FIVELENS_CONTEXT_TURN, t.turn);
        if let Some(g) = t.growth {
            r.set_attribute_ref(
                Key::new(sc::FIVELENS_CONTEXT_GROWTH),
                ValueRef::I64(g),
                limits,
            );
        }
        if let Some(rate) = t.rate {
            r.set_attribute_ref(
                Key::new(sc::FIVELENS_CONTEXT_GROWTH_RATE),
                ValueRef::F64(rate),
                limits,
            );
            if let (Some(w), true) = (window, rate > 0.0) {
                let left = w.context.saturating_sub(tokens) as f64 / rate;
                set_int(r, sc::FIVELENS_CONTEXT_TURNS_LEFT, left.floor() as u64);
            }
        }
        if t.crossed {
            r.set_attribute_ref(
                Key::new(sc::FIVELENS_CONTEXT_ALERT),
                ValueRef::Bool(true),
                limits,
            );
            r.add_event(
                sc::FIVELENS_EVENT_CONTEXT_THRESHOLD,
                Some(r.end_ns).filter(|t| *t > 0),
                vec![
                    (
                        Key::new(sc::FIVELENS_CONTEXT_FILL),
                        Value::F64(fill.unwrap_or(0.0)),
                    ),
                    (
                        Key::new(sc::FIVELENS_CONTEXT_THRESHOLD),
                        Value::F64(self.settings.alert_threshold),
                    ),
                    (
                        Key::new(sc::FIVELENS_CONTEXT_INPUT_TOKENS),
                        Value::I64(tokens.min(i64::MAX as u64) as i64),
                    ),
                    (
                        Key::new(sc::FIVELENS_CONTEXT_TURN),
                        Value::I64(t.turn as i64),
                    ),
                ],
            );
        }
    }

    /// Tokens by tier, from what the app declared around the call
    /// ([`sc::PRIVATE_CONTEXT_TIERS`], a JSON object of name to text, texts or a count).
    fn tiers(&self, r: &mut SpanRecord, model: Option<&str>, limits: &Limits) {
        let Some(raw) = text(r, sc::PRIVATE_CONTEXT_TIERS).map(str::to_string) else {
            return;
        };
        let Ok(J::Object(tiers)) = serde_json::from_str::<J>(&raw) else {
            return;
        };
        for (name, v) in tiers {
            let name = label(&name);
            if name.is_empty() {
                continue;
            }
            let n = count_value(&v, model);
            r.set_attribute_ref(
                Key::new(&format!(
                    "{}{name}",
                    sc::FIVELENS_CONTEXT_TIER_TOKENS_PREFIX
                )),
                ValueRef::I64(n.min(i64::MAX as u64) as i64),
                limits,
            );
        }
    }
}

static WARNED: parking_lot::Mutex<Option<std::collections::HashSet<String>>> =
    parking_lot::Mutex::new(None);

/// Reports a model without a known window once per process (bounded).
pub fn warn_unknown(provider: &str, model: &str) {
    let key = format!("{provider}/{model}");
    let first = {
        let mut guard = WARNED.lock();
        let set = guard.get_or_insert_with(std::collections::HashSet::new);
        set.len() < 1000 && set.insert(key)
    };
    if first {
        crate::diag::report_distinct(
            crate::diag::Level::Warn,
            format!(
                "no context window known for {provider} model {model:?}: its calls get no fill; add it with the context_limits_file option"
            ),
        );
    }
}

/// The limit table and threshold of the active configuration (the built-in table and the
/// default threshold before `instrument()`), built once per configuration.
fn current() -> std::sync::Arc<ContextSettings> {
    type Cached = (usize, std::sync::Arc<ContextSettings>);
    static CACHE: parking_lot::RwLock<Option<Cached>> = parking_lot::RwLock::new(None);
    let config = crate::global::config();
    let id = config
        .as_ref()
        .map_or(0, |c| std::sync::Arc::as_ptr(c) as usize);
    if let Some((cached, s)) = &*CACHE.read() {
        if *cached == id {
            return s.clone();
        }
    }
    let settings = std::sync::Arc::new(config.map(|c| c.context_settings()).unwrap_or_default());
    *CACHE.write() = Some((id, settings.clone()));
    settings
}

/// The synchronous check an agent makes before sending: `sections` is a JSON object of section
/// name to a text, a list of texts or chat messages, or a token count (see [`count_value`]);
/// counted with `model`'s vocabulary, on the caller's thread. Returns `{model, sections, tokens,
/// limit, max_output_tokens, fill, remaining, threshold, over_threshold}`; the window fields are
/// null for a model the table does not know.
pub fn check(model: &str, provider: Option<&str>, sections: &J) -> Result<J, String> {
    let J::Object(map) = sections else {
        return Err(
            "sections: expected a mapping of section name to text, messages or a token count"
                .into(),
        );
    };
    let settings = current();
    let mut out = serde_json::Map::new();
    let mut total = 0u64;
    for (name, v) in map {
        let n = count_value(v, Some(model));
        total += n;
        out.insert(name.clone(), J::from(n));
    }
    let window = settings.limits.lookup(provider, model);
    let fill = window.map(|w| total as f64 / w.context as f64);
    Ok(serde_json::json!({
        "model": model,
        "sections": J::Object(out),
        "tokens": total,
        "limit": window.map(|w| w.context),
        "max_output_tokens": window.and_then(|w| w.max_output),
        "fill": fill,
        "remaining": window.map(|w| w.context.saturating_sub(total)),
        "threshold": settings.alert_threshold,
        "over_threshold": fill.map(|f| f >= settings.alert_threshold),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SpanKind;
    use serde_json::json;

    #[test]
    fn embedded_table_loads() {
        let mut t = LimitTable::default();
        let n = t
            .merge_json(EMBEDDED)
            .expect("the embedded context-window table is valid");
        assert!(n > 20, "{n} entries");
        let w = t.lookup(Some("openai"), "gpt-4o-2024-08-06").unwrap();
        assert_eq!(w.context, 128_000);
        assert_eq!(w.max_output, Some(16_384));
        assert!(t.lookup(Some("openai"), "gpt-4o-mini").unwrap().context == 128_000);
        assert!(t
            .lookup(Some("anthropic"), "claude-sonnet-4-5-20250929")
            .is_some());
        assert!(
            t.lookup(Some("azure.ai.openai"), "gpt-4o").is_some(),
            "Azure OpenAI deployments have OpenAI's windows"
        );
        assert!(
            t.lookup(Some("langchain"), "gpt-4o").is_some(),
            "a framework's provider name still finds the model"
        );
        assert!(t.lookup(Some("openai"), "my-local-llama").is_none());
        assert!(t
            .merge_json(r#"{"models":[{"provider":"x","model":"y","context_window":0}]}"#)
            .is_err());
    }

    #[test]
    fn sections_by_role_and_position() {
        let input = Input {
            messages: vec![
                json!({"role": "system", "parts": [{"type": "text", "content": "You are terse."}]}),
                json!({"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris?"}]}),
                json!({"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Paris"}}]}),
                json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "sunny, 21 degrees"}]}),
                json!({"role": "user", "parts": [{"type": "text", "content": "And tomorrow?"}]}),
            ],
            system: Vec::new(),
            tools: Some(r#"[{"type":"function","function":{"name":"weather","parameters":{"type":"object"}}}]"#.into()),
        };
        let b = count_input(&input, Some("gpt-4o"));
        let o200k = |s: &str| crate::tokens::count(s, Some("gpt-4o")).tokens as u64;
        assert_eq!(b.tokens[0], o200k("You are terse.") + MESSAGE_OVERHEAD);
        assert_eq!(b.tokens[1], o200k(input.tools.as_deref().unwrap()));
        assert_eq!(
            b.tokens[2],
            o200k("What is the weather in Paris?\nweather\n{\"city\":\"Paris\"}")
                + 2 * MESSAGE_OVERHEAD
        );
        assert_eq!(b.tokens[3], o200k("sunny, 21 degrees") + MESSAGE_OVERHEAD);
        assert_eq!(b.tokens[4], o200k("And tomorrow?") + MESSAGE_OVERHEAD);
        assert_eq!(b.total(), b.tokens.iter().sum::<u64>());
    }

    #[test]
    fn scaling_keeps_the_exact_total() {
        let b = Breakdown {
            tokens: [10, 0, 33, 7, 1],
        };
        for total in [0, 1, 17, 51, 1000, 123_457] {
            let s = b.scaled_to(total);
            assert_eq!(s.total(), total, "{s:?}");
            assert_eq!(s.tokens[1], 0, "an empty section stays empty");
        }
        let s = b.scaled_to(102);
        assert_eq!(s.tokens, [20, 0, 66, 14, 2]);
    }

    #[test]
    fn turns_grow_and_the_alert_fires_once_per_crossing() {
        let mut s = Sessions::default();
        let t = s.turn("a", 100, Some(0.1), 0.8, 10);
        assert_eq!(
            (t.turn, t.growth, t.rate, t.crossed),
            (1, None, None, false)
        );
        let t = s.turn("a", 300, Some(0.79), 0.8, 10);
        assert_eq!((t.turn, t.growth, t.rate), (2, Some(200), Some(200.0)));
        assert!(!t.crossed);
        assert!(s.turn("a", 400, Some(0.8), 0.8, 10).crossed);
        assert!(
            !s.turn("a", 500, Some(0.9), 0.8, 10).crossed,
            "not again above"
        );
        assert!(!s.turn("a", 100, Some(0.1), 0.8, 10).crossed, "summarised");
        assert!(
            s.turn("a", 500, Some(0.85), 0.8, 10).crossed,
            "crossed again"
        );
        // Bounded: the least recently used conversation goes.
        for i in 0..50 {
            s.turn(&format!("k{i}"), 1, None, 0.8, 10);
        }
        assert_eq!(s.len(), 10);
        assert!(s.order.len() <= 64);
        assert_eq!(s.turn("a", 1, None, 0.8, 10).turn, 1, "forgotten");
    }

    fn call(model: &str) -> SpanRecord {
        let mut r = SpanRecord::start("chat", SpanKind::Client, None);
        r.set_attribute(Key::new(sc::GEN_AI_OPERATION_NAME), Value::from("chat"));
        r.set_attribute(Key::new(sc::GEN_AI_PROVIDER_NAME), Value::from("openai"));
        r.set_attribute(Key::new(sc::GEN_AI_REQUEST_MODEL), Value::from(model));
        r.set_attribute(Key::new(sc::GEN_AI_CONVERSATION_ID), Value::from("conv-1"));
        r
    }

    fn messages(n: usize) -> String {
        let mut m =
            vec![json!({"role": "system", "parts": [{"type": "text", "content": "Be brief."}]})];
        for i in 0..n {
            m.push(json!({"role": "user", "parts": [{"type": "text", "content": format!("question {i} about the plan")}]}));
            m.push(json!({"role": "assistant", "parts": [{"type": "text", "content": format!("answer {i} with detail")}]}));
        }
        m.push(json!({"role": "user", "parts": [{"type": "text", "content": "next?"}]}));
        J::Array(m).to_string()
    }

    #[test]
    fn a_span_gets_sections_fill_growth_and_one_alert() {
        let mut table = LimitTable::default();
        table
            .merge_json(r#"{"models":[{"provider":"openai","model":"gpt-4o","context_window":1000,"max_output_tokens":100}]}"#)
            .unwrap();
        let mut stage = ContextStage::new(ContextSettings {
            limits: table,
            ..ContextSettings::default()
        });
        let limits = Limits::current();
        let mut alerts = 0;
        let mut previous = 0;
        for turn in 1..=40u64 {
            let mut r = call("gpt-4o");
            r.set_attribute(
                Key::new(sc::GEN_AI_INPUT_MESSAGES),
                Value::from(messages(turn as usize).as_str()),
            );
            // The provider reports a count of its own: the sections are scaled to it.
            let reported = 20 * turn + 5;
            r.set_attribute(
                Key::new(sc::GEN_AI_USAGE_INPUT_TOKENS),
                Value::I64(reported as i64),
            );
            stage.process(&mut r, Input::default(), &limits);
            let sum: i64 = SECTIONS
                .iter()
                .map(
                    |s| match r.attribute(&format!("{}{s}", sc::FIVELENS_CONTEXT_TOKENS_PREFIX)) {
                        Some(ValueRef::I64(n)) => n,
                        _ => panic!("section {s} missing"),
                    },
                )
                .sum();
            assert_eq!(sum as u64, reported);
            assert_eq!(
                r.attribute(sc::FIVELENS_CONTEXT_INPUT_TOKENS),
                Some(ValueRef::I64(reported as i64))
            );
            assert_eq!(
                r.attribute(sc::FIVELENS_CONTEXT_FILL),
                Some(ValueRef::F64(reported as f64 / 1000.0))
            );
            assert_eq!(
                r.attribute(sc::FIVELENS_CONTEXT_TURN),
                Some(ValueRef::I64(turn as i64))
            );
            if turn > 1 {
                assert_eq!(
                    r.attribute(sc::FIVELENS_CONTEXT_GROWTH),
                    Some(ValueRef::I64(reported as i64 - previous))
                );
                assert_eq!(
                    r.attribute(sc::FIVELENS_CONTEXT_GROWTH_RATE),
                    Some(ValueRef::F64(20.0))
                );
            }
            previous = reported as i64;
            let alerted = r
                .events
                .iter()
                .any(|e| &*e.name == sc::FIVELENS_EVENT_CONTEXT_THRESHOLD);
            // 20 t + 5 >= 800 first at t = 40.
            assert_eq!(alerted, turn == 40, "turn {turn}");
            alerts += usize::from(alerted);
        }
        assert_eq!(alerts, 1);
    }

    #[test]
    fn unknown_models_get_no_fill_but_their_sections() {
        let mut stage = ContextStage::new(ContextSettings::default());
        let mut r = call("my-local-llama");
        r.set_attribute(
            Key::new(sc::GEN_AI_INPUT_MESSAGES),
            Value::from(messages(2).as_str()),
        );
        stage.process(&mut r, Input::default(), &Limits::current());
        assert!(r.attribute(sc::FIVELENS_CONTEXT_FILL).is_none());
        assert!(r.attribute(sc::FIVELENS_CONTEXT_WINDOW).is_none());
        let Some(ValueRef::I64(total)) = r.attribute(sc::FIVELENS_CONTEXT_INPUT_TOKENS) else {
            panic!("no total")
        };
        assert_eq!(
            r.attribute(sc::FIVELENS_CONTEXT_COUNTED_TOKENS),
            Some(ValueRef::I64(total)),
            "not reported: the counted total is the total"
        );
    }

    #[test]
    fn tiers_and_the_sync_check() {
        let mut stage = ContextStage::new(ContextSettings::default());
        let mut r = call("gpt-4o");
        r.set_attribute(
            Key::new(sc::PRIVATE_CONTEXT_TIERS),
            Value::from(
                r#"{"Open files": "fn main() {}", "similar": ["a b", "c"], "signatures": 120}"#,
            ),
        );
        r.set_attribute(Key::new(sc::GEN_AI_USAGE_INPUT_TOKENS), Value::I64(500));
        stage.process(&mut r, Input::default(), &Limits::current());
        let tier = |name: &str| {
            r.attribute(&format!(
                "{}{name}",
                sc::FIVELENS_CONTEXT_TIER_TOKENS_PREFIX
            ))
        };
        assert_eq!(
            tier("open_files"),
            Some(ValueRef::I64(
                crate::tokens::count("fn main() {}", Some("gpt-4o")).tokens as i64
            ))
        );
        assert_eq!(tier("signatures"), Some(ValueRef::I64(120)));
        assert_eq!(tier("similar"), Some(ValueRef::I64(3)));

        let out = check(
            "gpt-4o",
            None,
            &json!({"system": "Be brief.", "history": [{"role": "user", "content": "hi"}], "retrieved": 1000}),
        )
        .unwrap();
        let sys = crate::tokens::count("Be brief.", Some("gpt-4o")).tokens as u64;
        assert_eq!(out["sections"]["system"], sys);
        assert_eq!(out["sections"]["history"], 1 + MESSAGE_OVERHEAD);
        assert_eq!(out["tokens"], sys + 1 + MESSAGE_OVERHEAD + 1000);
        assert_eq!(out["limit"], 128_000);
        assert_eq!(out["over_threshold"], false);
        let unknown = check("my-local-llama", None, &json!({"user_input": "hi"})).unwrap();
        assert!(unknown["fill"].is_null() && unknown["limit"].is_null());
        assert!(check("gpt-4o", None, &json!(["x"])).is_err());
    }
}
