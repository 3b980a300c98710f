//! PII redaction: detectors compiled once, applied by the processing thread to every piece of
//! content before anything reaches an exporter or the store.
//!
//! ```text
//!  text ──> view (JSON escapes blanked, offsets kept) ──> gate (cheap byte census)
//!       ──> detectors that can match (regex: linear time, no backtracking) ──> validators
//!           (Luhn, mod-97, IBAN lengths, SSN ranges, IPv6 parse, boundaries)
//!       ──> custom rules, deny list ──> overlaps resolved ──> allow list ──> replacement
//! ```
//!
//! Detection runs on a *view* of the text in which JSON escape sequences (`\n`, `\"`, `\u00e9`)
//! are blanked with spaces of the same length, so content that arrives JSON-encoded (messages,
//! tool arguments) is scanned as the words its author wrote while offsets stay those of the
//! original, and a replacement can never split an escape: the output of a valid JSON document is
//! a valid JSON document.
//!
//! Every detector is a [`regex`] automaton (guaranteed linear time in the input) whose matches are
//! checked by a validator; when a validator rejects a match the scan resumes after it (or one
//! character later for the digit detectors, whose matches are bounded), so the whole pass stays
//! linear. Matches never start or end inside a word (`(?-u:\b)`, ASCII word boundaries, which
//! the automata handle on any input).

use std::collections::hash_map::Entry;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, LazyLock};

use regex::{Regex, RegexBuilder};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::ids::TraceId;
use crate::key::Key;
use crate::record::{Limits, SpanRecord};
use crate::semconv as sc;
use crate::stats::Stats;
use crate::value::{Value, ValueRef};

/// The built-in entity types, in the order of [`BUILTIN_TYPES`].
pub const EMAIL: &str = "EMAIL";
/// Phone numbers: North American and international (E.164 with separators).
pub const PHONE: &str = "PHONE";
/// Payment card numbers (Luhn-valid, known issuer prefix and length).
pub const CREDIT_CARD: &str = "CREDIT_CARD";
/// International bank account numbers (registered country length, mod-97 valid).
pub const IBAN: &str = "IBAN";
/// US social security numbers.
pub const US_SSN: &str = "US_SSN";
/// IPv4 and IPv6 addresses.
pub const IP_ADDRESS: &str = "IP_ADDRESS";
/// API keys, tokens and passwords (provider formats, and values in `key=value` /
/// `Authorization:` contexts).
pub const SECRET: &str = "SECRET";
/// JSON Web Tokens.
pub const JWT: &str = "JWT";
/// The type of deny-list matches.
pub const DENIED: &str = "DENIED";

/// Every built-in type.
pub const BUILTIN_TYPES: &[&str] = &[
    EMAIL,
    PHONE,
    CREDIT_CARD,
    IBAN,
    US_SSN,
    IP_ADDRESS,
    SECRET,
    JWT,
];

/// What replaces a detected value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `<EMAIL>`.
    #[default]
    Typed,
    /// `<EMAIL_1>`: the same value gets the same number within a trace (within one call of the
    /// `redact` API).
    Indexed,
    /// `<EMAIL:3f9a…>`: the keyed hash (HMAC-SHA256 under the user-hash key, 32 hex digits), the
    /// same one `user.hash` uses, so values correlate without being reversible.
    Hash,
    /// Nothing: the value is cut out.
    Remove,
}

impl Action {
    /// Parses `typed`, `indexed`, `hash` or `remove`.
    pub fn parse(s: &str) -> Option<Action> {
        match s.trim().to_ascii_lowercase().as_str() {
            "typed" | "type" | "placeholder" => Some(Action::Typed),
            "indexed" | "index" => Some(Action::Indexed),
            "hash" | "hmac" => Some(Action::Hash),
            "remove" | "drop" | "delete" => Some(Action::Remove),
            _ => None,
        }
    }
}

/// A custom detector: a regular expression whose matches (or whose `value` group, when it has
/// one) are redacted as type `name`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The entity type, e.g. `EMPLOYEE_ID` (upper-case letters, digits and `_`).
    pub name: String,
    /// The pattern (Rust `regex` syntax: no look-around or back-references; linear time).
    pub pattern: String,
}

/// Redaction settings (part of [`crate::config::Config`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Built-in types to detect.
    pub types: Vec<String>,
    /// Action per type; `*` is the default for types not listed.
    pub actions: FxHashMap<String, Action>,
    /// Custom detectors.
    pub rules: Vec<Rule>,
    /// Values that must always be redacted: exact strings, or `/regex/`.
    pub deny: Vec<String>,
    /// Values that must never be redacted: exact strings, or `/regex/` (whole value).
    pub allow: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            types: BUILTIN_TYPES.iter().map(|s| s.to_string()).collect(),
            actions: FxHashMap::default(),
            rules: Vec::new(),
            deny: Vec::new(),
            allow: Vec::new(),
        }
    }
}

/// A configuration the redactor cannot be built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsError {
    /// The option at fault.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// One detected value: its type and its byte range in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// The type name (`EMAIL`, a custom rule's name, `DENIED`).
    pub kind: Arc<str>,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset past the last byte.
    pub end: usize,
}

/// Numbers handed out for [`Action::Indexed`]: per type, in order of first appearance. Values
/// are kept as keyed digests, never as text.
#[derive(Debug)]
pub struct Indexer {
    seen: FxHashMap<(Arc<str>, u64), u32>,
    next: FxHashMap<Arc<str>, u32>,
    capacity: usize,
}

impl Default for Indexer {
    fn default() -> Self {
        Indexer::with_capacity(4096)
    }
}

impl Indexer {
    /// An indexer that remembers at most `capacity` distinct values; past it, new values get
    /// fresh numbers (still never a number another value had).
    pub fn with_capacity(capacity: usize) -> Indexer {
        Indexer {
            seen: FxHashMap::default(),
            next: FxHashMap::default(),
            capacity,
        }
    }

    fn index(&mut self, kind: &Arc<str>, value: &str) -> u32 {
        let digest = value_digest(value);
        let counter = self.next.entry(kind.clone()).or_insert(0);
        if self.seen.len() >= self.capacity {
            if let Some(&n) = self.seen.get(&(kind.clone(), digest)) {
                return n;
            }
            *counter += 1;
            return *counter;
        }
        match self.seen.entry((kind.clone(), digest)) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                *counter += 1;
                *e.insert(*counter)
            }
        }
    }
}

/// A 64-bit digest of a value for the indexer (SipHash under a per-process random key, so the
/// table holds no value and no stable fingerprint of one).
fn value_digest(value: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static STATE: LazyLock<std::collections::hash_map::RandomState> =
        LazyLock::new(std::collections::hash_map::RandomState::new);
    let mut h = STATE.build_hasher();
    h.write(value.as_bytes());
    h.finish()
}

/// Counts of entities by type found in one text or span.
pub type Counts = Vec<(Arc<str>, u32)>;

// ---- the pipeline stage ---------------------------------------------------------------------

/// Traces whose indexed placeholders are remembered at once, and values per trace.
const STAGE_TRACES: usize = 256;
const STAGE_VALUES_PER_TRACE: usize = 256;

/// The processing thread's redaction step: every content attribute of a span and of its events
/// (the journal, MCP notifications) and every exception message, before metrics, the store and
/// the exporters see the span.
pub struct Stage {
    redactor: Arc<Redactor>,
    indexers: FxHashMap<TraceId, Indexer>,
    order: VecDeque<TraceId>,
}

impl Stage {
    /// A stage using `redactor`.
    pub fn new(redactor: Arc<Redactor>) -> Stage {
        Stage {
            redactor,
            indexers: FxHashMap::default(),
            order: VecDeque::new(),
        }
    }

    fn indexer(&mut self, trace: TraceId) -> &mut Indexer {
        if !self.indexers.contains_key(&trace) {
            if self.order.len() >= STAGE_TRACES {
                if let Some(old) = self.order.pop_front() {
                    self.indexers.remove(&old);
                }
            }
            self.order.push_back(trace);
        }
        self.indexers
            .entry(trace)
            .or_insert_with(|| Indexer::with_capacity(STAGE_VALUES_PER_TRACE))
    }

