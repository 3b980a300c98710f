-- Cost by pipeline stage, last 24 hours: what each stage (fivelens.stage: retrieval, planning,
-- synthesis...) spends, from the model-call rows (llm_calls; sampled traces only: for exact totals
-- at any sampling rate, see metrics_by_prompt_hash.sql, which reads the metrics).
SELECT
    if(Stage = '', '(none)', Stage) AS stage,
    count() AS calls,
    sum(InputTokens) AS input_tokens,
    sum(OutputTokens) AS output_tokens,
    round(sum(CostUsd), 6) AS cost_usd,
    round(sum(CostUsd) / (SELECT sum(CostUsd) FROM llm_calls WHERE Timestamp >= now() - INTERVAL 1 DAY), 4) AS share
FROM llm_calls
WHERE Timestamp >= now() - INTERVAL 1 DAY
GROUP BY stage
ORDER BY cost_usd DESC
