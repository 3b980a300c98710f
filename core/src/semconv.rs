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
/// `gen_ai.usage.input_tokens` (all input tokens, cached ones included).
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// `gen_ai.usage.output_tokens`.
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// `gen_ai.usage.cache_read.input_tokens` (a subset of input tokens).
pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
/// `gen_ai.usage.cache_write.input_tokens` (a subset of input tokens; formerly `cache_creation`).
pub const GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: &str = "gen_ai.usage.cache_write.input_tokens";
/// `gen_ai.usage.reasoning.output_tokens` (a subset of output tokens).
pub const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";
/// `gen_ai.request.max_tokens`.
pub const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
/// `gen_ai.request.temperature`.
pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
/// `gen_ai.request.top_p`.
pub const GEN_AI_REQUEST_TOP_P: &str = "gen_ai.request.top_p";
/// `gen_ai.request.top_k`.
pub const GEN_AI_REQUEST_TOP_K: &str = "gen_ai.request.top_k";
/// `gen_ai.request.stop_sequences`.
pub const GEN_AI_REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
/// `gen_ai.request.frequency_penalty`.
pub const GEN_AI_REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
/// `gen_ai.request.presence_penalty`.
pub const GEN_AI_REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
/// `gen_ai.request.seed`.
pub const GEN_AI_REQUEST_SEED: &str = "gen_ai.request.seed";
/// `gen_ai.request.choice.count`.
pub const GEN_AI_REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
/// `gen_ai.request.stream`.
pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
/// `gen_ai.request.reasoning.level`.
pub const GEN_AI_REQUEST_REASONING_LEVEL: &str = "gen_ai.request.reasoning.level";
/// `gen_ai.request.encoding_formats`.
pub const GEN_AI_REQUEST_ENCODING_FORMATS: &str = "gen_ai.request.encoding_formats";
/// `gen_ai.request.previous_response.id`: the response a stateful call continues (OpenAI
/// Responses `previous_response_id`).
pub const GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID: &str = "gen_ai.request.previous_response.id";
/// `gen_ai.response.id`.
pub const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
/// `gen_ai.response.finish_reasons` (one per choice, in order).
pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// `gen_ai.response.time_to_first_chunk` (seconds, streaming).
pub const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
/// `gen_ai.output.type`.
pub const GEN_AI_OUTPUT_TYPE: &str = "gen_ai.output.type";
/// `gen_ai.conversation.id`.
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// `gen_ai.embeddings.dimension.count`.
pub const GEN_AI_EMBEDDINGS_DIMENSION_COUNT: &str = "gen_ai.embeddings.dimension.count";
/// `gen_ai.prompt.name`.
pub const GEN_AI_PROMPT_NAME: &str = "gen_ai.prompt.name";
/// `gen_ai.prompt.version`.
pub const GEN_AI_PROMPT_VERSION: &str = "gen_ai.prompt.version";
/// `gen_ai.system_instructions` (JSON: an array of parts).
pub const GEN_AI_SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
/// `gen_ai.input.messages` (JSON: an array of chat messages).
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// `gen_ai.output.messages` (JSON: an array of output messages).
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// `gen_ai.tool.definitions` (JSON).
pub const GEN_AI_TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";
/// `gen_ai.tool.call.arguments`.
pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// `gen_ai.tool.call.result`.
pub const GEN_AI_TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
/// `gen_ai.token.type` (metric attribute: `input` or `output`).
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";
/// `server.address`.
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port`.
pub const SERVER_PORT: &str = "server.port";
/// `deployment.environment.name` (resource attribute).
pub const DEPLOYMENT_ENVIRONMENT_NAME: &str = "deployment.environment.name";
/// `openai.api.type` (`chat_completions` or `responses`).
pub const OPENAI_API_TYPE: &str = "openai.api.type";
/// `openai.request.service_tier`.
pub const OPENAI_REQUEST_SERVICE_TIER: &str = "openai.request.service_tier";
/// `openai.response.service_tier`.
pub const OPENAI_RESPONSE_SERVICE_TIER: &str = "openai.response.service_tier";
/// `openai.response.system_fingerprint`.
pub const OPENAI_RESPONSE_SYSTEM_FINGERPRINT: &str = "openai.response.system_fingerprint";

/// Attributes that carry prompt or completion content: dropped everywhere when content capture
/// is off, and redacted when it is on.
pub const CONTENT_KEYS: &[&str] = &[
    GEN_AI_SYSTEM_INSTRUCTIONS,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_TOOL_DEFINITIONS,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_RESULT,
    GEN_AI_RETRIEVAL_QUERY_TEXT,
    GEN_AI_RETRIEVAL_DOCUMENTS,
    FIVELENS_CHAIN_INPUT,
    FIVELENS_CHAIN_OUTPUT,
    FIVELENS_STEP_CONTENT,
    FIVELENS_MCP_NOTIFICATION_DATA,
];

/// `gen_ai.operation.name` values of model calls (the spans that get cost, metrics, prompt and
/// stage attributes).
pub const MODEL_OPERATIONS: &[&str] =
    &["chat", "text_completion", "generate_content", "embeddings"];

// ---- metrics (GenAI conventions, and fivelens's own) ----------------------------------------

/// Histogram, seconds.
pub const METRIC_OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
/// Histogram, `{token}`.
pub const METRIC_TOKEN_USAGE: &str = "gen_ai.client.token.usage";
/// Histogram, seconds (streaming only).
pub const METRIC_TIME_TO_FIRST_CHUNK: &str = "gen_ai.client.operation.time_to_first_chunk";
/// Counter of tokens by model and direction (`fivelens.token.type`: input, output, cache_read,
/// cache_write, reasoning).
pub const METRIC_TOKENS: &str = "fivelens.llm.tokens";
/// Counter of US dollars by model and environment.
pub const METRIC_COST: &str = "fivelens.llm.cost";
/// Counter of finish reasons by reason and model.
pub const METRIC_FINISH_REASONS: &str = "fivelens.llm.finish_reasons";
/// Bucket boundaries of the duration histograms (seconds), from the GenAI conventions.
pub const DURATION_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// Bucket boundaries of the token histograms, from the GenAI conventions.
pub const TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
/// `gen_ai.tool.name`.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// `gen_ai.agent.name`.
pub const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";

// ---- agent frameworks ------------------------------------------------------------------

/// `gen_ai.workflow.name` on `invoke_workflow` spans (low cardinality: the graph's or crew's name).
pub const GEN_AI_WORKFLOW_NAME: &str = "gen_ai.workflow.name";
/// `gen_ai.agent.id`.
pub const GEN_AI_AGENT_ID: &str = "gen_ai.agent.id";
/// `gen_ai.agent.description`.
pub const GEN_AI_AGENT_DESCRIPTION: &str = "gen_ai.agent.description";
/// `gen_ai.tool.type`: `function`, `extension` or `datastore`.
pub const GEN_AI_TOOL_TYPE: &str = "gen_ai.tool.type";
/// `gen_ai.tool.call.id`.
pub const GEN_AI_TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
/// `gen_ai.tool.description`.
pub const GEN_AI_TOOL_DESCRIPTION: &str = "gen_ai.tool.description";
/// `gen_ai.data_source.id` on retrieval spans.
pub const GEN_AI_DATA_SOURCE_ID: &str = "gen_ai.data_source.id";
/// `gen_ai.retrieval.top_k`.
pub const GEN_AI_RETRIEVAL_TOP_K: &str = "gen_ai.retrieval.top_k";
/// `gen_ai.retrieval.query.text` (content).
pub const GEN_AI_RETRIEVAL_QUERY_TEXT: &str = "gen_ai.retrieval.query.text";
/// `gen_ai.retrieval.documents`: JSON array of `{id, score}` (content).
pub const GEN_AI_RETRIEVAL_DOCUMENTS: &str = "gen_ai.retrieval.documents";
/// `fivelens.framework`: the agent framework a span came from (`langgraph`, `langchain`, `crewai`, `autogen`, `ag2`).
pub const FIVELENS_FRAMEWORK: &str = "fivelens.framework";
/// `fivelens.framework.run_id`: the framework's own id of the run or event the span was built from.
pub const FIVELENS_RUN_ID: &str = "fivelens.framework.run_id";
/// `fivelens.framework.run_type`: the framework's kind of run (`chain`, `llm`, `tool`, `retriever`, `task`, ...).
pub const FIVELENS_RUN_TYPE: &str = "fivelens.framework.run_type";
/// `fivelens.framework.run_cancelled`: true on a run the app stopped before it finished (it
/// broke out of the run's stream, or aborted it): not an error.
pub const FIVELENS_RUN_CANCELLED: &str = "fivelens.framework.run_cancelled";
/// `fivelens.agent.iteration`: the agent loop's iteration number (1-based; LangGraph: the superstep).
pub const FIVELENS_AGENT_ITERATION: &str = "fivelens.agent.iteration";
/// `fivelens.agent.iterations`: iterations an agent or workflow run took (on its span, at the end).
pub const FIVELENS_AGENT_ITERATIONS: &str = "fivelens.agent.iterations";
/// `fivelens.retry.attempt`: 1 for the first try, 2 for the first retry, ...
pub const FIVELENS_RETRY_ATTEMPT: &str = "fivelens.retry.attempt";
/// `fivelens.retry.reason`: why this attempt was made (the previous attempt's error type, or `model` when the model called the same tool again).
pub const FIVELENS_RETRY_REASON: &str = "fivelens.retry.reason";
/// `fivelens.tool.from_cache`: true when the framework answered a tool call from its cache
/// (CrewAI) instead of running the tool.
pub const FIVELENS_TOOL_FROM_CACHE: &str = "fivelens.tool.from_cache";
/// `fivelens.langgraph.step`: the LangGraph superstep of a node run.
pub const FIVELENS_LANGGRAPH_STEP: &str = "fivelens.langgraph.step";
/// `fivelens.langgraph.node`: the LangGraph node name.
pub const FIVELENS_LANGGRAPH_NODE: &str = "fivelens.langgraph.node";
/// `fivelens.langgraph.triggers`: string array, the channels that triggered the node.
pub const FIVELENS_LANGGRAPH_TRIGGERS: &str = "fivelens.langgraph.triggers";
/// `fivelens.langgraph.interrupted`: true on a graph run that stopped at an interrupt (not an error).
pub const FIVELENS_LANGGRAPH_INTERRUPTED: &str = "fivelens.langgraph.interrupted";
/// `fivelens.chain.input`: a chain run's inputs as JSON (content; off unless `capture_chain_io`).
pub const FIVELENS_CHAIN_INPUT: &str = "fivelens.chain.input";
/// `fivelens.chain.output`: a chain run's outputs as JSON (content; off unless `capture_chain_io`).
pub const FIVELENS_CHAIN_OUTPUT: &str = "fivelens.chain.output";
/// Span event `fivelens.agent.step`: one entry of the agent's reasoning journal.
pub const FIVELENS_EVENT_AGENT_STEP: &str = "fivelens.agent.step";
/// `fivelens.step.kind` on a journal event: `plan`, `thought`, `action`, `observation`, `final`.
pub const FIVELENS_STEP_KIND: &str = "fivelens.step.kind";
/// `fivelens.step.content` on a journal event: the text (content: redacted, dropped when capture is off).
pub const FIVELENS_STEP_CONTENT: &str = "fivelens.step.content";

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
/// `fivelens.cost.usd`: the cost of a model call in US dollars (from the price table).
pub const FIVELENS_COST_USD: &str = "fivelens.cost.usd";
/// `fivelens.usage.estimated`: true when the token counts were estimated (the provider reported
/// none, e.g. a stream without `include_usage`).
pub const FIVELENS_USAGE_ESTIMATED: &str = "fivelens.usage.estimated";
/// `fivelens.prompt.hash`: hash of the system prompt as sent (see [`crate::llm::prompt_hash`]).
pub const FIVELENS_PROMPT_HASH: &str = "fivelens.prompt.hash";
/// `fivelens.stage`: the pipeline stage a model call belongs to (`fivelens.stage(name)`).
pub const FIVELENS_STAGE: &str = "fivelens.stage";
/// `fivelens.rollup.cost.usd`: cost of the model calls in this span's subtree.
pub const FIVELENS_ROLLUP_COST_USD: &str = "fivelens.rollup.cost.usd";
/// `fivelens.rollup.input_tokens`: input tokens of the model calls in this span's subtree.
pub const FIVELENS_ROLLUP_INPUT_TOKENS: &str = "fivelens.rollup.input_tokens";
/// `fivelens.rollup.output_tokens`: output tokens of the model calls in this span's subtree.
pub const FIVELENS_ROLLUP_OUTPUT_TOKENS: &str = "fivelens.rollup.output_tokens";
/// `fivelens.rollup.llm_calls`: model calls in this span's subtree.
pub const FIVELENS_ROLLUP_LLM_CALLS: &str = "fivelens.rollup.llm_calls";
/// Prefix of attributes that integrations hand to the processing thread and that never leave
/// the process (the processing thread reads and removes them).
pub const PRIVATE_PREFIX: &str = "fivelens._";
/// Private: the system prompt as sent, for the prompt hash.
pub const PRIVATE_SYSTEM_PROMPT: &str = "fivelens._system_prompt";
/// Private: the input text, for a token estimate when the provider reports no usage.
pub const PRIVATE_INPUT_TEXT: &str = "fivelens._input_text";
/// Private: the output text, for a token estimate when the provider reports no usage.
pub const PRIVATE_OUTPUT_TEXT: &str = "fivelens._output_text";
/// Private: the request body as sent, the provider's JSON (see [`crate::providers`]).
pub const PRIVATE_REQUEST: &str = "fivelens._request";
/// Private: the response body, the provider's JSON.
pub const PRIVATE_RESPONSE: &str = "fivelens._response";
/// Private: the format of the request and response bodies (`openai.chat`, `anthropic.messages`...).
pub const PRIVATE_FORMAT: &str = "fivelens._format";
/// `fivelens.token.type` on the token counter: input, output, cache_read, cache_write, reasoning.
pub const FIVELENS_TOKEN_TYPE: &str = "fivelens.token.type";
/// `fivelens.finish_reason` on the finish-reason counter.
pub const FIVELENS_FINISH_REASON: &str = "fivelens.finish_reason";
/// `fivelens.truncated`: string array naming the attributes whose values were cut to the size limit.
pub const FIVELENS_TRUNCATED: &str = "fivelens.truncated";
/// `fivelens.otel.foreign`: true on spans started through the host's OpenTelemetry API under a
/// fivelens span and recorded by the bridge.
pub const FIVELENS_OTEL_FOREIGN: &str = "fivelens.otel.foreign";

// ---- compatibility attributes (`compat` option) -------------------------------------------

/// OpenInference: span kind (`LLM`, `EMBEDDING`, `CHAIN`, `TOOL`, `AGENT`, ...).
pub const OI_SPAN_KIND: &str = "openinference.span.kind";
/// OpenInference: model name.
pub const OI_LLM_MODEL_NAME: &str = "llm.model_name";
/// OpenInference: provider.
pub const OI_LLM_PROVIDER: &str = "llm.provider";
/// OpenInference: prompt tokens.
pub const OI_TOKEN_COUNT_PROMPT: &str = "llm.token_count.prompt";
/// OpenInference: completion tokens.
pub const OI_TOKEN_COUNT_COMPLETION: &str = "llm.token_count.completion";
/// OpenInference: total tokens.
pub const OI_TOKEN_COUNT_TOTAL: &str = "llm.token_count.total";
/// OpenInference: cache-read prompt tokens.
pub const OI_TOKEN_COUNT_CACHE_READ: &str = "llm.token_count.prompt_details.cache_read";
/// OpenInference: cache-write prompt tokens.
pub const OI_TOKEN_COUNT_CACHE_WRITE: &str = "llm.token_count.prompt_details.cache_write";
/// OpenInference: total cost, USD.
pub const OI_COST_TOTAL: &str = "llm.cost.total";
/// Langfuse: observation type (`generation` for model calls).
pub const LANGFUSE_OBSERVATION_TYPE: &str = "langfuse.observation.type";
/// Langfuse: usage details, a JSON object (`input`, `output`).
pub const LANGFUSE_USAGE_DETAILS: &str = "langfuse.observation.usage_details";
/// Langfuse: cost details, a JSON object (`total`, USD).
pub const LANGFUSE_COST_DETAILS: &str = "langfuse.observation.cost_details";

/// Metric label marking the series that collects everything past the cardinality cap.
pub const OTEL_METRIC_OVERFLOW: &str = "otel.metric.overflow";

// ---- propagation keys ---------------------------------------------------------------------

/// W3C trace context header / `_meta` key.
pub const TRACEPARENT: &str = "traceparent";
/// W3C trace state header / `_meta` key.
pub const TRACESTATE: &str = "tracestate";
/// Header (and `_meta` key) that carries trace-scoped attributes to downstream fivelens processes.
/// Deliberately not `baggage`: host propagators attach baggage to every outgoing request,
/// model-provider APIs included.
pub const FIVELENS_CONTEXT_HEADER: &str = "fivelens-context";

// ---- MCP (Development; docs/gen-ai/mcp.md) -----------------------------------------------------
/// `mcp.method.name`: the JSON-RPC method (`tools/call`, `initialize`, ...).
pub const MCP_METHOD_NAME: &str = "mcp.method.name";
/// `mcp.protocol.version` (e.g. `2025-06-18`).
pub const MCP_PROTOCOL_VERSION: &str = "mcp.protocol.version";
/// `mcp.session.id` when the transport has a session.
pub const MCP_SESSION_ID: &str = "mcp.session.id";
/// `mcp.resource.uri` (resources/read, subscribe, unsubscribe, updated).
pub const MCP_RESOURCE_URI: &str = "mcp.resource.uri";
/// `mcp.server.name`: fivelens's label of the server (from its `initialize` result) on client spans and tool metrics.
pub const MCP_SERVER_NAME: &str = "mcp.server.name";
/// Span event for an MCP notification (progress, logging, list changes) seen during a request or session.
pub const MCP_NOTIFICATION_EVENT: &str = "mcp.notification";
/// Histogram `mcp.client.operation.duration` (s).
pub const MCP_CLIENT_OPERATION_DURATION: &str = "mcp.client.operation.duration";
/// Histogram `mcp.server.operation.duration` (s).
pub const MCP_SERVER_OPERATION_DURATION: &str = "mcp.server.operation.duration";
/// Bucket boundaries of the MCP operation histograms (seconds), from the MCP conventions.
pub const MCP_DURATION_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
/// Counter `fivelens.mcp.tool.calls`: MCP tool calls by tool, server, side and outcome (with
/// `error.type` when failed; a result with `isError: true` is `tool_error`).
pub const METRIC_MCP_TOOL_CALLS: &str = "fivelens.mcp.tool.calls";
/// `fivelens.mcp.side` on MCP tool-call metrics: `client` or `server`.
pub const FIVELENS_MCP_SIDE: &str = "fivelens.mcp.side";
/// `fivelens.outcome` on call-count metrics: `ok` or `error`.
pub const FIVELENS_OUTCOME: &str = "fivelens.outcome";
/// `fivelens.mcp.progress` on an `mcp.notification` event for `notifications/progress`: the progress so far.
pub const FIVELENS_MCP_PROGRESS: &str = "fivelens.mcp.progress";
/// `fivelens.mcp.progress.total` on a progress event, when the sender knows the total.
pub const FIVELENS_MCP_PROGRESS_TOTAL: &str = "fivelens.mcp.progress.total";
/// `fivelens.mcp.log.level` on an `mcp.notification` event for `notifications/message` (`info`, `error`...).
pub const FIVELENS_MCP_LOG_LEVEL: &str = "fivelens.mcp.log.level";
/// `fivelens.mcp.notification.data`: a notification's payload (the log data, the progress message); content, so only with content capture on.
pub const FIVELENS_MCP_NOTIFICATION_DATA: &str = "fivelens.mcp.notification.data";
/// `jsonrpc.request.id` (string; requests only).
pub const JSONRPC_REQUEST_ID: &str = "jsonrpc.request.id";
/// `jsonrpc.protocol.version` (set only when not `2.0`).
pub const JSONRPC_PROTOCOL_VERSION: &str = "jsonrpc.protocol.version";
/// `rpc.response.status_code`: the JSON-RPC error code as a string.
pub const RPC_RESPONSE_STATUS_CODE: &str = "rpc.response.status_code";
/// `error.type` value for a tool result that reports an error in its payload (MCP `isError`).
pub const TOOL_ERROR: &str = "tool_error";
/// `network.transport`: `pipe` for stdio, `tcp` for HTTP.
pub const NETWORK_TRANSPORT: &str = "network.transport";
/// `network.protocol.name` (e.g. `http`).
pub const NETWORK_PROTOCOL_NAME: &str = "network.protocol.name";
/// `network.protocol.version`.
pub const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";
/// `client.address` (server spans).
pub const CLIENT_ADDRESS: &str = "client.address";
/// `client.port` (server spans).
pub const CLIENT_PORT: &str = "client.port";

// ---- HTTP (stable) -----------------------------------------------------------------------------
/// `http.request.method`.
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// `http.response.status_code`.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// `http.route` (server spans, when the framework knows it).
pub const HTTP_ROUTE: &str = "http.route";
/// `url.full` (client spans; credentials and query secrets removed).
pub const URL_FULL: &str = "url.full";
/// `url.path` (server spans).
pub const URL_PATH: &str = "url.path";
/// `url.scheme`.
pub const URL_SCHEME: &str = "url.scheme";
/// W3C baggage header / `_meta` key.
pub const BAGGAGE: &str = "baggage";

// ---- tools as dependencies: kinds, error categories, retries, the circuit breaker -------------

/// `fivelens.tool.kind` on `execute_tool` spans: `function` (a local function), `mcp` (a tool of
/// an MCP server, named by `mcp.server.name`) or `http` (an HTTP API, named by `server.address`).
pub const FIVELENS_TOOL_KIND: &str = "fivelens.tool.kind";
/// `fivelens.tool.error.category` on a failed tool call: `timeout`, `rate_limited`, `validation`,
/// `not_found`, `unavailable`, `server_error`, `tool_error` (an error returned in the result, such
/// as an MCP `isError` result or an error `ToolMessage`) or `other`.
pub const FIVELENS_TOOL_ERROR_CATEGORY: &str = "fivelens.tool.error.category";
/// `fivelens.retry.source` on a retried tool call: `model` (the model called the same tool again
/// after it failed), `framework` (the framework retried it: CrewAI's attempts) or `app`.
pub const FIVELENS_RETRY_SOURCE: &str = "fivelens.retry.source";
/// `fivelens.tool.breaker.state` on a tool call: the state of its circuit breaker when the call
/// was admitted (`closed`, `open`, `half_open`).
pub const FIVELENS_BREAKER_STATE: &str = "fivelens.tool.breaker.state";
/// `fivelens.tool.breaker.rejected` (bool): the call was not made; its breaker is open (`enforce`
/// mode) and the model received the degraded-mode tool error instead.
pub const FIVELENS_BREAKER_REJECTED: &str = "fivelens.tool.breaker.rejected";
/// `fivelens.tool.breaker.would_reject` (bool): `observe` mode; `enforce` would have rejected the
/// call.
pub const FIVELENS_BREAKER_WOULD_REJECT: &str = "fivelens.tool.breaker.would_reject";
/// `fivelens.tool.breaker.probe` (bool): a half-open breaker's probe call.
pub const FIVELENS_BREAKER_PROBE: &str = "fivelens.tool.breaker.probe";
/// Span event `fivelens.tool.breaker.state_change` on the tool call whose admission or outcome
/// changed a breaker's state.
pub const FIVELENS_EVENT_BREAKER: &str = "fivelens.tool.breaker.state_change";
/// `fivelens.breaker.scope` on a breaker event: `tool` (one tool, of one server) or `server`
/// (every tool of an MCP server).
pub const FIVELENS_BREAKER_SCOPE: &str = "fivelens.breaker.scope";
/// `fivelens.breaker.from` on a breaker event: the previous state.
pub const FIVELENS_BREAKER_FROM: &str = "fivelens.breaker.from";
/// `fivelens.breaker.to` on a breaker event: the new state.
pub const FIVELENS_BREAKER_TO: &str = "fivelens.breaker.to";
/// `fivelens.breaker.mode` on a breaker event: `observe` or `enforce`.
pub const FIVELENS_BREAKER_MODE: &str = "fivelens.breaker.mode";
/// `fivelens.breaker.calls` on a breaker event: calls in the sliding window.
pub const FIVELENS_BREAKER_CALLS: &str = "fivelens.breaker.calls";
/// `fivelens.breaker.errors` on a breaker event: failed calls in the sliding window.
pub const FIVELENS_BREAKER_ERRORS: &str = "fivelens.breaker.errors";
/// `fivelens.breaker.error_rate` on a breaker event: errors / calls in the window.
pub const FIVELENS_BREAKER_ERROR_RATE: &str = "fivelens.breaker.error_rate";
/// Histogram `gen_ai.execute_tool.duration` (s), the GenAI conventions' tool-call duration.
pub const METRIC_TOOL_DURATION: &str = "gen_ai.execute_tool.duration";
/// Counter `fivelens.tool.calls`: tool calls by tool, kind, server and `fivelens.outcome`
/// (`ok`, `error`, `rejected`).
pub const METRIC_TOOL_CALLS: &str = "fivelens.tool.calls";
/// Counter `fivelens.tool.errors`: failed tool calls by tool, kind, server and category.
pub const METRIC_TOOL_ERRORS: &str = "fivelens.tool.errors";
/// Counter `fivelens.tool.retries`: tool calls made again after a failure, by tool, server,
/// `fivelens.retry.source` and `fivelens.retry.reason`.
pub const METRIC_TOOL_RETRIES: &str = "fivelens.tool.retries";
/// Counter `fivelens.tool.breaker.transitions`: circuit breaker state changes by tool, server,
/// scope, mode and new state.
pub const METRIC_BREAKER_TRANSITIONS: &str = "fivelens.tool.breaker.transitions";

// ---- loop and budget guards --------------------------------------------------------------------

/// Span event `fivelens.guard.exceeded`: a model call was refused because a guard's limit was
/// reached (on the span current when the call was refused).
pub const FIVELENS_EVENT_GUARD: &str = "fivelens.guard.exceeded";
/// `fivelens.guard.kind` on a guard event: `iterations`, `tokens` or `cost`.
pub const FIVELENS_GUARD_KIND: &str = "fivelens.guard.kind";
/// `fivelens.guard.scope` on a guard event: `trace` or `session`.
pub const FIVELENS_GUARD_SCOPE: &str = "fivelens.guard.scope";
/// `fivelens.guard.limit` on a guard event: the configured limit (iterations, tokens or USD).
pub const FIVELENS_GUARD_LIMIT: &str = "fivelens.guard.limit";
/// `fivelens.guard.used` on a guard event: what the trace or session had used.
pub const FIVELENS_GUARD_USED: &str = "fivelens.guard.used";
/// Counter `fivelens.guard.refusals`: model calls refused by a guard, by kind and scope.
pub const METRIC_GUARD_REFUSALS: &str = "fivelens.guard.refusals";

// ---- sampling -------------------------------------------------------------------------------

/// `fivelens.sampling.keep` (string): set by `keep_trace(reason)` (and guardrail blocks) on a
/// span: the tail sampler keeps its trace.
pub const FIVELENS_SAMPLING_KEEP: &str = "fivelens.sampling.keep";
/// `fivelens.sampling.reason` on a kept trace's root: the policy that kept it (`error`,
/// `keep:<reason>`, `latency`, `cost`, `tokens`, `canary`, `users`, `baseline`; `:timeout` or
/// `:overflow` when decided before the root ended).
pub const FIVELENS_SAMPLING_REASON: &str = "fivelens.sampling.reason";
/// `fivelens.sampling.rate` on a kept trace's root: the probability it had of being kept (1 for
/// rule-kept traces), so counts can be re-weighted.
pub const FIVELENS_SAMPLING_RATE: &str = "fivelens.sampling.rate";
/// `fivelens.canary` (bool) on the root of a canary cohort trace.
pub const FIVELENS_CANARY: &str = "fivelens.canary";

// ---- snapshots (replay and datasets) ---------------------------------------------------------

/// `fivelens.snapshot` (string) on a kept model call: its context snapshot (the provider request
/// and response bodies as sent and received, redacted, with the prompt hash, usage, cost and
/// status; JSON, zlib-compressed, base64; see `crate::snapshot`).
pub const FIVELENS_SNAPSHOT: &str = "fivelens.snapshot";
/// `fivelens.snapshot.reason`: why the call has a snapshot (`error`, `keep`, `canary`, `share`).
pub const FIVELENS_SNAPSHOT_REASON: &str = "fivelens.snapshot.reason";
/// `fivelens.snapshot.bytes` (int): the snapshot's JSON size before compression.
pub const FIVELENS_SNAPSHOT_BYTES: &str = "fivelens.snapshot.bytes";
/// `fivelens.snapshot.truncated` (bool): the snapshot was cut to `snapshot_max_bytes` (longest
/// strings first, each cut marked).
pub const FIVELENS_SNAPSHOT_TRUNCATED: &str = "fivelens.snapshot.truncated";
/// The private attributes a model call keeps past the model-call stage for its snapshot.
pub const SNAPSHOT_PAYLOAD_KEYS: &[&str] = &[PRIVATE_REQUEST, PRIVATE_RESPONSE, PRIVATE_FORMAT];
/// Counter `fivelens.spans.dropped`: spans lost before leaving the process, by reason
/// (`queue_full`, `export_queue_full`, `rejected`, `shutdown`) and kind (`model_or_tool`, `other`);
/// exported beside the metrics. Spans dropped by sampling are not counted here.
pub const METRIC_SPANS_DROPPED: &str = "fivelens.spans.dropped";
/// `fivelens.drop.reason` label of [`METRIC_SPANS_DROPPED`].
pub const FIVELENS_DROP_REASON: &str = "fivelens.drop.reason";
/// `fivelens.span.category` label of [`METRIC_SPANS_DROPPED`]: `model_or_tool` or `other`.
pub const FIVELENS_SPAN_CATEGORY: &str = "fivelens.span.category";

// ---- redaction ------------------------------------------------------------------------------

/// `fivelens.redaction.<type>` (integer): values of that PII type redacted in the span's content
/// (type in lower case, e.g. `fivelens.redaction.email`).
pub const FIVELENS_REDACTION_PREFIX: &str = "fivelens.redaction.";
/// Counter `fivelens.pii.entities`: PII values found in captured content, by type (every span,
/// before sampling).
pub const METRIC_PII_ENTITIES: &str = "fivelens.pii.entities";
/// `fivelens.pii.type`: the PII type label of [`METRIC_PII_ENTITIES`].
pub const FIVELENS_PII_TYPE: &str = "fivelens.pii.type";

// ---- the context window ----------------------------------------------------------------------

/// `fivelens.context.input_tokens`: the input tokens that fill the model's window on this call
/// (the provider's `gen_ai.usage.input_tokens` when reported, else the counted total).
pub const FIVELENS_CONTEXT_INPUT_TOKENS: &str = "fivelens.context.input_tokens";
/// `fivelens.context.counted_tokens`: the input as fivelens counted it (before scaling to the
/// provider's count), so the two can be compared.
pub const FIVELENS_CONTEXT_COUNTED_TOKENS: &str = "fivelens.context.counted_tokens";
/// `fivelens.context.tokens.<section>` (integer): the input tokens of one section (`system`,
/// `tools`, `history`, `tool_results`, `user_input`); they sum to `fivelens.context.input_tokens`.
pub const FIVELENS_CONTEXT_TOKENS_PREFIX: &str = "fivelens.context.tokens.";
/// `fivelens.context.tier_tokens.<tier>` (integer): tokens of what one declared tier (open files,
/// similarity hits, symbol dependencies, signatures, ...) contributed to the call.
pub const FIVELENS_CONTEXT_TIER_TOKENS_PREFIX: &str = "fivelens.context.tier_tokens.";
/// `fivelens.context.window`: the model's context window, tokens (from the limit table).
pub const FIVELENS_CONTEXT_WINDOW: &str = "fivelens.context.window";
/// `fivelens.context.max_output_tokens`: the model's largest output, tokens (from the limit table).
pub const FIVELENS_CONTEXT_MAX_OUTPUT_TOKENS: &str = "fivelens.context.max_output_tokens";
/// `fivelens.context.fill`: input tokens / window (0.8 is 80%); absent for a model the table
/// does not know.
pub const FIVELENS_CONTEXT_FILL: &str = "fivelens.context.fill";
/// `fivelens.context.turn`: the 1-based index of this call in its conversation
/// (`gen_ai.conversation.id`, else `session.id`, else the trace).
pub const FIVELENS_CONTEXT_TURN: &str = "fivelens.context.turn";
/// `fivelens.context.growth`: input tokens minus the conversation's previous call's.
pub const FIVELENS_CONTEXT_GROWTH: &str = "fivelens.context.growth";
/// `fivelens.context.growth_rate`: mean growth per turn since the conversation's first call.
pub const FIVELENS_CONTEXT_GROWTH_RATE: &str = "fivelens.context.growth_rate";
/// `fivelens.context.turns_left`: turns until the window is full at the mean growth rate.
pub const FIVELENS_CONTEXT_TURNS_LEFT: &str = "fivelens.context.turns_left";
/// `fivelens.context.alert`: true on the call whose fill rose past the threshold from below.
pub const FIVELENS_CONTEXT_ALERT: &str = "fivelens.context.alert";
/// `fivelens.context.threshold` on the alert event: the configured share.
pub const FIVELENS_CONTEXT_THRESHOLD: &str = "fivelens.context.threshold";
/// Span event `fivelens.context.threshold_crossed`: the conversation's fill rose past the
/// threshold on this call.
pub const FIVELENS_EVENT_CONTEXT_THRESHOLD: &str = "fivelens.context.threshold_crossed";
/// `fivelens.context.section`: the section label of the section-tokens histogram.
pub const FIVELENS_CONTEXT_SECTION: &str = "fivelens.context.section";
/// `fivelens.context.tier`: the tier label of the tier histogram, and the tier a retrieval span
/// feeds.
pub const FIVELENS_CONTEXT_TIER: &str = "fivelens.context.tier";
/// Private: the tiers declared around a model call (JSON object: name to text, texts or a count).
pub const PRIVATE_CONTEXT_TIERS: &str = "fivelens._context_tiers";
/// Private: the input messages, handed over for counting when content capture is off.
pub const PRIVATE_INPUT_MESSAGES: &str = "fivelens._input_messages";
/// Private: the system instructions, handed over for counting when content capture is off.
pub const PRIVATE_SYSTEM_INSTRUCTIONS: &str = "fivelens._system_instructions";
/// Private: the tool definitions, handed over for counting when content capture is off.
pub const PRIVATE_TOOL_DEFINITIONS: &str = "fivelens._tool_definitions";
/// Histogram `fivelens.context_window.fill` (1): fill of the window per model call.
pub const METRIC_CONTEXT_FILL: &str = "fivelens.context_window.fill";
/// Histogram `fivelens.context_window.tokens` ({token}): input tokens per section per call.
pub const METRIC_CONTEXT_TOKENS: &str = "fivelens.context_window.tokens";
/// Histogram `fivelens.context_window.tokens_by_tier` ({token}): tokens per declared tier per call.
pub const METRIC_CONTEXT_TOKENS_BY_TIER: &str = "fivelens.context_window.tokens_by_tier";
/// Histogram `fivelens.context_window.growth` ({token}): growth of a conversation's input per turn.
pub const METRIC_CONTEXT_GROWTH: &str = "fivelens.context_window.growth";
/// Counter `fivelens.context_window.alerts` ({alert}): conversations whose fill crossed the threshold.
pub const METRIC_CONTEXT_ALERTS: &str = "fivelens.context_window.alerts";
/// Bucket boundaries of the fill histogram.
pub const FILL_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0,
];
/// Bucket boundaries of the growth histogram (tokens per turn; shrinking turns land below 0).
pub const GROWTH_BUCKETS: &[f64] = &[
    -1024.0, 0.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0,
];

// ---- retrieval and verification loops ---------------------------------------------------------

/// `fivelens.retrieval.scanned`: files or documents a retrieval looked at.
pub const FIVELENS_RETRIEVAL_SCANNED: &str = "fivelens.retrieval.scanned";
/// `fivelens.retrieval.selected`: files or documents it kept.
pub const FIVELENS_RETRIEVAL_SELECTED: &str = "fivelens.retrieval.selected";
/// `fivelens.retrieval.similarity_threshold`: the least similarity a hit needed.
pub const FIVELENS_RETRIEVAL_SIMILARITY_THRESHOLD: &str = "fivelens.retrieval.similarity_threshold";
/// `fivelens.retrieval.cache_hits`: hits answered from a cache (embeddings, results).
pub const FIVELENS_RETRIEVAL_CACHE_HITS: &str = "fivelens.retrieval.cache_hits";
/// `fivelens.verification.attempt`: 1-based attempt of a verification loop (edit, then test).
pub const FIVELENS_VERIFICATION_ATTEMPT: &str = "fivelens.verification.attempt";
/// `fivelens.verification.attempts`: attempts a verification loop took (on the loop's span).
pub const FIVELENS_VERIFICATION_ATTEMPTS: &str = "fivelens.verification.attempts";
/// `fivelens.verification.passed`: whether the attempt (or the loop) passed.
pub const FIVELENS_VERIFICATION_PASSED: &str = "fivelens.verification.passed";

// ---- logs ------------------------------------------------------------------------------------

/// Log event `gen_ai.client.inference.operation.details` (opt-in): a model call's request,
/// response and usage attributes and its content, as a log record tied to the call's span.
pub const EVENT_INFERENCE_DETAILS: &str = "gen_ai.client.inference.operation.details";
/// Log event `gen_ai.evaluation.result`: an evaluation of a GenAI operation, tied to its span.
pub const EVENT_EVALUATION_RESULT: &str = "gen_ai.evaluation.result";
/// `gen_ai.evaluation.name` (required on the evaluation event).
pub const GEN_AI_EVALUATION_NAME: &str = "gen_ai.evaluation.name";
/// `gen_ai.evaluation.score.value` (double).
pub const GEN_AI_EVALUATION_SCORE_VALUE: &str = "gen_ai.evaluation.score.value";
/// `gen_ai.evaluation.score.label` (low cardinality: `pass`, `relevant`, ...).
pub const GEN_AI_EVALUATION_SCORE_LABEL: &str = "gen_ai.evaluation.score.label";
/// `gen_ai.evaluation.explanation` (content: redacted).
pub const GEN_AI_EVALUATION_EXPLANATION: &str = "gen_ai.evaluation.explanation";
/// `code.file.path`: the source file of a log call.
pub const CODE_FILE_PATH: &str = "code.file.path";
/// `code.function.name`: the function of a log call.
pub const CODE_FUNCTION_NAME: &str = "code.function.name";
/// `code.line.number`: the line of a log call.
pub const CODE_LINE_NUMBER: &str = "code.line.number";
/// `thread.name`: the thread a record was logged on.
pub const THREAD_NAME: &str = "thread.name";
/// `fivelens.log.source`: where an app record came from (`logging`, `structlog`, `console`,
/// `pino`, `winston`, `api`).
pub const FIVELENS_LOG_SOURCE: &str = "fivelens.log.source";
/// Log event `fivelens.logs.budget_exhausted`: the trace logged its budget; its later records are
/// dropped (and counted in `status()`).
pub const FIVELENS_EVENT_LOGS_BUDGET_EXHAUSTED: &str = "fivelens.logs.budget_exhausted";
/// `fivelens.logs.budget_bytes` on the budget event: the per-trace budget.
pub const FIVELENS_LOGS_BUDGET_BYTES: &str = "fivelens.logs.budget_bytes";
/// Field added to the app's own log records (Python `LogRecord` attribute, structlog, pino and
/// winston keys): the hex trace id of the current span, empty outside one.
pub const LOG_FIELD_TRACE_ID: &str = "trace_id";
/// Field added to log records: the hex span id of the current span.
pub const LOG_FIELD_SPAN_ID: &str = "span_id";
/// Field added to log records: the session of the current `context(session_id=...)`.
pub const LOG_FIELD_SESSION_ID: &str = "session_id";
/// Field added to log records: the keyed hash of the current user id.
pub const LOG_FIELD_USER_HASH: &str = "user_hash";

// ---- behaviour: guardrails, signals, drift, evaluations, Time-To-Good-Output -------------------
// The GenAI conventions have no guardrail, drift or outcome names yet (their guardrail proposal is
// unmerged): these are fivelens's own, documented in the README's attribute table.

/// `fivelens.guardrail.policy`: the policy a guardrail check applied (on the check's span).
pub const FIVELENS_GUARDRAIL_POLICY: &str = "fivelens.guardrail.policy";
/// `fivelens.guardrail.verdict`: `pass`, `flag` or `block`.
pub const FIVELENS_GUARDRAIL_VERDICT: &str = "fivelens.guardrail.verdict";
/// `fivelens.guardrail.action`: what the app did (`allow`, `block`, `redact`, `rewrite`, ...).
pub const FIVELENS_GUARDRAIL_ACTION: &str = "fivelens.guardrail.action";
/// `fivelens.guardrail.score.<dimension>`: the check's score per dimension (toxicity, pii, ...).
pub const FIVELENS_GUARDRAIL_SCORE_PREFIX: &str = "fivelens.guardrail.score.";
/// `fivelens.guardrail.resubmission`: the check judges a resubmission after a block (the span
/// links to the blocked check).
pub const FIVELENS_GUARDRAIL_RESUBMISSION: &str = "fivelens.guardrail.resubmission";
/// `fivelens.feedback.kind`: on a feedback span, `false_positive` or `over_redaction`.
pub const FIVELENS_FEEDBACK_KIND: &str = "fivelens.feedback.kind";
/// `fivelens.feedback.reason`: why the reviewer or user reported it.
pub const FIVELENS_FEEDBACK_REASON: &str = "fivelens.feedback.reason";
/// `fivelens.feedback.trace_id`: the trace the feedback is about (hex).
pub const FIVELENS_FEEDBACK_TRACE_ID: &str = "fivelens.feedback.trace_id";
/// `fivelens.feedback.span_id`: the span (the check) the feedback is about (hex).
pub const FIVELENS_FEEDBACK_SPAN_ID: &str = "fivelens.feedback.span_id";
/// Counter `fivelens.guardrail.verdicts`: checks by policy, verdict and action.
pub const METRIC_GUARDRAIL_VERDICTS: &str = "fivelens.guardrail.verdicts";
/// Histogram `fivelens.guardrail.duration`: latency of guardrail checks (s), by policy.
pub const METRIC_GUARDRAIL_DURATION: &str = "fivelens.guardrail.duration";
/// Counter `fivelens.guardrail.false_positives`: false positives reported, by policy.
pub const METRIC_GUARDRAIL_FALSE_POSITIVES: &str = "fivelens.guardrail.false_positives";
/// Gauge `fivelens.guardrail.false_positive_rate`: false positives over flagged and blocked
/// checks, by policy.
pub const METRIC_GUARDRAIL_FALSE_POSITIVE_RATE: &str = "fivelens.guardrail.false_positive_rate";
/// Counter `fivelens.guardrail.resubmissions`: resubmissions after a block, by policy.
pub const METRIC_GUARDRAIL_RESUBMISSIONS: &str = "fivelens.guardrail.resubmissions";
/// Counter `fivelens.redaction.over_redactions`: values reported as redacted wrongly, by type.
pub const METRIC_REDACTION_OVER_REDACTIONS: &str = "fivelens.redaction.over_redactions";
/// `fivelens.confidence.score`: a confidence the app read from the model's structured output.
pub const FIVELENS_CONFIDENCE_SCORE: &str = "fivelens.confidence.score";
/// `fivelens.confidence.source`: what the confidence is of (`answer`, `extraction`, ...).
pub const FIVELENS_CONFIDENCE_SOURCE: &str = "fivelens.confidence.source";
/// Histogram `fivelens.confidence`: confidence scores, by source.
pub const METRIC_CONFIDENCE: &str = "fivelens.confidence";
/// `fivelens.intent.name`: the top intent of an intent classification.
pub const FIVELENS_INTENT_NAME: &str = "fivelens.intent.name";
/// `fivelens.intent.score`: the top intent's score.
pub const FIVELENS_INTENT_SCORE: &str = "fivelens.intent.score";
/// `fivelens.intent.scores.<intent>`: the score of each intent.
pub const FIVELENS_INTENT_SCORES_PREFIX: &str = "fivelens.intent.scores.";
/// `fivelens.intent.low_confidence`: the top score is below `intent_low_confidence_threshold`.
pub const FIVELENS_INTENT_LOW_CONFIDENCE: &str = "fivelens.intent.low_confidence";
/// Histogram `fivelens.intent.score`: top intent scores, by intent.
pub const METRIC_INTENT_SCORE: &str = "fivelens.intent.score";
/// Counter `fivelens.intent.low_confidence`: classifications below the threshold, by intent.
pub const METRIC_INTENT_LOW_CONFIDENCE: &str = "fivelens.intent.low_confidence";
/// `fivelens.rerank.top_score`: the highest re-ranker score.
pub const FIVELENS_RERANK_TOP_SCORE: &str = "fivelens.rerank.top_score";
/// `fivelens.rerank.bottom_score`: the lowest re-ranker score.
pub const FIVELENS_RERANK_BOTTOM_SCORE: &str = "fivelens.rerank.bottom_score";
/// `fivelens.rerank.spread`: top minus bottom (a collapsing spread: retrieval degrades).
pub const FIVELENS_RERANK_SPREAD: &str = "fivelens.rerank.spread";
/// `fivelens.rerank.documents`: documents the re-ranker scored.
pub const FIVELENS_RERANK_DOCUMENTS: &str = "fivelens.rerank.documents";
/// Histogram `fivelens.rerank.spread`: re-ranker spreads, by `gen_ai.data_source.id`.
pub const METRIC_RERANK_SPREAD: &str = "fivelens.rerank.spread";
/// Histogram `fivelens.prompt.input_tokens`: input tokens of model calls by prompt name and
/// version (or system-prompt hash) and model: the prompt's growth over time.
pub const METRIC_PROMPT_INPUT_TOKENS: &str = "fivelens.prompt.input_tokens";
/// `fivelens.drift.prompt_version`: the prompt version whose golden output the output is
/// compared with.
pub const FIVELENS_DRIFT_PROMPT_VERSION: &str = "fivelens.drift.prompt_version";
/// `fivelens.drift.similarity`: similarity of the output to its golden counterpart (0 to 1).
pub const FIVELENS_DRIFT_SIMILARITY: &str = "fivelens.drift.similarity";
/// `fivelens.drift.method`: `lexical` (computed in the core) or `embedding` (the app's function).
pub const FIVELENS_DRIFT_METHOD: &str = "fivelens.drift.method";
/// `fivelens.drift.golden_missing`: no golden output is registered for the version (or input).
pub const FIVELENS_DRIFT_GOLDEN_MISSING: &str = "fivelens.drift.golden_missing";
/// Private: the output to compare (content; never leaves the process).
pub const PRIVATE_DRIFT_OUTPUT: &str = "fivelens._drift_output";
/// Private: the test input whose golden output to use.
pub const PRIVATE_DRIFT_INPUT: &str = "fivelens._drift_input";
/// Histogram `fivelens.drift.similarity`: similarities, by prompt version and method.
pub const METRIC_DRIFT_SIMILARITY: &str = "fivelens.drift.similarity";
/// Name of the evaluation records of embedding drift checks (`gen_ai.evaluation.name`).
pub const EVALUATION_DRIFT: &str = "fivelens.drift";
/// Histogram `fivelens.evaluation.score`: evaluation scores, by `gen_ai.evaluation.name`.
pub const METRIC_EVALUATION_SCORE: &str = "fivelens.evaluation.score";
/// Counter `fivelens.evaluation.results`: evaluation results, by name and label.
pub const METRIC_EVALUATION_RESULTS: &str = "fivelens.evaluation.results";
/// Counter `fivelens.evaluation.dropped`: evaluations not run (the pool was saturated), by name.
pub const METRIC_EVALUATION_DROPPED: &str = "fivelens.evaluation.dropped";
/// Gauge `fivelens.evaluation.hallucination_rate`: results labelled `hallucinated` over all
/// results, by evaluation name.
pub const METRIC_HALLUCINATION_RATE: &str = "fivelens.evaluation.hallucination_rate";
/// The label that counts as a hallucination (`gen_ai.evaluation.score.label`).
pub const LABEL_HALLUCINATED: &str = "hallucinated";
/// `fivelens.user.outcome`: what the user did with a response (`accepted`, `regenerated`,
/// `edited`, `abandoned`), on the outcome span.
pub const FIVELENS_USER_OUTCOME: &str = "fivelens.user.outcome";
/// `fivelens.ttgo`: Time-To-Good-Output of the session's episode (s), on the outcome span that
/// ended it (first submit to first accepted output).
pub const FIVELENS_TTGO: &str = "fivelens.ttgo";
/// `fivelens.ttgo.attempts`: submits the episode took (1 plus the regenerations).
pub const FIVELENS_TTGO_ATTEMPTS: &str = "fivelens.ttgo.attempts";
/// Histogram `fivelens.ttgo`: Time-To-Good-Output per session episode (s), by final outcome.
pub const METRIC_TTGO: &str = "fivelens.ttgo";
/// Counter `fivelens.user.outcomes`: outcomes reported, by outcome.
pub const METRIC_USER_OUTCOMES: &str = "fivelens.user.outcomes";
/// Gauge `fivelens.regenerate_rate`: `regenerated` outcomes over all outcomes.
pub const METRIC_REGENERATE_RATE: &str = "fivelens.regenerate_rate";

/// Buckets of scores between 0 and 1 (confidence, intent, similarity, evaluations).
pub const SCORE_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 1.0,
];
/// Buckets of Time-To-Good-Output (s): seconds to an hour.
pub const TTGO_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    /// `(NAME, "value")` from lines `<prefix>NAME<sep>"value"` (any quote character).
    fn pairs(text: &str, prefix: &str, sep: &str) -> Vec<(String, String)> {
        text.lines()
            .filter_map(|line| {
                let rest = line.strip_prefix(prefix)?;
                let (name, value) = rest.split_once(sep)?;
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                {
                    return None;
                }
                let quote = value.chars().next()?;
                let value = value[1..].split(quote).next()?;
                Some((name.to_string(), value.to_string()))
            })
            .collect()
    }

    /// The bindings' names are copies of these; every copy must equal the original.
    #[test]
    fn binding_constants_match_the_core() {
        let core: HashMap<String, String> =
            pairs(include_str!("semconv.rs"), "pub const ", ": &str = ")
                .into_iter()
                .collect();
        assert!(core.len() > 50);
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        for (file, prefix, sep) in [
            (
                "bindings-python/python/fivelens/semconv.py",
                "",
                ": Final = ",
            ),
            ("bindings-node/lib/semconv.js", "  ", ": "),
        ] {
            let path = format!("{root}/{file}");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let found = pairs(&text, prefix, sep);
            assert!(found.len() > 50, "{file}: only {} names", found.len());
            for (name, value) in found {
                assert_eq!(core.get(&name), Some(&value), "{file}: {name}");
            }
        }
    }
}
