'use strict'
// The context window: the synchronous check, context tiers, retrieval spans and verification
// loops. Every model call's breakdown (tokens per section, fill, turns, the alert) is computed
// by the core's processing thread; `contextWindow` is the one count made on the calling thread,
// on purpose: an agent calls it before sending, to summarise or trim in time.
const { state } = require('./state')
const native = require('./native')
const { Scope } = require('./span')
const { store } = require('./context')
const sc = require('./semconv')

function addon() {
  const st = state()
  if (!st.nativeLoaded) {
    st.nativeLoaded = true
    st.native = native.load()
  }
  return st.native
}

/**
 * @typedef {string | number | any[] | Record<string, any>} SectionValue a section's or tier's
 *   text, a list of texts or chat messages, or a token count
 */

/**
 * @typedef {object} ContextWindow what `contextWindow` returns
 * @property {string} model
 * @property {Record<string, number>} sections tokens per section
 * @property {number} tokens the sum of the sections
 * @property {number | null} limit the model's context window (null when the limit table does not know the model)
 * @property {number | null} maxOutputTokens the model's largest output, when known
 * @property {number | null} fill `tokens / limit` (0.8 is 80%)
 * @property {number | null} remaining tokens left in the window
 * @property {number} threshold the alert threshold of the active configuration (`contextAlertThreshold`)
 * @property {boolean | null} overThreshold whether `fill` reaches the threshold: time to summarise or trim
 */

/**
 * Counts `sections` (section name to text, a list of texts or chat messages, or a token count)
 * as `model` would and returns the tokens per section, the model's window, the fill and whether
 * the alert threshold is reached, at once, on the calling thread.
 * @param {string} model
 * @param {Record<string, SectionValue>} sections
 * @param {{provider?: string}} [options]
 * @returns {ContextWindow}
 */
function contextWindow(model, sections, options = {}) {
  if (typeof model !== 'string') throw new TypeError(`fivelens: contextWindow model: expected a string, got ${typeof model}`)
  if (!sections || typeof sections !== 'object' || Array.isArray(sections)) {
    throw new TypeError('fivelens: contextWindow sections: expected an object of section name to text, messages or a token count')
  }
  const a = addon()
  if (!a) throw new Error('fivelens: contextWindow needs the native addon')
  const out = JSON.parse(a.contextWindow(model, JSON.stringify(sections), options.provider ?? null))
  return {
    model: out.model,
    sections: out.sections,
    tokens: out.tokens,
    limit: out.limit,
    maxOutputTokens: out.max_output_tokens,
    fill: out.fill,
    remaining: out.remaining,
    threshold: out.threshold,
    overThreshold: out.over_threshold,
  }
}

/**
 * Declares what each context tier contributed (tier 1 open files, tier 2 similarity hits, tier 3
 * symbol dependencies, tier 4 signatures, or any names) to the model calls made inside `fn`:
 * each gets `fivelens.context.tier_tokens.<tier>` and the `fivelens.context_window.tokens_by_tier`
 * histogram, counted off the calling thread. Returns what `fn` returns.
 * @template T
 * @param {Record<string, SectionValue>} tiers
 * @param {() => T} fn
 * @returns {T}
 */
function withContextTiers(tiers, fn) {
  if (!tiers || typeof tiers !== 'object' || Array.isArray(tiers)) {
    throw new TypeError('fivelens: withContextTiers tiers: expected an object of tier name to text or a token count')
  }
  if (typeof fn !== 'function') throw new TypeError('fivelens: withContextTiers needs a function to run')
  const s = store()
  return s.runWithScope(new Scope({}, s.activeScope(), { [sc.PRIVATE_CONTEXT_TIERS]: JSON.stringify(tiers) }), fn)
}

/** The span of one retrieval: what it scanned, kept and found in a cache. */
class Retrieval {
  /** @param {import('./span').Span} span */
  constructor(span) {
    this.span = span
  }

  /**
   * Files or documents looked at (`scanned`) and kept (`selected`), hits answered from a cache,
   * and the documents kept (`{id, score}` each; content: redacted, dropped when capture is off).
   * @param {{scanned?: number, selected?: number, cacheHits?: number, documents?: Record<string, any>[]}} figures
   */
  record(figures) {
    const { scanned, selected, cacheHits, documents } = figures || {}
    if (scanned !== undefined) this.span.setAttribute(sc.FIVELENS_RETRIEVAL_SCANNED, Math.trunc(scanned))
    if (selected !== undefined) this.span.setAttribute(sc.FIVELENS_RETRIEVAL_SELECTED, Math.trunc(selected))
    if (cacheHits !== undefined) this.span.setAttribute(sc.FIVELENS_RETRIEVAL_CACHE_HITS, Math.trunc(cacheHits))
    if (Array.isArray(documents)) {
      this.span.setAttribute(sc.GEN_AI_RETRIEVAL_DOCUMENTS, JSON.stringify(documents))
      if (selected === undefined) this.span.setAttribute(sc.FIVELENS_RETRIEVAL_SELECTED, documents.length)
    }
  }
}

