//! Loop and budget guards (opt-in): a maximum number of agent iterations, and token or USD
//! budgets per trace or per session, checked before each model call. A call past a limit is
//! refused: the binding raises a clear error instead of making it, and marks the trace with the
//! keep flag so the tail sampler keeps the evidence.
//!
//! ```text
//!  model call ends (host thread) ──> observe(record): its tokens and cost (the processing
//!                                    thread's own rules, on a copy) added to its trace and session
//!  iteration starts (integration) ──> note_iteration(trace, n)
//!  model call about to start ──> check(trace, session) ──> Ok, or Exceeded (refuse the call)
//! ```
//!
//! Spend is counted on the caller's thread when a model call ends, because the next call may
//! start before the processing thread has seen the last one. Only this process's calls count: a
//! trace that crosses services is budgeted per service. The tables are bounded (the least
//! recently used traces and sessions are forgotten first).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::ids::TraceId;
use crate::llm::{LlmSettings, LlmStage};
use crate::record::SpanRecord;
use crate::semconv as sc;
use crate::value::ValueRef;

/// The limits (see the `max_agent_iterations`, `trace_*_budget` and `session_*_budget` options).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GuardSettings {
    /// Most agent iterations of a trace.
    pub max_iterations: Option<u64>,
    /// Most tokens (input + output) a trace's model calls may use.
    pub trace_tokens: Option<u64>,
    /// Most pico-dollars a trace's model calls may cost.
    pub trace_cost_pico: Option<u64>,
    /// Most tokens a session's model calls may use.
    pub session_tokens: Option<u64>,
    /// Most pico-dollars a session's model calls may cost.
    pub session_cost_pico: Option<u64>,
}

impl GuardSettings {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.max_iterations.is_some()
            || self.trace_tokens.is_some()
            || self.trace_cost_pico.is_some()
            || self.session_tokens.is_some()
            || self.session_cost_pico.is_some()
    }
}

/// A limit reached.
#[derive(Clone, Debug, PartialEq)]
pub struct Exceeded {
    /// `iterations`, `tokens` or `cost`.
    pub kind: &'static str,
    /// `trace` or `session`.
    pub scope: &'static str,
    /// The limit (iterations, tokens, or USD).
    pub limit: f64,
    /// What was used (iterations, tokens, or USD).
    pub used: f64,
    /// The error's message.
    pub message: String,
}

#[derive(Clone, Copy, Debug, Default)]
struct Spend {
    tokens: u64,
    cost_pico: u64,
    iteration: u64,
}

/// A bounded table of spends, the least recently touched forgotten first.
struct Table<K> {
    map: FxHashMap<K, Spend>,
    order: VecDeque<K>,
    cap: usize,
}

impl<K: std::hash::Hash + Eq + Clone> Table<K> {
    fn new(cap: usize) -> Table<K> {
        Table {
            map: FxHashMap::default(),
            order: VecDeque::new(),
            cap,
        }
    }

    fn entry(&mut self, key: K) -> &mut Spend {
        if !self.map.contains_key(&key) {
            while self.map.len() >= self.cap {
                match self.order.pop_front() {
                    Some(old) => {
                        self.map.remove(&old);
                    }
                    None => break,
                }
            }
            self.order.push_back(key.clone());
        }
        self.map.entry(key).or_default()
    }

    fn get(&self, key: &K) -> Spend {
        self.map.get(key).copied().unwrap_or_default()
    }
}

/// Traces and sessions followed at most.
const MAX_TRACES: usize = 100_000;
const MAX_SESSIONS: usize = 100_000;

struct Guards {
    settings: GuardSettings,
    stage: LlmStage,
    traces: Table<TraceId>,
    sessions: Table<Box<str>>,
}

static GUARDS: Mutex<Option<Guards>> = Mutex::new(None);
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Installs the limits (at `configure`; `None` or no limit turns the guards off). Spends start
/// from zero.
pub fn configure(settings: GuardSettings, tables: crate::llm::ModelTables) {
    let mut slot = GUARDS.lock();
    if !settings.any() {
        ACTIVE.store(false, Ordering::Relaxed);
        *slot = None;
        return;
    }
    *slot = Some(Guards {
        settings,
        stage: LlmStage::new(
            LlmSettings {
                capture_content: false,
                max_content_bytes: usize::MAX,
                compat: false,
                redaction: None,
            },
            tables,
        ),
        traces: Table::new(MAX_TRACES),
        sessions: Table::new(MAX_SESSIONS),
    });
    ACTIVE.store(true, Ordering::Relaxed);
}

