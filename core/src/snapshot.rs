//! Context snapshots of model calls, for replay and datasets.
//!
//! ```text
//!  model-call stage (llm.rs) ──> the provider request/response bodies stay on the span, private,
//!      only when snapshots and content capture are on
//!  metrics ──> tail sampler ──> kept spans ──> SnapshotStage (here, in the sink, before the store)
//!      which calls?  failed call, a trace with an error / keep flag / canary mark, the canary
//!                    cohort by its key, else a share of traces by their id (`snapshot_rate`)
//!      ──> request and response bodies, every string redacted with the trace's placeholders
//!      ──> bounded (`snapshot_max_bytes`, strings cut first) ──> zlib ──> base64
//!      ──> `fivelens.snapshot` on the span; the private bodies are removed from every span
//! ```
//!
//! The decision runs after the tail decision, so only kept traces pay for redaction and
//! compression. When the sampler holds traces (any policy list that does not keep everything),
//! a kept trace's spans arrive together and every trigger in the trace is seen. When every trace
//! is kept (`baseline:1`, nothing held), spans arrive as they end: a failed call and the canary
//! cohort are known at once, and an error, keep flag or canary mark of the trace counts for the
//! calls that end after it (or in the same batch); a keep flag set after a call in such a trace
//! does not reach back to that call.
//!
//! A snapshot is JSON (see [`Snapshot`]); the attribute holds it zlib-compressed and
//! base64-encoded, [`decode`] reads it back.

use std::collections::VecDeque;
use std::io::{Read as _, Write as _};

use rustc_hash::FxHashMap;
use serde_json::{json, Value as J};
use sha2::{Digest, Sha256};

use crate::ids::TraceId;
use crate::key::Key;
use crate::record::{Limits, SpanRecord, Status};
use crate::semconv as sc;
use crate::stats::Stats;
use crate::value::ValueRef;

/// The snapshot format's version, in every snapshot (`version`).
pub const SNAPSHOT_VERSION: u64 = 1;

/// Strings under these keys are protocol words, not content: never redacted (a model name must
/// stay usable for a replay).
const PROTOCOL_KEYS: &[&str] = &[
    "model",
    "role",
    "type",
    "object",
    "finish_reason",
    "stop_reason",
];

/// Traces whose trigger is remembered for spans that arrive later (nothing held by the sampler).
const REMEMBERED_TRACES: usize = 4096;

/// Settings of the stage.
#[derive(Clone, Debug)]
pub struct SnapshotSettings {
    /// Snapshots on (they also need content capture).
    pub enabled: bool,
    /// Share of the other kept traces whose calls are snapshotted (0 to 1).
    pub rate: f64,
    /// Largest snapshot, bytes of JSON before compression.
    pub max_bytes: usize,
    /// Content is redacted (a snapshot is not taken when the redactor is missing).
    pub redact: bool,
}

/// The stage, on the processing thread.
pub struct SnapshotStage {
    settings: SnapshotSettings,
    sampling: crate::sampling::Settings,
    triggers: FxHashMap<TraceId, &'static str>,
    order: VecDeque<TraceId>,
}

fn str_attr<'a>(r: &'a SpanRecord, key: &str) -> Option<&'a str> {
    match r.attribute(key) {
        Some(ValueRef::Str(s)) => Some(s),
        _ => None,
    }
}

fn int_attr(r: &SpanRecord, key: &str) -> Option<i64> {
    match r.attribute(key) {
        Some(ValueRef::I64(i)) => Some(i),
        Some(ValueRef::F64(f)) => Some(f as i64),
        _ => None,
    }
}

/// What in a span makes its whole trace worth a snapshot.
fn trigger(r: &SpanRecord) -> Option<&'static str> {
    if matches!(r.status, Status::Error(_)) {
        return Some("error");
    }
    if r.attribute(sc::FIVELENS_SAMPLING_KEEP).is_some() {
        return Some("keep");
    }
    if r.attribute(sc::FIVELENS_CANARY) == Some(ValueRef::Bool(true)) {
        return Some("canary");
    }
    None
}

