'use strict'
// The behaviour lens: guardrails and their false positives, behavioural signals, drift against
// golden outputs, asynchronous evaluations and Time-To-Good-Output. Each call writes span
// attributes (or a short span) and returns; the core's processing thread turns them into
// metrics, compares outputs with their golden counterparts and follows sessions to their first
// accepted output. Evaluators run later, a bounded number at a time, never inside the caller's
// call; an evaluation the pool cannot take is dropped and counted.

const sc = require('./semconv')
const { state } = require('./state')

const VERDICTS = ['pass', 'flag', 'block']
const OUTCOMES = ['accepted', 'regenerated', 'edited', 'abandoned']

/** @returns {any} */
function api() {
  return require('./api')
}

/** @param {string} message */
function report(message) {
  try {
    const st = /** @type {any} */ (state())
    if (st.native) st.native.reportInternalError('integration', `behaviour: ${message}`)
  } catch {}
}

// ---- guardrails -------------------------------------------------------------------------------

/** One guardrail check, recorded as the span `guardrail <policy>` when its function ends. */
class GuardrailCheck {
  /**
   * @param {any} span
   * @param {string} policy
   */
  constructor(span, policy) {
    this.span = span
    this.policy = policy
    this.verdict = 'pass'
    /** @type {string | null} */
    this.action = null
    /** @type {Record<string, number>} */
    this.scores = {}
  }

  /**
   * The check's verdict (`pass`, `flag` or `block`), the action the app took and scores per
   * dimension.
   * @param {string} verdict
   * @param {{action?: string, scores?: Record<string, number>}} [details]
   */
  record(verdict, details = {}) {
    let v = String(verdict).toLowerCase()
    if (!VERDICTS.includes(v)) {
      report(`guardrail ${this.policy}: unknown verdict ${verdict} (pass, flag, block); recorded as flag`)
      v = 'flag'
    }
    this.verdict = v
    if (details.action !== undefined && details.action !== null) this.action = String(details.action)
    for (const [k, s] of Object.entries(details.scores || {})) {
      const n = Number(s)
      if (Number.isFinite(n)) this.scores[k] = n
    }
  }

  _finish() {
    const span = this.span
    span.setAttribute(sc.FIVELENS_GUARDRAIL_VERDICT, this.verdict)
    span.setAttribute(sc.FIVELENS_GUARDRAIL_ACTION, this.action || (this.verdict === 'block' ? 'block' : 'allow'))
    for (const [k, s] of Object.entries(this.scores)) span.setAttribute(sc.FIVELENS_GUARDRAIL_SCORE_PREFIX + k, s)
    // The tail sampler's keep policy keeps every trace with a block.
    if (this.verdict === 'block') span.setAttribute(sc.FIVELENS_SAMPLING_KEEP, `guardrail:${this.policy}`)
  }
}

/**
 * `[parent for a span or null, trace id, span id]` of a span, a traceparent, a trace id (32 hex)
 * or a span id (16 hex).
 * @param {any} target
 * @returns {[any, string | null, string | null]}
 */
function asParent(target) {
  if (target === undefined || target === null) return [null, null, null]
  if (typeof target === 'object' && typeof target.spanContext === 'function') {
    const c = target.spanContext()
    return [target, c.traceId, c.spanId]
  }
  const text = String(target).trim().toLowerCase()
  const parts = text.split('-')
  if (parts.length === 4 && parts[1].length === 32 && parts[2].length === 16) return [text, parts[1], parts[2]]
  if (/^[0-9a-f]{32}$/.test(text)) return [null, text, null]
  if (/^[0-9a-f]{16}$/.test(text)) return [null, null, text]
  return [null, null, null]
}

/**
 * @param {GuardrailCheck} check
 * @param {any} result
 */
function resultInto(check, result) {
  if (typeof result === 'string' && VERDICTS.includes(result.toLowerCase())) check.record(result)
  else if (result && typeof result === 'object' && typeof result.then !== 'function' && 'verdict' in result) {
    check.record(result.verdict, { action: result.action, scores: result.scores })
  }
}

