//! Sampling: which traces leave the process (to the store and the exporters).
//!
//! ```text
//!  ended spans ──> metrics (every span, before any decision) ──> Sampler::admit
//!     trace decided already? ──> follow the decision (late spans)
//!     otherwise held per trace ──> its local root ends (or timeout, or the buffer is full)
//!         ──> policies in order: canary, errors, keep flag, latency, cost, tokens, users, baseline
//!         ──> kept: every span out, the decision on the root; dropped: counted
//! ```
//!
//! Policies are one list (`sampling` option, `FIVELENS_SAMPLING`), e.g.
//! `errors,keep,latency:p99,canary,baseline:0.01`. A trace is kept when any policy keeps it.
//! Keys are deterministic, so every process agrees without talking to the others: the `users`
//! rule and the canary percentage hash the user id's keyed hash (`user.hash`, the same key on
//! every service), or the session id, or the trace id (`sample_key`); `baseline` hashes the trace
//! id. Error, latency, cost and token rules see only this process's spans of a trace: whole
//! multi-process traces get their final tail decision in the collector tier.
//!
//! In `head` mode the decision is taken when a local root starts, from the rules that can be
//! known then (canary, users, baseline; a remote parent's sampled flag is followed); spans of a
//! dropped trace are then not built by the bindings, except model and tool calls, which are built
//! for the metrics and discarded after them.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::{FxHashMap, FxHashSet};
use sha2::{Digest, Sha256};

use crate::ids::TraceId;
use crate::key::Key;
use crate::record::{flags, Limits, SpanRecord, Status};
use crate::scope::TraceScope;
use crate::semconv as sc;
use crate::stats::Stats;
use crate::value::{Value, ValueRef};

/// Where the decision is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// When the trace's local root ends, with every rule (the default).
    Tail,
    /// When the local root starts, with the rules known then; dropped spans are not built.
    Head,
}

/// What the `users` rule and the canary percentage hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleKey {
    /// The user id's keyed hash (`user.hash`); the trace id when the trace has no user.
    User,
    /// The session id; the trace id when the trace has no session.
    Session,
    /// The trace id.
    Trace,
}

impl SampleKey {
    /// Parses `user`, `session` or `trace`.
    pub fn parse(s: &str) -> Option<SampleKey> {
        match s.trim().to_ascii_lowercase().as_str() {
            "user" | "user_id" | "user.hash" => Some(SampleKey::User),
            "session" | "session_id" | "session.id" => Some(SampleKey::Session),
            "trace" | "trace_id" => Some(SampleKey::Trace),
            _ => None,
        }
    }
}

/// The parsed policy list.
#[derive(Clone, Debug, PartialEq)]
pub struct Policies {
    /// Keep traces with an error span.
    pub errors: bool,
    /// Keep traces with a keep flag (`keep_trace`, guardrail blocks).
    pub keep: bool,
    /// Keep traces whose root is slower than this percentile of its operation (0-100).
    pub latency_percentile: Option<f64>,
    /// Keep traces whose root is slower than this.
    pub latency_over: Option<Duration>,
    /// Keep traces whose model calls cost more than this (pico-dollars).
    pub cost_over_pico: Option<u128>,
    /// Keep traces whose model calls used more tokens than this.
    pub tokens_over: Option<u64>,
    /// Keep the canary cohort.
    pub canary: bool,
    /// Keep this share of users (by [`SampleKey`]), at full fidelity.
    pub users: Option<f64>,
    /// Keep this share of the remaining traces (by trace id).
    pub baseline: f64,
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            errors: true,
            keep: true,
            latency_percentile: None,
            latency_over: None,
            cost_over_pico: None,
            tokens_over: None,
            canary: true,
            users: None,
            baseline: 1.0,
        }
    }
}

/// The default policy list.
pub const DEFAULT_POLICIES: &[&str] = &["errors", "keep", "canary", "baseline:1"];

