//! Tool calls as dependencies: the error categories of failed calls, and the circuit breaker at
//! the tool boundary. One implementation for every binding: Python and Node ask the core whether
//! a call may go ahead ([`admit`]) and tell it how the call ended ([`record`]), so a tool failing
//! in a Node service and the same tool failing in a Python one follow the same rules.
//!
//! ```text
//!  integration (LangGraph, CrewAI, AutoGen, MCP, fivelens.tool / withTool)
//!    admit(tool, server) ──> allowed? (enforce: an open breaker rejects; observe: never)
//!    │                        the state, a probe flag, transitions (span events)
//!    ├─ rejected: the model gets the degraded-mode tool error, the framework's way
//!    └─ the call runs ──> record(tool, server, ticket, category) ──> transitions
//! ```
//!
//! **Breakers.** Per tool (keyed by its MCP server too, when it has one) and per MCP server (every
//! tool of a server: a server that is down fails them all). A breaker counts the calls and errors
//! of the last `window` in a ring of time buckets; when at least `min_calls` calls ended and the
//! error rate reaches `error_rate`, it opens. While open, calls are rejected (in `enforce` mode)
//! until `open` has passed; then the next calls are probes (`half_open_calls` of them, one at a
//! time by default): a failed probe opens it again, enough successful ones close it with an empty
//! window. In `observe` mode (the default) the same machine runs and every decision is recorded,
//! but no call is ever rejected; calls `enforce` would have rejected are not counted (they would
//! not have happened), so the recorded transitions are the ones `enforce` would make.
//!
//! **Categories** ([`classify`]) come from what the binding knows about a failure: an HTTP or
//! JSON-RPC status code, the exception's type name and message, or that the error came back in
//! the tool's result (`tool_error`). The metrics (see [`crate::metrics`]) compute the same
//! category from a span's attributes when an integration did not set it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

/// Why a tool call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// It took too long (a timeout, HTTP 408 / 504).
    Timeout,
    /// The dependency refused it for its rate (HTTP 429, quota).
    RateLimited,
    /// The arguments were wrong (HTTP 400 / 422, JSON-RPC invalid params, schema validation).
    Validation,
    /// What it asked for does not exist (HTTP 404 / 410, an unknown tool or method).
    NotFound,
    /// The dependency could not be reached or is down (connection errors, HTTP 502 / 503).
    Unavailable,
    /// The dependency failed (HTTP 5xx, JSON-RPC internal error).
    ServerError,
    /// The call completed but its result reports an error (an MCP `isError` result, an error
    /// `ToolMessage`, a CrewAI `ToolFailure`): peers count these as successes.
    ToolError,
    /// Anything else (an exception of the tool's own code).
    Other,
}

impl Category {
    /// Every category, in documentation order.
    pub const ALL: [Category; 8] = [
        Category::Timeout,
        Category::RateLimited,
        Category::Validation,
        Category::NotFound,
        Category::Unavailable,
        Category::ServerError,
        Category::ToolError,
        Category::Other,
    ];

    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Timeout => "timeout",
            Category::RateLimited => "rate_limited",
            Category::Validation => "validation",
            Category::NotFound => "not_found",
            Category::Unavailable => "unavailable",
            Category::ServerError => "server_error",
            Category::ToolError => "tool_error",
            Category::Other => "other",
        }
    }

    /// From the attribute value.
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What a binding knows about a failed call.
#[derive(Clone, Copy, Debug, Default)]
pub struct Failure<'a> {
    /// `error.type`: the exception's type name, a JSON-RPC code as a string, `tool_error`...
    pub error_type: Option<&'a str>,
    /// The error's message (the span's status description).
    pub message: Option<&'a str>,
    /// An HTTP status code, or a JSON-RPC error code (negative).
    pub status_code: Option<i64>,
    /// The error came back in the tool's result (the call itself completed).
    pub payload: bool,
}

fn any(haystack: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| haystack.contains(n))
}

