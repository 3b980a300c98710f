-- Context-fill alerts, last 24 hours: the latest call of every conversation whose context window
-- is over 80% full (or whose fill crossed fivelens's alert threshold), fullest first, with the
-- trace to open.
SELECT *
FROM
(
    SELECT
        SessionId AS session,
        Model AS model,
        round(ContextFill, 4) AS fill,
        ContextInputTokens AS input_tokens,
        ContextWindow AS window,
        ContextTurn AS turn,
        ContextAlert AS alert,
        TraceId AS trace_id
    FROM llm_calls
    WHERE Timestamp >= now() - INTERVAL 1 DAY AND (ContextFill > 0.8 OR ContextAlert)
    ORDER BY Timestamp DESC
    LIMIT 1 BY session, model
)
ORDER BY fill DESC, session
