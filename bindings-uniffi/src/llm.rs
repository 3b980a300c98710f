//! Model calls: `start_llm_call` and `LlmCall`, the uniffi form of Python's `fivelens.llm_call`
//! and Node's `startLlmCall`. The call is one CLIENT span named `{operation} {model}` carrying
//! the GenAI attributes; the core's processing thread does the rest off the caller's thread
//! (token estimates when no usage is reported, the prompt hash, cost, content truncation or
//! dropping, metrics, roll-ups). This module only puts what the caller knows on the span.

use std::collections::HashMap;
use std::sync::Arc;

use fivelens_core::record::Limits;
use fivelens_core::semconv as sc;
use fivelens_core::{Key, SpanKind, SpanRecord, Value};

use crate::span::{key_values, AttributeValue, RemoteContext, Span};
use crate::FivelensError;

/// One message of a conversation: its role (`system`, `user`, `assistant`, `tool`...) and text.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct ChatMessage {
    /// `system`, `developer`, `user`, `assistant`, `tool`...
    pub role: String,
    /// The text.
    pub content: String,
}

/// Token usage as the provider reported it. `input_tokens` includes cached tokens and
/// `output_tokens` reasoning tokens (the conventions' rule: the others are subsets).
#[derive(Clone, Debug, Default, PartialEq, uniffi::Record)]
pub struct TokenUsage {
    /// Input (prompt) tokens.
    #[uniffi(default = None)]
    pub input_tokens: Option<u64>,
    /// Output (completion) tokens.
    #[uniffi(default = None)]
    pub output_tokens: Option<u64>,
    /// Input tokens read from the provider's cache.
    #[uniffi(default = None)]
    pub cache_read_input_tokens: Option<u64>,
    /// Input tokens written to the provider's cache.
    #[uniffi(default = None)]
    pub cache_write_input_tokens: Option<u64>,
    /// Output tokens spent on reasoning.
    #[uniffi(default = None)]
    pub reasoning_output_tokens: Option<u64>,
}

/// How a model call starts. `provider` is the `gen_ai.provider.name` value (`openai`,
/// `anthropic`, `gcp.gemini`, `aws.bedrock`, `ollama`...).
#[derive(uniffi::Record)]
pub struct LlmCallOptions {
    /// `gen_ai.provider.name`.
    pub provider: String,
    /// The model asked for (`gen_ai.request.model`).
    #[uniffi(default = None)]
    pub model: Option<String>,
    /// `chat`, `text_completion`, `embeddings`, `generate_content`...
    #[uniffi(default = "chat")]
    pub operation: String,
    /// The parent span in this process (none: a new trace, unless `remote_parent`).
    #[uniffi(default = None)]
    pub parent: Option<Arc<Span>>,
    /// A parent from another process (see `extract`).
    #[uniffi(default = None)]
    pub remote_parent: Option<Arc<RemoteContext>>,
    /// `server.address` of the model API.
    #[uniffi(default = None)]
    pub server_address: Option<String>,
    /// `server.port` of the model API.
    #[uniffi(default = None)]
    pub server_port: Option<u16>,
    /// Whether the response is streamed.
    #[uniffi(default = false)]
    pub stream: bool,
    /// `gen_ai.request.max_tokens`.
    #[uniffi(default = None)]
    pub max_tokens: Option<i64>,
    /// `gen_ai.request.temperature`.
    #[uniffi(default = None)]
    pub temperature: Option<f64>,
    /// `gen_ai.request.top_p`.
    #[uniffi(default = None)]
    pub top_p: Option<f64>,
    /// `gen_ai.request.top_k`.
    #[uniffi(default = None)]
    pub top_k: Option<i64>,
    /// `gen_ai.request.stop_sequences`.
    #[uniffi(default = None)]
    pub stop_sequences: Option<Vec<String>>,
    /// `gen_ai.request.frequency_penalty`.
    #[uniffi(default = None)]
    pub frequency_penalty: Option<f64>,
    /// `gen_ai.request.presence_penalty`.
    #[uniffi(default = None)]
    pub presence_penalty: Option<f64>,
    /// `gen_ai.request.seed`.
    #[uniffi(default = None)]
    pub seed: Option<i64>,
    /// `gen_ai.request.choice.count`.
    #[uniffi(default = None)]
    pub choice_count: Option<i64>,
    /// `gen_ai.conversation.id`.
    #[uniffi(default = None)]
    pub conversation_id: Option<String>,
    /// Any other attributes.
    #[uniffi(default)]
    pub attributes: HashMap<String, AttributeValue>,
    /// Start time, ns since the Unix epoch (now when not given).
    #[uniffi(default = None)]
    pub start_time_ns: Option<u64>,
}