/// The category of a failure: the result's own error first, then the status code, then the
/// error's type name, then its message.
pub fn classify(f: &Failure<'_>) -> Category {
    if f.payload {
        return Category::ToolError;
    }
    let code = f.status_code.or_else(|| {
        // MCP spans carry the JSON-RPC code as their `error.type` ("-32602").
        f.error_type
            .and_then(|t| t.trim().parse::<i64>().ok())
            .filter(|c| *c < 0 || (100..600).contains(c))
    });
    if let Some(code) = code {
        match code {
            408 | 504 => return Category::Timeout,
            429 => return Category::RateLimited,
            400 | 422 => return Category::Validation,
            404 | 410 => return Category::NotFound,
            502 | 503 => return Category::Unavailable,
            500..=599 => return Category::ServerError,
            // JSON-RPC: invalid params / invalid request / parse error; method not found;
            // internal error; the MCP request timeout (-32001, the SDKs' RequestTimeout);
            // connection closed (-32000).
            -32602 | -32600 | -32700 => return Category::Validation,
            -32601 => return Category::NotFound,
            -32603 => return Category::ServerError,
            -32001 => return Category::Timeout,
            -32000 => return Category::Unavailable,
            _ => {}
        }
    }
    let ty = f
        .error_type
        .map(|t| t.to_ascii_lowercase().replace(['_', '-', ' '], ""))
        .unwrap_or_default();
    if ty == "toolerror" || ty == "toolreported" || ty == "mcperror" {
        return Category::ToolError;
    }
    if !ty.is_empty() {
        if any(&ty, &["timeout", "timedout", "deadlineexceeded"]) {
            return Category::Timeout;
        }
        if any(&ty, &["ratelimit", "toomanyrequests", "quota", "throttl"]) {
            return Category::RateLimited;
        }
        if any(
            &ty,
            &[
                "validation",
                "invalidinput",
                "invalidparam",
                "invalidargument",
                "toolinvocation",
                "inputparsing",
                "schema",
                "badrequest",
                "unprocessable",
            ],
        ) {
            return Category::Validation;
        }
        if any(&ty, &["notfound", "unknowntool", "nosuch"]) {
            return Category::NotFound;
        }
        if any(
            &ty,
            &[
                "connection",
                "connect",
                "unavailable",
                "unreachable",
                "network",
                "econnrefused",
                "econnreset",
                "enotfound",
                "eai",
                "brokenpipe",
                "circuitopen",
            ],
        ) {
            return Category::Unavailable;
        }
        if any(&ty, &["internalserver", "servererror", "badgateway"]) {
            return Category::ServerError;
        }
    }
    let msg = f.message.map(str::to_ascii_lowercase).unwrap_or_default();
    if any(&msg, &["timed out", "timeout", "deadline exceeded"]) {
        return Category::Timeout;
    }
    if any(&msg, &["rate limit", "too many requests", "quota exceeded"]) {
        return Category::RateLimited;
    }
    if any(
        &msg,
        &[
            "connection refused",
            "connection reset",
            "service unavailable",
            "temporarily unavailable",
            "econnrefused",
            "econnreset",
        ],
    ) {
        return Category::Unavailable;
    }
    if any(&msg, &["internal server error", "bad gateway"]) {
        return Category::ServerError;
    }
    Category::Other
}

// ---- the circuit breaker ---------------------------------------------------------------------

/// What the breakers do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No breaker: calls are not even counted.
    Off,
    /// Record what the breaker would do, change nothing (the default).
    Observe,
    /// Reject calls while the breaker is open.
    Enforce,
}

impl Mode {
    /// `off`, `observe` or `enforce`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Some(Mode::Off),
            "observe" => Some(Mode::Observe),
            "enforce" => Some(Mode::Enforce),
            _ => None,
        }
    }

    /// The option value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Observe => "observe",
            Mode::Enforce => "enforce",
        }
    }
}

/// The breaker's settings (see [`crate::config::Config::breaker_settings`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerSettings {
    /// Observe, enforce or off.
    pub mode: Mode,
    /// Error rate (0 to 1) at which a breaker opens.
    pub error_rate: f64,
    /// Calls in the window before the rate counts.
    pub min_calls: u64,
    /// The sliding window, ms.
    pub window_ms: u64,
    /// How long an open breaker rejects before probing, ms.
    pub open_ms: u64,
    /// Successful probes that close a half-open breaker.
    pub half_open_calls: u64,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            mode: Mode::Observe,
            error_rate: 0.1,
            min_calls: 20,
            window_ms: 60_000,
            open_ms: 30_000,
            half_open_calls: 1,
        }
    }
}

