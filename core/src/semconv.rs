//! Every attribute, event and resource name fivelens writes, in one place.
//!
//! The `gen_ai.*` and `mcp.*` names follow the OpenTelemetry GenAI semantic conventions
//! (`open-telemetry/semantic-conventions-genai`, main as of 2026-08, schema
//! `https://opentelemetry.io/schemas/gen-ai/1.42.0`); see `shared/research/semconv.md`. Names the
//! specification does not define live under the project's own `fivelens.` namespace and are
//! documented in the README's attribute table. Other modules never spell a name inline.

/// Schema URL stamped on every scope we export.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/gen-ai/1.42.0";

// ---- OpenTelemetry core (stable) ----------------------------------------------------------

/// `service.name` resource attribute.
pub const SERVICE_NAME: &str = "service.name";
/// `telemetry.sdk.name` resource attribute.
pub const TELEMETRY_SDK_NAME: &str = "telemetry.sdk.name";
/// `telemetry.sdk.language` resource attribute.
pub const TELEMETRY_SDK_LANGUAGE: &str = "telemetry.sdk.language";
/// `telemetry.sdk.version` resource attribute.
pub const TELEMETRY_SDK_VERSION: &str = "telemetry.sdk.version";
/// `process.pid` resource attribute.
pub const PROCESS_PID: &str = "process.pid";
/// `error.type`: low-cardinality class of the error that ended the operation.
pub const ERROR_TYPE: &str = "error.type";
/// Name of the span event that records an exception.
pub const EXCEPTION_EVENT: &str = "exception";
/// `exception.type` on the exception event.
pub const EXCEPTION_TYPE: &str = "exception.type";
/// `exception.message` on the exception event.
pub const EXCEPTION_MESSAGE: &str = "exception.message";
/// `exception.stacktrace` on the exception event.
pub const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";
/// `session.id` (OTel registry): the session a span belongs to; set by `fivelens.context(session_id=...)`.
pub const SESSION_ID: &str = "session.id";
/// `user.hash` (OTel registry): the keyed hash of the user id; the raw id never leaves the process.
pub const USER_HASH: &str = "user.hash";

// ---- GenAI (Development) --------------------------------------------------------------------

/// `gen_ai.operation.name`.
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// `gen_ai.provider.name` (replaces the deprecated `gen_ai.system`).
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// `gen_ai.request.model`.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// `gen_ai.response.model`.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// `gen_ai.usage.input_tokens`.
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// `gen_ai.usage.output_tokens`.
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// `gen_ai.tool.name`.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// `gen_ai.agent.name`.
pub const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";

/// `gen_ai.operation.name` values whose spans are kept longest when the queue is full: model
/// calls and tool calls are what users come for, so they are the last to be dropped.
pub const PRIORITY_OPERATIONS: &[&str] = &[
    "chat",
    "text_completion",
    "generate_content",
    "embeddings",
    "execute_tool",
];

// ---- fivelens's own namespace -------------------------------------------------------------

/// `fivelens.tenant`: the tenant set by `fivelens.context(tenant=...)`.
pub const FIVELENS_TENANT: &str = "fivelens.tenant";
/// `fivelens.tags`: string array set by `fivelens.context(tags=[...])`.
pub const FIVELENS_TAGS: &str = "fivelens.tags";
/// `fivelens.cost.usd`: the cost of the call (or the sum over a stage) in US dollars.
pub const FIVELENS_COST_USD: &str = "fivelens.cost.usd";
/// `fivelens.truncated`: string array naming the attributes whose values were cut to the size limit.
pub const FIVELENS_TRUNCATED: &str = "fivelens.truncated";
/// `fivelens.otel.foreign`: true on spans started through the host's OpenTelemetry API under a
/// fivelens span and recorded by the bridge.
pub const FIVELENS_OTEL_FOREIGN: &str = "fivelens.otel.foreign";

// ---- propagation keys ---------------------------------------------------------------------

/// W3C trace context header / `_meta` key.
pub const TRACEPARENT: &str = "traceparent";
/// W3C trace state header / `_meta` key.
pub const TRACESTATE: &str = "tracestate";
/// Header (and `_meta` key) that carries trace-scoped attributes to downstream fivelens processes.
/// Deliberately not `baggage`: host propagators attach baggage to every outgoing request,
/// model-provider APIs included.
pub const FIVELENS_CONTEXT_HEADER: &str = "fivelens-context";

/// All names above that are attribute keys, pre-interned at start-up (see [`crate::key`]).
pub const ATTRIBUTE_KEYS: &[&str] = &[
    SERVICE_NAME,
    ERROR_TYPE,
    EXCEPTION_TYPE,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    SESSION_ID,
    USER_HASH,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_TOOL_NAME,
    GEN_AI_AGENT_NAME,
    FIVELENS_TENANT,
    FIVELENS_TAGS,
    FIVELENS_COST_USD,
    FIVELENS_TRUNCATED,
    FIVELENS_OTEL_FOREIGN,
];
