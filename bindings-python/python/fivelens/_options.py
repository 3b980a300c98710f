"""The options ``instrument()`` takes: the core's configuration schema, field for field (a test
checks that they match). Every option falls back to its environment variable, then its default;
the README's configuration table lists both."""

from __future__ import annotations

from typing import Literal, TypedDict


class Options(TypedDict, total=False):
    service_name: str | None
    """``service.name``; ``OTEL_SERVICE_NAME``. Default ``unknown_service:python``."""
    resource_attributes: dict[str, str]
    """Extra resource attributes, over ``OTEL_RESOURCE_ATTRIBUTES``."""
    disabled: bool
    """No-op mode; ``OTEL_SDK_DISABLED``. Default ``False``."""
    capture_content: bool
    """Capture prompt and completion content (redacted); ``FIVELENS_CAPTURE_CONTENT``. Default ``True``."""
    otlp_endpoint: str | None
    """OTLP base URL; ``OTEL_EXPORTER_OTLP_ENDPOINT``. Default none (local store only)."""
    otlp_traces_endpoint: str | None
    """OTLP traces URL, used as is; ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``."""
    otlp_protocol: Literal["http/protobuf", "http/json", "grpc"]
    """``OTEL_EXPORTER_OTLP_PROTOCOL``. Default ``http/protobuf``."""
    otlp_headers: dict[str, str]
    """Extra request headers; ``OTEL_EXPORTER_OTLP_HEADERS``."""
    otlp_timeout_ms: int
    """Per-request timeout; ``OTEL_EXPORTER_OTLP_TIMEOUT``. Default 10000."""
    otlp_compression: Literal["none", "gzip"]
    """``OTEL_EXPORTER_OTLP_COMPRESSION``. Default ``none``."""
    store: Literal["auto", "on", "off"] | bool
    """Local SQLite store: ``auto`` is on when no endpoint is set; ``FIVELENS_STORE``."""
    store_path: str | None
    """The store file; ``FIVELENS_STORE_PATH``. Default ``$FIVELENS_HOME/fivelens.db``."""
    store_max_age_hours: int
    """Retention by age; ``FIVELENS_STORE_MAX_AGE_HOURS``. Default 168."""
    store_max_bytes: int
    """Retention by size; ``FIVELENS_STORE_MAX_BYTES``. Default 512 MiB."""
    queue_size: int
    """Span queue capacity; ``OTEL_BSP_MAX_QUEUE_SIZE``. Default 8192."""
    batch_size: int
    """Spans per processing batch; ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``. Default 512."""
    schedule_delay_ms: int
    """Timer wake-up of the processing thread; ``OTEL_BSP_SCHEDULE_DELAY``. Default 500."""
    export_queue_bytes: int
    """Bound on encoded batches waiting per exporter. Default 32 MiB."""
    max_export_batch_bytes: int
    """Largest request body; bigger batches are split. Default 4 MiB."""
    max_attribute_bytes: int
    """Largest attribute value; ``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``. Default 131072."""
    max_attributes: int
    """Most attributes per span; ``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT``. Default 128."""
    max_events: int
    """Most events per span; ``OTEL_SPAN_EVENT_COUNT_LIMIT``. Default 128."""
    max_links: int
    """Most links per span; ``OTEL_SPAN_LINK_COUNT_LIMIT``. Default 128."""
    exit_timeout_ms: int
    """Bound on the flush at exit; ``FIVELENS_EXIT_TIMEOUT_MS``. Default 2000."""
    user_hash_key: str | None
    """HMAC key for user ids; ``FIVELENS_USER_HASH_KEY``. Default: generated beside the store."""
    log_level: Literal["off", "error", "warn", "info", "debug"]
    """fivelens's own diagnostics on stderr; ``FIVELENS_LOG_LEVEL``. Default ``warn``."""
    max_content_bytes: int
    """Largest content attribute (messages, instructions, tool definitions); longer ones are cut
    with the JSON kept valid; ``FIVELENS_MAX_CONTENT_BYTES``. Default 65536."""
    compat: bool
    """Add OpenInference and Langfuse attributes; ``FIVELENS_COMPAT``. Default ``False``."""
    prices_file: str | None
    """A JSON price table over the built-in one; ``FIVELENS_PRICES_FILE``."""
    prices: list[dict[str, object]]
    """Price entries (the price-table format) over the file and the built-in table."""
    context_alert_threshold: float
    """Share of a model's context window (above 0, at most 1) past which a conversation's call gets
    the ``fivelens.context.threshold_crossed`` event; ``FIVELENS_CONTEXT_ALERT_THRESHOLD``.
    Default 0.8."""
    context_limits_file: str | None
    """A JSON table of context windows over the built-in one; ``FIVELENS_CONTEXT_LIMITS_FILE``."""
    context_limits: list[dict[str, object]]
    """Context-window entries (``provider``, ``model``, ``context_window``, optional
    ``max_output_tokens``) over the file and the built-in table."""
    metrics_exporter: str | None
    """``otlp``, ``prometheus``, ``none`` (comma-separated); ``OTEL_METRICS_EXPORTER``."""
    otlp_metrics_endpoint: str | None
    """OTLP metrics URL, used as is; ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``."""
    metric_export_interval_ms: int
    """ms between OTLP metric pushes; ``OTEL_METRIC_EXPORT_INTERVAL``. Default 60000."""
    prometheus_host: str
    """Prometheus endpoint address; ``OTEL_EXPORTER_PROMETHEUS_HOST``. Default ``127.0.0.1``."""
    prometheus_port: int | None
    """Prometheus endpoint port (on when set); ``OTEL_EXPORTER_PROMETHEUS_PORT``."""
    metrics_include_estimated_tokens: bool
    """Count estimated tokens in ``gen_ai.client.token.usage`` too;
    ``FIVELENS_METRICS_INCLUDE_ESTIMATED_TOKENS``. Default ``False``."""
    sampling: list[str]
    """Sampling policies, e.g. ``["errors", "keep", "latency:p99", "canary", "baseline:0.01"]``;
    ``FIVELENS_SAMPLING``, or ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``. Default keeps
    everything."""
    sampling_mode: Literal["tail", "head"]
    """Decide when a trace's local root ends (``tail``, default) or when it starts (``head``);
    ``FIVELENS_SAMPLING_MODE``."""
    sample_key: Literal["user", "session", "trace"]
    """What the ``users`` policy and the canary share hash; ``FIVELENS_SAMPLE_KEY``. Default
    ``user``."""
    canary_users: list[str]
    """User ids always kept at full fidelity; ``FIVELENS_CANARY_USERS``."""
    canary_percent: float
    """Share of users (0-100) always kept at full fidelity; ``FIVELENS_CANARY_PERCENT``."""
    snapshots: bool
    """Context snapshots of kept model calls for replay and datasets (with content capture on);
    ``FIVELENS_SNAPSHOTS``. Default true."""
    snapshot_rate: float
    """Share (0-1) of the other kept traces whose calls get a snapshot (failed calls, keep flags
    and the canary cohort always do); ``FIVELENS_SNAPSHOT_RATE``. Default 0.01."""
    snapshot_max_bytes: int
    """Largest snapshot, JSON bytes before compression; ``FIVELENS_SNAPSHOT_MAX_BYTES``. Default
    262144."""
    tail_timeout_ms: int
    """A trace whose local root has not ended is decided after this; ``FIVELENS_TAIL_TIMEOUT_MS``.
    Default 120000."""
    tail_max_traces: int
    """Undecided traces held at most. Default 20000."""
    tail_max_spans: int
    """Spans of undecided traces held at most. Default 200000."""
    tail_max_bytes: int
    """Bytes of undecided traces held at most. Default 128 MiB."""
    redact: bool
    """Redact PII in captured content before it leaves the process; ``FIVELENS_REDACT``.
    Default ``True``."""
    redact_types: list[str]
    """Built-in PII types to detect (``EMAIL``, ``PHONE``, ``CREDIT_CARD``, ``IBAN``, ``US_SSN``,
    ``IP_ADDRESS``, ``SECRET``, ``JWT``); ``FIVELENS_REDACT_TYPES``. Default all."""
    redact_actions: dict[str, Literal["typed", "indexed", "hash", "remove"]]
    """Action per type (``*`` for the rest); ``FIVELENS_REDACT_ACTIONS``. Default ``typed``."""
    redact_rules: list[dict[str, str]]
    """Custom detectors, ``{"name": "EMPLOYEE_ID", "pattern": "..."}`` (Rust regex syntax; a
    ``value`` group limits what is replaced); ``FIVELENS_REDACT_RULES``."""
    redact_deny: list[str]
    """Values always redacted: exact strings, or ``/regex/``; ``FIVELENS_REDACT_DENY``."""
    redact_allow: list[str]
    """Values never redacted: exact strings, or ``/regex/`` matching the whole value;
    ``FIVELENS_REDACT_ALLOW``."""
    capture_chain_io: bool
    """Record agent-framework chain and node inputs and outputs (costly to serialize);
    ``FIVELENS_CAPTURE_CHAIN_IO``. Default ``False``: model and tool runs keep their content."""
    collapse_chains: bool
    """Leave out agent-framework chain runs that are plumbing; ``FIVELENS_COLLAPSE_CHAINS``.
    Default ``False``."""
    integrations: list[str] | None
    """Integrations to enable; all importable ones when unset."""
    capture_logs: bool
    """Attach to the app's own logs (``logging``, and structlog when present), correlated with the
    current span and exported as OTLP logs; ``FIVELENS_CAPTURE_LOGS``. Default ``True``."""
    logs_level: Literal["trace", "debug", "info", "warn", "warning", "error", "fatal", "critical", "off"]
    """The app's records at or above this level are exported; ``FIVELENS_LOGS_LEVEL``. Default
    ``info``."""
    logs_inject_context: bool
    """Add ``trace_id``, ``span_id``, ``session_id``, ``user_hash`` to structlog output (``logging``
    records always carry them, for formats that ask); ``FIVELENS_LOGS_INJECT_CONTEXT``. Default
    ``False``."""
    logs_exporter: str | None
    """``otlp`` or ``none``; ``OTEL_LOGS_EXPORTER``. Default ``otlp`` when an endpoint is set."""
    otlp_logs_endpoint: str | None
    """OTLP logs URL, used as is; ``OTEL_EXPORTER_OTLP_LOGS_ENDPOINT``."""
    otlp_logs_protocol: Literal["http/protobuf", "http/json", "grpc"] | None
    """Protocol for logs; ``OTEL_EXPORTER_OTLP_LOGS_PROTOCOL``. Default: ``otlp_protocol``."""
    otlp_logs_headers: dict[str, str]
    """Headers for logs, over ``otlp_headers``; ``OTEL_EXPORTER_OTLP_LOGS_HEADERS``."""
    otlp_logs_timeout_ms: int | None
    """Per-request timeout for logs; ``OTEL_EXPORTER_OTLP_LOGS_TIMEOUT``. Default: ``otlp_timeout_ms``."""
    otlp_logs_compression: Literal["none", "gzip"] | None
    """Compression for logs; ``OTEL_EXPORTER_OTLP_LOGS_COMPRESSION``. Default: ``otlp_compression``."""
    logs_queue_size: int
    """Log record queue capacity; ``OTEL_BLRP_MAX_QUEUE_SIZE``. Default 2048."""
    logs_max_field_bytes: int
    """A log body or attribute longer than this is cut and marked; ``FIVELENS_LOGS_MAX_FIELD_BYTES``.
    Default 16384."""
    logs_max_record_bytes: int
    """A log record larger than this is cut, longest fields first; ``FIVELENS_LOGS_MAX_RECORD_BYTES``.
    Default 65536."""
    logs_trace_budget_bytes: int
    """Bytes of log records one trace may produce, later ones dropped and counted (0: none);
    ``FIVELENS_LOGS_TRACE_BUDGET_BYTES``. Default 1 MiB."""
    max_tool_io_bytes: int
    """Tool call arguments and results are cut to this, marked; ``FIVELENS_MAX_TOOL_IO_BYTES``.
    Default 16384."""
    inference_events: bool
    """Emit the ``gen_ai.client.inference.operation.details`` log event per model call;
    ``FIVELENS_INFERENCE_EVENTS`` (or ``OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT``). Default ``False``."""
    agent_journal: Literal["events", "logs"]
    """Where the agent's reasoning journal goes: span events, or log records tied to the span;
    ``FIVELENS_AGENT_JOURNAL``. Default ``events``."""
    intent_low_confidence_threshold: float
    """A top intent score below it is a low-confidence classification (counted);
    ``FIVELENS_INTENT_LOW_CONFIDENCE_THRESHOLD``. Default 0.5."""
    drift_goldens_file: str | None
    """JSON file of golden outputs for drift checks (else the local store);
    ``FIVELENS_DRIFT_GOLDENS_FILE``. Default none."""
    evaluation_workers: int
    """Threads of the asynchronous evaluation pool; ``FIVELENS_EVALUATION_WORKERS``. Default 2."""
    evaluation_queue_size: int
    """Evaluations waiting for the pool before new ones are dropped and counted;
    ``FIVELENS_EVALUATION_QUEUE_SIZE``. Default 64."""
    tool_breaker: Literal["observe", "enforce", "off"]
    """The circuit breaker at the tool boundary: ``observe`` records what it would do, ``enforce``
    rejects calls while it is open (the model gets a degraded-mode tool error);
    ``FIVELENS_TOOL_BREAKER``. Default ``observe``."""
    tool_breaker_error_rate: float
    """Error rate (0 to 1) that opens a tool's breaker; ``FIVELENS_TOOL_BREAKER_ERROR_RATE``.
    Default 0.1."""
    tool_breaker_min_calls: int
    """Calls in the window before the rate counts; ``FIVELENS_TOOL_BREAKER_MIN_CALLS``. Default 20."""
    tool_breaker_window_ms: int
    """The sliding window, ms; ``FIVELENS_TOOL_BREAKER_WINDOW_MS``. Default 60000."""
    tool_breaker_open_ms: int
    """How long an open breaker rejects before probing, ms; ``FIVELENS_TOOL_BREAKER_OPEN_MS``.
    Default 30000."""
    tool_breaker_half_open_calls: int
    """Successful probes that close a half-open breaker; ``FIVELENS_TOOL_BREAKER_HALF_OPEN_CALLS``.
    Default 1."""
    max_agent_iterations: int | None
    """A model call in a later agent iteration is refused; ``FIVELENS_MAX_AGENT_ITERATIONS``.
    Default: no limit."""
    trace_token_budget: int | None
    """Tokens a trace's model calls may use; ``FIVELENS_TRACE_TOKEN_BUDGET``. Default: none."""
    trace_cost_budget_usd: float | None
    """US dollars a trace's model calls may cost; ``FIVELENS_TRACE_COST_BUDGET_USD``. Default: none."""
    session_token_budget: int | None
    """Tokens a session's model calls may use; ``FIVELENS_SESSION_TOKEN_BUDGET``. Default: none."""
    session_cost_budget_usd: float | None
    """US dollars a session's model calls may cost; ``FIVELENS_SESSION_COST_BUDGET_USD``. Default:
    none."""
    testing: bool
    """Keep finished spans in memory (``fivelens._native.finished_spans()``), for tests."""
