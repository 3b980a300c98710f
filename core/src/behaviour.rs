//! The behaviour lens: is the system *good*, not only up.
//!
//! ```text
//!  host call                         processing thread (before metrics and sampling)
//!  ─────────                         ───────────────────────────────────────────────
//!  guardrail / feedback / signals ─> span attributes ──> Metrics (verdicts, rates, histograms)
//!  drift check (output, private) ──> BehaviourStage: lexical similarity to the golden output
//!  register_golden ──> Goldens (memory) ──pending──> persisted (goldens file or local store)
//!  record_outcome ──> outcome span ──> BehaviourStage: session episodes ──> fivelens.ttgo
//!  evaluation pool (binding) ──> gen_ai.evaluation.result records ──> Metrics (scores, rates)
//! ```
//!
//! Everything the host thread does here is a span attribute, a short lock on the goldens map
//! (registration, a rare call) or a push on a bounded list; comparisons, session state and
//! storage run on the processing thread.
//!
//! **Lexical similarity** (drift without an embedding function): texts are split into words
//! (runs of Unicode letters and digits, lower-cased); the similarity is the mean of the cosine
//! of the two word-count vectors and the cosine of the two word-pair (bigram) count vectors, so
//! it sees both vocabulary and order. 1.0 for the same words in the same order, 0.0 for no word
//! in common; two empty texts are identical (1.0).
//!
//! **Time-To-Good-Output**: a session's episode starts at the first submit (the start of the
//! first local root span carrying `session.id` since the previous episode ended) and ends at the
//! first `accepted` (or `edited`) outcome; `regenerated` keeps it open, `abandoned` ends it
//! without a TTGO. In one process the episode is kept in memory; with the local store, every
//! submit and outcome is also written there (`behaviour_attempts`, `behaviour_outcomes`), and an
//! outcome is computed from the store, so submits handled by other worker processes count.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use rustc_hash::FxHashMap;

use crate::config::Config;
use crate::diag::{self, Level};
use crate::ids::TraceId;
use crate::key::Key;
use crate::record::SpanRecord;
use crate::semconv as sc;
use crate::value::{Value, ValueRef};

/// Default `intent_low_confidence_threshold`.
pub const DEFAULT_INTENT_LOW_CONFIDENCE_THRESHOLD: f64 = 0.5;
/// Default `evaluation_workers`.
pub const DEFAULT_EVALUATION_WORKERS: usize = 2;
/// Default `evaluation_queue_size`.
pub const DEFAULT_EVALUATION_QUEUE_SIZE: usize = 64;

/// Traces whose session the processing thread remembers (oldest forgotten first).
const MAX_TRACES: usize = 100_000;
/// Open session episodes kept in memory.
const MAX_SESSIONS: usize = 100_000;
/// Pending registrations and drop counts waiting for the processing thread.
const MAX_PENDING: usize = 4096;

/// The outcomes `record_outcome` accepts.
pub const OUTCOMES: &[&str] = &["accepted", "regenerated", "edited", "abandoned"];

/// Guardrail verdicts.
pub const VERDICTS: &[&str] = &["pass", "flag", "block"];

// ---- lexical similarity ---------------------------------------------------------------------

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

fn cosine(a: &FxHashMap<String, u32>, b: &FxHashMap<String, u32>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let dot: f64 = a
        .iter()
        .filter_map(|(k, x)| b.get(k).map(|y| f64::from(*x) * f64::from(*y)))
        .sum();
    let norm = |m: &FxHashMap<String, u32>| {
        m.values()
            .map(|v| f64::from(*v) * f64::from(*v))
            .sum::<f64>()
            .sqrt()
    };
    (dot / (norm(a) * norm(b))).clamp(0.0, 1.0)
}

fn counts(items: impl Iterator<Item = String>) -> FxHashMap<String, u32> {
    let mut m = FxHashMap::default();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

/// The documented lexical similarity of two texts (0 to 1; see the module docs).
pub fn lexical_similarity(a: &str, b: &str) -> f64 {
    let (wa, wb) = (words(a), words(b));
    let unigram = cosine(&counts(wa.iter().cloned()), &counts(wb.iter().cloned()));
    if wa.len() < 2 && wb.len() < 2 {
        return unigram;
    }
    let pairs = |w: &[String]| counts(w.windows(2).map(|p| format!("{} {}", p[0], p[1])));
    (unigram + cosine(&pairs(&wa), &pairs(&wb))) / 2.0
}

/// Cosine similarity of two embedding vectors, clamped to 0..1 (0 when either is empty or zero).
pub fn cosine_similarity(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (dot / (na * nb)).clamp(0.0, 1.0)
}

// ---- goldens --------------------------------------------------------------------------------

/// One golden output: per prompt version, optionally per test input (`""` for the version's).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Golden {
    /// The prompt version it belongs to.
    pub prompt_version: String,
    /// The test input it answers, or none for the version's golden output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The golden output.
    pub output: String,
}