/**
 * A guardrail check as a span `guardrail <policy>`: its verdict (`pass`, `flag`, `block`), the
 * action taken, scores per dimension and its latency. `fn(check)` calls `check.record(...)` or
 * returns the verdict (or `{verdict, action, scores}`). A block sets the trace's keep flag, so
 * the tail sampler keeps it. `options.resubmissionOf` (the blocked check's span, traceparent,
 * trace or span id) links this check to it and counts a resubmission.
 * @template T
 * @param {string} policy
 * @param {{resubmissionOf?: any, attributes?: Record<string, any>} | ((check: GuardrailCheck) => T)} optionsOrFn
 * @param {(check: GuardrailCheck) => T} [fn]
 * @returns {T}
 */
function withGuardrail(policy, optionsOrFn, fn) {
  /** @type {{resubmissionOf?: any, attributes?: Record<string, any>}} */
  let options = {}
  if (typeof optionsOrFn === 'function') fn = optionsOrFn
  else options = optionsOrFn || {}
  if (typeof fn !== 'function') throw new TypeError('fivelens: withGuardrail needs a function to run')
  const run = /** @type {(check: GuardrailCheck) => T} */ (fn)
  /** @type {Record<string, any>} */
  const attrs = { [sc.FIVELENS_GUARDRAIL_POLICY]: String(policy) }
  /** @type {any[]} */
  const links = []
  if (options.resubmissionOf !== undefined && options.resubmissionOf !== null) {
    const [parent, traceId, spanId] = asParent(options.resubmissionOf)
    attrs[sc.FIVELENS_GUARDRAIL_RESUBMISSION] = true
    if (parent) links.push(parent)
    if (traceId) attrs[sc.FIVELENS_FEEDBACK_TRACE_ID] = traceId
    if (spanId) attrs[sc.FIVELENS_FEEDBACK_SPAN_ID] = spanId
  }
  for (const [k, v] of Object.entries(options.attributes || {})) if (!(k in attrs)) attrs[k] = v
  return api().withSpan(`guardrail ${policy}`, attrs, { links }, (/** @type {any} */ span) => {
    const check = new GuardrailCheck(span, String(policy))
    const finish = () => {
      try {
        check._finish()
      } catch (e) {
        report(`guardrail ${policy}: ${e}`)
      }
    }
    let result
    try {
      result = run(check)
    } catch (e) {
      finish()
      throw e
    }
    if (result && typeof (/** @type {any} */ (result).then) === 'function') {
      return /** @type {any} */ (result).then(
        (/** @type {any} */ value) => {
          resultInto(check, value)
          finish()
          return value
        },
        (/** @type {any} */ error) => {
          finish()
          throw error
        },
      )
    }
    resultInto(check, result)
    finish()
    return result
  })
}

/**
 * @param {string} kind
 * @param {any} target
 * @param {Record<string, any>} attributes
 * @returns {boolean}
 */
function feedbackSpan(kind, target, attributes) {
  const [parent, traceId, spanId] = asParent(target)
  if (!traceId && !spanId) {
    report(`feedback ${kind}: expected a span, a traceparent, a trace id or a span id, got ${target}`)
    return false
  }
  /** @type {Record<string, any>} */
  const attrs = { [sc.FIVELENS_FEEDBACK_KIND]: kind, ...attributes }
  if (traceId) attrs[sc.FIVELENS_FEEDBACK_TRACE_ID] = traceId
  if (spanId) attrs[sc.FIVELENS_FEEDBACK_SPAN_ID] = spanId
  try {
    api().startSpan(`feedback ${kind}`, { parent: parent || undefined, attributes: attrs }).end()
    return true
  } catch (e) {
    report(`feedback ${kind}: ${e}`)
    return false
  }
}

/**
 * Reports about checks already made, from the app, a reviewer or a user action: short spans in
 * the checked trace (children of the check when its span id is known).
 */