/// A trace's position in [0, 1) for the share, independent of the sampler's baseline bits.
fn share_position(trace: TraceId) -> f64 {
    let digest = Sha256::digest(trace.0.to_be_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

impl SnapshotStage {
    /// The stage as configured: on when `snapshots` and content capture are both on.
    pub fn from_config(c: &crate::config::Config) -> SnapshotStage {
        SnapshotStage::new(
            SnapshotSettings {
                enabled: c.snapshots && c.capture_content,
                rate: c.snapshot_rate,
                max_bytes: c.snapshot_max_bytes,
                redact: c.redact,
            },
            c.sampling_settings(),
        )
    }

    /// A stage with `settings`; `sampling` gives the canary cohort.
    pub fn new(settings: SnapshotSettings, sampling: crate::sampling::Settings) -> SnapshotStage {
        SnapshotStage {
            settings,
            sampling,
            triggers: FxHashMap::default(),
            order: VecDeque::new(),
        }
    }

    /// Whether the stage takes snapshots at all.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    fn remember(&mut self, trace: TraceId, why: &'static str) {
        if self.triggers.contains_key(&trace) {
            return;
        }
        if self.order.len() >= REMEMBERED_TRACES {
            if let Some(old) = self.order.pop_front() {
                self.triggers.remove(&old);
            }
        }
        self.order.push_back(trace);
        self.triggers.insert(trace, why);
    }

    /// Why a kept model call gets a snapshot, if it does.
    fn reason(
        &self,
        r: &SpanRecord,
        keys: &FxHashMap<TraceId, (Option<String>, Option<String>)>,
    ) -> Option<&'static str> {
        if matches!(r.status, Status::Error(_)) {
            return Some("error");
        }
        if let Some(why) = self.triggers.get(&r.trace_id) {
            return Some(why);
        }
        let (user, session) = keys.get(&r.trace_id).cloned().unwrap_or_default();
        if self
            .sampling
            .in_canary(user.as_deref(), session.as_deref(), r.trace_id)
        {
            return Some("canary");
        }
        (self.settings.rate > 0.0 && share_position(r.trace_id) < self.settings.rate)
            .then_some("share")
    }

    /// Takes the snapshots of a batch of kept spans and removes the private bodies from all of
    /// them. `redact` is the spans' redaction stage (`None` when redaction is off, or its
    /// redactor cannot be built: then, with redaction on, no snapshot is taken).
    pub fn process(
        &mut self,
        batch: &mut [SpanRecord],
        mut redact: Option<&mut crate::redact::Stage>,
        stats: &Stats,
    ) {
        if self.settings.enabled {
            let mut keys: FxHashMap<TraceId, (Option<String>, Option<String>)> =
                FxHashMap::default();
            for r in batch.iter() {
                if let Some(why) = trigger(r) {
                    self.remember(r.trace_id, why);
                }
                let e = keys.entry(r.trace_id).or_default();
                if e.0.is_none() {
                    e.0 = str_attr(r, sc::USER_HASH).map(str::to_string);
                }
                if e.1.is_none() {
                    e.1 = str_attr(r, sc::SESSION_ID).map(str::to_string);
                }
            }
            let can = !self.settings.redact || redact.is_some();
            for r in batch.iter_mut() {
                if !can || r.attribute(sc::PRIVATE_REQUEST).is_none() {
                    continue;
                }
                let Some(why) = self.reason(r, &keys) else {
                    continue;
                };
                self.take(r, why, redact.as_deref_mut(), stats);
            }
        }
        for r in batch.iter_mut() {
            r.payload
                .remove_where(|k| k.starts_with(sc::PRIVATE_PREFIX));
        }
    }

    fn take(
        &self,
        r: &mut SpanRecord,
        why: &'static str,
        redact: Option<&mut crate::redact::Stage>,
        stats: &Stats,
    ) {
        let Some(mut doc) = build(r, why) else {
            return;
        };
        if let Some(stage) = redact {
            let mut counts = crate::redact::Counts::new();
            redact_strings(&mut doc, r.trace_id, stage, &mut counts, stats, false);
        }
        let mut text = doc.to_string();
        let mut truncated = false;
        if text.len() > self.settings.max_bytes {
            truncated = true;
            match crate::llm::truncate_content(&text, self.settings.max_bytes) {
                Some(short) if short.len() <= self.settings.max_bytes => text = short,
                _ => {
                    // The structure alone is over the bound: keep the request only.
                    if let J::Object(map) = &mut doc {
                        map.insert("response".into(), J::Null);
                        map.insert("output".into(), J::Null);
                    }
                    match crate::llm::truncate_content(&doc.to_string(), self.settings.max_bytes) {
                        Some(short) if short.len() <= self.settings.max_bytes => text = short,
                        _ => return,
                    }
                }
            }
        }
        let Some(encoded) = encode(&text) else {
            return;
        };
        let limits = Limits {
            max_attributes: usize::MAX,
            max_attribute_bytes: encoded.len().max(Limits::current().max_attribute_bytes),
            ..Limits::current()
        };
        r.set_str(Key::new(sc::FIVELENS_SNAPSHOT), &encoded, &limits);
        r.set_str(Key::new(sc::FIVELENS_SNAPSHOT_REASON), why, &limits);
        r.set_attribute_ref(
            Key::new(sc::FIVELENS_SNAPSHOT_BYTES),
            ValueRef::I64(text.len() as i64),
            &limits,
        );
        if truncated {
            r.set_attribute_ref(
                Key::new(sc::FIVELENS_SNAPSHOT_TRUNCATED),
                ValueRef::Bool(true),
                &limits,
            );
        }
    }
}

