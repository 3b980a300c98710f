-- Finish-reason share by model, last 24 hours. `length` (OpenAI) and `max_tokens` (Anthropic)
-- are answers cut at the token limit: over 5% of a model's calls is worth raising max_tokens
-- (the Prometheus alert FivelensMaxTokensFinishShare fires on the same figure).
SELECT
    Model AS model,
    if(FinishReason = '', '(none)', FinishReason) AS finish_reason,
    count() AS calls,
    round(count() / sum(count()) OVER (PARTITION BY Model), 4) AS share,
    finish_reason IN ('length', 'max_tokens') AND share > 0.05 AS truncation_alert
FROM llm_calls
WHERE Timestamp >= now() - INTERVAL 1 DAY
GROUP BY model, finish_reason
ORDER BY model, calls DESC
