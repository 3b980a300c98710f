/** One guardrail check, recorded as the span `guardrail <policy>` when its function ends. */
export class GuardrailCheck {
    /**
     * @param {any} span
     * @param {string} policy
     */
    constructor(span: any, policy: string);
    span: any;
    policy: string;
    verdict: string;
    /** @type {string | null} */
    action: string | null;
    /** @type {Record<string, number>} */
    scores: Record<string, number>;
    /**
     * The check's verdict (`pass`, `flag` or `block`), the action the app took and scores per
     * dimension.
     * @param {string} verdict
     * @param {{action?: string, scores?: Record<string, number>}} [details]
     */
    record(verdict: string, details?: {
        action?: string;
        scores?: Record<string, number>;
    }): void;
    _finish(): void;
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
export function withGuardrail<T>(policy: string, optionsOrFn: {
    resubmissionOf?: any;
    attributes?: Record<string, any>;
} | ((check: GuardrailCheck) => T), fn?: (check: GuardrailCheck) => T): T;
export namespace feedback {
    /**
     * The check of `policy` in `traceOrSpanId` (its span, traceparent, trace id or span id) was a
     * false positive: `fivelens.guardrail.false_positives` and the `false_positive_rate` gauge.
     * @param {any} traceOrSpanId
     * @param {string} policy
     * @param {{reason?: string}} [details]
     * @returns {boolean}
     */
    function falsePositive(traceOrSpanId: any, policy: string, details?: {
        reason?: string;
    }): boolean;
    /**
     * The redactor removed something that was not PII (of `piiType`, e.g. `PHONE`):
     * `fivelens.redaction.over_redactions`.
     * @param {any} traceOrSpanId
     * @param {string} [piiType]
     * @returns {boolean}
     */
    function overRedaction(traceOrSpanId: any, piiType?: string): boolean;
}
/**
 * A confidence the app read from the model's structured output (0 to 1): on the active span
 * (`fivelens.confidence.score`) and in the `fivelens.confidence` histogram.
 * @param {number} score
 * @param {{source?: string, span?: any}} [options]
 */
export function recordConfidence(score: number, options?: {
    source?: string;
    span?: any;
}): void;
/**
 * An intent classification (score per intent): every score on the active span, the top intent
 * in the `fivelens.intent.score` histogram, and a top score below
 * `intentLowConfidenceThreshold` counted in `fivelens.intent.low_confidence`. Returns the top
 * intent and its score.
 * @param {Record<string, number>} scores
 * @param {{span?: any}} [options]
 * @returns {[string, number] | null}
 */
export function recordIntent(scores: Record<string, number>, options?: {
    span?: any;
}): [string, number] | null;
/**
 * A re-ranker's scores: top, bottom, spread and count on the active span, the spread in the
 * `fivelens.rerank.spread` histogram (a collapsing spread is retrieval degrading). Returns the
 * spread.
 * @param {number[]} scores
 * @param {{span?: any}} [options]
 * @returns {number | null}
 */
export function recordRerank(scores: number[], options?: {
    span?: any;
}): number | null;
/**
 * Registers the golden output of `promptVersion` (or of one test `input` of it). Kept in the
 * local store, or in the file named by `driftGoldensFile`.
 * @param {string} promptVersion
 * @param {string} output
 * @param {{input?: string}} [options]
 */
export function registerGolden(promptVersion: string, output: string, options?: {
    input?: string;
}): void;
/**
 * The embedding function drift checks use (text to vector, or a promise of one); it runs on the
 * evaluation pool. `null` goes back to the core's lexical similarity.
 * @param {((text: string) => number[] | Promise<number[]>) | null} embed
 */
export function setEmbedder(embed: ((text: string) => number[] | Promise<number[]>) | null): void;
/**
 * Compares `output` with the golden output of `options.promptVersion` (that of `options.input`
 * when registered): `fivelens.drift.similarity` on the active span and in the histogram by
 * prompt version. With an embedding function (`options.embed` or `setEmbedder`), the cosine of
 * the embeddings, computed on the evaluation pool and written as a `gen_ai.evaluation.result`
 * named `fivelens.drift`; otherwise the core's lexical similarity on its processing thread.
 * @param {string} output
 * @param {{promptVersion: string, input?: string, span?: any, embed?: (text: string) => number[] | Promise<number[]>}} options
 */
export function checkDrift(output: string, options: {
    promptVersion: string;
    input?: string;
    span?: any;
    embed?: (text: string) => number[] | Promise<number[]>;
}): void;
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
export function registerEvaluator(name: string, fn: (sample: any) => any, options?: {
    sampleRate?: number;
}): void;
/** @param {string} name */
export function unregisterEvaluator(name: string): void;
/**
 * Hands `sample.output` (with its input and retrieved context) to every registered evaluator that
 * samples it, on the evaluation pool, and returns at once with how many were queued. Results are
 * attached to `sample.span` (the active span when not given).
 * @param {{output?: string, input?: string, context?: any, span?: any, attributes?: Record<string, any>}} sample
 * @returns {number}
 */
export function evaluate(sample?: {
    output?: string;
    input?: string;
    context?: any;
    span?: any;
    attributes?: Record<string, any>;
}): number;
/**
 * Resolves when the evaluations queued so far have run (for tests and short scripts, before
 * `flush`).
 * @returns {Promise<void>}
 */
export function waitForEvaluations(): Promise<void>;
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
export function recordOutcome(traceparent: any, outcome: string, options?: {
    sessionId?: string;
}): boolean;
/** Drops the pool so the next evaluation builds one with the active configuration. */
export function resetPool(): void;