    /// Redacts `r` in place; records `fivelens.redaction.<type>` counts on it and returns them;
    /// `stats` gets the texts, bytes, time and values.
    pub fn process(&mut self, r: &mut SpanRecord, limits: &Limits, stats: &Stats) -> Counts {
        let started = std::time::Instant::now();
        let (mut texts, mut bytes) = (0u64, 0u64);
        let mut counts = Counts::new();
        let redactor = self.redactor.clone();
        let is_content = |k: &str| {
            sc::CONTENT_KEYS.contains(&k)
                || k == sc::EXCEPTION_MESSAGE
                || k == sc::EXCEPTION_STACKTRACE
        };
        let mut changed: Vec<(&'static str, String)> = Vec::new();
        for key in sc::CONTENT_KEYS {
            if let Some(ValueRef::Str(v)) = r.attribute(key) {
                texts += 1;
                bytes += v.len() as u64;
                let (out, found) = redactor.redact(v, self.indexer(r.trace_id));
                for e in &found {
                    bump(&mut counts, &e.kind);
                }
                if let std::borrow::Cow::Owned(out) = out {
                    changed.push((key, out));
                }
            }
        }
        for (key, out) in changed {
            r.set_str(Key::new(key), &out, limits);
        }
        let trace = r.trace_id;
        for i in 0..r.events.len() {
            for j in 0..r.events[i].attributes.len() {
                let (k, v) = &r.events[i].attributes[j];
                let Value::Str(text) = v else { continue };
                if !is_content(k.as_str()) {
                    continue;
                }
                texts += 1;
                bytes += text.len() as u64;
                let (out, found) = redactor.redact(text, self.indexer(trace));
                for e in &found {
                    bump(&mut counts, &e.kind);
                }
                if let std::borrow::Cow::Owned(out) = out {
                    r.events[i].attributes[j].1 = Value::Str(out.into());
                }
            }
        }
        // An error's description is usually the exception message, which quotes its input.
        if let crate::record::Status::Error(message) = &r.status {
            texts += 1;
            bytes += message.len() as u64;
            let (out, found) = redactor.redact(message, self.indexer(trace));
            for e in &found {
                bump(&mut counts, &e.kind);
            }
            if let std::borrow::Cow::Owned(out) = out {
                r.status = crate::record::Status::Error(out.into());
            }
        }
        for (kind, n) in &counts {
            let key = format!(
                "{}{}",
                sc::FIVELENS_REDACTION_PREFIX,
                kind.to_ascii_lowercase()
            );
            r.set_attribute_ref(Key::new(&key), ValueRef::I64(i64::from(*n)), limits);
        }
        if texts > 0 {
            let relaxed = std::sync::atomic::Ordering::Relaxed;
            stats.redaction_texts.fetch_add(texts, relaxed);
            stats.redaction_bytes.fetch_add(bytes, relaxed);
            stats
                .redaction_ns
                .fetch_add(started.elapsed().as_nanos() as u64, relaxed);
            let values: u32 = counts.iter().map(|c| c.1).sum();
            stats.redacted_values.fetch_add(u64::from(values), relaxed);
        }
        counts
    }
}

impl Stage {
    /// Redacts one text of `trace` (a log record's body or attribute), adding what it found to
    /// `counts` and the work to `stats`; `None` when nothing was found.
    pub fn redact_text(
        &mut self,
        trace: TraceId,
        text: &str,
        counts: &mut Counts,
        stats: &Stats,
    ) -> Option<String> {
        if text.is_empty() {
            return None;
        }
        let started = std::time::Instant::now();
        let redactor = self.redactor.clone();
        let (out, found) = redactor.redact(text, self.indexer(trace));
        for e in &found {
            bump(counts, &e.kind);
        }
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        stats.redaction_texts.fetch_add(1, relaxed);
        stats.redaction_bytes.fetch_add(text.len() as u64, relaxed);
        stats
            .redaction_ns
            .fetch_add(started.elapsed().as_nanos() as u64, relaxed);
        stats.redacted_values.fetch_add(found.len() as u64, relaxed);
        match out {
            std::borrow::Cow::Owned(s) => Some(s),
            std::borrow::Cow::Borrowed(_) => None,
        }
    }
}

fn bump(counts: &mut Counts, kind: &Arc<str>) {
    if let Some(c) = counts.iter_mut().find(|(k, _)| k == kind) {
        c.1 += 1;
    } else {
        counts.push((kind.clone(), 1));
    }
}

// ---- detectors ----------------------------------------------------------------------------

/// Which validator checks a regex match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    Email,
    PhoneNanp,
    PhoneIntl,
    Card,
    Iban,
    Ssn,
    SsnContext,
    Ipv4,
    Ipv6,
    SecretToken,
    SecretContext,
    Jwt,
    Custom,
    Deny,
}

/// Where detectors can match, from one pass over the bytes of a text: counts that gate whole
/// detectors, the runs of digits and separators the digit detectors scan, and the positions the
/// IBAN and credential-context detectors start from.
#[derive(Debug, Default)]
struct Survey {
    digits: usize,
    at: bool,
    colons: usize,
    windows: Vec<Window>,
    /// Starts of `[A-Z]{2}[0-9]{2}` at a word start.
    iban_at: Vec<usize>,
    /// Byte ranges around `:`, `=` and `bearer ` (merged) where a credential context can be.
    context: Vec<(usize, usize)>,
}

/// How far before a `:` or `=` a credential key can start, and after it its value can end.
const CONTEXT_BEFORE: usize = 48;
const CONTEXT_AFTER: usize = 600;

impl Survey {
    fn of(text: &str) -> Survey {
        let b = text.as_bytes();
        let mut s = Survey::default();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            match c {
                b'0'..=b'9' | b'+' | b'(' => {
                    // A run of digits and separators.
                    let start = i;
                    let (mut digits, mut dots) = (0, 0);
                    while i < b.len()
                        && matches!(b[i], b'0'..=b'9' | b' ' | b'-' | b'.' | b'(' | b')' | b'+')
                    {
                        digits += usize::from(b[i].is_ascii_digit());
                        dots += usize::from(b[i] == b'.');
                        i += 1;
                    }
                    s.digits += digits;
                    let mut end = i;
                    while end > start && matches!(b[end - 1], b' ' | b'.' | b'-' | b'(' | b'+') {
                        end -= 1;
                    }
                    if digits >= 4 {
                        s.windows.push(Window {
                            start,
                            end,
                            digits,
                            dots,
                        });
                    }
                    if i == start {
                        i += 1;
                    }
                    continue;
                }
                b'@' => s.at = true,
                b':' | b'=' => {
                    s.colons += usize::from(c == b':');
                    s.add_context(text, i);
                }
                b' ' if i >= 6 && b[i - 6..i].eq_ignore_ascii_case(b"bearer") => {
                    s.add_context(text, i);
                }
                b'A'..=b'Z'
                    if b.len() >= i + 4
                        && b[i + 1].is_ascii_uppercase()
                        && b[i + 2].is_ascii_digit()
                        && b[i + 3].is_ascii_digit()
                        && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) =>
                {
                    s.iban_at.push(i);
                }
                _ => {}
            }
            i += 1;
        }
        s
    }

    fn add_context(&mut self, text: &str, at: usize) {
        let mut from = at.saturating_sub(CONTEXT_BEFORE);
        while !text.is_char_boundary(from) {
            from -= 1;
        }
        let mut to = (at + CONTEXT_AFTER).min(text.len());
        while !text.is_char_boundary(to) {
            to += 1;
        }
        match self.context.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => self.context.push((from, to)),
        }
    }
}

struct Detector {
    kind: Arc<str>,
    check: Check,
    regex: Regex,
    /// Overlap priority (higher wins among overlapping candidates of the same length class).
    priority: u8,
    /// For rules with a `value` group: redact only that group.
    value_group: Option<usize>,
}

impl Detector {
    /// Whether the detector only looks inside [`digit_windows`].
    fn windowed(&self) -> bool {
        matches!(
            self.check,
            Check::PhoneNanp | Check::PhoneIntl | Check::Card | Check::Ssn | Check::Ipv4
        )
    }

    /// Whether a window has the digits (and dots) a match needs.
    fn fits(&self, w: &Window) -> bool {
        match self.check {
            Check::Ipv4 => w.digits >= 4 && w.dots >= 3,
            Check::Ssn => w.digits >= 9,
            Check::PhoneNanp => w.digits >= 10,
            Check::PhoneIntl => w.digits >= 8,
            Check::Card => w.digits >= 12,
            _ => true,
        }
    }

    fn may_match(&self, s: &Survey) -> bool {
        match self.check {
            Check::Email => s.at,
            Check::PhoneNanp | Check::PhoneIntl | Check::Card | Check::Ssn | Check::Ipv4 => {
                !s.windows.is_empty()
            }
            Check::Iban => !s.iban_at.is_empty(),
            Check::SsnContext => s.digits >= 9,
            Check::Ipv6 => s.colons >= 2,
            Check::SecretContext => !s.context.is_empty(),
            _ => true,
        }
    }
}

fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(16 << 20)
        .dfa_size_limit(8 << 20)
        .build()
}

/// What precedes a credential: `Authorization:`, `Bearer`, or a key name that says secret, then
/// `:` or `=` (the value follows, [`SECRET_VALUE`]).
const SECRET_CONTEXT_PREFIX: &str = concat!(
    r"(?i-u)(?:",
    r"\b(?:proxy-)?authorization\s*[:=]\s*(?:(?:bearer|basic|token|digest|apikey)\s+)?",
    r"|\bbearer\s+",
    r"|(?:api[_-]?key|apikey|secret(?:[_-]?key)?|access[_-]?token|refresh[_-]?token|auth[_-]?token|id[_-]?token|session[_-]?token|\btoken|passw(?:or)?d|\bpwd|passphrase|credentials?|private[_-]?key|client[_-]?secret|access[_-]?key(?:[_-]?id)?|signing[_-]?key)",
    r"\\?[\x22']?\s*[:=]\s*\\?[\x22']?",
    r")",
);
/// A credential value after [`SECRET_CONTEXT_PREFIX`].
const SECRET_VALUE: &str = r"[A-Za-z0-9!#$%&()*+./:;<=>?@^_`{|}~-]{6,512}";

/// The built-in detectors: (type, validator, priority, pattern).
fn builtin_patterns() -> Vec<(&'static str, Check, u8, &'static str)> {
    vec![
        (
            EMAIL,
            Check::Email,
            50,
            r"(?i-u)\b[a-z0-9][a-z0-9._%+-]{0,63}@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,8}[a-z]{2,24}\b",
        ),
        (
            PHONE,
            Check::PhoneNanp,
            20,
            r"(?-u)(?:\+1[ .-]?|\b1[ .-])?(?:\(\d{3}\)[ .-]?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b|\+1\d{10}\b",
        ),
        (
            PHONE,
            Check::PhoneIntl,
            20,
            r"(?-u)(?:\+|\b00)[1-9]\d{0,2}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,6})){1,7}\b",
        ),
        (
            CREDIT_CARD,
            Check::Card,
            40,
            r"(?-u)\b\d{4}(?:[ .-]?\d{1,6}){2,6}\b",
        ),
        (
            IBAN,
            Check::Iban,
            45,
            r"(?-u)\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){2,9}\b",
        ),
        (
            US_SSN,
            Check::Ssn,
            30,
            r"(?-u)\b\d{3}(?:-\d{2}-| \d{2} )\d{4}\b",
        ),
        (
            US_SSN,
            Check::SsnContext,
            30,
            r"(?i-u)\b(?:ssn|social security(?: number| no\.?)?|ss#)[\s:#=-]{0,4}\d{9}\b",
        ),
        (
            IP_ADDRESS,
            Check::Ipv4,
            25,
            r"(?-u)\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b",
        ),
        (
            IP_ADDRESS,
            Check::Ipv6,
            25,
            r"(?i-u)(?:[0-9a-f]{1,4})?(?::[0-9a-f]{0,4}){2,7}(?:(?:\.\d{1,3}){3})?(?:%[0-9a-z]{1,15})?",
        ),
        (
            SECRET,
            Check::SecretToken,
            60,
            concat!(
                r"(?-u)\b(?:",
                r"sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin|sid)\d{2}-)?[A-Za-z0-9_-]{20,}",
                r"|(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}",
                r"|(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}",
                r"|github_pat_[A-Za-z0-9_]{22,}",
                r"|xox[abposre]-[A-Za-z0-9-]{10,}",
                r"|xapp-\d-[A-Za-z0-9-]{10,}",
                r"|AIza[0-9A-Za-z_-]{35}",
                r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",
                r"|glpat-[A-Za-z0-9_-]{20,}",
                r"|hf_[A-Za-z0-9]{30,}",
                r"|npm_[A-Za-z0-9]{36}",
                r"|pypi-[A-Za-z0-9_-]{50,}",
                r")\b",
                r"|https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}",
                r"|-----BEGIN[A-Z ]{0,20}PRIVATE KEY-----[A-Za-z0-9+/=\s\\n]{16,}?-----END[A-Z ]{0,20}PRIVATE KEY-----",
            ),
        ),
        // Compiled with [`SECRET_VALUE`] appended (see [`BUILTIN`]).
        (SECRET, Check::SecretContext, 10, SECRET_CONTEXT_PREFIX),
        (
            JWT,
            Check::Jwt,
            70,
            r"(?-u)\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
        ),
    ]
}

/// The compiled built-in detectors (shared by every redactor).
/// A compiled built-in detector: (type, validator, priority, regex).
type Builtin = (&'static str, Check, u8, Option<Regex>);

static BUILTIN: LazyLock<Vec<Builtin>> = LazyLock::new(|| {
    builtin_patterns()
        .into_iter()
        .map(|(kind, check, priority, pattern)| {
            let regex = if check == Check::SecretContext {
                compile(&format!("{SECRET_CONTEXT_PREFIX}{SECRET_VALUE}"))
            } else {
                compile(pattern)
            };
            (kind, check, priority, regex.ok())
        })
        .collect()
});

/// The prefix alone: where its match ends, the value starts.
static SECRET_PREFIX: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(SECRET_CONTEXT_PREFIX).ok());

/// A compiled redactor: immutable, shared by the processing thread and the `redact` API.
pub struct Redactor {
    detectors: Vec<Detector>,
    actions: FxHashMap<Arc<str>, Action>,
    default_action: Action,
    allow_exact: FxHashSet<String>,
    allow_patterns: Vec<Regex>,
    kinds: FxHashMap<String, Arc<str>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("detectors", &self.detectors.len())
            .finish()
    }
}

fn is_type_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `/pattern/` entries of a list are regexes; everything else is an exact string.
fn split_list(entries: &[String]) -> (Vec<&str>, Vec<&str>) {
    let mut exact = Vec::new();
    let mut patterns = Vec::new();
    for e in entries {
        if e.len() >= 2 && e.starts_with('/') && e.ends_with('/') {
            patterns.push(&e[1..e.len() - 1]);
        } else if !e.is_empty() {
            exact.push(e.as_str());
        }
    }
    (exact, patterns)
}