/// Whether any guard is set (a cheap check for the hot paths).
#[inline]
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Whether an iteration limit is set.
pub fn counts_iterations() -> bool {
    active()
        && GUARDS
            .lock()
            .as_ref()
            .is_some_and(|g| g.settings.max_iterations.is_some())
}

fn session_of(r: &SpanRecord) -> Option<Box<str>> {
    if let Some(ValueRef::Str(s)) = r.attribute(sc::SESSION_ID) {
        return Some(s.into());
    }
    match r.scope.as_ref().and_then(|s| s.get(sc::SESSION_ID)) {
        Some(crate::value::Value::Str(s)) => Some(s.as_ref().into()),
        _ => None,
    }
}

/// A model call ended: its tokens and cost count against its trace and session.
pub fn observe(r: &SpanRecord) {
    if !active() || !crate::llm::is_model_call(r) || !r.trace_id.is_valid() {
        return;
    }
    let mut slot = GUARDS.lock();
    let Some(g) = slot.as_mut() else { return };
    let (input, output, cost) = g.stage.measure(r);
    let tokens = input.saturating_add(output);
    let cost = cost.unwrap_or(0);
    let t = g.traces.entry(r.trace_id);
    t.tokens = t.tokens.saturating_add(tokens);
    t.cost_pico = t.cost_pico.saturating_add(cost);
    if let Some(session) = session_of(r) {
        let s = g.sessions.entry(session);
        s.tokens = s.tokens.saturating_add(tokens);
        s.cost_pico = s.cost_pico.saturating_add(cost);
    }
}

/// An agent iteration `n` started in `trace` (the trace's count is the highest seen).
pub fn note_iteration(trace: TraceId, n: u64) {
    if !active() || !trace.is_valid() {
        return;
    }
    let mut slot = GUARDS.lock();
    let Some(g) = slot.as_mut() else { return };
    if g.settings.max_iterations.is_none() {
        return;
    }
    let t = g.traces.entry(trace);
    t.iteration = t.iteration.max(n);
}

fn usd(pico: u64) -> f64 {
    pico as f64 / 1e12
}

fn exceeded(kind: &'static str, scope: &'static str, limit: f64, used: f64) -> Exceeded {
    let message = match kind {
        "iterations" => format!(
            "fivelens guard: the agent reached iteration {used} of at most {limit} (max_agent_iterations); the model call was refused"
        ),
        "tokens" => format!(
            "fivelens guard: this {scope} used {used} tokens, its budget is {limit} ({scope}_token_budget); the model call was refused"
        ),
        _ => format!(
            "fivelens guard: this {scope} spent ${used:.6}, its budget is ${limit:.6} ({scope}_cost_budget_usd); the model call was refused"
        ),
    };
    Exceeded {
        kind,
        scope,
        limit,
        used,
        message,
    }
}

/// Whether a model call may start now in `trace` (and `session`): `Err` names the limit reached.
/// A budget is reached once the spend so far is at or over it (the call that crosses it is
/// made; the next one is refused).
pub fn check(trace: Option<TraceId>, session: Option<&str>) -> Result<(), Exceeded> {
    if !active() {
        return Ok(());
    }
    let slot = GUARDS.lock();
    let Some(g) = slot.as_ref() else {
        return Ok(());
    };
    let s = g.settings;
    if let Some(trace) = trace.filter(|t| t.is_valid()) {
        let spend = g.traces.get(&trace);
        if let Some(max) = s.max_iterations {
            if spend.iteration > max {
                return Err(exceeded(
                    "iterations",
                    "trace",
                    max as f64,
                    spend.iteration as f64,
                ));
            }
        }
        if let Some(max) = s.trace_tokens {
            if spend.tokens >= max {
                return Err(exceeded("tokens", "trace", max as f64, spend.tokens as f64));
            }
        }
        if let Some(max) = s.trace_cost_pico {
            if spend.cost_pico >= max {
                return Err(exceeded("cost", "trace", usd(max), usd(spend.cost_pico)));
            }
        }
    }
    if let Some(session) = session {
        let spend = g.sessions.get(&Box::<str>::from(session));
        if let Some(max) = s.session_tokens {
            if spend.tokens >= max {
                return Err(exceeded(
                    "tokens",
                    "session",
                    max as f64,
                    spend.tokens as f64,
                ));
            }
        }
        if let Some(max) = s.session_cost_pico {
            if spend.cost_pico >= max {
                return Err(exceeded("cost", "session", usd(max), usd(spend.cost_pico)));
            }
        }
    }
    Ok(())
}

