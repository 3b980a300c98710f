//! The tool boundary and the guards for the JS layer (`withTool`, the LangChain.js and MCP
//! integrations, the model-call integrations): the circuit breakers and the budgets live in the
//! core, shared with Python; these functions only convert (JSON in and out).

use fivelens_core::ids::TraceId;
use fivelens_core::tools::{self, Failure, Transition};
use fivelens_core::{global, guards};
use napi_derive::napi;

fn transitions_json(list: &[Transition], mode: tools::Mode) -> serde_json::Value {
    serde_json::Value::Array(
        list.iter()
            .map(|t| {
                let attrs: serde_json::Map<String, serde_json::Value> =
                    tools::transition_attributes(t, mode)
                        .into_iter()
                        .map(|(k, v)| (k.as_str().to_string(), v.to_json()))
                        .collect();
                serde_json::json!([attrs, t.time_ns as f64 / 1e6])
            })
            .collect(),
    )
}

/// Whether a call of `tool` (of MCP server `server`) may go ahead: JSON with `allowed`,
/// `wouldReject`, `state`, `probe`, `rejectedBy`, `message`, `mode`, `ticket` and `transitions`
/// (`[event attributes, epoch ms]`).
#[napi]
pub fn tool_admit(tool: String, server: Option<String>) -> String {
    let a = tools::admit(&tool, server.as_deref());
    serde_json::json!({
        "allowed": a.allowed,
        "wouldReject": a.would_reject,
        "state": a.state.as_str(),
        "probe": a.probe,
        "rejectedBy": a.rejected_by.map(|s| s.as_str()),
        "message": a.message,
        "mode": a.mode.as_str(),
        "ticket": a.ticket,
        "transitions": transitions_json(&a.transitions, a.mode),
    })
    .to_string()
}

/// How an admitted call ended; returns the transitions it caused (JSON).
#[napi]
pub fn tool_record(tool: String, server: Option<String>, ticket: u32, error: bool) -> String {
    let t = tools::record(&tool, server.as_deref(), ticket as u8, error);
    transitions_json(&t, tools::mode()).to_string()
}

/// The category of a failed tool call.
#[napi]
pub fn tool_category(
    error_type: Option<String>,
    message: Option<String>,
    status_code: Option<f64>,
    payload: bool,
) -> String {
    tools::classify(&Failure {
        error_type: error_type.as_deref(),
        message: message.as_deref(),
        status_code: status_code.filter(|c| c.is_finite()).map(|c| c as i64),
        payload,
    })
    .as_str()
    .to_string()
}

/// Whether any loop or budget guard is set.
#[napi]
pub fn guards_active() -> bool {
    guards::active()
}

/// Whether a model call may start now in `trace_id` (hex) and `session_id`: `null`, or the
/// limit reached as JSON (`kind`, `scope`, `limit`, `used`, `message`, `attributes`).
#[napi]
pub fn guard_check(trace_id: Option<String>, session_id: Option<String>) -> Option<String> {
    if !guards::active() {
        return None;
    }
    let trace = trace_id.as_deref().and_then(TraceId::from_hex);
    match guards::check(trace, session_id.as_deref()) {
        Ok(()) => None,
        Err(e) => {
            let attrs: serde_json::Map<String, serde_json::Value> = guards::event_attributes(&e)
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_json()))
                .collect();
            Some(
                serde_json::json!({
                    "kind": e.kind,
                    "scope": e.scope,
                    "limit": e.limit,
                    "used": e.used,
                    "message": e.message,
                    "attributes": attrs,
                })
                .to_string(),
            )
        }
    }
}

/// An agent iteration `n` started in `trace_id` (hex).
#[napi]
pub fn guard_iteration(trace_id: String, n: f64) {
    if let Some(trace) = TraceId::from_hex(&trace_id) {
        if n.is_finite() && n > 0.0 {
            guards::note_iteration(trace, n as u64);
        }
    }
}

/// Model-call spans that just ended (a one-span batch, the format of `submitBatch`): their spend
/// counts now, before the next call (the batch itself goes to the pipeline later).
#[napi]
pub fn guard_observe(batch: String) {
    if !guards::active() {
        return;
    }
    match crate::batch::decode(&batch) {
        Ok(records) => records.iter().for_each(guards::observe),
        Err(e) => global::report_internal_error("node.batch", &format!("unreadable span: {e}")),
    }
}

/// What `trace_id` and `session_id` have spent (JSON; `null` without guards).
#[napi]
pub fn guard_spend(trace_id: Option<String>, session_id: Option<String>) -> String {
    let trace = trace_id.as_deref().and_then(TraceId::from_hex);
    guards::spend(trace, session_id.as_deref()).to_string()
}
