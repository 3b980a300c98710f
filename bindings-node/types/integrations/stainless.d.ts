/**
 * Reads a streamed response's items for one call.
 */
export type Observer = {
    item: (item: any) => void;
    /**
     * records what was gathered; called once, before the span ends
     */
    finish: () => void;
};
/**
 * What a provider integration supplies.
 */
export type Adapter = {
    /**
     * a call for this request, or null
     */
    begin: (resource: any, body: any, options: any) => import("../lib/llm").LlmCall | null;
    /**
     * records a parsed, non-streamed result
     */
    finish: (call: import("../lib/llm").LlmCall, result: any) => void;
    /**
     * an observer for a streamed result
     */
    observer: (call: import("../lib/llm").LlmCall) => Observer;
};
/**
 * Wraps `proto[name]` (a resource's `create`) once.
 * @param {any} proto
 * @param {string} name
 * @param {Adapter} adapter
 * @returns {boolean} whether it is wrapped now
 */
export function wrapMethod(proto: any, name: string, adapter: Adapter): boolean;
/**
 * Restores what `wrapMethod` replaced.
 * @param {any} proto
 * @param {string} name
 */
export function unwrapMethod(proto: any, name: string): void;
/**
 * Observes what `create` returned and returns it (or an APIPromise derived from it).
 * @param {any} result
 * @param {import('../lib/llm').LlmCall} call
 * @param {Adapter} adapter
 */
export function observe(result: any, call: import("../lib/llm").LlmCall, adapter: Adapter): any;
/**
 * Observes a `Stream` in place (its `iterator` is replaced on this instance) and returns it.
 * @param {any} stream
 * @param {import('../lib/llm').LlmCall} call
 * @param {Observer} observer
 */
export function observeStream(stream: any, call: import("../lib/llm").LlmCall, observer: Observer): any;
/**
 * For the integrations' adapters: a parsed, non-streamed result whose text was not kept, as
 * JSON.
 * @param {import('../lib/llm').LlmCall} call
 * @param {any} result
 */
export function finishPayload(call: import("../lib/llm").LlmCall, result: any): void;
/**
 * `server.address` and `server.port` of a client's base URL.
 * @param {any} client
 * @returns {[string | null, number | null]}
 */
export function serverOf(client: any): [string | null, number | null];
/**
 * The root folder (real path) of package `name` as the app resolves it (from the main module's
 * folder and the working directory, not from fivelens's own), or null. `entry` is what to resolve
 * when the package has no main entry of its own (a subpath of it).
 * @param {string} name
 * @param {string} [entry]
 * @returns {string | null}
 */
export function resolveFromApp(name: string, entry?: string): string | null;
/**
 * Runs `apply(exports)` on the CommonJS module `file` now if the app has loaded it, else when it
 * does (`apply` returns false while the module is still loading).
 * @param {string} file absolute real path
 * @param {(exports: any) => boolean} apply
 */
export function whenRequired(file: string, apply: (exports: any) => boolean): void;
/**
 * Loads the ES module `file` and runs `apply` on its namespace: at once where `require()` can
 * load ES modules (Node 20.19+, 22.12+), else asynchronously through `import()` (the promise is
 * kept in the state, for tests).
 * @param {string} file absolute real path
 * @param {(namespace: any) => boolean} apply
 */
export function withEsm(file: string, apply: (namespace: any) => boolean): void;
/**
 * Reads a streamed response's items for one call.
 * @typedef {object} Observer
 * @property {(item: any) => void} item
 * @property {() => void} finish records what was gathered; called once, before the span ends
 */
/**
 * What a provider integration supplies.
 * @typedef {object} Adapter
 * @property {(resource: any, body: any, options: any) => import('../lib/llm').LlmCall | null} begin a call for this request, or null
 * @property {(call: import('../lib/llm').LlmCall, result: any) => void} finish records a parsed, non-streamed result
 * @property {(call: import('../lib/llm').LlmCall) => Observer} observer an observer for a streamed result
 */
/** @param {string} what @param {any} e */
export function problem(what: string, e: any): void;
/** Marks a wrapper and holds the original (shared by every copy of fivelens). */
export const ORIGINAL: unique symbol;