/// Starts a model call. Fails only on an empty `provider` or `operation`.
#[uniffi::export]
pub fn start_llm_call(options: LlmCallOptions) -> Result<Arc<LlmCall>, FivelensError> {
    let o = options;
    for (field, value) in [("provider", &o.provider), ("operation", &o.operation)] {
        if value.trim().is_empty() {
            return Err(FivelensError::InvalidArgument {
                detail: format!("{field}: must not be empty"),
            });
        }
    }
    let name = match &o.model {
        Some(m) => format!("{} {m}", o.operation),
        None => o.operation.clone(),
    };
    let mut r = SpanRecord::template(&name, SpanKind::Client);
    let limits = Limits::current();
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            r.set_attribute_with(Key::new(key), v, &limits);
        }
    };
    set(sc::GEN_AI_OPERATION_NAME, Some(o.operation.as_str().into()));
    set(sc::GEN_AI_PROVIDER_NAME, Some(o.provider.as_str().into()));
    set(
        sc::GEN_AI_REQUEST_MODEL,
        o.model.as_deref().map(Value::from),
    );
    set(
        sc::SERVER_ADDRESS,
        o.server_address.as_deref().map(Value::from),
    );
    set(
        sc::SERVER_PORT,
        o.server_port
            .filter(|_| o.server_address.is_some())
            .map(|p| Value::I64(p.into())),
    );
    set(
        sc::GEN_AI_REQUEST_STREAM,
        o.stream.then_some(Value::Bool(true)),
    );
    set(sc::GEN_AI_REQUEST_MAX_TOKENS, o.max_tokens.map(Value::I64));
    set(
        sc::GEN_AI_REQUEST_TEMPERATURE,
        o.temperature.map(Value::F64),
    );
    set(sc::GEN_AI_REQUEST_TOP_P, o.top_p.map(Value::F64));
    set(sc::GEN_AI_REQUEST_TOP_K, o.top_k.map(Value::I64));
    set(
        sc::GEN_AI_REQUEST_STOP_SEQUENCES,
        o.stop_sequences
            .map(|s| Value::from(AttributeValue::StrList { value: s })),
    );
    set(
        sc::GEN_AI_REQUEST_FREQUENCY_PENALTY,
        o.frequency_penalty.map(Value::F64),
    );
    set(
        sc::GEN_AI_REQUEST_PRESENCE_PENALTY,
        o.presence_penalty.map(Value::F64),
    );
    set(sc::GEN_AI_REQUEST_SEED, o.seed.map(Value::I64));
    set(
        sc::GEN_AI_REQUEST_CHOICE_COUNT,
        o.choice_count.map(Value::I64),
    );
    set(
        sc::GEN_AI_CONVERSATION_ID,
        o.conversation_id.as_deref().map(Value::from),
    );
    for (k, v) in key_values(o.attributes) {
        r.set_attribute_with(k, v, &limits);
    }
    r.instrumentation = Some(Key::new("fivelens"));
    let span = Span::start(
        r,
        o.parent.as_deref(),
        o.remote_parent.as_deref(),
        o.start_time_ns,
    );
    Ok(Arc::new(LlmCall {
        span: Arc::new(span),
    }))
}

/// One model call in progress. Every method may be called in any order and more than once (the
/// last value wins); nothing is recorded once the call has ended.
#[derive(uniffi::Object)]
pub struct LlmCall {
    span: Arc<Span>,
}

/// Messages in the conventions' shape: `[{"role", "parts": [{"type": "text", "content"}]}]`.
fn messages_json(messages: &[ChatMessage], finish_reasons: &[String]) -> String {
    let list: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut msg = serde_json::json!({
                "role": m.role,
                "parts": [{"type": "text", "content": m.content}],
            });
            if let (Some(reason), Some(o)) = (finish_reasons.get(i), msg.as_object_mut()) {
                o.insert("finish_reason".into(), reason.as_str().into());
            }
            msg
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

fn joined<'a>(texts: impl Iterator<Item = &'a str>) -> String {
    texts.collect::<Vec<_>>().join("\n")
}

fn is_system(m: &ChatMessage) -> bool {
    m.role == "system" || m.role == "developer"
}

#[uniffi::export]
impl LlmCall {
    /// The call's span: the parent of what happens inside the call, and its `traceparent`.
    pub fn span(&self) -> Arc<Span> {
        self.span.clone()
    }