/// The snapshot document of a processed model call (before redaction).
fn build(r: &SpanRecord, why: &str) -> Option<J> {
    let format = str_attr(r, sc::PRIVATE_FORMAT)?;
    let request = str_attr(r, sc::PRIVATE_REQUEST)?;
    let request: J = serde_json::from_str(request).ok()?;
    let response: J = str_attr(r, sc::PRIVATE_RESPONSE)
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(J::Null);
    let output: J = str_attr(r, sc::GEN_AI_OUTPUT_MESSAGES)
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(J::Null);
    let finish: Vec<String> = match r.attribute(sc::GEN_AI_RESPONSE_FINISH_REASONS) {
        Some(ValueRef::Array(crate::value::Value::StrArray(a))) => {
            a.iter().map(|s| s.to_string()).collect()
        }
        _ => Vec::new(),
    };
    let (status, error) = match &r.status {
        Status::Error(m) => ("error", Some(m.to_string())),
        _ => ("ok", None),
    };
    Some(json!({
        "version": SNAPSHOT_VERSION,
        "reason": why,
        "format": format,
        "provider": str_attr(r, sc::GEN_AI_PROVIDER_NAME),
        "model": str_attr(r, sc::GEN_AI_REQUEST_MODEL),
        "response_model": str_attr(r, sc::GEN_AI_RESPONSE_MODEL),
        "prompt_hash": str_attr(r, sc::FIVELENS_PROMPT_HASH),
        "stage": str_attr(r, sc::FIVELENS_STAGE),
        "server": {
            "address": str_attr(r, sc::SERVER_ADDRESS),
            "port": int_attr(r, sc::SERVER_PORT),
        },
        "request": request,
        "response": response,
        "output": output,
        "finish_reasons": finish,
        "usage": {
            "input_tokens": int_attr(r, sc::GEN_AI_USAGE_INPUT_TOKENS),
            "output_tokens": int_attr(r, sc::GEN_AI_USAGE_OUTPUT_TOKENS),
        },
        "cost_usd": r.cost_pico.map(|p| p as f64 / 1e12),
        "duration_ms": r.end_ns.saturating_sub(r.start_ns) as f64 / 1e6,
        "status": status,
        "error": error,
        "error_type": str_attr(r, sc::ERROR_TYPE),
    }))
}

fn redact_strings(
    v: &mut J,
    trace: TraceId,
    stage: &mut crate::redact::Stage,
    counts: &mut crate::redact::Counts,
    stats: &Stats,
    protocol: bool,
) {
    match v {
        J::String(s) if !protocol => {
            if let Some(out) = stage.redact_text(trace, s, counts, stats) {
                *s = out;
            }
        }
        J::Array(items) => {
            for item in items {
                redact_strings(item, trace, stage, counts, stats, false);
            }
        }
        J::Object(map) => {
            for (k, item) in map.iter_mut() {
                let protocol = PROTOCOL_KEYS.contains(&k.as_str());
                redact_strings(item, trace, stage, counts, stats, protocol);
            }
        }
        _ => {}
    }
}

// ---- encoding -------------------------------------------------------------------------------

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b'\n' | b'\r' | b' ' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The attribute value of a snapshot's JSON text: zlib, then base64.
pub fn encode(text: &str) -> Option<String> {
    let mut enc = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(text.len() / 4),
        flate2::Compression::default(),
    );
    enc.write_all(text.as_bytes()).ok()?;
    Some(base64(&enc.finish().ok()?))
}

