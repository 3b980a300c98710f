/**
 * a section's or tier's
 *   text, a list of texts or chat messages, or a token count
 */
export type SectionValue = string | number | any[] | Record<string, any>;
/**
 * what `contextWindow` returns
 */
export type ContextWindow = {
    model: string;
    /**
     * tokens per section
     */
    sections: Record<string, number>;
    /**
     * the sum of the sections
     */
    tokens: number;
    /**
     * the model's context window (null when the limit table does not know the model)
     */
    limit: number | null;
    /**
     * the model's largest output, when known
     */
    maxOutputTokens: number | null;
    /**
     * `tokens / limit` (0.8 is 80%)
     */
    fill: number | null;
    /**
     * tokens left in the window
     */
    remaining: number | null;
    /**
     * the alert threshold of the active configuration (`contextAlertThreshold`)
     */
    threshold: number;
    /**
     * whether `fill` reaches the threshold: time to summarise or trim
     */
    overThreshold: boolean | null;
};
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
export function contextWindow(model: string, sections: Record<string, SectionValue>, options?: {
    provider?: string;
}): ContextWindow;
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
export function withContextTiers<T>(tiers: Record<string, SectionValue>, fn: () => T): T;
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
export function withRetrieval<T>(options: {
    dataSource?: string;
    tier?: string;
    topK?: number;
    similarityThreshold?: number;
    query?: string;
}, fn: (r: Retrieval) => T): T;
/**
 * The verification loop of an agent (edit, run the tests, until they pass) as a span
 * `verify <name>` around `fn`, which gets the loop: each `loop.attempt(fn)` is a child span; the
 * loop's span gets the attempt count and whether it passed. Returns what `fn` returns.
 * @template T
 * @param {string} name
 * @param {(loop: Verification) => T} fn
 * @returns {T}
 */
export function withVerification<T>(name: string, fn: (loop: Verification) => T): T;
/** The span of one retrieval: what it scanned, kept and found in a cache. */
export class Retrieval {
    /** @param {import('./span').Span} span */
    constructor(span: import("./span").Span);
    span: import("./span").Span;
    /**
     * Files or documents looked at (`scanned`) and kept (`selected`), hits answered from a cache,
     * and the documents kept (`{id, score}` each; content: redacted, dropped when capture is off).
     * @param {{scanned?: number, selected?: number, cacheHits?: number, documents?: Record<string, any>[]}} figures
     */
    record(figures: {
        scanned?: number;
        selected?: number;
        cacheHits?: number;
        documents?: Record<string, any>[];
    }): void;
}
/** A verification loop: attempts (edit, then the check) until it passes. */
export class Verification {
    /**
     * @param {import('./span').Span} span
     * @param {string} name
     */
    constructor(span: import("./span").Span, name: string);
    span: import("./span").Span;
    name: string;
    attempts: number;
    succeeded: boolean;
    /**
     * One attempt, as a child span `verify_attempt <name>` with its number. `fn` returns (or
     * resolves to) whether the attempt passed; a throw fails it and is re-thrown.
     * @template T
     * @param {() => T} fn
     * @returns {T}
     */
    attempt<T>(fn: () => T): T;
}
