//! LangChain model runs as the core's `langchain.chat` payload (see `core/src/providers.rs`),
//! written straight from the message objects: the integration hands the run's messages and its
//! output message over and gets the JSON text back, with no per-message Python code. The core
//! maps it to the conventions' content, the system prompt, usage and the estimates on its thread.
//!
//! Fields are read from a message's `__dict__` (LangChain messages are pydantic models, whose
//! fields live there), so a field a message class lacks costs a dict lookup, not an
//! `AttributeError`. Objects without one (or with odd field values) are read as far as they go;
//! nothing here raises into the integration.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::{Map, Value as J};

use fivelens_core::semconv as sc;
use fivelens_core::{Key, Value};

use crate::convert;
use crate::span::PySpan;

/// The fields of a message the payload carries.
const FIELDS: [&str; 6] = [
    "type",
    "role",
    "content",
    "tool_calls",
    "tool_call_id",
    "name",
];

/// One message as the payload's JSON, serialised straight into the payload's text.
struct Message<'a, 'py>(&'a Bound<'py, PyAny>);

impl serde::Serialize for Message<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let m = self.0;
        let fields = m
            .getattr(intern!(m.py(), "__dict__"))
            .ok()
            .and_then(|d| d.cast_into::<PyDict>().ok());
        let mut map = ser.serialize_map(None)?;
        match fields {
            // One pass over the fields (a lookup by a Rust string would build a Python string
            // for each field of each message).
            Some(d) => {
                for (k, v) in d.iter() {
                    if v.is_none() {
                        continue;
                    }
                    let Ok(k) = k.cast::<PyString>() else {
                        continue;
                    };
                    let Ok(name) = k.to_str() else {
                        continue;
                    };
                    if FIELDS.contains(&name) {
                        map.serialize_entry(name, &convert::Json(&v, 1))?;
                    }
                }
            }
            // A plain string (a prompt) or anything else: its text as a human message.
            None => {
                map.serialize_entry("type", "human")?;
                match m.cast::<PyString>() {
                    Ok(s) => map.serialize_entry("content", &convert::Json(s, 1))?,
                    Err(_) => map.serialize_entry("content", &convert::type_label(m))?,
                }
            }
        }
        map.end()
    }
}

fn message_json(m: &Bound<'_, PyAny>) -> J {
    serde_json::to_value(Message(m)).unwrap_or(J::Null)
}

/// The run's input messages (one message list of the run).
struct Messages<'a, 'py>(&'a Bound<'py, PyAny>);

impl serde::Serialize for Messages<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = ser.serialize_seq(None)?;
        if let Ok(it) = self.0.try_iter() {
            for m in it.filter_map(Result::ok) {
                seq.serialize_element(&Message(&m))?;
            }
        }
        seq.end()
    }
}

/// `{"messages": [...]}` for a run's input messages.
fn request_json(messages: &Bound<'_, PyAny>) -> String {
    #[derive(serde::Serialize)]
    struct Request<'a, 'py> {
        messages: Messages<'a, 'py>,
    }
    serde_json::to_string(&Request {
        messages: Messages(messages),
    })
    .unwrap_or_else(|_| "{\"messages\":[]}".to_string())
}

/// `{"message": ..., "finish_reason": ..., "usage": ...}` for a run's output message (its
/// `usage_metadata` is the usage).
fn response_body(message: &Bound<'_, PyAny>, output: J, finish_reason: Option<&str>) -> String {
    let mut body = Map::new();
    let usage = message
        .getattr(intern!(message.py(), "__dict__"))
        .ok()
        .and_then(|d| d.cast_into::<PyDict>().ok())
        .and_then(|d| d.get_item("usage_metadata").ok().flatten())
        .filter(|u| !u.is_none());
    body.insert("message".into(), output);
    if let Some(reason) = finish_reason {
        body.insert("finish_reason".into(), J::from(reason));
    }
    if let Some(u) = usage {
        body.insert("usage".into(), convert::json(&u, 1));
    }
    J::Object(body).to_string()
}

/// Ends the span of a chat-model run with its `langchain.chat` payload (the input `messages`;
/// the output `message` with its usage and `finish_reason`, when the run produced one), its
/// attributes already set. With `journal` (the iteration span, when content is captured), the
/// output message's reasoning journal goes there too, at `when`.
pub(crate) fn end_chat(
    span: &PySpan,
    messages: &Bound<'_, PyAny>,
    message: Option<&Bound<'_, PyAny>>,
    finish_reason: Option<&str>,
    journal: Option<&PySpan>,
    when: u64,
) {
    let request = request_json(messages);
    let output = message.map(message_json);
    if let (Some(node), Some(m)) = (journal, &output) {
        journal_into(node, m, when);
    }
    let response = message
        .zip(output)
        .map(|(m, out)| response_body(m, out, finish_reason));
    let mut extra = vec![
        (sc::PRIVATE_FORMAT, "langchain.chat"),
        (sc::PRIVATE_REQUEST, request.as_str()),
    ];
    if let Some(r) = &response {
        extra.push((sc::PRIVATE_RESPONSE, r.as_str()));
    }
    span.end_with(None, &extra, None);
}

/// The agent's reasoning journal for a model's output message: `fivelens.agent.step` events on
/// the iteration (node) span, at `when` (ns): what it said (`thought`, or `final` without tool
/// calls) and each tool it chose (`action`, with `{"tool", "arguments"}`). Content: the caller
/// checks the capture switch first.
#[pyfunction]
pub fn _lc_journal(span: &Bound<'_, PySpan>, message: &Bound<'_, PyAny>, when: u64) {
    journal_into(span.get(), &message_json(message), when);
}

fn journal_into(span: &PySpan, m: &J, when: u64) {
    let text = fivelens_core::providers::langchain_text(&m["content"]);
    let calls = m["tool_calls"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let step = |kind: &str, content: String, tool: Option<&str>| {
        let mut kv = vec![(Key::new(sc::FIVELENS_STEP_KIND), Value::from(kind))];
        if let Some(t) = tool {
            kv.push((Key::new(sc::GEN_AI_TOOL_NAME), Value::from(t)));
        }
        if !content.is_empty() {
            kv.push((Key::new(sc::FIVELENS_STEP_CONTENT), Value::from(content)));
        }
        span.push_event(sc::FIVELENS_EVENT_AGENT_STEP, Some(when), kv);
    };
    if !text.is_empty() {
        step(
            if calls.is_empty() { "final" } else { "thought" },
            text,
            None,
        );
    }
    for call in calls {
        let name = match &call["name"] {
            J::String(n) => n.clone(),
            J::Null => "None".to_string(),
            other => other.to_string(),
        };
        let content = format!(
            "{{\"tool\":{},\"arguments\":{}}}",
            call["name"], call["args"]
        );
        step("action", content, Some(&name));
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_lc_journal, m)?)?;
    Ok(())
}