const feedback = {
  /**
   * The check of `policy` in `traceOrSpanId` (its span, traceparent, trace id or span id) was a
   * false positive: `fivelens.guardrail.false_positives` and the `false_positive_rate` gauge.
   * @param {any} traceOrSpanId
   * @param {string} policy
   * @param {{reason?: string}} [details]
   * @returns {boolean}
   */
  falsePositive(traceOrSpanId, policy, details = {}) {
    /** @type {Record<string, any>} */
    const attrs = { [sc.FIVELENS_GUARDRAIL_POLICY]: String(policy) }
    if (details.reason !== undefined) attrs[sc.FIVELENS_FEEDBACK_REASON] = String(details.reason)
    return feedbackSpan('false_positive', traceOrSpanId, attrs)
  },
  /**
   * The redactor removed something that was not PII (of `piiType`, e.g. `PHONE`):
   * `fivelens.redaction.over_redactions`.
   * @param {any} traceOrSpanId
   * @param {string} [piiType]
   * @returns {boolean}
   */
  overRedaction(traceOrSpanId, piiType) {
    /** @type {Record<string, any>} */
    const attrs = {}
    if (piiType !== undefined) attrs[sc.FIVELENS_PII_TYPE] = String(piiType).toUpperCase()
    return feedbackSpan('over_redaction', traceOrSpanId, attrs)
  },
}

// ---- behavioural signals ----------------------------------------------------------------------

/**
 * Calls `fn` with the given span, else the active one, else a short span of its own.
 * @param {any} span
 * @param {string} name
 * @param {(span: any) => void} fn
 */
function onTarget(span, name, fn) {
  const target = span || api().currentSpan()
  if (target) return fn(target)
  const own = api().startSpan(name)
  try {
    fn(own)
  } finally {
    own.end()
  }
}

/**
 * A confidence the app read from the model's structured output (0 to 1): on the active span
 * (`fivelens.confidence.score`) and in the `fivelens.confidence` histogram.
 * @param {number} score
 * @param {{source?: string, span?: any}} [options]
 */
function recordConfidence(score, options = {}) {
  try {
    onTarget(options.span, 'confidence', (s) => {
      s.setAttribute(sc.FIVELENS_CONFIDENCE_SCORE, Number(score))
      if (options.source !== undefined) s.setAttribute(sc.FIVELENS_CONFIDENCE_SOURCE, String(options.source))
    })
  } catch (e) {
    report(`recordConfidence: ${e}`)
  }
}

/**
 * An intent classification (score per intent): every score on the active span, the top intent
 * in the `fivelens.intent.score` histogram, and a top score below
 * `intentLowConfidenceThreshold` counted in `fivelens.intent.low_confidence`. Returns the top
 * intent and its score.
 * @param {Record<string, number>} scores
 * @param {{span?: any}} [options]
 * @returns {[string, number] | null}
 */
function recordIntent(scores, options = {}) {
  try {
    const entries = Object.entries(scores || {}).map(([k, v]) => /** @type {[string, number]} */ ([k, Number(v)]))
    if (entries.length === 0) return null
    const top = entries.reduce((a, b) => (b[1] > a[1] ? b : a))
    onTarget(options.span, 'intent', (s) => {
      for (const [k, v] of entries) s.setAttribute(sc.FIVELENS_INTENT_SCORES_PREFIX + k, v)
      s.setAttribute(sc.FIVELENS_INTENT_NAME, top[0])
      s.setAttribute(sc.FIVELENS_INTENT_SCORE, top[1])
    })
    return top
  } catch (e) {
    report(`recordIntent: ${e}`)
    return null
  }
}

/**
 * A re-ranker's scores: top, bottom, spread and count on the active span, the spread in the
 * `fivelens.rerank.spread` histogram (a collapsing spread is retrieval degrading). Returns the
 * spread.
 * @param {number[]} scores
 * @param {{span?: any}} [options]
 * @returns {number | null}
 */