/// The default list with `rate` as the baseline (what `OTEL_TRACES_SAMPLER=..traceidratio`
/// means here: errors and flagged traces are still kept).
pub fn policies_for_ratio(rate: f64) -> Vec<String> {
    ["errors", "keep", "latency:p99", "canary"]
        .iter()
        .map(|s| s.to_string())
        .chain(std::iter::once(format!("baseline:{rate}")))
        .collect()
}

fn rate(name: &str, v: &str) -> Result<f64, String> {
    let r: f64 = v
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("{name}: {v:?} is not a number"))?;
    let r = if v.trim().ends_with('%') {
        r / 100.0
    } else {
        r
    };
    if !(0.0..=1.0).contains(&r) {
        return Err(format!("{name}: the rate must be between 0 and 1, got {v}"));
    }
    Ok(r)
}

fn duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let (num, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60.0)
    } else {
        (v, 1e-3)
    };
    let x: f64 = num.trim().parse().ok()?;
    (x >= 0.0 && x.is_finite()).then(|| Duration::from_secs_f64(x * scale))
}

impl Policies {
    /// Parses a policy list: `errors`, `keep`, `canary`, `latency:p99` (a percentile of the
    /// root's operation) or `latency:5s` / `latency:800ms`, `cost:0.05` (USD), `tokens:100000`,
    /// `users:0.1`, `baseline:0.01` (rates between 0 and 1, or percentages `1%`).
    pub fn parse(list: &[String]) -> Result<Policies, String> {
        let mut p = Policies {
            errors: false,
            keep: false,
            canary: false,
            baseline: 0.0,
            ..Policies::default()
        };
        for item in list {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, arg) = match item.split_once(':').or_else(|| item.split_once('=')) {
                Some((n, a)) => (n.trim().to_ascii_lowercase(), Some(a.trim())),
                None => (item.to_ascii_lowercase(), None),
            };
            match (name.as_str(), arg) {
                ("errors" | "error", None) => p.errors = true,
                ("keep" | "keep_flag" | "guardrails", None) => p.keep = true,
                ("canary", None) => p.canary = true,
                ("latency", Some(a)) if a.starts_with(['p', 'P']) => {
                    let q: f64 = a[1..]
                        .parse()
                        .map_err(|_| format!("latency: {a:?} is not a percentile like p99"))?;
                    if !(50.0..100.0).contains(&q) {
                        return Err(format!("latency: the percentile must be in [50, 100), got {a}"));
                    }
                    p.latency_percentile = Some(q);
                }
                ("latency", Some(a)) => {
                    p.latency_over = Some(duration(a).ok_or_else(|| {
                        format!("latency: {a:?} is neither a percentile (p99) nor a duration (5s, 800ms)")
                    })?)
                }
                ("cost", Some(a)) => {
                    let usd: f64 = a
                        .trim_start_matches('$')
                        .parse()
                        .map_err(|_| format!("cost: {a:?} is not an amount in USD"))?;
                    if !(usd >= 0.0 && usd.is_finite()) {
                        return Err(format!("cost: {a:?} is not an amount in USD"));
                    }
                    p.cost_over_pico = Some((usd * 1e12) as u128);
                }
                ("tokens", Some(a)) => {
                    p.tokens_over = Some(
                        a.replace('_', "")
                            .parse()
                            .map_err(|_| format!("tokens: {a:?} is not a count"))?,
                    )
                }
                ("users", Some(a)) => p.users = Some(rate("users", a)?),
                ("baseline", Some(a)) => p.baseline = rate("baseline", a)?,
                _ => {
                    return Err(format!(
                        "unknown policy {item:?} (known: errors, keep, canary, latency:p99, latency:5s, cost:0.05, tokens:100000, users:0.1, baseline:0.01)"
                    ))
                }
            }
        }
        Ok(p)
    }

    /// Whether every trace is kept whatever happens in it (then nothing is held back).
    pub fn keeps_everything(&self) -> bool {
        self.baseline >= 1.0 || self.users.is_some_and(|u| u >= 1.0)
    }
}