#[derive(Default)]
struct Goldens {
    map: FxHashMap<(String, String), String>,
    /// The configuration generation whose file or store was read.
    loaded_from: Option<(Option<PathBuf>, Option<PathBuf>)>,
}

static GOLDENS: std::sync::LazyLock<Mutex<Goldens>> =
    std::sync::LazyLock::new(|| Mutex::new(Goldens::default()));

enum Pending {
    Golden(Golden),
    EvaluationDropped(String),
}

static PENDING: Mutex<Vec<Pending>> = Mutex::new(Vec::new());
static PENDING_LOST: AtomicU64 = AtomicU64::new(0);
static EVALUATIONS_DROPPED: AtomicU64 = AtomicU64::new(0);

fn push_pending(p: Pending) {
    match PENDING.try_lock() {
        Some(mut v) if v.len() < MAX_PENDING => v.push(p),
        _ => {
            PENDING_LOST.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Where goldens persist: the named file, else the local store (when enabled).
fn persistence(config: &Config) -> (Option<PathBuf>, Option<PathBuf>) {
    match &config.drift_goldens_file {
        Some(f) => (Some(PathBuf::from(f)), None),
        None => (None, config.store_enabled().then(|| config.store_file())),
    }
}

fn read_goldens_file(path: &PathBuf) -> Vec<Golden> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            diag::report(
                Level::Warn,
                "drift.goldens_file",
                &format!(
                    "{}: not a list of golden outputs ({e}); expected [{{\"prompt_version\", \"input\"?, \"output\"}}]",
                    path.display()
                ),
            );
            Vec::new()
        }),
        Err(_) => Vec::new(),
    }
}