function recordRerank(scores, options = {}) {
  try {
    const values = (scores || []).map(Number).filter((v) => !Number.isNaN(v))
    if (values.length === 0) return null
    const top = Math.max(...values)
    const bottom = Math.min(...values)
    onTarget(options.span, 'rerank', (s) => {
      s.setAttribute(sc.FIVELENS_RERANK_TOP_SCORE, top)
      s.setAttribute(sc.FIVELENS_RERANK_BOTTOM_SCORE, bottom)
      s.setAttribute(sc.FIVELENS_RERANK_SPREAD, top - bottom)
      s.setAttribute(sc.FIVELENS_RERANK_DOCUMENTS, values.length)
    })
    return top - bottom
  } catch (e) {
    report(`recordRerank: ${e}`)
    return null
  }
}

// ---- drift ------------------------------------------------------------------------------------

/** @type {((text: string) => number[] | Promise<number[]>) | null} */
let embedder = null
/** @type {Map<string, number[]>} */
const embeddings = new Map()

/**
 * Registers the golden output of `promptVersion` (or of one test `input` of it). Kept in the
 * local store, or in the file named by `driftGoldensFile`.
 * @param {string} promptVersion
 * @param {string} output
 * @param {{input?: string}} [options]
 */
function registerGolden(promptVersion, output, options = {}) {
  try {
    const st = /** @type {any} */ (state())
    if (st.native) st.native.registerGolden(String(promptVersion), String(output), options.input ?? null)
  } catch (e) {
    report(`registerGolden: ${e}`)
  }
}

/**
 * The embedding function drift checks use (text to vector, or a promise of one); it runs on the
 * evaluation pool. `null` goes back to the core's lexical similarity.
 * @param {((text: string) => number[] | Promise<number[]>) | null} embed
 */
function setEmbedder(embed) {
  embedder = embed
  embeddings.clear()
}

/**
 * @param {number[]} a
 * @param {number[]} b
 */
function cosine(a, b) {
  if (!a.length || a.length !== b.length) return 0
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i]
    na += a[i] * a[i]
    nb += b[i] * b[i]
  }
  return na === 0 || nb === 0 ? 0 : Math.max(0, Math.min(1, dot / Math.sqrt(na * nb)))
}

/**
 * Compares `output` with the golden output of `options.promptVersion` (that of `options.input`
 * when registered): `fivelens.drift.similarity` on the active span and in the histogram by
 * prompt version. With an embedding function (`options.embed` or `setEmbedder`), the cosine of
 * the embeddings, computed on the evaluation pool and written as a `gen_ai.evaluation.result`
 * named `fivelens.drift`; otherwise the core's lexical similarity on its processing thread.
 * @param {string} output
 * @param {{promptVersion: string, input?: string, span?: any, embed?: (text: string) => number[] | Promise<number[]>}} options
 */
function checkDrift(output, options) {
  try {
    const version = String(options.promptVersion)
    const embed = options.embed || embedder
    if (!embed) {
      onTarget(options.span, `drift ${version}`, (s) => {
        s.setAttribute(sc.FIVELENS_DRIFT_PROMPT_VERSION, version)
        s.setAttribute(sc.PRIVATE_DRIFT_OUTPUT, String(output))
        if (options.input !== undefined) s.setAttribute(sc.PRIVATE_DRIFT_INPUT, String(options.input))
      })
      return
    }
    const judged = options.span || api().currentSpan()
    pool().submit(sc.EVALUATION_DRIFT, async () => {
      const st = /** @type {any} */ (state())
      const golden = st.native ? st.native.golden(version, options.input ?? null) : null
      if (golden === null || golden === undefined) return
      const key = `${version}\u0000${golden}`
      let g = embeddings.get(key)
      if (!g) {
        g = (await embed(golden)).map(Number)
        if (embeddings.size < 1024) embeddings.set(key, g)
      }
      const o = (await embed(String(output))).map(Number)
      api().recordEvaluation(sc.EVALUATION_DRIFT, {
        scoreValue: cosine(o, g),
        span: judged,
        attributes: { [sc.FIVELENS_DRIFT_PROMPT_VERSION]: version, [sc.FIVELENS_DRIFT_METHOD]: 'embedding' },
      })
    })
  } catch (e) {
    report(`checkDrift: ${e}`)
  }
}

