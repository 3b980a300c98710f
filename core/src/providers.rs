//! Provider payloads to GenAI attributes, on the processing thread.
//!
//! An integration hands the request body it sent and the response body it got, as the provider's
//! own JSON, in private attributes (`fivelens._request`, `fivelens._response`, with their format in
//! `fivelens._format`); this module turns them into the conventions' attributes: request
//! parameters, response id and model, finish reasons, usage, and the content in the conventions'
//! JSON shape. The host languages then do almost nothing on the caller's thread (serialising a
//! dict or a model is a couple of microseconds), and both bindings share one mapping.
//!
//! Attributes the integration already set win (streamed responses are assembled by the host's
//! stream observer). Formats: `openai.chat`, `openai.responses`, `openai.completions`,
//! `openai.embeddings`, `anthropic.messages`, `anthropic.complete`, and `langchain.chat`: a
//! LangChain chat-model run as the LangChain integrations hand it over (messages with LangChain's
//! own fields, so that the caller only copies references; see [`langchain_message`]).

use serde_json::{json, Value as J};

use crate::key::Key;
use crate::record::{Limits, SpanRecord, Status};
use crate::semconv as sc;
use crate::value::{Value, ValueRef};

/// What a request or a response gave, beyond plain attributes: the text the stage needs for a
/// prompt hash and token estimates.
#[derive(Default, Debug)]
pub struct Extracted {
    /// The system prompt as sent.
    pub system_text: Option<String>,
    /// The text of the input messages (for an estimate).
    pub input_text: Option<String>,
    /// The text of the output (for an estimate).
    pub output_text: Option<String>,
    /// The request's messages, system instructions and tool definitions as sent, for the
    /// context-window sections (whether content is captured or not).
    pub input: crate::context_window::Input,
}

struct Out<'a> {
    r: &'a mut SpanRecord,
    limits: &'a Limits,
    capture: bool,
}

impl Out<'_> {
    fn absent(&self, key: &str) -> bool {
        self.r.attribute(key).is_none()
    }
    fn str(&mut self, key: &str, v: Option<&str>) {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            if self.absent(key) {
                self.r.set_str(Key::new(key), v, self.limits);
            }
        }
    }
    fn int(&mut self, key: &str, v: Option<i64>) {
        if let Some(v) = v {
            if self.absent(key) {
                self.r
                    .set_attribute_ref(Key::new(key), ValueRef::I64(v), self.limits);
            }
        }
    }
    fn float(&mut self, key: &str, v: Option<f64>) {
        if let Some(v) = v {
            if self.absent(key) {
                self.r
                    .set_attribute_ref(Key::new(key), ValueRef::F64(v), self.limits);
            }
        }
    }
    fn bool(&mut self, key: &str, v: bool) {
        if v && self.absent(key) {
            self.r
                .set_attribute_ref(Key::new(key), ValueRef::Bool(true), self.limits);
        }
    }
    fn strs(&mut self, key: &str, v: Vec<String>) {
        if !v.is_empty() && self.absent(key) {
            let arr = Value::StrArray(v.into_iter().map(Into::into).collect());
            self.r
                .set_attribute_ref(Key::new(key), ValueRef::Array(&arr), self.limits);
        }
    }
    /// Content (only when capture is on).
    fn content(&mut self, key: &str, v: &J) {
        let empty = match v {
            J::Array(a) => a.is_empty(),
            J::Null => true,
            _ => false,
        };
        if self.capture && !empty && self.absent(key) {
            self.r.set_str(Key::new(key), &v.to_string(), self.limits);
        }
    }
}

fn s(v: &J) -> Option<&str> {
    v.as_str()
}

fn int(v: &J) -> Option<i64> {
    v.as_i64().filter(|n| *n >= 0)
}

fn text_part(text: &str) -> J {
    json!({"type": "text", "content": text})
}

fn texts_of(parts: &[J]) -> Vec<&str> {
    parts
        .iter()
        .filter(|p| p["type"] == "text")
        .filter_map(|p| p["content"].as_str())
        .collect()
}

fn messages_text(messages: &[J]) -> String {
    let mut out = String::new();
    for m in messages {
        if let Some(parts) = m["parts"].as_array() {
            for t in texts_of(parts) {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(t);
            }
        }
    }
    out
}

/// A tool call's arguments: the parsed JSON object when the string is JSON, else the string.
fn arguments(raw: &J) -> J {
    match raw {
        J::String(t) => serde_json::from_str(t).unwrap_or_else(|_| raw.clone()),
        J::Null => json!({}),
        other => other.clone(),
    }
}

fn media(url: &str, modality: &str) -> J {
    if let Some(rest) = url.strip_prefix("data:") {
        let (head, data) = rest.split_once(',').unwrap_or((rest, ""));
        let mime = head.split(';').next().unwrap_or("");
        let mut part = json!({"type": "blob", "modality": modality, "content": data});
        if !mime.is_empty() {
            part["mime_type"] = json!(mime);
        }
        return part;
    }
    json!({"type": "uri", "modality": modality, "uri": url})
}