/// A breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Calls go ahead and are counted.
    Closed,
    /// Calls are rejected (enforce) until the open period has passed.
    Open,
    /// A few probe calls go ahead; their outcome closes or reopens the breaker.
    HalfOpen,
}

impl State {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }

    fn severity(self) -> u8 {
        match self {
            State::Closed => 0,
            State::HalfOpen => 1,
            State::Open => 2,
        }
    }
}

/// Which breaker a transition or a rejection is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One tool (of one MCP server, when it has one).
    Tool,
    /// Every tool of an MCP server.
    Server,
}

impl Scope {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Tool => "tool",
            Scope::Server => "server",
        }
    }
}

/// A breaker's state change, for a span event and the transitions metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// Which breaker.
    pub scope: Scope,
    /// The previous state.
    pub from: State,
    /// The new state.
    pub to: State,
    /// Calls in the window when it changed.
    pub calls: u64,
    /// Errors in the window when it changed.
    pub errors: u64,
    /// When, ns since the epoch.
    pub time_ns: u64,
}

impl Transition {
    /// errors / calls (0 without calls).
    pub fn error_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.errors as f64 / self.calls as f64
        }
    }
}

/// Bits of [`Admission::ticket`], handed back to [`record`].
pub mod ticket {
    /// The call is the tool breaker's probe.
    pub const PROBE_TOOL: u8 = 1;
    /// The call is the server breaker's probe.
    pub const PROBE_SERVER: u8 = 2;
    /// The call is not counted (rejected, or one `enforce` would have rejected).
    pub const SKIP: u8 = 4;
}

/// The answer of [`admit`].
#[derive(Clone, Debug, PartialEq)]
pub struct Admission {
    /// The mode in force.
    pub mode: Mode,
    /// Whether the call may go ahead (false only in `enforce` mode).
    pub allowed: bool,
    /// `observe` mode: `enforce` would have rejected this call.
    pub would_reject: bool,
    /// The breaker state the call met (the worse of its tool's and its server's).
    pub state: State,
    /// The call is a probe of a half-open breaker.
    pub probe: bool,
    /// Which breaker rejected (or would have rejected) it.
    pub rejected_by: Option<Scope>,
    /// The tool error the model receives instead of the result, when rejected (or, in observe
    /// mode, would have been).
    pub message: Option<String>,
    /// Transitions this admission made (an open breaker whose period passed turns half-open).
    pub transitions: Vec<Transition>,
    /// Hand to [`record`] with the outcome.
    pub ticket: u8,
}

/// Buckets of the sliding window.
const BUCKETS: usize = 20;

#[derive(Clone, Debug, Default)]
struct Window {
    /// (bucket index since the epoch of the clock, calls, errors).
    buckets: VecDeque<(u64, u64, u64)>,
}

impl Window {
    fn width(window_ms: u64) -> u64 {
        (window_ms / BUCKETS as u64).max(1)
    }

    fn trim(&mut self, now_ms: u64, window_ms: u64) {
        let width = Window::width(window_ms);
        let current = now_ms / width;
        let oldest = current.saturating_sub(BUCKETS as u64 - 1);
        while self.buckets.front().is_some_and(|b| b.0 < oldest) {
            self.buckets.pop_front();
        }
    }

    fn add(&mut self, now_ms: u64, window_ms: u64, error: bool) {
        self.trim(now_ms, window_ms);
        let index = now_ms / Window::width(window_ms);
        match self.buckets.back_mut() {
            Some(b) if b.0 == index => {
                b.1 += 1;
                b.2 += u64::from(error);
            }
            _ => self.buckets.push_back((index, 1, u64::from(error))),
        }
    }

    fn totals(&self) -> (u64, u64) {
        self.buckets
            .iter()
            .fold((0, 0), |(c, e), b| (c + b.1, e + b.2))
    }
}

#[derive(Clone, Debug)]
struct Breaker {
    state: State,
    window: Window,
    opened_ms: u64,
    probes_in_flight: u64,
    probe_successes: u64,
    last_used_ms: u64,
}