/// Everything the sampler needs, from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The policies.
    pub policies: Policies,
    /// Head or tail.
    pub mode: Mode,
    /// What `users` and the canary percentage hash.
    pub key: SampleKey,
    /// Keyed hashes of the canary users' ids.
    pub canary_user_hashes: FxHashSet<String>,
    /// Share of users (by key) in the canary cohort.
    pub canary_share: f64,
    /// A trace whose local root has not ended after this is decided anyway.
    pub timeout: Duration,
    /// Bounds of the buffer of undecided traces.
    pub max_traces: usize,
    /// Spans held at most.
    pub max_spans: usize,
    /// Bytes held at most (estimated).
    pub max_bytes: usize,
}

/// A value in [0, 1) from 8 bytes.
fn unit(bytes: &[u8]) -> f64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    (u64::from_be_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

fn sha(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The key's position in [0, 1): from the user hash's hex digits, the session id's SHA-256, or
/// the trace id. `salt` picks other bits for the canary share than for the users rule.
fn position(
    key: SampleKey,
    user_hash: Option<&str>,
    session: Option<&str>,
    trace: TraceId,
    salt: bool,
) -> f64 {
    let bytes: Option<[u8; 32]> = match key {
        SampleKey::User => user_hash.map(|h| {
            let mut out = [0u8; 32];
            let raw = h.as_bytes();
            // The user hash is hex: decode what there is, else hash it.
            if raw.len() >= 32 && raw.iter().all(u8::is_ascii_hexdigit) {
                for (i, pair) in raw.chunks(2).take(16).enumerate() {
                    let s = std::str::from_utf8(pair).unwrap_or("00");
                    out[i] = u8::from_str_radix(s, 16).unwrap_or(0);
                }
                out
            } else {
                sha(h)
            }
        }),
        SampleKey::Session => session.map(sha),
        SampleKey::Trace => None,
    };
    match bytes {
        Some(b) => unit(if salt { &b[8..16] } else { &b[0..8] }),
        None => trace_position(trace, salt),
    }
}

fn trace_position(trace: TraceId, salt: bool) -> f64 {
    let v = trace.0;
    let bits = if salt { (v >> 64) as u64 } else { v as u64 };
    unit(&bits.to_be_bytes())
}

fn str_attr<'a>(r: &'a SpanRecord, key: &str) -> Option<&'a str> {
    match r.attribute(key) {
        Some(ValueRef::Str(s)) => Some(s),
        _ => None,
    }
}

fn scope_str<'a>(scope: Option<&'a TraceScope>, key: &str) -> Option<&'a str> {
    scope?
        .attributes
        .iter()
        .find(|(k, _)| k.as_str() == key)
        .and_then(|(_, v)| match v {
            Value::Str(s) => Some(&**s),
            _ => None,
        })
}

impl Settings {
    pub(crate) fn in_canary(
        &self,
        user_hash: Option<&str>,
        session: Option<&str>,
        trace: TraceId,
    ) -> bool {
        if !self.policies.canary {
            return false;
        }
        if user_hash.is_some_and(|h| self.canary_user_hashes.contains(h)) {
            return true;
        }
        // The canary share is a slice of users: a trace without a user is not in it.
        let has_key = match self.key {
            SampleKey::User => user_hash.is_some(),
            SampleKey::Session => session.is_some(),
            SampleKey::Trace => true,
        };
        has_key
            && self.canary_share > 0.0
            && position(self.key, user_hash, session, trace, true) < self.canary_share
    }

    /// The rules known when a trace starts: canary, users, baseline. `Some(reason)` keeps it.
    fn start_rules(
        &self,
        user_hash: Option<&str>,
        session: Option<&str>,
        trace: TraceId,
    ) -> Option<(&'static str, f64)> {
        if self.in_canary(user_hash, session, trace) {
            return Some(("canary", 1.0));
        }
        if let Some(u) = self.policies.users {
            if position(self.key, user_hash, session, trace, false) < u {
                return Some(("users", u));
            }
        }
        let b = self.policies.baseline;
        (b > 0.0 && trace_position(trace, false) < b).then_some(("baseline", b))
    }

