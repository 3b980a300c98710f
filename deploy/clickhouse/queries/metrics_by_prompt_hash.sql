-- Tokens and cost by prompt version (fivelens.prompt.hash), from the metrics: they count every
-- call, sampled or not. fivelens's counters are cumulative per process (service.instance.id), so
-- each series' latest value in the window, minus its first, is what it counted in the window
-- (a series that started inside the window counts from zero).
SELECT
    prompt_hash,
    sumIf(delta, MetricName = 'fivelens.llm.tokens' AND token_type = 'input') AS input_tokens,
    sumIf(delta, MetricName = 'fivelens.llm.tokens' AND token_type = 'output') AS output_tokens,
    round(sumIf(delta, MetricName = 'fivelens.llm.cost'), 6) AS cost_usd
FROM
(
    SELECT
        MetricName,
        Attributes['fivelens.prompt.hash'] AS prompt_hash,
        Attributes['fivelens.token.type'] AS token_type,
        argMax(Value, TimeUnix) - if(min(StartTimeUnix) >= now() - INTERVAL 1 DAY, 0, argMin(Value, TimeUnix)) AS delta
    FROM otel_metrics_sum
    WHERE MetricName IN ('fivelens.llm.tokens', 'fivelens.llm.cost') AND TimeUnix >= now() - INTERVAL 1 DAY
    GROUP BY MetricName, ResourceAttributes['service.instance.id'], ServiceName, Attributes
)
GROUP BY prompt_hash
ORDER BY cost_usd DESC