/// What a trace and a session have used so far (for `status()` and tests).
pub fn spend(trace: Option<TraceId>, session: Option<&str>) -> serde_json::Value {
    let slot = GUARDS.lock();
    let Some(g) = slot.as_ref() else {
        return serde_json::Value::Null;
    };
    let t = trace.map(|t| g.traces.get(&t)).unwrap_or_default();
    let s = session
        .map(|s| g.sessions.get(&Box::<str>::from(s)))
        .unwrap_or_default();
    serde_json::json!({
        "trace": {"tokens": t.tokens, "cost_usd": usd(t.cost_pico), "iteration": t.iteration},
        "session": {"tokens": s.tokens, "cost_usd": usd(s.cost_pico)},
    })
}

/// The guard event's attributes (name [`sc::FIVELENS_EVENT_GUARD`]).
pub fn event_attributes(e: &Exceeded) -> Vec<crate::value::KeyValue> {
    use crate::key::Key;
    use crate::value::Value;
    vec![
        (Key::new(sc::FIVELENS_GUARD_KIND), Value::from(e.kind)),
        (Key::new(sc::FIVELENS_GUARD_SCOPE), Value::from(e.scope)),
        (Key::new(sc::FIVELENS_GUARD_LIMIT), Value::F64(e.limit)),
        (Key::new(sc::FIVELENS_GUARD_USED), Value::F64(e.used)),
        (
            Key::new(sc::EXCEPTION_MESSAGE),
            Value::from(e.message.as_str()),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;
    use crate::record::SpanKind;
    use crate::value::Value;

    fn model_call(trace: TraceId, session: Option<&str>, input: i64, output: i64) -> SpanRecord {
        let mut r = SpanRecord::start("chat gpt-4o-mini", SpanKind::Client, None);
        r.trace_id = trace;
        for (k, v) in [
            (sc::GEN_AI_OPERATION_NAME, "chat"),
            (sc::GEN_AI_PROVIDER_NAME, "openai"),
            (sc::GEN_AI_REQUEST_MODEL, "gpt-4o-mini"),
        ] {
            r.set_attribute(Key::new(k), Value::from(v));
        }
        if let Some(s) = session {
            r.set_attribute(Key::new(sc::SESSION_ID), Value::from(s));
        }
        r.set_attribute(Key::new(sc::GEN_AI_USAGE_INPUT_TOKENS), Value::I64(input));
        r.set_attribute(Key::new(sc::GEN_AI_USAGE_OUTPUT_TOKENS), Value::I64(output));
        r.end_at(None);
        r
    }

    /// One test drives the process-wide guards (tests run in parallel threads).
    #[test]
    fn budgets_and_iterations() {
        let tables = crate::config::Config::default().price_table();
        configure(GuardSettings::default(), tables.clone());
        assert!(!active());
        assert!(check(Some(TraceId(1)), None).is_ok());

        configure(
            GuardSettings {
                max_iterations: Some(3),
                trace_tokens: Some(1000),
                trace_cost_pico: None,
                session_tokens: None,
                session_cost_pico: Some(2_000_000_000), // $0.002
            },
            tables,
        );
        let trace = TraceId(0xabc);
        observe(&model_call(trace, Some("s1"), 400, 100));
        assert!(check(Some(trace), Some("s1")).is_ok());
        observe(&model_call(trace, Some("s1"), 400, 100));
        let e = check(Some(trace), Some("s1")).unwrap_err();
        assert_eq!(
            (e.kind, e.scope, e.limit, e.used),
            ("tokens", "trace", 1000.0, 1000.0)
        );
        assert!(e.message.contains("trace_token_budget"), "{}", e.message);
        // Another trace of the same session: the session's cost budget. gpt-4o-mini is $0.15 /
        // $0.60 per million: each 400/100 call costs $0.00012.
        for i in 0..16 {
            observe(&model_call(TraceId(0x1000 + i), Some("s1"), 400, 100));
        }
        let other = TraceId(0xdef);
        let e = check(Some(other), Some("s1")).unwrap_err();
        assert_eq!((e.kind, e.scope), ("cost", "session"));
        assert!(e.used >= 0.002, "{e:?}");
        assert!(check(Some(other), Some("s2")).is_ok());
        // Iterations.
        let t3 = TraceId(0x333);
        note_iteration(t3, 3);
        assert!(check(Some(t3), None).is_ok());
        note_iteration(t3, 4);
        let e = check(Some(t3), None).unwrap_err();
        assert_eq!((e.kind, e.used), ("iterations", 4.0));
        configure(GuardSettings::default(), crate::llm::ModelTables::default());
    }
}
