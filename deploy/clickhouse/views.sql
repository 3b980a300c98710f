-- Materialized views over schema.sql: filled at insert time, so the questions in queries/ read a
-- small table instead of scanning every span. Run after schema.sql.

-- One row per model call (a span with gen_ai.operation.name), with what the questions need.
-- Kept 400 days: a model call row is about 200 bytes, a hundredth of its span with content.
CREATE TABLE IF NOT EXISTS llm_calls
(
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String),
    Environment LowCardinality(String),
    Operation LowCardinality(String),
    Provider LowCardinality(String),
    Model LowCardinality(String),
    Stage LowCardinality(String),
    PromptHash LowCardinality(String),
    SessionId String CODEC(ZSTD(1)),
    DurationMs Float64,
    Failed Bool,
    ErrorType LowCardinality(String),
    CostUsd Float64,
    InputTokens UInt64,
    OutputTokens UInt64,
    FinishReason LowCardinality(String),
    ContextFill Float64,
    ContextInputTokens UInt64,
    ContextWindow UInt64,
    ContextTurn UInt32,
    ContextAlert Bool
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (Model, Stage, toDateTime(Timestamp))
TTL toDateTime(Timestamp) + INTERVAL 7 DAY TO VOLUME 'cold',
    toDateTime(Timestamp) + INTERVAL 400 DAY DELETE
SETTINGS storage_policy = 'fivelens_tiered';

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_mv TO llm_calls AS
SELECT
    Timestamp,
    TraceId,
    SpanId,
    ServiceName,
    ResourceAttributes['deployment.environment.name'] AS Environment,
    Operation,
    Provider,
    Model,
    Stage,
    PromptHash,
    SessionId,
    Duration / 1e6 AS DurationMs,
    StatusCode = 'Error' AS Failed,
    SpanAttributes['error.type'] AS ErrorType,
    CostUsd,
    InputTokens,
    OutputTokens,
    -- The first choice's reason ('' when the call failed before one arrived).
    FinishReasons[1] AS FinishReason,
    ContextFill,
    toUInt64OrZero(SpanAttributes['fivelens.context.input_tokens']) AS ContextInputTokens,
    toUInt64OrZero(SpanAttributes['fivelens.context.window']) AS ContextWindow,
    toUInt32OrZero(SpanAttributes['fivelens.context.turn']) AS ContextTurn,
    ContextAlert
FROM otel_traces
WHERE Operation != '';

-- Hourly roll-up per model, stage and prompt version: calls, failures, tokens, cost and latency
-- quantiles, merged at query time (queries/*.sql use the -Merge combinators).
CREATE TABLE IF NOT EXISTS llm_hourly
(
    Hour DateTime,
    Model LowCardinality(String),
    Stage LowCardinality(String),
    PromptHash LowCardinality(String),
    Calls SimpleAggregateFunction(sum, UInt64),
    Failures SimpleAggregateFunction(sum, UInt64),
    TruncatedAnswers SimpleAggregateFunction(sum, UInt64),
    InputTokens SimpleAggregateFunction(sum, UInt64),
    OutputTokens SimpleAggregateFunction(sum, UInt64),
    CostUsd SimpleAggregateFunction(sum, Float64),
    LatencyMs AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(Hour)
ORDER BY (Hour, Model, Stage, PromptHash)
TTL Hour + INTERVAL 30 DAY TO VOLUME 'cold',
    Hour + INTERVAL 800 DAY DELETE
SETTINGS storage_policy = 'fivelens_tiered';

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_hourly_mv TO llm_hourly AS
SELECT
    toStartOfHour(Timestamp) AS Hour,
    Model,
    Stage,
    PromptHash,
    count() AS Calls,
    countIf(Failed) AS Failures,
    countIf(FinishReason IN ('length', 'max_tokens')) AS TruncatedAnswers,
    sum(InputTokens) AS InputTokens,
    sum(OutputTokens) AS OutputTokens,
    sum(CostUsd) AS CostUsd,
    quantilesTDigestState(0.5, 0.95, 0.99)(DurationMs) AS LatencyMs
FROM llm_calls
GROUP BY Hour, Model, Stage, PromptHash;