// ---- asynchronous evaluations -----------------------------------------------------------------

/**
 * A bounded pool: at most `workers` evaluations running, `queueSize` waiting; the rest dropped
 * and counted. Jobs start from a `setImmediate`, never inside the caller's call.
 */
class EvaluationPool {
  /**
   * @param {number} workers
   * @param {number} queueSize
   */
  constructor(workers, queueSize) {
    this.workers = Math.max(1, workers)
    this.queueSize = Math.max(1, queueSize)
    this.running = 0
    /** @type {[string, () => Promise<void>][]} */
    this.waiting = []
    /** @type {(() => void)[]} */
    this.idle = []
  }

  /**
   * @param {string} name
   * @param {() => Promise<void>} job
   * @returns {boolean}
   */
  submit(name, job) {
    if (this.waiting.length >= this.queueSize) {
      try {
        const st = /** @type {any} */ (state())
        if (st.native) st.native.evaluationDropped(name)
      } catch {}
      return false
    }
    this.waiting.push([name, job])
    setImmediate(() => this.pump())
    return true
  }

  pump() {
    while (this.running < this.workers && this.waiting.length > 0) {
      const [name, job] = /** @type {[string, () => Promise<void>]} */ (this.waiting.shift())
      this.running++
      Promise.resolve()
        .then(job)
        .catch((e) => report(`evaluation ${name}: ${e}`))
        .finally(() => {
          this.running--
          this.pump()
          if (this.running === 0 && this.waiting.length === 0) for (const resolve of this.idle.splice(0)) resolve()
        })
    }
  }

  /** @returns {Promise<void>} */
  whenIdle() {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idle.push(resolve))
  }
}

/** @returns {EvaluationPool} */
function pool() {
  const st = /** @type {any} */ (state())
  if (!st.evaluationPool) {
    const settings = (api().status().behaviour || {})
    st.evaluationPool = new EvaluationPool(Number(settings.evaluation_workers || 2), Number(settings.evaluation_queue_size || 64))
  }
  return st.evaluationPool
}

/** Drops the pool so the next evaluation builds one with the active configuration. */
function resetPool() {
  /** @type {any} */ (state()).evaluationPool = null
}

/** @type {Map<string, {fn: (sample: any) => any, sampleRate: number}>} */
const evaluators = new Map()

/**
 * Registers an evaluator (a judge model, a factual-consistency check, any function of a sample
 * `{output, input, context, traceId, spanId, attributes}`, sync or async) that `evaluate` runs on
 * a share `sampleRate` of the outputs, on the evaluation pool. It returns a score, a boolean, or
 * `{score, label, explanation}`; the result becomes a `gen_ai.evaluation.result` record attached
 * to the judged span. Label results `hallucinated` to feed `fivelens.evaluation.hallucination_rate`.
 * @param {string} name
 * @param {(sample: any) => any} fn
 * @param {{sampleRate?: number}} [options]
 */
function registerEvaluator(name, fn, options = {}) {
  if (typeof fn !== 'function') throw new TypeError('fivelens: registerEvaluator needs a function')
  const rate = options.sampleRate === undefined ? 1 : Math.max(0, Math.min(1, Number(options.sampleRate)))
  evaluators.set(String(name), { fn, sampleRate: rate })
}

/** @param {string} name */
function unregisterEvaluator(name) {
  evaluators.delete(String(name))
}

/**
 * @param {any} value
 * @returns {{scoreValue?: number, scoreLabel?: string, explanation?: string}}
 */
