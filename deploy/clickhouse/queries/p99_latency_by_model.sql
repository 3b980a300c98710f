-- p50 / p95 / p99 latency of model calls by model, last 24 hours, from the hourly roll-up
-- (t-digest states merged across hours, stages and prompt versions).
SELECT
    Model AS model,
    sum(Calls) AS calls,
    round(q[1], 2) AS p50_ms,
    round(q[2], 2) AS p95_ms,
    round(q[3], 2) AS p99_ms
FROM
(
    SELECT Model, sum(Calls) AS Calls, quantilesTDigestMerge(0.5, 0.95, 0.99)(LatencyMs) AS q
    FROM llm_hourly
    WHERE Hour >= toStartOfHour(now() - INTERVAL 1 DAY)
    GROUP BY Model
)
GROUP BY model, q
ORDER BY p99_ms DESC
