export type ReplayOptions = {
    /**
     * one call of the trace (a unique prefix is enough)
     */
    spanId?: string | undefined;
    /**
     * where to send (`http://127.0.0.1:8000/v1` for OpenAI-style servers, `http://127.0.0.1:8000` for Anthropic); else `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL`, else the provider
     */
    baseUrl?: string | undefined;
    /**
     * model to send instead of the recorded one
     */
    model?: string | undefined;
    /**
     * runs per call (variance); default 1
     */
    n?: number | undefined;
    /**
     * instead of `OPENAI_API_KEY` / `ANTHROPIC_API_KEY`
     */
    apiKey?: string | undefined;
    /**
     * seconds per request; default 120
     */
    timeout?: number | undefined;
    /**
     * a file of exported spans (OTLP JSON) instead of the store
     */
    source?: string | undefined;
    /**
     * the store file; default the configured one
     */
    db?: string | undefined;
};
export type DatasetFilter = {
    /**
     * also write the lines there as JSONL
     */
    out?: string | undefined;
    /**
     * `fivelens.prompt.hash` (a prefix is enough)
     */
    promptHash?: string | undefined;
    /**
     * request or response model
     */
    model?: string | undefined;
    /**
     * `fivelens.stage`
     */
    stage?: string | undefined;
    /**
     * one of the call's finish reasons
     */
    finishReason?: string | undefined;
    /**
     * lowest evaluation score of the call
     */
    minScore?: number | undefined;
    /**
     * highest evaluation score of the call
     */
    maxScore?: number | undefined;
    /**
     * epoch seconds, `2026-01-31T12:00` (UTC) or an age (`24h`, `7d`)
     */
    since?: string | number | undefined;
    /**
     * the same, exclusive
     */
    until?: string | number | undefined;
    /**
     * snapshot reason: `error`, `keep`, `canary`, `share`
     */
    reason?: string | undefined;
    /**
     * a file of exported spans (OTLP JSON) instead of the store
     */
    source?: string | undefined;
    /**
     * the store file
     */
    db?: string | undefined;
};
/**
 * @typedef {object} ReplayOptions
 * @property {string} [spanId] one call of the trace (a unique prefix is enough)
 * @property {string} [baseUrl] where to send (`http://127.0.0.1:8000/v1` for OpenAI-style servers, `http://127.0.0.1:8000` for Anthropic); else `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL`, else the provider
 * @property {string} [model] model to send instead of the recorded one
 * @property {number} [n] runs per call (variance); default 1
 * @property {string} [apiKey] instead of `OPENAI_API_KEY` / `ANTHROPIC_API_KEY`
 * @property {number} [timeout] seconds per request; default 120
 * @property {string} [source] a file of exported spans (OTLP JSON) instead of the store
 * @property {string} [db] the store file; default the configured one
 */
/**
 * Re-sends the snapshotted model calls of a trace through the provider's protocol and resolves
 * to one report per call: `recorded`, `runs`, `diff` (`-` recorded, `+` replayed), `change`
 * (tokens, cost, latency) and `variance` over the runs.
 * @param {string} traceId
 * @param {ReplayOptions} [options]
 * @returns {Promise<any[]>}
 */
export function replay(traceId: string, options?: ReplayOptions): Promise<any[]>;
/**
 * @typedef {object} DatasetFilter
 * @property {string} [out] also write the lines there as JSONL
 * @property {string} [promptHash] `fivelens.prompt.hash` (a prefix is enough)
 * @property {string} [model] request or response model
 * @property {string} [stage] `fivelens.stage`
 * @property {string} [finishReason] one of the call's finish reasons
 * @property {number} [minScore] lowest evaluation score of the call
 * @property {number} [maxScore] highest evaluation score of the call
 * @property {string | number} [since] epoch seconds, `2026-01-31T12:00` (UTC) or an age (`24h`, `7d`)
 * @property {string | number} [until] the same, exclusive
 * @property {string} [reason] snapshot reason: `error`, `keep`, `canary`, `share`
 * @property {string} [source] a file of exported spans (OTLP JSON) instead of the store
 * @property {string} [db] the store file
 */
/**
 * The snapshotted calls matching the filter as dataset lines (`input`, `expected_output`,
 * `tools`, `metadata`, `request`), oldest first.
 * @param {DatasetFilter} [filter]
 * @returns {Promise<any[]>}
 */
export function exportDataset(filter?: DatasetFilter): Promise<any[]>;
/**
 * Runs each line of a dataset (a JSONL path, or the lines `exportDataset` resolved to) against a
 * candidate; per line the replay report with its `drift` (1 minus the core's lexical similarity
 * to the expected output), and a `summary`.
 * @param {string | any[]} dataset
 * @param {ReplayOptions} [options]
 * @returns {Promise<any>}
 */
export function runDataset(dataset: string | any[], options?: ReplayOptions): Promise<any>;