function resultOf(value) {
  if (typeof value === 'boolean') return { scoreValue: value ? 1 : 0, scoreLabel: value ? 'pass' : 'fail' }
  if (typeof value === 'number') return { scoreValue: value }
  if (value && typeof value === 'object') {
    /** @type {{scoreValue?: number, scoreLabel?: string, explanation?: string}} */
    const out = {}
    if (value.score !== undefined && value.score !== null) out.scoreValue = Number(value.score)
    if (value.label !== undefined && value.label !== null) out.scoreLabel = String(value.label)
    if (value.explanation !== undefined && value.explanation !== null) out.explanation = String(value.explanation)
    return out
  }
  return {}
}

/**
 * Hands `sample.output` (with its input and retrieved context) to every registered evaluator that
 * samples it, on the evaluation pool, and returns at once with how many were queued. Results are
 * attached to `sample.span` (the active span when not given).
 * @param {{output?: string, input?: string, context?: any, span?: any, attributes?: Record<string, any>}} sample
 * @returns {number}
 */
function evaluate(sample = {}) {
  try {
    const judged = sample.span || api().currentSpan()
    const ctx = judged && typeof judged.spanContext === 'function' ? judged.spanContext() : null
    const input = {
      output: sample.output,
      input: sample.input,
      context: sample.context,
      traceId: ctx ? ctx.traceId : null,
      spanId: ctx ? ctx.spanId : null,
      attributes: { ...(sample.attributes || {}) },
    }
    let queued = 0
    for (const [name, reg] of evaluators) {
      if (reg.sampleRate < 1 && Math.random() >= reg.sampleRate) continue
      const ok = pool().submit(name, async () => {
        try {
          const r = resultOf(await reg.fn(input))
          api().recordEvaluation(name, { ...r, span: judged })
        } catch (e) {
          api().recordEvaluation(name, { errorType: (e && /** @type {any} */ (e).name) || 'Error', span: judged })
        }
      })
      if (ok) queued++
    }
    return queued
  } catch (e) {
    report(`evaluate: ${e}`)
    return 0
  }
}

/**
 * Resolves when the evaluations queued so far have run (for tests and short scripts, before
 * `flush`).
 * @returns {Promise<void>}
 */
function waitForEvaluations() {
  const st = /** @type {any} */ (state())
  return st.evaluationPool ? st.evaluationPool.whenIdle() : Promise.resolve()
}

// ---- Time-To-Good-Output ----------------------------------------------------------------------

/**
 * What the user did with the response whose trace `traceparent` names (the header the response
 * carried, echoed by the client): `accepted`, `regenerated`, `edited` or `abandoned`. Recorded
 * as a span `outcome <outcome>` in that trace; the core follows the session from its first
 * submit to its first accepted output (`fivelens.ttgo`) and counts the regenerate rate. Returns
 * whether it was recorded.
 * @param {any} traceparent
 * @param {string} outcome
 * @param {{sessionId?: string}} [options]
 * @returns {boolean}
 */
function recordOutcome(traceparent, outcome, options = {}) {
  const o = String(outcome).toLowerCase()
  if (!OUTCOMES.includes(o)) {
    report(`recordOutcome: unknown outcome ${outcome} (accepted, regenerated, edited, abandoned)`)
    return false
  }
  const [parent] = asParent(traceparent)
  if (!parent) {
    report(`recordOutcome: expected a traceparent or a span, got ${traceparent}`)
    return false
  }
  /** @type {Record<string, any>} */
  const attrs = { [sc.FIVELENS_USER_OUTCOME]: o }
  if (options.sessionId !== undefined) attrs[sc.SESSION_ID] = String(options.sessionId)
  try {
    api().startSpan(`outcome ${o}`, { parent, attributes: attrs }).end()
    return true
  } catch (e) {
    report(`recordOutcome: ${e}`)
    return false
  }
}

module.exports = {
  GuardrailCheck,
  withGuardrail,
  feedback,
  recordConfidence,
  recordIntent,
  recordRerank,
  registerGolden,
  setEmbedder,
  checkDrift,
  registerEvaluator,
  unregisterEvaluator,
  evaluate,
  waitForEvaluations,
  recordOutcome,
  resetPool,
}