/// Reads a `fivelens.snapshot` attribute value back into its JSON document.
pub fn decode(value: &str) -> Result<J, String> {
    let bytes = unbase64(value).ok_or("the snapshot is not base64")?;
    let mut text = String::new();
    flate2::read::ZlibDecoder::new(&bytes[..])
        .take(256 * 1024 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| format!("the snapshot does not decompress: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("the snapshot is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SpanKind;
    use crate::value::Value;

    fn settings(rate: f64, max_bytes: usize) -> SnapshotSettings {
        SnapshotSettings {
            enabled: true,
            rate,
            max_bytes,
            redact: true,
        }
    }

    fn sampling() -> crate::sampling::Settings {
        crate::config::Config {
            canary_users: vec!["vip".into()],
            ..Default::default()
        }
        .sampling_settings()
    }

    fn call(body: &str, error: bool) -> SpanRecord {
        let mut r = SpanRecord::start("chat gpt-4o", SpanKind::Client, None);
        r.set_attribute(Key::new(sc::GEN_AI_OPERATION_NAME), Value::from("chat"));
        r.set_attribute(Key::new(sc::GEN_AI_REQUEST_MODEL), Value::from("gpt-4o"));
        r.set_attribute(Key::new(sc::PRIVATE_FORMAT), Value::from("openai.chat"));
        r.set_attribute(Key::new(sc::PRIVATE_REQUEST), Value::from(body));
        if error {
            r.status = Status::Error("boom".into());
        }
        r.end_at(None);
        r
    }

    fn redactor() -> crate::redact::Stage {
        crate::redact::Stage::new(std::sync::Arc::new(
            crate::redact::Redactor::new(&crate::redact::Settings::default()).unwrap(),
        ))
    }

    #[test]
    fn base64_round_trips() {
        for n in 0..20 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(unbase64(&base64(&bytes)).unwrap(), bytes);
        }
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fo"), "Zm8=");
    }

    #[test]
    fn failed_calls_are_snapshotted_redacted_and_privates_removed() {
        let stats = Stats::default();
        let mut stage = SnapshotStage::new(settings(0.0, 100_000), sampling());
        let body = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"mail me at ann@example.com"}]}"#;
        let mut batch = vec![call(body, true), call(body, false)];
        let mut red = redactor();
        stage.process(&mut batch, Some(&mut red), &stats);
        let Some(ValueRef::Str(v)) = batch[0].attribute(sc::FIVELENS_SNAPSHOT) else {
            panic!("no snapshot on the failed call")
        };
        let doc = decode(v).unwrap();
        assert_eq!(doc["reason"], "error");
        assert_eq!(doc["request"]["model"], "gpt-4o");
        let content = doc["request"]["messages"][0]["content"].as_str().unwrap();
        assert!(!content.contains("ann@example.com"), "{content}");
        assert!(batch[1].attribute(sc::FIVELENS_SNAPSHOT).is_none());
        assert!(batch
            .iter()
            .all(|r| r.attribute(sc::PRIVATE_REQUEST).is_none()));
    }

    #[test]
    fn keep_flags_canary_share_and_the_bound() {
        let stats = Stats::default();
        let mut stage = SnapshotStage::new(settings(0.0, 2_000), sampling());
        let long = "word ".repeat(2_000);
        let body =
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": long}]}).to_string();
        let mut flagged = call(&body, false);
        flagged.set_attribute(
            Key::new(sc::FIVELENS_SAMPLING_KEEP),
            Value::from("guardrail"),
        );
        let mut batch = vec![flagged];
        stage.process(&mut batch, Some(&mut redactor()), &stats);
        let Some(ValueRef::Str(v)) = batch[0].attribute(sc::FIVELENS_SNAPSHOT) else {
            panic!("no snapshot on a flagged trace")
        };
        assert!(v.len() < 2_000);
        assert!(decode(v).unwrap().to_string().len() <= 2_000);
        assert_eq!(
            batch[0].attribute(sc::FIVELENS_SNAPSHOT_TRUNCATED),
            Some(ValueRef::Bool(true))
        );
        // Everything by share at rate 1; nothing when disabled.
        let mut all = SnapshotStage::new(settings(1.0, 100_000), sampling());
        let mut batch = vec![call(&body, false)];
        all.process(&mut batch, Some(&mut redactor()), &stats);
        assert_eq!(
            batch[0].attribute(sc::FIVELENS_SNAPSHOT_REASON),
            Some(ValueRef::Str("share"))
        );
    }
}