/**
 * A retrieval span (the GenAI conventions' `retrieval` operation, named `retrieval <dataSource>`)
 * around `fn`, which gets a `Retrieval` to `record(...)` what was scanned, selected and served
 * from a cache; the span's duration is the retrieval's latency, `tier` the context tier it feeds.
 * Returns what `fn` returns (a promise is awaited before the span ends).
 * @template T
 * @param {{dataSource?: string, tier?: string, topK?: number, similarityThreshold?: number, query?: string}} options
 * @param {(r: Retrieval) => T} fn
 * @returns {T}
 */
function withRetrieval(options, fn) {
  const { dataSource, tier, topK, similarityThreshold, query } = options || {}
  /** @type {Record<string, any>} */
  const attributes = { [sc.GEN_AI_OPERATION_NAME]: 'retrieval' }
  if (dataSource) attributes[sc.GEN_AI_DATA_SOURCE_ID] = dataSource
  if (tier) attributes[sc.FIVELENS_CONTEXT_TIER] = tier
  if (topK !== undefined) attributes[sc.GEN_AI_RETRIEVAL_TOP_K] = Math.trunc(topK)
  if (similarityThreshold !== undefined) attributes[sc.FIVELENS_RETRIEVAL_SIMILARITY_THRESHOLD] = similarityThreshold
  if (query !== undefined) attributes[sc.GEN_AI_RETRIEVAL_QUERY_TEXT] = query
  const { withSpan } = require('./api')
  return withSpan(dataSource ? `retrieval ${dataSource}` : 'retrieval', attributes, { kind: 'client' }, (span) => fn(new Retrieval(span)))
}

/** A verification loop: attempts (edit, then the check) until it passes. */
class Verification {
  /**
   * @param {import('./span').Span} span
   * @param {string} name
   */
  constructor(span, name) {
    this.span = span
    this.name = name
    this.attempts = 0
    this.succeeded = false
  }

  /**
   * One attempt, as a child span `verify_attempt <name>` with its number. `fn` returns (or
   * resolves to) whether the attempt passed; a throw fails it and is re-thrown.
   * @template T
   * @param {() => T} fn
   * @returns {T}
   */
  attempt(fn) {
    const { withSpan } = require('./api')
    this.attempts += 1
    const number = this.attempts
    const settle = (/** @type {any} */ span, /** @type {boolean} */ ok) => {
      span.setAttribute(sc.FIVELENS_VERIFICATION_PASSED, ok)
      if (ok) this.succeeded = true
      this.span.setAttribute(sc.FIVELENS_VERIFICATION_ATTEMPTS, this.attempts)
      this.span.setAttribute(sc.FIVELENS_VERIFICATION_PASSED, this.succeeded)
    }
    return withSpan(`verify_attempt ${this.name}`, { [sc.FIVELENS_VERIFICATION_ATTEMPT]: number }, (span) => {
      let result
      try {
        result = fn()
      } catch (e) {
        settle(span, false)
        throw e
      }
      if (result && typeof (/** @type {any} */ (result).then) === 'function') {
        return /** @type {any} */ (result).then(
          (/** @type {any} */ ok) => {
            settle(span, !!ok)
            return ok
          },
          (/** @type {any} */ e) => {
            settle(span, false)
            throw e
          },
        )
      }
      settle(span, !!result)
      return result
    })
  }
}

/**
 * The verification loop of an agent (edit, run the tests, until they pass) as a span
 * `verify <name>` around `fn`, which gets the loop: each `loop.attempt(fn)` is a child span; the
 * loop's span gets the attempt count and whether it passed. Returns what `fn` returns.
 * @template T
 * @param {string} name
 * @param {(loop: Verification) => T} fn
 * @returns {T}
 */
function withVerification(name, fn) {
  if (typeof name !== 'string' || !name) throw new TypeError('fivelens: withVerification name: expected a non-empty string')
  if (typeof fn !== 'function') throw new TypeError('fivelens: withVerification needs a function to run')
  const { withSpan } = require('./api')
  return withSpan(
    `verify ${name}`,
    { [sc.FIVELENS_VERIFICATION_ATTEMPTS]: 0, [sc.FIVELENS_VERIFICATION_PASSED]: false },
    (span) => fn(new Verification(span, name)),
  )
}

module.exports = { contextWindow, withContextTiers, withRetrieval, withVerification, Retrieval, Verification }