    /// Head mode: whether a trace whose local root starts now (with `scope`) is sampled.
    pub fn head_sampled(&self, trace: TraceId, scope: Option<&TraceScope>) -> bool {
        self.head_sampled_for(
            trace,
            scope_str(scope, sc::USER_HASH),
            scope_str(scope, sc::SESSION_ID),
        )
    }

    /// [`Settings::head_sampled`] from the user hash and session id themselves.
    pub fn head_sampled_for(
        &self,
        trace: TraceId,
        user_hash: Option<&str>,
        session: Option<&str>,
    ) -> bool {
        self.start_rules(user_hash, session, trace).is_some()
    }
}

/// Rolling percentiles of root durations, per operation (the root span's name).
#[derive(Default)]
struct Rolling {
    samples: VecDeque<u64>,
    cached: Option<u64>,
    since: usize,
}

const ROLLING_SAMPLES: usize = 512;
const ROLLING_MIN: usize = 100;
const ROLLING_OPERATIONS: usize = 256;

impl Rolling {
    fn push(&mut self, ns: u64, q: f64) {
        if self.samples.len() == ROLLING_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(ns);
        self.since += 1;
        if self.since >= 32 || self.cached.is_none() {
            self.since = 0;
            self.cached = (self.samples.len() >= ROLLING_MIN).then(|| {
                let mut v: Vec<u64> = self.samples.iter().copied().collect();
                v.sort_unstable();
                let rank = ((q / 100.0) * v.len() as f64).ceil() as usize;
                v[rank.clamp(1, v.len()) - 1]
            });
        }
    }
}

struct Pending {
    spans: Vec<SpanRecord>,
    bytes: usize,
    since: Instant,
}

/// Why a trace was decided before its local root ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Early {
    No,
    Timeout,
    Overflow,
}

/// Decided traces remembered for their late spans.
const DECIDED_CAPACITY: usize = 65_536;
const DECIDED_TTL: Duration = Duration::from_secs(120);

/// The tail sampler of the processing thread.
pub struct Sampler {
    settings: Settings,
    pending: FxHashMap<TraceId, Pending>,
    order: VecDeque<TraceId>,
    spans: usize,
    bytes: usize,
    decided: FxHashMap<TraceId, (bool, Instant)>,
    decided_order: VecDeque<TraceId>,
    latency: FxHashMap<String, Rolling>,
    stats: Arc<Stats>,
}

/// A rough size of a span in memory, for the buffer's byte bound.
pub fn approx_bytes(r: &SpanRecord) -> usize {
    let attrs: usize = r
        .payload
        .iter()
        .map(|(k, v)| {
            k.as_str().len()
                + 16
                + match v {
                    ValueRef::Str(s) => s.len(),
                    ValueRef::Array(a) => a.byte_len(),
                    _ => 8,
                }
        })
        .sum();
    let events: usize = r
        .events
        .iter()
        .map(|e| {
            e.name.len()
                + 32
                + e.attributes
                    .iter()
                    .map(|(k, v)| k.as_str().len() + 16 + v.byte_len())
                    .sum::<usize>()
        })
        .sum();
    std::mem::size_of::<SpanRecord>() + 64 + attrs + events
}

fn is_local_root(r: &SpanRecord) -> bool {
    !r.parent_span_id.is_valid() || r.parent_remote
}

impl Sampler {
    /// A sampler with `settings`, counting into `stats`.
    pub fn new(settings: Settings, stats: Arc<Stats>) -> Sampler {
        Sampler {
            settings,
            pending: FxHashMap::default(),
            order: VecDeque::new(),
            spans: 0,
            bytes: 0,
            decided: FxHashMap::default(),
            decided_order: VecDeque::new(),
            latency: FxHashMap::default(),
            stats,
        }
    }