/// OpenAI content (a string or typed parts, chat or Responses flavour) as parts.
fn openai_parts(content: &J) -> Vec<J> {
    match content {
        J::Null => Vec::new(),
        J::String(t) => vec![text_part(t)],
        J::Array(items) => items
            .iter()
            .map(|p| {
                if let Some(t) = p.as_str() {
                    return text_part(t);
                }
                match s(&p["type"]).unwrap_or("") {
                    "text" | "input_text" | "output_text" => {
                        text_part(s(&p["text"]).unwrap_or(""))
                    }
                    "refusal" => text_part(s(&p["refusal"]).unwrap_or("")),
                    "image_url" => media(s(&p["image_url"]["url"]).unwrap_or(""), "image"),
                    "input_image" => match s(&p["image_url"]) {
                        Some(url) => media(url, "image"),
                        None => json!({"type": "file", "modality": "image", "file_id": p["file_id"]}),
                    },
                    "input_audio" => json!({
                        "type": "blob", "modality": "audio",
                        "content": p["input_audio"]["data"],
                        "mime_type": format!("audio/{}", s(&p["input_audio"]["format"]).unwrap_or("")),
                    }),
                    "file" | "input_file" => {
                        let f = if p["file"].is_object() { &p["file"] } else { p };
                        let id = if f["file_id"].is_null() { &f["filename"] } else { &f["file_id"] };
                        json!({"type": "file", "modality": "document", "file_id": id})
                    }
                    other => json!({"type": other}),
                }
            })
            .collect(),
        other => vec![text_part(&other.to_string())],
    }
}

fn joined_text(parts: &[J]) -> String {
    texts_of(parts).join("\n")
}

fn openai_tools(tools: &J) -> J {
    let defs: Vec<J> = tools
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or(&[])
        .iter()
        .map(|t| {
            let kind = s(&t["type"]).unwrap_or("function");
            let name = s(&t["function"]["name"])
                .or_else(|| s(&t["name"]))
                .or_else(|| s(&t["custom"]["name"]));
            let mut d = json!({ "type": kind });
            if let Some(n) = name {
                d["name"] = json!(n);
            }
            d
        })
        .collect();
    J::Array(defs)
}

fn output_type(format: &J) -> Option<&'static str> {
    match s(&format["type"]) {
        Some("json_schema" | "json_object") => Some("json"),
        Some("text") => Some("text"),
        _ => None,
    }
}