    /// The input messages, and the system instructions when the API takes them apart from the
    /// messages. Their text is also what the core counts tokens from when no usage is reported,
    /// and the system prompt is hashed into `fivelens.prompt.hash`.
    #[uniffi::method(default(system = None))]
    pub fn set_input(&self, messages: Vec<ChatMessage>, system: Option<String>) {
        let limits = Limits::current();
        let system_text = system.clone().or_else(|| {
            let text = joined(
                messages
                    .iter()
                    .filter(|m| is_system(m))
                    .map(|m| m.content.as_str()),
            );
            (!text.is_empty()).then_some(text)
        });
        let mut input_text = joined(messages.iter().map(|m| m.content.as_str()));
        if let Some(s) = system.as_ref().filter(|_| !messages.iter().any(is_system)) {
            input_text = format!("{s}\n{input_text}");
        }
        self.span.with_record(|r| {
            if !messages.is_empty() {
                r.set_str(
                    Key::new(sc::GEN_AI_INPUT_MESSAGES),
                    &messages_json(&messages, &[]),
                    &limits,
                );
            }
            if let Some(s) = &system {
                let parts = serde_json::json!([{"type": "text", "content": s}]).to_string();
                r.set_str(Key::new(sc::GEN_AI_SYSTEM_INSTRUCTIONS), &parts, &limits);
            }
            // Private attributes: read by the processing thread, never exported.
            if let Some(s) = &system_text {
                r.set_str(Key::new(sc::PRIVATE_SYSTEM_PROMPT), s, &limits);
            }
            r.set_str(Key::new(sc::PRIVATE_INPUT_TEXT), &input_text, &limits);
        });
    }

    /// The output messages (one per choice) and the finish reason of each.
    #[uniffi::method(default(finish_reasons))]
    pub fn set_output(&self, messages: Vec<ChatMessage>, finish_reasons: Vec<String>) {
        let limits = Limits::current();
        let output_text = joined(messages.iter().map(|m| m.content.as_str()));
        self.span.with_record(|r| {
            if !finish_reasons.is_empty() {
                r.set_attribute_with(
                    Key::new(sc::GEN_AI_RESPONSE_FINISH_REASONS),
                    AttributeValue::StrList {
                        value: finish_reasons.clone(),
                    }
                    .into(),
                    &limits,
                );
            }
            if !messages.is_empty() {
                r.set_str(
                    Key::new(sc::GEN_AI_OUTPUT_MESSAGES),
                    &messages_json(&messages, &finish_reasons),
                    &limits,
                );
                r.set_str(Key::new(sc::PRIVATE_OUTPUT_TEXT), &output_text, &limits);
            }
        });
    }

    /// Token usage as the provider reported it (the cost follows from the price table).
    pub fn set_usage(&self, usage: TokenUsage) {
        let limits = Limits::current();
        self.span.with_record(|r| {
            for (key, n) in [
                (sc::GEN_AI_USAGE_INPUT_TOKENS, usage.input_tokens),
                (sc::GEN_AI_USAGE_OUTPUT_TOKENS, usage.output_tokens),
                (
                    sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                    usage.cache_read_input_tokens,
                ),
                (
                    sc::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
                    usage.cache_write_input_tokens,
                ),
                (
                    sc::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
                    usage.reasoning_output_tokens,
                ),
            ] {
                if let Some(n) = n {
                    let n = i64::try_from(n).unwrap_or(i64::MAX);
                    r.set_attribute_with(Key::new(key), Value::I64(n), &limits);
                }
            }
        });
    }

    /// The response id and the model that answered.
    #[uniffi::method(default(id = None, model = None))]
    pub fn set_response(&self, id: Option<String>, model: Option<String>) {
        let limits = Limits::current();
        self.span.with_record(|r| {
            if let Some(id) = &id {
                r.set_str(Key::new(sc::GEN_AI_RESPONSE_ID), id, &limits);
            }
            if let Some(m) = &model {
                r.set_str(Key::new(sc::GEN_AI_RESPONSE_MODEL), m, &limits);
            }
        });
    }

    /// Any other attribute on the call's span.
    pub fn set_attribute(&self, key: String, value: AttributeValue) {
        self.span.set_attribute(key, value);
    }

    /// Marks the call failed: status `Error`, `error.type` and an `exception` event.
    #[uniffi::method(default(stacktrace = None))]
    pub fn fail(&self, error_type: String, message: String, stacktrace: Option<String>) {
        self.span.record_error(error_type, message, stacktrace);
    }

    /// Ends the call (only the first call counts) and hands it to the pipeline; never blocks.
    #[uniffi::method(default(end_time_ns = None))]
    pub fn end(&self, end_time_ns: Option<u64>) {
        self.span.end(end_time_ns);
    }
}