    /// Whether nothing is held back (every trace kept, tail mode): the pipeline skips the sampler.
    pub fn is_pass_through(&self) -> bool {
        self.settings.mode == Mode::Tail && self.settings.policies.keeps_everything()
    }

    /// Takes ended (processed) spans; pushes the spans of kept traces that are decided to `out`.
    pub fn admit(&mut self, records: Vec<SpanRecord>, out: &mut Vec<SpanRecord>) {
        let now = Instant::now();
        for r in records {
            if self.settings.mode == Mode::Head {
                // Decided when the trace started: an unsampled span is here for the metrics.
                if r.flags & flags::SAMPLED == 0 {
                    self.count_dropped(1);
                } else {
                    out.push(r);
                }
                continue;
            }
            if let Some((kept, _)) = self.decided.get(&r.trace_id) {
                self.stats
                    .sampling_late_spans
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if *kept {
                    out.push(r);
                } else {
                    self.count_dropped(1);
                }
                continue;
            }
            let trace = r.trace_id;
            let root = is_local_root(&r);
            let size = approx_bytes(&r);
            let entry = self.pending.entry(trace).or_insert_with(|| Pending {
                spans: Vec::new(),
                bytes: 0,
                since: now,
            });
            if entry.spans.is_empty() {
                self.order.push_back(trace);
            }
            entry.spans.push(r);
            entry.bytes += size;
            self.spans += 1;
            self.bytes += size;
            if root {
                self.decide(trace, Early::No, out);
            }
        }
        // Bounds: decide the oldest traces early.
        while self.pending.len() > self.settings.max_traces
            || self.spans > self.settings.max_spans
            || self.bytes > self.settings.max_bytes
        {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if self.pending.contains_key(&oldest) {
                self.stats
                    .sampling_overflow
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.decide(oldest, Early::Overflow, out);
            }
        }
    }

    /// Decides the traces held longer than the timeout, and forgets old decisions.
    pub fn expire(&mut self, out: &mut Vec<SpanRecord>) {
        let now = Instant::now();
        while let Some(trace) = self.order.front().copied() {
            match self.pending.get(&trace) {
                Some(p) if now.duration_since(p.since) >= self.settings.timeout => {
                    self.order.pop_front();
                    self.decide(trace, Early::Timeout, out);
                }
                Some(_) => break,
                None => {
                    self.order.pop_front();
                }
            }
        }
        while let Some(trace) = self.decided_order.front().copied() {
            match self.decided.get(&trace) {
                Some((_, at)) if now.duration_since(*at) < DECIDED_TTL => break,
                _ => {
                    self.decided_order.pop_front();
                    self.decided.remove(&trace);
                }
            }
        }
    }

    /// Decides every held trace now (shutdown).
    pub fn drain(&mut self, out: &mut Vec<SpanRecord>) {
        while let Some(trace) = self.order.pop_front() {
            if self.pending.contains_key(&trace) {
                self.decide(trace, Early::Timeout, out);
            }
        }
    }

    fn count_dropped(&self, spans: u64) {
        self.stats
            .sampling_spans_dropped
            .fetch_add(spans, std::sync::atomic::Ordering::Relaxed);
    }