fn stops(v: &J) -> Vec<String> {
    match v {
        J::String(t) => vec![t.clone()],
        J::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn common_request(out: &mut Out, body: &J) {
    out.float(sc::GEN_AI_REQUEST_TEMPERATURE, body["temperature"].as_f64());
    out.float(sc::GEN_AI_REQUEST_TOP_P, body["top_p"].as_f64());
    out.float(
        sc::GEN_AI_REQUEST_FREQUENCY_PENALTY,
        body["frequency_penalty"].as_f64(),
    );
    out.float(
        sc::GEN_AI_REQUEST_PRESENCE_PENALTY,
        body["presence_penalty"].as_f64(),
    );
    out.int(sc::GEN_AI_REQUEST_SEED, body["seed"].as_i64());
    out.str(sc::OPENAI_REQUEST_SERVICE_TIER, s(&body["service_tier"]));
    out.bool(sc::GEN_AI_REQUEST_STREAM, body["stream"] == true);
}

fn openai_chat_messages(messages: &J) -> (Vec<J>, Option<String>) {
    let mut out = Vec::new();
    let mut system = Vec::new();
    for m in messages.as_array().map(|a| a.as_slice()).unwrap_or(&[]) {
        let role = s(&m["role"]).unwrap_or("user");
        if role == "tool" {
            let response = match &m["content"] {
                J::Array(_) => json!(joined_text(&openai_parts(&m["content"]))),
                other => other.clone(),
            };
            out.push(json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": m["tool_call_id"], "response": response}]}));
            continue;
        }
        let mut parts = openai_parts(&m["content"]);
        if role == "system" || role == "developer" {
            system.extend(texts_of(&parts).into_iter().map(str::to_string));
        }
        for call in m["tool_calls"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or(&[])
        {
            parts.push(json!({"type": "tool_call", "id": call["id"], "name": call["function"]["name"], "arguments": arguments(&call["function"]["arguments"])}));
        }
        let mut msg = json!({"role": role, "parts": parts});
        if let Some(name) = s(&m["name"]) {
            msg["name"] = json!(name);
        }
        out.push(msg);
    }
    let system = (!system.is_empty()).then(|| system.join("\n"));
    (out, system)
}

fn responses_input(input: &J) -> (Vec<J>, Option<String>) {
    let items = match input {
        J::Null => return (Vec::new(), None),
        J::String(t) => return (vec![json!({"role": "user", "parts": [text_part(t)]})], None),
        J::Array(a) => a.as_slice(),
        _ => return (Vec::new(), None),
    };
    let mut out = Vec::new();
    let mut system = Vec::new();
    for item in items {
        let kind = s(&item["type"]);
        let role = s(&item["role"]);
        match (kind, role) {
            (None | Some("message"), Some(role)) => {
                let parts = openai_parts(&item["content"]);
                if role == "system" || role == "developer" {
                    system.extend(texts_of(&parts).into_iter().map(str::to_string));
                }
                out.push(json!({"role": role, "parts": parts}));
            }
            (Some("function_call"), _) => out.push(json!({"role": "assistant", "parts": [{"type": "tool_call", "id": item["call_id"], "name": item["name"], "arguments": arguments(&item["arguments"])}]})),
            (Some("function_call_output" | "custom_tool_call_output"), _) => out.push(json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": item["call_id"], "response": item["output"]}]})),
            (Some("reasoning"), _) => {
                let text: Vec<&str> = item["summary"].as_array().map(|a| a.iter().filter_map(|x| x["text"].as_str()).collect()).unwrap_or_default();
                out.push(json!({"role": "assistant", "parts": [{"type": "reasoning", "content": text.join("\n")}]}));
            }
            (Some(other), _) => {
                let role = if other.contains("call") { "assistant" } else { "user" };
                out.push(json!({"role": role, "parts": [{"type": other}]}));
            }
            (None, None) => {}
        }
    }
    let system = (!system.is_empty()).then(|| system.join("\n"));
    (out, system)
}

/// Anthropic content (a string or blocks) as parts.
fn anthropic_parts(content: &J) -> Vec<J> {
    match content {
        J::Null => Vec::new(),
        J::String(t) => vec![text_part(t)],
        J::Array(blocks) => blocks
            .iter()
            .map(|b| {
                if let Some(t) = b.as_str() {
                    return text_part(t);
                }
                let kind = s(&b["type"]).unwrap_or("");
                match kind {
                    "text" => text_part(s(&b["text"]).unwrap_or("")),
                    "thinking" => json!({"type": "reasoning", "content": s(&b["thinking"]).unwrap_or("")}),
                    "redacted_thinking" => json!({"type": "reasoning", "content": ""}),
                    "tool_use" => json!({"type": "tool_call", "id": b["id"], "name": b["name"], "arguments": b["input"]}),
                    "tool_result" => {
                        let response = match &b["content"] {
                            J::Array(_) => json!(joined_text(&anthropic_parts(&b["content"]))),
                            other => other.clone(),
                        };
                        json!({"type": "tool_call_response", "id": b["tool_use_id"], "response": response})
                    }
                    "image" | "document" => {
                        let modality = if kind == "image" { "image" } else { "document" };
                        let src = &b["source"];
                        match s(&src["type"]) {
                            Some("base64") => json!({"type": "blob", "modality": modality, "mime_type": src["media_type"], "content": src["data"]}),
                            Some("url") => json!({"type": "uri", "modality": modality, "uri": src["url"]}),
                            Some("file") => json!({"type": "file", "modality": modality, "file_id": src["file_id"]}),
                            Some("text") => text_part(s(&src["data"]).unwrap_or("")),
                            _ => json!({"type": kind}),
                        }
                    }
                    k if k.starts_with("server_tool_use") || k.starts_with("mcp_tool_use") => json!({"type": "server_tool_call", "id": b["id"], "name": b["name"], "server_tool_call": {"type": k, "input": b["input"]}}),
                    k if k.ends_with("_tool_result") => json!({"type": "server_tool_call_response", "id": b["tool_use_id"], "server_tool_call_response": {"type": k}}),
                    k => json!({"type": k}),
                }
            })
            .collect(),
        other => vec![text_part(&other.to_string())],
    }
}

/// LangChain message types as the conventions' roles.
fn langchain_role(m: &J) -> &str {
    match s(&m["type"]).unwrap_or("") {
        "human" => "user",
        "ai" => "assistant",
        "system" => "system",
        "tool" | "function" => "tool",
        _ => s(&m["role"]).filter(|r| !r.is_empty()).unwrap_or("user"),
    }
}

/// The text of LangChain message content: a string, or the text blocks of a list, joined.
pub fn langchain_text(content: &J) -> String {
    match content {
        J::String(t) => t.clone(),
        J::Array(blocks) => {
            let mut out = String::new();
            for b in blocks {
                if let Some(t) = b.as_str() {
                    out.push_str(t);
                } else if b["type"] == "text" {
                    match &b["text"] {
                        J::String(t) => out.push_str(t),
                        J::Null => {}
                        other => out.push_str(&other.to_string()),
                    }
                }
            }
            out
        }
        J::Null => String::new(),
        other => other.to_string(),
    }
}

/// A LangChain message (`{type, role?, content, tool_calls?, tool_call_id?, name?}`, the fields
/// of LangChain's message classes in both languages) in the conventions' `{role, parts}` shape.
fn langchain_message(m: &J) -> J {
    let role = langchain_role(m);
    let mut parts = Vec::new();
    if role == "tool" {
        parts.push(json!({"type": "tool_call_response", "id": m["tool_call_id"], "response": langchain_text(&m["content"])}));
    } else {
        let text = langchain_text(&m["content"]);
        if !text.is_empty() {
            parts.push(text_part(&text));
        }
        for call in m["tool_calls"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or(&[])
        {
            parts.push(json!({"type": "tool_call", "id": call["id"], "name": call["name"], "arguments": call["args"]}));
        }
    }
    let mut msg = json!({"role": role, "parts": parts});
    if let Some(name) = s(&m["name"]).filter(|n| !n.is_empty()) {
        msg["name"] = json!(name);
    }
    msg
}

fn anthropic_tools(tools: &J) -> J {
    J::Array(
        tools
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or(&[])
            .iter()
            .map(|t| {
                let kind = match s(&t["type"]) {
                    None | Some("custom") => "function",
                    Some(k) => k,
                };
                let mut d = json!({ "type": kind });
                if let Some(n) = s(&t["name"]) {
                    d["name"] = json!(n);
                }
                d
            })
            .collect(),
    )
}

/// Applies a request body; returns the texts the stage needs.
pub fn apply_request(
    r: &mut SpanRecord,
    format: &str,
    body: &J,
    capture: bool,
    limits: &Limits,
) -> Extracted {
    let mut out = Out { r, limits, capture };
    let mut x = Extracted::default();
    let (messages, system_parts, tools): (Vec<J>, Option<Vec<J>>, J) = match format {
        "openai.chat" => {
            common_request(&mut out, body);
            out.int(
                sc::GEN_AI_REQUEST_MAX_TOKENS,
                int(&body["max_completion_tokens"]).or_else(|| int(&body["max_tokens"])),
            );
            out.strs(sc::GEN_AI_REQUEST_STOP_SEQUENCES, stops(&body["stop"]));
            if let Some(n) = int(&body["n"]).filter(|n| *n != 1) {
                out.int(sc::GEN_AI_REQUEST_CHOICE_COUNT, Some(n));
            }
            out.str(
                sc::GEN_AI_REQUEST_REASONING_LEVEL,
                s(&body["reasoning_effort"]),
            );
            out.str(
                sc::GEN_AI_OUTPUT_TYPE,
                output_type(&body["response_format"]),
            );
            let (m, system) = openai_chat_messages(&body["messages"]);
            x.system_text = system;
            (m, None, openai_tools(&body["tools"]))
        }
        "openai.responses" => {
            common_request(&mut out, body);
            out.int(
                sc::GEN_AI_REQUEST_MAX_TOKENS,
                int(&body["max_output_tokens"]),
            );
            out.str(
                sc::GEN_AI_REQUEST_REASONING_LEVEL,
                s(&body["reasoning"]["effort"]),
            );
            out.str(sc::GEN_AI_OUTPUT_TYPE, output_type(&body["text"]["format"]));
            out.str(
                sc::GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID,
                s(&body["previous_response_id"]),
            );
            out.str(
                sc::GEN_AI_CONVERSATION_ID,
                s(&body["conversation"]).or_else(|| s(&body["conversation"]["id"])),
            );
            if let Some(id) = s(&body["prompt"]["id"]) {
                // A stored prompt: its id and version are the declared prompt name and version.
                out.str(sc::GEN_AI_PROMPT_NAME, Some(id));
                out.str(sc::GEN_AI_PROMPT_VERSION, s(&body["prompt"]["version"]));
            }
            let (m, mut system) = responses_input(&body["input"]);
            let mut system_parts = None;
            if let Some(instructions) = s(&body["instructions"]).filter(|t| !t.is_empty()) {
                system_parts = Some(vec![text_part(instructions)]);
                system = Some(instructions.to_string());
            }
            x.system_text = system;
            (m, system_parts, openai_tools(&body["tools"]))
        }
        "openai.completions" => {
            common_request(&mut out, body);
            out.int(sc::GEN_AI_REQUEST_MAX_TOKENS, int(&body["max_tokens"]));
            out.strs(sc::GEN_AI_REQUEST_STOP_SEQUENCES, stops(&body["stop"]));
            let prompts: Vec<J> = stops(&body["prompt"])
                .iter()
                .map(|t| json!({"role": "user", "parts": [text_part(t)]}))
                .collect();
            (prompts, None, J::Null)
        }
        "openai.embeddings" => {
            if let Some(f) = s(&body["encoding_format"]) {
                out.strs(sc::GEN_AI_REQUEST_ENCODING_FORMATS, vec![f.to_string()]);
            }
            out.int(
                sc::GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
                int(&body["dimensions"]),
            );
            (Vec::new(), None, J::Null)
        }
        "anthropic.messages" => {
            out.int(sc::GEN_AI_REQUEST_MAX_TOKENS, int(&body["max_tokens"]));
            out.float(sc::GEN_AI_REQUEST_TEMPERATURE, body["temperature"].as_f64());
            out.float(sc::GEN_AI_REQUEST_TOP_P, body["top_p"].as_f64());
            out.int(sc::GEN_AI_REQUEST_TOP_K, int(&body["top_k"]));
            out.strs(
                sc::GEN_AI_REQUEST_STOP_SEQUENCES,
                stops(&body["stop_sequences"]),
            );
            out.bool(sc::GEN_AI_REQUEST_STREAM, body["stream"] == true);
            out.str(
                sc::GEN_AI_REQUEST_REASONING_LEVEL,
                s(&body["output_config"]["effort"]),
            );
            let format = if body["output_config"]["format"].is_object() {
                &body["output_config"]["format"]
            } else {
                &body["output_format"]
            };
            if s(&format["type"]) == Some("json_schema") {
                out.str(sc::GEN_AI_OUTPUT_TYPE, Some("json"));
            }
            let messages: Vec<J> = body["messages"]
                .as_array()
                .map(|a| a.as_slice())
                .unwrap_or(&[])
                .iter()
                .map(|m| json!({"role": s(&m["role"]).unwrap_or("user"), "parts": anthropic_parts(&m["content"])}))
                .collect();
            let system_parts =
                (!body["system"].is_null()).then(|| anthropic_parts(&body["system"]));
            x.system_text = system_parts
                .as_deref()
                .map(joined_text)
                .filter(|t| !t.is_empty());
            (messages, system_parts, anthropic_tools(&body["tools"]))
        }
        "langchain.chat" => {
            let messages: Vec<J> = body["messages"]
                .as_array()
                .map(|a| a.as_slice())
                .unwrap_or(&[])
                .iter()
                .map(langchain_message)
                .collect();
            let system: Vec<&str> = messages
                .iter()
                .filter(|m| m["role"] == "system")
                .flat_map(|m| {
                    m["parts"]
                        .as_array()
                        .map(|p| texts_of(p))
                        .unwrap_or_default()
                })
                .collect();
            x.system_text = (!system.is_empty()).then(|| system.join("\n"));
            (messages, None, J::Null)
        }
        "anthropic.complete" => {
            out.int(
                sc::GEN_AI_REQUEST_MAX_TOKENS,
                int(&body["max_tokens_to_sample"]),
            );
            let prompts = s(&body["prompt"])
                .map(|t| vec![json!({"role": "user", "parts": [text_part(t)]})])
                .unwrap_or_default();
            (prompts, None, J::Null)
        }
        _ => return x,
    };
    let mut input_text = messages_text(&messages);
    if let Some(system) = &x.system_text {
        let in_messages = messages
            .iter()
            .any(|m| matches!(s(&m["role"]), Some("system" | "developer")));
        if !in_messages {
            input_text = if input_text.is_empty() {
                system.clone()
            } else {
                format!("{system}\n{input_text}")
            };
        }
    }
    x.input_text = (!input_text.is_empty()).then_some(input_text);
    let messages = J::Array(messages);
    out.content(sc::GEN_AI_INPUT_MESSAGES, &messages);
    if let Some(parts) = &system_parts {
        out.content(sc::GEN_AI_SYSTEM_INSTRUCTIONS, &J::Array(parts.clone()));
    }
    out.content(sc::GEN_AI_TOOL_DEFINITIONS, &tools);
    // The sections count the tool definitions as sent (their schemas cost tokens too), not the
    // conventions' summary of them.
    let raw_tools = match &body["tools"] {
        J::Array(a) if !a.is_empty() => Some(body["tools"].to_string()),
        _ => None,
    };
    x.input = crate::context_window::Input {
        messages: match messages {
            J::Array(m) => m,
            _ => Vec::new(),
        },
        system: system_parts.unwrap_or_default(),
        tools: raw_tools,
    };
    x
}

fn openai_usage(out: &mut Out, u: &J) {
    if !u.is_object() {
        return;
    }
    let (input, output, in_details, out_details) = if u["prompt_tokens"].is_number() {
        (
            &u["prompt_tokens"],
            &u["completion_tokens"],
            &u["prompt_tokens_details"],
            &u["completion_tokens_details"],
        )
    } else {
        (
            &u["input_tokens"],
            &u["output_tokens"],
            &u["input_tokens_details"],
            &u["output_tokens_details"],
        )
    };
    out.int(sc::GEN_AI_USAGE_INPUT_TOKENS, int(input));
    out.int(sc::GEN_AI_USAGE_OUTPUT_TOKENS, int(output));
    out.int(
        sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        int(&in_details["cached_tokens"]),
    );
    out.int(
        sc::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        int(&out_details["reasoning_tokens"]),
    );
}

fn response_meta(out: &mut Out, body: &J) {
    out.str(sc::GEN_AI_RESPONSE_ID, s(&body["id"]));
    out.str(sc::GEN_AI_RESPONSE_MODEL, s(&body["model"]));
}

/// Applies a (non-streamed) response body; returns the output text for an estimate.
pub fn apply_response(
    r: &mut SpanRecord,
    format: &str,
    body: &J,
    capture: bool,
    limits: &Limits,
) -> Extracted {
    let mut out = Out { r, limits, capture };
    let mut x = Extracted::default();
    let messages: Vec<J> = match format {
        "openai.chat" | "openai.completions" => {
            response_meta(&mut out, body);
            out.str(sc::OPENAI_RESPONSE_SERVICE_TIER, s(&body["service_tier"]));
            out.str(
                sc::OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
                s(&body["system_fingerprint"]),
            );
            let mut reasons = Vec::new();
            let mut messages = Vec::new();
            for choice in body["choices"]
                .as_array()
                .map(|a| a.as_slice())
                .unwrap_or(&[])
            {
                let reason = s(&choice["finish_reason"]).unwrap_or("error").to_string();
                let message = &choice["message"];
                let mut parts = Vec::new();
                if message.is_object() {
                    if let Some(t) = s(&message["content"]).filter(|t| !t.is_empty()) {
                        parts.push(text_part(t));
                    }
                    if let Some(t) = s(&message["refusal"]).filter(|t| !t.is_empty()) {
                        parts.push(text_part(t));
                    }
                    for call in message["tool_calls"]
                        .as_array()
                        .map(|a| a.as_slice())
                        .unwrap_or(&[])
                    {
                        parts.push(json!({"type": "tool_call", "id": call["id"], "name": call["function"]["name"], "arguments": arguments(&call["function"]["arguments"])}));
                    }
                } else if let Some(t) = s(&choice["text"]).filter(|t| !t.is_empty()) {
                    parts.push(text_part(t));
                }
                messages
                    .push(json!({"role": "assistant", "parts": parts, "finish_reason": reason}));
                reasons.push(reason);
            }
            out.strs(sc::GEN_AI_RESPONSE_FINISH_REASONS, reasons);
            openai_usage(&mut out, &body["usage"]);
            messages
        }
        "openai.responses" => {
            response_meta(&mut out, body);
            out.str(sc::OPENAI_RESPONSE_SERVICE_TIER, s(&body["service_tier"]));
            let mut parts = Vec::new();
            let mut tool_call = false;
            for item in body["output"]
                .as_array()
                .map(|a| a.as_slice())
                .unwrap_or(&[])
            {
                match s(&item["type"]).unwrap_or("") {
                    "message" => parts.extend(openai_parts(&item["content"])),
                    "function_call" | "custom_tool_call" => {
                        tool_call = true;
                        let args = if item["arguments"].is_null() { &item["input"] } else { &item["arguments"] };
                        parts.push(json!({"type": "tool_call", "id": item["call_id"], "name": item["name"], "arguments": arguments(args)}));
                    }
                    "reasoning" => {
                        let text: Vec<&str> = item["summary"].as_array().map(|a| a.iter().filter_map(|x| x["text"].as_str()).collect()).unwrap_or_default();
                        parts.push(json!({"type": "reasoning", "content": text.join("\n")}));
                    }
                    "" => {}
                    kind => parts.push(json!({"type": "server_tool_call", "id": item["id"], "name": kind, "server_tool_call": {"type": kind}})),
                }
            }
            let reason = match s(&body["status"]) {
                Some("incomplete") => match s(&body["incomplete_details"]["reason"]) {
                    Some("max_output_tokens") => "length".to_string(),
                    Some(other) => other.to_string(),
                    None => "incomplete".to_string(),
                },
                Some("failed") => "error".to_string(),
                _ if tool_call => "tool_calls".to_string(),
                _ => "stop".to_string(),
            };
            if s(&body["status"]) == Some("failed") {
                let code = s(&body["error"]["code"]).unwrap_or("_OTHER").to_string();
                let message = s(&body["error"]["message"])
                    .unwrap_or("response failed")
                    .to_string();
                out.str(sc::ERROR_TYPE, Some(&code));
                out.r.set_status(Status::Error(message.into()));
            }
            out.strs(sc::GEN_AI_RESPONSE_FINISH_REASONS, vec![reason.clone()]);
            openai_usage(&mut out, &body["usage"]);
            vec![json!({"role": "assistant", "parts": parts, "finish_reason": reason})]
        }
        "openai.embeddings" => {
            out.str(sc::GEN_AI_RESPONSE_MODEL, s(&body["model"]));
            if let Some(n) = body["data"][0]["embedding"].as_array().map(Vec::len) {
                out.int(sc::GEN_AI_EMBEDDINGS_DIMENSION_COUNT, Some(n as i64));
            }
            out.int(
                sc::GEN_AI_USAGE_INPUT_TOKENS,
                int(&body["usage"]["prompt_tokens"]),
            );
            Vec::new()
        }
        "anthropic.messages" => {
            response_meta(&mut out, body);
            let reason = s(&body["stop_reason"]).unwrap_or("error").to_string();
            out.strs(sc::GEN_AI_RESPONSE_FINISH_REASONS, vec![reason.clone()]);
            anthropic_usage(&mut out, &body["usage"]);
            vec![
                json!({"role": "assistant", "parts": anthropic_parts(&body["content"]), "finish_reason": reason}),
            ]
        }
        "langchain.chat" => {
            // `{message, finish_reason?, usage?}`: the run's output message and LangChain's
            // `usage_metadata` (its id, model and finish reason are set by the integration).
            let u = &body["usage"];
            if u.is_object() {
                out.int(sc::GEN_AI_USAGE_INPUT_TOKENS, int(&u["input_tokens"]));
                out.int(sc::GEN_AI_USAGE_OUTPUT_TOKENS, int(&u["output_tokens"]));
                let (inp, outp) = (&u["input_token_details"], &u["output_token_details"]);
                out.int(
                    sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                    int(&inp["cache_read"]),
                );
                out.int(
                    sc::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
                    int(&inp["cache_creation"]),
                );
                out.int(
                    sc::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
                    int(&outp["reasoning"]),
                );
            }
            if body["message"].is_object() {
                let mut m = langchain_message(&body["message"]);
                m["role"] = json!("assistant");
                if let Some(reason) = s(&body["finish_reason"]).filter(|r| !r.is_empty()) {
                    m["finish_reason"] = json!(reason);
                }
                vec![m]
            } else {
                Vec::new()
            }
        }
        "anthropic.complete" => {
            response_meta(&mut out, body);
            let reason = s(&body["stop_reason"]).unwrap_or("error").to_string();
            out.strs(sc::GEN_AI_RESPONSE_FINISH_REASONS, vec![reason.clone()]);
            vec![
                json!({"role": "assistant", "parts": [text_part(s(&body["completion"]).unwrap_or(""))], "finish_reason": reason}),
            ]
        }
        _ => return x,
    };
    let text = messages_text(&messages);
    x.output_text = (!text.is_empty()).then_some(text);
    out.content(sc::GEN_AI_OUTPUT_MESSAGES, &J::Array(messages));
    x
}

/// Anthropic usage in the conventions' terms: the input count includes the cache reads and
/// writes that Anthropic's own `input_tokens` leaves out.
fn anthropic_usage(out: &mut Out, u: &J) {
    if !u.is_object() {
        return;
    }
    let read = int(&u["cache_read_input_tokens"]);
    let write = int(&u["cache_creation_input_tokens"]);
    if let Some(uncached) = int(&u["input_tokens"]) {
        out.int(
            sc::GEN_AI_USAGE_INPUT_TOKENS,
            Some(uncached + read.unwrap_or(0) + write.unwrap_or(0)),
        );
    }
    out.int(sc::GEN_AI_USAGE_OUTPUT_TOKENS, int(&u["output_tokens"]));
    out.int(sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, read);
    out.int(sc::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, write);
    out.int(
        sc::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        int(&u["output_tokens_details"]["thinking_tokens"]),
    );
}

/// The payload as a JSON object; `None` (nothing is applied) when it is not one. JavaScript
/// writes a lone UTF-16 surrogate in a string as its escape (`\ud800`), which JSON readers refuse:
/// such escapes become U+FFFD and the payload is read again.
pub fn parse(text: &str) -> Option<J> {
    match serde_json::from_str::<J>(text) {
        Ok(v) => Some(v).filter(J::is_object),
        Err(_) if text.contains("\\u") => serde_json::from_str::<J>(&without_lone_surrogates(text))
            .ok()
            .filter(J::is_object),
        Err(_) => None,
    }
}

/// JSON text with every `\uXXXX` escape of a lone surrogate replaced by `\ufffd`.
fn without_lone_surrogates(text: &str) -> String {
    fn escape_at(b: &[u8], i: usize) -> Option<u16> {
        if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
            return None;
        }
        let hex = std::str::from_utf8(b.get(i + 2..i + 6)?).ok()?;
        u16::from_str_radix(hex, 16).ok()
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        match escape_at(b, i) {
            Some(0xD800..=0xDBFF) if matches!(escape_at(b, i + 6), Some(0xDC00..=0xDFFF)) => {
                i += 12
            }
            Some(0xD800..=0xDFFF) => {
                out.push_str(&text[copied..i]);
                out.push_str("\\ufffd");
                i += 6;
                copied = i;
            }
            // Any other escape (`\\` included) is two characters or a whole `\uXXXX`.
            Some(_) => i += 6,
            None => i += 2,
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SpanKind;

    fn record() -> SpanRecord {
        SpanRecord::start("chat gpt-4o", SpanKind::Client, None)
    }

    fn get<'a>(r: &'a SpanRecord, k: &str) -> Option<ValueRef<'a>> {
        r.attribute(k)
    }

    #[test]
    fn openai_chat_request_and_response() {
        let mut r = record();
        let limits = Limits::current();
        let body = json!({
            "model": "gpt-4o", "max_completion_tokens": 50, "temperature": 1, "stop": "END", "n": 2,
            "response_format": {"type": "json_schema"},
            "messages": [
                {"role": "system", "content": "Be  brief."},
                {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "done"}
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]
        });
        let x = apply_request(&mut r, "openai.chat", &body, true, &limits);
        assert_eq!(x.system_text.as_deref(), Some("Be  brief."));
        assert_eq!(x.input_text.as_deref(), Some("Be  brief.\nhi"));
        assert_eq!(
            get(&r, sc::GEN_AI_REQUEST_MAX_TOKENS),
            Some(ValueRef::I64(50))
        );
        assert_eq!(
            get(&r, sc::GEN_AI_REQUEST_TEMPERATURE),
            Some(ValueRef::F64(1.0))
        );
        assert_eq!(
            get(&r, sc::GEN_AI_REQUEST_CHOICE_COUNT),
            Some(ValueRef::I64(2))
        );
        assert_eq!(get(&r, sc::GEN_AI_OUTPUT_TYPE), Some(ValueRef::Str("json")));
        let Some(ValueRef::Str(m)) = get(&r, sc::GEN_AI_INPUT_MESSAGES) else {
            panic!("no input messages")
        };
        let m: J = serde_json::from_str(m).unwrap();
        assert_eq!(
            m[1]["parts"][1],
            json!({"type": "blob", "modality": "image", "content": "AAAA", "mime_type": "image/png"})
        );
        assert_eq!(m[2]["parts"][0]["arguments"], json!({"a": 1}));
        assert_eq!(
            m[3],
            json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "done"}]})
        );

        let resp = json!({"id": "x1", "object": "chat.completion", "model": "gpt-4o-2024", "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hello"}},
            {"index": 1, "finish_reason": null, "message": {"role": "assistant", "content": null}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 4}}});
        let x = apply_response(&mut r, "openai.chat", &resp, true, &limits);
        assert_eq!(x.output_text.as_deref(), Some("hello"));
        assert_eq!(get(&r, sc::GEN_AI_RESPONSE_ID), Some(ValueRef::Str("x1")));
        assert_eq!(
            get(&r, sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
            Some(ValueRef::I64(4))
        );
        let Some(ValueRef::Array(Value::StrArray(reasons))) =
            get(&r, sc::GEN_AI_RESPONSE_FINISH_REASONS)
        else {
            panic!("no finish reasons")
        };
        assert_eq!(
            reasons.iter().map(|s| s.as_ref()).collect::<Vec<_>>(),
            vec!["stop", "error"]
        );
    }

    #[test]
    fn host_attributes_win_and_capture_off_drops_content() {
        let mut r = record();
        let limits = Limits::current();
        r.set_attribute(Key::new(sc::GEN_AI_USAGE_OUTPUT_TOKENS), Value::I64(99));
        let resp = json!({"id": "m1", "model": "claude", "stop_reason": "end_turn", "content": [{"type": "text", "text": "hi"}],
            "usage": {"input_tokens": 5, "output_tokens": 3, "cache_read_input_tokens": 2, "cache_creation_input_tokens": 1}});
        apply_response(&mut r, "anthropic.messages", &resp, false, &limits);
        assert_eq!(
            get(&r, sc::GEN_AI_USAGE_OUTPUT_TOKENS),
            Some(ValueRef::I64(99))
        );
        assert_eq!(
            get(&r, sc::GEN_AI_USAGE_INPUT_TOKENS),
            Some(ValueRef::I64(8))
        );
        assert!(get(&r, sc::GEN_AI_OUTPUT_MESSAGES).is_none());
    }

    #[test]
    fn responses_failure_and_stored_prompt() {
        let mut r = record();
        let limits = Limits::current();
        let body = json!({"model": "gpt-4o", "input": "hi", "instructions": "sys", "prompt": {"id": "pmpt_1", "version": "3"}});
        let x = apply_request(&mut r, "openai.responses", &body, true, &limits);
        assert_eq!(x.input_text.as_deref(), Some("sys\nhi"));
        assert_eq!(
            get(&r, sc::GEN_AI_PROMPT_NAME),
            Some(ValueRef::Str("pmpt_1"))
        );
        let resp = json!({"id": "r1", "status": "failed", "error": {"code": "server_error", "message": "boom"}, "output": []});
        apply_response(&mut r, "openai.responses", &resp, true, &limits);
        assert!(matches!(r.status, Status::Error(_)));
        assert_eq!(get(&r, sc::ERROR_TYPE), Some(ValueRef::Str("server_error")));
    }

    #[test]
    fn langchain_chat_run() {
        let mut r = record();
        let limits = Limits::current();
        let body = json!({"messages": [
            {"type": "system", "content": "Be brief."},
            {"type": "human", "content": [{"type": "text", "text": "weather "}, {"type": "image_url", "image_url": {"url": "x"}}, "in Paris?"]},
            {"type": "ai", "content": "", "tool_calls": [{"id": "c1", "name": "get_weather", "args": {"city": "Paris"}, "type": "tool_call"}]},
            {"type": "tool", "content": "sunny", "tool_call_id": "c1", "name": "get_weather"},
            {"type": "generic", "role": "critic", "content": "ok"}
        ]});
        let x = apply_request(&mut r, "langchain.chat", &body, true, &limits);
        assert_eq!(x.system_text.as_deref(), Some("Be brief."));
        assert_eq!(
            x.input_text.as_deref(),
            Some("Be brief.\nweather in Paris?\nok")
        );
        let Some(ValueRef::Str(input)) = get(&r, sc::GEN_AI_INPUT_MESSAGES) else {
            panic!("no input messages")
        };
        let input: J = serde_json::from_str(input).unwrap();
        assert_eq!(
            input,
            json!([
                {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
                {"role": "user", "parts": [{"type": "text", "content": "weather in Paris?"}]},
                {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}]},
                {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "sunny"}], "name": "get_weather"},
                {"role": "critic", "parts": [{"type": "text", "content": "ok"}]}
            ])
        );
        assert_eq!(x.input.messages.len(), 5);
        let resp = json!({"message": {"type": "ai", "content": "Sunny.", "tool_calls": []}, "finish_reason": "stop",
            "usage": {"input_tokens": 12, "output_tokens": 3, "total_tokens": 15, "input_token_details": {"cache_read": 2}}});
        let x = apply_response(&mut r, "langchain.chat", &resp, true, &limits);
        assert_eq!(x.output_text.as_deref(), Some("Sunny."));
        assert_eq!(
            get(&r, sc::GEN_AI_USAGE_INPUT_TOKENS),
            Some(ValueRef::I64(12))
        );
        assert_eq!(
            get(&r, sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
            Some(ValueRef::I64(2))
        );
        let Some(ValueRef::Str(output)) = get(&r, sc::GEN_AI_OUTPUT_MESSAGES) else {
            panic!("no output messages")
        };
        let output: J = serde_json::from_str(output).unwrap();
        assert_eq!(
            output,
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "Sunny."}], "finish_reason": "stop"}])
        );
        // Capture off: no content, the texts still come back for the estimates.
        let mut r = record();
        let x = apply_request(&mut r, "langchain.chat", &body, false, &limits);
        assert!(get(&r, sc::GEN_AI_INPUT_MESSAGES).is_none());
        assert!(x.input_text.is_some());
    }

    #[test]
    fn lone_surrogate_escapes_become_replacement_characters() {
        let text = r#"{"a": "x\ud800y", "b": "\ud83d\ude00", "c": "\\ud800", "d": "\udc00"}"#;
        let v = parse(text).unwrap();
        assert_eq!(v["a"], "x\u{fffd}y");
        assert_eq!(v["b"], "\u{1f600}");
        assert_eq!(v["c"], "\\ud800");
        assert_eq!(v["d"], "\u{fffd}");
        assert!(parse("[1]").is_none());
    }
}