impl Redactor {
    /// Compiles `settings`; errors name the option at fault.
    pub fn new(settings: &Settings) -> Result<Redactor, SettingsError> {
        let mut kinds: FxHashMap<String, Arc<str>> = FxHashMap::default();
        let mut kind = |name: &str| -> Arc<str> {
            kinds
                .entry(name.to_string())
                .or_insert_with(|| Arc::from(name))
                .clone()
        };
        for t in &settings.types {
            if !BUILTIN_TYPES.contains(&t.as_str()) {
                return Err(SettingsError {
                    field: "redact_types",
                    message: format!(
                        "unknown type {t:?} (built-in types: {})",
                        BUILTIN_TYPES.join(", ")
                    ),
                });
            }
        }
        let mut detectors = Vec::new();
        let builtin: &[Builtin] = if settings.types.is_empty() {
            &[]
        } else {
            &BUILTIN
        };
        for (name, check, priority, regex) in builtin {
            if !settings.types.iter().any(|t| t == name) {
                continue;
            }
            let Some(regex) = regex else {
                return Err(SettingsError {
                    field: "redact_types",
                    message: format!("internal: the {name} detector did not compile"),
                });
            };
            detectors.push(Detector {
                kind: kind(name),
                check: *check,
                regex: regex.clone(),
                priority: *priority,
                value_group: None,
            });
        }
        for rule in &settings.rules {
            if !is_type_name(&rule.name) {
                return Err(SettingsError {
                    field: "redact_rules",
                    message: format!(
                        "rule name {:?} must be upper-case letters, digits and _ (e.g. EMPLOYEE_ID)",
                        rule.name
                    ),
                });
            }
            let regex = compile(&rule.pattern).map_err(|e| SettingsError {
                field: "redact_rules",
                message: format!("rule {}: {e}", rule.name),
            })?;
            if regex.is_match("") {
                return Err(SettingsError {
                    field: "redact_rules",
                    message: format!("rule {}: the pattern matches the empty string", rule.name),
                });
            }
            let value_group = regex.capture_names().position(|n| n == Some("value"));
            detectors.push(Detector {
                kind: kind(&rule.name),
                check: Check::Custom,
                regex,
                priority: 80,
                value_group,
            });
        }
        let (deny_exact, deny_patterns) = split_list(&settings.deny);
        let mut deny_alternatives: Vec<String> =
            deny_exact.iter().map(|s| regex::escape(s)).collect();
        for p in &deny_patterns {
            compile(p).map_err(|e| SettingsError {
                field: "redact_deny",
                message: format!("/{p}/: {e}"),
            })?;
            deny_alternatives.push(format!("(?:{p})"));
        }
        if !deny_alternatives.is_empty() {
            let regex = compile(&deny_alternatives.join("|")).map_err(|e| SettingsError {
                field: "redact_deny",
                message: e.to_string(),
            })?;
            if regex.is_match("") {
                return Err(SettingsError {
                    field: "redact_deny",
                    message: "a pattern matches the empty string".into(),
                });
            }
            detectors.push(Detector {
                kind: kind(DENIED),
                check: Check::Deny,
                regex,
                priority: 255,
                value_group: None,
            });
        }
        let (allow_exact, allow_patterns) = split_list(&settings.allow);
        let allow_patterns = allow_patterns
            .iter()
            .map(|p| {
                compile(&format!("^(?:{p})$")).map_err(|e| SettingsError {
                    field: "redact_allow",
                    message: format!("/{p}/: {e}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut actions = FxHashMap::default();
        let mut default_action = Action::Typed;
        for (name, action) in &settings.actions {
            if name == "*" {
                default_action = *action;
            } else if is_type_name(name) {
                actions.insert(kind(name), *action);
            } else {
                return Err(SettingsError {
                    field: "redact_actions",
                    message: format!("{name:?} is not a type name"),
                });
            }
        }
        Ok(Redactor {
            detectors,
            actions,
            default_action,
            allow_exact: allow_exact.into_iter().map(str::to_string).collect(),
            allow_patterns,
            kinds,
        })
    }

    /// Checks `settings` without compiling the built-in detectors (tens of milliseconds, left to
    /// the first use): unknown types, rule names and patterns, list patterns, action names.
    pub fn check(settings: &Settings) -> Result<(), SettingsError> {
        let types = settings.types.clone();
        Redactor::new(&Settings {
            types: Vec::new(),
            ..settings.clone()
        })?;
        match types.iter().find(|t| !BUILTIN_TYPES.contains(&t.as_str())) {
            Some(t) => Err(SettingsError {
                field: "redact_types",
                message: format!(
                    "unknown type {t:?} (built-in types: {})",
                    BUILTIN_TYPES.join(", ")
                ),
            }),
            None => Ok(()),
        }
    }

    /// The redactor of the default settings.
    pub fn default_shared() -> Arc<Redactor> {
        static DEFAULT: LazyLock<Option<Arc<Redactor>>> =
            LazyLock::new(|| Redactor::new(&Settings::default()).ok().map(Arc::new));
        DEFAULT.clone().unwrap_or_else(|| {
            Arc::new(Redactor {
                detectors: Vec::new(),
                actions: FxHashMap::default(),
                default_action: Action::Typed,
                allow_exact: FxHashSet::default(),
                allow_patterns: Vec::new(),
                kinds: FxHashMap::default(),
            })
        })
    }

    /// The action for entities of `kind`.
    pub fn action(&self, kind: &str) -> Action {
        self.actions
            .get(kind)
            .copied()
            .unwrap_or(self.default_action)
    }

    /// The entities in `text`, sorted and non-overlapping.
    pub fn find(&self, text: &str) -> Vec<Entity> {
        if text.is_empty() || self.detectors.is_empty() {
            return Vec::new();
        }
        let view = View::of(text);
        let scan = view.text();
        let survey = Survey::of(scan);
        let mut found: Vec<(usize, usize, u8, usize)> = Vec::new();
        for (di, d) in self.detectors.iter().enumerate() {
            if d.may_match(&survey) {
                self.scan(d, di, scan, &survey, &mut found);
            }
        }
        if found.is_empty() {
            return Vec::new();
        }
        let json = looks_like_json(text);
        let mut entities = resolve(found);
        entities.retain_mut(|(start, end, _, _)| {
            if json {
                // A custom pattern must not reach across a JSON string's quotes.
                if let Some(q) = text[*start..*end].find('"') {
                    *end = *start + q;
                }
            }
            *end > *start
        });
        let mut out = Vec::with_capacity(entities.len());
        for (start, end, _, di) in entities {
            let value = &text[start..end];
            if self.is_allowed(value) {
                continue;
            }
            out.push(Entity {
                kind: self.detectors[di].kind.clone(),
                start,
                end,
            });
        }
        out
    }

    fn is_allowed(&self, value: &str) -> bool {
        (!self.allow_exact.is_empty() && self.allow_exact.contains(value))
            || self.allow_patterns.iter().any(|r| r.is_match(value))
    }

    /// Runs one detector over `scan` (the digit detectors only over the windows of digits and
    /// separators that could hold a match), pushing validated candidates.
    fn scan(
        &self,
        d: &Detector,
        di: usize,
        scan: &str,
        survey: &Survey,
        found: &mut Vec<(usize, usize, u8, usize)>,
    ) {
        if d.windowed() {
            for w in &survey.windows {
                if d.fits(w) {
                    self.scan_range(d, di, scan, w.start, w.end, found);
                }
            }
        } else if d.check == Check::Iban {
            // An IBAN is at most 34 characters and 8 group spaces.
            let mut done = 0;
            for &at in &survey.iban_at {
                if at >= done {
                    let to = (at + 42).min(scan.len());
                    let to = (to..=scan.len())
                        .find(|&i| scan.is_char_boundary(i))
                        .unwrap_or(scan.len());
                    self.scan_range(d, di, scan, at, to, found);
                    done = to;
                }
            }
        } else if d.check == Check::SecretContext {
            for &(from, to) in &survey.context {
                self.scan_range(d, di, scan, from, to, found);
            }
        } else {
            self.scan_range(d, di, scan, 0, scan.len(), found);
        }
    }

    /// Runs one detector over `scan[from..to]` (looking behind `from` for boundaries; validators
    /// see the whole text).
    fn scan_range(
        &self,
        d: &Detector,
        di: usize,
        scan: &str,
        from: usize,
        to: usize,
        found: &mut Vec<(usize, usize, u8, usize)>,
    ) {
        let bytes = scan.as_bytes();
        let hay = &scan[..to];
        let mut pos = from;
        while pos < to {
            let Some(m) = d.regex.find_at(hay, pos) else {
                break;
            };
            let (m_start, m_end) = (m.start(), m.end());
            if m_end == m_start {
                pos = next_boundary(scan, m_start);
                continue;
            }
            // Groups only where needed, and only over the match (the capture engines are slower).
            let inner = match d.check {
                Check::SsnContext => Some((m_end - 9, m_end)),
                Check::SecretContext => SECRET_PREFIX
                    .as_ref()
                    .and_then(|p| p.find_at(&scan[..m_end], m_start))
                    .map(|p| (p.end(), m_end)),
                Check::Custom => d.value_group.and_then(|g| {
                    d.regex
                        .captures_at(&scan[..m_end], m_start)
                        .and_then(|c| c.get(g))
                        .map(|v| (v.start(), v.end()))
                }),
                _ => None,
            };
            let accepted = match d.check {
                Check::Email => valid_email(&scan[m_start..m_end]).then_some((m_start, m_end)),
                Check::PhoneNanp => valid_nanp(bytes, m_start, m_end),
                Check::PhoneIntl => valid_intl_phone(bytes, m_start, m_end),
                Check::Card => valid_card(bytes, m_start, m_end),
                Check::Iban => valid_iban(bytes, m_start, m_end),
                Check::Ssn => valid_ssn(bytes, m_start, m_end),
                Check::SsnContext => inner.and_then(|(s, e)| valid_ssn(bytes, s, e)),
                Check::Ipv4 => valid_ipv4(bytes, m_start, m_end),
                Check::Ipv6 => valid_ipv6(scan, m_start, m_end),
                Check::SecretToken => Some((m_start, m_end)),
                Check::SecretContext => inner.and_then(|(s, e)| valid_context_secret(scan, s, e)),
                Check::Jwt => Some((m_start, m_end)),
                Check::Custom => Some(inner.unwrap_or((m_start, m_end))),
                Check::Deny => Some((m_start, m_end)),
            };
            match accepted {
                Some((s, e)) if e > s => {
                    found.push((s, e, d.priority, di));
                    pos = m_end.max(next_boundary(scan, m_start));
                }
                _ => {
                    // Digit runs are bounded: retry one character on (a shorter or shifted
                    // reading may be valid). Token-like matches resume after the match: anything
                    // starting inside it is not at a word boundary.
                    pos = if d.windowed() || d.check == Check::Iban || d.check == Check::Ipv6 {
                        next_boundary(scan, m_start)
                    } else {
                        m_end
                    };
                }
            }
        }
    }

    /// Replaces the entities of `text`, numbering indexed ones with `indexer`; returns the text
    /// (borrowed when nothing was found) and the counts by type.
    pub fn redact<'a>(
        &self,
        text: &'a str,
        indexer: &mut Indexer,
    ) -> (std::borrow::Cow<'a, str>, Vec<Entity>) {
        let entities = self.find(text);
        if entities.is_empty() {
            return (std::borrow::Cow::Borrowed(text), entities);
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for e in &entities {
            out.push_str(&text[last..e.start]);
            self.placeholder(&mut out, &e.kind, &text[e.start..e.end], indexer);
            last = e.end;
        }
        out.push_str(&text[last..]);
        (std::borrow::Cow::Owned(out), entities)
    }

    fn placeholder(&self, out: &mut String, kind: &Arc<str>, value: &str, indexer: &mut Indexer) {
        use std::fmt::Write as _;
        match self.action(kind) {
            Action::Typed => {
                let _ = write!(out, "<{kind}>");
            }
            Action::Indexed => {
                let n = indexer.index(kind, value);
                let _ = write!(out, "<{kind}_{n}>");
            }
            Action::Hash => {
                let _ = write!(out, "<{kind}:{}>", crate::scope::hash_user_id(value));
            }
            Action::Remove => {}
        }
    }

    /// The interned name of a type this redactor knows.
    pub fn kind(&self, name: &str) -> Option<Arc<str>> {
        self.kinds.get(name).cloned()
    }
}

/// Keeps the best of overlapping candidates: the longer one, then the higher priority.
fn resolve(mut found: Vec<(usize, usize, u8, usize)>) -> Vec<(usize, usize, u8, usize)> {
    found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut kept: Vec<(usize, usize, u8, usize)> = Vec::with_capacity(found.len());
    for c in found {
        let Some(last) = kept.last().copied() else {
            kept.push(c);
            continue;
        };
        if c.0 >= last.1 {
            kept.push(c);
            continue;
        }
        // Overlap: the deny list always wins; otherwise prefer length, then priority.
        let better = if c.2 == 255 || last.2 == 255 {
            c.2 > last.2
        } else {
            let (lc, ll) = (c.1 - c.0, last.1 - last.0);
            lc > ll || (lc == ll && c.2 > last.2)
        };
        if better {
            kept.pop();
            // The replacement may also overlap earlier kept entities: drop those it covers.
            while let Some(prev) = kept.last() {
                if prev.1 > c.0 {
                    kept.pop();
                } else {
                    break;
                }
            }
            kept.push(c);
        }
    }
    kept
}

/// A run of digits and separators, with its census.
#[derive(Clone, Copy, Debug)]
struct Window {
    start: usize,
    end: usize,
    digits: usize,
    dots: usize,
}

fn looks_like_json(text: &str) -> bool {
    matches!(
        text.trim_start().as_bytes().first(),
        Some(b'[' | b'{' | b'"')
    )
}

fn next_boundary(s: &str, i: usize) -> usize {
    let mut j = i + 1;
    while j < s.len() && !s.is_char_boundary(j) {
        j += 1;
    }
    j
}

/// The text as detectors see it: JSON escape sequences blanked (same byte length), so an escaped
/// newline separates words and offsets map one to one onto the original.
enum View<'a> {
    Same(&'a str),
    Blanked(String),
}

impl<'a> View<'a> {
    fn of(text: &'a str) -> View<'a> {
        if !text.as_bytes().contains(&b'\\') {
            return View::Same(text);
        }
        let bytes = text.as_bytes();
        let mut out = bytes.to_vec();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'\\' {
                i += 1;
                continue;
            }
            let len = match bytes.get(i + 1) {
                Some(b'u')
                    if bytes.len() >= i + 6
                        && bytes[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit) =>
                {
                    6
                }
                Some(c) if c.is_ascii() => 2,
                _ => 1,
            };
            for b in &mut out[i..i + len] {
                *b = b' ';
            }
            i += len;
        }
        // Only ASCII bytes were replaced by ASCII spaces: still UTF-8.
        match String::from_utf8(out) {
            Ok(s) => View::Blanked(s),
            Err(_) => View::Same(text),
        }
    }

    fn text(&self) -> &str {
        match self {
            View::Same(s) => s,
            View::Blanked(s) => s,
        }
    }
}

// ---- validators -----------------------------------------------------------------------------

fn prev_byte(b: &[u8], i: usize) -> Option<u8> {
    i.checked_sub(1).map(|j| b[j])
}

fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && domain.len() <= 253
        && domain.contains('.')
}

/// Digits of `b[start..end]` and the groups they form (separator before each group).
fn groups(b: &[u8], start: usize, end: usize) -> Vec<(usize, usize, Option<u8>)> {
    let mut out = Vec::new();
    let mut i = start;
    let mut sep = None;
    while i < end {
        if b[i].is_ascii_digit() {
            let s = i;
            while i < end && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push((s, i, sep));
            sep = None;
        } else {
            sep = Some(b[i]);
            i += 1;
        }
    }
    out
}

/// A digit run must not continue past the match through a separator (`725-180-9679-1`) or a
/// decimal point.
fn digits_end_cleanly(b: &[u8], end: usize) -> bool {
    match (b.get(end), b.get(end + 1)) {
        (Some(b'-' | b'.' | b'/'), Some(d)) if d.is_ascii_digit() => false,
        (Some(c), _) if c.is_ascii_alphanumeric() => false,
        _ => true,
    }
}

fn digits_start_cleanly(b: &[u8], start: usize) -> bool {
    match (prev_byte(b, start), start.checked_sub(2).map(|j| b[j])) {
        (Some(b'-' | b'.' | b'/' | b'#'), Some(d)) if d.is_ascii_digit() => false,
        (Some(c), _) if c.is_ascii_alphanumeric() || c == b'_' => false,
        _ => true,
    }
}

fn valid_nanp(b: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    if !digits_start_cleanly(b, start) || !digits_end_cleanly(b, end) {
        return None;
    }
    let digits: Vec<u8> = b[start..end]
        .iter()
        .filter(|c| c.is_ascii_digit())
        .map(|c| c - b'0')
        .collect();
    let national = match digits.len() {
        10 => &digits[..],
        11 if digits[0] == 1 => &digits[1..],
        _ => return None,
    };
    let _ = national;
    Some((start, end))
}

fn valid_intl_phone(b: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let body_start = if b[start] == b'+' { start + 1 } else { start };
    if b[start] == b'+' {
        if let Some(p) = prev_byte(b, start) {
            if p.is_ascii_alphanumeric() {
                return None;
            }
        }
    } else if !digits_start_cleanly(b, start) {
        return None;
    }
    let gs = groups(b, body_start, end);
    // Drop trailing groups that push past 15 digits (a year or a count glued on after a space).
    let mut count: usize = gs.iter().map(|g| g.1 - g.0).sum();
    let mut last = gs.len();
    while count > 15 && last > 1 {
        last -= 1;
        count -= gs[last].1 - gs[last].0;
    }
    if !(8..=15).contains(&count) || last < 2 {
        return None;
    }
    let mut e = gs[last - 1].1;
    // A closing parenthesis belongs to the number.
    if b.get(e) == Some(&b')') && e < end {
        e += 1;
    }
    if last == gs.len() && !digits_end_cleanly(b, end) {
        return None;
    }
    Some((start, e))
}

fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// A known issuer prefix with one of its lengths.
fn card_issuer_ok(d: &[u8]) -> bool {
    let n = d.len();
    let p = |k: usize| d.iter().take(k).fold(0u32, |a, x| a * 10 + u32::from(*x));
    match d[0] {
        4 => matches!(n, 13 | 16 | 19),
        5 => {
            let two = p(2);
            ((51..=55).contains(&two) && n == 16)
                || ((two == 50 || (56..=59).contains(&two)) && (12..=19).contains(&n))
        }
        2 => {
            let four = p(4);
            ((2221..=2720).contains(&four) && n == 16)
                || ((2200..=2204).contains(&four) && (16..=19).contains(&n))
        }
        3 => {
            let two = p(2);
            let four = p(4);
            ((two == 34 || two == 37) && n == 15)
                || ((3528..=3589).contains(&four) && (16..=19).contains(&n))
                || (((300..=305).contains(&p(3)) || two == 36 || two == 38 || two == 39)
                    && (14..=19).contains(&n))
        }
        6 => (12..=19).contains(&n),
        _ => false,
    }
}

fn valid_card(b: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    if !digits_start_cleanly(b, start) {
        return None;
    }
    let gs = groups(b, start, end);
    // Windows of consecutive groups from the first: one separator kind throughout, 13-19 digits,
    // grouping of a printed card (first group of 4, then groups of 3-6), Luhn and issuer valid.
    let sep = gs.get(1).and_then(|g| g.2);
    let mut digits: Vec<u8> = Vec::with_capacity(19);
    let mut best = None;
    for (k, g) in gs.iter().enumerate() {
        if k > 0 && (g.2 != sep || !(3..=6).contains(&(g.1 - g.0))) {
            break;
        }
        if k == 0 && gs.len() > 1 && g.1 - g.0 != 4 && g.1 - g.0 < 13 {
            break;
        }
        digits.extend(b[g.0..g.1].iter().map(|c| c - b'0'));
        if digits.len() > 19 {
            break;
        }
        if digits.len() >= 13 && luhn(&digits) && card_issuer_ok(&digits) {
            let clean_end = k + 1 < gs.len() || digits_end_cleanly(b, g.1);
            if clean_end && (k + 1 == gs.len() || gs[k + 1].2 != sep || sep.is_some()) {
                best = Some((start, g.1));
            }
        }
    }
    // A single undivided run must be the whole run.
    if gs.len() == 1 {
        return best.filter(|_| digits_end_cleanly(b, end));
    }
    best
}

/// IBAN lengths by country (ISO 13616 registry).
fn iban_length(cc: &[u8]) -> Option<usize> {
    let n = match cc {
        b"AD" => 24,
        b"AE" => 23,
        b"AL" => 28,
        b"AT" => 20,
        b"AZ" => 28,
        b"BA" => 20,
        b"BE" => 16,
        b"BG" => 22,
        b"BH" => 22,
        b"BI" => 27,
        b"BR" => 29,
        b"BY" => 28,
        b"CH" => 21,
        b"CR" => 22,
        b"CY" => 28,
        b"CZ" => 24,
        b"DE" => 22,
        b"DJ" => 27,
        b"DK" => 18,
        b"DO" => 28,
        b"EE" => 20,
        b"EG" => 29,
        b"ES" => 24,
        b"FI" => 18,
        b"FK" => 18,
        b"FO" => 18,
        b"FR" => 27,
        b"GB" => 22,
        b"GE" => 22,
        b"GI" => 23,
        b"GL" => 18,
        b"GR" => 27,
        b"GT" => 28,
        b"HN" => 28,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IL" => 23,
        b"IQ" => 23,
        b"IS" => 26,
        b"IT" => 27,
        b"JO" => 30,
        b"KW" => 30,
        b"KZ" => 20,
        b"LB" => 28,
        b"LC" => 32,
        b"LI" => 21,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"LY" => 25,
        b"MC" => 27,
        b"MD" => 24,
        b"ME" => 22,
        b"MK" => 19,
        b"MN" => 20,
        b"MR" => 27,
        b"MT" => 31,
        b"MU" => 30,
        b"NI" => 28,
        b"NL" => 18,
        b"NO" => 15,
        b"OM" => 23,
        b"PK" => 24,
        b"PL" => 28,
        b"PS" => 29,
        b"PT" => 25,
        b"QA" => 29,
        b"RO" => 24,
        b"RS" => 22,
        b"RU" => 33,
        b"SA" => 24,
        b"SC" => 31,
        b"SD" => 18,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        b"SM" => 27,
        b"SO" => 23,
        b"ST" => 25,
        b"SV" => 28,
        b"TL" => 23,
        b"TN" => 24,
        b"TR" => 26,
        b"UA" => 29,
        b"VA" => 22,
        b"VG" => 24,
        b"XK" => 20,
        b"YE" => 30,
        _ => return None,
    };
    Some(n)
}

fn mod97(chars: &[u8]) -> bool {
    // Country code and check digits move to the end; letters count as 10..35.
    let mut rem = 0u32;
    for &c in chars[4..].iter().chain(&chars[..4]) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn valid_iban(b: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let want = iban_length(&b[start..start + 2])?;
    let mut chars = Vec::with_capacity(want);
    let mut i = start;
    let grouped = b.get(start + 4) == Some(&b' ');
    while i < end && chars.len() < want {
        let c = b[i];
        if c == b' ' {
            // Grouped form: a space after every four characters.
            if !grouped || chars.len() % 4 != 0 {
                return None;
            }
        } else {
            chars.push(c);
        }
        i += 1;
    }
    if chars.len() != want || !mod97(&chars) {
        return None;
    }
    if b.get(i).is_some_and(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some((start, i))
}

fn valid_ssn(b: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    if !digits_start_cleanly(b, start) || !digits_end_cleanly(b, end) {
        return None;
    }
    let d: Vec<u32> = b[start..end]
        .iter()
        .filter(|c| c.is_ascii_digit())
        .map(|c| u32::from(c - b'0'))
        .collect();
    if d.len() != 9 {
        return None;
    }
    let area = d[0] * 100 + d[1] * 10 + d[2];
    let group = d[3] * 10 + d[4];
    let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return None;
    }
    Some((start, end))
}

/// Words that make a dotted quad a version number, not an address.
fn version_context(b: &[u8], start: usize) -> bool {
    let from = start.saturating_sub(12);
    let before = String::from_utf8_lossy(&b[from..start]).to_ascii_lowercase();
    let before = before.trim_end();
    before.ends_with("version")
        || before.ends_with("ver")
        || before.ends_with("ver.")
        || before.ends_with('v')
        || before.ends_with("release")
        || before.ends_with("build")
}

fn valid_ipv4(b: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    if !digits_start_cleanly(b, start) || !digits_end_cleanly(b, end) || version_context(b, start) {
        return None;
    }
    Some((start, end))
}

fn valid_ipv6(s: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    if let Some(p) = prev_byte(b, start) {
        if p.is_ascii_alphanumeric() || p == b':' || p == b'.' || p == b'_' {
            return None;
        }
    }
    if let Some(n) = b.get(end) {
        if n.is_ascii_alphanumeric() || *n == b':' || *n == b'_' {
            return None;
        }
    }
    let candidate = &s[start..end];
    let addr = candidate.split('%').next().unwrap_or(candidate);
    let groups = addr.split(':').filter(|g| !g.is_empty()).count();
    if groups < 2 || (groups < 8 && !addr.contains("::")) {
        return None;
    }
    // A run of plain decimal numbers (`10:30:45`, a clock) is not an address.
    if !addr.bytes().any(|c| c.is_ascii_alphabetic()) && !addr.contains("::") && groups < 8 {
        return None;
    }
    addr.parse::<std::net::Ipv6Addr>().ok()?;
    Some((start, end))
}

/// Values that follow `password:` and friends but are not secrets.
fn valid_context_secret(s: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let mut v = &s[start..end];
    // Trailing sentence punctuation is not part of the value.
    while let Some(last) = v.as_bytes().last() {
        if matches!(last, b'.' | b',' | b';' | b':' | b')' | b'>' | b'}') {
            v = &v[..v.len() - 1];
        } else {
            break;
        }
    }
    if v.len() < 6 {
        return None;
    }
    let lower = v.to_ascii_lowercase();
    const NOT_SECRETS: &[&str] = &[
        "null",
        "none",
        "undefined",
        "true",
        "false",
        "redacted",
        "required",
        "optional",
        "string",
        "number",
        "boolean",
        "changeme",
        "example",
        "placeholder",
        "hidden",
        "masked",
        "secret",
        "password",
        "invalid",
        "expired",
        "missing",
        "provided",
        "present",
        "enabled",
        "disabled",
    ];
    if NOT_SECRETS.contains(&lower.as_str()) {
        return None;
    }
    let first = v.as_bytes()[0];
    if matches!(first, b'<' | b'$' | b'{' | b'%' | b'(') {
        return None;
    }
    // Masked already (`********`, `xxxxxxxx`).
    if v.bytes().all(|c| c == v.as_bytes()[0]) {
        return None;
    }
    // A plain English word after `password` (`password: reset`): needs a digit, a symbol or
    // mixed case to be a credential.
    let has_digit = v.bytes().any(|c| c.is_ascii_digit());
    let has_upper = v.bytes().any(|c| c.is_ascii_uppercase());
    let has_lower = v.bytes().any(|c| c.is_ascii_lowercase());
    let has_symbol = v.bytes().any(|c| !c.is_ascii_alphanumeric());
    if !(has_digit || has_symbol || (has_upper && has_lower)) {
        return None;
    }
    Some((start, start + v.len()))
}

// ---- the API ---------------------------------------------------------------------------------

/// The redactor of the active configuration (the defaults before `instrument()`), compiled once
/// per configuration (the first call compiles the detectors: tens of milliseconds).
pub fn current() -> Arc<Redactor> {
    type Cached = (usize, Arc<Redactor>);
    static CACHE: parking_lot::RwLock<Option<Cached>> = parking_lot::RwLock::new(None);
    let config = crate::global::config();
    let id = config.as_ref().map_or(0, |c| Arc::as_ptr(c) as usize);
    if let Some((cached, r)) = &*CACHE.read() {
        if *cached == id {
            return r.clone();
        }
    }
    // Compiled outside the lock (a fork during it must not leave the lock held).
    let redactor = match config.as_ref().map(|c| c.redactor()) {
        Some(Ok(r)) => Arc::new(r),
        _ => Redactor::default_shared(),
    };
    *CACHE.write() = Some((id, redactor.clone()));
    redactor
}

/// One entity as the bindings return it: its type and its offsets in host string units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEntity {
    /// The type name.
    pub kind: String,
    /// Offset of the first unit.
    pub start: usize,
    /// Offset past the last unit.
    pub end: usize,
}

/// Redacts `text` with the active configuration (indexed placeholders numbered within this
/// call); offsets are in Unicode scalar values (Python) or UTF-16 code units (`utf16`,
/// JavaScript) of `text`.
pub fn redact_for_host(text: &str, utf16: bool) -> (String, Vec<HostEntity>) {
    let redactor = current();
    let mut indexer = Indexer::default();
    let (out, entities) = redactor.redact(text, &mut indexer);
    let mut bytes = Vec::with_capacity(entities.len() * 2);
    for e in &entities {
        bytes.push(e.start);
        bytes.push(e.end);
    }
    let units = convert_offsets(text, &bytes, utf16);
    let host = entities
        .iter()
        .enumerate()
        .map(|(i, e)| HostEntity {
            kind: e.kind.to_string(),
            start: units[2 * i],
            end: units[2 * i + 1],
        })
        .collect();
    (out.into_owned(), host)
}

// ---- offsets in the host language's string units --------------------------------------------

/// Converts sorted byte offsets into offsets counted in Unicode scalar values (Python) or
/// UTF-16 code units (JavaScript), in one pass over `text`.
pub fn convert_offsets(text: &str, byte_offsets: &[usize], utf16: bool) -> Vec<usize> {
    if text.is_ascii() {
        // One byte, one code point, one UTF-16 unit.
        return byte_offsets.to_vec();
    }
    let mut order: Vec<usize> = (0..byte_offsets.len()).collect();
    order.sort_by_key(|&i| byte_offsets[i]);
    let mut out = vec![0; byte_offsets.len()];
    let mut units = 0usize;
    let mut chars = text.char_indices().peekable();
    for i in order {
        let target = byte_offsets[i];
        while let Some(&(pos, c)) = chars.peek() {
            if pos >= target {
                break;
            }
            units += if utf16 { c.len_utf16() } else { 1 };
            chars.next();
        }
        out[i] = units;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn red() -> Redactor {
        Redactor::new(&Settings::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn kinds(text: &str) -> Vec<(String, String)> {
        red()
            .find(text)
            .into_iter()
            .map(|e| (e.kind.to_string(), text[e.start..e.end].to_string()))
            .collect()
    }

    fn one(text: &str, kind: &str, value: &str) {
        let got = kinds(text);
        assert_eq!(got, vec![(kind.to_string(), value.to_string())], "{text}");
    }

    fn none(text: &str) {
        assert_eq!(kinds(text), vec![], "{text}");
    }

    #[test]
    fn emails() {
        one(
            "mail olga.patel+tag@corp.example.org now",
            EMAIL,
            "olga.patel+tag@corp.example.org",
        );
        one("<a@b.io>", EMAIL, "a@b.io");
        none("user@localhost and @handle and a@b");
    }

    #[test]
    fn phones() {
        for p in [
            "(437) 848-4418",
            "725-180-9679",
            "725.180.9679",
            "+1 506 130 5127",
            "+1-202-555-0147",
            "+12025550147",
            "1-800-555-0199",
            "+49 30 21527589",
            "+44 20 7946 0958",
            "+33 1 42 68 53 00",
            "+91 98765 43210",
            "+81 3-1234-5678",
            "+44 (0) 20 7946 0958",
            "0044 20 7946 0958",
        ] {
            one(&format!("call me on {p}, thanks"), PHONE, p);
        }
        none("version 2026-11-27 at 07:47:30, build 1234567");
        none("took 231 ms; 12345678 rows");
    }

    #[test]
    fn cards_need_luhn_and_an_issuer() {
        for c in [
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "4111.1111.1111.1111",
            "4111111111111111",
            "378282246310005",
            "3782 822463 10005",
            "5555555555554444",
            "6011111111111117",
            "3530111333300000",
        ] {
            one(&format!("card {c} exp 12/29"), CREDIT_CARD, c);
        }
        none("Order #4002651064787078 shipped");
        none("card 4111 1111 1111 1112");
        one(
            "card 4111 1111 1111 1111 2026",
            CREDIT_CARD,
            "4111 1111 1111 1111",
        );
    }

    #[test]
    fn ibans_need_mod97() {
        for i in [
            "GB82 WEST 1234 5698 7654 32",
            "GB82WEST12345698765432",
            "DE89 3704 0044 0532 0130 00",
            "FR14 2004 1010 0505 0001 3M02 606",
            "NL91ABNA0417164300",
            "CH9300762011623852957",
        ] {
            one(&format!("IBAN {i} please"), IBAN, i);
        }
        none("IBAN GB83 WEST 1234 5698 7654 32");
    }

    #[test]
    fn ssn_ips_secrets_jwt() {
        one("SSN 402-33-6895.", US_SSN, "402-33-6895");
        none("ref 666-12-3456 and 000-12-3456 and 123-00-4567");
        one("ssn: 402336895", US_SSN, "402336895");
        one("from 206.238.190.42:8080", IP_ADDRESS, "206.238.190.42");
        one(
            "host 2001:db8::8a2e:370:7334 up",
            IP_ADDRESS,
            "2001:db8::8a2e:370:7334",
        );
        one("host fe80::1%eth0 up", IP_ADDRESS, "fe80::1%eth0");
        none("version 1.2.3.4 and v10.0.0.1 at 12:30:45, std::vector, 999.1.1.1");
        one(
            "key sk-proj-nf1NxhbXHK4YfbAzKbQPypiNa95V0Ex3Sk2z8LJy8iA0dDwM ok",
            SECRET,
            "sk-proj-nf1NxhbXHK4YfbAzKbQPypiNa95V0Ex3Sk2z8LJy8iA0dDwM",
        );
        one("AKIAR4YNSKKPFK71MS42", SECRET, "AKIAR4YNSKKPFK71MS42");
        one(
            "token ghp_t0A6AlnQ3LtJdMieBni9ILUE2781h8DbQrxL.",
            SECRET,
            "ghp_t0A6AlnQ3LtJdMieBni9ILUE2781h8DbQrxL",
        );
        one(
            "x xoxb-123456789012-1234567890123-AbCdEfGhIjKl y",
            SECRET,
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKl",
        );
        one(
            "AIzaSyA1234567890abcdefghijklmnopqrstuv",
            SECRET,
            "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        );
        one("password: hunter22!", SECRET, "hunter22!");
        one("api_key=\"Zx9Qw8Er7Ty6\"", SECRET, "Zx9Qw8Er7Ty6");
        one(
            "Authorization: Basic dXNlcjpwYXNzd29yZA==",
            SECRET,
            "dXNlcjpwYXNzd29yZA==",
        );
        none("Use scikit-learn (sk-learn) with ask-me-anything; max_tokens=4096; password: reset; token: none");
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiAiNDQxMTk0In0.IMcAxYmfsB4HbQLXjjlAFbVV6q9rXxtNDFyuzX9k1gn";
        one(&format!("Authorization: Bearer {jwt}"), JWT, jwt);
    }

    #[test]
    fn negatives_stay_clean() {
        for t in [
            "Commit 021948f43d76457426a047aa5e681948f18d1196 fixed the build.",
            "Request id caea6336-7c29-480b-a1ea-d8f062d15a4f completed in 231 ms.",
            "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
            "Total: $11.29 for 27 items, ZIP 94105.",
            "ISBN 978-3-16-148410-0 and 978-0-306-40615-7",
            "The model scored 0.00805234 on the eval; version 2.9.1.",
            "at 2026-11-27T07:47:30Z, 1700000000123 ms since epoch",
        ] {
            none(t);
        }
    }

    #[test]
    fn json_escapes_neither_hide_nor_break() {
        let text =
            r#"[{"role":"user","content":"card:\n4111 1111 1111 1111\tmail \"a.b@example.com\""}]"#;
        let mut ix = Indexer::default();
        let (out, found) = red().redact(text, &mut ix);
        assert_eq!(found.len(), 2);
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(v[0]["content"], "card:\n<CREDIT_CARD>\tmail \"<EMAIL>\"");
    }

    #[test]
    fn actions_and_lists() {
        let mut s = Settings::default();
        s.actions.insert(EMAIL.into(), Action::Indexed);
        s.actions.insert(PHONE.into(), Action::Remove);
        s.actions.insert(SECRET.into(), Action::Hash);
        s.rules.push(Rule {
            name: "EMPLOYEE_ID".into(),
            pattern: r"\bEMP-(?P<value>\d{6})\b".into(),
        });
        s.deny.push("Project Nightingale".into());
        s.allow.push("support@example.com".into());
        s.allow.push(r"/.*@fivelens\.dev/".into());
        let r = Redactor::new(&s).unwrap_or_else(|e| panic!("{e}"));
        let mut ix = Indexer::default();
        let text = "a@x.io b@x.io a@x.io support@example.com ops@fivelens.dev EMP-123456 call 725-180-9679 Project Nightingale password: S3cr3t!!";
        let (out, _) = r.redact(text, &mut ix);
        assert!(out.starts_with("<EMAIL_1> <EMAIL_2> <EMAIL_1> support@example.com ops@fivelens.dev EMP-<EMPLOYEE_ID> call  <DENIED> password: <SECRET:"), "{out}");
        assert!(!out.contains("S3cr3t"));
        for bad in [
            Settings {
                types: vec!["NAME".into()],
                ..Settings::default()
            },
            Settings {
                rules: vec![Rule {
                    name: "x".into(),
                    pattern: "a".into(),
                }],
                ..Settings::default()
            },
            Settings {
                rules: vec![Rule {
                    name: "X".into(),
                    pattern: "(".into(),
                }],
                ..Settings::default()
            },
            Settings {
                rules: vec![Rule {
                    name: "X".into(),
                    pattern: "a*".into(),
                }],
                ..Settings::default()
            },
            Settings {
                deny: vec!["/[/".into()],
                ..Settings::default()
            },
        ] {
            assert!(Redactor::new(&bad).is_err());
        }
    }

    #[test]
    fn placeholders_never_echo_the_value() {
        let r = red();
        let mut ix = Indexer::default();
        let (out, found) = r.redact("mail 4111111111111111 to bob@example.com", &mut ix);
        assert_eq!(found.len(), 2);
        assert!(!out.contains("4111") && !out.contains("bob"), "{out}");
    }

    #[test]
    fn offsets_in_host_units() {
        let text = "é😀 a@b.io";
        let e = &red().find(text)[0];
        assert_eq!(convert_offsets(text, &[e.start, e.end], false), vec![3, 9]);
        assert_eq!(convert_offsets(text, &[e.start, e.end], true), vec![4, 10]);
    }

    /// Per-type precision and recall on the labelled sets, scored type-agnostically: a labelled
    /// value is caught when 90% of its characters are inside detections; a detection is correct
    /// when it overlaps a labelled value.
    /// (type, labelled, caught, detected, correct) rows, negatives, negatives flagged.
    type Scores = (Vec<(String, usize, usize, usize, usize)>, usize, usize);

    pub(crate) fn score(path: &str) -> Scores {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let r = red();
        let mut table: std::collections::BTreeMap<String, [usize; 4]> = Default::default();
        let (mut negatives, mut flagged) = (0, 0);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let row: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
            let t = row["text"].as_str().unwrap_or_default();
            let found = r.find(t);
            let mut offs = Vec::new();
            for e in &found {
                offs.push(e.start);
                offs.push(e.end);
            }
            let cp = convert_offsets(t, &offs, false);
            let spans: Vec<(usize, usize, &str)> = found
                .iter()
                .enumerate()
                .map(|(i, e)| (cp[2 * i], cp[2 * i + 1], &*e.kind))
                .collect();
            if row["kind"] == "negative" {
                negatives += 1;
                if !spans.is_empty() {
                    flagged += 1;
                    eprintln!("FP negative: {t:?} -> {spans:?}");
                }
            }
            let labels: Vec<(usize, usize, String)> = row["entities"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| {
                            (
                                e["start"].as_u64().unwrap_or(0) as usize,
                                e["end"].as_u64().unwrap_or(0) as usize,
                                e["type"].as_str().unwrap_or("").to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            for (ls, le, lt) in &labels {
                let covered: usize = (*ls..*le)
                    .filter(|i| spans.iter().any(|(s, e, _)| s <= i && i < e))
                    .count();
                let caught = covered * 10 >= (le - ls) * 9;
                let row = table.entry(lt.clone()).or_default();
                row[0] += 1;
                row[1] += usize::from(caught);
                if !caught {
                    eprintln!(
                        "missed {lt}: {:?} in {t:?} (found {spans:?})",
                        t.chars().skip(*ls).take(le - ls).collect::<String>()
                    );
                }
            }
            for (s, e, k) in &spans {
                let ok = labels.iter().any(|(ls, le, _)| s < le && ls < e);
                let row = table.entry(k.to_string()).or_default();
                row[2] += 1;
                row[3] += usize::from(ok);
                if !ok {
                    eprintln!(
                        "wrong {k}: {:?} in {t:?}",
                        t.chars().skip(*s).take(e - s).collect::<String>()
                    );
                }
            }
        }
        (
            table
                .into_iter()
                .map(|(k, v)| (k, v[0], v[1], v[2], v[3]))
                .collect(),
            negatives,
            flagged,
        )
    }

    #[test]
    fn quality_on_the_labelled_sets() {
        for file in ["pii-dev.jsonl", "pii-own.jsonl"] {
            let path =
                concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/pii/").to_string() + file;
            let (rows, negatives, flagged) = score(&path);
            eprintln!("{file}: type labelled recall detected precision");
            for (k, labelled, caught, detected, correct) in &rows {
                let recall = *caught as f64 / (*labelled).max(1) as f64;
                let precision = *correct as f64 / (*detected).max(1) as f64;
                eprintln!("  {k:12} {labelled:5} {recall:.4} {detected:5} {precision:.4}");
                assert!(
                    *labelled == 0 || recall >= 0.99,
                    "{file} {k} recall {recall}"
                );
                assert!(
                    *detected == 0 || precision >= 0.98,
                    "{file} {k} precision {precision}"
                );
            }
            eprintln!("  negatives with a detection: {flagged}/{negatives}");
            assert!(
                flagged * 100 <= negatives,
                "{file}: {flagged}/{negatives} negatives flagged"
            );
            assert!(
                rows.iter().map(|r| r.1).sum::<usize>() > 500,
                "{file}: too few labels"
            );
        }
    }

    #[test]
    fn adversarial_inputs_stay_linear() {
        let cases = [
            "a".repeat(200_000) + "@",
            "ask-".repeat(50_000),
            "1-".repeat(100_000),
            "1 ".repeat(100_000),
            "eyJ.".repeat(50_000),
            ":".repeat(200_000),
            "a:".repeat(100_000),
            "password=".repeat(20_000),
            "GB12 ".repeat(40_000),
            "\\".repeat(200_000),
            "1.".repeat(100_000),
        ];
        let r = red();
        for c in &cases {
            let t = std::time::Instant::now();
            let _ = r.find(c);
            // Generous: linear scans of 200 KB take milliseconds; quadratic ones take minutes.
            assert!(
                t.elapsed() < std::time::Duration::from_secs(5),
                "{}",
                &c[..20]
            );
        }
    }
}