/// What a breaker's decisions need besides its own state.
struct Ctx<'a> {
    s: &'a BreakerSettings,
    clock: &'a Clock,
    now_ms: u64,
}

impl Breaker {
    fn new(now_ms: u64) -> Breaker {
        Breaker {
            state: State::Closed,
            window: Window::default(),
            opened_ms: 0,
            probes_in_flight: 0,
            probe_successes: 0,
            last_used_ms: now_ms,
        }
    }

    fn transition(&mut self, scope: Scope, to: State, ctx: &Ctx<'_>) -> Transition {
        let (calls, errors) = self.window.totals();
        let t = Transition {
            scope,
            from: self.state,
            to,
            calls,
            errors,
            time_ns: ctx.clock.epoch_ns(ctx.now_ms),
        };
        self.state = to;
        match to {
            State::Open => {
                self.opened_ms = ctx.now_ms;
                self.probes_in_flight = 0;
                self.probe_successes = 0;
            }
            State::HalfOpen => {
                self.probes_in_flight = 0;
                self.probe_successes = 0;
            }
            State::Closed => {
                self.window = Window::default();
                self.probes_in_flight = 0;
                self.probe_successes = 0;
            }
        }
        t
    }

    /// Whether a call may go ahead now, and whether it is a probe.
    fn admit(&mut self, scope: Scope, ctx: &Ctx<'_>, out: &mut Vec<Transition>) -> (bool, bool) {
        self.last_used_ms = ctx.now_ms;
        if self.state == State::Open && ctx.now_ms.saturating_sub(self.opened_ms) >= ctx.s.open_ms {
            out.push(self.transition(scope, State::HalfOpen, ctx));
        }
        match self.state {
            State::Closed => (true, false),
            State::Open => (false, false),
            State::HalfOpen => {
                if self.probes_in_flight + self.probe_successes < ctx.s.half_open_calls.max(1) {
                    self.probes_in_flight += 1;
                    (true, true)
                } else {
                    (false, false)
                }
            }
        }
    }

    fn record(
        &mut self,
        scope: Scope,
        probe: bool,
        error: bool,
        ctx: &Ctx<'_>,
        out: &mut Vec<Transition>,
    ) {
        let s = ctx.s;
        self.last_used_ms = ctx.now_ms;
        match self.state {
            State::Closed => {
                self.window.add(ctx.now_ms, s.window_ms, error);
                let (calls, errors) = self.window.totals();
                if error
                    && calls >= s.min_calls.max(1)
                    && errors as f64 >= s.error_rate * calls as f64
                {
                    out.push(self.transition(scope, State::Open, ctx));
                }
            }
            State::HalfOpen if probe => {
                self.probes_in_flight = self.probes_in_flight.saturating_sub(1);
                if error {
                    self.window.add(ctx.now_ms, s.window_ms, true);
                    out.push(self.transition(scope, State::Open, ctx));
                } else {
                    self.probe_successes += 1;
                    if self.probe_successes >= s.half_open_calls.max(1) {
                        out.push(self.transition(scope, State::Closed, ctx));
                    }
                }
            }
            // A call admitted before the breaker opened, ending now: the breaker decides on its
            // own probes.
            _ => {}
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Clock {
    start: Instant,
    start_epoch_ns: u64,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            start: Instant::now(),
            start_epoch_ns: crate::record::now_ns(),
        }
    }
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
    fn epoch_ns(&self, ms: u64) -> u64 {
        self.start_epoch_ns
            .saturating_add(ms.saturating_mul(1_000_000))
    }
}

/// Most breakers kept; past it, the least recently used closed ones are forgotten.
const MAX_BREAKERS: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Tool {
        server: Option<Box<str>>,
        tool: Box<str>,
    },
    Server(Box<str>),
}

/// Every breaker of the process.
#[derive(Debug)]
pub struct Breakers {
    settings: BreakerSettings,
    clock: Clock,
    map: FxHashMap<Key, Breaker>,
}

fn degraded_message(
    tool: &str,
    server: Option<&str>,
    scope: Scope,
    calls: u64,
    errors: u64,
) -> String {
    let why = match (scope, server) {
        (Scope::Server, Some(server)) => format!(
            "its MCP server {server:?} is failing ({errors} errors in the last {calls} calls) and its circuit breaker is open"
        ),
        _ if calls > 0 => format!(
            "its circuit breaker is open after {errors} errors in the last {calls} calls"
        ),
        _ => "its circuit breaker is open after repeated errors".to_string(),
    };
    format!(
        "tool {tool} unavailable, degraded mode: {why}. Do not call it again now; continue without it, or tell the user it is unavailable."
    )
}