const GOLDENS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS behaviour_goldens (
    prompt_version TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    time_ns INTEGER NOT NULL,
    PRIMARY KEY (prompt_version, input)
);
CREATE TABLE IF NOT EXISTS behaviour_attempts (
    session_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    PRIMARY KEY (session_id, trace_id)
);
CREATE TABLE IF NOT EXISTS behaviour_outcomes (
    session_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    time_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS behaviour_outcomes_session ON behaviour_outcomes (session_id, time_ns);
";

/// Opens an existing store file for the behaviour tables (never creates it: the store does).
fn open_store(path: &PathBuf) -> Option<Connection> {
    if !path.exists() {
        return None;
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).ok()?;
    let _ = conn.busy_timeout(std::time::Duration::from_secs(2));
    match conn.execute_batch(GOLDENS_SCHEMA) {
        Ok(()) => Some(conn),
        Err(e) => {
            diag::report(
                Level::Warn,
                "behaviour.store",
                &format!(
                    "{}: cannot prepare the behaviour tables: {e}",
                    path.display()
                ),
            );
            None
        }
    }
}

fn read_goldens_store(path: &PathBuf) -> Vec<Golden> {
    let Some(conn) = open_store(path) else {
        return Vec::new();
    };
    let read = || -> rusqlite::Result<Vec<Golden>> {
        let mut stmt =
            conn.prepare("SELECT prompt_version, input, output FROM behaviour_goldens")?;
        let rows = stmt.query_map([], |r| {
            let input: String = r.get(1)?;
            Ok(Golden {
                prompt_version: r.get(0)?,
                input: (!input.is_empty()).then_some(input),
                output: r.get(2)?,
            })
        })?;
        rows.collect()
    };
    read().unwrap_or_default()
}

/// Loads the persisted goldens of a configuration once (registrations made in this process win
/// over persisted ones). The configuration is read before the goldens lock is taken (the global
/// slot is the outer lock).
fn ensure_loaded(g: &mut Goldens, target: (Option<PathBuf>, Option<PathBuf>)) {
    if g.loaded_from.as_ref() == Some(&target) {
        return;
    }
    let persisted = match &target {
        (Some(file), _) => read_goldens_file(file),
        (None, Some(store)) => read_goldens_store(store),
        _ => Vec::new(),
    };
    for golden in persisted {
        g.map
            .entry((golden.prompt_version, golden.input.unwrap_or_default()))
            .or_insert(golden.output);
    }
    g.loaded_from = Some(target);
}

/// Registers the golden output of `prompt_version` (or of one test input of it). Kept in memory
/// at once; persisted by the processing thread (the goldens file, else the local store).
pub fn register_golden(prompt_version: &str, input: Option<&str>, output: &str) {
    let golden = Golden {
        prompt_version: prompt_version.to_string(),
        input: input.filter(|i| !i.is_empty()).map(str::to_string),
        output: output.to_string(),
    };
    GOLDENS.lock().map.insert(
        (
            golden.prompt_version.clone(),
            golden.input.clone().unwrap_or_default(),
        ),
        golden.output.clone(),
    );
    push_pending(Pending::Golden(golden));
}

/// The golden output for `prompt_version` and `input` (the input's own, else the version's).
/// May read the goldens file or the store the first time (not for a request path: bindings call
/// it from their evaluation pool).
pub fn golden(prompt_version: &str, input: Option<&str>) -> Option<String> {
    let target = crate::global::config().map(|c| persistence(&c));
    let mut g = GOLDENS.lock();
    if let Some(target) = target {
        ensure_loaded(&mut g, target);
    }
    lookup(&g, prompt_version, input)
}

fn lookup(g: &Goldens, prompt_version: &str, input: Option<&str>) -> Option<String> {
    if let Some(i) = input.filter(|i| !i.is_empty()) {
        if let Some(o) = g.map.get(&(prompt_version.to_string(), i.to_string())) {
            return Some(o.clone());
        }
    }
    g.map
        .get(&(prompt_version.to_string(), String::new()))
        .cloned()
}

/// Counts an evaluation the binding's pool could not take (saturated). Never blocks.
pub fn evaluation_dropped(evaluator: &str) {
    EVALUATIONS_DROPPED.fetch_add(1, Ordering::Relaxed);
    push_pending(Pending::EvaluationDropped(evaluator.to_string()));
}

/// The behaviour settings and counters, for `status()`.
pub fn status() -> serde_json::Value {
    let config = crate::global::config();
    serde_json::json!({
        "evaluation_workers": config.as_ref().map_or(DEFAULT_EVALUATION_WORKERS, |c| c.evaluation_workers),
        "evaluation_queue_size": config.as_ref().map_or(DEFAULT_EVALUATION_QUEUE_SIZE, |c| c.evaluation_queue_size),
        "intent_low_confidence_threshold": config.as_ref().map_or(DEFAULT_INTENT_LOW_CONFIDENCE_THRESHOLD, |c| c.intent_low_confidence_threshold),
        "evaluations_dropped": EVALUATIONS_DROPPED.load(Ordering::Relaxed),
        "goldens": GOLDENS.try_lock().map(|g| g.map.len()),
    })
}

// ---- the processing-thread stage ------------------------------------------------------------

#[derive(Clone, Debug)]
struct Episode {
    first_submit_ns: u64,
    attempts: u32,
}

/// The behaviour stage of the processing thread.
pub struct BehaviourStage {
    intent_threshold: f64,
    goldens_file: Option<PathBuf>,
    goldens_store: Option<PathBuf>,
    store_path: Option<PathBuf>,
    conn: Option<Connection>,
    conn_tried: bool,
    traces: FxHashMap<TraceId, String>,
    trace_order: VecDeque<TraceId>,
    sessions: FxHashMap<String, Episode>,
}

fn str_attr(r: &SpanRecord, key: &str) -> Option<String> {
    match r.attribute(key) {
        Some(ValueRef::Str(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn f64_attr(r: &SpanRecord, key: &str) -> Option<f64> {
    match r.attribute(key) {
        Some(ValueRef::F64(f)) => Some(f),
        Some(ValueRef::I64(i)) => Some(i as f64),
        _ => None,
    }
}

impl BehaviourStage {
    /// A stage for `config`.
    pub fn new(config: &Config) -> BehaviourStage {
        let (goldens_file, goldens_store) = persistence(config);
        BehaviourStage {
            intent_threshold: config.intent_low_confidence_threshold,
            goldens_file,
            goldens_store,
            store_path: config.store_enabled().then(|| config.store_file()),
            conn: None,
            conn_tried: false,
            traces: FxHashMap::default(),
            trace_order: VecDeque::new(),
            sessions: FxHashMap::default(),
        }
    }

    fn conn(&mut self) -> Option<&mut Connection> {
        if !self.conn_tried {
            self.conn_tried = true;
            self.conn = self.store_path.as_ref().and_then(open_store);
        }
        self.conn.as_mut()
    }

    /// One ended span, after its scope attributes and before the model-call stage (which drops
    /// private attributes) and the metrics.
    pub fn process(&mut self, r: &mut SpanRecord) {
        self.drift(r);
        if let Some(score) = f64_attr(r, sc::FIVELENS_INTENT_SCORE) {
            if r.attribute(sc::FIVELENS_INTENT_LOW_CONFIDENCE).is_none() {
                r.set_attribute(
                    Key::new(sc::FIVELENS_INTENT_LOW_CONFIDENCE),
                    Value::Bool(score < self.intent_threshold),
                );
            }
        }
        if let Some(outcome) = str_attr(r, sc::FIVELENS_USER_OUTCOME) {
            self.outcome(r, &outcome);
        } else if (!r.parent_span_id.is_valid() || r.parent_remote)
            && r.attribute(sc::FIVELENS_FEEDBACK_KIND).is_none()
        {
            if let Some(session) = str_attr(r, sc::SESSION_ID) {
                self.attempt(r.trace_id, &session, r.start_ns);
            }
        }
    }

    fn drift(&mut self, r: &mut SpanRecord) {
        let Some(ValueRef::Str(output)) = r.attribute(sc::PRIVATE_DRIFT_OUTPUT) else {
            return;
        };
        let output = output.to_string();
        let input = str_attr(r, sc::PRIVATE_DRIFT_INPUT);
        r.payload
            .remove_where(|k| k == sc::PRIVATE_DRIFT_OUTPUT || k == sc::PRIVATE_DRIFT_INPUT);
        let version = str_attr(r, sc::FIVELENS_DRIFT_PROMPT_VERSION).unwrap_or_default();
        let golden = {
            let target = (self.goldens_file.clone(), self.goldens_store.clone());
            let mut g = GOLDENS.lock();
            ensure_loaded(&mut g, target);
            lookup(&g, &version, input.as_deref())
        };
        match golden {
            Some(golden) => {
                r.set_attribute(
                    Key::new(sc::FIVELENS_DRIFT_SIMILARITY),
                    Value::F64(lexical_similarity(&output, &golden)),
                );
                r.set_attribute(Key::new(sc::FIVELENS_DRIFT_METHOD), Value::from("lexical"));
            }
            None => r.set_attribute(
                Key::new(sc::FIVELENS_DRIFT_GOLDEN_MISSING),
                Value::Bool(true),
            ),
        }
    }

    fn attempt(&mut self, trace: TraceId, session: &str, start_ns: u64) {
        if self.traces.insert(trace, session.to_string()).is_none() {
            self.trace_order.push_back(trace);
            if self.trace_order.len() > MAX_TRACES {
                if let Some(old) = self.trace_order.pop_front() {
                    self.traces.remove(&old);
                }
            }
        }
        if !self.sessions.contains_key(session) && self.sessions.len() >= MAX_SESSIONS {
            // Forget the oldest episode (rare: a hundred thousand open sessions).
            if let Some(k) = self
                .sessions
                .iter()
                .min_by_key(|(_, e)| e.first_submit_ns)
                .map(|(k, _)| k.clone())
            {
                self.sessions.remove(&k);
            }
        }
        let e = self.sessions.entry(session.to_string()).or_insert(Episode {
            first_submit_ns: start_ns,
            attempts: 0,
        });
        e.first_submit_ns = e.first_submit_ns.min(start_ns);
        e.attempts += 1;
        if let Some(conn) = self.conn() {
            let _ = conn.execute(
                "INSERT OR IGNORE INTO behaviour_attempts (session_id, trace_id, start_ns) VALUES (?1, ?2, ?3)",
                params![session, trace.to_hex(), start_ns as i64],
            );
        }
    }

    /// The episode as the store sees it (submits of every process since the session's last
    /// ending outcome before `before_ns`).
    fn episode_from_store(&mut self, session: &str, before_ns: u64) -> Option<Episode> {
        let conn = self.conn()?;
        let ended: i64 = conn
            .query_row(
                "SELECT coalesce(max(time_ns), 0) FROM behaviour_outcomes
                 WHERE session_id = ?1 AND outcome != 'regenerated' AND time_ns < ?2",
                params![session, before_ns as i64],
                |r| r.get(0),
            )
            .ok()?;
        let (first, n): (Option<i64>, i64) = conn
            .query_row(
                "SELECT min(start_ns), count(*) FROM behaviour_attempts
                 WHERE session_id = ?1 AND start_ns > ?2 AND start_ns <= ?3",
                params![session, ended, before_ns as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ok()??;
        first.map(|f| Episode {
            first_submit_ns: f.max(0) as u64,
            attempts: n.max(0) as u32,
        })
    }

    fn outcome(&mut self, r: &mut SpanRecord, outcome: &str) {
        let session = self
            .traces
            .get(&r.trace_id)
            .cloned()
            .or_else(|| str_attr(r, sc::SESSION_ID));
        let Some(session) = session else {
            return;
        };
        if r.attribute(sc::SESSION_ID).is_none() {
            r.set_attribute(Key::new(sc::SESSION_ID), Value::from(session.as_str()));
        }
        let at = r.end_ns.max(r.start_ns);
        let stored = self.episode_from_store(&session, at);
        let memory = self.sessions.get(&session).cloned();
        let episode = match (memory, stored) {
            (Some(m), Some(s)) => Some(Episode {
                first_submit_ns: m.first_submit_ns.min(s.first_submit_ns),
                attempts: m.attempts.max(s.attempts),
            }),
            (m, s) => m.or(s),
        };
        if let Some(conn) = self.conn() {
            let _ = conn.execute(
                "INSERT INTO behaviour_outcomes (session_id, trace_id, outcome, time_ns) VALUES (?1, ?2, ?3, ?4)",
                params![session, r.trace_id.to_hex(), outcome, at as i64],
            );
        }
        match outcome {
            "accepted" | "edited" => {
                if let Some(e) = episode {
                    r.set_attribute(
                        Key::new(sc::FIVELENS_TTGO),
                        Value::F64(at.saturating_sub(e.first_submit_ns) as f64 / 1e9),
                    );
                    r.set_attribute(
                        Key::new(sc::FIVELENS_TTGO_ATTEMPTS),
                        Value::I64(i64::from(e.attempts.max(1))),
                    );
                }
                self.sessions.remove(&session);
            }
            "abandoned" => {
                self.sessions.remove(&session);
            }
            _ => {}
        }
    }

    /// Persists registered goldens and hands the evaluation drops to the metrics (called with
    /// each batch and on the processing thread's timer).
    pub fn take_pending(&mut self, metrics: &mut crate::metrics::Metrics) {
        let pending = std::mem::take(&mut *PENDING.lock());
        let lost = PENDING_LOST.swap(0, Ordering::Relaxed);
        if lost > 0 {
            metrics.evaluation_dropped("_unknown", lost);
        }
        let mut goldens = Vec::new();
        for p in pending {
            match p {
                Pending::EvaluationDropped(name) => metrics.evaluation_dropped(&name, 1),
                Pending::Golden(g) => goldens.push(g),
            }
        }
        if goldens.is_empty() {
            return;
        }
        if let Some(file) = self.goldens_file.clone() {
            self.persist_file(&file, goldens);
        } else if let Some(conn) = self.conn() {
            let now = crate::record::now_ns() as i64;
            for g in goldens {
                let _ = conn.execute(
                    "INSERT OR REPLACE INTO behaviour_goldens (prompt_version, input, output, time_ns) VALUES (?1, ?2, ?3, ?4)",
                    params![g.prompt_version, g.input.unwrap_or_default(), g.output, now],
                );
            }
        }
    }

    fn persist_file(&self, file: &PathBuf, new: Vec<Golden>) {
        let mut all = read_goldens_file(file);
        for g in new {
            all.retain(|o| !(o.prompt_version == g.prompt_version && o.input == g.input));
            all.push(g);
        }
        let tmp = file.with_extension("tmp");
        let written = serde_json::to_vec_pretty(&all)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, file));
        if let Err(e) = written {
            diag::report(
                Level::Warn,
                "drift.goldens_file",
                &format!("cannot write {}: {e}", file.display()),
            );
        }
    }
}

// ---- fivelens stats ---------------------------------------------------------------------------

/// One guardrail policy in `fivelens stats`.
#[derive(Clone, Debug, Default, serde::Serialize, PartialEq)]
pub struct PolicyStats {
    /// The policy.
    pub policy: String,
    /// Checks by verdict.
    pub verdicts: std::collections::BTreeMap<String, i64>,
    /// False positives reported.
    pub false_positives: i64,
    /// False positives over flagged and blocked checks.
    pub false_positive_rate: Option<f64>,
    /// Resubmissions after a block.
    pub resubmissions: i64,
    /// 95th percentile latency of the checks, ms.
    pub p95_ms: Option<f64>,
}

/// A named mean (evaluations, drift per prompt version, signals).
#[derive(Clone, Debug, Default, serde::Serialize, PartialEq)]
pub struct MeanStats {
    /// What it is of.
    pub name: String,
    /// Observations.
    pub count: i64,
    /// Their mean.
    pub mean: Option<f64>,
    /// For evaluations: results labelled `hallucinated` over all results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hallucination_rate: Option<f64>,
    /// For evaluations: runs dropped (pool saturated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<i64>,
}

/// The behaviour section of `fivelens stats`, from the stored metric points (every process).
#[derive(Clone, Debug, Default, serde::Serialize, PartialEq)]
pub struct BehaviourStats {
    /// Guardrail policies.
    pub guardrails: Vec<PolicyStats>,
    /// Over-redaction reports by PII type.
    pub over_redactions: std::collections::BTreeMap<String, i64>,
    /// Outcomes reported, by outcome.
    pub outcomes: std::collections::BTreeMap<String, i64>,
    /// `regenerated` over all outcomes.
    pub regenerate_rate: Option<f64>,
    /// Episodes with a Time-To-Good-Output.
    pub ttgo_sessions: i64,
    /// Median TTGO, seconds.
    pub ttgo_p50_s: Option<f64>,
    /// 95th percentile TTGO, seconds.
    pub ttgo_p95_s: Option<f64>,
    /// Evaluations by name.
    pub evaluations: Vec<MeanStats>,
    /// Drift: similarity to the golden outputs by prompt version (and method).
    pub drift: Vec<MeanStats>,
    /// Confidence, intent, re-ranker spread and low-confidence intents.
    pub signals: Vec<MeanStats>,
}

impl BehaviourStats {
    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        *self == BehaviourStats::default()
    }
}

/// The behaviour figures of a store file (`None` when it cannot be read).
pub fn stats(path: &std::path::Path) -> Option<BehaviourStats> {
    use std::collections::BTreeMap;
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    let _ = conn.busy_timeout(std::time::Duration::from_secs(2));
    let names = [
        sc::METRIC_GUARDRAIL_VERDICTS,
        sc::METRIC_GUARDRAIL_DURATION,
        sc::METRIC_GUARDRAIL_FALSE_POSITIVES,
        sc::METRIC_GUARDRAIL_RESUBMISSIONS,
        sc::METRIC_REDACTION_OVER_REDACTIONS,
        sc::METRIC_USER_OUTCOMES,
        sc::METRIC_TTGO,
        sc::METRIC_EVALUATION_SCORE,
        sc::METRIC_EVALUATION_RESULTS,
        sc::METRIC_EVALUATION_DROPPED,
        sc::METRIC_DRIFT_SIMILARITY,
        sc::METRIC_CONFIDENCE,
        sc::METRIC_INTENT_SCORE,
        sc::METRIC_INTENT_LOW_CONFIDENCE,
        sc::METRIC_RERANK_SPREAD,
    ];
    let list = names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(",");
    let mut stmt = conn
        .prepare(&format!(
            "SELECT name, attributes, value, int_value, count, buckets FROM metric_points WHERE name IN ({list})"
        ))
        .ok()?;
    type Row = (String, String, f64, i64, i64, Option<String>);
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .ok()?
        .filter_map(Result::ok)
        .collect();
    let mut out = BehaviourStats::default();
    let mut policies: BTreeMap<String, (PolicyStats, Vec<u64>)> = BTreeMap::new();
    let mut ttgo_fine: Vec<u64> = Vec::new();
    let mut evals: BTreeMap<String, (MeanStats, f64, i64)> = BTreeMap::new();
    let mut means: BTreeMap<(u8, String), (i64, f64)> = BTreeMap::new();
    let add_fine = |acc: &mut Vec<u64>, b: &Option<String>| {
        let fine: Vec<u64> = b
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or_default();
        if acc.len() < fine.len() {
            acc.resize(fine.len(), 0);
        }
        for (slot, c) in acc.iter_mut().zip(fine) {
            *slot += c;
        }
    };
    for (name, attributes, value, int_value, count, buckets) in rows {
        let labels: BTreeMap<String, String> =
            serde_json::from_str(&attributes).unwrap_or_default();
        let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
        let policy = || {
            let p = label(sc::FIVELENS_GUARDRAIL_POLICY);
            (
                p.clone(),
                PolicyStats {
                    policy: p,
                    ..PolicyStats::default()
                },
            )
        };
        match name.as_str() {
            sc::METRIC_GUARDRAIL_VERDICTS => {
                let (k, d) = policy();
                let e = policies.entry(k).or_insert((d, Vec::new()));
                *e.0.verdicts
                    .entry(label(sc::FIVELENS_GUARDRAIL_VERDICT))
                    .or_default() += int_value;
            }
            sc::METRIC_GUARDRAIL_DURATION => {
                let (k, d) = policy();
                add_fine(
                    &mut policies.entry(k).or_insert((d, Vec::new())).1,
                    &buckets,
                );
            }
            sc::METRIC_GUARDRAIL_FALSE_POSITIVES => {
                let (k, d) = policy();
                policies
                    .entry(k)
                    .or_insert((d, Vec::new()))
                    .0
                    .false_positives += int_value;
            }
            sc::METRIC_GUARDRAIL_RESUBMISSIONS => {
                let (k, d) = policy();
                policies.entry(k).or_insert((d, Vec::new())).0.resubmissions += int_value;
            }
            sc::METRIC_REDACTION_OVER_REDACTIONS => {
                *out.over_redactions
                    .entry(label(sc::FIVELENS_PII_TYPE))
                    .or_default() += int_value;
            }
            sc::METRIC_USER_OUTCOMES => {
                *out.outcomes
                    .entry(label(sc::FIVELENS_USER_OUTCOME))
                    .or_default() += int_value;
            }
            sc::METRIC_TTGO => {
                out.ttgo_sessions += count;
                add_fine(&mut ttgo_fine, &buckets);
            }
            sc::METRIC_EVALUATION_SCORE
            | sc::METRIC_EVALUATION_RESULTS
            | sc::METRIC_EVALUATION_DROPPED => {
                let n = label(sc::GEN_AI_EVALUATION_NAME);
                let e = evals.entry(n.clone()).or_insert((
                    MeanStats {
                        name: n,
                        ..MeanStats::default()
                    },
                    0.0,
                    0,
                ));
                match name.as_str() {
                    sc::METRIC_EVALUATION_SCORE => {
                        e.1 += value;
                        e.2 += count;
                    }
                    sc::METRIC_EVALUATION_RESULTS => {
                        e.0.count += int_value;
                        if label(sc::GEN_AI_EVALUATION_SCORE_LABEL) == sc::LABEL_HALLUCINATED {
                            *e.0.hallucination_rate.get_or_insert(0.0) += int_value as f64;
                        }
                    }
                    _ => *e.0.dropped.get_or_insert(0) += int_value,
                }
            }
            sc::METRIC_DRIFT_SIMILARITY => {
                let key = format!(
                    "{} ({})",
                    label(sc::FIVELENS_DRIFT_PROMPT_VERSION),
                    label(sc::FIVELENS_DRIFT_METHOD)
                );
                let m = means.entry((0, key)).or_default();
                m.0 += count;
                m.1 += value;
            }
            _ => {
                let key = match name.as_str() {
                    sc::METRIC_INTENT_SCORE | sc::METRIC_INTENT_LOW_CONFIDENCE => {
                        format!("{name} {}", label(sc::FIVELENS_INTENT_NAME))
                    }
                    _ => name.clone(),
                };
                let m = means.entry((1, key)).or_default();
                if name == sc::METRIC_INTENT_LOW_CONFIDENCE {
                    m.0 += int_value;
                } else {
                    m.0 += count;
                    m.1 += value;
                }
            }
        }
    }
    let q = |fine: &[u64], p: f64| crate::metrics::quantile(fine, p);
    for (_, (mut p, fine)) in policies {
        let flagged: i64 = ["flag", "block"]
            .iter()
            .filter_map(|v| p.verdicts.get(*v))
            .sum();
        p.false_positive_rate =
            (flagged > 0).then(|| (p.false_positives as f64 / flagged as f64).min(1.0));
        p.p95_ms = q(&fine, 0.95).map(|s| s * 1000.0);
        out.guardrails.push(p);
    }
    let outcomes: i64 = out.outcomes.values().sum();
    out.regenerate_rate = (outcomes > 0)
        .then(|| out.outcomes.get("regenerated").copied().unwrap_or(0) as f64 / outcomes as f64);
    out.ttgo_p50_s = q(&ttgo_fine, 0.5);
    out.ttgo_p95_s = q(&ttgo_fine, 0.95);
    for (_, (mut m, sum, n)) in evals {
        m.mean = (n > 0).then(|| sum / n as f64);
        if let Some(h) = m.hallucination_rate.as_mut() {
            *h /= m.count.max(1) as f64;
        }
        out.evaluations.push(m);
    }
    for ((group, name), (count, sum)) in means {
        let low = name.starts_with(sc::METRIC_INTENT_LOW_CONFIDENCE);
        let m = MeanStats {
            name,
            count,
            mean: (!low && count > 0).then(|| sum / count as f64),
            ..MeanStats::default()
        };
        if group == 0 {
            out.drift.push(m);
        } else {
            out.signals.push(m);
        }
    }
    Some(out)
}

/// The lines `fivelens stats` prints for the behaviour figures.
pub fn render_stats(b: &BehaviourStats) -> Vec<String> {
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |r| format!("{:.1}%", r * 100.0));
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |m| format!("{m:.3}"));
    let secs = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |m| format!("{m:.1}s"));
    let mut out = Vec::new();
    if !b.guardrails.is_empty() {
        out.push(String::new());
        out.push("guardrails (every check, sampled or not)".into());
        out.push(format!(
            "  {:<24} {:>7} {:>7} {:>7} {:>7} {:>9} {:>8} {:>9}",
            "POLICY", "PASS", "FLAG", "BLOCK", "FALSE+", "FALSE+ %", "RESUBMIT", "P95"
        ));
        for p in &b.guardrails {
            let v = |k: &str| p.verdicts.get(k).copied().unwrap_or(0);
            out.push(format!(
                "  {:<24} {:>7} {:>7} {:>7} {:>7} {:>9} {:>8} {:>9}",
                p.policy,
                v("pass"),
                v("flag"),
                v("block"),
                p.false_positives,
                pct(p.false_positive_rate),
                p.resubmissions,
                p.p95_ms.map_or_else(|| "-".into(), |m| format!("{m:.1}ms")),
            ));
        }
    }
    if !b.over_redactions.is_empty() {
        let list: Vec<String> = b
            .over_redactions
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        out.push(String::new());
        out.push(format!("over-redaction reports: {}", list.join(", ")));
    }
    if !b.outcomes.is_empty() {
        let list: Vec<String> = b.outcomes.iter().map(|(t, n)| format!("{t} {n}")).collect();
        out.push(String::new());
        out.push("time to good output".into());
        out.push(format!("  outcomes        {}", list.join(", ")));
        out.push(format!("  regenerate rate {}", pct(b.regenerate_rate)));
        out.push(format!(
            "  TTGO            {} sessions, p50 {}, p95 {}",
            b.ttgo_sessions,
            secs(b.ttgo_p50_s),
            secs(b.ttgo_p95_s)
        ));
    }
    for (title, list) in [
        ("evaluations", &b.evaluations),
        (
            "drift: similarity to the golden outputs, by prompt version",
            &b.drift,
        ),
        ("behavioural signals", &b.signals),
    ] {
        if list.is_empty() {
            continue;
        }
        out.push(String::new());
        out.push(title.to_string());
        for m in list {
            let mut line = format!("  {:<40} {:>7}  mean {}", m.name, m.count, num(m.mean));
            if m.hallucination_rate.is_some() {
                line.push_str(&format!("  hallucination {}", pct(m.hallucination_rate)));
            }
            if let Some(d) = m.dropped {
                line.push_str(&format!("  dropped {d}"));
            }
            out.push(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_similarity_sees_words_and_order() {
        assert!((lexical_similarity("The cat sat.", "the CAT sat") - 1.0).abs() < 1e-12);
        assert_eq!(lexical_similarity("", ""), 1.0);
        assert_eq!(lexical_similarity("alpha beta", "gamma delta"), 0.0);
        let reordered = lexical_similarity("a b c d", "d c b a");
        assert!((reordered - 0.5).abs() < 1e-9, "{reordered}");
        let close = lexical_similarity(
            "Refunds are processed within five business days.",
            "Refunds are processed within seven business days.",
        );
        assert!(close > 0.7 && close < 1.0, "{close}");
    }

    #[test]
    fn cosine_of_embeddings() {
        assert!((cosine_similarity(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-12);
        assert_eq!(cosine_similarity(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert_eq!(cosine_similarity(&[1.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn goldens_of_an_input_win_over_the_version() {
        register_golden("unit-v1", None, "version answer");
        register_golden("unit-v1", Some("q1"), "input answer");
        let g = GOLDENS.lock();
        assert_eq!(
            lookup(&g, "unit-v1", Some("q1")).as_deref(),
            Some("input answer")
        );
        assert_eq!(
            lookup(&g, "unit-v1", Some("q2")).as_deref(),
            Some("version answer")
        );
        assert_eq!(lookup(&g, "unit-v2", None), None);
    }
}