    fn decide(&mut self, trace: TraceId, early: Early, out: &mut Vec<SpanRecord>) {
        let Some(mut p) = self.pending.remove(&trace) else {
            return;
        };
        self.spans -= p.spans.len();
        self.bytes -= p.bytes;
        // The root: the local root that ended (last in), else the earliest-starting span.
        let root_index = p
            .spans
            .iter()
            .rposition(is_local_root)
            .or_else(|| {
                p.spans
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, r)| r.start_ns)
                    .map(|(i, _)| i)
            })
            .unwrap_or(0);
        let verdict = self.verdict(&p.spans, root_index, early);
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        if self.decided.len() >= DECIDED_CAPACITY {
            if let Some(old) = self.decided_order.pop_front() {
                self.decided.remove(&old);
            }
        }
        self.decided
            .insert(trace, (verdict.is_some(), Instant::now()));
        self.decided_order.push_back(trace);
        match verdict {
            Some((reason, rate, canary)) => {
                self.stats.sampling_traces_kept.fetch_add(1, relaxed);
                let limits = Limits {
                    max_attributes: usize::MAX,
                    ..Limits::current()
                };
                let root = &mut p.spans[root_index];
                root.set_str(Key::new(sc::FIVELENS_SAMPLING_REASON), &reason, &limits);
                root.set_attribute_ref(
                    Key::new(sc::FIVELENS_SAMPLING_RATE),
                    ValueRef::F64(rate),
                    &limits,
                );
                if canary {
                    root.set_attribute_ref(
                        Key::new(sc::FIVELENS_CANARY),
                        ValueRef::Bool(true),
                        &limits,
                    );
                }
                out.append(&mut p.spans);
            }
            None => {
                self.stats.sampling_traces_dropped.fetch_add(1, relaxed);
                self.count_dropped(p.spans.len() as u64);
            }
        }
    }

    /// `Some((reason, rate, canary))` when the trace is kept.
    fn verdict(
        &mut self,
        spans: &[SpanRecord],
        root_index: usize,
        early: Early,
    ) -> Option<(String, f64, bool)> {
        let root = &spans[root_index];
        let pol = &self.settings.policies;
        let user = spans.iter().find_map(|r| str_attr(r, sc::USER_HASH));
        let session = spans.iter().find_map(|r| str_attr(r, sc::SESSION_ID));
        let canary = self.settings.in_canary(user, session, root.trace_id);
        let duration = root.end_ns.saturating_sub(root.start_ns);
        // Latency: the rolling percentile of the root's operation (complete roots only).
        let mut slow = false;
        if early == Early::No {
            if let Some(limit) = pol.latency_over {
                slow |= duration > limit.as_nanos() as u64;
            }
            if let Some(q) = pol.latency_percentile {
                let op = root.name().to_string();
                if self.latency.len() < ROLLING_OPERATIONS || self.latency.contains_key(&op) {
                    let rolling = self.latency.entry(op).or_default();
                    if let Some(p) = rolling.cached {
                        slow |= duration > p;
                    }
                    rolling.push(duration, q);
                }
            }
        }
        if canary {
            return Some(("canary".into(), 1.0, true));
        }
        if pol.errors && spans.iter().any(|r| matches!(r.status, Status::Error(_))) {
            return Some(("error".into(), 1.0, false));
        }
        if pol.keep {
            if let Some(reason) = spans
                .iter()
                .find_map(|r| str_attr(r, sc::FIVELENS_SAMPLING_KEEP))
            {
                return Some((format!("keep:{reason}"), 1.0, false));
            }
            // A model call whose context fill crossed the alert threshold flags its trace too.
            if spans.iter().any(|r| {
                matches!(
                    r.attribute(sc::FIVELENS_CONTEXT_ALERT),
                    Some(ValueRef::Bool(true))
                )
            }) {
                return Some(("keep:context_alert".into(), 1.0, false));
            }
        }
        if slow {
            return Some(("latency".into(), 1.0, false));
        }
        if pol.cost_over_pico.is_some() || pol.tokens_over.is_some() {
            let mut cost: u128 = 0;
            let mut tokens: u64 = 0;
            for r in spans {
                cost += u128::from(r.cost_pico.unwrap_or(0));
                for k in [
                    sc::GEN_AI_USAGE_INPUT_TOKENS,
                    sc::GEN_AI_USAGE_OUTPUT_TOKENS,
                ] {
                    if let Some(ValueRef::I64(n)) = r.attribute(k) {
                        tokens += n.max(0) as u64;
                    }
                }
            }
            if pol.cost_over_pico.is_some_and(|c| cost > c) {
                return Some(("cost".into(), 1.0, false));
            }
            if pol.tokens_over.is_some_and(|t| tokens > t) {
                return Some(("tokens".into(), 1.0, false));
            }
        }
        let (reason, rate) = self.settings.start_rules(user, session, root.trace_id)?;
        let reason = match early {
            Early::No => reason.to_string(),
            Early::Timeout => format!("{reason}:timeout"),
            Early::Overflow => format!("{reason}:overflow"),
        };
        Some((reason, rate, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SpanId;
    use crate::record::{Parent, SpanKind};

    fn settings(policies: &[&str]) -> Settings {
        Settings {
            policies: Policies::parse(&policies.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap_or_else(|e| panic!("{e}")),
            mode: Mode::Tail,
            key: SampleKey::User,
            canary_user_hashes: FxHashSet::default(),
            canary_share: 0.0,
            timeout: Duration::from_secs(60),
            max_traces: 1000,
            max_spans: 10_000,
            max_bytes: 64 << 20,
        }
    }

    /// A root and `children` children, ended, the root last.
    fn trace(children: usize, error: bool, user: Option<&str>) -> Vec<SpanRecord> {
        let mut root = SpanRecord::start("agent run", SpanKind::Internal, None);
        if let Some(u) = user {
            root.set_attribute(Key::new(sc::USER_HASH), Value::from(u));
        }
        let parent = Parent {
            trace_id: root.trace_id,
            span_id: root.span_id,
            remote: false,
            flags: 1,
        };
        let mut out = Vec::new();
        for i in 0..children {
            let mut c = SpanRecord::start("step", SpanKind::Internal, Some(parent));
            if user.is_some() {
                c.set_attribute(Key::new(sc::USER_HASH), Value::from(user.unwrap_or("")));
            }
            if error && i == 0 {
                c.set_status(Status::Error("boom".into()));
            }
            c.end_at(None);
            out.push(c);
        }
        root.end_at(None);
        out.push(root);
        out
    }

    #[test]
    fn policies_parse_and_reject() {
        let p = Policies::parse(&[
            "errors".into(),
            "keep".into(),
            "latency:p99".into(),
            "latency:2.5s".into(),
            "cost:0.05".into(),
            "tokens:100_000".into(),
            "users:10%".into(),
            "baseline:0.01".into(),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.latency_percentile, Some(99.0));
        assert_eq!(p.latency_over, Some(Duration::from_millis(2500)));
        assert_eq!(p.cost_over_pico, Some(50_000_000_000));
        assert_eq!(p.tokens_over, Some(100_000));
        assert_eq!(p.users, Some(0.1));
        assert_eq!(p.baseline, 0.01);
        for bad in [
            "sometimes",
            "baseline:2",
            "latency:p12",
            "latency:soon",
            "cost:lots",
            "users",
        ] {
            assert!(Policies::parse(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_are_kept_under_a_one_percent_baseline() {
        let stats = Arc::new(Stats::default());
        let mut s = Sampler::new(settings(&["errors", "baseline:0.01"]), stats.clone());
        let mut out = Vec::new();
        let mut error_traces = 0;
        for i in 0..2000 {
            let error = i % 10 == 0;
            error_traces += usize::from(error);
            s.admit(trace(3, error, None), &mut out);
        }
        let kept: FxHashSet<TraceId> = out.iter().map(|r| r.trace_id).collect();
        let errors_kept = out
            .iter()
            .filter(|r| r.attribute(sc::FIVELENS_SAMPLING_REASON) == Some(ValueRef::Str("error")))
            .count();
        assert_eq!(errors_kept, error_traces);
        // 10% errors + about 1% of the 90% rest.
        assert!(
            kept.len() >= error_traces && kept.len() < error_traces + 60,
            "{}",
            kept.len()
        );
        // Whole traces: every kept trace has all 4 spans.
        assert_eq!(out.len(), kept.len() * 4);
        assert!(s.pending.is_empty() && s.spans == 0 && s.bytes == 0);
    }

    #[test]
    fn users_are_all_in_or_all_out_and_canary_users_keep_everything() {
        let stats = Arc::new(Stats::default());
        let mut cfg = settings(&["canary", "users:0.3", "baseline:0"]);
        let canary = crate::scope::keyed_hash(b"k", "vip");
        cfg.canary_user_hashes.insert(canary.clone());
        let mut s = Sampler::new(cfg, stats);
        for n in 0..20 {
            let user = crate::scope::keyed_hash(b"k", &format!("user-{n}"));
            let mut out = Vec::new();
            for _ in 0..50 {
                s.admit(trace(1, false, Some(&user)), &mut out);
            }
            assert!(
                out.is_empty() || out.len() == 100,
                "user {n}: {}",
                out.len()
            );
        }
        let mut out = Vec::new();
        for _ in 0..30 {
            s.admit(trace(2, false, Some(&canary)), &mut out);
        }
        assert_eq!(out.len(), 90);
        assert!(
            out.iter()
                .filter(|r| r.attribute(sc::FIVELENS_CANARY) == Some(ValueRef::Bool(true)))
                .count()
                == 30
        );
    }

    #[test]
    fn a_context_alert_keeps_its_trace() {
        let stats = Arc::new(Stats::default());
        let mut s = Sampler::new(settings(&["keep", "baseline:0"]), stats);
        let mut out = Vec::new();
        let mut t = trace(1, false, None);
        t[0].set_attribute(Key::new(sc::FIVELENS_CONTEXT_ALERT), Value::Bool(true));
        s.admit(t, &mut out);
        s.admit(trace(1, false, None), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[1].attribute(sc::FIVELENS_SAMPLING_REASON),
            Some(ValueRef::Str("keep:context_alert"))
        );
    }

    #[test]
    fn latency_outliers_keep_and_late_spans_follow() {
        let stats = Arc::new(Stats::default());
        let mut s = Sampler::new(settings(&["latency:p99", "baseline:0"]), stats.clone());
        let mut out = Vec::new();
        for _ in 0..300 {
            let mut t = trace(0, false, None);
            t[0].end_ns = t[0].start_ns + 1_000_000;
            s.admit(t, &mut out);
        }
        assert!(out.is_empty());
        let mut slow = trace(0, false, None);
        slow[0].end_ns = slow[0].start_ns + 50_000_000;
        let slow_trace = slow[0].trace_id;
        s.admit(slow, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].attribute(sc::FIVELENS_SAMPLING_REASON),
            Some(ValueRef::Str("latency"))
        );
        // A span of that trace ending after the decision follows it.
        let late = SpanRecord::start(
            "late evaluation",
            SpanKind::Internal,
            Some(Parent {
                trace_id: slow_trace,
                span_id: SpanId::random(),
                remote: false,
                flags: 1,
            }),
        );
        s.admit(vec![late], &mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn the_buffer_is_bounded_and_timeouts_decide() {
        let stats = Arc::new(Stats::default());
        let mut cfg = settings(&["errors", "baseline:0"]);
        cfg.max_traces = 100;
        cfg.max_spans = 1000;
        cfg.timeout = Duration::from_millis(0);
        let mut s = Sampler::new(cfg, stats.clone());
        let mut out = Vec::new();
        // 10,000 open traces (children only, roots never end).
        for i in 0..10_000 {
            let mut t = trace(1, i % 100 == 0, None);
            t.pop();
            s.admit(t, &mut out);
            assert!(s.pending.len() <= 100 && s.spans <= 1000);
        }
        assert!(
            stats
                .sampling_overflow
                .load(std::sync::atomic::Ordering::Relaxed)
                > 9000
        );
        // The error traces decided early were still kept.
        assert_eq!(out.len(), 99);
        s.expire(&mut out);
        assert!(s.pending.is_empty());
        assert_eq!(out.len(), 100);
    }
}
