export type Store = {
    /**
     * the innermost span (ours, or anything with spanContext())
     */
    activeSpan: () => any;
    /**
     * the innermost Scope, or null
     */
    activeScope: () => any;
    runWithSpan: (span: any, fn: Function, thisArg: any, args: any[]) => any;
    runWithScope: (scope: any, fn: Function) => any;
    bind: (fn: Function) => Function;
};
/** @returns {Store} */
export function store(): Store;
/**
 * @typedef {object} Store
 * @property {() => any} activeSpan the innermost span (ours, or anything with spanContext())
 * @property {() => any} activeScope the innermost Scope, or null
 * @property {(span: any, fn: Function, thisArg: any, args: any[]) => any} runWithSpan
 * @property {(scope: any, fn: Function) => any} runWithScope
 * @property {(fn: Function) => Function} bind
 */
/** @type {Store} */
export const alsStore: Store;
/**
 * @param {any} api the @opentelemetry/api module
 * @returns {Store}
 */
export function otelStore(api: any): Store;
/** A `withContext` frame in the AsyncLocalStorage store: the span it sits in, and the scope. */
export class ScopeFrame {
    /**
     * @param {any} span
     * @param {any} scope
     */
    constructor(span: any, scope: any);
    span: any;
    scope: any;
}
