'use strict'
// Replay of recorded model calls and evaluation datasets from their snapshots (the core's
// `replay` module, the same as `fivelens replay` and `fivelens dataset`). The store reads and the
// provider calls run on the libuv pool: each function returns a promise.

const native = require('./native')
const { state } = require('./state')

/** @type {any} */
let own = null

/** @returns {any} the addon (loaded here when `instrument()` has not run) */
function addon() {
  const found = state().native || (own = own || native.load())
  if (!found) throw new Error('fivelens: the native addon is not available')
  return found
}

/** @param {Record<string, any>} options */
function json(options) {
  /** @type {Record<string, any>} */
  const out = {}
  for (const [k, v] of Object.entries(options)) if (v !== undefined && v !== null) out[k] = v
  return JSON.stringify(out)
}

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
async function replay(traceId, options = {}) {
  const text = await addon().replayJson(
    json({
      trace_id: traceId,
      span_id: options.spanId,
      base_url: options.baseUrl,
      model: options.model,
      n: options.n,
      api_key: options.apiKey,
      timeout: options.timeout,
      from: options.source,
      db: options.db,
    }),
  )
  return JSON.parse(text)
}

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
async function exportDataset(filter = {}) {
  const text = await addon().datasetExportJson(
    json({
      out: filter.out,
      prompt_hash: filter.promptHash,
      model: filter.model,
      stage: filter.stage,
      finish_reason: filter.finishReason,
      min_score: filter.minScore,
      max_score: filter.maxScore,
      since: filter.since,
      until: filter.until,
      reason: filter.reason,
      from: filter.source,
      db: filter.db,
    }),
  )
  return JSON.parse(text)
}

/**
 * Runs each line of a dataset (a JSONL path, or the lines `exportDataset` resolved to) against a
 * candidate; per line the replay report with its `drift` (1 minus the core's lexical similarity
 * to the expected output), and a `summary`.
 * @param {string | any[]} dataset
 * @param {ReplayOptions} [options]
 * @returns {Promise<any>}
 */
async function runDataset(dataset, options = {}) {
  const text = await addon().datasetRunJson(
    json({
      path: typeof dataset === 'string' ? dataset : undefined,
      lines: typeof dataset === 'string' ? undefined : dataset,
      base_url: options.baseUrl,
      model: options.model,
      n: options.n,
      api_key: options.apiKey,
      timeout: options.timeout,
    }),
  )
  return JSON.parse(text)
}

module.exports = { replay, exportDataset, runDataset }
