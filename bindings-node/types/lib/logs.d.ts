/**
 * Queues one record. Never throws.
 * @param {number} severity
 * @param {string} severityText
 * @param {string} body
 * @param {Record<string, any>} attributes
 * @param {{scope?: string, eventName?: string, span?: {traceId: string, spanId: string, sampled?: boolean} | null, time?: number}} [options]
 */
export function emit(severity: number, severityText: string, body: string, attributes: Record<string, any>, options?: {
    scope?: string;
    eventName?: string;
    span?: {
        traceId: string;
        spanId: string;
        sampled?: boolean;
    } | null;
    time?: number;
}): void;
/** Hands the buffered records to the addon (one native call). */
export function handOverLogs(): void;
/**
 * The correlation fields of the active span: `trace_id` and `span_id` (hex), `session_id` and
 * `user_hash` (empty strings where there is none). Add them to log lines the app formats itself,
 * e.g. as a pino `mixin`.
 * @returns {{trace_id: string, span_id: string, session_id: string, user_hash: string}}
 */
export function logContext(): {
    trace_id: string;
    span_id: string;
    session_id: string;
    user_hash: string;
};
/**
 * Records an evaluation of a GenAI operation (a judge model's verdict, a user rating, a check)
 * as a `gen_ai.evaluation.result` log event tied to `span` (the active span when not given).
 * `explanation` is content: it is redacted like the rest.
 * @param {string} name
 * @param {{scoreValue?: number, scoreLabel?: string, explanation?: string, responseId?: string, errorType?: string, span?: any, attributes?: Record<string, any>}} [details]
 */
export function recordEvaluation(name: string, details?: {
    scoreValue?: number;
    scoreLabel?: string;
    explanation?: string;
    responseId?: string;
    errorType?: string;
    span?: any;
    attributes?: Record<string, any>;
}): void;
/** @param {string | undefined | null} name */
export function severityOf(name: string | undefined | null): number;
/** The configured threshold (`logsLevel`), as a severity number. */
export function threshold(): number;
/** Whether a record is being handed over on this thread (records it causes are not captured). */
export function inProgress(): boolean;
/**
 * An attribute value the core takes: strings, finite numbers, booleans and arrays of them as
 * they are; anything else as JSON (or its string).
 * @param {any} v
 */
export function plain(v: any): any;