impl Breakers {
    /// Breakers with these settings, none tripped.
    pub fn new(settings: BreakerSettings) -> Breakers {
        Breakers {
            settings,
            clock: Clock::new(),
            map: FxHashMap::default(),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &BreakerSettings {
        &self.settings
    }

    fn keys(tool: &str, server: Option<&str>) -> (Key, Option<Key>) {
        (
            Key::Tool {
                server: server.map(Into::into),
                tool: tool.into(),
            },
            server.map(|s| Key::Server(s.into())),
        )
    }

    fn breaker(&mut self, key: Key, now_ms: u64) -> &mut Breaker {
        if self.map.len() >= MAX_BREAKERS && !self.map.contains_key(&key) {
            self.evict();
        }
        self.map.entry(key).or_insert_with(|| Breaker::new(now_ms))
    }

    fn evict(&mut self) {
        let mut closed: Vec<(u64, Key)> = self
            .map
            .iter()
            .filter(|(_, b)| b.state == State::Closed)
            .map(|(k, b)| (b.last_used_ms, k.clone()))
            .collect();
        closed.sort_by_key(|(t, _)| *t);
        for (_, k) in closed.into_iter().take(MAX_BREAKERS / 10) {
            self.map.remove(&k);
        }
    }

    /// [`admit`] at `now_ms` on the breakers' clock.
    pub fn admit_at(&mut self, tool: &str, server: Option<&str>, now_ms: u64) -> Admission {
        let s = self.settings;
        let clock = self.clock;
        let ctx = Ctx {
            s: &s,
            clock: &clock,
            now_ms,
        };
        let mut transitions = Vec::new();
        let (tool_key, server_key) = Breakers::keys(tool, server);
        let mut ticket = 0u8;
        let mut state = State::Closed;
        let mut rejected_by = None;
        let mut window = (0, 0);
        // The server first: a server that is down rejects all its tools.
        if let Some(key) = server_key {
            let b = self.breaker(key, now_ms);
            let (ok, probe) = b.admit(Scope::Server, &ctx, &mut transitions);
            state = b.state;
            if !ok {
                rejected_by = Some(Scope::Server);
                window = b.window.totals();
            }
            if probe {
                ticket |= ticket::PROBE_SERVER;
            }
        }
        if rejected_by.is_none() {
            let b = self.breaker(tool_key, now_ms);
            let (ok, probe) = b.admit(Scope::Tool, &ctx, &mut transitions);
            if b.state.severity() > state.severity() {
                state = b.state;
            }
            if !ok {
                rejected_by = Some(Scope::Tool);
                window = b.window.totals();
            }
            if probe {
                ticket |= ticket::PROBE_TOOL;
            }
        }
        if rejected_by.is_some() {
            // Not counted: the call would not have been made. A probe taken by the server above
            // is handed back.
            if ticket & ticket::PROBE_SERVER != 0 {
                if let Some(key) = Breakers::keys(tool, server).1 {
                    if let Some(b) = self.map.get_mut(&key) {
                        b.probes_in_flight = b.probes_in_flight.saturating_sub(1);
                    }
                }
            }
            ticket = ticket::SKIP;
        }
        let message =
            rejected_by.map(|scope| degraded_message(tool, server, scope, window.0, window.1));
        let enforce = s.mode == Mode::Enforce;
        Admission {
            mode: s.mode,
            allowed: !(enforce && rejected_by.is_some()),
            would_reject: !enforce && rejected_by.is_some(),
            state,
            probe: ticket & (ticket::PROBE_TOOL | ticket::PROBE_SERVER) != 0,
            rejected_by,
            message,
            transitions,
            ticket,
        }
    }

    /// [`record`] at `now_ms` on the breakers' clock.
    pub fn record_at(
        &mut self,
        tool: &str,
        server: Option<&str>,
        ticket_bits: u8,
        error: bool,
        now_ms: u64,
    ) -> Vec<Transition> {
        let mut out = Vec::new();
        if ticket_bits & ticket::SKIP != 0 {
            return out;
        }
        let s = self.settings;
        let clock = self.clock;
        let ctx = Ctx {
            s: &s,
            clock: &clock,
            now_ms,
        };
        let (tool_key, server_key) = Breakers::keys(tool, server);
        if let Some(key) = server_key {
            let probe = ticket_bits & ticket::PROBE_SERVER != 0;
            self.breaker(key, now_ms)
                .record(Scope::Server, probe, error, &ctx, &mut out);
        }
        let probe = ticket_bits & ticket::PROBE_TOOL != 0;
        self.breaker(tool_key, now_ms)
            .record(Scope::Tool, probe, error, &ctx, &mut out);
        out
    }

    /// The breakers that are not closed, or have counted calls, as JSON (for `status()`).
    pub fn to_json(&self) -> serde_json::Value {
        let now = self.clock.now_ms();
        let mut list: Vec<serde_json::Value> = self
            .map
            .iter()
            .map(|(k, b)| {
                let mut w = b.window.clone();
                w.trim(now, self.settings.window_ms);
                let (calls, errors) = w.totals();
                let (scope, tool, server) = match k {
                    Key::Tool { server, tool } => (
                        "tool",
                        Some(tool.to_string()),
                        server.as_ref().map(|s| s.to_string()),
                    ),
                    Key::Server(s) => ("server", None, Some(s.to_string())),
                };
                serde_json::json!({
                    "scope": scope,
                    "tool": tool,
                    "server": server,
                    "state": b.state.as_str(),
                    "calls": calls,
                    "errors": errors,
                })
            })
            .collect();
        list.sort_by_key(|v| v.to_string());
        serde_json::json!({
            "mode": self.settings.mode.as_str(),
            "breakers": list,
        })
    }
}

static BREAKERS: Mutex<Option<Breakers>> = Mutex::new(None);
/// The mode in force, readable without the lock (0 off, 1 observe, 2 enforce).
static MODE: AtomicU8 = AtomicU8::new(1);

/// Installs the breakers' settings (at `configure`): every breaker starts closed again.
pub fn configure(settings: BreakerSettings) {
    MODE.store(
        match settings.mode {
            Mode::Off => 0,
            Mode::Observe => 1,
            Mode::Enforce => 2,
        },
        Ordering::Relaxed,
    );
    *BREAKERS.lock() = Some(Breakers::new(settings));
}

/// The breaker mode in force.
pub fn mode() -> Mode {
    match MODE.load(Ordering::Relaxed) {
        0 => Mode::Off,
        2 => Mode::Enforce,
        _ => Mode::Observe,
    }
}

fn allowed_unchecked() -> Admission {
    Admission {
        mode: Mode::Off,
        allowed: true,
        would_reject: false,
        state: State::Closed,
        probe: false,
        rejected_by: None,
        message: None,
        transitions: Vec::new(),
        ticket: ticket::SKIP,
    }
}

/// Whether a call of `tool` (of MCP server `server`, if any) may go ahead now. Never blocks on
/// anything but a short lock; with the breaker off, always yes.
pub fn admit(tool: &str, server: Option<&str>) -> Admission {
    if mode() == Mode::Off {
        return allowed_unchecked();
    }
    let mut guard = BREAKERS.lock();
    let breakers = guard.get_or_insert_with(|| Breakers::new(BreakerSettings::default()));
    if breakers.settings.mode == Mode::Off {
        return allowed_unchecked();
    }
    let now = breakers.clock.now_ms();
    breakers.admit_at(tool, server, now)
}

/// How an admitted call ended (`error`: it failed, whatever the category): returns the
/// transitions it caused.
pub fn record(tool: &str, server: Option<&str>, ticket_bits: u8, error: bool) -> Vec<Transition> {
    if ticket_bits & ticket::SKIP != 0 || mode() == Mode::Off {
        return Vec::new();
    }
    let mut guard = BREAKERS.lock();
    let Some(breakers) = guard.as_mut() else {
        return Vec::new();
    };
    let now = breakers.clock.now_ms();
    breakers.record_at(tool, server, ticket_bits, error, now)
}

/// The breakers as JSON, for `status()`.
pub fn status() -> serde_json::Value {
    match BREAKERS.lock().as_ref() {
        Some(b) => b.to_json(),
        None => serde_json::json!({"mode": mode().as_str(), "breakers": []}),
    }
}

/// A transition as span-event attributes (name [`crate::semconv::FIVELENS_EVENT_BREAKER`]).
pub fn transition_attributes(t: &Transition, mode: Mode) -> Vec<crate::value::KeyValue> {
    use crate::key::Key as K;
    use crate::semconv as sc;
    use crate::value::Value;
    vec![
        (
            K::new(sc::FIVELENS_BREAKER_SCOPE),
            Value::from(t.scope.as_str()),
        ),
        (
            K::new(sc::FIVELENS_BREAKER_FROM),
            Value::from(t.from.as_str()),
        ),
        (K::new(sc::FIVELENS_BREAKER_TO), Value::from(t.to.as_str())),
        (
            K::new(sc::FIVELENS_BREAKER_MODE),
            Value::from(mode.as_str()),
        ),
        (
            K::new(sc::FIVELENS_BREAKER_CALLS),
            Value::I64(t.calls as i64),
        ),
        (
            K::new(sc::FIVELENS_BREAKER_ERRORS),
            Value::I64(t.errors as i64),
        ),
        (
            K::new(sc::FIVELENS_BREAKER_ERROR_RATE),
            Value::F64(t.error_rate()),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(mode: Mode) -> BreakerSettings {
        BreakerSettings {
            mode,
            open_ms: 1000,
            ..BreakerSettings::default()
        }
    }

    fn call(b: &mut Breakers, tool: &str, server: Option<&str>, fail: bool, now: u64) -> Admission {
        let a = b.admit_at(tool, server, now);
        if a.allowed {
            b.record_at(tool, server, a.ticket, fail, now);
        }
        a
    }

    #[test]
    fn categories() {
        let c = |t: Option<&str>, m: Option<&str>, code: Option<i64>| {
            classify(&Failure {
                error_type: t,
                message: m,
                status_code: code,
                payload: false,
            })
            .as_str()
        };
        assert_eq!(c(Some("TimeoutError"), None, None), "timeout");
        assert_eq!(c(Some("ReadTimeout"), None, None), "timeout");
        assert_eq!(c(Some("HTTPError"), None, Some(504)), "timeout");
        assert_eq!(c(Some("RateLimitError"), None, None), "rate_limited");
        assert_eq!(c(None, None, Some(429)), "rate_limited");
        assert_eq!(c(Some("ValidationError"), None, None), "validation");
        assert_eq!(c(Some("-32602"), None, None), "validation");
        assert_eq!(
            c(Some("ToolInputParsingException"), None, None),
            "validation"
        );
        assert_eq!(c(None, None, Some(404)), "not_found");
        assert_eq!(c(Some("FileNotFoundError"), None, None), "not_found");
        assert_eq!(c(Some("-32601"), None, None), "not_found");
        assert_eq!(c(Some("ConnectionRefusedError"), None, None), "unavailable");
        assert_eq!(c(Some("ConnectError"), None, None), "unavailable");
        assert_eq!(
            c(
                Some("Error"),
                Some("connect ECONNREFUSED 127.0.0.1:9"),
                None
            ),
            "unavailable"
        );
        assert_eq!(c(None, None, Some(503)), "unavailable");
        assert_eq!(c(None, None, Some(500)), "server_error");
        assert_eq!(c(Some("-32603"), None, None), "server_error");
        assert_eq!(c(Some("tool_error"), None, None), "tool_error");
        assert_eq!(c(Some("ValueError"), Some("bad luck"), None), "other");
        assert_eq!(
            c(Some("RuntimeError"), Some("request timed out"), None),
            "timeout"
        );
        assert_eq!(
            classify(&Failure {
                payload: true,
                error_type: Some("TimeoutError"),
                ..Failure::default()
            }),
            Category::ToolError
        );
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn opens_at_the_error_rate_over_min_calls_then_probes_and_closes() {
        let mut b = Breakers::new(settings(Mode::Enforce));
        // 19 calls with 4 errors: under min_calls, stays closed.
        for i in 0..19 {
            let a = call(&mut b, "lookup", None, i % 6 == 0, 10);
            assert!(a.allowed && a.transitions.is_empty());
        }
        // The 20th, an error: 5/20 = 25% >= 10%: open.
        let a = b.admit_at("lookup", None, 20);
        assert!(a.allowed);
        let t = b.record_at("lookup", None, a.ticket, true, 20);
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].from, t[0].to, t[0].calls, t[0].errors),
            (State::Closed, State::Open, 20, 5)
        );
        // Rejected while open, with the degraded message; not counted.
        let a = b.admit_at("lookup", None, 500);
        assert!(!a.allowed && a.rejected_by == Some(Scope::Tool));
        assert_eq!(a.state, State::Open);
        let msg = a.message.unwrap();
        assert!(
            msg.starts_with("tool lookup unavailable, degraded mode"),
            "{msg}"
        );
        assert!(msg.contains("5 errors in the last 20 calls"), "{msg}");
        assert!(b.record_at("lookup", None, a.ticket, true, 500).is_empty());
        // Another tool is unaffected.
        assert!(call(&mut b, "other", None, false, 500).allowed);
        // After the open period: one probe goes ahead (half-open), a second is rejected.
        let probe = b.admit_at("lookup", None, 1021);
        assert!(probe.allowed && probe.probe);
        assert_eq!(probe.transitions[0].to, State::HalfOpen);
        assert!(!b.admit_at("lookup", None, 1022).allowed);
        // The probe fails: open again.
        let t = b.record_at("lookup", None, probe.ticket, true, 1023);
        assert_eq!(t[0].to, State::Open);
        assert!(!b.admit_at("lookup", None, 1500).allowed);
        // Next probe succeeds: closed, with an empty window.
        let probe = b.admit_at("lookup", None, 2100);
        let t = b.record_at("lookup", None, probe.ticket, false, 2100);
        assert_eq!((t[0].from, t[0].to), (State::HalfOpen, State::Closed));
        let a = call(&mut b, "lookup", None, true, 2101);
        assert!(a.allowed && a.state == State::Closed);
    }

    #[test]
    fn errors_leave_the_window() {
        let mut b = Breakers::new(settings(Mode::Enforce));
        for _ in 0..5 {
            call(&mut b, "t", None, true, 0);
        }
        // A minute later the five errors have left the window: 20 good calls keep it closed.
        for i in 0..25 {
            let a = call(&mut b, "t", None, false, 61_000 + i);
            assert_eq!(a.state, State::Closed);
        }
        let a = b.admit_at("t", None, 61_100);
        assert!(a.allowed);
        assert!(
            b.record_at("t", None, a.ticket, true, 61_100).is_empty(),
            "1/26 is under 10%"
        );
    }

    #[test]
    fn observe_mode_never_rejects_but_says_so() {
        let mut b = Breakers::new(settings(Mode::Observe));
        let mut opened = 0;
        for _ in 0..20 {
            let a = b.admit_at("t", None, 5);
            opened += b.record_at("t", None, a.ticket, true, 5).len();
        }
        assert_eq!(opened, 1);
        let a = b.admit_at("t", None, 10);
        assert!(a.allowed && a.would_reject);
        assert_eq!(a.ticket, ticket::SKIP);
        assert!(a.message.is_some());
    }

    #[test]
    fn a_failing_mcp_server_opens_for_all_its_tools() {
        let mut b = Breakers::new(settings(Mode::Enforce));
        // Errors spread over many tools of one server: no tool reaches min_calls, the server does.
        for i in 0..20 {
            call(&mut b, &format!("tool{i}"), Some("weather"), true, 1);
        }
        let a = b.admit_at("fresh_tool", Some("weather"), 2);
        assert!(!a.allowed);
        assert_eq!(a.rejected_by, Some(Scope::Server));
        assert!(a.message.unwrap().contains("MCP server \"weather\""));
        // A tool of the same name elsewhere is not affected.
        assert!(b.admit_at("fresh_tool", Some("other"), 2).allowed);
        assert!(b.admit_at("fresh_tool", None, 2).allowed);
        let json = b.to_json();
        assert_eq!(json["mode"], "enforce");
        assert!(json["breakers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["scope"] == "server" && x["state"] == "open"));
    }
}
